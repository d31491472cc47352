//! The one decision of what a run does with a person, given what the journal knows of them and
//! the operator's options. `run` (through the journal's planner) and `--dry-run` both ask it, so
//! what a dry run shows is what the run does.
//!
//! It is a pure function of plain values, tested as a table below.

use crate::roster::Invitee;
use serde::{Deserialize, Serialize};

use crate::atlas::model::GroupRoleAssignment;
use crate::vocab::{EmailKey, InviteStatus, Operation};

/// Choices of the operator that change what a run plans.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// Plan again people who are done but whose invitation expired or was declined
    /// (`run --reinvite-expired`).
    pub reinvite_expired: bool,
    /// Only report people whose grants in the file differ from what was applied
    /// (`run --no-update`), instead of updating them.
    pub no_update: bool,
    /// Remove the people this journal invited into the organization who are no longer in the
    /// file (`run --prune`).
    pub prune: bool,
}

/// One valid row the run must act on.
#[derive(Debug, Clone)]
pub struct PlannedRow {
    pub invitee: Invitee,
    /// An earlier run left this person `in_flight`: the outcome of its last request is unknown,
    /// so the pipeline looks them up before sending anything.
    pub unresolved: bool,
}

/// One change a run makes for a person after their invitation: an update of their grants, the
/// revocation of what a run created, or a removal. Registered in the journal's `changes` table
/// (as `planned`) before anything is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedChange {
    /// `changes.id`, once registered.
    pub id: i64,
    pub email: String,
    pub email_key: EmailKey,
    pub operation: Operation,
    /// Why, in words: `grants changed in the file`, `created by run 4`, `not in the file`.
    pub reason: String,
    /// The grants last applied.
    pub from: Grants,
    /// For an update: the grants the file asks for.
    pub to: Option<Grants>,
    /// What the journal knows of the person in Atlas (either may be stale: the change looks the
    /// person up before acting).
    pub invitation_id: Option<String>,
    pub user_id: Option<String>,
    /// `revoke --remove-active`: a person who accepted is removed rather than kept.
    pub remove_active: bool,
}

impl PlannedChange {
    /// The change in one phrase, as plans and dry runs print it.
    pub fn describe(&self) -> String {
        match (&self.operation, &self.to) {
            (Operation::Update, Some(to)) => self.from.change_to(to),
            _ => self.reason.clone(),
        }
    }

    /// Whether it makes anybody an organization owner.
    pub fn grants_owner(&self) -> bool {
        self.to
            .as_ref()
            .is_some_and(|to| to.has_owner() && !self.from.has_owner())
    }
}

/// One thing a plan does, as `plan` writes it and `apply` checks it: the same entries come from
/// a dry run's reading of the journal and from the planning of a real run, so that `apply` can
/// tell whether the journal still leads to exactly the plan that was reviewed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanEntry {
    /// `invite`, `resolve` (left in flight earlier: looked up, sent only if absent), `update`
    /// or `remove`.
    pub action: String,
    pub email: String,
    /// The grants sent (for `remove`, the grants the person had).
    pub grants: Grants,
    /// For an update: old → new.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<String>,
}

impl PlanEntry {
    /// The entry of a row the run sends.
    pub fn of_row(row: &PlannedRow) -> PlanEntry {
        PlanEntry {
            action: if row.unresolved { "resolve" } else { "invite" }.into(),
            email: row.invitee.email.clone(),
            grants: Grants::of(&row.invitee),
            change: None,
        }
    }

    /// The entry of a change.
    pub fn of_change(change: &PlannedChange) -> PlanEntry {
        PlanEntry {
            action: change.operation.as_str().into(),
            email: change.email.clone(),
            grants: change.to.clone().unwrap_or_else(|| change.from.clone()),
            change: change.to.as_ref().map(|to| change.from.change_to(to)),
        }
    }
}

