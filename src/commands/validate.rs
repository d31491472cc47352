//! `atlas-invite validate`: the run's parsing and validation, with a per-row report of the grants
//! each row gets and where they came from; no network and no journal. Teams and projects
//! written by name are shown as names: `run` (and `run --dry-run`) resolves them.

use std::io::{self, Write};
use std::ops::ControlFlow;

use serde::Serialize;

use crate::atlas::model::{GroupRoleAssignment, OrgRole};
use crate::cli::{Format, ValidateArgs};
use crate::exit::{Failure, INCOMPLETE, SUCCESS};
use crate::roster::{self, Duplicate, Invitee, Names, RosterSummary, RowOutcome, Sources};
use crate::terminal::safe;

pub(super) fn validate(args: &ValidateArgs) -> Result<i32, Failure> {
    let options = args.input.roster_options()?;
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut report = match args.format {
        Format::Text => Report::Text {
            quiet: args.quiet,
            named: 0,
        },
        Format::Json => Report::Json(JsonReport::default()),
    };
    // Rows are written as they are read, so that a million-row file never has its report (or
    // its rows) in memory. A closed pipe (`| head`) stops the writing, not the reading: the
    // exit code still says whether the whole file is valid.
    let mut written: io::Result<()> = Ok(());
    // With JSON on stdout, the problems are also said on stderr, where a script's log shows
    // them, as `run --format json` does (not with --quiet).
    let diagnose = args.format == Format::Json && !args.quiet;
    let summary = roster::scan(&args.csv, &options, |row| {
        if diagnose {
            match &row {
                RowOutcome::Invalid(bad) => eprintln!("invalid: {}", safe(&bad.to_string())),
                RowOutcome::Duplicate(dup) => eprintln!(
                    "duplicate: line {}: {} already appears on line {}; skipped",
                    dup.line,
                    safe(&dup.email),
                    dup.first_line
                ),
                RowOutcome::Valid(_) => {}
            }
        }
        if written.is_ok() {
            written = report.row(&mut out, row);
        }
        match &written {
            Err(e) if e.kind() != io::ErrorKind::BrokenPipe => ControlFlow::Break(()),
            _ => ControlFlow::Continue(()),
        }
    })
    .map_err(Failure::usage)?;
    let written = written
        .and_then(|()| report.finish(&mut out, &summary))
        .and_then(|()| out.flush());
    if let Err(e) = written
        && e.kind() != io::ErrorKind::BrokenPipe
    {
        return Err(Failure::usage(e));
    }
    Ok(if summary.invalid == 0 {
        SUCCESS
    } else {
        INCOMPLETE
    })
}

/// Where the grants came from: `column "Role" + rule 1 (Department = Engineering)`.
fn sources(invitee: &Invitee) -> String {
    invitee.sources.join(" + ")
}

/// The report being written, row by row.
enum Report {
    Text {
        quiet: bool,
        /// Valid rows that name teams or projects.
        named: usize,
    },
    Json(JsonReport),
}

impl Report {
    fn row(&mut self, out: &mut impl Write, row: RowOutcome) -> io::Result<()> {
        match self {
            Report::Text { quiet, named } => {
                if let RowOutcome::Valid(ok) = &row {
                    *named += usize::from(ok.has_names());
                }
                text_row(out, &row, *quiet)
            }
            Report::Json(json) => json.row(out, &row),
        }
    }

    fn finish(&mut self, out: &mut impl Write, summary: &RosterSummary) -> io::Result<()> {
        match self {
            Report::Text { quiet, named } => text_end(out, summary, *quiet, *named),
            Report::Json(json) => json.finish(out, summary),
        }
    }
}

fn text_row(out: &mut impl Write, row: &RowOutcome, quiet: bool) -> io::Result<()> {
    match row {
        RowOutcome::Valid(_) if quiet => Ok(()),
        RowOutcome::Valid(ok) => writeln!(
            out,
            "line {:>5}  ok         {}  {}  from: {}",
            ok.line,
            safe(&ok.email),
            safe(&ok.grants_text()),
            safe(&sources(ok))
        ),
        RowOutcome::Invalid(bad) => {
            let email = bad.email.as_deref().unwrap_or("(no email)");
            writeln!(
                out,
                "line {:>5}  invalid    {}  {}",
                bad.line,
                safe(email),
                safe(&bad.reason())
            )
        }
        RowOutcome::Duplicate(dup) => writeln!(
            out,
            "line {:>5}  duplicate  {}  same as line {}, skipped",
            dup.line,
            safe(&dup.email),
            dup.first_line
        ),
    }
}

