//! The invitation resource of the simulator: the axum router for every simulated path, and the
//! v2 and v1.0 invite paths' own work: listing pending invitations, and for a POST the content
//! type (415), body validation (400), the team and project checks (404), then creation with its
//! fault, membership and duplicate checks (409). Body validation lives in `validate.rs`.
//!
//! Before that, every request passes the checks shared with the other resources (latency,
//! method, authentication, rate limit, version on v2, organization), in `admission.rs`; answers
//! are written by `reply.rs` and faults carried out by `faults.rs`. What is particular to the
//! invite paths is here: their media types, the deprecation headers of v2, the nginx pages of
//! their proxy and the errors of scripted statuses.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use axum::routing::any;

use atlas_model::{ApiError, Invitation, MEDIA_TYPE_2023_01_01};

use super::admission::{self, Endpoint, Versioning, admit, media_types, read_valid};
use super::faults::{self, Creating, Refusing, Shape};
use super::reply::{Deprecated, Reply, raw};
use super::state::SimState;
use super::validate::validate;

/// The deprecated, 2023-01-01-versioned invitation resource.
pub(crate) const V2_INVITES: &str = "/api/atlas/v2/orgs/{org_id}/invites";
/// The legacy v1.0 resource, which takes plain `application/json`.
pub(crate) const V1_INVITES: &str = "/api/atlas/v1.0/orgs/{org_id}/invites";

/// The deprecated 2023-01-01 invitation resource's headers: deprecated since 2025-07-01, and
/// the spec's `x-sunset: '2027-07-01'`.
const DEPRECATED: Deprecated = Deprecated {
    since: "Tue, 01 Jul 2025 00:00:00 GMT",
    sunset: "Thu, 01 Jul 2027 00:00:00 GMT",
};

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
        .route(
            super::invitation::V2_INVITE,
            any(super::invitation::v2_invite),
        )
        .route(
            super::invitation::V1_INVITE,
            any(super::invitation::v1_invite),
        )
        .route(super::user::V2_USER, any(super::user::v2_user))
        .route(super::control::CONTROL, any(super::control::control))
        .route("/api/oauth/token", any(super::auth::oauth_token))
        .route(super::directory::V2_TEAMS, any(super::directory::v2_teams))
        .route(
            super::directory::V2_GROUPS,
            any(super::directory::v2_groups),
        )
        .route(super::users::V2_USERS, any(super::users::v2_users))
        .route(
            super::rate_limits::RATE_LIMITS,
            any(super::rate_limits::list),
        )
        .route(super::rate_limits::RATE_LIMIT, any(super::rate_limits::one))
        .fallback(not_found)
        .with_state(state)
}

/// Which invite resource a request is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Version {
    V2,
    V1,
}

impl Version {
    /// What the invite path of this version admits: GET and POST, and on v2 only the
    /// 2023-01-01 version.
    fn endpoint(self) -> &'static Endpoint {
        const METHODS: &[Method] = &[Method::GET, Method::POST];
        const V2: Endpoint = Endpoint {
            methods: METHODS,
            allow: "GET, POST",
            rate_limited_code: "RATE_LIMITED_TOKEN_BUCKET",
            versioning: Some(Versioning {
                media_type: MEDIA_TYPE_2023_01_01,
                only: "This resource supports only version 2023-01-01",
            }),
        };
        const V1: Endpoint = Endpoint {
            versioning: None,
            ..V2
        };
        match self {
            Version::V2 => &V2,
            Version::V1 => &V1,
        }
    }

    /// What the path of one invitation admits: GET, PATCH and DELETE, versioned as the
    /// collection is.
    pub(super) fn one_endpoint(self) -> &'static Endpoint {
        const METHODS: &[Method] = &[Method::GET, Method::PATCH, Method::DELETE];
        const V2: Endpoint = Endpoint {
            methods: METHODS,
            allow: "GET, PATCH, DELETE",
            rate_limited_code: "RATE_LIMITED_TOKEN_BUCKET",
            versioning: Some(Versioning {
                media_type: MEDIA_TYPE_2023_01_01,
                only: "This resource supports only version 2023-01-01",
            }),
        };
        const V1: Endpoint = Endpoint {
            versioning: None,
            ..V2
        };
        match self {
            Version::V2 => &V2,
            Version::V1 => &V1,
        }
    }

    /// The media type of successful answers, and of the request body a 415 asks for.
    pub(super) fn media_type(self) -> &'static str {
        match self {
            Version::V2 => MEDIA_TYPE_2023_01_01,
            Version::V1 => "application/json",
        }
    }
}

async fn v2_invites(
    State(sim): State<Arc<SimState>>,
    Path(org_id): Path<String>,
    request: Request,
) -> Response {
    invites(&sim, Version::V2, &org_id, request).await
}

