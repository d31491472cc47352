//! `atlas-invite validate`: the run's parsing and validation, with a per-row report; no network
//! and no journal.

use std::io::Write as _;

use serde_json::json;

use crate::cli::{Format, ValidateArgs};
use crate::exit::{Failure, INCOMPLETE, SUCCESS};
use crate::roster::{self, Invitee, Roster, RosterOptions};

pub(super) fn validate(args: &ValidateArgs) -> Result<i32, Failure> {
    let options = RosterOptions {
        default_role: args.default_role,
        ..RosterOptions::default()
    };
    let roster = roster::load(&args.csv, &options).map_err(Failure::usage)?;
    let code = if roster.invalid.is_empty() {
        SUCCESS
    } else {
        INCOMPLETE
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let written = match args.format {
        Format::Text => write_text(&mut out, &roster, args.quiet),
        Format::Json => write_json(&mut out, &roster),
    };
    // A closed pipe (`| head`) is not an error worth reporting.
    if let Err(e) = written.and_then(|()| out.flush())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        return Err(Failure::usage(e));
    }
    Ok(code)
}

/// The grants of a row in one short phrase: `ORG_MEMBER, ORG_OWNER; teams 2; projects 1`.
pub(crate) fn grants(invitee: &Invitee) -> String {
    let roles: Vec<&str> = invitee.roles.iter().map(|r| r.as_str()).collect();
    let mut text = roles.join(", ");
    if invitee.roles_defaulted {
        text.push_str(" (default)");
    }
    if !invitee.team_ids.is_empty() {
        text.push_str(&format!("; teams {}", invitee.team_ids.len()));
    }
    if !invitee.projects.is_empty() {
        let projects: Vec<String> = invitee
            .projects
            .iter()
            .map(|p| format!("{}:{}", p.group_id, p.roles.join("+")))
            .collect();
        text.push_str(&format!("; projects {}", projects.join(" ")));
    }
    text
}

fn write_text(out: &mut impl std::io::Write, roster: &Roster, quiet: bool) -> std::io::Result<()> {
    // Rows come back in file order within each list; merge them for a report in file order.
    let mut lines: Vec<(u64, String)> = Vec::new();
    if !quiet {
        for i in &roster.invitees {
            lines.push((
                i.line,
                format!("line {:>5}  ok         {}  {}", i.line, i.email, grants(i)),
            ));
        }
    }
    for bad in &roster.invalid {
        let email = bad.email.as_deref().unwrap_or("(no email)");
        lines.push((
            bad.line,
            format!(
                "line {:>5}  invalid    {}  {}",
                bad.line,
                email,
                bad.reason()
            ),
        ));
    }
    for dup in &roster.duplicates {
        lines.push((
            dup.line,
            format!(
                "line {:>5}  duplicate  {}  same as line {}, skipped",
                dup.line, dup.email, dup.first_line
            ),
        ));
    }
    lines.sort_by_key(|(line, _)| *line);
    for (_, line) in &lines {
        writeln!(out, "{line}")?;
    }
    if !roster.ignored_columns.is_empty() {
        writeln!(
            out,
            "ignored columns: {}",
            roster.ignored_columns.join(", ")
        )?;
    }
    writeln!(
        out,
        "{} rows: {} valid, {} invalid, {} duplicates",
        roster.rows,
        roster.invitees.len(),
        roster.invalid.len(),
        roster.duplicates.len()
    )
}

fn write_json(out: &mut impl std::io::Write, roster: &Roster) -> std::io::Result<()> {
    let valid: Vec<_> = roster
        .invitees
        .iter()
        .map(|i| {
            json!({
                "line": i.line,
                "email": i.email,
                "roles": i.roles,
                "roles_defaulted": i.roles_defaulted,
                "team_ids": i.team_ids,
                "projects": i.projects,
            })
        })
        .collect();
    let invalid: Vec<_> = roster
        .invalid
        .iter()
        .map(|r| {
            json!({
                "line": r.line,
                "email": r.email,
                "problems": r.problems.iter().map(|p| json!({
                    "column": p.column, "value": p.value, "message": p.message,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let duplicates: Vec<_> = roster
        .duplicates
        .iter()
        .map(|d| json!({"line": d.line, "first_line": d.first_line, "email": d.email}))
        .collect();
    let report = json!({
        "rows": roster.rows,
        "valid": valid,
        "invalid": invalid,
        "duplicates": duplicates,
        "ignored_columns": roster.ignored_columns,
    });
    writeln!(out, "{report}")
}
