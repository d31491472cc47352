//! The command line as typed: clap derive structs, their defaults, environment fallbacks and
//! help texts. Turning these into working objects is the commands' job.

// The doc comments here are the `--help` texts, written for a terminal: plain URLs and
// `<placeholders>` read right there, where rustdoc's link and HTML syntax would not.
#![allow(rustdoc::bare_urls, rustdoc::invalid_html_tags)]

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::atlas::client::Api;
use crate::atlas::model::{OrgRole, is_atlas_id, parse_group_role};
use crate::journal::InviteStatus;
use crate::pipeline::RateSetting;
use crate::report::{ReportCommandFormat, ReportFormat};
use crate::util::{parse_duration, rfc3339};

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
    #[command(after_help = CREDENTIALS_HELP, mut_arg("org", |org| org.help(
        "Organization to check: its 24-character hexadecimal id"
    )))]
    Doctor(DoctorArgs),
    /// List people from the journal: who got which role, when, by which run, what Atlas said.
    Report(ReportArgs),
    /// List runs: who ran them, where, when, from which file, with counts per status.
    Runs(RunsArgs),
    /// Every request made for one person, across runs.
    History(HistoryArgs),
    /// Write a results file: the input CSV's own columns plus each row's outcome.
    Export(ExportArgs),
    /// Record each person's membership (pending, active, expired, declined) as Atlas reports it.
    #[command(after_help = CREDENTIALS_HELP, mut_arg("org", |org| org.help(
        "Organization whose members and invitations to read: its 24-character hexadecimal id"
    )))]
    Reconcile(ReconcileArgs),
    /// Write what `run` would do — invite, update, remove — for review; `apply` does exactly that.
    #[command(after_help = PLAN_HELP)]
    Plan(PlanArgs),
    /// Carry out a plan written by `plan --out`, refusing if the file, journal or options changed.
    Apply(ApplyArgs),
    /// Undo a batch: cancel the pending invitations a run (or these addresses) created.
    #[command(after_help = REVOKE_HELP, mut_arg("org", |org| org.help(
        "Organization whose invitations to revoke: its 24-character hexadecimal id"
    )))]
    Revoke(RevokeArgs),
    /// Print a shell completion script to stdout (see the README for where to put it).
    Completions(CompletionsArgs),
    /// Print the manual page in roff to stdout, or write one page per command into a directory.
    Man(ManArgs),
}

/// The credential variables `Credentials::from_env` reads, for the help of every command that
/// talks to Atlas (a unit test checks that none is missing).
macro_rules! credentials_help {
    () => {
        "\
Credentials, read from the environment only (the first kind present wins); they need the
Organization Owner role and are never printed or written to the journal:
  MONGODB_ATLAS_ACCESS_TOKEN       a bearer access token
  MONGODB_ATLAS_CLIENT_ID,         a service account, whose access tokens come from
  MONGODB_ATLAS_CLIENT_SECRET      /api/oauth/token at the base URL
  MONGODB_ATLAS_PUBLIC_API_KEY,    a programmatic API key (HTTP Digest); also read as
  MONGODB_ATLAS_PRIVATE_API_KEY    MONGODB_ATLAS_PUBLIC_KEY, MONGODB_ATLAS_PRIVATE_KEY"
    };
}

const CREDENTIALS_HELP: &str = credentials_help!();

const RUN_HELP: &str = concat!(
    credentials_help!(),
    "

Rerunning the same command after any failure sends only what has not succeeded yet.

Exit codes:
  0  every valid row is invited (now or in an earlier run)
  1  the run finished, but some rows failed or were invalid
  2  usage, configuration or unreadable input (nothing was sent)
  3  the run was aborted (authentication/authorization failure, interruption)"
);

