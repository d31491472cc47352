//! `atlas-invite export <CSV>`: the per-row results file that users of bulk tools expect, the
//! input file's own columns plus `status,reason,http_status,attempts,invitation_id,updated_at`
//! for every row, looked up in the journal by email; or, with `--failed-only`, the rows whose
//! person is not done, with the file's own columns only, to be given straight back to `run`.
//!
//! The file is read by the roster with the options `run` was given (encoding, delimiter, column
//! options, `--where`, rules), so that the rows exported are the rows that were run, each cell
//! written back as it was. A file read in another encoding than UTF-8, or that started with a
//! byte order mark, is written in UTF-8 with a byte order mark, which spreadsheets follow and
//! `run` honours over `--encoding`.
//! Formula-like cells are neutralised (see [`crate::report::formula`]), except, in the
//! `--failed-only` file, an email cell that is a valid address: an apostrophe there would make
//! `run` read another person, and a valid address cannot hold a formula call anyway (no spaces,
//! parentheses or double quotes).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use anyhow::{Context, anyhow};

use super::report::open_journal;
use crate::cli::ExportArgs;
use crate::exit::{Failure, SUCCESS};
use crate::journal::{InviteReport, InviteStatus, Journal, MembershipState};
use crate::report::neutralise;
use crate::roster;

/// The columns `export` appends to the input's. A public contract, like the JSON fields.
pub const RESULT_COLUMNS: [&str; 6] = [
    "status",
    "reason",
    "http_status",
    "attempts",
    "invitation_id",
    "updated_at",
];

/// Written first when the input had a byte order mark (Excel's "CSV UTF-8" writes one, and
/// reads a file without it as the local code page), or was not UTF-8: the output is.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Status of a row whose person the journal does not know for the organization.
const ABSENT: &str = "absent";

pub(super) fn export(args: &ExportArgs) -> Result<i32, Failure> {
    let journal_path = super::journal_path::for_reading(&args.journal, args.org.as_deref())?;
    if let Some(out) = &args.out {
        super::refuse_journal_file("--out", out, &journal_path)?;
    }
    let options = args.input.roster_options()?;
    let file = roster::read_raw(&args.csv, &options).map_err(Failure::usage)?;
    let (header, rows, email_index) = (&file.header, &file.rows, file.email_index);
    let email_column = clean(header.get(email_index).map_or("", String::as_str)).to_owned();
    let journal = open_journal(&journal_path)?;
    let org = organization(&journal, args.org.as_deref())?;
    let people = journal.people_by_email(&org).map_err(Failure::usage)?;

    if let Some(out) = &args.out
        && same_file(out, &args.csv)
    {
        return Err(Failure::usage(anyhow!(
            "refusing to overwrite the input file {}: pass another --out",
            out.display()
        )));
    }
    let mut sink: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(
            create_private(path)
                .with_context(|| format!("failed to create {}", path.display()))
                .map_err(Failure::usage)?,
        ),
        None => Box::new(io::stdout().lock()),
    };
    if file.bom || file.encoding != encoding_rs::UTF_8 {
        match sink.write_all(UTF8_BOM) {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(SUCCESS),
            Err(e) => return Err(Failure::usage(anyhow!("failed to write the results: {e}"))),
            Ok(()) => {}
        }
    }
    let mut writer = csv::WriterBuilder::new()
        .delimiter(file.delimiter)
        .flexible(true)
        .from_writer(sink);
    let write_error = |e: csv::Error| Failure::usage(anyhow!("failed to write the results: {e}"));

    let mut written = 0usize;
    let mut not_done = 0usize;
    if args.failed_only {
        writer
            .write_record(failed_only_cells(header, email_index, true))
            .map_err(write_error)?;
        for row in rows {
            let person = people.get(&key_of(row, email_index));
            if person.is_some_and(|p| p.done) {
                continue;
            }
            writer
                .write_record(failed_only_cells(row, email_index, false))
                .map_err(write_error)?;
            written += 1;
            not_done += 1;
        }
    } else {
        // Ragged rows are padded to the widest one, so the result columns line up.
        let width = rows.iter().map(Vec::len).fold(header.len(), usize::max);
        let mut head: Vec<String> = header.iter().map(|c| neutralise(c).into_owned()).collect();
        head.resize(width, String::new());
        head.extend(RESULT_COLUMNS.iter().map(|c| (*c).to_owned()));
        writer.write_record(&head).map_err(write_error)?;
        for (row, problem) in rows.iter().zip(&file.problems) {
            let email = clean(row.get(email_index).map_or("", String::as_str));
            let person = people.get(&key_of(row, email_index));
            let mut cells: Vec<String> = row.iter().map(|c| neutralise(c).into_owned()).collect();
            cells.resize(width, String::new());
            // An invalid row was never sent: what the journal says of its person (invited
            // through an earlier row of the same address, say) is not this row's outcome.
            let outcome = match problem {
                Some(reason) => invalid_outcome(reason),
                None => outcome(email, &email_column, &org, person),
            };
            not_done += usize::from(problem.is_some() || !person.is_some_and(|p| p.done));
            cells.extend(outcome.iter().map(|c| neutralise(c).into_owned()));
            writer.write_record(&cells).map_err(write_error)?;
            written += 1;
        }
    }
    match writer.flush() {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(SUCCESS),
        Err(e) => return Err(Failure::usage(anyhow!("failed to write the results: {e}"))),
    }
    let target = args
        .out
        .as_ref()
        .map_or_else(|| "stdout".to_owned(), |p| p.display().to_string());
    if args.failed_only {
        eprintln!(
            "wrote {written} rows whose person is not done to {target}{}",
            if written == 0 {
                ": everybody is done"
            } else {
                "; give it to `atlas-invite run`"
            }
        );
    } else {
        eprintln!("wrote {written} rows to {target} ({not_done} not done, organization {org})");
    }
    Ok(SUCCESS)
}

