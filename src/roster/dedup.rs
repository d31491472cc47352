//! The duplicate index: the one thing a streamed roster keeps for every row it has read.
//!
//! Duplicates are found by address (case-insensitively), and a repeat is only harmless when it
//! grants exactly what the first row grants. Keeping every first row to compare with would hold
//! the whole file in memory, so the index keeps, per address, the first row's line and a
//! [`GrantsPrint`]: the roles as a bit set and 64-bit fingerprints of the teams, the projects
//! and the names. Rows come in a handful of combinations of grants, so the prints are interned
//! and a person costs their lower-cased address and 16 bytes.

use std::hash::{BuildHasher, Hash, Hasher};

use foldhash::quality::FixedState;

use super::cells::role_bit;
use super::names::{Names, name_key};
use crate::atlas::model::{GroupRoleAssignment, OrgRole};

/// What a row grants, reduced to compare with a repeat of the same person: the roles exactly,
/// the rest as order-independent 64-bit fingerprints (a collision between two different sets
/// of grants of one person has a chance of about 2^-64).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct GrantsPrint {
    roles: u8,
    teams: u64,
    projects: u64,
    /// 0 when the row names no team or project.
    names: u64,
}

/// Fingerprints only live for one process, but a fixed seed keeps them reproducible in tests.
const PRINTS: FixedState = FixedState::with_seed(0x6174_6c61_735f_696e);

impl GrantsPrint {
    pub(super) fn of(
        roles: &[OrgRole],
        team_ids: &[String],
        projects: &[GroupRoleAssignment],
        names: Option<&Names>,
    ) -> GrantsPrint {
        let names = names.map_or(0, |names| {
            let teams = set(names.teams.iter().map(|t| one(&name_key(&t.name))));
            let projects = set(names
                .projects
                .iter()
                .map(|p| one(&(name_key(&p.name), set(p.roles.iter().map(one))))));
            one(&(1u8, teams, projects))
        });
        GrantsPrint {
            roles: roles.iter().fold(0, |mask, &role| mask | role_bit(role)),
            teams: set(team_ids.iter().map(one)),
            projects: set(projects
                .iter()
                .map(|p| one(&(&p.group_id, set(p.roles.iter().map(one)))))),
            names,
        }
    }

    /// `None` when both grant the same things (in any order); otherwise which parts differ,
    /// e.g. `roles and teams`.
    pub(super) fn differences(&self, other: &GrantsPrint) -> Option<String> {
        let mut what = Vec::new();
        if self.roles != other.roles {
            what.push("roles");
        }
        if self.teams != other.teams {
            what.push("teams");
        }
        if self.projects != other.projects {
            what.push("projects");
        }
        if self.names != other.names {
            what.push("team or project names");
        }
        match what.as_slice() {
            [] => None,
            [one] => Some((*one).to_owned()),
            [init @ .., last] => Some(format!("{} and {last}", init.join(", "))),
        }
    }
}

fn one(item: &impl Hash) -> u64 {
    PRINTS.hash_one(item)
}

/// A fingerprint of a set of distinct items, whatever their order: the sum of their hashes,
/// hashed again with their number.
fn set(items: impl Iterator<Item = u64>) -> u64 {
    let (count, sum) = items.fold((0u64, 0u64), |(count, sum), hash| {
        (count + 1, sum.wrapping_add(hash))
    });
    let mut hasher = PRINTS.build_hasher();
    hasher.write_u64(count);
    hasher.write_u64(sum);
    hasher.finish()
}

/// The first row seen for an address.
#[derive(Debug, Clone, Copy)]
struct Seen {
    line: u64,
    /// Index into [`DuplicateIndex::prints`], or [`Seen::INVALID`] when that row had problems.
    print: u32,
}

impl Seen {
    const INVALID: u32 = u32::MAX;
}

/// What the index knows about the address of the row being read.
pub(super) enum Sighting {
    /// The first row for this address; it is now recorded.
    First,
    /// An earlier row had the same address: its line, and its grants when it was valid.
    Again {
        first_line: u64,
        first: Option<GrantsPrint>,
    },
}

/// First row per lower-cased address. Keys are boxed to save a word per row, and hashed with
/// foldhash: the roster is the operator's own file, not attacker input.
#[derive(Default)]
pub(super) struct DuplicateIndex {
    seen: foldhash::HashMap<Box<str>, Seen>,
    prints: Vec<GrantsPrint>,
    interned: foldhash::HashMap<GrantsPrint, u32>,
}

