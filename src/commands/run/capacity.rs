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
use crate::exit::Failure;
use crate::journal::Plan;
use crate::retry::{RetryPolicy, retry_reads};

/// People per organization, pending invitations included.
pub const ORG_LIMIT: u64 = 500;
/// People per team.
pub const TEAM_LIMIT: u64 = 250;

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
pub(super) async fn check(client: &AtlasClient, plan: &Plan) -> Result<(), Failure> {
    let (people, teams) = additions(plan);
    if people > 0 {
        let current = read(retry_reads(&policy(), |_, _| {}, || client.count_org_users()).await)?;
        if current + people > ORG_LIMIT {
            return Err(Failure::usage(anyhow!(
                "org {} has {current} people (pending invitations included) and this run would \
                 invite {people} more: Atlas allows {ORG_LIMIT} per organization. Nothing was \
                 sent. Make room first (`atlas-invite revoke`, `run --prune`), or split the file",
                client.org_id()
            )));
        }
    }
    if !teams.is_empty() {
        let current = read(retry_reads(&policy(), |_, _| {}, || client.team_user_counts()).await)?;
        let full: Vec<String> = teams
            .iter()
            .filter_map(|(team, added)| {
                let now = current.get(*team).copied().unwrap_or(0);
                (now + added > TEAM_LIMIT)
                    .then(|| format!("team {team} has {now} and would get {added} more"))
            })
            .collect();
        if !full.is_empty() {
            return Err(Failure::usage(anyhow!(
                "Atlas allows {TEAM_LIMIT} people per team: {}. Nothing was sent",
                full.join("; ")
            )));
        }
    }
    Ok(())
}

/// The count, or why it could not be read (then nothing is sent: going past a limit half-way
/// is worse than not starting).
fn read<T>(
    result: Result<crate::atlas::client::Answer<T>, crate::retry::GaveUp>,
) -> Result<T, Failure> {
    result.map(|answer| answer.value).map_err(|e| {
        // The credentials were checked a moment ago; a refusal now is still an abort.
        Failure::aborted(anyhow!(
            "cannot read how many people the organization has, to check Atlas's limits before \
             sending: {} (after {} tries); nothing was sent",
            e.error,
            e.attempts
        ))
    })
}