/// `--org`, else the journal's only organization.
fn organization(journal: &Journal, given: Option<&str>) -> Result<String, Failure> {
    if let Some(org) = given {
        return Ok(org.to_owned());
    }
    let orgs = journal.org_ids().map_err(Failure::usage)?;
    match orgs.as_slice() {
        [only] => Ok(only.clone()),
        [] => Err(Failure::usage(anyhow!(
            "journal {} has no run yet: run `atlas-invite run` first",
            journal.path().display()
        ))),
        _ => Err(Failure::usage(anyhow!(
            "journal {} holds several organizations ({}): pass --org ORG_ID",
            journal.path().display(),
            orgs.join(", ")
        ))),
    }
}

/// The lower-cased address of a row: the key the journal files the person under.
fn key_of(row: &[String], email_index: usize) -> String {
    crate::vocab::EmailKey::of(clean(row.get(email_index).map_or("", String::as_str))).into()
}

/// A cell without surrounding whitespace or byte order marks, as the roster reads it.
fn clean(text: &str) -> &str {
    text.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
}

/// A row of the `--failed-only` file: every cell neutralised but the email cell when it is a
/// valid address (or the header's email column name), which must reach `run` unchanged.
fn failed_only_cells(row: &[String], email_index: usize, header: bool) -> Vec<String> {
    row.iter()
        .enumerate()
        .map(|(i, cell)| {
            if i == email_index && (header || is_address(clean(cell))) {
                cell.clone()
            } else {
                neutralise(cell).into_owned()
            }
        })
        .collect()
}

/// An address `run` accepts (the roster's own rule): no display name, no domain literal, no
/// quoted part, no hidden character.
fn is_address(text: &str) -> bool {
    roster::is_valid_email(text)
}

