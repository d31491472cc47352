//! The interfaces people and scripts build on, snapshotted so that every change to them is
//! deliberate: the `--help` texts and the JSON summary of `run`. A change shows as a snapshot
//! diff to review (`cargo insta review`, or `INSTA_UPDATE=always cargo test` then `git diff`).

use atlas_sim::{Fault, SimConfig};

use crate::util::*;

/// `--help` of the tool and of every command, at a fixed width.
#[test]
fn help_texts() {
    for command in [
        "",
        "run",
        "validate",
        "status",
        "simulate",
        "doctor",
        "report",
        "runs",
        "history",
        "export",
        "reconcile",
        "revoke",
        "plan",
        "apply",
        "completions",
        "man",
    ] {
        let mut cmd = atlas_invite();
        if !command.is_empty() {
            cmd.arg(command);
        }
        let ran = exec(cmd.arg("--help").env("COLUMNS", "100"));
        assert_eq!(ran.code, 0, "{ran:?}");
        let name = if command.is_empty() {
            "help".to_owned()
        } else {
            format!("help_{command}")
        };
        insta::assert_snapshot!(name, ran.stdout);
    }
}

/// The JSON summary of a run with an invited row, a refused row and an invalid row; what
/// varies from one run to the next (paths, durations, rates) is replaced by its kind.
#[test]
fn json_summary_of_a_run() {
    let sim = Sim::start(
        SimConfig {
            deprecation_headers: false,
            ..SimConfig::default()
        }
        .with_script("bob@example.com", [Fault::Status(400)]),
    );
    let work = Work::new();
    let csv = work.write(
        "people.csv",
        "email,roles\nann@example.com,ORG_MEMBER\nbob@example.com,ORG_OWNER\nnot-an-address,ORG_MEMBER\n",
    );
    let ran = exec(run_cmd(&sim, &work, &csv).args(["--format", "json"]));
    assert_eq!(ran.code, 1, "{ran:?}");
    let mut json = ran.json();
    for (field, placeholder) in [
        ("csv", "<csv>"),
        ("journal", "<journal>"),
        ("duration_secs", "<seconds>"),
        ("rate_per_sec", "<per second>"),
        ("pace_per_sec", "<per second>"),
    ] {
        assert!(json.get(field).is_some(), "{field} is in the summary");
        json[field] = serde_json::Value::from(placeholder);
    }
    insta::assert_snapshot!("json_summary", serde_json::to_string_pretty(&json).unwrap());
}
