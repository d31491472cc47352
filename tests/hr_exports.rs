//! HR exports as they come: an Excel export in Windows-1252 with semicolons, a Workday export
//! with a rules file, teams and projects named instead of given by id (resolved against the
//! simulator), `--where`, `--email-column`, UTF-16.

use std::path::PathBuf;
use std::time::Duration;

use atlas_invite::atlas::auth::{Credentials, Secret};
use atlas_invite::atlas::client::{Api, AtlasClient, ClientConfig};
use atlas_invite::atlas::model::MEDIA_TYPE_2023_01_01;
use atlas_sim::{RateLimit, SimConfig};
use serde_json::{Value, json};

use crate::util::*;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

const PLATFORM: &str = "65a1f0c2e4b7d9a3c5e8f101";
const PLATFORM_TWIN: &str = "65a1f0c2e4b7d9a3c5e8f109";
const ON_CALL: &str = "65a1f0c2e4b7d9a3c5e8f102";
const PROD: &str = "65b2e1d3f5a7c9b1d3e5f201";
const STAGING: &str = "65b2e1d3f5a7c9b1d3e5f202";

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(id, name)| ((*id).to_owned(), (*name).to_owned()))
        .collect()
}

/// A simulator whose organization has the teams and projects the Workday rules name.
fn directory_sim() -> Sim {
    Sim::start(SimConfig {
        teams: pairs(&[(PLATFORM, "Platform"), (ON_CALL, "On-call")]),
        projects: pairs(&[(PROD, "Prod"), (STAGING, "Staging")]),
        ..SimConfig::default()
    })
}

fn validate(args: &[&str]) -> Ran {
    exec(atlas_invite().arg("validate").args(args))
}

