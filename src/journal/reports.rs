//! Audit reads of the journal for `report`, `runs`, `history` and `export`: one typed row per
//! person, per run or per request, filtered in SQL.
//!
//! The rows are plain data with stable field names (they are the JSON contract documented in
//! README); turning them into tables, CSV or JSON is the `report` module's job. Queries read the
//! `person_state` and `attempt_log` views of migration 0003, so they need a current schema.

use std::collections::HashMap;

use rusqlite::types::Value;
use rusqlite::{Row, params, params_from_iter};
use serde::{Deserialize, Serialize};

use super::{InviteStatus, Journal, JournalError};

/// Which people `report` lists. Every filter that is set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InviteFilter {
    pub org_id: Option<String>,
    /// Any of these statuses; all when empty.
    pub statuses: Vec<InviteStatus>,
    /// Case-insensitive; `*` and `?` are wildcards over the whole address, otherwise the pattern
    /// matches anywhere in it.
    pub email: Option<String>,
    /// A canonical `ORG_*` role (among the requested roles) or `GROUP_*` role (in any project).
    pub role: Option<String>,
    /// People the run acted on: first or last run, or any request it made for them.
    pub run_id: Option<i64>,
    /// Changed at or after this journal timestamp.
    pub since: Option<String>,
    /// Pending invitations (as of the last reconcile) that expire at or before this journal
    /// timestamp, soonest first.
    pub expiring_before: Option<String>,
}

/// One project's requested roles, as reports show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectRoles {
    #[serde(rename(serialize = "group_id", deserialize = "groupId"))]
    pub group_id: String,
    #[serde(default)]
    pub roles: Vec<String>,
}

/// One person: the latest state of their invitation and the run that last acted on them
/// (`person_state`). Field names are a public contract: fields are only ever added.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InviteReport {
    pub org_id: String,
    pub email: String,
    pub email_key: String,
    pub status: String,
    /// True when a rerun skips the person (`invited`, `already_invited`, `already_member`).
    pub done: bool,
    pub roles: Vec<String>,
    pub team_ids: Vec<String>,
    pub projects: Vec<ProjectRoles>,
    pub invitation_id: Option<String>,
    pub attempts: i64,
    pub last_http_status: Option<i64>,
    pub last_error_code: Option<String>,
    pub last_error_detail: Option<String>,
    pub csv_line: Option<i64>,
    pub membership_state: Option<String>,
    pub membership_observed_at: Option<String>,
    pub expires_at: Option<String>,
    pub atlas_user_id: Option<String>,
    pub first_run_id: Option<i64>,
    pub last_run_id: Option<i64>,
    pub last_run_started_at: Option<String>,
    pub last_run_os_user: Option<String>,
    pub last_run_hostname: Option<String>,
    pub last_run_csv_path: Option<String>,
    pub last_run_csv_sha256: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub invited_at: Option<String>,
}

/// One run with everything the `runs` table holds, plus its duration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunReport {
    pub id: i64,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// From `started_at` to `finished_at`; absent while running or when the run died.
    pub duration_secs: Option<f64>,
    pub org_id: String,
    pub csv_path: String,
    pub csv_sha256: String,
    pub api: String,
    pub base_url: String,
    /// The effective options, as recorded (a JSON object; never a credential).
    pub options: serde_json::Value,
    pub os_user: Option<String>,
    pub hostname: Option<String>,
    pub rows_total: i64,
    pub rows_valid: i64,
    pub rows_invalid: i64,
    pub rows_duplicate: i64,
    pub skipped: i64,
    pub invited: i64,
    pub already_invited: i64,
    pub already_member: i64,
    pub failed: i64,
    pub unfinished: i64,
    pub requests: i64,
    pub exit_code: Option<i64>,
    pub tool_version: String,
    /// `finished`; `running` while the run holds its lease; `did_not_finish` when it ended
    /// without finishing (killed, a power cut). The counts of a run that did not finish are
    /// computed from its requests and the people it still was the last to act on, since it
    /// never wrote its totals; `rows_total`, `rows_valid`, `rows_duplicate` and `skipped` stay
    /// 0: only the end of a run knows them.
    pub state: &'static str,
}

