//! `atlas-invite status`: counts per status and the last runs, read from the journal.

use std::fmt::Write as _;

use serde::Serialize;

use crate::cli::{Format, StatusArgs};
use crate::exit::{Failure, SUCCESS};
use crate::journal::{Journal, RunRecord, StatusCount};

#[derive(Serialize)]
struct StatusReport {
    journal: String,
    statuses: Vec<StatusCount>,
    runs: Vec<RunRecord>,
}

pub(super) fn status(args: &StatusArgs) -> Result<i32, Failure> {
    let path = super::journal_path::for_reading(&args.journal, args.org.as_deref())?;
    let journal = Journal::open_read_only(&path)
        .map_err(Failure::usage)?
        .ok_or_else(|| {
            Failure::usage(anyhow::anyhow!(
                "no journal at {}: run `atlas-invite run` first, or pass --journal",
                path.display()
            ))
        })?;
    let org = args.org.as_deref();
    let report = StatusReport {
        journal: path.display().to_string(),
        statuses: journal.status_counts(org).map_err(Failure::usage)?,
        runs: journal
            .recent_runs(org, args.runs)
            .map_err(Failure::usage)?,
    };
    match args.format {
        Format::Json => crate::outln!(
            "{}",
            serde_json::to_string(&report).map_err(Failure::usage)?
        ),
        Format::Text => crate::out!("{}", crate::terminal::safe_lines(&render(&report))),
    }
    Ok(SUCCESS)
}

fn render(report: &StatusReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Journal {}", report.journal);
    if report.statuses.is_empty() {
        let _ = writeln!(out, "  no invites recorded");
    }
    let mut current_org = "";
    for row in &report.statuses {
        if row.org_id != current_org {
            current_org = &row.org_id;
            let total: i64 = report
                .statuses
                .iter()
                .filter(|r| r.org_id == row.org_id)
                .map(|r| r.count)
                .sum();
            let _ = writeln!(out, "\nOrg {current_org} ({total} people)");
        }
        let _ = writeln!(out, "  {:<16} {:>8}", row.status, row.count);
    }
    if !report.runs.is_empty() {
        let _ = writeln!(out, "\nLast runs");
        let _ = writeln!(
            out,
            "  {:>4}  {:<24}  {:>7} {:>7} {:>6} {:>7} {:>10}  {:>4}  CSV",
            "ID", "STARTED", "INVITED", "SKIPPED", "FAILED", "INVALID", "UNFINISHED", "EXIT"
        );
        for run in &report.runs {
            let exit = run
                .exit_code
                .map(|c| c.to_string())
                .unwrap_or_else(|| "-".into());
            let _ = writeln!(
                out,
                "  {:>4}  {:<24}  {:>7} {:>7} {:>6} {:>7} {:>10}  {:>4}  {}",
                run.id,
                run.started_at,
                run.invited,
                run.skipped,
                run.failed,
                run.rows_invalid,
                run.unfinished,
                exit,
                run.csv_path
            );
        }
    }
    out
}
