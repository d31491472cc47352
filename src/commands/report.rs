//! `atlas-invite report`: one row per person from the journal, filtered, in any
//! [`ReportFormat`]; and the journal opening and printing that `runs`, `history` and `export`
//! share with it.

use std::io::{self, Write};
use std::time::SystemTime;

use anyhow::anyhow;

use super::DEFAULT_JOURNAL;
use crate::cli::{JournalArgs, ReportArgs};
use crate::exit::{Failure, SUCCESS};
use crate::journal::{InviteFilter, Journal};
use crate::report::{Record, ReportFormat, render};
use crate::util::rfc3339;

pub(super) fn report(args: &ReportArgs) -> Result<i32, Failure> {
    let journal = open_journal(&args.journal)?;
    let filter = InviteFilter {
        org_id: args.org.clone(),
        statuses: args.statuses.clone(),
        email: args.email.clone(),
        role: args.role.clone(),
        run_id: args.run,
        since: args.since.clone(),
        expiring_before: args
            .expiring_within
            .map(|within| rfc3339(SystemTime::now() + within)),
    };
    let rows = journal.invite_report(&filter).map_err(Failure::usage)?;
    if args.expiring_within.is_some() {
        // Expiry is only known from an observation of Atlas; say how old it is, or that there
        // is none, rather than let an empty list read as "nothing expires".
        match journal
            .last_reconcile(args.org.as_deref())
            .map_err(Failure::usage)?
        {
            Some(at) => eprintln!("membership as of the last reconcile, {at}"),
            None => eprintln!(
                "no reconcile recorded yet: run `atlas-invite reconcile --org ORG_ID` to learn \
                 which invitations are pending and when they expire"
            ),
        }
    }
    if rows.is_empty() && args.format == ReportFormat::Table {
        eprintln!("no invites match in journal {}", journal.path().display());
    }
    print(&rows, args.format)?;
    Ok(SUCCESS)
}

/// Opens an existing journal for an audit command. These never create a journal, and read the
/// views of the newest migration, so an older journal is upgraded first, as `run` would.
pub(super) fn open_journal(args: &JournalArgs) -> Result<Journal, Failure> {
    let path = args.path_or(DEFAULT_JOURNAL);
    let journal = Journal::open_read_only(&path)
        .map_err(Failure::usage)?
        .ok_or_else(|| {
            Failure::usage(anyhow!(
                "no journal at {}: run `atlas-invite run` first, or pass --journal",
                path.display()
            ))
        })?;
    if !journal.is_outdated().map_err(Failure::usage)? {
        return Ok(journal);
    }
    drop(journal);
    Journal::open(&path).map_err(|e| {
        Failure::usage(anyhow!(e).context(format!(
            "journal {} has an older schema and could not be upgraded; make it writable, or \
             work on a writable copy",
            path.display()
        )))
    })
}

/// Writes `rows` to stdout. A closed pipe (`report | head`) ends the output quietly.
pub(super) fn print<R: Record>(rows: &[R], format: ReportFormat) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    match render(rows, format, &mut out).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::usage(anyhow!("failed to write the report: {e}"))),
    }
}
