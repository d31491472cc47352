//! Reads and writes of the journal outside the recorder: starting and finishing a run, planning
//! what a run must send, and the counts `status` shows.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::SystemTime;

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::Serialize;

use super::changes::{insert_change, leavers};
use super::store::sql;
use super::{InviteStatus, Journal, JournalError, MembershipState};
use crate::plan::{
    Action, Grants, Known, PlanOptions, PlannedChange, PlannedRow, decide, decide_with_grants,
    invalid_row_replaces,
};
use crate::roster::{InvalidRow, Invitee};
use crate::util::now_rfc3339;
use crate::vocab::{Counts, EmailKey, Operation};

/// What is known about a run when it starts.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub org_id: String,
    pub csv_path: String,
    pub csv_sha256: String,
    pub api: String,
    pub base_url: String,
    /// Effective options as JSON. Must never hold a credential.
    pub options: serde_json::Value,
    pub os_user: Option<String>,
    pub hostname: Option<String>,
    /// `run`, `apply` or `revoke` (`runs.command`).
    pub command: &'static str,
}

/// The counts a run ends with, stored in its `runs` row.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunTotals {
    pub rows_total: u64,
    pub rows_valid: u64,
    pub rows_invalid: u64,
    pub rows_duplicate: u64,
    pub skipped: u64,
    /// What the people came to; `retries` and `rate_limited` are not stored in `runs` (the
    /// `attempts` table has every request).
    pub counts: Counts,
}

/// What a run must do, decided from the roster and the journal.
#[derive(Debug, Default)]
pub struct Plan {
    /// Rows to send (or resolve), in file order.
    pub rows: Vec<PlannedRow>,
    /// Valid rows already done in an earlier run: only counted, so that a rerun of a big file
    /// holds none of them.
    pub skipped: usize,
    /// Among `skipped`, people whose invitation expired or was declined (as the last
    /// `reconcile` saw it), left alone because `--reinvite-expired` was not given.
    pub lapsed_skipped: usize,
    /// Among `rows`, people done earlier whose invitation lapsed, planned again because of
    /// `--reinvite-expired`.
    pub reinvited: usize,
    /// Updates (grants changed in the file) and, with `--prune`, removals: registered in
    /// `changes`, in file order then address order.
    pub changes: Vec<PlannedChange>,
    /// Among `skipped`, people whose grants differ from the file but `--no-update` was given.
    pub drifted: usize,
}

/// One line of `status`: how many people of an organization have a status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusCount {
    pub org_id: String,
    pub status: String,
    pub count: i64,
}

/// A `runs` row as `status` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRecord {
    pub id: i64,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub org_id: String,
    pub csv_path: String,
    pub invited: i64,
    pub skipped: i64,
    pub failed: i64,
    pub rows_invalid: i64,
    pub unfinished: i64,
    pub requests: i64,
    pub exit_code: Option<i64>,
}

impl Journal {
    /// Records the start of a run and returns its id.
    pub fn start_run(&mut self, run: &NewRun) -> Result<i64, JournalError> {
        insert_run(&self.conn, run).map_err(|e| sql(self.path(), e))
    }

    /// Records the end of a run.
    pub fn finish_run(
        &mut self,
        run_id: i64,
        totals: &RunTotals,
        exit_code: i32,
    ) -> Result<(), JournalError> {
        let path = self.path().to_owned();
        self.conn
            .execute(
                "UPDATE runs SET finished_at = ?2, rows_total = ?3, rows_valid = ?4,
                        rows_invalid = ?5, rows_duplicate = ?6, skipped = ?7, invited = ?8,
                        failed = ?9, unfinished = ?10, requests = ?11, exit_code = ?12,
                        already_invited = ?13, already_member = ?14, updated = ?15,
                        revoked = ?16, removed = ?17
                 WHERE id = ?1",
                params![
                    run_id,
                    now_rfc3339(),
                    totals.rows_total as i64,
                    totals.rows_valid as i64,
                    totals.rows_invalid as i64,
                    totals.rows_duplicate as i64,
                    totals.skipped as i64,
                    totals.counts.invited as i64,
                    totals.counts.failed as i64,
                    totals.counts.unfinished as i64,
                    totals.counts.requests as i64,
                    exit_code,
                    totals.counts.already_invited as i64,
                    totals.counts.already_member as i64,
                    totals.counts.updated as i64,
                    totals.counts.revoked as i64,
                    totals.counts.removed as i64,
                ],
            )
            .map_err(|e| sql(&path, e))?;
        Ok(())
    }

