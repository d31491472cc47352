//! The run's lease: a run sends invitations only while the journal holds a lease that says so.
//!
//! When a run dies without ending (`kill -9`, a crash, a second Ctrl-C), its requests may still
//! be on their way to Atlas or being worked on there. The next run must not look those people
//! up before Atlas can have finished with them, or it finds nothing and invites them twice. It
//! knows when the dead run's last request can have left: no later than the lease that run last
//! committed (`runs.lease_until`), which is renewed every [`RENEW_EVERY`] while the run works.
//! A worker checks the lease before every invitation it sends, so the journal's promise holds
//! even when the journal stalls: the run then waits instead of sending.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use tokio::time::Instant;

use super::events::{Event, StopReason};
use super::executor::{EventSink, SinkClosed};
use super::stop::StopSignal;

/// How far ahead each renewal extends the lease.
pub const LEASE: Duration = Duration::from_secs(10);
/// How often the lease is renewed.
pub const RENEW_EVERY: Duration = Duration::from_secs(2);
/// A request is only sent while the lease runs at least this much longer, which covers the time
/// between the check and the request leaving the machine.
const SAFETY: Duration = Duration::from_secs(1);

/// The lease as the workers see it: the instant until which sending is allowed.
#[derive(Clone)]
pub(super) struct LeaseView {
    valid_until: watch::Receiver<Option<Instant>>,
}

impl LeaseView {
    /// Completes once sending is allowed, or returns false when the run stops first.
    pub(super) async fn allows_sending(&mut self, stop: &StopSignal) -> bool {
        loop {
            let valid = (*self.valid_until.borrow_and_update())
                .is_some_and(|until| Instant::now() + SAFETY < until);
            if valid {
                return true;
            }
            tokio::select! {
                changed = self.valid_until.changed() => {
                    if changed.is_err() {
                        // The keeper is gone: the run is over.
                        return false;
                    }
                }
                () = stop.stopped() => return false,
            }
        }
    }
}

/// Commits the first lease and returns the view the workers check, with the task that keeps
/// renewing it (abort it when the run is over). Fails when the journal cannot record the lease:
/// nothing may be sent then.
pub(super) async fn acquire(
    recorder: Arc<dyn EventSink>,
    stop: Arc<StopSignal>,
) -> Option<(LeaseView, tokio::task::JoinHandle<()>)> {
    let (tx, rx) = watch::channel(None);
    renew(&*recorder, &tx).await.ok()?;
    let keeper = tokio::spawn(async move {
        loop {
            tokio::time::sleep(RENEW_EVERY).await;
            if renew(&*recorder, &tx).await.is_err() {
                stop.stop(StopReason::JournalFailed(
                    "the run's lease could not be renewed".into(),
                ));
                return;
            }
        }
    });
    Some((LeaseView { valid_until: rx }, keeper))
}

/// Commits a lease of [`LEASE`] from now; the workers may use it once it is on disk.
async fn renew(
    recorder: &dyn EventSink,
    tx: &watch::Sender<Option<Instant>>,
) -> Result<(), SinkClosed> {
    // Both clocks are read before the commit, so the in-memory lease never outlasts the stored one.
    let asked = Instant::now();
    let until = SystemTime::now() + LEASE;
    recorder.commit(Event::Lease { until }).await?;
    tx.send_replace(Some(asked + LEASE));
    Ok(())
}
