//! The columns of each listing: which fields of the journal's report rows go into the CSV (all
//! of them, under their JSON names) and which into the table people read.

use super::render::{Column, Record};
use crate::journal::{AttemptReport, InviteReport, ProjectRoles, RunReport};

impl Record for InviteReport {
    const CSV_HEADERS: &'static [&'static str] = &[
        "org_id",
        "email",
        "email_key",
        "status",
        "done",
        "roles",
        "team_ids",
        "projects",
        "invitation_id",
        "attempts",
        "last_http_status",
        "last_error_code",
        "last_error_detail",
        "csv_line",
        "membership_state",
        "membership_observed_at",
        "expires_at",
        "atlas_user_id",
        "first_run_id",
        "last_run_id",
        "last_run_started_at",
        "last_run_os_user",
        "last_run_hostname",
        "last_run_csv_path",
        "last_run_csv_sha256",
        "created_at",
        "updated_at",
        "invited_at",
    ];

    const TABLE: &'static [Column] = &[
        Column::left("EMAIL", 40),
        Column::left("STATUS", 16),
        Column::left("ROLES", 32),
        Column::left("TEAMS", 26),
        Column::left("PROJECTS", 42),
        Column::left("INVITATION", 24),
        Column::right("TRIES"),
        Column::right("HTTP"),
        Column::left("ERROR", 48),
        Column::left("RUNS", 12),
        Column::left("MEMBERSHIP", 32),
        Column::left("UPDATED", 20),
    ];

    fn csv_cells(&self) -> Vec<String> {
        vec![
            self.org_id.clone(),
            self.email.clone(),
            self.email_key.clone(),
            self.status.clone(),
            self.done.to_string(),
            self.roles.join(";"),
            self.team_ids.join(";"),
            projects(&self.projects),
            opt(&self.invitation_id),
            self.attempts.to_string(),
            opt(&self.last_http_status),
            opt(&self.last_error_code),
            opt(&self.last_error_detail),
            opt(&self.csv_line),
            opt(&self.membership_state),
            opt(&self.membership_observed_at),
            opt(&self.expires_at),
            opt(&self.atlas_user_id),
            opt(&self.first_run_id),
            opt(&self.last_run_id),
            opt(&self.last_run_started_at),
            opt(&self.last_run_os_user),
            opt(&self.last_run_hostname),
            opt(&self.last_run_csv_path),
            opt(&self.last_run_csv_sha256),
            self.created_at.clone(),
            self.updated_at.clone(),
            opt(&self.invited_at),
        ]
    }

    fn table_cells(&self) -> Vec<String> {
        let error = match (&self.last_error_code, &self.last_error_detail) {
            (Some(code), Some(detail)) => format!("{code}: {detail}"),
            (Some(code), None) => code.clone(),
            (None, Some(detail)) => detail.clone(),
            (None, None) => String::new(),
        };
        let runs = match (self.first_run_id, self.last_run_id) {
            (Some(first), Some(last)) if first != last => format!("{first}..{last}"),
            (_, Some(last)) => last.to_string(),
            (Some(first), None) => first.to_string(),
            (None, None) => String::new(),
        };
        let membership = match (&self.membership_state, &self.expires_at) {
            (Some(state), Some(expires)) if state == "PENDING" => {
                format!("PENDING until {}", short_date(expires))
            }
            (Some(state), _) => state.clone(),
            (None, _) => String::new(),
        };
        vec![
            self.email.clone(),
            self.status.clone(),
            self.roles.join(","),
            self.team_ids.join(","),
            projects(&self.projects),
            opt(&self.invitation_id),
            self.attempts.to_string(),
            opt(&self.last_http_status),
            error,
            runs,
            membership,
            short_time(&self.updated_at),
        ]
    }
}

