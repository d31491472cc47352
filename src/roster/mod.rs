//! CSV roster: turns an HR export into validated [`Invitee`]s, with every problem pinned to the
//! physical line, the column and the value that caused it.
//!
//! The reader is forgiving about the *shape* of the file (delimiter, UTF-8 BOM, CRLF, blank
//! lines, ragged rows, spelling of the headers) and strict about its *content* (addresses, roles,
//! ids). It never panics: any byte sequence gives either a [`Roster`] or a [`RosterError`].
//!
//! - [`load`] and [`parse`] read a whole file; file-level problems (not UTF-8, no header, no
//!   email column, a quote that is never closed) are a [`RosterError`].
//! - Row-level problems never stop the reading: each bad row becomes an [`InvalidRow`] listing
//!   all of its [`Problem`]s, and identical repeats of a person become [`Duplicate`]s.

mod cells;
mod scan;
#[cfg(test)]
mod tests;

use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use csv::ByteRecord;
use serde::Serialize;

use crate::atlas::model::{GroupRoleAssignment, InvitationRequest, OrgRole};

use self::cells::{Grants, clip};
use self::scan::Scanner;

/// Header names (compared case-insensitively, after trimming) that hold the email address.
pub const EMAIL_HEADERS: [&str; 6] = [
    "email",
    "username",
    "e-mail",
    "email address",
    "mail",
    "work email",
];
/// Header names that hold the organization roles.
pub const ROLES_HEADERS: [&str; 3] = ["roles", "role", "org roles"];
/// Header names that hold the team ids.
pub const TEAMS_HEADERS: [&str; 3] = ["teamIds", "team ids", "teams"];
/// Header names that hold the project (group) role assignments.
pub const PROJECTS_HEADERS: [&str; 2] = ["groupRoleAssignments", "projects"];

/// How a roster is read. Later options (`--encoding`, `--email-column`, ...) belong here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterOptions {
    /// The role given to rows whose roles cell is empty (or when there is no roles column).
    pub default_role: OrgRole,
    /// The field delimiter; `None` detects `,`, `;` or tab from the header line.
    pub delimiter: Option<u8>,
}

impl Default for RosterOptions {
    fn default() -> Self {
        RosterOptions {
            default_role: OrgRole::OrgMember,
            delimiter: None,
        }
    }
}

/// A whole file, read and validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Roster {
    /// Valid people, one per email address (case-insensitively), in file order.
    pub invitees: Vec<Invitee>,
    /// Rows with at least one problem, in file order.
    pub invalid: Vec<InvalidRow>,
    /// Later rows repeating an earlier person with identical grants; they are skipped.
    pub duplicates: Vec<Duplicate>,
    /// Header cells that map to no field, as written in the header (each named once).
    pub ignored_columns: Vec<String>,
    /// Which header each field was read from.
    pub columns: ColumnMap,
    /// Data rows read: every non-blank line after the header (valid, invalid or duplicate).
    pub rows: usize,
    /// The field delimiter used (given or detected).
    pub delimiter: u8,
}

/// Which header (as written in the file) each field came from; `None` when the file has no
/// such column. `email` is always `Some` in a successfully read roster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ColumnMap {
    pub email: Option<String>,
    pub roles: Option<String>,
    pub teams: Option<String>,
    pub projects: Option<String>,
}

/// One valid person to invite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Invitee {
    /// Physical line of the file where the row starts (1 = the first line).
    pub line: u64,
    /// The address, trimmed, with its case as written.
    pub email: String,
    /// Organization roles, deduplicated, in [`OrgRole::ALL`] order; never empty.
    pub roles: Vec<OrgRole>,
    /// True when the roles cell was empty (or missing) and the default role was used.
    pub roles_defaulted: bool,
    /// Team ids, deduplicated, in first-seen order.
    pub team_ids: Vec<String>,
    /// Project roles, one entry per project in first-seen order, roles deduplicated.
    pub projects: Vec<GroupRoleAssignment>,
}

