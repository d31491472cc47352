//! `report --format html`: one self-contained page, every text from the journal escaped, the
//! `report` filters applied, `--out` never the journal; and, when a Chromium is installed, the
//! page as a real browser renders it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use atlas_sim::{Fault, SimConfig};

use crate::util::*;

/// A roster whose texts would be markup if they were not escaped: an address with a quote and
/// an ampersand (valid, so invited), and a `<script>` that is no address (invalid).
const HOSTILE: &str = "email,roles\n\
    ann@example.com,owner\n\
    o'neil&co@example.com,member\n\
    bob@example.com,member\n\
    rl@example.com,member\n\
    <script>alert(1)</script>,member\n";

/// One run against a simulator where bob is refused (400) and rl is rate-limited once; the
/// CSV's own name holds markup too. Returns the scratch directory and the CSV path.
fn journal_with_every_section() -> (Work, PathBuf) {
    let sim = Sim::start(
        SimConfig::default()
            .with_script("bob@example.com", [Fault::Status(400)])
            .with_script(
                "rl@example.com",
                [Fault::RateLimited {
                    retry_after: Some(1),
                }],
            ),
    );
    let work = Work::new();
    let csv = work.write("a&b \"<i>\".csv", HOSTILE);
    let ran = exec(&mut run_cmd(&sim, &work, &csv));
    assert_eq!(ran.code, 1, "bob failed: {ran:?}");
    (work, csv)
}

fn report(work: &Work, args: &[&str]) -> Command {
    let mut cmd = atlas_invite();
    cmd.arg("report")
        .arg("--journal")
        .arg(work.journal())
        .args(args);
    cmd
}

/// The number on the card of `status`.
fn card(page: &str, status: &str) -> Option<u64> {
    let marker = format!("data-status=\"{status}\"><b>");
    let start = page.find(&marker)? + marker.len();
    page[start..].split("</b>").next()?.parse().ok()
}

#[test]
fn the_html_page_is_self_contained_escaped_and_filtered() {
    let (work, csv) = journal_with_every_section();
    let out = work.path("report.html");
    let ran = exec(report(&work, &["--format", "html", "--out"]).arg(&out));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(ran.stdout.is_empty(), "the page went to the file: {ran:?}");
    assert!(ran.stderr.contains("wrote 5 people"), "{ran:?}");
    let page = std::fs::read_to_string(&out).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "readable by its owner only: {mode:o}");
    }

    assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
    assert!(page.trim_end().ends_with("</html>"));
    assert_eq!(card(&page, "total"), Some(5), "{page}");
    assert_eq!(card(&page, "invited"), Some(3));
    assert_eq!(card(&page, "failed"), Some(1));
    assert_eq!(card(&page, "invalid"), Some(1));
    assert_eq!(card(&page, "pending"), Some(0));

    // Escaped: the address, the script, the CSV path; nothing from the journal is markup.
    assert!(page.contains("o&#39;neil&amp;co@example.com"), "{page}");
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}"
    );
    assert!(
        page.contains(&format!(
            "{}/a&amp;b &quot;&lt;i&gt;&quot;.csv",
            csv.parent().unwrap().display()
        )),
        "{page}"
    );
    let lower = page.to_lowercase();
    assert!(!lower.contains("<script"), "no script at all");
    assert!(!lower.contains("<i>"));
    // Self-contained: nothing to fetch, and a policy that forbids fetching.
    for needle in ["src=", "href=", "url(", "@import", "http://", "https://"] {
        assert!(!lower.contains(needle), "{needle} in the page");
    }
    assert!(page.contains("default-src 'none'"));

    // The sections: the run and its rate-limit pause, the failure and its reason, expiry.
    assert!(page.contains("id=\"run-1\""), "{page}");
    assert!(page.contains("class=\"pause\""), "rl's 429 paused the run");
    assert!(
        page.contains("1 rate-limit pause after 1 answer 429"),
        "{page}"
    );
    let failures = &page[page.find("id=\"failures\"").unwrap()..];
    assert!(failures.contains("bob@example.com"));
    assert!(failures.contains("<td class=\"n\">400</td>"), "{failures}");
    assert!(page.contains("no reconcile recorded yet"));
    assert!(!page.contains(TOKEN), "no secret");

    // The report filters apply to the page: failed people only, and the run that acted on them.
    let failed = exec(&mut report(
        &work,
        &["--format", "html", "--status", "failed"],
    ));
    assert_eq!(failed.code, 0, "{failed:?}");
    let page = failed.stdout;
    assert!(page.starts_with("<!DOCTYPE html>"), "without --out, stdout");
    assert_eq!(card(&page, "total"), Some(1), "{page}");
    assert_eq!(card(&page, "invited"), Some(0));
    assert!(page.contains("<code>--status failed</code>"), "{page}");
    assert!(page.contains("bob@example.com"));
    assert!(!page.contains("ann@example.com"), "{page}");
    assert!(page.contains("id=\"run-1\""));
    let none = exec(&mut report(&work, &["--format", "html", "--run", "7"]));
    assert_eq!(none.code, 0, "{none:?}");
    assert_eq!(card(&none.stdout, "total"), Some(0));
    assert!(none.stdout.contains("No run matches."), "{none:?}");

    // --out works for the other formats too, and never overwrites the journal.
    let json_out = work.path("report.json");
    let json = exec(report(&work, &["--format", "json", "--out"]).arg(&json_out));
    assert_eq!(json.code, 0, "{json:?}");
    let people: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_out).unwrap()).unwrap();
    assert_eq!(people.as_array().unwrap().len(), 5);
    let before = std::fs::read(work.journal()).unwrap();
    let refused = exec(report(&work, &["--format", "html", "--out"]).arg(work.journal()));
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(
        refused.stderr.contains("refusing to write --out"),
        "{refused:?}"
    );
    assert_eq!(std::fs::read(work.journal()).unwrap(), before);
}

