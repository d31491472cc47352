//! Validation of `OrganizationInvitationRequest` bodies, with Atlas' error codes: which
//! attribute is missing, mistyped, unknown or out of range, each listed in
//! `badRequestDetail.fields` and the first one naming the answer's `errorCode` and `detail`.
//!
//! Validation works on a `serde_json::Value` rather than deserialising `InvitationRequest`
//! directly, because serde would stop at the first problem and word it in Rust terms, while a
//! client deserves every violation, each with the JSON path of the offending field.

use std::collections::HashSet;

use serde_json::{Map, Value};

use atlas_model::{
    ApiError, BadRequestDetail, FieldViolation, GroupRole, OrgRole, is_atlas_id, parse_group_role,
};

use super::state::NewInvitation;

/// Collects field violations; the first one decides the answer's `errorCode` and `detail`.
/// `user_request.rs` reports with it too, so that both resources word their 400s alike.
#[derive(Default)]
pub(super) struct Violations {
    first: Option<(&'static str, String)>,
    fields: Vec<FieldViolation>,
}

impl Violations {
    pub(super) fn add(
        &mut self,
        code: &'static str,
        field: impl Into<String>,
        description: String,
    ) {
        if self.first.is_none() {
            self.first = Some((code, description.clone()));
        }
        self.fields.push(FieldViolation {
            field: field.into(),
            description,
        });
    }

    /// `value` when nothing was wrong, else the 400 listing every violation.
    pub(super) fn into_result<T>(self, value: T) -> Result<T, Box<ApiError>> {
        match self.first {
            None => Ok(value),
            Some((code, detail)) => {
                let mut error = ApiError::new(400, code, detail);
                error.bad_request_detail = Some(BadRequestDetail {
                    fields: self.fields,
                });
                Err(Box::new(error))
            }
        }
    }
}

const REQUEST_FIELDS: [&str; 4] = ["username", "roles", "teamIds", "groupRoleAssignments"];

/// Validates an `OrganizationInvitationRequest` body the way Atlas does, reporting every field
/// violation in `badRequestDetail.fields`.
pub(crate) fn validate(body: &[u8]) -> Result<NewInvitation, Box<ApiError>> {
    let object = json_object(body, "OrganizationInvitationRequest")?;
    let mut v = Violations::default();
    for key in object.keys() {
        if !REQUEST_FIELDS.contains(&key.as_str()) {
            v.add(
                "INVALID_ATTRIBUTE",
                key.clone(),
                format!("Invalid attribute {key} specified."),
            );
        }
    }

    let username = check_username(
        &mut v,
        object.get("username"),
        wrong_type("username", "a string"),
    );

    let roles = match object.get("roles") {
        None | Some(Value::Null) => {
            v.add("MISSING_ATTRIBUTE", "roles", missing("roles"));
            Vec::new()
        }
        Some(value) => org_roles(&mut v, value),
    };
    let team_ids = match object.get("teamIds") {
        None | Some(Value::Null) => Vec::new(),
        Some(value) => team_ids(&mut v, value),
    };
    let group_roles = match object.get("groupRoleAssignments") {
        None | Some(Value::Null) => Vec::new(),
        Some(value) => group_assignments(&mut v, value),
    };

    v.into_result(NewInvitation {
        username,
        roles,
        team_ids,
        group_roles,
    })
}

/// The `roles` attribute of an invitation request (present, not null): one or more
/// organization roles, duplicates dropped.
pub(super) fn org_roles(v: &mut Violations, value: &Value) -> Vec<OrgRole> {
    let mut roles = Vec::new();
    match value {
        Value::Array(items) if items.is_empty() => v.add(
            "MISSING_ATTRIBUTE",
            "roles",
            "At least one organization role is required in roles.".to_owned(),
        ),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                match item
                    .as_str()
                    .and_then(|name| OrgRole::ALL.into_iter().find(|r| r.as_str() == name))
                {
                    Some(role) if !roles.contains(&role) => roles.push(role),
                    Some(_) => {}
                    None => v.add(
                        "INVALID_ENUM_VALUE",
                        format!("roles[{i}]"),
                        format!(
                            "An invalid enumeration value {item} was specified for roles[{i}]; \
                             valid values are {}.",
                            OrgRole::ALL.map(OrgRole::as_str).join(", ")
                        ),
                    ),
                }
            }
        }
        _ => v.add(
            "INVALID_ATTRIBUTE",
            "roles",
            wrong_type("roles", "an array"),
        ),
    }
    roles
}

/// The `teamIds` attribute of an invitation request (present, not null): 24-hex ids,
/// duplicates dropped.
pub(super) fn team_ids(v: &mut Violations, value: &Value) -> Vec<String> {
    let mut team_ids = Vec::new();
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                match item.as_str().filter(|id| is_atlas_id(id)) {
                    Some(id) if !team_ids.iter().any(|t| t == id) => team_ids.push(id.to_owned()),
                    Some(_) => {}
                    None => v.add(
                        "INVALID_TEAM_ID",
                        format!("teamIds[{i}]"),
                        format!("An invalid team ID {item} was specified."),
                    ),
                }
            }
        }
        _ => v.add(
            "INVALID_ATTRIBUTE",
            "teamIds",
            wrong_type("teamIds", "an array"),
        ),
    }
    team_ids
}

