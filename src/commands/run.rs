//! `atlas-invite run`: stream the CSV into a plan against the journal, run the pipeline,
//! summarise. How the file is read (once, or twice for names and `--strict`) is in `passes`.

mod capacity;
pub(super) mod confirm;
mod passes;
mod preflight;
mod signals;

pub(super) use preflight::check as preflight_check;
pub(super) use signals::watch as watch_signals;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, anyhow};
use serde_json::json;
use tokio::sync::mpsc;

use self::passes::{Input, Planned, Settings};
use super::input::{Directory, directory_for_run};
use super::simulate::{DemoSimulator, start_demo};
use crate::atlas::auth::{Credentials, CredentialsError, Secret};
use crate::atlas::client::{Api, AtlasClient, ClientConfig};
use crate::atlas::profile::SettingsError;
use crate::cli::{Format, RunArgs};
use crate::exit::{ABORTED, Failure, INCOMPLETE, SUCCESS};
use crate::journal::{Journal, NewRun, PlanOptions, Recorder, RunTotals};
use crate::pipeline::events::StopReason;
use crate::pipeline::{self, PipelineConfig, Rate, RateSetting, RetryPolicy, StopSignal};
use crate::progress::{self, DisplayMode};
use crate::roster::NameSet;
use crate::summary::Summary;
use crate::util::{hostname, human_duration, os_user};

/// Organization the demonstration invites into unless `--org` names one.
const SIMULATE_ORG: &str = "64b7e2f0c1d2e3f4a5b6c7d8";
/// Bearer token of the in-process simulator; it guards nothing real.
const SIMULATE_TOKEN: &str = "simulated-access-token";
/// `--rate auto` with `--simulate`, when the simulator declares no limit: twice the demo's
/// limit, so the demonstration shows the client learning it from the refusals.
const SIMULATE_RATE_PER_SEC: f64 = 20.0;
/// `--rate auto` against Atlas when it declares no limit: a conservative start, which grows
/// until Atlas's answers show its limit.
const DEFAULT_RATE_PER_SEC: f64 = 1.0;

/// Where requests go and how they authenticate.
struct Target {
    org_id: String,
    base_url: String,
    credentials: Option<Credentials>,
    /// The Atlas CLI profile that completed the settings, if one did: recorded with the run.
    profile: Option<String>,
    /// Kept alive for the whole run when `--simulate` started one.
    _simulator: Option<DemoSimulator>,
}

/// Added to `--timeout` for the default settle window: how long Atlas may go on working on a
/// request after the client stopped waiting for it.
const SETTLE_MARGIN: Duration = Duration::from_secs(30);

/// `run`, in four phases: [`prepare`] (settings, the file, `--strict`, `--dry-run`), [`open`]
/// (the client, its preflight check, the journal's lock), [`plan`] (the file against the
/// journal, in one transaction) and [`execute`] (the pipeline, the recorder and the display),
/// then [`finish`] (totals, exit code, summary).
pub(super) async fn run(args: RunArgs) -> Result<i32, Failure> {
    let prepared = match prepare(&args).await? {
        Prepared::Ready(prepared) => prepared,
        Prepared::Exit(code) | Prepared::Previewed(Preview { code, .. }) => return Ok(code),
    };
    let mut session = open(&args, &prepared).await?;
    let mut summary = prepared.summary.clone();
    let Some((plan, run_id)) = plan(&args, &prepared, &mut session, &mut summary).await? else {
        return Ok(summary.exit_code);
    };
    let executed = execute(&args, &prepared, session, plan, run_id, &mut summary).await?;
    finish(&args, executed, summary)
}

/// What every phase of a real run shares, once the settings and the file have been checked.
struct Ready<'a> {
    settle: Duration,
    target: Target,
    input: Input<'a>,
    journal_path: PathBuf,
    /// The state directory to create before the journal is opened, when it goes there.
    state_dir: Option<PathBuf>,
    /// The names' directory, when `--strict` read it already.
    directory: Option<Directory>,
    /// The summary so far: the run's identity, and the file's counts once planned.
    summary: Summary,
}

enum Prepared<'a> {
    Ready(Box<Ready<'a>>),
    /// `--strict` with invalid rows: done, with this exit code.
    Exit(i32),
    /// `--dry-run`: done.
    Previewed(Preview),
}

