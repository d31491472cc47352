//! The passes of `run` over its file. The file is streamed, never held: a pass keeps the rows it
//! must send and counts the others, so that a rerun of a million done rows costs the duplicate
//! index and little else.
//!
//! Team and project names must be resolved, and `--strict` must know the file is clean, before
//! anything is planned; both need the whole file. Files are paths, so they are read again
//! rather than kept, at most twice:
//!
//! - Without `--strict`, the first pass plans (or, with `--dry-run`, prints) the rows as they
//!   come, as long as no valid row names a team or project. One that does ends the work of that
//!   pass: the rest of it only gathers names, the planning is rolled back, the names are
//!   resolved, and a second pass does the work with them. A file without names is read once.
//! - With `--strict`, a first pass ([`check`]) counts the invalid rows and gathers the names.
//!
//! What a pass prints (invalid rows, duplicates, `--dry-run` lines) is final: a second pass
//! prints only from the line where the first one stopped.

use std::collections::HashSet;
use std::io::Read;
use std::ops::ControlFlow;
use std::path::Path;

use anyhow::{Context, anyhow};
use sha2::{Digest, Sha256};

use super::super::input::Directory;
use crate::exit::Failure;
use crate::journal::{InviteStatus, Journal, NewRun, PlanOptions, Planner};
use crate::pipeline::StopSignal;
use crate::plan::{Action, Grants, Known, PlanEntry, decide_with_grants};
use crate::roster::{self, InvalidRow, Invitee, NameSet, RosterOptions, RosterSummary, RowOutcome};
use crate::summary::{ProblemRow, Summary};
use crate::vocab::EmailKey;

/// Rows handed to the journal (or looked up in it) at once.
const BATCH: usize = 10_000;

/// The file of a run, how to read it, and whether rows are reported on stderr.
pub(super) struct Input<'a> {
    pub path: &'a Path,
    pub options: RosterOptions,
    /// Print invalid rows, duplicates and ignored columns (not with `--quiet` or JSON).
    pub report: bool,
}

/// How a pass treats names and what it prints.
#[derive(Clone, Copy)]
pub(super) struct Settings<'a> {
    /// The resolved names; `None` before resolution.
    pub directory: Option<&'a Directory>,
    /// Rows before this line were reported by an earlier pass.
    pub report_from: u64,
    /// Whether a valid row with names ends the pass's work (see the module documentation).
    pub stop_at_names: bool,
}

impl Settings<'_> {
    /// The settings of a first pass: nothing resolved, everything to report.
    pub fn first() -> Settings<'static> {
        Settings {
            directory: None,
            report_from: 0,
            stop_at_names: true,
        }
    }
}

/// What a pass found.
#[derive(Debug, Default)]
pub(super) struct Pass {
    /// Valid rows, names resolved.
    pub valid: u64,
    /// Invalid rows, those with a name that does not resolve included.
    pub invalid: u64,
    pub duplicates: u64,
    /// The invalid rows, as the summary lists them.
    pub problems: Vec<ProblemRow>,
    /// Names of the valid rows that could not be resolved yet.
    pub names: NameSet,
    /// The line of the first valid row with names met before they were resolved, when that
    /// ended the pass's work.
    pub first_named: Option<u64>,
    /// The file's counts, columns and encoding.
    pub file: Option<RosterSummary>,
}

impl Pass {
    /// Copies the row counts and problems into the run's summary.
    pub fn fill(self, summary: &mut Summary) {
        if let Some(file) = &self.file {
            summary.rows = file.rows as u64;
            summary.filtered_out = file.filtered_out as u64;
        }
        summary.valid = self.valid;
        summary.invalid = self.invalid;
        summary.duplicates = self.duplicates;
        summary.problems = self.problems;
    }

    /// Whether a valid row with names was met before they could be resolved.
    pub fn needs_names(&self) -> bool {
        self.first_named.is_some()
    }
}

/// A row a pass hands on, names resolved.
pub(super) enum Row {
    Valid(Invitee),
    Invalid(InvalidRow),
}

