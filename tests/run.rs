//! `atlas-invite run` against the simulator: outcomes, retries, reruns, exit codes.

use atlas_sim::{Fault, SimConfig};

use crate::util::*;

#[test]
fn happy_path_invites_everyone_once_and_journals_it() {
    let sim = Sim::healthy();
    let work = Work::new();
    let csv = work.write(
        "people.csv",
        "Email,Roles,Teams,Projects\n\
         Ann@Example.com,owner,5f1e2d3c4b5a697887766001,5f1e2d3c4b5a697887766101:GROUP_READ_ONLY\n\
         bob@example.com,,,\n\
         cy@example.com,ORG_MEMBER;ORG_BILLING_ADMIN,,\n",
    );
    let ran = exec(run_cmd(&sim, &work, &csv).args(["--format", "json"]));
    assert_eq!(ran.code, 0, "{ran:?}");
    let json = ran.json();
    assert_eq!(json["invited"], 3);
    assert_eq!(json["failed"], 0);
    assert_eq!(json["exit_code"], 0);
    assert_eq!(sim.stats().created, 3);

    let ann = sim.state().invitations_for("ann@example.com");
    assert_eq!(ann.len(), 1);
    assert_eq!(ann[0].roles, vec!["ORG_OWNER"]);
    assert_eq!(ann[0].team_ids, vec!["5f1e2d3c4b5a697887766001"]);
    let bob = sim.state().invitations_for("bob@example.com");
    assert_eq!(bob[0].roles, vec!["ORG_MEMBER"], "default role applies");

    assert_eq!(
        work.query("SELECT status FROM invites ORDER BY email_key"),
        vec!["invited"; 3]
    );
    let ids = work.query("SELECT invitation_id FROM invites WHERE email_key = 'ann@example.com'");
    assert_eq!(ids[0], ann[0].id.clone().unwrap());
    assert_eq!(
        work.query("SELECT email FROM invites WHERE email_key = 'ann@example.com'"),
        vec!["Ann@Example.com"]
    );
    assert_eq!(
        work.query("SELECT count(*) FROM attempts WHERE outcome = 'invited'"),
        vec!["3"]
    );
    assert_eq!(work.query("SELECT exit_code FROM runs"), vec!["0"]);
    let sha = work.query("SELECT csv_sha256 FROM runs");
    assert_eq!(sha[0].len(), 64);
}

#[test]
fn rerun_sends_nothing_new() {
    let sim = Sim::healthy();
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(5));
    assert_eq!(exec(&mut run_cmd(&sim, &work, &csv)).code, 0);
    let before = sim.stats().requests;
    let ran = exec(run_cmd(&sim, &work, &csv).args(["--format", "json"]));
    assert_eq!(ran.code, 0, "{ran:?}");
    // Only the organization check before sending, a lookup, reaches Atlas.
    assert_eq!(sim.stats().requests, before + 1, "a rerun sends nothing");
    assert_eq!(sim.posts(), 5, "a rerun sends nothing");
    assert_eq!(ran.json()["skipped"], 5);
    assert_eq!(
        work.query("SELECT skipped FROM runs WHERE id = 2"),
        vec!["5"]
    );
}

#[test]
fn injected_500s_end_invited_after_retries() {
    let sim = Sim::start(
        SimConfig::default()
            .with_script("person0@example.com", [Fault::Error500, Fault::Error500])
            .with_script("person1@example.com", [Fault::Html503]),
    );
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(3));
    let ran = exec(run_cmd(&sim, &work, &csv).args(["--format", "json"]));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(ran.json()["retries"], 3);
    assert_eq!(sim.invitations_for("person0@example.com"), 1);
    assert_eq!(sim.invitations_for("person1@example.com"), 1);
    assert_eq!(
        work.query("SELECT attempts FROM invites WHERE email_key = 'person0@example.com'"),
        vec!["3"]
    );
    assert_eq!(
        work.query("SELECT group_concat(http_status) FROM attempts WHERE email_key = 'person0@example.com' ORDER BY id"),
        // The users endpoint answers a creation 201 (the invitation endpoints, 200).
        vec!["500,500,201"]
    );
}