/// [`RunReport::state`] of a run that ended normally.
pub const RUN_FINISHED: &str = "finished";
/// [`RunReport::state`] of a run whose lease is still valid.
pub const RUN_RUNNING: &str = "running";
/// [`RunReport::state`] of a run that stopped without recording its end.
pub const RUN_DID_NOT_FINISH: &str = "did_not_finish";

/// One HTTP request with the run that made it (`attempt_log`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttemptReport {
    pub id: i64,
    pub run_id: i64,
    pub org_id: String,
    pub email_key: String,
    pub email: Option<String>,
    pub attempt: i64,
    pub kind: String,
    pub endpoint: String,
    pub sent_at: String,
    pub finished_at: String,
    pub http_status: Option<i64>,
    pub error_code: Option<String>,
    pub detail: Option<String>,
    pub latency_ms: f64,
    pub outcome: String,
    pub run_started_at: String,
    pub run_os_user: Option<String>,
    pub run_hostname: Option<String>,
    pub run_csv_path: String,
}

const PERSON_COLUMNS: &str = "org_id, email, email_key, status, done, roles, team_ids, projects,
    invitation_id, attempts, last_http_status, last_error_code, last_error_detail, csv_line,
    membership_state, membership_observed_at, expires_at, atlas_user_id, first_run_id,
    last_run_id, last_run_started_at, last_run_os_user, last_run_hostname, last_run_csv_path,
    last_run_csv_sha256, created_at, updated_at, invited_at";

