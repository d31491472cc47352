//! The rate limiting resource: `GET /api/atlas/v2/rateLimits` (`PaginatedRateLimitEndpointSets`)
//! and `GET /api/atlas/v2/rateLimits/{endpointSetId}` (`RateLimitEndpointSetResponse`), version
//! 2025-03-12 (or `preview`), declaring the simulator's one token bucket as the endpoint set
//! of the organization's invitation resources.
//!
//! The resource is not metered by that bucket (in Atlas it is a set of its own), so asking
//! about the limit never spends a token. With no rate limit, or with the older invitation
//! limit (which Atlas never listed here), the listing is empty.

use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;

use atlas_model::directory::Page;
use atlas_model::rate_limits::{AppliedValue, EndpointSet, MEDIA_TYPE_2025_03_12, SetEndpoint};

use super::admission::{self, accepts};
use super::directory::{Paging, last};
use super::reply::Reply;
use super::state::{SimState, bump};

/// `GET /api/atlas/v2/rateLimits`.
pub(crate) const RATE_LIMITS: &str = "/api/atlas/v2/rateLimits";
/// `GET /api/atlas/v2/rateLimits/{endpointSetId}`.
pub(crate) const RATE_LIMIT: &str = "/api/atlas/v2/rateLimits/{endpoint_set_id}";
/// The name of the endpoint set the simulator's bucket meters, as 429 details name it.
pub(crate) const INVITATIONS_SET_NAME: &str = "Organization Invitations";
/// Its id.
const INVITATIONS_SET_ID: &str = "orgInvitations_user";
/// The preview version of the resource, sunset on 2026-04-21 but still served.
const MEDIA_TYPE_PREVIEW: &str = "application/vnd.atlas.preview+json";
/// The endpoints the bucket meters, as the set lists them (v2 paths only: the listing covers
/// the v2 API).
const METERED: &[(&str, &str)] = &[
    ("GET", "/api/atlas/v2/orgs/{orgId}/invites"),
    ("POST", "/api/atlas/v2/orgs/{orgId}/invites"),
    ("GET", "/api/atlas/v2/orgs/{orgId}/users"),
    ("POST", "/api/atlas/v2/orgs/{orgId}/users"),
    ("GET", "/api/atlas/v2/orgs/{orgId}/invites/{invitationId}"),
    ("PATCH", "/api/atlas/v2/orgs/{orgId}/invites/{invitationId}"),
    (
        "DELETE",
        "/api/atlas/v2/orgs/{orgId}/invites/{invitationId}",
    ),
    ("GET", "/api/atlas/v2/orgs/{orgId}/users/{userId}"),
    ("PATCH", "/api/atlas/v2/orgs/{orgId}/users/{userId}"),
    ("DELETE", "/api/atlas/v2/orgs/{orgId}/users/{userId}"),
    ("POST", "/api/atlas/v2/orgs/{orgId}/users/{userId}:addRole"),
    (
        "POST",
        "/api/atlas/v2/orgs/{orgId}/users/{userId}:removeRole",
    ),
    ("GET", "/api/atlas/v2/orgs/{orgId}/teams"),
    ("GET", "/api/atlas/v2/orgs/{orgId}/groups"),
];

pub(crate) async fn list(State(sim): State<Arc<SimState>>, request: Request) -> Response {
    answer(&sim, None, request).await
}

pub(crate) async fn one(
    State(sim): State<Arc<SimState>>,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    answer(&sim, Some(id), request).await
}