fn path(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

/// Requests that were not invitations or lookups (on any path) nor rate-limit questions: the
/// directory listings.
fn listings(sim: &Sim) -> u64 {
    let s = sim.stats();
    s.requests - s.posts() - s.gets() - s.rate_limit_gets
}

// ----- the Excel export: Windows-1252, semicolons, CRLF, no BOM ---------------------------------

#[test]
fn an_excel_export_in_windows_1252_needs_the_flag_and_says_which() {
    let csv = fixture("excel_cp1252.csv");
    let ran = validate(&[path(&csv)]);
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(ran.stderr.contains("line 1 is not valid UTF-8"), "{ran:?}");
    assert!(ran.stderr.contains("--encoding windows-1252"), "{ran:?}");
}

#[test]
fn an_excel_export_in_windows_1252_reads_with_its_encoding_and_a_column_option() {
    let csv = fixture("excel_cp1252.csv");
    let ran = validate(&[
        path(&csv),
        "--encoding",
        "windows-1252",
        "--roles-column",
        "rôle",
        "--format",
        "json",
    ]);
    assert_eq!(ran.code, 1, "{ran:?}");
    let report: Value = serde_json::from_str(ran.stdout.trim()).unwrap();
    assert_eq!(report["encoding"], "windows-1252");
    assert_eq!(report["delimiter"], ";");
    assert_eq!(report["columns"]["roles"], "Rôle");
    assert_eq!(
        report["ignored_columns"],
        json!(["Nom", "Prénom", "Service"])
    );
    let valid = report["valid"].as_array().unwrap();
    let emails: Vec<&str> = valid.iter().map(|r| r["email"].as_str().unwrap()).collect();
    assert_eq!(
        emails,
        [
            "rene.dupont@example.com",
            "zoe.muller@example.com",
            "jose.nunez@example.com",
            "jurgen.gauss@example.com"
        ]
    );
    assert_eq!(valid[1]["roles"], json!(["ORG_BILLING_ADMIN"]));
    assert_eq!(valid[1]["sources"], json!(["column \"Rôle\""]));
    assert_eq!(valid[2]["sources"], json!(["--default-role"]));
    // The bad address is reported on its physical line (CRLF counted once).
    assert_eq!(report["invalid"][0]["line"], 6);
    assert_eq!(report["invalid"][0]["email"], "anais.lefevre@example");
}

#[test]
fn where_filters_an_excel_export_on_an_accented_value() {
    let csv = fixture("excel_cp1252.csv");
    let ran = validate(&[
        path(&csv),
        "--encoding",
        "latin1",
        "--where",
        "service=ingénierie",
    ]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(
        ran.stdout
            .contains("3 rows: 2 valid, 1 invalid, 0 duplicates (2 more filtered out)"),
        "{ran:?}"
    );
    assert!(ran.stdout.contains("jose.nunez@example.com"), "{ran:?}");
    assert!(!ran.stdout.contains("zoe.muller"), "{ran:?}");
}

#[test]
fn an_excel_export_is_invited_with_its_accents_intact() {
    let sim = Sim::healthy();
    let work = Work::new();
    let csv = fixture("excel_cp1252.csv");
    let ran = exec(run_cmd(&sim, &work, &csv).args([
        "--encoding",
        "windows-1252",
        "--roles-column",
        "Rôle",
        "--format",
        "json",
    ]));
    assert_eq!(ran.code, 1, "one invalid row: {ran:?}");
    assert_eq!(ran.json()["invited"], 4, "{ran:?}");
    let zoe = sim.state().invitations_for("zoe.muller@example.com");
    assert_eq!(zoe[0].roles, ["ORG_BILLING_ADMIN"]);
    let options = work.query("SELECT options FROM runs");
    let options: Value = serde_json::from_str(&options[0]).unwrap();
    assert_eq!(options["input"]["encoding"], "windows-1252");
    assert_eq!(options["input"]["roles_column"], "Rôle");
}

#[test]
fn an_excel_export_exports_the_rows_that_were_run_with_their_accents() {
    let sim = Sim::healthy();
    let work = Work::new();
    let csv = fixture("excel_cp1252.csv");
    let input = [
        "--encoding",
        "windows-1252",
        "--roles-column",
        "Rôle",
        "--where",
        "Service=ingénierie",
    ];
    let ran = exec(run_cmd(&sim, &work, &csv).args(input));
    assert_eq!(ran.code, 1, "one invalid row: {ran:?}");

    let export = |extra: &[&str]| {
        let out = work.path("results.csv");
        let ran = exec(
            atlas_invite()
                .arg("export")
                .arg(&csv)
                .args(input)
                .args(extra)
                .arg("--out")
                .arg(&out)
                .arg("--journal")
                .arg(work.journal()),
        );
        assert_eq!(ran.code, 0, "{ran:?}");
        std::fs::read(&out).unwrap()
    };
    let bytes = export(&[]);
    // Written in UTF-8 with a BOM, which spreadsheets follow and `run` honours over --encoding.
    let text = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap()).unwrap();
    let rows: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.trim_end_matches('\r').split(';').collect())
        .collect();
    assert_eq!(
        rows[0][..6],
        ["Nom", "Prénom", "E-mail", "Rôle", "Service", "status"]
    );
    // The rows of the run, as written: not the ones --where left out.
    let people: Vec<(&str, &str, &str)> = rows[1..].iter().map(|r| (r[1], r[2], r[5])).collect();
    assert_eq!(
        people,
        [
            ("René", "rene.dupont@example.com", "invited"),
            ("José", "jose.nunez@example.com", "invited"),
            ("Anaïs", "anais.lefevre@example", "invalid"),
        ]
    );

    // The --failed-only file goes back to `run` with the same options.
    let retry = work.write("retry.csv", export(&["--failed-only"]));
    let ran = exec(
        run_cmd(&sim, &work, &retry)
            .args(input)
            .args(["--format", "json"]),
    );
    assert_eq!(ran.code, 1, "{ran:?}");
    assert_eq!(
        (ran.json()["rows"].as_u64(), ran.json()["invalid"].as_u64()),
        (Some(1), Some(1))
    );
}

// ----- UTF-16 and --email-column -----------------------------------------------------------------

