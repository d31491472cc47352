//! Atlas CLI profiles: `--profile`/`-P` and `MONGODB_ATLAS_PROFILE` pick one, the `default`
//! profile fills in what flags and environment leave out, flags beat the environment which
//! beats the profile, a missing profile or a broken file is a usage error, and no secret read
//! from the file reaches output or journal. Every test has its own configuration directory.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use atlas_sim::SimConfig;

use crate::util::*;

/// An organization the test simulators do not know: using it means a 404.
const OTHER_ORG: &str = "64b7e2f0c1d2e3f4a5b6c7d8";
const CLIENT_ID: &str = "mdb_sa_id_profile0001";
const CLIENT_SECRET: &str = "mdb_sa_sk_pr0file-s3cret-value";
const PUBLIC_KEY: &str = "profpubk";
const PRIVATE_KEY: &str = "99999999-8888-7777-6666-pr0filesecret";
/// A token the simulators refuse: a profile holding it must not be the one used.
const WRONG_TOKEN: &str = "wrong-pr0file-token-s3cret";

/// A configuration home of one test, where the binary looks for the Atlas CLI's file.
struct Home {
    home: PathBuf,
    xdg: PathBuf,
    file: PathBuf,
}

impl Home {
    /// Writes `config.toml` where the Atlas CLI keeps it on this platform.
    fn new(work: &Work, text: &str) -> Home {
        let home = work.path("home");
        let xdg = work.path("xdg");
        let dir = if cfg!(target_os = "macos") {
            home.join("Library").join("Application Support")
        } else {
            xdg.clone()
        }
        .join("atlascli");
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("config.toml");
        std::fs::write(&file, text).unwrap();
        Home { home, xdg, file }
    }

    /// `atlas-invite ARGS` reading this home's configuration.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = atlas_invite();
        cmd.args(args)
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", &self.xdg);
        cmd
    }

    /// `doctor ARGS` reading this home's configuration.
    fn doctor(&self, args: &[&str]) -> Command {
        let mut cmd = self.cmd(&["doctor"]);
        cmd.args(args);
        cmd
    }

    fn shown(&self) -> String {
        self.file.display().to_string()
    }
}

/// `run CSV` with the test pacing, and no organization, base URL or credentials.
fn bare_run(home: &Home, work: &Work, csv: &Path) -> Command {
    let mut cmd = home.cmd(&["run"]);
    cmd.arg(csv).arg("--journal").arg(work.journal()).args([
        "--rate",
        "1000/s",
        "--max-backoff",
        "200ms",
        "--timeout",
        "5s",
        "--settle",
        "5s",
    ]);
    cmd
}