/// The SHA-256 of a plan's entries, in a canonical order: equal digests, equal plans.
pub fn digest(entries: &[PlanEntry]) -> String {
    use sha2::{Digest, Sha256};
    let mut sorted: Vec<(String, &str, &PlanEntry)> = entries
        .iter()
        .map(|e| (EmailKey::of(&e.email).to_string(), e.action.as_str(), e))
        .collect();
    sorted.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    let mut hasher = Sha256::new();
    for (key, action, entry) in sorted {
        hasher.update(key.as_bytes());
        hasher.update([0]);
        hasher.update(action.as_bytes());
        hasher.update([0]);
        hasher.update(json(&entry.grants).as_bytes());
        hasher.update([b'\n']);
    }
    crate::util::hex(&hasher.finalize())
}

/// What the journal knows of a person before the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Known {
    pub status: InviteStatus,
    /// The last `reconcile` saw the invitation expired or declined.
    pub lapsed: bool,
}

/// What a run does with a valid row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send the invitation: never sent, sent and known not created, or refused before.
    Send,
    /// An earlier run left the person `in_flight`: look them up once that run's requests have
    /// settled, and send only if Atlas has no invitation.
    Resolve,
    /// Done, but the invitation lapsed and `--reinvite-expired` was given: send a new one.
    Reinvite,
    /// Done: nothing to send.
    Skip { status: InviteStatus, lapsed: bool },
    /// Done, but the file asks for other grants than were applied: set them (an `update`).
    Update,
    /// Done, the file asks for other grants, and `--no-update` was given: only reported.
    Drifted { status: InviteStatus },
}

impl Action {
    /// Whether the run sends anything for the person.
    pub fn sends(self) -> bool {
        !matches!(self, Action::Skip { .. } | Action::Drifted { .. })
    }

    /// How `--dry-run` names the action.
    pub fn label(self) -> String {
        match self {
            Action::Send => "send".into(),
            Action::Resolve => "check, then send".into(),
            Action::Reinvite => "send (lapsed)".into(),
            Action::Skip { status, .. } => format!("skip ({status})"),
            Action::Update => "update".into(),
            Action::Drifted { status } => format!("differs ({status}; --no-update)"),
        }
    }
}

/// What a person is granted: organization roles, teams and project roles, in a canonical order
/// (sorted, without repeats) so that two grants compare equal when Atlas would see no
/// difference. Stored in the journal as the JSON arrays of `invites.roles`, `team_ids` and
/// `projects`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Grants {
    pub roles: Vec<String>,
    pub team_ids: Vec<String>,
    pub projects: Vec<GroupRoleAssignment>,
}

impl Grants {
    /// The grants in canonical order.
    pub fn new(
        roles: Vec<String>,
        team_ids: Vec<String>,
        projects: Vec<GroupRoleAssignment>,
    ) -> Grants {
        let mut roles = roles;
        roles.sort();
        roles.dedup();
        let mut team_ids = team_ids;
        team_ids.sort();
        team_ids.dedup();
        let mut projects: Vec<GroupRoleAssignment> = projects
            .into_iter()
            .map(|mut p| {
                p.roles.sort();
                p.roles.dedup();
                p
            })
            .filter(|p| !p.roles.is_empty())
            .collect();
        projects.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        Grants {
            roles,
            team_ids,
            projects,
        }
    }

    /// What a valid row of the file asks for.
    pub fn of(invitee: &Invitee) -> Grants {
        Grants::new(
            invitee
                .roles
                .iter()
                .map(|r| r.as_str().to_owned())
                .collect(),
            invitee.team_ids.clone(),
            invitee.projects.clone(),
        )
    }

    /// Reads the three JSON columns of the journal; `None` when one does not parse (then no
    /// drift is assumed: a journal the tool cannot read never triggers a change).
    pub fn from_json(roles: &str, team_ids: &str, projects: &str) -> Option<Grants> {
        Some(Grants::new(
            serde_json::from_str(roles).ok()?,
            serde_json::from_str(team_ids).ok()?,
            serde_json::from_str(projects).ok()?,
        ))
    }

