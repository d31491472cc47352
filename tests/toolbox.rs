//! At home in a toolbox and in CI: shell completions and manual pages, clean JSON on stdout,
//! `--quiet` errors, killed runs in `runs`, the OS user without `$USER`, and messages that say
//! what happened and what to do.

use std::process::Stdio;
use std::time::Duration;

use atlas_sim::{Fault, SimConfig};

use crate::util::*;

/// Waits (polling) until `check` holds; fails the test after 20 s.
fn wait_until(check: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(
            std::time::Instant::now() < deadline,
            "condition not reached in time"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A command of the binary on `work`'s journal, without any Atlas credential.
fn on_journal(work: &Work, args: &[&str]) -> std::process::Command {
    let mut cmd = atlas_invite();
    cmd.args(args).arg("--journal").arg(work.journal());
    cmd
}

#[test]
fn completions_for_every_shell_know_the_commands_and_options() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let ran = exec(atlas_invite().args(["completions", shell]));
        assert_eq!(ran.code, 0, "{shell}: {ran:?}");
        for word in ["run", "reconcile", "validate", "dry-run", "max-attempts"] {
            assert!(ran.stdout.contains(word), "{shell} completion lacks {word}");
        }
        assert!(ran.stderr.is_empty(), "{shell}: {ran:?}");
    }
    let bad = exec(atlas_invite().args(["completions", "tcsh"]));
    assert_eq!(bad.code, 2, "{bad:?}");
}

#[test]
fn manual_pages_come_from_the_same_definitions_as_help() {
    let overview = exec(atlas_invite().arg("man"));
    assert_eq!(overview.code, 0, "{overview:?}");
    assert!(
        overview.stdout.contains(".TH atlas-invite 1"),
        "{overview:?}"
    );
    // Commands are listed with their pages; roff escapes dashes.
    assert!(
        overview.stdout.contains(r"atlas\-invite\-run(1)"),
        "{overview:?}"
    );
    assert!(overview.stdout.contains("Exit codes"), "{overview:?}");

    let run = exec(atlas_invite().args(["man", "run"]));
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains(".TH atlas-invite-run 1"), "{run:?}");
    for option in [
        r"\-\-dry\-run",
        r"\-\-max\-attempts",
        r"\-\-settle",
        r"\-\-format",
    ] {
        assert!(run.stdout.contains(option), "run page lacks {option}");
    }
    assert!(run.stdout.contains("MONGODB_ATLAS_CLIENT_SECRET"));

    let work = Work::new();
    let dir = work.path("man/man1");
    let all = exec(atlas_invite().arg("man").arg("--out").arg(&dir));
    assert_eq!(all.code, 0, "{all:?}");
    assert!(all.stdout.is_empty(), "{all:?}");
    for page in [
        "atlas-invite.1",
        "atlas-invite-run.1",
        "atlas-invite-reconcile.1",
    ] {
        let text = std::fs::read_to_string(dir.join(page)).unwrap();
        assert!(text.starts_with(".ie") && text.contains(".TH"), "{page}");
    }
    assert!(!dir.join("atlas-invite-help.1").exists());

    let unknown = exec(atlas_invite().args(["man", "invite"]));
    assert_eq!(unknown.code, 2, "{unknown:?}");
    assert!(unknown.stderr.contains("reconcile"), "{unknown:?}");
}

#[test]
fn the_os_user_comes_from_the_account_when_no_variable_names_it() {
    let sim = Sim::healthy();
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(1));
    let ran = exec(
        run_cmd(&sim, &work, &csv)
            .env_remove("USER")
            .env_remove("LOGNAME")
            .env_remove("USERNAME"),
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    let recorded = work.query("SELECT os_user FROM runs");
    assert_ne!(recorded, vec!["NULL".to_owned()], "os_user recorded");
    // What the system itself says, when it can say it.
    if let Ok(id) = std::process::Command::new("id").arg("-un").output()
        && id.status.success()
    {
        let name = String::from_utf8_lossy(&id.stdout).trim().to_owned();
        assert_eq!(recorded, vec![name]);
    }
    // A variable still wins.
    let ran = exec(run_cmd(&sim, &work, &csv).env("USER", "ci-bot"));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(
        work.query("SELECT os_user FROM runs WHERE id = 2"),
        vec!["ci-bot"]
    );
}

