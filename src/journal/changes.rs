//! The `changes` table: updates, revocations and removals, registered before they are sent
//! (the recorder finishes them), and the selections `revoke` and `run --prune` make.

use std::collections::HashSet;

use rusqlite::{Connection, params};
use serde::Serialize;

use super::store::sql;
use super::{Journal, JournalError};
use crate::plan::{Grants, PlannedChange};
use crate::vocab::{ChangeState, EmailKey, InviteStatus, Operation};

/// Registers a planned change and sets its id.
pub(super) fn insert_change(
    conn: &Connection,
    run_id: i64,
    org_id: &str,
    now: &str,
    change: &mut PlannedChange,
) -> rusqlite::Result<()> {
    let (old_roles, old_teams, old_projects) = change.from.to_json();
    let new = change.to.as_ref().map(Grants::to_json);
    conn.prepare_cached(
        "INSERT INTO changes (run_id, org_id, email_key, email, operation, reason,
                              old_roles, old_team_ids, old_projects,
                              new_roles, new_team_ids, new_projects, state, planned_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?
    .execute(params![
        run_id,
        org_id,
        change.email_key,
        change.email,
        change.operation.as_str(),
        change.reason,
        old_roles,
        old_teams,
        old_projects,
        new.as_ref().map(|n| n.0.as_str()),
        new.as_ref().map(|n| n.1.as_str()),
        new.as_ref().map(|n| n.2.as_str()),
        ChangeState::Planned,
        now,
    ])?;
    change.id = conn.last_insert_rowid();
    Ok(())
}

/// The people of an organization whose status is one of `statuses`, as changes of `operation`
/// (not registered yet), for `revoke` and `--prune` to choose from.
pub(super) fn candidates(
    conn: &Connection,
    org_id: &str,
    statuses: &[InviteStatus],
    operation: Operation,
    reason: &dyn Fn(&Candidate) -> Option<String>,
) -> rusqlite::Result<Vec<PlannedChange>> {
    let mut stmt = conn.prepare_cached(
        "SELECT email_key, email, status, roles, team_ids, projects, invitation_id,
                atlas_user_id, first_run_id, last_run_id
         FROM invites WHERE org_id = ?1 ORDER BY email_key",
    )?;
    let mut rows = stmt.query(params![org_id])?;
    let mut found = Vec::new();
    while let Some(row) = rows.next()? {
        let status: InviteStatus = row.get(2)?;
        if !statuses.contains(&status) {
            continue;
        }
        let candidate = Candidate {
            email_key: row.get(0)?,
            email: row.get(1)?,
            status,
            grants: Grants::from_json(
                &row.get::<_, String>(3)?,
                &row.get::<_, String>(4)?,
                &row.get::<_, String>(5)?,
            )
            .unwrap_or_default(),
            invitation_id: row.get(6)?,
            user_id: row.get(7)?,
            first_run_id: row.get(8)?,
            last_run_id: row.get(9)?,
        };
        if let Some(reason) = reason(&candidate) {
            found.push(PlannedChange {
                id: 0,
                email: candidate.email,
                email_key: candidate.email_key,
                operation,
                reason,
                from: candidate.grants,
                to: None,
                invitation_id: candidate.invitation_id,
                user_id: candidate.user_id,
                remove_active: false,
            });
        }
    }
    Ok(found)
}

/// A person of the journal that a selection looks at.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub email_key: EmailKey,
    pub email: String,
    pub status: InviteStatus,
    pub grants: Grants,
    pub invitation_id: Option<String>,
    pub user_id: Option<String>,
    pub first_run_id: Option<i64>,
    pub last_run_id: Option<i64>,
}

/// The people this journal invited into `org_id` (status `invited`) whose address is not in
/// `in_file`: the leavers `run --prune` removes.
pub(super) fn leavers(
    conn: &Connection,
    org_id: &str,
    in_file: &HashSet<EmailKey>,
) -> rusqlite::Result<Vec<PlannedChange>> {
    candidates(
        conn,
        org_id,
        &[InviteStatus::Invited],
        Operation::Remove,
        &|c| (!in_file.contains(&c.email_key)).then(|| "not in the file any more".to_owned()),
    )
}

