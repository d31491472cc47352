//! Ctrl-C and SIGTERM during a run: the first stops the run (planning rolls back, sending lets
//! the requests in flight finish), a second exits at once.
//!
//! Signals are watched on a thread of their own with its own small runtime, because planning a
//! large file keeps the run's thread busy for seconds: a watcher on that thread would only see
//! the signal once planning is over, and until the watcher is registered the default action
//! kills the process without a summary.

use std::sync::Arc;

use crate::exit::ABORTED;
use crate::pipeline::StopSignal;
use crate::pipeline::events::StopReason;

/// Starts watching; from now on a signal sets `stop` instead of killing the process.
pub(in crate::commands) fn watch(stop: Arc<StopSignal>) -> std::io::Result<()> {
    let (ready, registered) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => {
                    let _ = ready.send(Err(e));
                    return;
                }
            };
            runtime.block_on(async move {
                match Signals::register().await {
                    Ok(signals) => {
                        let _ = ready.send(Ok(()));
                        react(signals, stop).await;
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e));
                    }
                }
            });
        })?;
    // Waits until the handlers are registered, so that no signal falls between the two.
    registered
        .recv()
        .unwrap_or_else(|_| Err(std::io::Error::other("the signal thread ended")))
}

async fn react(mut signals: Signals, stop: Arc<StopSignal>) {
    let mut count = 0;
    loop {
        signals.next().await;
        count += 1;
        if count == 1 {
            eprintln!(
                "interrupted: stopping, and letting requests already sent finish (press Ctrl-C again to exit at once)"
            );
            stop.stop(StopReason::Interrupted);
        } else {
            eprintln!(
                "interrupted again: exiting now; the next run checks unfinished requests with Atlas"
            );
            std::process::exit(ABORTED);
        }
    }
}

#[cfg(unix)]
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    async fn register() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    async fn next(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    async fn register() -> std::io::Result<Signals> {
        Ok(Signals)
    }

    async fn next(&mut self) {
        let _ = tokio::signal::ctrl_c().await;
    }
}