async fn answer(sim: &SimState, id: Option<String>, request: Request) -> Response {
    bump(&sim.counters.rate_limit_gets);
    admission::wait_latency(sim).await;
    let (parts, _body) = request.into_parts();
    let query = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
        .map(|q| q.0)
        .unwrap_or_default();
    let flag = |name: &str| last(&query, name).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let reply = Reply {
        pretty: flag("pretty"),
        envelope: flag("envelope"),
        deprecated: None,
        rate: None,
    };
    if parts.method != Method::GET {
        let mut response = reply.fail(
            405,
            "METHOD_NOT_ALLOWED",
            format!(
                "The simulator does not support {} on this resource.",
                parts.method
            ),
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET"));
        return response;
    }
    let path_and_query = parts.uri.path_and_query().map_or("", |p| p.as_str());
    if let Err(denial) = sim.authenticate(&parts.method, path_and_query, &parts.headers) {
        return reply.decorate(super::auth::unauthorized(sim, denial.detail));
    }
    let media_type = if accepts(&parts.headers, MEDIA_TYPE_2025_03_12) {
        MEDIA_TYPE_2025_03_12
    } else if accepts(&parts.headers, MEDIA_TYPE_PREVIEW) {
        MEDIA_TYPE_PREVIEW
    } else {
        return reply.fail(
            406,
            "INVALID_VERSION_DATE",
            format!(
                "Invalid accept header or version date. This resource supports versions 2025-03-12 and preview: send Accept: {MEDIA_TYPE_2025_03_12}."
            ),
        );
    };
    let sets = declared_sets(sim);
    if let Some(id) = id {
        return match sets
            .into_iter()
            .find(|s| s.endpoint_set_id.as_deref() == Some(&id))
        {
            Some(set) => reply.json(StatusCode::OK, media_type, &set),
            None => reply.fail(
                404,
                "RESOURCE_NOT_FOUND",
                format!("No rate limit endpoint set with ID {id} exists."),
            ),
        };
    }
    let paging = match Paging::from_query(&query) {
        Ok(paging) => paging,
        Err(detail) => return reply.fail(400, "INVALID_QUERY_PARAMETER", detail),
    };
    let wanted = |name: &str| -> Vec<&str> {
        query
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    let paths = wanted("endpointPath");
    let names = wanted("name");
    // A scope parameter asks for the sets of that scope only.
    let scopes: Vec<&str> = [
        ("groupId", "GROUP"),
        ("orgId", "ORGANIZATION"),
        ("userId", "USER"),
        ("ipAddress", "IP"),
    ]
    .into_iter()
    .filter(|(param, _)| last(&query, param).is_some())
    .map(|(_, scope)| scope)
    .collect();
    let matching: Vec<EndpointSet> = sets
        .into_iter()
        .filter(|s| {
            paths.is_empty()
                || s.endpoints
                    .iter()
                    .any(|e| e.path.as_deref().is_some_and(|p| paths.contains(&p)))
        })
        .filter(|s| {
            names.is_empty()
                || s.endpoint_set_name
                    .as_deref()
                    .is_some_and(|n| names.contains(&n))
        })
        .filter(|s| scopes.is_empty() || s.scope.as_deref().is_some_and(|sc| scopes.contains(&sc)))
        .collect();
    let (results, total_count) = paging.window(matching.into_iter());
    let page = Page {
        links: Vec::new(),
        results,
        total_count,
    };
    reply.json(StatusCode::OK, media_type, &page)
}

/// The endpoint sets the simulator declares: its bucket, unless there is none or it plays the
/// older invitation limit.
pub(crate) fn declared_sets(sim: &SimState) -> Vec<EndpointSet> {
    let config = sim.config();
    let Some(limit) = config.rate_limit.filter(|_| !config.rate_limit_legacy) else {
        return Vec::new();
    };
    let (refill, period) = limit.refill_parts();
    let value = |n: u64| {
        Some(AppliedValue {
            default_value: None,
            value: Some(i64::try_from(n).unwrap_or(i64::MAX)),
        })
    };
    vec![EndpointSet {
        capacity: value(u64::from(limit.burst)),
        endpoint_set_id: Some(INVITATIONS_SET_ID.to_owned()),
        endpoint_set_name: Some(INVITATIONS_SET_NAME.to_owned()),
        endpoints: METERED
            .iter()
            .map(|(method, path)| SetEndpoint {
                method: Some((*method).to_owned()),
                path: Some((*path).to_owned()),
            })
            .collect(),
        refill_duration_seconds: value(period),
        refill_rate: value(refill),
        // The bucket is per caller.
        scope: Some("USER".to_owned()),
    }]
}
