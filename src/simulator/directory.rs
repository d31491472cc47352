//! The organization's teams and projects: `GET /api/atlas/v2/orgs/{orgId}/teams`
//! (`PaginatedTeamView`) and `GET /api/atlas/v2/orgs/{orgId}/groups` (`PaginatedAtlasGroupView`),
//! version 2023-01-01, paginated with `itemsPerPage` (1 to 500, default 100), `pageNum` (from 1)
//! and `includeCount` (default true). The lists come from [`SimConfig::teams`] and
//! [`SimConfig::projects`](super::SimConfig), in configuration order.
//!
//! The checks are the invite paths' in the same order (latency, method, authentication, rate
//! limit, version, organization); only GET is simulated. Invitations are checked against the
//! same lists by [`unknown_ids`] when they are configured.
//!
//! See: `listOrgTeams` and `getOrgGroups` in `atlas-invites-openapi.yaml`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use serde::Serialize;

use crate::atlas::directory::{GroupView, Page, TeamView};
use crate::atlas::model::{ApiError, MEDIA_TYPE_2023_01_01, is_atlas_id};

use super::routes::{media_types, wait_latency};
use super::state::{NewInvitation, RateDecision, SimState, bump};

/// The teams listing.
pub(crate) const V2_TEAMS: &str = "/api/atlas/v2/orgs/{org_id}/teams";
/// The projects listing.
pub(crate) const V2_GROUPS: &str = "/api/atlas/v2/orgs/{org_id}/groups";

/// `itemsPerPage` when the request does not say, and its bounds (the spec's).
const DEFAULT_PAGE_SIZE: usize = 100;
const MAX_PAGE_SIZE: usize = 500;
/// When every simulated project was created (the spec requires `created`).
const CREATED: &str = "2024-01-15T09:30:00Z";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Listing {
    Teams,
    Groups,
}

pub(crate) async fn v2_teams(
    State(sim): State<Arc<SimState>>,
    Path(org_id): Path<String>,
    request: Request,
) -> Response {
    respond(&sim, Listing::Teams, &org_id, request).await
}

pub(crate) async fn v2_groups(
    State(sim): State<Arc<SimState>>,
    Path(org_id): Path<String>,
    request: Request,
) -> Response {
    respond(&sim, Listing::Groups, &org_id, request).await
}

async fn respond(sim: &SimState, listing: Listing, org_id: &str, request: Request) -> Response {
    wait_latency(sim).await;
    let response = answer(sim, listing, org_id, request);
    let counters = &sim.counters;
    match response.status().as_u16() {
        400 => bump(&counters.bad_requests),
        401 => bump(&counters.unauthorized),
        429 => bump(&counters.rate_limited),
        500..=599 => bump(&counters.server_errors),
        _ => {}
    }
    response
}

fn json(
    status: StatusCode,
    content_type: &'static str,
    body: Vec<u8>,
    rate: Option<(u32, u32)>,
) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some((limit, remaining)) = rate {
        headers.insert("ratelimit-limit", HeaderValue::from(limit));
        headers.insert("ratelimit-remaining", HeaderValue::from(remaining));
    }
    response
}

fn fail(status: u16, code: &str, detail: impl Into<String>, rate: Option<(u32, u32)>) -> Response {
    let error = ApiError::new(status, code, detail);
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(&error).expect("serialisable");
    json(status, "application/json", body, rate)
}

