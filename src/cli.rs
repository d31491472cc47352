//! The command line as typed: clap derive structs, their defaults, environment fallbacks and
//! help texts. Turning these into working objects is the commands' job.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::atlas::client::Api;
use crate::atlas::model::{OrgRole, is_atlas_id};
use crate::pipeline::Rate;
use crate::util::parse_duration;

const EXIT_CODES: &str = "\
Exit codes:
  0  every valid row is invited (now or in an earlier run)
  1  the run finished, but some rows failed or were invalid
  2  usage, configuration or unreadable input (nothing was sent)
  3  the run was aborted (authentication/authorization failure, interruption)";

const ABOUT: &str = "Invite a CSV of people to a MongoDB Atlas organization: rate-limited, retried, resumable, journaled in SQLite.";

/// The whole command line.
#[derive(Debug, Parser)]
#[command(name = "atlas-invite", version, about = ABOUT, after_help = EXIT_CODES, args_override_self = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Invite every valid row of a CSV file to an Atlas organization.
    #[command(after_help = RUN_HELP)]
    Run(RunArgs),
    /// Parse and validate a CSV file without sending anything or writing the journal.
    Validate(ValidateArgs),
    /// Show the journal: how many people have each status, and the last runs.
    Status(StatusArgs),
    /// Serve the built-in Atlas simulator on 127.0.0.1 until killed.
    Simulate(SimulateArgs),
    /// Check credentials, organization access and the endpoint with one harmless request.
    Doctor(DoctorArgs),
}

const RUN_HELP: &str = "\
Credentials: MONGODB_ATLAS_ACCESS_TOKEN holds a bearer access token of a user or service
account with the Organization Owner role. It is never printed or written to the journal.

Rerunning the same command after any failure sends only what has not succeeded yet.

Exit codes:
  0  every valid row is invited (now or in an earlier run)
  1  the run finished, but some rows failed or were invalid
  2  usage, configuration or unreadable input (nothing was sent)
  3  the run was aborted (authentication/authorization failure, interruption)";

/// Which Atlas endpoint to call, as typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ApiArg {
    /// POST /api/atlas/v2/orgs/{orgId}/invites (application/vnd.atlas.2023-01-01+json).
    Invites,
    /// POST /api/atlas/v1.0/orgs/{orgId}/invites (application/json).
    #[value(name = "invites-v1")]
    InvitesV1,
    /// POST /api/atlas/v2/orgs/{orgId}/users (application/vnd.atlas.2025-02-19+json), the
    /// replacement of the deprecated invite endpoints.
    Users,
}

impl From<ApiArg> for Api {
    fn from(arg: ApiArg) -> Api {
        match arg {
            ApiArg::Invites => Api::Invites,
            ApiArg::InvitesV1 => Api::InvitesV1,
            ApiArg::Users => Api::Users,
        }
    }
}

/// Output format of a summary or listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people.
    #[value(alias = "table")]
    Text,
    /// One JSON object on stdout, for scripts.
    Json,
}

/// Options shared by every command that talks to Atlas.
#[derive(Debug, Clone, Args)]
pub struct AtlasArgs {
    /// Organization to invite into: its 24-character hexadecimal id.
    #[arg(long, env = "MONGODB_ATLAS_ORG_ID", value_parser = parse_org_id)]
    pub org: Option<String>,

    /// Atlas base URL [default: MONGODB_ATLAS_OPS_MANAGER_URL, else https://cloud.mongodb.com].
    #[arg(long, env = "MONGODB_ATLAS_BASE_URL", value_name = "URL")]
    pub base_url: Option<String>,

    /// Endpoint used to invite.
    #[arg(long, value_enum, default_value_t = ApiArg::Invites)]
    pub api: ApiArg,
}

/// The Atlas base URL used when neither `--base-url` nor an environment variable names one.
pub const DEFAULT_BASE_URL: &str = "https://cloud.mongodb.com";

impl AtlasArgs {
    /// `--base-url`, else `MONGODB_ATLAS_BASE_URL` (both read by clap), else
    /// `MONGODB_ATLAS_OPS_MANAGER_URL` (the Atlas CLI's name), else the public Atlas.
    pub fn base_url(&self) -> String {
        self.base_url
            .clone()
            .or_else(|| {
                std::env::var("MONGODB_ATLAS_OPS_MANAGER_URL")
                    .ok()
                    .filter(|v| !v.trim().is_empty())
            })
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned())
    }
}

/// The journal's location.
#[derive(Debug, Clone, Args)]
pub struct JournalArgs {
    /// SQLite journal of every run and outcome [default: atlas-invite.db].
    #[arg(long, env = "ATLAS_INVITE_JOURNAL", value_name = "PATH")]
    pub journal: Option<PathBuf>,
}

