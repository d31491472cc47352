//! The invite pipeline: planned rows stream into a bounded set of concurrent workers, all paced
//! by one rate gate, each retrying with backoff; everything they learn goes out as events.
//!
//! The pipeline never prints and never touches SQLite directly: it hands [`events::Event`]s to
//! the journal's recorder, which commits them and passes them on to the display.

mod change;
pub use crate::vocab::events;
pub mod executor;
pub mod lease;
pub mod rate;
mod stop;
#[cfg(test)]
mod tests;
mod worker;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::plan::{PlannedChange, PlannedRow};
pub use crate::retry::RetryPolicy;
pub use executor::{ChangeCall, Effect, EventSink, Executor, SinkClosed, UserSeen};
pub use rate::{Rate, RateGate, RateSetting};
pub use stop::StopSignal;

/// How the pipeline runs.
#[derive(Debug, Clone, Copy)]
pub struct PipelineConfig {
    /// Requests in flight at once.
    pub concurrency: usize,
    pub retry: RetryPolicy,
    /// How long after an invitation request whose outcome is unknown (no answer, a timeout, a
    /// 502 or 504) Atlas may still be working on it. The person is looked up only once this
    /// has passed since the request was sent, so that the lookup's "not found" is final.
    pub settle: Duration,
    /// Rows left `in_flight` by an earlier run are looked up no earlier than this: the last
    /// moment that run can have sent a request, plus [`settle`](Self::settle).
    pub earlier_requests_settled_at: Option<SystemTime>,
}

/// Batches of rows marked `in_flight` ahead of the workers. Two keep the workers fed while the
/// next batch commits; a crash leaves at most this many batches marked but never sent.
const MARKED_AHEAD: usize = 2;

/// Rows per `in_flight` batch, in multiples of `--concurrency`. Requests tend to move in waves
/// of `--concurrency`; with two waves per batch, a commit delayed by a WAL checkpoint still
/// lands before the workers run out of marked rows (measured: one-wave batches left about one
/// wave in ten waiting for its mark).
const MARK_BATCH_FACTOR: usize = 2;

/// What the pipeline's workers share.
struct Shared {
    client: Arc<dyn Executor>,
    /// Requests on the wire at once: `--concurrency`.
    request_slots: Arc<Semaphore>,
    lease: lease::LeaseView,
    gate: Arc<RateGate>,
    recorder: Arc<dyn EventSink>,
    stop: Arc<StopSignal>,
    config: PipelineConfig,
    requests: AtomicU64,
    /// Set once the deprecation of the endpoint has been reported.
    deprecation_noted: std::sync::atomic::AtomicBool,
}

impl Shared {
    /// Reports, once per run, that Atlas sunsets the endpoint in use.
    fn note_deprecation(&self, sunset: Option<&str>) {
        let Some(sunset) = sunset else { return };
        if !self.deprecation_noted.swap(true, Ordering::Relaxed) {
            self.recorder.emit(events::Event::Deprecated {
                endpoint: self.client.send_endpoint(),
                sunset: sunset.to_owned(),
            });
        }
    }
}

/// Commits the `in_flight` mark of a batch of rows and hands the batch on; when the journal
/// cannot record it, nothing of the batch may be sent and the run stops.
async fn mark_in_flight(shared: Arc<Shared>, rows: Vec<PlannedRow>) -> Vec<PlannedRow> {
    // Rows left `in_flight` by an earlier run are marked already.
    let email_keys: Vec<crate::vocab::EmailKey> = rows
        .iter()
        .filter(|row| !row.unresolved)
        .map(|row| row.invitee.email_key())
        .collect();
    if email_keys.is_empty() {
        return rows;
    }
    match shared
        .recorder
        .commit(events::Event::InFlight { email_keys })
        .await
    {
        Ok(()) => rows,
        Err(_) => {
            shared.stop.stop(events::StopReason::JournalFailed(
                "the in_flight marks could not be committed".into(),
            ));
            Vec::new()
        }
    }
}

/// The end of a pipeline run.
#[derive(Debug, Clone)]
pub struct PipelineOutcome {
    /// HTTP requests sent.
    pub requests: u64,
    /// Why the run stopped early, if it did.
    pub stopped: Option<events::StopReason>,
}