impl Record for RunReport {
    const CSV_HEADERS: &'static [&'static str] = &[
        "id",
        "started_at",
        "finished_at",
        "duration_secs",
        "org_id",
        "csv_path",
        "csv_sha256",
        "api",
        "base_url",
        "options",
        "os_user",
        "hostname",
        "rows_total",
        "rows_valid",
        "rows_invalid",
        "rows_duplicate",
        "skipped",
        "invited",
        "already_invited",
        "already_member",
        "failed",
        "unfinished",
        "requests",
        "exit_code",
        "tool_version",
        "state",
    ];

    const TABLE: &'static [Column] = &[
        Column::right("ID"),
        Column::left("STARTED", 20),
        Column::right("TOOK"),
        Column::left("BY", 32),
        Column::left("ORG", 24),
        Column::left("CSV", 40),
        Column::left("SHA-256", 12),
        Column::right("ROWS"),
        Column::right("INVITED"),
        Column::right("ALREADY"),
        Column::right("FAILED"),
        Column::right("INVALID"),
        Column::right("SKIPPED"),
        Column::right("UNFINISHED"),
        // Left-aligned and wide: a run that did not finish says so here.
        Column::left("EXIT", 24),
        Column::left("VERSION", 12),
    ];

    fn csv_cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.started_at.clone(),
            opt(&self.finished_at),
            opt(&self.duration_secs),
            self.org_id.clone(),
            self.csv_path.clone(),
            self.csv_sha256.clone(),
            self.api.clone(),
            self.base_url.clone(),
            self.options.to_string(),
            opt(&self.os_user),
            opt(&self.hostname),
            self.rows_total.to_string(),
            self.rows_valid.to_string(),
            self.rows_invalid.to_string(),
            self.rows_duplicate.to_string(),
            self.skipped.to_string(),
            self.invited.to_string(),
            self.already_invited.to_string(),
            self.already_member.to_string(),
            self.failed.to_string(),
            self.unfinished.to_string(),
            self.requests.to_string(),
            opt(&self.exit_code),
            self.tool_version.clone(),
            self.state.to_owned(),
        ]
    }

    fn table_cells(&self) -> Vec<String> {
        // A run that never ended never wrote how many rows its file had, or skipped.
        let ended = self.finished_at.is_some();
        let if_ended = |n: i64| if ended { n.to_string() } else { "-".to_owned() };
        let took = self
            .duration_secs
            .map(|s| crate::util::human_duration(std::time::Duration::from_secs_f64(s.max(0.0))))
            .unwrap_or_default();
        vec![
            self.id.to_string(),
            short_time(&self.started_at),
            took,
            by(&self.os_user, &self.hostname),
            self.org_id.clone(),
            self.csv_path.clone(),
            self.csv_sha256.chars().take(12).collect(),
            if_ended(self.rows_total),
            self.invited.to_string(),
            (self.already_invited + self.already_member).to_string(),
            self.failed.to_string(),
            self.rows_invalid.to_string(),
            if_ended(self.skipped),
            self.unfinished.to_string(),
            // A run without an exit code never finished: still running, or killed.
            match (self.exit_code, self.state) {
                (Some(code), _) => code.to_string(),
                (None, crate::journal::RUN_RUNNING) => "running".to_owned(),
                (None, crate::journal::RUN_FINISHED) => "-".to_owned(),
                (None, _) => "did not finish (killed?)".to_owned(),
            },
            self.tool_version.clone(),
        ]
    }
}

