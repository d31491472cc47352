//! Showing a run's progress on stderr, driven only by committed pipeline events.
//!
//! On a terminal an `indicatif` bar shows done/total, rate, ETA and the counts of retries and
//! failures, and says when the run waits on a rate limit. Elsewhere (CI logs, files) plain lines
//! are printed at most every few seconds, plus one line per failure and per rate-limit pause.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::mpsc;

use crate::journal::InviteStatus;
use crate::pipeline::events::Event;
use crate::summary::Tally;
use crate::util::human_duration;

/// Interval between plain progress lines.
const PLAIN_INTERVAL: Duration = Duration::from_secs(2);

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

/// Consumes committed events until the channel closes, shows them, and returns the tally.
pub async fn consume(
    mut events: mpsc::UnboundedReceiver<Event>,
    mode: DisplayMode,
    total: u64,
) -> Tally {
    let mut display = Display::new(mode, total);
    while let Some(event) = events.recv().await {
        display.observe(&event);
    }
    display.finish()
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
}

impl Display {
    fn new(mode: DisplayMode, total: u64) -> Display {
        let bar = (mode == DisplayMode::Bar).then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} {per_sec} ETA {eta} {msg}",
                )
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
                    self.println(&format!(
                        "rate limited by Atlas: all requests wait {}; client rate now {:.1}/s",
                        human_duration(*wait),
                        rate_per_sec
                    ));
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
        let mut msg = format!(
            "invited {} · failed {} · retries {}",
            t.invited + t.already_invited + t.already_member,
            t.failed,
            t.retries
        );
        if let Some(until) = self.paused_until {
            let left = until.saturating_duration_since(Instant::now());
            if !left.is_zero() {
                msg.push_str(&format!(
                    " · waiting on rate limit {}",
                    human_duration(left)
                ));
            }
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

    fn finish(self) -> Tally {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        self.tally
    }
}
