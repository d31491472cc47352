//! The contract of what follows the invitation: the bodies of the update, role and removal
//! requests against the spec's schemas, and every request the lifecycle methods of the client
//! put on the wire — path, method, media types and body — against the operation of the spec it
//! names, as the simulator received them.

use std::collections::BTreeSet;
use std::time::Duration;

use atlas_invite::atlas::auth::{Credentials, Secret};
use atlas_invite::atlas::client::{Api, AtlasClient, ClientConfig};
use atlas_invite::atlas::lifecycle::{
    InvitationUpdateRequest, OrgRoleChange, OrgUserRolesUpdate, OrgUserUpdateRequest, RoleAdded,
    RoleStep, role_steps,
};
use atlas_invite::atlas::model::{GroupRoleAssignment, InvitationRequest, OrgRole, UserGroupRoles};
use atlas_invite::atlas::users::OrgUserDetail;
use atlas_sim::{RecordedRequest, SimConfig};
use serde_json::{Value, json};

use super::{assert_valid, spec, validator};
use crate::util::*;

const TEAM: &str = "5f1e2d3c4b5a697887766001";
const PROJECT: &str = "5f1e2d3c4b5a697887766101";

/// The invitation updates the client can send: each attribute alone, all of them, and the
/// empty lists that clear teams and project roles.
fn invitation_updates() -> Vec<InvitationUpdateRequest> {
    let groups = vec![GroupRoleAssignment {
        group_id: PROJECT.into(),
        roles: vec!["GROUP_OWNER".into(), "GROUP_READ_ONLY".into()],
    }];
    vec![
        InvitationUpdateRequest {
            roles: Some(OrgRole::ALL.to_vec()),
            ..InvitationUpdateRequest::default()
        },
        InvitationUpdateRequest {
            team_ids: Some(vec![TEAM.into()]),
            ..InvitationUpdateRequest::default()
        },
        InvitationUpdateRequest {
            team_ids: Some(vec![]),
            group_role_assignments: Some(vec![]),
            ..InvitationUpdateRequest::default()
        },
        InvitationUpdateRequest {
            roles: Some(vec![OrgRole::OrgMember]),
            team_ids: Some(vec![TEAM.into()]),
            group_role_assignments: Some(groups),
        },
    ]
}

/// The user updates the client can send.
fn user_updates() -> Vec<OrgUserUpdateRequest> {
    vec![
        OrgUserUpdateRequest {
            roles: Some(OrgUserRolesUpdate {
                org_roles: vec![OrgRole::OrgReadOnly],
                group_role_assignments: None,
            }),
            team_ids: None,
        },
        OrgUserUpdateRequest {
            roles: Some(OrgUserRolesUpdate {
                org_roles: OrgRole::ALL.to_vec(),
                group_role_assignments: Some(vec![UserGroupRoles {
                    group_id: PROJECT.into(),
                    group_roles: vec!["GROUP_READ_ONLY".into()],
                }]),
            }),
            team_ids: Some(vec![TEAM.into()]),
        },
        OrgUserUpdateRequest {
            roles: None,
            team_ids: Some(vec![]),
        },
    ]
}

#[test]
fn update_and_role_bodies_validate_against_the_spec() {
    let spec = spec();
    let invitation = validator(&spec, "OrganizationInvitationUpdateRequest");
    for update in invitation_updates() {
        assert_valid(&invitation, &serde_json::to_value(&update).unwrap());
    }
    assert!(
        !invitation.is_valid(&json!({"roles": ["ORG_ADMIN"]})),
        "the validator is not vacuous"
    );
    let user = validator(&spec, "OrgUserUpdateRequest");
    for update in user_updates() {
        assert_valid(&user, &serde_json::to_value(&update).unwrap());
    }
    assert!(
        !user.is_valid(&json!({"roles": {"orgRoles": []}})),
        "minItems 1"
    );
    let role = validator(&spec, "AddOrRemoveOrgRole");
    for org_role in OrgRole::ALL {
        assert_valid(
            &role,
            &serde_json::to_value(OrgRoleChange { org_role }).unwrap(),
        );
    }
    assert!(!role.is_valid(&json!({})), "orgRole is required");
}