impl Record for AttemptReport {
    const CSV_HEADERS: &'static [&'static str] = &[
        "id",
        "run_id",
        "org_id",
        "email_key",
        "email",
        "attempt",
        "kind",
        "endpoint",
        "sent_at",
        "finished_at",
        "http_status",
        "error_code",
        "detail",
        "latency_ms",
        "outcome",
        "run_started_at",
        "run_os_user",
        "run_hostname",
        "run_csv_path",
    ];

    const TABLE: &'static [Column] = &[
        Column::right("RUN"),
        Column::right("#"),
        Column::left("KIND", 8),
        Column::left("SENT", 24),
        Column::right("HTTP"),
        Column::left("OUTCOME", 16),
        Column::right("MS"),
        Column::left("ERROR", 56),
        Column::left("BY", 32),
        Column::left("CSV", 40),
    ];

    fn csv_cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.run_id.to_string(),
            self.org_id.clone(),
            self.email_key.clone(),
            opt(&self.email),
            self.attempt.to_string(),
            self.kind.clone(),
            self.endpoint.clone(),
            self.sent_at.clone(),
            self.finished_at.clone(),
            opt(&self.http_status),
            opt(&self.error_code),
            opt(&self.detail),
            self.latency_ms.to_string(),
            self.outcome.clone(),
            self.run_started_at.clone(),
            opt(&self.run_os_user),
            opt(&self.run_hostname),
            self.run_csv_path.clone(),
        ]
    }

    fn table_cells(&self) -> Vec<String> {
        let error = match (&self.error_code, &self.detail) {
            (Some(code), Some(detail)) => format!("{code}: {detail}"),
            (Some(code), None) => code.clone(),
            (None, Some(detail)) => detail.clone(),
            (None, None) => String::new(),
        };
        vec![
            self.run_id.to_string(),
            self.attempt.to_string(),
            self.kind.clone(),
            self.sent_at.clone(),
            opt(&self.http_status),
            self.outcome.clone(),
            format!("{:.0}", self.latency_ms),
            error,
            by(&self.run_os_user, &self.run_hostname),
            self.run_csv_path.clone(),
        ]
    }
}

fn opt<T: ToString>(value: &Option<T>) -> String {
    value.as_ref().map(ToString::to_string).unwrap_or_default()
}

/// Project roles in the roster's own cell syntax, `<groupId>:<ROLE>;...`, so that a report's CSV
/// column can be pasted back into a roster.
fn projects(projects: &[ProjectRoles]) -> String {
    let mut items = Vec::new();
    for project in projects {
        for role in &project.roles {
            items.push(format!("{}:{role}", project.group_id));
        }
    }
    items.join(";")
}

/// `user@host`, or whichever of the two is known.
fn by(user: &Option<String>, host: &Option<String>) -> String {
    match (user, host) {
        (Some(user), Some(host)) => format!("{user}@{host}"),
        (Some(one), None) | (None, Some(one)) => one.clone(),
        (None, None) => String::new(),
    }
}

/// A journal timestamp to the second (`2026-11-29T01:26:34Z`), for tables.
fn short_time(timestamp: &str) -> String {
    match timestamp.get(..19) {
        Some(head) if timestamp.len() > 20 => format!("{head}Z"),
        _ => timestamp.to_owned(),
    }
}

/// The date part of a timestamp (`2026-11-29`).
fn short_date(timestamp: &str) -> String {
    timestamp.get(..10).unwrap_or(timestamp).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projects_use_the_roster_syntax() {
        let p = vec![
            ProjectRoles {
                group_id: "g1".into(),
                roles: vec!["GROUP_READ_ONLY".into(), "GROUP_OWNER".into()],
            },
            ProjectRoles {
                group_id: "g2".into(),
                roles: vec!["GROUP_OWNER".into()],
            },
        ];
        assert_eq!(
            projects(&p),
            "g1:GROUP_READ_ONLY;g1:GROUP_OWNER;g2:GROUP_OWNER"
        );
    }

    #[test]
    fn timestamps_shorten_for_tables() {
        assert_eq!(
            short_time("2026-11-29T01:26:34.123Z"),
            "2026-11-29T01:26:34Z"
        );
        assert_eq!(short_time("2026-11-29T01:26:34Z"), "2026-11-29T01:26:34Z");
        assert_eq!(short_time("junk"), "junk");
        assert_eq!(short_date("2026-12-29T01:26:34.000Z"), "2026-12-29");
    }
}