#[test]
fn a_429_with_retry_after_is_honoured() {
    let sim = Sim::start(SimConfig::default().with_script(
        "person0@example.com",
        [Fault::RateLimited {
            retry_after: Some(1),
        }],
    ));
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(2));
    let ran = exec(run_cmd(&sim, &work, &csv).args(["--format", "json"]));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(ran.json()["rate_limited"], 1);
    assert_eq!(sim.invitations_for("person0@example.com"), 1);
    // The retry waited for the Retry-After second even though --max-backoff is 200ms.
    let times = work
        .query("SELECT sent_at FROM attempts WHERE email_key = 'person0@example.com' ORDER BY id");
    assert_eq!(times.len(), 2);
    let t = |s: &str| humantime::parse_rfc3339(s).unwrap();
    let gap = t(&times[1]).duration_since(t(&times[0])).unwrap();
    assert!(gap >= std::time::Duration::from_millis(990), "{gap:?}");
}

#[test]
fn a_non_retryable_400_ends_failed_with_the_error_code() {
    let sim =
        Sim::start(SimConfig::default().with_script("person1@example.com", [Fault::Status(400)]));
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(3));
    let ran = exec(run_cmd(&sim, &work, &csv).args(["--format", "json"]));
    assert_eq!(ran.code, 1, "{ran:?}");
    let json = ran.json();
    assert_eq!(json["failed"], 1);
    assert_eq!(json["invited"], 2);
    assert_eq!(json["problems"][0]["email"], "person1@example.com");
    assert_eq!(json["problems"][0]["http_status"], 400);
    assert_eq!(work.status_of("person1@example.com"), "failed");
    assert_eq!(
        work.query("SELECT attempts FROM invites WHERE email_key = 'person1@example.com'"),
        vec!["1"],
        "a 400 is not retried"
    );
    let code =
        work.query("SELECT last_error_code FROM invites WHERE email_key = 'person1@example.com'");
    assert_ne!(code[0], "NULL");

    // The rerun retries only the failed row, which now succeeds.
    let before = sim.posts();
    let ran = exec(&mut run_cmd(&sim, &work, &csv));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(sim.posts() - before, 1);
    assert_eq!(work.status_of("person1@example.com"), "invited");
}

#[test]
fn retries_stop_after_max_attempts() {
    let sim = Sim::start(SimConfig::default().with_script(
        "person0@example.com",
        [Fault::Error500, Fault::Error500, Fault::Error500],
    ));
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(1));
    let ran = exec(run_cmd(&sim, &work, &csv).args(["--max-attempts", "2"]));
    assert_eq!(ran.code, 1, "{ran:?}");
    assert_eq!(sim.posts(), 2);
    assert_eq!(work.status_of("person0@example.com"), "failed");
    assert!(ran.stdout.contains("gave up after 2 attempts"), "{ran:?}");
}

#[test]
fn unauthorized_stops_the_run_before_anything_is_sent_or_written() {
    let sim = Sim::healthy();
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(20));
    let ran = exec(
        run_cmd(&sim, &work, &csv)
            .env("MONGODB_ATLAS_ACCESS_TOKEN", "wrong-token")
            .args(["--concurrency", "1"]),
    );
    assert_eq!(ran.code, 3, "{ran:?}");
    assert!(ran.stderr.contains("refused the credentials"), "{ran:?}");
    assert!(ran.stderr.contains("Organization Owner"), "{ran:?}");
    assert!(!ran.stderr.contains("wrong-token"), "{ran:?}");
    // Only the organization check, refused: nothing after it.
    let stats = sim.stats();
    assert_eq!(
        stats.requests - stats.rate_limit_gets,
        1,
        "only the organization check"
    );
    assert_eq!(sim.posts(), 0);
    assert!(!work.journal().exists(), "nothing written");
}

#[test]
fn forbidden_also_aborts() {
    let sim =
        Sim::start(SimConfig::default().with_script("person0@example.com", [Fault::Status(403)]));
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(1));
    let ran = exec(&mut run_cmd(&sim, &work, &csv));
    assert_eq!(ran.code, 3, "{ran:?}");
    assert_eq!(work.status_of("person0@example.com"), "pending");
}

#[test]
fn invalid_rows_are_reported_with_line_numbers_and_journaled() {
    let sim = Sim::healthy();
    let work = Work::new();
    let csv = work.write(
        "people.csv",
        "email,roles\nok@example.com,member\nbad@example.com,admin\nnot-an-email,member\n",
    );
    let ran = exec(&mut run_cmd(&sim, &work, &csv));
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(ran.stderr.contains("line 3"), "{ran:?}");
    assert!(ran.stderr.contains("admin"), "{ran:?}");
    assert!(ran.stderr.contains("line 4"), "{ran:?}");
    assert_eq!(sim.stats().created, 1);
    assert_eq!(work.status_of("ok@example.com"), "invited");
    assert_eq!(work.status_of("bad@example.com"), "invalid");
    let detail =
        work.query("SELECT last_error_detail FROM invites WHERE email_key = 'bad@example.com'");
    assert!(detail[0].contains("admin"), "{detail:?}");
}

