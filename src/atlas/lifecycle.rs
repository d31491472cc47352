//! The requests that change people after the invitation: update or cancel a pending
//! invitation, read, update, re-role or remove a user, and the counts a run reads before it
//! starts (people in the organization, pending invitations, people per team).
//!
//! Every method answers like [`AtlasClient::invite`]: an [`Answer`] with the rate-limit
//! headers, or a [`CallError`] whose [`class`](CallError::class) tells the pipeline to retry,
//! slow down, look up or give up, exactly as for an invitation. What differs is a 404: a
//! removal that finds nothing to remove has nothing left to do, so it is an answer,
//! [`Removal::AlreadyGone`], and [`is_gone`] says the same of an update's 404. A request whose
//! answer was lost may have been carried out (a dropped connection, a timeout): sending it
//! again then meets the person already changed — a removal meets a 404, an `:addRole` a 409
//! ([`RoleAdded::AlreadyHeld`]), a `:removeRole` of a role no longer held changes nothing.
//!
//! Which resource carries a request follows [`Api`]: `invites` and `invites-v1` update and
//! cancel invitations on their own paths (2023-01-01 and plain JSON), `users` through the
//! pending user (2025-02-19). Users themselves are always the users resource's, version
//! 2025-02-19, the only one that reaches pending users.
//!
//! The spec excerpt has no `GET /orgs/{orgId}/teams/{teamId}/users`, so people per team are
//! counted from the users listing, whose users carry their `teamIds`
//! ([`AtlasClient::team_user_counts`]).
//!
//! See: `updateOrgInviteById`, `deleteOrgInvite`, `getOrgUser`, `updateOrgUser`,
//! `removeOrgUser`, `addOrgUserRole`, `removeOrgUserRole` and `listOrgUsers` in
//! `atlas-invites-openapi.yaml`.

use std::collections::BTreeMap;

use reqwest::{Method, Url};

use super::client::{Answer, Api, AtlasClient};
use super::error::{CallError, summarise_body};
use super::model::{Invitation, MEDIA_TYPE_2023_01_01, MEDIA_TYPE_2025_02_19, OrgRole};
use super::users::{MEMBERSHIP_STATUSES, OrgUserDetail, OrgUserDetailPage};

// The wire types live in `atlas-model`, shared with the simulator.
pub use atlas_model::lifecycle::{
    InvitationUpdateRequest, OrgRoleChange, OrgUserRolesUpdate, OrgUserUpdateRequest,
};

/// `GET` of one user, as a template for `attempts.endpoint`.
pub const GET_USER_ENDPOINT: &str = "GET /api/atlas/v2/orgs/{orgId}/users/{userId}";
/// `PATCH` of one user.
pub const UPDATE_USER_ENDPOINT: &str = "PATCH /api/atlas/v2/orgs/{orgId}/users/{userId}";
/// `DELETE` of one user.
pub const DELETE_USER_ENDPOINT: &str = "DELETE /api/atlas/v2/orgs/{orgId}/users/{userId}";
/// `:addRole` of one user.
pub const ADD_ROLE_ENDPOINT: &str = "POST /api/atlas/v2/orgs/{orgId}/users/{userId}:addRole";
/// `:removeRole` of one user.
pub const REMOVE_ROLE_ENDPOINT: &str = "POST /api/atlas/v2/orgs/{orgId}/users/{userId}:removeRole";

/// Pages read at most when counting people per team, so that a server that never stops paging
/// cannot keep a run waiting forever: 5,000,000 users, ten thousand times Atlas's limit.
const MAX_PAGES: u32 = 10_000;

/// The 404 error codes that are not about the person: a missing organization is a
/// configuration problem, a missing team or project a problem of the request.
const NOT_ABOUT_THE_PERSON: [&str; 3] = ["ORG_NOT_FOUND", "TEAM_NOT_FOUND", "GROUP_NOT_FOUND"];

/// What a removal of an invitation or a user found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// Atlas removed it now (204).
    Removed,
    /// Atlas had nothing to remove (404): cancelled, accepted, expired or removed before, by
    /// an earlier attempt whose answer was lost or by someone else.
    AlreadyGone,
}

/// What `:addRole` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleAdded {
    /// Added; the user as Atlas now shows them.
    Added(Box<OrgUserDetail>),
    /// The user held the role already (409, the conflict the spec lists for `:addRole`).
    AlreadyHeld,
}

/// One request of a change of organization roles through `:addRole` and `:removeRole`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleStep {
    Add(OrgRole),
    Remove(OrgRole),
}

