//! CSV roster: turns an HR export into validated [`Invitee`]s, with every problem pinned to the
//! physical line, the column and the value that caused it.
//!
//! The reader is forgiving about the *shape* of the file (encoding, delimiter, BOM, CRLF, blank
//! lines, ragged rows, spelling of the headers) and strict about its *content* (addresses, roles,
//! ids). It never panics: any byte sequence gives either a [`Roster`] or a [`RosterError`].
//!
//! - [`scan`] reads a file row by row and hands each row to a visitor as a [`RowOutcome`],
//!   keeping only the duplicate index (an address and 16 bytes per person); [`load`] and
//!   [`parse`] collect the rows into a [`Roster`]; [`read_raw`] gives the rows as written, for
//!   `export`. File-level problems (not UTF-8 without `--encoding`, no header, no email column,
//!   a column an option names but the header lacks, a quote that is never closed) are a
//!   [`RosterError`].
//! - Row-level problems never stop the reading: each bad row becomes an [`InvalidRow`] listing
//!   all of its [`Problem`]s, and identical repeats of a person become [`Duplicate`]s.
//! - Rows `--where` filters out (or that the [`Rules`] skip) are only counted.
//! - Each [`Invitee`] carries the [`Sources`] of its grants: its own cells, the rules it matched,
//!   `--default-role`. Teams and projects written by name wait in [`Invitee::names`] until
//!   [`resolve_names`] (or [`resolve_invitee`], row by row) turns them into ids.
//!
//! Files: `read.rs` (opening a file, records and their lines), `builder.rs` (one row's
//! validation), `dedup.rs` (the duplicate index), `encoding.rs` (BOMs, `--encoding`,
//! transcoding), `scan.rs` (header line, physical lines), `layout.rs` (which column is what),
//! `cells.rs` (one cell's validation), `rules.rs` (the rules file), `names.rs` (names of teams
//! and projects).

mod builder;
mod cells;
mod dedup;
pub mod encoding;
mod layout;
mod names;
mod read;
pub mod rules;
mod scan;
#[cfg(test)]
mod tests;

use std::fmt;
use std::io;
use std::ops::Deref;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use csv::ByteRecord;
use encoding_rs::Encoding;
use serde::Serialize;

use crate::atlas::model::{GroupRoleAssignment, InvitationRequest, OrgRole};
use crate::vocab::EmailKey;

use self::cells::clip;

pub(crate) use self::cells::is_valid_email;
pub use self::names::{
    NameIndex, NameSet, NamedItem, NamedProject, Names, resolve_invitee, resolve_names,
};
pub use self::read::{load, parse, read_raw, scan, scan_from};
pub use self::rules::{Rules, RulesError, Unmatched};

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

/// How a roster is read: every knob of the reader lives here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterOptions {
    /// The role given to rows that end up with no organization role: an empty (or missing)
    /// roles cell, and no rule giving one.
    pub default_role: OrgRole,
    /// The field delimiter; `None` detects `,`, `;` or tab from the header line.
    pub delimiter: Option<u8>,
    /// The file's encoding; `None` reads UTF-8. A UTF-8 or UTF-16 byte order mark wins either way.
    pub encoding: Option<&'static Encoding>,
    /// Headers that hold each field, overriding the accepted aliases (`--email-column` ...).
    pub columns: ColumnMap,
    /// `--where COLUMN=VALUE`: only rows matching all of them are read.
    pub filters: Vec<Filter>,
    /// Rules granting roles, teams and projects by column values.
    pub rules: Option<Rules>,
}

impl Default for RosterOptions {
    fn default() -> Self {
        RosterOptions {
            default_role: OrgRole::OrgMember,
            delimiter: None,
            encoding: None,
            columns: ColumnMap::default(),
            filters: Vec::new(),
            rules: None,
        }
    }
}

/// `--where COLUMN=VALUE`: the cell of `column` must equal `value`, both trimmed, compared
/// case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Filter {
    pub column: String,
    pub value: String,
}

impl FromStr for Filter {
    type Err = String;

    fn from_str(text: &str) -> Result<Filter, String> {
        match text.split_once('=') {
            Some((column, value)) if !column.trim().is_empty() => Ok(Filter {
                column: column.trim().to_owned(),
                value: value.trim().to_owned(),
            }),
            _ => Err(format!(
                "{text:?} is not COLUMN=VALUE, like Department=Engineering"
            )),
        }
    }
}

