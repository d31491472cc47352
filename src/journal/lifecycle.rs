//! The invitation lifecycle after a run: the membership state `reconcile` observes in Atlas
//! (pending, accepted, expired, declined, or unknown to Atlas), written per person with the time
//! of the observation, and read back by `run` to find invitations that lapsed.
//!
//! This module owns the `membership_*`, `expires_at` and `atlas_user_id` columns of `invites` and
//! the `reconciles` table (migration 0003). Talking to Atlas is the `reconcile` command's job.

use std::collections::{HashMap, HashSet};
use std::fmt;

use rusqlite::params;
use serde::Serialize;

use super::store::sql;
use super::{Journal, JournalError};
use crate::util::now_rfc3339;

/// First schema version that has the lifecycle columns, so that read-only commands can tell an
/// older journal (which they must not migrate) from a current one.
pub(crate) const LIFECYCLE_SCHEMA: i64 = 3;

/// A person's membership of the organization as Atlas last reported it, as stored in
/// `invites.membership_state`. The names are Atlas's `orgMembershipStatus` values, plus
/// `MISSING` for a person Atlas listed neither as a user nor as an invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum MembershipState {
    #[serde(rename = "PENDING")]
    Pending,
    #[serde(rename = "ACTIVE")]
    Active,
    #[serde(rename = "INVITATION_EXPIRED")]
    InvitationExpired,
    #[serde(rename = "INVITATION_REJECTED")]
    InvitationRejected,
    #[serde(rename = "MISSING")]
    Missing,
}

impl MembershipState {
    /// Every state, in the order summaries list them.
    pub const ALL: [MembershipState; 5] = [
        MembershipState::Active,
        MembershipState::Pending,
        MembershipState::InvitationExpired,
        MembershipState::InvitationRejected,
        MembershipState::Missing,
    ];

    /// The value stored in the journal (and Atlas's name for it).
    pub fn as_str(self) -> &'static str {
        match self {
            MembershipState::Pending => "PENDING",
            MembershipState::Active => "ACTIVE",
            MembershipState::InvitationExpired => "INVITATION_EXPIRED",
            MembershipState::InvitationRejected => "INVITATION_REJECTED",
            MembershipState::Missing => "MISSING",
        }
    }

    /// Parses a stored value or an Atlas `orgMembershipStatus`.
    pub fn parse(text: &str) -> Option<MembershipState> {
        MembershipState::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
    }

    /// True when the invitation can no longer be accepted: it expired or was declined. These are
    /// the people `run --reinvite-expired` invites again.
    pub fn is_lapsed(self) -> bool {
        matches!(
            self,
            MembershipState::InvitationExpired | MembershipState::InvitationRejected
        )
    }
}

impl fmt::Display for MembershipState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What Atlas said about one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// Never [`MembershipState::Missing`]: absence is what is *not* observed.
    pub state: MembershipState,
    /// When a pending invitation expires, in the journal's timestamp format.
    pub expires_at: Option<String>,
    /// Atlas's user id, when the users resource listed the person.
    pub atlas_user_id: Option<String>,
}

/// Who reconciled, against which Atlas, and how many requests it took.
#[derive(Debug, Clone)]
pub struct ReconcileRun {
    pub org_id: String,
    pub started_at: String,
    /// Never holds a credential (the token travels in a header, not in the URL).
    pub base_url: String,
    pub os_user: Option<String>,
    pub hostname: Option<String>,
    pub requests: u64,
}

/// What one reconcile recorded: the people of the journal in each state afterwards.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReconcileTotals {
    /// Id of the `reconciles` row.
    pub reconcile_id: i64,
    pub org_id: String,
    pub observed_at: String,
    /// People of the organization in the journal.
    pub people: u64,
    pub pending: u64,
    pub active: u64,
    pub expired: u64,
    pub rejected: u64,
    pub missing: u64,
    /// Users and pending invitations Atlas listed.
    pub atlas_people: u64,
    /// People Atlas listed that the journal does not know.
    pub untracked: u64,
}

