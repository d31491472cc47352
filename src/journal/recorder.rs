//! The journal's single writer during a run.
//!
//! A dedicated thread owns the SQLite connection, receives pipeline events, applies whatever is
//! waiting in one transaction (group commit), commits, and only then acknowledges the events and
//! forwards them to the display. One fsync thus covers a whole batch, every result is durable
//! before anybody sees it, and workers waiting on an acknowledgement (the `in_flight` mark that
//! must precede a request) wake as soon as their batch is on disk.

use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Transaction, params};
use tokio::sync::{mpsc, oneshot};

use super::store::sql;
use super::{Journal, JournalError};
use crate::util::{now_rfc3339, rfc3339};
use crate::vocab::events::{AttemptRecord, ChangeResult, ChangeTarget, Event, RowResult};
use crate::vocab::{ChangeState, InviteStatus, Operation, Tally};

/// Most events applied in one transaction. Larger batches amortise the commit further but delay
/// the acknowledgement of the first event in the batch.
const MAX_BATCH: usize = 1_024;

/// When no event of a batch waits for its commit, the writer lingers up to this long for more
/// before committing; an event that does wait (an `in_flight` mark) ends the lingering at once.
/// Every commit rewrites the same hot pages into the WAL, so gathering results into fewer
/// commits cuts the journal's cost per invite (measured on the journal alone: about a third less
/// than with 10 ms).
/// Results reach the display that much later, which nobody can see; a crash can lose the results
/// of that window, whose rows then stay `in_flight` and are looked up by the next run.
const LINGER: Duration = Duration::from_millis(50);

struct Envelope {
    event: Event,
    ack: Option<oneshot::Sender<()>>,
}

/// A cheap, cloneable handle through which the pipeline hands events to the journal.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::UnboundedSender<Envelope>,
    /// The writer thread, woken from its lingering when an event needs its commit at once.
    writer: std::thread::Thread,
}

/// The recorder thread, to be joined when the run is over.
pub struct RecorderHandle {
    thread: JoinHandle<Recorded>,
}

/// What the writer leaves when the run is over.
pub struct Recorded {
    /// The journal, or the first write error.
    pub journal: Result<Journal, JournalError>,
    /// The counts of everything committed, and only that: the summary, the run's totals in the
    /// journal and the exit code all come from here, never from what was displayed.
    pub tally: Tally,
}

/// The journal could not record an event, so the pipeline must not act on it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the journal could not record the result")]
pub struct RecorderGone;

impl Recorder {
    /// Starts the writer thread for run `run_id` of organization `org_id`. Committed events are
    /// forwarded to `display` in the order they were emitted.
    pub fn start(
        journal: Journal,
        run_id: i64,
        org_id: String,
        display: mpsc::UnboundedSender<Event>,
    ) -> (Recorder, RecorderHandle) {
        let (tx, rx) = mpsc::unbounded_channel();
        let checkpointer = Checkpointer::start(&journal);
        let thread = std::thread::Builder::new()
            .name("journal".into())
            .spawn(move || {
                let mut tally = Tally::default();
                let result = write_loop(journal, run_id, &org_id, rx, display, &mut tally);
                // Stops the checkpointer and hands checkpoints back to SQLite.
                drop(checkpointer);
                let journal = result.and_then(|journal| {
                    journal
                        .conn
                        .pragma_update(None, "wal_autocheckpoint", DEFAULT_AUTOCHECKPOINT)
                        .map_err(|e| sql(journal.path(), e))?;
                    Ok(journal)
                });
                Recorded { journal, tally }
            })
            .expect("failed to spawn the journal thread");
        let writer = thread.thread().clone();
        (Recorder { tx, writer }, RecorderHandle { thread })
    }

    /// Queues an event; it reaches the display once committed.
    pub fn emit(&self, event: Event) {
        // A send error means the writer is gone; the next `commit` reports that.
        let _ = self.tx.send(Envelope { event, ack: None });
    }

    /// Queues an event and waits until it is committed to disk.
    pub async fn commit(&self, event: Event) -> Result<(), RecorderGone> {
        let (ack, done) = oneshot::channel();
        self.tx
            .send(Envelope {
                event,
                ack: Some(ack),
            })
            .map_err(|_| RecorderGone)?;
        self.writer.unpark();
        done.await.map_err(|_| RecorderGone)
    }
}

impl crate::pipeline::EventSink for Recorder {
    fn emit(&self, event: Event) {
        Recorder::emit(self, event);
    }

    fn commit(
        &self,
        event: Event,
    ) -> futures::future::BoxFuture<'_, Result<(), crate::pipeline::SinkClosed>> {
        Box::pin(async move {
            Recorder::commit(self, event)
                .await
                .map_err(|RecorderGone| crate::pipeline::SinkClosed)
        })
    }
}

