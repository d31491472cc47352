//! The `atlas-sim` binary, driven as a user would: it prints its base URL first, then serves
//! the invitation API there until killed.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const ORG: &str = "5f1e2d3c4b5a697887766554";

#[tokio::test]
async fn atlas_sim_prints_its_url_first_and_serves_invites() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_atlas-sim"))
        .args(["--org", ORG, "--token", "t0ken"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let url = first.trim().to_owned();
    // reqwest is built without a TLS provider and refuses to build a client, even a plain-HTTP
    // one, until a process-wide provider is installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let invite = |token: &str| {
        client
            .post(format!("{url}/api/atlas/v2/orgs/{ORG}/invites"))
            .bearer_auth(token)
            .header("Accept", "application/vnd.atlas.2023-01-01+json")
            .header("Content-Type", "application/vnd.atlas.2023-01-01+json")
            .body(r#"{"username":"ann@example.com","roles":["ORG_MEMBER"]}"#)
            .send()
    };
    let refused = invite("another").await.map(|r| r.status().as_u16());
    let created = invite("t0ken").await.map(|r| r.status().as_u16());
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(url.starts_with("http://127.0.0.1:"), "{url:?}");
    assert_eq!(refused.unwrap(), 401);
    assert_eq!(created.unwrap(), 200);
}

#[test]
fn atlas_sim_refuses_bad_flags_with_exit_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_atlas-sim"))
        .args(["--fail-rate", "2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("not a fraction between 0 and 1"),
        "{stderr}"
    );
}

/// `atlas-sim accept|expire|decline` play what an invited person does on a simulator that
/// another `atlas-sim` serves, as a rehearsal script would.
#[tokio::test]
async fn the_control_subcommands_act_on_a_running_simulator() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_atlas-sim"))
        .args(["serve", "--org", ORG, "--token", "t0ken"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let url = first.trim().to_owned();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    for email in ["ann@example.com", "bob@example.com"] {
        let created = client
            .post(format!("{url}/api/atlas/v2/orgs/{ORG}/invites"))
            .bearer_auth("t0ken")
            .header("Accept", "application/vnd.atlas.2023-01-01+json")
            .header("Content-Type", "application/vnd.atlas.2023-01-01+json")
            .body(format!(
                r#"{{"username":"{email}","roles":["ORG_MEMBER"]}}"#
            ))
            .send()
            .await
            .map(|r| r.status().as_u16());
        assert_eq!(created.unwrap(), 200);
    }
    let control = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_atlas-sim"))
            .args(args)
            .output()
            .unwrap()
    };
    let accepted = control(&["accept", "--url", &url, "ann@example.com"]);
    let again = control(&["accept", "--url", &url, "ann@example.com"]);
    let declined = control(&["decline", "--url", &url, "bob@example.com"]);
    let statuses = client
        .get(format!(
            "{url}/api/atlas/v2/orgs/{ORG}/users?orgMembershipStatuses=ACTIVE&orgMembershipStatuses=INVITATION_REJECTED"
        ))
        .bearer_auth("t0ken")
        .header("Accept", "application/vnd.atlas.2025-02-19+json")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let unreachable = control(&["expire", "--url", &url, "bob@example.com"]);
    let not_a_url = control(&[
        "expire",
        "--url",
        "https://cloud.mongodb.com",
        "bob@example.com",
    ]);
    let with_flags = control(&["--port", "0", "accept", "--url", &url, "x@example.com"]);

    assert_eq!(accepted.status.code(), Some(0), "{accepted:?}");
    assert_eq!(
        String::from_utf8_lossy(&accepted.stdout),
        "accept: ann@example.com\n"
    );
    assert_eq!(again.status.code(), Some(1), "{again:?}");
    assert!(String::from_utf8_lossy(&again.stderr).contains("no pending invitation"));
    assert_eq!(declined.status.code(), Some(0), "{declined:?}");
    assert!(
        statuses.contains(r#""orgMembershipStatus":"ACTIVE""#),
        "{statuses}"
    );
    assert!(
        statuses.contains(r#""orgMembershipStatus":"INVITATION_REJECTED""#),
        "{statuses}"
    );
    for failed in [&unreachable, &not_a_url, &with_flags] {
        assert_eq!(failed.status.code(), Some(2), "{failed:?}");
    }
    assert!(String::from_utf8_lossy(&unreachable.stderr).contains("failed to connect"));
}