/// Parses `--delimiter`: `,`, `;`, `|`, or a tab written `tab`, `\\t` or as itself.
pub fn parse_delimiter(text: &str) -> Result<u8, String> {
    match text {
        "," => Ok(b','),
        ";" => Ok(b';'),
        "|" => Ok(b'|'),
        "\t" | "\\t" => Ok(b'\t'),
        t if t.eq_ignore_ascii_case("tab") => Ok(b'\t'),
        _ => Err(format!(
            "unsupported delimiter {text:?}: use one of , ; | tab"
        )),
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
    /// Data rows left out of the run: not matching `--where`, or matching no rule with
    /// `unmatched = "skip"`. They are not counted in `rows`.
    pub filtered_out: usize,
    /// The encoding the file was read in (`UTF-8`, `windows-1252`, `UTF-16LE`, ...).
    #[serde(serialize_with = "encoding_name")]
    pub encoding: &'static Encoding,
    /// Per rule of the rules file, in file order: its label and how many rows matched it.
    pub rules: Vec<RuleUse>,
}

fn encoding_name<S: serde::Serializer>(
    encoding: &&'static Encoding,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(encoding.name())
}

/// One data row, as [`scan`] hands it over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowOutcome {
    /// A person to invite (the first row of their address).
    Valid(Invitee),
    /// A row with at least one problem.
    Invalid(InvalidRow),
    /// A later row repeating an earlier person with identical grants; it is skipped.
    Duplicate(Duplicate),
}

impl RowOutcome {
    /// Physical line of the file where the row starts.
    pub fn line(&self) -> u64 {
        match self {
            RowOutcome::Valid(invitee) => invitee.line,
            RowOutcome::Invalid(row) => row.line,
            RowOutcome::Duplicate(duplicate) => duplicate.line,
        }
    }
}

/// What a [`scan`] learnt about the file besides its rows: a [`Roster`] without the row lists,
/// with their lengths instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RosterSummary {
    /// Header cells that map to no field, as written in the header (each named once).
    pub ignored_columns: Vec<String>,
    /// Which header each field was read from.
    pub columns: ColumnMap,
    /// Data rows read: valid, invalid or duplicate (not filtered out).
    pub rows: usize,
    /// Rows handed over as [`RowOutcome::Valid`].
    pub valid: usize,
    /// Rows handed over as [`RowOutcome::Invalid`].
    pub invalid: usize,
    /// Rows handed over as [`RowOutcome::Duplicate`].
    pub duplicates: usize,
    /// The field delimiter used (given or detected).
    pub delimiter: u8,
    /// Data rows left out: not matching `--where`, or skipped by the rules.
    pub filtered_out: usize,
    /// The encoding the file was read in.
    #[serde(serialize_with = "encoding_name")]
    pub encoding: &'static Encoding,
    /// Per rule of the rules file, in file order: its label and how many rows matched it.
    pub rules: Vec<RuleUse>,
}

/// A file as [`read_raw`] gives it: the header and the rows a run reads, cell for cell as
/// written (decoded to UTF-8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRows {
    pub header: Vec<String>,
    /// Rows that are neither blank nor filtered out, valid or not, in file order.
    pub rows: Vec<Vec<String>>,
    /// For each of `rows`, why it is invalid, as `run` reports it (a later row of a person
    /// with other grants among them); `None` for a valid row or an identical repeat.
    pub problems: Vec<Option<String>>,
    /// Position of the email column.
    pub email_index: usize,
    /// The field delimiter used (given or detected).
    pub delimiter: u8,
    /// The encoding the file was read in.
    pub encoding: &'static Encoding,
    /// Whether the file started with a byte order mark (UTF-8 or UTF-16).
    pub bom: bool,
}

/// How often one rule matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleUse {
    /// `rule 2 (Department = Engineering)`.
    pub label: String,
    /// Rows (kept in the run) that matched it, valid or not.
    pub rows: usize,
}

/// Which header (as written in the file) each field came from; `None` when the file has no
/// such column. `email` is always `Some` in a successfully read roster. As an option
/// ([`RosterOptions::columns`]), the headers that must be used.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ColumnMap {
    pub email: Option<String>,
    pub roles: Option<String>,
    pub teams: Option<String>,
    pub projects: Option<String>,
}

/// One valid person to invite.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Invitee {
    /// Physical line of the file where the row starts (1 = the first line).
    pub line: u64,
    /// The address, trimmed, with its case as written.
    pub email: String,
    /// Organization roles, deduplicated, in [`OrgRole::ALL`] order; never empty.
    pub roles: Vec<OrgRole>,
    /// True when the row had no role from its cell or a rule and the default role was used.
    pub roles_defaulted: bool,
    /// Team ids, deduplicated, in first-seen order.
    pub team_ids: Vec<String>,
    /// Project roles, one entry per project in first-seen order, roles deduplicated.
    pub projects: Vec<GroupRoleAssignment>,
    /// Teams and projects written by name, until [`resolve_names`] replaces them by ids; `None`
    /// when the row names none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub names: Option<Box<Names>>,
    /// Where the grants came from, e.g. `column "Role"`, `rule 2 (Department = Engineering)`,
    /// `--default-role`.
    pub sources: Sources,
}

/// Where a row's grants came from, in this order: its own cells (`column "Role"`,
/// `column "Teams"`, `column "Projects"`), the rules it matched (their labels), and
/// `--default-role`. Rows with the same sources share one list, behind a thin pointer: a
/// million rows cost a pointer each.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Sources(Arc<Vec<String>>);

impl Sources {
    pub fn new(sources: Vec<String>) -> Sources {
        Sources(Arc::new(sources))
    }
}

impl Deref for Sources {
    type Target = [String];

    fn deref(&self) -> &[String] {
        &self.0
    }
}

