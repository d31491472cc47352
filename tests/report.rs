//! Audit and follow-up against the simulator: `report` in every format, `runs`, `history`,
//! `export` (and its `--failed-only` file fed back to `run`), `reconcile` over more than one
//! page of users, `report --expiring-within`, and `run --reinvite-expired`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use atlas_sim::{Fault, SimConfig};
use serde_json::Value;

use crate::util::*;

/// `atlas-invite <args> --journal <the test's journal>`.
fn audit(work: &Work, args: &[&str]) -> Command {
    let mut cmd = atlas_invite();
    cmd.args(args).arg("--journal").arg(work.journal());
    cmd
}

/// `atlas-invite reconcile` against `sim`.
fn reconcile_cmd(sim: &Sim, work: &Work) -> Command {
    let mut cmd = atlas_invite();
    cmd.args(["reconcile", "--org", ORG, "--base-url"])
        .arg(sim.url())
        .arg("--journal")
        .arg(work.journal())
        .env("MONGODB_ATLAS_ACCESS_TOKEN", TOKEN);
    cmd
}

fn json_stdout(ran: &Ran) -> Value {
    serde_json::from_str(&ran.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {ran:?}"))
}

/// Reads a CSV file into rows of cells.
fn read_csv(path: &Path) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(path)
        .expect("csv opens");
    reader
        .records()
        .map(|r| r.expect("csv row").iter().map(str::to_owned).collect())
        .collect()
}

const MIXED: &str = "email,name,roles\n\
    ann@example.com,Ann,owner\n\
    bob@example.com,=HYPERLINK(\"http://evil.example\"),member\n\
    cy@example.com,Cy,member\n\
    not-an-address,@Dee,member\n";

#[test]
fn report_runs_and_history_in_every_format() {
    let sim = Sim::start(
        SimConfig::default().with_script("bob@example.com", [Fault::Error500, Fault::Status(400)]),
    );
    let work = Work::new();
    let csv = work.write("people.csv", MIXED);
    let ran = exec(&mut run_cmd(&sim, &work, &csv));
    assert_eq!(ran.code, 1, "{ran:?}");

    let table = exec(&mut audit(&work, &["report"]));
    assert_eq!(table.code, 0, "{table:?}");
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert!(
        lines[0].starts_with("EMAIL") && lines[0].contains("MEMBERSHIP"),
        "{table:?}"
    );
    assert_eq!(lines.len(), 5, "a header and four people: {table:?}");
    assert!(table.stdout.contains("ORG_OWNER"));

    let json = json_stdout(&exec(&mut audit(&work, &["report", "--format", "json"])));
    let people = json.as_array().expect("an array");
    assert_eq!(people.len(), 4);
    let bob = people
        .iter()
        .find(|p| p["email"] == "bob@example.com")
        .unwrap();
    assert_eq!(bob["status"], "failed");
    assert_eq!(bob["attempts"], 2);
    assert_eq!(bob["last_http_status"], 400);
    assert!(bob["last_error_code"].is_string());
    assert_eq!(bob["first_run_id"], 1);
    assert_eq!(bob["last_run_csv_path"], csv.display().to_string());
    assert_eq!(bob["done"], false);

    let jsonl = exec(&mut audit(
        &work,
        &["report", "--format", "jsonl", "--status", "invited"],
    ));
    let invited: Vec<Value> = jsonl
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(invited.len(), 2, "{jsonl:?}");

    let csv_out = exec(&mut audit(
        &work,
        &[
            "report", "--format", "csv", "--status", "failed", "--status", "invalid",
        ],
    ));
    assert_eq!(csv_out.code, 0, "{csv_out:?}");
    assert!(csv_out.stdout.starts_with("org_id,email,email_key,status,"));
    assert_eq!(csv_out.stdout.lines().count(), 3, "{csv_out:?}");

    let owners = json_stdout(&exec(&mut audit(
        &work,
        &[
            "report",
            "--role",
            "owner",
            "--email",
            "*@EXAMPLE.com",
            "--format",
            "json",
        ],
    )));
    assert_eq!(owners.as_array().unwrap().len(), 1);
    assert_eq!(owners[0]["email"], "ann@example.com");

    let runs = json_stdout(&exec(&mut audit(&work, &["runs", "--format", "json"])));
    assert_eq!(runs.as_array().unwrap().len(), 1);
    assert_eq!(runs[0]["exit_code"], 1);
    assert_eq!(runs[0]["failed"], 1);
    assert_eq!(runs[0]["csv_sha256"].as_str().unwrap().len(), 64);
    assert!(runs[0]["duration_secs"].as_f64().is_some());
    assert!(
        !runs[0].to_string().contains(TOKEN),
        "no secret in the journal"
    );
    let runs_table = exec(&mut audit(&work, &["runs"]));
    assert!(runs_table.stdout.starts_with("ID"), "{runs_table:?}");

    let history = json_stdout(&exec(&mut audit(
        &work,
        &["history", "BOB@example.com", "--format", "json"],
    )));
    let outcomes: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, vec!["retry", "refused"]);
    let table = exec(&mut audit(&work, &["history", "bob@example.com"]));
    assert!(
        table.stdout.starts_with("bob@example.com in org"),
        "{table:?}"
    );
    // An address the journal does not know: said so, exit 1 (documented), in every format.
    let unknown = exec(&mut audit(&work, &["history", "nobody@example.com"]));
    assert_eq!(unknown.code, 1, "{unknown:?}");
    assert!(unknown.stdout.is_empty(), "{unknown:?}");
    let unknown_json = exec(&mut audit(
        &work,
        &["history", "nobody@example.com", "--format", "json"],
    ));
    assert_eq!(unknown_json.code, 1, "{unknown_json:?}");
    assert_eq!(json_stdout(&unknown_json), serde_json::json!([]));
    assert!(
        unknown_json.stderr.contains("unknown address"),
        "{unknown_json:?}"
    );
    assert!(
        unknown.stderr.contains("no record of nobody@example.com"),
        "{unknown:?}"
    );
}