#[test]
fn a_utf16_file_with_a_bom_is_read_without_a_flag() {
    let ran = validate(&[path(&fixture("utf16le_bom.csv")), "--format", "json"]);
    assert_eq!(ran.code, 0, "{ran:?}");
    let report: Value = serde_json::from_str(ran.stdout.trim()).unwrap();
    assert_eq!(report["encoding"], "UTF-16LE");
    assert_eq!(report["valid"][0]["email"], "rené@example.com");
    assert_eq!(report["valid"][0]["roles"], json!(["ORG_OWNER"]));
    assert_eq!(report["valid"][1]["line"], 3);
}

#[test]
fn email_column_picks_the_address_column_among_several() {
    let work = Work::new();
    let csv = work.write(
        "people.csv",
        "Email,Primary Work Address,Dept\n\
         ada.old@example.org,ada@example.com,Eng\n\
         bob.old@example.org,bob@example.com,Eng\n",
    );
    let ran = validate(&[path(&csv)]);
    assert!(ran.stdout.contains("ada.old@example.org"), "{ran:?}");
    let ran = validate(&[path(&csv), "--email-column", "primary work address"]);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(ran.stdout.contains("ok         ada@example.com"), "{ran:?}");
    assert!(
        ran.stdout.contains("ignored columns: Email, Dept"),
        "{ran:?}"
    );
    let ran = validate(&[path(&csv), "--email-column", "Mail"]);
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(
        ran.stderr
            .contains("--email-column names the column \"Mail\""),
        "{ran:?}"
    );
    assert!(ran.stderr.contains("\"Primary Work Address\""), "{ran:?}");
}

#[test]
fn where_on_a_missing_column_and_a_bad_delimiter_are_usage_errors() {
    let csv = fixture("workday.csv");
    let ran = validate(&[path(&csv), "--where", "Dept=Engineering"]);
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(
        ran.stderr.contains("--where names the column \"Dept\""),
        "{ran:?}"
    );
    assert!(ran.stderr.contains("\"Department\""), "{ran:?}");
    let ran = validate(&[path(&csv), "--delimiter", ":"]);
    assert_eq!(ran.code, 2, "{ran:?}");
    // A forced delimiter that does not fit reads the header as one column.
    let ran = validate(&[path(&csv), "--delimiter", ";"]);
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(ran.stderr.contains("no email column"), "{ran:?}");
}

// ----- the Workday export and its rules ----------------------------------------------------------