fn answer(sim: &SimState, listing: Listing, org_id: &str, request: Request) -> Response {
    let (parts, _body) = request.into_parts();
    if parts.method != Method::GET {
        let mut response = fail(
            405,
            "METHOD_NOT_ALLOWED",
            format!(
                "The simulator does not support {} on this resource.",
                parts.method
            ),
            None,
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET"));
        return response;
    }
    let path_and_query = parts.uri.path_and_query().map_or("", |p| p.as_str());
    let caller = match sim.authenticate(&parts.method, path_and_query, &parts.headers) {
        Ok(caller) => caller,
        Err(denial) => return super::auth::unauthorized(sim, denial.detail),
    };
    let rate = match sim.take_token(&caller) {
        RateDecision::Unlimited => None,
        RateDecision::Allowed { limit, remaining } => Some((limit, remaining)),
        RateDecision::Limited { limit, retry_after } => {
            let mut response = fail(
                429,
                "RATE_LIMITED_TOKEN_BUCKET",
                format!(
                    "You have exceeded the rate limit for this API key. Please retry after \
                     {retry_after} seconds."
                ),
                Some((limit, 0)),
            );
            if sim.config().retry_after_header {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            }
            return response;
        }
    };
    if !media_types(&parts.headers, header::ACCEPT)
        .iter()
        .any(|m| m == MEDIA_TYPE_2023_01_01)
    {
        return fail(
            406,
            "INVALID_VERSION_DATE",
            format!(
                "Invalid accept header or version date. This resource supports only version \
                 2023-01-01: send Accept: {MEDIA_TYPE_2023_01_01}."
            ),
            rate,
        );
    }
    if !is_atlas_id(org_id) {
        return fail(
            400,
            "INVALID_ORG_ID",
            format!("An invalid organization ID {org_id} was specified."),
            rate,
        );
    }
    if !sim.org_exists(org_id) {
        return fail(
            404,
            "ORG_NOT_FOUND",
            format!("No organization with ID {org_id} exists."),
            rate,
        );
    }
    let query = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
        .map(|q| q.0)
        .unwrap_or_default();
    let paging = match Paging::from_query(&query) {
        Ok(paging) => paging,
        Err(detail) => return fail(400, "INVALID_QUERY_PARAMETER", detail, rate),
    };
    let config = sim.config();
    let body = match listing {
        Listing::Teams => paging.page(&config.teams, |(id, name)| TeamView {
            id: id.clone(),
            name: name.clone(),
            links: Vec::new(),
        }),
        Listing::Groups => paging.page(&config.projects, |(id, name)| GroupView {
            id: id.clone(),
            name: name.clone(),
            org_id: org_id.to_owned(),
            cluster_count: 0,
            created: CREATED.to_owned(),
            links: Vec::new(),
        }),
    };
    json(StatusCode::OK, MEDIA_TYPE_2023_01_01, body, rate)
}

/// The paging parameters of one request.
struct Paging {
    per_page: usize,
    page_num: usize,
    include_count: bool,
}

impl Paging {
    fn from_query(query: &[(String, String)]) -> Result<Paging, String> {
        let last = |name: &str| {
            query
                .iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let number = |name: &str, default: usize, max: usize| match last(name) {
            None => Ok(default),
            Some(text) => match text.trim().parse::<usize>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(format!(
                    "Invalid {name} {text:?}: expected an integer from 1 to {max}."
                )),
            },
        };
        Ok(Paging {
            per_page: number("itemsPerPage", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)?,
            page_num: number("pageNum", 1, usize::MAX)?,
            include_count: last("includeCount").is_none_or(|v| !v.eq_ignore_ascii_case("false")),
        })
    }

    /// One page of `items` as JSON.
    fn page<T: Serialize>(
        &self,
        items: &[(String, String)],
        view: impl Fn(&(String, String)) -> T,
    ) -> Vec<u8> {
        let skip = (self.page_num - 1).saturating_mul(self.per_page);
        let page = Page {
            links: Vec::new(),
            results: items
                .iter()
                .skip(skip)
                .take(self.per_page)
                .map(view)
                .collect(),
            total_count: self.include_count.then_some(items.len() as u64),
        };
        serde_json::to_vec(&page).expect("serialisable")
    }
}

/// With teams or projects configured, an invitation naming an id the organization does not
/// have is refused as Atlas does: 404 `TEAM_NOT_FOUND` or `GROUP_NOT_FOUND`.
pub(crate) fn unknown_ids(sim: &SimState, new: &NewInvitation) -> Option<ApiError> {
    let config = sim.config();
    if !config.teams.is_empty()
        && let Some(id) = new
            .team_ids
            .iter()
            .find(|id| !config.teams.iter().any(|(t, _)| t == *id))
    {
        return Some(ApiError::new(
            404,
            "TEAM_NOT_FOUND",
            format!("Team with ID {id} not found in the organization."),
        ));
    }
    if !config.projects.is_empty()
        && let Some(id) = new
            .group_roles
            .iter()
            .filter_map(|g| g.group_id.as_deref())
            .find(|id| !config.projects.iter().any(|(p, _)| p == id))
    {
        return Some(ApiError::new(
            404,
            "GROUP_NOT_FOUND",
            format!("No group with ID {id} exists."),
        ));
    }
    None
}