/// What a dry run found: its exit code, and what the run would do, for `plan`.
pub(super) struct Preview {
    pub code: i32,
    pub entries: Vec<crate::plan::PlanEntry>,
    pub org_id: String,
    pub base_url: String,
    pub journal: PathBuf,
    /// [`Journal::state_of`] the organization, `no journal` when there is none yet.
    pub journal_state: String,
    /// The effective options, as `runs.options` records them.
    pub options: serde_json::Value,
}

/// `run --dry-run`, for `plan`: what the run would do, without sending or writing anything.
pub(super) async fn preview(args: &RunArgs) -> Result<Preview, Failure> {
    match prepare(args).await? {
        Prepared::Previewed(preview) => Ok(preview),
        Prepared::Exit(code) => Err(Failure {
            code,
            error: anyhow!("--strict: the file has invalid rows; no plan was written"),
        }),
        Prepared::Ready(_) => unreachable!("a preview is a dry run"),
    }
}

/// Resolves the settings, and answers `--strict` refusals and `--dry-run`: neither writes
/// anything nor sends an invitation.
async fn prepare(args: &RunArgs) -> Result<Prepared<'_>, Failure> {
    let settle = settle_window(args)?;
    let target = target(args).await?;
    let options = args.input.roster_options()?;
    let input = Input {
        path: &args.csv,
        options,
        // Invalid rows are diagnostics: on stderr also with --format json, whose stdout holds
        // only the summary.
        report: !args.quiet,
    };
    let (journal_path, state_dir) = super::journal_path::for_run(args, &target.org_id);
    let mut summary = Summary {
        org_id: target.org_id.clone(),
        csv: args.csv.display().to_string(),
        journal: journal_path.display().to_string(),
        dry_run: args.dry_run,
        ..Summary::default()
    };

    // Names become ids (or invalid rows) before anything is counted, checked or sent.
    let mut directory = None;
    if args.strict {
        let check = passes::check(&input)?;
        let found = directory_for(&check.names, args, &target).await?;
        if check.invalid > 0 || !found.resolves_all(&check.names) {
            let settings = Settings {
                directory: Some(&found),
                ..Settings::first()
            };
            passes::report(&input, settings)?.fill(&mut summary);
            return Ok(Prepared::Exit(strict_refusal(args, summary)));
        }
        directory = Some(found);
    }
    if args.dry_run {
        let preview = dry_run(args, &target, &input, directory, &journal_path, summary).await?;
        return Ok(Prepared::Previewed(preview));
    }
    Ok(Prepared::Ready(Box::new(Ready {
        settle,
        target,
        input,
        journal_path,
        state_dir,
        directory,
        summary,
    })))
}

/// A real run's connections: to Atlas (checked), to the signals, to the journal (locked).
struct Session {
    client: AtlasClient,
    api: Api,
    stop: Arc<StopSignal>,
    event_log: Option<crate::event_log::EventLog>,
    journal: Journal,
    /// When the journal's lock was taken: no earlier run can have sent anything after it.
    locked_at: SystemTime,
}

/// Builds the client and checks it against Atlas, listens for signals, opens `--events` and
/// takes the journal's lock. Nothing is written to the journal yet.
async fn open(args: &RunArgs, ready: &Ready<'_>) -> Result<Session, Failure> {
    let target = &ready.target;
    let credentials = target
        .credentials
        .clone()
        .expect("credentials are checked before a real run");
    let api = Api::from(args.atlas.api);
    let client = AtlasClient::new(&ClientConfig {
        base_url: target.base_url.clone(),
        org_id: target.org_id.clone(),
        api,
        credentials,
        timeout: args.send.timeout,
        concurrency: args.send.concurrency.into(),
        envelope: args.envelope,
    })
    .map_err(Failure::usage)?;
    // A file that cannot be read is the user's to fix before anybody asks Atlas anything.
    std::fs::File::open(&args.csv).map_err(|source| {
        Failure::usage(crate::roster::RosterError::Io {
            path: args.csv.clone(),
            source,
        })
    })?;
    preflight::check(&client).await?;
    let stop = Arc::new(StopSignal::default());
    signals::watch(Arc::clone(&stop))
        .context("cannot listen for Ctrl-C and SIGTERM")
        .map_err(Failure::usage)?;

    let event_log = match &args.events {
        Some(path) => {
            let journal = crate::cli::JournalArgs {
                journal: Some(ready.journal_path.clone()),
            };
            super::refuse_journal_path("--events", path, &journal)?;
            Some(
                crate::event_log::EventLog::open(path)
                    .with_context(|| format!("cannot write --events {}", path.display()))
                    .map_err(Failure::usage)?,
            )
        }
        None => None,
    };
    super::journal_path::create_state_dir(ready.state_dir.as_deref())?;
    let mut journal = Journal::open(&ready.journal_path).map_err(Failure::usage)?;
    journal.lock_for_run().map_err(Failure::usage)?;
    Ok(Session {
        client,
        api,
        stop,
        event_log,
        journal,
        // Holding the lock, no earlier run is still sending: its last request left before now.
        locked_at: SystemTime::now(),
    })
}

