//! The Atlas CLI's profiles, and where each Atlas setting of a command comes from.
//!
//! The Atlas CLI keeps named profiles in `config.toml`, one TOML table each (`[default]`,
//! `[work]`), in `atlascli/` under the user's configuration directory (Go's
//! `os.UserConfigDir`: `$XDG_CONFIG_HOME` or `~/.config` on Linux and other Unixes,
//! `~/Library/Application Support` on macOS, `%AppData%` on Windows). This module reads that
//! file, never writes it, and resolves the organization, the base URL and the credentials of a
//! command with the Atlas CLI's documented precedence: command-line flags, then environment
//! variables, then the profile (`--profile`/`-P`, else `MONGODB_ATLAS_PROFILE`, else `default`).
//!
//! Credentials are taken whole from one place: a complete set from the environment wins over the
//! profile's, and halves are never mixed across the two. Secrets read from the file are wrapped
//! in [`Secret`] at once, and no error of this module quotes a value from the file: a secret
//! typed on the wrong line must not end up on a terminal or in a CI log.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use base64::Engine;

use super::auth::{
    ACCESS_TOKEN_VAR, CLIENT_ID_VAR, CLIENT_SECRET_VAR, Credentials, CredentialsError,
    PUBLIC_KEY_VARS, Secret,
};
use super::model::is_atlas_id;

/// The profile used when neither `--profile` nor [`PROFILE_VAR`] names one.
pub const DEFAULT_PROFILE: &str = "default";
/// The Atlas CLI's variable naming the profile.
pub const PROFILE_VAR: &str = "MONGODB_ATLAS_PROFILE";
/// The organization variable.
pub const ORG_VAR: &str = "MONGODB_ATLAS_ORG_ID";
/// This tool's base URL variable.
pub const BASE_URL_VAR: &str = "MONGODB_ATLAS_BASE_URL";
/// The Atlas CLI's base URL variable.
pub const OPS_MANAGER_URL_VAR: &str = "MONGODB_ATLAS_OPS_MANAGER_URL";
/// The Atlas CLI's service variable: `cloud` or `cloudgov`.
pub const SERVICE_VAR: &str = "MONGODB_ATLAS_SERVICE";
/// The public Atlas.
pub const CLOUD_URL: &str = "https://cloud.mongodb.com";
/// Atlas for Government, the Atlas CLI's `service = "cloudgov"`.
pub const CLOUD_GOV_URL: &str = "https://cloud.mongodbgov.com";

/// Where a setting came from; shown by `doctor`, never with the value of a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A command-line option, like `--org`.
    Flag(&'static str),
    /// An environment variable.
    Env(&'static str),
    /// A profile of the Atlas CLI's configuration, by name.
    Profile(String),
    /// Nothing gave it: the built-in default.
    Default,
}

impl Origin {
    /// A short machine-readable form: `flag`, `env`, `profile` or `default`.
    pub fn kind(&self) -> &'static str {
        match self {
            Origin::Flag(_) => "flag",
            Origin::Env(_) => "env",
            Origin::Profile(_) => "profile",
            Origin::Default => "default",
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Flag(name) => write!(f, "flag {name}"),
            Origin::Env(name) => write!(f, "environment variable {name}"),
            Origin::Profile(name) => write!(f, "profile {name}"),
            Origin::Default => f.write_str("built-in default"),
        }
    }
}

/// A setting's value and where it came from.
#[derive(Debug, Clone)]
pub struct Sourced<T> {
    pub value: T,
    pub from: Origin,
}

