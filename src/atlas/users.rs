//! Who is in the organization, as Atlas lists it: `GET /orgs/{orgId}/users` (version
//! 2025-02-19, paginated, every `orgMembershipStatus`) and the whole pending-invitation list of
//! the invites resource. `reconcile` reads both; the simulator serves the same wire types.
//!
//! The users resource is the one that knows what became of an invitation: an accepted one
//! leaves the invites list and its person turns `ACTIVE`, an expired or declined one is listed
//! with `INVITATION_EXPIRED` or `INVITATION_REJECTED` when asked for explicitly.
//!
//! See: `listOrgUsers` and `listOrgInvites` in `atlas-invites-openapi.yaml`.

use serde::{Deserialize, Serialize};

use super::client::{Answer, Api, AtlasClient};
use super::error::{CallError, summarise_body};
use super::model::{Invitation, MEDIA_TYPE_2023_01_01, MEDIA_TYPE_2025_02_19, UserGroupRoles};

/// Users per page: the most the users resource allows (`itemsPerPage` maximum).
pub const USERS_PAGE_SIZE: u32 = 500;

/// Every `orgMembershipStatus`. Without an explicit `orgMembershipStatuses`, Atlas lists only
/// `ACTIVE` and `PENDING` users, and expired or declined invitations would look missing.
pub const MEMBERSHIP_STATUSES: [&str; 4] = [
    "PENDING",
    "ACTIVE",
    "INVITATION_EXPIRED",
    "INVITATION_REJECTED",
];

/// The users listing as a template, for messages.
pub const USERS_ENDPOINT: &str = "GET /api/atlas/v2/orgs/{orgId}/users";

/// `OrgUserRolesResponse`: organization and project roles of one user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrgUserRolesView {
    #[serde(default)]
    pub org_roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_role_assignments: Vec<UserGroupRoles>,
}

/// `OrgUserResponse` with the fields of both of its shapes: `OrgPendingUserResponse` (pending,
/// expired and rejected invitations: `invitation*`, `inviterUsername`) and
/// `OrgActiveUserResponse` (members: `createdAt`, names, `lastAuth`, `country`). Every field is
/// lenient on the way in, so that one odd user cannot break a whole listing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrgUserDetail {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub username: String,
    /// `PENDING`, `ACTIVE`, `INVITATION_EXPIRED` or `INVITATION_REJECTED`.
    #[serde(default)]
    pub org_membership_status: String,
    #[serde(default)]
    pub roles: OrgUserRolesView,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub team_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invitation_created_at: Option<String>,
    /// Absent for active users, null for rejected invitations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invitation_expires_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inviter_username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_auth: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

/// `PaginatedOrgUserView`: one page of users.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrgUserDetailPage {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<serde_json::Value>,
    #[serde(default)]
    pub results: Vec<OrgUserDetail>,
    /// Omitted when the request said `includeCount=false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_count: Option<u64>,
}

impl AtlasClient {
    /// Page `page_num` (1-based) of the organization's users in any of `statuses`, at
    /// [`USERS_PAGE_SIZE`] per page, with the total count.
    pub async fn org_users_page(
        &self,
        page_num: u32,
        statuses: &[&str],
    ) -> Result<Answer<OrgUserDetailPage>, CallError> {
        let path = format!("/api/atlas/v2/orgs/{}/users", self.org_id());
        let page = page_num.to_string();
        let size = USERS_PAGE_SIZE.to_string();
        let mut query = vec![
            ("itemsPerPage", size.as_str()),
            ("pageNum", page.as_str()),
            ("includeCount", "true"),
        ];
        // The spec's array parameter is sent exploded, one pair per value, as Atlas expects.
        query.extend(statuses.iter().map(|s| ("orgMembershipStatuses", *s)));
        let answer = self.get(&path, &query, MEDIA_TYPE_2025_02_19).await?;
        decode(answer)
    }

    /// Every pending invitation of the organization from the invites resource of the client's
    /// API (v2 or v1.0). `None` with `--api users`, whose users listing already holds them.
    pub async fn pending_invitations(&self) -> Result<Option<Answer<Vec<Invitation>>>, CallError> {
        let (path, media_type) = match self.api() {
            Api::Invites => (
                format!("/api/atlas/v2/orgs/{}/invites", self.org_id()),
                MEDIA_TYPE_2023_01_01,
            ),
            Api::InvitesV1 => (
                format!("/api/atlas/v1.0/orgs/{}/invites", self.org_id()),
                "application/json",
            ),
            Api::Users => return Ok(None),
        };
        let answer = self.get(&path, &[], media_type).await?;
        decode(answer).map(Some)
    }
}

fn decode<T: serde::de::DeserializeOwned>(answer: Answer<Vec<u8>>) -> Result<Answer<T>, CallError> {
    let value = serde_json::from_slice(&answer.value).map_err(|e| CallError::BadAnswer {
        status: answer.status,
        message: format!(
            "the answer is not the expected JSON ({e}): {}",
            summarise_body(&answer.value)
        ),
    })?;
    Ok(Answer {
        value,
        status: answer.status,
        rate: answer.rate,
        sunset: answer.sunset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_user_shapes_parse_into_one_type() {
        let page: OrgUserDetailPage = serde_json::from_str(
            r#"{"results":[
                {"id":"5e4d3c2b1a0f9e8d7c6b5a49","username":"ann@example.com",
                 "orgMembershipStatus":"ACTIVE","roles":{"orgRoles":["ORG_OWNER"]},
                 "createdAt":"2026-11-01T00:00:00Z","firstName":"Ann","lastName":"Lee"},
                {"id":"5e4d3c2b1a0f9e8d7c6b5a4a","username":"bob@example.com",
                 "orgMembershipStatus":"INVITATION_REJECTED",
                 "roles":{"orgRoles":["ORG_MEMBER"],"groupRoleAssignments":[
                     {"groupId":"65b2e1d3f5a7c9b1d3e5f201","groupRoles":["GROUP_READ_ONLY"]}]},
                 "invitationCreatedAt":"2026-11-01T00:00:00Z","invitationExpiresAt":null,
                 "inviterUsername":"admin@example.com"},
                {"unexpected":"shape"}
            ],"totalCount":3}"#,
        )
        .unwrap();
        assert_eq!(page.total_count, Some(3));
        assert_eq!(page.results[0].first_name.as_deref(), Some("Ann"));
        assert_eq!(page.results[1].invitation_expires_at, None);
        assert_eq!(page.results[1].roles.group_role_assignments.len(), 1);
        assert_eq!(page.results[2], OrgUserDetail::default());
    }
}
