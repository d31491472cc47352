//! Helpers shared by the integration tests: a simulator running on its own runtime, a scratch
//! directory, and a builder that runs the real binary against them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use atlas_sim::{SimConfig, SimState, SimStats, Simulator, SimulatorHandle};

/// An organization id that exists in the test simulators.
pub const ORG: &str = "5f1e2d3c4b5a697887766554";
/// The bearer token the test simulators accept.
pub const TOKEN: &str = "test-token-s3cr3t-value";

/// A simulator serving on 127.0.0.1 for the duration of one test.
pub struct Sim {
    handle: Option<SimulatorHandle>,
    runtime: tokio::runtime::Runtime,
}

impl Sim {
    /// Starts a simulator for [`ORG`] accepting only [`TOKEN`], with `config`'s faults.
    pub fn start(config: SimConfig) -> Sim {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("test runtime");
        let config = SimConfig {
            org_id: Some(ORG.into()),
            token: Some(TOKEN.into()),
            ..config
        };
        let handle = runtime
            .block_on(Simulator::start(config))
            .expect("simulator starts");
        Sim {
            handle: Some(handle),
            runtime,
        }
    }

    /// A simulator without faults.
    pub fn healthy() -> Sim {
        Sim::start(SimConfig::default())
    }

    pub fn url(&self) -> String {
        self.handle.as_ref().unwrap().base_url()
    }

    pub fn state(&self) -> Arc<SimState> {
        self.handle.as_ref().unwrap().state()
    }

    pub fn stats(&self) -> SimStats {
        self.state().stats()
    }

    /// POSTs that ask for an invitation, on any path (`/users`, the default, or either invite
    /// path), whatever their outcome: what a test about sending counts, whichever `--api`.
    pub fn posts(&self) -> u64 {
        self.stats().posts()
    }

    /// How many invitations exist for `email`.
    pub fn invitations_for(&self, email: &str) -> usize {
        self.state().invitations_for(email).len()
    }
}

/// Counts of [`SimStats`] that do not depend on the endpoint a run uses.
pub trait AnyPath {
    /// POSTs on the users path and on both invite paths.
    fn posts(&self) -> u64;
    /// GETs on the users path and on both invite paths: lookups of a person, and the pages of
    /// `reconcile`'s listings.
    fn gets(&self) -> u64;
}

impl AnyPath for SimStats {
    fn posts(&self) -> u64 {
        self.invite_posts + self.user_posts
    }

    fn gets(&self) -> u64 {
        self.invite_gets + self.user_gets
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            self.runtime.block_on(handle.shutdown());
        }
    }
}

/// A scratch directory holding the CSV files and the journal of one test.
pub struct Work {
    pub dir: tempfile::TempDir,
}

impl Work {
    pub fn new() -> Work {
        Work {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a file in the scratch directory and returns its path.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, contents).expect("write fixture");
        path
    }

    pub fn journal(&self) -> PathBuf {
        self.path("journal.db")
    }

    /// Runs a read-only query on the journal and returns the first column of every row.
    pub fn query(&self, sql: &str) -> Vec<String> {
        let conn = rusqlite::Connection::open(self.journal()).expect("journal opens");
        let mut stmt = conn.prepare(sql).expect("query prepares");
        stmt.query_map([], |r| {
            let v: rusqlite::types::Value = r.get(0)?;
            Ok(match v {
                rusqlite::types::Value::Null => "NULL".to_owned(),
                rusqlite::types::Value::Integer(i) => i.to_string(),
                rusqlite::types::Value::Real(f) => f.to_string(),
                rusqlite::types::Value::Text(t) => t,
                rusqlite::types::Value::Blob(_) => "<blob>".to_owned(),
            })
        })
        .expect("query runs")
        .map(Result::unwrap)
        .collect()
    }

    /// The status of one person in the journal.
    pub fn status_of(&self, email: &str) -> String {
        let rows = self.query(&format!(
            "SELECT status FROM invites WHERE email_key = '{}'",
            email.to_lowercase()
        ));
        rows.into_iter().next().unwrap_or_else(|| "absent".into())
    }
}

/// A CSV of `n` valid people, `person{i}@example.com`.
pub fn people_csv(n: usize) -> String {
    let mut csv = String::from("email,roles\n");
    for i in 0..n {
        csv.push_str(&format!("person{i}@example.com,ORG_MEMBER\n"));
    }
    csv
}

/// The binary under test, with a clean environment: no Atlas variable leaks in from the
/// machine running the tests, and no Atlas CLI profile either (the configuration directories
/// point where nothing exists; profile tests point them at their own).
pub fn atlas_invite() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_atlas-invite"));
    for (name, _) in std::env::vars() {
        if name.starts_with("MONGODB_ATLAS_") || name.starts_with("ATLAS_INVITE_") {
            cmd.env_remove(name);
        }
    }
    // The default journal lives in the state directory: it points where nothing exists too,
    // so that a test relying on it by mistake never writes into the real one (tests of the
    // default journal point it at their own scratch directory).
    let nowhere = std::env::temp_dir().join("atlas-invite-tests-no-config-here");
    cmd.env("HOME", &nowhere)
        .env("XDG_CONFIG_HOME", &nowhere)
        .env("XDG_STATE_HOME", nowhere.join("state"))
        .env("AppData", &nowhere);
    cmd.stdin(Stdio::null());
    cmd
}

/// `atlas-invite run CSV` against `sim`, with the test token and a fast client rate.
pub fn run_cmd(sim: &Sim, work: &Work, csv: &Path) -> Command {
    let mut cmd = atlas_invite();
    cmd.arg("run")
        .arg(csv)
        .args(["--org", ORG, "--base-url"])
        .arg(sim.url())
        .arg("--journal")
        .arg(work.journal())
        .args([
            "--rate",
            "1000/s",
            "--max-backoff",
            "200ms",
            "--timeout",
            "5s",
            // The shortest window `run` accepts with that timeout: tests whose requests go
            // unanswered wait this long before their lookup.
            "--settle",
            "5s",
        ])
        .env("MONGODB_ATLAS_ACCESS_TOKEN", TOKEN);
    cmd
}

/// Output of a finished command, with stdout and stderr as text.
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    /// The summary printed by `--format json`.
    pub fn json(&self) -> serde_json::Value {
        let line = self
            .stdout
            .lines()
            .rev()
            .find(|l| l.starts_with('{'))
            .unwrap_or_else(|| panic!("no JSON on stdout:\n{}\n{}", self.stdout, self.stderr));
        serde_json::from_str(line).expect("summary is JSON")
    }
}

impl std::fmt::Debug for Ran {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs a command to completion.
pub fn exec(cmd: &mut Command) -> Ran {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("binary runs");
    Ran {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}
