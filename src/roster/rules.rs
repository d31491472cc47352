//! Department rules: a TOML file that grants organization roles, teams and project roles to
//! rows according to the values of any of their columns. This is policy, not parsing: the
//! roster reads the cells, this module says which rules a row matches and what they grant.
//!
//! ```toml
//! unmatched = "default-role"            # or "error", or "skip"
//!
//! [[rule]]
//! name = "engineering"                  # optional, shown in reports
//! when = { Department = "Engineering" }
//! roles = ["ORG_MEMBER"]
//! teams = ["Platform", "On-call"]       # names or ids
//! projects = { "Prod" = ["GROUP_READ_ONLY"], "Staging" = ["GROUP_OWNER"] }
//!
//! [[rule]]
//! when = { Department = ["Sales", "Marketing"], Title = "Manager" }
//! roles = ["ORG_BILLING_READ_ONLY"]
//! ```
//!
//! - `when` compares cells with values after trimming both, case-insensitively. Several columns
//!   must all match; a list of values matches when any of them does; a rule without `when` (or
//!   with `when = {}`) matches every row. Numbers are compared as written (`4100`).
//! - Every rule a row matches applies, and the grants add up with those of the row's own roles,
//!   teams and projects cells. A row that ends up with no organization role gets
//!   `--default-role`.
//! - `unmatched` says what becomes of a row no rule matches: `default-role` (the default) reads
//!   it as if there were no rules file, `error` makes it invalid, `skip` leaves it out of the run
//!   like `--where` does.
//!
//! Rules are numbered from 1 in file order; reports name them `rule 2 (Department =
//! Engineering)`, with the `name` when there is one.

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use csv::ByteRecord;
use serde::Deserialize;

use super::cells::{self, role_bit};
use super::names::{Names, Written, classify};
use crate::atlas::model::{GroupRoleAssignment, OrgRole, parse_group_role};

/// What becomes of a row that no rule matches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Unmatched {
    /// The row is read as if there were no rules: its cells, else `--default-role`.
    #[default]
    DefaultRole,
    /// The row is invalid.
    Error,
    /// The row is left out of the run, like a row `--where` filters out.
    Skip,
}

impl Unmatched {
    pub fn as_str(self) -> &'static str {
        match self {
            Unmatched::DefaultRole => "default-role",
            Unmatched::Error => "error",
            Unmatched::Skip => "skip",
        }
    }
}

/// A whole rules file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// The file as it was named, for messages.
    pub origin: String,
    pub unmatched: Unmatched,
    /// In file order; `rules[i].number == i + 1`.
    pub rules: Vec<Rule>,
}

/// One `[[rule]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// 1-based position in the file.
    pub number: usize,
    pub name: Option<String>,
    /// All must match.
    pub when: Vec<Condition>,
    pub roles: Vec<OrgRole>,
    pub team_ids: Vec<String>,
    pub team_names: Vec<Arc<str>>,
    pub projects: Vec<GroupRoleAssignment>,
    pub project_names: Vec<(Arc<str>, Vec<String>)>,
    /// `rule 2 (Department = Engineering)`: how reports name the rule.
    pub label: Arc<str>,
    /// `rule 2`: the "column" of a problem with a name this rule gives.
    pub origin: Arc<str>,
}

/// `Column = value` or `Column = [values]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The header, as written in the rules file (matched case-insensitively).
    pub column: String,
    /// Values as written.
    pub values: Vec<String>,
    /// Values trimmed and lower-cased, for matching.
    folded: Vec<String>,
}

/// A rules file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("cannot read the rules file {}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("rules file {origin}: {message}")]
    Invalid { origin: String, message: String },
}

/// Most rules in one file: rule numbers are kept in 16 bits per row.
const MAX_RULES: usize = u16::MAX as usize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    unmatched: Option<String>,
    #[serde(default)]
    rule: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: Option<String>,
    #[serde(default)]
    when: toml::Table,
    roles: Option<toml::Value>,
    teams: Option<toml::Value>,
    projects: Option<toml::Table>,
}

impl Rules {
    /// Reads and checks the rules file at `path`.
    pub fn load(path: &Path) -> Result<Rules, RulesError> {
        let text = std::fs::read_to_string(path).map_err(|source| RulesError::Io {
            path: path.to_owned(),
            source,
        })?;
        Rules::parse(&text, &path.display().to_string())
    }

