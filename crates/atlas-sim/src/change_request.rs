//! Validation of the bodies that change people after the invitation, with the error codes of
//! the creation requests' validation (`validate.rs`, `user_request.rs`), whose attribute
//! checks they share:
//!
//! - `OrganizationInvitationUpdateRequest` (`PATCH .../invites/{invitationId}`, v2 and v1.0):
//!   `roles`, `teamIds` and `groupRoleAssignments`, each optional, each replacing what the
//!   invitation holds; no `username` (the path names the invitation);
//! - `OrgUserUpdateRequest` (`PATCH .../users/{userId}`): `roles` (`orgRoles` required, at
//!   least one; `groupRoleAssignments` optional) and `teamIds`, each optional;
//! - `AddOrRemoveOrgRole` (`POST .../users/{userId}:addRole` and `:removeRole`): `orgRole`.
//!
//! An attribute left out changes nothing; one sent empty clears what it names (the spec:
//! "Supplying a field with an empty value will reset that field on the user"), except the
//! organization roles, of which a person always keeps one.

use serde_json::Value;

use atlas_model::{ApiError, OrgRole};

use super::people::Change;
use super::user_request::{user_roles, user_team_ids};
use super::validate::{Violations, group_assignments, json_object, missing, org_roles, team_ids};

/// Validates an `OrganizationInvitationUpdateRequest`.
pub(crate) fn validate_invitation_update(body: &[u8]) -> Result<Change, Box<ApiError>> {
    let object = json_object(body, "OrganizationInvitationUpdateRequest")?;
    let mut v = Violations::default();
    unknown_attributes(
        &mut v,
        object.keys(),
        &["roles", "teamIds", "groupRoleAssignments"],
    );
    let change = Change {
        roles: present(object.get("roles")).map(|value| org_roles(&mut v, value)),
        team_ids: present(object.get("teamIds")).map(|value| team_ids(&mut v, value)),
        group_roles: present(object.get("groupRoleAssignments"))
            .map(|value| group_assignments(&mut v, value)),
    };
    v.into_result(change)
}

/// Validates an `OrgUserUpdateRequest`.
pub(crate) fn validate_user_update(body: &[u8]) -> Result<Change, Box<ApiError>> {
    let object = json_object(body, "OrgUserUpdateRequest")?;
    let mut v = Violations::default();
    unknown_attributes(&mut v, object.keys(), &["roles", "teamIds"]);
    let (roles, group_roles) = match present(object.get("roles")) {
        Some(value) => {
            let (roles, groups) = user_roles(&mut v, value);
            (Some(roles), groups)
        }
        None => (None, None),
    };
    let change = Change {
        roles,
        team_ids: present(object.get("teamIds")).map(|value| user_team_ids(&mut v, value)),
        group_roles,
    };
    v.into_result(change)
}

/// Validates an `AddOrRemoveOrgRole`.
pub(crate) fn validate_role_change(body: &[u8]) -> Result<OrgRole, Box<ApiError>> {
    let object = json_object(body, "AddOrRemoveOrgRole")?;
    let mut v = Violations::default();
    unknown_attributes(&mut v, object.keys(), &["orgRole"]);
    let role = match object.get("orgRole") {
        None | Some(Value::Null) => {
            v.add("MISSING_ATTRIBUTE", "orgRole", missing("orgRole"));
            None
        }
        Some(value) => {
            let role = value
                .as_str()
                .and_then(|name| OrgRole::ALL.into_iter().find(|r| r.as_str() == name));
            if role.is_none() {
                v.add(
                    "INVALID_ENUM_VALUE",
                    "orgRole",
                    format!(
                        "An invalid enumeration value {value} was specified for orgRole; valid \
                         values are {}.",
                        OrgRole::ALL.map(OrgRole::as_str).join(", ")
                    ),
                );
            }
            role
        }
    };
    // A violation was recorded whenever `role` is `None`.
    v.into_result(role.unwrap_or(OrgRole::OrgMember))
}

/// An attribute that was sent with a value: `null` counts as left out.
fn present(value: Option<&Value>) -> Option<&Value> {
    value.filter(|value| !value.is_null())
}