    /// The three JSON columns, as `invites` stores them.
    pub fn to_json(&self) -> (String, String, String) {
        (
            json(&self.roles),
            json(&self.team_ids),
            json(&self.projects),
        )
    }

    /// Whether the grants include the organization's owner role.
    pub fn has_owner(&self) -> bool {
        self.roles.iter().any(|r| r == "ORG_OWNER")
    }

    /// The difference from `self` to `to`, in one phrase:
    /// `roles ORG_OWNER → ORG_MEMBER; teams +1 −0; projects 5f…:GROUP_READ_ONLY → GROUP_OWNER`.
    pub fn change_to(&self, to: &Grants) -> String {
        let mut parts = Vec::new();
        if self.roles != to.roles {
            parts.push(format!("roles {} → {}", list(&self.roles), list(&to.roles)));
        }
        if self.team_ids != to.team_ids {
            let added = to.team_ids.iter().filter(|t| !self.team_ids.contains(t));
            let removed = self.team_ids.iter().filter(|t| !to.team_ids.contains(t));
            parts.push(format!("teams +{} −{}", added.count(), removed.count()));
        }
        if self.projects != to.projects {
            let text = |projects: &[GroupRoleAssignment]| {
                if projects.is_empty() {
                    "none".to_owned()
                } else {
                    projects
                        .iter()
                        .map(|p| format!("{}:{}", p.group_id, p.roles.join("+")))
                        .collect::<Vec<_>>()
                        .join(" ")
                }
            };
            parts.push(format!(
                "projects {} → {}",
                text(&self.projects),
                text(&to.projects)
            ));
        }
        parts.join("; ")
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

/// JSON text of one of the journal's grant columns.
fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".into())
}

/// What to do with a valid row given what the journal knows of the person and the grants it
/// last applied (`applied`, `None` when unknown or unreadable): [`decide`], then, for a person
/// whose invitation or membership this journal manages, an update when the file asks for other
/// grants. People Atlas already had as members before the tool (`already_member`) are never
/// updated: their access was not given by this journal.
pub fn decide_with_grants(
    known: Option<Known>,
    applied: Option<&Grants>,
    desired: &Grants,
    options: PlanOptions,
) -> Action {
    let action = decide(known, options);
    match (action, applied) {
        (Action::Skip { status, .. }, Some(applied))
            if matches!(status, InviteStatus::Invited | InviteStatus::AlreadyInvited)
                && applied != desired =>
        {
            if options.no_update {
                Action::Drifted { status }
            } else {
                Action::Update
            }
        }
        _ => action,
    }
}

/// What to do with a valid row whose person the journal knows as `known` (`None`: unknown).
pub fn decide(known: Option<Known>, options: PlanOptions) -> Action {
    match known {
        Some(Known { status, lapsed }) if status.is_done() => {
            if lapsed && options.reinvite_expired {
                Action::Reinvite
            } else {
                Action::Skip { status, lapsed }
            }
        }
        Some(Known {
            status: InviteStatus::InFlight,
            ..
        }) => Action::Resolve,
        _ => Action::Send,
    }
}

/// Whether an invalid row may replace the journal's record of its person. It may not when the
/// person is done or in flight (a typo in a later file must not hide what Atlas has), nor when
/// this very run planned the person from an earlier, valid row of the same address: that row's
/// record is what will be sent.
pub fn invalid_row_replaces(known: Option<InviteStatus>, planned_by_this_run: bool) -> bool {
    match known {
        Some(status) if status.is_done() || status == InviteStatus::InFlight => false,
        Some(InviteStatus::Pending) => !planned_by_this_run,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use InviteStatus::*;

    const PLAIN: PlanOptions = PlanOptions {
        reinvite_expired: false,
        no_update: false,
        prune: false,
    };
    const REINVITE: PlanOptions = PlanOptions {
        reinvite_expired: true,
        no_update: false,
        prune: false,
    };

    fn known(status: InviteStatus, lapsed: bool) -> Option<Known> {
        Some(Known { status, lapsed })
    }

    #[test]
    fn decisions_for_every_status_and_option() {
        let skip = |status, lapsed| Action::Skip { status, lapsed };
        let table = [
            (None, PLAIN, Action::Send),
            (None, REINVITE, Action::Send),
            (known(Pending, false), PLAIN, Action::Send),
            (known(Failed, false), PLAIN, Action::Send),
            (known(Invalid, false), PLAIN, Action::Send),
            (known(InFlight, false), PLAIN, Action::Resolve),
            (known(InFlight, false), REINVITE, Action::Resolve),
            (known(Invited, false), PLAIN, skip(Invited, false)),
            (known(Invited, false), REINVITE, skip(Invited, false)),
            (
                known(AlreadyInvited, false),
                PLAIN,
                skip(AlreadyInvited, false),
            ),
            (
                known(AlreadyMember, false),
                PLAIN,
                skip(AlreadyMember, false),
            ),
            (known(Invited, true), PLAIN, skip(Invited, true)),
            (known(Invited, true), REINVITE, Action::Reinvite),
            (known(AlreadyInvited, true), REINVITE, Action::Reinvite),
        ];
        for (known, options, expected) in table {
            assert_eq!(decide(known, options), expected, "{known:?} {options:?}");
        }
    }

    #[test]
    fn labels_are_what_dry_run_prints() {
        assert_eq!(Action::Send.label(), "send");
        assert_eq!(Action::Resolve.label(), "check, then send");
        assert_eq!(Action::Reinvite.label(), "send (lapsed)");
        assert_eq!(
            Action::Skip {
                status: Invited,
                lapsed: false
            }
            .label(),
            "skip (invited)"
        );
        assert!(Action::Resolve.sends());
        assert!(
            !Action::Skip {
                status: Invited,
                lapsed: true
            }
            .sends()
        );
    }

    #[test]
    fn invalid_rows_never_replace_what_atlas_has_or_this_run_planned() {
        let table = [
            (None, false, true),
            (Some(Invalid), false, true),
            (Some(Failed), false, true),
            (Some(Pending), false, true),
            (Some(Pending), true, false),
            (Some(InFlight), false, false),
            (Some(Invited), false, false),
            (Some(AlreadyInvited), false, false),
            (Some(AlreadyMember), false, false),
        ];
        for (known, planned, expected) in table {
            assert_eq!(
                invalid_row_replaces(known, planned),
                expected,
                "{known:?} planned by this run: {planned}"
            );
        }
    }

    fn grants(roles: &[&str], teams: &[&str]) -> Grants {
        Grants::new(
            roles.iter().map(|r| r.to_string()).collect(),
            teams.iter().map(|t| t.to_string()).collect(),
            Vec::new(),
        )
    }

    #[test]
    fn grants_compare_in_canonical_order() {
        assert_eq!(
            grants(&["ORG_OWNER", "ORG_MEMBER", "ORG_OWNER"], &["b", "a"]),
            grants(&["ORG_MEMBER", "ORG_OWNER"], &["a", "b"])
        );
        let stored = Grants::from_json(
            r#"["ORG_MEMBER"]"#,
            "[]",
            r#"[{"groupId":"p1","roles":["GROUP_READ_ONLY","GROUP_OWNER"]}]"#,
        )
        .unwrap();
        assert_eq!(stored.projects[0].roles, ["GROUP_OWNER", "GROUP_READ_ONLY"]);
        assert_eq!(Grants::from_json("not json", "[]", "[]"), None);
        let (roles, teams, projects) = stored.to_json();
        assert_eq!(Grants::from_json(&roles, &teams, &projects), Some(stored));
    }

    #[test]
    fn a_change_of_grants_reads_old_to_new() {
        let from = grants(&["ORG_OWNER"], &["t1"]);
        let to = grants(&["ORG_MEMBER"], &["t1", "t2"]);
        assert_eq!(
            from.change_to(&to),
            "roles ORG_OWNER → ORG_MEMBER; teams +1 −0"
        );
        assert!(from.has_owner() && !to.has_owner());
        assert_eq!(from.change_to(&from), "");
    }

    #[test]
    fn drift_is_an_update_for_people_this_journal_invited() {
        let applied = grants(&["ORG_OWNER"], &[]);
        let desired = grants(&["ORG_MEMBER"], &[]);
        let no_update = PlanOptions {
            no_update: true,
            ..PLAIN
        };
        let table = [
            (
                known(Invited, false),
                Some(&applied),
                &desired,
                PLAIN,
                Action::Update,
            ),
            (
                known(AlreadyInvited, false),
                Some(&applied),
                &desired,
                PLAIN,
                Action::Update,
            ),
            (
                known(Invited, false),
                Some(&applied),
                &desired,
                no_update,
                Action::Drifted { status: Invited },
            ),
            // Same grants: nothing to do.
            (
                known(Invited, false),
                Some(&desired),
                &desired,
                PLAIN,
                Action::Skip {
                    status: Invited,
                    lapsed: false,
                },
            ),
            // Members before the tool are not managed by it.
            (
                known(AlreadyMember, false),
                Some(&applied),
                &desired,
                PLAIN,
                Action::Skip {
                    status: AlreadyMember,
                    lapsed: false,
                },
            ),
            // A lapsed invitation sent again carries the new grants anyway.
            (
                known(Invited, true),
                Some(&applied),
                &desired,
                REINVITE,
                Action::Reinvite,
            ),
            // Not done: sent with the file's grants.
            (
                known(Failed, false),
                Some(&applied),
                &desired,
                PLAIN,
                Action::Send,
            ),
            (
                known(Revoked, false),
                Some(&applied),
                &desired,
                PLAIN,
                Action::Send,
            ),
            (
                known(Removed, false),
                Some(&applied),
                &desired,
                PLAIN,
                Action::Send,
            ),
            (
                known(InFlight, false),
                Some(&applied),
                &desired,
                PLAIN,
                Action::Resolve,
            ),
            // Unreadable stored grants never trigger a change.
            (
                known(Invited, false),
                None,
                &desired,
                PLAIN,
                Action::Skip {
                    status: Invited,
                    lapsed: false,
                },
            ),
        ];
        for (known, applied, desired, options, expected) in table {
            assert_eq!(
                decide_with_grants(known, applied, desired, options),
                expected,
                "{known:?} {applied:?} {options:?}"
            );
        }
        assert!(Action::Update.sends());
        assert!(!Action::Drifted { status: Invited }.sends());
        assert_eq!(Action::Update.label(), "update");
    }

    fn any_status() -> impl proptest::strategy::Strategy<Value = InviteStatus> {
        proptest::sample::select(InviteStatus::ALL.to_vec())
    }

    proptest::proptest! {
        /// The rules of `decide`, stated once more as properties: a done person is skipped
        /// unless their invitation lapsed and `--reinvite-expired` asks for a new one; a person
        /// in flight is resolved; everybody else is sent.
        #[test]
        fn decide_follows_its_rules(
            known in proptest::option::of((any_status(), proptest::bool::ANY)),
            reinvite_expired in proptest::bool::ANY,
        ) {
            let known = known.map(|(status, lapsed)| Known { status, lapsed });
            let action = decide(known, PlanOptions { reinvite_expired, ..PlanOptions::default() });
            let done = known.is_some_and(|k| k.status.is_done());
            let lapsed = known.is_some_and(|k| k.lapsed);
            proptest::prop_assert_eq!(!action.sends(), done && !(lapsed && reinvite_expired));
            proptest::prop_assert_eq!(
                action == Action::Resolve,
                known.is_some_and(|k| k.status == InviteStatus::InFlight)
            );
            proptest::prop_assert_eq!(action == Action::Reinvite, done && lapsed && reinvite_expired);
        }
    }
}
