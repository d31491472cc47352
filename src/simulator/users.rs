//! The simulator's users resource, `/api/atlas/v2/orgs/{orgId}/users` (version 2025-02-19):
//! `GET` lists the organization's people page by page with their `orgMembershipStatus`, `POST`
//! invites one person (`OrgUserRequest` → 201 `OrgPendingUserResponse`).
//!
//! Both verbs go through the same checks as the invite paths (latency, method, authentication,
//! rate limit, version, organization), and a POST draws the same per-address faults, so that a
//! client using `--api users` meets the same weather. Invitations created here are the
//! simulator's ordinary invitations: the invites listing shows them too, as Atlas does. The
//! request body is validated in `user_request.rs`.
//!
//! See: `listOrgUsers` and `createOrgUser` in `atlas-invites-openapi.yaml`.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::atlas::model::{
    ApiError, Invitation, MEDIA_TYPE_2025_02_19, OrgRole, UserGroupRoles, is_atlas_id,
};
use crate::atlas::users::{
    MEMBERSHIP_STATUSES, OrgUserDetail, OrgUserDetailPage, OrgUserRolesView,
};

use super::config::Fault;
use super::routes::{media_types, wait_latency};
use super::server::ConnControl;
use super::state::{Closed, Conflict, NewInvitation, RateDecision, SimState, SimUser, bump};
use super::user_request::validate_user_request;

/// The users resource.
pub(crate) const V2_USERS: &str = "/api/atlas/v2/orgs/{org_id}/users";

/// `itemsPerPage` when the request does not say, and its bounds (the spec's).
const DEFAULT_PAGE_SIZE: usize = 100;
const MAX_PAGE_SIZE: usize = 500;
/// Largest request body read.
const MAX_BODY: usize = 1 << 20;
/// A hung request is abandoned by the server after this long.
const HANG_LIMIT: Duration = Duration::from_secs(60 * 60);

