//! One change's journey — an update of a person's grants, the revocation of an invitation, a
//! removal: find what to act on, act, retry with backoff, emit the result.
//!
//! Changes are idempotent: setting grants to the same value twice, or deleting what is gone,
//! leaves Atlas as one request would. So a change whose outcome is unknown (no answer, a
//! timeout) is simply tried again from the start — look the person up, then act — and the
//! second answer says where things stand (a deletion that took effect the first time finds
//! nothing to delete). That is why changes need neither the `in_flight` mark nor the settle
//! window of invitations, and a run that dies mid-change leaves it `planned`, for the next one
//! to do again.
//!
//! What is looked up first follows the endpoint in use: with the invitation endpoints, the
//! pending invitation (a PATCH or DELETE of `…/invites/{id}`), then the user; with the users
//! endpoint, the user (pending or active) only. A person who accepted is a user: `revoke` keeps
//! them unless `--remove-active`, and neither `revoke` nor `--prune` ever removes the
//! organization's last ORG_OWNER.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use super::Shared;
use super::events::{
    AttemptKind, AttemptOutcome, AttemptRecord, ChangeResult, ChangeTarget, Event, StopReason,
};
use super::executor::{ChangeCall, Effect, UserSeen};
use crate::atlas::client::Answer;
use crate::atlas::error::{CallError, ErrorClass};
use crate::plan::PlannedChange;
use crate::vocab::{ChangeState, Operation};

/// Why a request did not give what the change needs.
enum Miss {
    /// 404: nothing there.
    NotFound,
    /// Try the change again after the delay (from the backoff when `None`).
    Retry(Option<Duration>),
    /// A refusal that trying again will not change.
    Refused,
    /// The run stops (refused credentials, or a signal).
    Stop,
}

/// What one try of the change came to.
enum Try {
    Done {
        state: ChangeState,
        operation: Operation,
        detail: Option<String>,
    },
    Retry(Option<Duration>),
    Stop,
}

/// What an answer means for `attempts.outcome`.
trait Found {
    fn outcome(&self) -> AttemptOutcome;
}

/// A lookup found something, or nothing.
impl<T> Found for Option<T> {
    fn outcome(&self) -> AttemptOutcome {
        match self {
            Some(_) => AttemptOutcome::Found,
            None => AttemptOutcome::NotFound,
        }
    }
}

/// The count of owners is a lookup that always finds.
impl Found for u64 {
    fn outcome(&self) -> AttemptOutcome {
        AttemptOutcome::Found
    }
}

impl Found for Effect {
    fn outcome(&self) -> AttemptOutcome {
        match self {
            Effect::Applied => AttemptOutcome::Applied,
            Effect::Gone => AttemptOutcome::Gone,
        }
    }
}

pub(super) struct ChangeTask {
    shared: Arc<Shared>,
    change: PlannedChange,
    attempts: u32,
    http_status: Option<u16>,
    error_code: Option<String>,
    /// What went wrong last, in the error's words.
    failure: Option<String>,
    target: Option<ChangeTarget>,
    unreported: Option<AttemptRecord>,
}

impl ChangeTask {
    pub(super) fn new(shared: Arc<Shared>, change: PlannedChange) -> ChangeTask {
        ChangeTask {
            shared,
            change,
            attempts: 0,
            http_status: None,
            error_code: None,
            failure: None,
            target: None,
            unreported: None,
        }
    }

