//! Showing a run's progress on stderr, driven only by committed pipeline events.
//!
//! On a terminal an `indicatif` bar shows done/total, rate, ETA and the counts of retries and
//! failures, and what the rate gate knows: Atlas's limit and when the next request may leave
//! ("Atlas allows 5 per 60 s, capacity 10: next in 8 s"). With the limit known, the ETA is
//! the time the remaining rows take at that pace. Elsewhere (CI logs, files) plain lines are
//! printed at most every few seconds, plus one line per failure and per rate-limit pause.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::mpsc;

use crate::journal::InviteStatus;
use crate::pipeline::RateGate;
use crate::util::human_duration;
use crate::vocab::Tally;
use crate::vocab::events::Event;

/// Interval between plain progress lines.
const PLAIN_INTERVAL: Duration = Duration::from_secs(2);
/// The display refreshes this often without events, so that a long wait counts down.
const TICK: Duration = Duration::from_secs(1);
/// A wait for the next slot shorter than this is not worth showing.
const SHOWN_WAIT: Duration = Duration::from_millis(500);

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisplayMode {
    /// An animated bar (stderr is a terminal).
    Bar,
    /// Periodic plain lines.
    Plain,
    /// Nothing.
    Quiet,
}

impl DisplayMode {
    /// The bar on a terminal, plain lines elsewhere, nothing when `quiet`.
    pub fn detect(quiet: bool) -> DisplayMode {
        if quiet {
            DisplayMode::Quiet
        } else if std::io::stderr().is_terminal() {
            DisplayMode::Bar
        } else {
            DisplayMode::Plain
        }
    }
}

/// Consumes committed events until the channel closes and shows them with what `gate` knows.
/// Its counts are for the eye only: the summary, the journal's totals and the exit code come
/// from the recorder's count of what was committed.
pub async fn consume(
    mut events: mpsc::UnboundedReceiver<Event>,
    mode: DisplayMode,
    total: u64,
    gate: Arc<RateGate>,
) {
    let mut display = Display::new(mode, total, gate);
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Some(event) => display.observe(&event),
                None => break,
            },
            _ = tick.tick(), if mode != DisplayMode::Quiet => display.refresh(),
        }
    }
    display.finish();
}

struct Display {
    mode: DisplayMode,
    total: u64,
    tally: Tally,
    bar: Option<ProgressBar>,
    started: Instant,
    last_line: Instant,
    paused_until: Option<Instant>,
    /// People whose unknown outcome is settling, and when each is looked up.
    settling: HashMap<String, Instant>,
    gate: Arc<RateGate>,
}