impl RecorderHandle {
    /// Waits for the writer to drain and returns the journal (or the first write error) with
    /// the counts of what was committed. Every [`Recorder`] clone must have been dropped, or
    /// this waits for ever.
    pub fn finish(self) -> Recorded {
        // The senders are gone: a writer lingering over its last batch commits it now.
        self.thread.thread().unpark();
        match self.thread.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

/// SQLite's default `wal_autocheckpoint`, in pages.
const DEFAULT_AUTOCHECKPOINT: i64 = 1_000;
/// How often the checkpointer copies the WAL back into the database during a run.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(500);

/// Checkpoints the WAL from its own connection and thread during a run.
///
/// SQLite's automatic checkpoint runs inside the commit that crosses the threshold, so the
/// writer — and every worker waiting for an `in_flight` mark — would wait for the checkpoint's
/// fsyncs (measured: a stall of a whole request wave about every half second). A passive
/// checkpoint from another connection never blocks the writer.
struct Checkpointer {
    /// Dropping it stops the thread.
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Checkpointer {
    /// Stops the thread and waits until its connection is closed, so that the journal's own
    /// connection is the last one and leaves the file whole when it closes (see `Journal`'s
    /// `Drop`); a process that exits first would leave the WAL beside the file.
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Checkpointer {
    /// Starts checkpointing `journal` and turns its automatic checkpoints off; `None` (and
    /// automatic checkpoints left on) when the second connection cannot be opened.
    fn start(journal: &Journal) -> Option<Checkpointer> {
        let conn = rusqlite::Connection::open(journal.path()).ok()?;
        journal
            .conn
            .pragma_update(None, "wal_autocheckpoint", 0)
            .ok()?;
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let spawned = std::thread::Builder::new()
            .name("checkpoint".into())
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(CHECKPOINT_INTERVAL)
                {
                    // A failed checkpoint is retried at the next tick; the WAL only grows.
                    let _ = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE);");
                }
            });
        match spawned {
            Ok(thread) => Some(Checkpointer {
                stop: Some(stop),
                thread: Some(thread),
            }),
            Err(_) => {
                let _ =
                    journal
                        .conn
                        .pragma_update(None, "wal_autocheckpoint", DEFAULT_AUTOCHECKPOINT);
                None
            }
        }
    }
}

fn write_loop(
    mut journal: Journal,
    run_id: i64,
    org_id: &str,
    mut rx: mpsc::UnboundedReceiver<Envelope>,
    display: mpsc::UnboundedSender<Event>,
    tally: &mut Tally,
) -> Result<Journal, JournalError> {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut failure: Option<JournalError> = None;
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        linger(&mut rx, &mut batch);
        if failure.is_some() {
            // Dropping the acknowledgements tells every waiting worker that nothing is recorded.
            batch.clear();
            continue;
        }
        match apply_batch(&mut journal, run_id, org_id, &batch) {
            Ok(()) => {
                for Envelope { event, ack } in batch.drain(..) {
                    if let Some(ack) = ack {
                        let _ = ack.send(());
                    }
                    tally.observe(&event);
                    let _ = display.send(event);
                }
            }
            Err(e) => {
                let _ = display.send(Event::Stopping(
                    crate::vocab::events::StopReason::JournalFailed(e.to_string()),
                ));
                failure = Some(e);
                batch.clear();
            }
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(journal),
    }
}

/// Gathers events into the batch until it is full, an event in it waits for its commit, the
/// pipeline is gone, or [`LINGER`] has passed.
///
/// The thread sleeps (parks) meanwhile rather than waiting on the channel, so that the results
/// streaming in do not wake it one by one; [`Recorder::commit`] and [`RecorderHandle::finish`]
/// unpark it.
fn linger(rx: &mut mpsc::UnboundedReceiver<Envelope>, batch: &mut Vec<Envelope>) {
    let deadline = std::time::Instant::now() + LINGER;
    let mut waited_on = batch.iter().any(|e| e.ack.is_some());
    loop {
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(next) => {
                    waited_on |= next.ack.is_some();
                    batch.push(next);
                }
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => return,
            }
        }
        if waited_on || batch.len() >= MAX_BATCH {
            return;
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return;
        }
        // May return early (an unpark meant for an earlier wait): the loop looks again.
        std::thread::park_timeout(left);
    }
}

fn apply_batch(
    journal: &mut Journal,
    run_id: i64,
    org_id: &str,
    batch: &[Envelope],
) -> Result<(), JournalError> {
    let path = journal.path().to_owned();
    let now = now_rfc3339();
    let tx = journal.conn.transaction().map_err(|e| sql(&path, e))?;
    for envelope in batch {
        apply(&tx, run_id, org_id, &now, &envelope.event).map_err(|e| sql(&path, e))?;
    }
    tx.commit().map_err(|e| sql(&path, e))
}

