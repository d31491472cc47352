//! `atlas-invite revoke`: undo a batch. Selects the people this journal invited (by the run that
//! created their invitation, by address, by role), shows them, asks, then cancels each pending
//! invitation through the same pipeline as invitations — paced, retried, journaled, and
//! resumable: a revoke that stops half-way is finished by running it again.

use std::sync::Arc;

use anyhow::{Context, anyhow};
use serde::Serialize;

use super::run::{Drive, confirm, drive, preflight_check, watch_signals};
use crate::atlas::client::{Api, AtlasClient, ClientConfig};
use crate::cli::{Format, RevokeArgs};
use crate::exit::{ABORTED, Failure, INCOMPLETE, SUCCESS};
use crate::journal::{ChangeReport, Journal, NewRun, Plan, RevokeSelection, RunTotals};
use crate::pipeline::{self, PipelineConfig, Rate, RetryPolicy, StopSignal};
use crate::plan::PlannedChange;
use crate::progress::DisplayMode;
use crate::terminal::safe;
use crate::util::{hostname, os_user};
use crate::vocab::{Counts, EmailKey};

/// `--rate auto` when Atlas declares no limit, as for `run`.
const DEFAULT_RATE_PER_SEC: f64 = 1.0;

/// What `--format json` prints.
#[derive(Serialize)]
struct Summary<'a> {
    run_id: Option<i64>,
    org_id: &'a str,
    journal: String,
    dry_run: bool,
    selected: usize,
    #[serde(flatten)]
    counts: &'a Counts,
    stopped: Option<String>,
    exit_code: i32,
    changes: &'a [ChangeReport],
}

pub(super) async fn revoke(args: &RevokeArgs) -> Result<i32, Failure> {
    let settings = super::settings::resolve(&args.atlas)?;
    let org_id = settings.require_org("")?;
    let path = super::journal_path::for_reconcile(&args.journal, &org_id)?;
    let selection = RevokeSelection {
        run: args.run,
        emails: args.email.iter().map(|e| EmailKey::of(e)).collect(),
        role: args.role.clone(),
        where_sql: args.where_sql.clone(),
    };
    let journal = Journal::open(&path).map_err(Failure::usage)?;
    let mut changes = journal
        .revoke_candidates(&org_id, &selection)
        .map_err(Failure::usage)?;
    for change in &mut changes {
        change.remove_active = args.remove_active;
    }
    if changes.is_empty() {
        eprintln!(
            "nothing to revoke: no person this journal invited into org {org_id} matches \
             (`atlas-invite report` lists them)"
        );
        return Ok(SUCCESS);
    }
    if args.format == Format::Text || args.dry_run {
        list(&changes, args.dry_run);
    }
    if args.dry_run {
        return Ok(SUCCESS);
    }
    if !confirmed(args, changes.len())? {
        eprintln!("not confirmed: nothing was sent");
        return Ok(ABORTED);
    }

    let credentials = settings.require_credentials()?;
    let base_url = settings.base_url.value.clone();
    let api = Api::from(args.atlas.api);
    let client = AtlasClient::new(&ClientConfig {
        base_url: base_url.clone(),
        org_id: org_id.clone(),
        api,
        credentials,
        timeout: args.send.timeout,
        concurrency: args.send.concurrency.into(),
        envelope: false,
    })
    .map_err(Failure::usage)?;
    preflight_check(&client).await?;
    let stop = Arc::new(StopSignal::default());
    watch_signals(Arc::clone(&stop))
        .context("cannot listen for Ctrl-C and SIGTERM")
        .map_err(Failure::usage)?;

    let mut journal = journal;
    journal.lock_for_run().map_err(Failure::usage)?;
    let run_id = journal
        .start_run(&NewRun {
            org_id: org_id.clone(),
            csv_path: String::new(),
            csv_sha256: String::new(),
            api: api.as_str().into(),
            base_url,
            options: serde_json::json!({
                "run": args.run,
                "emails": args.email.len(),
                "role": args.role,
                "where": args.where_sql,
                "remove_active": args.remove_active,
                "concurrency": args.send.concurrency,
                "max_attempts": args.send.max_attempts,
            }),
            os_user: os_user(),
            hostname: hostname(),
            command: "revoke",
        })
        .map_err(Failure::usage)?;
    journal
        .register_changes(run_id, &org_id, &mut changes)
        .map_err(Failure::usage)?;

    let mode = DisplayMode::detect(args.quiet || args.format == Format::Json);
    let (gate, _pace) = pipeline::rate::gate_for_run(
        &client,
        args.send.rate,
        Rate::per_second(DEFAULT_RATE_PER_SEC),
        false,
    )
    .await;
    let planned = changes.len() as u64;
    let driven = drive(Drive {
        client,
        gate,
        stop: Arc::clone(&stop),
        journal,
        run_id,
        org_id: org_id.clone(),
        mode,
        event_log: None,
        config: PipelineConfig {
            concurrency: args.send.concurrency.into(),
            retry: RetryPolicy::new(args.send.max_attempts, args.send.max_backoff),
            // Changes never wait for a settle window (see `pipeline::change`).
            settle: args.send.timeout,
            earlier_requests_settled_at: None,
        },
        plan: Plan {
            changes,
            ..Plan::default()
        },
    })
    .await?;
    let outcome = driven.outcome;
    let mut journal = driven.journal;
    let mut counts = driven.tally.counts.clone();
    counts.unfinished = planned.saturating_sub(counts.settled());
    let code = if outcome.stopped.is_some() {
        ABORTED
    } else if counts.failed + counts.unfinished > 0 {
        INCOMPLETE
    } else {
        SUCCESS
    };
    journal
        .finish_run(
            run_id,
            &RunTotals {
                counts: Counts {
                    requests: outcome.requests,
                    ..counts.clone()
                },
                ..RunTotals::default()
            },
            code,
        )
        .map_err(|e| Failure::aborted(anyhow!(e)))?;
    let results = journal.run_changes(run_id).map_err(Failure::usage)?;
    let summary = Summary {
        run_id: Some(run_id),
        org_id: &org_id,
        journal: path.display().to_string(),
        dry_run: false,
        selected: planned as usize,
        counts: &counts,
        stopped: outcome.stopped.as_ref().map(ToString::to_string),
        exit_code: code,
        changes: &results,
    };
    match args.format {
        Format::Json => crate::outln!(
            "{}",
            serde_json::to_string(&summary).unwrap_or_else(|_| "{}".into())
        ),
        Format::Text if !args.quiet => print_text(&summary),
        Format::Text => {}
    }
    if let Some(reason) = &summary.stopped {
        eprintln!("error: revoke stopped: {}", safe(reason));
        eprintln!("run the same command again to finish; what is done is not sent again");
    }
    Ok(code)
}

