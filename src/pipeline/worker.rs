//! One row's journey: wait for the rate gate, mark the row `in_flight`, send, classify the
//! answer, retry or look the person up, and emit the result.
//!
//! The rules that keep invites exactly-once live here and in `pipeline::run`: a request goes
//! out only after its row's `in_flight` mark is committed, and while the run's lease is valid; a
//! request whose outcome is unknown is followed by a lookup, never by a blind resend, and that
//! lookup waits until Atlas can no longer be working on the request (the settle window), since
//! a lookup made while the request is still being processed finds nothing; and a row is only
//! reported `failed` when Atlas really refused it.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use super::events::{AttemptKind, AttemptOutcome, AttemptRecord, Event, RowResult, StopReason};
use super::{RowSlot, Shared};
use crate::atlas::error::{CallError, ErrorClass};
use crate::atlas::model::InvitationRequest;
use crate::plan::PlannedRow;
use crate::vocab::{EmailKey, InviteStatus};

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
    /// Go on at once: send again (a lookup found nothing, so the POST is safe), or look up
    /// (after the settle window, when one is set).
    Continue,
    Stop,
}

pub(super) struct RowTask {
    shared: Arc<Shared>,
    email: String,
    email_key: EmailKey,
    request: InvitationRequest,
    /// True while the outcome of an earlier request for this row is unknown.
    unresolved: bool,
    /// When set, the lookup of an unknown outcome waits until then: Atlas may still be working
    /// on the request before that.
    settle_until: Option<tokio::time::Instant>,
    /// True once any request for this row (in this run or an earlier one) had an unknown
    /// outcome: a later "already invited" may then be our own invitation.
    ours_maybe: bool,
    /// Atlas answered our resend "already invited": the lookup that follows must find it.
    conflicted: bool,
    /// The row's hold on a row slot, given back while it waits for its settle window.
    slot: RowSlot,
    /// When the last invitation request left.
    last_sent: tokio::time::Instant,
    /// True once a request for this row was sent and could have been acted on in this run, so
    /// that a stop leaves the row `in_flight` rather than `pending`.
    attempts: u32,
    last: Last,
    /// What went wrong with the last request that failed, as its error says it. A later
    /// successful request (a lookup that found nothing) does not replace it: it is the reason
    /// a row is given up for, not "HTTP 200".
    failure: Option<String>,
    /// The last request's record, not emitted yet (see [`RowTask::record`]).
    unreported: Option<AttemptRecord>,
}

impl RowTask {
    pub(super) fn new(shared: Arc<Shared>, row: PlannedRow, slot: RowSlot) -> RowTask {
        let email_key = row.invitee.email_key();
        // A row an earlier run left `in_flight` waits until that run's requests have settled.
        let settle_until = row
            .unresolved
            .then(|| shared.config.earlier_requests_settled_at)
            .flatten()
            .and_then(|at| at.duration_since(SystemTime::now()).ok())
            .map(|wait| tokio::time::Instant::now() + wait);
        RowTask {
            request: row.invitee.to_request(),
            email: row.invitee.email,
            email_key,
            unresolved: row.unresolved,
            settle_until,
            ours_maybe: row.unresolved,
            conflicted: false,
            slot,
            last_sent: tokio::time::Instant::now(),
            shared,
            attempts: 0,
            last: Last::default(),
            failure: None,
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
            if let Some(until) = self.settle_until.take() {
                self.settle(until).await;
                continue;
            }
            let shared = Arc::clone(&self.shared);
            let _request_slot = tokio::select! {
                slot = shared.request_slots.acquire() => slot.ok(),
                () = shared.stop.stopped() => continue,
            };
            tokio::select! {
                () = shared.gate.acquire() => {}
                () = shared.stop.stopped() => continue,
            }
            // An invitation leaves only under a valid lease, so that a later run knows when
            // this one's last request can have left (see `pipeline::lease`). Lookups are reads.
            if !self.unresolved && !self.shared.lease.clone().allows_sending(&shared.stop).await {
                continue;
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

    /// Waits until `until` without holding a row slot, unless the run stops first; the lookup
    /// that follows is then final.
    async fn settle(&mut self, until: tokio::time::Instant) {
        let now = tokio::time::Instant::now();
        if until <= now {
            return;
        }
        self.flush_attempt();
        self.slot = None;
        self.shared.recorder.emit(Event::Settling {
            email: self.email.clone(),
            wait: until - now,
        });
        let stop = Arc::clone(&self.shared.stop);
        tokio::select! {
            () = tokio::time::sleep_until(until) => {}
            () = stop.stopped() => {}
        }
        self.shared.recorder.emit(Event::Settled {
            email: self.email.clone(),
        });
    }

    /// Sends the invitation once.
    async fn invite(&mut self) -> Next {
        // The row was marked `in_flight`, durably, before it reached this worker (see
        // `pipeline::run`), and stays so until its result is recorded.
        let shared = Arc::clone(&self.shared);
        let sent_at = SystemTime::now();
        let started = Instant::now();
        self.last_sent = tokio::time::Instant::now();
        shared.requests.fetch_add(1, Ordering::Relaxed);
        let result = shared.client.send(&self.request).await;
        let latency = started.elapsed();
        let endpoint = shared.client.send_endpoint();
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
        let result = shared.client.lookup(&self.email).await;
        let latency = started.elapsed();
        let endpoint = shared.client.lookup_endpoint();
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
                        if self.conflicted {
                            // Atlas says the person has a pending invitation but lists none
                            // (accepted meanwhile, say): report what Atlas said.
                            Next::Done(InviteStatus::AlreadyInvited, None)
                        } else {
                            Next::Continue
                        }
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
        self.failure = Some(error.to_string());
        let class = error.class();
        if let (false, CallError::Status { rate, .. }) =
            (matches!(class, ErrorClass::RateLimited { .. }), &error)
        {
            self.shared.gate.on_answer(rate);
        }
        let (outcome, next) = match class {
            ErrorClass::AlreadyInvited if kind == AttemptKind::Invite && self.ours_maybe => {
                // An earlier request for this person had an unknown outcome: Atlas had created
                // that invitation after all. Look it up, to record it as ours, with its id.
                self.unresolved = true;
                self.conflicted = true;
                (AttemptOutcome::AlreadyInvited, Next::Continue)
            }
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
            ErrorClass::Unknown if kind == AttemptKind::Invite && !error.was_answered() => {
                // No answer: Atlas may still be working on the request. Look the person up only
                // once it cannot be any more, or the lookup may miss the invitation it creates.
                self.unresolved = true;
                self.ours_maybe = true;
                self.settle_until = Some(self.last_sent + self.shared.config.settle);
                (AttemptOutcome::Unknown, Next::Continue)
            }
            ErrorClass::Unknown => {
                // An answer that could not be read (Atlas is done with the request: look it up
                // at once), or a lookup that got no answer, which changes nothing.
                self.unresolved = true;
                self.ours_maybe |= kind == AttemptKind::Invite;
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
        if let Some(failure) = &self.failure {
            return failure.clone();
        }
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