    /// Parses and checks a rules file's text; `origin` names it in messages.
    pub fn parse(text: &str, origin: &str) -> Result<Rules, RulesError> {
        let invalid = |message: String| RulesError::Invalid {
            origin: origin.to_owned(),
            message,
        };
        let raw: RawFile = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let unmatched = match raw.unmatched.as_deref().map(str::trim) {
            None => Unmatched::DefaultRole,
            Some(text) => match text.to_ascii_lowercase().replace('_', "-").as_str() {
                "default-role" | "default" => Unmatched::DefaultRole,
                "error" => Unmatched::Error,
                "skip" => Unmatched::Skip,
                _ => {
                    return Err(invalid(format!(
                        "unmatched = {text:?}: expected \"default-role\", \"error\" or \"skip\""
                    )));
                }
            },
        };
        if raw.rule.len() > MAX_RULES {
            return Err(invalid(format!("more than {MAX_RULES} rules")));
        }
        let rules = raw
            .rule
            .into_iter()
            .enumerate()
            .map(|(i, rule)| {
                Rule::from_raw(i + 1, rule)
                    .map_err(|message| invalid(format!("rule {}: {message}", i + 1)))
            })
            .collect::<Result<Vec<Rule>, RulesError>>()?;
        Ok(Rules {
            origin: origin.to_owned(),
            unmatched,
            rules,
        })
    }

    /// Every column the rules look at, as written in the file, each once (case-insensitively).
    pub fn columns(&self) -> Vec<&str> {
        let mut columns: Vec<&str> = Vec::new();
        for condition in self.rules.iter().flat_map(|r| &r.when) {
            if !columns
                .iter()
                .any(|c| c.eq_ignore_ascii_case(&condition.column))
            {
                columns.push(&condition.column);
            }
        }
        columns
    }
}