/// The `groupRoleAssignments` attribute of an invitation request (present, not null),
/// flattened into one `GroupRole` per project role.
pub(super) fn group_assignments(v: &mut Violations, value: &Value) -> Vec<GroupRole> {
    let mut group_roles = Vec::new();
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                group_assignment(v, &mut group_roles, i, item);
            }
        }
        _ => v.add(
            "INVALID_ATTRIBUTE",
            "groupRoleAssignments",
            wrong_type("groupRoleAssignments", "an array"),
        ),
    }
    group_roles
}

/// The body as a JSON object, or the 400 `INVALID_JSON` Atlas answers when it is not JSON or
/// not an object; `expected` names the request type the detail asks for.
pub(super) fn json_object(
    body: &[u8],
    expected: &str,
) -> Result<Map<String, Value>, Box<ApiError>> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        Box::new(ApiError::new(
            400,
            "INVALID_JSON",
            format!("Received JSON is malformed: {e}."),
        ))
    })?;
    let Value::Object(object) = value else {
        return Err(Box::new(ApiError::new(
            400,
            "INVALID_JSON",
            format!("Received JSON is not an object: an {expected} was expected."),
        )));
    };
    Ok(object)
}

/// The `username` attribute: a plausible address, or a violation and an empty name. Both
/// request bodies check it alike; only the words for a non-string, `not_a_string`, differ.
pub(super) fn check_username(
    v: &mut Violations,
    value: Option<&Value>,
    not_a_string: String,
) -> String {
    match value {
        None | Some(Value::Null) => {
            v.add("MISSING_ATTRIBUTE", "username", missing("username"));
            String::new()
        }
        Some(Value::String(name)) if plausible_email(name) => name.clone(),
        Some(Value::String(name)) => {
            v.add(
                "INVALID_EMAIL_ADDRESS",
                "username",
                format!("The username {name:?} is not a valid email address."),
            );
            String::new()
        }
        Some(_) => {
            v.add("INVALID_ATTRIBUTE", "username", not_a_string);
            String::new()
        }
    }
}

/// Validates `groupRoleAssignments[i]` and flattens it into one `GroupRole` per project role,
/// which is how `OrganizationInvitation` echoes assignments back.
fn group_assignment(v: &mut Violations, out: &mut Vec<GroupRole>, i: usize, item: &Value) {
    let at = format!("groupRoleAssignments[{i}]");
    let Value::Object(assignment) = item else {
        v.add(
            "INVALID_ATTRIBUTE",
            at.clone(),
            wrong_type(&at, "an object"),
        );
        return;
    };
    for key in assignment.keys() {
        if key != "groupId" && key != "roles" {
            v.add(
                "INVALID_ATTRIBUTE",
                format!("{at}.{key}"),
                format!("Invalid attribute {key} specified in {at}."),
            );
        }
    }
    let group_id = match assignment.get("groupId") {
        None | Some(Value::Null) => {
            v.add(
                "MISSING_ATTRIBUTE",
                format!("{at}.groupId"),
                missing(&format!("{at}.groupId")),
            );
            None
        }
        Some(Value::String(id)) if is_atlas_id(id) => Some(id.clone()),
        Some(other) => {
            v.add(
                "INVALID_GROUP_ID",
                format!("{at}.groupId"),
                format!("An invalid group ID {other} was specified."),
            );
            None
        }
    };
    let roles = match assignment.get("roles") {
        Some(Value::Array(items)) if !items.is_empty() => items,
        Some(Value::Array(_)) | None | Some(Value::Null) => {
            v.add(
                "MISSING_ATTRIBUTE",
                format!("{at}.roles"),
                format!("At least one project role is required in {at}.roles."),
            );
            return;
        }
        Some(_) => {
            let field = format!("{at}.roles");
            v.add(
                "INVALID_ATTRIBUTE",
                field.clone(),
                wrong_type(&field, "an array"),
            );
            return;
        }
    };
    let mut seen = HashSet::new();
    for (j, role) in roles.iter().enumerate() {
        let canonical = role
            .as_str()
            .filter(|name| parse_group_role(name).as_deref() == Some(*name));
        match (canonical, &group_id) {
            (Some(name), Some(group_id)) => {
                if seen.insert(name) {
                    out.push(GroupRole {
                        group_id: Some(group_id.clone()),
                        group_role: Some(name.to_owned()),
                    });
                }
            }
            (Some(_), None) => {}
            (None, _) => v.add(
                "INVALID_ROLE",
                format!("{at}.roles[{j}]"),
                format!(
                    "Invalid project role {role} in {at}.roles[{j}]: project roles are GROUP_* \
                     names such as GROUP_READ_ONLY."
                ),
            ),
        }
    }
}

