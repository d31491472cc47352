//! One module per subcommand; [`dispatch`] picks the one the command line names.

mod doctor;
mod export;
mod history;
mod input;
mod reconcile;
mod report;
mod run;
mod runs;
mod simulate;
mod status;
mod validate;

use std::path::PathBuf;

use crate::cli::{Cli, Command, JournalArgs};
use crate::exit::Failure;

/// Runs the command and returns its exit code.
pub async fn dispatch(cli: Cli) -> Result<i32, Failure> {
    match cli.command {
        Command::Run(args) => run::run(args).await,
        Command::Validate(args) => validate::validate(&args),
        Command::Status(args) => status::status(&args),
        Command::Simulate(args) => simulate::simulate(args).await,
        Command::Doctor(args) => doctor::doctor(&args).await,
        Command::Report(args) => report::report(&args),
        Command::Runs(args) => runs::runs(&args),
        Command::History(args) => history::history(&args),
        Command::Export(args) => export::export(&args),
        Command::Reconcile(args) => reconcile::reconcile(&args).await,
    }
}

/// Default journal file, in the current directory.
pub const DEFAULT_JOURNAL: &str = "atlas-invite.db";

impl JournalArgs {
    /// The journal path, or the default one.
    pub fn path_or(&self, default: &str) -> PathBuf {
        self.journal
            .clone()
            .unwrap_or_else(|| PathBuf::from(default))
    }
}
