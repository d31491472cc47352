//! The HTTP surface of the simulator: the axum router for the v2 and v1.0 invite paths, request
//! checks in the order Atlas applies them, fault injection, and the exact shape of every answer
//! (status, `ApiError` body, headers). Body validation lives in `validate.rs`.
//!
//! Order of checks for an invite request, and why:
//! 1. latency (every API request waits, even ones that are then refused);
//! 2. method (only GET and POST are simulated: 405 otherwise);
//! 3. authentication (401), because Atlas identifies the caller before anything else;
//! 4. rate limit (429), after authentication because Atlas meters each authenticated principal,
//!    so a request with a bad token does not spend anybody's tokens;
//! 5. API version negotiation on v2 (406 `INVALID_VERSION_DATE`);
//! 6. organization id format (400 `INVALID_ORG_ID`) and existence (404 `ORG_NOT_FOUND`);
//! 7. for POST: content type (415), body validation (400), then the fault for this address,
//!    then the membership and duplicate checks (409) and creation.
//!
//! Faults are drawn after validation so that a malformed request is always a plain 400 and a
//! scripted fault is only consumed by a request that would otherwise have reached Atlas' core.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use axum::routing::any;
use serde::Serialize;

use crate::atlas::model::{ApiError, Invitation, MEDIA_TYPE_2023_01_01, is_atlas_id};

use super::config::Fault;
use super::server::ConnControl;
use super::state::{Conflict, NewInvitation, RateDecision, SimState, bump};
use super::validate::validate;

/// The deprecated, 2023-01-01-versioned invitation resource.
pub(crate) const V2_INVITES: &str = "/api/atlas/v2/orgs/{org_id}/invites";
/// The legacy v1.0 resource, which takes plain `application/json`.
pub(crate) const V1_INVITES: &str = "/api/atlas/v1.0/orgs/{org_id}/invites";

/// When the deprecated invitation resource was marked deprecated (RFC 9745 allows an HTTP date).
const DEPRECATION: &str = "Tue, 01 Jul 2025 00:00:00 GMT";
/// The spec's `x-sunset: '2027-07-01'` for the 2023-01-01 invitation resource.
const SUNSET: &str = "Thu, 01 Jul 2027 00:00:00 GMT";
/// Bodies larger than this are refused; an invitation request is a few hundred bytes.
const MAX_BODY: usize = 1 << 20;
/// A hung request is given up by the server itself after this long, so that a client that
/// never times out does not pin a task forever.
const HANG_LIMIT: Duration = Duration::from_secs(60 * 60);

const HTML_503: &str = "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n\
<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n\
<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
const HTML_502: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n\
<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n\
<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

/// Builds the router the server feeds every request into.
pub(crate) fn router(state: Arc<SimState>) -> Router {
    Router::new()
        .route(V2_INVITES, any(v2_invites))
        .route(V1_INVITES, any(v1_invites))
        .route("/api/oauth/token", any(super::auth::oauth_token))
        .route(super::directory::V2_TEAMS, any(super::directory::v2_teams))
        .route(
            super::directory::V2_GROUPS,
            any(super::directory::v2_groups),
        )
        .route(super::users::V2_USERS, any(super::users::v2_users))
        .fallback(not_found)
        .with_state(state)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V2,
    V1,
}

/// Per-request answer settings: which headers every answer to this request carries and how
/// JSON bodies are written.
struct Answer {
    version: Version,
    deprecation: bool,
    /// `(RateLimit-Limit, RateLimit-Remaining)` once the token bucket has been consulted.
    rate: Option<(u32, u32)>,
    pretty: bool,
    envelope: bool,
}

impl Answer {
    fn new(sim: &SimState, version: Version, query: &HashMap<String, String>) -> Answer {
        let flag = |name: &str| {
            query
                .get(name)
                .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        };
        Answer {
            version,
            deprecation: version == Version::V2 && sim.config().deprecation_headers,
            rate: None,
            pretty: flag("pretty"),
            envelope: flag("envelope"),
        }
    }

    /// Adds the headers every answer to an invite request carries.
    fn decorate(&self, mut response: Response) -> Response {
        let headers = response.headers_mut();
        if self.deprecation {
            headers.insert("deprecation", HeaderValue::from_static(DEPRECATION));
            headers.insert("sunset", HeaderValue::from_static(SUNSET));
        }
        if let Some((limit, remaining)) = self.rate {
            headers.insert("ratelimit-limit", HeaderValue::from(limit));
            headers.insert("ratelimit-remaining", HeaderValue::from(remaining));
        }
        response
    }

