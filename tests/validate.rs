//! `atlas-invite validate` and the `simulate` subcommand, driven as a user would.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::Stdio;

use crate::util::*;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[test]
fn the_sample_file_is_valid() {
    let sample = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples/users.csv");
    let ran = exec(atlas_invite().arg("validate").arg(&sample));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(ran.stdout.contains("0 invalid"), "{ran:?}");
    assert!(ran.stdout.lines().filter(|l| l.contains(" ok ")).count() >= 20);
}

#[test]
fn a_messy_file_gets_a_row_precise_report() {
    let ran = exec(atlas_invite().arg("validate").arg(fixture("mixed.csv")));
    assert_eq!(ran.code, 1, "{ran:?}");
    // Line 5 has the unknown role "admin" in column "Role".
    let line5 = ran
        .stdout
        .lines()
        .find(|l| l.starts_with("line     5"))
        .unwrap_or_else(|| panic!("{ran:?}"));
    assert!(line5.contains("invalid"), "{line5}");
    assert!(line5.contains("Role"), "{line5}");
    assert!(line5.contains("admin"), "{line5}");
    // An identical repeat is a duplicate, not an error.
    assert!(ran.stdout.contains("duplicate"), "{ran:?}");
}

#[test]
fn validate_json_lists_every_problem() {
    let ran = exec(
        atlas_invite()
            .arg("validate")
            .arg(fixture("mixed.csv"))
            .args(["--format", "json"]),
    );
    assert_eq!(ran.code, 1, "{ran:?}");
    let json: serde_json::Value = serde_json::from_str(ran.stdout.trim()).unwrap();
    let invalid = json["invalid"].as_array().unwrap();
    assert!(!invalid.is_empty());
    let lines: Vec<u64> = invalid
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert!(lines.contains(&5), "{lines:?}");
    assert!(
        invalid
            .iter()
            .all(|r| !r["problems"].as_array().unwrap().is_empty())
    );
}

#[test]
fn a_non_utf8_file_is_refused_with_its_line() {
    let ran = exec(atlas_invite().arg("validate").arg(fixture("not_utf8.csv")));
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(ran.stderr.contains("line 3"), "{ran:?}");
    assert!(ran.stderr.contains("UTF-8"), "{ran:?}");
}

#[test]
fn a_semicolon_file_with_a_bom_is_read() {
    let ran = exec(atlas_invite().arg("validate").arg(fixture("semicolon.csv")));
    assert_eq!(ran.code, 0, "{ran:?}");
}

#[test]
fn a_file_without_an_email_column_is_a_usage_error() {
    let work = Work::new();
    let csv = work.write("people.csv", "name,role\nAda,member\n");
    let ran = exec(atlas_invite().arg("validate").arg(&csv));
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(ran.stderr.to_lowercase().contains("email"), "{ran:?}");
}

#[test]
fn validate_never_touches_the_network_or_a_journal() {
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(3));
    let ran = exec(
        atlas_invite()
            .current_dir(work.dir.path())
            .arg("validate")
            .arg(&csv),
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(!work.path("atlas-invite.db").exists());
}

#[test]
fn simulate_prints_its_url_first_and_serves_invites() {
    let mut child = atlas_invite()
        .args(["simulate", "--org", ORG])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let url = first.trim().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url:?}");

    let work = Work::new();
    let csv = work.write("people.csv", people_csv(3));
    let ran = exec(
        atlas_invite()
            .arg("run")
            .arg(&csv)
            .args([
                "--org",
                ORG,
                "--base-url",
                &url,
                "--rate",
                "100/s",
                "--journal",
            ])
            .arg(work.journal())
            .env("MONGODB_ATLAS_ACCESS_TOKEN", "any-token"),
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(work.status_of("person2@example.com"), "invited");
}

/// `atlas-sim` (the simulator crate's own binary) and the `simulate` subcommand share one
/// definition of the flags (`atlas_sim::cli::ServeArgs`): this keeps them from drifting apart
/// again should either grow its own.
#[test]
fn atlas_sim_takes_the_flags_of_simulate() {
    use clap::CommandFactory;

    fn flags(command: &clap::Command) -> Vec<String> {
        let mut flags: Vec<String> = command
            .get_arguments()
            .filter(|a| !matches!(a.get_id().as_str(), "help" | "version"))
            .map(|a| {
                let defaults: Vec<_> = a.get_default_values().iter().collect();
                format!(
                    "--{} {:?} takes {:?} default {defaults:?} required {}",
                    a.get_long().unwrap_or_default(),
                    a.get_action(),
                    a.get_num_args(),
                    a.is_required_set()
                )
            })
            .collect();
        flags.sort();
        flags
    }
    let mut product = atlas_invite::cli::Cli::command();
    product.build();
    let simulate = product.find_subcommand("simulate").unwrap();
    let mut sim = atlas_sim::cli::ServeArgs::command();
    sim.build();
    assert_eq!(flags(simulate), flags(&sim));
    assert!(flags(simulate).len() > 15, "{:?}", flags(simulate));
}
