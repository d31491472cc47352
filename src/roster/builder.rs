//! One data row at a time: a CSV record becomes a [`RowOutcome`] (or is filtered out), and the
//! counts of the file grow. Nothing of a row is kept once it is handed over, except what the
//! [`DuplicateIndex`] needs to recognise the same person later.

use csv::ByteRecord;
use encoding_rs::Encoding;

use super::cells::{self, clip};
use super::dedup::{DuplicateIndex, GrantsPrint, Sighting};
use super::layout::{self, Layout};
use super::{
    Duplicate, InvalidRow, Invitee, Names, Problem, RosterOptions, RosterSummary, RowOutcome,
    RuleUse, Rules, Sources, Unmatched, cell, email_cell,
};
use crate::atlas::model::OrgRole;
use crate::vocab::EmailKey;

pub(super) struct Builder<'a> {
    layout: Layout,
    default_role: OrgRole,
    delimiter: u8,
    rules: Option<&'a Rules>,
    seen: DuplicateIndex,
    rows: usize,
    valid: usize,
    invalid: usize,
    duplicates: usize,
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

impl<'a> Builder<'a> {
    pub(super) fn new(layout: Layout, options: &'a RosterOptions, delimiter: u8) -> Builder<'a> {
        let rules = options.rules.as_ref();
        Builder {
            layout,
            default_role: options.default_role,
            delimiter,
            rules,
            seen: DuplicateIndex::default(),
            rows: 0,
            valid: 0,
            invalid: 0,
            duplicates: 0,
            filtered_out: 0,
            rule_rows: vec![0; rules.map_or(0, |r| r.rules.len())],
            matched: Vec::new(),
            sources: SourceCache::default(),
        }
    }

    /// Whether the row is part of the run: it passes every `--where`, and the rules do not skip
    /// it. Counts it either way, and leaves the rules it matches in `self.matched`.
    pub(super) fn keeps(&mut self, record: &ByteRecord) -> bool {
        if !self.layout.filters.is_empty() && !self.layout.keeps(record) {
            self.filtered_out += 1;
            return false;
        }
        self.matched.clear();
        if let Some(matcher) = &self.layout.matcher {
            matcher.matching(record, &mut self.matched);
            let unmatched = self.rules.map(|r| r.unmatched);
            if self.matched.is_empty() && unmatched == Some(Unmatched::Skip) {
                self.filtered_out += 1;
                return false;
            }
            for &i in &self.matched {
                self.rule_rows[usize::from(i)] += 1;
            }
        }
        self.rows += 1;
        true
    }

    /// Reads one data row; `None` when it is filtered out.
    pub(super) fn row(&mut self, record: &ByteRecord, line: u64) -> Option<RowOutcome> {
        if !self.keeps(record) {
            return None;
        }
        let outcome = self.validate(record, line);
        match &outcome {
            RowOutcome::Valid(_) => self.valid += 1,
            RowOutcome::Invalid(_) => self.invalid += 1,
            RowOutcome::Duplicate(_) => self.duplicates += 1,
        }
        Some(outcome)
    }

    fn validate(&mut self, record: &ByteRecord, line: u64) -> RowOutcome {
        let mut problems = Vec::new();
        let layout = &self.layout;

        let email_cell = email_cell(record, layout.email.index);
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

        if let Some(email) = &email {
            let print = || GrantsPrint::of(&roles, &team_ids, &projects, names.as_deref());
            let clean = problems.is_empty();
            if let Sighting::Again {
                first_line: first,
                first: kept,
            } = self
                .seen
                .sighting(EmailKey::of(email).into(), line, || clean.then(print))
            {
                let column = &layout.email.name;
                let message = match kept {
                    _ if !clean => {
                        format!("same person as line {first}: keep one row per person")
                    }
                    None => format!(
                        "same person as line {first}, which has problems: fix line {first} and \
                         delete this row"
                    ),
                    Some(kept) => match print().differences(&kept) {
                        None => {
                            return RowOutcome::Duplicate(Duplicate {
                                line,
                                first_line: first,
                                email: email.clone(),
                            });
                        }
                        Some(what) => format!(
                            "same person as line {first} but with different {what}: keep one \
                             row per person and merge the grants into line {first}"
                        ),
                    },
                };
                problems.push(Problem::new(column, email, message));
            }
        }

        match email {
            Some(email) if problems.is_empty() => {
                let sources = self.sources.get(bits, &self.matched, layout, self.rules);
                RowOutcome::Valid(Invitee {
                    line,
                    email,
                    roles,
                    roles_defaulted,
                    team_ids,
                    projects,
                    names,
                    sources,
                })
            }
            _ => RowOutcome::Invalid(InvalidRow {
                line,
                email: (!email_cell.is_empty()).then(|| clip(email_cell)),
                problems,
            }),
        }
    }

    /// What was learnt about the file, once its rows are read.
    pub(super) fn finish(
        self,
        ignored_columns: Vec<String>,
        encoding: &'static Encoding,
    ) -> RosterSummary {
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
        RosterSummary {
            columns: self.layout.columns(),
            ignored_columns,
            rows: self.rows,
            valid: self.valid,
            invalid: self.invalid,
            duplicates: self.duplicates,
            delimiter: self.delimiter,
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
