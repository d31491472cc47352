//! Teams and projects written by name instead of id, and their resolution.
//!
//! A team or project item that is a 24-character lower-case hexadecimal id is an id; an item
//! that looks like a mistyped id (20 to 28 characters, all but at most two of them hexadecimal
//! digits) is an error; anything else is a name. Names stay in [`Invitee::names`] until
//! [`resolve_names`] looks them up, case-insensitively, in the organization's lists (read once
//! per run by the `run` command), and either turns them into ids or turns the row into an
//! [`InvalidRow`] naming the line, the column and the name, with the candidate ids when the name
//! is ambiguous. Reading the lists needs the network; this module does not: it takes them as
//! [`NameIndex`]es.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use super::{InvalidRow, Invitee, Problem, Roster};
use crate::atlas::model::{GroupRoleAssignment, is_atlas_id};

/// Teams and projects a row names, before resolution.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Names {
    /// Team names, deduplicated case-insensitively, in first-seen order.
    pub teams: Vec<NamedItem>,
    /// Project names with their roles, one entry per project (case-insensitively).
    pub projects: Vec<NamedProject>,
}

/// A team written by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamedItem {
    /// The name as written (trimmed).
    pub name: Arc<str>,
    /// Where it was written: the header of the column, or `rule N` for a rules file.
    pub origin: Arc<str>,
}

/// A project written by name, with the roles asked for in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamedProject {
    pub name: Arc<str>,
    pub origin: Arc<str>,
    /// Project roles (`GROUP_*`), deduplicated, in first-seen order.
    pub roles: Vec<String>,
}

impl Names {
    pub fn is_empty(&self) -> bool {
        self.teams.is_empty() && self.projects.is_empty()
    }

    /// Adds a team name unless the same name (case-insensitively) is there already.
    pub(super) fn add_team(&mut self, name: &Arc<str>, origin: &Arc<str>) {
        if !self.teams.iter().any(|t| same_name(&t.name, name)) {
            self.teams.push(NamedItem {
                name: Arc::clone(name),
                origin: Arc::clone(origin),
            });
        }
    }

    /// Adds `role` for the project named `name`, merging with an earlier entry of that name.
    pub(super) fn add_project_role(&mut self, name: &Arc<str>, origin: &Arc<str>, role: &str) {
        match self.projects.iter_mut().find(|p| same_name(&p.name, name)) {
            Some(project) => {
                if !project.roles.iter().any(|r| r == role) {
                    project.roles.push(role.to_owned());
                }
            }
            None => self.projects.push(NamedProject {
                name: Arc::clone(name),
                origin: Arc::clone(origin),
                roles: vec![role.to_owned()],
            }),
        }
    }

    /// Whether both name the same teams and the same projects with the same roles, ignoring
    /// order and case: what the duplicate index's fingerprints of names stand for (its tests
    /// check the two agree).
    #[cfg(test)]
    pub(super) fn same_as(&self, other: &Names) -> bool {
        let teams = self.teams.len() == other.teams.len()
            && self
                .teams
                .iter()
                .all(|t| other.teams.iter().any(|u| same_name(&t.name, &u.name)));
        let projects = self.projects.len() == other.projects.len()
            && self.projects.iter().all(|p| {
                other.projects.iter().any(|q| {
                    same_name(&p.name, &q.name)
                        && p.roles.len() == q.roles.len()
                        && p.roles.iter().all(|r| q.roles.contains(r))
                })
            });
        teams && projects
    }
}

/// Names compare case-insensitively (Unicode lower case), after trimming.
pub(crate) fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim(), b.trim());
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        a.to_lowercase() == b.to_lowercase()
    }
}

/// The key a name is looked up under.
pub(super) fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// How a team or project item is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Written<'a> {
    Id(&'a str),
    Name(&'a str),
}

/// Sorts an item into an id or a name; `Err` when it looks like a mistyped id.
pub(crate) fn classify(item: &str) -> Result<Written<'_>, ()> {
    if is_atlas_id(item) {
        return Ok(Written::Id(item));
    }
    let chars = item.chars().count();
    let not_hex = item.chars().filter(|c| !c.is_ascii_hexdigit()).count();
    if (20..=28).contains(&chars) && not_hex <= 2 {
        Err(())
    } else {
        Ok(Written::Name(item))
    }
}

/// One list of an organization (its teams, or its projects) by name.
#[derive(Debug, Clone, Default)]
pub struct NameIndex {
    /// `team` or `project`, for messages.
    kind: &'static str,
    /// Lower-cased name → every `(id, name as Atlas has it)` with that name.
    by_name: HashMap<String, Vec<(String, String)>>,
    len: usize,
}