/// A problem with the Atlas CLI configuration or with what it, the flags and the environment
/// give together. Every message names the file and never quotes a value read from it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SettingsError {
    #[error(
        "cannot read the Atlas CLI configuration {}: {message}",
        path.display()
    )]
    Unreadable { path: PathBuf, message: String },
    #[error(
        "the Atlas CLI configuration {} is not valid TOML: {message} at line {line}, column \
         {column}; fix the file (`atlas config edit` opens it), or move it away and use the \
         MONGODB_ATLAS_* environment variables",
        path.display()
    )]
    Malformed {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "profile {name:?} (named by {asked_by}) was asked for, but there is no Atlas CLI \
         configuration at {}: create the profile with `atlas auth login --profile {name}`, or \
         leave out the profile and use the MONGODB_ATLAS_* environment variables",
        path.display()
    )]
    NoFile {
        name: String,
        asked_by: Origin,
        path: PathBuf,
    },
    #[error(
        "profile {name:?} (named by {asked_by}) was asked for, but there is no home \
         directory to find the Atlas CLI configuration in (HOME is not set): set HOME, or use \
         the MONGODB_ATLAS_* environment variables"
    )]
    NoHome { name: String, asked_by: Origin },
    #[error(
        "no profile {name:?} (named by {asked_by}) in the Atlas CLI configuration {}; {}",
        path.display(),
        known_profiles(known)
    )]
    NoProfile {
        name: String,
        asked_by: Origin,
        path: PathBuf,
        known: Vec<String>,
    },
    #[error("the profile name given by {asked_by} is empty: name a profile, or leave it out")]
    EmptyName { asked_by: Origin },
    #[error(
        "{key} of profile {profile} in {} is not a string: write it like {key} = \"...\"",
        path.display()
    )]
    NotAString {
        profile: String,
        path: PathBuf,
        key: &'static str,
    },
    #[error(
        "org_id of profile {profile} in {} is not an organization id (24 lower-case hexadecimal \
         characters, shown in Atlas under Organization Settings): fix it, or pass --org",
        path.display()
    )]
    BadOrg { profile: String, path: PathBuf },
    #[error(
        "service {service:?} ({from}) is not supported: atlas-invite talks to Atlas (\"cloud\") \
         and Atlas for Government (\"cloudgov\"); pass --base-url for another endpoint"
    )]
    BadService { service: String, from: Origin },
    #[error(
        "profile {profile} in {} has {set} but not {missing}: complete it (`atlas config set \
         {missing} ... --profile {profile}`), or set the credentials in the environment",
        path.display()
    )]
    Incomplete {
        profile: String,
        path: PathBuf,
        set: &'static str,
        missing: &'static str,
    },
    #[error(
        "profile {profile} in {} says auth_type = {auth_type:?} but holds no such credentials: \
         recent Atlas CLI versions keep them in the operating system's keyring, which \
         atlas-invite does not read; set them in the environment instead ({vars})",
        path.display()
    )]
    InKeyring {
        profile: String,
        path: PathBuf,
        auth_type: String,
        vars: &'static str,
    },
    #[error(
        "profile {profile} in {} has an unknown auth_type {auth_type:?}: expected api_keys, \
         service_account or user_account",
        path.display()
    )]
    UnknownAuthType {
        profile: String,
        path: PathBuf,
        auth_type: String,
    },
    #[error(
        "the access token of profile {profile} in {} expired at {expired}: the Atlas CLI renews \
         it with its refresh token, which atlas-invite does not do; run an Atlas CLI command with \
         this profile (like `atlas orgs list --profile {profile}`) or `atlas auth login --profile \
         {profile}`, then try again, or use a service account or an API key",
        path.display()
    )]
    TokenExpired {
        profile: String,
        path: PathBuf,
        expired: String,
    },
    #[error(
        "no Atlas credentials: none in the environment, and profile {profile} in {} has none; \
         add them to the profile (`atlas auth login --profile {profile}`), or set {ACCESS_TOKEN_VAR}, \
         or {CLIENT_ID_VAR} and {CLIENT_SECRET_VAR}, or MONGODB_ATLAS_PUBLIC_API_KEY and \
         MONGODB_ATLAS_PRIVATE_API_KEY",
        path.display()
    )]
    ProfileHasNone { profile: String, path: PathBuf },
    #[error(transparent)]
    Env(#[from] CredentialsError),
}