impl Invitee {
    /// The key under which duplicates are found: the address in lower case.
    pub fn email_key(&self) -> EmailKey {
        EmailKey::of(&self.email)
    }

    /// The grants of a row in one short phrase: `ORG_MEMBER, ORG_OWNER; teams 2; projects 1`, with
    /// the names still to resolve: `; teams 1 + "Platform"; projects "Prod":GROUP_OWNER`.
    pub fn grants_text(&self) -> String {
        let roles: Vec<&str> = self.roles.iter().map(|r| r.as_str()).collect();
        let mut text = roles.join(", ");
        if self.roles_defaulted {
            text.push_str(" (default)");
        }
        let names = self.names.as_deref();
        let team_names: Vec<String> = names
            .map(|n| n.teams.iter().map(|t| format!("{:?}", &*t.name)).collect())
            .unwrap_or_default();
        if !self.team_ids.is_empty() || !team_names.is_empty() {
            let mut parts = Vec::new();
            if !self.team_ids.is_empty() {
                parts.push(self.team_ids.len().to_string());
            }
            parts.extend(team_names);
            text.push_str(&format!("; teams {}", parts.join(" + ")));
        }
        let mut projects: Vec<String> = self
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
        "line {line} is not valid UTF-8: if the file comes from Excel or another Windows program, \
         pass --encoding windows-1252 (or the file's encoding: latin1, utf-16, ...); otherwise \
         save it as CSV UTF-8"
    )]
    NotUtf8 { line: u64 },
    /// NUL bytes in the header line of a file read as UTF-8.
    #[error(
        "the file looks like UTF-16 without a byte order mark (its first line has NUL bytes): \
         pass --encoding utf-16le (or utf-16be)"
    )]
    LooksUtf16,
    #[error(
        "the file has no header line: put the column names on the first line, e.g. email,roles,teams,projects"
    )]
    Empty,
    /// `found` lists the non-empty header cells as written.
    #[error("{}", no_email_column_message(.found))]
    NoEmailColumn { found: Vec<String> },
    /// Two header cells name the same field (`field` is e.g. `email address`; `option` the
    /// option that picks its column, e.g. `--email-column`).
    #[error(
        "columns {first:?} and {second:?} both hold the {field}: say which one to use with \
         {option} {first:?} (or {option} {second:?}), or rename or delete the other column"
    )]
    DuplicateColumn {
        field: &'static str,
        option: &'static str,
        first: String,
        second: String,
    },
    /// The CSV structure itself is broken (e.g. a quote that is never closed).
    #[error("line {line}: {message}")]
    Csv { line: u64, message: String },
    /// An option (`--email-column`, `--where`, ...) or a rule names a column the header does not
    /// have; `found` lists the header's columns.
    #[error("{}", unknown_column_message(.option, .column, .found))]
    UnknownColumn {
        option: String,
        column: String,
        found: Vec<String>,
    },
    /// An option or a rule names a column the header has several times.
    #[error(
        "{option} names the column {column:?}, which the header has {count} times: rename all \
         but one"
    )]
    AmbiguousColumn {
        option: String,
        column: String,
        count: usize,
    },
    /// Two `--*-column` options name the same column.
    #[error(
        "the column {column:?} is given for both the {first} and the {second}: give each its own column"
    )]
    SameColumn {
        column: String,
        first: &'static str,
        second: &'static str,
    },
}

fn unknown_column_message(option: &str, column: &str, found: &[String]) -> String {
    let quoted: Vec<String> = found.iter().map(|h| format!("{:?}", clip(h))).collect();
    format!(
        "{option} names the column {column:?}, which the header does not have; its columns are {} \
         (names compare case-insensitively)",
        quoted.join(", ")
    )
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

/// The trimmed text of cell `index`, empty when the row is too short, without the formula guard
/// `export` adds (see [`unguard`]). Fields were checked to be UTF-8 before. Not for the email
/// cell: see [`email_cell`].
fn cell(record: &ByteRecord, index: usize) -> &str {
    unguard(email_cell(record, index))
}

/// The trimmed text of the email cell, exactly as written: `export` never guards a valid
/// address, and an apostrophe is a legal first character of one (`'-ann@example.com`).
fn email_cell(record: &ByteRecord, index: usize) -> &str {
    let text = record
        .get(index)
        .and_then(|b| std::str::from_utf8(b).ok())
        .unwrap_or("");
    clean(text)
}

/// `text` without the guard that [`crate::report::neutralise`] puts before a formula-like cell
/// (an apostrophe followed by `=`, `+`, `-`, `@`, TAB or CR), so that a file written by
/// `export --failed-only` gives `run` the same teams, projects, roles and column values as the
/// original, while a spreadsheet opening it still sees text, not a formula. Only that exact
/// guard is removed; any other leading apostrophe stays.
pub(crate) fn unguard(text: &str) -> &str {
    match text.strip_prefix('\'') {
        Some(rest) if crate::report::is_formula_like(rest) => clean(rest),
        _ => text,
    }
}

/// `text` without surrounding whitespace (including no-break spaces) and byte order marks.
fn clean(text: &str) -> &str {
    text.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
}
