//! Credentials and API fidelity: service accounts, API keys with Digest, envelope, deprecation
//! notices, `doctor`, and secrets that never leak.

use std::process::Command;
use std::time::Duration;

use atlas_sim::{Fault, SimConfig};

use crate::util::*;

const CLIENT_ID: &str = "mdb_sa_id_0123456789";
const CLIENT_SECRET: &str = "mdb_sa_sk_sup3r-s3cret-value";
const PUBLIC_KEY: &str = "abcdefgh";
const PRIVATE_KEY: &str = "11111111-2222-3333-4444-privatekey00";

fn service_account_sim(ttl: Duration) -> Sim {
    Sim::start(SimConfig {
        service_accounts: vec![(CLIENT_ID.into(), CLIENT_SECRET.into())],
        token_ttl: ttl,
        latency: Duration::from_millis(10),
        ..SimConfig::default()
    })
}

/// `run` with service-account credentials instead of a token.
fn run_with_service_account(sim: &Sim, work: &Work, csv: &std::path::Path) -> Command {
    let mut cmd = run_cmd(sim, work, csv);
    cmd.env_remove("MONGODB_ATLAS_ACCESS_TOKEN")
        .env("MONGODB_ATLAS_CLIENT_ID", CLIENT_ID)
        .env("MONGODB_ATLAS_CLIENT_SECRET", CLIENT_SECRET);
    cmd
}

#[test]
fn a_service_account_token_is_cached_and_renewed_before_it_expires() {
    let sim = service_account_sim(Duration::from_secs(1));
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(60));
    let ran = exec(run_with_service_account(&sim, &work, &csv).args(["--rate", "40/s"]));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(sim.stats().created, 60);
    // About 1.5 s of requests with a 1 s token renewed at 0.75 s: a few tokens, not one per
    // request, and no request refused for an expired token.
    let issued = sim.state().tokens_issued();
    assert!((2..=6).contains(&issued), "{issued} tokens issued");
    assert_eq!(sim.stats().unauthorized, 0);
}

#[test]
fn a_revoked_token_is_renewed_once_for_all_workers() {
    let sim = service_account_sim(Duration::from_secs(3600));
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(80));
    let mut child = run_with_service_account(&sim, &work, &csv)
        .args(["--concurrency", "8", "--rate", "200/s"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while sim.posts() < 20 {
        assert!(std::time::Instant::now() < deadline, "the run never sent");
        std::thread::sleep(Duration::from_millis(2));
    }
    sim.state().revoke_tokens();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(sim.stats().created, 80);
    assert_eq!(
        sim.state().tokens_issued(),
        2,
        "one renewal shared by every worker"
    );
    assert!(sim.stats().unauthorized >= 1);
}

#[test]
fn a_wrong_client_secret_aborts_without_printing_it() {
    let sim = service_account_sim(Duration::from_secs(3600));
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(3));
    let ran = exec(
        run_with_service_account(&sim, &work, &csv)
            .env("MONGODB_ATLAS_CLIENT_SECRET", "wrong-secret-value-123"),
    );
    assert_eq!(ran.code, 3, "{ran:?}");
    assert!(ran.stderr.contains("access token"), "{ran:?}");
    assert!(!ran.stderr.contains("wrong-secret-value-123"));
    assert!(!ran.stdout.contains("wrong-secret-value-123"));
    assert_eq!(sim.stats().created, 0);
}

#[test]
fn an_api_key_signs_with_digest_without_a_second_round_trip_per_request() {
    let sim = Sim::start(SimConfig {
        api_keys: vec![(PUBLIC_KEY.into(), PRIVATE_KEY.into())],
        ..SimConfig::default()
    });
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(30));
    let ran = exec(
        run_cmd(&sim, &work, &csv)
            .env_remove("MONGODB_ATLAS_ACCESS_TOKEN")
            .env("MONGODB_ATLAS_PUBLIC_API_KEY", PUBLIC_KEY)
            .env("MONGODB_ATLAS_PRIVATE_API_KEY", PRIVATE_KEY)
            .args(["--concurrency", "2"]),
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    let stats = sim.stats();
    assert_eq!(stats.created, 30);
    // Only the first requests (at most one per worker) fetch a challenge.
    assert!(stats.unauthorized <= 2, "{stats:?}");
    assert!(stats.posts() <= 32, "{stats:?}");
}

