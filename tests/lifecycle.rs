//! After the invitation: role drift updated through either API, `--no-update`, leavers removed
//! by `--prune` behind its guards, and `revoke` undoing a run.

use atlas_sim::SimConfig;

use crate::util::*;

const OLIVIA: &str = "olivia@example.com";
const LIAM: &str = "liam@example.com";
const NOAH: &str = "noah@example.com";

fn roster(olivia: &str, liam: &str, noah: bool) -> String {
    let mut csv = format!("email,role\n{OLIVIA},{olivia}\n{LIAM},{liam}\n");
    if noah {
        csv.push_str(&format!("{NOAH},ORG_MEMBER\n"));
    }
    csv
}

fn roles(sim: &Sim, email: &str) -> Option<Vec<String>> {
    sim.state().org_roles_of(email)
}

/// Olivia and Liam swap roles in next month's file: both are updated, old → new, through the
/// endpoint in use, and the journal's grants and reports follow.
fn role_drift_is_updated(api: &[&str], updates: fn(&atlas_sim::SimStats) -> u64) {
    let sim = Sim::healthy();
    let work = Work::new();
    let csv = work.write("people.csv", roster("ORG_OWNER", "ORG_MEMBER", false));
    let ran = exec(run_cmd(&sim, &work, &csv).args(api));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(
        ran.stderr
            .contains("olivia@example.com (invited as ORG_OWNER)"),
        "{ran:?}"
    );

    let csv = work.write("people.csv", roster("ORG_MEMBER", "ORG_OWNER", false));
    let dry = exec(run_cmd(&sim, &work, &csv).args(api).arg("--dry-run"));
    assert_eq!(dry.code, 0, "{dry:?}");
    assert!(
        dry.stdout.contains("update") && dry.stdout.contains("roles ORG_OWNER → ORG_MEMBER"),
        "{dry:?}"
    );
    assert!(
        dry.stdout.contains("roles ORG_MEMBER → ORG_OWNER"),
        "{dry:?}"
    );
    assert_eq!(updates(&sim.stats()), 0, "a dry run sends nothing");

    let events = work.path("events.jsonl");
    let ran = exec(
        run_cmd(&sim, &work, &csv)
            .args(api)
            .arg("--events")
            .arg(&events),
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(ran.stdout.contains("updated 2"), "{ran:?}");
    let changes: Vec<serde_json::Value> = std::fs::read_to_string(&events)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|e: &serde_json::Value| e["event"] == "change")
        .collect();
    assert_eq!(changes.len(), 2, "one line per change: {changes:?}");
    assert!(
        changes
            .iter()
            .all(|c| c["operation"] == "update" && c["state"] == "done")
    );
    assert!(
        ran.stderr
            .contains("liam@example.com (updated to ORG_OWNER)"),
        "{ran:?}"
    );
    assert_eq!(updates(&sim.stats()), 2);
    assert_eq!(sim.posts(), 2, "nobody invited twice");
    assert_eq!(roles(&sim, OLIVIA), Some(vec!["ORG_MEMBER".to_owned()]));
    assert_eq!(roles(&sim, LIAM), Some(vec!["ORG_OWNER".to_owned()]));
    assert_eq!(
        work.query("SELECT roles FROM invites WHERE email_key = 'olivia@example.com'"),
        [r#"["ORG_MEMBER"]"#]
    );
    assert_eq!(
        work.query(
            "SELECT operation || ' ' || state || ' ' || old_roles || ' ' || new_roles FROM changes \
             WHERE email_key = 'olivia@example.com'"
        ),
        [r#"update done ["ORG_OWNER"] ["ORG_MEMBER"]"#]
    );
    assert_eq!(
        work.query("SELECT count(*) FROM attempts WHERE kind = 'update' AND outcome = 'applied'"),
        ["2"]
    );
    let report = exec(
        atlas_invite()
            .args(["report", "--role", "ORG_OWNER", "--journal"])
            .arg(work.journal()),
    );
    assert!(
        report.stdout.contains(LIAM) && !report.stdout.contains(OLIVIA),
        "{report:?}"
    );
    let history = exec(
        atlas_invite()
            .args(["history", OLIVIA, "--journal"])
            .arg(work.journal()),
    );
    assert!(
        history.stdout.contains("ORG_OWNER → ORG_MEMBER"),
        "{history:?}"
    );

    // The file and Atlas agree now: nothing more is sent.
    let before = sim.stats().requests;
    let ran = exec(run_cmd(&sim, &work, &csv).args(api));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(updates(&sim.stats()), 2);
    assert!(
        sim.stats().requests - before <= 3,
        "only the checks before sending"
    );
}

#[test]
fn role_drift_is_updated_through_the_users_endpoint() {
    role_drift_is_updated(&[], |s| s.user_updates);
}

#[test]
fn role_drift_is_updated_on_pending_invitations_through_the_invitation_endpoint() {
    role_drift_is_updated(&["--api", "invites"], |s| s.invite_updates);
}

#[test]
fn an_accepted_invitation_is_updated_through_its_user() {
    let sim = Sim::healthy();
    let work = Work::new();
    let csv = work.write("people.csv", roster("ORG_MEMBER", "ORG_MEMBER", false));
    let ran = exec(run_cmd(&sim, &work, &csv).args(["--api", "invites"]));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(sim.state().accept_invitation(OLIVIA));
    let csv = work.write(
        "people.csv",
        roster("ORG_BILLING_ADMIN", "ORG_MEMBER", false),
    );
    let ran = exec(run_cmd(&sim, &work, &csv).args(["--api", "invites"]));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(sim.stats().user_updates, 1, "{ran:?}");
    assert_eq!(
        roles(&sim, OLIVIA),
        Some(vec!["ORG_BILLING_ADMIN".to_owned()])
    );
}

#[test]
fn no_update_only_reports_the_difference() {
    let sim = Sim::healthy();
    let work = Work::new();
    let csv = work.write("people.csv", roster("ORG_MEMBER", "ORG_MEMBER", false));
    assert_eq!(exec(&mut run_cmd(&sim, &work, &csv)).code, 0);
    let csv = work.write("people.csv", roster("ORG_OWNER", "ORG_MEMBER", false));
    let ran = exec(run_cmd(&sim, &work, &csv).arg("--no-update"));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(ran.stderr.contains("1 people have other grants"), "{ran:?}");
    assert_eq!(sim.stats().user_updates, 0);
    assert_eq!(roles(&sim, OLIVIA), Some(vec!["ORG_MEMBER".to_owned()]));
    assert_eq!(work.query("SELECT count(*) FROM changes"), ["0"]);
}

#[test]
fn prune_removes_leavers_only_when_confirmed_and_within_the_limit() {
    let sim = Sim::healthy();
    let work = Work::new();
    let csv = work.write("people.csv", roster("ORG_MEMBER", "ORG_MEMBER", true));
    assert_eq!(exec(&mut run_cmd(&sim, &work, &csv)).code, 0);
    assert!(sim.state().accept_invitation(NOAH));

    // Noah left. Without a terminal, a removal needs --yes: nothing is sent or written.
    let csv = work.write("people.csv", roster("ORG_MEMBER", "ORG_MEMBER", false));
    let runs_before = work.query("SELECT count(*) FROM runs");
    let ran = exec(run_cmd(&sim, &work, &csv).arg("--prune"));
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(ran.stderr.contains("remove noah@example.com"), "{ran:?}");
    assert!(ran.stderr.contains("needs --yes"), "{ran:?}");
    assert_eq!(sim.stats().user_deletes, 0);
    assert_eq!(
        work.query("SELECT count(*) FROM runs"),
        runs_before,
        "nothing written"
    );

    // More removals than --max-removals: refused whatever the answer.
    let csv_one = work.write("one.csv", format!("email\n{OLIVIA}\n"));
    let ran =
        exec(run_cmd(&sim, &work, &csv_one).args(["--prune", "--yes", "--max-removals", "1"]));
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(ran.stderr.contains("more than --max-removals 1"), "{ran:?}");
    assert_eq!(sim.stats().user_deletes, 0);

    // A dry run lists the removal and sends nothing.
    let dry = exec(run_cmd(&sim, &work, &csv).args(["--prune", "--dry-run"]));
    assert!(
        dry.stdout.contains("remove") && dry.stdout.contains(NOAH),
        "{dry:?}"
    );

    let ran = exec(run_cmd(&sim, &work, &csv).args(["--prune", "--yes"]));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(ran.stdout.contains("removed 1"), "{ran:?}");
    assert_eq!(sim.stats().user_deletes, 1);
    assert_eq!(roles(&sim, NOAH), None);
    assert_eq!(work.status_of(NOAH), "removed");
    assert_eq!(work.status_of(OLIVIA), "invited");
}

#[test]
fn revoke_cancels_what_a_run_created_and_leaves_members_alone() {
    let sim = Sim::start(SimConfig::default());
    let work = Work::new();
    let csv = work.write("people.csv", roster("ORG_MEMBER", "ORG_MEMBER", true));
    let ran = exec(run_cmd(&sim, &work, &csv).args(["--api", "invites"]));
    assert_eq!(ran.code, 0, "{ran:?}");
    let run_id = work.query("SELECT max(id) FROM runs")[0].clone();
    assert!(sim.state().accept_invitation(LIAM));

    let revoke = |extra: &[&str]| {
        exec(
            atlas_invite()
                .args(["revoke", "--run", &run_id, "--org", ORG, "--base-url"])
                .arg(sim.url())
                .arg("--journal")
                .arg(work.journal())
                .args(["--api", "invites", "--max-backoff", "200ms"])
                .args(extra)
                .env("MONGODB_ATLAS_ACCESS_TOKEN", TOKEN),
        )
    };
    let dry = revoke(&["--dry-run"]);
    assert_eq!(dry.code, 0, "{dry:?}");
    assert!(
        dry.stdout.contains(OLIVIA) && dry.stdout.contains(NOAH),
        "{dry:?}"
    );
    assert_eq!(sim.stats().invite_deletes, 0);

    let refused = revoke(&[]);
    assert_eq!(refused.code, 2, "no terminal, no --yes: {refused:?}");
    assert_eq!(sim.stats().invite_deletes, 0);

    let ran = revoke(&["--yes"]);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(ran.stdout.contains("revoked 2"), "{ran:?}");
    assert!(
        ran.stdout.contains(LIAM) && ran.stdout.contains("left alone"),
        "{ran:?}"
    );
    assert_eq!(sim.stats().invite_deletes, 2);
    assert_eq!(roles(&sim, OLIVIA), None);
    assert_eq!(roles(&sim, LIAM), Some(vec!["ORG_MEMBER".to_owned()]));
    assert_eq!(work.status_of(OLIVIA), "revoked");
    assert_eq!(work.status_of(LIAM), "invited");

    // Again: the revoked are done, the member is still left alone; with --remove-active gone.
    let ran = revoke(&["--yes", "--remove-active"]);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(ran.stdout.contains("removed 1"), "{ran:?}");
    assert_eq!(roles(&sim, LIAM), None);
    assert_eq!(work.status_of(LIAM), "removed");
    assert_eq!(
        work.query("SELECT command FROM runs ORDER BY id"),
        ["run", "revoke", "revoke"]
    );
}

#[test]
fn a_run_past_the_organization_limit_refuses_before_sending() {
    let sim = Sim::healthy();
    for i in 0..499 {
        sim.state().add_member(&format!("member{i}@example.com"));
    }
    let work = Work::new();
    let csv = work.write("people.csv", roster("ORG_MEMBER", "ORG_MEMBER", false));
    let ran = exec(&mut run_cmd(&sim, &work, &csv));
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(
        ran.stderr.contains("has 499 people") && ran.stderr.contains("invite 2 more"),
        "{ran:?}"
    );
    assert!(
        ran.stderr.contains("Atlas allows 500 per organization"),
        "{ran:?}"
    );
    assert_eq!(sim.posts(), 0, "nothing sent");
    assert_eq!(
        work.query("SELECT count(*) FROM runs"),
        ["0"],
        "nothing written"
    );

    // One fits; and a raised limit lets both go.
    let one = work.write("one.csv", format!("email\n{OLIVIA}\n"));
    assert_eq!(exec(&mut run_cmd(&sim, &work, &one)).code, 0);
    let ran = exec(run_cmd(&sim, &work, &csv).args(["--max-org-users", "501"]));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(sim.posts(), 2);
}

/// `plan` with the options `run_cmd` gives `run`.
fn plan_cmd(
    sim: &Sim,
    work: &Work,
    csv: &std::path::Path,
    out: &std::path::Path,
) -> std::process::Command {
    let mut cmd = atlas_invite();
    cmd.arg("plan")
        .arg(csv)
        .args(["--org", ORG, "--base-url"])
        .arg(sim.url())
        .arg("--journal")
        .arg(work.journal())
        .args(["--rate", "1000/s", "--max-backoff", "200ms", "--out"])
        .arg(out)
        .env("MONGODB_ATLAS_ACCESS_TOKEN", TOKEN);
    cmd
}

fn apply_cmd(plan: &std::path::Path) -> std::process::Command {
    let mut cmd = atlas_invite();
    cmd.arg("apply")
        .arg(plan)
        .env("MONGODB_ATLAS_ACCESS_TOKEN", TOKEN);
    cmd
}

#[test]
fn apply_does_exactly_the_reviewed_plan_and_refuses_when_anything_changed() {
    let sim = Sim::healthy();
    let work = Work::new();
    let csv = work.write("people.csv", roster("ORG_OWNER", "ORG_MEMBER", false));
    assert_eq!(exec(&mut run_cmd(&sim, &work, &csv)).code, 0);

    let next = roster("ORG_MEMBER", "ORG_MEMBER", true);
    let csv = work.write("people.csv", &next);
    let plan = work.path("plan.json");
    let planned = exec(&mut plan_cmd(&sim, &work, &csv, &plan));
    assert_eq!(planned.code, 0, "{planned:?}");
    assert!(
        planned.stdout.contains("roles ORG_OWNER → ORG_MEMBER"),
        "{planned:?}"
    );
    assert!(planned.stderr.contains("atlas-invite apply"), "{planned:?}");
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&plan).unwrap()).unwrap();
    let actions: Vec<(String, String)> = file["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["action"].as_str().unwrap().to_owned(),
                a["email"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("update".into(), OLIVIA.into()),
            ("invite".into(), NOAH.into())
        ]
    );
    assert_eq!(sim.posts(), 2, "a plan sends nothing");
    assert_eq!(sim.stats().user_updates, 0);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&plan).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "owner-only");
    }

    // The file changed since: refused, nothing sent.
    work.write("people.csv", roster("ORG_MEMBER", "ORG_OWNER", true));
    let refused = exec(&mut apply_cmd(&plan));
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(refused.stderr.contains("people.csv changed"), "{refused:?}");
    assert_eq!((sim.posts(), sim.stats().user_updates), (2, 0));

    // As reviewed: exactly the plan.
    work.write("people.csv", &next);
    let applied = exec(&mut apply_cmd(&plan));
    assert_eq!(applied.code, 0, "{applied:?}");
    assert_eq!((sim.posts(), sim.stats().user_updates), (3, 1));
    assert_eq!(
        work.query("SELECT command FROM runs ORDER BY id"),
        ["run", "apply"]
    );

    // Applied once: the journal changed, so the same plan is refused.
    let again = exec(&mut apply_cmd(&plan));
    assert_eq!(again.code, 2, "{again:?}");
    assert!(again.stderr.contains("the journal changed"), "{again:?}");
    assert_eq!((sim.posts(), sim.stats().user_updates), (3, 1));

    let broken = work.write("broken.json", "{\"not\": \"a plan\"}");
    let ran = exec(&mut apply_cmd(&broken));
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(ran.stderr.contains("is not a plan"), "{ran:?}");
}