/// Which Atlas endpoint to call, as typed. `users` is the default: Atlas turns the invitation
/// endpoints off on 1 July 2027 and recommends it in their place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ApiArg {
    /// POST /api/atlas/v2/orgs/{orgId}/users (application/vnd.atlas.2025-02-19+json), the
    /// replacement Atlas recommends for the invitation endpoints.
    Users,
    /// POST /api/atlas/v2/orgs/{orgId}/invites (application/vnd.atlas.2023-01-01+json),
    /// deprecated: Atlas turns it off on 1 July 2027.
    Invites,
    /// POST /api/atlas/v1.0/orgs/{orgId}/invites (application/json), deprecated with the v1.0
    /// API.
    #[value(name = "invites-v1")]
    InvitesV1,
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
    /// Organization to invite into: its 24-character hexadecimal id [default: the profile's
    /// org_id].
    #[arg(long, env = "MONGODB_ATLAS_ORG_ID", value_parser = parse_org_id)]
    pub org: Option<String>,

    /// Atlas base URL [default: MONGODB_ATLAS_OPS_MANAGER_URL, else the profile's, else
    /// https://cloud.mongodb.com].
    #[arg(long, env = "MONGODB_ATLAS_BASE_URL", value_name = "URL")]
    pub base_url: Option<String>,

    /// Atlas CLI profile (config.toml) giving what flags and environment do not [default:
    /// default]; read only.
    #[arg(long, short = 'P', env = "MONGODB_ATLAS_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,

    /// Endpoint used to invite (and to look people up).
    #[arg(long, value_enum, default_value_t = ApiArg::Users)]
    pub api: ApiArg,
}

/// The journal's location.
#[derive(Debug, Clone, Args)]
pub struct JournalArgs {
    /// SQLite journal of every run and outcome [default: ./atlas-invite.db if it exists, else
    /// one per organization: $XDG_STATE_HOME/atlas-invite/<orgId>.db, or
    /// ~/.local/state/atlas-invite/<orgId>.db].
    #[arg(long, env = "ATLAS_INVITE_JOURNAL", value_name = "PATH")]
    pub journal: Option<PathBuf>,
}

/// How the CSV file is read: shared by `run`, `validate` and `export`.
#[derive(Debug, Clone, Args)]
pub struct InputArgs {
    /// Organization role for rows that get none from their roles cell or a rule.
    #[arg(long, default_value = "ORG_MEMBER", value_parser = parse_role, value_name = "ROLE")]
    pub default_role: OrgRole,

    /// Encoding of the file, like windows-1252 (alias latin1), utf-16 or utf-16be [default:
    /// UTF-8; a UTF-8 or UTF-16 byte order mark is always followed].
    #[arg(long, value_parser = crate::roster::encoding::parse_label, value_name = "LABEL")]
    pub encoding: Option<&'static encoding_rs::Encoding>,

    /// Field delimiter: , ; | or tab [default: detected from the header line].
    #[arg(long, value_parser = crate::roster::parse_delimiter, value_name = "CHAR")]
    pub delimiter: Option<u8>,

    /// Header of the column holding the email addresses, when the accepted names do not fit.
    #[arg(long, value_name = "HEADER")]
    pub email_column: Option<String>,

    /// Header of the column holding the organization roles.
    #[arg(long, value_name = "HEADER")]
    pub roles_column: Option<String>,

    /// Header of the column holding the teams (names or ids).
    #[arg(long, value_name = "HEADER")]
    pub teams_column: Option<String>,

    /// Header of the column holding the project roles (<project>:<GROUP_ROLE>).
    #[arg(long, value_name = "HEADER")]
    pub projects_column: Option<String>,

    /// Only rows whose COLUMN equals VALUE (trimmed, case-insensitive); repeatable, all must
    /// match.
    #[arg(long = "where", value_name = "COLUMN=VALUE")]
    pub filters: Vec<crate::roster::Filter>,

    /// TOML rules granting roles, teams and projects by column values (see the README).
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
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

    #[command(flatten)]
    pub send: SendArgs,

    /// How long Atlas may go on working on a request that got no answer (a timeout, a dropped
    /// connection, a 502 or 504). The person is looked up only once this has passed since the
    /// request was sent, and only then sent again if Atlas has no invitation. At least
    /// --timeout [default: --timeout + 30s].
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub settle: Option<Duration>,

    #[command(flatten)]
    pub input: InputArgs,

    /// Send nothing if any row is invalid (exit 1).
    #[arg(long)]
    pub strict: bool,

    /// Validate, consult the journal and print what would be sent; send nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Invite again the people whose invitation expired or was declined, as the last
    /// `reconcile` saw it (otherwise they are skipped like everybody already invited).
    #[arg(long)]
    pub reinvite_expired: bool,