#[test]
fn bad_report_arguments_are_usage_errors() {
    let sim = Sim::healthy();
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(1));
    assert_eq!(exec(&mut run_cmd(&sim, &work, &csv)).code, 0);

    let ran = exec(&mut audit(&work, &["report", "--status", "sent"]));
    assert_eq!(ran.code, 2);
    assert!(
        ran.stderr
            .contains("expected one of invited, already_invited"),
        "{ran:?}"
    );
    let ran = exec(&mut audit(&work, &["report", "--since", "last tuesday"]));
    assert_eq!(ran.code, 2);
    assert!(ran.stderr.contains("2026-11-01"), "{ran:?}");
    let ran = exec(&mut audit(&work, &["report", "--role", "boss"]));
    assert_eq!(ran.code, 2, "{ran:?}");
    let ran = exec(&mut audit(&work, &["report", "--expiring-within", "soon"]));
    assert_eq!(ran.code, 2, "{ran:?}");
    let ran = exec(
        atlas_invite()
            .args(["report", "--journal"])
            .arg(work.path("absent.db")),
    );
    assert_eq!(ran.code, 2);
    assert!(ran.stderr.contains("no journal at"), "{ran:?}");
    assert!(
        !work.path("absent.db").exists(),
        "reports never create a journal"
    );
    // `--since` accepts a date, a time and a duration ago.
    for since in ["2000-01-01", "2000-01-01T10:00:00Z", "30d"] {
        let ran = exec(&mut audit(
            &work,
            &["report", "--since", since, "--format", "json"],
        ));
        assert_eq!(
            json_stdout(&ran).as_array().unwrap().len(),
            1,
            "{since}: {ran:?}"
        );
    }
}