fn known_profiles(known: &[String]) -> String {
    if known.is_empty() {
        "the file has no profiles: create one with `atlas auth login --profile NAME`".to_owned()
    } else {
        format!(
            "it has {}: pick one of those with --profile",
            known
                .iter()
                .map(|n| format!("{n:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// The configuration file the Atlas CLI reads, from the variables it looks at; `None` when
/// there is no home directory to find it in.
pub fn config_path(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> Option<PathBuf> {
    let set = |name: &str| var(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let dir = if cfg!(target_os = "macos") {
        set("HOME").map(|home| home.join("Library").join("Application Support"))
    } else if cfg!(windows) {
        set("AppData")
    } else {
        // Go refuses a relative XDG_CONFIG_HOME, and so does the Atlas CLI: no file then.
        match set("XDG_CONFIG_HOME") {
            Some(xdg) if xdg.is_absolute() => Some(xdg),
            Some(_) => None,
            None => set("HOME").map(|home| home.join(".config")),
        }
    };
    Some(dir?.join("atlascli").join("config.toml"))
}

/// One profile as read from the file. Secrets are [`Secret`]s from the moment they are read.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    pub name: String,
    pub path: PathBuf,
    pub org_id: Option<String>,
    pub service: Option<String>,
    pub ops_manager_url: Option<String>,
    pub auth_type: Option<String>,
    pub access_token: Option<Secret>,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    pub public_api_key: Option<String>,
    pub private_api_key: Option<Secret>,
}

/// Reads `path`: `Ok(None)` when there is no such file.
fn read_config(path: &Path) -> Result<Option<toml::Table>, SettingsError> {
    let text = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(SettingsError::Unreadable {
                path: path.to_owned(),
                message: e.to_string(),
            });
        }
    };
    let text = String::from_utf8(text).map_err(|e| SettingsError::Unreadable {
        path: path.to_owned(),
        message: format!(
            "it is not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ),
    })?;
    text.parse::<toml::Table>()
        .map(Some)
        .map_err(|e| malformed(path, &text, &e))
}

/// The parse error as line, column and toml's short message, never its rendering, which quotes
/// the offending line (a secret, perhaps). The message itself is kept only when it quotes
/// nothing: the parser's messages name expectations, not content, but that is checked here
/// rather than trusted.
fn malformed(path: &Path, text: &str, error: &toml::de::Error) -> SettingsError {
    let (line, column) = error.span().map_or((0, 0), |span| {
        let before = &text[..span.start.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, column)
    });
    let message = error.message().lines().next().unwrap_or_default().trim();
    let quotes_the_file = text
        .split(|c: char| c.is_whitespace() || "=[]{},\"'".contains(c))
        .filter(|word| word.len() >= 4)
        .any(|word| message.contains(word));
    let message = if message.is_empty() || quotes_the_file {
        "syntax error".to_owned()
    } else {
        message.to_owned()
    };
    SettingsError::Malformed {
        path: path.to_owned(),
        line,
        column,
        message,
    }
}

/// The profile tables of a parsed file: the top level also holds global settings (`version`,
/// `telemetry_enabled`, …), which are not tables.
fn profile_names(table: &toml::Table) -> Vec<String> {
    table
        .iter()
        .filter(|(_, v)| v.is_table())
        .map(|(k, _)| k.clone())
        .collect()
}

/// Finds profile `name`: exactly, else case-insensitively, as the Atlas CLI (through viper)
/// lower-cases every key it reads.
fn find_profile<'t>(table: &'t toml::Table, name: &str) -> Option<(&'t String, &'t toml::Table)> {
    let tables = || {
        table
            .iter()
            .filter_map(|(k, v)| v.as_table().map(|t| (k, t)))
    };
    tables()
        .find(|(k, _)| *k == name)
        .or_else(|| tables().find(|(k, _)| k.eq_ignore_ascii_case(name)))
}

impl Profile {
    /// Reads the settings of profile `name` from its table. Keys are matched case-insensitively,
    /// like the Atlas CLI does; blank values count as unset.
    fn from_table(name: &str, path: &Path, table: &toml::Table) -> Result<Profile, SettingsError> {
        let keys: HashMap<String, &toml::Value> = table
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect();
        let get = |key: &'static str| -> Result<Option<String>, SettingsError> {
            match keys.get(key) {
                None => Ok(None),
                Some(toml::Value::String(s)) => {
                    Ok(Some(s.trim().to_owned()).filter(|s| !s.is_empty()))
                }
                Some(_) => Err(SettingsError::NotAString {
                    profile: name.to_owned(),
                    path: path.to_owned(),
                    key,
                }),
            }
        };
        let secret = |key: &'static str| get(key).map(|v| v.map(Secret::new));
        Ok(Profile {
            name: name.to_owned(),
            path: path.to_owned(),
            org_id: get("org_id")?,
            service: get("service")?,
            // `base_url` is the Atlas CLI's alias of `ops_manager_url`.
            ops_manager_url: match get("ops_manager_url")? {
                Some(url) => Some(url),
                None => get("base_url")?,
            },
            auth_type: get("auth_type")?,
            access_token: secret("access_token")?,
            client_id: get("client_id")?,
            client_secret: secret("client_secret")?,
            public_api_key: get("public_api_key")?,
            private_api_key: secret("private_api_key")?,
        })
    }

    /// The profile's organization, checked.
    fn org(&self) -> Result<Option<String>, SettingsError> {
        match &self.org_id {
            Some(id) if !is_atlas_id(id) => Err(SettingsError::BadOrg {
                profile: self.name.clone(),
                path: self.path.clone(),
            }),
            other => Ok(other.clone()),
        }
    }

    /// The profile's credentials, `Ok(None)` when it holds none. `auth_type`, written by recent
    /// Atlas CLI versions, picks the kind; without it the order is the environment's: access
    /// token, service account, API key.
    fn credentials(&self, now: SystemTime) -> Result<Option<Credentials>, SettingsError> {
        let incomplete = |set, missing| SettingsError::Incomplete {
            profile: self.name.clone(),
            path: self.path.clone(),
            set,
            missing,
        };
        let in_keyring = |auth_type: &str, vars| SettingsError::InKeyring {
            profile: self.name.clone(),
            path: self.path.clone(),
            auth_type: auth_type.to_owned(),
            vars,
        };
        let token = || -> Result<Option<Credentials>, SettingsError> {
            let Some(token) = &self.access_token else {
                return Ok(None);
            };
            if let Some(expiry) = jwt_expiry(token.expose())
                && expiry <= now
            {
                return Err(SettingsError::TokenExpired {
                    profile: self.name.clone(),
                    path: self.path.clone(),
                    expired: crate::util::rfc3339(expiry),
                });
            }
            Ok(Some(Credentials::AccessToken(token.clone())))
        };
        let service_account = || match (&self.client_id, &self.client_secret) {
            (Some(id), Some(secret)) => Ok(Some(Credentials::ServiceAccount {
                client_id: id.clone(),
                client_secret: secret.clone(),
            })),
            (Some(_), None) => Err(incomplete("client_id", "client_secret")),
            (None, Some(_)) => Err(incomplete("client_secret", "client_id")),
            (None, None) => Ok(None),
        };
        let api_key = || match (&self.public_api_key, &self.private_api_key) {
            (Some(public), Some(private)) => Ok(Some(Credentials::ApiKey {
                public_key: public.clone(),
                private_key: private.clone(),
            })),
            (Some(_), None) => Err(incomplete("public_api_key", "private_api_key")),
            (None, Some(_)) => Err(incomplete("private_api_key", "public_api_key")),
            (None, None) => Ok(None),
        };
        match self.auth_type.as_deref() {
            Some(kind @ "api_keys") => api_key()?.map(Some).ok_or_else(|| {
                in_keyring(
                    kind,
                    "MONGODB_ATLAS_PUBLIC_API_KEY and MONGODB_ATLAS_PRIVATE_API_KEY",
                )
            }),
            Some(kind @ "service_account") => service_account()?.map(Some).ok_or_else(|| {
                in_keyring(
                    kind,
                    "MONGODB_ATLAS_CLIENT_ID and MONGODB_ATLAS_CLIENT_SECRET",
                )
            }),
            Some(kind @ "user_account") => token()?
                .map(Some)
                .ok_or_else(|| in_keyring(kind, ACCESS_TOKEN_VAR)),
            Some(other) => Err(SettingsError::UnknownAuthType {
                profile: self.name.clone(),
                path: self.path.clone(),
                auth_type: other.to_owned(),
            }),
            None => {
                if let Some(found) = token()? {
                    return Ok(Some(found));
                }
                if let Some(found) = service_account()? {
                    return Ok(Some(found));
                }
                api_key()
            }
        }
    }
}

/// When a JWT access token expires, from its `exp` claim; `None` for a token that is not a JWT
/// or has no expiry. The signature is not checked: this only spares a doomed run.
fn jwt_expiry(token: &str) -> Option<SystemTime> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let exp = claims.get("exp")?.as_u64()?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(exp))
}

/// What the command line and the environment give, before any profile: the inputs of
/// [`resolve`], so that it can be tested without touching the process.
#[derive(Debug, Default, Clone)]
pub struct Given {
    /// `--profile` or `MONGODB_ATLAS_PROFILE`, and which.
    pub profile: Option<Sourced<String>>,
    /// `--org` or `MONGODB_ATLAS_ORG_ID` (checked by the command line), and which.
    pub org: Option<Sourced<String>>,
    /// `--base-url`, `MONGODB_ATLAS_BASE_URL` or `MONGODB_ATLAS_OPS_MANAGER_URL`, and which.
    pub base_url: Option<Sourced<String>>,
    /// `MONGODB_ATLAS_SERVICE`.
    pub service: Option<String>,
}

/// Where a command's Atlas settings came from, resolved.
#[derive(Debug, Clone)]
pub struct AtlasSettings {
    /// The profile read, if any: its name and file.
    pub profile: Option<(String, PathBuf)>,
    pub org_id: Option<Sourced<String>>,
    pub base_url: Sourced<String>,
    /// Only commands that send need credentials: their absence is an error only then.
    pub credentials: Result<Sourced<Credentials>, SettingsError>,
}

/// Resolves the organization, base URL and credentials: flags, then the environment (`env`),
/// then the profile, then the defaults. The configuration file at `path` is read only when it
/// can matter: a profile is named, or something is not given otherwise.
pub fn resolve(
    given: Given,
    env: &dyn Fn(&str) -> Option<String>,
    path: Option<&Path>,
    now: SystemTime,
) -> Result<AtlasSettings, SettingsError> {
    // Half a pair in the environment is an error of its own, never completed from the profile;
    // like missing credentials, it matters only to a command that sends.
    let env_credentials = match Credentials::from_lookup(env) {
        Ok(credentials) => Some(Ok(credentials)),
        Err(CredentialsError::Missing) => None,
        Err(e) => Some(Err(e)),
    };
    let needs_profile = given.profile.is_some()
        || given.org.is_none()
        || given.base_url.is_none()
        || env_credentials.is_none();
    let profile = if needs_profile {
        load_profile(given.profile.as_ref(), path)?
    } else {
        None
    };

    let org_id = match given.org {
        Some(org) => Some(org),
        None => match &profile {
            Some(p) => p.org()?.map(|value| Sourced {
                value,
                from: Origin::Profile(p.name.clone()),
            }),
            None => None,
        },
    };

    let base_url = match given.base_url {
        Some(url) => url,
        None => match (&given.service, &profile) {
            (Some(service), _) => Sourced {
                value: service_url(service, Origin::Env(SERVICE_VAR))?.to_owned(),
                from: Origin::Env(SERVICE_VAR),
            },
            (None, Some(p)) => {
                let from = Origin::Profile(p.name.clone());
                let value = match (&p.ops_manager_url, &p.service) {
                    (Some(url), _) => url.clone(),
                    (None, Some(service)) => service_url(service, from.clone())?.to_owned(),
                    (None, None) => CLOUD_URL.to_owned(),
                };
                if value == CLOUD_URL && p.ops_manager_url.is_none() {
                    Sourced {
                        value,
                        from: Origin::Default,
                    }
                } else {
                    Sourced { value, from }
                }
            }
            (None, None) => Sourced {
                value: CLOUD_URL.to_owned(),
                from: Origin::Default,
            },
        },
    };

    let credentials = match (env_credentials, &profile) {
        (Some(Ok(credentials)), _) => Ok(Sourced {
            from: Origin::Env(env_origin(&credentials, env)),
            value: credentials,
        }),
        (Some(Err(e)), _) => Err(e.into()),
        (None, Some(p)) => match p.credentials(now) {
            Ok(Some(credentials)) => Ok(Sourced {
                value: credentials,
                from: Origin::Profile(p.name.clone()),
            }),
            Ok(None) => Err(SettingsError::ProfileHasNone {
                profile: p.name.clone(),
                path: p.path.clone(),
            }),
            Err(e) => Err(e),
        },
        (None, None) => Err(CredentialsError::Missing.into()),
    };

    Ok(AtlasSettings {
        profile: profile.map(|p| (p.name, p.path)),
        org_id,
        base_url,
        credentials,
    })
}

/// The variable that gave environment credentials, as `doctor` names it.
fn env_origin(credentials: &Credentials, env: &dyn Fn(&str) -> Option<String>) -> &'static str {
    let set = |name: &str| env(name).is_some_and(|v| !v.trim().is_empty());
    match credentials {
        Credentials::AccessToken(_) => ACCESS_TOKEN_VAR,
        Credentials::ServiceAccount { .. } => CLIENT_ID_VAR,
        Credentials::ApiKey { .. } => PUBLIC_KEY_VARS
            .into_iter()
            .find(|v| set(v))
            .unwrap_or(PUBLIC_KEY_VARS[0]),
    }
}

