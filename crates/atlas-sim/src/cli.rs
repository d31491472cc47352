//! The command line of the `atlas-sim` binary: the flags of `atlas-invite simulate`, with the
//! same names, defaults and ranges, turned into a [`SimConfig`].
//!
//! `atlas-invite` parses its `simulate` subcommand with its own copy of these flags (its
//! `--rate-limit` shares the `--rate` parser of its pipeline); a test in `atlas-invite` checks
//! that both accept the same flags with the same defaults.

// The doc comments here are the `--help` texts, written for a terminal: plain URLs and
// `<placeholders>` read right there, where rustdoc's link and HTML syntax would not.
#![allow(rustdoc::bare_urls, rustdoc::invalid_html_tags)]

use std::time::Duration;

use atlas_model::is_atlas_id;
use clap::Parser;

use crate::{RateLimit, SimConfig};

/// The lowest `--rate-limit`: one request an hour.
const MIN_RATE_PER_SEC: f64 = 1.0 / 3600.0;
/// The highest `--rate-limit`.
const MAX_RATE_PER_SEC: f64 = 100_000.0;

/// Serve a stateful, fault-injecting MongoDB Atlas invitation API on 127.0.0.1 until killed.
/// The first line on stdout is its base URL.
#[derive(Debug, Clone, Parser)]
#[command(name = "atlas-sim", version, args_override_self = true)]
pub struct ServeArgs {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,

    /// The only organization that exists (any 24-hex id does when omitted).
    #[arg(long, value_parser = parse_org_id)]
    pub org: Option<String>,

    /// Accept only this bearer token (any non-empty token when omitted).
    #[arg(long, value_name = "T")]
    pub token: Option<String>,

    /// Fraction of invite requests answered 500 (0 to 1).
    #[arg(long, default_value_t = 0.0, value_parser = parse_fraction)]
    pub fail_rate: f64,

    /// Token-bucket rate limit answering 429 with Retry-After, like 10/s or 5/6s (the
    /// bucket's refill); GET /rateLimits declares it.
    #[arg(long, value_name = "N/s", value_parser = parse_rate)]
    pub rate_limit: Option<f64>,

    /// Capacity of the --rate-limit bucket [default: one second's refill, at least 1].
    #[arg(long, value_name = "N", requires = "rate_limit", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub rate_limit_capacity: Option<u32>,

    /// Refuse like Atlas's older invitation limit: 400 INVITATIONS_RATE_LIMITED_IP "Rate limit
    /// of N invitations per M minutes exceeded", no Retry-After, no RateLimit-* headers, and
    /// nothing declared by GET /rateLimits.
    #[arg(long, requires = "rate_limit")]
    pub rate_limit_legacy: bool,

    /// Latency added to every answer, like 50ms (at most 10m).
    #[arg(long, default_value = "0ms", value_parser = parse_latency, value_name = "DURATION")]
    pub latency: Duration,

    /// Fraction of invite requests that create the invitation, then close the connection
    /// without answering.
    #[arg(long, default_value_t = 0.0, value_parser = parse_fraction)]
    pub drop_rate: f64,

    /// Fraction of invite requests that are never answered.
    #[arg(long, default_value_t = 0.0, value_parser = parse_fraction)]
    pub hang_rate: f64,

    /// Fraction of invite requests answered 503 with an HTML page, as a proxy would.
    #[arg(long = "html-503-rate", default_value_t = 0.0, value_parser = parse_fraction)]
    pub html_503_rate: f64,

    /// Leave the Retry-After header out of 429 answers.
    #[arg(long)]
    pub no_retry_after: bool,

    /// Let a second invite for the same email create a second invitation.
    #[arg(long)]
    pub duplicate_invites: bool,

    /// An email that is already a member of the organization (repeatable).
    #[arg(long = "member", value_name = "EMAIL")]
    pub members: Vec<String>,

    /// Seed of the fault injection, for repeatable runs.
    #[arg(long)]
    pub seed: Option<u64>,

    /// A service account that may get access tokens from /api/oauth/token (repeatable).
    #[arg(long = "service-account", value_name = "CLIENT_ID:SECRET", value_parser = parse_pair)]
    pub service_accounts: Vec<(String, String)>,

    /// Lifetime of the access tokens issued to service accounts (1s to 24h).
    #[arg(long, default_value = "1h", value_parser = parse_token_ttl, value_name = "DURATION")]
    pub token_ttl: Duration,

    /// A programmatic API key accepted with HTTP Digest (repeatable).
    #[arg(long = "api-key", value_name = "PUBLIC:PRIVATE", value_parser = parse_pair)]
    pub api_keys: Vec<(String, String)>,

    /// A team of the organization, served by GET /orgs/{orgId}/teams (repeatable).
    #[arg(long = "team", value_name = "ID:NAME", value_parser = parse_pair)]
    pub teams: Vec<(String, String)>,

    /// A project of the organization, served by GET /orgs/{orgId}/groups (repeatable).
    #[arg(long = "project", value_name = "ID:NAME", value_parser = parse_pair)]
    pub projects: Vec<(String, String)>,
}