impl Journal {
    /// The people matching `filter`, by organization and address (soonest expiry first with
    /// `expiring_before`).
    pub fn invite_report(&self, filter: &InviteFilter) -> Result<Vec<InviteReport>, JournalError> {
        let mut clauses: Vec<String> = Vec::new();
        let mut values: Vec<Value> = Vec::new();
        let bind = |values: &mut Vec<Value>, v: Value| {
            values.push(v);
            format!("?{}", values.len())
        };
        if let Some(org) = &filter.org_id {
            let p = bind(&mut values, Value::Text(org.clone()));
            clauses.push(format!("org_id = {p}"));
        }
        if !filter.statuses.is_empty() {
            let list: Vec<String> = filter
                .statuses
                .iter()
                .map(|s| bind(&mut values, Value::Text(s.as_str().to_owned())))
                .collect();
            clauses.push(format!("status IN ({})", list.join(", ")));
        }
        if let Some(pattern) = &filter.email {
            let p = bind(&mut values, Value::Text(like_pattern(pattern)));
            clauses.push(format!("email_key LIKE {p} ESCAPE '\\'"));
        }
        if let Some(role) = &filter.role {
            let p = bind(&mut values, Value::Text(role.clone()));
            clauses.push(format!(
                "(EXISTS (SELECT 1 FROM json_each(person_state.roles) WHERE value = {p})
                  OR EXISTS (SELECT 1 FROM json_each(person_state.projects) AS pr,
                                           json_each(pr.value, '$.roles') AS r
                             WHERE r.value = {p}))"
            ));
        }
        if let Some(run) = filter.run_id {
            let p = bind(&mut values, Value::Integer(run));
            clauses.push(format!(
                "(first_run_id = {p} OR last_run_id = {p}
                  OR EXISTS (SELECT 1 FROM attempts a WHERE a.run_id = {p}
                             AND a.org_id = person_state.org_id
                             AND a.email_key = person_state.email_key))"
            ));
        }
        if let Some(since) = &filter.since {
            let p = bind(&mut values, Value::Text(since.clone()));
            clauses.push(format!("updated_at >= {p}"));
        }
        let order = if let Some(before) = &filter.expiring_before {
            let p = bind(&mut values, Value::Text(before.clone()));
            clauses.push(format!(
                "membership_state = 'PENDING' AND expires_at IS NOT NULL AND expires_at <= {p}"
            ));
            "expires_at, org_id, email_key"
        } else {
            "org_id, email_key"
        };
        let where_clause = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join("\n  AND "))
        };
        let query =
            format!("SELECT {PERSON_COLUMNS} FROM person_state {where_clause} ORDER BY {order}");
        self.query_all(&query, params_from_iter(values), invite_row)
    }

    /// Every person of `org_id`, keyed by lower-cased email, for `export`.
    pub fn people_by_email(
        &self,
        org_id: &str,
    ) -> Result<HashMap<String, InviteReport>, JournalError> {
        let filter = InviteFilter {
            org_id: Some(org_id.to_owned()),
            ..InviteFilter::default()
        };
        Ok(self
            .invite_report(&filter)?
            .into_iter()
            .map(|p| (p.email_key.clone(), p))
            .collect())
    }

    /// The runs, oldest first (of one organization, or all); only the `last` most recent ones
    /// when given.
    pub fn run_report(
        &self,
        org_id: Option<&str>,
        last: Option<u32>,
    ) -> Result<Vec<RunReport>, JournalError> {
        // SQLite reads a negative LIMIT as "no limit".
        let limit = last.map_or(-1, i64::from);
        self.query_all(
            "SELECT * FROM (
                     SELECT id, started_at, finished_at, org_id, csv_path, csv_sha256, api,
                            base_url, options, os_user, hostname, rows_total, rows_valid,
                            rows_invalid, rows_duplicate, skipped, invited, already_invited,
                            already_member, failed, unfinished, requests, exit_code, tool_version,
                            lease_until
                     FROM runs WHERE ?1 IS NULL OR org_id = ?1
                     ORDER BY id DESC LIMIT ?2)
                 ORDER BY id",
            params![org_id, limit],
            run_row,
        )
        .and_then(|mut runs| {
            for run in runs.iter_mut().filter(|r| r.finished_at.is_none()) {
                self.count_unfinished_run(run)?;
            }
            Ok(runs)
        })
    }

    /// Fills the counts of a run that never wrote its totals (still running, or killed) from
    /// what the journal shows it did: its requests (`attempts`, by outcome) and the people it
    /// is still the last run to have acted on (`invites`), both read through their `run_id`
    /// indexes.
    fn count_unfinished_run(&self, run: &mut RunReport) -> Result<(), JournalError> {
        let counts = self.query_all(
            "SELECT
                 (SELECT COUNT(*) FROM attempts WHERE run_id = ?1),
                 (SELECT COUNT(DISTINCT email_key) FROM attempts
                  WHERE run_id = ?1 AND outcome IN ('invited', 'found')),
                 (SELECT COUNT(DISTINCT email_key) FROM attempts a
                  WHERE run_id = ?1 AND outcome = 'already_invited'
                    AND NOT EXISTS (SELECT 1 FROM attempts b
                                    WHERE b.run_id = ?1 AND b.email_key = a.email_key
                                      AND b.outcome IN ('invited', 'found'))),
                 (SELECT COUNT(DISTINCT email_key) FROM attempts
                  WHERE run_id = ?1 AND outcome = 'already_member'),
                 (SELECT COUNT(*) FROM invites WHERE last_run_id = ?1 AND status = 'failed'),
                 (SELECT COUNT(*) FROM invites
                  WHERE last_run_id = ?1 AND status IN ('pending', 'in_flight')),
                 (SELECT COUNT(*) FROM invites WHERE last_run_id = ?1 AND status = 'invalid')",
            params![run.id],
            |r| {
                Ok([
                    r.get::<_, i64>(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ])
            },
        )?;
        if let Some(
            &[
                requests,
                invited,
                already_invited,
                already_member,
                failed,
                unfinished,
                invalid,
            ],
        ) = counts.first()
        {
            run.requests = requests;
            run.invited = invited;
            run.already_invited = already_invited;
            run.already_member = already_member;
            run.failed = failed;
            run.unfinished = unfinished;
            run.rows_invalid = invalid;
        }
        Ok(())
    }

    /// Every request made for `email_key` (lower-cased), in the order they were made, in one
    /// organization or all.
    pub fn attempt_history(
        &self,
        email_key: &str,
        org_id: Option<&str>,
    ) -> Result<Vec<AttemptReport>, JournalError> {
        self.query_all(
            "SELECT id, run_id, org_id, email_key, email, attempt, kind, endpoint, sent_at,
                        finished_at, http_status, error_code, detail, latency_ms, outcome,
                        run_started_at, run_os_user, run_hostname, run_csv_path
                 FROM attempt_log
                 WHERE email_key = ?1 AND (?2 IS NULL OR org_id = ?2)
                 ORDER BY id",
            params![email_key, org_id],
            |r| {
                Ok(AttemptReport {
                    id: r.get(0)?,
                    run_id: r.get(1)?,
                    org_id: r.get(2)?,
                    email_key: r.get(3)?,
                    email: r.get(4)?,
                    attempt: r.get(5)?,
                    kind: r.get(6)?,
                    endpoint: r.get(7)?,
                    sent_at: r.get(8)?,
                    finished_at: r.get(9)?,
                    http_status: r.get(10)?,
                    error_code: r.get(11)?,
                    detail: r.get(12)?,
                    latency_ms: r.get(13)?,
                    outcome: r.get(14)?,
                    run_started_at: r.get(15)?,
                    run_os_user: r.get(16)?,
                    run_hostname: r.get(17)?,
                    run_csv_path: r.get(18)?,
                })
            },
        )
    }

    /// The organizations the journal knows, sorted.
    pub fn org_ids(&self) -> Result<Vec<String>, JournalError> {
        self.query_all(
            "SELECT org_id FROM invites UNION SELECT org_id FROM runs ORDER BY 1",
            [],
            |r| r.get(0),
        )
    }
}

