//! Snapshot tests of every listing in every format, over a journal built row by row with fixed
//! timestamps (the journal's own writers stamp the current time), plus the filters of `report`.
//!
//! The accepted snapshots live in `src/report/snapshots/`. After an intended change of output,
//! review it with `cargo insta review` (or rerun with `INSTA_UPDATE=always` and read the diff);
//! CI runs with `CI=true`, where insta never writes and a difference fails.

use rusqlite::params;

use super::*;
use crate::journal::{InviteFilter, InviteStatus, Journal};

const ORG: &str = "5f1e2d3c4b5a697887766554";
const OTHER_ORG: &str = "65b2e1d3f5a7c9b1d3e5f201";

/// A journal of two runs over seven people covering every status, membership state and a
/// formula-shaped cell, with fixed timestamps.
fn fixture() -> (tempfile::TempDir, Journal) {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(&dir.path().join("journal.db")).unwrap();
    let conn = &journal.conn;
    for (id, started, finished, csv, sha, exit) in [
        (
            1,
            "2026-11-02T09:00:00.000Z",
            Some("2026-11-02T09:00:42.500Z"),
            "hr/engineering.csv",
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            Some(1),
        ),
        (
            2,
            "2026-11-03T14:30:00.000Z",
            None,
            "=HYPERLINK(\"http://evil\")",
            "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752",
            None,
        ),
    ] {
        conn.execute(
            "INSERT INTO runs (id, started_at, finished_at, org_id, csv_path, csv_sha256, api,
                               base_url, options, os_user, hostname, rows_total, rows_valid,
                               rows_invalid, rows_duplicate, skipped, invited, already_invited,
                               already_member, failed, unfinished, requests, exit_code,
                               tool_version)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'invites', 'https://cloud.mongodb.com',
                     '{\"concurrency\":4,\"rate_per_sec\":1.0}', 'hr-admin', 'laptop-7',
                     6, 5, 1, 0, 0, 3, 0, 1, 1, 0, 7, ?7, '0.1.0')",
            params![id, started, finished, ORG, csv, sha, exit],
        )
        .unwrap();
    }
    type Person<'a> = (
        &'a str,
        &'a str,
        &'a str,
        &'a str,
        Option<&'a str>,
        i64,
        Option<i64>,
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
        i64,
    );
    let people: [Person; 7] = [
        (
            "Ann@Example.com",
            "invited",
            r#"["ORG_OWNER"]"#,
            r#"[{"groupId":"65b2e1d3f5a7c9b1d3e5f201","roles":["GROUP_READ_ONLY","GROUP_OWNER"]}]"#,
            Some("6750a1b2c3d4e5f607182930"),
            2,
            Some(200),
            None,
            None,
            Some("ACTIVE"),
            None,
            1,
        ),
        (
            "bob@example.com",
            "failed",
            r#"["ORG_MEMBER"]"#,
            "[]",
            None,
            1,
            Some(400),
            Some("INVALID_ROLE"),
            Some("role ORG_ADMIN is not valid\nfor this organization"),
            Some("MISSING"),
            None,
            1,
        ),
        (
            "cy@example.com",
            "invited",
            r#"["ORG_MEMBER","ORG_BILLING_ADMIN"]"#,
            "[]",
            Some("6750a1b2c3d4e5f607182931"),
            1,
            Some(200),
            None,
            None,
            Some("PENDING"),
            Some("2026-12-02T09:00:10.000Z"),
            1,
        ),
        (
            "dee@example.com",
            "already_member",
            r#"["ORG_MEMBER"]"#,
            "[]",
            None,
            1,
            Some(409),
            Some("USER_ALREADY_IN_ORG"),
            Some("The user dee@example.com is already a member."),
            Some("ACTIVE"),
            None,
            1,
        ),
        (
            "eve@example.com",
            "invited",
            r#"["ORG_READ_ONLY"]"#,
            "[]",
            Some("6750a1b2c3d4e5f607182932"),
            1,
            Some(200),
            None,
            None,
            Some("INVITATION_EXPIRED"),
            Some("2026-11-20T08:00:00.000Z"),
            1,
        ),
        (
            "=1+1@example.com",
            "invalid",
            "[]",
            "[]",
            None,
            0,
            None,
            None,
            Some("column \"email\", value \"=1+1@example.com\": not an email address"),
            None,
            None,
            2,
        ),
        (
            "fay@example.com",
            "pending",
            r#"["ORG_MEMBER"]"#,
            "[]",
            None,
            0,
            None,
            None,
            None,
            None,
            None,
            2,
        ),
    ];
    for (i, p) in people.iter().enumerate() {
        let (email, status, roles, projects, id, attempts, http, code, detail, state, expires, run) =
            *p;
        let teams = if i == 0 {
            r#"["65a1f0c2e4b7d9a3c5e8f101"]"#
        } else {
            "[]"
        };
        conn.execute(
            "INSERT INTO invites (org_id, email_key, email, roles, team_ids, projects, status,
                                  invitation_id, attempts, last_http_status, last_error_code,
                                  last_error_detail, csv_line, first_run_id, last_run_id,
                                  created_at, updated_at, invited_at, membership_state,
                                  membership_observed_at, expires_at, atlas_user_id)
             VALUES (?1, lower(?2), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 1, ?13,
                     '2026-11-02T09:00:01.000Z', ?14, ?15, ?16, ?17, ?18, ?19)",
            params![
                ORG,
                email,
                roles,
                teams,
                projects,
                status,
                id,
                attempts,
                http,
                code,
                detail,
                i as i64 + 2,
                run,
                format!("2026-11-0{}T10:00:00.000Z", 2 + i % 3),
                id.map(|_| "2026-11-02T09:00:10.000Z"),
                state,
                state.map(|_| "2026-11-25T12:00:00.000Z"),
                expires,
                (state == Some("ACTIVE")).then_some("5e4d3c2b1a0f9e8d7c6b5a49"),
            ],
        )
        .unwrap();
    }
    // Someone of another organization, to check the organization filter.
    conn.execute(
        "INSERT INTO invites (org_id, email_key, email, status, created_at, updated_at)
         VALUES (?1, 'zed@example.com', 'zed@example.com', 'pending', 't', 't')",
        params![OTHER_ORG],
    )
    .unwrap();
    for (run, attempt, sent, status, code, detail, outcome) in [
        (
            1,
            1,
            "2026-11-02T09:00:05.000Z",
            Some(500),
            Some("UNEXPECTED_ERROR"),
            Some("Unexpected error."),
            "retry",
        ),
        (
            1,
            2,
            "2026-11-02T09:00:06.250Z",
            Some(200),
            None,
            None,
            "invited",
        ),
        (
            2,
            1,
            "2026-11-03T14:30:01.000Z",
            None,
            None,
            Some("no answer: timed out"),
            "unknown",
        ),
    ] {
        conn.execute(
            "INSERT INTO attempts (run_id, org_id, email_key, attempt, kind, endpoint, sent_at,
                                   finished_at, http_status, error_code, detail, latency_ms,
                                   outcome)
             VALUES (?1, ?2, 'ann@example.com', ?3, 'invite',
                     'POST /api/atlas/v2/orgs/{orgId}/invites', ?4, ?4, ?5, ?6, ?7, 123.4, ?8)",
            params![run, ORG, attempt, sent, status, code, detail, outcome],
        )
        .unwrap();
    }
    (dir, journal)
}