/// The six result cells of a row that did not validate.
fn invalid_outcome(reason: &str) -> [String; 6] {
    [
        InviteStatus::Invalid.as_str().to_owned(),
        reason.to_owned(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
    ]
}

/// The six result cells of one row.
fn outcome(
    email: &str,
    email_column: &str,
    org: &str,
    person: Option<&InviteReport>,
) -> [String; 6] {
    let Some(p) = person else {
        let (status, reason) = if email.is_empty() {
            (
                InviteStatus::Invalid.as_str(),
                format!("no address in column {email_column:?}"),
            )
        } else {
            (
                ABSENT,
                format!("not in the journal for organization {org}: this row has not been run yet"),
            )
        };
        return [
            status.to_owned(),
            reason,
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ];
    };
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    [
        p.status.clone(),
        reason(p),
        p.last_http_status
            .map(|s| s.to_string())
            .unwrap_or_default(),
        p.attempts.to_string(),
        opt(&p.invitation_id),
        p.updated_at.clone(),
    ]
}

/// Why the person is where they are, in a few words.
fn reason(p: &InviteReport) -> String {
    let atlas_said = || match (&p.last_error_code, &p.last_error_detail) {
        (Some(code), Some(detail)) => format!("{code}: {detail}"),
        (Some(code), None) => code.clone(),
        (None, Some(detail)) => detail.clone(),
        (None, None) => String::new(),
    };
    let membership = p
        .membership_state
        .as_deref()
        .and_then(MembershipState::parse);
    let observed = p.membership_observed_at.as_deref().unwrap_or_default();
    match InviteStatus::parse(&p.status) {
        Some(InviteStatus::Invalid | InviteStatus::Failed) => atlas_said(),
        Some(InviteStatus::Pending) => "not sent yet: the next run sends it".into(),
        Some(InviteStatus::InFlight) => {
            "sent, outcome unknown: the next run checks with Atlas first".into()
        }
        Some(_) => match membership {
            Some(MembershipState::Active) => format!("accepted (seen {observed})"),
            Some(MembershipState::Pending) => match &p.expires_at {
                Some(at) => format!("invitation pending until {at}"),
                None => "invitation pending".into(),
            },
            Some(state) if state.is_lapsed() => format!(
                "{} (seen {observed}): rerun with --reinvite-expired",
                if state == MembershipState::InvitationExpired {
                    "invitation expired"
                } else {
                    "invitation declined"
                }
            ),
            Some(_) => format!("Atlas knows no invitation or user (seen {observed})"),
            None => match InviteStatus::parse(&p.status) {
                Some(InviteStatus::AlreadyInvited) => {
                    "Atlas already had a pending invitation".into()
                }
                Some(InviteStatus::AlreadyMember) => "already a member".into(),
                _ => String::new(),
            },
        },
        None => String::new(),
    }
}

/// Creates (or truncates) `path`; a new file is readable by its owner only, like the journal:
/// it names people and what happened to their access.
fn create_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Whether `a` and `b` name the same existing file.
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| (*c).to_owned()).collect()
    }

    #[test]
    fn failed_only_keeps_valid_addresses_verbatim() {
        let cells = failed_only_cells(&row(&["+tag@example.com", "=2+2", "-"]), 0, false);
        assert_eq!(cells, row(&["+tag@example.com", "'=2+2", "'-"]));
        let cells = failed_only_cells(&row(&["=HYPERLINK(\"x\")", "ok"]), 0, false);
        assert_eq!(cells, row(&["'=HYPERLINK(\"x\")", "ok"]));
        let cells = failed_only_cells(&row(&["email", "=name"]), 0, true);
        assert_eq!(cells, row(&["email", "'=name"]));
    }

    #[test]
    fn only_plain_addresses_count_as_addresses() {
        assert!(is_address("ann@example.com"));
        assert!(is_address("-ann@example.com"));
        assert!(!is_address("Ann <ann@example.com>"));
        assert!(!is_address("=cmd|' /C calc'!A0"));
        assert!(!is_address(""));
    }
}
