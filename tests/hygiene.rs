//! Robustness and hygiene: redirects are never followed, no output path overwrites the journal,
//! what reaches a terminal is neutralised, ranges are checked before anything is written, a
//! closed stdout ends quietly, concurrent creation of one journal, credentials in `--base-url`,
//! hidden characters in addresses, and `export --failed-only` files round-trip.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use atlas_sim::{Fault, SimConfig};

use crate::util::*;

/// A bare HTTP/1.1 server on 127.0.0.1 that answers every request with what `answer` makes of
/// its request line, and records every request it receives.
struct RawServer {
    url: String,
    connections: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl RawServer {
    fn start(answer: impl Fn(&str) -> String + Send + Sync + 'static) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (count, seen) = (connections.clone(), requests.clone());
        let answer = Arc::new(answer);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                count.fetch_add(1, Ordering::SeqCst);
                let (seen, answer) = (seen.clone(), answer.clone());
                std::thread::spawn(move || serve(stream, &seen, &*answer));
            }
        });
        RawServer {
            url,
            connections,
            requests,
        }
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// Reads one request (head and body), records it, answers, and closes the connection.
fn serve(stream: TcpStream, seen: &Mutex<Vec<String>>, answer: &dyn Fn(&str) -> String) {
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
        let end = line == "\r\n";
        head.push_str(&line);
        if end {
            break;
        }
    }
    let mut body = vec![0u8; length];
    let _ = reader.read_exact(&mut body);
    let request_line = head.lines().next().unwrap_or_default().to_owned();
    seen.lock()
        .unwrap()
        .push(format!("{head}{}", String::from_utf8_lossy(&body)));
    let _ = reader.get_mut().write_all(answer(&request_line).as_bytes());
}

/// A complete HTTP/1.1 answer that closes the connection.
fn http_answer(status: &str, headers: &[(&str, &str)], body: &str) -> String {
    let mut text = format!("HTTP/1.1 {status}\r\nconnection: close\r\n");
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
    text
}

/// `run` against any base URL, with the test token.
fn run_against(base_url: &str, work: &Work, csv: &std::path::Path) -> std::process::Command {
    let mut cmd = atlas_invite();
    cmd.arg("run")
        .arg(csv)
        .args(["--org", ORG, "--base-url", base_url, "--journal"])
        .arg(work.journal())
        .args([
            "--rate",
            "1000/s",
            "--max-backoff",
            "100ms",
            "--timeout",
            "5s",
        ])
        .env("MONGODB_ATLAS_ACCESS_TOKEN", TOKEN);
    cmd
}

// --- 2. Redirects are never followed -------------------------------------------------------

/// A base URL whose every answer is a redirect is caught by the check before sending: nothing
/// is sent, nothing written.
#[test]
fn a_redirecting_base_url_is_refused_before_anything_is_sent() {
    let elsewhere = RawServer::start(|_| http_answer("200 OK", &[], "[]"));
    let location = format!("{}/api/atlas/v2/orgs/{ORG}/users", elsewhere.url);
    let redirecting =
        RawServer::start(move |_| http_answer("302 Found", &[("location", &location)], ""));
    let work = Work::new();
    let csv = work.write("people.csv", "email\nann@example.com\n");
    let ran = exec(&mut run_against(&redirecting.url, &work, &csv));
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(ran.stderr.contains("check --base-url"), "{ran:?}");
    assert_eq!(redirecting.requests().len(), 1, "only the check: {ran:?}");
    assert!(redirecting.requests()[0].starts_with("GET "));
    assert_eq!(elsewhere.connections(), 0);
    assert!(!work.journal().exists());
}