/// The `:addRole` and `:removeRole` requests that take a user from the organization roles
/// `current` to `wanted`, every addition before any removal: Atlas refuses to take a user's
/// last role ("A user must have at least one role at all times"), so adding first never leaves
/// anybody without one, and replacing an only role works. Nothing is planned when `wanted` is
/// empty (removing the person is another request) or equals `current`.
pub fn role_steps(current: &[OrgRole], wanted: &[OrgRole]) -> Vec<RoleStep> {
    if wanted.is_empty() {
        return Vec::new();
    }
    let mut steps: Vec<RoleStep> = Vec::new();
    for role in wanted {
        if !current.contains(role) && !steps.contains(&RoleStep::Add(*role)) {
            steps.push(RoleStep::Add(*role));
        }
    }
    for role in current {
        if !wanted.contains(role) && !steps.contains(&RoleStep::Remove(*role)) {
            steps.push(RoleStep::Remove(*role));
        }
    }
    steps
}

/// Whether a failed update or read says the invitation or user does not exist (any more): a
/// 404 in Atlas's own words, other than a missing organization, team or project. A 404 page
/// of a proxy is not Atlas's word on the person, and is not counted.
pub fn is_gone(error: &CallError) -> bool {
    let CallError::Status {
        status: 404,
        api,
        error_code_header,
        ..
    } = error
    else {
        return false;
    };
    let from_atlas = api.is_some() || error_code_header.is_some();
    from_atlas
        && !error
            .error_code()
            .is_some_and(|code| NOT_ABOUT_THE_PERSON.contains(&code))
}

impl Api {
    /// The update of one pending invitation, as a template for `attempts.endpoint`.
    pub fn update_invitation_endpoint(self) -> &'static str {
        match self {
            Api::Invites => "PATCH /api/atlas/v2/orgs/{orgId}/invites/{invitationId}",
            Api::InvitesV1 => "PATCH /api/atlas/v1.0/orgs/{orgId}/invites/{invitationId}",
            Api::Users => UPDATE_USER_ENDPOINT,
        }
    }

    /// The cancellation of one pending invitation, as a template for `attempts.endpoint`.
    pub fn delete_invitation_endpoint(self) -> &'static str {
        match self {
            Api::Invites => "DELETE /api/atlas/v2/orgs/{orgId}/invites/{invitationId}",
            Api::InvitesV1 => "DELETE /api/atlas/v1.0/orgs/{orgId}/invites/{invitationId}",
            Api::Users => DELETE_USER_ENDPOINT,
        }
    }

    /// Where one invitation of this API lives, and in which media type.
    fn invitation_collection(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Api::Invites => ("v2", "invites", MEDIA_TYPE_2023_01_01),
            Api::InvitesV1 => ("v1.0", "invites", "application/json"),
            Api::Users => ("v2", "users", MEDIA_TYPE_2025_02_19),
        }
    }
}

/// An update of a pending invitation as the users resource takes it. Project roles travel
/// inside `roles` there, beside the organization roles it requires: an update that changes
/// project roles without organization roles cannot be said, and its project roles are left
/// out (send the organization roles too to change them).
fn user_update(change: &InvitationUpdateRequest) -> OrgUserUpdateRequest {
    OrgUserUpdateRequest {
        roles: change.roles.clone().map(|org_roles| OrgUserRolesUpdate {
            org_roles,
            group_role_assignments: change.group_role_assignments.as_ref().map(|groups| {
                groups
                    .iter()
                    .map(|g| super::model::UserGroupRoles {
                        group_id: g.group_id.clone(),
                        group_roles: g.roles.clone(),
                    })
                    .collect()
            }),
        }),
        team_ids: change.team_ids.clone(),
    }
}

/// An invitation as the users resource shows its pending user.
fn as_invitation(user: OrgUserDetail) -> Invitation {
    Invitation {
        id: Some(user.id).filter(|id| !id.is_empty()),
        username: Some(user.username).filter(|u| !u.is_empty()),
        roles: user.roles.org_roles,
        team_ids: user.team_ids,
        ..Invitation::default()
    }
}

impl AtlasClient {
    /// `https://…/api/atlas/{version}/orgs/{orgId}/{collection}/{item}`, the item encoded as
    /// one path segment whatever it holds.
    fn item_url(&self, version: &str, collection: &str, item: &str) -> Result<Url, CallError> {
        let path = format!("/api/atlas/{version}/orgs/{}/{collection}", self.org_id());
        let mut url = self.base().join(&path).map_err(|e| CallError::BadAnswer {
            status: 0,
            message: format!("invalid path {path}: {e}"),
        })?;
        url.path_segments_mut()
            .map_err(|()| CallError::BadAnswer {
                status: 0,
                message: format!("the base URL {} cannot hold a path", self.base()),
            })?
            .push(item);
        Ok(url)
    }