/// One request as the `report --format html` timeline draws it: when it was sent, how long it
/// took, and what it meant. The run's requests for everybody, not only the people a filter
/// keeps, because a rate-limit pause holds up the whole run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineAttempt {
    pub run_id: i64,
    pub org_id: String,
    pub email_key: String,
    pub kind: String,
    pub sent_at: String,
    pub finished_at: String,
    pub latency_ms: f64,
    pub http_status: Option<i64>,
    pub outcome: String,
}

impl Journal {
    /// Every request of the runs of `org_id` (or all), or of run `run_id` only, by run and then
    /// in the order they were sent.
    pub fn timeline_attempts(
        &self,
        org_id: Option<&str>,
        run_id: Option<i64>,
    ) -> Result<Vec<TimelineAttempt>, JournalError> {
        self.query_all(
            "SELECT run_id, org_id, email_key, kind, sent_at, finished_at, latency_ms,
                    http_status, outcome
                 FROM attempts
                 WHERE (?1 IS NULL OR org_id = ?1) AND (?2 IS NULL OR run_id = ?2)
                 ORDER BY run_id, sent_at, id",
            params![org_id, run_id],
            |r| {
                Ok(TimelineAttempt {
                    run_id: r.get(0)?,
                    org_id: r.get(1)?,
                    email_key: r.get(2)?,
                    kind: r.get(3)?,
                    sent_at: r.get(4)?,
                    finished_at: r.get(5)?,
                    latency_ms: r.get(6)?,
                    http_status: r.get(7)?,
                    outcome: r.get(8)?,
                })
            },
        )
    }
}

fn invite_row(r: &Row<'_>) -> rusqlite::Result<InviteReport> {
    Ok(InviteReport {
        org_id: r.get(0)?,
        email: r.get(1)?,
        email_key: r.get(2)?,
        status: r.get(3)?,
        done: r.get(4)?,
        roles: json_list(r.get::<_, String>(5)?),
        team_ids: json_list(r.get::<_, String>(6)?),
        projects: json_list(r.get::<_, String>(7)?),
        invitation_id: r.get(8)?,
        attempts: r.get(9)?,
        last_http_status: r.get(10)?,
        last_error_code: r.get(11)?,
        last_error_detail: r.get(12)?,
        csv_line: r.get(13)?,
        membership_state: r.get(14)?,
        membership_observed_at: r.get(15)?,
        expires_at: r.get(16)?,
        atlas_user_id: r.get(17)?,
        first_run_id: r.get(18)?,
        last_run_id: r.get(19)?,
        last_run_started_at: r.get(20)?,
        last_run_os_user: r.get(21)?,
        last_run_hostname: r.get(22)?,
        last_run_csv_path: r.get(23)?,
        last_run_csv_sha256: r.get(24)?,
        created_at: r.get(25)?,
        updated_at: r.get(26)?,
        invited_at: r.get(27)?,
    })
}