#[test]
fn redirects_are_failures_that_send_nothing_to_the_location() {
    for code in [
        "301 Moved Permanently",
        "302 Found",
        "303 See Other",
        "307 Temporary Redirect",
        "308 Permanent Redirect",
    ] {
        let elsewhere = RawServer::start(|_| http_answer("201 Created", &[], "{\"id\":\"x\"}"));
        let location = format!("{}/api/atlas/v2/orgs/{ORG}/users", elsewhere.url);
        let redirecting = {
            let location = location.clone();
            // The organization check before sending (a GET) is answered; the invitation is
            // redirected.
            RawServer::start(move |request_line| {
                if request_line.starts_with("GET ") {
                    http_answer(
                        "200 OK",
                        &[("content-type", "application/vnd.atlas.2025-02-19+json")],
                        r#"{"results":[],"totalCount":0}"#,
                    )
                } else {
                    http_answer(code, &[("location", &location)], "")
                }
            })
        };
        let work = Work::new();
        let csv = work.write("people.csv", "email\nann@example.com\n");
        let ran = exec(&mut run_against(&redirecting.url, &work, &csv));
        assert_eq!(ran.code, 1, "{code}: {ran:?}");
        assert_eq!(work.status_of("ann@example.com"), "failed", "{code}");
        assert!(
            ran.stdout.contains(&format!("redirecting to {location}")),
            "{code}: {ran:?}"
        );
        assert!(ran.stdout.contains("check --base-url"), "{code}: {ran:?}");
        let posts = redirecting
            .requests()
            .iter()
            .filter(|r| r.starts_with("POST "))
            .count();
        assert_eq!(posts, 1, "{code}: not retried");
        assert_eq!(
            elsewhere.connections(),
            0,
            "{code}: the Location got something"
        );
    }
}

#[test]
fn a_redirected_token_request_sends_no_secret_elsewhere() {
    let elsewhere = RawServer::start(|_| http_answer("200 OK", &[], "{}"));
    let location = format!("{}/api/oauth/token", elsewhere.url);
    let redirecting = RawServer::start(move |_| {
        http_answer("307 Temporary Redirect", &[("location", &location)], "")
    });
    let work = Work::new();
    let csv = work.write("people.csv", "email\nann@example.com\n");
    let ran = exec(
        run_against(&redirecting.url, &work, &csv)
            .env_remove("MONGODB_ATLAS_ACCESS_TOKEN")
            .env("MONGODB_ATLAS_CLIENT_ID", "mdb_sa_id_0123")
            .env("MONGODB_ATLAS_CLIENT_SECRET", "mdb_sa_sk_very_secret"),
    );
    assert_ne!(ran.code, 0, "{ran:?}");
    assert!(
        format!("{}{}", ran.stdout, ran.stderr).contains("never redirected"),
        "{ran:?}"
    );
    assert!(
        redirecting
            .requests()
            .iter()
            .all(|r| r.contains("/api/oauth/token")),
        "{:?}",
        redirecting.requests()
    );
    assert_eq!(
        elsewhere.connections(),
        0,
        "the client secret went to the Location"
    );
}

// --- 5. Terminal safety --------------------------------------------------------------------

/// Bytes a terminal acts on: ESC (CSI, OSC), the 8-bit CSI, BEL, CR, NUL.
const RAW: [char; 6] = ['\u{1b}', '\u{9b}', '\u{7}', '\r', '\0', '\u{202e}'];

fn assert_no_raw(what: &str, text: &str) {
    for c in RAW {
        assert!(!text.contains(c), "{what} holds {c:?}:\n{text:?}");
    }
}