/// The spec operation a recorded request names: the path template it matches, and its method.
fn operation<'s>(spec: &'s Value, request: &RecordedRequest) -> (&'s str, &'s Value) {
    let method = request.method.to_ascii_lowercase();
    let paths = spec["paths"].as_object().unwrap();
    let (template, item) = paths
        .iter()
        .find(|(template, item)| {
            matches_template(template, &request.path) && item.get(&method).is_some()
        })
        .unwrap_or_else(|| {
            panic!(
                "{} {} is no operation of the spec",
                request.method, request.path
            )
        });
    (template.as_str(), &item[&method])
}

/// Whether `path` is an instance of `template`: literal segments equal, `{name}` standing for
/// one segment without a colon, and `{name}:verb` for one ending in `:verb`.
fn matches_template(template: &str, path: &str) -> bool {
    let (template, path): (Vec<&str>, Vec<&str>) =
        (template.split('/').collect(), path.split('/').collect());
    template.len() == path.len()
        && template.iter().zip(&path).all(|(t, p)| {
            match t.strip_prefix('{').and_then(|rest| rest.split_once('}')) {
                None => t == p,
                Some((_, "")) => !p.is_empty() && !p.contains(':'),
                Some((_, suffix)) => p.len() > suffix.len() && p.ends_with(suffix),
            }
        })
}

/// A validator for an inline schema of the spec (usually a `$ref` to a component).
fn schema_validator(spec: &Value, schema: &Value) -> jsonschema::Validator {
    let mut schema = schema.clone();
    schema["components"] = spec["components"].clone();
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .build(&schema)
        .unwrap_or_else(|e| panic!("the schema compiles: {e}"))
}

/// The media type of a header value, without parameters.
fn media(value: Option<&str>) -> Option<String> {
    value.map(|v| {
        v.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    })
}

/// Checks one request against its operation: the body's media type and schema, and that the
/// `Accept` it sends is one its success answer is declared in. Answers the operation id.
fn check_against_the_spec(spec: &Value, request: &RecordedRequest) -> String {
    let (template, op) = operation(spec, request);
    let id = op["operationId"].as_str().unwrap().to_owned();
    let what = format!("{} {} ({id})", request.method, request.path);
    let declared = &op["requestBody"]["content"];
    if request.body.is_empty() {
        assert!(
            declared.is_null() || op["requestBody"]["required"] != true,
            "{what}: a body is required"
        );
    } else {
        let content_type = media(request.content_type.as_deref()).unwrap_or_default();
        let schema = &declared[&content_type]["schema"];
        assert!(
            schema.is_object(),
            "{what}: sent as {content_type}, declared {declared}"
        );
        let body: Value = serde_json::from_slice(&request.body).expect("a JSON body");
        let validator = schema_validator(spec, schema);
        let errors: Vec<String> = validator
            .iter_errors(&body)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{what}: {body}\n{}", errors.join("\n"));
    }
    // Where the spec names a media type for the success answer, the client asks for it.
    let accept = media(request.accept.as_deref()).unwrap_or_default();
    let successes: Vec<&Value> = op["responses"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(code, _)| code.starts_with('2'))
        .map(|(_, response)| &response["content"])
        .filter(|content| content.is_object())
        .collect();
    for content in successes {
        assert!(
            content.get(&accept).is_some(),
            "{what}: asks for {accept}, declared {content}"
        );
    }
    // Ids in the path are the 24-hex ids the spec's patterns ask for.
    for (t, p) in template.split('/').zip(request.path.split('/')) {
        if t.starts_with('{') && t != "{orgId}" {
            let id = p.split(':').next().unwrap();
            assert!(
                atlas_invite::atlas::model::is_atlas_id(id),
                "{what}: id {id}"
            );
        }
    }
    id
}

/// A client of `sim` through `api`, and a runtime to drive it.
fn client(sim: &Sim, api: Api) -> AtlasClient {
    AtlasClient::new(&ClientConfig {
        base_url: sim.url(),
        org_id: ORG.into(),
        api,
        credentials: Credentials::AccessToken(Secret::new(TOKEN)),
        timeout: Duration::from_secs(5),
        concurrency: 1,
        envelope: false,
    })
    .unwrap()
}