#[test]
fn a_killed_run_shows_its_real_counts_and_that_it_did_not_finish() {
    let sim = Sim::start(SimConfig {
        latency: Duration::from_millis(20),
        ..SimConfig::default()
    });
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(400));
    let mut child = run_cmd(&sim, &work, &csv)
        .args(["--concurrency", "2", "--rate", "100/s"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Killed once some invitations are committed to the journal, well before the end.
    // (The journal may not exist yet, or be half created: that counts as nothing committed.)
    let committed = || {
        rusqlite::Connection::open_with_flags(
            work.journal(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .and_then(|conn| {
            conn.query_row(
                "SELECT count(*) FROM attempts WHERE outcome = 'invited'",
                [],
                |r| r.get::<_, i64>(0),
            )
        })
        .is_ok_and(|n| n >= 5)
    };
    wait_until(committed);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        work.query("SELECT count(*) FROM runs WHERE finished_at IS NULL"),
        vec!["1"]
    );
    let journaled: u64 = work
        .query("SELECT count(DISTINCT email_key) FROM attempts WHERE outcome = 'invited'")[0]
        .parse()
        .unwrap();

    let ran = exec(&mut on_journal(&work, &["runs", "--format", "json"]));
    assert_eq!(ran.code, 0, "{ran:?}");
    let runs: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap();
    let run = &runs[0];
    assert_eq!(run["exit_code"], serde_json::Value::Null);
    assert_eq!(run["invited"], journaled, "{run}");
    assert!(run["requests"].as_u64().unwrap() >= journaled, "{run}");
    let unfinished = run["unfinished"].as_u64().unwrap();
    assert!(unfinished > 0 && unfinished < 400, "{run}");
    assert_eq!(journaled + unfinished, 400, "{run}");

    // Its lease runs out 10 s after the kill at most; the journal is moved past that moment
    // rather than the test waiting for it.
    on_lease_lapsed(&work);
    let ran = exec(&mut on_journal(&work, &["runs", "--format", "json"]));
    let runs: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap();
    assert_eq!(runs[0]["state"], "did_not_finish", "{ran:?}");
    let table = exec(&mut on_journal(&work, &["runs"]));
    assert!(
        table.stdout.contains("did not finish (killed?)"),
        "{table:?}"
    );
    let row = table.stdout.lines().nth(1).unwrap();
    assert!(row.contains(&format!(" {journaled} ")), "{row}");

    // The rerun finishes the work; both runs say what they did.
    let ran = exec(&mut run_cmd(&sim, &work, &csv));
    assert_eq!(ran.code, 0, "{ran:?}");
    let ran = exec(&mut on_journal(&work, &["runs", "--format", "json"]));
    let runs: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap();
    assert_eq!(runs[0]["invited"], journaled, "{runs}");
    assert_eq!(runs[1]["state"], "finished", "{runs}");
    assert_eq!(runs[1]["skipped"], journaled, "{runs}");
}

/// Moves the lease of every unfinished run into the past, as time does a few seconds after a
/// kill.
fn on_lease_lapsed(work: &Work) {
    let conn = rusqlite::Connection::open(work.journal()).unwrap();
    conn.execute(
        "UPDATE runs SET lease_until = '2000-01-01T00:00:00.000Z' WHERE finished_at IS NULL",
        [],
    )
    .unwrap();
}

#[test]
fn json_keeps_stdout_for_the_summary_and_diagnostics_go_to_stderr() {
    let sim = Sim::healthy();
    let work = Work::new();
    let csv = work.write(
        "people.csv",
        "email,roles\na@example.com,member\nnot-an-address,member\nc@example.com,boss\n",
    );
    let ran = exec(run_cmd(&sim, &work, &csv).args(["--format", "json"]));
    assert_eq!(ran.code, 1, "{ran:?}");
    // The whole of stdout is one JSON object.
    let summary: serde_json::Value = serde_json::from_str(ran.stdout.trim()).unwrap();
    assert_eq!(summary["invalid"], 2);
    assert!(ran.stderr.contains("invalid: line 3"), "{ran:?}");
    assert!(ran.stderr.contains("invalid: line 4"), "{ran:?}");

    let validate = exec(
        atlas_invite()
            .arg("validate")
            .arg(&csv)
            .args(["--format", "json"]),
    );
    assert_eq!(validate.code, 1, "{validate:?}");
    serde_json::from_str::<serde_json::Value>(validate.stdout.trim()).unwrap();
    assert!(validate.stderr.contains("invalid: line 3"), "{validate:?}");

    // --quiet: nothing on stdout, but the reason for exit 1 on stderr.
    let quiet = exec(run_cmd(&sim, &work, &csv).arg("--quiet"));
    assert_eq!(quiet.code, 1, "{quiet:?}");
    assert!(quiet.stdout.is_empty(), "{quiet:?}");
    assert!(!quiet.stderr.contains("invalid: line"), "{quiet:?}");
    assert!(
        quiet
            .stderr
            .starts_with("error: 2 of 3 rows not done: 2 invalid"),
        "{quiet:?}"
    );
    assert!(quiet.stderr.contains("report --run 2"), "{quiet:?}");

    // An abort keeps its error under --quiet and --format json alike.
    for extra in [&["--quiet"][..], &["--format", "json"]] {
        let refused = exec(
            run_cmd(&sim, &work, &csv)
                .args(extra)
                .env("MONGODB_ATLAS_ACCESS_TOKEN", "wrong"),
        );
        assert_eq!(refused.code, 3, "{refused:?}");
        assert!(refused.stdout.is_empty(), "{refused:?}");
        assert!(
            refused.stderr.contains("error: Atlas refused"),
            "{refused:?}"
        );
    }
}

#[test]
fn a_row_given_up_names_the_last_failure_not_the_lookup_that_followed() {
    let sim = Sim::start(
        SimConfig::default()
            .with_script("person0@example.com", [Fault::BadGateway502Html; 4])
            .with_script("person1@example.com", [Fault::Html503; 4]),
    );
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(2));
    // person0: a 502 (no answer from Atlas), a lookup that finds nothing (HTTP 200), and no
    // attempt left. person1: two proxy pages.
    let ran = exec(run_cmd(&sim, &work, &csv).args([
        "--max-attempts",
        "2",
        "--timeout",
        "1s",
        "--settle",
        "1s",
    ]));
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(
        ran.stdout.contains(
            r#"person0@example.com: gave up after 2 attempts: HTTP 502 (an HTML page from a proxy: "Bad Gateway")"#
        ),
        "{ran:?}"
    );
    assert!(
        ran.stdout.contains(
            r#"person1@example.com: gave up after 2 attempts: HTTP 503 (an HTML page from a proxy: "Service Unavailable")"#
        ),
        "{ran:?}"
    );
    assert!(!ran.stdout.contains("HTTP 200"), "{ran:?}");
    assert!(!ran.stdout.contains("Unavailable 503"), "{ran:?}");
    let details = work.query("SELECT last_error_detail FROM invites ORDER BY email_key");
    assert!(details[0].contains("HTTP 502 (an HTML page"), "{details:?}");
}

#[test]
fn a_refusal_mid_run_names_the_status_once() {
    let sim =
        Sim::start(SimConfig::default().with_script("person3@example.com", [Fault::Status(401)]));
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(5));
    let ran = exec(run_cmd(&sim, &work, &csv).args(["--concurrency", "1"]));
    assert_eq!(ran.code, 3, "{ran:?}");
    let line = ran
        .stderr
        .lines()
        .find(|l| l.starts_with("error: run stopped"))
        .unwrap_or_else(|| panic!("{ran:?}"));
    // The status, then Atlas's error code and detail (the simulator's own for a scripted fault).
    assert!(line.contains("(HTTP 401 SIMULATED_ERROR: "), "{line}");
    assert_eq!(line.matches("401").count(), 1, "{line}");
}