fn org_report(journal: &Journal) -> Vec<crate::journal::InviteReport> {
    journal
        .invite_report(&InviteFilter {
            org_id: Some(ORG.into()),
            ..InviteFilter::default()
        })
        .unwrap()
}

/// Snapshots `rows` in every format, as `{listing}_table`, `_csv`, `_json` and `_jsonl`.
fn assert_every_format<R: Record>(listing: &str, rows: &[R]) {
    for (suffix, format) in [
        ("table", ReportFormat::Table),
        ("csv", ReportFormat::Csv),
        ("json", ReportFormat::Json),
        ("jsonl", ReportFormat::Jsonl),
    ] {
        insta::assert_snapshot!(
            format!("{listing}_{suffix}"),
            render_to_string(rows, format)
        );
    }
}

#[test]
fn report_in_every_format() {
    let (_dir, journal) = fixture();
    assert_every_format("report", &org_report(&journal));
}

#[test]
fn runs_in_every_format() {
    let (_dir, journal) = fixture();
    assert_every_format("runs", &journal.run_report(None, None).unwrap());
}

#[test]
fn history_in_every_format() {
    let (_dir, journal) = fixture();
    let attempts = journal.attempt_history("ann@example.com", None).unwrap();
    assert_every_format("history", &attempts);
}