impl Rule {
    fn from_raw(number: usize, raw: RawRule) -> Result<Rule, String> {
        let mut when = Vec::with_capacity(raw.when.len());
        for (column, value) in raw.when {
            let values = strings(&value).map_err(|what| format!("when.{column}: {what}"))?;
            if column.trim().is_empty() {
                return Err("when: a column name is empty".to_owned());
            }
            if values.is_empty() {
                return Err(format!("when.{column}: the list of values is empty"));
            }
            let folded = values.iter().map(|v| fold(v)).collect();
            when.push(Condition {
                column: column.trim().to_owned(),
                values,
                folded,
            });
        }

        let mut mask = 0u8;
        for role in optional_strings(raw.roles.as_ref()).map_err(|what| format!("roles: {what}"))? {
            match OrgRole::parse(&role) {
                Some(parsed) => mask |= role_bit(parsed),
                None => return Err(format!("roles: {}", org_role_message(&role))),
            }
        }
        let roles: Vec<OrgRole> = OrgRole::ALL
            .into_iter()
            .filter(|&role| mask & role_bit(role) != 0)
            .collect();

        let mut team_ids: Vec<String> = Vec::new();
        let mut team_names: Vec<Arc<str>> = Vec::new();
        for team in optional_strings(raw.teams.as_ref()).map_err(|what| format!("teams: {what}"))? {
            let team = team.trim();
            match classify(team) {
                Ok(Written::Id(id)) if !team_ids.iter().any(|t| t == id) => {
                    team_ids.push(id.to_owned())
                }
                Ok(Written::Id(_)) => {}
                Ok(Written::Name("")) => return Err("teams: an empty team name".to_owned()),
                Ok(Written::Name(name)) => {
                    if !team_names.iter().any(|t| super::names::same_name(t, name)) {
                        team_names.push(Arc::from(name));
                    }
                }
                Err(()) => {
                    return Err(format!(
                        "teams: {team:?}: {}",
                        cells::id_message("team", team)
                    ));
                }
            }
        }

        let mut projects: Vec<GroupRoleAssignment> = Vec::new();
        let mut project_names: Vec<(Arc<str>, Vec<String>)> = Vec::new();
        for (project, value) in raw.projects.unwrap_or_default() {
            let project = project.trim().to_owned();
            let mut roles = Vec::new();
            for role in strings(&value).map_err(|what| format!("projects.{project}: {what}"))? {
                let Some(parsed) = parse_group_role(&role) else {
                    return Err(format!(
                        "projects.{project}: {}",
                        cells::group_role_message(role.trim())
                    ));
                };
                if !roles.contains(&parsed) {
                    roles.push(parsed);
                }
            }
            if roles.is_empty() {
                return Err(format!("projects.{project}: no project role given"));
            }
            match classify(&project) {
                Ok(Written::Id(id)) => projects.push(GroupRoleAssignment {
                    group_id: id.to_owned(),
                    roles,
                }),
                Ok(Written::Name("")) => {
                    return Err("projects: an empty project name".to_owned());
                }
                Ok(Written::Name(name)) => project_names.push((Arc::from(name), roles)),
                Err(()) => {
                    return Err(format!(
                        "projects: {project:?}: {}",
                        cells::id_message("project", &project)
                    ));
                }
            }
        }

        if roles.is_empty()
            && team_ids.is_empty()
            && team_names.is_empty()
            && projects.is_empty()
            && project_names.is_empty()
        {
            return Err("grants nothing: give it roles, teams or projects".to_owned());
        }
        let name = raw
            .name
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty());
        let label = label(number, name.as_deref(), &when);
        Ok(Rule {
            number,
            name,
            when,
            roles,
            team_ids,
            team_names,
            projects,
            project_names,
            label: Arc::from(label),
            origin: Arc::from(format!("rule {number}")),
        })
    }

    /// Adds what the rule grants to a row's grants.
    pub(super) fn apply(
        &self,
        roles: &mut u8,
        team_ids: &mut Vec<String>,
        projects: &mut Vec<GroupRoleAssignment>,
        names: &mut Option<Box<Names>>,
    ) {
        for &role in &self.roles {
            *roles |= role_bit(role);
        }
        for id in &self.team_ids {
            if !team_ids.contains(id) {
                team_ids.push(id.clone());
            }
        }
        for assignment in &self.projects {
            match projects
                .iter_mut()
                .find(|p| p.group_id == assignment.group_id)
            {
                Some(project) => {
                    for role in &assignment.roles {
                        if !project.roles.contains(role) {
                            project.roles.push(role.clone());
                        }
                    }
                }
                None => projects.push(assignment.clone()),
            }
        }
        if !self.team_names.is_empty() || !self.project_names.is_empty() {
            let names = names.get_or_insert_with(Box::default);
            for name in &self.team_names {
                names.add_team(name, &self.origin);
            }
            for (name, roles) in &self.project_names {
                for role in roles {
                    names.add_project_role(name, &self.origin, role);
                }
            }
        }
    }
}

/// `rule 2 "eng" (Department = Engineering, Title = Manager|Lead)`.
fn label(number: usize, name: Option<&str>, when: &[Condition]) -> String {
    let mut label = format!("rule {number}");
    if let Some(name) = name {
        let _ = write!(label, " {name:?}");
    }
    if when.is_empty() {
        label.push_str(" (every row)");
    } else {
        let conditions: Vec<String> = when
            .iter()
            .map(|c| format!("{} = {}", c.column, c.values.join("|")))
            .collect();
        let _ = write!(label, " ({})", conditions.join(", "));
    }
    label
}

fn org_role_message(role: &str) -> String {
    let all: Vec<&str> = OrgRole::ALL.iter().map(|r| r.as_str()).collect();
    match parse_group_role(role) {
        Some(group_role) if role.trim().to_ascii_uppercase().starts_with("GROUP") => format!(
            "{group_role} is a project role, not an organization role: put it under projects, \
             like projects = {{ \"Prod\" = [\"{group_role}\"] }}"
        ),
        _ => format!(
            "unknown organization role {role:?} (expected one of {})",
            all.join(", ")
        ),
    }
}

/// A string, a number, or a list of them, as strings.
fn strings(value: &toml::Value) -> Result<Vec<String>, String> {
    match value {
        toml::Value::Array(items) => items.iter().map(scalar).collect(),
        other => scalar(other).map(|s| vec![s]),
    }
}

fn optional_strings(value: Option<&toml::Value>) -> Result<Vec<String>, String> {
    value.map_or(Ok(Vec::new()), strings)
}