    /// Sends `body` as JSON with `method` to `url` in `media_type`.
    async fn send_json(
        &self,
        method: Method,
        url: Url,
        body: &impl serde::Serialize,
        media_type: &str,
    ) -> Result<Answer<Vec<u8>>, CallError> {
        let body = serde_json::to_vec(body).map_err(|e| CallError::BadAnswer {
            status: 0,
            message: format!("failed to encode the request: {e}"),
        })?;
        self.send(method, url, Some(bytes::Bytes::from(body)), media_type)
            .await
    }

    /// A DELETE whose 404 means that there is nothing left to remove.
    async fn remove(&self, url: Url, media_type: &str) -> Result<Answer<Removal>, CallError> {
        match self.send(Method::DELETE, url, None, media_type).await {
            Ok(answer) => Ok(answer.map(|_| Removal::Removed)),
            Err(error) => gone_or_error(error, Removal::AlreadyGone),
        }
    }

    /// `PATCH .../invites/{invitationId}` (v2 or v1.0 as the client's API says), or with the
    /// users API `PATCH .../users/{userId}` of the pending user: replaces what `change` names
    /// (see [`InvitationUpdateRequest`]). A 404 ([`is_gone`]) means the invitation is no longer
    /// pending: accepted, expired, declined or cancelled.
    pub async fn update_invitation(
        &self,
        invitation_id: &str,
        change: &InvitationUpdateRequest,
    ) -> Result<Answer<Invitation>, CallError> {
        let (version, collection, media_type) = self.api().invitation_collection();
        let url = self.item_url(version, collection, invitation_id)?;
        let answer = match self.api() {
            Api::Invites | Api::InvitesV1 => {
                self.send_json(Method::PATCH, url, change, media_type)
                    .await?
            }
            Api::Users => {
                self.send_json(Method::PATCH, url, &user_update(change), media_type)
                    .await?
            }
        };
        match self.api() {
            Api::Invites | Api::InvitesV1 => decode(answer),
            Api::Users => decode::<OrgUserDetail>(answer).map(|a| a.map(as_invitation)),
        }
    }

    /// `DELETE .../invites/{invitationId}` (or, with the users API, of the pending user):
    /// cancels a pending invitation. [`Removal::AlreadyGone`] when it was no longer pending.
    pub async fn delete_invitation(
        &self,
        invitation_id: &str,
    ) -> Result<Answer<Removal>, CallError> {
        let (version, collection, media_type) = self.api().invitation_collection();
        let url = self.item_url(version, collection, invitation_id)?;
        self.remove(url, media_type).await
    }

    /// `GET .../users/{userId}` in any membership status (pending, active, expired or
    /// declined); `None` when Atlas has no such user.
    pub async fn get_user(
        &self,
        user_id: &str,
    ) -> Result<Answer<Option<OrgUserDetail>>, CallError> {
        let mut url = self.item_url("v2", "users", user_id)?;
        for status in MEMBERSHIP_STATUSES {
            url.query_pairs_mut()
                .append_pair("orgMembershipStatuses", status);
        }
        match self
            .send(Method::GET, url, None, MEDIA_TYPE_2025_02_19)
            .await
        {
            Ok(answer) => decode::<OrgUserDetail>(answer).map(|a| a.map(Some)),
            Err(error) => gone_or_error(error, None),
        }
    }

    /// `PATCH .../users/{userId}`: replaces the roles or teams `change` names, for a pending or
    /// an active user.
    pub async fn update_user(
        &self,
        user_id: &str,
        change: &OrgUserUpdateRequest,
    ) -> Result<Answer<OrgUserDetail>, CallError> {
        let url = self.item_url("v2", "users", user_id)?;
        let answer = self
            .send_json(Method::PATCH, url, change, MEDIA_TYPE_2025_02_19)
            .await?;
        decode(answer)
    }

    /// `POST .../users/{userId}:addRole`. [`RoleAdded::AlreadyHeld`] on a 409: the user holds
    /// the role, perhaps since an earlier attempt whose answer was lost.
    pub async fn add_org_role(
        &self,
        user_id: &str,
        role: OrgRole,
    ) -> Result<Answer<RoleAdded>, CallError> {
        let url = self.item_url("v2", "users", &format!("{user_id}:addRole"))?;
        let body = OrgRoleChange { org_role: role };
        match self
            .send_json(Method::POST, url, &body, MEDIA_TYPE_2025_02_19)
            .await
        {
            Ok(answer) => {
                decode::<OrgUserDetail>(answer).map(|a| a.map(|u| RoleAdded::Added(Box::new(u))))
            }
            Err(CallError::Status {
                status: 409, rate, ..
            }) => Ok(Answer {
                value: RoleAdded::AlreadyHeld,
                status: 409,
                rate,
                sunset: None,
            }),
            Err(error) => Err(error),
        }
    }