/// Reads the file once: resolves names with the directory, reports and counts rows, and hands
/// the valid and invalid ones to `sink`, in file order.
fn stream(
    input: &Input<'_>,
    reader: impl Read,
    settings: Settings<'_>,
    mut sink: impl FnMut(Row) -> Result<(), Failure>,
) -> Result<Pass, Failure> {
    let mut pass = Pass::default();
    let mut failed = None;
    let report = |line: u64| input.report && line >= settings.report_from;
    // One name or rule can make thousands of rows invalid for the same reason: each reason is
    // printed for its first row, and its other rows are counted (see `Repeats`).
    let mut repeats = Repeats::default();
    let file = roster::scan_from(reader, input.path, &input.options, |row| {
        let row = match row {
            RowOutcome::Valid(invitee) if invitee.has_names() => match settings.directory {
                Some(directory) => match directory.resolve(invitee) {
                    Ok(invitee) => RowOutcome::Valid(invitee),
                    Err(invalid) => RowOutcome::Invalid(invalid),
                },
                None => {
                    if let Some(names) = &invitee.names {
                        pass.names.add(names);
                    }
                    if settings.stop_at_names {
                        pass.first_named.get_or_insert(invitee.line);
                    }
                    return ControlFlow::Continue(());
                }
            },
            row => row,
        };
        if pass.first_named.is_some() {
            // Only names are gathered now: the second pass does the rest.
            return ControlFlow::Continue(());
        }
        let handed = match row {
            RowOutcome::Valid(invitee) => {
                pass.valid += 1;
                sink(Row::Valid(invitee))
            }
            RowOutcome::Invalid(bad) => {
                pass.invalid += 1;
                if report(bad.line) && repeats.is_first(&bad) {
                    eprintln!("invalid: {}", crate::terminal::safe(&bad.to_string()));
                }
                pass.problems.push(problem(&bad));
                sink(Row::Invalid(bad))
            }
            RowOutcome::Duplicate(dup) => {
                pass.duplicates += 1;
                if report(dup.line) {
                    eprintln!(
                        "duplicate: line {}: {} already appears on line {}; skipped",
                        dup.line,
                        crate::terminal::safe(&dup.email),
                        dup.first_line
                    );
                }
                Ok(())
            }
        };
        match handed {
            Ok(()) => ControlFlow::Continue(()),
            Err(failure) => {
                failed = Some(failure);
                ControlFlow::Break(())
            }
        }
    })
    .map_err(Failure::usage)?;
    if let Some(failure) = failed {
        return Err(failure);
    }
    repeats.print();
    if input.report && !file.ignored_columns.is_empty() && pass.first_named.is_none() {
        eprintln!(
            "ignored columns: {}",
            crate::terminal::safe(&file.ignored_columns.join(", "))
        );
    }
    pass.file = Some(file);
    Ok(pass)
}

/// The reasons of the invalid rows reported so far, with the first line of each and how many
/// later rows had the same one.
#[derive(Default)]
struct Repeats {
    by_reason: std::collections::HashMap<String, usize>,
    /// (first line, reason, later rows), in the order the reasons were first met.
    groups: Vec<(u64, String, u64)>,
}

impl Repeats {
    /// Whether `bad` is the first row with its reason; a later one is only counted.
    fn is_first(&mut self, bad: &InvalidRow) -> bool {
        let reason = bad.reason();
        match self.by_reason.get(&reason) {
            Some(&group) => {
                self.groups[group].2 += 1;
                false
            }
            None => {
                self.by_reason.insert(reason.clone(), self.groups.len());
                self.groups.push((bad.line, reason, 0));
                true
            }
        }
    }

    /// Prints, for every reason shared by several rows, how many were not printed.
    fn print(&self) {
        for (line, _, more) in self.groups.iter().filter(|(_, _, more)| *more > 0) {
            eprintln!(
                "invalid: … and {more} more {} with the same problem as line {line}",
                if *more == 1 { "row" } else { "rows" }
            );
        }
    }
}

fn problem(bad: &InvalidRow) -> ProblemRow {
    ProblemRow {
        line: Some(bad.line),
        email: bad.email.clone().unwrap_or_default(),
        status: InviteStatus::Invalid.as_str(),
        http_status: None,
        error_code: None,
        detail: Some(bad.reason()),
        attempts: 0,
    }
}

fn open(path: &Path) -> Result<std::fs::File, Failure> {
    std::fs::File::open(path)
        .with_context(|| format!("cannot read {}", path.display()))
        .map_err(Failure::usage)
}

/// `--strict`'s first pass: counts invalid rows and gathers names; reports and keeps nothing.
pub(super) fn check(input: &Input<'_>) -> Result<Pass, Failure> {
    let quiet = Input {
        path: input.path,
        options: input.options.clone(),
        report: false,
    };
    let settings = Settings {
        stop_at_names: false,
        ..Settings::first()
    };
    stream(&quiet, open(input.path)?, settings, |_| Ok(()))
}

