//! The users resource's listing, `GET /orgs/{orgId}/users` (version 2025-02-19): one type for
//! both shapes of `OrgUserResponse`, and the membership statuses it reports.
//!
//! See: `listOrgUsers` in `atlas-invites-openapi.yaml`.

use serde::{Deserialize, Serialize};

use crate::UserGroupRoles;

/// Every `orgMembershipStatus`. Without an explicit `orgMembershipStatuses`, Atlas lists only
/// `ACTIVE` and `PENDING` users, and expired or declined invitations would look missing.
pub const MEMBERSHIP_STATUSES: [&str; 4] = [
    "PENDING",
    "ACTIVE",
    "INVITATION_EXPIRED",
    "INVITATION_REJECTED",
];

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
