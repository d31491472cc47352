//! The signal that tells every worker to stop taking new rows.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

use super::events::StopReason;

/// Set once, by the first reason to stop; every worker checks it before each request.
#[derive(Default)]
pub struct StopSignal {
    stopped: AtomicBool,
    reason: Mutex<Option<StopReason>>,
    notify: Notify,
}

impl StopSignal {
    /// Asks every worker to stop. Only the first reason is kept: it is the cause, later ones
    /// are consequences.
    pub fn stop(&self, reason: StopReason) {
        let mut slot = self.reason.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Some(reason);
        }
        self.stopped.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    /// True once [`stop`](Self::stop) was called.
    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// Why the run stopped, if it did.
    pub fn reason(&self) -> Option<StopReason> {
        self.reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Completes once the signal is set.
    pub async fn stopped(&self) {
        loop {
            let notified = self.notify.notified();
            if self.is_stopped() {
                return;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn the_first_reason_wins_and_waiters_wake() {
        let signal = Arc::new(StopSignal::default());
        let waiter = {
            let signal = Arc::clone(&signal);
            tokio::spawn(async move { signal.stopped().await })
        };
        tokio::task::yield_now().await;
        signal.stop(StopReason::Interrupted);
        signal.stop(StopReason::JournalFailed("x".into()));
        waiter.await.unwrap();
        assert!(signal.is_stopped());
        assert_eq!(signal.reason(), Some(StopReason::Interrupted));
    }
}