/// A pass that only reports and counts (`--strict` with invalid rows).
pub(super) fn report(input: &Input<'_>, settings: Settings<'_>) -> Result<Pass, Failure> {
    stream(input, open(input.path)?, settings, |_| Ok(()))
}

/// The outcome of a planning pass.
pub(super) enum Planned<'j> {
    /// The whole file is planned, in a transaction that is not committed yet: the caller
    /// reviews the plan, then commits it (or drops it, which writes nothing).
    Ready {
        planner: Box<Planner<'j>>,
        pass: Pass,
    },
    /// A row names teams or projects: nothing was written; resolve the names and plan again.
    NeedsNames(Pass),
    /// `--strict`, and this reading found invalid rows that the first one did not (the file
    /// changed in between): nothing was written.
    Refused(Pass),
}

/// What the planning pass decides with: the operator's options and `--strict`.
pub(super) struct Rules {
    pub options: PlanOptions,
    pub strict: bool,
}

/// Starts the run and plans the file into the journal, batch by batch, in one transaction that
/// the caller commits once the whole file is read and planned (and, with `strict`, found
/// valid) and the plan reviewed.
pub(super) fn plan<'j>(
    journal: &'j mut Journal,
    run: &NewRun,
    rules: Rules,
    input: &Input<'_>,
    settings: Settings<'_>,
    stop: &StopSignal,
) -> Result<Planned<'j>, Failure> {
    let Rules { options, strict } = rules;
    let mut planner = journal
        .start_planned_run(run, options)
        .map_err(Failure::usage)?;
    // The digest recorded in `runs` is of the bytes this pass planned, read along the way.
    let mut file = Hashing::new(open(input.path)?);
    let mut valid = Vec::with_capacity(BATCH);
    let mut invalid = Vec::new();
    let flush = |planner: &mut Planner<'_>, valid: &mut Vec<Invitee>, invalid: &mut Vec<_>| {
        planner
            .add(valid.drain(..), invalid)
            .map_err(Failure::usage)?;
        invalid.clear();
        Ok::<(), Failure>(())
    };
    let pass = stream(input, &mut file, settings, |row| {
        match row {
            Row::Valid(invitee) => valid.push(invitee),
            Row::Invalid(bad) => invalid.push(bad),
        }
        if valid.len() + invalid.len() >= BATCH {
            if stop.is_stopped() {
                // Dropping the planner rolls the planning back.
                return Err(Failure::aborted(anyhow!("interrupted while planning")));
            }
            flush(&mut planner, &mut valid, &mut invalid)?;
        }
        Ok(())
    })?;
    if stop.is_stopped() {
        return Err(Failure::aborted(anyhow!("interrupted while planning")));
    }
    // Dropping the planner rolls back the run and every batch.
    if pass.needs_names() {
        return Ok(Planned::NeedsNames(pass));
    }
    if strict && pass.invalid > 0 {
        return Ok(Planned::Refused(pass));
    }
    flush(&mut planner, &mut valid, &mut invalid)?;
    planner.plan_removals().map_err(Failure::usage)?;
    planner
        .set_csv_sha256(&file.hex())
        .map_err(Failure::usage)?;
    Ok(Planned::Ready {
        planner: Box::new(planner),
        pass,
    })
}

/// What `--dry-run` counted.
#[derive(Debug, Default)]
pub(super) struct DryRun {
    /// Every person from `report_from` on, when asked for (`--format json`).
    pub people: Vec<crate::summary::PlannedPerson>,
    pub would_send: u64,
    pub skipped: u64,
    pub lapsed_skipped: usize,
    pub reinvited: usize,
    /// People whose grants would be updated.
    pub updates: u64,
    /// People whose grants differ but `--no-update` was given.
    pub drifted: u64,
    /// Invitations or updates that would grant ORG_OWNER.
    pub owner_grants: usize,
    /// With `--prune`: the people who would be removed.
    pub removals: Vec<crate::plan::PlannedChange>,
    /// Everything the run would send, as `plan` writes it.
    pub entries: Vec<PlanEntry>,
}