/// What `revoke` selects.
#[derive(Debug, Clone, Default)]
pub struct RevokeSelection {
    /// People whose invitation this run created (`--run N`).
    pub run: Option<i64>,
    /// These addresses (`--email`).
    pub emails: Vec<EmailKey>,
    /// People whose invitation carries this organization role (`--role`).
    pub role: Option<String>,
    /// People for whom this SQL condition on `invites` holds (`--where`).
    pub where_sql: Option<String>,
}

/// One change of a person's history, as `history` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangeReport {
    pub id: i64,
    pub run_id: i64,
    pub email: String,
    pub operation: String,
    pub reason: String,
    pub state: String,
    pub old_roles: String,
    pub new_roles: Option<String>,
    pub target: Option<String>,
    pub target_id: Option<String>,
    pub http_status: Option<i64>,
    pub detail: Option<String>,
    pub planned_at: String,
    pub finished_at: Option<String>,
}

impl Journal {
    /// The people `revoke` would act on: created by this journal (`invited`), matching every
    /// criterion given. An empty selection matches nobody.
    pub fn revoke_candidates(
        &self,
        org_id: &str,
        selection: &RevokeSelection,
    ) -> Result<Vec<PlannedChange>, JournalError> {
        if selection.run.is_none()
            && selection.emails.is_empty()
            && selection.role.is_none()
            && selection.where_sql.is_none()
        {
            return Ok(Vec::new());
        }
        let by_where = match &selection.where_sql {
            None => None,
            Some(condition) => Some(self.keys_where(org_id, condition)?),
        };
        // What a run created: the people whose invitation it saw created, by its own POST or
        // by the lookup that found the invitation after an unknown outcome.
        let created_by_run: HashSet<EmailKey> = match selection.run {
            None => HashSet::new(),
            Some(run) => {
                let mut stmt = self
                    .conn
                    .prepare_cached(
                        "SELECT DISTINCT email_key FROM attempts
                         WHERE run_id = ?1 AND org_id = ?2 AND outcome IN ('invited', 'found')",
                    )
                    .map_err(|e| sql(self.path(), e))?;
                let keys = stmt
                    .query_map(params![run, org_id], |r| r.get(0))
                    .map_err(|e| sql(self.path(), e))?;
                keys.collect::<Result<_, _>>()
                    .map_err(|e| sql(self.path(), e))?
            }
        };
        candidates(
            &self.conn,
            org_id,
            &[InviteStatus::Invited],
            Operation::Revoke,
            &|c| {
                let by_run = selection.run.is_none() || created_by_run.contains(&c.email_key);
                let by_email =
                    selection.emails.is_empty() || selection.emails.contains(&c.email_key);
                let by_role = selection
                    .role
                    .as_ref()
                    .is_none_or(|role| c.grants.roles.iter().any(|r| r == role));
                let by_where = by_where
                    .as_ref()
                    .is_none_or(|keys| keys.contains(&c.email_key));
                (by_run && by_email && by_role && by_where).then(|| match selection.run {
                    Some(run) => format!("invited by run {run}"),
                    None => "invited by this journal".to_owned(),
                })
            },
        )
        .map_err(|e| sql(self.path(), e))
    }

    /// The people of `org_id` for whom `condition`, an SQL expression over the columns of
    /// `invites`, holds. It runs in a read-only statement: a condition that would write is
    /// refused by SQLite, and one that does not parse is a usage error naming SQLite's words.
    fn keys_where(&self, org_id: &str, condition: &str) -> Result<HashSet<EmailKey>, JournalError> {
        let query = format!("SELECT email_key FROM invites WHERE org_id = ?1 AND ({condition})");
        let mut stmt = self
            .conn
            .prepare(&query)
            .map_err(|e| JournalError::Query(format!("--where {condition:?}: {e}")))?;
        if !stmt.readonly() {
            return Err(JournalError::Query(format!(
                "--where {condition:?} would change the journal"
            )));
        }
        let keys = stmt
            .query_map(params![org_id], |r| r.get(0))
            .map_err(|e| JournalError::Query(format!("--where {condition:?}: {e}")))?;
        keys.collect::<Result<_, _>>()
            .map_err(|e| JournalError::Query(format!("--where {condition:?}: {e}")))
    }