#[test]
fn export_writes_results_and_failed_only_feeds_back_to_run() {
    let sim = Sim::start(SimConfig::default().with_script("bob@example.com", [Fault::Status(400)]));
    let work = Work::new();
    let csv = work.write("people.csv", MIXED);
    assert_eq!(exec(&mut run_cmd(&sim, &work, &csv)).code, 1);

    let results = work.path("results.csv");
    let ran = exec(
        audit(&work, &["export"])
            .arg(&csv)
            .arg("--out")
            .arg(&results),
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&results).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the results file is private like the journal"
        );
    }
    let rows = read_csv(&results);
    assert_eq!(
        rows[0],
        vec![
            "email",
            "name",
            "roles",
            "status",
            "reason",
            "http_status",
            "attempts",
            "invitation_id",
            "updated_at"
        ]
    );
    assert_eq!(rows.len(), 5);
    assert_eq!(rows[1][3], "invited");
    assert_eq!(rows[1][6], "1");
    assert_eq!(
        rows[1][7],
        sim.state().invitations_for("ann@example.com")[0]
            .id
            .clone()
            .unwrap()
    );
    assert_eq!(rows[2][3], "failed");
    assert_eq!(rows[2][5], "400");
    assert!(!rows[2][4].is_empty(), "a failed row says why");
    assert_eq!(
        rows[2][1], "'=HYPERLINK(\"http://evil.example\")",
        "formula neutralised"
    );
    assert_eq!(rows[4][3], "invalid");
    assert_eq!(rows[4][1], "'@Dee");

    let retry = work.path("retry.csv");
    let ran = exec(
        audit(&work, &["export", "--failed-only"])
            .arg(&csv)
            .arg("-o")
            .arg(&retry),
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    let rows = read_csv(&retry);
    assert_eq!(
        rows[0],
        vec!["email", "name", "roles"],
        "the file's own columns only"
    );
    let emails: Vec<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(emails, vec!["bob@example.com", "not-an-address"]);

    // Fed back to `run`: only Bob is sent, and is invited this time.
    let posts = sim.posts();
    let ran = exec(run_cmd(&sim, &work, &retry).args(["--format", "json"]));
    assert_eq!(ran.code, 1, "the invalid row is still invalid: {ran:?}");
    assert_eq!(sim.posts() - posts, 1);
    assert_eq!(work.status_of("bob@example.com"), "invited");
    assert_eq!(sim.invitations_for("bob@example.com"), 1);

    // Overwriting the input is refused.
    let ran = exec(audit(&work, &["export"]).arg(&csv).arg("--out").arg(&csv));
    assert_eq!(ran.code, 2, "{ran:?}");
    assert_eq!(std::fs::read_to_string(&csv).unwrap(), MIXED);
}

#[test]
fn reconcile_pages_records_the_lifecycle_and_reinvites_on_request() {
    let sim =
        Sim::start(SimConfig::default().with_script("person5@example.com", [Fault::Status(400)]));
    let state = sim.state();
    // More members than one page holds, made directly: inviting 520 people would only slow the
    // test down. Sorted by address they come before every person of the file, so the file's
    // people are all on the second page.
    for i in 0..520 {
        state.add_member(&format!("member{i:03}@example.com"));
    }
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(6));
    // 526 people in all: past Atlas's limit, which is not what this is about.
    let big_org = ["--max-org-users", "100000"];
    assert_eq!(exec(run_cmd(&sim, &work, &csv).args(big_org)).code, 1);

    assert!(state.accept_invitation("person0@example.com"));
    assert!(state.expire_invitation("person1@example.com"));
    assert!(state.reject_invitation("person2@example.com"));
    let soon = SystemTime::now() + Duration::from_secs(2 * 24 * 3600);
    assert!(state.set_invitation_expiry("person3@example.com", soon));

    // Before any reconcile, `--expiring-within` says that it knows nothing yet.
    let ran = exec(&mut audit(&work, &["report", "--expiring-within", "7d"]));
    assert!(ran.stderr.contains("no reconcile recorded yet"), "{ran:?}");

    let gets = sim.stats().user_gets;
    let ran = exec(reconcile_cmd(&sim, &work).args(["--format", "json"]));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(sim.stats().user_gets - gets, 2, "two pages of users");
    let totals = ran.json();
    assert_eq!(totals["people"], 6);
    assert_eq!(totals["active"], 1);
    assert_eq!(totals["pending"], 2);
    assert_eq!(totals["expired"], 1);
    assert_eq!(totals["rejected"], 1);
    assert_eq!(totals["missing"], 1);
    assert_eq!(totals["untracked"], 520);
    assert_eq!(totals["expiring_within_7d"], 1);
    assert_eq!(
        work.query("SELECT membership_state FROM invites ORDER BY email_key"),
        vec![
            "ACTIVE",
            "INVITATION_EXPIRED",
            "INVITATION_REJECTED",
            "PENDING",
            "PENDING",
            "MISSING"
        ]
    );
    assert_eq!(work.query("SELECT count(*) FROM reconciles"), vec!["1"]);
    assert_ne!(
        work.query("SELECT atlas_user_id FROM invites WHERE email_key = 'person0@example.com'")[0],
        "NULL"
    );

    let expiring = json_stdout(&exec(&mut audit(
        &work,
        &["report", "--expiring-within", "7d", "--format", "json"],
    )));
    let emails: Vec<&str> = expiring
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, vec!["person3@example.com"]);

    // Without the flag, lapsed invitations stay skipped, and the run says so.
    let posts = sim.posts();
    let people = work.write("done.csv", people_csv(5));
    let ran = exec(&mut run_cmd(&sim, &work, &people));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(sim.posts(), posts);
    assert!(
        ran.stderr
            .contains("2 invitations expired or were declined"),
        "{ran:?}"
    );
    assert!(ran.stderr.contains("--reinvite-expired"), "{ran:?}");

    // With it, exactly the expired and the declined person are invited again.
    let ran = exec(
        run_cmd(&sim, &work, &people)
            .arg("--reinvite-expired")
            .args(big_org),
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(sim.posts() - posts, 2);
    assert_eq!(sim.invitations_for("person1@example.com"), 2);
    assert_eq!(sim.invitations_for("person2@example.com"), 2);
    assert_eq!(sim.invitations_for("person0@example.com"), 1);
    assert_eq!(
        work.query(
            "SELECT coalesce(membership_state, 'unknown') FROM invites
             WHERE email_key IN ('person1@example.com', 'person2@example.com')"
        ),
        vec!["unknown", "unknown"]
    );
    let history = json_stdout(&exec(&mut audit(
        &work,
        &["history", "person1@example.com", "--format", "json"],
    )));
    let runs: Vec<i64> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["run_id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        runs,
        vec![1, 3],
        "invited by the first run, again by the third"
    );

    // A second reconcile sees the new invitations as pending.
    let ran = exec(reconcile_cmd(&sim, &work).args(["--format", "json"]));
    assert_eq!(ran.json()["pending"], 4, "{ran:?}");
}

