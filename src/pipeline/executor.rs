//! What the pipeline needs from the outside, as two small traits: an [`Executor`] that carries
//! out one operation for one person and looks up whether it took effect, and an [`EventSink`]
//! that takes the pipeline's events (and commits those that must be durable before a request
//! goes out).
//!
//! The Atlas client and the journal's recorder implement them; the pipeline knows neither, so
//! its state machine — send, answer, unknown outcome, settle, lookup, resend, 409, 429, 401 — is
//! tested with fakes on tokio's paused clock.

use futures::future::BoxFuture;

use super::events::Event;
use crate::atlas::client::{Answer, AtlasClient};
use crate::atlas::error::CallError;
use crate::atlas::model::{Invitation, InvitationRequest};

/// One operation against Atlas for one person: today, the invitation.
pub trait Executor: Send + Sync {
    /// Carries the operation out (the POST that invites). The answer's `id` identifies what was
    /// created.
    fn send<'a>(
        &'a self,
        request: &'a InvitationRequest,
    ) -> BoxFuture<'a, Result<Answer<Invitation>, CallError>>;

    /// Whether the operation took effect for `email` (the GET made after an unknown outcome).
    fn lookup<'a>(
        &'a self,
        email: &'a str,
    ) -> BoxFuture<'a, Result<Answer<Option<Invitation>>, CallError>>;

    /// The endpoint `send` uses, as recorded in `attempts.endpoint`.
    fn send_endpoint(&self) -> &'static str;

    /// The endpoint `lookup` uses.
    fn lookup_endpoint(&self) -> &'static str;
}

impl Executor for AtlasClient {
    fn send<'a>(
        &'a self,
        request: &'a InvitationRequest,
    ) -> BoxFuture<'a, Result<Answer<Invitation>, CallError>> {
        Box::pin(self.invite(request))
    }

    fn lookup<'a>(
        &'a self,
        email: &'a str,
    ) -> BoxFuture<'a, Result<Answer<Option<Invitation>>, CallError>> {
        Box::pin(self.find_invitation(email))
    }

    fn send_endpoint(&self) -> &'static str {
        self.api().invite_endpoint()
    }

    fn lookup_endpoint(&self) -> &'static str {
        self.api().lookup_endpoint()
    }
}

/// The sink could not take an event: nothing may be done that relies on it being recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the journal could not record the event")]
pub struct SinkClosed;

/// Where the pipeline's events go.
pub trait EventSink: Send + Sync {
    /// Hands an event over; it is recorded (and shown) in order, soon.
    fn emit(&self, event: Event);

    /// Hands an event over and completes once it is durable.
    fn commit(&self, event: Event) -> BoxFuture<'_, Result<(), SinkClosed>>;
}