#[test]
fn validate_shows_which_rule_gave_each_row_its_grants() {
    let csv = fixture("workday.csv");
    let rules = fixture("workday_rules.toml");
    let ran = validate(&[path(&csv), "--rules", path(&rules)]);
    assert_eq!(ran.code, 1, "{ran:?}");
    let line = |n: u64| {
        let prefix = format!("line {n:>5}");
        ran.stdout
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no line {n}: {ran:?}"))
            .to_owned()
    };
    let grace = line(3);
    assert!(grace.contains("ORG_MEMBER, ORG_GROUP_CREATOR"), "{grace}");
    assert!(grace.contains("\"Platform\" + \"On-call\""), "{grace}");
    assert!(grace.contains("names resolved at run time"), "{grace}");
    assert!(
        grace.ends_with(
            "from: rule 1 \"engineering\" (Department = Engineering) + rule 2 \"managers\" \
             (Title = Engineering Manager|Sales Manager)"
        ),
        "{grace}"
    );
    let katherine = line(7);
    assert!(
        katherine.contains("ORG_GROUP_CREATOR, ORG_BILLING_READ_ONLY"),
        "{katherine}"
    );
    // Legal has no rule and the file says unmatched = "error".
    let barbara = line(8);
    assert!(barbara.contains("invalid"), "{barbara}");
    assert!(
        barbara.contains("column \"Department\", value \"Legal\""),
        "{barbara}"
    );
    assert!(
        ran.stdout
            .contains("rule 1 \"engineering\" (Department = Engineering): 4 rows")
    );

    let ran = validate(&[path(&csv), "--rules", path(&rules), "--format", "json"]);
    let report: Value = serde_json::from_str(ran.stdout.trim()).unwrap();
    let ada = &report["valid"][0];
    assert_eq!(
        ada["sources"],
        json!(["rule 1 \"engineering\" (Department = Engineering)"])
    );
    assert_eq!(ada["names"]["teams"][1]["name"], "On-call");
    assert_eq!(
        ada["names"]["projects"][0]["roles"],
        json!(["GROUP_READ_ONLY"])
    );
    assert_eq!(
        report["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["rows"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [4, 2, 2]
    );
}

#[test]
fn a_broken_rules_file_is_a_usage_error_naming_the_rule() {
    let work = Work::new();
    let rules = work.write(
        "rules.toml",
        "[[rule]]\nwhen = { Department = \"Engineering\" }\nroles = [\"ORG_ADMIN\"]\n",
    );
    let ran = validate(&[path(&fixture("workday.csv")), "--rules", path(&rules)]);
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(
        ran.stderr
            .contains("rule 1: roles: unknown organization role \"ORG_ADMIN\""),
        "{ran:?}"
    );
    let rules = work.write(
        "rules.toml",
        "[[rule]]\nwhen = { Dept = \"x\" }\nroles = \"member\"\n",
    );
    let ran = validate(&[path(&fixture("workday.csv")), "--rules", path(&rules)]);
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(ran.stderr.contains("names the column \"Dept\""), "{ran:?}");
}

#[test]
fn names_are_resolved_against_the_organization_and_invitations_carry_the_ids() {
    let sim = directory_sim();
    let work = Work::new();
    let ran = exec(run_cmd(&sim, &work, &fixture("workday.csv")).args([
        "--rules",
        path(&fixture("workday_rules.toml")),
        "--format",
        "json",
    ]));
    // Edsger's address and Barbara's department are invalid; everybody else is invited.
    assert_eq!(ran.code, 1, "{ran:?}");
    let summary = ran.json();
    assert_eq!(
        (summary["invited"].as_u64(), summary["invalid"].as_u64()),
        (Some(5), Some(2))
    );
    // One listing of each kind, whatever the number of rows naming them.
    assert_eq!(listings(&sim), 2);

    let grace = &sim.state().invitations_for("grace.hopper@example.com")[0];
    assert_eq!(grace.team_ids, [PLATFORM, ON_CALL]);
    let projects: Vec<(&str, &str)> = grace
        .group_role_assignments
        .iter()
        .map(|g| {
            (
                g.group_id.as_deref().unwrap(),
                g.group_role.as_deref().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        projects,
        [(PROD, "GROUP_READ_ONLY"), (STAGING, "GROUP_OWNER")]
    );
    assert_eq!(grace.roles, ["ORG_MEMBER", "ORG_GROUP_CREATOR"]);
    let mary = &sim.state().invitations_for("mary.jackson@example.com")[0];
    assert!(mary.team_ids.is_empty());

    // The journal says where each person's grants came from.
    let sources = work
        .query("SELECT grant_sources FROM invites WHERE email_key = 'grace.hopper@example.com'");
    let sources: Value = serde_json::from_str(&sources[0]).unwrap();
    assert_eq!(sources.as_array().unwrap().len(), 2, "{sources}");
    assert!(
        sources[1]
            .as_str()
            .unwrap()
            .starts_with("rule 2 \"managers\"")
    );
    assert_eq!(work.status_of("barbara.liskov@example.com"), "invalid");
    let options = work.query("SELECT options FROM runs");
    let options: Value = serde_json::from_str(&options[0]).unwrap();
    assert!(
        options["input"]["rules"]
            .as_str()
            .unwrap()
            .ends_with("workday_rules.toml")
    );
    assert_eq!(options["input"]["rules_sha256"].as_str().unwrap().len(), 64);
}

#[test]
fn where_runs_one_department_of_a_company_wide_export() {
    let sim = directory_sim();
    let work = Work::new();
    let ran = exec(run_cmd(&sim, &work, &fixture("workday.csv")).args([
        "--rules",
        path(&fixture("workday_rules.toml")),
        "--where",
        "Department=sales",
        "--format",
        "json",
    ]));
    assert_eq!(ran.code, 0, "{ran:?}");
    let summary = ran.json();
    assert_eq!(summary["rows"], 2);
    assert_eq!(summary["filtered_out"], 5);
    assert_eq!(summary["invited"], 2);
    assert_eq!(sim.invitations_for("ada.lovelace@example.com"), 0);
    assert_eq!(work.status_of("ada.lovelace@example.com"), "absent");
    // Sales rows name no team or project: nothing to list.
    assert_eq!(listings(&sim), 0);
}

#[test]
fn an_ambiguous_team_name_fails_its_rows_naming_both_ids_and_sends_nothing_for_them() {
    let sim = Sim::start(SimConfig {
        teams: pairs(&[
            (PLATFORM, "Platform"),
            (PLATFORM_TWIN, "platform"),
            (ON_CALL, "On-call"),
        ]),
        projects: pairs(&[(PROD, "Prod"), (STAGING, "Staging")]),
        ..SimConfig::default()
    });
    let work = Work::new();
    let ran = exec(
        run_cmd(&sim, &work, &fixture("workday.csv"))
            .args(["--rules", path(&fixture("workday_rules.toml"))]),
    );
    assert_eq!(ran.code, 1, "{ran:?}");
    for engineer in ["ada.lovelace", "grace.hopper", "alan.turing"] {
        assert_eq!(sim.invitations_for(&format!("{engineer}@example.com")), 0);
        assert_eq!(
            work.status_of(&format!("{engineer}@example.com")),
            "invalid"
        );
    }
    let problem = ran
        .stderr
        .lines()
        .find(|l| l.starts_with("invalid: line 2:"))
        .unwrap_or_else(|| panic!("{ran:?}"));
    assert!(
        problem.contains("column \"rule 1\", value \"Platform\""),
        "{problem}"
    );
    assert!(problem.contains("ambiguous team name"), "{problem}");
    assert!(
        problem.contains(PLATFORM) && problem.contains(PLATFORM_TWIN),
        "{problem}"
    );
    let reason = work.query(
        "SELECT last_error_detail FROM invites WHERE email_key = 'ada.lovelace@example.com'",
    );
    assert!(reason[0].contains(PLATFORM_TWIN), "{reason:?}");
    // Rows without names go ahead.
    assert_eq!(sim.invitations_for("mary.jackson@example.com"), 1);
}

#[test]
fn an_unknown_project_name_in_a_cell_fails_its_row_before_anything_is_sent() {
    let sim = directory_sim();
    let work = Work::new();
    let csv = work.write(
        "people.csv",
        format!(
            "email,teams,projects\n\
             ada@example.com,on-call,prod:read only\n\
             bob@example.com,{PLATFORM},Prodd:GROUP_OWNER\n"
        ),
    );
    let ran = exec(run_cmd(&sim, &work, &csv).arg("--strict"));
    assert_eq!(ran.code, 1, "{ran:?}");
    assert_eq!(sim.posts(), 0, "--strict sends nothing");
    assert!(
        ran.stderr
            .contains("line 3: column \"projects\", value \"Prodd\": no project"),
        "{ran:?}"
    );

    let ran = exec(&mut run_cmd(&sim, &work, &csv));
    assert_eq!(ran.code, 1, "{ran:?}");
    let ada = &sim.state().invitations_for("ada@example.com")[0];
    assert_eq!(ada.team_ids, [ON_CALL]);
    assert_eq!(
        ada.group_role_assignments[0].group_id.as_deref(),
        Some(PROD)
    );
    assert_eq!(sim.invitations_for("bob@example.com"), 0);
}

#[test]
fn rows_before_the_first_name_are_reported_once_and_planned_once() {
    let sim = directory_sim();
    let work = Work::new();
    // Names show up on line 4: the first reading stops planning there, and the second one
    // reports only from there.
    let csv = work.write(
        "people.csv",
        "email,teams\n\
         ada@example.com,\n\
         not-an-address,\n\
         bob@example.com,Platform\n\
         ada@example.com,\n\
         cy@example.com,Platfrom\n\
         dee@example.com,\n",
    );
    let ran = exec(run_cmd(&sim, &work, &csv).arg("--dry-run"));
    assert_eq!(ran.code, 1, "{ran:?}");
    for line in 2..=7 {
        let prefix = format!("line {line:>5}  ");
        let count = ran
            .stdout
            .lines()
            .filter(|l| l.starts_with(&prefix))
            .count();
        let expected = usize::from([2, 4, 7].contains(&line));
        assert_eq!(count, expected, "line {line}: {ran:?}");
    }
    assert!(ran.stdout.contains("would send 3 invitations"), "{ran:?}");
    let ran = exec(run_cmd(&sim, &work, &csv).args(["--dry-run", "--format", "json"]));
    let summary = ran.json();
    assert_eq!(summary["rows"], 6);
    assert_eq!(
        (summary["valid"].as_u64(), summary["invalid"].as_u64()),
        (Some(3), Some(2))
    );
    assert_eq!(summary["duplicates"], 1);
    assert_eq!(summary["problems"].as_array().unwrap().len(), 2);

    let ran = exec(&mut run_cmd(&sim, &work, &csv));
    assert_eq!(ran.code, 1, "{ran:?}");
    for needle in ["invalid: line 3:", "duplicate: line 5:", "invalid: line 6:"] {
        assert_eq!(ran.stderr.matches(needle).count(), 1, "{needle}: {ran:?}");
    }
    assert_eq!(work.query("SELECT count(*) FROM runs"), ["1"]);
    assert_eq!(work.status_of("cy@example.com"), "invalid");
    assert_eq!(work.status_of("dee@example.com"), "invited");
    assert_eq!(
        sim.state().invitations_for("bob@example.com")[0].team_ids,
        [PLATFORM]
    );
    let digest = work.query("SELECT csv_sha256 FROM runs");
    assert_eq!(digest[0], atlas_invite::util::sha256_file(&csv).unwrap());
}

#[test]
fn dry_run_resolves_names_but_sends_nothing() {
    let sim = directory_sim();
    let work = Work::new();
    let csv = work.write(
        "people.csv",
        "email,teams\nada@example.com,Platform\nbob@example.com,Platfrom\n",
    );
    let ran = exec(run_cmd(&sim, &work, &csv).arg("--dry-run"));
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(ran.stdout.contains("would send 1 invitations"), "{ran:?}");
    assert!(
        ran.stderr.contains("value \"Platfrom\": no team"),
        "{ran:?}"
    );
    assert_eq!(sim.posts(), 0);
    assert_eq!(listings(&sim), 1);

    // Without credentials a dry run cannot read the lists, and says why.
    let ran = exec(
        atlas_invite()
            .arg("run")
            .arg(&csv)
            .args(["--org", ORG, "--dry-run", "--base-url"])
            .arg(sim.url()),
    );
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(ran.stderr.contains("names teams or projects"), "{ran:?}");
}

#[test]
fn refused_credentials_while_listing_abort_before_anything_is_sent() {
    let sim = directory_sim();
    let work = Work::new();
    let csv = work.write("people.csv", "email,teams\nada@example.com,Platform\n");
    let ran = exec(run_cmd(&sim, &work, &csv).env("MONGODB_ATLAS_ACCESS_TOKEN", "wrong-token"));
    assert_eq!(ran.code, 3, "{ran:?}");
    // The organization check before anything else catches them.
    assert!(ran.stderr.contains("refused the credentials"), "{ran:?}");
    assert_eq!(sim.posts(), 0);
}

#[test]
fn a_rate_limited_listing_is_retried() {
    let sim = Sim::start(SimConfig {
        teams: pairs(&[(PLATFORM, "Platform")]),
        projects: pairs(&[(PROD, "Prod")]),
        rate_limit: Some(RateLimit {
            per_second: 4.0,
            burst: 1,
        }),
        ..SimConfig::default()
    });
    let work = Work::new();
    let csv = work.write(
        "people.csv",
        "email,teams,projects\nada@example.com,Platform,Prod:GROUP_OWNER\n",
    );
    let ran = exec(&mut run_cmd(&sim, &work, &csv));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(sim.stats().rate_limited >= 1, "{:?}", sim.stats());
    assert_eq!(
        sim.state().invitations_for("ada@example.com")[0].team_ids,
        [PLATFORM]
    );
}

// ----- the listings themselves ---------------------------------------------------------------

fn client(sim: &Sim) -> AtlasClient {
    AtlasClient::new(&ClientConfig {
        base_url: sim.url(),
        org_id: ORG.into(),
        api: Api::Invites,
        credentials: Credentials::AccessToken(Secret::new(TOKEN)),
        timeout: Duration::from_secs(5),
        concurrency: 1,
        envelope: false,
    })
    .unwrap()
}

#[test]
fn listings_are_read_page_by_page_until_the_total() {
    let teams: Vec<(String, String)> = (0..1203)
        .map(|i| (format!("65a1f0c2e4b7d9a3c5{i:06x}"), format!("Team {i}")))
        .collect();
    let sim = Sim::start(SimConfig {
        teams: teams.clone(),
        ..SimConfig::default()
    });
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let read = runtime.block_on(client(&sim).org_teams()).unwrap();
    assert_eq!(read, teams);
    assert_eq!(sim.stats().requests, 3, "pages of 500, 500 and 203");
    let projects = runtime.block_on(client(&sim).org_projects()).unwrap();
    assert!(projects.is_empty());
}

fn spec() -> Value {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/contract/atlas-invites-openapi.yaml");
    serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn validator(spec: &Value, name: &str) -> jsonschema::Validator {
    let schema = json!({
        "$ref": format!("#/components/schemas/{name}"),
        "components": spec["components"],
    });
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .build(&schema)
        .unwrap()
}

#[test]
fn the_simulator_lists_teams_and_projects_in_the_spec_shapes() {
    let sim = directory_sim();
    let spec = spec();
    let client = client(&sim);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let get = |resource: &str, query: &[(&str, &str)]| -> Value {
        let path = format!("/api/atlas/v2/orgs/{ORG}/{resource}");
        let answer = runtime
            .block_on(client.get(&path, query, MEDIA_TYPE_2023_01_01))
            .unwrap();
        serde_json::from_slice(&answer.value).unwrap()
    };
    let teams = get("teams", &[("itemsPerPage", "1"), ("pageNum", "2")]);
    let errors: Vec<String> = validator(&spec, "PaginatedTeamView")
        .iter_errors(&teams)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{teams}\n{errors:?}");
    assert_eq!(
        teams["results"],
        json!([{"id": ON_CALL, "name": "On-call"}])
    );
    assert_eq!(teams["totalCount"], 2);

    let groups = get("groups", &[("includeCount", "false")]);
    let errors: Vec<String> = validator(&spec, "PaginatedAtlasGroupView")
        .iter_errors(&groups)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{groups}\n{errors:?}");
    assert_eq!(groups["results"][1]["name"], "Staging");
    assert_eq!(groups["results"][1]["orgId"], ORG);
    assert!(groups.get("totalCount").is_none());

    // The checks of the invite paths apply: version, page size.
    let wrong_version = runtime.block_on(client.get(
        &format!("/api/atlas/v2/orgs/{ORG}/teams"),
        &[],
        "application/json",
    ));
    assert_eq!(wrong_version.unwrap_err().http_status(), Some(406));
    let too_big = runtime.block_on(client.get(
        &format!("/api/atlas/v2/orgs/{ORG}/teams"),
        &[("itemsPerPage", "501")],
        MEDIA_TYPE_2023_01_01,
    ));
    assert_eq!(too_big.unwrap_err().http_status(), Some(400));
}

#[test]
fn the_simulator_refuses_invitations_to_teams_the_organization_lacks() {
    let sim = directory_sim();
    let work = Work::new();
    let csv = work.write(
        "people.csv",
        format!("email,teams\nada@example.com,{PLATFORM}\nbob@example.com,{PLATFORM_TWIN}\n"),
    );
    // The invitation endpoints: the simulator's users resource does not check team ids.
    let ran = exec(run_cmd(&sim, &work, &csv).args(["--api", "invites"]));
    assert_eq!(ran.code, 1, "{ran:?}");
    assert_eq!(work.status_of("ada@example.com"), "invited");
    assert_eq!(work.status_of("bob@example.com"), "failed");
    let code =
        work.query("SELECT last_error_code FROM invites WHERE email_key = 'bob@example.com'");
    assert_eq!(code, ["TEAM_NOT_FOUND"]);
}