/// Plans the file against the journal in one transaction, reading names from Atlas when the
/// file needs them. `None` when the run ends here (interrupted, or `--strict` refused); the
/// summary has been printed and holds the exit code.
async fn plan(
    args: &RunArgs,
    ready: &Ready<'_>,
    session: &mut Session,
    summary: &mut Summary,
) -> Result<Option<(crate::journal::Plan, i64)>, Failure> {
    let target = &ready.target;
    let new_run = NewRun {
        org_id: target.org_id.clone(),
        csv_path: args.csv.display().to_string(),
        // Filled in by the pass that plans, which reads the file.
        csv_sha256: String::new(),
        api: session.api.as_str().into(),
        base_url: target.base_url.clone(),
        options: run_options(args, target.profile.as_deref()),
        os_user: os_user(),
        hostname: hostname(),
        command: if args.expected_plan.is_some() {
            "apply"
        } else {
            "run"
        },
    };
    let plan_options = plan_options(args);
    let mut directory = ready.directory.clone();
    let mut report_from = 0;
    loop {
        let settings = Settings {
            directory: directory.as_ref(),
            report_from,
            stop_at_names: directory.is_none(),
        };
        let planned = passes::plan(
            &mut session.journal,
            &new_run,
            passes::Rules {
                options: plan_options,
                strict: args.strict,
            },
            &ready.input,
            settings,
            &session.stop,
        );
        if session.stop.is_stopped() {
            // The planning was rolled back: nothing of this run is in the journal.
            summary.stopped = Some(
                "interrupted while planning; nothing was sent and the journal is unchanged".into(),
            );
            summary.exit_code = ABORTED;
            print_summary(args, summary);
            return Ok(None);
        }
        match planned? {
            Planned::Ready { planner, pass } => {
                pass.fill(summary);
                return commit(args, &session.client, *planner, summary).await;
            }
            Planned::Refused(pass) => {
                pass.fill(summary);
                summary.exit_code = strict_refusal(args, summary.clone());
                return Ok(None);
            }
            Planned::NeedsNames(pass) => {
                directory = Some(directory_for(&pass.names, args, target).await?);
                report_from = pass.first_named.unwrap_or(0);
            }
        }
    }
}

/// Reviews a whole plan — Atlas's capacity, the plan `apply` expects, the confirmation — and
/// commits it. A refusal or a "no" drops the planner, which leaves the journal as it was.
async fn commit(
    args: &RunArgs,
    client: &AtlasClient,
    planner: crate::journal::Planner<'_>,
    summary: &mut Summary,
) -> Result<Option<(crate::journal::Plan, i64)>, Failure> {
    let limits = capacity::Limits {
        org: args.max_org_users,
        team: args.max_team_users,
    };
    capacity::check(client, planner.plan(), limits).await?;
    if let Some(expected) = &args.expected_plan {
        super::plan::check_unchanged(planner.plan(), expected)?;
    }
    if !confirm::review(args, &summary.org_id, planner.plan())? {
        summary.stopped =
            Some("not confirmed; nothing was sent and the journal is unchanged".into());
        summary.exit_code = ABORTED;
        print_summary(args, summary);
        return Ok(None);
    }
    let run_id = planner.run_id();
    let plan = planner.commit().map_err(Failure::usage)?;
    summary.run_id = Some(run_id);
    summary.skipped = plan.skipped as u64;
    if !args.quiet {
        lapsed_note(plan.lapsed_skipped, plan.reinvited);
    }
    Ok(Some((plan, run_id)))
}

/// What the pipeline left for [`finish`].
struct Executed {
    journal: Journal,
    run_id: i64,
    /// Valid rows the run set out to send.
    planned: u64,
    outcome: pipeline::PipelineOutcome,
}