fn doctor_json(ran: &Ran) -> serde_json::Value {
    serde_json::from_str(ran.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {ran:?}"))
}

/// A file whose `default` profile would fail (wrong token, unknown organization), with a
/// `work` profile that succeeds against `sim`.
fn two_profiles(sim: &Sim) -> String {
    format!(
        "version = 2\n\n\
         [default]\n  org_id = \"{OTHER_ORG}\"\n  ops_manager_url = \"{url}\"\n  access_token = \"{WRONG_TOKEN}\"\n\n\
         [work]\n  org_id = \"{ORG}\"\n  ops_manager_url = \"{url}\"\n  access_token = \"{TOKEN}\"\n",
        url = sim.url()
    )
}

#[test]
fn the_profile_flag_or_variable_picks_the_profile() {
    let sim = Sim::healthy();
    let work = Work::new();
    let home = Home::new(&work, &two_profiles(&sim));

    let ran = exec(&mut home.doctor(&["-P", "work"]));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(
        ran.stdout
            .contains(&format!("organization  {ORG} (from profile work)")),
        "{ran:?}"
    );
    assert!(
        ran.stdout.contains("access token from profile work"),
        "{ran:?}"
    );
    assert!(ran.stdout.contains("(from profile work)"), "{ran:?}");

    let ran = exec(
        home.doctor(&["--format", "json"])
            .env("MONGODB_ATLAS_PROFILE", "work"),
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    let json = doctor_json(&ran);
    assert_eq!(json["profile"], "work");
    assert_eq!(json["credentials_from"], "profile");
    assert_eq!(json["org_id_from"], "profile");
    assert_eq!(json["base_url_from"], "profile");
    assert_eq!(json["org_id"], ORG);
    // One check each (doctor also reads the rate limits, which are not the check).
    let stats = sim.stats();
    assert_eq!(stats.requests - stats.rate_limit_gets, 2, "one check each");
}

#[test]
fn the_default_profile_is_used_when_nothing_else_gives_settings() {
    let sim = Sim::start(SimConfig {
        api_keys: vec![(PUBLIC_KEY.into(), PRIVATE_KEY.into())],
        ..SimConfig::default()
    });
    let work = Work::new();
    let text = format!(
        "[default]\norg_id = \"{ORG}\"\nops_manager_url = \"{}\"\npublic_api_key = \"{PUBLIC_KEY}\"\nprivate_api_key = \"{PRIVATE_KEY}\"\n",
        sim.url()
    );
    let home = Home::new(&work, &text);
    let before = std::fs::metadata(&home.file).unwrap().modified().unwrap();
    let csv = work.write("people.csv", people_csv(3));

    let ran = exec(bare_run(&home, &work, &csv).args(["--format", "json"]));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(ran.json()["invited"], 3);
    assert_eq!(sim.invitations_for("person2@example.com"), 1);
    assert_eq!(
        work.query("SELECT org_id || ' ' || base_url || ' ' || json_extract(options, '$.profile') FROM runs"),
        vec![format!("{ORG} {} default", sim.url())]
    );

    let ran = exec(&mut home.doctor(&[]));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(
        ran.stdout.contains(&format!(
            "API key {PUBLIC_KEY} (HTTP Digest) from profile default"
        )),
        "{ran:?}"
    );

    // Read, never written.
    assert_eq!(std::fs::read_to_string(&home.file).unwrap(), text);
    assert_eq!(
        std::fs::metadata(&home.file).unwrap().modified().unwrap(),
        before
    );
}

#[test]
fn the_environment_overrides_the_profile() {
    let sim = Sim::healthy();
    let work = Work::new();
    // The default profile's token and organization are wrong; its base URL is right.
    let home = Home::new(&work, &two_profiles(&sim));

    let ran = exec(
        home.doctor(&["--format", "json"])
            .env("MONGODB_ATLAS_ACCESS_TOKEN", TOKEN)
            .env("MONGODB_ATLAS_ORG_ID", ORG),
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    let json = doctor_json(&ran);
    assert_eq!(json["profile"], "default");
    assert_eq!(json["credentials_from"], "env");
    assert_eq!(json["org_id_from"], "env");
    assert_eq!(json["base_url_from"], "profile");
    assert!(
        json["credentials"]
            .as_str()
            .unwrap()
            .contains("MONGODB_ATLAS_ACCESS_TOKEN"),
        "{json}"
    );

    // Without the environment's organization, the profile's (unknown) one is used.
    let ran = exec(home.doctor(&[]).env("MONGODB_ATLAS_ACCESS_TOKEN", TOKEN));
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(
        ran.stdout
            .contains(&format!("organization  {OTHER_ORG} (from profile default)")),
        "{ran:?}"
    );
    assert!(
        ran.stdout.contains("HTTP 404") || ran.stdout.contains("not found"),
        "{ran:?}"
    );

    // The environment's base URL beats the profile's: nothing listens on port 1.
    let ran = exec(
        home.doctor(&["-P", "work", "--timeout", "2s"])
            .env("MONGODB_ATLAS_OPS_MANAGER_URL", "http://127.0.0.1:1"),
    );
    assert_ne!(ran.code, 0, "{ran:?}");
    assert!(
        ran.stdout.contains(
            "http://127.0.0.1:1 (from environment variable MONGODB_ATLAS_OPS_MANAGER_URL)"
        ),
        "{ran:?}"
    );
}

#[test]
fn flags_override_the_environment() {
    let sim = Sim::healthy();
    let work = Work::new();
    let home = Home::new(&work, &two_profiles(&sim));
    let ran = exec(
        home.doctor(&[
            "--format",
            "json",
            "--profile",
            "work",
            "--org",
            ORG,
            "--base-url",
            &sim.url(),
        ])
        .env("MONGODB_ATLAS_PROFILE", "no-such-profile")
        .env("MONGODB_ATLAS_ORG_ID", OTHER_ORG)
        .env("MONGODB_ATLAS_BASE_URL", "http://127.0.0.1:1"),
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    let json = doctor_json(&ran);
    assert_eq!(json["profile"], "work");
    assert_eq!(json["org_id_from"], "flag");
    assert_eq!(json["base_url_from"], "flag");
    assert_eq!(json["credentials_from"], "profile");
    let stats = sim.stats();
    assert_eq!(stats.requests - stats.rate_limit_gets, 1);
}

#[test]
fn a_missing_profile_is_a_usage_error_naming_the_file() {
    let sim = Sim::healthy();
    let work = Work::new();
    let home = Home::new(&work, &two_profiles(&sim));
    let csv = work.write("people.csv", people_csv(2));

    let ran = exec(bare_run(&home, &work, &csv).args(["-P", "prod"]));
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(ran.stderr.contains("no profile \"prod\""), "{ran:?}");
    assert!(ran.stderr.contains(&home.shown()), "{ran:?}");
    assert!(ran.stderr.contains("\"default\", \"work\""), "{ran:?}");
    assert!(!work.journal().exists(), "nothing written");

    let ran = exec(
        home.doctor(&[])
            .env("MONGODB_ATLAS_PROFILE", "prod")
            .env("MONGODB_ATLAS_ACCESS_TOKEN", TOKEN),
    );
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(ran.stderr.contains("MONGODB_ATLAS_PROFILE"), "{ran:?}");

    // A profile named where there is no file at all.
    std::fs::remove_file(&home.file).unwrap();
    let ran = exec(&mut home.doctor(&["-P", "work"]));
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(
        ran.stderr.contains("no Atlas CLI configuration at"),
        "{ran:?}"
    );
    assert!(ran.stderr.contains(&home.shown()), "{ran:?}");
    assert_eq!(sim.stats().requests, 0, "nothing was sent");
}

#[test]
fn a_malformed_file_is_a_usage_error_without_its_secrets() {
    let sim = Sim::healthy();
    let work = Work::new();
    let secret = "tok-in-a-br0ken-file-s3cret";
    let home = Home::new(
        &work,
        &format!(
            "[default]\norg_id = \"{ORG}\"\naccess_token = \"{secret}\nprivate_api_key = {PRIVATE_KEY}\n"
        ),
    );
    let csv = work.write("people.csv", people_csv(2));
    let runs = [
        exec(&mut home.doctor(&["--base-url", &sim.url()])),
        exec(bare_run(&home, &work, &csv).args(["--base-url", &sim.url()])),
        exec(bare_run(&home, &work, &csv).args(["--dry-run"])),
    ];
    for ran in runs {
        assert_eq!(ran.code, 2, "{ran:?}");
        assert!(ran.stderr.contains("is not valid TOML"), "{ran:?}");
        assert!(ran.stderr.contains(&home.shown()), "{ran:?}");
        assert!(ran.stderr.contains("line 3"), "{ran:?}");
        for leak in [secret, PRIVATE_KEY] {
            assert!(!ran.stderr.contains(leak), "{ran:?}");
            assert!(!ran.stdout.contains(leak), "{ran:?}");
        }
    }
    // A value of the wrong type is named by its key, not shown.
    std::fs::write(&home.file, "[default]\nclient_secret = 31415926535\n").unwrap();
    let ran = exec(&mut home.doctor(&["--org", ORG]));
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(
        ran.stderr.contains("client_secret of profile default"),
        "{ran:?}"
    );
    assert!(!ran.stderr.contains("31415926535"), "{ran:?}");
    assert_eq!(sim.stats().requests, 0, "nothing was sent");
    assert!(!work.journal().exists(), "nothing written");
}

#[test]
fn keyring_profiles_are_refused_with_what_to_do() {
    let sim = Sim::healthy();
    let work = Work::new();
    let home = Home::new(
        &work,
        &format!(
            "version = 2\n[default]\norg_id = \"{ORG}\"\nservice = \"cloud\"\nauth_type = \"api_keys\"\n"
        ),
    );
    let ran = exec(&mut home.doctor(&["--base-url", &sim.url()]));
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(ran.stderr.contains("keyring"), "{ran:?}");
    assert!(
        ran.stderr.contains("MONGODB_ATLAS_PRIVATE_API_KEY"),
        "{ran:?}"
    );
    // What the error advises works, with the profile's organization.
    let ran = exec(
        home.doctor(&["--base-url", &sim.url()])
            .env("MONGODB_ATLAS_ACCESS_TOKEN", TOKEN),
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(ran.stdout.contains("(from profile default)"), "{ran:?}");
}

#[test]
fn secrets_from_profiles_never_reach_output_or_journal() {
    let sim = Sim::start(SimConfig {
        service_accounts: vec![(CLIENT_ID.into(), CLIENT_SECRET.into())],
        api_keys: vec![(PUBLIC_KEY.into(), PRIVATE_KEY.into())],
        token_ttl: Duration::from_secs(3600),
        ..SimConfig::default()
    });
    let work = Work::new();
    let url = sim.url();
    let home = Home::new(
        &work,
        &format!(
            "[token]\norg_id = \"{ORG}\"\nops_manager_url = \"{url}\"\naccess_token = \"{TOKEN}\"\n\n\
             [sa]\norg_id = \"{ORG}\"\nops_manager_url = \"{url}\"\nauth_type = \"service_account\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"{CLIENT_SECRET}\"\n\n\
             [keys]\norg_id = \"{ORG}\"\nops_manager_url = \"{url}\"\npublic_api_key = \"{PUBLIC_KEY}\"\nprivate_api_key = \"{PRIVATE_KEY}\"\n\n\
             [wrong]\norg_id = \"{ORG}\"\nops_manager_url = \"{url}\"\naccess_token = \"{WRONG_TOKEN}\"\n"
        ),
    );
    let csv = work.write("people.csv", people_csv(4));
    let mut outputs = Vec::new();
    for (profile, kind) in [
        ("token", "access token"),
        ("sa", "service account"),
        ("keys", "API key"),
    ] {
        let ran = exec(bare_run(&home, &work, &csv).args(["-P", profile, "--format", "json"]));
        assert_eq!(ran.code, 0, "{ran:?}");
        outputs.push(ran.stdout);
        outputs.push(ran.stderr);
        for format in ["text", "json"] {
            let ran = exec(&mut home.doctor(&["-P", profile, "--format", format]));
            assert_eq!(ran.code, 0, "{ran:?}");
            assert!(ran.stdout.contains(kind), "{ran:?}");
            assert!(ran.stdout.contains(&format!("profile {profile}")) || format == "json");
            outputs.push(ran.stdout);
            outputs.push(ran.stderr);
        }
    }
    // Refused credentials: the error and the hint, still without the token.
    let ran = exec(&mut home.doctor(&["-P", "wrong"]));
    assert_eq!(ran.code, 3, "{ran:?}");
    assert!(ran.stdout.contains("Atlas CLI command"), "{ran:?}");
    outputs.push(ran.stdout);
    outputs.push(ran.stderr);
    let ran = exec(bare_run(&home, &work, &csv).args(["-P", "wrong"]));
    assert_eq!(ran.code, 3, "{ran:?}");
    outputs.push(ran.stdout);
    outputs.push(ran.stderr);

    assert_eq!(
        work.query("SELECT json_extract(options, '$.profile') FROM runs ORDER BY id"),
        vec!["token", "sa", "keys"]
    );
    let mut files = vec![std::fs::read(work.journal()).unwrap()];
    files.push(std::fs::read(work.path("journal.db-wal")).unwrap_or_default());
    for secret in [TOKEN, CLIENT_SECRET, PRIVATE_KEY, WRONG_TOKEN] {
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
fn a_dry_run_takes_the_organization_from_the_profile_and_needs_no_credentials() {
    let work = Work::new();
    let home = Home::new(&work, &format!("[default]\norg_id = \"{ORG}\"\n"));
    let csv = work.write("people.csv", people_csv(2));
    let ran = exec(
        bare_run(&home, &work, &csv)
            .arg("--dry-run")
            // Half a pair: an error for a command that sends, not for one that does not.
            .env("MONGODB_ATLAS_CLIENT_ID", CLIENT_ID),
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(
        ran.stdout
            .contains(&format!("would send 2 invitations to org {ORG}")),
        "{ran:?}"
    );
    let ran = exec(bare_run(&home, &work, &csv).env("MONGODB_ATLAS_CLIENT_ID", CLIENT_ID));
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(
        ran.stderr.contains("MONGODB_ATLAS_CLIENT_SECRET"),
        "{ran:?}"
    );
}