    /// Only report the people whose roles, teams or projects in the file differ from what was
    /// applied; by default they are updated (a pending invitation's grants through PATCH
    /// …/invites/{id}, a user's through PATCH …/users/{id}).
    #[arg(long)]
    pub no_update: bool,

    /// Also remove from the organization the people this journal invited into it who are no
    /// longer in the file (leavers). Never more than --max-removals, never the last
    /// ORG_OWNER; removals need --yes without a terminal.
    #[arg(long)]
    pub prune: bool,

    /// With --prune: refuse the run (exit 2, nothing sent) when it would remove more people
    /// than this, which usually means the wrong file.
    #[arg(long, value_name = "N", default_value_t = 5, requires = "prune")]
    pub max_removals: u32,

    /// Answer yes to the confirmation asked before removing anybody or granting ORG_OWNER.
    #[arg(long, short = 'y')]
    pub yes: bool,

    /// Atlas's limit of people per organization, pending invitations included: a run that
    /// would go past it refuses before sending. Raise it only if MongoDB raised yours.
    #[arg(long, value_name = "N", default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_org_users: u64,

    /// Atlas's limit of people per team, checked like --max-org-users.
    #[arg(long, value_name = "N", default_value_t = 250, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_team_users: u64,

    /// Run against the built-in simulator (realistic latency, some 500s, a rate limit); no
    /// credentials needed [journal default: simulate-<orgId>.db, next to the real ones].
    #[arg(long)]
    pub simulate: bool,

    /// Send envelope=true and read each answer's status from its body, for proxies that hide
    /// status codes.
    #[arg(long)]
    pub envelope: bool,

    /// Print no progress and no text summary.
    #[arg(long, short)]
    pub quiet: bool,

    /// Write one JSON line per row result and per rate-limit pause to FILE (`-` for stdout) as
    /// the journal commits them: a stream for CI jobs and dashboards.
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,

    /// Format of the final summary.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Set by `apply`: the digest of the reviewed plan, which the run must match exactly.
    #[arg(skip)]
    pub expected_plan: Option<String>,
}

/// How requests are sent: by `run` (and `plan`, `apply`) and `revoke`.
#[derive(Debug, Clone, Args)]
pub struct SendArgs {
    /// Requests in flight at once (1 to 1024).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: u16,

    /// Request rate shared by all workers. `auto` paces like Atlas's token bucket for the
    /// endpoint, as GET /rateLimits declares it or as Atlas's answers state it, starting from
    /// 1/s (20/s with --simulate) when Atlas declares nothing. A rate like 10/s, 600/min or
    /// 5/6s is an upper bound that is never exceeded (from 1/h to 100000/s).
    #[arg(long, value_name = "auto|N/s|N/min", default_value = "auto")]
    pub rate: RateSetting,

    /// Requests per row at most, the first one included.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub max_attempts: u32,

    /// Longest wait between two attempts of one row (0 to 1h).
    #[arg(long, default_value = "60s", value_parser = parse_backoff, value_name = "DURATION")]
    pub max_backoff: Duration,

    /// Limit of one request, from connecting to the end of the answer (100ms to 1h).
    #[arg(long, default_value = "30s", value_parser = parse_timeout, value_name = "DURATION")]
    pub timeout: Duration,
}

/// `atlas-invite plan`.
#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    /// Write the plan (JSON) to FILE, for `atlas-invite apply FILE`; owner-only.
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,

    #[command(flatten)]
    pub run: RunArgs,
}

/// `atlas-invite apply`.
#[derive(Debug, Clone, Args)]
pub struct ApplyArgs {
    /// A plan written by `atlas-invite plan --out`.
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,

    /// Answer yes to the confirmation asked before removing anybody or granting ORG_OWNER.
    #[arg(long, short = 'y')]
    pub yes: bool,

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

    /// Limit of the check request (100ms to 1h).
    #[arg(long, default_value = "30s", value_parser = parse_timeout, value_name = "DURATION")]
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

