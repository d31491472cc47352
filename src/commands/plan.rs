//! `atlas-invite plan` and `apply`: the two-step way to run. `plan` is a dry run that writes
//! what it found — every action, the file's digest, the journal's state, the options — and
//! `apply` carries out exactly that, refusing (exit 2, nothing sent or written) when any of it
//! changed since. `run` stays the one-step way.
//!
//! `apply` checks twice: before starting, by making the same dry run again and comparing; and
//! inside the run's planning transaction, with the journal locked, by comparing the digest of
//! what the run is about to do with the plan's — so that nothing can slip in between.

use std::ffi::OsString;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, anyhow};
use clap::Parser;
use serde::{Deserialize, Serialize};

use super::run::{Preview, preview};
use crate::cli::{ApplyArgs, Cli, Command, Format, PlanArgs, RunArgs};
use crate::exit::{Failure, USAGE};
use crate::journal::Plan;
use crate::plan::{PlanEntry, digest};
use crate::terminal::safe;

/// The version of the plan file's format.
const FORMAT: u32 = 1;

/// A plan file.
#[derive(Debug, Serialize, Deserialize)]
struct PlanFile {
    atlas_invite_plan: u32,
    created_at: String,
    /// The arguments of `run` that make this plan, as given to `plan` (without `--out`).
    args: Vec<String>,
    org_id: String,
    base_url: String,
    csv: String,
    csv_sha256: String,
    journal: String,
    journal_state: String,
    options: serde_json::Value,
    digest: String,
    actions: Vec<PlanEntry>,
}

pub(super) async fn plan(args: PlanArgs) -> Result<i32, Failure> {
    let mut run = args.run;
    if run.simulate {
        return Err(Failure::usage(anyhow!(
            "a plan is made against a real organization: `run --simulate --dry-run` shows what \
             the demonstration would do"
        )));
    }
    let json = run.format == Format::Json;
    run.dry_run = true;
    if json {
        // The plan itself is the output.
        run.quiet = true;
        run.format = Format::Text;
    }
    let found = preview(&run).await?;
    let file = PlanFile {
        atlas_invite_plan: FORMAT,
        created_at: crate::util::now_rfc3339(),
        args: run_arguments(),
        org_id: found.org_id.clone(),
        base_url: found.base_url.clone(),
        csv: run.csv.display().to_string(),
        csv_sha256: file_sha256(&run.csv)?,
        journal: found.journal.display().to_string(),
        journal_state: found.journal_state.clone(),
        options: found.options.clone(),
        digest: digest(&found.entries),
        actions: found.entries.clone(),
    };
    let text = serde_json::to_string_pretty(&file).map_err(|e| Failure::usage(anyhow!(e)))?;
    if json {
        crate::outln!("{text}");
    }
    if let Some(out) = &args.out {
        super::refuse_journal_path("--out", out, &run.journal)?;
        write_owner_only(out, text.as_bytes())
            .with_context(|| format!("cannot write the plan to {}", out.display()))
            .map_err(Failure::usage)?;
        if !run.quiet || json {
            eprintln!(
                "plan of {} actions written to {}; carry it out with: atlas-invite apply {}",
                file.actions.len(),
                safe(&out.display().to_string()),
                safe(&out.display().to_string())
            );
        }
    }
    Ok(found.code)
}

pub(super) async fn apply(args: &ApplyArgs) -> Result<i32, Failure> {
    let text = std::fs::read_to_string(&args.plan)
        .with_context(|| format!("cannot read the plan {}", args.plan.display()))
        .map_err(Failure::usage)?;
    let file: PlanFile = serde_json::from_str(&text)
        .map_err(|e| {
            anyhow!(
                "{} is not a plan written by `atlas-invite plan --out` ({e})",
                args.plan.display()
            )
        })
        .map_err(Failure::usage)?;
    if file.atlas_invite_plan != FORMAT {
        return Err(Failure::usage(anyhow!(
            "{} is a plan of format {}, this version reads format {FORMAT}: make a new plan",
            args.plan.display(),
            file.atlas_invite_plan
        )));
    }
    let mut run = run_args(&file.args)?;
    // The same dry run again: anything that changed since the plan refuses it.
    run.dry_run = true;
    run.quiet = true;
    run.format = Format::Text;
    let now = preview(&run).await?;
    refuse_if_changed(&file, &now, &file_sha256(&run.csv)?)?;

    run.dry_run = false;
    run.quiet = args.quiet;
    run.format = args.format;
    run.yes = args.yes;
    run.expected_plan = Some(file.digest.clone());
    super::run::run(run).await
}