#[test]
fn server_text_and_csv_cells_reach_the_terminal_neutralised() {
    let body = serde_json::json!({
        "error": 400,
        "errorCode": "INVALID\u{1b}]0;owned\u{7}",
        "detail": "bad\u{1b}[2J\r\0detail\u{9b}31m\u{202e}",
        "reason": "Bad Request",
    })
    .to_string();
    let server = RawServer::start(move |_| {
        http_answer(
            "400 Bad Request",
            &[("content-type", "application/json")],
            &body,
        )
    });
    let work = Work::new();
    let csv = work.write(
        "people.csv",
        "email,roles,\"note\u{1b}]2;x\u{7}\u{202e}\r\"\n\
         ann@example.com,ORG_MEMBER,\n\
         \"bob\u{1b}[31m@example.com\",ORG_MEMBER,\n\
         cy@example.com,\"ORG_MEMBER\u{1b}]0;title\u{7}\",\n",
    );
    let ran = exec(&mut run_against(&server.url, &work, &csv));
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(ran.stdout.contains("failed ann@example.com"), "{ran:?}");
    assert!(
        ran.stdout.contains("bad"),
        "the detail is still shown: {ran:?}"
    );
    assert_no_raw("run stdout", &ran.stdout);
    assert_no_raw("run stderr", &ran.stderr);

    let validated = exec(atlas_invite().arg("validate").arg(&csv));
    assert_eq!(validated.code, 1, "{validated:?}");
    assert!(validated.stdout.contains("invalid"), "{validated:?}");
    assert_no_raw("validate stdout", &validated.stdout);
    assert_no_raw("validate stderr", &validated.stderr);

    let dry = exec(run_against(&server.url, &work, &csv).arg("--dry-run"));
    assert_no_raw("dry-run stdout", &dry.stdout);
    assert_no_raw("dry-run stderr", &dry.stderr);

    for listing in [
        &["report"][..],
        &["history", "ann@example.com"],
        &["status"],
    ] {
        let ran = exec(
            atlas_invite()
                .args(listing)
                .arg("--journal")
                .arg(work.journal()),
        );
        assert_eq!(ran.code, 0, "{listing:?}: {ran:?}");
        assert_no_raw("listing stdout", &ran.stdout);
    }
}

// --- 3. Nothing can overwrite the journal --------------------------------------------------

#[test]
fn export_refuses_to_write_over_the_journal_or_its_files() {
    let sim = Sim::healthy();
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(2));
    assert_eq!(exec(&mut run_cmd(&sim, &work, &csv)).code, 0);
    let before = std::fs::read(work.journal()).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(work.journal(), work.path("results.csv")).unwrap();
    let wal = format!("{}-wal", work.journal().display());
    let shm = format!("{}-shm", work.journal().display());
    let mut outs = vec![
        work.journal().display().to_string(),
        wal.clone(),
        shm.clone(),
    ];
    #[cfg(unix)]
    outs.push(work.path("results.csv").display().to_string());
    for out in outs {
        let ran = exec(
            atlas_invite()
                .arg("export")
                .arg(&csv)
                .args(["--out", &out, "--journal"])
                .arg(work.journal()),
        );
        assert_eq!(ran.code, 2, "{out}: {ran:?}");
        assert!(ran.stderr.contains("journal"), "{out}: {ran:?}");
        assert!(ran.stderr.contains("journal.db"), "{out}: {ran:?}");
        assert_eq!(std::fs::read(work.journal()).unwrap(), before, "{out}");
        assert!(
            !std::path::Path::new(&wal).exists() || out != wal,
            "{out} was created"
        );
    }
    // The journal still works.
    let ran = exec(
        atlas_invite()
            .arg("status")
            .arg("--journal")
            .arg(work.journal()),
    );
    assert_eq!(ran.code, 0, "{ran:?}");
}

// --- 8a. Ranges are checked before anything is written -------------------------------------

#[test]
fn out_of_range_options_are_usage_errors_before_the_journal_exists() {
    let sim = Sim::healthy();
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(2));
    for bad in [
        &["--concurrency", "0"][..],
        &["--concurrency", "100000"],
        &["--timeout", "0s"],
        &["--timeout", "10000000000s"],
        &["--max-backoff", "10000000000s"],
    ] {
        let ran = exec(run_cmd(&sim, &work, &csv).args(bad));
        assert_eq!(ran.code, 2, "{bad:?}: {ran:?}");
        assert!(!work.journal().exists(), "{bad:?} created the journal");
    }
    assert_eq!(sim.stats().requests, 0);
}

// --- 8b. A closed stdout ends quietly ------------------------------------------------------

