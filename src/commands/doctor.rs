//! `atlas-invite doctor`: before a big run, check the credentials, the organization and the
//! endpoint with one harmless GET (the lookup of an address that cannot exist), and show the
//! rate limit Atlas declares for the invite endpoint (`GET /rateLimits`).

use std::time::Instant;

use serde::Serialize;

use crate::atlas::client::{Api, AtlasClient, ClientConfig};
use crate::atlas::error::ErrorClass;
use crate::atlas::profile::{AtlasSettings, Origin};
use crate::atlas::rate_limits::{Declared, EndpointSet};
use crate::cli::{DoctorArgs, Format};
use crate::exit::{ABORTED, Failure, SUCCESS, USAGE};

/// Looked up by the check: the `.invalid` top-level domain can never hold a real mailbox.
pub(super) const PROBE_EMAIL: &str = "atlas-invite-doctor@example.invalid";

#[derive(Serialize)]
struct Check {
    ok: bool,
    base_url: String,
    org_id: String,
    api: &'static str,
    credentials: String,
    /// Where the organization, base URL and credentials came from: flag, env, profile or
    /// default.
    org_id_from: String,
    base_url_from: String,
    credentials_from: String,
    /// The Atlas CLI profile read, if one was.
    profile: Option<String>,
    http_status: Option<u16>,
    latency_ms: u128,
    rate_limit_limit: Option<u64>,
    rate_limit_remaining: Option<u64>,
    sunset: Option<String>,
    error: Option<String>,
    error_code: Option<String>,
    /// The endpoint sets `GET /rateLimits` lists for the invite endpoint.
    rate_limits: Vec<EndpointSet>,
    /// What those sets mean for the invite endpoint, or why Atlas did not say.
    rate_limits_note: String,
}

pub(super) async fn doctor(args: &DoctorArgs) -> Result<i32, Failure> {
    let settings = super::settings::resolve(&args.atlas)?;
    let org_id = settings.require_org("")?;
    let credentials = settings.require_credentials()?;
    let api = Api::from(args.atlas.api);
    let base_url = settings.base_url.value.clone();
    let client = AtlasClient::new(&ClientConfig {
        base_url: base_url.clone(),
        org_id: org_id.clone(),
        api,
        credentials: credentials.clone(),
        timeout: args.timeout,
        concurrency: 1,
        envelope: false,
    })
    .map_err(Failure::usage)?;

    let started = Instant::now();
    let result = client.find_invitation(PROBE_EMAIL).await;
    let mut check = Check {
        ok: result.is_ok(),
        base_url,
        org_id,
        api: api.as_str(),
        credentials: settings
            .describe_credentials()
            .unwrap_or_else(|| credentials.describe()),
        org_id_from: from(settings.org_id.as_ref().map(|o| &o.from)),
        base_url_from: from(Some(&settings.base_url.from)),
        credentials_from: from(settings.credentials.as_ref().ok().map(|c| &c.from)),
        profile: settings.profile.as_ref().map(|(name, _)| name.clone()),
        http_status: None,
        latency_ms: started.elapsed().as_millis(),
        rate_limit_limit: None,
        rate_limit_remaining: None,
        sunset: None,
        error: None,
        error_code: None,
        rate_limits: Vec::new(),
        rate_limits_note: String::new(),
    };
    let code = match &result {
        Ok(answer) => {
            check.http_status = Some(answer.status);
            check.rate_limit_limit = answer.rate.limit;
            check.rate_limit_remaining = answer.rate.remaining;
            check.sunset = answer.sunset.clone();
            SUCCESS
        }
        Err(e) => {
            check.http_status = e.http_status();
            check.error = Some(e.to_string());
            check.error_code = e.error_code().map(str::to_owned);
            if e.class() == ErrorClass::Auth {
                ABORTED
            } else {
                USAGE
            }
        }
    };
    // Only worth asking once the credentials work; a refusal there is a note, not a failure.
    if code == SUCCESS {
        let declared = client.declared_limit(api.invite_endpoint()).await;
        check.rate_limits_note = declared.describe(api.invite_endpoint());
        if let Declared::Limit { sets, .. } = declared {
            check.rate_limits = sets;
        }
    }
    match args.format {
        Format::Json => crate::outln!("{}", serde_json::to_string(&check).map_err(Failure::usage)?),
        Format::Text => crate::out!(
            "{}",
            crate::terminal::safe_lines(&render(&check, &settings))
        ),
    }
    Ok(code)
}

/// An origin as the JSON output gives it: `flag`, `env`, `profile` or `default`.
fn from(origin: Option<&Origin>) -> String {
    origin.map_or("", Origin::kind).to_owned()
}

fn render(check: &Check, settings: &AtlasSettings) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "base URL      {} (from {})\n",
        check.base_url, settings.base_url.from
    ));
    let org_from = settings
        .org_id
        .as_ref()
        .map_or(String::new(), |o| format!(" (from {})", o.from));
    out.push_str(&format!("organization  {}{org_from}\n", check.org_id));
    out.push_str(&format!("endpoint      {}\n", check.api));
    out.push_str(&format!("credentials   {}\n", check.credentials));
    let status = check
        .http_status
        .map(|s| format!("HTTP {s}"))
        .unwrap_or_else(|| "no answer".into());
    if check.ok {
        out.push_str(&format!(
            "check         ok: {status} in {} ms; the credentials can read this organization's invitations\n",
            check.latency_ms
        ));
    } else {
        out.push_str(&format!(
            "check         FAILED: {}\n",
            check.error.as_deref().unwrap_or(&status)
        ));
        out.push_str(&hint(check));
    }
    if let (Some(limit), Some(remaining)) = (check.rate_limit_limit, check.rate_limit_remaining) {
        out.push_str(&format!("rate limit    {remaining} of {limit} left\n"));
    }
    if !check.rate_limits_note.is_empty() {
        out.push_str(&format!("rate limits   {}\n", check.rate_limits_note));
        for set in &check.rate_limits {
            out.push_str(&format!("              {}\n", set.describe()));
        }
    }
    if let Some(sunset) = &check.sunset {
        out.push_str(&format!(
            "note          Atlas deprecates this endpoint (Sunset: {sunset}); switch with --api users\n"
        ));
    }
    out
}

fn hint(check: &Check) -> String {
    let text = match check.http_status {
        Some(401) if check.credentials_from == "profile" => {
            "the credentials were refused: check the profile's token, service account or API key; a token of `atlas auth login` lasts hours only, and running an Atlas CLI command with the profile renews it"
        }
        Some(401) => "the credentials were refused: check the token, service account or API key",
        Some(403) => {
            "the credentials lack access: they need the Organization Owner role, and the caller's IP must be on the API access list"
        }
        Some(404) => "the organization was not found: check --org",
        None => "Atlas could not be reached: check --base-url and the network",
        _ => return String::new(),
    };
    format!("hint          {text}\n")
}