impl Invitee {
    /// The key under which duplicates are found: the address in lower case.
    pub fn email_key(&self) -> String {
        email_key(&self.email)
    }

    /// The body of `POST /orgs/{orgId}/invites` for this person.
    pub fn to_request(&self) -> InvitationRequest {
        InvitationRequest {
            username: self.email.clone(),
            roles: self.roles.clone(),
            team_ids: self.team_ids.clone(),
            group_role_assignments: self.projects.clone(),
        }
    }
}

/// The address in lower case (ASCII fast path; HR addresses are nearly always ASCII).
fn email_key(email: &str) -> String {
    if email.is_ascii() {
        email.to_ascii_lowercase()
    } else {
        email.to_lowercase()
    }
}

/// A row that cannot be invited, with everything wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvalidRow {
    /// Physical line of the file where the row starts.
    pub line: u64,
    /// The trimmed email cell when it is not empty, even if it is not a valid address.
    pub email: Option<String>,
    /// Never empty.
    pub problems: Vec<Problem>,
}

impl InvalidRow {
    /// All problems of the row, joined with `"; "`.
    pub fn reason(&self) -> String {
        let mut out = String::new();
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                out.push_str("; ");
            }
            out.push_str(&problem.to_string());
        }
        out
    }
}

impl fmt::Display for InvalidRow {
    /// `line 7: column "roles", value "admin": unknown organization role (...)`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason())
    }
}

/// One thing wrong with one cell (or one item of a list cell).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The header as written in the file, or `column N` for a cell beyond the header.
    pub column: String,
    /// The offending value (trimmed; a list item rather than the whole cell; long values are
    /// shortened with `…`).
    pub value: String,
    /// What is wrong and what to do: a lower-case fragment without a trailing period.
    pub message: String,
}

impl Problem {
    pub(crate) fn new(column: &str, value: &str, message: impl Into<String>) -> Problem {
        Problem {
            column: column.to_owned(),
            value: clip(value),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    /// `column "roles", value "admin": unknown organization role (expected one of ...)`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "column {:?}, value {:?}: {}",
            self.column, self.value, self.message
        )
    }
}

/// A later row for a person already read, with identical grants: skipped, not an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Duplicate {
    /// The skipped row's line.
    pub line: u64,
    /// The line of the row that is kept.
    pub first_line: u64,
    /// The skipped row's address, as written.
    pub email: String,
}

impl fmt::Display for Duplicate {
    /// `line 9: jane@example.com repeats line 3 with the same roles, teams and projects (skipped)`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}: {} repeats line {} with the same roles, teams and projects (skipped)",
            self.line, self.email, self.first_line
        )
    }
}

/// A problem with the file as a whole: nothing in it can be trusted.
#[derive(Debug, thiserror::Error)]
pub enum RosterError {
    /// The file cannot be opened or read (the cause is the error's `source`).
    #[error("cannot read {}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "line {line} is not valid UTF-8: save the file as UTF-8 (CSV UTF-8 in Excel) and try again"
    )]
    NotUtf8 { line: u64 },
    #[error(
        "the file has no header line: put the column names on the first line, e.g. email,roles,teams,projects"
    )]
    Empty,
    /// `found` lists the non-empty header cells as written.
    #[error("{}", no_email_column_message(.found))]
    NoEmailColumn { found: Vec<String> },
    /// Two header cells name the same field (`field` is e.g. `email address`).
    #[error(
        "columns {first:?} and {second:?} both hold the {field}: keep one of them and rename or delete the other"
    )]
    DuplicateColumn {
        field: &'static str,
        first: String,
        second: String,
    },
    /// The CSV structure itself is broken (e.g. a quote that is never closed).
    #[error("line {line}: {message}")]
    Csv { line: u64, message: String },
}