#[test]
fn a_closed_stdout_never_panics() {
    let work = Work::new();
    let mut big = String::from("email,roles\n");
    for i in 0..3000 {
        big.push_str(&format!("person{i}@example.com,ORG_MEMBER\n"));
    }
    let csv = work.write("people.csv", big);
    let sim = Sim::healthy();
    // Fill the journal so that the listings have rows to print (more people than Atlas takes
    // per organization: the limit is not what this is about).
    assert_eq!(
        exec(run_cmd(&sim, &work, &csv).args(["--max-org-users", "100000"])).code,
        0
    );
    let journal = work.journal().display().to_string();
    let path = csv.display().to_string();
    let other_journal = work.path("simulate.db").display().to_string();
    let commands: Vec<Vec<&str>> = vec![
        vec![
            "run",
            "--simulate",
            "--dry-run",
            &path,
            "--journal",
            &other_journal,
        ],
        vec![
            "run",
            "--simulate",
            "--dry-run",
            &path,
            "--journal",
            &other_journal,
            "--format",
            "json",
        ],
        vec!["validate", &path],
        vec!["status", "--journal", &journal],
        vec!["report", "--journal", &journal],
        vec!["runs", "--journal", &journal],
        vec!["history", "person1@example.com", "--journal", &journal],
        vec!["export", &path, "--journal", &journal],
    ];
    for args in commands {
        let mut child = atlas_invite()
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("binary runs");
        // Close the reading end before the command writes anything.
        drop(child.stdout.take());
        let output = child.wait_with_output().expect("binary ends");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_ne!(output.status.code(), Some(101), "{args:?}: {stderr}");
        assert!(
            output.status.code().is_some(),
            "{args:?} was killed: {stderr}"
        );
    }
}

// --- 8e. Runs creating the same new journal at the same instant ----------------------------

#[test]
fn concurrent_runs_on_a_new_journal_succeed_or_say_it_is_in_use() {
    for round in 0..3 {
        let sim = Sim::healthy();
        let work = Work::new();
        let csv = work.write("people.csv", people_csv(3));
        let children: Vec<_> = (0..8)
            .map(|_| {
                run_cmd(&sim, &work, &csv)
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("binary runs")
            })
            .collect();
        let mut succeeded = 0;
        for child in children {
            let output = child.wait_with_output().expect("binary ends");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                !stderr.contains("already exists"),
                "round {round}: {stderr}"
            );
            assert!(
                !stderr.contains("CREATE"),
                "round {round}: SQL printed: {stderr}"
            );
            match output.status.code() {
                Some(0) => succeeded += 1,
                code => assert!(
                    stderr.contains("is in use by another atlas-invite run"),
                    "round {round}: exit {code:?}: {stderr}"
                ),
            }
        }
        assert!(succeeded >= 1, "round {round}: nobody ran");
        assert_eq!(
            sim.stats().created,
            3,
            "round {round}: each person invited once"
        );
    }
}

// --- 9. Data hygiene -----------------------------------------------------------------------

#[test]
fn a_password_in_the_base_url_is_refused_and_never_stored() {
    let sim = Sim::healthy();
    let work = Work::new();
    let csv = work.write("people.csv", people_csv(1));
    let with_password = sim.url().replace("http://", "http://admin:hunter2@");
    let ran = exec(run_cmd(&sim, &work, &csv).args(["--base-url", &with_password]));
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(ran.stderr.contains("user name or password"), "{ran:?}");
    assert!(
        !format!("{}{}", ran.stdout, ran.stderr).contains("hunter2"),
        "{ran:?}"
    );
    assert!(!work.journal().exists(), "nothing is written");
    assert_eq!(sim.stats().requests, 0);

    // The Atlas CLI's variable is checked alike, and so are doctor and reconcile.
    let ran = exec(
        atlas_invite()
            .arg("run")
            .arg(&csv)
            .args(["--org", ORG, "--journal"])
            .arg(work.journal())
            .env("MONGODB_ATLAS_ACCESS_TOKEN", TOKEN)
            .env("MONGODB_ATLAS_OPS_MANAGER_URL", &with_password),
    );
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(ran.stderr.contains("user name or password"), "{ran:?}");
    assert!(!work.journal().exists(), "nothing is written");
    for command in ["doctor", "reconcile"] {
        let ran = exec(
            atlas_invite()
                .args([
                    command,
                    "--org",
                    ORG,
                    "--base-url",
                    &with_password,
                    "--journal",
                ])
                .arg(work.journal())
                .env("MONGODB_ATLAS_ACCESS_TOKEN", TOKEN),
        );
        assert_eq!(ran.code, 2, "{command}: {ran:?}");
        assert!(!ran.stderr.contains("hunter2"), "{command}: {ran:?}");
    }

    // Without them, the run goes through and records the plain URL.
    assert_eq!(exec(&mut run_cmd(&sim, &work, &csv)).code, 0);
    assert_eq!(work.query("SELECT base_url FROM runs"), vec![sim.url()]);
}