    fn json_bytes(&self, value: &impl Serialize) -> Vec<u8> {
        let written = if self.pretty {
            serde_json::to_vec_pretty(value)
        } else {
            serde_json::to_vec(value)
        };
        written.expect("the simulator's own types always serialise")
    }

    /// A 200 with `value` in the version's media type, wrapped in `{status, content}` when the
    /// caller asked for `envelope=true`.
    fn ok(&self, value: &impl Serialize) -> Response {
        let body = if self.envelope {
            let content = serde_json::to_value(value).expect("serialisable");
            self.json_bytes(&serde_json::json!({ "status": 200, "content": content }))
        } else {
            self.json_bytes(value)
        };
        self.ok_bytes(body)
    }

    fn ok_bytes(&self, body: Vec<u8>) -> Response {
        let media = match self.version {
            Version::V2 => MEDIA_TYPE_2023_01_01,
            Version::V1 => "application/json",
        };
        self.decorate(raw(StatusCode::OK, media, body))
    }

    /// An `ApiError` answer. Errors are `application/json` on both versions, as the spec's
    /// shared error responses declare.
    ///
    /// With `envelope=true` the answer is a 200 whose body carries the real status, as Atlas
    /// does for clients behind proxies that hide status codes.
    fn error(&self, error: ApiError) -> Response {
        let status = StatusCode::from_u16(error.error).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if self.envelope {
            let content = serde_json::to_value(&error).expect("serialisable");
            let body =
                self.json_bytes(&serde_json::json!({ "status": error.error, "content": content }));
            return self.decorate(raw(StatusCode::OK, "application/json", body));
        }
        self.decorate(raw(status, "application/json", self.json_bytes(&error)))
    }

    fn fail(&self, status: u16, code: &str, detail: impl Into<String>) -> Response {
        self.error(ApiError::new(status, code, detail))
    }

