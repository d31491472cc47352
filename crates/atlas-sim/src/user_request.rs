//! Validation of `OrgUserRequest`, the body of `POST /api/atlas/v2/orgs/{orgId}/users` (version
//! 2025-02-19), with the error codes of the invite paths' validation: every violation listed in
//! `badRequestDetail.fields` with the JSON path of its field, the first one naming the answer's
//! `errorCode` and `detail`.
//!
//! The body is checked as a `serde_json::Value` rather than deserialised into
//! [`atlas_model::OrgUserRequest`] for the same reason as in `validate.rs`: serde would
//! stop at the first problem and word it in Rust terms.

use serde_json::Value;

use atlas_model::{ApiError, GroupRole, OrgRole, is_atlas_id, parse_group_role};

use super::state::NewInvitation;
use super::validate::{Violations, check_username, json_object, missing};

/// Validates an `OrgUserRequest` the way the invite paths validate theirs: every violation in
/// `badRequestDetail.fields`, the first one naming the `errorCode`.
pub(crate) fn validate_user_request(body: &[u8]) -> Result<NewInvitation, Box<ApiError>> {
    let object = json_object(body, "OrgUserRequest")?;
    let mut v = Violations::default();
    for key in object.keys() {
        if !["username", "roles", "teamIds"].contains(&key.as_str()) {
            v.add(
                "INVALID_ATTRIBUTE",
                key,
                format!("Invalid attribute {key} specified."),
            );
        }
    }
    let username = check_username(
        &mut v,
        object.get("username"),
        "username must be a string.".into(),
    );

    let (roles, group_roles) = match object.get("roles") {
        None | Some(Value::Null) => {
            v.add("MISSING_ATTRIBUTE", "roles", missing("roles"));
            (Vec::new(), None)
        }
        Some(value) => user_roles(&mut v, value),
    };
    let team_ids = match object.get("teamIds") {
        None | Some(Value::Null) => Vec::new(),
        Some(value) => user_team_ids(&mut v, value),
    };

    v.into_result(NewInvitation {
        username,
        roles,
        team_ids,
        group_roles: group_roles.unwrap_or_default(),
    })
}

/// The `roles` attribute of the users resource (`OrgUserRolesRequest`, present and not null):
/// its organization roles (at least one), and its project roles flattened into one
/// `GroupRole` per role, or `None` when `groupRoleAssignments` is absent.
pub(super) fn user_roles(
    v: &mut Violations,
    value: &Value,
) -> (Vec<OrgRole>, Option<Vec<GroupRole>>) {
    let mut roles: Vec<OrgRole> = Vec::new();
    let mut group_roles: Option<Vec<GroupRole>> = None;
    match value {
        Value::Object(r) => {
            for key in r.keys() {
                if key != "orgRoles" && key != "groupRoleAssignments" {
                    let field = format!("roles.{key}");
                    v.add(
                        "INVALID_ATTRIBUTE",
                        &field,
                        format!("Invalid attribute {field} specified."),
                    );
                }
            }
            match r.get("orgRoles") {
                Some(Value::Array(items)) if !items.is_empty() => {
                    for (i, item) in items.iter().enumerate() {
                        let role = item
                            .as_str()
                            .and_then(|n| OrgRole::ALL.into_iter().find(|r| r.as_str() == n));
                        match role {
                            Some(role) if !roles.contains(&role) => roles.push(role),
                            Some(_) => {}
                            None => v.add(
                                "INVALID_ENUM_VALUE",
                                format!("roles.orgRoles[{i}]"),
                                format!("{item} is not a valid organization role."),
                            ),
                        }
                    }
                }
                None | Some(Value::Null) => v.add(
                    "MISSING_ATTRIBUTE",
                    "roles.orgRoles",
                    missing("roles.orgRoles"),
                ),
                Some(_) => v.add(
                    "MISSING_ATTRIBUTE",
                    "roles.orgRoles",
                    "At least one organization role is required in roles.orgRoles.".into(),
                ),
            }
            match r.get("groupRoleAssignments") {
                None | Some(Value::Null) => {}
                Some(Value::Array(items)) => {
                    let out = group_roles.insert(Vec::new());
                    for (i, item) in items.iter().enumerate() {
                        let field = format!("roles.groupRoleAssignments[{i}]");
                        let group = item.get("groupId").and_then(Value::as_str).unwrap_or("");
                        if !is_atlas_id(group) {
                            v.add(
                                "INVALID_GROUP_ID",
                                format!("{field}.groupId"),
                                format!("{group:?} is not a 24-hexadecimal project id."),
                            );
                            continue;
                        }
                        let names = item.get("groupRoles").and_then(Value::as_array);
                        match names {
                            Some(names) if !names.is_empty() => {
                                for (j, name) in names.iter().enumerate() {
                                    match name.as_str().and_then(parse_group_role) {
                                        Some(role) if name.as_str() == Some(role.as_str()) => out
                                            .push(GroupRole {
                                                group_id: Some(group.to_owned()),
                                                group_role: Some(role),
                                            }),
                                        _ => v.add(
                                            "INVALID_ROLE",
                                            format!("{field}.groupRoles[{j}]"),
                                            format!("{name} is not a valid project role."),
                                        ),
                                    }
                                }
                            }
                            _ => v.add(
                                "MISSING_ATTRIBUTE",
                                format!("{field}.groupRoles"),
                                missing(&format!("{field}.groupRoles")),
                            ),
                        }
                    }
                }
                Some(_) => v.add(
                    "INVALID_ATTRIBUTE",
                    "roles.groupRoleAssignments",
                    "roles.groupRoleAssignments must be an array.".into(),
                ),
            }
        }
        _ => v.add(
            "INVALID_ATTRIBUTE",
            "roles",
            "roles must be an object.".into(),
        ),
    }
    (roles, group_roles)
}