#[test]
fn strict_sends_nothing_when_a_row_is_invalid() {
    let sim = Sim::healthy();
    let work = Work::new();
    let csv = work.write(
        "people.csv",
        "email,roles\nok@example.com,member\nbad@example.com,admin\n",
    );
    let ran = exec(run_cmd(&sim, &work, &csv).arg("--strict"));
    assert_eq!(ran.code, 1, "{ran:?}");
    assert_eq!(sim.stats().requests, 0);
    assert!(ran.stdout.contains("--strict"), "{ran:?}");
}

#[test]
fn dry_run_sends_nothing_and_writes_no_journal() {
    let sim = Sim::healthy();
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(3));
    let ran = exec(run_cmd(&sim, &work, &csv).arg("--dry-run"));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(sim.stats().requests, 0);
    assert!(!work.journal().exists());
    assert!(ran.stdout.contains("would send 3"), "{ran:?}");

    // After a real run, the dry run consults the journal and would skip everyone.
    assert_eq!(exec(&mut run_cmd(&sim, &work, &csv)).code, 0);
    let requests = sim.stats().requests;
    let ran = exec(run_cmd(&sim, &work, &csv).arg("--dry-run"));
    assert!(ran.stdout.contains("would send 0"), "{ran:?}");
    assert!(ran.stdout.contains("skip (invited)"), "{ran:?}");
    assert_eq!(sim.stats().requests, requests);
    assert_eq!(work.query("SELECT count(*) FROM runs"), vec!["1"]);
}

#[test]
fn the_v1_endpoint_is_used_when_asked() {
    let sim = Sim::healthy();
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(2));
    let ran = exec(run_cmd(&sim, &work, &csv).args(["--api", "invites-v1"]));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(sim.stats().created, 2);
    assert_eq!(
        work.query("SELECT DISTINCT endpoint FROM attempts"),
        vec!["POST /api/atlas/v1.0/orgs/{orgId}/invites"]
    );
    assert_eq!(work.query("SELECT api FROM runs"), vec!["invites-v1"]);
}

#[test]
fn configuration_errors_exit_2_before_any_request() {
    let sim = Sim::healthy();
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(1));

    let ran = exec(run_cmd(&sim, &work, &csv).env_remove("MONGODB_ATLAS_ACCESS_TOKEN"));
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(ran.stderr.contains("MONGODB_ATLAS_ACCESS_TOKEN"), "{ran:?}");

    let ran = exec(run_cmd(&sim, &work, &csv).args(["--org", "not-an-org"]));
    assert_eq!(ran.code, 2, "{ran:?}");

    let ran = exec(
        atlas_invite()
            .arg("run")
            .arg(&csv)
            .env("MONGODB_ATLAS_ORG_ID", "XYZ")
            .env("MONGODB_ATLAS_ACCESS_TOKEN", TOKEN),
    );
    assert_eq!(ran.code, 2, "{ran:?}");

    let ran = exec(&mut run_cmd(&sim, &work, &work.path("missing.csv")));
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(ran.stderr.contains("missing.csv"), "{ran:?}");

    let ran = exec(
        atlas_invite()
            .arg("run")
            .arg(&csv)
            .args([
                "--org",
                ORG,
                "--base-url",
                "http://cloud.example.com",
                "--journal",
            ])
            .arg(work.journal())
            .env("MONGODB_ATLAS_ACCESS_TOKEN", TOKEN),
    );
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(ran.stderr.contains("plain http"), "{ran:?}");
    assert_eq!(sim.stats().requests, 0);
}

#[test]
fn org_and_journal_come_from_the_environment() {
    let sim = Sim::healthy();
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(1));
    let ran = exec(
        atlas_invite()
            .arg("run")
            .arg(&csv)
            .env("MONGODB_ATLAS_ORG_ID", ORG)
            .env("MONGODB_ATLAS_BASE_URL", sim.url())
            .env("ATLAS_INVITE_JOURNAL", work.journal())
            .env("MONGODB_ATLAS_ACCESS_TOKEN", TOKEN)
            .args(["--rate", "100/s"]),
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(work.status_of("person0@example.com"), "invited");
}

