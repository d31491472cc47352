//! Exactly-once: lost answers, hangs, crashes, concurrent runs and rate-limit storms never
//! invite anybody twice, and the journal agrees with the server.

use std::time::Duration;

use atlas_sim::{Fault, RateLimit, SimConfig};

use crate::util::*;

/// The simulator lets a second invite for the same email create a second invitation, so any
/// blind resend would be visible.
fn duplicating() -> SimConfig {
    SimConfig {
        duplicate_invites: true,
        ..SimConfig::default()
    }
}

#[test]
fn record_then_drop_never_produces_a_duplicate() {
    let sim = Sim::start(
        duplicating()
            .with_script("person0@example.com", [Fault::RecordThenDrop])
            .with_script(
                "person2@example.com",
                [Fault::RecordThenDrop, Fault::RecordThenDrop],
            ),
    );
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(4));
    let ran = exec(&mut run_cmd(&sim, &work, &csv));
    assert_eq!(ran.code, 0, "{ran:?}");
    for i in 0..4 {
        let email = format!("person{i}@example.com");
        assert_eq!(sim.invitations_for(&email), 1, "{email}");
        assert_eq!(work.status_of(&email), "invited");
    }
    // The dropped request was resolved by a lookup that found the invitation and its id.
    assert_eq!(
        work.query("SELECT group_concat(outcome) FROM attempts WHERE email_key = 'person0@example.com' ORDER BY id"),
        vec!["unknown,found"]
    );
    let id =
        work.query("SELECT invitation_id FROM invites WHERE email_key = 'person0@example.com'");
    assert_eq!(
        id[0],
        sim.state().invitations_for("person0@example.com")[0]
            .id
            .clone()
            .unwrap()
    );
}

#[test]
fn a_hanging_request_times_out_then_is_looked_up_and_sent_once() {
    let sim = Sim::start(duplicating().with_script("person0@example.com", [Fault::Hang]));
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(2));
    let ran = exec(run_cmd(&sim, &work, &csv).args(["--timeout", "500ms"]));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(sim.invitations_for("person0@example.com"), 1);
    assert_eq!(
        work.query("SELECT group_concat(outcome) FROM attempts WHERE email_key = 'person0@example.com' ORDER BY id"),
        vec!["unknown,not_found,invited"]
    );
}

#[test]
fn broken_success_answers_are_resolved_by_lookup() {
    let sim = Sim::start(
        duplicating()
            .with_script("person0@example.com", [Fault::TruncatedJson])
            .with_script("person1@example.com", [Fault::OkWithoutId]),
    );
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(2));
    let ran = exec(&mut run_cmd(&sim, &work, &csv));
    assert_eq!(ran.code, 0, "{ran:?}");
    for email in ["person0@example.com", "person1@example.com"] {
        assert_eq!(sim.invitations_for(email), 1, "{email}");
        assert_eq!(work.status_of(email), "invited");
        let id = work.query(&format!(
            "SELECT invitation_id FROM invites WHERE email_key = '{email}'"
        ));
        assert_ne!(id[0], "NULL", "{email} got its id from the lookup");
    }
}

#[test]
fn html_error_pages_and_gateway_errors_are_retried_readably() {
    let sim = Sim::start(duplicating().with_script(
        "person0@example.com",
        [Fault::Html503, Fault::BadGateway502Html],
    ));
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(1));
    let ran = exec(&mut run_cmd(&sim, &work, &csv));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(sim.invitations_for("person0@example.com"), 1);
    let details = work.query(
        "SELECT detail FROM attempts WHERE email_key = 'person0@example.com' AND http_status = 503",
    );
    // The status is in its own column; the detail names the page once, by its title.
    assert_eq!(
        details[0], "an HTML page from a proxy: \"Service Unavailable\"",
        "{details:?}"
    );
    assert!(
        !details[0].contains('<'),
        "HTML tags are stripped: {details:?}"
    );
}