impl NameIndex {
    /// Indexes `(id, name)` pairs; `kind` is `team` or `project`.
    pub fn new(kind: &'static str, items: impl IntoIterator<Item = (String, String)>) -> NameIndex {
        let mut index = NameIndex {
            kind,
            ..NameIndex::default()
        };
        for (id, name) in items {
            index.len += 1;
            index
                .by_name
                .entry(name_key(&name))
                .or_default()
                .push((id, name));
        }
        index
    }

    /// How many items the list has.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The id of the one item named `name`; otherwise why not, as a [`Problem`] message.
    pub fn lookup(&self, name: &str) -> Result<&str, String> {
        let kind = self.kind;
        match self.by_name.get(&name_key(name)).map(Vec::as_slice) {
            Some([(id, _)]) => Ok(id),
            Some(found) if !found.is_empty() => {
                let candidates: Vec<String> = found
                    .iter()
                    .map(|(id, n)| format!("{id} ({n:?})"))
                    .collect();
                Err(format!(
                    "ambiguous {kind} name: {} {kind}s of the organization are named so (names \
                     compare case-insensitively): {}; write the id of the one you mean",
                    found.len(),
                    candidates.join(", ")
                ))
            }
            _ => Err(format!(
                "no {kind} of the organization is named so (it has {} {kind}s; names compare \
                 case-insensitively): check the spelling, or write the {kind}'s id",
                self.len
            )),
        }
    }
}

impl Roster {
    /// Whether some valid row names teams, and whether some names projects: which lists
    /// [`resolve_names`] needs.
    pub fn names_needed(&self) -> (bool, bool) {
        let mut teams = false;
        let mut projects = false;
        for names in self.invitees.iter().filter_map(|i| i.names.as_deref()) {
            teams |= !names.teams.is_empty();
            projects |= !names.projects.is_empty();
        }
        (teams, projects)
    }
}

/// Replaces every team and project name of the roster's valid rows by its id. A row with a name
/// that is unknown or ambiguous becomes invalid, with one [`Problem`] per such name; nothing of
/// it is sent. Returns how many rows became invalid.
pub fn resolve_names(roster: &mut Roster, teams: &NameIndex, projects: &NameIndex) -> usize {
    if !roster.invitees.iter().any(|i| i.names.is_some()) {
        return 0;
    }
    let mut kept = Vec::with_capacity(roster.invitees.len());
    let mut failed = 0;
    for invitee in std::mem::take(&mut roster.invitees) {
        match resolve_invitee(invitee, teams, projects) {
            Ok(invitee) => kept.push(invitee),
            Err(row) => {
                failed += 1;
                roster.invalid.push(row);
            }
        }
    }
    roster.invitees = kept;
    if failed > 0 {
        // Invalid rows are listed in file order; the stable sort keeps rows of one line (there
        // are none) in place.
        roster.invalid.sort_by_key(|row| row.line);
    }
    failed
}

/// Replaces the team and project names of one valid row by their ids; the row as an
/// [`InvalidRow`] when a name is unknown or ambiguous, with one [`Problem`] per such name. A row
/// without names is returned as it is.
pub fn resolve_invitee(
    mut invitee: Invitee,
    teams: &NameIndex,
    projects: &NameIndex,
) -> Result<Invitee, InvalidRow> {
    let Some(names) = invitee.names.take() else {
        return Ok(invitee);
    };
    let mut problems = Vec::new();
    for team in &names.teams {
        match teams.lookup(&team.name) {
            Ok(id) => {
                if !invitee.team_ids.iter().any(|t| t == id) {
                    invitee.team_ids.push(id.to_owned());
                }
            }
            Err(message) => problems.push(Problem::new(&team.origin, &team.name, message)),
        }
    }
    for project in &names.projects {
        match projects.lookup(&project.name) {
            Ok(id) => merge_project(&mut invitee.projects, id, &project.roles),
            Err(message) => problems.push(Problem::new(&project.origin, &project.name, message)),
        }
    }
    if problems.is_empty() {
        Ok(invitee)
    } else {
        Err(InvalidRow {
            line: invitee.line,
            email: Some(invitee.email),
            problems,
        })
    }
}

/// The distinct team and project names of a file's valid rows, gathered while streaming it:
/// enough to know which lists to read and whether every name resolves, without keeping rows.
#[derive(Debug, Clone, Default)]
pub struct NameSet {
    /// Lower-cased name → the name as first written.
    teams: HashMap<String, Arc<str>>,
    projects: HashMap<String, Arc<str>>,
}