    #[command(flatten)]
    pub input: InputArgs,

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

/// `atlas-invite simulate`: the flags of the `atlas-sim` binary, defined once in
/// [`atlas_sim::cli::ServeArgs`] and flattened here, so that both serve alike.
#[cfg(feature = "simulator")]
#[derive(Debug, Clone, Args)]
pub struct SimulateArgs {
    #[command(flatten)]
    pub serve: atlas_sim::cli::ServeArgs,
}

/// `atlas-invite simulate` in a build without the simulator: whatever it is given, it exits 2
/// saying that the build has none, rather than refusing flags it cannot know.
#[cfg(not(feature = "simulator"))]
#[derive(Debug, Clone, Args)]
pub struct SimulateArgs {
    /// The simulator's flags, which this build cannot use.
    #[arg(hide = true, num_args = 0.., trailing_var_arg = true, allow_hyphen_values = true)]
    pub ignored: Vec<String>,
}

/// `atlas-invite report`.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub journal: JournalArgs,

    /// Only this organization.
    #[arg(long, env = "MONGODB_ATLAS_ORG_ID", value_parser = parse_org_id)]
    pub org: Option<String>,

    /// Only people with this status (repeatable, or comma-separated).
    #[arg(long = "status", value_name = "S", value_delimiter = ',', value_parser = parse_status)]
    pub statuses: Vec<InviteStatus>,

    /// Only addresses matching PATTERN, case-insensitively: `*` and `?` are wildcards over the
    /// whole address; without them PATTERN matches anywhere in it.
    #[arg(long, value_name = "PATTERN")]
    pub email: Option<String>,

    /// Only people given ROLE: an organization role (ORG_OWNER, owner, ...) or a project role
    /// (GROUP_READ_ONLY, ...).
    #[arg(long, value_name = "ROLE", value_parser = parse_any_role)]
    pub role: Option<String>,

    /// Only people run ID acted on.
    #[arg(long = "run", value_name = "ID")]
    pub run: Option<i64>,

    /// Only people whose record changed at or after DATE: 2026-11-01, 2026-11-01T09:30:00Z (UTC),
    /// or a duration ago like 7d.
    #[arg(long, value_name = "DATE", value_parser = parse_since)]
    pub since: Option<String>,

    /// Only pending invitations (as of the last `reconcile`) that expire within DURATION, like
    /// 7d (at most 3650d); soonest first.
    #[arg(long, value_name = "DURATION", value_parser = parse_expiring_within)]
    pub expiring_within: Option<Duration>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportCommandFormat::Table)]
    pub format: ReportCommandFormat,

    /// Where to write the report [default: stdout]. Never the journal.
    #[arg(long, short, value_name = "PATH")]
    pub out: Option<PathBuf>,
}

/// `atlas-invite runs`.
#[derive(Debug, Clone, Args)]
pub struct RunsArgs {
    #[command(flatten)]
    pub journal: JournalArgs,

    /// Only this organization.
    #[arg(long, env = "MONGODB_ATLAS_ORG_ID", value_parser = parse_org_id)]
    pub org: Option<String>,

    /// Only the N most recent runs.
    #[arg(long, value_name = "N")]
    pub last: Option<u32>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
}

/// `atlas-invite history`.
#[derive(Debug, Clone, Args)]
pub struct HistoryArgs {
    /// The person's email address (any case).
    #[arg(value_name = "EMAIL")]
    pub email: String,

    #[command(flatten)]
    pub journal: JournalArgs,

    /// Only this organization.
    #[arg(long, env = "MONGODB_ATLAS_ORG_ID", value_parser = parse_org_id)]
    pub org: Option<String>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
}

/// `atlas-invite export`.
#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// The CSV file that was (or will be) given to `run`.
    #[arg(value_name = "CSV")]
    pub csv: PathBuf,

    /// Where to write the results file [default: stdout].
    #[arg(long, short, value_name = "PATH")]
    pub out: Option<PathBuf>,

    /// Write only the rows whose person is not done, with the file's own columns only, ready to
    /// be given back to `run`.
    #[arg(long)]
    pub failed_only: bool,

    // How the file is read: the options given to `run`, so that the same rows are read.
    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub journal: JournalArgs,

    /// Organization whose outcomes to look up [default: the journal's only one].
    #[arg(long, env = "MONGODB_ATLAS_ORG_ID", value_parser = parse_org_id)]
    pub org: Option<String>,
}

/// `atlas-invite reconcile`.
#[derive(Debug, Clone, Args)]
pub struct ReconcileArgs {
    #[command(flatten)]
    pub atlas: AtlasArgs,

    #[command(flatten)]
    pub journal: JournalArgs,

