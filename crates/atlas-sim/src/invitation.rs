//! One pending invitation by id, on the v2 (2023-01-01) and v1.0 invite paths:
//! `GET`, `PATCH` (`OrganizationInvitationUpdateRequest` → 200 `OrganizationInvitation`) and
//! `DELETE` (→ 204 without a body) of `.../orgs/{orgId}/invites/{invitationId}`.
//!
//! Requests are admitted as on the collection (`admission.rs`, with its media types and, on
//! v2, its deprecation headers); a PATCH or DELETE then draws the faults of the invited person
//! (`faults::change`), and the change itself is `people.rs`'s. Only a pending invitation can be
//! read, changed or cancelled: an accepted, expired, declined or cancelled one answers 404
//! `INVITATION_NOT_FOUND` (the spec: "You can't cancel an invitation that the user accepted").
//!
//! See: `getOrgInvite`, `updateOrgInviteById`, `deleteOrgInvite` and their v1.0 equivalents in
//! `atlas-invites-openapi.yaml`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;

use atlas_model::is_atlas_id;

use super::admission::{self, admit, read_valid};
use super::change_request::validate_invitation_update;
use super::faults;
use super::routes::{Version, invite_reply, json_content_type};
use super::state::SimState;

/// One invitation on the v2 path.
pub(crate) const V2_INVITE: &str = "/api/atlas/v2/orgs/{org_id}/invites/{invitation_id}";
/// One invitation on the v1.0 path.
pub(crate) const V1_INVITE: &str = "/api/atlas/v1.0/orgs/{org_id}/invites/{invitation_id}";

pub(crate) async fn v2_invite(
    State(sim): State<Arc<SimState>>,
    Path((org_id, id)): Path<(String, String)>,
    request: Request,
) -> Response {
    one(&sim, Version::V2, &org_id, &id, request).await
}

pub(crate) async fn v1_invite(
    State(sim): State<Arc<SimState>>,
    Path((org_id, id)): Path<(String, String)>,
    request: Request,
) -> Response {
    one(&sim, Version::V1, &org_id, &id, request).await
}

async fn one(
    sim: &SimState,
    version: Version,
    org_id: &str,
    id: &str,
    request: Request,
) -> Response {
    let counters = &sim.counters;
    let per_method = [
        (Method::PATCH, &counters.invite_updates),
        (Method::DELETE, &counters.invite_deletes),
    ];
    admission::counted(sim, &per_method, request, |request| {
        answer(sim, version, org_id, id, request)
    })
    .await
}

async fn answer(
    sim: &SimState,
    version: Version,
    org_id: &str,
    id: &str,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let query = Query::<HashMap<String, String>>::try_from_uri(&parts.uri)
        .map(|q| q.0)
        .unwrap_or_default();
    let mut reply = invite_reply(sim, version, &query);
    if let Some(refusal) = admit(sim, version.one_endpoint(), &parts, org_id, &mut reply) {
        return refusal;
    }
    if !is_atlas_id(id) {
        return reply.fail(
            400,
            "INVALID_INVITATION_ID",
            format!("An invalid invitation ID {id} was specified."),
        );
    }
    let media_type = version.media_type();

    if parts.method == Method::GET {
        return match sim.invitation(org_id, id) {
            Ok(invitation) => reply.json(StatusCode::OK, media_type, &invitation),
            Err(refusal) => reply.error(refusal.error()),
        };
    }

    let key = sim.invitation_email(org_id, id);
    if parts.method == Method::DELETE {
        return faults::change(sim, &version, &reply, &key, || {
            match sim.delete_invitation(org_id, id) {
                Ok(()) => reply.no_content(media_type),
                Err(refusal) => reply.error(refusal.error()),
            }
        })
        .await;
    }

    if !json_content_type(&parts.headers, version) {
        return reply.fail(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            format!("The request body must be sent as Content-Type: {media_type}."),
        );
    }
    let change = match read_valid(body, &reply, validate_invitation_update).await {
        Ok(change) => change,
        Err(refusal) => return refusal,
    };
    let teams = change.team_ids.as_deref().unwrap_or_default();
    let groups = change.group_roles.as_deref().unwrap_or_default();
    if let Some(error) = super::directory::unknown_ids(sim, teams, groups) {
        return reply.error(error);
    }
    faults::change(sim, &version, &reply, &key, || {
        match sim.update_invitation(org_id, id, change) {
            Ok(invitation) => reply.json(StatusCode::OK, media_type, &invitation),
            Err(refusal) => reply.error(refusal.error()),
        }
    })
    .await
}
