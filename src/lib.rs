//! atlas-invite: invite a CSV of people to a MongoDB Atlas organization through a rate-limited,
//! retrying, resumable pipeline whose every outcome is journaled in SQLite.
//!
//! Modules, each owning one thing:
//! - [`cli`]: the command line as typed (clap), with defaults and help.
//! - [`commands`]: one module per subcommand, wiring the others together.
//! - [`roster`]: CSV parsing and row-precise validation into [`roster::Invitee`]s.
//! - [`atlas`]: wire types, credentials (from the environment or an Atlas CLI profile) and the
//!   HTTP client for the Atlas Administration API.
//! - [`plan`]: the one decision of what a run does with a person, for `run` and `--dry-run`.
//! - [`pipeline`]: concurrent, rate-limited, retrying sending; reports [`pipeline::events`].
//! - [`journal`]: the SQLite journal, its migrations, and the recorder that commits events.
//! - [`event_log`]: `run --events`, the committed results as JSON lines.
//! - [`progress`] and [`summary`]: what people and scripts see, built from committed events.
//! - [`retry`]: the one retry policy and backoff, and the retry loop for reads.
//! - [`report`]: audit listings of the journal as tables, safe CSV, JSON and JSON Lines.
//! - `simulator` (with the default `simulator` feature): the `atlas-sim` crate, a stateful,
//!   fault-injecting Atlas server for tests and demonstrations, re-exported.
//! - [`vocab`]: the words every layer shares (statuses), depending on none of them.
//! - [`exit`]: the documented exit codes.
//! - [`terminal`]: text from outside made safe to print, and stdout writes that survive a closed
//!   pipe.

pub mod atlas;
pub mod cli;
pub mod commands;
pub mod event_log;
pub mod exit;
pub mod journal;
pub mod pipeline;
pub mod plan;
pub mod progress;
pub mod report;
pub mod retry;
pub mod roster;
pub mod summary;
pub mod terminal;
pub mod util;
pub mod vocab;

/// The built-in Atlas simulator (`crates/atlas-sim`), for `simulate` and `run --simulate`.
#[cfg(feature = "simulator")]
pub use atlas_sim as simulator;

use exit::Failure;

/// Runs a parsed command line and returns the process exit code, printing any error.
pub async fn run(cli: cli::Cli) -> i32 {
    match commands::dispatch(cli).await {
        Ok(code) => code,
        Err(Failure { code, error }) => {
            eprintln!("error: {}", terminal::safe_lines(&format!("{error:#}")));
            code
        }
    }
}