/// `--dry-run`'s pass: looks each valid row up in the journal (when there is one), batch by
/// batch, and prints what would be done with it when `print` says so.
pub(super) fn dry_run(
    journal: Option<&Journal>,
    org_id: &str,
    options: PlanOptions,
    print: bool,
    collect: bool,
    input: &Input<'_>,
    settings: Settings<'_>,
) -> Result<(Pass, DryRun), Failure> {
    let mut counts = DryRun::default();
    let mut batch = Vec::with_capacity(BATCH);
    // With --prune: every address of the file, valid or not (see `Planner::plan_removals`).
    let mut in_file = options.prune.then(HashSet::new);
    let mut decide = |batch: &mut Vec<Invitee>| -> Result<(), Failure> {
        let (known, lapsed) = match journal {
            Some(journal) => (
                journal.statuses_of(org_id, batch).map_err(Failure::usage)?,
                journal
                    .lapsed_of(org_id, keys(batch).iter().map(EmailKey::as_str))
                    .map_err(Failure::usage)?,
            ),
            None => Default::default(),
        };
        for invitee in batch.drain(..) {
            let key = invitee.email_key();
            let stored = known.get(&key);
            let known = stored.map(|&(status, _)| Known {
                status,
                lapsed: lapsed.contains(key.as_str()),
            });
            let applied = stored.and_then(|(_, grants)| grants.as_ref());
            let desired = Grants::of(&invitee);
            let action = decide_with_grants(known, applied, &desired, options);
            if action.sends() {
                let (name, change) = match action {
                    Action::Resolve => ("resolve", None),
                    Action::Update => (
                        "update",
                        Some(applied.cloned().unwrap_or_default().change_to(&desired)),
                    ),
                    _ => ("invite", None),
                };
                counts.entries.push(PlanEntry {
                    action: name.into(),
                    email: invitee.email.clone(),
                    grants: desired.clone(),
                    change,
                });
            }
            // What the row's grants column says: the change, for an update or a difference.
            let mut change = None;
            match action {
                Action::Skip { lapsed, .. } => {
                    counts.lapsed_skipped += usize::from(lapsed);
                    counts.skipped += 1;
                }
                Action::Update | Action::Drifted { .. } => {
                    let from = applied.cloned().unwrap_or_default();
                    change = Some(from.change_to(&desired));
                    if action == Action::Update {
                        counts.updates += 1;
                        counts.owner_grants +=
                            usize::from(desired.has_owner() && !from.has_owner());
                    } else {
                        counts.drifted += 1;
                        counts.skipped += 1;
                    }
                }
                Action::Reinvite => {
                    counts.would_send += 1;
                    counts.reinvited += 1;
                }
                Action::Send | Action::Resolve => {
                    counts.would_send += 1;
                    counts.owner_grants += usize::from(desired.has_owner());
                }
            }
            let sends = action.sends();
            let action = action.label();
            if collect && invitee.line >= settings.report_from {
                counts.people.push(crate::summary::PlannedPerson {
                    line: invitee.line,
                    email: invitee.email.clone(),
                    action: action.clone(),
                    sends,
                    roles: invitee
                        .roles
                        .iter()
                        .map(|r| r.as_str().to_owned())
                        .collect(),
                    team_ids: invitee.team_ids.clone(),
                    projects: invitee.projects.clone(),
                    grants: invitee.grants_text(),
                    change: change.clone(),
                });
            }
            if print && invitee.line >= settings.report_from {
                crate::outln!(
                    "line {:>5}  {:<16}  {}  {}",
                    invitee.line,
                    action,
                    crate::terminal::safe(&invitee.email),
                    crate::terminal::safe(&change.unwrap_or_else(|| invitee.grants_text()))
                );
            }
        }
        Ok(())
    };
    let pass = stream(input, open(input.path)?, settings, |row| {
        match row {
            Row::Valid(invitee) => {
                if let Some(in_file) = &mut in_file {
                    in_file.insert(invitee.email_key());
                }
                batch.push(invitee);
                if batch.len() >= BATCH {
                    decide(&mut batch)?;
                }
            }
            Row::Invalid(bad) => {
                if let (Some(in_file), Some(email)) = (&mut in_file, bad.email.as_deref()) {
                    in_file.insert(EmailKey::of(email));
                }
            }
        }
        Ok(())
    })?;
    // Even when names ended the pass's work: the rows before them are printed by this pass.
    decide(&mut batch)?;
    if let (Some(in_file), Some(journal), false) = (&in_file, journal, pass.needs_names()) {
        counts.removals = journal
            .leavers_of(org_id, in_file)
            .map_err(Failure::usage)?;
        counts
            .entries
            .extend(counts.removals.iter().map(PlanEntry::of_change));
        if print {
            for change in &counts.removals {
                crate::outln!(
                    "            {:<16}  {}  {}",
                    "remove",
                    crate::terminal::safe(&change.email),
                    crate::terminal::safe(&change.reason)
                );
            }
        }
    }
    Ok((pass, counts))
}

