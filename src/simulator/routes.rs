//! The HTTP surface of the simulator: the axum router for the v2 and v1.0 invite paths, request
//! checks in the order Atlas applies them, request-body validation, fault injection, and the
//! exact shape of every answer (status, `ApiError` body, headers).
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

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use axum::routing::any;
use serde::Serialize;
use serde_json::Value;

use crate::atlas::model::{
    ApiError, BadRequestDetail, FieldViolation, GroupRole, Invitation, MEDIA_TYPE_2023_01_01,
    OrgRole, is_atlas_id, parse_group_role,
};

use super::config::Fault;
use super::server::ConnControl;
use super::state::{Conflict, NewInvitation, RateDecision, SimState, bump};

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
    fn error(&self, error: ApiError) -> Response {
        let status = StatusCode::from_u16(error.error).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
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
async fn wait_latency(sim: &SimState) {
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

    let Some(token) = bearer_token(&parts.headers).filter(|t| sim.token_accepted(t)) else {
        let mut response = answer.fail(
            401,
            "UNAUTHORIZED",
            "You are not authorized for this resource: send a valid access token as \
             Authorization: Bearer <token>.",
        );
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"MongoDB Atlas\""),
        );
        return response;
    };

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

/// The token of an `Authorization: Bearer <token>` header, if it has a non-empty one.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The media types of a header, lower-cased and without parameters (`; charset=...`, `q=`).
fn media_types(headers: &HeaderMap, name: header::HeaderName) -> Vec<String> {
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

/// Collects field violations; the first one decides the answer's `errorCode` and `detail`.
#[derive(Default)]
struct Violations {
    first: Option<(&'static str, String)>,
    fields: Vec<FieldViolation>,
}

impl Violations {
    fn add(&mut self, code: &'static str, field: impl Into<String>, description: String) {
        if self.first.is_none() {
            self.first = Some((code, description.clone()));
        }
        self.fields.push(FieldViolation {
            field: field.into(),
            description,
        });
    }

    fn into_result<T>(self, value: T) -> Result<T, Box<ApiError>> {
        match self.first {
            None => Ok(value),
            Some((code, detail)) => {
                let mut error = ApiError::new(400, code, detail);
                error.bad_request_detail = Some(BadRequestDetail {
                    fields: self.fields,
                });
                Err(Box::new(error))
            }
        }
    }
}

const REQUEST_FIELDS: [&str; 4] = ["username", "roles", "teamIds", "groupRoleAssignments"];

/// Validates an `OrganizationInvitationRequest` body the way Atlas does, reporting every field
/// violation in `badRequestDetail.fields`.
pub(crate) fn validate(body: &[u8]) -> Result<NewInvitation, Box<ApiError>> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        Box::new(ApiError::new(
            400,
            "INVALID_JSON",
            format!("Received JSON is malformed: {e}."),
        ))
    })?;
    let Value::Object(object) = value else {
        return Err(Box::new(ApiError::new(
            400,
            "INVALID_JSON",
            "Received JSON is not an object: an OrganizationInvitationRequest was expected.",
        )));
    };
    let mut v = Violations::default();
    for key in object.keys() {
        if !REQUEST_FIELDS.contains(&key.as_str()) {
            v.add(
                "INVALID_ATTRIBUTE",
                key.clone(),
                format!("Invalid attribute {key} specified."),
            );
        }
    }

    let username = match object.get("username") {
        None | Some(Value::Null) => {
            v.add("MISSING_ATTRIBUTE", "username", missing("username"));
            String::new()
        }
        Some(Value::String(name)) if plausible_email(name) => name.clone(),
        Some(Value::String(name)) => {
            v.add(
                "INVALID_EMAIL_ADDRESS",
                "username",
                format!("The username {name:?} is not a valid email address."),
            );
            String::new()
        }
        Some(_) => {
            v.add(
                "INVALID_ATTRIBUTE",
                "username",
                wrong_type("username", "a string"),
            );
            String::new()
        }
    };

    let mut roles = Vec::new();
    match object.get("roles") {
        None | Some(Value::Null) => v.add("MISSING_ATTRIBUTE", "roles", missing("roles")),
        Some(Value::Array(items)) if items.is_empty() => v.add(
            "MISSING_ATTRIBUTE",
            "roles",
            "At least one organization role is required in roles.".to_owned(),
        ),
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                match item
                    .as_str()
                    .and_then(|name| OrgRole::ALL.into_iter().find(|r| r.as_str() == name))
                {
                    Some(role) if !roles.contains(&role) => roles.push(role),
                    Some(_) => {}
                    None => v.add(
                        "INVALID_ENUM_VALUE",
                        format!("roles[{i}]"),
                        format!(
                            "An invalid enumeration value {item} was specified for roles[{i}]; \
                             valid values are {}.",
                            OrgRole::ALL.map(OrgRole::as_str).join(", ")
                        ),
                    ),
                }
            }
        }
        Some(_) => v.add(
            "INVALID_ATTRIBUTE",
            "roles",
            wrong_type("roles", "an array"),
        ),
    }

    let mut team_ids = Vec::new();
    match object.get("teamIds") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                match item.as_str().filter(|id| is_atlas_id(id)) {
                    Some(id) if !team_ids.iter().any(|t| t == id) => team_ids.push(id.to_owned()),
                    Some(_) => {}
                    None => v.add(
                        "INVALID_TEAM_ID",
                        format!("teamIds[{i}]"),
                        format!("An invalid team ID {item} was specified."),
                    ),
                }
            }
        }
        Some(_) => v.add(
            "INVALID_ATTRIBUTE",
            "teamIds",
            wrong_type("teamIds", "an array"),
        ),
    }

    let mut group_roles = Vec::new();
    match object.get("groupRoleAssignments") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                group_assignment(&mut v, &mut group_roles, i, item);
            }
        }
        Some(_) => v.add(
            "INVALID_ATTRIBUTE",
            "groupRoleAssignments",
            wrong_type("groupRoleAssignments", "an array"),
        ),
    }

    v.into_result(NewInvitation {
        username,
        roles,
        team_ids,
        group_roles,
    })
}