    /// Registers changes under `run_id` in one transaction, setting their ids.
    pub fn register_changes(
        &mut self,
        run_id: i64,
        org_id: &str,
        changes: &mut [PlannedChange],
    ) -> Result<(), JournalError> {
        let path = self.path().to_owned();
        let now = crate::util::now_rfc3339();
        let tx = self.conn.transaction().map_err(|e| sql(&path, e))?;
        for change in changes.iter_mut() {
            insert_change(&tx, run_id, org_id, &now, change).map_err(|e| sql(&path, e))?;
        }
        tx.commit().map_err(|e| sql(&path, e))
    }

    /// Every change made for a person, oldest first.
    pub fn change_history(
        &self,
        email_key: &EmailKey,
        org_id: Option<&str>,
    ) -> Result<Vec<ChangeReport>, JournalError> {
        let path = self.path();
        if self.schema_version()? < 7 {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, run_id, email, operation, reason, state, old_roles, new_roles,
                        target, target_id, http_status, detail, planned_at, finished_at
                 FROM changes WHERE email_key = ?1 AND (?2 IS NULL OR org_id = ?2)
                 ORDER BY id",
            )
            .map_err(|e| sql(path, e))?;
        let rows = stmt
            .query_map(params![email_key, org_id], change_report)
            .map_err(|e| sql(path, e))?;
        rows.collect::<Result<_, _>>().map_err(|e| sql(path, e))
    }

    /// What the journal holds for an organization, in one line that changes whenever anything
    /// that could change a plan does: its last run, its people, their last update. `plan`
    /// records it and `apply` refuses when it differs.
    pub fn state_of(&self, org_id: &str) -> Result<String, JournalError> {
        let path = self.path();
        let last_run: Option<i64> = self
            .conn
            .query_row(
                "SELECT max(id) FROM runs WHERE org_id = ?1",
                params![org_id],
                |r| r.get(0),
            )
            .map_err(|e| sql(path, e))?;
        let (people, updated): (i64, Option<String>) = self
            .conn
            .query_row(
                "SELECT count(*), max(updated_at) FROM invites WHERE org_id = ?1",
                params![org_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| sql(path, e))?;
        Ok(format!(
            "last run {}; {people} people; last change {}",
            last_run.map_or("none".into(), |id| id.to_string()),
            updated.unwrap_or_else(|| "never".into())
        ))
    }

    /// Every change of one run, in the order they were planned.
    pub fn run_changes(&self, run_id: i64) -> Result<Vec<ChangeReport>, JournalError> {
        let path = self.path();
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, run_id, email, operation, reason, state, old_roles, new_roles,
                        target, target_id, http_status, detail, planned_at, finished_at
                 FROM changes WHERE run_id = ?1 ORDER BY id",
            )
            .map_err(|e| sql(path, e))?;
        let rows = stmt
            .query_map(params![run_id], change_report)
            .map_err(|e| sql(path, e))?;
        rows.collect::<Result<_, _>>().map_err(|e| sql(path, e))
    }
}

fn change_report(r: &rusqlite::Row<'_>) -> rusqlite::Result<ChangeReport> {
    Ok(ChangeReport {
        id: r.get(0)?,
        run_id: r.get(1)?,
        email: r.get(2)?,
        operation: r.get(3)?,
        reason: r.get(4)?,
        state: r.get(5)?,
        old_roles: r.get(6)?,
        new_roles: r.get(7)?,
        target: r.get(8)?,
        target_id: r.get(9)?,
        http_status: r.get(10)?,
        detail: r.get(11)?,
        planned_at: r.get(12)?,
        finished_at: r.get(13)?,
    })
}
