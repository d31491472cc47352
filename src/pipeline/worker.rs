//! One row's journey: wait for the rate gate, mark the row `in_flight`, send, classify the
//! answer, retry or look the person up, and emit the result.
//!
//! The rules that keep invites exactly-once live here and in `pipeline::run`: a request goes
//! out only after its row's `in_flight` mark is committed; a request whose outcome is unknown
//! is followed by a lookup, never by a blind resend; and a row is only reported `failed` when
//! Atlas really refused it.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use super::Shared;
use super::events::{AttemptKind, AttemptOutcome, AttemptRecord, Event, RowResult, StopReason};
use crate::atlas::error::{CallError, ErrorClass};
use crate::atlas::model::InvitationRequest;
use crate::journal::{InviteStatus, PlannedRow};

/// The last thing Atlas said about a row, kept for its final result.
#[derive(Default)]
struct Last {
    http_status: Option<u16>,
    error_code: Option<String>,
    detail: Option<String>,
}

impl Last {
    fn from_error(e: &CallError) -> Last {
        Last {
            http_status: e.http_status(),
            error_code: e.error_code().map(str::to_owned),
            detail: Some(e.detail_text()),
        }
    }
}

/// What to do after one request.
enum Next {
    Done(InviteStatus, Option<String>),
    Retry(Option<Duration>),
    /// Send again at once (a lookup found nothing, so the POST is safe).
    Continue,
    Stop,
}

pub(super) struct RowTask {
    shared: Arc<Shared>,
    email: String,
    email_key: String,
    request: InvitationRequest,
    /// True while the outcome of an earlier request for this row is unknown.
    unresolved: bool,
    /// True once a request for this row was sent and could have been acted on in this run, so
    /// that a stop leaves the row `in_flight` rather than `pending`.
    attempts: u32,
    last: Last,
    /// The last request's record, not emitted yet (see [`RowTask::record`]).
    unreported: Option<AttemptRecord>,
}

impl RowTask {
    pub(super) fn new(shared: Arc<Shared>, row: PlannedRow) -> RowTask {
        let email_key = row.invitee.email_key();
        RowTask {
            request: row.invitee.to_request(),
            email: row.invitee.email,
            email_key,
            unresolved: row.unresolved,
            shared,
            attempts: 0,
            last: Last::default(),
            unreported: None,
        }
    }

