//! Which column holds what: the header line mapped to the four fields (by `--*-column` or by
//! the accepted aliases), and the columns `--where` and the rules look at.

use std::sync::Arc;

use csv::ByteRecord;

use super::names::same_name;
use super::rules::{Matcher, Rule, Rules, fold};
use super::{
    ColumnMap, EMAIL_HEADERS, PROJECTS_HEADERS, ROLES_HEADERS, RosterError, RosterOptions,
    TEAMS_HEADERS, clean,
};

/// A mapped column: its position and its header as written.
#[derive(Debug, Clone)]
pub(super) struct Column {
    pub(super) index: usize,
    pub(super) name: Arc<str>,
}

/// A `--where COLUMN=VALUE`, bound to its column.
#[derive(Debug)]
pub(super) struct BoundFilter {
    pub(super) index: usize,
    /// The value, trimmed and lower-cased.
    pub(super) folded: String,
}

#[derive(Debug)]
pub(super) struct Layout {
    pub(super) email: Column,
    pub(super) roles: Option<Column>,
    pub(super) teams: Option<Column>,
    pub(super) projects: Option<Column>,
    /// Number of cells in the header.
    pub(super) width: usize,
    pub(super) filters: Vec<BoundFilter>,
    pub(super) matcher: Option<Matcher>,
}

/// (field description for messages, accepted headers, option overriding them)
const FIELDS: [(&str, &[&str], &str); 4] = [
    ("email address", &EMAIL_HEADERS, "--email-column"),
    ("organization roles", &ROLES_HEADERS, "--roles-column"),
    ("teams", &TEAMS_HEADERS, "--teams-column"),
    ("project roles", &PROJECTS_HEADERS, "--projects-column"),
];

/// The non-empty header cells: (position, name as written, trimmed).
struct Header {
    cells: Vec<(usize, String)>,
}

impl Header {
    /// The one position of the column named `name` (case-insensitively, trimmed), or an error
    /// naming `option` (what asked for it) and the headers there are.
    fn find(&self, name: &str, option: &str) -> Result<usize, RosterError> {
        let mut found = self
            .cells
            .iter()
            .filter(|(_, header)| same_name(header, name));
        match (found.next(), found.count()) {
            (Some((index, _)), 0) => Ok(*index),
            (Some(_), more) => Err(RosterError::AmbiguousColumn {
                option: option.to_owned(),
                column: name.trim().to_owned(),
                count: more + 1,
            }),
            (None, _) => Err(RosterError::UnknownColumn {
                option: option.to_owned(),
                column: name.trim().to_owned(),
                found: self.names(),
            }),
        }
    }

    fn names(&self) -> Vec<String> {
        self.cells.iter().map(|(_, name)| name.clone()).collect()
    }

    fn name_at(&self, index: usize) -> &str {
        self.cells
            .iter()
            .find(|(i, _)| *i == index)
            .map_or("", |(_, name)| name)
    }
}

fn overrides(columns: &ColumnMap) -> [Option<&str>; 4] {
    [
        columns.email.as_deref(),
        columns.roles.as_deref(),
        columns.teams.as_deref(),
        columns.projects.as_deref(),
    ]
}

impl Layout {
    /// Maps the header; returns the layout and the columns nothing uses (each named once).
    pub(super) fn from_header(
        header: &ByteRecord,
        line: u64,
        options: &RosterOptions,
    ) -> Result<(Layout, Vec<String>), RosterError> {
        let mut cells = Vec::new();
        for (index, raw) in header.iter().enumerate() {
            let text = std::str::from_utf8(raw).map_err(|_| RosterError::NotUtf8 { line })?;
            // A header name `export` guarded against formulas reads as it was written.
            let name = super::unguard(clean(text));
            if !name.is_empty() {
                cells.push((index, name.to_owned()));
            }
        }
        let header_cells = Header { cells };

        // Columns named on the command line come first; the aliases of a field named so are
        // not used, so that a second, alias-named column is simply ignored.
        let mut slots: [Option<usize>; 4] = [None; 4];
        for (field, name) in overrides(&options.columns).into_iter().enumerate() {
            let Some(name) = name else { continue };
            let index = header_cells.find(name, FIELDS[field].2)?;
            if let Some(other) = slots.iter().position(|s| *s == Some(index)) {
                return Err(RosterError::SameColumn {
                    column: header_cells.name_at(index).to_owned(),
                    first: FIELDS[other].0,
                    second: FIELDS[field].0,
                });
            }
            slots[field] = Some(index);
        }
        let overridden = slots.map(|s| s.is_some());
        for (index, name) in &header_cells.cells {
            if slots.contains(&Some(*index)) {
                continue;
            }
            let field = FIELDS
                .iter()
                .position(|(_, aliases, _)| aliases.iter().any(|a| a.eq_ignore_ascii_case(name)));
            let Some(field) = field.filter(|&f| !overridden[f]) else {
                continue;
            };
            if let Some(first) = slots[field] {
                return Err(RosterError::DuplicateColumn {
                    field: FIELDS[field].0,
                    option: FIELDS[field].2,
                    first: header_cells.name_at(first).to_owned(),
                    second: name.clone(),
                });
            }
            slots[field] = Some(*index);
        }
        let column = |slot: Option<usize>| {
            slot.map(|index| Column {
                index,
                name: Arc::from(header_cells.name_at(index)),
            })
        };
        let [email, roles, teams, projects] = slots.map(column);
        let email = email.ok_or_else(|| RosterError::NoEmailColumn {
            found: header_cells.names(),
        })?;

        let mut used: Vec<usize> = slots.iter().flatten().copied().collect();
        let mut filters = Vec::with_capacity(options.filters.len());
        for filter in &options.filters {
            let index = header_cells.find(&filter.column, "--where")?;
            used.push(index);
            filters.push(BoundFilter {
                index,
                folded: fold(&filter.value),
            });
        }
        let matcher = match &options.rules {
            Some(rules) => Some(Matcher::new(rules, |column, rule: &Rule| {
                let index = header_cells.find(column, &rule_option(rules, rule))?;
                used.push(index);
                Ok(index)
            })?),
            None => None,
        };

        let mut ignored: Vec<String> = Vec::new();
        for (index, name) in &header_cells.cells {
            if !used.contains(index) && !ignored.iter().any(|n| n == name) {
                ignored.push(name.clone());
            }
        }
        let layout = Layout {
            email,
            roles,
            teams,
            projects,
            width: header.len(),
            filters,
            matcher,
        };
        Ok((layout, ignored))
    }

    pub(super) fn columns(&self) -> ColumnMap {
        let name = |c: &Option<Column>| c.as_ref().map(|c| c.name.to_string());
        ColumnMap {
            email: Some(self.email.name.to_string()),
            roles: name(&self.roles),
            teams: name(&self.teams),
            projects: name(&self.projects),
        }
    }

    /// Whether the row passes every `--where`.
    pub(super) fn keeps(&self, record: &ByteRecord) -> bool {
        self.filters.iter().all(|filter| {
            super::rules::matches_folded(super::cell(record, filter.index), &filter.folded)
        })
    }
}

/// How an unknown column of a rule is reported: `rule 2 of rules.toml`.
fn rule_option(rules: &Rules, rule: &Rule) -> String {
    format!("{} of the rules file {}", rule.origin, rules.origin)
}
