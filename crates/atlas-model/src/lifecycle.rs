//! What is sent to change people after they were invited: the bodies of
//! `PATCH /orgs/{orgId}/invites/{invitationId}` (`OrganizationInvitationUpdateRequest`, v2 and
//! v1.0), `PATCH /orgs/{orgId}/users/{userId}` (`OrgUserUpdateRequest`, version 2025-02-19) and
//! `POST /orgs/{orgId}/users/{userId}:addRole` / `:removeRole` (`AddOrRemoveOrgRole`).
//!
//! A field left `None` is left out of the body, which Atlas reads as "leave it as it is"; a
//! field given as an empty list is sent, which Atlas reads as "clear it". The spec says so of
//! `OrgUserUpdateRequest` ("Supplying a field with an empty value will reset that field"), and
//! the invitation's update is read the same way.
//!
//! See: `updateOrgInviteById`, `updateOrganizationInvitationById`, `updateOrgUser`,
//! `addOrgUserRole` and `removeOrgUserRole` in `atlas-invites-openapi.yaml`.

use serde::{Deserialize, Serialize};

use crate::{GroupRoleAssignment, OrgRole, UserGroupRoles};

/// `OrganizationInvitationUpdateRequest`: new roles, teams or project roles for a pending
/// invitation. It names no user: the invitation id in the path does.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvitationUpdateRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<OrgRole>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_role_assignments: Option<Vec<GroupRoleAssignment>>,
}

/// `OrgUserRolesRequest` as an update sends it: the organization roles always (at least one),
/// the project roles only when they are to change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrgUserRolesUpdate {
    pub org_roles: Vec<OrgRole>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_role_assignments: Option<Vec<UserGroupRoles>>,
}

/// `OrgUserUpdateRequest`: new roles or teams for a pending or active user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrgUserUpdateRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<OrgUserRolesUpdate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_ids: Option<Vec<String>>,
}

/// `AddOrRemoveOrgRole`: the one organization role `:addRole` adds or `:removeRole` removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrgRoleChange {
    pub org_role: OrgRole,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_what_changes_is_sent() {
        let teams_only = InvitationUpdateRequest {
            team_ids: Some(vec![]),
            ..InvitationUpdateRequest::default()
        };
        assert_eq!(
            serde_json::to_value(&teams_only).unwrap(),
            json!({"teamIds": []})
        );
        let roles = OrgUserUpdateRequest {
            roles: Some(OrgUserRolesUpdate {
                org_roles: vec![OrgRole::OrgOwner],
                group_role_assignments: None,
            }),
            team_ids: None,
        };
        assert_eq!(
            serde_json::to_value(&roles).unwrap(),
            json!({"roles": {"orgRoles": ["ORG_OWNER"]}})
        );
        let change = OrgRoleChange {
            org_role: OrgRole::OrgBillingAdmin,
        };
        assert_eq!(
            serde_json::to_value(change).unwrap(),
            json!({"orgRole": "ORG_BILLING_ADMIN"})
        );
    }
}
