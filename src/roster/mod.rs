//! CSV roster: turns an HR export into validated [`Invitee`]s, with every problem pinned to the
//! physical line, the column and the value that caused it.
//!
//! The reader is forgiving about the *shape* of the file (encoding, delimiter, BOM, CRLF, blank
//! lines, ragged rows, spelling of the headers) and strict about its *content* (addresses, roles,
//! ids). It never panics: any byte sequence gives either a [`Roster`] or a [`RosterError`].
//!
//! - [`load`] and [`parse`] read a whole file; file-level problems (not UTF-8 without
//!   `--encoding`, no header, no email column, a column an option names but the header lacks, a
//!   quote that is never closed) are a [`RosterError`].
//! - Row-level problems never stop the reading: each bad row becomes an [`InvalidRow`] listing
//!   all of its [`Problem`]s, and identical repeats of a person become [`Duplicate`]s.
//! - Rows `--where` filters out (or that the [`Rules`] skip) are only counted.
//! - Each [`Invitee`] carries the [`Sources`] of its grants: its own cells, the rules it matched,
//!   `--default-role`. Teams and projects written by name wait in [`Invitee::names`] until
//!   [`resolve_names`] turns them into ids.
//!
//! Files: `encoding.rs` (BOMs, `--encoding`, transcoding), `scan.rs` (header line, physical
//! lines), `layout.rs` (which column is what), `cells.rs` (one cell's validation), `rules.rs`
//! (the rules file), `names.rs` (names of teams and projects).

mod cells;
pub mod encoding;
mod layout;
mod names;
pub mod rules;
mod scan;
#[cfg(test)]
mod tests;

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use csv::ByteRecord;
use encoding_rs::Encoding;
use serde::Serialize;

use crate::atlas::model::{GroupRoleAssignment, InvitationRequest, OrgRole};

use self::cells::{Grants, clip};
use self::layout::Layout;
use self::scan::Scanner;

pub use self::names::{NameIndex, NamedItem, NamedProject, Names, resolve_names};
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
    let mut input = BufReader::with_capacity(BUFFER, reader);
    let start = input.fill_buf().map_err(|source| RosterError::Io {
        path: path.to_owned(),
        source,
    })?;
    let bom = encoding::sniff_bom(start);
    let chosen = encoding::choose(bom, options.encoding);
    if chosen == encoding_rs::UTF_8 {
        // The fast path: bytes go to the CSV reader as they are (a UTF-8 BOM is dropped by the
        // header scan), and each field's UTF-8 is checked where it is read.
        read_utf8(input, options, path, chosen)
    } else {
        read_utf8(encoding::decoder(input, chosen), options, path, chosen)
    }
}

/// Reads UTF-8 text (the file itself, or what the transcoder makes of it).
fn read_utf8<B: BufRead>(
    mut input: B,
    options: &RosterOptions,
    path: &Path,
    encoding: &'static Encoding,
) -> Result<Roster, RosterError> {
    let io_error = |source| RosterError::Io {
        path: path.to_owned(),
        source,
    };
    let (prefix, header_start) = scan::read_to_header(&mut input).map_err(io_error)?;
    if options.encoding.is_none()
        && encoding == encoding_rs::UTF_8
        && encoding::looks_like_utf16(&prefix[header_start..])
    {
        return Err(RosterError::LooksUtf16);
    }
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
    let (layout, ignored_columns) = match Layout::from_header(&record, header_line, options) {
        Ok(found) => found,
        Err(err) => {
            unclosed_quote(&csv)?;
            return Err(err);
        }
    };

    let mut builder = Builder::new(layout, options, delimiter);
    while let Some(line) = next_record(&mut csv, &mut record, path)? {
        if !is_blank(&record, line)? {
            builder.row(&record, line);
        }
    }
    unclosed_quote(&csv)?;
    Ok(builder.finish(ignored_columns, delimiter, encoding))
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

/// The first row seen for an email key.
struct Seen {
    line: u64,
    /// Index into `invitees` when that row was valid, [`Seen::INVALID`] otherwise.
    invitee: u32,
}

impl Seen {
    const INVALID: u32 = u32::MAX;
}

struct Builder<'a> {
    layout: Layout,
    default_role: OrgRole,
    delimiter: u8,
    rules: Option<&'a Rules>,
    invitees: Vec<Invitee>,
    invalid: Vec<InvalidRow>,
    duplicates: Vec<Duplicate>,
    /// First row per lower-cased address. Keys are boxed to save a word per row, and hashed
    /// with foldhash: the roster is the operator's own file, not attacker input.
    seen: foldhash::HashMap<Box<str>, Seen>,
    rows: usize,
    filtered_out: usize,
    /// Rows matched, per rule.
    rule_rows: Vec<usize>,
    /// The rules the current row matches (reused from row to row).
    matched: Vec<u16>,
    sources: SourceCache,
}