fn invitation(email: &str) -> InvitationRequest {
    InvitationRequest {
        username: email.into(),
        roles: vec![OrgRole::OrgMember],
        team_ids: vec![],
        group_role_assignments: vec![],
    }
}

/// A user answer, checked against its shape in the spec: `OrgUserResponse`'s own properties
/// with those of `OrgPendingUserResponse` or `OrgActiveUserResponse` (validated as one schema,
/// since the spec's `oneOf` refers back to itself through `allOf`).
fn assert_user_shape(spec: &Value, user: &OrgUserDetail) {
    let schemas = &spec["components"]["schemas"];
    let shape = if user.org_membership_status == "ACTIVE" {
        "OrgActiveUserResponse"
    } else {
        "OrgPendingUserResponse"
    };
    let base = &schemas["OrgUserResponse"];
    let own = &schemas[shape]["allOf"][1];
    let schema = json!({
        "allOf": [
            {"type": "object", "properties": base["properties"], "required": base["required"]},
            own,
            {"required": schemas[shape]["required"]},
        ]
    });
    let value = serde_json::to_value(user).unwrap();
    let validator = schema_validator(spec, &schema);
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{value}\n{}", errors.join("\n"));
}

#[test]
fn every_lifecycle_request_on_the_wire_is_an_operation_of_the_spec() {
    let spec = spec();
    let invitation_shape = validator(&spec, "OrganizationInvitation");
    let sim = Sim::start(SimConfig {
        record_requests: true,
        existing_members: vec!["member@example.com".into()],
        existing_owners: vec!["owner@example.com".into()],
        ..SimConfig::default()
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        for api in [Api::Invites, Api::InvitesV1, Api::Users] {
            let client = client(&sim, api);
            let email = format!("{}@example.com", api.as_str());
            let id = client
                .invite(&invitation(&email))
                .await
                .unwrap()
                .value
                .id
                .unwrap();
            for update in invitation_updates() {
                let updated = client.update_invitation(&id, &update).await.unwrap().value;
                if api != Api::Users {
                    assert_valid(&invitation_shape, &serde_json::to_value(&updated).unwrap());
                }
            }
            client.count_pending_invitations().await.unwrap();
            client.delete_invitation(&id).await.unwrap();
            client.delete_invitation(&id).await.unwrap();
        }

        let client = client(&sim, Api::Users);
        let pending = client
            .invite(&invitation("pat@example.com"))
            .await
            .unwrap()
            .value
            .id
            .unwrap();
        let page = client.org_users_page(1, &["ACTIVE"]).await.unwrap().value;
        let member = page
            .results
            .iter()
            .find(|u| u.username == "member@example.com")
            .unwrap()
            .id
            .clone();
        for id in [&pending, &member] {
            let user = client.get_user(id).await.unwrap().value.unwrap();
            assert_user_shape(&spec, &user);
            for update in user_updates() {
                let user = client.update_user(id, &update).await.unwrap().value;
                assert_user_shape(&spec, &user);
            }
            let read_only = OrgUserUpdateRequest {
                roles: Some(OrgUserRolesUpdate {
                    org_roles: vec![OrgRole::OrgReadOnly],
                    group_role_assignments: None,
                }),
                team_ids: None,
            };
            client.update_user(id, &read_only).await.unwrap();
            for step in role_steps(&[OrgRole::OrgReadOnly], &[OrgRole::OrgBillingAdmin]) {
                match step {
                    RoleStep::Add(role) => {
                        let added = client.add_org_role(id, role).await.unwrap().value;
                        let RoleAdded::Added(user) = added else {
                            panic!("{role} was held already");
                        };
                        assert_user_shape(&spec, &user);
                    }
                    RoleStep::Remove(role) => {
                        let user = client.remove_org_role(id, role).await.unwrap().value;
                        assert_user_shape(&spec, &user);
                    }
                }
            }
            client.delete_user(id).await.unwrap();
        }
        client.count_org_users().await.unwrap();
        client.team_user_counts().await.unwrap();
    });

    let recorded = sim.state().recorded();
    assert!(recorded.len() > 40, "{} requests", recorded.len());
    let exercised: BTreeSet<String> = recorded
        .iter()
        .map(|request| check_against_the_spec(&spec, request))
        .collect();
    for id in [
        "updateOrgInviteById",
        "updateOrganizationInvitationById",
        "deleteOrgInvite",
        "deleteOrganizationInvitation",
        "getOrgUser",
        "updateOrgUser",
        "removeOrgUser",
        "addOrgUserRole",
        "removeOrgUserRole",
        "listOrgUsers",
        "listOrgInvites",
        "listOrganizationInvitations",
    ] {
        assert!(
            exercised.contains(id),
            "{id} was not exercised: {exercised:?}"
        );
    }
    // The templates the journal will record name operations of the spec too.
    for api in [Api::Invites, Api::InvitesV1, Api::Users] {
        for endpoint in [
            api.update_invitation_endpoint(),
            api.delete_invitation_endpoint(),
        ] {
            let (method, template) = endpoint.split_once(' ').unwrap();
            let item = &spec["paths"][template];
            assert!(item[method.to_ascii_lowercase()].is_object(), "{endpoint}");
        }
    }
}