impl NameSet {
    /// Adds the names of one valid row.
    pub fn add(&mut self, names: &Names) {
        for team in &names.teams {
            self.teams
                .entry(name_key(&team.name))
                .or_insert_with(|| Arc::clone(&team.name));
        }
        for project in &names.projects {
            self.projects
                .entry(name_key(&project.name))
                .or_insert_with(|| Arc::clone(&project.name));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.teams.is_empty() && self.projects.is_empty()
    }

    /// Whether some row names teams, and whether some names projects: which lists to read.
    pub fn needed(&self) -> (bool, bool) {
        (!self.teams.is_empty(), !self.projects.is_empty())
    }

    /// Whether every name is found, once, in its list: when not, some row becomes invalid.
    pub fn all_resolve(&self, teams: &NameIndex, projects: &NameIndex) -> bool {
        self.teams.values().all(|name| teams.lookup(name).is_ok())
            && self
                .projects
                .values()
                .all(|name| projects.lookup(name).is_ok())
    }
}

/// Adds `roles` for project `id`, merging with an assignment already there.
fn merge_project(projects: &mut Vec<GroupRoleAssignment>, id: &str, roles: &[String]) {
    match projects.iter_mut().find(|p| p.group_id == id) {
        Some(project) => {
            for role in roles {
                if !project.roles.contains(role) {
                    project.roles.push(role.clone());
                }
            }
        }
        None => projects.push(GroupRoleAssignment {
            group_id: id.to_owned(),
            roles: roles.to_vec(),
        }),
    }
}

impl Invitee {
    /// Whether the row still names teams or projects that [`resolve_names`] has not resolved.
    pub fn has_names(&self) -> bool {
        self.names.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_names_and_mistyped_ids_are_told_apart() {
        assert_eq!(
            classify("5f1e2d3c4b5a697887766554"),
            Ok(Written::Id("5f1e2d3c4b5a697887766554"))
        );
        assert_eq!(classify("Platform"), Ok(Written::Name("Platform")));
        assert_eq!(
            classify("Infrastructure-Platform1"),
            Ok(Written::Name("Infrastructure-Platform1"))
        );
        assert_eq!(classify("deadbeef"), Ok(Written::Name("deadbeef")));
        assert!(classify("5F1E2D3C4B5A697887766554").is_err());
        assert!(classify("5f1e2d3c4b5a69788776655g").is_err());
        assert!(classify("5f1e2d3c4b5a69788776655").is_err());
    }

    #[test]
    fn lookups_ignore_case_and_report_ambiguity_with_every_candidate() {
        let index = NameIndex::new(
            "team",
            [
                ("5f1e2d3c4b5a697887766501".to_owned(), "Platform".to_owned()),
                ("5f1e2d3c4b5a697887766502".to_owned(), "platform".to_owned()),
                ("5f1e2d3c4b5a697887766503".to_owned(), "Données".to_owned()),
            ],
        );
        assert_eq!(index.len(), 3);
        assert_eq!(index.lookup(" DONNÉES "), Ok("5f1e2d3c4b5a697887766503"));
        let ambiguous = index.lookup("PLATFORM").unwrap_err();
        assert!(
            ambiguous.contains("5f1e2d3c4b5a697887766501"),
            "{ambiguous}"
        );
        assert!(
            ambiguous.contains("5f1e2d3c4b5a697887766502"),
            "{ambiguous}"
        );
        let unknown = index.lookup("Platfrom").unwrap_err();
        assert!(unknown.starts_with("no team"), "{unknown}");
    }

    #[test]
    fn names_merge_case_insensitively() {
        let origin: Arc<str> = Arc::from("Teams");
        let mut names = Names::default();
        names.add_team(&Arc::from("On-call"), &origin);
        names.add_team(&Arc::from("ON-CALL"), &origin);
        names.add_project_role(&Arc::from("Prod"), &origin, "GROUP_OWNER");
        names.add_project_role(&Arc::from("prod"), &origin, "GROUP_READ_ONLY");
        names.add_project_role(&Arc::from("prod"), &origin, "GROUP_OWNER");
        assert_eq!(names.teams.len(), 1);
        assert_eq!(names.projects.len(), 1);
        assert_eq!(names.projects[0].roles, ["GROUP_OWNER", "GROUP_READ_ONLY"]);
        let mut other = names.clone();
        other.projects[0].roles.reverse();
        assert!(names.same_as(&other));
        other.add_team(&Arc::from("Platform"), &origin);
        assert!(!names.same_as(&other));
    }
}