/// Runs the plan through the pipeline: paced by the rate gate, every outcome committed by the
/// recorder before the display (and `--events`) sees it. Fills the summary's counts from what
/// the recorder committed.
async fn execute(
    args: &RunArgs,
    ready: &Ready<'_>,
    session: Session,
    plan: crate::journal::Plan,
    run_id: i64,
    summary: &mut Summary,
) -> Result<Executed, Failure> {
    let Session {
        client,
        api,
        stop,
        event_log,
        journal,
        locked_at,
    } = session;
    let mode = DisplayMode::detect(args.quiet || args.format == Format::Json);
    let fallback = Rate::per_second(if args.simulate {
        SIMULATE_RATE_PER_SEC
    } else {
        DEFAULT_RATE_PER_SEC
    });
    let (gate, pace) = pipeline::rate::gate_for_run(
        &client,
        args.send.rate,
        fallback,
        plan.rows.is_empty() && plan.changes.is_empty(),
    )
    .await;
    if mode != DisplayMode::Quiet {
        announce(args, ready, api, &plan, &pace);
    }
    let earlier_requests_settled_at =
        earlier_requests_settled_at(args, ready, &journal, &plan, run_id, locked_at)?;

    let planned = (plan.rows.len() + plan.changes.len()) as u64;
    let driven = drive(Drive {
        client,
        gate: Arc::clone(&gate),
        stop,
        journal,
        run_id,
        org_id: ready.target.org_id.clone(),
        mode,
        event_log,
        config: PipelineConfig {
            concurrency: args.send.concurrency.into(),
            retry: RetryPolicy::new(args.send.max_attempts, args.send.max_backoff),
            settle: ready.settle,
            earlier_requests_settled_at,
        },
        plan,
    })
    .await?;
    summary.apply_tally(&driven.tally, driven.elapsed);
    summary.apply_gate(args.send.rate, &gate.view());
    Ok(Executed {
        journal: driven.journal,
        run_id,
        planned,
        outcome: driven.outcome,
    })
}

/// Everything the pipeline needs for one run, `run`'s or `revoke`'s.
pub(super) struct Drive {
    pub client: AtlasClient,
    pub gate: Arc<pipeline::RateGate>,
    pub stop: Arc<StopSignal>,
    pub journal: Journal,
    pub run_id: i64,
    pub org_id: String,
    pub mode: DisplayMode,
    pub event_log: Option<crate::event_log::EventLog>,
    pub config: PipelineConfig,
    pub plan: crate::journal::Plan,
}

/// What the pipeline left: the journal back from the recorder, the tally of what it
/// committed, how the pipeline ended and how long it took.
pub(super) struct Driven {
    pub journal: Journal,
    pub tally: crate::vocab::Tally,
    pub outcome: pipeline::PipelineOutcome,
    pub elapsed: Duration,
}

/// Runs a plan through the pipeline: every event goes to the recorder, which commits it, then
/// on to `--events` and the display; returns once all three have seen the last one.
pub(super) async fn drive(drive: Drive) -> Result<Driven, Failure> {
    let Drive {
        client,
        gate,
        stop,
        journal,
        run_id,
        org_id,
        mode,
        event_log,
        config,
        plan,
    } = drive;
    let planned = (plan.rows.len() + plan.changes.len()) as u64;
    let (display_tx, display_rx) = mpsc::unbounded_channel();
    let (committed_tx, committed_rx) = mpsc::unbounded_channel();
    tokio::spawn(crate::event_log::tee(committed_rx, event_log, display_tx));
    let display = tokio::spawn(progress::consume(
        display_rx,
        mode,
        planned,
        Arc::clone(&gate),
    ));
    let (recorder, recorder_thread) = Recorder::start(journal, run_id, org_id, committed_tx);
    let started = Instant::now();
    let outcome = pipeline::run_all(
        Arc::new(client),
        gate,
        Arc::new(recorder),
        stop,
        config,
        plan.rows,
        plan.changes,
    )
    .await;
    let elapsed = started.elapsed();
    let recorded = tokio::task::spawn_blocking(move || recorder_thread.finish())
        .await
        .map_err(|e| Failure::aborted(anyhow!("the journal thread failed: {e}")))?;
    // The display ends once the recorder has forwarded its last event.
    display
        .await
        .map_err(|e| Failure::aborted(anyhow!("the display failed: {e}")))?;
    let journal = recorded.journal.map_err(|e| Failure::aborted(anyhow!(e)))?;
    Ok(Driven {
        journal,
        tally: recorded.tally,
        outcome,
        elapsed,
    })
}