#[test]
fn a_wrong_private_key_is_refused() {
    let sim = Sim::start(SimConfig {
        api_keys: vec![(PUBLIC_KEY.into(), PRIVATE_KEY.into())],
        ..SimConfig::default()
    });
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(2));
    let ran = exec(
        run_cmd(&sim, &work, &csv)
            .env_remove("MONGODB_ATLAS_ACCESS_TOKEN")
            .env("MONGODB_ATLAS_PUBLIC_KEY", PUBLIC_KEY)
            .env("MONGODB_ATLAS_PRIVATE_KEY", "not-the-key")
            .args(["--concurrency", "1"]),
    );
    assert_eq!(ran.code, 3, "{ran:?}");
    assert_eq!(sim.stats().created, 0);
}

#[test]
fn envelope_answers_are_read_from_the_body() {
    let sim =
        Sim::start(SimConfig::default().with_script("person1@example.com", [Fault::Status(400)]));
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(3));
    let ran = exec(run_cmd(&sim, &work, &csv).args(["--envelope", "--format", "json"]));
    assert_eq!(ran.code, 1, "{ran:?}");
    let json = ran.json();
    assert_eq!(json["invited"], 2);
    assert_eq!(json["failed"], 1);
    assert_eq!(json["problems"][0]["http_status"], 400);
    assert_eq!(work.status_of("person0@example.com"), "invited");
    let ids =
        work.query("SELECT invitation_id FROM invites WHERE email_key = 'person0@example.com'");
    assert_ne!(ids[0], "NULL");
}

#[test]
fn deprecation_is_reported_once_per_run() {
    let sim = Sim::healthy();
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(5));
    let ran = exec(run_cmd(&sim, &work, &csv).args(["--api", "invites"]));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(ran.stderr.matches("has deprecated").count(), 1, "{ran:?}");
    assert!(ran.stderr.contains("--api users"), "{ran:?}");
    assert!(ran.stdout.contains("2027"), "{ran:?}");
}

#[test]
fn the_default_endpoint_draws_no_deprecation_note() {
    let sim = Sim::healthy();
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(5));
    let ran = exec(&mut run_cmd(&sim, &work, &csv));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(sim.stats().user_posts, 5, "the default is --api users");
    assert!(!ran.stderr.contains("deprecate"), "{ran:?}");
    assert!(!ran.stdout.contains("deprecate"), "{ran:?}");
    assert!(!ran.stdout.contains("Sunset"), "{ran:?}");

    let ran = exec(
        atlas_invite()
            .args(["doctor", "--org", ORG, "--base-url"])
            .arg(sim.url())
            .env("MONGODB_ATLAS_ACCESS_TOKEN", TOKEN),
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(!ran.stdout.contains("deprecate"), "{ran:?}");
    let ran = exec(
        atlas_invite()
            .args(["doctor", "--api", "invites", "--org", ORG, "--base-url"])
            .arg(sim.url())
            .env("MONGODB_ATLAS_ACCESS_TOKEN", TOKEN),
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(ran.stdout.contains("deprecates this endpoint"), "{ran:?}");
}

#[test]
fn doctor_checks_credentials_and_organization() {
    let sim = Sim::healthy();
    let ran = exec(
        atlas_invite()
            .args(["doctor", "--org", ORG, "--base-url"])
            .arg(sim.url())
            .env("MONGODB_ATLAS_ACCESS_TOKEN", TOKEN),
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(ran.stdout.contains("ok: HTTP 200"), "{ran:?}");
    assert!(ran.stdout.contains("access token"), "{ran:?}");
    // One harmless lookup, and the question of what the rate limits are.
    assert_eq!(sim.stats().requests, 2, "two harmless requests");
    assert_eq!(sim.stats().rate_limit_gets, 1);
    assert_eq!(sim.stats().created, 0);

    let ran = exec(
        atlas_invite()
            .args(["doctor", "--format", "json", "--org", ORG, "--base-url"])
            .arg(sim.url())
            .env("MONGODB_ATLAS_ACCESS_TOKEN", "bad-token"),
    );
    assert_eq!(ran.code, 3, "{ran:?}");
    let json: serde_json::Value = serde_json::from_str(ran.stdout.trim()).unwrap();
    assert_eq!(json["ok"], false);
    assert_eq!(json["http_status"], 401);
    assert!(!ran.stdout.contains("bad-token"));
}

#[test]
fn ops_manager_url_is_honoured_when_base_url_is_unset() {
    let sim = Sim::healthy();
    let ran = exec(
        atlas_invite()
            .args(["doctor", "--org", ORG])
            .env("MONGODB_ATLAS_OPS_MANAGER_URL", sim.url())
            .env("MONGODB_ATLAS_ACCESS_TOKEN", TOKEN),
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(sim.stats().requests - sim.stats().rate_limit_gets, 1);
}

#[test]
fn no_secret_reaches_output_or_journal_whatever_the_credentials() {
    let sim = Sim::start(
        SimConfig {
            service_accounts: vec![(CLIENT_ID.into(), CLIENT_SECRET.into())],
            api_keys: vec![(PUBLIC_KEY.into(), PRIVATE_KEY.into())],
            token_ttl: Duration::from_secs(3600),
            ..SimConfig::default()
        }
        .with_script("person1@example.com", [Fault::Status(400), Fault::Error500]),
    );
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(4));
    let mut outputs = Vec::new();
    let runs: Vec<Vec<(&str, &str)>> = vec![
        vec![("MONGODB_ATLAS_ACCESS_TOKEN", TOKEN)],
        vec![
            ("MONGODB_ATLAS_CLIENT_ID", CLIENT_ID),
            ("MONGODB_ATLAS_CLIENT_SECRET", CLIENT_SECRET),
        ],
        vec![
            ("MONGODB_ATLAS_PUBLIC_API_KEY", PUBLIC_KEY),
            ("MONGODB_ATLAS_PRIVATE_API_KEY", PRIVATE_KEY),
        ],
    ];
    for env in runs {
        let mut cmd = run_cmd(&sim, &work, &csv);
        cmd.env_remove("MONGODB_ATLAS_ACCESS_TOKEN");
        for (k, v) in &env {
            cmd.env(k, v);
        }
        let ran = exec(cmd.args(["--format", "json"]));
        outputs.push(ran.stdout);
        outputs.push(ran.stderr);
        let mut doctor = atlas_invite();
        doctor
            .args(["doctor", "--org", ORG, "--base-url"])
            .arg(sim.url());
        for (k, v) in &env {
            doctor.env(k, v);
        }
        let ran = exec(&mut doctor);
        outputs.push(ran.stdout);
        outputs.push(ran.stderr);
    }
    let mut files = vec![std::fs::read(work.journal()).unwrap()];
    files.push(std::fs::read(work.path("journal.db-wal")).unwrap_or_default());
    for secret in [TOKEN, CLIENT_SECRET, PRIVATE_KEY] {
        for out in &outputs {
            assert!(!out.contains(secret), "{secret} leaked into output:\n{out}");
        }
        for bytes in &files {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} leaked into the journal"
            );
        }
    }
}