fn keys(batch: &[Invitee]) -> Vec<EmailKey> {
    batch.iter().map(Invitee::email_key).collect()
}

/// A reader that hashes what goes through it (SHA-256), so that the digest of a file costs no
/// read of its own.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
}

impl<R> Hashing<R> {
    fn new(inner: R) -> Hashing<R> {
        Hashing {
            inner,
            hasher: Sha256::new(),
        }
    }

    /// The digest of everything read so far, in lower-case hexadecimal.
    fn hex(&self) -> String {
        crate::util::hex(&self.hasher.clone().finalize())
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pass of a planning that stopped at names (the planning is consumed, so its
    /// borrow of the journal ends here).
    fn needs_names(planned: Planned<'_>) -> Pass {
        match planned {
            Planned::NeedsNames(pass) => pass,
            _ => panic!("the named row needs its names resolved"),
        }
    }

    /// Commits a whole planning.
    fn committed(planned: Result<Planned<'_>, Failure>) -> (i64, crate::journal::Plan, Pass) {
        match planned {
            Ok(Planned::Ready { planner, pass }) => {
                (planner.run_id(), (*planner).commit().unwrap(), pass)
            }
            _ => panic!("names are resolved"),
        }
    }

    fn new_run() -> NewRun {
        NewRun {
            org_id: "5f1e2d3c4b5a697887766554".into(),
            csv_path: "people.csv".into(),
            csv_sha256: String::new(),
            api: "invites".into(),
            base_url: "http://127.0.0.1".into(),
            options: serde_json::json!({}),
            os_user: None,
            hostname: None,
            command: "run",
        }
    }

    #[test]
    fn names_after_a_committed_batch_roll_the_whole_planning_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::from("email,teams\n");
        for i in 0..BATCH + 5 {
            text.push_str(&format!("p{i}@example.com,\n"));
        }
        text.push_str("named@example.com,Platform\nlast@example.com,\n");
        let csv = dir.path().join("people.csv");
        std::fs::write(&csv, &text).unwrap();
        let mut journal = Journal::open(&dir.path().join("j.db")).unwrap();
        let options = RosterOptions::default();
        let input = Input {
            path: &csv,
            options,
            report: false,
        };

        let planned = plan(
            &mut journal,
            &new_run(),
            Rules {
                options: PlanOptions::default(),
                strict: false,
            },
            &input,
            Settings::first(),
            &StopSignal::default(),
        )
        .unwrap();
        let pass = needs_names(planned);
        assert_eq!(pass.first_named, Some(BATCH as u64 + 7));
        assert_eq!(pass.names.needed(), (true, false));
        assert!(journal.recent_runs(None, 5).unwrap().is_empty());
        assert!(journal.status_counts(None).unwrap().is_empty());

        let directory = Directory::default();
        let settings = Settings {
            directory: Some(&directory),
            report_from: pass.first_named.unwrap(),
            stop_at_names: false,
        };
        let planned = plan(
            &mut journal,
            &new_run(),
            Rules {
                options: PlanOptions::default(),
                strict: true,
            },
            &input,
            settings,
            &StopSignal::default(),
        );
        assert!(
            matches!(planned, Ok(Planned::Refused(_))),
            "--strict refuses the invalid row the first reading did not see"
        );
        drop(planned);
        assert!(journal.recent_runs(None, 5).unwrap().is_empty());
        let planned = plan(
            &mut journal,
            &new_run(),
            Rules {
                options: PlanOptions::default(),
                strict: false,
            },
            &input,
            settings,
            &StopSignal::default(),
        );
        let (run_id, plan, pass) = committed(planned);
        assert_eq!(plan.rows.len(), BATCH + 6);
        assert_eq!((pass.valid, pass.invalid), (BATCH as u64 + 6, 1));
        let runs = journal.recent_runs(None, 5).unwrap();
        assert_eq!(runs.iter().map(|r| r.id).collect::<Vec<_>>(), [run_id]);
        let counts = journal.status_counts(None).unwrap();
        let count = |status: &str| counts.iter().find(|c| c.status == status).map(|c| c.count);
        assert_eq!(count("pending"), Some(BATCH as i64 + 6));
        assert_eq!(count("invalid"), Some(1));
    }

    #[test]
    fn hashing_gives_the_digest_of_what_was_read() {
        let mut reader = Hashing::new(&b"abc"[..]);
        std::io::copy(&mut reader, &mut std::io::sink()).unwrap();
        assert_eq!(
            reader.hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