#[test]
fn hidden_characters_and_quoted_addresses_are_invalid_rows() {
    let work = Work::new();
    let csv = work.write(
        "people.csv",
        "email,roles\n\
         ann\u{200b}@example.com,ORG_MEMBER\n\
         bob@exam\u{202e}ple.com,ORG_MEMBER\n\
         \"\"\"a b\"\"@example.com\",ORG_MEMBER\n\
         cy\u{2066}@example.com,ORG_MEMBER\n\
         dee@example.com\u{feff}x,ORG_MEMBER\n\
         ok@example.com,ORG_MEMBER\n",
    );
    let ran = exec(atlas_invite().arg("validate").arg(&csv));
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(ran.stdout.contains("1 valid, 5 invalid"), "{ran:?}");
    for (line, reason) in [
        (2, "invisible character U+200B in email"),
        (3, "invisible character U+202E in email"),
        (4, "quoted part"),
        (5, "invisible character U+2066 in email"),
        (6, "invisible character U+FEFF in email"),
    ] {
        let row = ran
            .stdout
            .lines()
            .find(|l| l.starts_with(&format!("line {line:>5}")))
            .unwrap_or_else(|| panic!("no line {line}: {ran:?}"));
        assert!(row.contains("invalid") && row.contains(reason), "{row}");
    }
    assert_no_raw("validate", &ran.stdout);
    let json = exec(
        atlas_invite()
            .arg("validate")
            .arg(&csv)
            .args(["--format", "json"]),
    );
    let report: serde_json::Value = serde_json::from_str(json.stdout.trim()).unwrap();
    assert_eq!(report["invalid"].as_array().unwrap().len(), 5);
}

// --- 10. Results files round-trip ----------------------------------------------------------

const T_ONCALL: &str = "65a1f0c2e4b7d9a3c5e8f102";
const T_OPS: &str = "65a1f0c2e4b7d9a3c5e8f103";
const T_PLUS: &str = "65a1f0c2e4b7d9a3c5e8f104";
const T_MINUS: &str = "65a1f0c2e4b7d9a3c5e8f105";
const P_PROD: &str = "65b2e1d3f5a7c9b1d3e5f201";
const P_STAGE: &str = "65b2e1d3f5a7c9b1d3e5f202";

/// A simulator whose teams and projects have names a spreadsheet would read as formulas.
fn formula_named_sim(config: SimConfig) -> Sim {
    let pairs = |items: &[(&str, &str)]| -> Vec<(String, String)> {
        items
            .iter()
            .map(|(id, name)| ((*id).to_owned(), (*name).to_owned()))
            .collect()
    };
    Sim::start(SimConfig {
        teams: pairs(&[
            (T_ONCALL, "@oncall"),
            (T_OPS, "=ops"),
            (T_PLUS, "+plus"),
            (T_MINUS, "-minus"),
        ]),
        projects: pairs(&[(P_PROD, "=Prod"), (P_STAGE, "-Stage")]),
        ..config
    })
}

/// What Atlas was asked to grant `email`: roles, teams and projects.
fn grants_of(sim: &Sim, email: &str) -> String {
    let invitations = sim.state().invitations_for(email);
    assert_eq!(invitations.len(), 1, "{email}: {invitations:?}");
    let i = &invitations[0];
    format!(
        "{:?} {:?} {:?}",
        i.roles, i.team_ids, i.group_role_assignments
    )
}

