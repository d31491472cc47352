//! The rehearsal controls: what the invited people do, played from outside while the simulator
//! runs. `POST /_sim/accept`, `/_sim/expire` and `/_sim/decline`, with the address as
//! `?email=` or as a JSON body `{"email": "..."}`, do what [`SimState::accept_invitation`],
//! [`SimState::expire_invitation`] and [`SimState::reject_invitation`] do in tests; the
//! `atlas-sim accept|expire|decline --url URL EMAIL` subcommands send them (see [`send`]).
//!
//! `/_sim/` is no Atlas path, and these requests are not Atlas's: no authentication (the
//! simulator only listens on 127.0.0.1), no rate limit, no latency, no fault. They answer 200
//! `{"email", "action", "changed": true}`, or 404 `NOTHING_PENDING` when the person has no
//! pending invitation.

use std::sync::Arc;

use anyhow::Context;
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};

use atlas_model::ApiError;

use super::directory::last;
use super::reply::Reply;
use super::state::SimState;

/// The control path; `{action}` is `accept`, `expire` or `decline`.
pub(crate) const CONTROL: &str = "/_sim/{action}";

/// What an invited person does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PersonAction {
    /// Accepts their pending invitations and becomes an active member.
    Accept,
    /// Lets their pending invitations expire, as after 30 days.
    Expire,
    /// Declines their pending invitations.
    Decline,
}

impl PersonAction {
    /// The name in the path and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            PersonAction::Accept => "accept",
            PersonAction::Expire => "expire",
            PersonAction::Decline => "decline",
        }
    }

    fn parse(name: &str) -> Option<PersonAction> {
        [
            PersonAction::Accept,
            PersonAction::Expire,
            PersonAction::Decline,
        ]
        .into_iter()
        .find(|action| action.as_str() == name)
    }

    /// What the simulator does.
    fn apply(self, sim: &SimState, email: &str) -> bool {
        match self {
            PersonAction::Accept => sim.accept_invitation(email),
            PersonAction::Expire => sim.expire_invitation(email),
            PersonAction::Decline => sim.reject_invitation(email),
        }
    }
}

/// The answer to a control request that was carried out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Done {
    pub email: String,
    pub action: PersonAction,
    pub changed: bool,
}

#[derive(Deserialize)]
struct EmailBody {
    email: String,
}

pub(crate) async fn control(
    State(sim): State<Arc<SimState>>,
    Path(action): Path<String>,
    request: Request,
) -> Response {
    let reply = Reply::plain();
    let (parts, body) = request.into_parts();
    let Some(action) = PersonAction::parse(&action) else {
        return reply.fail(
            404,
            "RESOURCE_NOT_FOUND",
            format!(
                "Cannot find resource {}: the controls are /_sim/accept, /_sim/expire and \
                 /_sim/decline.",
                parts.uri.path()
            ),
        );
    };
    if parts.method != Method::POST {
        return reply.fail(
            405,
            "METHOD_NOT_ALLOWED",
            "The controls take POST, with ?email= or a JSON body {\"email\": ...}.",
        );
    }
    let query = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
        .map(|q| q.0)
        .unwrap_or_default();
    let email = match last(&query, "email") {
        Some(email) => email.to_owned(),
        None => {
            let bytes = axum::body::to_bytes(body, 64 * 1024)
                .await
                .unwrap_or_default();
            match serde_json::from_slice::<EmailBody>(&bytes) {
                Ok(body) => body.email,
                Err(_) => {
                    return reply.fail(
                        400,
                        "MISSING_ATTRIBUTE",
                        "Name the person with ?email= or a JSON body {\"email\": ...}.",
                    );
                }
            }
        }
    };
    if !action.apply(&sim, &email) {
        return reply.fail(
            404,
            "NOTHING_PENDING",
            format!("{email} has no pending invitation to {}.", action.as_str()),
        );
    }
    let done = Done {
        email,
        action,
        changed: true,
    };
    reply.json(StatusCode::OK, "application/json", &done)
}

/// What `atlas-sim accept|expire|decline` reports: the simulator's answer, or why there was
/// none.
#[derive(Debug)]
pub enum Sent {
    /// The person's invitations were closed as asked.
    Done(Done),
    /// The simulator answered that the person has nothing pending (or another refusal), with
    /// its detail.
    Refused(String),
}

/// Sends `action` for `email` to the simulator at `base_url` (`http://127.0.0.1:PORT`, as it
/// prints it): the client side of the controls, for the `atlas-sim` subcommands. Only plain
/// http is spoken, which is all the simulator serves.
pub async fn send(base_url: &str, action: PersonAction, email: &str) -> anyhow::Result<Sent> {
    let authority = base_url
        .trim()
        .trim_end_matches('/')
        .strip_prefix("http://")
        .filter(|rest| !rest.is_empty() && !rest.contains('/'))
        .with_context(|| {
            format!("{base_url:?} is not the simulator's URL: give it as printed, like http://127.0.0.1:8080")
        })?
        .to_owned();
    let stream = tokio::net::TcpStream::connect(&authority)
        .await
        .with_context(|| format!("failed to connect to the simulator at {base_url}"))?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .context("failed to speak HTTP with the simulator")?;
    tokio::spawn(connection);
    let body = serde_json::json!({ "email": email }).to_string();
    let request = hyper::Request::post(format!("/_sim/{}", action.as_str()))
        .header("host", &authority)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .context("failed to build the request")?;
    let response = sender
        .send_request(request)
        .await
        .context("the simulator did not answer")?;
    let status = response.status();
    let bytes = axum::body::to_bytes(Body::new(response.into_body()), 1 << 20)
        .await
        .context("failed to read the simulator's answer")?;
    if status.is_success() {
        let done = serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "unexpected answer from {base_url}: {}",
                String::from_utf8_lossy(&bytes)
            )
        })?;
        return Ok(Sent::Done(done));
    }
    match serde_json::from_slice::<ApiError>(&bytes) {
        Ok(error) if !error.error_code.is_empty() => {
            Ok(Sent::Refused(error.detail.unwrap_or(error.error_code)))
        }
        _ => anyhow::bail!(
            "{base_url} answered HTTP {status}, not as the simulator does: is it the simulator's URL?"
        ),
    }
}
