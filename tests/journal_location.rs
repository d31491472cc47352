//! Where the journal lives: one file per organization in the state directory, whatever the
//! current directory; `--journal` and `ATLAS_INVITE_JOURNAL` first; an `atlas-invite.db` of
//! earlier versions in the current directory kept, with a note; audit commands finding the
//! only journal or asking which. Every test has its own state directory and current
//! directories, and passes no `--journal` unless it says so.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::*;

/// Another organization id, for journals the tests make by copying.
const OTHER_ORG: &str = "64b7e2f0c1d2e3f4a5b6c7d8";

/// A scratch directory with a state directory and places to run from.
struct Place {
    work: Work,
}

impl Place {
    fn new() -> Place {
        Place { work: Work::new() }
    }

    /// `$XDG_STATE_HOME` of the test.
    fn state_home(&self) -> PathBuf {
        self.work.path("state")
    }

    /// The default journal of `org`.
    fn journal_of(&self, org: &str) -> PathBuf {
        self.state_home()
            .join("atlas-invite")
            .join(format!("{org}.db"))
    }

    /// A directory to run from, created.
    fn cwd(&self, name: &str) -> PathBuf {
        let dir = self.work.path(name);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// `atlas-invite ARGS` run from `cwd`, with this test's state directory.
    fn cmd(&self, cwd: &Path, args: &[&str]) -> Command {
        let mut cmd = atlas_invite();
        cmd.current_dir(cwd)
            .env("XDG_STATE_HOME", self.state_home())
            .args(args);
        cmd
    }

    /// `run CSV` against `sim` from `cwd`, with the journal left to its default.
    fn run(&self, sim: &Sim, cwd: &Path, csv: &Path) -> Command {
        let mut cmd = self.cmd(cwd, &["run"]);
        cmd.arg(csv)
            .args(["--org", ORG, "--base-url"])
            .arg(sim.url())
            .args(["--rate", "1000/s", "--timeout", "5s", "--settle", "5s"])
            .args(["--format", "json"])
            .env("MONGODB_ATLAS_ACCESS_TOKEN", TOKEN);
        cmd
    }
}

#[test]
fn one_organization_has_one_journal_wherever_the_tool_runs() {
    let sim = Sim::healthy();
    let place = Place::new();
    let csv = place.work.write("people.csv", people_csv(4));
    let ran = exec(&mut place.run(&sim, &place.cwd("a"), &csv));
    assert_eq!(ran.code, 0, "{ran:?}");
    let journal = place.journal_of(ORG);
    assert_eq!(ran.json()["journal"], journal.display().to_string());
    assert!(journal.exists());
    assert_eq!(sim.posts(), 4);

    // The same file from another directory: the same journal, so nothing is sent again.
    let ran = exec(&mut place.run(&sim, &place.cwd("b"), &csv));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(ran.json()["journal"], journal.display().to_string());
    assert_eq!(ran.json()["skipped"], 4, "{ran:?}");
    assert_eq!(sim.posts(), 4, "the second run sent nothing");
    assert!(ran.stderr.is_empty(), "no note for the default: {ran:?}");
    for cwd in ["a", "b"] {
        assert!(!place.work.path(cwd).join("atlas-invite.db").exists());
    }

    // `status` from a third directory finds it too, and says which it read.
    let ran = exec(&mut place.cmd(&place.cwd("c"), &["status"]));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(
        ran.stdout
            .contains(&format!("Journal {}", journal.display())),
        "{ran:?}"
    );
    assert!(ran.stdout.contains("invited"), "{ran:?}");
}

#[test]
fn without_xdg_state_home_the_journal_is_under_home() {
    let sim = Sim::healthy();
    let place = Place::new();
    let csv = place.work.write("people.csv", people_csv(1));
    let home = place.work.path("home");
    let ran = exec(
        place
            .run(&sim, &place.cwd("a"), &csv)
            .env_remove("XDG_STATE_HOME")
            .env("HOME", &home),
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    let journal = home.join(format!(".local/state/atlas-invite/{ORG}.db"));
    assert!(journal.exists(), "{ran:?}");
    assert_eq!(ran.json()["journal"], journal.display().to_string());
}

#[cfg(unix)]
#[test]
fn the_state_directory_and_the_journal_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;

    let sim = Sim::healthy();
    let place = Place::new();
    let csv = place.work.write("people.csv", people_csv(1));
    assert_eq!(exec(&mut place.run(&sim, &place.cwd("a"), &csv)).code, 0);
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let journal = place.journal_of(ORG);
    assert_eq!(mode(journal.parent().unwrap()), 0o700);
    assert_eq!(mode(&journal), 0o600);
}

#[test]
fn a_dry_run_creates_no_directory() {
    let sim = Sim::healthy();
    let place = Place::new();
    let csv = place.work.write("people.csv", people_csv(2));
    let ran = exec(place.run(&sim, &place.cwd("a"), &csv).arg("--dry-run"));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(!place.state_home().exists(), "{ran:?}");
}

#[test]
fn an_old_journal_in_the_current_directory_is_kept_with_a_note() {
    let sim = Sim::healthy();
    let place = Place::new();
    let csv = place.work.write("people.csv", people_csv(3));
    let here = place.cwd("project");
    let old = here.join("atlas-invite.db");
    // A journal written where earlier versions put it by default.
    let ran = exec(place.run(&sim, &here, &csv).arg("--journal").arg(&old));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(ran.stderr.is_empty(), "{ran:?}");

    let ran = exec(&mut place.run(&sim, &here, &csv));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(sim.posts(), 3, "the old journal's history is used");
    assert_eq!(ran.json()["journal"], "atlas-invite.db");
    let target = place.journal_of(ORG);
    assert!(!target.exists(), "no second journal was started");
    let notes: Vec<&str> = ran.stderr.lines().collect();
    assert_eq!(notes.len(), 1, "{ran:?}");
    assert!(notes[0].contains("atlas-invite.db in the current directory"));
    assert!(
        notes[0].contains(&format!("mv atlas-invite.db {}", target.display())),
        "{ran:?}"
    );
    // --quiet silences the note like every other.
    let ran = exec(place.run(&sim, &here, &csv).arg("--quiet"));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(ran.stderr.is_empty(), "{ran:?}");

    // Audit commands read it first too.
    let ran = exec(&mut place.cmd(&here, &["runs", "--format", "json"]));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(ran.stderr.contains("mv atlas-invite.db"), "{ran:?}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&ran.stdout).unwrap()[2]["id"],
        3,
        "{ran:?}"
    );

    // Moved as the note says, it is found from anywhere.
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    std::fs::rename(&old, &target).unwrap();
    let ran = exec(&mut place.run(&sim, &place.cwd("elsewhere"), &csv));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(ran.json()["skipped"], 3, "{ran:?}");
    assert_eq!(sim.posts(), 3);
    assert!(ran.stderr.is_empty(), "{ran:?}");
}

#[test]
fn the_journal_variable_and_flag_override_the_default() {
    let sim = Sim::healthy();
    let place = Place::new();
    let csv = place.work.write("people.csv", people_csv(2));
    let chosen = place.work.path("chosen.db");
    let ran = exec(
        place
            .run(&sim, &place.cwd("a"), &csv)
            .env("ATLAS_INVITE_JOURNAL", &chosen),
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(ran.json()["journal"], chosen.display().to_string());
    assert!(chosen.exists());
    assert!(
        !place.state_home().exists(),
        "the state directory is untouched"
    );

    let ran = exec(
        place
            .cmd(&place.cwd("b"), &["status", "--format", "json"])
            .env("ATLAS_INVITE_JOURNAL", &chosen),
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    let status: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap();
    assert_eq!(status["journal"], chosen.display().to_string());

    // The flag beats the variable.
    let flagged = place.work.path("flagged.db");
    let ran = exec(
        place
            .run(&sim, &place.cwd("a"), &csv)
            .env("ATLAS_INVITE_JOURNAL", &chosen)
            .arg("--journal")
            .arg(&flagged),
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(ran.json()["journal"], flagged.display().to_string());
}

#[test]
fn audit_commands_find_the_only_journal_and_ask_when_there_are_several() {
    let sim = Sim::healthy();
    let place = Place::new();
    let csv = place.work.write("people.csv", people_csv(2));
    let cwd = place.cwd("a");

    // Nothing yet: a plain message, not an obscure failure.
    let ran = exec(&mut place.cmd(&cwd, &["status"]));
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(ran.stderr.contains("no journal in"), "{ran:?}");
    assert!(ran.stderr.contains("atlas-invite run"), "{ran:?}");

    assert_eq!(exec(&mut place.run(&sim, &cwd, &csv)).code, 0);
    let ours = place.journal_of(ORG);
    for args in [
        &["status"][..],
        &["report"],
        &["runs"],
        &["history", "person0@example.com"],
    ] {
        let ran = exec(&mut place.cmd(&cwd, args));
        assert_eq!(ran.code, 0, "{args:?}: {ran:?}");
        assert!(ran.stderr.is_empty(), "{args:?}: {ran:?}");
    }
    let ran = exec(place.cmd(&cwd, &["export"]).arg(&csv));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(ran.stdout.contains("invited"), "{ran:?}");

    // A second organization's journal: which one is for the user to say.
    let theirs = place.journal_of(OTHER_ORG);
    std::fs::copy(&ours, &theirs).unwrap();
    for args in [&["status"][..], &["report"], &["runs"]] {
        let ran = exec(&mut place.cmd(&cwd, args));
        assert_eq!(ran.code, 2, "{args:?}: {ran:?}");
        assert!(ran.stderr.contains("several journals"), "{ran:?}");
        assert!(ran.stderr.contains("--org"), "{ran:?}");
        assert!(ran.stderr.contains("--journal"), "{ran:?}");
        for (org, path) in [(ORG, &ours), (OTHER_ORG, &theirs)] {
            assert!(
                ran.stderr
                    .contains(&format!("org {org}: {}", path.display())),
                "{ran:?}"
            );
        }
    }
    let ran = exec(&mut place.cmd(&cwd, &["status", "--org", ORG]));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(
        ran.stdout.contains(&format!("Journal {}", ours.display())),
        "{ran:?}"
    );
    let ran = exec(
        place
            .cmd(&cwd, &["status"])
            .env("MONGODB_ATLAS_ORG_ID", OTHER_ORG),
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(
        ran.stdout.contains(&theirs.display().to_string()),
        "{ran:?}"
    );

    // The Atlas CLI profile's organization counts, as it does for `run`.
    let config = place.work.path("config");
    std::fs::create_dir_all(config.join("atlascli")).unwrap();
    std::fs::write(
        config.join("atlascli/config.toml"),
        format!("[default]\norg_id = \"{OTHER_ORG}\"\n"),
    )
    .unwrap();
    if !cfg!(target_os = "macos") {
        let ran = exec(place.cmd(&cwd, &["status"]).env("XDG_CONFIG_HOME", &config));
        assert_eq!(ran.code, 0, "{ran:?}");
        assert!(
            ran.stdout.contains(&theirs.display().to_string()),
            "{ran:?}"
        );
    }
}

#[test]
fn status_for_an_organization_without_a_journal_lists_the_journals_that_exist() {
    let place = Place::new();
    let cwd = place.cwd("a");
    let dir = place.state_home().join("atlas-invite");
    std::fs::create_dir_all(&dir).unwrap();
    // Made by a demonstration: listed, never picked for real runs.
    let ran = exec(
        place
            .cmd(&place.cwd("demo"), &["run"])
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/users.csv"))
            .args(["--simulate", "--quiet", "--rate", "1000/s"]),
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    let demo_journal = dir.join(format!("simulate-{OTHER_ORG}.db"));
    assert!(demo_journal.exists());

    let ran = exec(&mut place.cmd(&cwd, &["status"]));
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(ran.stderr.contains("only --simulate journals"), "{ran:?}");
    assert!(
        ran.stderr.contains(&format!(
            "org {OTHER_ORG} (--simulate): {}",
            demo_journal.display()
        )),
        "{ran:?}"
    );

    let ran = exec(&mut place.cmd(&cwd, &["status", "--org", ORG]));
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(
        ran.stderr.contains(&format!(
            "no journal at {}",
            place.journal_of(ORG).display()
        )),
        "{ran:?}"
    );
    assert!(ran.stderr.contains("journals that exist"), "{ran:?}");
    assert!(ran.stderr.contains(OTHER_ORG), "{ran:?}");
    assert!(!place.journal_of(ORG).exists(), "status creates nothing");

    // Read with --journal, the demonstration's journal is an ordinary one.
    let ran = exec(place.cmd(&cwd, &["status", "--journal"]).arg(&demo_journal));
    assert_eq!(ran.code, 0, "{ran:?}");
}

#[test]
fn without_a_usable_state_directory_the_journal_is_in_the_current_directory_with_a_note() {
    let sim = Sim::healthy();
    let place = Place::new();
    let csv = place.work.write("people.csv", people_csv(1));
    let here = place.cwd("a");
    let ran = exec(
        place
            .run(&sim, &here, &csv)
            .env_remove("XDG_STATE_HOME")
            .env_remove("HOME"),
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(here.join("atlas-invite.db").exists(), "{ran:?}");
    assert!(
        ran.stderr.contains("neither XDG_STATE_HOME nor HOME"),
        "{ran:?}"
    );
    assert!(ran.stderr.contains("--journal"), "{ran:?}");
}