    /// The last moment the run before `run_id` can have sent a request: when it ended, else
    /// when its last lease ran out (see `pipeline::lease`). `None` when it left neither (killed
    /// before its first lease, or made by a version without leases), or there is no such run.
    pub fn previous_run_last_send(&self, run_id: i64) -> Result<Option<SystemTime>, JournalError> {
        let ends: Option<(Option<String>, Option<String>)> = self
            .conn
            .query_row(
                "SELECT finished_at, lease_until FROM runs WHERE id < ?1 ORDER BY id DESC LIMIT 1",
                params![run_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| sql(self.path(), e))?;
        Ok(ends.and_then(|(finished, lease)| {
            finished
                .or(lease)
                .and_then(|text| humantime::parse_rfc3339_weak(&text).ok())
        }))
    }

    /// The current status of each given person, for `--dry-run` (which must not write).
    pub fn statuses_of(
        &self,
        org_id: &str,
        invitees: &[Invitee],
    ) -> Result<HashMap<EmailKey, (InviteStatus, Option<Grants>)>, JournalError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT status, roles, team_ids, projects FROM invites
                 WHERE org_id = ?1 AND email_key = ?2",
            )
            .map_err(|e| sql(self.path(), e))?;
        let mut found = HashMap::new();
        for invitee in invitees {
            let key = invitee.email_key();
            let known: Option<(InviteStatus, Option<Grants>)> = stmt
                .query_row(params![org_id, key], |r| {
                    Ok((
                        r.get(0)?,
                        Grants::from_json(
                            &r.get::<_, String>(1)?,
                            &r.get::<_, String>(2)?,
                            &r.get::<_, String>(3)?,
                        ),
                    ))
                })
                .optional()
                .map_err(|e| sql(self.path(), e))?;
            if let Some(known) = known {
                found.insert(key, known);
            }
        }
        Ok(found)
    }

    /// Registers every row of the file under `run_id` in one transaction and decides what the
    /// run must send: rows already done are skipped, rows an earlier run left `in_flight` are
    /// resolved first, every other valid row becomes `pending`. Invalid rows are recorded as
    /// `invalid` unless the person is already done or in flight, whose state a typo in a later
    /// file must not overwrite.
    pub fn plan(
        &mut self,
        run_id: i64,
        org_id: &str,
        invitees: Vec<Invitee>,
        invalid: &[InvalidRow],
    ) -> Result<Plan, JournalError> {
        self.plan_with(run_id, org_id, invitees, invalid, PlanOptions::default())
    }

    /// [`Journal::plan`] with the operator's choices. With `reinvite_expired`, a done person
    /// whose invitation lapsed becomes `pending` again and their membership observation is
    /// cleared: it described the old invitation, and a stale `INVITATION_EXPIRED` would make
    /// the next `--reinvite-expired` run invite them a third time.
    pub fn plan_with(
        &mut self,
        run_id: i64,
        org_id: &str,
        invitees: Vec<Invitee>,
        invalid: &[InvalidRow],
        options: PlanOptions,
    ) -> Result<Plan, JournalError> {
        let mut planner = self.planner(run_id, org_id, options)?;
        planner.add(invitees, invalid)?;
        planner.commit()
    }

    /// [`Journal::plan_with`] batch by batch, for a file read as a stream: the [`Planner`] holds
    /// one transaction until [`Planner::commit`]; dropped before, it writes nothing.
    pub fn planner(
        &mut self,
        run_id: i64,
        org_id: &str,
        options: PlanOptions,
    ) -> Result<Planner<'_>, JournalError> {
        let path = self.path().to_owned();
        let tx = self.conn.transaction().map_err(|e| sql(&path, e))?;
        Ok(Planner {
            tx,
            path,
            run_id,
            org_id: org_id.to_owned(),
            now: now_rfc3339(),
            options,
            plan: Plan::default(),
            in_file: options.prune.then(HashSet::new),
        })
    }

    /// Starts a run ([`Journal::start_run`]) inside the transaction of a [`Planner`], so that a
    /// planning that is given up leaves no trace, not even the run.
    pub fn start_planned_run(
        &mut self,
        run: &NewRun,
        options: PlanOptions,
    ) -> Result<Planner<'_>, JournalError> {
        let mut planner = self.planner(0, &run.org_id, options)?;
        planner.run_id = insert_run(&planner.tx, run).map_err(|e| sql(&planner.path, e))?;
        Ok(planner)
    }

    /// The people `run --prune` would remove, without registering anything (`--dry-run`).
    pub fn leavers_of(
        &self,
        org_id: &str,
        in_file: &HashSet<EmailKey>,
    ) -> Result<Vec<PlannedChange>, JournalError> {
        leavers(&self.conn, org_id, in_file).map_err(|e| sql(self.path(), e))
    }

    /// How many people have each status, per organization (or for one), ordered by
    /// organization and status.
    pub fn status_counts(&self, org_id: Option<&str>) -> Result<Vec<StatusCount>, JournalError> {
        // Counted here from one pass over the table: without an index on the status (see
        // migration 0005), SQLite's GROUP BY would sort every row first, several times slower
        // on a large journal. There are only a handful of (organization, status) pairs.
        let path = self.path();
        let mut stmt = self
            .conn
            .prepare_cached("SELECT org_id, status FROM invites WHERE ?1 IS NULL OR org_id = ?1")
            .map_err(|e| sql(path, e))?;
        let mut rows = stmt.query(params![org_id]).map_err(|e| sql(path, e))?;
        let mut counts: Vec<StatusCount> = Vec::new();
        while let Some(row) = rows.next().map_err(|e| sql(path, e))? {
            let text = |i: usize| -> Result<&str, JournalError> {
                row.get_ref(i)
                    .and_then(|v| v.as_str().map_err(Into::into))
                    .map_err(|e| sql(path, e))
            };
            let (org, status) = (text(0)?, text(1)?);
            match counts
                .iter_mut()
                .find(|c| c.org_id == org && c.status == status)
            {
                Some(count) => count.count += 1,
                None => counts.push(StatusCount {
                    org_id: org.to_owned(),
                    status: status.to_owned(),
                    count: 1,
                }),
            }
        }
        counts.sort_by(|a, b| (&a.org_id, &a.status).cmp(&(&b.org_id, &b.status)));
        Ok(counts)
    }

    /// The most recent runs, newest first.
    pub fn recent_runs(
        &self,
        org_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<RunRecord>, JournalError> {
        self.query_all(
            "SELECT id, started_at, finished_at, org_id, csv_path, invited, skipped, failed,
                        rows_invalid, unfinished, requests, exit_code
                 FROM runs WHERE ?1 IS NULL OR org_id = ?1
                 ORDER BY id DESC LIMIT ?2",
            params![org_id, limit],
            |r| {
                Ok(RunRecord {
                    id: r.get(0)?,
                    started_at: r.get(1)?,
                    finished_at: r.get(2)?,
                    org_id: r.get(3)?,
                    csv_path: r.get(4)?,
                    invited: r.get(5)?,
                    skipped: r.get(6)?,
                    failed: r.get(7)?,
                    rows_invalid: r.get(8)?,
                    unfinished: r.get(9)?,
                    requests: r.get(10)?,
                    exit_code: r.get(11)?,
                })
            },
        )
    }
}