#[test]
fn reconcile_refuses_without_org_journal_or_credentials() {
    let sim = Sim::healthy();
    let work = Work::new();
    let ran = exec(&mut reconcile_cmd(&sim, &work));
    assert_eq!(ran.code, 2, "no journal yet: {ran:?}");
    assert!(ran.stderr.contains("no journal at"), "{ran:?}");

    let csv = work.write("people.csv", people_csv(1));
    assert_eq!(exec(&mut run_cmd(&sim, &work, &csv)).code, 0);
    let ran = exec(
        atlas_invite()
            .args(["reconcile", "--base-url"])
            .arg(sim.url())
            .arg("--journal")
            .arg(work.journal())
            .env("MONGODB_ATLAS_ACCESS_TOKEN", TOKEN),
    );
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(ran.stderr.contains("--org"), "{ran:?}");

    let ran = exec(reconcile_cmd(&sim, &work).env("MONGODB_ATLAS_ACCESS_TOKEN", "wrong-token"));
    assert_eq!(ran.code, 3, "{ran:?}");
    assert!(!ran.stderr.contains("wrong-token"), "{ran:?}");
    assert_eq!(work.query("SELECT count(*) FROM reconciles"), vec!["0"]);
}

/// The same person twice with other grants: the first (valid) row is what is sent and what the
/// journal keeps; the later row is invalid, and `export` reports it so, with its own reason.
#[test]
fn a_later_conflicting_row_never_changes_the_first_rows_record() {
    let sim = Sim::healthy();
    let work = Work::new();
    let csv = work.write(
        "people.csv",
        "email,roles\nada@example.com,ORG_MEMBER\nADA@example.com,ORG_OWNER\n",
    );
    let ran = exec(&mut run_cmd(&sim, &work, &csv));
    assert_eq!(ran.code, 1, "the later row is invalid: {ran:?}");
    let sent = sim.state().invitations_for("ada@example.com");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].roles, vec!["ORG_MEMBER".to_owned()]);
    assert_eq!(
        work.query("SELECT status || ' ' || roles || ' ' || csv_line FROM invites"),
        vec![r#"invited ["ORG_MEMBER"] 2"#]
    );
    assert_ne!(
        work.query("SELECT coalesce(grant_sources, 'NULL') FROM invites"),
        vec!["NULL"]
    );

    let results = work.path("results.csv");
    let ran = exec(
        audit(&work, &["export"])
            .arg(&csv)
            .arg("--out")
            .arg(&results),
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    let rows = read_csv(&results);
    assert_eq!(rows[1][2], "invited", "{rows:?}");
    assert_eq!(rows[2][2], "invalid", "{rows:?}");
    assert!(rows[2][3].contains("same person as line 2"), "{rows:?}");
    assert_eq!(
        rows[2][6], "",
        "no invitation id on the invalid row: {rows:?}"
    );
}