#[test]
fn a_failed_only_export_gives_run_the_same_grants() {
    let original = "Email,Roles,Teams,Projects,Dept\n\
                    ann@example.com,ORG_MEMBER,@oncall;=ops,=Prod:GROUP_READ_ONLY,@home\n\
                    bob@example.com,ORG_OWNER,+plus,-Stage:GROUP_OWNER,=office\n\
                    cy@example.com,ORG_MEMBER,-minus,,@home\n\
                    dee@example.com,ORG_MEMBER,=ops|@oncall,-Stage:GROUP_READ_ONLY,-\n";
    // Reference: the original file against a healthy organization.
    let reference = formula_named_sim(SimConfig::default());
    let work = Work::new();
    let csv = work.write("people.csv", original);
    let ran = exec(&mut run_cmd(&reference, &work, &csv));
    assert_eq!(ran.code, 0, "{ran:?}");

    // The same file where Atlas refuses three of them once.
    let sim = formula_named_sim(
        SimConfig::default()
            .with_script("ann@example.com", [Fault::Status(400)])
            .with_script("bob@example.com", [Fault::Status(400)])
            .with_script("dee@example.com", [Fault::Status(400)]),
    );
    let work = Work::new();
    let csv = work.write("people.csv", original);
    let ran = exec(&mut run_cmd(&sim, &work, &csv));
    assert_eq!(ran.code, 1, "{ran:?}");
    assert_eq!(work.status_of("ann@example.com"), "failed");

    let failed = work.path("failed.csv");
    let ran = exec(
        atlas_invite()
            .arg("export")
            .arg(&csv)
            .arg("--failed-only")
            .arg("--out")
            .arg(&failed)
            .arg("--journal")
            .arg(work.journal()),
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    let written = std::fs::read_to_string(&failed).unwrap();
    // Still safe in a spreadsheet: every formula-like cell is guarded.
    for guarded in [
        "'@oncall;=ops",
        "'=Prod:GROUP_READ_ONLY",
        "'@home",
        "'+plus",
        "'-Stage",
        "'=office",
        "'-\n",
    ] {
        assert!(
            written.contains(guarded),
            "{guarded} missing in:\n{written}"
        );
    }
    assert!(
        !written.contains("cy@example.com"),
        "cy is done:\n{written}"
    );

    // validate reads the same grants from both files.
    let grants_in = |path: &std::path::Path| -> Vec<serde_json::Value> {
        let ran = exec(
            atlas_invite()
                .arg("validate")
                .arg(path)
                .args(["--format", "json"]),
        );
        let report: serde_json::Value = serde_json::from_str(ran.stdout.trim()).unwrap();
        report["valid"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|row| row["email"] != "cy@example.com")
            .map(|row| {
                let mut row = row.clone();
                row.as_object_mut().unwrap().remove("line");
                row
            })
            .collect()
    };
    assert_eq!(grants_in(&failed), grants_in(&csv));

    // --where compares the unguarded value.
    let ran = exec(
        atlas_invite()
            .arg("validate")
            .arg(&failed)
            .args(["--where", "Dept=@home"]),
    );
    assert!(ran.stdout.contains("1 rows: 1 valid"), "{ran:?}");

    // And run sends exactly what the original file asked for.
    let ran = exec(&mut run_cmd(&sim, &work, &failed));
    assert_eq!(ran.code, 0, "{ran:?}");
    for email in ["ann@example.com", "bob@example.com", "dee@example.com"] {
        assert_eq!(
            grants_of(&sim, email),
            grants_of(&reference, email),
            "{email}"
        );
    }
    let ann = &sim.state().invitations_for("ann@example.com")[0];
    assert_eq!(ann.team_ids, vec![T_ONCALL, T_OPS]);
    let bob = &sim.state().invitations_for("bob@example.com")[0];
    assert_eq!(bob.team_ids, vec![T_PLUS]);
    assert_eq!(bob.roles, vec!["ORG_OWNER"]);
}