    pub(super) async fn run(mut self) {
        let policy = self.shared.config.retry;
        let mut backoff = policy.backoff();
        loop {
            if self.shared.stop.is_stopped() {
                return self.finish_unfinished();
            }
            if self.attempts >= policy.max_attempts {
                return self.give_up();
            }
            tokio::select! {
                () = self.shared.gate.acquire() => {}
                () = self.shared.stop.stopped() => continue,
            }
            self.attempts += 1;
            let next = if self.unresolved {
                self.lookup().await
            } else {
                self.invite().await
            };
            let retry_after = match next {
                Next::Done(status, id) => return self.finish(status, id),
                Next::Continue => {
                    self.flush_attempt();
                    continue;
                }
                Next::Stop => return self.finish_unfinished(),
                Next::Retry(retry_after) => retry_after,
            };
            if self.attempts >= policy.max_attempts {
                return self.give_up();
            }
            let delay = backoff.next_delay(retry_after);
            self.flush_attempt();
            self.shared.recorder.emit(Event::Retrying {
                email: self.email.clone(),
                attempt: self.attempts,
                delay,
                reason: self.last_reason(),
            });
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = self.shared.stop.stopped() => {}
            }
        }
    }

    /// Sends the invitation once.
    async fn invite(&mut self) -> Next {
        // The row was marked `in_flight`, durably, before it reached this worker (see
        // `pipeline::run`), and stays so until its result is recorded.
        let shared = Arc::clone(&self.shared);
        let sent_at = SystemTime::now();
        let started = Instant::now();
        shared.requests.fetch_add(1, Ordering::Relaxed);
        let result = shared.client.invite(&self.request).await;
        let latency = started.elapsed();
        let endpoint = shared.client.api().invite_endpoint();
        match result {
            Ok(answer) => {
                shared.gate.on_answer(&answer.rate);
                shared.note_deprecation(answer.sunset.as_deref());
                self.last = Last {
                    http_status: Some(answer.status),
                    ..Last::default()
                };
                self.record(
                    AttemptKind::Invite,
                    endpoint,
                    sent_at,
                    latency,
                    AttemptOutcome::Invited,
                );
                Next::Done(InviteStatus::Invited, answer.value.id)
            }
            Err(e) => self.on_error(e, AttemptKind::Invite, endpoint, sent_at, latency),
        }
    }

    /// Asks Atlas whether the invitation exists after an unknown outcome.
    async fn lookup(&mut self) -> Next {
        let shared = Arc::clone(&self.shared);
        let sent_at = SystemTime::now();
        let started = Instant::now();
        shared.requests.fetch_add(1, Ordering::Relaxed);
        let result = shared.client.find_invitation(&self.email).await;
        let latency = started.elapsed();
        let endpoint = shared.client.api().lookup_endpoint();
        match result {
            Ok(answer) => {
                shared.gate.on_answer(&answer.rate);
                self.last = Last {
                    http_status: Some(answer.status),
                    ..Last::default()
                };
                match answer.value {
                    Some(invitation) => {
                        self.record(
                            AttemptKind::Lookup,
                            endpoint,
                            sent_at,
                            latency,
                            AttemptOutcome::Found,
                        );
                        Next::Done(InviteStatus::Invited, invitation.id)
                    }
                    None => {
                        self.record(
                            AttemptKind::Lookup,
                            endpoint,
                            sent_at,
                            latency,
                            AttemptOutcome::NotFound,
                        );
                        self.unresolved = false;
                        Next::Continue
                    }
                }
            }
            Err(e) => self.on_error(e, AttemptKind::Lookup, endpoint, sent_at, latency),
        }
    }

    fn on_error(
        &mut self,
        error: CallError,
        kind: AttemptKind,
        endpoint: &'static str,
        sent_at: SystemTime,
        latency: Duration,
    ) -> Next {
        self.last = Last::from_error(&error);
        let class = error.class();
        if let (false, CallError::Status { rate, .. }) =
            (matches!(class, ErrorClass::RateLimited { .. }), &error)
        {
            self.shared.gate.on_answer(rate);
        }
        let (outcome, next) = match class {
            ErrorClass::AlreadyInvited if kind == AttemptKind::Invite => (
                AttemptOutcome::AlreadyInvited,
                Next::Done(InviteStatus::AlreadyInvited, None),
            ),
            ErrorClass::AlreadyMember if kind == AttemptKind::Invite => (
                AttemptOutcome::AlreadyMember,
                Next::Done(InviteStatus::AlreadyMember, None),
            ),
            ErrorClass::Auth => {
                self.shared.stop.stop(StopReason::AuthFailed {
                    status: error.http_status().unwrap_or_default(),
                    detail: error.to_string(),
                });
                (AttemptOutcome::Unauthorized, Next::Stop)
            }
            ErrorClass::RateLimited { .. } => {
                let slowdown = self.shared.gate.on_rate_limited(&error.rate_limit_hint());
                self.shared.recorder.emit(Event::RateLimited {
                    wait: slowdown.pause,
                    rate_per_sec: slowdown.rate_per_sec,
                });
                (
                    AttemptOutcome::RateLimited,
                    Next::Retry(Some(slowdown.pause)),
                )
            }
            ErrorClass::Transient => (AttemptOutcome::Retry, Next::Retry(None)),
            ErrorClass::Unknown => {
                // A lookup that got no answer changes nothing: the row stays unresolved.
                self.unresolved = true;
                (AttemptOutcome::Unknown, Next::Retry(None))
            }
            ErrorClass::Permanent | ErrorClass::AlreadyInvited | ErrorClass::AlreadyMember => (
                AttemptOutcome::Refused,
                Next::Done(InviteStatus::Failed, None),
            ),
        };
        self.record(kind, endpoint, sent_at, latency, outcome);
        next
    }

    /// Keeps the record of the request just made. It is emitted on its own when another request
    /// follows, or together with the row's result when the row ends, so that the common case
    /// (one request, one result) costs the journal one update of the person, not two.
    fn record(
        &mut self,
        kind: AttemptKind,
        endpoint: &'static str,
        sent_at: SystemTime,
        latency: Duration,
        outcome: AttemptOutcome,
    ) {
        self.flush_attempt();
        self.unreported = Some(AttemptRecord {
            email_key: self.email_key.clone(),
            attempt: self.attempts,
            kind,
            endpoint,
            sent_at,
            latency,
            http_status: self.last.http_status,
            error_code: self.last.error_code.clone(),
            detail: self.last.detail.clone(),
            outcome,
        });
    }

    /// Emits the kept attempt record on its own.
    fn flush_attempt(&mut self) {
        if let Some(record) = self.unreported.take() {
            self.shared.recorder.emit(Event::Attempt(record));
        }
    }

    fn last_reason(&self) -> String {
        let mut text = String::new();
        if let Some(status) = self.last.http_status {
            text.push_str(&format!("HTTP {status}"));
        }
        if let Some(code) = &self.last.error_code {
            text.push(' ');
            text.push_str(code);
        }
        if let Some(detail) = self.last.detail.as_deref().filter(|d| !d.is_empty()) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(detail);
        }
        text
    }

    /// Every attempt is used up.
    fn give_up(self) {
        if self.unresolved {
            // Whether the last request created the invitation is still unknown: the journal
            // keeps `in_flight`, and the next run looks the person up first.
            let detail = format!(
                "outcome unknown after {} attempts ({}); the next run checks with Atlas before sending again",
                self.attempts,
                self.last_reason()
            );
            self.emit_result(InviteStatus::InFlight, None, Some(detail));
        } else {
            let detail = format!(
                "gave up after {} attempts: {}",
                self.attempts,
                self.last_reason()
            );
            self.emit_result(InviteStatus::Failed, None, Some(detail));
        }
    }

    /// The run stopped before this row was done.
    fn finish_unfinished(self) {
        let status = if self.unresolved {
            InviteStatus::InFlight
        } else {
            InviteStatus::Pending
        };
        let detail = self.last.detail.clone();
        self.emit_result(status, None, detail);
    }

    fn finish(self, status: InviteStatus, invitation_id: Option<String>) {
        let detail = match status {
            InviteStatus::Failed => Some(self.last_reason()),
            _ => self.last.detail.clone(),
        };
        self.emit_result(status, invitation_id, detail);
    }

    fn emit_result(
        self,
        status: InviteStatus,
        invitation_id: Option<String>,
        detail: Option<String>,
    ) {
        let result = RowResult {
            email_key: self.email_key,
            email: self.email,
            status,
            invitation_id,
            http_status: self.last.http_status,
            error_code: self.last.error_code,
            detail,
            attempts: self.attempts,
            last_attempt: self.unreported,
        };
        self.shared.recorder.emit(Event::Finished(result));
    }
}