fn no_email_column_message(found: &[String]) -> String {
    let accepted = EMAIL_HEADERS.join(", ");
    if found.is_empty() {
        return format!(
            "the header line has no column names: name the columns on the first line, \
             the addresses under one of {accepted}"
        );
    }
    let quoted: Vec<String> = found.iter().map(|h| format!("{:?}", clip(h))).collect();
    if found.iter().any(|h| h.contains('@')) {
        return format!(
            "the first line looks like data, not a header ({}): add a header line such as \
             email,roles,teams,projects",
            quoted.join(", ")
        );
    }
    format!(
        "no email column: the header has {}; name the column holding the addresses one of {accepted}",
        quoted.join(", ")
    )
}

/// Reads and validates the roster at `path`.
pub fn load(path: &Path, options: &RosterOptions) -> Result<Roster, RosterError> {
    let file = File::open(path).map_err(|source| RosterError::Io {
        path: path.to_owned(),
        source,
    })?;
    read(file, options, path)
}

/// Reads and validates a roster from any reader (read errors name the path `<input>`).
pub fn parse<R: Read>(reader: R, options: &RosterOptions) -> Result<Roster, RosterError> {
    read(reader, options, Path::new("<input>"))
}

const BUFFER: usize = 64 * 1024;

fn read<R: Read>(reader: R, options: &RosterOptions, path: &Path) -> Result<Roster, RosterError> {
    let io_error = |source| RosterError::Io {
        path: path.to_owned(),
        source,
    };
    let mut input = BufReader::with_capacity(BUFFER, reader);
    let (prefix, header_start) = scan::read_to_header(&mut input).map_err(io_error)?;
    let delimiter = options
        .delimiter
        .unwrap_or_else(|| scan::detect_delimiter(&prefix[header_start..]));
    let scanner = Scanner::new(io::Cursor::new(prefix).chain(input), delimiter);
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .buffer_capacity(BUFFER)
        .from_reader(scanner);

    let mut record = ByteRecord::new();
    let header_line = loop {
        let Some(line) = next_record(&mut csv, &mut record, path)? else {
            unclosed_quote(&csv)?;
            return Err(RosterError::Empty);
        };
        if !is_blank(&record, line)? {
            break line;
        }
    };
    let (layout, ignored_columns) = match Layout::from_header(&record, header_line) {
        Ok(found) => found,
        Err(err) => {
            unclosed_quote(&csv)?;
            return Err(err);
        }
    };

    let mut builder = Builder::new(layout, options.default_role, delimiter);
    while let Some(line) = next_record(&mut csv, &mut record, path)? {
        if !is_blank(&record, line)? {
            builder.row(&record, line);
        }
    }
    unclosed_quote(&csv)?;
    Ok(builder.finish(ignored_columns, delimiter))
}

type CsvReader<R> = csv::Reader<Scanner<R>>;

/// Reads the next record into `record` and returns the physical line it starts on.
fn next_record<R: Read>(
    csv: &mut CsvReader<R>,
    record: &mut ByteRecord,
    path: &Path,
) -> Result<Option<u64>, RosterError> {
    match csv.read_byte_record(record) {
        Ok(true) => {
            // csv's own `Position::line` drifts after blank lines and CRLF endings, so the
            // scanner counts physical lines itself.
            let line = csv
                .get_mut()
                .next_record_line()
                .or_else(|| record.position().map(csv::Position::line))
                .unwrap_or(0);
            Ok(Some(line))
        }
        Ok(false) => Ok(None),
        Err(err) => {
            let line = err
                .position()
                .map(csv::Position::line)
                .unwrap_or_else(|| csv.get_ref().line());
            let message = err.to_string();
            Err(match err.into_kind() {
                csv::ErrorKind::Io(source) => RosterError::Io {
                    path: path.to_owned(),
                    source,
                },
                _ => RosterError::Csv {
                    line,
                    message: format!("malformed CSV ({message}): fix this line and try again"),
                },
            })
        }
    }
}