/// Bits of where a row's grants came from, besides rules.
const FROM_ROLES: u8 = 1;
const FROM_TEAMS: u8 = 2;
const FROM_PROJECTS: u8 = 4;
const FROM_DEFAULT: u8 = 8;

/// Interns [`Sources`]: rows come in a handful of combinations, so a million rows share a
/// handful of lists instead of holding a million.
#[derive(Default)]
struct SourceCache {
    /// Rows that matched no rule, by their bits.
    plain: [Option<Sources>; 16],
    /// Rows that matched rules, by `[bits, rule indices...]`.
    with_rules: foldhash::HashMap<Vec<u16>, Sources>,
    key: Vec<u16>,
}

impl SourceCache {
    fn get(
        &mut self,
        bits: u8,
        matched: &[u16],
        layout: &Layout,
        rules: Option<&Rules>,
    ) -> Sources {
        let build = || {
            let mut list = Vec::new();
            let column = |c: &Option<layout::Column>| {
                c.as_ref()
                    .map(|c| format!("column {:?}", &*c.name))
                    .unwrap_or_default()
            };
            if bits & FROM_ROLES != 0 {
                list.push(column(&layout.roles));
            }
            if bits & FROM_TEAMS != 0 {
                list.push(column(&layout.teams));
            }
            if bits & FROM_PROJECTS != 0 {
                list.push(column(&layout.projects));
            }
            if let Some(rules) = rules {
                list.extend(
                    matched
                        .iter()
                        .map(|&i| rules.rules[usize::from(i)].label.to_string()),
                );
            }
            if bits & FROM_DEFAULT != 0 {
                list.push("--default-role".to_owned());
            }
            Sources::new(list)
        };
        if matched.is_empty() {
            return self.plain[usize::from(bits & 15)]
                .get_or_insert_with(build)
                .clone();
        }
        self.key.clear();
        self.key.push(u16::from(bits));
        self.key.extend_from_slice(matched);
        if let Some(found) = self.with_rules.get(self.key.as_slice()) {
            return found.clone();
        }
        let sources = build();
        self.with_rules.insert(self.key.clone(), sources.clone());
        sources
    }
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

impl<'a> Builder<'a> {
    fn new(layout: Layout, options: &'a RosterOptions, delimiter: u8) -> Builder<'a> {
        let rules = options.rules.as_ref();
        Builder {
            layout,
            default_role: options.default_role,
            delimiter,
            rules,
            invitees: Vec::new(),
            invalid: Vec::new(),
            duplicates: Vec::new(),
            seen: foldhash::HashMap::default(),
            rows: 0,
            filtered_out: 0,
            rule_rows: vec![0; rules.map_or(0, |r| r.rules.len())],
            matched: Vec::new(),
            sources: SourceCache::default(),
        }
    }

    fn row(&mut self, record: &ByteRecord, line: u64) {
        if !self.layout.filters.is_empty() && !self.layout.keeps(record) {
            self.filtered_out += 1;
            return;
        }
        let unmatched = self.rules.map(|r| r.unmatched);
        if let Some(matcher) = &self.layout.matcher {
            matcher.matching(record, &mut self.matched);
            if self.matched.is_empty() && unmatched == Some(Unmatched::Skip) {
                self.filtered_out += 1;
                return;
            }
            for &i in &self.matched {
                self.rule_rows[usize::from(i)] += 1;
            }
        }
        self.rows += 1;
        let mut problems = Vec::new();
        let layout = &self.layout;

        let email_cell = cell(record, layout.email.index);
        let email = cells::email(email_cell, &layout.email.name, &mut problems);
        let mut bits = 0u8;
        let mut names: Option<Box<Names>> = None;
        let mut role_mask = match &layout.roles {
            Some(col) => cells::roles(cell(record, col.index), &col.name, &mut problems).0,
            None => 0,
        };
        if role_mask != 0 {
            bits |= FROM_ROLES;
        }
        let mut team_ids = match &layout.teams {
            Some(col) => {
                let text = cell(record, col.index);
                if !text.is_empty() {
                    bits |= FROM_TEAMS;
                }
                cells::teams(text, &col.name, &mut problems, &mut names)
            }
            None => Vec::new(),
        };
        let mut projects = match &layout.projects {
            Some(col) => {
                let text = cell(record, col.index);
                if !text.is_empty() {
                    bits |= FROM_PROJECTS;
                }
                cells::projects(text, &col.name, &mut problems, &mut names)
            }
            None => Vec::new(),
        };
        cells::extra_cells(record, layout.width, self.delimiter, &mut problems);
        if let Some(rules) = self.rules {
            for &i in &self.matched {
                rules.rules[usize::from(i)].apply(
                    &mut role_mask,
                    &mut team_ids,
                    &mut projects,
                    &mut names,
                );
            }
            if self.matched.is_empty() && rules.unmatched == Unmatched::Error {
                problems.push(unmatched_problem(rules, layout, record));
            }
        }
        let roles_defaulted = role_mask == 0;
        let roles = if roles_defaulted {
            bits |= FROM_DEFAULT;
            vec![self.default_role]
        } else {
            cells::roles_of(role_mask)
        };

        let grants = Grants {
            roles: &roles,
            team_ids: &team_ids,
            projects: &projects,
            names: names.as_deref(),
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
            Some(email) if problems.is_empty() => {
                let sources = self.sources.get(bits, &self.matched, layout, self.rules);
                self.invitees.push(Invitee {
                    line,
                    email,
                    roles,
                    roles_defaulted,
                    team_ids,
                    projects,
                    names,
                    sources,
                });
            }
            _ => self.invalid.push(InvalidRow {
                line,
                email: (!email_cell.is_empty()).then(|| clip(email_cell)),
                problems,
            }),
        }
    }

    fn finish(
        self,
        ignored_columns: Vec<String>,
        delimiter: u8,
        encoding: &'static Encoding,
    ) -> Roster {
        let rules = match self.rules {
            Some(rules) => rules
                .rules
                .iter()
                .zip(&self.rule_rows)
                .map(|(rule, &rows)| RuleUse {
                    label: rule.label.to_string(),
                    rows,
                })
                .collect(),
            None => Vec::new(),
        };
        Roster {
            columns: self.layout.columns(),
            invitees: self.invitees,
            invalid: self.invalid,
            duplicates: self.duplicates,
            ignored_columns,
            rows: self.rows,
            delimiter,
            filtered_out: self.filtered_out,
            encoding,
            rules,
        }
    }
}

/// The problem of a row no rule matches when the rules file says `unmatched = "error"`: named
/// after the first column the rules look at, with the row's values of all of them.
fn unmatched_problem(rules: &Rules, layout: &Layout, record: &ByteRecord) -> Problem {
    let columns = layout.matcher.as_ref().map_or(&[][..], |m| m.columns());
    let values: Vec<String> = columns
        .iter()
        .map(|(name, index)| format!("{name} = {:?}", cell(record, *index)))
        .collect();
    let (column, value) = match columns.first() {
        Some((name, index)) => (name.as_str(), cell(record, *index)),
        None => ("rules", ""),
    };
    Problem::new(
        column,
        value,
        format!(
            "no rule of {} matches this row ({}) and the file says unmatched = \"error\": add a \
             rule for it or leave the row out",
            rules.origin,
            values.join(", ")
        ),
    )
}