/// Sends every planned row and returns when each one has an outcome for this run (or the run
/// was stopped and every in-flight request has finished).
pub async fn run(
    client: Arc<dyn Executor>,
    gate: Arc<RateGate>,
    recorder: Arc<dyn EventSink>,
    stop: Arc<StopSignal>,
    config: PipelineConfig,
    rows: Vec<PlannedRow>,
) -> PipelineOutcome {
    run_all(client, gate, recorder, stop, config, rows, Vec::new()).await
}

/// [`run`], then the changes (updates, revocations, removals), through the same workers, rate
/// gate, retries and events: the invitations first, so that the people a file adds are invited
/// before anybody it drops is removed.
pub async fn run_all(
    client: Arc<dyn Executor>,
    gate: Arc<RateGate>,
    recorder: Arc<dyn EventSink>,
    stop: Arc<StopSignal>,
    config: PipelineConfig,
    rows: Vec<PlannedRow>,
    changes: Vec<PlannedChange>,
) -> PipelineOutcome {
    let Some((lease, keeper)) = lease::acquire(Arc::clone(&recorder), Arc::clone(&stop)).await
    else {
        stop.stop(events::StopReason::JournalFailed(
            "the run's lease could not be committed".into(),
        ));
        recorder.emit(events::Event::Stopping(
            stop.reason().expect("the reason was just set"),
        ));
        return PipelineOutcome {
            requests: 0,
            stopped: stop.reason(),
        };
    };
    let concurrency = config.concurrency.max(1);
    let shared = Arc::new(Shared {
        client,
        request_slots: Arc::new(Semaphore::new(concurrency)),
        lease,
        gate,
        recorder,
        stop: Arc::clone(&stop),
        config,
        requests: AtomicU64::new(0),
        deprecation_noted: std::sync::atomic::AtomicBool::new(false),
    });
    // Rows are marked `in_flight` in batches (as many as run at once), the next batch while the
    // workers still consume the current one: one commit per batch instead of one per request,
    // and never on a request's path. Rows stop being pulled as soon as the run stops; those
    // never pulled stay `pending`.
    //
    // A row is taken only with one of `--concurrency` row slots. A row waiting for its settle
    // window gives its slot back, so that one slow answer does not hold up the rows behind it;
    // every row still in the run is polled here, so none is lost or left running on its own.
    let batch = concurrency * MARK_BATCH_FACTOR;
    let marking = Arc::clone(&shared);
    let pulling = Arc::clone(&stop);
    let row_slots = Arc::new(Semaphore::new(concurrency));
    futures::stream::iter(rows)
        .take_while(move |_| std::future::ready(!pulling.is_stopped()))
        .chunks(batch)
        .map(move |chunk| mark_in_flight(Arc::clone(&marking), chunk))
        .buffered(MARKED_AHEAD)
        .flat_map(futures::stream::iter)
        .then(move |row| {
            let slots = Arc::clone(&row_slots);
            async move { (row, slots.acquire_owned().await.ok()) }
        })
        .for_each_concurrent(None, |(row, slot)| {
            worker::RowTask::new(Arc::clone(&shared), row, slot).run()
        })
        .await;
    // Changes mark nothing in flight (they are idempotent, see `change`): a row slot each.
    let pulling = Arc::clone(&stop);
    futures::stream::iter(changes)
        .take_while(move |_| std::future::ready(!pulling.is_stopped()))
        .for_each_concurrent(concurrency, |change| {
            change::ChangeTask::new(Arc::clone(&shared), change).run()
        })
        .await;
    keeper.abort();
    // Its clone of the recorder must be gone before the journal thread can finish.
    let _ = keeper.await;
    if let Some(reason) = stop.reason() {
        shared.recorder.emit(events::Event::Stopping(reason));
    }
    PipelineOutcome {
        requests: shared.requests.load(Ordering::Relaxed),
        stopped: stop.reason(),
    }
}

/// A row's hold on one of the `--concurrency` row slots; see [`run`].
type RowSlot = Option<OwnedSemaphorePermit>;
