//! The command line of the `atlas-sim` binary: [`ServeArgs`], the flags of a simulator, turned
//! into a [`SimConfig`]; and [`SimCli`], which serves with them (with no subcommand, or with
//! `serve`) or plays what an invited person does on a running simulator (`accept`, `expire`,
//! `decline`).
//!
//! [`ServeArgs`] is the one definition of the simulator's flags: `atlas-invite simulate`
//! flattens it into its own command line, and `--rate-limit` is read by
//! [`atlas_model::rate::parse_per_second`], as `atlas-invite --rate` is.

// The doc comments here are the `--help` texts, written for a terminal: plain URLs and
// `<placeholders>` read right there, where rustdoc's link and HTML syntax would not.
#![allow(rustdoc::bare_urls, rustdoc::invalid_html_tags)]

use std::time::Duration;

use atlas_model::is_atlas_id;
use atlas_model::rate::parse_per_second;
use clap::{Args, Command, CommandFactory, Parser, Subcommand};

use crate::control::PersonAction;
use crate::{DEFAULT_MAX_ORG_USERS, DEFAULT_MAX_TEAM_USERS, RateLimit, SimConfig};

/// What `atlas-sim` does.
const ABOUT: &str = "Serve a stateful, fault-injecting MongoDB Atlas invitation API on 127.0.0.1 \
until killed (the first line on stdout is its base URL), or play what an invited person does on \
a running one.";

/// The whole command line of `atlas-sim`: serve (the default), or a rehearsal control.
#[derive(Debug, Parser)]
#[command(
    name = "atlas-sim",
    version,
    about = ABOUT,
    args_override_self = true,
    args_conflicts_with_subcommands = true
)]
pub struct SimCli {
    #[command(subcommand)]
    pub command: Option<SimCommand>,

    /// Without a subcommand, the flags of `serve`.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// The subcommands of `atlas-sim`.
#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Serve the simulator until killed (what `atlas-sim` does without a subcommand).
    // Boxed: the flags of a simulator are many, a control's two.
    Serve(Box<ServeArgs>),
    /// The person accepts their pending invitation on a running simulator: they become an
    /// active member.
    Accept(ControlArgs),
    /// The person's pending invitation expires now, as after 30 days.
    Expire(ControlArgs),
    /// The person declines their pending invitation.
    Decline(ControlArgs),
}

impl SimCommand {
    /// The person's action a control subcommand plays, with its arguments.
    pub fn control(&self) -> Option<(PersonAction, &ControlArgs)> {
        match self {
            SimCommand::Serve(_) => None,
            SimCommand::Accept(args) => Some((PersonAction::Accept, args)),
            SimCommand::Expire(args) => Some((PersonAction::Expire, args)),
            SimCommand::Decline(args) => Some((PersonAction::Decline, args)),
        }
    }
}

/// Which simulator, and who.
#[derive(Debug, Clone, Args)]
pub struct ControlArgs {
    /// The running simulator's base URL, as it printed it (like http://127.0.0.1:8080).
    #[arg(long, value_name = "URL")]
    pub url: String,

    /// The invited person's email address.
    #[arg(value_name = "EMAIL")]
    pub email: String,
}

/// Serve a stateful, fault-injecting MongoDB Atlas invitation API on 127.0.0.1 until killed.
/// The first line on stdout is its base URL.
#[derive(Debug, Clone, Args)]
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
    #[arg(long, value_name = "N/s", value_parser = parse_per_second)]
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

    /// An email that is already a member of the organization with ORG_OWNER (repeatable); the
    /// last owner can be neither removed nor stripped of the role.
    #[arg(long = "owner", value_name = "EMAIL")]
    pub owners: Vec<String>,

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

    /// Users the organization may hold, pending invitations included (Atlas: 500); more are
    /// refused with 400 MAX_USERS_PER_ORG_EXCEEDED.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_ORG_USERS, value_parser = parse_capacity)]
    pub max_org_users: usize,

    /// Users a team may hold, pending invitations naming it included (Atlas: 250); more are
    /// refused with 400 MAX_USERS_PER_TEAM_EXCEEDED.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_TEAM_USERS, value_parser = parse_capacity)]
    pub max_team_users: usize,
}

/// `ServeArgs` parses a command line alone too (`ServeArgs::parse`), as the whole `atlas-sim`
/// did before it had subcommands. Written by hand rather than derived, because a derived
/// `Parser` would bring its own `--version` into every command that flattens these flags.
impl CommandFactory for ServeArgs {
    fn command() -> Command {
        ServeArgs::augment_args(serve_command())
    }

    fn command_for_update() -> Command {
        ServeArgs::augment_args_for_update(serve_command())
    }
}

impl Parser for ServeArgs {}

fn serve_command() -> Command {
    Command::new("atlas-sim")
        .version(env!("CARGO_PKG_VERSION"))
        .about(ABOUT)
        .args_override_self(true)
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
            existing_owners: self.owners,
            max_org_users: Some(self.max_org_users),
            max_team_users: Some(self.max_team_users),
            service_accounts: self.service_accounts,
            token_ttl: self.token_ttl,
            api_keys: self.api_keys,
            teams: self.teams,
            projects: self.projects,
            ..SimConfig::default()
        }
    }
}

/// `--max-org-users` and `--max-team-users`: from 1 to a million.
fn parse_capacity(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if (1..=1_000_000).contains(&n) => Ok(n),
        _ => Err(format!(
            "{text:?} is not a number of users from 1 to 1000000"
        )),
    }
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
        SimCli::command().debug_assert();
    }

    #[test]
    fn atlas_sim_serves_by_default_or_plays_a_person() {
        let cli = SimCli::try_parse_from([
            "atlas-sim",
            "--owner",
            "o@example.com",
            "--max-org-users",
            "10",
        ])
        .unwrap();
        assert!(cli.command.is_none());
        let config = cli.serve.config();
        assert_eq!(config.existing_owners, ["o@example.com"]);
        assert_eq!(
            (config.max_org_users, config.max_team_users),
            (Some(10), Some(250))
        );

        let cli = SimCli::try_parse_from(["atlas-sim", "serve", "--max-team-users", "3"]).unwrap();
        match cli.command {
            Some(SimCommand::Serve(args)) => assert_eq!(args.max_team_users, 3),
            other => panic!("{other:?}"),
        }
        let cli = SimCli::try_parse_from([
            "atlas-sim",
            "decline",
            "--url",
            "http://127.0.0.1:1",
            "a@example.com",
        ])
        .unwrap();
        let command = cli.command.unwrap();
        let (action, args) = command.control().unwrap();
        assert_eq!(action, PersonAction::Decline);
        assert_eq!(args.email, "a@example.com");

        for args in [
            &["atlas-sim", "accept", "a@example.com"][..],
            &[
                "atlas-sim",
                "--port",
                "1",
                "accept",
                "--url",
                "u",
                "a@example.com",
            ],
            &["atlas-sim", "--max-team-users", "0"],
        ] {
            assert!(
                SimCli::try_parse_from(args).is_err(),
                "{args:?} was accepted"
            );
        }
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
