//! Atlas's capacity, checked before the first request: 500 people per organization (pending
//! invitations included) and 250 per team. A run that would go past either refuses (exit 2)
//! with the numbers, read from Atlas, instead of failing half-way through the file.
//!
//! The count is read only when the plan invites somebody or adds somebody to a team, so that a
//! rerun with nothing to send asks Atlas nothing more. Removals planned by the same run are not
//! subtracted: invitations go first, so the organization must have room for them before anyone
//! leaves.

use std::collections::BTreeMap;

use anyhow::anyhow;

use crate::atlas::client::AtlasClient;
use crate::atlas::error::ErrorClass;
use crate::exit::Failure;
use crate::journal::Plan;
use crate::retry::{RetryPolicy, retry_reads};

/// Atlas's limits: people per organization (pending invitations included) and per team,
/// `--max-org-users` and `--max-team-users` (500 and 250 unless MongoDB raised them).
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub org: u64,
    pub team: u64,
}

/// Reads of the counts: a few tries, as for the names' directory.
fn policy() -> RetryPolicy {
    RetryPolicy::new(4, std::time::Duration::from_secs(10))
}

/// How many people a plan adds to the organization, and to each team.
fn additions(plan: &Plan) -> (u64, BTreeMap<&str, u64>) {
    // A row left in flight by an earlier run may exist already: counted, to be safe.
    let people = plan.rows.len() as u64;
    let mut teams: BTreeMap<&str, u64> = BTreeMap::new();
    for row in &plan.rows {
        for team in &row.invitee.team_ids {
            *teams.entry(team.as_str()).or_default() += 1;
        }
    }
    for change in &plan.changes {
        if let Some(to) = &change.to {
            for team in to
                .team_ids
                .iter()
                .filter(|t| !change.from.team_ids.contains(t))
            {
                *teams.entry(team.as_str()).or_default() += 1;
            }
        }
    }
    (people, teams)
}

/// Refuses a plan that Atlas's limits cannot take.
pub(super) async fn check(
    client: &AtlasClient,
    plan: &Plan,
    limits: Limits,
) -> Result<(), Failure> {
    let (people, teams) = additions(plan);
    if people > 0 {
        let current = read(retry_reads(&policy(), |_, _| {}, || client.count_org_users()).await)?;
        if let Some(current) = current.filter(|current| current + people > limits.org) {
            return Err(Failure::usage(anyhow!(
                "org {} has {current} people (pending invitations included) and this run would \
                 invite {people} more: Atlas allows {} per organization (--max-org-users). \
                 Nothing was sent. Make room first (`atlas-invite revoke`, `run --prune`), or \
                 split the file",
                client.org_id(),
                limits.org
            )));
        }
    }
    if !teams.is_empty() {
        let Some(current) =
            read(retry_reads(&policy(), |_, _| {}, || client.team_user_counts()).await)?
        else {
            return Ok(());
        };
        let full: Vec<String> = teams
            .iter()
            .filter_map(|(team, added)| {
                let now = current.get(*team).copied().unwrap_or(0);
                (now + added > limits.team)
                    .then(|| format!("team {team} has {now} and would get {added} more"))
            })
            .collect();
        if !full.is_empty() {
            return Err(Failure::usage(anyhow!(
                "Atlas allows {} people per team (--max-team-users): {}. Nothing was sent",
                limits.team,
                full.join("; ")
            )));
        }
    }
    Ok(())
}

/// The count, `None` when it could not be read: refused credentials abort (nothing was sent);
/// anything else is said on stderr and the run goes on, since Atlas enforces its limits itself
/// (the invitations past them fail, each with Atlas's reason).
fn read<T>(
    result: Result<crate::atlas::client::Answer<T>, crate::retry::GaveUp>,
) -> Result<Option<T>, Failure> {
    match result {
        Ok(answer) => Ok(Some(answer.value)),
        Err(e) if matches!(e.error.class(), ErrorClass::Auth) => Err(Failure::aborted(anyhow!(
            "Atlas refused to list the organization's users ({}); nothing was sent. The \
             caller needs the Organization Owner role",
            e.error
        ))),
        Err(e) => {
            eprintln!(
                "note: cannot read how many people the organization has ({} after {} tries): \
                 Atlas's limits are not checked before sending",
                crate::terminal::safe(&e.error.to_string()),
                e.attempts
            );
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Grants, PlannedChange, PlannedRow};
    use crate::vocab::{EmailKey, Operation};

    fn row(email: &str, teams: &[&str]) -> PlannedRow {
        PlannedRow {
            invitee: crate::roster::Invitee {
                line: 2,
                email: email.into(),
                roles: vec![crate::atlas::model::OrgRole::OrgMember],
                roles_defaulted: false,
                team_ids: teams.iter().map(|t| t.to_string()).collect(),
                projects: Vec::new(),
                names: None,
                sources: Default::default(),
            },
            unresolved: false,
        }
    }

    #[test]
    fn invitations_and_updates_that_join_a_team_count_toward_it() {
        let grants = |teams: &[&str]| {
            Grants::new(
                vec!["ORG_MEMBER".into()],
                teams.iter().map(|t| t.to_string()).collect(),
                Vec::new(),
            )
        };
        let update = PlannedChange {
            id: 1,
            email: "c@x.io".into(),
            email_key: EmailKey::of("c@x.io"),
            operation: Operation::Update,
            reason: String::new(),
            from: grants(&["t1"]),
            to: Some(grants(&["t1", "t2"])),
            invitation_id: None,
            user_id: None,
            remove_active: false,
        };
        let plan = Plan {
            rows: vec![row("a@x.io", &["t1"]), row("b@x.io", &["t1", "t2"])],
            changes: vec![update],
            ..Plan::default()
        };
        let (people, teams) = additions(&plan);
        assert_eq!(people, 2);
        assert_eq!(teams.get("t1"), Some(&2), "the update was in t1 already");
        assert_eq!(teams.get("t2"), Some(&2));
    }
}