#[test]
fn only_run_suggests_simulate_when_credentials_are_missing() {
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(1));
    work.write("journal.db", "");
    let run = exec(
        atlas_invite()
            .arg("run")
            .arg(&csv)
            .args(["--org", ORG, "--journal"])
            .arg(work.journal()),
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("no Atlas credentials"), "{run:?}");
    assert!(run.stderr.contains("--simulate"), "{run:?}");
    let mut doctor = atlas_invite();
    doctor.args(["doctor", "--org", ORG]);
    let reconcile = on_journal(&work, &["reconcile", "--org", ORG]);
    for (command, mut cmd) in [("doctor", doctor), ("reconcile", reconcile)] {
        let ran = exec(&mut cmd);
        assert_eq!(ran.code, 2, "{command}: {ran:?}");
        assert!(
            ran.stderr.contains("no Atlas credentials"),
            "{command}: {ran:?}"
        );
        assert!(!ran.stderr.contains("--simulate"), "{command}: {ran:?}");
    }
}

#[test]
fn one_problem_shared_by_many_rows_is_printed_once_with_a_count() {
    let sim = Sim::healthy();
    let work = Work::new();
    let mut csv = String::from("email,Department\n");
    for i in 0..76 {
        csv.push_str(&format!("p{i}@example.com,Eng\n"));
    }
    csv.push_str("broken,Eng\n");
    let csv = work.write("people.csv", csv);
    let rules = work.write(
        "rules.toml",
        "[[rule]]\nwhen = { Department = \"Eng\" }\nteams = [\"Nope\"]\n",
    );
    let ran = exec(run_cmd(&sim, &work, &csv).arg("--rules").arg(&rules));
    assert_eq!(ran.code, 1, "{ran:?}");
    let invalid_lines: Vec<&str> = ran
        .stderr
        .lines()
        .filter(|l| l.starts_with("invalid:"))
        .collect();
    assert_eq!(invalid_lines.len(), 3, "{ran:?}");
    assert!(invalid_lines[0].starts_with("invalid: line 2:"), "{ran:?}");
    assert!(
        ran.stderr
            .contains("invalid: … and 75 more rows with the same problem as line 2"),
        "{ran:?}"
    );
    assert!(
        ran.stdout
            .contains("\"Nope\": no team of the organization is named so"),
        "{ran:?}"
    );
    assert!(
        ran.stdout
            .contains("(and 75 more rows with the same problem)"),
        "{ran:?}"
    );
    assert_eq!(ran.stdout.matches("no team of the organization").count(), 1);
    // Every row is still journaled as invalid.
    assert_eq!(
        work.query("SELECT count(*) FROM invites WHERE status = 'invalid'"),
        vec!["77"]
    );
}