/// `atlas-invite run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// CSV file with a header row and an email column.
    #[arg(value_name = "CSV")]
    pub csv: PathBuf,

    #[command(flatten)]
    pub atlas: AtlasArgs,

    #[command(flatten)]
    pub journal: JournalArgs,

    /// Requests in flight at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: u16,

    /// Client-side request rate shared by all workers, like 10/s or 600/min [default: 1/s; 20/s with --simulate].
    #[arg(long, value_name = "N/s|N/min")]
    pub rate: Option<Rate>,

    /// Requests per row at most, the first one included.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub max_attempts: u32,

    /// Longest wait between two attempts of one row.
    #[arg(long, default_value = "60s", value_parser = parse_duration, value_name = "DURATION")]
    pub max_backoff: Duration,

    /// Limit of one request, from connecting to the end of the answer.
    #[arg(long, default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    pub timeout: Duration,

    /// Organization role for rows whose roles cell is empty.
    #[arg(long, default_value = "ORG_MEMBER", value_parser = parse_role, value_name = "ROLE")]
    pub default_role: OrgRole,

    /// Send nothing if any row is invalid (exit 1).
    #[arg(long)]
    pub strict: bool,

    /// Validate, consult the journal and print what would be sent; send nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Run against the built-in simulator (realistic latency, some 500s, a rate limit); no
    /// credentials needed [journal default: atlas-invite-simulate.db].
    #[arg(long)]
    pub simulate: bool,

    /// Send envelope=true and read each answer's status from its body, for proxies that hide
    /// status codes.
    #[arg(long)]
    pub envelope: bool,

    /// Print no progress and no text summary.
    #[arg(long, short)]
    pub quiet: bool,

    /// Format of the final summary.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// `atlas-invite doctor`.
#[derive(Debug, Clone, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub atlas: AtlasArgs,

    /// Limit of the check request.
    #[arg(long, default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    pub timeout: Duration,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// `atlas-invite validate`.
#[derive(Debug, Clone, Args)]
pub struct ValidateArgs {
    /// CSV file to check.
    #[arg(value_name = "CSV")]
    pub csv: PathBuf,

    /// Organization role for rows whose roles cell is empty.
    #[arg(long, default_value = "ORG_MEMBER", value_parser = parse_role, value_name = "ROLE")]
    pub default_role: OrgRole,

    /// Print only the problems and the totals, not every valid row.
    #[arg(long, short)]
    pub quiet: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// `atlas-invite status`.
#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub journal: JournalArgs,

    /// Only this organization.
    #[arg(long, env = "MONGODB_ATLAS_ORG_ID", value_parser = parse_org_id)]
    pub org: Option<String>,

    /// How many recent runs to list.
    #[arg(long, default_value_t = 5)]
    pub runs: u32,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// `atlas-invite simulate`.
#[derive(Debug, Clone, Args)]
pub struct SimulateArgs {
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

    /// Token-bucket rate limit answering 429 with Retry-After, like 10/s.
    #[arg(long, value_name = "N/s")]
    pub rate_limit: Option<Rate>,

    /// Latency added to every answer, like 50ms.
    #[arg(long, default_value = "0ms", value_parser = parse_duration, value_name = "DURATION")]
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

    /// Lifetime of the access tokens issued to service accounts.
    #[arg(long, default_value = "1h", value_parser = parse_duration, value_name = "DURATION")]
    pub token_ttl: Duration,

    /// A programmatic API key accepted with HTTP Digest (repeatable).
    #[arg(long = "api-key", value_name = "PUBLIC:PRIVATE", value_parser = parse_pair)]
    pub api_keys: Vec<(String, String)>,
}

fn parse_org_id(text: &str) -> Result<String, String> {
    let id = text.trim();
    if is_atlas_id(id) {
        Ok(id.to_owned())
    } else {
        Err(format!(
            "{text:?} is not an organization id: it is 24 lower-case hexadecimal characters, shown in Atlas under Organization Settings"
        ))
    }
}

fn parse_role(text: &str) -> Result<OrgRole, String> {
    OrgRole::parse(text).ok_or_else(|| {
        let names: Vec<&str> = OrgRole::ALL.iter().map(|r| r.as_str()).collect();
        format!(
            "unknown organization role {text:?}: expected one of {}",
            names.join(", ")
        )
    })
}

fn parse_pair(text: &str) -> Result<(String, String), String> {
    match text.split_once(':') {
        Some((a, b)) if !a.is_empty() && !b.is_empty() => Ok((a.to_owned(), b.to_owned())),
        _ => Err("expected two values separated by a colon, like ID:SECRET".to_owned()),
    }
}

fn parse_fraction(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(f) if (0.0..=1.0).contains(&f) => Ok(f),
        _ => Err(format!("{text:?} is not a fraction between 0 and 1")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_defaults_match_the_documentation() {
        let cli = Cli::try_parse_from([
            "atlas-invite",
            "run",
            "x.csv",
            "--org",
            "5f1e2d3c4b5a697887766554",
        ])
        .unwrap();
        let Command::Run(args) = cli.command else {
            panic!("not run");
        };
        assert_eq!(args.concurrency, 4);
        assert_eq!(args.max_attempts, 8);
        assert_eq!(args.max_backoff, Duration::from_secs(60));
        assert_eq!(args.timeout, Duration::from_secs(30));
        assert_eq!(args.default_role, OrgRole::OrgMember);
        assert_eq!(args.atlas.api, ApiArg::Invites);
        assert!(args.rate.is_none());
    }

    #[test]
    fn bad_org_ids_and_roles_are_usage_errors() {
        let err =
            Cli::try_parse_from(["atlas-invite", "run", "x.csv", "--org", "ABC"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("24 lower-case hexadecimal"));
        let err = Cli::try_parse_from([
            "atlas-invite",
            "validate",
            "x.csv",
            "--default-role",
            "boss",
        ])
        .unwrap_err();
        assert!(err.to_string().contains("ORG_MEMBER"));
    }
}
