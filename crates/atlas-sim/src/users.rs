//! The simulator's users resource, `/api/atlas/v2/orgs/{orgId}/users` (version 2025-02-19):
//! `GET` lists the organization's people page by page with their `orgMembershipStatus`, `POST`
//! invites one person (`OrgUserRequest` → 201 `OrgPendingUserResponse`).
//!
//! Both verbs go through the same admission as the invite paths (`admission.rs`: latency,
//! method, authentication, rate limit, version, organization), and a POST draws the same
//! per-address faults (`faults.rs`), so that a client using `--api users` meets the same
//! weather. Invitations created here are the simulator's ordinary invitations: the invites
//! listing shows them too, as Atlas does. The request body is validated in `user_request.rs`.
//!
//! See: `listOrgUsers` and `createOrgUser` in `atlas-invites-openapi.yaml`.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::Response;
use serde::Serialize;

use atlas_model::users::{MEMBERSHIP_STATUSES, OrgUserDetail, OrgUserDetailPage, OrgUserRolesView};
use atlas_model::{ApiError, GroupRole, Invitation, MEDIA_TYPE_2025_02_19, UserGroupRoles};

use super::admission::{self, Endpoint, Versioning, admit, media_types, read_valid};
use super::directory::{Paging, last};
use super::faults::{self, Creating, Refusing, Shape};
use super::people::user_id;
use super::reply::Reply;
use super::state::{Closed, SimState, SimUser};
use super::user_request::validate_user_request;

/// The users resource.
pub(crate) const V2_USERS: &str = "/api/atlas/v2/orgs/{org_id}/users";

/// GET and POST, in version 2025-02-19 only: the 2023-01-01 version of this resource lists
/// active users only, in another shape, and nothing here needs it.
const ENDPOINT: Endpoint = Endpoint {
    methods: &[Method::GET, Method::POST],
    allow: "GET, POST",
    rate_limited_code: "RATE_LIMITED",
    versioning: Some(Versioning {
        media_type: MEDIA_TYPE_2025_02_19,
        only: "The simulator serves this resource only in version 2025-02-19",
    }),
};

/// Every request on the users path: counted, delayed, answered, and its outcome counted.
pub(crate) async fn v2_users(
    State(sim): State<Arc<SimState>>,
    Path(org_id): Path<String>,
    request: Request,
) -> Response {
    let counters = &sim.counters;
    let per_method = [
        (Method::POST, &counters.user_posts),
        (Method::GET, &counters.user_gets),
    ];
    admission::counted(&sim, &per_method, request, |request| {
        answer(&sim, &org_id, request)
    })
    .await
}

/// The users resource's answers to a created invitation and to scripted faults.
pub(super) struct Users;