/// The people selected, one per line, on stdout.
fn list(changes: &[PlannedChange], dry_run: bool) {
    let verb = if dry_run { "would revoke" } else { "revoking" };
    crate::outln!("{verb} {} people:", changes.len());
    for change in changes {
        crate::outln!(
            "  {}  {}  ({})",
            safe(&change.email),
            safe(&change.from.roles.join(", ")),
            safe(&change.reason)
        );
    }
}

/// Asks once on a terminal; without one, `--yes` is required.
fn confirmed(args: &RevokeArgs, count: usize) -> Result<bool, Failure> {
    if args.yes {
        return Ok(true);
    }
    if !confirm::terminal() {
        return Err(Failure::usage(anyhow!(
            "revoking {count} invitations needs --yes when there is no terminal to ask: \
             nothing was sent (--dry-run lists them)"
        )));
    }
    confirm::ask(&format!("revoke these {count} invitations?"))
}

fn print_text(summary: &Summary<'_>) {
    let c = summary.counts;
    crate::outln!(
        "Revoke run {} for org {}: revoked {}, removed {}, left alone {}, failed {}, unfinished {} \
         ({} requests; journal {})",
        summary.run_id.unwrap_or_default(),
        safe(summary.org_id),
        c.revoked,
        c.removed,
        c.kept,
        c.failed,
        c.unfinished,
        c.requests,
        safe(&summary.journal)
    );
    for change in summary.changes.iter().filter(|c| c.state != "done") {
        let what = match change.state.as_str() {
            "kept" => "left alone",
            "planned" => "unfinished",
            other => other,
        };
        crate::outln!(
            "  {what} {}: {}",
            safe(&change.email),
            safe(change.detail.as_deref().unwrap_or(""))
        );
    }
}