/// At the end of the input, a quote that was opened and never closed swallowed the rest of the
/// file into one cell: that is a file-level error.
fn unclosed_quote<R: Read>(csv: &CsvReader<R>) -> Result<(), RosterError> {
    match csv.get_ref().unclosed_quote_line() {
        Some(line) => Err(RosterError::Csv {
            line,
            message: "a quote (\") opened on this line is never closed, so the rest of the file \
                      reads as one cell: add the closing quote or remove the opening one"
                .to_owned(),
        }),
        None => Ok(()),
    }
}

/// Checks that every field is UTF-8, and tells whether the record has only blank cells.
fn is_blank(record: &ByteRecord, line: u64) -> Result<bool, RosterError> {
    let mut blank = true;
    for field in record {
        let text = std::str::from_utf8(field).map_err(|_| RosterError::NotUtf8 { line })?;
        blank = blank && clean(text).is_empty();
    }
    Ok(blank)
}

/// A mapped column: its position and its header as written.
#[derive(Debug, Clone)]
struct Column {
    index: usize,
    name: String,
}

#[derive(Debug)]
struct Layout {
    email: Column,
    roles: Option<Column>,
    teams: Option<Column>,
    projects: Option<Column>,
    /// Number of cells in the header.
    width: usize,
}

/// (field description for messages, accepted headers)
const FIELDS: [(&str, &[&str]); 4] = [
    ("email address", &EMAIL_HEADERS),
    ("organization roles", &ROLES_HEADERS),
    ("team ids", &TEAMS_HEADERS),
    ("project roles", &PROJECTS_HEADERS),
];

impl Layout {
    fn from_header(header: &ByteRecord, line: u64) -> Result<(Layout, Vec<String>), RosterError> {
        let mut slots: [Option<Column>; 4] = Default::default();
        let mut ignored: Vec<String> = Vec::new();
        let mut found = Vec::new();
        for (index, raw) in header.iter().enumerate() {
            let text = std::str::from_utf8(raw).map_err(|_| RosterError::NotUtf8 { line })?;
            let name = clean(text);
            if name.is_empty() {
                continue;
            }
            found.push(name.to_owned());
            let field = FIELDS
                .iter()
                .position(|(_, aliases)| aliases.iter().any(|a| a.eq_ignore_ascii_case(name)));
            match field {
                Some(f) => {
                    if let Some(first) = &slots[f] {
                        return Err(RosterError::DuplicateColumn {
                            field: FIELDS[f].0,
                            first: first.name.clone(),
                            second: name.to_owned(),
                        });
                    }
                    slots[f] = Some(Column {
                        index,
                        name: name.to_owned(),
                    });
                }
                None if ignored.iter().any(|n| n == name) => {}
                None => ignored.push(name.to_owned()),
            }
        }
        let [email, roles, teams, projects] = slots;
        let email = email.ok_or(RosterError::NoEmailColumn { found })?;
        let layout = Layout {
            email,
            roles,
            teams,
            projects,
            width: header.len(),
        };
        Ok((layout, ignored))
    }

    fn columns(&self) -> ColumnMap {
        let name = |c: &Option<Column>| c.as_ref().map(|c| c.name.clone());
        ColumnMap {
            email: Some(self.email.name.clone()),
            roles: name(&self.roles),
            teams: name(&self.teams),
            projects: name(&self.projects),
        }
    }
}

/// The first row seen for an email key.
struct Seen {
    line: u64,
    /// Index into `invitees` when that row was valid, [`Seen::INVALID`] otherwise.
    invitee: u32,
}

impl Seen {
    const INVALID: u32 = u32::MAX;
}

struct Builder {
    layout: Layout,
    default_role: OrgRole,
    delimiter: u8,
    invitees: Vec<Invitee>,
    invalid: Vec<InvalidRow>,
    duplicates: Vec<Duplicate>,
    /// First row per lower-cased address. Keys are boxed to save a word per row, and hashed
    /// with foldhash: the roster is the operator's own file, not attacker input.
    seen: foldhash::HashMap<Box<str>, Seen>,
    rows: usize,
}

