//! What an injected [`Fault`] does to a request that creates or changes something: a POST that
//! creates an invitation (the invite paths and the users resource), and a PATCH, DELETE or role
//! change of one invitation or user; and the [`ConnControl`] that lets a handler close its
//! connection without answering.
//!
//! Faults are drawn after validation, so that a malformed request is always a plain 400 and a
//! scripted fault is only consumed by a request that would otherwise have reached Atlas' core.
//! A person's scripted faults are consumed in order by every such request about them, whatever
//! its kind. The faults that look the same everywhere (a 500, a proxy page, a 429, a dropped
//! connection, a hang) are carried out here; the resource supplies only what differs, through
//! [`Refusing`] and [`Creating`].

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::Response;
use tokio::sync::Notify;

use atlas_model::Invitation;

use super::config::Fault;
use super::people::{org_full, team_full};
use super::reply::{Reply, html};
use super::state::{Conflict, NewInvitation, SimState, bump};

/// A hung request is given up by the server itself after this long, so that a client that
/// never times out does not pin a task forever.
const HANG_LIMIT: Duration = Duration::from_secs(60 * 60);

/// Closes a connection without answering. The connection task watches it; the serving code
/// triggers it when a handler's answer carries the [`DropConnection`] mark (see `server.rs`).
#[derive(Clone)]
pub(crate) struct ConnControl {
    kill: Arc<Notify>,
}

impl ConnControl {
    pub(crate) fn new() -> ConnControl {
        ConnControl {
            kill: Arc::new(Notify::new()),
        }
    }

    /// Makes the connection task drop the connection at once. No response bytes are written, so
    /// the client sees the connection close mid-request.
    pub(crate) fn drop_connection(&self) {
        // `notify_one` stores a permit when nobody waits yet, so the signal cannot be lost.
        self.kill.notify_one();
    }

    /// Whether a handler's answer asks for its connection to be dropped instead (see
    /// [`drop_connection`]).
    pub(crate) fn wants_drop(response: &Response) -> bool {
        response.extensions().get::<DropConnection>().is_some()
    }

    /// Completes once a handler has asked for the connection to be dropped.
    pub(crate) async fn dropped(&self) {
        self.kill.notified().await;
    }
}

/// How a created invitation is shown, depending on the fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    Whole,
    /// `Fault::TruncatedJson`: the body is cut in half.
    Truncated,
    /// `Fault::OkWithoutId`: the answer lacks the id.
    WithoutId,
}

/// How a resource refuses when a fault says so, where resources differ.
pub(super) trait Refusing {
    /// The answer to a scripted `Fault::Status(status)`.
    fn status_fault(&self, reply: &Reply, status: u16) -> Response;
    /// The HTML page the proxy in front of this resource sends with `status`.
    fn proxy_page(&self, status: StatusCode) -> String;
}

/// What a resource that creates invitations answers where resources differ.
pub(super) trait Creating: Refusing {
    /// The success answer for `invitation`, in `shape`.
    fn created(&self, reply: &Reply, invitation: Invitation, shape: Shape) -> Response;
}

/// Creates the invitation `new` asks for, with this address's next fault if it has one.
pub(super) async fn create(
    sim: &SimState,
    resource: &impl Creating,
    reply: &Reply,
    org_id: &str,
    new: &NewInvitation,
) -> Response {
    let created = |shape| {
        created_or_conflict(sim, reply, org_id, new, |invitation| {
            resource.created(reply, invitation, shape)
        })
    };
    match sim.next_fault(&new.username) {
        None => created(Shape::Whole),
        Some(
            fault @ (Fault::Error500
            | Fault::Html503
            | Fault::BadGateway502Html
            | Fault::RateLimited { .. }
            | Fault::Status(_)),
        ) => refuse(resource, reply, fault),
        Some(Fault::Slow(ms)) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            created(Shape::Whole)
        }
        Some(Fault::TruncatedJson) => created(Shape::Truncated),
        Some(Fault::OkWithoutId) => created(Shape::WithoutId),
        Some(Fault::RecordThenDrop) => {
            // The invitation is recorded whatever the outcome: the answer (success or 409) is
            // lost either way, which is exactly the ambiguity this fault exists to produce.
            let _ = sim.create(org_id, new);
            bump(&sim.counters.dropped);
            drop_connection()
        }
        Some(Fault::Hang) => {
            bump(&sim.counters.hung);
            tokio::time::sleep(HANG_LIMIT).await;
            drop_connection()
        }
    }
}