/// Says on stderr what the run is about to do, and at what pace.
fn announce(args: &RunArgs, ready: &Ready<'_>, api: Api, plan: &crate::journal::Plan, pace: &str) {
    // The pace may quote Atlas (why its limits could not be read): made safe to print.
    let line = format!(
        "inviting {} people to org {} via {} {pace}, {} at a time ({} already done; journal {})",
        plan.rows.len(),
        ready.target.org_id,
        api.invite_endpoint(),
        args.send.concurrency,
        plan.skipped,
        ready.journal_path.display()
    );
    eprintln!("{}", crate::terminal::safe(&line));
    if !plan.changes.is_empty() {
        let count = |op| plan.changes.iter().filter(|c| c.operation == op).count();
        eprintln!(
            "then updating the grants of {} people and removing {} who left the file",
            count(crate::vocab::Operation::Update),
            count(crate::vocab::Operation::Remove)
        );
    }
    if plan.drifted > 0 {
        eprintln!(
            "note: {} people have other grants in the file than in Atlas; --no-update leaves \
             them (`run --dry-run` shows the differences)",
            plan.drifted
        );
    }
}

/// When the requests of the run before this one have settled, if this plan has people that run
/// left `in_flight`: its last possible send (never later than our taking the lock) plus the
/// settle window.
fn earlier_requests_settled_at(
    args: &RunArgs,
    ready: &Ready<'_>,
    journal: &Journal,
    plan: &crate::journal::Plan,
    run_id: i64,
    locked_at: SystemTime,
) -> Result<Option<SystemTime>, Failure> {
    if !plan.rows.iter().any(|row| row.unresolved) {
        return Ok(None);
    }
    let last_send = journal
        .previous_run_last_send(run_id)
        .map_err(|e| Failure::aborted(anyhow!(e)))?
        .map_or(locked_at, |at| at.min(locked_at));
    let at = last_send + ready.settle;
    if !args.quiet {
        settle_note(&plan.rows, at);
    }
    Ok(Some(at))
}

/// Records the run's totals and exit code, and prints the summary.
fn finish(args: &RunArgs, executed: Executed, mut summary: Summary) -> Result<i32, Failure> {
    let Executed {
        mut journal,
        run_id,
        planned,
        outcome,
    } = executed;
    // Rows never handed to a worker (the run stopped first) have no event: count them too.
    summary.counts.unfinished = planned.saturating_sub(summary.counts.settled());
    summary.stopped = outcome.stopped.as_ref().map(ToString::to_string);
    let code = exit_code(outcome.stopped.is_some(), &summary);
    summary.exit_code = code;
    let totals = RunTotals {
        rows_total: summary.rows,
        rows_valid: summary.valid,
        rows_invalid: summary.invalid,
        rows_duplicate: summary.duplicates,
        skipped: summary.skipped,
        counts: crate::vocab::Counts {
            // Every request sent, also those whose record the journal could not take.
            requests: outcome.requests,
            ..summary.counts.clone()
        },
    };
    journal
        .finish_run(run_id, &totals, code)
        .map_err(|e| Failure::aborted(anyhow!(e)))?;
    print_summary(args, &summary);
    // With --quiet, print_summary has said why already.
    if let Some(reason) = outcome.stopped.as_ref().filter(|_| !args.quiet) {
        eprintln!(
            "error: run stopped: {}",
            crate::terminal::safe(&reason.to_string())
        );
        if *reason == StopReason::Interrupted {
            eprintln!(
                "rerun the same command to finish; it checks unresolved requests with Atlas first"
            );
        }
    }
    Ok(code)
}

/// The exit code of a run that went through the pipeline: 3 when it stopped early, 1 when
/// anybody is left failed, unfinished or invalid, else 0.
fn exit_code(stopped: bool, summary: &Summary) -> i32 {
    if stopped {
        ABORTED
    } else if summary.counts.failed + summary.counts.unfinished + summary.invalid > 0 {
        INCOMPLETE
    } else {
        SUCCESS
    }
}

