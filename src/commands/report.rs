//! `atlas-invite report`: one row per person from the journal, filtered, in any
//! [`ReportFormat`] or as one HTML page; and the journal opening and printing that `runs`,
//! `history` and `export` share with it.

use std::collections::HashSet;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::Path;
use std::time::SystemTime;

use anyhow::anyhow;

use crate::cli::ReportArgs;
use crate::exit::{Failure, SUCCESS};
use crate::journal::{InviteFilter, InviteReport, Journal};
use crate::report::html::{Page, render_page};
use crate::report::{Record, ReportFormat, render};
use crate::util::rfc3339;

pub(super) fn report(args: &ReportArgs) -> Result<i32, Failure> {
    let path = super::journal_path::for_reading(&args.journal, args.org.as_deref())?;
    if let Some(out) = &args.out {
        super::refuse_journal_file("--out", out, &path)?;
    }
    let journal = open_journal(&path)?;
    let now = SystemTime::now();
    let filter = InviteFilter {
        org_id: args.org.clone(),
        statuses: args.statuses.clone(),
        email: args.email.clone(),
        role: args.role.clone(),
        run_id: args.run,
        since: args.since.clone(),
        expiring_before: args.expiring_within.map(|within| rfc3339(now + within)),
    };
    let rows = journal.invite_report(&filter).map_err(Failure::usage)?;
    let last_reconcile = if args.expiring_within.is_some() || args.format.listing().is_none() {
        journal
            .last_reconcile(args.org.as_deref())
            .map_err(Failure::usage)?
    } else {
        None
    };
    if args.expiring_within.is_some() {
        // Expiry is only known from an observation of Atlas; say how old it is, or that there
        // is none, rather than let an empty list read as "nothing expires".
        match &last_reconcile {
            Some(at) => eprintln!("membership as of the last reconcile, {at}"),
            None => eprintln!(
                "no reconcile recorded yet: run `atlas-invite reconcile --org ORG_ID` to learn \
                 which invitations are pending and when they expire"
            ),
        }
    }
    let Some(format) = args.format.listing() else {
        let page = html_page(args, &journal, &filter, &rows, last_reconcile, now)?;
        return write_out(args.out.as_deref(), page.as_bytes(), rows.len());
    };
    if rows.is_empty() && format == ReportFormat::Table {
        eprintln!("no invites match in journal {}", journal.path().display());
    }
    match &args.out {
        None => print(&rows, format)?,
        Some(out) => {
            let mut text = Vec::new();
            render(&rows, format, &mut text)
                .map_err(|e| Failure::usage(anyhow!("failed to write the report: {e}")))?;
            write_out(Some(out), &text, rows.len())?;
        }
    }
    Ok(SUCCESS)
}

/// The page of `report --format html`: the people `rows` (already filtered), the runs that
/// acted on them with every request those runs made, and the filters, to be named on the page.
fn html_page(
    args: &ReportArgs,
    journal: &Journal,
    filter: &InviteFilter,
    rows: &[InviteReport],
    last_reconcile: Option<String>,
    now: SystemTime,
) -> Result<String, Failure> {
    let mut runs = journal
        .run_report(args.org.as_deref(), None)
        .map_err(Failure::usage)?;
    if let Some(id) = args.run {
        runs.retain(|r| r.id == id);
    }
    let attempts = journal
        .timeline_attempts(args.org.as_deref(), args.run)
        .map_err(Failure::usage)?;
    // Beyond --org and --run, a filter keeps people out: then only the runs that acted on one
    // of the people listed are drawn, and their bars count only those people's requests.
    let people_filtered = filter.run_id.is_some()
        || !filter.statuses.is_empty()
        || filter.email.is_some()
        || filter.role.is_some()
        || filter.since.is_some()
        || filter.expiring_before.is_some();
    if people_filtered {
        let listed: HashSet<(&str, &str)> = rows
            .iter()
            .map(|p| (p.org_id.as_str(), p.email_key.as_str()))
            .collect();
        let acted: HashSet<i64> = attempts
            .iter()
            .filter(|a| listed.contains(&(a.org_id.as_str(), a.email_key.as_str())))
            .map(|a| a.run_id)
            .chain(
                rows.iter()
                    .flat_map(|p| [p.first_run_id, p.last_run_id])
                    .flatten(),
            )
            .collect();
        runs.retain(|r| acted.contains(&r.id) || args.run == Some(r.id));
    }
    let shown: HashSet<i64> = runs.iter().map(|r| r.id).collect();
    let attempts: Vec<_> = attempts
        .into_iter()
        .filter(|a| shown.contains(&a.run_id))
        .collect();
    let page = Page {
        now,
        journal: journal.path().display().to_string(),
        filters: given_filters(args),
        people: rows,
        runs: &runs,
        attempts: &attempts,
        people_filtered,
        last_reconcile,
    };
    Ok(render_page(&page))
}

/// The filters of the command line, as the page names them.
fn given_filters(args: &ReportArgs) -> Vec<(String, String)> {
    let mut given = Vec::new();
    let mut add = |option: &str, value: Option<String>| {
        if let Some(value) = value {
            given.push((option.to_owned(), value));
        }
    };
    add("--org", args.org.clone());
    add(
        "--status",
        (!args.statuses.is_empty()).then(|| {
            args.statuses
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(",")
        }),
    );
    add("--email", args.email.clone());
    add("--role", args.role.clone());
    add("--run", args.run.map(|r| r.to_string()));
    add("--since", args.since.clone());
    add(
        "--expiring-within",
        args.expiring_within
            .map(|d| humantime::format_duration(d).to_string()),
    );
    given
}

/// Writes `bytes` to `out`, or to stdout when there is none. A new file is readable by its owner
/// only, like the journal and `export`'s file: it names people and what happened to their
/// access. A closed pipe ends stdout quietly.
fn write_out(out: Option<&Path>, bytes: &[u8], people: usize) -> Result<i32, Failure> {
    let Some(path) = out else {
        let mut stdout = io::stdout().lock();
        return match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
            Ok(()) => Ok(SUCCESS),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(SUCCESS),
            Err(e) => Err(Failure::usage(anyhow!("failed to write the report: {e}"))),
        };
    };
    let shown = crate::terminal::safe(&path.display().to_string()).into_owned();
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .and_then(|mut file| file.write_all(bytes).and_then(|()| file.flush()))
        .map_err(|e| {
            Failure::usage(anyhow!(
                "failed to write the report to {shown}: {e}; check that its directory exists \
                 and is writable, or pass another --out"
            ))
        })?;
    eprintln!(
        "wrote {people} {} to {shown}",
        if people == 1 { "person" } else { "people" }
    );
    Ok(SUCCESS)
}

/// Opens an existing journal for an audit command, found by
/// [`for_reading`](super::journal_path::for_reading). These never create a journal, and read
/// the views of the newest migration, so an older journal is upgraded first, as `run` would.
pub(super) fn open_journal(path: &Path) -> Result<Journal, Failure> {
    let journal = Journal::open_read_only(path)
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
    Journal::open(path).map_err(|e| {
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
