//! One user of the users resource by id (version 2025-02-19):
//! `GET`, `PATCH` (`OrgUserUpdateRequest`) and `DELETE` of `.../orgs/{orgId}/users/{userId}`,
//! and `POST .../users/{userId}:addRole` / `:removeRole` (`AddOrRemoveOrgRole`). The answers are
//! `OrgUserResponse`s (200), or a 204 without a body for a removal.
//!
//! A pending user's id is its invitation's, a member's is derived from their address (the ids
//! the listing shows). `GET` finds `ACTIVE` and `PENDING` users unless `orgMembershipStatuses`
//! asks for others; changes reach pending and active users; a removal reaches any listed user.
//! The rules (the last role, the last owner, full teams) and their error codes are in
//! `people.rs`.
//!
//! Requests are admitted as the collection's are (`admission.rs`); changes draw the person's
//! faults (`faults::change`), whose proxy pages and scripted errors are the users resource's.
//! Only version 2025-02-19 is simulated: the deprecated 2023-01-01 version of `removeOrgUser`
//! (which removes active users only) answers 406.
//!
//! See: `getOrgUser`, `updateOrgUser`, `removeOrgUser`, `addOrgUserRole` and
//! `removeOrgUserRole` in `atlas-invites-openapi.yaml`.

use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::Response;

use atlas_model::{MEDIA_TYPE_2025_02_19, is_atlas_id};

use super::admission::{self, Endpoint, Versioning, admit, media_types, read_valid};
use super::change_request::{validate_role_change, validate_user_update};
use super::directory::last;
use super::faults;
use super::reply::Reply;
use super::state::SimState;
use super::users::{Users, detail, statuses};

/// One user, or one of its custom methods (`{userId}:addRole`, `{userId}:removeRole`): the
/// colon is inside the path segment, so the handler tells them apart.
pub(crate) const V2_USER: &str = "/api/atlas/v2/orgs/{org_id}/users/{user_ref}";

const VERSIONING: Versioning = Versioning {
    media_type: MEDIA_TYPE_2025_02_19,
    only: "The simulator serves this resource only in version 2025-02-19",
};

/// The user itself.
const ONE: Endpoint = Endpoint {
    methods: &[Method::GET, Method::PATCH, Method::DELETE],
    allow: "GET, PATCH, DELETE",
    rate_limited_code: "RATE_LIMITED",
    versioning: Some(VERSIONING),
};

/// `:addRole` and `:removeRole`.
const ROLE: Endpoint = Endpoint {
    methods: &[Method::POST],
    allow: "POST",
    rate_limited_code: "RATE_LIMITED",
    versioning: Some(VERSIONING),
};

/// What a request on the path asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// `GET`, `PATCH` or `DELETE` of the user.
    User,
    AddRole,
    RemoveRole,
}

pub(crate) async fn v2_user(
    State(sim): State<Arc<SimState>>,
    Path((org_id, user_ref)): Path<(String, String)>,
    request: Request,
) -> Response {
    let counters = &sim.counters;
    let per_method = [
        (Method::PATCH, &counters.user_updates),
        (Method::POST, &counters.user_updates),
        (Method::DELETE, &counters.user_deletes),
    ];
    admission::counted(&sim, &per_method, request, |request| {
        answer(&sim, &org_id, &user_ref, request)
    })
    .await
}

async fn answer(sim: &SimState, org_id: &str, user_ref: &str, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let query = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
        .map(|q| q.0)
        .unwrap_or_default();
    let flag = |name: &str| last(&query, name).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let mut reply = Reply {
        pretty: flag("pretty"),
        envelope: flag("envelope"),
        deprecated: None,
        rate: None,
    };
    let (id, action) = match user_ref.split_once(':') {
        None => (user_ref, Action::User),
        Some((id, "addRole")) => (id, Action::AddRole),
        Some((id, "removeRole")) => (id, Action::RemoveRole),
        Some(_) => {
            return reply.fail(
                404,
                "RESOURCE_NOT_FOUND",
                format!("Cannot find resource {}.", parts.uri.path()),
            );
        }
    };
    let endpoint = if action == Action::User { &ONE } else { &ROLE };
    if let Some(refusal) = admit(sim, endpoint, &parts, org_id, &mut reply) {
        return refusal;
    }
    if !is_atlas_id(id) {
        return reply.fail(
            400,
            "INVALID_USER_ID",
            format!("An invalid user ID {id} was specified."),
        );
    }

    if parts.method == Method::GET {
        let wanted = match statuses(&query, false) {
            Ok(wanted) => wanted,
            Err(error) => return reply.error(*error),
        };
        let wanted: Vec<&str> = wanted.iter().map(String::as_str).collect();
        return match sim.user(org_id, id, &wanted) {
            Ok(user) => Users::ok(&reply, StatusCode::OK, &detail(user)),
            Err(refusal) => reply.error(refusal.error()),
        };
    }

    let key = sim.user_email(org_id, id);
    if parts.method == Method::DELETE {
        return faults::change(sim, &Users, &reply, &key, || {
            match sim.remove_user(org_id, id) {
                Ok(()) => reply.no_content(MEDIA_TYPE_2025_02_19),
                Err(refusal) => reply.error(refusal.error()),
            }
        })
        .await;
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
    let answer_with = |result: Result<_, super::people::Refusal>| match result {
        Ok(user) => Users::ok(&reply, StatusCode::OK, &detail(user)),
        Err(refusal) => reply.error(refusal.error()),
    };
    match action {
        Action::User => {
            let change = match read_valid(body, &reply, validate_user_update).await {
                Ok(change) => change,
                Err(refusal) => return refusal,
            };
            let teams = change.team_ids.as_deref().unwrap_or_default();
            let groups = change.group_roles.as_deref().unwrap_or_default();
            if let Some(error) = super::directory::unknown_ids(sim, teams, groups) {
                return reply.error(error);
            }
            faults::change(sim, &Users, &reply, &key, || {
                answer_with(sim.update_user(org_id, id, change))
            })
            .await
        }
        Action::AddRole | Action::RemoveRole => {
            let role = match read_valid(body, &reply, validate_role_change).await {
                Ok(role) => role,
                Err(refusal) => return refusal,
            };
            faults::change(sim, &Users, &reply, &key, || {
                answer_with(if action == Action::AddRole {
                    sim.add_org_role(org_id, id, role)
                } else {
                    sim.remove_org_role(org_id, id, role)
                })
            })
            .await
        }
    }
}
