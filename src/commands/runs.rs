//! `atlas-invite runs`: one row per run from the journal (who ran it, where, when, from which
//! file, with what options, and how it ended), oldest first.

use super::report::{open_journal, print};
use crate::cli::RunsArgs;
use crate::exit::{Failure, SUCCESS};
use crate::report::ReportFormat;

pub(super) fn runs(args: &RunsArgs) -> Result<i32, Failure> {
    let path = super::journal_path::for_reading(&args.journal, args.org.as_deref())?;
    let journal = open_journal(&path)?;
    let runs = journal
        .run_report(args.org.as_deref(), args.last)
        .map_err(Failure::usage)?;
    if runs.is_empty() && args.format == ReportFormat::Table {
        eprintln!("no runs recorded in journal {}", journal.path().display());
    }
    print(&runs, args.format)?;
    Ok(SUCCESS)
}