fn text_end(
    out: &mut impl Write,
    summary: &RosterSummary,
    quiet: bool,
    named: usize,
) -> io::Result<()> {
    if !quiet {
        let c = &summary.columns;
        let column = |c: &Option<String>| c.as_ref().map_or("-".to_owned(), |c| format!("{c:?}"));
        let delimiter = match summary.delimiter {
            b'\t' => "tab".to_owned(),
            d => format!("{:?}", char::from(d)),
        };
        writeln!(
            out,
            "read as {}, delimiter {delimiter}; columns: email {}, roles {}, teams {}, projects {}",
            summary.encoding.name(),
            safe(&column(&c.email)),
            safe(&column(&c.roles)),
            safe(&column(&c.teams)),
            safe(&column(&c.projects))
        )?;
        for rule in &summary.rules {
            let plural = if rule.rows == 1 { "" } else { "s" };
            writeln!(out, "{}: {} row{plural}", safe(&rule.label), rule.rows)?;
        }
    }
    if !summary.ignored_columns.is_empty() {
        writeln!(
            out,
            "ignored columns: {}",
            safe(&summary.ignored_columns.join(", "))
        )?;
    }
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
        summary.rows, summary.valid, summary.invalid, summary.duplicates
    )?;
    if summary.filtered_out > 0 {
        write!(out, " ({} more filtered out)", summary.filtered_out)?;
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

/// The report as one JSON object on one line. The valid rows, nearly all of a big file, are
/// written as they come, so they open the object; the invalid rows and duplicates, which must
/// be fixed by hand and so are few, wait as JSON text until the end, with the file's counts.
#[derive(Default)]
struct JsonReport {
    started: bool,
    valid: usize,
    /// The items of `invalid`, comma-separated.
    invalid: Vec<u8>,
    /// The items of `duplicates`, comma-separated.
    duplicates: Vec<u8>,
}

impl JsonReport {
    fn row(&mut self, out: &mut impl Write, row: &RowOutcome) -> io::Result<()> {
        self.start(out)?;
        match row {
            RowOutcome::Valid(i) => {
                if self.valid > 0 {
                    out.write_all(b",")?;
                }
                self.valid += 1;
                serde_json::to_writer(&mut *out, &valid_row(i))?;
            }
            RowOutcome::Invalid(bad) => item(&mut self.invalid, bad)?,
            RowOutcome::Duplicate(dup) => item(&mut self.duplicates, &duplicate_row(dup))?,
        }
        Ok(())
    }

    fn start(&mut self, out: &mut impl Write) -> io::Result<()> {
        if !self.started {
            self.started = true;
            out.write_all(b"{\"valid\":[")?;
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut impl Write, summary: &RosterSummary) -> io::Result<()> {
        fn field(out: &mut impl Write, name: &str, value: &impl Serialize) -> io::Result<()> {
            write!(out, ",\"{name}\":")?;
            serde_json::to_writer(&mut *out, value)?;
            Ok(())
        }
        fn list(out: &mut impl Write, name: &str, items: &[u8]) -> io::Result<()> {
            write!(out, ",\"{name}\":[")?;
            out.write_all(items)?;
            out.write_all(b"]")
        }

        self.start(out)?;
        out.write_all(b"]")?;
        field(out, "columns", &summary.columns)?;
        field(out, "delimiter", &char::from(summary.delimiter).to_string())?;
        list(out, "duplicates", &self.duplicates)?;
        field(out, "encoding", &summary.encoding.name())?;
        field(out, "filtered_out", &summary.filtered_out)?;
        field(out, "ignored_columns", &summary.ignored_columns)?;
        list(out, "invalid", &self.invalid)?;
        field(out, "rows", &summary.rows)?;
        field(out, "rules", &summary.rules)?;
        out.write_all(b"}\n")
    }
}

/// Appends one JSON item to a comma-separated list.
fn item(list: &mut Vec<u8>, value: &impl Serialize) -> io::Result<()> {
    if !list.is_empty() {
        list.push(b',');
    }
    serde_json::to_writer(list, value)?;
    Ok(())
}

fn valid_row(i: &Invitee) -> ValidRow<'_> {
    ValidRow {
        email: &i.email,
        line: i.line,
        names: i.names.as_deref(),
        projects: &i.projects,
        roles: &i.roles,
        roles_defaulted: i.roles_defaulted,
        sources: &i.sources,
        team_ids: &i.team_ids,
    }
}

fn duplicate_row(d: &Duplicate) -> serde_json::Value {
    serde_json::json!({"line": d.line, "first_line": d.first_line, "email": d.email})
}
