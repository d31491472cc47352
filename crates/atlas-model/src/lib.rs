//! Wire types of the Atlas Administration API that `atlas-invite` sends and reads, and the role
//! vocabulary they carry.
//!
//! The contract is `OrganizationInvitationRequest`, `OrganizationInvitation` and `ApiError` in the
//! official OpenAPI spec. Both the client (`atlas-invite`, which re-exports these under
//! `atlas_invite::atlas::{model, users, directory, rate_limits}`) and the simulator (`atlas-sim`)
//! use these types, so the two can never drift apart on field names. This crate depends on
//! neither, so that the simulator need not depend on the client.
//!
//! - the crate root: roles, invitations, `ApiError` and the invite endpoints' media type;
//! - [`users`]: the users resource's listing (`OrgUserDetail`, `OrgUserDetailPage`);
//! - [`directory`]: the teams and projects listings (`TeamView`, `GroupView`, `Page`);
//! - [`rate_limits`]: the `rateLimits` resource and the token buckets Atlas states;
//! - [`lifecycle`]: the bodies that change people after the invitation (update, roles);
//! - [`rate`]: request rates as written on command lines (`10/s`, `5/6s`), read the same way
//!   by the client's `--rate` and the simulator's `--rate-limit`.

pub mod directory;
pub mod lifecycle;
pub mod rate;
pub mod rate_limits;
pub mod users;

use std::fmt;

use serde::{Deserialize, Serialize};

/// The seven organization roles the contract enumerates, in the spec's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrgRole {
    OrgOwner,
    OrgMember,
    OrgGroupCreator,
    OrgBillingAdmin,
    OrgBillingReadOnly,
    OrgStreamProcessingAdmin,
    OrgReadOnly,
}

impl OrgRole {
    /// Every organization role, in the order the contract lists them.
    pub const ALL: [OrgRole; 7] = [
        OrgRole::OrgOwner,
        OrgRole::OrgMember,
        OrgRole::OrgGroupCreator,
        OrgRole::OrgBillingAdmin,
        OrgRole::OrgBillingReadOnly,
        OrgRole::OrgStreamProcessingAdmin,
        OrgRole::OrgReadOnly,
    ];

    /// The name as it goes over the wire, e.g. `ORG_MEMBER`.
    pub fn as_str(self) -> &'static str {
        match self {
            OrgRole::OrgOwner => "ORG_OWNER",
            OrgRole::OrgMember => "ORG_MEMBER",
            OrgRole::OrgGroupCreator => "ORG_GROUP_CREATOR",
            OrgRole::OrgBillingAdmin => "ORG_BILLING_ADMIN",
            OrgRole::OrgBillingReadOnly => "ORG_BILLING_READ_ONLY",
            OrgRole::OrgStreamProcessingAdmin => "ORG_STREAM_PROCESSING_ADMIN",
            OrgRole::OrgReadOnly => "ORG_READ_ONLY",
        }
    }

    /// Parses a role as people write it in spreadsheets: case-insensitive, surrounding blanks
    /// ignored, the `ORG_` prefix optional, and spaces or dashes accepted for underscores
    /// (`member`, `Org Owner`, `billing-admin`).
    pub fn parse(text: &str) -> Option<OrgRole> {
        let norm = normalise_role(text);
        let norm = norm.strip_prefix("ORG_").unwrap_or(&norm);
        OrgRole::ALL
            .into_iter()
            .find(|role| &role.as_str()["ORG_".len()..] == norm)
    }
}

impl fmt::Display for OrgRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Project roles known to the contract. The current spec no longer enumerates them, so any
/// well-formed `GROUP_*` name is accepted; this list only lets people omit the prefix and is
/// used to suggest valid names in error messages.
pub const KNOWN_GROUP_ROLES: [&str; 11] = [
    "GROUP_BACKUP_MANAGER",
    "GROUP_CLUSTER_MANAGER",
    "GROUP_DATA_ACCESS_ADMIN",
    "GROUP_DATA_ACCESS_READ_ONLY",
    "GROUP_DATA_ACCESS_READ_WRITE",
    "GROUP_DATABASE_ACCESS_ADMIN",
    "GROUP_OBSERVABILITY_VIEWER",
    "GROUP_OWNER",
    "GROUP_READ_ONLY",
    "GROUP_SEARCH_INDEX_EDITOR",
    "GROUP_STREAM_PROCESSING_OWNER",
];