/// The base URL of an Atlas CLI `service`.
fn service_url(service: &str, from: Origin) -> Result<&'static str, SettingsError> {
    match service.trim() {
        "" | "cloud" => Ok(CLOUD_URL),
        "cloudgov" => Ok(CLOUD_GOV_URL),
        other => Err(SettingsError::BadService {
            service: other.to_owned(),
            from,
        }),
    }
}

/// The profile to read: the one named, which must exist, else `default` if the file has it.
fn load_profile(
    named: Option<&Sourced<String>>,
    path: Option<&Path>,
) -> Result<Option<Profile>, SettingsError> {
    if let Some(named) = named
        && named.value.trim().is_empty()
    {
        return Err(SettingsError::EmptyName {
            asked_by: named.from.clone(),
        });
    }
    let Some(path) = path else {
        return match named {
            Some(named) => Err(SettingsError::NoHome {
                name: named.value.clone(),
                asked_by: named.from.clone(),
            }),
            None => Ok(None),
        };
    };
    let Some(table) = read_config(path)? else {
        return match named {
            Some(named) => Err(SettingsError::NoFile {
                name: named.value.clone(),
                asked_by: named.from.clone(),
                path: path.to_owned(),
            }),
            None => Ok(None),
        };
    };
    let name = named.map_or(DEFAULT_PROFILE, |n| n.value.trim());
    match find_profile(&table, name) {
        Some((found, profile)) => Profile::from_table(found, path, profile).map(Some),
        None => match named {
            Some(named) => Err(SettingsError::NoProfile {
                name: named.value.clone(),
                asked_by: named.from.clone(),
                path: path.to_owned(),
                known: profile_names(&table),
            }),
            None => Ok(None),
        },
    }
}