impl Display {
    fn new(mode: DisplayMode, total: u64, gate: Arc<RateGate>) -> Display {
        let bar = (mode == DisplayMode::Bar).then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            bar.set_style(
                // A bar of fixed width: a wide one would change size with every message.
                // The rate with one decimal, like the summary's.
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {rate} {msg}",
                )
                .map(|style| {
                    style.with_key(
                        "rate",
                        |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                            let _ = write!(w, "{:.1}/s", state.per_sec());
                        },
                    )
                })
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        let now = Instant::now();
        Display {
            mode,
            total,
            tally: Tally::default(),
            bar,
            started: now,
            last_line: now,
            paused_until: None,
            settling: HashMap::new(),
            gate,
        }
    }

    fn observe(&mut self, event: &Event) {
        self.tally.observe(event);
        match event {
            Event::Finished(r) if !r.status.is_done() && r.status != InviteStatus::Pending => {
                let detail = r.detail.as_deref().unwrap_or("");
                self.println(&format!("{} {}: {detail}", r.status, r.email));
            }
            Event::RateLimited { wait, rate_per_sec } => {
                let until = Instant::now() + *wait;
                // One line per pause, not one per worker that ran into it.
                if self
                    .paused_until
                    .is_none_or(|u| u + Duration::from_millis(200) < until)
                {
                    let line = match self.gate.view().learned {
                        Some(learned) => format!(
                            "rate limited by Atlas (it allows {}): next request in {}, pace stays {:.2}/s",
                            learned.limit,
                            human_duration(*wait),
                            rate_per_sec
                        ),
                        None => format!(
                            "rate limited by Atlas: all requests wait {}; client rate now {:.1}/s",
                            human_duration(*wait),
                            rate_per_sec
                        ),
                    };
                    self.println(&line);
                }
                self.paused_until = Some(until);
            }
            Event::Settling { email, wait } => {
                self.settling.insert(email.clone(), Instant::now() + *wait);
            }
            Event::Settled { email } => {
                self.settling.remove(email);
            }
            Event::Deprecated { endpoint, sunset } => {
                self.println(&format!(
                    "note: Atlas has deprecated {endpoint} and will turn it off on {sunset}; switch with --api users"
                ));
            }
            Event::Stopping(reason) => {
                self.println(&format!(
                    "stopping: {reason}; letting requests in flight finish"
                ));
            }
            _ => {}
        }
        self.refresh();
    }

    fn refresh(&mut self) {
        let message = self.message();
        match self.mode {
            DisplayMode::Bar => {
                if let Some(bar) = &self.bar {
                    bar.set_position(self.tally.finished());
                    bar.set_message(message);
                }
            }
            DisplayMode::Plain => {
                if self.last_line.elapsed() >= PLAIN_INTERVAL {
                    self.last_line = Instant::now();
                    let elapsed = self.started.elapsed().as_secs_f64().max(1e-3);
                    eprintln!(
                        "[{}/{}] {:.1} rows/s, {message}",
                        self.tally.finished(),
                        self.total,
                        self.tally.finished() as f64 / elapsed
                    );
                }
            }
            DisplayMode::Quiet => {}
        }
    }

    fn message(&self) -> String {
        let t = &self.tally;
        let gate = self.gate.view();
        let left = self.total.saturating_sub(t.finished());
        // With Atlas's limit known, the remaining rows take as long as its bucket lets them;
        // otherwise the pace so far is the best guess.
        let eta = gate.eta(left).or_else(|| {
            let elapsed = self.started.elapsed().as_secs_f64();
            let done = t.finished() as f64;
            (done > 0.0).then(|| Duration::from_secs_f64(left as f64 * elapsed / done))
        });
        let mut msg = match eta {
            Some(eta) => format!("ETA {} · ", human_duration(eta)),
            None => String::new(),
        };
        // The same words as the summary: people Atlas already had are not "invited" by us.
        msg.push_str(&format!("invited {}", t.counts.invited));
        if t.counts.already_invited + t.counts.already_member > 0 {
            msg.push_str(&format!(
                " · already invited {} · already member {}",
                t.counts.already_invited, t.counts.already_member
            ));
        }
        msg.push_str(&format!(
            " · failed {} · retries {}",
            t.counts.failed, t.counts.retries
        ));
        let next = if gate.next_in >= SHOWN_WAIT && left > 0 {
            format!(": next in {}", human_duration(gate.next_in))
        } else {
            String::new()
        };
        match gate.learned {
            Some(learned) => msg.push_str(&format!(" · Atlas allows {}{next}", learned.limit)),
            None => msg.push_str(&format!(
                " · pace {:.1}/s, Atlas's limit not stated yet{next}",
                gate.rate_per_sec
            )),
        }
        if let Some(next) = self.settling.values().min() {
            msg.push_str(&format!(
                " · {} unanswered, looked up once Atlas is done with them (next in {})",
                self.settling.len(),
                human_duration(next.saturating_duration_since(Instant::now()))
            ));
        }
        msg
    }

    /// Prints one line above the bar. Lines carry addresses from the CSV and details from Atlas,
    /// so they are made terminal-safe here, once for every caller.
    fn println(&self, line: &str) {
        let line = &*crate::terminal::safe(line);
        match (&self.mode, &self.bar) {
            (DisplayMode::Bar, Some(bar)) => bar.println(line),
            (DisplayMode::Plain, _) => eprintln!("{line}"),
            _ => {}
        }
    }

    fn finish(self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