    /// `POST .../users/{userId}:removeRole`. Atlas refuses to remove a user's last role, or
    /// the last owner's `ORG_OWNER` (a 400: see [`role_steps`] for the order that avoids the
    /// first).
    pub async fn remove_org_role(
        &self,
        user_id: &str,
        role: OrgRole,
    ) -> Result<Answer<OrgUserDetail>, CallError> {
        let url = self.item_url("v2", "users", &format!("{user_id}:removeRole"))?;
        let body = OrgRoleChange { org_role: role };
        let answer = self
            .send_json(Method::POST, url, &body, MEDIA_TYPE_2025_02_19)
            .await?;
        decode(answer)
    }

    /// `DELETE .../users/{userId}`: removes an active user from the organization, or cancels a
    /// pending one. [`Removal::AlreadyGone`] when there was no such user.
    pub async fn delete_user(&self, user_id: &str) -> Result<Answer<Removal>, CallError> {
        let url = self.item_url("v2", "users", user_id)?;
        self.remove(url, MEDIA_TYPE_2025_02_19).await
    }

    /// People in the organization as its capacity counts them: the `totalCount` of the users
    /// listing in its default statuses, `ACTIVE` and `PENDING`.
    pub async fn count_org_users(&self) -> Result<Answer<u64>, CallError> {
        self.count_users(&[]).await
    }

    /// Pending invitations of the organization: the length of the invites listing with the
    /// `invites` APIs (it is not paginated and has no `totalCount`), the `totalCount` of the
    /// `PENDING` users with the users API.
    pub async fn count_pending_invitations(&self) -> Result<Answer<u64>, CallError> {
        match self.pending_invitations().await? {
            Some(answer) => Ok(answer.map(|list| list.len() as u64)),
            None => self.count_users(&["PENDING"]).await,
        }
    }

    /// The `totalCount` of the users in `statuses` (the default ones when empty), read from a
    /// page of one.
    async fn count_users(&self, statuses: &[&str]) -> Result<Answer<u64>, CallError> {
        let path = format!("/api/atlas/v2/orgs/{}/users", self.org_id());
        let mut query = vec![
            ("itemsPerPage", "1"),
            ("pageNum", "1"),
            ("includeCount", "true"),
        ];
        query.extend(statuses.iter().map(|s| ("orgMembershipStatuses", *s)));
        let answer = self.get(&path, &query, MEDIA_TYPE_2025_02_19).await?;
        let page = decode::<OrgUserDetailPage>(answer)?;
        let status = page.status;
        let total = page.value.total_count.ok_or_else(|| CallError::BadAnswer {
            status,
            message: "the users listing has no totalCount".into(),
        })?;
        Ok(page.map(|_| total))
    }

    /// People per team, by team id, as a team's capacity counts them: the active and pending
    /// users whose `teamIds` name it, read from the whole users listing page by page. The
    /// answer's headers are the last page's.
    pub async fn team_user_counts(&self) -> Result<Answer<BTreeMap<String, u64>>, CallError> {
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        let answer = self
            .for_each_user(&["ACTIVE", "PENDING"], MAX_PAGES, |user| {
                for team in &user.team_ids {
                    *counts.entry(team.clone()).or_default() += 1;
                }
            })
            .await?;
        Ok(answer.map(|()| counts))
    }

    /// People in one team (see [`AtlasClient::team_user_counts`]).
    pub async fn count_team_users(&self, team_id: &str) -> Result<Answer<u64>, CallError> {
        let answer = self.team_user_counts().await?;
        Ok(answer.map(|counts| counts.get(team_id).copied().unwrap_or(0)))
    }
}

/// `value` as the answer of a 404 that [`is_gone`] reads as "nothing there", with that
/// answer's rate-limit headers; any other error as it is.
fn gone_or_error<T>(error: CallError, value: T) -> Result<Answer<T>, CallError> {
    if !is_gone(&error) {
        return Err(error);
    }
    match error {
        CallError::Status { status, rate, .. } => Ok(Answer {
            value,
            status,
            rate,
            sunset: None,
        }),
        other => Err(other),
    }
}

fn decode<T: serde::de::DeserializeOwned>(answer: Answer<Vec<u8>>) -> Result<Answer<T>, CallError> {
    let value = serde_json::from_slice(&answer.value).map_err(|e| CallError::BadAnswer {
        status: answer.status,
        message: if answer.value.is_empty() {
            "the answer is empty".into()
        } else {
            format!(
                "the answer is not the expected JSON ({e}): {}",
                summarise_body(&answer.value)
            )
        },
    })?;
    Ok(answer.map(|_| value))
}

#[cfg(test)]
mod tests;
