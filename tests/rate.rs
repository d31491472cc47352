//! Rate limits as Atlas sets them: token buckets declared by `GET /rateLimits` and stated in
//! 429 details, the older invitation limit's 400, `doctor` showing the limits, and `--rate`
//! bounds. Counts are asserted, never durations.

use atlas_sim::{RateLimit, SimConfig};

use crate::util::*;

fn bucket(per_second: f64, capacity: u32) -> SimConfig {
    SimConfig {
        rate_limit: Some(RateLimit {
            per_second,
            burst: capacity,
        }),
        ..SimConfig::default()
    }
}

/// Every row of `people_csv(n)` was invited exactly once.
fn assert_each_invited_once(sim: &Sim, n: usize) {
    for i in 0..n {
        assert_eq!(
            sim.invitations_for(&format!("person{i}@example.com")),
            1,
            "person{i}"
        );
    }
    assert_eq!(sim.stats().created, n as u64);
}

#[test]
fn a_bucket_of_capacity_one_is_paced_at_its_refill_with_few_429s() {
    let sim = Sim::start(bucket(20.0, 1));
    let work = Work::new();
    let n = 60;
    let csv = work.write("people.csv", people_csv(n));
    let ran = exec(run_cmd(&sim, &work, &csv).args([
        "--rate",
        "auto",
        "--concurrency",
        "4",
        "--format",
        "json",
    ]));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_each_invited_once(&sim, n);
    let summary = ran.json();
    let refused = summary["rate_limited"].as_u64().unwrap();
    assert!(refused <= 3, "{refused} of {} refused", summary["requests"]);
    assert_eq!(summary["rate_setting"], "auto");
    assert_eq!(summary["rate_limit"]["capacity"], 1);
    assert_eq!(summary["rate_limit"]["refill"], 20);
    assert_eq!(summary["rate_limit"]["refill_period_secs"], 1.0);
    assert_eq!(summary["rate_limit"]["source"], "rateLimits");
}

#[test]
fn far_above_the_bucket_an_explicit_rate_still_gets_few_429s() {
    let sim = Sim::start(bucket(20.0, 1));
    let work = Work::new();
    let n = 60;
    let csv = work.write("people.csv", people_csv(n));
    // run_cmd asks for 1000/s, fifty times the refill.
    let ran = exec(run_cmd(&sim, &work, &csv).args(["--concurrency", "16", "--format", "json"]));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_each_invited_once(&sim, n);
    let refused = ran.json()["rate_limited"].as_u64().unwrap();
    assert!(refused <= 3, "{refused} refused: {ran:?}");
}

#[test]
fn a_limit_only_stated_in_429s_is_learned_from_them() {
    // GET /rateLimits covers the v2 API only: for the older v1.0 path the simulator declares
    // nothing, so the limit comes from the first 429's detail.
    let sim = Sim::start(bucket(20.0, 2));
    let work = Work::new();
    let n = 40;
    let csv = work.write("people.csv", people_csv(n));
    let ran = exec(run_cmd(&sim, &work, &csv).args([
        "--api",
        "invites-v1",
        "--concurrency",
        "4",
        "--format",
        "json",
    ]));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_each_invited_once(&sim, n);
    let summary = ran.json();
    assert_eq!(summary["rate_limit"]["source"], "429");
    assert_eq!(summary["rate_limit"]["capacity"], 2);
    // Learned once, it is paced: a handful of refusals, not one in ten.
    let refused = summary["rate_limited"].as_u64().unwrap();
    assert!((1..=6).contains(&refused), "{refused} refused: {ran:?}");
}

#[test]
fn the_older_invitation_limit_is_waited_out_and_no_row_fails() {
    let sim = Sim::start(SimConfig {
        rate_limit_legacy: true,
        ..bucket(5.0, 5)
    });
    let work = Work::new();
    let n = 30;
    let csv = work.write("people.csv", people_csv(n));
    let ran = exec(run_cmd(&sim, &work, &csv).args(["--concurrency", "8", "--format", "json"]));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_each_invited_once(&sim, n);
    let summary = ran.json();
    assert_eq!(summary["failed"], 0);
    assert!(summary["rate_limited"].as_u64().unwrap() >= 1, "{ran:?}");
    assert_eq!(summary["rate_limit"]["source"], "legacy 400");
    assert_eq!(summary["rate_limit"]["capacity"], 5);
    assert_eq!(
        work.query("SELECT count(*) FROM invites WHERE status = 'invited'"),
        vec![n.to_string()]
    );
    assert_eq!(
        work.query(
            "SELECT count(*) FROM attempts WHERE http_status = 400 AND outcome = 'rate_limited'"
        ),
        vec![summary["rate_limited"].to_string()]
    );
}

#[test]
fn the_text_summary_and_progress_name_the_limit() {
    let sim = Sim::start(bucket(50.0, 5));
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(20));
    let ran = exec(run_cmd(&sim, &work, &csv).args(["--rate", "auto"]));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(
        ran.stderr
            .contains("at auto rate (Atlas allows 50 per 1 s, capacity 5 (endpoint set"),
        "{ran:?}"
    );
    assert!(
        ran.stdout.contains(
            "rate auto: Atlas allows 50 per 1 s, capacity 5 (declared by GET /rateLimits)"
        ),
        "{ran:?}"
    );
}

#[test]
fn doctor_prints_the_declared_limits() {
    let sim = Sim::start(bucket(5.0 / 6.0, 10));
    let ran = exec(
        atlas_invite()
            .args(["doctor", "--org", ORG, "--base-url"])
            .arg(sim.url())
            .env("MONGODB_ATLAS_ACCESS_TOKEN", TOKEN),
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(
        ran.stdout.contains(
            "rate limits   Atlas allows 5 per 6 s, capacity 10 for POST /api/atlas/v2/orgs/{orgId}/users"
        ),
        "{ran:?}"
    );
    assert!(
        ran.stdout
            .contains("Organization Invitations (scope USER): 5 per 6 s, capacity 10"),
        "{ran:?}"
    );
    let ran = exec(
        atlas_invite()
            .args(["doctor", "--format", "json", "--org", ORG, "--base-url"])
            .arg(sim.url())
            .env("MONGODB_ATLAS_ACCESS_TOKEN", TOKEN),
    );
    let json: serde_json::Value = serde_json::from_str(ran.stdout.trim()).unwrap();
    assert_eq!(json["rate_limits"][0]["capacity"]["value"], 10);
    assert_eq!(json["rate_limits"][0]["refillRate"]["value"], 5);

    // A server that declares nothing says so.
    let quiet = Sim::healthy();
    let ran = exec(
        atlas_invite()
            .args(["doctor", "--org", ORG, "--base-url"])
            .arg(quiet.url())
            .env("MONGODB_ATLAS_ACCESS_TOKEN", TOKEN),
    );
    assert!(
        ran.stdout
            .contains("rate limits   Atlas declares no rate limit for POST"),
        "{ran:?}"
    );
}

#[test]
fn an_out_of_range_rate_is_refused_before_anything_is_written() {
    let sim = Sim::healthy();
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(3));
    for rate in ["1e10/s", "0.5/h", "0/s"] {
        let ran = exec(run_cmd(&sim, &work, &csv).args(["--rate", rate]));
        assert_eq!(ran.code, 2, "{rate}: {ran:?}");
        assert!(ran.stderr.contains("--rate"), "{ran:?}");
    }
    assert!(!work.journal().exists(), "a journal was written");
    assert_eq!(sim.stats().requests, 0);
}