fn apply(
    tx: &Transaction<'_>,
    run_id: i64,
    org_id: &str,
    now: &str,
    event: &Event,
) -> rusqlite::Result<()> {
    match event {
        Event::InFlight { email_keys } => {
            // The planning of this run set `last_run_id` already: leaving it out of the SET
            // spares SQLite rewriting its index entry.
            let mut stmt = tx.prepare_cached(
                "UPDATE invites SET status = 'in_flight', updated_at = ?3
                 WHERE org_id = ?1 AND email_key = ?2",
            )?;
            for email_key in email_keys {
                stmt.execute(params![org_id, email_key, now])?;
            }
        }
        Event::Attempt(record) => record_attempt(tx, run_id, org_id, record)?,
        Event::Finished(result) => record_result(tx, run_id, org_id, now, result)?,
        Event::ChangeFinished(change) => record_change(tx, run_id, org_id, now, change)?,
        Event::Lease { until } => {
            tx.prepare_cached("UPDATE runs SET lease_until = ?2 WHERE id = ?1")?
                .execute(params![run_id, rfc3339(*until)])?;
        }
        Event::Retrying { .. }
        | Event::Settling { .. }
        | Event::Settled { .. }
        | Event::RateLimited { .. }
        | Event::Stopping(_)
        | Event::Deprecated { .. } => {}
    }
    Ok(())
}

fn record_attempt(
    tx: &Transaction<'_>,
    run_id: i64,
    org_id: &str,
    a: &AttemptRecord,
) -> rusqlite::Result<()> {
    insert_attempt(tx, run_id, org_id, a)?;
    tx.prepare_cached(
        "UPDATE invites SET attempts = attempts + 1, last_http_status = ?3,
                last_error_code = ?4, last_error_detail = ?5
         WHERE org_id = ?1 AND email_key = ?2",
    )?
    .execute(params![
        org_id,
        a.email_key,
        a.http_status,
        a.error_code,
        a.detail
    ])?;
    Ok(())
}

fn insert_attempt(
    tx: &Transaction<'_>,
    run_id: i64,
    org_id: &str,
    a: &AttemptRecord,
) -> rusqlite::Result<()> {
    let finished = a.sent_at + a.latency;
    tx.prepare_cached(
        "INSERT INTO attempts (run_id, org_id, email_key, attempt, kind, endpoint, sent_at,
                               finished_at, http_status, error_code, detail, latency_ms, outcome)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        run_id,
        org_id,
        a.email_key,
        a.attempt,
        a.kind.as_str(),
        a.endpoint,
        rfc3339(a.sent_at),
        rfc3339(finished),
        a.http_status,
        a.error_code,
        a.detail,
        millis(a.latency),
        a.outcome.as_str(),
    ])?;
    Ok(())
}

/// Records the end of a change, and what it changed: an update's new grants become the person's
/// grants (what was last applied), a revocation or removal becomes their status.
fn record_change(
    tx: &Transaction<'_>,
    run_id: i64,
    org_id: &str,
    now: &str,
    c: &ChangeResult,
) -> rusqlite::Result<()> {
    if let Some(attempt) = &c.last_attempt {
        insert_attempt(tx, run_id, org_id, attempt)?;
    }
    let finished = (c.state != ChangeState::Planned).then_some(now);
    tx.prepare_cached(
        "UPDATE changes SET state = ?2, target = coalesce(?3, target),
                target_id = coalesce(?4, target_id), http_status = ?5, error_code = ?6,
                detail = ?7, finished_at = ?8
         WHERE id = ?1",
    )?
    .execute(params![
        c.change_id,
        c.state,
        c.target.as_ref().map(ChangeTarget::kind),
        c.target.as_ref().map(ChangeTarget::id),
        c.http_status,
        c.error_code,
        c.detail,
        finished,
    ])?;
    if c.state != ChangeState::Done {
        return Ok(());
    }
    match c.operation {
        Operation::Update => {
            tx.prepare_cached(
                "UPDATE invites SET roles = ch.new_roles, team_ids = ch.new_team_ids,
                        projects = ch.new_projects, updated_at = ?3
                 FROM (SELECT new_roles, new_team_ids, new_projects FROM changes WHERE id = ?4) AS ch
                 WHERE org_id = ?1 AND email_key = ?2",
            )?
            .execute(params![org_id, c.email_key, now, c.change_id])?;
        }
        Operation::Revoke | Operation::Remove => {
            let status = if c.operation == Operation::Revoke {
                InviteStatus::Revoked
            } else {
                InviteStatus::Removed
            };
            tx.prepare_cached(
                "UPDATE invites SET status = ?3, updated_at = ?4, last_run_id = ?5,
                        membership_state = NULL, membership_observed_at = NULL
                 WHERE org_id = ?1 AND email_key = ?2",
            )?
            .execute(params![org_id, c.email_key, status, now, run_id])?;
        }
        Operation::Invite => {}
    }
    Ok(())
}