#[test]
fn a_dry_run_points_at_what_it_has_not_a_journal_it_did_not_write() {
    let work = Work::new();
    let mut csv = String::from("email\n");
    for i in 0..25 {
        csv.push_str(&format!("bad{i}\n"));
    }
    let csv = work.write("people.csv", csv);
    let ran = exec(
        atlas_invite()
            .arg("run")
            .arg(&csv)
            .args(["--simulate", "--dry-run", "--journal"])
            .arg(work.journal()),
    );
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(
        ran.stdout
            .contains("… and 5 more (--format json lists every row)"),
        "{ran:?}"
    );
    assert!(!ran.stdout.contains("sqlite3"), "{ran:?}");
    assert!(
        ran.stdout.contains("(untouched: a dry run writes nothing)"),
        "{ran:?}"
    );
    assert!(!work.journal().exists());
}

#[test]
fn two_email_columns_name_the_option_that_picks_one() {
    let work = Work::new();
    let csv = work.write(
        "people.csv",
        "Work Email,Name,Email\na@corp.example,A,a@home.example\n",
    );
    let ran = exec(atlas_invite().arg("validate").arg(&csv));
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(
        ran.stderr
            .contains(r#"--email-column "Work Email" (or --email-column "Email")"#),
        "{ran:?}"
    );
    // Which works.
    let ran = exec(
        atlas_invite()
            .arg("validate")
            .arg(&csv)
            .args(["--email-column", "Work Email"]),
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(ran.stdout.contains("a@corp.example"), "{ran:?}");
}

#[test]
fn export_keeps_the_byte_order_mark_of_its_input() {
    let sim = Sim::healthy();
    let work = Work::new();
    let with_bom = work.write(
        "bom.csv",
        b"\xEF\xBB\xBFemail,roles\na@example.com,member\n",
    );
    let ran = exec(&mut run_cmd(&sim, &work, &with_bom));
    assert_eq!(ran.code, 0, "{ran:?}");
    let out = work.path("results.csv");
    let ran = exec(
        atlas_invite()
            .arg("export")
            .arg(&with_bom)
            .arg("--out")
            .arg(&out)
            .arg("--journal")
            .arg(work.journal()),
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    let bytes = std::fs::read(&out).unwrap();
    assert!(
        bytes.starts_with(b"\xEF\xBB\xBFemail,roles,status"),
        "{bytes:?}"
    );
    assert_eq!(bytes.windows(3).filter(|w| w == b"\xEF\xBB\xBF").count(), 1);

    let without = work.write("plain.csv", "email,roles\na@example.com,member\n");
    let ran = exec(
        atlas_invite()
            .arg("export")
            .arg(&without)
            .arg("--journal")
            .arg(work.journal()),
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(ran.stdout.starts_with("email,roles,status"), "{ran:?}");
}