/// Resolves the organization, base URL and credentials, starting the simulator for
/// `--simulate`. Fails (exit 2) before anything is sent when one is missing or malformed.
async fn target(args: &RunArgs) -> Result<Target, Failure> {
    if args.simulate {
        let org_id = args
            .atlas
            .org
            .clone()
            .unwrap_or_else(|| SIMULATE_ORG.to_owned());
        if args.dry_run {
            return Ok(Target {
                org_id,
                base_url: "(simulator)".into(),
                credentials: None,
                profile: None,
                _simulator: None,
            });
        }
        let simulator = start_demo(&org_id, SIMULATE_TOKEN).await?;
        return Ok(Target {
            org_id,
            base_url: simulator.base_url(),
            credentials: Some(Credentials::AccessToken(Secret::new(SIMULATE_TOKEN))),
            profile: None,
            _simulator: Some(simulator),
        });
    }
    let settings = super::settings::resolve(&args.atlas)?;
    let org_id = settings.require_org(" (or pass --simulate to try the built-in simulator)")?;
    // A dry run sends nothing: it needs credentials only to read team or project names, and
    // says so then.
    let credentials = if args.dry_run {
        None
    } else {
        Some(match &settings.credentials {
            Ok(credentials) => credentials.value.clone(),
            Err(e) => return Err(Failure::usage(simulate_hint(e.clone()))),
        })
    };
    Ok(Target {
        org_id,
        base_url: settings.base_url.value.clone(),
        credentials,
        profile: settings.profile.as_ref().map(|(name, _)| name.clone()),
        _simulator: None,
    })
}

/// Missing credentials, with the way to try the tool without any: only `run` has `--simulate`.
fn simulate_hint(error: SettingsError) -> anyhow::Error {
    match error {
        SettingsError::Env(CredentialsError::Missing) => {
            anyhow!("{error} (or pass --simulate to try the tool against the built-in simulator)")
        }
        other => other.into(),
    }
}

/// The names' directory for this run: see [`directory_for_run`].
async fn directory_for(
    names: &NameSet,
    args: &RunArgs,
    target: &Target,
) -> Result<Directory, Failure> {
    directory_for_run(
        names,
        args,
        &target.org_id,
        &target.base_url,
        target.credentials.as_ref(),
    )
    .await
}

/// `--dry-run`: what would be sent, from the file and the journal, without writing either.
async fn dry_run(
    args: &RunArgs,
    target: &Target,
    input: &Input<'_>,
    mut directory: Option<Directory>,
    journal_path: &std::path::Path,
    mut summary: Summary,
) -> Result<Preview, Failure> {
    let journal = Journal::open_read_only(journal_path).map_err(Failure::usage)?;
    let journal_state = match &journal {
        Some(journal) => journal.state_of(&target.org_id).map_err(Failure::usage)?,
        None => "no journal".to_owned(),
    };
    let print = args.format == Format::Text && !args.quiet;
    let mut report_from = 0;
    let mut people = Vec::new();
    let counts = loop {
        let settings = Settings {
            directory: directory.as_ref(),
            report_from,
            stop_at_names: directory.is_none(),
        };
        let (pass, mut counts) = passes::dry_run(
            journal.as_ref(),
            &target.org_id,
            plan_options(args),
            print,
            args.format == Format::Json,
            input,
            settings,
        )?;
        // A pass that stopped at names listed the people before them: keep them.
        people.append(&mut counts.people);
        if pass.needs_names() {
            directory = Some(directory_for(&pass.names, args, target).await?);
            report_from = pass.first_named.unwrap_or(0);
            continue;
        }
        pass.fill(&mut summary);
        break counts;
    };
    if print {
        let mut changes = String::new();
        if counts.updates > 0 {
            changes.push_str(&format!(", update {} people", counts.updates));
        }
        if !counts.removals.is_empty() {
            changes.push_str(&format!(", remove {}", counts.removals.len()));
        }
        crate::outln!(
            "would send {} invitations to org {}{changes}; nothing was sent",
            counts.would_send,
            target.org_id
        );
    }
    if !args.quiet {
        lapsed_note(counts.lapsed_skipped, counts.reinvited);
    }
    summary.skipped = counts.skipped;
    summary.counts.unfinished = counts.would_send;
    if args.format == Format::Json {
        summary.plan = Some(people);
    }
    summary.exit_code = if summary.invalid == 0 {
        SUCCESS
    } else {
        INCOMPLETE
    };
    print_summary(args, &summary);
    Ok(Preview {
        code: summary.exit_code,
        entries: counts.entries,
        org_id: target.org_id.clone(),
        base_url: target.base_url.clone(),
        journal: journal_path.to_owned(),
        journal_state,
        options: run_options(args, target.profile.as_deref()),
    })
}