/// The README's quick start: the demonstration needs no credentials, journals in its own file
/// of the state directory, and a second run sends nothing.
#[test]
fn the_simulate_flag_runs_the_demonstration_without_credentials() {
    let work = Work::new();
    let demo = || {
        exec(
            atlas_invite()
                .current_dir(work.dir.path())
                .env("XDG_STATE_HOME", work.path("state"))
                .arg("run")
                .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/users.csv"))
                .args(["--simulate", "--format", "json"]),
        )
    };
    let ran = demo();
    assert_eq!(ran.code, 0, "{ran:?}");
    let json = ran.json();
    assert_eq!(json["invited"], json["valid"]);
    assert!(json["valid"].as_u64().unwrap() >= 20);
    let journal = work.path("state/atlas-invite/simulate-64b7e2f0c1d2e3f4a5b6c7d8.db");
    assert!(journal.exists());
    assert_eq!(json["journal"], journal.display().to_string());
    // Demonstrations never share the journal of real runs, nor litter the current directory.
    assert!(
        !work
            .path("state/atlas-invite/64b7e2f0c1d2e3f4a5b6c7d8.db")
            .exists()
    );
    assert!(!work.path("atlas-invite-simulate.db").exists());
    assert!(!work.path("atlas-invite.db").exists());

    let ran = demo();
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(ran.json()["invited"], 0, "{ran:?}");
    assert_eq!(ran.json()["skipped"], json["valid"], "{ran:?}");
}

#[test]
fn the_token_never_reaches_output_or_journal() {
    let sim =
        Sim::start(SimConfig::default().with_script("person0@example.com", [Fault::Status(400)]));
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(3));
    let ran = exec(run_cmd(&sim, &work, &csv).args(["--format", "json"]));
    assert!(!ran.stdout.contains(TOKEN) && !ran.stderr.contains(TOKEN));
    let bytes = std::fs::read(work.journal()).unwrap();
    let wal = std::fs::read(work.path("journal.db-wal")).unwrap_or_default();
    for haystack in [bytes, wal] {
        assert!(!haystack.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()));
    }
    let ran = exec(
        atlas_invite()
            .args(["run", "--help"])
            .env("MONGODB_ATLAS_ACCESS_TOKEN", TOKEN),
    );
    assert!(!ran.stdout.contains(TOKEN));
}

#[test]
fn status_shows_counts_and_runs() {
    let sim =
        Sim::start(SimConfig::default().with_script("person0@example.com", [Fault::Status(400)]));
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(3));
    exec(&mut run_cmd(&sim, &work, &csv));
    let ran = exec(
        atlas_invite()
            .args(["status", "--format", "json", "--journal"])
            .arg(work.journal()),
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    let json: serde_json::Value = serde_json::from_str(ran.stdout.trim()).unwrap();
    let count = |status: &str| {
        json["statuses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["status"] == status)
            .map(|s| s["count"].as_i64().unwrap())
    };
    assert_eq!(count("invited"), Some(2));
    assert_eq!(count("failed"), Some(1));
    assert_eq!(json["runs"][0]["exit_code"], 1);

    let ran = exec(
        atlas_invite()
            .args(["status", "--journal"])
            .arg(work.journal()),
    );
    assert!(ran.stdout.contains("invited"), "{ran:?}");
    assert!(ran.stdout.contains("Last runs"), "{ran:?}");

    let ran = exec(
        atlas_invite()
            .args(["status", "--journal"])
            .arg(work.path("none.db")),
    );
    assert_eq!(ran.code, 2, "{ran:?}");
}

/// A wrong organization id ends the run after one lookup, before any invitation is sent or
/// anything is written to the journal.
#[test]
fn an_unknown_organization_is_refused_before_anything_is_sent() {
    // Only ORG exists in the test simulators.
    let sim = Sim::healthy();
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(5));
    let ran = exec(run_cmd(&sim, &work, &csv).args(["--org", "aaaaaaaaaaaaaaaaaaaaaaaa"]));
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(
        ran.stderr
            .contains("no organization aaaaaaaaaaaaaaaaaaaaaaaa"),
        "{ran:?}"
    );
    assert!(ran.stderr.contains("nothing was sent"), "{ran:?}");
    assert_eq!(sim.posts(), 0);
    assert!(!work.journal().exists(), "nothing written");
}