/// Parses a project role: `GROUP_READ_ONLY`, `group read only`, or `read_only` (a known role
/// without its prefix). Returns the canonical upper-case name.
pub fn parse_group_role(text: &str) -> Option<String> {
    let norm = normalise_role(text);
    if let Some(rest) = norm.strip_prefix("GROUP_") {
        let well_formed = !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
        return well_formed.then_some(norm);
    }
    let prefixed = format!("GROUP_{norm}");
    KNOWN_GROUP_ROLES
        .contains(&prefixed.as_str())
        .then_some(prefixed)
}

fn normalise_role(text: &str) -> String {
    text.trim()
        .chars()
        .map(|c| match c {
            ' ' | '-' => '_',
            c => c.to_ascii_uppercase(),
        })
        .collect()
}

/// True when `id` is a 24-character lower-case hexadecimal Atlas id (orgs, teams, projects).
pub fn is_atlas_id(id: &str) -> bool {
    id.len() == 24 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `OrganizationInvitationGroupRoleAssignmentsRequest`: the project roles for one project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupRoleAssignment {
    pub group_id: String,
    pub roles: Vec<String>,
}

/// `OrganizationInvitationRequest`: the body of `POST /orgs/{orgId}/invites`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvitationRequest {
    pub username: String,
    pub roles: Vec<OrgRole>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub team_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_role_assignments: Vec<GroupRoleAssignment>,
}

/// `GroupRoleAssignment` of the users resource: the project roles for one project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserGroupRoles {
    pub group_id: String,
    pub group_roles: Vec<String>,
}

/// `OrgUserRolesRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrgUserRoles {
    pub org_roles: Vec<OrgRole>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_role_assignments: Vec<UserGroupRoles>,
}

/// `OrgUserRequest`: the body of `POST /orgs/{orgId}/users` (version 2025-02-19).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrgUserRequest {
    pub username: String,
    pub roles: OrgUserRoles,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub team_ids: Vec<String>,
}

impl From<&InvitationRequest> for OrgUserRequest {
    fn from(request: &InvitationRequest) -> OrgUserRequest {
        OrgUserRequest {
            username: request.username.clone(),
            roles: OrgUserRoles {
                org_roles: request.roles.clone(),
                group_role_assignments: request
                    .group_role_assignments
                    .iter()
                    .map(|a| UserGroupRoles {
                        group_id: a.group_id.clone(),
                        group_roles: a.roles.clone(),
                    })
                    .collect(),
            },
            team_ids: request.team_ids.clone(),
        }
    }
}

/// `OrgUserResponse`, as far as the client needs it: which user, in which state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrgUser {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// `PENDING`, `ACTIVE`, `INVITATION_EXPIRED` or `INVITATION_REJECTED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_membership_status: Option<String>,
}

/// `PaginatedOrgUserView`: one page of users.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrgUserPage {
    #[serde(default)]
    pub results: Vec<OrgUser>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_count: Option<u64>,
}

/// Media type of the 2025-02-19 version of the users resource.
pub const MEDIA_TYPE_2025_02_19: &str = "application/vnd.atlas.2025-02-19+json";

/// `GroupRole`: one project role as the invitation echoes it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupRole {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_role: Option<String>,
}

/// `OrganizationInvitation`: what Atlas answers for a created or listed invitation.
///
/// Every field is optional on the way in: a well-formed answer without an `id` is reported as a
/// broken answer by the client rather than failing to parse.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Invitation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub team_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_role_assignments: Vec<GroupRole>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inviter_username: Option<String>,
}

/// `FieldViolation`: one field named in a 400's `badRequestDetail`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

/// `BadRequestDetail`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BadRequestDetail {
    #[serde(default)]
    pub fields: Vec<FieldViolation>,
}

/// `ApiError`: the body of every Atlas error answer.
///
/// `error` and `errorCode` are required by the contract, but real proxies and older endpoints
/// send partial bodies, so both are lenient here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiError {
    #[serde(default)]
    pub error: u16,
    #[serde(default)]
    pub error_code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bad_request_detail: Option<BadRequestDetail>,
}