/// Makes the change `work` makes (and answers as it does), with the next fault of the person
/// `key` names (their lower-cased address; empty for nobody, which draws random faults only).
/// As for a creation, the change is made whatever becomes of the answer: a dropped connection,
/// a truncated body or a client that gave up waiting on a slow answer leave it made.
pub(super) async fn change(
    sim: &SimState,
    resource: &impl Refusing,
    reply: &Reply,
    key: &str,
    work: impl FnOnce() -> Response,
) -> Response {
    match sim.next_fault(key) {
        // A change answers with no id to leave out.
        None | Some(Fault::OkWithoutId) => work(),
        Some(
            fault @ (Fault::Error500
            | Fault::Html503
            | Fault::BadGateway502Html
            | Fault::RateLimited { .. }
            | Fault::Status(_)),
        ) => refuse(resource, reply, fault),
        Some(Fault::Slow(ms)) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            work()
        }
        Some(Fault::TruncatedJson) => {
            let (parts, body) = work().into_parts();
            let mut bytes = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap_or_default()
                .to_vec();
            bytes.truncate(bytes.len() / 2);
            Response::from_parts(parts, axum::body::Body::from(bytes))
        }
        Some(Fault::RecordThenDrop) => {
            let _ = work();
            bump(&sim.counters.dropped);
            drop_connection()
        }
        Some(Fault::Hang) => {
            bump(&sim.counters.hung);
            tokio::time::sleep(HANG_LIMIT).await;
            drop_connection()
        }
    }
}

/// The answer of a fault that refuses the request before anything is done.
fn refuse(resource: &impl Refusing, reply: &Reply, fault: Fault) -> Response {
    let page = |status| html(status, resource.proxy_page(status));
    match fault {
        Fault::Html503 => page(StatusCode::SERVICE_UNAVAILABLE),
        Fault::BadGateway502Html => page(StatusCode::BAD_GATEWAY),
        Fault::RateLimited { retry_after } => {
            reply.rate_limited("RATE_LIMITED", retry_after, retry_after, None)
        }
        Fault::Status(status) => resource.status_fault(reply, status),
        _ => reply.fail(500, "UNEXPECTED_ERROR", "Unexpected error."),
    }
}

/// Records the invitation and answers with `respond`, or answers the 409 Atlas gives for a
/// pending invitation or a member, or the 400 of a full organization or team.
fn created_or_conflict(
    sim: &SimState,
    reply: &Reply,
    org_id: &str,
    new: &NewInvitation,
    respond: impl FnOnce(Invitation) -> Response,
) -> Response {
    match sim.create(org_id, new) {
        Ok(invitation) => respond(invitation),
        Err(Conflict::AlreadyInvited) => reply.fail(
            409,
            "USER_ALREADY_INVITED",
            format!(
                "The user {} already has a pending invitation to organization {org_id}.",
                new.username
            ),
        ),
        Err(Conflict::AlreadyMember) => reply.fail(
            409,
            "USER_ALREADY_IN_ORG",
            format!(
                "The user {} is already a member of organization {org_id}.",
                new.username
            ),
        ),
        Err(Conflict::OrgFull(max)) => reply.error(org_full(org_id, max)),
        Err(Conflict::TeamFull(team, max)) => reply.error(team_full(&team, max)),
    }
}

/// Marks an answer that must not be sent: the server drops the connection instead.
#[derive(Clone, Copy)]
struct DropConnection;

/// Closes the connection this request came on without a byte of answer. The handler itself
/// finishes (the server is done with the request); the serving code sees the mark and drops the
/// connection rather than write the answer. Called outside the server (no connection), the
/// marked answer is a bare 500.
fn drop_connection() -> Response {
    let mut response = Response::new(axum::body::Body::empty());
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response.extensions_mut().insert(DropConnection);
    response
}