#[test]
fn revoke_selects_by_sql_condition_and_refuses_one_that_writes() {
    let sim = Sim::healthy();
    let work = Work::new();
    let csv = work.write("people.csv", roster("ORG_OWNER", "ORG_MEMBER", true));
    assert_eq!(exec(&mut run_cmd(&sim, &work, &csv)).code, 0);
    let revoke = |condition: &str| {
        exec(
            atlas_invite()
                .args(["revoke", "--dry-run", "--org", ORG, "--where", condition])
                .arg("--journal")
                .arg(work.journal()),
        )
    };
    let listed = revoke("roles LIKE '%ORG_OWNER%' OR email_key LIKE 'noah%'");
    assert_eq!(listed.code, 0, "{listed:?}");
    assert!(
        listed.stdout.contains("would revoke 2 people"),
        "{listed:?}"
    );
    assert!(
        listed.stdout.contains(OLIVIA) && listed.stdout.contains(NOAH),
        "{listed:?}"
    );
    assert!(!listed.stdout.contains(LIAM), "{listed:?}");

    let broken = revoke("no_such_column = 1");
    assert_eq!(broken.code, 2, "{broken:?}");
    assert!(broken.stderr.contains("no such column"), "{broken:?}");
    let writing = revoke("1); DELETE FROM invites; --");
    assert_eq!(writing.code, 2, "{writing:?}");
    assert_eq!(
        work.query("SELECT count(*) FROM invites"),
        ["3"],
        "nothing written"
    );
}