/// The trimmed text of cell `index`, empty when the row is too short. Fields were checked to be
/// UTF-8 before.
fn cell(record: &ByteRecord, index: usize) -> &str {
    let text = record
        .get(index)
        .and_then(|b| std::str::from_utf8(b).ok())
        .unwrap_or("");
    clean(text)
}

/// `text` without surrounding whitespace (including no-break spaces) and byte order marks.
fn clean(text: &str) -> &str {
    text.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
}

impl Builder {
    fn new(layout: Layout, default_role: OrgRole, delimiter: u8) -> Builder {
        Builder {
            layout,
            default_role,
            delimiter,
            invitees: Vec::new(),
            invalid: Vec::new(),
            duplicates: Vec::new(),
            seen: foldhash::HashMap::default(),
            rows: 0,
        }
    }

    fn row(&mut self, record: &ByteRecord, line: u64) {
        self.rows += 1;
        let mut problems = Vec::new();
        let layout = &self.layout;

        let email_cell = cell(record, layout.email.index);
        let email = cells::email(email_cell, &layout.email.name, &mut problems);
        let (roles, roles_defaulted) = match &layout.roles {
            Some(col) => cells::roles(
                cell(record, col.index),
                &col.name,
                self.default_role,
                &mut problems,
            ),
            None => (vec![self.default_role], true),
        };
        let team_ids = match &layout.teams {
            Some(col) => cells::teams(cell(record, col.index), &col.name, &mut problems),
            None => Vec::new(),
        };
        let projects = match &layout.projects {
            Some(col) => cells::projects(cell(record, col.index), &col.name, &mut problems),
            None => Vec::new(),
        };
        cells::extra_cells(record, layout.width, self.delimiter, &mut problems);

        let grants = Grants {
            roles: &roles,
            team_ids: &team_ids,
            projects: &projects,
        };
        if let Some(email) = &email {
            let key = email_key(email);
            match self.seen.get(key.as_str()) {
                None => {
                    let invitee = match u32::try_from(self.invitees.len()) {
                        Ok(index) if problems.is_empty() && index != Seen::INVALID => index,
                        _ => Seen::INVALID,
                    };
                    self.seen
                        .insert(key.into_boxed_str(), Seen { line, invitee });
                }
                Some(seen) => {
                    let first = seen.line;
                    let column = &layout.email.name;
                    let first_grants = (seen.invitee != Seen::INVALID)
                        .then(|| usize::try_from(seen.invitee).ok())
                        .flatten()
                        .and_then(|i| self.invitees.get(i));
                    match first_grants {
                        _ if !problems.is_empty() => problems.push(Problem::new(
                            column,
                            email,
                            format!("same person as line {first}: keep one row per person"),
                        )),
                        None => problems.push(Problem::new(
                            column,
                            email,
                            format!(
                                "same person as line {first}, which has problems: fix line \
                                 {first} and delete this row"
                            ),
                        )),
                        Some(kept) => match grants.differences(&Grants::of(kept)) {
                            None => {
                                self.duplicates.push(Duplicate {
                                    line,
                                    first_line: first,
                                    email: email.clone(),
                                });
                                return;
                            }
                            Some(what) => problems.push(Problem::new(
                                column,
                                email,
                                format!(
                                    "same person as line {first} but with different {what}: \
                                     keep one row per person and merge the grants into line {first}"
                                ),
                            )),
                        },
                    }
                }
            }
        }

        match email {
            Some(email) if problems.is_empty() => self.invitees.push(Invitee {
                line,
                email,
                roles,
                roles_defaulted,
                team_ids,
                projects,
            }),
            _ => self.invalid.push(InvalidRow {
                line,
                email: (!email_cell.is_empty()).then(|| clip(email_cell)),
                problems,
            }),
        }
    }

    fn finish(self, ignored_columns: Vec<String>, delimiter: u8) -> Roster {
        Roster {
            columns: self.layout.columns(),
            invitees: self.invitees,
            invalid: self.invalid,
            duplicates: self.duplicates,
            ignored_columns,
            rows: self.rows,
            delimiter,
        }
    }
}