#[test]
fn already_invited_and_already_member_are_done_not_failed() {
    let sim = Sim::start(SimConfig {
        existing_members: vec!["Person1@Example.com".into()],
        ..SimConfig::default()
    });
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(1));
    assert_eq!(exec(&mut run_cmd(&sim, &work, &csv)).code, 0);

    // A second journal knows nothing, so it sends again: Atlas answers 409 for both.
    let other = Work::new();
    let csv = other.write("people.csv", people_csv(2));
    let ran = exec(run_cmd(&sim, &other, &csv).args(["--format", "json"]));
    assert_eq!(ran.code, 0, "{ran:?}");
    let json = ran.json();
    assert_eq!(json["already_invited"], 1);
    assert_eq!(json["already_member"], 1);
    assert_eq!(other.status_of("person0@example.com"), "already_invited");
    assert_eq!(other.status_of("person1@example.com"), "already_member");
    assert_eq!(sim.invitations_for("person0@example.com"), 1);
}

#[test]
fn a_second_run_on_the_same_journal_is_refused() {
    let sim = Sim::start(SimConfig {
        latency: Duration::from_millis(100),
        ..SimConfig::default()
    });
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(30));
    let mut first = run_cmd(&sim, &work, &csv)
        .args(["--concurrency", "1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the first run holds the journal (it has sent something).
    wait_until(|| sim.stats().requests > 0);
    let requests = sim.stats().requests;
    let ran = exec(&mut run_cmd(&sim, &work, &csv));
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(
        ran.stderr.contains("in use by another atlas-invite run"),
        "{ran:?}"
    );
    assert!(ran.stderr.contains("journal.db"), "{ran:?}");
    first.kill().unwrap();
    first.wait().unwrap();
    // The refused run sent nothing: every request since came from the first one, at most
    // one at a time.
    assert!(sim.posts() <= requests + 30);
}

#[test]
fn sigkill_at_any_point_then_rerun_invites_everyone_exactly_once() {
    let sim = Sim::start(SimConfig {
        latency: Duration::from_millis(30),
        latency_jitter: Duration::from_millis(30),
        duplicate_invites: true,
        ..SimConfig::default()
    });
    let work = Work::new();
    let n = 120;
    let csv = work.write("people.csv", people_csv(n));
    for kill_after in [5u64, 25, 60] {
        let mut child = run_cmd(&sim, &work, &csv)
            .args(["--concurrency", "8"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let target = sim.posts() + kill_after;
        wait_until(|| sim.posts() >= target);
        // SIGKILL: no chance to clean up.
        child.kill().unwrap();
        child.wait().unwrap();
    }
    let in_flight = work.query("SELECT count(*) FROM invites WHERE status = 'in_flight'");
    let ran = exec(run_cmd(&sim, &work, &csv).args(["--format", "json"]));
    assert_eq!(ran.code, 0, "{ran:?}");
    for i in 0..n {
        let email = format!("person{i}@example.com");
        assert_eq!(
            sim.invitations_for(&email),
            1,
            "{email} invited exactly once"
        );
        assert_eq!(work.status_of(&email), "invited", "{email}");
    }
    // The journal's ids are the server's.
    let ids = work.query("SELECT invitation_id FROM invites ORDER BY email_key");
    let mut server: Vec<String> = sim
        .state()
        .invitations()
        .into_iter()
        .map(|inv| (inv.username.unwrap().to_lowercase(), inv.id.unwrap()))
        .collect::<std::collections::BTreeMap<_, _>>()
        .into_values()
        .collect();
    let mut ours = ids.clone();
    ours.sort();
    server.sort();
    assert_eq!(ours, server);
    assert_eq!(sim.stats().created, n as u64);
    // Sanity: the kills did leave something unresolved for the final run to check.
    let left: u64 = in_flight[0].parse().unwrap();
    let lookups = work.query("SELECT count(*) FROM attempts WHERE kind = 'lookup'");
    assert!(
        left == 0 || lookups[0] != "0",
        "in_flight rows were looked up"
    );
}

#[test]
fn a_run_faster_than_the_server_converges_with_few_429s() {
    let sim = Sim::start(SimConfig {
        rate_limit: Some(RateLimit {
            per_second: 100.0,
            burst: 100,
        }),
        ..SimConfig::default()
    });
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(700));
    let ran = exec(run_cmd(&sim, &work, &csv).args([
        // More people than Atlas takes per organization: this is about pacing.
        "--max-org-users",
        "100000",
        "--rate",
        "1000/s",
        "--concurrency",
        "8",
        "--format",
        "json",
    ]));
    assert_eq!(ran.code, 0, "{ran:?}");
    let stats = sim.stats();
    assert_eq!(stats.created, 700);
    let share = stats.rate_limited as f64 / stats.posts() as f64;
    assert!(
        share < 0.10,
        "429s were {:.1}% of requests: {stats:?}",
        share * 100.0
    );
}

#[test]
fn a_rate_limit_without_retry_after_is_still_honoured() {
    let sim = Sim::start(
        SimConfig {
            retry_after_header: false,
            ..SimConfig::default()
        }
        .with_script(
            "person0@example.com",
            [Fault::RateLimited { retry_after: None }],
        ),
    );
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(2));
    let ran = exec(run_cmd(&sim, &work, &csv).args(["--format", "json"]));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(ran.json()["rate_limited"], 1);
    assert_eq!(sim.invitations_for("person0@example.com"), 1);
}

#[cfg(unix)]
#[test]
fn sigterm_stops_cleanly_and_the_rerun_finishes() {
    let sim = Sim::start(SimConfig {
        latency: Duration::from_millis(50),
        duplicate_invites: true,
        ..SimConfig::default()
    });
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(60));
    let child = run_cmd(&sim, &work, &csv)
        .args(["--concurrency", "2", "--format", "json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_until(|| sim.posts() >= 6);
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(summary["stopped"], "interrupted");
    assert!(summary["unfinished"].as_u64().unwrap() > 0);
    // Every request sent before the stop finished and was recorded: nothing is in flight.
    assert_eq!(
        work.query("SELECT count(*) FROM invites WHERE status = 'in_flight'"),
        vec!["0"]
    );
    assert_eq!(work.query("SELECT exit_code FROM runs"), vec!["3"]);

    let ran = exec(&mut run_cmd(&sim, &work, &csv));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(sim.stats().created, 60);
    assert!(sim.state().invitations().len() == 60);
}

/// Polls `check` for up to 20 seconds.
fn wait_until(check: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(
            std::time::Instant::now() < deadline,
            "condition not reached in time"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Every one of `n` people has exactly one invitation at the server, and the journal records
/// each as `invited` with that invitation's id.
fn journal_matches_server(sim: &Sim, work: &Work, n: usize) {
    for i in 0..n {
        let email = format!("person{i}@example.com");
        let server = sim.state().invitations_for(&email);
        assert_eq!(server.len(), 1, "{email} has {} invitations", server.len());
        assert_eq!(work.status_of(&email), "invited", "{email}");
        let ours = work.query(&format!(
            "SELECT invitation_id FROM invites WHERE email_key = '{email}'"
        ));
        assert_eq!(Some(&ours[0]), server[0].id.as_ref(), "{email}'s id");
    }
    assert_eq!(sim.stats().created, n as u64);
}

/// A server that takes longer than `--timeout` to create each invitation (and creates it
/// although the client has given up): the lookup waits for the settle window, finds each
/// invitation, and nothing is sent twice.
#[test]
fn a_server_slower_than_the_timeout_never_gets_a_second_invitation() {
    let n = 24;
    let mut config = duplicating();
    for i in 0..n {
        config = config.with_script(&format!("person{i}@example.com"), [Fault::Slow(2_500)]);
    }
    let sim = Sim::start(config);
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(n));
    let ran = exec(run_cmd(&sim, &work, &csv).args([
        "--timeout",
        "1s",
        "--settle",
        "4s",
        "--concurrency",
        "8",
        "--format",
        "json",
    ]));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(ran.json()["invited"], n);
    journal_matches_server(&sim, &work, n);
    // Each person: the unanswered invitation, then the lookup that found it.
    assert_eq!(
        work.query(
            "SELECT count(*) FROM invites WHERE email_key IN (SELECT email_key FROM attempts
             GROUP BY email_key HAVING group_concat(outcome) = 'unknown,found')"
        ),
        vec![n.to_string()]
    );
}

/// A settle window shorter than the server's work (the operator's choice) lets the lookup miss
/// the first invitation; the resend then gets "already invited", which is our own first
/// invitation: recorded `invited` with its id, not `already_invited`.
#[test]
fn already_invited_after_our_own_unanswered_request_is_recorded_as_ours() {
    let sim = Sim::start(SimConfig::default().with_script(
        "person0@example.com",
        // Created 4 s after it was sent; the resend reaches Atlas about 5 s after the first.
        [Fault::Slow(4_000), Fault::Slow(2_000)],
    ));
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(1));
    let ran = exec(run_cmd(&sim, &work, &csv).args(["--timeout", "3s", "--settle", "3s"]));
    assert_eq!(ran.code, 0, "{ran:?}");
    journal_matches_server(&sim, &work, 1);
    assert_eq!(
        work.query("SELECT group_concat(outcome) FROM attempts ORDER BY id"),
        vec!["unknown,not_found,already_invited,found"]
    );
}

/// People in the tests of killed runs.
const N: usize = 120;

/// A server that works 1 to 2 s on each person's first invitation but answers lookups at once,
/// as Atlas can: a lookup made while the invitation is still being created finds nothing.
fn slow_posts(n: usize) -> SimConfig {
    let mut config = SimConfig {
        latency: Duration::from_millis(10),
        duplicate_invites: true,
        ..SimConfig::default()
    };
    for i in 0..n {
        let slow = 1_000 + (i as u64 * 337) % 1_000;
        config = config.with_script(&format!("person{i}@example.com"), [Fault::Slow(slow)]);
    }
    config
}

/// `kill -9` at three points of a run against a server whose invitations take 1–2 s, each
/// followed at once by a rerun: the requests of the killed run are still being worked on when
/// the rerun starts, so the rerun must wait for them to settle before looking anybody up.
#[cfg(unix)]
#[test]
fn sigkill_with_slow_answers_then_an_immediate_rerun_never_invites_twice() {
    let sim = Sim::start(slow_posts(N));
    let work = Work::new();
    let n = N;
    let csv = work.write("people.csv", people_csv(n));
    for kill_after in [3u64, 40, 90] {
        let mut child = run_cmd(&sim, &work, &csv)
            .args(["--concurrency", "16"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        wait_until(|| sim.posts() >= kill_after);
        child.kill().unwrap();
        child.wait().unwrap();
    }
    let ran = exec(run_cmd(&sim, &work, &csv).args(["--concurrency", "16"]));
    assert_eq!(ran.code, 0, "{ran:?}");
    journal_matches_server(&sim, &work, n);
}

/// Ctrl-C twice exits at once, requests still on their way; the immediate rerun waits for them
/// to settle and invites nobody twice.
#[cfg(unix)]
#[test]
fn double_ctrl_c_then_an_immediate_rerun_never_invites_twice() {
    let sim = Sim::start(slow_posts(N));
    let work = Work::new();
    let n = N;
    let csv = work.write("people.csv", people_csv(n));
    let child = run_cmd(&sim, &work, &csv)
        .args(["--concurrency", "16"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_until(|| sim.posts() >= 20);
    for _ in 0..2 {
        let status = std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        std::thread::sleep(Duration::from_millis(30));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let ran = exec(run_cmd(&sim, &work, &csv).args(["--concurrency", "16"]));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(
        ran.stderr.contains("looked up with Atlas in"),
        "the rerun says that it waits: {ran:?}"
    );
    journal_matches_server(&sim, &work, n);
}

/// SIGTERM while a large file is being planned: the planning rolls back, the summary says so,
/// and the exit code is the documented one for an interruption.
#[cfg(unix)]
#[test]
fn sigterm_during_planning_exits_3_with_a_summary_and_an_unchanged_journal() {
    let sim = Sim::healthy();
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(200_000));
    let child = run_cmd(&sim, &work, &csv)
        .args(["--format", "json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The journal is created just before planning starts, which takes seconds for this file.
    wait_until(|| work.journal().exists());
    std::thread::sleep(Duration::from_millis(200));
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    let summary: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert!(
        summary["stopped"]
            .as_str()
            .unwrap()
            .contains("interrupted while planning"),
        "{summary}"
    );
    assert_eq!(sim.posts(), 0);
    assert_eq!(work.query("SELECT count(*) FROM runs"), vec!["0"]);
    assert_eq!(work.query("SELECT count(*) FROM invites"), vec!["0"]);
}

/// The journal stops accepting writes in the middle of a run (another process holds its write
/// lock past the busy timeout, as a full disk would refuse them): the run stops with a clear
/// message and exit 3, sends nothing it cannot record, and the rerun finishes without
/// inviting anybody twice.
#[cfg(unix)]
#[test]
fn a_journal_that_fails_mid_run_stops_the_run_and_the_rerun_is_safe() {
    let sim = Sim::start(SimConfig {
        latency: Duration::from_millis(50),
        duplicate_invites: true,
        ..SimConfig::default()
    });
    let work = Work::new();
    let n = 200;
    let csv = work.write("people.csv", people_csv(n));
    let child = run_cmd(&sim, &work, &csv)
        .args(["--concurrency", "4", "--rate", "40/s"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_until(|| sim.posts() >= 10);
    let blocker = rusqlite::Connection::open(work.journal()).unwrap();
    blocker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let out = child.wait_with_output().unwrap();
    blocker.execute_batch("ROLLBACK").unwrap();
    drop(blocker);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("journal could not be written"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let sent = sim.posts();
    assert!(sent < n as u64, "the run stopped sending: {sent}");

    let ran = exec(&mut run_cmd(&sim, &work, &csv));
    assert_eq!(ran.code, 0, "{ran:?}");
    journal_matches_server(&sim, &work, n);
}

/// The journal, not the endpoint, says who is done: people invited through the invitation
/// endpoints are not sent again through the users endpoint (now the default), nor the reverse.
#[test]
fn switching_the_endpoint_never_sends_anybody_again() {
    for (first, second) in [
        (&["--api", "invites"][..], &[][..]),
        (&[][..], &["--api", "invites"][..]),
        (&["--api", "invites-v1"][..], &["--api", "users"][..]),
    ] {
        let sim = Sim::start(duplicating());
        let work = Work::new();
        let csv = work.write("people.csv", people_csv(5));
        let ran = exec(run_cmd(&sim, &work, &csv).args(first));
        assert_eq!(ran.code, 0, "{first:?}: {ran:?}");
        assert_eq!(sim.posts(), 5, "{first:?}");

        let ran = exec(
            run_cmd(&sim, &work, &csv)
                .args(second)
                .args(["--format", "json"]),
        );
        assert_eq!(ran.code, 0, "{first:?} then {second:?}: {ran:?}");
        assert_eq!(ran.json()["skipped"], 5, "{ran:?}");
        assert_eq!(sim.posts(), 5, "{first:?} then {second:?}: no POST at all");
        // Nor a lookup: nobody was left in doubt.
        assert_eq!(
            work.query("SELECT count(*) FROM attempts WHERE kind = 'lookup'"),
            vec!["0"]
        );
        for i in 0..5 {
            assert_eq!(sim.invitations_for(&format!("person{i}@example.com")), 1);
        }
        assert_eq!(work.query("SELECT count(*) FROM runs"), vec!["2"]);
    }
}