/// The `teamIds` attribute of the users resource (present and not null): 24-hex ids,
/// duplicates dropped.
pub(super) fn user_team_ids(v: &mut Violations, value: &Value) -> Vec<String> {
    let mut team_ids: Vec<String> = Vec::new();
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                match item.as_str() {
                    Some(id) if is_atlas_id(id) => {
                        if !team_ids.iter().any(|t| t == id) {
                            team_ids.push(id.to_owned());
                        }
                    }
                    _ => v.add(
                        "INVALID_TEAM_ID",
                        format!("teamIds[{i}]"),
                        format!("{item} is not a 24-hexadecimal team id."),
                    ),
                }
            }
        }
        _ => v.add(
            "INVALID_ATTRIBUTE",
            "teamIds",
            "teamIds must be an array.".into(),
        ),
    }
    team_ids
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn code_of(body: Value) -> String {
        validate_user_request(body.to_string().as_bytes())
            .unwrap_err()
            .error_code
    }

    #[test]
    fn a_valid_request_becomes_an_invitation() {
        let new = validate_user_request(
            json!({
                "username": "ann@example.com",
                "roles": {
                    "orgRoles": ["ORG_MEMBER", "ORG_MEMBER", "ORG_OWNER"],
                    "groupRoleAssignments": [
                        {"groupId": "65b2e1d3f5a7c9b1d3e5f201", "groupRoles": ["GROUP_READ_ONLY"]}
                    ]
                },
                "teamIds": ["65a1f0c2e4b7d9a3c5e8f101"]
            })
            .to_string()
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(new.roles, vec![OrgRole::OrgMember, OrgRole::OrgOwner]);
        assert_eq!(new.group_roles.len(), 1);
        assert_eq!(new.team_ids.len(), 1);
    }

    #[test]
    fn violations_are_reported_with_atlas_codes() {
        assert_eq!(code_of(json!([1])), "INVALID_JSON");
        assert_eq!(
            code_of(json!({"roles": {"orgRoles": ["ORG_MEMBER"]}})),
            "MISSING_ATTRIBUTE"
        );
        assert_eq!(
            code_of(json!({"username": "nobody", "roles": {"orgRoles": ["ORG_MEMBER"]}})),
            "INVALID_EMAIL_ADDRESS"
        );
        assert_eq!(
            code_of(json!({"username": "a@example.com", "roles": ["ORG_MEMBER"]})),
            "INVALID_ATTRIBUTE",
            "the invites shape is not the users shape"
        );
        assert_eq!(
            code_of(json!({"username": "a@example.com", "roles": {"orgRoles": ["ORG_ADMIN"]}})),
            "INVALID_ENUM_VALUE"
        );
        assert_eq!(
            code_of(json!({"username": "a@example.com", "roles": {"orgRoles": []}})),
            "MISSING_ATTRIBUTE"
        );
        let error = validate_user_request(
            json!({"username": "x", "roles": {"orgRoles": ["NOPE"]}, "teamIds": ["t"], "extra": 1})
                .to_string()
                .as_bytes(),
        )
        .unwrap_err();
        assert_eq!(error.bad_request_detail.unwrap().fields.len(), 4);
    }
}
