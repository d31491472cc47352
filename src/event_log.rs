//! `run --events FILE`: one JSON object per line for every row result and every rate-limit
//! pause, written as the journal commits them — the stream a CI job or a dashboard follows
//! (`tail -f`, `jq`). Only committed events reach it, so a line is never ahead of the journal.
//!
//! Lines (fields are only ever added, never renamed or removed):
//! - `{"event":"result","at":…,"email":…,"status":…,"invitation_id":…,"http_status":…,
//!   "error_code":…,"detail":…,"attempts":…}`
//! - `{"event":"rate_limited","at":…,"wait_ms":…,"rate_per_sec":…}`
//! - `{"event":"stopping","at":…,"reason":…}`

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use serde_json::json;
use tokio::sync::mpsc;

use crate::util::now_rfc3339;
use crate::vocab::events::Event;

/// Where the lines go.
pub enum EventLog {
    Stdout,
    File(BufWriter<File>),
}

impl EventLog {
    /// `-` is stdout; anything else a file, created (or truncated) readable by its owner only.
    pub fn open(target: &Path) -> io::Result<EventLog> {
        if target == Path::new("-") {
            return Ok(EventLog::Stdout);
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        Ok(EventLog::File(BufWriter::new(options.open(target)?)))
    }

    /// The line for `event`, or `None` for events that are not part of the stream.
    pub fn line(event: &Event) -> Option<serde_json::Value> {
        let at = now_rfc3339();
        Some(match event {
            Event::Finished(r) => json!({
                "event": "result",
                "at": at,
                "email": r.email,
                "status": r.status.as_str(),
                "invitation_id": r.invitation_id,
                "http_status": r.http_status,
                "error_code": r.error_code,
                "detail": r.detail,
                "attempts": r.attempts,
            }),
            Event::ChangeFinished(c) => json!({
                "event": "change",
                "at": at,
                "email": c.email,
                "operation": c.operation.as_str(),
                "state": c.state.as_str(),
                "target": c.target.as_ref().map(|t| t.kind()),
                "target_id": c.target.as_ref().map(|t| t.id()),
                "http_status": c.http_status,
                "error_code": c.error_code,
                "detail": c.detail,
                "attempts": c.attempts,
            }),
            Event::RateLimited { wait, rate_per_sec } => json!({
                "event": "rate_limited",
                "at": at,
                "wait_ms": wait.as_millis() as u64,
                "rate_per_sec": rate_per_sec,
            }),
            Event::Stopping(reason) => json!({
                "event": "stopping",
                "at": at,
                "reason": reason.to_string(),
            }),
            _ => return None,
        })
    }

    /// Writes `event`'s line, flushed at once so that a follower sees it now. A closed stdout
    /// ends the stream quietly; the run goes on.
    fn write(&mut self, event: &Event) -> io::Result<()> {
        let Some(line) = EventLog::line(event) else {
            return Ok(());
        };
        match self {
            EventLog::Stdout => {
                let mut out = io::stdout().lock();
                writeln!(out, "{line}")?;
                out.flush()
            }
            EventLog::File(file) => {
                writeln!(file, "{line}")?;
                file.flush()
            }
        }
    }
}

/// Passes every committed event on to `next` (the display), writing the stream's lines to
/// `log` on the way. A write error is reported once on stderr and ends the stream, not the run.
pub async fn tee(
    mut events: mpsc::UnboundedReceiver<Event>,
    mut log: Option<EventLog>,
    next: mpsc::UnboundedSender<Event>,
) {
    while let Some(event) = events.recv().await {
        if let Some(sink) = &mut log
            && let Err(e) = sink.write(&event)
        {
            if e.kind() != io::ErrorKind::BrokenPipe {
                eprintln!("warning: --events stopped: {e}");
            }
            log = None;
        }
        let _ = next.send(event);
    }
}