/// Changes meet the orders of events real servers produce: a PATCH or DELETE that Atlas carries
/// out but whose answer never comes back, and one Atlas is still working on when the client
/// gives up and tries again. Both end done, once in effect, and the journal agrees.
#[test]
fn lost_and_late_answers_to_changes_end_done_once_in_effect() {
    use atlas_sim::Fault;
    // Each person's first scripted fault is drawn by the invitation, the next by the change.
    let sim = Sim::start(
        SimConfig::default()
            .with_script(OLIVIA, [Fault::Slow(1), Fault::RecordThenDrop])
            .with_script(NOAH, [Fault::Slow(1), Fault::Slow(1500)])
            .with_script(LIAM, [Fault::Slow(1), Fault::RecordThenDrop]),
    );
    let work = Work::new();
    let csv = work.write("people.csv", roster("ORG_MEMBER", "ORG_MEMBER", true));
    let ran = exec(run_cmd(&sim, &work, &csv).args(["--api", "invites"]));
    assert_eq!(ran.code, 0, "{ran:?}");

    // Liam's update is applied, its answer lost: looked up and applied again, to the same.
    let csv = work.write(
        "people.csv",
        roster("ORG_MEMBER", "ORG_BILLING_ADMIN", true),
    );
    let ran = exec(run_cmd(&sim, &work, &csv).args(["--api", "invites"]));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(
        roles(&sim, LIAM),
        Some(vec!["ORG_BILLING_ADMIN".to_owned()])
    );
    assert_eq!(
        work.query("SELECT state FROM changes WHERE email_key = 'liam@example.com'"),
        ["done"]
    );

    // Olivia's deletion is carried out, its answer lost; Noah's is still being worked on when
    // the client gives up after 500 ms and looks again.
    let ran = exec(
        atlas_invite()
            .args(["revoke", "--email", &format!("{OLIVIA},{NOAH}"), "--yes"])
            .args(["--org", ORG, "--base-url"])
            .arg(sim.url())
            .arg("--journal")
            .arg(work.journal())
            .args([
                "--api",
                "invites",
                "--timeout",
                "500ms",
                "--max-backoff",
                "200ms",
            ])
            .env("MONGODB_ATLAS_ACCESS_TOKEN", TOKEN),
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(ran.stdout.contains("revoked 2"), "{ran:?}");
    // Let the server finish the request the client gave up on.
    std::thread::sleep(std::time::Duration::from_millis(1600));
    assert_eq!(roles(&sim, OLIVIA), None);
    assert_eq!(roles(&sim, NOAH), None);
    assert_eq!(
        roles(&sim, LIAM),
        Some(vec!["ORG_BILLING_ADMIN".to_owned()])
    );
    assert_eq!(work.status_of(OLIVIA), "revoked");
    assert_eq!(work.status_of(NOAH), "revoked");
    assert_eq!(
        work.query("SELECT count(*) FROM attempts WHERE kind = 'revoke' AND outcome = 'unknown'"),
        ["2"],
        "both first deletions went unanswered"
    );
}

#[test]
fn a_run_past_a_teams_limit_refuses_before_sending() {
    const TEAM: &str = "65a1f0c2e4b7d9a3c5e8f101";
    let sim = Sim::healthy();
    let work = Work::new();
    let csv = work.write(
        "people.csv",
        format!("email,roles,teams\n{OLIVIA},ORG_MEMBER,{TEAM}\n{LIAM},ORG_MEMBER,{TEAM}\n"),
    );
    let limit = ["--max-team-users", "3"];
    assert_eq!(exec(run_cmd(&sim, &work, &csv).args(limit)).code, 0);
    let more = work.write(
        "more.csv",
        format!("email,roles,teams\n{NOAH},ORG_MEMBER,{TEAM}\nava@example.com,ORG_MEMBER,{TEAM}\n"),
    );
    let ran = exec(run_cmd(&sim, &work, &more).args(limit));
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(
        ran.stderr
            .contains(&format!("team {TEAM} has 2 and would get 2 more")),
        "{ran:?}"
    );
    assert_eq!(sim.posts(), 2, "nothing more sent");
}

#[test]
fn apply_refuses_a_plan_whose_settings_came_from_another_environment() {
    let sim = Sim::healthy();
    let other = Sim::healthy();
    let work = Work::new();
    let csv = work.write("people.csv", roster("ORG_MEMBER", "ORG_MEMBER", false));
    let plan = work.path("plan.json");
    // The base URL comes from the environment, not from the plan's arguments.
    let planned = exec(
        atlas_invite()
            .arg("plan")
            .arg(&csv)
            .args(["--org", ORG, "--journal"])
            .arg(work.journal())
            .arg("--out")
            .arg(&plan)
            .env("MONGODB_ATLAS_BASE_URL", sim.url())
            .env("MONGODB_ATLAS_ACCESS_TOKEN", TOKEN),
    );
    assert_eq!(planned.code, 0, "{planned:?}");
    let ran = exec(
        atlas_invite()
            .arg("apply")
            .arg(&plan)
            .env("MONGODB_ATLAS_BASE_URL", other.url())
            .env("MONGODB_ATLAS_ACCESS_TOKEN", TOKEN),
    );
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(ran.stderr.contains("base URL differ"), "{ran:?}");
    assert_eq!(sim.posts() + other.posts(), 0);
}