impl Journal {
    /// Records, in one transaction, the membership state of every person of `run.org_id`:
    /// `observed` (keyed by lower-cased email) for the people Atlas listed, `MISSING` for the
    /// others. Nothing else of the person changes: `status` stays what the runs made it.
    pub fn record_memberships(
        &mut self,
        run: &ReconcileRun,
        observed: &HashMap<String, Observation>,
    ) -> Result<ReconcileTotals, JournalError> {
        let path = self.path().to_owned();
        let now = now_rfc3339();
        let tx = self.conn.transaction().map_err(|e| sql(&path, e))?;
        let mut totals = ReconcileTotals {
            org_id: run.org_id.clone(),
            observed_at: now.clone(),
            atlas_people: observed.len() as u64,
            ..ReconcileTotals::default()
        };
        let mut known = HashSet::new();
        {
            let mut keys = tx
                .prepare("SELECT email_key FROM invites WHERE org_id = ?1")
                .map_err(|e| sql(&path, e))?;
            let keys: Vec<String> = keys
                .query_map(params![run.org_id], |r| r.get(0))
                .map_err(|e| sql(&path, e))?
                .collect::<Result<_, _>>()
                .map_err(|e| sql(&path, e))?;
            // `expires_at` and `atlas_user_id` keep their last known value when this observation
            // has none: an accepted invitation no longer says when it would have expired.
            let mut update = tx
                .prepare(
                    "UPDATE invites SET membership_state = ?3, membership_observed_at = ?4,
                            expires_at = coalesce(?5, expires_at),
                            atlas_user_id = coalesce(?6, atlas_user_id)
                     WHERE org_id = ?1 AND email_key = ?2",
                )
                .map_err(|e| sql(&path, e))?;
            for key in keys {
                let (state, expires_at, user_id) = match observed.get(&key) {
                    Some(o) => (o.state, o.expires_at.as_deref(), o.atlas_user_id.as_deref()),
                    None => (MembershipState::Missing, None, None),
                };
                update
                    .execute(params![
                        run.org_id,
                        key,
                        state.as_str(),
                        now,
                        expires_at,
                        user_id
                    ])
                    .map_err(|e| sql(&path, e))?;
                totals.people += 1;
                *match state {
                    MembershipState::Pending => &mut totals.pending,
                    MembershipState::Active => &mut totals.active,
                    MembershipState::InvitationExpired => &mut totals.expired,
                    MembershipState::InvitationRejected => &mut totals.rejected,
                    MembershipState::Missing => &mut totals.missing,
                } += 1;
                known.insert(key);
            }
        }
        totals.untracked = observed.keys().filter(|k| !known.contains(*k)).count() as u64;
        tx.execute(
            "INSERT INTO reconciles (org_id, started_at, finished_at, base_url, os_user, hostname,
                                     atlas_people, pending, active, expired, rejected, missing,
                                     untracked, requests, tool_version)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            params![
                run.org_id,
                run.started_at,
                now,
                run.base_url,
                run.os_user,
                run.hostname,
                totals.atlas_people as i64,
                totals.pending as i64,
                totals.active as i64,
                totals.expired as i64,
                totals.rejected as i64,
                totals.missing as i64,
                totals.untracked as i64,
                run.requests as i64,
                env!("CARGO_PKG_VERSION"),
            ],
        )
        .map_err(|e| sql(&path, e))?;
        totals.reconcile_id = tx.last_insert_rowid();
        tx.commit().map_err(|e| sql(&path, e))?;
        Ok(totals)
    }

    /// When the last `reconcile` of `org_id` (or of any organization) finished, if one did.
    pub fn last_reconcile(&self, org_id: Option<&str>) -> Result<Option<String>, JournalError> {
        if self.schema_version()? < LIFECYCLE_SCHEMA {
            return Ok(None);
        }
        self.conn
            .query_row(
                "SELECT max(finished_at) FROM reconciles WHERE ?1 IS NULL OR org_id = ?1",
                params![org_id],
                |r| r.get(0),
            )
            .map_err(|e| sql(self.path(), e))
    }

    /// True when migrations newer than this journal's schema exist: the audit commands, which
    /// read the views of the newest one, must upgrade it first.
    pub fn is_outdated(&self) -> Result<bool, JournalError> {
        Ok(self.schema_version()? < super::store::MIGRATIONS.len() as i64)
    }

    /// The lower-cased emails among `keys` whose invitation lapsed (expired or declined) in
    /// organization `org_id`, for `run --dry-run`. An older journal, opened read-only and so not
    /// migrated, has no lifecycle columns and hence no lapsed invitation.
    pub fn lapsed_of<'a>(
        &self,
        org_id: &str,
        keys: impl IntoIterator<Item = &'a str>,
    ) -> Result<HashSet<String>, JournalError> {
        let mut found = HashSet::new();
        if self.schema_version()? < LIFECYCLE_SCHEMA {
            return Ok(found);
        }
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT membership_state FROM invites WHERE org_id = ?1 AND email_key = ?2",
            )
            .map_err(|e| sql(self.path(), e))?;
        for key in keys {
            let mut rows = stmt
                .query(params![org_id, key])
                .map_err(|e| sql(self.path(), e))?;
            if let Some(row) = rows.next().map_err(|e| sql(self.path(), e))? {
                let state: Option<String> = row.get(0).map_err(|e| sql(self.path(), e))?;
                if state
                    .as_deref()
                    .and_then(MembershipState::parse)
                    .is_some_and(MembershipState::is_lapsed)
                {
                    found.insert(key.to_owned());
                }
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::test_support::{ORG, invitee, new_run, temp_journal};

    /// A journal with one run that planned `people`, from CSV line 2 on.
    fn journal_with(people: &[&str]) -> (tempfile::TempDir, Journal) {
        let (dir, mut journal) = temp_journal();
        let run = journal.start_run(&new_run()).unwrap();
        let invitees = people
            .iter()
            .enumerate()
            .map(|(i, email)| invitee(i as u64 + 2, email))
            .collect();
        journal.plan(run, ORG, invitees, &[]).unwrap();
        (dir, journal)
    }

    fn reconcile_run() -> ReconcileRun {
        ReconcileRun {
            org_id: ORG.into(),
            started_at: now_rfc3339(),
            base_url: "http://127.0.0.1".into(),
            os_user: Some("auditor".into()),
            hostname: None,
            requests: 2,
        }
    }

    fn seen(state: MembershipState) -> Observation {
        Observation {
            state,
            expires_at: Some("2026-12-01T00:00:00.000Z".into()),
            atlas_user_id: Some("65a1f0c2e4b7d9a3c5e8f101".into()),
        }
    }

    #[test]
    fn states_round_trip_and_match_the_table() {
        let (_dir, journal) = journal_with(&[]);
        let mut stmt = journal
            .conn
            .prepare("SELECT state FROM membership_states ORDER BY state")
            .unwrap();
        let stored: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let mut ours: Vec<&str> = MembershipState::ALL.iter().map(|s| s.as_str()).collect();
        ours.sort();
        assert_eq!(stored, ours);
        for s in MembershipState::ALL {
            assert_eq!(MembershipState::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn every_person_gets_a_state_and_absent_ones_are_missing() {
        let (_dir, mut journal) = journal_with(&["ann@example.com", "bob@example.com", "cy@x.io"]);
        let observed = HashMap::from([
            ("ann@example.com".to_owned(), seen(MembershipState::Active)),
            (
                "bob@example.com".to_owned(),
                seen(MembershipState::InvitationExpired),
            ),
            ("zed@example.com".to_owned(), seen(MembershipState::Pending)),
        ]);
        let totals = journal
            .record_memberships(&reconcile_run(), &observed)
            .unwrap();
        assert_eq!(
            (totals.people, totals.active, totals.expired, totals.missing),
            (3, 1, 1, 1)
        );
        assert_eq!((totals.atlas_people, totals.untracked), (3, 1));
        let states: Vec<(String, Option<String>)> = journal
            .conn
            .prepare("SELECT email_key, membership_state FROM invites ORDER BY email_key")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            states,
            vec![
                ("ann@example.com".into(), Some("ACTIVE".into())),
                ("bob@example.com".into(), Some("INVITATION_EXPIRED".into())),
                ("cy@x.io".into(), Some("MISSING".into())),
            ]
        );
        let lapsed = journal
            .lapsed_of(ORG, ["ann@example.com", "bob@example.com", "nobody@x.io"])
            .unwrap();
        assert_eq!(lapsed, HashSet::from(["bob@example.com".to_owned()]));
        let recorded: i64 = journal
            .conn
            .query_row("SELECT untracked FROM reconciles", [], |r| r.get(0))
            .unwrap();
        assert_eq!(recorded, 1);
    }

    #[test]
    fn a_later_observation_without_expiry_keeps_the_last_known_one() {
        let (_dir, mut journal) = journal_with(&["ann@example.com"]);
        let first = HashMap::from([("ann@example.com".to_owned(), seen(MembershipState::Pending))]);
        journal
            .record_memberships(&reconcile_run(), &first)
            .unwrap();
        let accepted = HashMap::from([(
            "ann@example.com".to_owned(),
            Observation {
                state: MembershipState::Active,
                expires_at: None,
                atlas_user_id: None,
            },
        )]);
        journal
            .record_memberships(&reconcile_run(), &accepted)
            .unwrap();
        let (state, expires, id): (String, Option<String>, Option<String>) = journal
            .conn
            .query_row(
                "SELECT membership_state, expires_at, atlas_user_id FROM invites",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(state, "ACTIVE");
        assert_eq!(expires.as_deref(), Some("2026-12-01T00:00:00.000Z"));
        assert!(id.is_some());
    }
}