/// Validates `groupRoleAssignments[i]` and flattens it into one `GroupRole` per project role,
/// which is how `OrganizationInvitation` echoes assignments back.
fn group_assignment(v: &mut Violations, out: &mut Vec<GroupRole>, i: usize, item: &Value) {
    let at = format!("groupRoleAssignments[{i}]");
    let Value::Object(assignment) = item else {
        v.add(
            "INVALID_ATTRIBUTE",
            at.clone(),
            wrong_type(&at, "an object"),
        );
        return;
    };
    for key in assignment.keys() {
        if key != "groupId" && key != "roles" {
            v.add(
                "INVALID_ATTRIBUTE",
                format!("{at}.{key}"),
                format!("Invalid attribute {key} specified in {at}."),
            );
        }
    }
    let group_id = match assignment.get("groupId") {
        None | Some(Value::Null) => {
            v.add(
                "MISSING_ATTRIBUTE",
                format!("{at}.groupId"),
                missing(&format!("{at}.groupId")),
            );
            None
        }
        Some(Value::String(id)) if is_atlas_id(id) => Some(id.clone()),
        Some(other) => {
            v.add(
                "INVALID_GROUP_ID",
                format!("{at}.groupId"),
                format!("An invalid group ID {other} was specified."),
            );
            None
        }
    };
    let roles = match assignment.get("roles") {
        Some(Value::Array(items)) if !items.is_empty() => items,
        Some(Value::Array(_)) | None | Some(Value::Null) => {
            v.add(
                "MISSING_ATTRIBUTE",
                format!("{at}.roles"),
                format!("At least one project role is required in {at}.roles."),
            );
            return;
        }
        Some(_) => {
            let field = format!("{at}.roles");
            v.add(
                "INVALID_ATTRIBUTE",
                field.clone(),
                wrong_type(&field, "an array"),
            );
            return;
        }
    };
    let mut seen = HashSet::new();
    for (j, role) in roles.iter().enumerate() {
        let canonical = role
            .as_str()
            .filter(|name| parse_group_role(name).as_deref() == Some(*name));
        match (canonical, &group_id) {
            (Some(name), Some(group_id)) => {
                if seen.insert(name) {
                    out.push(GroupRole {
                        group_id: Some(group_id.clone()),
                        group_role: Some(name.to_owned()),
                    });
                }
            }
            (Some(_), None) => {}
            (None, _) => v.add(
                "INVALID_ROLE",
                format!("{at}.roles[{j}]"),
                format!(
                    "Invalid project role {role} in {at}.roles[{j}]: project roles are GROUP_* \
                     names such as GROUP_READ_ONLY."
                ),
            ),
        }
    }
}

fn missing(field: &str) -> String {
    format!("The required attribute {field} was not specified.")
}

fn wrong_type(field: &str, expected: &str) -> String {
    format!("Invalid attribute {field} specified: expected {expected}.")
}