/// The choices that change what a run plans, as `decide` takes them.
fn plan_options(args: &RunArgs) -> PlanOptions {
    PlanOptions {
        reinvite_expired: args.reinvite_expired,
        no_update: args.no_update,
        prune: args.prune,
    }
}

/// `--settle`, or its default, checked against `--timeout`: a shorter window would let a lookup
/// run while Atlas may still be working on the request it is meant to settle.
fn settle_window(args: &RunArgs) -> Result<Duration, Failure> {
    match args.settle {
        None => Ok(args.send.timeout + SETTLE_MARGIN),
        Some(settle) if settle >= args.send.timeout => Ok(settle),
        Some(settle) => Err(Failure::usage(anyhow!(
            "--settle {} is shorter than --timeout {}: Atlas may still be working on a request \
             when its lookup runs, and the person would be invited twice; pass --settle of at \
             least {}",
            human_duration(settle),
            human_duration(args.send.timeout),
            human_duration(args.send.timeout)
        ))),
    }
}

/// Says that people left `in_flight` by an earlier run wait until its requests have settled.
fn settle_note(rows: &[crate::journal::PlannedRow], at: SystemTime) {
    let count = rows.iter().filter(|row| row.unresolved).count();
    match at.duration_since(SystemTime::now()) {
        Ok(wait) if !wait.is_zero() => eprintln!(
            "{count} people were left in flight by an earlier run that may have sent their \
             invitations until moments ago: they are looked up with Atlas in {} (the settle \
             window, --settle), and sent again only if Atlas has no invitation; everybody else \
             goes ahead meanwhile",
            human_duration(wait)
        ),
        _ => eprintln!(
            "{count} people were left in flight by an earlier run: looking them up with Atlas \
             before sending again"
        ),
    }
}

/// `--strict` with invalid rows: the summary says so, nothing was sent (or written).
fn strict_refusal(args: &RunArgs, mut summary: Summary) -> i32 {
    summary.exit_code = INCOMPLETE;
    summary.stopped = Some(format!(
        "--strict: {} invalid rows, nothing was sent",
        summary.invalid
    ));
    print_summary(args, &summary);
    INCOMPLETE
}

/// Says on stderr how many done people have a lapsed invitation (expired or declined, as the last
/// `reconcile` saw it): skipped without `--reinvite-expired`, invited again with it.
fn lapsed_note(skipped: usize, reinvited: usize) {
    if skipped > 0 {
        eprintln!(
            "note: {skipped} invitations expired or were declined (as of the last reconcile); \
             rerun with --reinvite-expired to invite them again"
        );
    }
    if reinvited > 0 {
        eprintln!("reinviting {reinvited} people whose invitation expired or was declined");
    }
}

fn print_summary(args: &RunArgs, summary: &Summary) {
    match args.format {
        Format::Json => crate::outln!("{}", summary.to_json()),
        Format::Text if !args.quiet => crate::outln!("{}", summary.to_text()),
        Format::Text => {}
    }
    // --quiet silences progress and the summary, not the reason for a non-zero exit code.
    if args.quiet
        && let Some(error) = summary.error_line()
    {
        eprintln!("error: {}", crate::terminal::safe(&error));
    }
}

/// The effective options, as recorded in `runs.options`. Never holds a credential: of the
/// Atlas CLI profile, only its name.
fn run_options(args: &RunArgs, profile: Option<&str>) -> serde_json::Value {
    let max_rate = match args.send.rate {
        RateSetting::Auto => None,
        RateSetting::Max(rate) => Some(rate.as_per_second()),
    };
    json!({
        "api": Api::from(args.atlas.api).as_str(),
        "concurrency": args.send.concurrency,
        "rate": if max_rate.is_some() { "max" } else { "auto" },
        "rate_per_sec": max_rate,
        "max_attempts": args.send.max_attempts,
        "max_backoff_ms": args.send.max_backoff.as_millis() as u64,
        "timeout_ms": args.send.timeout.as_millis() as u64,
        "settle_ms": settle_window(args).map_or(0, |d| d.as_millis() as u64),
        "default_role": args.input.default_role.as_str(),
        "input": args.input.to_json(),
        "strict": args.strict,
        "reinvite_expired": args.reinvite_expired,
        "envelope": args.envelope,
        "simulate": args.simulate,
        "profile": profile,
    })
}