async fn v1_invites(
    State(sim): State<Arc<SimState>>,
    Path(org_id): Path<String>,
    request: Request,
) -> Response {
    invites(&sim, Version::V1, &org_id, request).await
}

/// Any other path: Atlas' generic 404.
async fn not_found(State(sim): State<Arc<SimState>>, request: Request) -> Response {
    admission::wait_latency(&sim).await;
    let error = ApiError::new(
        404,
        "RESOURCE_NOT_FOUND",
        format!("Cannot find resource {}.", request.uri().path()),
    );
    let body = serde_json::to_vec(&error).expect("serialisable");
    raw(StatusCode::NOT_FOUND, "application/json", body)
}

async fn invites(sim: &SimState, version: Version, org_id: &str, request: Request) -> Response {
    let counters = &sim.counters;
    let per_method = [
        (Method::POST, &counters.invite_posts),
        (Method::GET, &counters.invite_gets),
    ];
    admission::counted(sim, &per_method, request, |request| {
        answer(sim, version, org_id, request)
    })
    .await
}

/// How answers on `version`'s invite paths are written: `pretty` and `envelope` as the query
/// asks, and on v2 the deprecation headers.
pub(super) fn invite_reply(
    sim: &SimState,
    version: Version,
    query: &HashMap<String, String>,
) -> Reply {
    let flag = |name: &str| {
        query
            .get(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    };
    Reply {
        pretty: flag("pretty"),
        envelope: flag("envelope"),
        deprecated: (version == Version::V2 && sim.config().deprecation_headers)
            .then_some(DEPRECATED),
        rate: None,
    }
}

async fn answer(sim: &SimState, version: Version, org_id: &str, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let query = Query::<HashMap<String, String>>::try_from_uri(&parts.uri)
        .map(|q| q.0)
        .unwrap_or_default();
    let mut reply = invite_reply(sim, version, &query);
    if let Some(refusal) = admit(sim, version.endpoint(), &parts, org_id, &mut reply) {
        return refusal;
    }

    if parts.method == Method::GET {
        let pending = sim.pending(org_id, query.get("username").map(String::as_str));
        return reply.json(StatusCode::OK, version.media_type(), &pending);
    }

    if !json_content_type(&parts.headers, version) {
        return reply.fail(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            format!(
                "The request body must be sent as Content-Type: {}.",
                version.media_type()
            ),
        );
    }
    let new = match read_valid(body, &reply, validate).await {
        Ok(new) => new,
        Err(refusal) => return refusal,
    };
    if let Some(error) = super::directory::unknown_ids(sim, &new.team_ids, &new.group_roles) {
        return reply.error(error);
    }
    faults::create(sim, &version, &reply, org_id, &new).await
}

impl Creating for Version {
    fn created(&self, reply: &Reply, invitation: Invitation, shape: Shape) -> Response {
        match shape {
            Shape::Whole => reply.json(StatusCode::OK, self.media_type(), &invitation),
            Shape::Truncated => {
                // Cut before any envelope: the client must meet half of an invitation.
                let mut body = reply.bytes(&invitation);
                body.truncate(body.len() / 2);
                reply.decorate(raw(StatusCode::OK, self.media_type(), body))
            }
            Shape::WithoutId => {
                let invitation = Invitation {
                    id: None,
                    ..invitation
                };
                reply.json(StatusCode::OK, self.media_type(), &invitation)
            }
        }
    }
}

impl Refusing for Version {
    fn status_fault(&self, reply: &Reply, status: u16) -> Response {
        let status = if (200..=599).contains(&status) {
            status
        } else {
            500
        };
        let (code, detail) = status_error(status);
        reply.fail(status, code, detail)
    }

    fn proxy_page(&self, status: StatusCode) -> String {
        // Only the 503 and 502 faults send pages: the page nginx writes for them.
        match status {
            StatusCode::BAD_GATEWAY => HTML_502,
            _ => HTML_503,
        }
        .to_owned()
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

/// Whether the body is declared as JSON: on v2 the versioned media type or `application/json`,
/// on v1.0 `application/json` or any versioned Atlas JSON type.
pub(super) fn json_content_type(headers: &HeaderMap, version: Version) -> bool {
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
    use axum::http::HeaderValue;

    #[test]
    fn headers_are_read_leniently() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer  tok "),
        );
        let sim = SimState::new(crate::SimConfig::default());
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
        assert!(admission::accepts(&headers, MEDIA_TYPE_2023_01_01));
        headers.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        assert!(!admission::accepts(&headers, MEDIA_TYPE_2023_01_01));
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        assert!(json_content_type(&headers, Version::V2));
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert!(!json_content_type(&headers, Version::V1));
    }
}