/// The description of a required attribute that is absent (or `null`).
pub(super) fn missing(field: &str) -> String {
    format!("The required attribute {field} was not specified.")
}

fn wrong_type(field: &str, expected: &str) -> String {
    format!("Invalid attribute {field} specified: expected {expected}.")
}

/// A deliberately plain address check, stricter than RFC 5322 where real addresses never go:
/// one `@`, a non-empty local part without blanks or `..`, and a dotted domain of
/// letter/digit/hyphen labels whose last label is at least two letters.
pub(crate) fn plausible_email(text: &str) -> bool {
    if text.len() > 254 || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && !local.contains(['@', '"', '(', ')', ',', ':', ';', '<', '>', '[', ']', '\\']);
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.chars().count() >= 2 && tld.chars().all(char::is_alphabetic));
    local_ok && domain_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body_of(json: &Value) -> Vec<u8> {
        serde_json::to_vec(json).unwrap()
    }

    const PROJECT: &str = "32b6e34b3d91647abb20e7b8";

    fn code_of(body: Value) -> String {
        validate(&body_of(&body)).unwrap_err().error_code
    }

    #[test]
    fn a_full_request_is_accepted_and_flattened() {
        let new = validate(&body_of(&json!({
            "username": "Ada@Example.com",
            "roles": ["ORG_MEMBER", "ORG_MEMBER", "ORG_READ_ONLY"],
            "teamIds": [PROJECT],
            "groupRoleAssignments": [
                {"groupId": PROJECT, "roles": ["GROUP_READ_ONLY", "GROUP_OWNER"]}
            ]
        })))
        .unwrap();
        assert_eq!(new.username, "Ada@Example.com");
        assert_eq!(new.roles, vec![OrgRole::OrgMember, OrgRole::OrgReadOnly]);
        assert_eq!(new.team_ids, vec![PROJECT.to_owned()]);
        assert_eq!(new.group_roles.len(), 2);
        assert_eq!(
            new.group_roles[1].group_role.as_deref(),
            Some("GROUP_OWNER")
        );
    }

    #[test]
    fn each_kind_of_mistake_has_its_code() {
        assert_eq!(
            validate(b"{not json").unwrap_err().error_code,
            "INVALID_JSON"
        );
        assert_eq!(code_of(json!(["a"])), "INVALID_JSON");
        assert_eq!(
            code_of(json!({"roles": ["ORG_MEMBER"]})),
            "MISSING_ATTRIBUTE"
        );
        assert_eq!(
            code_of(json!({"username": "nobody", "roles": ["ORG_MEMBER"]})),
            "INVALID_EMAIL_ADDRESS"
        );
        assert_eq!(
            code_of(json!({"username": "a@example.com", "roles": []})),
            "MISSING_ATTRIBUTE"
        );
        assert_eq!(
            code_of(json!({"username": "a@example.com", "roles": ["ORG_ADMIN"]})),
            "INVALID_ENUM_VALUE"
        );
        assert_eq!(
            code_of(
                json!({"username": "a@example.com", "roles": ["ORG_MEMBER"], "teamIds": ["x"]})
            ),
            "INVALID_TEAM_ID"
        );
        assert_eq!(
            code_of(json!({"username": "a@example.com", "roles": ["ORG_MEMBER"],
                "groupRoleAssignments": [{"groupId": "nope", "roles": ["GROUP_OWNER"]}]})),
            "INVALID_GROUP_ID"
        );
        assert_eq!(
            code_of(json!({"username": "a@example.com", "roles": ["ORG_MEMBER"],
                "groupRoleAssignments": [{"groupId": PROJECT, "roles": ["ORG_OWNER"]}]})),
            "INVALID_ROLE"
        );
        assert_eq!(
            code_of(json!({"username": "a@example.com", "roles": ["ORG_MEMBER"], "extra": 1})),
            "INVALID_ATTRIBUTE"
        );
    }

    #[test]
    fn every_violation_is_listed() {
        let error = validate(&body_of(
            &json!({"username": "bad", "roles": ["X", "ORG_MEMBER", "Y"]}),
        ))
        .unwrap_err();
        let fields: Vec<_> = error
            .bad_request_detail
            .unwrap()
            .fields
            .into_iter()
            .map(|f| f.field)
            .collect();
        assert_eq!(fields, vec!["username", "roles[0]", "roles[2]"]);
        assert_eq!(error.error, 400);
        assert_eq!(error.reason.as_deref(), Some("Bad Request"));
    }

    #[test]
    fn plausible_emails() {
        for good in [
            "a@example.com",
            "first.last+tag@sub.example.co.uk",
            "Ünï@exämple.de",
        ] {
            assert!(plausible_email(good), "{good}");
        }
        for bad in [
            "",
            "a",
            "a@b",
            "@example.com",
            "a@@example.com",
            "a b@example.com",
            "a@example..com",
            "a@-example.com",
            ".a@example.com",
            "a@example.c0m",
        ] {
            assert!(!plausible_email(bad), "{bad}");
        }
    }
}