#[test]
fn the_simulator_refuses_changes_with_api_errors() {
    let spec = spec();
    let api_error = validator(&spec, "ApiError");
    let sim = Sim::start(SimConfig {
        existing_owners: vec!["owner@example.com".into()],
        ..SimConfig::default()
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let errors = runtime.block_on(async {
        let client = client(&sim, Api::Users);
        let page = client.org_users_page(1, &["ACTIVE"]).await.unwrap().value;
        let owner = page.results[0].id.clone();
        vec![
            client.delete_user(&owner).await.unwrap_err(),
            client
                .remove_org_role(&owner, OrgRole::OrgOwner)
                .await
                .unwrap_err(),
            client
                .update_user(
                    "5f1e2d3c4b5a697887766599",
                    &OrgUserUpdateRequest {
                        roles: None,
                        team_ids: Some(vec![]),
                    },
                )
                .await
                .unwrap_err(),
        ]
    });
    let statuses: Vec<Option<u16>> = errors.iter().map(|e| e.http_status()).collect();
    assert_eq!(statuses, [Some(400), Some(400), Some(404)]);
    for error in errors {
        let atlas_invite::atlas::error::CallError::Status {
            api: Some(body), ..
        } = error
        else {
            panic!("{error}");
        };
        assert_valid(&api_error, &serde_json::to_value(&*body).unwrap());
    }
}

#[test]
fn the_wire_check_refuses_what_the_spec_does_not_declare() {
    let spec = spec();
    let request =
        |method: &str, path: &str, content_type: &str, accept: &str, body: Value| RecordedRequest {
            method: method.into(),
            path: path.into(),
            query: None,
            content_type: Some(content_type.into()),
            accept: Some(accept.into()),
            body: if body.is_null() {
                Vec::new()
            } else {
                body.to_string().into_bytes()
            },
        };
    let user = format!("/api/atlas/v2/orgs/{ORG}/users/5f1e2d3c4b5a697887766599");
    let good = request(
        "POST",
        &format!("{user}:addRole"),
        "application/vnd.atlas.2025-02-19+json",
        "application/vnd.atlas.2025-02-19+json",
        json!({"orgRole": "ORG_OWNER"}),
    );
    assert_eq!(check_against_the_spec(&spec, &good), "addOrgUserRole");
    let bad = [
        // A role the enumeration does not have.
        request(
            "POST",
            &format!("{user}:removeRole"),
            "application/vnd.atlas.2025-02-19+json",
            "application/vnd.atlas.2025-02-19+json",
            json!({"orgRole": "ORG_ADMIN"}),
        ),
        // The body in a media type the operation does not take.
        request(
            "PATCH",
            &user,
            "application/vnd.atlas.2023-01-01+json",
            "application/vnd.atlas.2025-02-19+json",
            json!({"teamIds": []}),
        ),
        // An answer asked for in a version the operation does not have.
        request(
            "GET",
            &user,
            "application/json",
            "application/vnd.atlas.2023-01-01+json",
            Value::Null,
        ),
        // No such operation.
        request(
            "PUT",
            &user,
            "application/json",
            "application/json",
            Value::Null,
        ),
    ];
    for request in bad {
        let checked = std::panic::catch_unwind(|| check_against_the_spec(&spec, &request));
        assert!(
            checked.is_err(),
            "{} {} passed",
            request.method,
            request.path
        );
    }
}
