//! The Atlas settings of `run`, `doctor` and `reconcile`: the command line and the environment
//! as clap read them, completed by the Atlas CLI profile (see [`crate::atlas::profile`]).

use anyhow::anyhow;

use crate::atlas::auth::Credentials;
use crate::atlas::profile::{
    self, AtlasSettings, BASE_URL_VAR, Given, OPS_MANAGER_URL_VAR, ORG_VAR, Origin, PROFILE_VAR,
    SERVICE_VAR, Sourced,
};
use crate::cli::AtlasArgs;
use crate::exit::Failure;

/// Resolves the organization, base URL and credentials of `args` (exit 2 for a named profile
/// that is missing, a configuration file that cannot be read, or a malformed setting).
pub(super) fn resolve(args: &AtlasArgs) -> Result<AtlasSettings, Failure> {
    let env = |name: &str| {
        std::env::var(name)
            .ok()
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let sourced = |value: &Option<String>, flag, var| {
        value.as_ref().map(|v| Sourced {
            from: profile::flag_or_env(v, flag, var),
            value: v.clone(),
        })
    };
    let base_url = sourced(&args.base_url, "--base-url", BASE_URL_VAR)
        .filter(|url| !url.value.trim().is_empty())
        .or_else(|| {
            env(OPS_MANAGER_URL_VAR).map(|value| Sourced {
                value,
                from: Origin::Env(OPS_MANAGER_URL_VAR),
            })
        });
    let given = Given {
        profile: sourced(&args.profile, "--profile", PROFILE_VAR),
        org: sourced(&args.org, "--org", ORG_VAR),
        base_url,
        service: env(SERVICE_VAR),
    };
    let path = profile::config_path(|name| std::env::var_os(name));
    let settings = profile::resolve(given, &env, path.as_deref(), std::time::SystemTime::now())
        .map_err(Failure::usage)?;
    // A base URL with a user name or password would be stored in the journal and printed:
    // refused wherever it came from, without repeating it.
    crate::atlas::client::check_base_url(&settings.base_url.value).map_err(Failure::usage)?;
    Ok(settings)
}

impl AtlasSettings {
    /// The organization, or exit 2 saying how to give one; `extra` is appended to the advice.
    pub(super) fn require_org(&self, extra: &str) -> Result<String, Failure> {
        self.org_id.as_ref().map(|o| o.value.clone()).ok_or_else(|| {
            Failure::usage(anyhow!(
                "no organization: pass --org ORG_ID, set MONGODB_ATLAS_ORG_ID, or set org_id in \
                 the Atlas CLI profile{extra}"
            ))
        })
    }

    /// The credentials, or exit 2 saying how to give them.
    pub(super) fn require_credentials(&self) -> Result<Credentials, Failure> {
        match &self.credentials {
            Ok(credentials) => Ok(credentials.value.clone()),
            Err(e) => Err(Failure::usage(e.clone())),
        }
    }

    /// The credentials' kind and where they came from, never a secret: "API key abc (HTTP
    /// Digest) from profile default".
    pub(super) fn describe_credentials(&self) -> Option<String> {
        let credentials = self.credentials.as_ref().ok()?;
        Some(format!(
            "{} from {}",
            credentials.value.describe(),
            credentials.from
        ))
    }
}
