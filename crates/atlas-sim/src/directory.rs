//! The organization's teams and projects: `GET /api/atlas/v2/orgs/{orgId}/teams`
//! (`PaginatedTeamView`) and `GET /api/atlas/v2/orgs/{orgId}/groups` (`PaginatedAtlasGroupView`),
//! version 2023-01-01, paginated with `itemsPerPage` (1 to 500, default 100), `pageNum` (from 1)
//! and `includeCount` (default true). The lists come from [`SimConfig::teams`] and
//! [`SimConfig::projects`](super::SimConfig), in configuration order.
//!
//! Requests are admitted as on the invite paths (`admission.rs`: latency, method,
//! authentication, rate limit, version, organization); only GET is simulated. Invitations are
//! checked against the same lists by [`unknown_ids`] when they are configured. The paging
//! parameters are read by [`Paging`], which the users resource's listing shares.
//!
//! See: `listOrgTeams` and `getOrgGroups` in `atlas-invites-openapi.yaml`.

use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde::Serialize;

use atlas_model::directory::{GroupView, Page, TeamView};
use atlas_model::{ApiError, GroupRole, MEDIA_TYPE_2023_01_01};

use super::admission::{self, Endpoint, Versioning, admit};
use super::reply::{Reply, raw};
use super::state::SimState;

/// The teams listing.
pub(crate) const V2_TEAMS: &str = "/api/atlas/v2/orgs/{org_id}/teams";
/// The projects listing.
pub(crate) const V2_GROUPS: &str = "/api/atlas/v2/orgs/{org_id}/groups";

/// `itemsPerPage` when the request does not say, and its bounds (the spec's).
const DEFAULT_PAGE_SIZE: usize = 100;
const MAX_PAGE_SIZE: usize = 500;
/// When every simulated project was created (the spec requires `created`).
const CREATED: &str = "2024-01-15T09:30:00Z";

/// Both listings: GET only, in version 2023-01-01.
const ENDPOINT: Endpoint = Endpoint {
    methods: &[Method::GET],
    allow: "GET",
    rate_limited_code: "RATE_LIMITED_TOKEN_BUCKET",
    versioning: Some(Versioning {
        media_type: MEDIA_TYPE_2023_01_01,
        only: "This resource supports only version 2023-01-01",
    }),
};

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

/// Listings are not counted by method (`SimStats` has no such counters), only by outcome.
async fn respond(sim: &SimState, listing: Listing, org_id: &str, request: Request) -> Response {
    admission::counted(sim, &[], request, |request| {
        std::future::ready(answer(sim, listing, org_id, request))
    })
    .await
}

fn answer(sim: &SimState, listing: Listing, org_id: &str, request: Request) -> Response {
    let (parts, _body) = request.into_parts();
    // The listings take no `pretty` or `envelope`: their answers are always compact and bare.
    let mut reply = Reply::plain();
    if let Some(refusal) = admit(sim, &ENDPOINT, &parts, org_id, &mut reply) {
        return refusal;
    }
    let query = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
        .map(|q| q.0)
        .unwrap_or_default();
    let paging = match Paging::from_query(&query) {
        Ok(paging) => paging,
        Err(detail) => return reply.fail(400, "INVALID_QUERY_PARAMETER", detail),
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
    reply.decorate(raw(StatusCode::OK, MEDIA_TYPE_2023_01_01, body))
}

/// The last value of query parameter `name`: a repeated parameter counts as its last value.
pub(super) fn last<'q>(query: &'q [(String, String)], name: &str) -> Option<&'q str> {
    query
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The paging parameters of one request, read the same way by these listings and by the users
/// resource's.
pub(super) struct Paging {
    per_page: usize,
    page_num: usize,
    include_count: bool,
}

impl Paging {
    /// `itemsPerPage` (1 to 500, default 100), `pageNum` (from 1) and `includeCount` (default
    /// true), or the detail of a 400 `INVALID_QUERY_PARAMETER`.
    pub(super) fn from_query(query: &[(String, String)]) -> Result<Paging, String> {
        let number = |name: &str, default: usize, max: usize| match last(query, name) {
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
            include_count: last(query, "includeCount")
                .is_none_or(|v| !v.eq_ignore_ascii_case("false")),
        })
    }

    /// The requested page of `items`, and their count when it was asked for.
    pub(super) fn window<T>(
        &self,
        items: impl ExactSizeIterator<Item = T>,
    ) -> (Vec<T>, Option<u64>) {
        let total = items.len() as u64;
        let skip = (self.page_num - 1).saturating_mul(self.per_page);
        let results = items.skip(skip).take(self.per_page).collect();
        (results, self.include_count.then_some(total))
    }

    /// One page of `items` as JSON.
    fn page<T: Serialize>(
        &self,
        items: &[(String, String)],
        view: impl Fn(&(String, String)) -> T,
    ) -> Vec<u8> {
        let (results, total_count) = self.window(items.iter().map(view));
        let page = Page {
            links: Vec::new(),
            results,
            total_count,
        };
        serde_json::to_vec(&page).expect("serialisable")
    }
}

/// With teams or projects configured, an invitation (or an update) naming a team or project
/// id the organization does not have is refused as Atlas does: 404 `TEAM_NOT_FOUND` or
/// `GROUP_NOT_FOUND`.
pub(crate) fn unknown_ids(
    sim: &SimState,
    team_ids: &[String],
    group_roles: &[GroupRole],
) -> Option<ApiError> {
    let config = sim.config();
    if !config.teams.is_empty()
        && let Some(id) = team_ids
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
        && let Some(id) = group_roles
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