/// Inserts a `runs` row and returns its id.
fn insert_run(conn: &Connection, run: &NewRun) -> rusqlite::Result<i64> {
    conn.execute(
        "INSERT INTO runs (started_at, org_id, csv_path, csv_sha256, api, base_url, options,
                           os_user, hostname, tool_version, command)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            now_rfc3339(),
            run.org_id,
            run.csv_path,
            run.csv_sha256,
            run.api,
            run.base_url,
            run.options.to_string(),
            run.os_user,
            run.hostname,
            env!("CARGO_PKG_VERSION"),
            run.command,
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// A [`Plan`] in the making: rows go in batch by batch, in file order, within one transaction.
/// See [`Journal::planner`].
pub struct Planner<'j> {
    tx: Transaction<'j>,
    path: PathBuf,
    run_id: i64,
    org_id: String,
    now: String,
    options: PlanOptions,
    plan: Plan,
    /// With `--prune`: every address of the file, valid or not, so that the people left out
    /// can be found at the end.
    in_file: Option<HashSet<EmailKey>>,
}

impl Planner<'_> {
    /// The run the rows are registered under.
    pub fn run_id(&self) -> i64 {
        self.run_id
    }

    /// What is planned so far.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Plans a batch of rows as [`Journal::plan_with`] does: the valid rows, then the invalid
    /// ones. Batches must come in file order, so that a person's valid first row is registered
    /// before a later invalid row of the same address, as in one call for the whole file.
    pub fn add(
        &mut self,
        invitees: impl IntoIterator<Item = Invitee>,
        invalid: &[InvalidRow],
    ) -> Result<(), JournalError> {
        let path = &self.path;
        let (org_id, run_id, now) = (self.org_id.as_str(), self.run_id, self.now.as_str());
        let plan = &mut self.plan;
        let mut select = self
            .tx
            .prepare_cached(
                "SELECT status, membership_state, roles, team_ids, projects, invitation_id,
                        atlas_user_id
                 FROM invites WHERE org_id = ?1 AND email_key = ?2",
            )
            .map_err(|e| sql(path, e))?;
        let mut select_run = self
            .tx
            .prepare_cached(
                "SELECT status, last_run_id FROM invites WHERE org_id = ?1 AND email_key = ?2",
            )
            .map_err(|e| sql(path, e))?;
        let mut forget_membership = self
            .tx
            .prepare_cached(
                "UPDATE invites SET membership_state = NULL, membership_observed_at = NULL,
                        expires_at = NULL
                 WHERE org_id = ?1 AND email_key = ?2",
            )
            .map_err(|e| sql(path, e))?;
        let mut upsert = self
            .tx
            .prepare_cached(
                "INSERT INTO invites (org_id, email_key, email, roles, team_ids, projects,
                                      status, csv_line, first_run_id, last_run_id,
                                      created_at, updated_at, last_error_detail,
                                      grant_sources)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?10, ?11, ?12)
                 ON CONFLICT (org_id, email_key) DO UPDATE SET
                     email = excluded.email, roles = excluded.roles,
                     team_ids = excluded.team_ids, projects = excluded.projects,
                     status = excluded.status, csv_line = excluded.csv_line,
                     last_run_id = excluded.last_run_id, updated_at = excluded.updated_at,
                     last_error_detail = coalesce(excluded.last_error_detail,
                                                  invites.last_error_detail),
                     grant_sources = excluded.grant_sources",
            )
            .map_err(|e| sql(path, e))?;
        for invitee in invitees {
            let key = invitee.email_key();
            if let Some(in_file) = &mut self.in_file {
                in_file.insert(key.clone());
            }
            let existing: Option<Existing> = select
                .query_row(params![org_id, key], |r| {
                    Ok(Existing {
                        status: r.get(0)?,
                        membership: r.get(1)?,
                        stored: [r.get(2)?, r.get(3)?, r.get(4)?],
                        invitation_id: r.get(5)?,
                        user_id: r.get(6)?,
                    })
                })
                .optional()
                .map_err(|e| sql(path, e))?;
            let lapsed = existing
                .as_ref()
                .and_then(|e| e.membership.as_deref())
                .and_then(MembershipState::parse)
                .is_some_and(MembershipState::is_lapsed);
            let known = existing.as_ref().map(|e| Known {
                status: e.status,
                lapsed,
            });
            // The common case of a rerun: the file asks for what was applied, stored as this
            // version writes it. Comparing the text spares parsing and sorting every row.
            let unchanged = existing
                .as_ref()
                .is_none_or(|e| e.stored == stored_grants(&invitee));
            let (applied, desired) = if unchanged {
                (None, None)
            } else {
                let [roles, teams, projects] = &existing.as_ref().expect("known").stored;
                (
                    Grants::from_json(roles, teams, projects),
                    Some(Grants::of(&invitee)),
                )
            };
            let action = match &desired {
                None => decide(known, self.options),
                Some(desired) => decide_with_grants(known, applied.as_ref(), desired, self.options),
            };
            let unresolved = match action {
                Action::Skip { lapsed, .. } => {
                    plan.lapsed_skipped += usize::from(lapsed);
                    plan.skipped += 1;
                    continue;
                }
                Action::Drifted { .. } => {
                    plan.drifted += 1;
                    plan.skipped += 1;
                    continue;
                }
                Action::Update => {
                    let existing = existing.expect("an update is for a known person");
                    let mut change = PlannedChange {
                        id: 0,
                        email: invitee.email.clone(),
                        email_key: key,
                        operation: Operation::Update,
                        reason: "the file asks for other grants".into(),
                        from: applied.unwrap_or_default(),
                        to: desired,
                        invitation_id: existing.invitation_id,
                        user_id: existing.user_id,
                        remove_active: false,
                    };
                    insert_change(&self.tx, run_id, org_id, now, &mut change)
                        .map_err(|e| sql(path, e))?;
                    plan.changes.push(change);
                    continue;
                }
                Action::Reinvite => {
                    forget_membership
                        .execute(params![org_id, key])
                        .map_err(|e| sql(path, e))?;
                    plan.reinvited += 1;
                    false
                }
                Action::Resolve => true,
                Action::Send => false,
            };
            let status = if unresolved {
                InviteStatus::InFlight
            } else {
                InviteStatus::Pending
            };
            upsert
                .execute(params![
                    org_id,
                    key,
                    invitee.email,
                    json_roles(&invitee),
                    serde_json::to_string(&invitee.team_ids).unwrap_or_default(),
                    serde_json::to_string(&invitee.projects).unwrap_or_default(),
                    status.as_str(),
                    invitee.line as i64,
                    run_id,
                    now,
                    Option::<String>::None,
                    serde_json::to_string(&*invitee.sources).ok(),
                ])
                .map_err(|e| sql(path, e))?;
            plan.rows.push(PlannedRow {
                invitee,
                unresolved,
            });
        }
        for row in invalid {
            let Some(email) = row.email.as_deref() else {
                continue;
            };
            let key = EmailKey::of(email);
            if let Some(in_file) = &mut self.in_file {
                // A person whose row is broken this month has not left.
                in_file.insert(key.clone());
            }
            let existing: Option<(InviteStatus, Option<i64>)> = select_run
                .query_row(params![org_id, key], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .map_err(|e| sql(path, e))?;
            let keep = existing.is_some_and(|(status, last_run)| {
                !invalid_row_replaces(Some(status), last_run == Some(run_id))
            });
            if keep {
                continue;
            }
            upsert
                .execute(params![
                    org_id,
                    key,
                    email,
                    "[]",
                    "[]",
                    "[]",
                    InviteStatus::Invalid.as_str(),
                    row.line as i64,
                    run_id,
                    now,
                    Some(row.reason()),
                    Option::<String>::None,
                ])
                .map_err(|e| sql(path, e))?;
        }
        Ok(())
    }

    /// Records the SHA-256 of the file in the run started by [`Journal::start_planned_run`],
    /// once the file has been read to its end.
    pub fn set_csv_sha256(&mut self, digest: &str) -> Result<(), JournalError> {
        self.tx
            .execute(
                "UPDATE runs SET csv_sha256 = ?2 WHERE id = ?1",
                params![self.run_id, digest],
            )
            .map_err(|e| sql(&self.path, e))?;
        Ok(())
    }

    /// With `--prune`, once the whole file is planned: registers the removal of everybody this
    /// journal invited into the organization who is not in the file, and returns how many.
    pub fn plan_removals(&mut self) -> Result<usize, JournalError> {
        let Some(in_file) = self.in_file.take() else {
            return Ok(0);
        };
        let path = &self.path;
        let mut leavers = leavers(&self.tx, &self.org_id, &in_file).map_err(|e| sql(path, e))?;
        for change in &mut leavers {
            insert_change(&self.tx, self.run_id, &self.org_id, &self.now, change)
                .map_err(|e| sql(path, e))?;
        }
        let count = leavers.len();
        self.plan.changes.extend(leavers);
        Ok(count)
    }

    /// Commits every batch, and returns the plan.
    pub fn commit(self) -> Result<Plan, JournalError> {
        self.tx.commit().map_err(|e| sql(&self.path, e))?;
        Ok(self.plan)
    }
}