fn scalar(value: &toml::Value) -> Result<String, String> {
    match value {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(i) => Ok(i.to_string()),
        other => Err(format!(
            "expected a string or a list of strings, found a {}",
            other.type_str()
        )),
    }
}

/// Trimmed and lower-cased, the form values are compared in.
pub(super) fn fold(text: &str) -> String {
    text.trim().to_lowercase()
}

/// Whether a trimmed cell equals a [`fold`]ed value, case-insensitively.
pub(super) fn matches_folded(cell: &str, folded: &str) -> bool {
    if cell.is_ascii() {
        cell.eq_ignore_ascii_case(folded)
    } else {
        cell.to_lowercase() == folded
    }
}

/// The rules bound to the columns of one file's header.
#[derive(Debug)]
pub(super) struct Matcher {
    /// Per rule, its conditions as (column index, folded values).
    conditions: Vec<Vec<(usize, Vec<String>)>>,
    /// Every column the rules look at, once: (name as the rules write it, index).
    columns: Vec<(String, usize)>,
}

impl Matcher {
    /// Binds every condition to its column; `index_of` finds a header (or fails, naming it).
    pub(super) fn new<E>(
        rules: &Rules,
        mut index_of: impl FnMut(&str, &Rule) -> Result<usize, E>,
    ) -> Result<Matcher, E> {
        let mut conditions = Vec::with_capacity(rules.rules.len());
        let mut columns: Vec<(String, usize)> = Vec::new();
        for rule in &rules.rules {
            let mut bound = Vec::with_capacity(rule.when.len());
            for condition in &rule.when {
                let index = index_of(&condition.column, rule)?;
                if !columns.iter().any(|(_, i)| *i == index) {
                    columns.push((condition.column.clone(), index));
                }
                bound.push((index, condition.folded.clone()));
            }
            conditions.push(bound);
        }
        Ok(Matcher {
            conditions,
            columns,
        })
    }

    /// Every column the rules look at, once: (name as the rules write it, index).
    pub(super) fn columns(&self) -> &[(String, usize)] {
        &self.columns
    }