fn run_row(r: &Row<'_>) -> rusqlite::Result<RunReport> {
    let started_at: String = r.get(1)?;
    let finished_at: Option<String> = r.get(2)?;
    let options: String = r.get(8)?;
    // A run renews its lease while it works (see `pipeline::lease`): one without an end whose
    // lease ran out was stopped without ending.
    let lease_until: Option<String> = r.get(24)?;
    let finished = finished_at.is_some();
    Ok(RunReport {
        id: r.get(0)?,
        duration_secs: finished_at
            .as_deref()
            .and_then(|end| seconds_between(&started_at, end)),
        started_at,
        finished_at,
        org_id: r.get(3)?,
        csv_path: r.get(4)?,
        csv_sha256: r.get(5)?,
        api: r.get(6)?,
        base_url: r.get(7)?,
        options: serde_json::from_str(&options).unwrap_or(serde_json::Value::String(options)),
        os_user: r.get(9)?,
        hostname: r.get(10)?,
        rows_total: r.get(11)?,
        rows_valid: r.get(12)?,
        rows_invalid: r.get(13)?,
        rows_duplicate: r.get(14)?,
        skipped: r.get(15)?,
        invited: r.get(16)?,
        already_invited: r.get(17)?,
        already_member: r.get(18)?,
        failed: r.get(19)?,
        unfinished: r.get(20)?,
        requests: r.get(21)?,
        exit_code: r.get(22)?,
        tool_version: r.get(23)?,
        state: if finished {
            RUN_FINISHED
        } else if lease_until.is_some_and(|until| until > crate::util::now_rfc3339()) {
            RUN_RUNNING
        } else {
            RUN_DID_NOT_FINISH
        },
    })
}

/// A JSON list column; a malformed one (hand-edited journal) reads as empty rather than failing
/// the whole report.
fn json_list<T: serde::de::DeserializeOwned>(text: String) -> Vec<T> {
    serde_json::from_str(&text).unwrap_or_default()
}

/// Seconds from `start` to `end` (journal timestamps), to the millisecond.
fn seconds_between(start: &str, end: &str) -> Option<f64> {
    let start = humantime::parse_rfc3339(start).ok()?;
    let end = humantime::parse_rfc3339(end).ok()?;
    let millis = end.duration_since(start).ok()?.as_millis();
    Some(millis as f64 / 1000.0)
}

/// The SQL `LIKE` pattern (escape `\`) for an `--email` pattern: `*` and `?` are wildcards over
/// the whole address; without them the text matches anywhere. Matching is on the lower-cased
/// address, so the pattern is lower-cased too.
fn like_pattern(pattern: &str) -> String {
    let lower = pattern.trim().to_lowercase();
    let wild = lower.contains(['*', '?']);
    let mut out = String::with_capacity(lower.len() + 2);
    if !wild {
        out.push('%');
    }
    for c in lower.chars() {
        match c {
            '*' => out.push('%'),
            '?' => out.push('_'),
            '%' | '_' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    if !wild {
        out.push('%');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::test_support::temp_journal;

    #[test]
    fn email_patterns_become_escaped_like_patterns() {
        assert_eq!(like_pattern("Example.COM"), "%example.com%");
        assert_eq!(like_pattern("ann*@*.io"), "ann%@%.io");
        assert_eq!(like_pattern("a?b"), "a_b");
        assert_eq!(like_pattern("first_last"), "%first\\_last%");
        assert_eq!(like_pattern("100%"), "%100\\%%");
    }

    #[test]
    fn durations_are_measured_between_journal_timestamps() {
        assert_eq!(
            seconds_between("2026-11-29T01:00:00.000Z", "2026-11-29T01:00:12.345Z"),
            Some(12.345)
        );
        assert_eq!(
            seconds_between("nonsense", "2026-11-29T01:00:00.000Z"),
            None
        );
    }

    #[test]
    fn the_done_column_of_person_state_matches_is_done() {
        let (_dir, journal) = temp_journal();
        for status in InviteStatus::ALL {
            journal
                .conn
                .execute(
                    "INSERT INTO invites (org_id, email_key, email, status, created_at, updated_at)
                     VALUES ('o', ?1, ?1, ?1, 't', 't')",
                    params![status.as_str()],
                )
                .unwrap();
        }
        let rows = journal.invite_report(&InviteFilter::default()).unwrap();
        assert_eq!(rows.len(), InviteStatus::ALL.len());
        for row in rows {
            let status = InviteStatus::parse(&row.status).unwrap();
            assert_eq!(row.done, status.is_done(), "{status}");
        }
    }
}