    /// A 429. `retry_after` is the `Retry-After` header, if one is to be sent; `wait` is the
    /// number of seconds the detail text names, if any.
    fn rate_limited(&self, code: &str, retry_after: Option<u64>, wait: Option<u64>) -> Response {
        let detail = match wait {
            Some(secs) => format!(
                "You have exceeded the rate limit for this API key. Please retry after {secs} seconds."
            ),
            None => {
                "You have exceeded the rate limit for this API key. Please retry later.".to_owned()
            }
        };
        let mut response = self.fail(429, code, detail);
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

fn raw(status: StatusCode, content_type: &'static str, body: impl Into<Body>) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// An HTML page as a proxy in front of Atlas would send it: no Atlas headers at all.
fn html(status: StatusCode, page: &'static str) -> Response {
    raw(status, "text/html", page)
}

async fn v2_invites(
    State(sim): State<Arc<SimState>>,
    Path(org_id): Path<String>,
    request: Request,
) -> Response {
    invites(sim, Version::V2, org_id, request).await
}

async fn v1_invites(
    State(sim): State<Arc<SimState>>,
    Path(org_id): Path<String>,
    request: Request,
) -> Response {
    invites(sim, Version::V1, org_id, request).await
}

/// Any other path: Atlas' generic 404.
async fn not_found(State(sim): State<Arc<SimState>>, request: Request) -> Response {
    wait_latency(&sim).await;
    let error = ApiError::new(
        404,
        "RESOURCE_NOT_FOUND",
        format!("Cannot find resource {}.", request.uri().path()),
    );
    let body = serde_json::to_vec(&error).expect("serialisable");
    raw(StatusCode::NOT_FOUND, "application/json", body)
}

/// Sleeps the configured latency plus a uniform jitter.
pub(super) async fn wait_latency(sim: &SimState) {
    let config = sim.config();
    let jitter = config.latency_jitter.as_nanos().min(u128::from(u64::MAX)) as u64;
    let extra = if jitter == 0 {
        Duration::ZERO
    } else {
        // The jitter does not use the seeded fault generator, so that how many GETs happened
        // does not change which POST gets which fault.
        Duration::from_nanos(fastrand::u64(0..jitter))
    };
    let total = config.latency + extra;
    if !total.is_zero() {
        tokio::time::sleep(total).await;
    }
}

async fn invites(
    sim: Arc<SimState>,
    version: Version,
    org_id: String,
    request: Request,
) -> Response {
    match *request.method() {
        Method::POST => bump(&sim.counters.invite_posts),
        Method::GET => bump(&sim.counters.invite_gets),
        _ => {}
    }
    wait_latency(&sim).await;
    let response = answer(&sim, version, &org_id, request).await;
    let counters = &sim.counters;
    match response.status().as_u16() {
        400 => bump(&counters.bad_requests),
        401 => bump(&counters.unauthorized),
        409 => bump(&counters.conflicts),
        429 => bump(&counters.rate_limited),
        500..=599 => bump(&counters.server_errors),
        _ => {}
    }
    response
}

async fn answer(sim: &SimState, version: Version, org_id: &str, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let query = Query::<HashMap<String, String>>::try_from_uri(&parts.uri)
        .map(|q| q.0)
        .unwrap_or_default();
    let mut answer = Answer::new(sim, version, &query);

    if parts.method != Method::GET && parts.method != Method::POST {
        let mut response = answer.fail(
            405,
            "METHOD_NOT_ALLOWED",
            format!(
                "The simulator does not support {} on this resource.",
                parts.method
            ),
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
        return response;
    }

    let path_and_query = parts.uri.path_and_query().map_or("", |p| p.as_str());
    let token = match sim.authenticate(&parts.method, path_and_query, &parts.headers) {
        Ok(caller) => caller,
        Err(denial) => return answer.decorate(super::auth::unauthorized(sim, denial.detail)),
    };
    let token = token.as_str();
    match sim.take_token(token) {
        RateDecision::Unlimited => {}
        RateDecision::Allowed { limit, remaining } => answer.rate = Some((limit, remaining)),
        RateDecision::Limited { limit, retry_after } => {
            answer.rate = Some((limit, 0));
            let header = sim.config().retry_after_header.then_some(retry_after);
            return answer.rate_limited("RATE_LIMITED_TOKEN_BUCKET", header, Some(retry_after));
        }
    }

    if version == Version::V2 && !accepts_version(&parts.headers) {
        return answer.fail(
            406,
            "INVALID_VERSION_DATE",
            format!(
                "Invalid accept header or version date. This resource supports only version \
                 2023-01-01: send Accept: {MEDIA_TYPE_2023_01_01}."
            ),
        );
    }

    if !is_atlas_id(org_id) {
        return answer.fail(
            400,
            "INVALID_ORG_ID",
            format!("An invalid organization ID {org_id} was specified."),
        );
    }
    if !sim.org_exists(org_id) {
        return answer.fail(
            404,
            "ORG_NOT_FOUND",
            format!("No organization with ID {org_id} exists."),
        );
    }

    if parts.method == Method::GET {
        let pending = sim.pending(org_id, query.get("username").map(String::as_str));
        return answer.ok(&pending);
    }

    if !json_content_type(&parts.headers, version) {
        let expected = match version {
            Version::V2 => MEDIA_TYPE_2023_01_01,
            Version::V1 => "application/json",
        };
        return answer.fail(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            format!("The request body must be sent as Content-Type: {expected}."),
        );
    }
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return answer.fail(
                400,
                "INVALID_JSON",
                "The request body could not be read, or is larger than 1 MiB.",
            );
        }
    };
    let new = match validate(&bytes) {
        Ok(new) => new,
        Err(error) => return answer.error(*error),
    };
    if let Some(error) = super::directory::unknown_ids(sim, &new) {
        return answer.error(error);
    }
    let conn = parts.extensions.get::<ConnControl>().cloned();
    post(sim, &answer, org_id, &new, conn).await
}

/// Creates the invitation, with this request's fault if it has one.
async fn post(
    sim: &SimState,
    answer: &Answer,
    org_id: &str,
    new: &NewInvitation,
    conn: Option<ConnControl>,
) -> Response {
    match sim.next_fault(&new.username) {
        None => created_or_conflict(sim, answer, org_id, new, |inv| answer.ok(&inv)),
        Some(Fault::Error500) => answer.fail(500, "UNEXPECTED_ERROR", "Unexpected error."),
        Some(Fault::Html503) => html(StatusCode::SERVICE_UNAVAILABLE, HTML_503),
        Some(Fault::BadGateway502Html) => html(StatusCode::BAD_GATEWAY, HTML_502),
        Some(Fault::RateLimited { retry_after }) => {
            answer.rate_limited("RATE_LIMITED", retry_after, retry_after)
        }
        Some(Fault::Status(status)) => {
            let status = if (200..=599).contains(&status) {
                status
            } else {
                500
            };
            let (code, detail) = status_error(status);
            answer.fail(status, code, detail)
        }
        Some(Fault::TruncatedJson) => created_or_conflict(sim, answer, org_id, new, |inv| {
            let mut body = answer.json_bytes(&inv);
            body.truncate(body.len() / 2);
            answer.ok_bytes(body)
        }),
        Some(Fault::OkWithoutId) => created_or_conflict(sim, answer, org_id, new, |inv| {
            answer.ok(&Invitation { id: None, ..inv })
        }),
        Some(Fault::RecordThenDrop) => {
            // The invitation is recorded whatever the outcome: the answer (200 or 409) is lost
            // either way, which is exactly the ambiguity this fault exists to produce.
            let _ = sim.create(org_id, new);
            bump(&sim.counters.dropped);
            drop_connection(conn).await
        }
        Some(Fault::Hang) => {
            bump(&sim.counters.hung);
            tokio::time::sleep(HANG_LIMIT).await;
            drop_connection(conn).await
        }
    }
}

/// Closes the connection this request came on without a byte of answer, and never returns:
/// the connection task drops this handler together with the connection.
async fn drop_connection(conn: Option<ConnControl>) -> Response {
    if let Some(conn) = conn {
        conn.drop_connection();
    }
    std::future::pending().await
}

fn created_or_conflict(
    sim: &SimState,
    answer: &Answer,
    org_id: &str,
    new: &NewInvitation,
    respond: impl FnOnce(Invitation) -> Response,
) -> Response {
    match sim.create(org_id, new) {
        Ok(invitation) => respond(invitation),
        Err(Conflict::AlreadyInvited) => answer.fail(
            409,
            "USER_ALREADY_INVITED",
            format!(
                "The user {} already has a pending invitation to organization {org_id}.",
                new.username
            ),
        ),
        Err(Conflict::AlreadyMember) => answer.fail(
            409,
            "USER_ALREADY_IN_ORG",
            format!(
                "The user {} is already a member of organization {org_id}.",
                new.username
            ),
        ),
    }
}

/// The error code and detail a scripted `Fault::Status` answers with.
fn status_error(status: u16) -> (&'static str, &'static str) {
    match status {
        400 => ("VALIDATION_ERROR", "The request was rejected (simulated)."),
        401 => ("UNAUTHORIZED", "You are not authorized for this resource."),
        403 => (
            "USER_UNAUTHORIZED",
            "The current user is not authorized to perform this action.",
        ),
        404 => ("RESOURCE_NOT_FOUND", "Cannot find the requested resource."),
        409 => (
            "CONFLICT",
            "The request conflicts with the current state (simulated).",
        ),
        429 => (
            "RATE_LIMITED",
            "You have exceeded the rate limit. Please retry later.",
        ),
        500 => ("UNEXPECTED_ERROR", "Unexpected error."),
        502 => ("BAD_GATEWAY", "Bad gateway."),
        503 => (
            "SERVICE_UNAVAILABLE",
            "The service is temporarily unavailable.",
        ),
        504 => ("GATEWAY_TIMEOUT", "The upstream service timed out."),
        _ => ("SIMULATED_ERROR", "Simulated error."),
    }
}

/// The media types of a header, lower-cased and without parameters (`; charset=...`, `q=`).
pub(super) fn media_types(headers: &HeaderMap, name: header::HeaderName) -> Vec<String> {
    headers
        .get_all(name)
        .into_iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|item| {
            item.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .collect()
}

/// Whether `Accept` names the 2023-01-01 media type explicitly; `*/*` and `application/json` do
/// not select a version, and Atlas refuses them on v2.
fn accepts_version(headers: &HeaderMap) -> bool {
    media_types(headers, header::ACCEPT)
        .iter()
        .any(|media| media == MEDIA_TYPE_2023_01_01)
}

/// Whether the body is declared as JSON: on v2 the versioned media type or `application/json`,
/// on v1.0 `application/json` or any versioned Atlas JSON type.
fn json_content_type(headers: &HeaderMap, version: Version) -> bool {
    media_types(headers, header::CONTENT_TYPE)
        .iter()
        .any(|media| {
            media == "application/json"
                || match version {
                    Version::V2 => media == MEDIA_TYPE_2023_01_01,
                    Version::V1 => {
                        media.starts_with("application/vnd.atlas.") && media.ends_with("+json")
                    }
                }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_read_leniently() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer  tok "),
        );
        let sim = SimState::new(crate::simulator::SimConfig::default());
        let caller = sim.authenticate(&Method::GET, "/", &headers).ok();
        assert_eq!(caller.as_deref(), Some("tok"));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic dXNlcg=="),
        );
        assert!(sim.authenticate(&Method::GET, "/", &headers).is_err());
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static(
                "application/json, application/vnd.atlas.2023-01-01+json;q=0.9",
            ),
        );
        assert!(accepts_version(&headers));
        headers.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        assert!(!accepts_version(&headers));
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        assert!(json_content_type(&headers, Version::V2));
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert!(!json_content_type(&headers, Version::V1));
    }
}