    /// Limit of one request, from connecting to the end of the answer (100ms to 1h).
    #[arg(long, default_value = "30s", value_parser = parse_timeout, value_name = "DURATION")]
    pub timeout: Duration,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

const PLAN_HELP: &str = "\
`plan` takes every option of `run` and reads the file, the journal (and, for team or project
names, Atlas) without sending or writing anything. It prints one line per person it would act
on, and with --out writes the plan: the actions, the file's SHA-256, the journal's state and
the options. `apply PLAN` refuses (exit 2, nothing sent) when any of them changed since, and
otherwise runs exactly those actions.";

const REVOKE_HELP: &str = concat!(
    credentials_help!(),
    "

Only people this journal invited (status invited) are selected, by every criterion given.
Each is looked up first: a pending invitation (or pending user) is cancelled; a person who
accepted is a member and is left alone, and listed, unless --remove-active; the organization's
last ORG_OWNER is never removed. A 404 on delete means it is gone already. Rerunning finishes
what an interrupted revoke left. Without a terminal to ask, --yes is required.

Exit codes: 0 done (or nothing selected), 1 some failed, 2 usage or nothing confirmed,
3 aborted (refused credentials, interruption)."
);

/// `atlas-invite revoke`.
#[derive(Debug, Clone, Args)]
#[command(group(clap::ArgGroup::new("selection").required(true).multiple(true)))]
pub struct RevokeArgs {
    /// The people whose invitation run ID created (`atlas-invite runs` lists the ids).
    #[arg(long, value_name = "ID", group = "selection")]
    pub run: Option<i64>,

    /// These people (repeat, or separate with commas).
    #[arg(long, value_name = "EMAIL", value_delimiter = ',', group = "selection")]
    pub email: Vec<String>,

    /// The people invited with this organization role, like ORG_OWNER.
    #[arg(long, value_name = "ROLE", value_parser = parse_org_role, group = "selection")]
    pub role: Option<String>,

    /// The people for whom this SQL condition on the journal's `invites` columns holds, like
    /// "invited_at >= '2026-11-01' AND csv_line > 100" (read only; see README's journal).
    #[arg(long = "where", value_name = "SQL", group = "selection")]
    pub where_sql: Option<String>,

    /// Also remove the people who accepted (members now), instead of leaving them alone.
    #[arg(long)]
    pub remove_active: bool,

    /// List who would be revoked; send nothing and write nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Answer yes to the confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,

    #[command(flatten)]
    pub atlas: AtlasArgs,

    #[command(flatten)]
    pub journal: JournalArgs,

    #[command(flatten)]
    pub send: SendArgs,

    /// Print no progress and no text summary.
    #[arg(long, short)]
    pub quiet: bool,

    /// Format of the final summary.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// An organization role's wire name, checked against the contract's enum.
fn parse_org_role(text: &str) -> Result<String, String> {
    let role = text.trim().to_ascii_uppercase();
    crate::atlas::model::OrgRole::parse(&role)
        .map(|r| r.as_str().to_owned())
        .ok_or_else(|| {
            let known: Vec<&str> = crate::atlas::model::OrgRole::ALL
                .iter()
                .map(|r| r.as_str())
                .collect();
            format!(
                "unknown organization role {text:?}; one of {}",
                known.join(", ")
            )
        })
}

/// `atlas-invite completions`.
#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

/// `atlas-invite man`.
#[derive(Debug, Clone, Args)]
pub struct ManArgs {
    /// The page of this command (run, validate, ...) [default: the overview page, atlas-invite(1)].
    #[arg(value_name = "COMMAND", conflicts_with = "out")]
    pub command: Option<String>,