/// Every request on the users path: counted, delayed, answered, and its outcome counted.
pub(crate) async fn v2_users(
    State(sim): State<Arc<SimState>>,
    Path(org_id): Path<String>,
    request: Request,
) -> Response {
    match *request.method() {
        Method::POST => bump(&sim.counters.user_posts),
        Method::GET => bump(&sim.counters.user_gets),
        _ => {}
    }
    wait_latency(&sim).await;
    let response = answer(&sim, &org_id, request).await;
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

/// How this request wants its answers written.
struct Reply {
    pretty: bool,
    envelope: bool,
    /// `(RateLimit-Limit, RateLimit-Remaining)` once the token bucket has been consulted.
    rate: Option<(u32, u32)>,
}

impl Reply {
    fn json(
        &self,
        status: StatusCode,
        content_type: &'static str,
        value: &impl Serialize,
    ) -> Response {
        // With `envelope=true` every answer is a 200 carrying the real status in its body, as
        // on the invite paths.
        let (status, body) = if self.envelope {
            let content = serde_json::to_value(value).expect("serialisable");
            let wrapped = serde_json::json!({ "status": status.as_u16(), "content": content });
            (StatusCode::OK, self.bytes(&wrapped))
        } else {
            (status, self.bytes(value))
        };
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        if let Some((limit, remaining)) = self.rate {
            headers.insert("ratelimit-limit", HeaderValue::from(limit));
            headers.insert("ratelimit-remaining", HeaderValue::from(remaining));
        }
        response
    }

    fn bytes(&self, value: &impl Serialize) -> Vec<u8> {
        let written = if self.pretty {
            serde_json::to_vec_pretty(value)
        } else {
            serde_json::to_vec(value)
        };
        written.expect("the simulator's own types always serialise")
    }

    fn ok(&self, status: StatusCode, value: &impl Serialize) -> Response {
        self.json(status, MEDIA_TYPE_2025_02_19, value)
    }

    fn error(&self, error: ApiError) -> Response {
        let status = StatusCode::from_u16(error.error).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        self.json(status, "application/json", &error)
    }

    fn fail(&self, status: u16, code: &str, detail: impl Into<String>) -> Response {
        self.error(ApiError::new(status, code, detail))
    }

    fn rate_limited(&self, retry_after: Option<u64>) -> Response {
        let detail = match retry_after {
            Some(secs) => format!(
                "You have exceeded the rate limit for this API key. Please retry after {secs} seconds."
            ),
            None => "You have exceeded the rate limit for this API key. Please retry later.".into(),
        };
        let mut response = self.fail(429, "RATE_LIMITED", detail);
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

async fn answer(sim: &SimState, org_id: &str, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    // A list of pairs rather than a map: `orgMembershipStatuses` may be repeated.
    let query = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
        .map(|q| q.0)
        .unwrap_or_default();
    let flag = |name: &str| {
        query
            .iter()
            .any(|(k, v)| k == name && v.eq_ignore_ascii_case("true"))
    };
    let mut reply = Reply {
        pretty: flag("pretty"),
        envelope: flag("envelope"),
        rate: None,
    };

    if parts.method != Method::GET && parts.method != Method::POST {
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
            .insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
        return response;
    }
    let path_and_query = parts.uri.path_and_query().map_or("", |p| p.as_str());
    let caller = match sim.authenticate(&parts.method, path_and_query, &parts.headers) {
        Ok(caller) => caller,
        Err(denial) => return super::auth::unauthorized(sim, denial.detail),
    };
    match sim.take_token(&caller) {
        RateDecision::Unlimited => {}
        RateDecision::Allowed { limit, remaining } => reply.rate = Some((limit, remaining)),
        RateDecision::Limited { limit, retry_after } => {
            reply.rate = Some((limit, 0));
            let header = sim.config().retry_after_header.then_some(retry_after);
            let mut response = reply.rate_limited(Some(retry_after));
            if header.is_none() {
                response.headers_mut().remove(header::RETRY_AFTER);
            }
            return response;
        }
    }
    // Only 2025-02-19 is simulated: the 2023-01-01 version of this resource lists active users
    // only, in another shape, and nothing here needs it.
    if !media_types(&parts.headers, header::ACCEPT)
        .iter()
        .any(|m| m == MEDIA_TYPE_2025_02_19)
    {
        return reply.fail(
            406,
            "INVALID_VERSION_DATE",
            format!(
                "Invalid accept header or version date. The simulator serves this resource only \
                 in version 2025-02-19: send Accept: {MEDIA_TYPE_2025_02_19}."
            ),
        );
    }
    if !is_atlas_id(org_id) {
        return reply.fail(
            400,
            "INVALID_ORG_ID",
            format!("An invalid organization ID {org_id} was specified."),
        );
    }
    if !sim.org_exists(org_id) {
        return reply.fail(
            404,
            "ORG_NOT_FOUND",
            format!("No organization with ID {org_id} exists."),
        );
    }
    if parts.method == Method::GET {
        return match list(sim, org_id, &query) {
            Ok(page) => reply.ok(StatusCode::OK, &page),
            Err(error) => reply.error(*error),
        };
    }

    let declared = media_types(&parts.headers, header::CONTENT_TYPE);
    if !declared
        .iter()
        .any(|m| m == MEDIA_TYPE_2025_02_19 || m == "application/json")
    {
        return reply.fail(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            format!("The request body must be sent as Content-Type: {MEDIA_TYPE_2025_02_19}."),
        );
    }
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return reply.fail(
                400,
                "INVALID_JSON",
                "The request body could not be read, or is larger than 1 MiB.",
            );
        }
    };
    let new = match validate_user_request(&bytes) {
        Ok(new) => new,
        Err(error) => return reply.error(*error),
    };
    let conn = parts.extensions.get::<ConnControl>().cloned();
    create(sim, &reply, org_id, &new, conn).await
}

/// `GET`: one page of the people in the requested states.
fn list(
    sim: &SimState,
    org_id: &str,
    query: &[(String, String)],
) -> Result<OrgUserDetailPage, Box<ApiError>> {
    let bad = |detail: String| Box::new(ApiError::new(400, "INVALID_QUERY_PARAMETER", detail));
    let last = |name: &str| {
        query
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let number =
        |name: &str, default: usize, range: std::ops::RangeInclusive<usize>| match last(name) {
            None => Ok(default),
            Some(text) => match text.trim().parse::<usize>() {
                Ok(n) if range.contains(&n) => Ok(n),
                _ => Err(bad(format!(
                    "Invalid {name} {text:?}: expected an integer from {} to {}.",
                    range.start(),
                    range.end()
                ))),
            },
        };
    let per_page = number("itemsPerPage", DEFAULT_PAGE_SIZE, 1..=MAX_PAGE_SIZE)?;
    let page_num = number("pageNum", 1, 1..=usize::MAX)?;
    let include_count = last("includeCount").is_none_or(|v| !v.eq_ignore_ascii_case("false"));

    let mut wanted: HashSet<String> = HashSet::new();
    let plural: Vec<&str> = query
        .iter()
        .filter(|(k, _)| k == "orgMembershipStatuses")
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect();
    let singular = last("orgMembershipStatus");
    if !plural.is_empty() && singular.is_some() {
        return Err(bad(
            "orgMembershipStatus cannot be combined with orgMembershipStatuses.".into(),
        ));
    }
    for status in plural.into_iter().chain(singular) {
        let status = status.to_ascii_uppercase();
        if !MEMBERSHIP_STATUSES.contains(&status.as_str()) {
            return Err(bad(format!(
                "Invalid orgMembershipStatuses value {status:?}: expected one of {}.",
                MEMBERSHIP_STATUSES.join(", ")
            )));
        }
        wanted.insert(status);
    }
    if wanted.is_empty() {
        // The spec's default: ACTIVE and PENDING users only.
        wanted.extend(["ACTIVE".to_owned(), "PENDING".to_owned()]);
    }
    let username = last("username").map(|u| u.trim().to_lowercase());

    let matching: Vec<OrgUserDetail> = sim
        .org_users(org_id)
        .into_iter()
        .map(detail)
        .filter(|u| wanted.contains(&u.org_membership_status))
        .filter(|u| {
            username
                .as_deref()
                .is_none_or(|name| u.username.to_lowercase() == name)
        })
        .collect();
    let total = matching.len() as u64;
    let results = matching
        .into_iter()
        .skip((page_num - 1).saturating_mul(per_page))
        .take(per_page)
        .collect();
    Ok(OrgUserDetailPage {
        links: Vec::new(),
        results,
        total_count: include_count.then_some(total),
    })
}

/// `POST`: creates the invitation, with this address's next fault if it has one.
async fn create(
    sim: &SimState,
    reply: &Reply,
    org_id: &str,
    new: &NewInvitation,
    conn: Option<ConnControl>,
) -> Response {
    let created = |respond: &dyn Fn(OrgUserDetail) -> Response| match sim.create(org_id, new) {
        Ok(invitation) => respond(pending_user(&invitation, None)),
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
    };
    match sim.next_fault(&new.username) {
        None => created(&|user| reply.ok(StatusCode::CREATED, &user)),
        Some(Fault::Error500) => reply.fail(500, "UNEXPECTED_ERROR", "Unexpected error."),
        Some(Fault::Html503) => html(StatusCode::SERVICE_UNAVAILABLE),
        Some(Fault::BadGateway502Html) => html(StatusCode::BAD_GATEWAY),
        Some(Fault::RateLimited { retry_after }) => reply.rate_limited(retry_after),
        Some(Fault::Status(status)) => {
            let status = if (400..=599).contains(&status) {
                status
            } else {
                500
            };
            reply.fail(status, "SIMULATED_ERROR", "Simulated error.")
        }
        Some(Fault::TruncatedJson) => created(&|user| {
            let mut response = reply.ok(StatusCode::CREATED, &user);
            let body = reply.bytes(&user);
            *response.body_mut() = Body::from(body[..body.len() / 2].to_vec());
            response
        }),
        Some(Fault::OkWithoutId) => created(&|user| {
            let mut value = serde_json::to_value(&user).expect("serialisable");
            if let Some(object) = value.as_object_mut() {
                object.remove("id");
            }
            reply.ok(StatusCode::CREATED, &value)
        }),
        Some(Fault::RecordThenDrop) => {
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

/// Closes the connection without an answer; never returns (the connection task drops it).
async fn drop_connection(conn: Option<ConnControl>) -> Response {
    if let Some(conn) = conn {
        conn.drop_connection();
    }
    std::future::pending().await
}

/// A proxy's HTML error page, without any Atlas header.
fn html(status: StatusCode) -> Response {
    let page = format!(
        "<html><head><title>{status}</title></head><body><center><h1>{status}</h1></center>\
         <hr><center>nginx</center></body></html>"
    );
    let mut response = Response::new(Body::from(page));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    response
}

/// How the users resource shows one person of the simulator.
fn detail(user: SimUser) -> OrgUserDetail {
    match user {
        SimUser::Active { email, invitation } => {
            let (roles, team_ids, created_at) = match &invitation {
                Some(inv) => (
                    roles_view(inv),
                    inv.team_ids.clone(),
                    inv.created_at.clone(),
                ),
                None => (
                    OrgUserRolesView {
                        org_roles: vec![OrgRole::OrgMember.as_str().to_owned()],
                        group_role_assignments: Vec::new(),
                    },
                    Vec::new(),
                    None,
                ),
            };
            let local = email.split('@').next().unwrap_or_default().to_owned();
            OrgUserDetail {
                id: user_id(&email),
                username: invitation
                    .as_ref()
                    .and_then(|inv| inv.username.clone())
                    .unwrap_or(email),
                org_membership_status: "ACTIVE".into(),
                roles,
                team_ids,
                created_at: Some(created_at.unwrap_or_else(|| "2024-01-01T00:00:00Z".into())),
                first_name: Some(local),
                last_name: Some("Simulated".into()),
                ..OrgUserDetail::default()
            }
        }
        SimUser::Invited { invitation, closed } => pending_user(&invitation, closed),
    }
}

/// `OrgPendingUserResponse` for an invitation: pending, expired or declined. The pending user's
/// id is the invitation's, so that an id a POST answered with can be found again by listing.
fn pending_user(inv: &Invitation, closed: Option<Closed>) -> OrgUserDetail {
    let status = match closed {
        None => "PENDING",
        Some(Closed::Expired) => "INVITATION_EXPIRED",
        Some(Closed::Rejected) => "INVITATION_REJECTED",
        Some(Closed::Accepted) => "ACTIVE",
    };
    OrgUserDetail {
        id: inv.id.clone().unwrap_or_default(),
        username: inv.username.clone().unwrap_or_default(),
        org_membership_status: status.into(),
        roles: roles_view(inv),
        team_ids: inv.team_ids.clone(),
        invitation_created_at: inv.created_at.clone(),
        // The spec: null for rejected invitations.
        invitation_expires_at: match closed {
            Some(Closed::Rejected) => None,
            _ => inv.expires_at.clone(),
        },
        inviter_username: inv.inviter_username.clone(),
        ..OrgUserDetail::default()
    }
}

/// The invitation's roles grouped as the users resource shows them: project roles per project.
fn roles_view(inv: &Invitation) -> OrgUserRolesView {
    let mut projects: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for role in &inv.group_role_assignments {
        if let (Some(group), Some(name)) = (&role.group_id, &role.group_role) {
            projects
                .entry(group.clone())
                .or_default()
                .push(name.clone());
        }
    }
    OrgUserRolesView {
        org_roles: inv.roles.clone(),
        group_role_assignments: projects
            .into_iter()
            .map(|(group_id, group_roles)| UserGroupRoles {
                group_id,
                group_roles,
            })
            .collect(),
    }
}

/// A stable 24-hex id for a member who joined outside the simulator, derived from the address
/// so that every listing gives the same one.
fn user_id(email: &str) -> String {
    let digest = Sha256::digest(email.to_lowercase().as_bytes());
    digest.iter().take(12).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ORG: &str = "5f1e2d3c4b5a697887766554";

    /// A request on the users path of a fresh simulator, with a token and the 2025 media type.
    fn request(
        client: &reqwest::Client,
        base: &str,
        method: reqwest::Method,
        query: &str,
    ) -> reqwest::RequestBuilder {
        client
            .request(
                method,
                format!("{base}/api/atlas/v2/orgs/{ORG}/users{query}"),
            )
            .bearer_auth("t")
            .header("accept", MEDIA_TYPE_2025_02_19)
    }

    #[tokio::test]
    async fn users_are_listed_by_page_and_membership_status() {
        let sim = crate::simulator::Simulator::start(crate::simulator::SimConfig::default())
            .await
            .unwrap();
        let state = sim.state();
        for i in 0..7 {
            state.add_member(&format!("m{i}@example.com"));
        }
        // reqwest is built without a default TLS provider; installing one twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::new();
        let base = sim.base_url();
        let post = |email: &str| {
            request(&client, &base, reqwest::Method::POST, "")
                .header("content-type", MEDIA_TYPE_2025_02_19)
                .body(json!({"username": email, "roles": {"orgRoles": ["ORG_MEMBER"]}}).to_string())
                .send()
        };
        let created = post("p@example.com").await.unwrap();
        assert_eq!(created.status(), 201);
        let user: OrgUserDetail = created.json().await.unwrap();
        assert_eq!(user.org_membership_status, "PENDING");
        assert!(user.invitation_expires_at.is_some());
        assert_eq!(post("P@example.com").await.unwrap().status(), 409);
        assert_eq!(post("m1@example.com").await.unwrap().status(), 409);
        post("x@example.com").await.unwrap();
        assert!(state.expire_invitation("x@example.com"));
        assert_eq!(
            post("x@example.com").await.unwrap().status(),
            201,
            "replaces an expired one"
        );
        post("r@example.com").await.unwrap();
        assert!(state.reject_invitation("r@example.com"));

        let page = |query: &'static str| async {
            let answer = request(&client, &base, reqwest::Method::GET, query)
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), 200);
            answer.json::<OrgUserDetailPage>().await.unwrap()
        };
        // Default statuses: ACTIVE and PENDING (7 members, p and the new x).
        let first = page("?itemsPerPage=4").await;
        assert_eq!((first.results.len(), first.total_count), (4, Some(9)));
        let third = page("?itemsPerPage=4&pageNum=3").await;
        assert_eq!(third.results.len(), 1);
        assert_eq!(third.results[0].username, "x@example.com");
        let lapsed = page(
            "?orgMembershipStatuses=INVITATION_EXPIRED&orgMembershipStatuses=INVITATION_REJECTED",
        )
        .await;
        let states: Vec<&str> = lapsed
            .results
            .iter()
            .map(|u| u.org_membership_status.as_str())
            .collect();
        assert_eq!(
            states,
            vec!["INVITATION_REJECTED"],
            "x's newest invitation is pending"
        );
        let one = page("?username=M3@EXAMPLE.COM&includeCount=false").await;
        assert_eq!((one.results.len(), one.total_count), (1, None));

        assert!(state.accept_invitation("p@example.com"));
        let p = page("?username=p@example.com").await;
        assert_eq!(p.results[0].org_membership_status, "ACTIVE");
        assert!(
            state.pending(ORG, Some("p@example.com")).is_empty(),
            "left the invites list"
        );

        for bad in [
            "?itemsPerPage=501",
            "?pageNum=0",
            "?orgMembershipStatuses=GONE",
        ] {
            let answer = request(&client, &base, reqwest::Method::GET, bad)
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), 400, "{bad}");
        }
        let old = client
            .get(format!("{base}/api/atlas/v2/orgs/{ORG}/users"))
            .bearer_auth("t")
            .header("accept", "application/vnd.atlas.2023-01-01+json")
            .send()
            .await
            .unwrap();
        assert_eq!(old.status(), 406);
        let stats = state.stats();
        assert_eq!(stats.user_posts, 6);
        assert!(stats.user_gets >= 7);
    }

    #[test]
    fn members_have_stable_ids() {
        assert_eq!(user_id("Ann@Example.com"), user_id("ann@example.com"));
        assert!(is_atlas_id(&user_id("ann@example.com")));
    }
}