/// A Chromium to render with: `$CHROMIUM`, else the usual names on `PATH`.
fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM").map(PathBuf::from)
        && path.is_file()
    {
        return Some(path);
    }
    let names = [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ];
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// Runs headless Chromium on `page` with `args`; its stdout. Gives up (and fails the test)
/// when the browser has not finished after two minutes, so a wedged browser cannot hang CI.
fn headless(browser: &Path, profile: &Path, page: &Path, args: &[String]) -> String {
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().expect("chromium waits").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{} did not finish within two minutes", browser.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = child.wait_with_output().expect("chromium output");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_html_page_renders_in_a_real_browser() {
    let Some(browser) = chromium() else {
        println!("skipped: no chromium found (install Debian's `chromium`, or set CHROMIUM)");
        return;
    };
    let (work, _csv) = journal_with_every_section();
    let page = work.path("report.html");
    let ran = exec(report(&work, &["--format", "html", "--out"]).arg(&page));
    assert_eq!(ran.code, 0, "{ran:?}");
    let profile = work.path("chromium-profile");

    let dom = headless(&browser, &profile, &page, &["--dump-dom".to_owned()]);
    assert_eq!(card(&dom, "total"), Some(5), "{dom}");
    assert_eq!(card(&dom, "invited"), Some(3), "{dom}");
    assert_eq!(card(&dom, "failed"), Some(1), "{dom}");
    assert_eq!(card(&dom, "invalid"), Some(1), "{dom}");
    assert!(dom.contains("<svg"), "the run's chart is in the DOM: {dom}");
    // The escaped script stayed text: the browser built no script element from it.
    assert!(!dom.to_lowercase().contains("<script"), "{dom}");
    assert!(
        dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{dom}"
    );

    let shot = work.path("report.png");
    headless(
        &browser,
        &profile,
        &page,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1000,1400".to_owned(),
            "--hide-scrollbars".to_owned(),
        ],
    );
    let png = std::fs::read(&shot).unwrap_or_default();
    assert!(png.len() > 1000, "screenshot of {} bytes", png.len());
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
}