/// After a run, the `.db` alone is the whole journal: a copy of just that file (an auditor's
/// copy, a CI artifact) holds every result and the run's end.
#[test]
fn the_journal_file_alone_is_whole_after_a_run() {
    let sim = Sim::healthy();
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(300));
    let ran = exec(run_cmd(&sim, &work, &csv).args(["--concurrency", "16"]));
    assert_eq!(ran.code, 0, "{ran:?}");
    let wal = work.path("journal.db-wal");
    assert!(
        !wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0,
        "the WAL is empty or gone"
    );
    let copy = tempfile::tempdir().unwrap();
    std::fs::copy(work.journal(), copy.path().join("copy.db")).unwrap();
    let conn = rusqlite::Connection::open(copy.path().join("copy.db")).unwrap();
    let invited: i64 = conn
        .query_row(
            "SELECT count(*) FROM invites WHERE status = 'invited'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(invited, 300);
    let exit: Option<i64> = conn
        .query_row("SELECT exit_code FROM runs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(exit, Some(0));
}

/// `--events FILE` streams one JSON line per committed row result and per rate-limit pause.
#[test]
fn events_stream_results_and_rate_limit_pauses_as_json_lines() {
    let sim = Sim::start(
        SimConfig::default()
            .with_script(
                "person0@example.com",
                [Fault::RateLimited {
                    retry_after: Some(1),
                }],
            )
            .with_script("person1@example.com", [Fault::Status(400)]),
    );
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(3));
    let events = work.path("events.jsonl");
    let ran = exec(run_cmd(&sim, &work, &csv).arg("--events").arg(&events));
    assert_eq!(ran.code, 1, "{ran:?}");
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&events)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect();
    let results: Vec<(&str, &str)> = lines
        .iter()
        .filter(|l| l["event"] == "result")
        .map(|l| (l["email"].as_str().unwrap(), l["status"].as_str().unwrap()))
        .collect();
    assert_eq!(results.len(), 3, "{lines:?}");
    assert!(results.contains(&("person0@example.com", "invited")));
    assert!(results.contains(&("person1@example.com", "failed")));
    assert!(results.contains(&("person2@example.com", "invited")));
    let pause = lines
        .iter()
        .find(|l| l["event"] == "rate_limited")
        .expect("the pause is in the stream");
    assert!(pause["wait_ms"].as_u64().is_some(), "{pause}");
    let failed = lines
        .iter()
        .find(|l| l["email"] == "person1@example.com")
        .unwrap();
    assert_eq!(failed["http_status"], 400);
    assert!(!std::fs::read_to_string(&events).unwrap().contains(TOKEN));

    // `-` is stdout; the JSON summary stays the last line.
    let work = Work::new();
    let csv = work.write("people.csv", "email\nzed@example.com\nyan@example.com\n");
    let ran = exec(run_cmd(&sim, &work, &csv).args(["--events", "-", "--format", "json"]));
    assert_eq!(ran.code, 0, "{ran:?}");
    let stdout: Vec<&str> = ran.stdout.lines().collect();
    assert_eq!(stdout.len(), 3, "{ran:?}");
    assert!(
        stdout[..2]
            .iter()
            .all(|l| l.contains("\"event\":\"result\""))
    );
    assert_eq!(ran.json()["invited"], 2);

    // Never the journal.
    let ran = exec(
        run_cmd(&sim, &work, &csv)
            .arg("--events")
            .arg(work.journal()),
    );
    assert_eq!(ran.code, 2, "{ran:?}");
}

/// `--dry-run --format json` lists every person with the action and the grants.
#[test]
fn a_json_dry_run_lists_every_person_with_action_and_grants() {
    let sim = Sim::healthy();
    let work = Work::new();
    let first = work.write("first.csv", people_csv(2));
    assert_eq!(exec(&mut run_cmd(&sim, &work, &first)).code, 0);
    let csv = work.write(
        "people.csv",
        "email,roles\nperson0@example.com,ORG_MEMBER\nperson1@example.com,ORG_MEMBER\nnew@example.com,ORG_OWNER;ORG_MEMBER\n",
    );
    let ran = exec(run_cmd(&sim, &work, &csv).args(["--dry-run", "--format", "json"]));
    assert_eq!(ran.code, 0, "{ran:?}");
    let plan = ran.json()["plan"].as_array().unwrap().clone();
    assert_eq!(plan.len(), 3, "{plan:?}");
    assert_eq!(plan[0]["action"], "skip (invited)");
    assert_eq!(plan[0]["sends"], false);
    assert_eq!(plan[2]["email"], "new@example.com");
    assert_eq!(plan[2]["action"], "send");
    assert_eq!(plan[2]["line"], 4);
    assert_eq!(
        plan[2]["roles"],
        serde_json::json!(["ORG_OWNER", "ORG_MEMBER"])
    );
    // A real run has no plan in its summary.
    let ran = exec(run_cmd(&sim, &work, &csv).args(["--format", "json"]));
    assert!(ran.json().get("plan").is_none(), "{ran:?}");
}