/// A person's row as planning reads it.
struct Existing {
    status: InviteStatus,
    membership: Option<String>,
    /// `roles`, `team_ids` and `projects` as stored.
    stored: [String; 3],
    invitation_id: Option<String>,
    user_id: Option<String>,
}

/// A row's grants as `invites` stores them.
fn stored_grants(invitee: &Invitee) -> [String; 3] {
    [
        json_roles(invitee),
        serde_json::to_string(&invitee.team_ids).unwrap_or_default(),
        serde_json::to_string(&invitee.projects).unwrap_or_default(),
    ]
}

fn json_roles(invitee: &Invitee) -> String {
    let names: Vec<&str> = invitee.roles.iter().map(|r| r.as_str()).collect();
    serde_json::to_string(&names).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::journal::test_support::{ORG, invitee, new_run};

    fn set_status(journal: &Journal, key: &str, status: InviteStatus) {
        journal
            .conn
            .execute(
                "UPDATE invites SET status = ?1 WHERE email_key = ?2",
                params![status.as_str(), key],
            )
            .unwrap();
    }

    #[test]
    fn plan_skips_done_rows_and_resolves_in_flight_ones() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(&dir.path().join("j.db")).unwrap();
        let run = journal.start_run(&new_run()).unwrap();
        let people = vec![
            invitee(2, "Ann@example.com"),
            invitee(3, "bob@example.com"),
            invitee(4, "cy@example.com"),
        ];
        let plan = journal.plan(run, ORG, people.clone(), &[]).unwrap();
        assert_eq!(plan.rows.len(), 3);
        assert!(plan.rows.iter().all(|r| !r.unresolved));

        set_status(&journal, "ann@example.com", InviteStatus::Invited);
        set_status(&journal, "bob@example.com", InviteStatus::InFlight);
        let run2 = journal.start_run(&new_run()).unwrap();
        let plan = journal.plan(run2, ORG, people, &[]).unwrap();
        assert_eq!(plan.skipped, 1);
        let unresolved: Vec<_> = plan
            .rows
            .iter()
            .map(|r| (r.invitee.email.as_str(), r.unresolved))
            .collect();
        assert_eq!(
            unresolved,
            vec![("bob@example.com", true), ("cy@example.com", false)]
        );
        let (first, last): (i64, i64) = journal
            .conn
            .query_row(
                "SELECT first_run_id, last_run_id FROM invites WHERE email_key = 'cy@example.com'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((first, last), (run, run2));
    }

    #[test]
    fn an_unknown_stored_status_is_an_error_not_a_new_person() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(&dir.path().join("j.db")).unwrap();
        let run = journal.start_run(&new_run()).unwrap();
        let people = vec![invitee(2, "ann@example.com")];
        journal.plan(run, ORG, people.clone(), &[]).unwrap();
        // As a later version could write it (the table of statuses gets the value too).
        journal
            .conn
            .execute_batch(
                "INSERT INTO statuses VALUES ('archived', 'test');
                 UPDATE invites SET status = 'archived';",
            )
            .unwrap();
        let error = journal.statuses_of(ORG, &people).unwrap_err().to_string();
        assert!(
            error.contains("unknown invite status \"archived\""),
            "{error}"
        );
        let run2 = journal.start_run(&new_run()).unwrap();
        assert!(journal.plan(run2, ORG, people, &[]).is_err());
    }

    #[test]
    fn invalid_rows_never_overwrite_a_done_person() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(&dir.path().join("j.db")).unwrap();
        let run = journal.start_run(&new_run()).unwrap();
        journal
            .plan(run, ORG, vec![invitee(2, "ann@example.com")], &[])
            .unwrap();
        set_status(&journal, "ann@example.com", InviteStatus::Invited);
        let bad = |email: &str| InvalidRow {
            line: 9,
            email: Some(email.to_owned()),
            problems: vec![crate::roster::Problem {
                column: "roles".into(),
                value: "admin".into(),
                message: "unknown organization role".into(),
            }],
        };
        journal
            .plan(
                run,
                ORG,
                vec![],
                &[bad("ANN@example.com"), bad("dee@example.com")],
            )
            .unwrap();
        let counts = journal.status_counts(Some(ORG)).unwrap();
        let get = |s: &str| counts.iter().find(|c| c.status == s).map(|c| c.count);
        assert_eq!(get("invited"), Some(1));
        assert_eq!(get("invalid"), Some(1));
        let detail: String = journal
            .conn
            .query_row(
                "SELECT last_error_detail FROM invites WHERE email_key = 'dee@example.com'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(detail.contains("admin"), "{detail}");
    }

    #[test]
    fn batches_plan_what_one_call_plans() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(&dir.path().join("j.db")).unwrap();
        let run = journal.start_run(&new_run()).unwrap();
        let people: Vec<Invitee> = (0..5)
            .map(|i| invitee(i + 2, &format!("p{i}@example.com")))
            .collect();
        journal.plan(run, ORG, people[..2].to_vec(), &[]).unwrap();
        set_status(&journal, "p0@example.com", InviteStatus::Invited);

        let mut planner = journal.planner(run, ORG, PlanOptions::default()).unwrap();
        planner.add(people[..3].to_vec(), &[]).unwrap();
        planner.add(people[3..].to_vec(), &[]).unwrap();
        assert_eq!(planner.plan().rows.len(), 4);
        let plan = planner.commit().unwrap();
        assert_eq!(plan.skipped, 1);
        let emails: Vec<&str> = plan.rows.iter().map(|r| r.invitee.email.as_str()).collect();
        assert_eq!(
            emails,
            [
                "p1@example.com",
                "p2@example.com",
                "p3@example.com",
                "p4@example.com"
            ]
        );
        let counts = journal.status_counts(Some(ORG)).unwrap();
        let pending = counts.iter().find(|c| c.status == "pending").unwrap();
        assert_eq!(pending.count, 4);
    }

    #[test]
    fn status_counts_are_per_organization_and_ordered() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(&dir.path().join("j.db")).unwrap();
        let run = journal.start_run(&new_run()).unwrap();
        let other = "000000000000000000000001";
        let people = |names: &[&str]| names.iter().map(|n| invitee(2, n)).collect::<Vec<_>>();
        journal
            .plan(run, ORG, people(&["a@x.io", "b@x.io", "c@x.io"]), &[])
            .unwrap();
        journal
            .plan(run, other, people(&["a@x.io", "d@x.io"]), &[])
            .unwrap();
        journal
            .conn
            .execute(
                "UPDATE invites SET status = 'invited' WHERE org_id = ?1 AND email_key != 'c@x.io'",
                [ORG],
            )
            .unwrap();
        let flat = |counts: Vec<StatusCount>| {
            counts
                .into_iter()
                .map(|c| (c.org_id, c.status, c.count))
                .collect::<Vec<_>>()
        };
        let all = flat(journal.status_counts(None).unwrap());
        assert_eq!(
            all,
            vec![
                (other.to_owned(), "pending".to_owned(), 2),
                (ORG.to_owned(), "invited".to_owned(), 2),
                (ORG.to_owned(), "pending".to_owned(), 1),
            ]
        );
        let one = flat(journal.status_counts(Some(other)).unwrap());
        assert_eq!(one, vec![(other.to_owned(), "pending".to_owned(), 2)]);
    }

    #[test]
    fn a_planned_run_given_up_leaves_no_trace() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(&dir.path().join("j.db")).unwrap();
        let options = PlanOptions::default();
        let mut planner = journal.start_planned_run(&new_run(), options).unwrap();
        planner
            .add(vec![invitee(2, "ann@example.com")], &[])
            .unwrap();
        drop(planner);
        assert!(journal.recent_runs(None, 10).unwrap().is_empty());
        assert!(journal.status_counts(None).unwrap().is_empty());

        let mut planner = journal.start_planned_run(&new_run(), options).unwrap();
        let run = planner.run_id();
        planner
            .add(vec![invitee(2, "ann@example.com")], &[])
            .unwrap();
        planner.set_csv_sha256("ab12").unwrap();
        planner.commit().unwrap();
        let runs = journal.recent_runs(None, 10).unwrap();
        assert_eq!(runs.iter().map(|r| r.id).collect::<Vec<_>>(), [run]);
        let digest: String = journal
            .conn
            .query_row("SELECT csv_sha256 FROM runs", [], |r| r.get(0))
            .unwrap();
        assert_eq!(digest, "ab12");
    }

    #[test]
    fn finished_runs_are_listed_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(&dir.path().join("j.db")).unwrap();
        let a = journal.start_run(&new_run()).unwrap();
        let b = journal.start_run(&new_run()).unwrap();
        let totals = RunTotals {
            counts: Counts {
                invited: 3,
                ..Counts::default()
            },
            ..RunTotals::default()
        };
        journal.finish_run(b, &totals, 0).unwrap();
        let runs = journal.recent_runs(None, 10).unwrap();
        assert_eq!(runs.iter().map(|r| r.id).collect::<Vec<_>>(), vec![b, a]);
        assert_eq!(runs[0].invited, 3);
        assert_eq!(runs[0].exit_code, Some(0));
        assert_eq!(runs[1].exit_code, None);
    }

    #[test]
    fn lapsed_invitations_are_planned_again_only_on_request() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(&dir.path().join("j.db")).unwrap();
        let run = journal.start_run(&new_run()).unwrap();
        let people = vec![invitee(2, "ann@example.com"), invitee(3, "bob@example.com")];
        journal.plan(run, ORG, people.clone(), &[]).unwrap();
        set_status(&journal, "ann@example.com", InviteStatus::Invited);
        set_status(&journal, "bob@example.com", InviteStatus::Invited);
        journal
            .conn
            .execute(
                "UPDATE invites SET membership_state = 'INVITATION_EXPIRED'
                 WHERE email_key = 'ann@example.com'",
                [],
            )
            .unwrap();

        let plan = journal.plan(run, ORG, people.clone(), &[]).unwrap();
        assert!(plan.rows.is_empty());
        assert_eq!((plan.skipped, plan.lapsed_skipped), (2, 1));

        let options = PlanOptions {
            reinvite_expired: true,
            ..PlanOptions::default()
        };
        let plan = journal
            .plan_with(run, ORG, people.clone(), &[], options)
            .unwrap();
        assert_eq!(plan.rows.len(), 1);
        assert_eq!(plan.rows[0].invitee.email, "ann@example.com");
        assert_eq!(plan.reinvited, 1);
        let (status, state): (String, Option<String>) = journal
            .conn
            .query_row(
                "SELECT status, membership_state FROM invites WHERE email_key = 'ann@example.com'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((status.as_str(), state), ("pending", None));
    }
}