    pub(super) async fn run(mut self) {
        let policy = self.shared.config.retry;
        let mut backoff = policy.backoff();
        loop {
            let operation = self.change.operation;
            if self.shared.stop.is_stopped() {
                return self.finish(ChangeState::Planned, operation, None);
            }
            if self.attempts >= policy.max_attempts {
                let detail = format!(
                    "gave up after {} requests: {}",
                    self.attempts,
                    self.failure.clone().unwrap_or_default()
                );
                return self.finish(ChangeState::Failed, operation, Some(detail));
            }
            let retry_after = match self.try_once().await {
                Try::Done {
                    state,
                    operation,
                    detail,
                } => {
                    let detail = detail.or_else(|| {
                        (state == ChangeState::Failed)
                            .then(|| self.failure.clone())
                            .flatten()
                    });
                    return self.finish(state, operation, detail);
                }
                Try::Stop => return self.finish(ChangeState::Planned, operation, None),
                Try::Retry(after) => after,
            };
            let delay = backoff.next_delay(retry_after);
            self.flush_attempt();
            self.shared.recorder.emit(Event::Retrying {
                email: self.change.email.clone(),
                attempt: self.attempts,
                delay,
                reason: self.failure.clone().unwrap_or_default(),
            });
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = self.shared.stop.stopped() => {}
            }
        }
    }

    /// Looks the person up and acts once.
    async fn try_once(&mut self) -> Try {
        let client = Arc::clone(&self.shared.client);
        let email = self.change.email.clone();
        if let Some(endpoint) = client.invitation_lookup_endpoint() {
            let found = self
                .call(
                    AttemptKind::Lookup,
                    endpoint,
                    client.find_pending_invitation(&email),
                )
                .await;
            match found {
                Ok(Some(id)) => return self.act_on_invitation(id).await,
                Ok(None) => {}
                Err(miss) => return self.missed(miss),
            }
        }
        let user = self
            .call(
                AttemptKind::Lookup,
                client.user_lookup_endpoint(),
                client.find_user(&email),
            )
            .await;
        match user {
            Ok(Some(user)) => self.act_on_user(user).await,
            Ok(None) => self.nothing_there(),
            Err(miss) => self.missed(miss),
        }
    }

    /// A request that did not give what the change needs: a lookup refused (or a 404 on a
    /// lookup, which means the organization is gone) ends the change as failed.
    fn missed(&self, miss: Miss) -> Try {
        match miss {
            Miss::Retry(after) => Try::Retry(after),
            Miss::Stop => Try::Stop,
            Miss::NotFound | Miss::Refused => Try::Done {
                state: ChangeState::Failed,
                operation: self.change.operation,
                detail: None,
            },
        }
    }

    /// Atlas has neither a pending invitation nor a user for the person.
    fn nothing_there(&self) -> Try {
        match self.change.operation {
            Operation::Update | Operation::Invite => Try::Done {
                state: ChangeState::Failed,
                operation: Operation::Update,
                detail: Some(
                    "Atlas has neither a pending invitation nor a user for this address (it \
                     expired, was declined or removed); `atlas-invite reconcile` records where \
                     it stands"
                        .into(),
                ),
            },
            operation => Try::Done {
                state: ChangeState::Done,
                operation,
                detail: Some("already gone: Atlas has no invitation or user to remove".into()),
            },
        }
    }

    async fn act_on_invitation(&mut self, id: String) -> Try {
        self.target = Some(ChangeTarget::Invitation(id.clone()));
        let call = match (&self.change.operation, &self.change.to) {
            (Operation::Update, Some(to)) => ChangeCall::UpdateInvitation {
                id,
                grants: to.clone(),
            },
            _ => ChangeCall::DeleteInvitation { id },
        };
        self.act(call, self.change.operation).await
    }

    async fn act_on_user(&mut self, user: UserSeen) -> Try {
        self.target = Some(ChangeTarget::User(user.id.clone()));
        let operation = self.change.operation;
        if let (Operation::Update, Some(to)) = (operation, &self.change.to) {
            let call = ChangeCall::UpdateUser {
                id: user.id,
                grants: to.clone(),
            };
            return self.act(call, Operation::Update).await;
        }
        if user.active && operation == Operation::Revoke && !self.change.remove_active {
            return Try::Done {
                state: ChangeState::Kept,
                operation,
                detail: Some(
                    "accepted the invitation and is a member now: left alone \
                     (`revoke --remove-active` removes members too)"
                        .into(),
                ),
            };
        }
        if user.active && user.owner {
            let client = Arc::clone(&self.shared.client);
            match self
                .call(
                    AttemptKind::Lookup,
                    client.owners_endpoint(),
                    client.owners(),
                )
                .await
            {
                Ok(owners) if owners <= 1 => {
                    return Try::Done {
                        state: ChangeState::Kept,
                        operation,
                        detail: Some(
                            "the organization's last ORG_OWNER: never removed (an organization \
                             needs an owner)"
                                .into(),
                        ),
                    };
                }
                Ok(_) => {}
                Err(miss) => return self.missed(miss),
            }
        }
        // A member who accepted is removed, not revoked: the journal says so.
        let done_as = if user.active {
            Operation::Remove
        } else {
            operation
        };
        self.act(ChangeCall::DeleteUser { id: user.id }, done_as)
            .await
    }

    /// Sends the PATCH or DELETE.
    async fn act(&mut self, call: ChangeCall, done_as: Operation) -> Try {
        let client = Arc::clone(&self.shared.client);
        let kind = match (&call, done_as) {
            (ChangeCall::UpdateInvitation { .. } | ChangeCall::UpdateUser { .. }, _) => {
                AttemptKind::Update
            }
            (_, Operation::Revoke) => AttemptKind::Revoke,
            _ => AttemptKind::Remove,
        };
        let endpoint = client.change_endpoint(&call);
        let deletes = matches!(
            call,
            ChangeCall::DeleteInvitation { .. } | ChangeCall::DeleteUser { .. }
        );
        match self.call(kind, endpoint, client.change(&call)).await {
            Ok(Effect::Applied) => Try::Done {
                state: ChangeState::Done,
                operation: done_as,
                detail: None,
            },
            Ok(Effect::Gone) | Err(Miss::NotFound) if deletes => Try::Done {
                state: ChangeState::Done,
                operation: done_as,
                detail: Some("already gone (404)".into()),
            },
            Ok(Effect::Gone) => Try::Retry(Some(Duration::ZERO)),
            // Accepted or cancelled between the lookup and the update: look again.
            Err(Miss::NotFound) => Try::Retry(Some(Duration::ZERO)),
            Err(Miss::Refused) => Try::Done {
                state: ChangeState::Failed,
                operation: self.change.operation,
                detail: None,
            },
            Err(miss) => self.missed(miss),
        }
    }

    /// One request through the rate gate and a request slot, recorded as an attempt.
    async fn call<T: Found>(
        &mut self,
        kind: AttemptKind,
        endpoint: &'static str,
        request: impl Future<Output = Result<Answer<T>, CallError>>,
    ) -> Result<T, Miss> {
        let shared = Arc::clone(&self.shared);
        let _slot = tokio::select! {
            slot = shared.request_slots.acquire() => slot.ok(),
            () = shared.stop.stopped() => return Err(Miss::Stop),
        };
        tokio::select! {
            () = shared.gate.acquire() => {}
            () = shared.stop.stopped() => return Err(Miss::Stop),
        }
        self.attempts += 1;
        shared.requests.fetch_add(1, Ordering::Relaxed);
        let sent_at = SystemTime::now();
        let started = Instant::now();
        let result = request.await;
        let latency = started.elapsed();
        match result {
            Ok(answer) => {
                shared.gate.on_answer(&answer.rate);
                self.http_status = Some(answer.status);
                self.error_code = None;
                let outcome = answer.value.outcome();
                self.record(kind, endpoint, sent_at, latency, outcome, None);
                Ok(answer.value)
            }
            Err(error) => {
                self.http_status = error.http_status();
                self.error_code = error.error_code().map(str::to_owned);
                self.failure = Some(error.to_string());
                let detail = Some(error.detail_text());
                let class = error.class();
                if let (false, CallError::Status { rate, .. }) =
                    (matches!(class, ErrorClass::RateLimited { .. }), &error)
                {
                    shared.gate.on_answer(rate);
                }
                let (outcome, miss) = match class {
                    _ if error.http_status() == Some(404) => (AttemptOutcome::Gone, Miss::NotFound),
                    ErrorClass::Auth => {
                        shared.stop.stop(StopReason::AuthFailed {
                            status: error.http_status().unwrap_or_default(),
                            detail: error.to_string(),
                        });
                        (AttemptOutcome::Unauthorized, Miss::Stop)
                    }
                    ErrorClass::RateLimited { .. } => {
                        let slowdown = shared.gate.on_rate_limited(&error.rate_limit_hint());
                        shared.recorder.emit(Event::RateLimited {
                            wait: slowdown.pause,
                            rate_per_sec: slowdown.rate_per_sec,
                        });
                        (
                            AttemptOutcome::RateLimited,
                            Miss::Retry(Some(slowdown.pause)),
                        )
                    }
                    ErrorClass::Transient => (AttemptOutcome::Retry, Miss::Retry(None)),
                    // The change may or may not have been applied; it is idempotent, so the
                    // next try (lookup, then act) settles it.
                    ErrorClass::Unknown => (AttemptOutcome::Unknown, Miss::Retry(None)),
                    ErrorClass::Permanent
                    | ErrorClass::AlreadyInvited
                    | ErrorClass::AlreadyMember => (AttemptOutcome::Refused, Miss::Refused),
                };
                self.record(kind, endpoint, sent_at, latency, outcome, detail);
                Err(miss)
            }
        }
    }

    fn record(
        &mut self,
        kind: AttemptKind,
        endpoint: &'static str,
        sent_at: SystemTime,
        latency: Duration,
        outcome: AttemptOutcome,
        detail: Option<String>,
    ) {
        self.flush_attempt();
        self.unreported = Some(AttemptRecord {
            email_key: self.change.email_key.clone(),
            attempt: self.attempts,
            kind,
            endpoint,
            sent_at,
            latency,
            http_status: self.http_status,
            error_code: self.error_code.clone(),
            detail,
            outcome,
        });
    }

    fn flush_attempt(&mut self) {
        if let Some(record) = self.unreported.take() {
            self.shared.recorder.emit(Event::Attempt(record));
        }
    }

    fn finish(self, state: ChangeState, operation: Operation, detail: Option<String>) {
        let result = ChangeResult {
            change_id: self.change.id,
            email_key: self.change.email_key,
            email: self.change.email,
            operation,
            state,
            target: self.target,
            http_status: self.http_status,
            error_code: self.error_code,
            detail,
            attempts: self.attempts,
            last_attempt: self.unreported,
        };
        self.shared.recorder.emit(Event::ChangeFinished(result));
    }
}
