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