    /// Writes the indices (0-based) of the rules `record` matches into `out`.
    pub(super) fn matching(&self, record: &ByteRecord, out: &mut Vec<u16>) {
        out.clear();
        for (i, conditions) in self.conditions.iter().enumerate() {
            let all = conditions.iter().all(|(column, values)| {
                let cell = super::cell(record, *column);
                values.iter().any(|v| matches_folded(cell, v))
            });
            if all {
                // At most MAX_RULES rules, so the index fits.
                out.push(i as u16);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
unmatched = "error"

[[rule]]
name = "engineering"
when = { Department = "Engineering" }
roles = ["ORG_MEMBER"]
teams = ["Platform", "On-call", "5f1e2d3c4b5a697887766554"]
projects = { "Prod" = ["GROUP_READ_ONLY"], "Staging" = "owner", "6a0b1c2d3e4f5a6b7c8d9e0f" = ["read only"] }

[[rule]]
when = { Department = ["Sales", "Marketing"], "Cost Center" = 4100 }
roles = "billing read only"
"#;

    #[test]
    fn the_documented_example_parses() {
        let rules = Rules::parse(EXAMPLE, "rules.toml").unwrap();
        assert_eq!(rules.unmatched, Unmatched::Error);
        let [eng, sales] = rules.rules.as_slice() else {
            panic!("{rules:?}")
        };
        assert_eq!(
            &*eng.label,
            "rule 1 \"engineering\" (Department = Engineering)"
        );
        assert_eq!(eng.roles, [OrgRole::OrgMember]);
        assert_eq!(eng.team_ids, ["5f1e2d3c4b5a697887766554"]);
        assert_eq!(
            eng.team_names.iter().map(|n| &**n).collect::<Vec<_>>(),
            ["Platform", "On-call"]
        );
        assert_eq!(eng.projects[0].roles, ["GROUP_READ_ONLY"]);
        assert_eq!(eng.project_names.len(), 2);
        assert_eq!(eng.project_names[1].1, ["GROUP_OWNER"]);
        assert_eq!(
            &*sales.label,
            "rule 2 (Department = Sales|Marketing, Cost Center = 4100)"
        );
        assert_eq!(sales.roles, [OrgRole::OrgBillingReadOnly]);
        assert_eq!(rules.columns(), ["Department", "Cost Center"]);
    }

    fn error(text: &str) -> String {
        Rules::parse(text, "r.toml").unwrap_err().to_string()
    }

    #[test]
    fn mistakes_name_the_rule_and_the_value() {
        let e = error("[[rule]]\nwhen = { A = \"x\" }\nroles = [\"admin\"]\n");
        assert!(
            e.starts_with("rules file r.toml: rule 1: roles: unknown organization role \"admin\""),
            "{e}"
        );
        let e = error("[[rule]]\nroles = [\"member\"]\n[[rule]]\nroles = [\"GROUP_OWNER\"]\n");
        assert!(
            e.contains("rule 2: roles: GROUP_OWNER is a project role"),
            "{e}"
        );
        let e = error("[[rule]]\nprojects = { Prod = [\"boss\"] }\n");
        assert!(
            e.contains("projects.Prod: unknown project role \"boss\""),
            "{e}"
        );
        let e = error("[[rule]]\nrole = [\"member\"]\n");
        assert!(e.contains("unknown field `role`"), "{e}");
        let e = error("[[rule]]\nwhen = { A = \"x\" }\n");
        assert!(e.contains("grants nothing"), "{e}");
        let e = error("unmatched = \"ignore\"\n");
        assert!(e.contains("\"default-role\", \"error\" or \"skip\""), "{e}");
        let e = error("[[rule]]\nteams = [\"5f1e2d3c4b5a69788776655g\"]\n");
        assert!(e.contains("not a team id"), "{e}");
        let e = error("[[rule]]\nwhen = { A = true }\nroles = \"member\"\n");
        assert!(e.contains("when.A: expected a string"), "{e}");
        let e = error("[[rule]\n");
        assert!(e.contains("line 1"), "{e}");
    }

    #[test]
    fn defaults_and_catch_all_rules() {
        let rules = Rules::parse("[[rule]]\nteams = [\"All staff\"]\n", "r.toml").unwrap();
        assert_eq!(rules.unmatched, Unmatched::DefaultRole);
        assert_eq!(&*rules.rules[0].label, "rule 1 (every row)");
        let skip = Rules::parse("unmatched = \"Skip\"\n", "r.toml").unwrap();
        assert_eq!(skip.unmatched, Unmatched::Skip);
        assert!(skip.rules.is_empty());
    }

    #[test]
    fn matching_is_trimmed_case_insensitive_and_needs_every_column() {
        let rules = Rules::parse(EXAMPLE, "rules.toml").unwrap();
        // Header: Email, Department, Cost Center.
        let matcher = Matcher::new(&rules, |column, _| -> Result<usize, ()> {
            Ok(match column {
                "Department" => 1,
                "Cost Center" => 2,
                _ => unreachable!(),
            })
        })
        .unwrap();
        let mut out = Vec::new();
        let record = ByteRecord::from(vec!["a@example.com", " engineering ", ""]);
        matcher.matching(&record, &mut out);
        assert_eq!(out, [0]);
        let record = ByteRecord::from(vec!["a@example.com", "MARKETING", "4100"]);
        matcher.matching(&record, &mut out);
        assert_eq!(out, [1]);
        let record = ByteRecord::from(vec!["a@example.com", "Marketing", "4200"]);
        matcher.matching(&record, &mut out);
        assert!(out.is_empty());
        assert!(matches_folded("Données", &fold(" DONNÉES")));
    }
}

#[cfg(test)]
mod readme {
    /// The README's example rules file is a valid one.
    #[test]
    fn the_readme_example_parses() {
        let readme = include_str!("../../README.md");
        let start = readme
            .find("```toml\n# What becomes of a row no rule matches")
            .expect("the README has the rules example");
        let body = &readme[start + "```toml\n".len()..];
        let example = &body[..body.find("```").unwrap()];
        let rules = super::Rules::parse(example, "README.md").unwrap();
        assert_eq!(rules.rules.len(), 4);
        assert_eq!(rules.unmatched, super::Unmatched::Error);
        assert_eq!(&*rules.rules[3].label, "rule 4 (every row)");
    }
}