    /// Write every page (atlas-invite.1, atlas-invite-run.1, ...) into DIR, created if missing,
    /// instead of printing one.
    #[arg(long, short, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// A duration option's value, checked against its documented range at parsing, so that an
/// absurd value is a usage error (exit 2) before any journal is opened or request sent, not an
/// overflow or a request that can never finish.
fn duration_within(text: &str, min: Duration, max: Duration) -> Result<Duration, String> {
    let value = parse_duration(text)?;
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

const HOUR: Duration = Duration::from_secs(3600);

/// `--timeout`: below 100ms not even a local TLS handshake completes.
fn parse_timeout(text: &str) -> Result<Duration, String> {
    duration_within(text, Duration::from_millis(100), HOUR)
}

/// `--max-backoff`: 0 retries at once (still paced by `--rate`).
fn parse_backoff(text: &str) -> Result<Duration, String> {
    duration_within(text, Duration::ZERO, HOUR)
}

/// `report --expiring-within`: Atlas invitations last 30 days; ten years is already absurd.
fn parse_expiring_within(text: &str) -> Result<Duration, String> {
    duration_within(text, Duration::ZERO, 3650 * 24 * HOUR)
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

fn parse_status(text: &str) -> Result<InviteStatus, String> {
    let norm = text.trim().to_ascii_lowercase().replace('-', "_");
    InviteStatus::parse(&norm).ok_or_else(|| {
        let names: Vec<&str> = InviteStatus::ALL.iter().map(|s| s.as_str()).collect();
        format!(
            "unknown status {text:?}: expected one of {}",
            names.join(", ")
        )
    })
}

/// An organization role as `--default-role` reads it, or a project role; canonical upper case.
fn parse_any_role(text: &str) -> Result<String, String> {
    OrgRole::parse(text)
        .map(|r| r.as_str().to_owned())
        .or_else(|| parse_group_role(text))
        .ok_or_else(|| {
            let names: Vec<&str> = OrgRole::ALL.iter().map(|r| r.as_str()).collect();
            format!(
                "unknown role {text:?}: expected an organization role ({}) or a project role \
                 (GROUP_READ_ONLY, GROUP_OWNER, ...)",
                names.join(", ")
            )
        })
}

/// `--since`: a UTC date or time, or a duration ago; as a journal timestamp, which compares as
/// text with the journal's own.
fn parse_since(text: &str) -> Result<String, String> {
    let t = text.trim();
    let is_date = t.len() == 10 && t.as_bytes()[4] == b'-' && t.as_bytes()[7] == b'-';
    let time = if is_date {
        humantime::parse_rfc3339(&format!("{t}T00:00:00Z")).ok()
    } else {
        humantime::parse_rfc3339_weak(t.trim_end_matches(['Z', 'z'])).ok()
    };
    let time = time.or_else(|| {
        let ago = humantime::parse_duration(t).ok()?;
        std::time::SystemTime::now().checked_sub(ago)
    });
    time.map(rfc3339).ok_or_else(|| {
        format!(
            "invalid date {text:?}: write it like 2026-11-01, 2026-11-01T09:30:00Z (UTC) or 7d \
             (that long ago)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::Rate;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn help_names_every_credential_variable_the_tool_reads() {
        use crate::atlas::auth::{
            ACCESS_TOKEN_VAR, CLIENT_ID_VAR, CLIENT_SECRET_VAR, PRIVATE_KEY_VARS, PUBLIC_KEY_VARS,
        };
        let vars = [ACCESS_TOKEN_VAR, CLIENT_ID_VAR, CLIENT_SECRET_VAR]
            .into_iter()
            .chain(PUBLIC_KEY_VARS)
            .chain(PRIVATE_KEY_VARS);
        for var in vars {
            // Followed by a blank, a comma or the end: MONGODB_ATLAS_PUBLIC_KEY must be named
            // on its own, not found inside MONGODB_ATLAS_PUBLIC_KEY_…
            let named = |help: &str| {
                help.match_indices(var).any(|(at, _)| {
                    !help[at + var.len()..].starts_with(|c: char| c == '_' || c.is_alphanumeric())
                })
            };
            assert!(named(RUN_HELP), "run --help lacks {var}");
            assert!(
                named(CREDENTIALS_HELP),
                "doctor/reconcile --help lack {var}"
            );
        }
        let mut cli = Cli::command();
        for name in ["run", "doctor", "reconcile"] {
            let help = cli
                .find_subcommand_mut(name)
                .unwrap()
                .render_long_help()
                .to_string();
            assert!(
                help.contains("MONGODB_ATLAS_CLIENT_SECRET"),
                "{name}: {help}"
            );
        }
    }

    #[test]
    fn the_org_option_says_what_each_command_does_with_it() {
        let mut cli = Cli::command();
        let mut org_help = |name: &str| {
            cli.find_subcommand_mut(name)
                .unwrap()
                .render_help()
                .to_string()
        };
        assert!(org_help("run").contains("Organization to invite into"));
        let reconcile = org_help("reconcile");
        assert!(!reconcile.contains("invite into"), "{reconcile}");
        assert!(
            reconcile.contains("members and invitations to read"),
            "{reconcile}"
        );
        assert!(!org_help("doctor").contains("invite into"));
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
        assert_eq!(args.send.concurrency, 4);
        assert_eq!(args.send.max_attempts, 8);
        assert_eq!(args.send.max_backoff, Duration::from_secs(60));
        assert_eq!(args.send.timeout, Duration::from_secs(30));
        assert_eq!(args.input.default_role, OrgRole::OrgMember);
        assert_eq!(args.atlas.api, ApiArg::Users);
        assert_eq!(args.send.rate, RateSetting::Auto);
    }

    #[test]
    fn rates_out_of_range_are_usage_errors() {
        let parse = |rate: &str| {
            Cli::try_parse_from(["atlas-invite", "run", "x.csv", "--rate", rate]).map(|cli| {
                let Command::Run(args) = cli.command else {
                    panic!("not run");
                };
                args.send.rate
            })
        };
        for bad in ["1e10/s", "0/s", "1/day", "0.1/h"] {
            let err = parse(bad).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad}");
        }
        assert!(
            parse("1e10/s")
                .unwrap_err()
                .to_string()
                .contains("100000/s")
        );
        assert_eq!(parse("AUTO").unwrap(), RateSetting::Auto);
        assert_eq!(
            parse("5/6s").unwrap(),
            RateSetting::Max(Rate::per_second(5.0 / 6.0))
        );
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

    #[test]
    fn report_filters_parse_and_repeat() {
        let cli = Cli::try_parse_from([
            "atlas-invite",
            "report",
            "--status",
            "failed",
            "--status",
            "In-Flight,invalid",
            "--role",
            "billing admin",
            "--since",
            "2026-11-01",
        ])
        .unwrap();
        let Command::Report(args) = cli.command else {
            panic!("not report");
        };
        assert_eq!(
            args.statuses,
            vec![
                InviteStatus::Failed,
                InviteStatus::InFlight,
                InviteStatus::Invalid
            ]
        );
        assert_eq!(args.role.as_deref(), Some("ORG_BILLING_ADMIN"));
        assert_eq!(args.since.as_deref(), Some("2026-11-01T00:00:00.000Z"));
        assert_eq!(args.format, ReportCommandFormat::Table);
        assert_eq!(
            parse_any_role("group read only").unwrap(),
            "GROUP_READ_ONLY"
        );
    }

    #[test]
    fn out_of_range_numbers_and_durations_are_usage_errors() {
        let run = |extra: &[&str]| {
            let mut argv = vec!["atlas-invite", "run", "x.csv"];
            argv.extend_from_slice(extra);
            Cli::try_parse_from(argv)
        };
        for bad in [
            &["--concurrency", "0"][..],
            &["--concurrency", "1025"],
            &["--concurrency", "99999999999"],
            &["--timeout", "0s"],
            &["--timeout", "10000000000s"],
            &["--timeout", "99999999999999999999999s"],
            &["--max-backoff", "2h"],
        ] {
            let err = run(bad).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad:?}");
        }
        let err = run(&["--timeout", "0s"]).unwrap_err().to_string();
        assert!(err.contains("from 100ms to 1h"), "{err}");
        assert!(
            run(&[
                "--timeout",
                "1h",
                "--max-backoff",
                "0s",
                "--concurrency",
                "1024"
            ])
            .is_ok()
        );
        let report = |within: &str| {
            Cli::try_parse_from(["atlas-invite", "report", "--expiring-within", within])
        };
        assert!(report("7d").is_ok());
        assert!(report("100000000000d").is_err());
    }

    #[test]
    fn since_accepts_dates_times_and_durations_ago() {
        assert_eq!(
            parse_since("2026-11-01T09:30:00Z").unwrap(),
            "2026-11-01T09:30:00.000Z"
        );
        assert_eq!(
            parse_since("2026-11-01 09:30:00").unwrap(),
            "2026-11-01T09:30:00.000Z"
        );
        assert!(parse_since("7d").unwrap() < crate::util::now_rfc3339());
        assert!(parse_since("next week").unwrap_err().contains("2026-11-01"));
        assert!(parse_status("sent").unwrap_err().contains("already_member"));
    }
}
