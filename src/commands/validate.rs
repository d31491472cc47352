//! `atlas-invite validate`: the run's parsing and validation, with a per-row report of the grants
//! each row gets and where they came from; no network and no journal. Teams and projects
//! written by name are shown as names: `run` (and `run --dry-run`) resolves them.

use std::io::Write as _;

use serde::Serialize;

use crate::atlas::model::{GroupRoleAssignment, OrgRole};
use crate::cli::{Format, ValidateArgs};
use crate::exit::{Failure, INCOMPLETE, SUCCESS};
use crate::roster::{self, Invitee, Names, Roster, Sources};

pub(super) fn validate(args: &ValidateArgs) -> Result<i32, Failure> {
    let options = args.input.roster_options()?;
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

/// The grants of a row in one short phrase: `ORG_MEMBER, ORG_OWNER; teams 2; projects 1`, with
/// the names still to resolve: `; teams 1 + "Platform"; projects "Prod":GROUP_OWNER`.
pub(crate) fn grants(invitee: &Invitee) -> String {
    let roles: Vec<&str> = invitee.roles.iter().map(|r| r.as_str()).collect();
    let mut text = roles.join(", ");
    if invitee.roles_defaulted {
        text.push_str(" (default)");
    }
    let names = invitee.names.as_deref();
    let team_names: Vec<String> = names
        .map(|n| n.teams.iter().map(|t| format!("{:?}", &*t.name)).collect())
        .unwrap_or_default();
    if !invitee.team_ids.is_empty() || !team_names.is_empty() {
        let mut parts = Vec::new();
        if !invitee.team_ids.is_empty() {
            parts.push(invitee.team_ids.len().to_string());
        }
        parts.extend(team_names);
        text.push_str(&format!("; teams {}", parts.join(" + ")));
    }
    let mut projects: Vec<String> = invitee
        .projects
        .iter()
        .map(|p| format!("{}:{}", p.group_id, p.roles.join("+")))
        .collect();
    if let Some(names) = names {
        projects.extend(
            names
                .projects
                .iter()
                .map(|p| format!("{:?}:{}", &*p.name, p.roles.join("+"))),
        );
    }
    if !projects.is_empty() {
        text.push_str(&format!("; projects {}", projects.join(" ")));
    }
    if names.is_some() {
        text.push_str(" (names resolved at run time)");
    }
    text
}

/// Where the grants came from: `column "Role" + rule 1 (Department = Engineering)`.
fn sources(invitee: &Invitee) -> String {
    invitee.sources.join(" + ")
}

fn write_text(out: &mut impl std::io::Write, roster: &Roster, quiet: bool) -> std::io::Result<()> {
    // Each list is in file order; merging them as they are written keeps the report in file
    // order without holding a million formatted lines in memory.
    let valid: &[Invitee] = if quiet { &[] } else { &roster.invitees };
    let (mut v, mut i, mut d) = (
        valid.iter().peekable(),
        roster.invalid.iter().peekable(),
        roster.duplicates.iter().peekable(),
    );
    loop {
        let next_valid = v.peek().map_or(u64::MAX, |r| r.line);
        let next_invalid = i.peek().map_or(u64::MAX, |r| r.line);
        let next_duplicate = d.peek().map_or(u64::MAX, |r| r.line);
        let first = next_valid.min(next_invalid).min(next_duplicate);
        if first == u64::MAX {
            break;
        }
        if first == next_invalid
            && let Some(bad) = i.next()
        {
            let email = bad.email.as_deref().unwrap_or("(no email)");
            writeln!(
                out,
                "line {:>5}  invalid    {}  {}",
                bad.line,
                email,
                bad.reason()
            )?;
        } else if first == next_duplicate
            && let Some(dup) = d.next()
        {
            writeln!(
                out,
                "line {:>5}  duplicate  {}  same as line {}, skipped",
                dup.line, dup.email, dup.first_line
            )?;
        } else if let Some(ok) = v.next() {
            writeln!(
                out,
                "line {:>5}  ok         {}  {}  from: {}",
                ok.line,
                ok.email,
                grants(ok),
                sources(ok)
            )?;
        }
    }
    if !quiet {
        let c = &roster.columns;
        let column = |c: &Option<String>| c.as_ref().map_or("-".to_owned(), |c| format!("{c:?}"));
        let delimiter = match roster.delimiter {
            b'\t' => "tab".to_owned(),
            d => format!("{:?}", char::from(d)),
        };
        writeln!(
            out,
            "read as {}, delimiter {delimiter}; columns: email {}, roles {}, teams {}, projects {}",
            roster.encoding.name(),
            column(&c.email),
            column(&c.roles),
            column(&c.teams),
            column(&c.projects)
        )?;
        for rule in &roster.rules {
            let plural = if rule.rows == 1 { "" } else { "s" };
            writeln!(out, "{}: {} row{plural}", rule.label, rule.rows)?;
        }
    }
    if !roster.ignored_columns.is_empty() {
        writeln!(
            out,
            "ignored columns: {}",
            roster.ignored_columns.join(", ")
        )?;
    }
    let named = roster.invitees.iter().filter(|i| i.has_names()).count();
    if named > 0 {
        writeln!(
            out,
            "{named} valid rows name teams or projects: run resolves the names with the \
             organization's lists (an unknown or ambiguous name makes its row invalid)"
        )?;
    }
    write!(
        out,
        "{} rows: {} valid, {} invalid, {} duplicates",
        roster.rows,
        roster.invitees.len(),
        roster.invalid.len(),
        roster.duplicates.len()
    )?;
    if roster.filtered_out > 0 {
        write!(out, " ({} more filtered out)", roster.filtered_out)?;
    }
    writeln!(out)
}

/// One valid row of the JSON report.
#[derive(Serialize)]
struct ValidRow<'a> {
    email: &'a str,
    line: u64,
    /// Teams and projects still named, resolved at run time.
    #[serde(skip_serializing_if = "Option::is_none")]
    names: Option<&'a Names>,
    projects: &'a [GroupRoleAssignment],
    roles: &'a [OrgRole],
    roles_defaulted: bool,
    sources: &'a Sources,
    team_ids: &'a [String],
}