fn unknown_attributes<'a>(
    v: &mut Violations,
    keys: impl Iterator<Item = &'a String>,
    known: &[&str],
) {
    for key in keys {
        if !known.contains(&key.as_str()) {
            v.add(
                "INVALID_ATTRIBUTE",
                key.clone(),
                format!("Invalid attribute {key} specified."),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bytes(value: Value) -> Vec<u8> {
        value.to_string().into_bytes()
    }

    const TEAM: &str = "65a1f0c2e4b7d9a3c5e8f101";
    const PROJECT: &str = "65b2e1d3f5a7c9b1d3e5f201";

    #[test]
    fn an_invitation_update_changes_only_what_it_names() {
        let change = validate_invitation_update(&bytes(json!({"teamIds": []}))).unwrap();
        assert_eq!(
            change,
            Change {
                team_ids: Some(vec![]),
                ..Change::default()
            }
        );
        let change = validate_invitation_update(&bytes(json!({
            "roles": ["ORG_OWNER", "ORG_OWNER"],
            "groupRoleAssignments": [{"groupId": PROJECT, "roles": ["GROUP_READ_ONLY"]}],
            "teamIds": null
        })))
        .unwrap();
        assert_eq!(change.roles, Some(vec![OrgRole::OrgOwner]));
        assert_eq!(change.group_roles.unwrap().len(), 1);
        assert_eq!(change.team_ids, None);
        for (body, code) in [
            (json!({"roles": []}), "MISSING_ATTRIBUTE"),
            (json!({"roles": ["ORG_ADMIN"]}), "INVALID_ENUM_VALUE"),
            (json!({"teamIds": ["x"]}), "INVALID_TEAM_ID"),
            (json!({"username": "a@example.com"}), "INVALID_ATTRIBUTE"),
            (json!([]), "INVALID_JSON"),
        ] {
            let error = validate_invitation_update(&bytes(body.clone())).unwrap_err();
            assert_eq!(error.error_code, code, "{body}");
        }
    }

    #[test]
    fn a_user_update_keeps_project_roles_it_does_not_name() {
        let change = validate_user_update(&bytes(json!({
            "roles": {"orgRoles": ["ORG_MEMBER"]},
            "teamIds": [TEAM]
        })))
        .unwrap();
        assert_eq!(change.roles, Some(vec![OrgRole::OrgMember]));
        assert_eq!(change.group_roles, None, "left as they are");
        assert_eq!(change.team_ids, Some(vec![TEAM.to_owned()]));
        let cleared = validate_user_update(&bytes(json!({
            "roles": {"orgRoles": ["ORG_MEMBER"], "groupRoleAssignments": []}
        })))
        .unwrap();
        assert_eq!(cleared.group_roles, Some(vec![]));
        assert_eq!(validate_user_update(b"{}").unwrap(), Change::default());
        for (body, code) in [
            (json!({"roles": {"orgRoles": []}}), "MISSING_ATTRIBUTE"),
            (json!({"roles": ["ORG_MEMBER"]}), "INVALID_ATTRIBUTE"),
            (json!({"teamIds": "x"}), "INVALID_ATTRIBUTE"),
            (json!({"username": "a@example.com"}), "INVALID_ATTRIBUTE"),
        ] {
            let error = validate_user_update(&bytes(body.clone())).unwrap_err();
            assert_eq!(error.error_code, code, "{body}");
        }
    }

    #[test]
    fn a_role_change_names_one_known_role() {
        assert_eq!(
            validate_role_change(&bytes(json!({"orgRole": "ORG_READ_ONLY"}))),
            Ok(OrgRole::OrgReadOnly)
        );
        for (body, code) in [
            (json!({}), "MISSING_ATTRIBUTE"),
            (json!({"orgRole": "GROUP_OWNER"}), "INVALID_ENUM_VALUE"),
            (json!({"orgRole": ["ORG_OWNER"]}), "INVALID_ENUM_VALUE"),
            (json!({"orgRole": "ORG_OWNER", "x": 1}), "INVALID_ATTRIBUTE"),
        ] {
            let error = validate_role_change(&bytes(body.clone())).unwrap_err();
            assert_eq!(error.error_code, code, "{body}");
        }
    }
}