#[test]
fn the_users_endpoint_invites_and_records_which_endpoint_was_used() {
    let sim = Sim::start(
        SimConfig {
            existing_members: vec!["person2@example.com".into()],
            duplicate_invites: true,
            ..SimConfig::default()
        }
        .with_script("person1@example.com", [Fault::RecordThenDrop]),
    );
    let work = Work::new();
    let csv = work.write(
        "people.csv",
        "email,roles,projects\n\
         person0@example.com,owner,5f1e2d3c4b5a697887766101:GROUP_READ_ONLY\n\
         person1@example.com,member,\n\
         person2@example.com,member,\n",
    );
    let ran = exec(run_cmd(&sim, &work, &csv).args(["--api", "users", "--format", "json"]));
    assert_eq!(ran.code, 0, "{ran:?}");
    let json = ran.json();
    assert_eq!(json["invited"], 2);
    assert_eq!(json["already_member"], 1);
    assert!(
        json["sunset"].is_null(),
        "the users endpoint is not deprecated"
    );
    let stats = sim.stats();
    assert_eq!(
        stats.invite_posts, 0,
        "nothing went through the invite endpoints"
    );
    assert!(stats.user_posts >= 3);
    // The dropped answer was resolved by looking the user up, not by a second invitation.
    assert_eq!(sim.invitations_for("person1@example.com"), 1);
    assert_eq!(
        work.query("SELECT group_concat(outcome) FROM attempts WHERE email_key = 'person1@example.com' ORDER BY id"),
        vec!["unknown,found"]
    );
    assert_eq!(
        work.query("SELECT DISTINCT endpoint FROM attempts WHERE kind = 'invite'"),
        vec!["POST /api/atlas/v2/orgs/{orgId}/users"]
    );
    assert_eq!(work.query("SELECT api FROM runs"), vec!["users"]);
    let ids =
        work.query("SELECT invitation_id FROM invites WHERE email_key = 'person0@example.com'");
    assert_eq!(ids[0].len(), 24, "{ids:?}");
}