impl ServeArgs {
    /// The simulator these flags describe.
    pub fn config(self) -> SimConfig {
        SimConfig {
            org_id: self.org,
            token: self.token,
            fail_rate: self.fail_rate,
            rate_limit: self.rate_limit.map(|per_second| RateLimit {
                per_second,
                burst: self
                    .rate_limit_capacity
                    .unwrap_or((per_second.ceil() as u32).max(1)),
            }),
            rate_limit_legacy: self.rate_limit_legacy,
            latency: self.latency,
            seed: self.seed,
            retry_after_header: !self.no_retry_after,
            drop_rate: self.drop_rate,
            hang_rate: self.hang_rate,
            html_503_rate: self.html_503_rate,
            duplicate_invites: self.duplicate_invites,
            existing_members: self.members,
            service_accounts: self.service_accounts,
            token_ttl: self.token_ttl,
            api_keys: self.api_keys,
            teams: self.teams,
            projects: self.projects,
            ..SimConfig::default()
        }
    }
}

/// `--rate-limit`: requests per second from `10/s`, `600/min`, `5/6s` or a bare `10`, between
/// one an hour and 100000/s, as `atlas-invite` reads rates.
fn parse_rate(text: &str) -> Result<f64, String> {
    let bad = || format!("invalid rate {text:?}: write it like 10/s, 600/min or 5/6s");
    let (count, unit) = match text.trim().split_once('/') {
        Some((count, unit)) => (count.trim(), unit.trim().to_ascii_lowercase()),
        None => (text.trim(), "s".to_owned()),
    };
    let count: f64 = count.parse().map_err(|_| bad())?;
    // "6s", "10 min": a number of units.
    let split = unit
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(unit.len());
    let (times, unit) = unit.split_at(split);
    let times: f64 = if times.is_empty() {
        1.0
    } else {
        times.parse().map_err(|_| bad())?
    };
    let seconds = match unit.trim() {
        "s" | "sec" | "second" => 1.0,
        "m" | "min" | "minute" => 60.0,
        "h" | "hour" => 3600.0,
        _ => return Err(bad()),
    };
    let per_second = count / (seconds * times);
    if !per_second.is_finite() || per_second <= 0.0 {
        return Err(format!("invalid rate {text:?}: it must be more than zero"));
    }
    if !(MIN_RATE_PER_SEC * (1.0 - 1e-9)..=MAX_RATE_PER_SEC).contains(&per_second) {
        return Err(format!(
            "rate {text:?} is out of range: use between 1/h and 100000/s"
        ));
    }
    Ok(per_second)
}

fn parse_org_id(text: &str) -> Result<String, String> {
    let id = text.trim();
    if is_atlas_id(id) {
        Ok(id.to_owned())
    } else {
        Err(format!(
            "{text:?} is not an organization id: it is 24 lower-case hexadecimal characters"
        ))
    }
}

fn parse_fraction(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(f) if (0.0..=1.0).contains(&f) => Ok(f),
        _ => Err(format!("{text:?} is not a fraction between 0 and 1")),
    }
}

fn parse_pair(text: &str) -> Result<(String, String), String> {
    match text.split_once(':') {
        Some((a, b)) if !a.is_empty() && !b.is_empty() => Ok((a.to_owned(), b.to_owned())),
        _ => Err("expected two values separated by a colon, like ID:SECRET".to_owned()),
    }
}

const HOUR: Duration = Duration::from_secs(3600);

/// `--latency`: up to ten minutes.
fn parse_latency(text: &str) -> Result<Duration, String> {
    duration_within(text, Duration::ZERO, Duration::from_secs(600))
}

/// `--token-ttl`: from a second to a day.
fn parse_token_ttl(text: &str) -> Result<Duration, String> {
    duration_within(text, Duration::from_secs(1), 24 * HOUR)
}

fn duration_within(text: &str, min: Duration, max: Duration) -> Result<Duration, String> {
    let value = humantime::parse_duration(text.trim())
        .map_err(|e| format!("invalid duration {text:?} ({e}); write it like 500ms, 30s or 2m"))?;
    if value < min || value > max {
        return Err(format!(
            "{} is out of range: give a duration from {} to {}",
            text.trim(),
            humantime::format_duration(min),
            humantime::format_duration(max)
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        ServeArgs::command().debug_assert();
    }

    #[test]
    fn flags_become_the_simulator_they_describe() {
        let config = ServeArgs::try_parse_from([
            "atlas-sim",
            "--org",
            "5f1e2d3c4b5a697887766554",
            "--rate-limit",
            "5/6s",
            "--latency",
            "20ms",
            "--no-retry-after",
            "--member",
            "a@example.com",
            "--team",
            "5f1e2d3c4b5a697887766555:Platform",
        ])
        .unwrap()
        .config();
        assert_eq!(config.org_id.as_deref(), Some("5f1e2d3c4b5a697887766554"));
        let limit = config.rate_limit.unwrap();
        assert!((limit.per_second - 5.0 / 6.0).abs() < 1e-12);
        assert_eq!(limit.burst, 1);
        assert_eq!(config.latency, Duration::from_millis(20));
        assert!(!config.retry_after_header);
        assert_eq!(config.existing_members, ["a@example.com"]);
        assert_eq!(config.teams[0].1, "Platform");
    }

    #[test]
    fn out_of_range_values_are_refused() {
        for args in [
            ["--rate-limit", "0/s"],
            ["--rate-limit", "1/day"],
            ["--fail-rate", "1.5"],
            ["--latency", "11m"],
            ["--token-ttl", "0s"],
            ["--org", "not-an-id"],
            ["--team", "no-colon"],
        ] {
            let parsed = ServeArgs::try_parse_from(["atlas-sim"].into_iter().chain(args));
            assert!(parsed.is_err(), "{args:?} was accepted");
        }
        assert!(ServeArgs::try_parse_from(["atlas-sim", "--rate-limit-capacity", "3"]).is_err());
    }
}