impl ApiError {
    /// Builds an error body the way Atlas shapes it: `reason` is the status's canonical text.
    pub fn new(status: u16, error_code: &str, detail: impl Into<String>) -> ApiError {
        let reason = http_reason(status).map(str::to_owned);
        ApiError {
            error: status,
            error_code: error_code.to_owned(),
            detail: Some(detail.into()),
            reason,
            parameters: Vec::new(),
            bad_request_detail: None,
        }
    }
}

fn http_reason(status: u16) -> Option<&'static str> {
    Some(match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        406 => "Not Acceptable",
        409 => "Conflict",
        415 => "Unsupported Media Type",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => return None,
    })
}

/// Media type of the 2023-01-01 version of the v2 invite endpoints.
pub const MEDIA_TYPE_2023_01_01: &str = "application/vnd.atlas.2023-01-01+json";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_roles_parse_like_people_write_them() {
        assert_eq!(OrgRole::parse("member"), Some(OrgRole::OrgMember));
        assert_eq!(OrgRole::parse(" ORG_OWNER "), Some(OrgRole::OrgOwner));
        assert_eq!(OrgRole::parse("org owner"), Some(OrgRole::OrgOwner));
        assert_eq!(
            OrgRole::parse("billing-read-only"),
            Some(OrgRole::OrgBillingReadOnly)
        );
        assert_eq!(OrgRole::parse("owner "), Some(OrgRole::OrgOwner));
        assert_eq!(OrgRole::parse("admin"), None);
        assert_eq!(OrgRole::parse(""), None);
        assert_eq!(OrgRole::parse("ORG_"), None);
    }

    #[test]
    fn every_role_round_trips_through_its_wire_name() {
        for role in OrgRole::ALL {
            assert_eq!(OrgRole::parse(role.as_str()), Some(role));
            let json = serde_json::to_string(&role).unwrap();
            assert_eq!(json, format!("\"{}\"", role.as_str()));
        }
    }

    #[test]
    fn group_roles_accept_known_names_without_prefix() {
        assert_eq!(
            parse_group_role("read only").as_deref(),
            Some("GROUP_READ_ONLY")
        );
        assert_eq!(
            parse_group_role("group_owner").as_deref(),
            Some("GROUP_OWNER")
        );
        assert_eq!(
            parse_group_role("GROUP_FUTURE_ROLE").as_deref(),
            Some("GROUP_FUTURE_ROLE")
        );
        assert_eq!(parse_group_role("ORG_OWNER"), None);
        assert_eq!(parse_group_role("GROUP_"), None);
        assert_eq!(parse_group_role("superuser"), None);
    }

    #[test]
    fn atlas_ids_are_24_lower_hex() {
        assert!(is_atlas_id("5f1e2d3c4b5a697887766554"));
        assert!(!is_atlas_id("5F1E2D3C4B5A697887766554"));
        assert!(!is_atlas_id("5f1e2d3c4b5a69788776655"));
        assert!(!is_atlas_id("5f1e2d3c4b5a69788776655g"));
    }

    #[test]
    fn request_serialises_as_the_contract_names_it() {
        let req = InvitationRequest {
            username: "a@example.com".into(),
            roles: vec![OrgRole::OrgMember],
            team_ids: vec![],
            group_role_assignments: vec![GroupRoleAssignment {
                group_id: "5f1e2d3c4b5a697887766554".into(),
                roles: vec!["GROUP_READ_ONLY".into()],
            }],
        };
        let json = serde_json::to_value(&req).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "username": "a@example.com",
                "roles": ["ORG_MEMBER"],
                "groupRoleAssignments": [
                    {"groupId": "5f1e2d3c4b5a697887766554", "roles": ["GROUP_READ_ONLY"]}
                ]
            })
        );
    }

    #[test]
    fn api_error_parses_partial_bodies() {
        let e: ApiError = serde_json::from_str(r#"{"detail":"x"}"#).unwrap();
        assert_eq!(e.error, 0);
        assert_eq!(e.detail.as_deref(), Some("x"));
    }
}