/// A deliberately plain address check, stricter than RFC 5322 where real addresses never go:
/// one `@`, a non-empty local part without blanks or `..`, and a dotted domain of
/// letter/digit/hyphen labels whose last label is at least two letters.
pub(crate) fn plausible_email(text: &str) -> bool {
    if text.len() > 254 || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && !local.contains(['@', '"', '(', ')', ',', ':', ';', '<', '>', '[', ']', '\\']);
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.chars().count() >= 2 && tld.chars().all(char::is_alphabetic));
    local_ok && domain_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body_of(json: &Value) -> Vec<u8> {
        serde_json::to_vec(json).unwrap()
    }

    const PROJECT: &str = "32b6e34b3d91647abb20e7b8";

    fn code_of(body: Value) -> String {
        validate(&body_of(&body)).unwrap_err().error_code
    }

    #[test]
    fn a_full_request_is_accepted_and_flattened() {
        let new = validate(&body_of(&json!({
            "username": "Ada@Example.com",
            "roles": ["ORG_MEMBER", "ORG_MEMBER", "ORG_READ_ONLY"],
            "teamIds": [PROJECT],
            "groupRoleAssignments": [
                {"groupId": PROJECT, "roles": ["GROUP_READ_ONLY", "GROUP_OWNER"]}
            ]
        })))
        .unwrap();
        assert_eq!(new.username, "Ada@Example.com");
        assert_eq!(new.roles, vec![OrgRole::OrgMember, OrgRole::OrgReadOnly]);
        assert_eq!(new.team_ids, vec![PROJECT.to_owned()]);
        assert_eq!(new.group_roles.len(), 2);
        assert_eq!(
            new.group_roles[1].group_role.as_deref(),
            Some("GROUP_OWNER")
        );
    }

    #[test]
    fn each_kind_of_mistake_has_its_code() {
        assert_eq!(
            validate(b"{not json").unwrap_err().error_code,
            "INVALID_JSON"
        );
        assert_eq!(code_of(json!(["a"])), "INVALID_JSON");
        assert_eq!(
            code_of(json!({"roles": ["ORG_MEMBER"]})),
            "MISSING_ATTRIBUTE"
        );
        assert_eq!(
            code_of(json!({"username": "nobody", "roles": ["ORG_MEMBER"]})),
            "INVALID_EMAIL_ADDRESS"
        );
        assert_eq!(
            code_of(json!({"username": "a@example.com", "roles": []})),
            "MISSING_ATTRIBUTE"
        );
        assert_eq!(
            code_of(json!({"username": "a@example.com", "roles": ["ORG_ADMIN"]})),
            "INVALID_ENUM_VALUE"
        );
        assert_eq!(
            code_of(
                json!({"username": "a@example.com", "roles": ["ORG_MEMBER"], "teamIds": ["x"]})
            ),
            "INVALID_TEAM_ID"
        );
        assert_eq!(
            code_of(json!({"username": "a@example.com", "roles": ["ORG_MEMBER"],
                "groupRoleAssignments": [{"groupId": "nope", "roles": ["GROUP_OWNER"]}]})),
            "INVALID_GROUP_ID"
        );
        assert_eq!(
            code_of(json!({"username": "a@example.com", "roles": ["ORG_MEMBER"],
                "groupRoleAssignments": [{"groupId": PROJECT, "roles": ["ORG_OWNER"]}]})),
            "INVALID_ROLE"
        );
        assert_eq!(
            code_of(json!({"username": "a@example.com", "roles": ["ORG_MEMBER"], "extra": 1})),
            "INVALID_ATTRIBUTE"
        );
    }

    #[test]
    fn every_violation_is_listed() {
        let error = validate(&body_of(
            &json!({"username": "bad", "roles": ["X", "ORG_MEMBER", "Y"]}),
        ))
        .unwrap_err();
        let fields: Vec<_> = error
            .bad_request_detail
            .unwrap()
            .fields
            .into_iter()
            .map(|f| f.field)
            .collect();
        assert_eq!(fields, vec!["username", "roles[0]", "roles[2]"]);
        assert_eq!(error.error, 400);
        assert_eq!(error.reason.as_deref(), Some("Bad Request"));
    }

    #[test]
    fn plausible_emails() {
        for good in [
            "a@example.com",
            "first.last+tag@sub.example.co.uk",
            "Ünï@exämple.de",
        ] {
            assert!(plausible_email(good), "{good}");
        }
        for bad in [
            "",
            "a",
            "a@b",
            "@example.com",
            "a@@example.com",
            "a b@example.com",
            "a@example..com",
            "a@-example.com",
            ".a@example.com",
            "a@example.c0m",
        ] {
            assert!(!plausible_email(bad), "{bad}");
        }
    }

    #[test]
    fn headers_are_read_leniently() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer  tok "),
        );
        assert_eq!(bearer_token(&headers), Some("tok"));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic dXNlcg=="),
        );
        assert_eq!(bearer_token(&headers), None);
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