impl DuplicateIndex {
    /// Looks up `key` (a lower-cased address). A first sighting is recorded with `print`, which
    /// is only called then and gives `None` for a row with problems.
    pub(super) fn sighting(
        &mut self,
        key: String,
        line: u64,
        print: impl FnOnce() -> Option<GrantsPrint>,
    ) -> Sighting {
        if let Some(seen) = self.seen.get(key.as_str()) {
            let first = self.prints.get(seen.print as usize).copied();
            return Sighting::Again {
                first_line: seen.line,
                first,
            };
        }
        let print = match print() {
            Some(print) => self.intern(print),
            None => Seen::INVALID,
        };
        self.seen.insert(key.into_boxed_str(), Seen { line, print });
        Sighting::First
    }

    fn intern(&mut self, print: GrantsPrint) -> u32 {
        if let Some(&index) = self.interned.get(&print) {
            return index;
        }
        // Four billion distinct combinations of grants do not fit in memory anyway.
        let index = u32::try_from(self.prints.len()).unwrap_or(Seen::INVALID);
        if index != Seen::INVALID {
            self.prints.push(print);
            self.interned.insert(print, index);
        }
        index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(id: &str, roles: &[&str]) -> GroupRoleAssignment {
        GroupRoleAssignment {
            group_id: id.to_owned(),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        }
    }

    fn ids(items: &[&str]) -> Vec<String> {
        items.iter().map(|i| (*i).to_owned()).collect()
    }

    #[test]
    fn prints_ignore_order_and_name_what_differs() {
        let member = [OrgRole::OrgMember];
        let a = GrantsPrint::of(
            &member,
            &ids(&["t1", "t2"]),
            &[
                project("p1", &["GROUP_OWNER", "GROUP_READ_ONLY"]),
                project("p2", &["X"]),
            ],
            None,
        );
        let b = GrantsPrint::of(
            &member,
            &ids(&["t2", "t1"]),
            &[
                project("p2", &["X"]),
                project("p1", &["GROUP_READ_ONLY", "GROUP_OWNER"]),
            ],
            None,
        );
        assert_eq!(a.differences(&b), None);
        let c = GrantsPrint::of(
            &[OrgRole::OrgOwner],
            &ids(&["t1"]),
            &[
                project("p1", &["GROUP_OWNER", "GROUP_READ_ONLY"]),
                project("p2", &["X"]),
            ],
            None,
        );
        assert_eq!(a.differences(&c).as_deref(), Some("roles and teams"));
        // A role moved from one project to another changes the projects.
        let d = GrantsPrint::of(
            &member,
            &ids(&["t1", "t2"]),
            &[
                project("p1", &["GROUP_OWNER"]),
                project("p2", &["X", "GROUP_READ_ONLY"]),
            ],
            None,
        );
        assert_eq!(a.differences(&d).as_deref(), Some("projects"));
    }

    #[test]
    fn names_compare_as_names_same_as_says() {
        let origin: std::sync::Arc<str> = std::sync::Arc::from("Teams");
        let mut names = Names::default();
        names.add_team(&"On-call".into(), &origin);
        names.add_project_role(&"Prod".into(), &origin, "GROUP_OWNER");
        names.add_project_role(&"Prod".into(), &origin, "GROUP_READ_ONLY");
        let mut other = Names::default();
        other.add_project_role(&"PROD".into(), &origin, "GROUP_READ_ONLY");
        other.add_project_role(&"prod".into(), &origin, "GROUP_OWNER");
        other.add_team(&"on-call".into(), &origin);
        let print = |n: Option<&Names>| GrantsPrint::of(&[OrgRole::OrgMember], &[], &[], n);
        assert!(names.same_as(&other));
        assert_eq!(print(Some(&names)), print(Some(&other)));
        other.add_team(&"Platform".into(), &origin);
        assert!(!names.same_as(&other));
        assert_eq!(
            print(Some(&names))
                .differences(&print(Some(&other)))
                .as_deref(),
            Some("team or project names")
        );
        assert_ne!(print(Some(&Names::default())), print(None));
    }

    #[test]
    fn the_index_remembers_the_first_line_and_its_grants() {
        let mut index = DuplicateIndex::default();
        let print = GrantsPrint::of(&[OrgRole::OrgMember], &[], &[], None);
        assert!(matches!(
            index.sighting("ann@example.com".into(), 2, || Some(print)),
            Sighting::First
        ));
        assert!(matches!(
            index.sighting("bob@example.com".into(), 3, || None),
            Sighting::First
        ));
        match index.sighting("ann@example.com".into(), 9, || unreachable!()) {
            Sighting::Again { first_line, first } => {
                assert_eq!((first_line, first), (2, Some(print)));
            }
            Sighting::First => panic!("ann was seen"),
        }
        match index.sighting("bob@example.com".into(), 9, || unreachable!()) {
            Sighting::Again { first_line, first } => assert_eq!((first_line, first), (3, None)),
            Sighting::First => panic!("bob was seen"),
        }
        assert_eq!(index.prints.len(), 1);
    }
}