/// Which of a flag and its environment variable gave `value`: clap reads both into one field.
/// When both are set to the same value, either answer is true of the value used.
pub fn flag_or_env(value: &str, flag: &'static str, var: &'static str) -> Origin {
    match std::env::var(var) {
        Ok(v) if v.trim() == value.trim() => Origin::Env(var),
        _ => Origin::Flag(flag),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORG_A: &str = "5f1e2d3c4b5a697887766554";
    const ORG_B: &str = "64b7e2f0c1d2e3f4a5b6c7d8";

    fn config(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    fn named(name: &str) -> Given {
        Given {
            profile: Some(Sourced {
                value: name.into(),
                from: Origin::Flag("--profile"),
            }),
            ..Given::default()
        }
    }

    fn resolve_with(
        given: Given,
        env: &[(&str, &str)],
        path: &Path,
    ) -> Result<AtlasSettings, SettingsError> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        resolve(
            given,
            &move |name| env.get(name).cloned(),
            Some(path),
            SystemTime::now(),
        )
    }

    const FILE: &str = r#"
version = 2
telemetry_enabled = false

[default]
org_id = "5f1e2d3c4b5a697887766554"
service = "cloud"
public_api_key = "pubkey"
private_api_key = "priv-s3cret"

[Gov]
org_id = "64b7e2f0c1d2e3f4a5b6c7d8"
service = "cloudgov"
client_id = "mdb_sa_id_x"
client_secret = "mdb_sa_sk_s3cret"

[onprem]
ops_manager_url = "https://atlas.example.com/"
access_token = "tok-s3cret"

[keyring]
org_id = "5f1e2d3c4b5a697887766554"
auth_type = "service_account"
"#;

    #[test]
    fn the_default_profile_fills_what_nothing_else_gives() {
        let (_dir, path) = config(FILE);
        let s = resolve_with(Given::default(), &[], &path).unwrap();
        assert_eq!(s.profile.as_ref().unwrap().0, "default");
        let org = s.org_id.unwrap();
        assert_eq!(org.value, ORG_A);
        assert_eq!(org.from, Origin::Profile("default".into()));
        assert_eq!(s.base_url.value, CLOUD_URL);
        let creds = s.credentials.unwrap();
        assert_eq!(creds.from, Origin::Profile("default".into()));
        assert!(
            matches!(creds.value, Credentials::ApiKey { ref public_key, .. } if public_key == "pubkey")
        );
    }

    #[test]
    fn a_named_profile_is_found_case_insensitively_and_maps_its_service() {
        let (_dir, path) = config(FILE);
        let s = resolve_with(named("gov"), &[], &path).unwrap();
        assert_eq!(s.profile.as_ref().unwrap().0, "Gov");
        assert_eq!(s.org_id.unwrap().value, ORG_B);
        assert_eq!(s.base_url.value, CLOUD_GOV_URL);
        assert_eq!(s.base_url.from, Origin::Profile("Gov".into()));
        assert!(matches!(
            s.credentials.unwrap().value,
            Credentials::ServiceAccount { .. }
        ));
        let s = resolve_with(named("onprem"), &[], &path).unwrap();
        assert_eq!(s.base_url.value, "https://atlas.example.com/");
        assert!(s.org_id.is_none());
        assert!(matches!(
            s.credentials.unwrap().value,
            Credentials::AccessToken(_)
        ));
    }

    #[test]
    fn flags_then_environment_then_profile() {
        let (_dir, path) = config(FILE);
        let given = Given {
            org: Some(Sourced {
                value: ORG_B.into(),
                from: Origin::Flag("--org"),
            }),
            base_url: Some(Sourced {
                value: "http://127.0.0.1:1".into(),
                from: Origin::Env(BASE_URL_VAR),
            }),
            ..named("default")
        };
        let s = resolve_with(given, &[(ACCESS_TOKEN_VAR, "env-token")], &path).unwrap();
        assert_eq!(s.org_id.unwrap().from, Origin::Flag("--org"));
        assert_eq!(s.base_url.from, Origin::Env(BASE_URL_VAR));
        let creds = s.credentials.unwrap();
        assert_eq!(creds.from, Origin::Env(ACCESS_TOKEN_VAR));
        assert!(
            matches!(creds.value, Credentials::AccessToken(ref t) if t.expose() == "env-token")
        );
        // The service variable beats the profile's service.
        let given = Given {
            service: Some("cloudgov".into()),
            ..Given::default()
        };
        let s = resolve_with(given, &[], &path).unwrap();
        assert_eq!(s.base_url.value, CLOUD_GOV_URL);
        assert_eq!(s.base_url.from, Origin::Env(SERVICE_VAR));
    }

    #[test]
    fn half_a_pair_in_the_environment_is_an_error_not_mixed_with_the_profile() {
        let (_dir, path) = config(FILE);
        let s = resolve_with(Given::default(), &[(CLIENT_ID_VAR, "id")], &path).unwrap();
        // The profile still gives the organization, not the missing half.
        assert_eq!(s.org_id.unwrap().value, ORG_A);
        let err = s.credentials.unwrap_err();
        assert!(err.to_string().contains(CLIENT_SECRET_VAR), "{err}");
    }

    #[test]
    fn the_file_is_not_read_when_flags_and_environment_give_everything() {
        let (_dir, path) = config("this is [not toml");
        let given = Given {
            org: Some(Sourced {
                value: ORG_A.into(),
                from: Origin::Flag("--org"),
            }),
            base_url: Some(Sourced {
                value: CLOUD_URL.into(),
                from: Origin::Flag("--base-url"),
            }),
            ..Given::default()
        };
        let s = resolve_with(given.clone(), &[(ACCESS_TOKEN_VAR, "t")], &path).unwrap();
        assert!(s.profile.is_none());
        // Without credentials the profile could give them: the broken file is an error.
        let err = resolve_with(given, &[], &path).unwrap_err();
        assert!(matches!(err, SettingsError::Malformed { .. }), "{err}");
    }

    #[test]
    fn no_file_or_no_default_profile_is_fine_unless_a_profile_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("config.toml");
        let s = resolve_with(Given::default(), &[], &missing).unwrap();
        assert!(s.profile.is_none() && s.org_id.is_none());
        assert!(matches!(
            s.credentials,
            Err(SettingsError::Env(CredentialsError::Missing))
        ));
        let err = resolve_with(named("work"), &[], &missing).unwrap_err();
        assert!(matches!(err, SettingsError::NoFile { .. }), "{err}");
        assert!(err.to_string().contains(&missing.display().to_string()));

        let (_dir, path) = config("[other]\norg_id = \"5f1e2d3c4b5a697887766554\"\n");
        let s = resolve_with(Given::default(), &[], &path).unwrap();
        assert!(s.profile.is_none() && s.org_id.is_none());
        let err = resolve_with(named("work"), &[], &path).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("\"other\"") && text.contains("no profile \"work\""),
            "{text}"
        );
    }

    #[test]
    fn malformed_files_never_quote_their_content() {
        for text in [
            "[default]\nprivate_api_key = \"priv-s3cret\nclient_id = \"x\"\n",
            "[default]\nprivate_api_key = priv-s3cret\n",
            "[default]\nprivate_api_key = \"priv-s3cret\"\nprivate_api_key = \"priv-s3cret\"\n",
            "[default\nprivate_api_key = \"priv-s3cret\"\n",
            "[default]\n\"priv-s3cret\" \n",
            "[default]\nprivate_api_key = \"\\q priv-s3cret\"\n",
            "[default]\naccess_token = 'priv-s3cret\n",
            "[default]\nprivate_api_key = \"\"\"priv-s3cret",
            "[default]\nx = 1priv-s3cret\n",
            "[default]\nx = [\"priv-s3cret\" \"a\"]\n",
            "[default]\nx = {a = \"priv-s3cret\" b = 1}\n",
        ] {
            let (_dir, path) = config(text);
            let err = resolve_with(named("default"), &[], &path).unwrap_err();
            let shown = err.to_string();
            assert!(matches!(err, SettingsError::Malformed { .. }), "{shown}");
            assert!(!shown.contains("s3cret"), "{shown}");
            assert!(shown.contains(&path.display().to_string()), "{shown}");
            assert!(shown.contains("line "), "{shown}");
        }
    }

    #[test]
    fn wrongly_typed_values_are_named_by_key_not_value() {
        let (_dir, path) = config("[default]\nprivate_api_key = 123456789\n");
        let err = resolve_with(Given::default(), &[], &path).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("private_api_key of profile default"),
            "{text}"
        );
        assert!(!text.contains("123456789"), "{text}");
    }

    #[test]
    fn keyring_profiles_say_what_to_do() {
        let (_dir, path) = config(FILE);
        let s = resolve_with(named("keyring"), &[], &path).unwrap();
        let err = s.credentials.unwrap_err().to_string();
        assert!(
            err.contains("keyring") && err.contains(CLIENT_SECRET_VAR),
            "{err}"
        );
        // The environment's credentials make the profile's unnecessary.
        let s = resolve_with(named("keyring"), &[(ACCESS_TOKEN_VAR, "t")], &path).unwrap();
        assert!(s.credentials.is_ok());
        assert_eq!(s.org_id.unwrap().from, Origin::Profile("keyring".into()));
    }

    #[test]
    fn incomplete_and_empty_profiles_name_the_keys() {
        let (_dir, path) =
            config("[default]\npublic_api_key = \"p\"\n[empty]\nservice = \"cloud\"\n");
        let s = resolve_with(Given::default(), &[], &path).unwrap();
        let err = s.credentials.unwrap_err().to_string();
        assert!(err.contains("private_api_key"), "{err}");
        let s = resolve_with(named("empty"), &[], &path).unwrap();
        let err = s.credentials.unwrap_err().to_string();
        assert!(
            err.contains("profile empty") && err.contains("has none"),
            "{err}"
        );
    }

    #[test]
    fn bad_org_and_service_are_errors() {
        let (_dir, path) =
            config("[default]\norg_id = \"nope\"\n[odd]\nservice = \"ops-manager\"\n");
        let err = resolve_with(Given::default(), &[], &path).unwrap_err();
        assert!(matches!(err, SettingsError::BadOrg { .. }), "{err}");
        let err = resolve_with(named("odd"), &[], &path).unwrap_err();
        assert!(err.to_string().contains("ops-manager"), "{err}");
    }

    #[test]
    fn expired_profile_tokens_are_refused_before_sending() {
        let jwt = |exp: u64| {
            let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
            format!(
                "{}.{}.sig",
                b64.encode(br#"{"alg":"RS256"}"#),
                b64.encode(format!(r#"{{"sub":"x","exp":{exp}}}"#))
            )
        };
        let (_dir, path) = config(&format!(
            "[old]\naccess_token = \"{}\"\n[new]\naccess_token = \"{}\"\nauth_type = \"user_account\"\n",
            jwt(1_000_000_000),
            jwt(4_000_000_000)
        ));
        let s = resolve_with(named("old"), &[], &path).unwrap();
        let err = s.credentials.unwrap_err().to_string();
        assert!(err.contains("expired at 2001-09-09"), "{err}");
        assert!(!err.contains(&jwt(1_000_000_000)));
        let s = resolve_with(named("new"), &[], &path).unwrap();
        assert!(s.credentials.is_ok());
    }

    #[test]
    fn debug_never_shows_profile_secrets() {
        let (_dir, path) = config(FILE);
        for name in ["default", "gov", "onprem"] {
            let s = resolve_with(named(name), &[], &path).unwrap();
            let shown = format!("{s:?}");
            assert!(!shown.contains("s3cret"), "{shown}");
        }
    }

    #[test]
    fn the_config_path_follows_the_atlas_cli() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| std::ffi::OsString::from(v))
            }
        };
        if cfg!(target_os = "macos") {
            assert_eq!(
                config_path(vars(&[("HOME", "/Users/a")])).unwrap(),
                Path::new("/Users/a/Library/Application Support/atlascli/config.toml")
            );
        } else if !cfg!(windows) {
            assert_eq!(
                config_path(vars(&[("HOME", "/home/a"), ("XDG_CONFIG_HOME", "/x")])).unwrap(),
                Path::new("/x/atlascli/config.toml")
            );
            assert_eq!(
                config_path(vars(&[("HOME", "/home/a")])).unwrap(),
                Path::new("/home/a/.config/atlascli/config.toml")
            );
            assert!(
                config_path(vars(&[("HOME", "/home/a"), ("XDG_CONFIG_HOME", "rel")])).is_none()
            );
        }
        assert!(config_path(no_env_os).is_none());
    }

    fn no_env_os(_: &str) -> Option<std::ffi::OsString> {
        None
    }
}