/// Writes the report as one JSON object on one line, row by row, so that a million-row file
/// does not need its whole report in memory.
fn write_json(out: &mut impl std::io::Write, roster: &Roster) -> std::io::Result<()> {
    fn list<T: Serialize>(
        out: &mut impl std::io::Write,
        items: impl IntoIterator<Item = T>,
    ) -> std::io::Result<()> {
        out.write_all(b"[")?;
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            serde_json::to_writer(&mut *out, &item)?;
        }
        out.write_all(b"]")
    }
    fn field(
        out: &mut impl std::io::Write,
        name: &str,
        value: &impl Serialize,
    ) -> std::io::Result<()> {
        write!(out, "\"{name}\":")?;
        serde_json::to_writer(&mut *out, value)?;
        out.write_all(b",")
    }

    out.write_all(b"{")?;
    field(out, "columns", &roster.columns)?;
    field(out, "delimiter", &char::from(roster.delimiter).to_string())?;
    out.write_all(b"\"duplicates\":")?;
    list(
        out,
        roster.duplicates.iter().map(
            |d| serde_json::json!({"line": d.line, "first_line": d.first_line, "email": d.email}),
        ),
    )?;
    out.write_all(b",")?;
    field(out, "encoding", &roster.encoding.name())?;
    field(out, "filtered_out", &roster.filtered_out)?;
    field(out, "ignored_columns", &roster.ignored_columns)?;
    out.write_all(b"\"invalid\":")?;
    list(out, &roster.invalid)?;
    out.write_all(b",")?;
    field(out, "rows", &roster.rows)?;
    field(out, "rules", &roster.rules)?;
    out.write_all(b"\"valid\":")?;
    list(
        out,
        roster.invitees.iter().map(|i| ValidRow {
            email: &i.email,
            line: i.line,
            names: i.names.as_deref(),
            projects: &i.projects,
            roles: &i.roles,
            roles_defaulted: i.roles_defaulted,
            sources: &i.sources,
            team_ids: &i.team_ids,
        }),
    )?;
    out.write_all(b"}\n")
}