impl Users {
    pub(super) fn ok(reply: &Reply, status: StatusCode, value: &impl Serialize) -> Response {
        reply.json(status, MEDIA_TYPE_2025_02_19, value)
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
        deprecated: None,
        rate: None,
    };
    if let Some(refusal) = admit(sim, &ENDPOINT, &parts, org_id, &mut reply) {
        return refusal;
    }
    if parts.method == Method::GET {
        return match list(sim, org_id, &query) {
            Ok(page) => Users::ok(&reply, StatusCode::OK, &page),
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
    let new = match read_valid(body, &reply, validate_user_request).await {
        Ok(new) => new,
        Err(refusal) => return refusal,
    };
    faults::create(sim, &Users, &reply, org_id, &new).await
}

/// `GET`: one page of the people in the requested states.
fn list(
    sim: &SimState,
    org_id: &str,
    query: &[(String, String)],
) -> Result<OrgUserDetailPage, Box<ApiError>> {
    let bad = |detail: String| Box::new(ApiError::new(400, "INVALID_QUERY_PARAMETER", detail));
    let paging = Paging::from_query(query).map_err(bad)?;
    let wanted = statuses(query, true)?;
    let username = last(query, "username").map(|u| u.trim().to_lowercase());

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
    let (results, total_count) = paging.window(matching.into_iter());
    Ok(OrgUserDetailPage {
        links: Vec::new(),
        results,
        total_count,
    })
}

/// The `orgMembershipStatuses` asked for (and, where `singular` allows it, the deprecated
/// `orgMembershipStatus`), upper-cased; without any, the spec's default of `ACTIVE` and
/// `PENDING` only.
pub(super) fn statuses(
    query: &[(String, String)],
    singular: bool,
) -> Result<HashSet<String>, Box<ApiError>> {
    let bad = |detail: String| Box::new(ApiError::new(400, "INVALID_QUERY_PARAMETER", detail));
    let mut wanted: HashSet<String> = HashSet::new();
    let plural: Vec<&str> = query
        .iter()
        .filter(|(k, _)| k == "orgMembershipStatuses")
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect();
    let singular = if singular {
        last(query, "orgMembershipStatus")
    } else {
        None
    };
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
        wanted.extend(["ACTIVE".to_owned(), "PENDING".to_owned()]);
    }
    Ok(wanted)
}

impl Creating for Users {
    /// A 201 `OrgPendingUserResponse`.
    fn created(&self, reply: &Reply, invitation: Invitation, shape: Shape) -> Response {
        let user = pending_user(&invitation, None);
        match shape {
            Shape::Whole => Users::ok(reply, StatusCode::CREATED, &user),
            Shape::Truncated => {
                // The headers of a whole answer, then half of the bare body.
                let mut response = Users::ok(reply, StatusCode::CREATED, &user);
                let body = reply.bytes(&user);
                *response.body_mut() = Body::from(body[..body.len() / 2].to_vec());
                response
            }
            Shape::WithoutId => {
                let mut value = serde_json::to_value(&user).expect("serialisable");
                if let Some(object) = value.as_object_mut() {
                    object.remove("id");
                }
                Users::ok(reply, StatusCode::CREATED, &value)
            }
        }
    }
}

impl Refusing for Users {
    fn status_fault(&self, reply: &Reply, status: u16) -> Response {
        let status = if (400..=599).contains(&status) {
            status
        } else {
            500
        };
        reply.fail(status, "SIMULATED_ERROR", "Simulated error.")
    }

    /// A generic proxy page named after the status.
    fn proxy_page(&self, status: StatusCode) -> String {
        format!(
            "<html><head><title>{status}</title></head><body><center><h1>{status}</h1></center>\
             <hr><center>nginx</center></body></html>"
        )
    }
}

/// How the users resource shows one person of the simulator.
pub(super) fn detail(user: SimUser) -> OrgUserDetail {
    match user {
        SimUser::Active {
            email,
            invitation,
            member,
        } => {
            let roles = roles_view(&member.roles, &member.group_roles);
            let team_ids = member.team_ids;
            let created_at = invitation.as_ref().and_then(|inv| inv.created_at.clone());
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
        // Never listed, and never found by id.
        Some(Closed::Deleted) => "DELETED",
    };
    OrgUserDetail {
        id: inv.id.clone().unwrap_or_default(),
        username: inv.username.clone().unwrap_or_default(),
        org_membership_status: status.into(),
        roles: roles_view(&inv.roles, &inv.group_role_assignments),
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

/// Roles grouped as the users resource shows them: project roles per project.
fn roles_view(org_roles: &[String], group_roles: &[GroupRole]) -> OrgUserRolesView {
    let mut projects: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for role in group_roles {
        if let (Some(group), Some(name)) = (&role.group_id, &role.group_role) {
            projects
                .entry(group.clone())
                .or_default()
                .push(name.clone());
        }
    }
    OrgUserRolesView {
        org_roles: org_roles.to_vec(),
        group_role_assignments: projects
            .into_iter()
            .map(|(group_id, group_roles)| UserGroupRoles {
                group_id,
                group_roles,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use atlas_model::is_atlas_id;
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
        let sim = crate::Simulator::start(crate::SimConfig::default())
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
