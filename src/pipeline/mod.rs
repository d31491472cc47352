//! The invite pipeline: planned rows stream into a bounded set of concurrent workers, all paced
//! by one rate gate, each retrying with backoff; everything they learn goes out as events.
//!
//! The pipeline never prints and never touches SQLite directly: it hands [`events::Event`]s to
//! the journal's recorder, which commits them and passes them on to the display.

pub mod events;
pub mod rate;
pub mod retry;
mod stop;
mod worker;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::StreamExt;

use crate::atlas::client::AtlasClient;
use crate::journal::{PlannedRow, Recorder};
pub use rate::{Rate, RateGate, RateSetting};
pub use retry::RetryPolicy;
pub use stop::StopSignal;

/// How the pipeline runs.
#[derive(Debug, Clone, Copy)]
pub struct PipelineConfig {
    /// Requests in flight at once.
    pub concurrency: usize,
    pub retry: RetryPolicy,
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
    client: AtlasClient,
    gate: Arc<RateGate>,
    recorder: Recorder,
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
                endpoint: self.client.api().invite_endpoint(),
                sunset: sunset.to_owned(),
            });
        }
    }
}

/// Commits the `in_flight` mark of a batch of rows and hands the batch on; when the journal
/// cannot record it, nothing of the batch may be sent and the run stops.
async fn mark_in_flight(shared: Arc<Shared>, rows: Vec<PlannedRow>) -> Vec<PlannedRow> {
    // Rows left `in_flight` by an earlier run are marked already.
    let email_keys: Vec<String> = rows
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
    client: AtlasClient,
    gate: Arc<RateGate>,
    recorder: Recorder,
    stop: Arc<StopSignal>,
    config: PipelineConfig,
    rows: Vec<PlannedRow>,
) -> PipelineOutcome {
    let shared = Arc::new(Shared {
        client,
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
    let batch = config.concurrency.max(1) * MARK_BATCH_FACTOR;
    let marking = Arc::clone(&shared);
    let pulling = Arc::clone(&stop);
    futures::stream::iter(rows)
        .take_while(move |_| std::future::ready(!pulling.is_stopped()))
        .chunks(batch)
        .map(move |chunk| mark_in_flight(Arc::clone(&marking), chunk))
        .buffered(MARKED_AHEAD)
        .flat_map(futures::stream::iter)
        .for_each_concurrent(config.concurrency.max(1), |row| {
            worker::RowTask::new(Arc::clone(&shared), row).run()
        })
        .await;
    if let Some(reason) = stop.reason() {
        shared.recorder.emit(events::Event::Stopping(reason));
    }
    PipelineOutcome {
        requests: shared.requests.load(Ordering::Relaxed),
        stopped: stop.reason(),
    }
}