/// Records a row's result, and the request that ended it when it came along: then one update
/// of the person covers both.
fn record_result(
    tx: &Transaction<'_>,
    run_id: i64,
    org_id: &str,
    now: &str,
    r: &RowResult,
) -> rusqlite::Result<()> {
    if let Some(attempt) = &r.last_attempt {
        insert_attempt(tx, run_id, org_id, attempt)?;
    }
    let done_at = r.status.is_done().then_some(now);
    // `last_run_id` is this run's since planning (see the `in_flight` mark).
    tx.prepare_cached(
        "UPDATE invites SET status = ?3, invitation_id = coalesce(?4, invitation_id),
                last_http_status = coalesce(?5, last_http_status),
                last_error_code = ?6, last_error_detail = ?7,
                updated_at = ?8, invited_at = coalesce(invited_at, ?9),
                attempts = attempts + ?10
         WHERE org_id = ?1 AND email_key = ?2",
    )?
    .execute(params![
        org_id,
        r.email_key,
        r.status.as_str(),
        r.invitation_id,
        r.http_status,
        r.error_code,
        r.detail,
        now,
        done_at,
        u32::from(r.last_attempt.is_some()),
    ])?;
    Ok(())
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::InviteStatus;
    use crate::vocab::events::{AttemptKind, AttemptOutcome};
    use std::time::SystemTime;

    use crate::journal::test_support::{ORG, invitee, new_run};

    #[tokio::test]
    async fn results_are_committed_before_they_are_displayed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.db");
        let mut journal = Journal::open(&path).unwrap();
        let run = journal.start_run(&new_run()).unwrap();
        let person = invitee(2, "Ann@Example.com");
        journal.plan(run, ORG, vec![person], &[]).unwrap();

        let (display_tx, mut display_rx) = mpsc::unbounded_channel();
        let (recorder, handle) = Recorder::start(journal, run, ORG.into(), display_tx);
        let key = crate::vocab::EmailKey::of("ann@example.com");
        recorder
            .commit(Event::InFlight {
                email_keys: vec![key.clone()],
            })
            .await
            .unwrap();
        // Visible to another connection as soon as the acknowledgement arrives.
        let reader = rusqlite::Connection::open(&path).unwrap();
        let status: String = reader
            .query_row("SELECT status FROM invites", [], |r| r.get(0))
            .unwrap();
        assert_eq!(status, "in_flight");

        recorder.emit(Event::Attempt(AttemptRecord {
            email_key: key.clone(),
            attempt: 1,
            kind: AttemptKind::Invite,
            endpoint: "POST /api/atlas/v2/orgs/{orgId}/invites",
            sent_at: SystemTime::now(),
            latency: Duration::from_millis(12),
            http_status: Some(200),
            error_code: None,
            detail: None,
            outcome: AttemptOutcome::Invited,
        }));
        recorder.emit(Event::Finished(RowResult {
            email_key: key,
            email: "Ann@Example.com".into(),
            status: InviteStatus::Invited,
            invitation_id: Some("6a1e2d3c4b5a697887766554".into()),
            http_status: Some(200),
            error_code: None,
            detail: None,
            attempts: 1,
            last_attempt: None,
        }));
        drop(recorder);
        let recorded = tokio::task::spawn_blocking(move || handle.finish())
            .await
            .unwrap();
        assert_eq!(
            recorded.tally.counts.invited, 1,
            "counted from what was committed"
        );
        let journal = recorded.journal.unwrap();
        let mut seen = Vec::new();
        while let Some(event) = display_rx.recv().await {
            seen.push(event);
        }
        assert_eq!(seen.len(), 3);
        let (status, id, attempts, invited_at): (String, String, i64, Option<String>) = journal
            .conn
            .query_row(
                "SELECT status, invitation_id, attempts, invited_at FROM invites",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        assert_eq!(status, "invited");
        assert_eq!(id, "6a1e2d3c4b5a697887766554");
        assert_eq!(attempts, 1);
        assert!(invited_at.is_some());
        // Set by the planning; the mark and the result leave it alone.
        let last_run: i64 = journal
            .conn
            .query_row("SELECT last_run_id FROM invites", [], |r| r.get(0))
            .unwrap();
        assert_eq!(last_run, run);
        let outcome: String = journal
            .conn
            .query_row("SELECT outcome FROM attempts", [], |r| r.get(0))
            .unwrap();
        assert_eq!(outcome, "invited");
    }
}