/// Inside the run's planning, with the journal locked: the run must do exactly the plan.
pub(super) fn check_unchanged(plan: &Plan, expected: &str) -> Result<(), Failure> {
    let entries: Vec<PlanEntry> = plan
        .rows
        .iter()
        .map(PlanEntry::of_row)
        .chain(plan.changes.iter().map(PlanEntry::of_change))
        .collect();
    if digest(&entries) == expected {
        return Ok(());
    }
    Err(Failure::usage(anyhow!(
        "the journal changed while the plan was being applied ({} actions now differ from the \
         plan's): nothing was sent or written; make a new plan",
        entries.len()
    )))
}

/// Exit 2, naming what changed, when the plan is not what a run would do now.
fn refuse_if_changed(file: &PlanFile, now: &Preview, csv_sha256: &str) -> Result<(), Failure> {
    let mut changed = Vec::new();
    if file.csv_sha256 != csv_sha256 {
        changed.push(format!("the file {} changed", file.csv));
    }
    if file.org_id != now.org_id || file.base_url != now.base_url {
        changed.push(format!(
            "the organization or base URL differ (plan: {} at {}; now: {} at {})",
            file.org_id, file.base_url, now.org_id, now.base_url
        ));
    }
    if file.journal != now.journal.display().to_string() {
        changed.push(format!(
            "the journal is another file (plan: {}; now: {})",
            file.journal,
            now.journal.display()
        ));
    } else if file.journal_state != now.journal_state {
        changed.push(format!(
            "the journal changed (plan: {}; now: {})",
            file.journal_state, now.journal_state
        ));
    }
    if file.options != now.options {
        changed
            .push("the options differ (the environment or the Atlas CLI profile changed)".into());
    }
    if changed.is_empty() && file.digest != digest(&now.entries) {
        changed.push("the actions a run would take now differ".into());
    }
    if changed.is_empty() {
        return Ok(());
    }
    Err(Failure {
        code: USAGE,
        error: anyhow!(
            "the plan no longer holds: {}; nothing was sent. Make a new plan",
            changed.join("; ")
        ),
    })
}

/// The arguments given after `plan`, without `--out FILE`: what `apply` gives `run`.
fn run_arguments() -> Vec<String> {
    // The program, then `plan`: the command line has no options before the subcommand.
    let args = std::env::args_os()
        .skip(2)
        .map(|a| a.to_string_lossy().into_owned());
    let mut kept = Vec::new();
    let mut skip_value = false;
    for arg in args {
        if skip_value {
            skip_value = false;
        } else if arg == "--out" || arg == "-o" {
            skip_value = true;
        } else if !arg.starts_with("--out=") && arg != "--format=json" {
            kept.push(arg);
        }
    }
    // `--format json` was for the plan's own output.
    if let Some(at) = kept.windows(2).position(|w| w == ["--format", "json"]) {
        kept.drain(at..at + 2);
    }
    kept
}

/// `run`'s arguments from a plan, parsed as `run` parses them.
fn run_args(args: &[String]) -> Result<RunArgs, Failure> {
    let argv = ["atlas-invite", "run"]
        .into_iter()
        .map(OsString::from)
        .chain(args.iter().map(OsString::from));
    match Cli::try_parse_from(argv) {
        Ok(Cli {
            command: Command::Run(run),
        }) => Ok(run),
        Ok(_) => unreachable!("parsed as `run`"),
        Err(e) => Err(Failure::usage(anyhow!(
            "the plan's arguments are not valid for this version's `run`: {}",
            e.to_string().lines().next().unwrap_or_default()
        ))),
    }
}

/// The SHA-256 of a file, as `runs.csv_sha256` records it.
fn file_sha256(path: &Path) -> Result<String, Failure> {
    crate::util::sha256_file(path)
        .with_context(|| format!("cannot read {}", path.display()))
        .map_err(Failure::usage)
}

/// Writes `bytes` to `path`, created readable by its owner only (on Unix): a plan names people.
fn write_owner_only(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plans_arguments_parse_as_run() {
        let args: Vec<String> = ["people.csv", "--org", "5f1e2d3c4b5a697887766554", "--prune"]
            .map(String::from)
            .to_vec();
        let run = run_args(&args).unwrap();
        assert!(run.prune);
        assert_eq!(run.csv, Path::new("people.csv"));
        let bad = run_args(&["--no-such-flag".to_owned()]).unwrap_err();
        assert_eq!(bad.code, USAGE);
    }
}