#[test]
fn csv_headers_are_the_json_field_names() {
    let (_dir, journal) = fixture();
    fn keys<R: Record>(row: &R) -> Vec<String> {
        match serde_json::to_value(row).unwrap() {
            serde_json::Value::Object(map) => map.keys().cloned().collect(),
            other => panic!("not an object: {other}"),
        }
    }
    fn sorted(names: &[&str]) -> Vec<String> {
        let mut names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        names.sort();
        names
    }
    /// The row's JSON field names are its CSV headers, in some order.
    fn check<R: Record>(row: &R) {
        let mut json = keys(row);
        json.sort();
        assert_eq!(json, sorted(R::CSV_HEADERS));
    }
    check(&org_report(&journal)[0]);
    check(&journal.run_report(None, None).unwrap()[0]);
    check(&journal.attempt_history("ann@example.com", None).unwrap()[0]);
}

#[test]
fn formula_cells_are_neutralised_in_csv_only() {
    let (_dir, journal) = fixture();
    let rows = org_report(&journal);
    let csv = render_to_string(&rows, ReportFormat::Csv);
    assert!(csv.contains("'=1+1@example.com"), "{csv}");
    assert!(!csv.contains(",=1+1@example.com"), "{csv}");
    let json = render_to_string(&rows, ReportFormat::Json);
    assert!(json.contains("\"=1+1@example.com\""), "{json}");
    let runs = render_to_string(&journal.run_report(None, None).unwrap(), ReportFormat::Csv);
    assert!(
        runs.contains("\"'=HYPERLINK(\"\"http://evil\"\")\""),
        "{runs}"
    );
}

fn emails(journal: &Journal, filter: InviteFilter) -> Vec<String> {
    journal
        .invite_report(&filter)
        .unwrap()
        .into_iter()
        .map(|r| r.email_key)
        .collect()
}

#[test]
fn filters_combine() {
    let (_dir, journal) = fixture();
    let org = || InviteFilter {
        org_id: Some(ORG.into()),
        ..InviteFilter::default()
    };
    assert_eq!(emails(&journal, InviteFilter::default()).len(), 8);
    assert_eq!(emails(&journal, org()).len(), 7);
    assert_eq!(
        emails(
            &journal,
            InviteFilter {
                statuses: vec![InviteStatus::Failed, InviteStatus::Invalid],
                ..org()
            }
        ),
        vec!["=1+1@example.com", "bob@example.com"]
    );
    assert_eq!(
        emails(
            &journal,
            InviteFilter {
                email: Some("E*@EXAMPLE.COM".into()),
                ..org()
            }
        ),
        vec!["eve@example.com"]
    );
    assert_eq!(
        emails(
            &journal,
            InviteFilter {
                email: Some("1+1".into()),
                ..org()
            }
        ),
        vec!["=1+1@example.com"]
    );
    assert_eq!(
        emails(
            &journal,
            InviteFilter {
                role: Some("ORG_OWNER".into()),
                ..org()
            }
        ),
        vec!["ann@example.com"]
    );
    assert_eq!(
        emails(
            &journal,
            InviteFilter {
                role: Some("GROUP_OWNER".into()),
                ..org()
            }
        ),
        vec!["ann@example.com"]
    );
    // Run 2 last acted on two people, and made a request for Ann.
    assert_eq!(
        emails(
            &journal,
            InviteFilter {
                run_id: Some(2),
                ..org()
            }
        ),
        vec!["=1+1@example.com", "ann@example.com", "fay@example.com"]
    );
    assert_eq!(
        emails(
            &journal,
            InviteFilter {
                since: Some("2026-11-04T00:00:00.000Z".into()),
                ..org()
            }
        ),
        vec!["=1+1@example.com", "cy@example.com"]
    );
    assert_eq!(
        emails(
            &journal,
            InviteFilter {
                expiring_before: Some("2026-12-03T00:00:00.000Z".into()),
                ..org()
            }
        ),
        vec!["cy@example.com"]
    );
    assert!(
        emails(
            &journal,
            InviteFilter {
                expiring_before: Some("2026-12-01T00:00:00.000Z".into()),
                ..org()
            }
        )
        .is_empty()
    );
}
