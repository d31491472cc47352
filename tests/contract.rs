//! The contract: every request body the client can produce validates against the matching
//! schema of the official OpenAPI spec, the client understands the spec's own error examples,
//! and the simulator answers in the shapes the spec declares.

use std::path::PathBuf;

use atlas_invite::atlas::error::{CallError, ErrorClass, RateHeaders};
use atlas_invite::atlas::model::{
    ApiError, GroupRoleAssignment, Invitation, InvitationRequest, OrgRole, OrgUserRequest,
};
use atlas_invite::roster::{self, RosterOptions};
use serde_json::{Value, json};

use crate::util::*;

// What follows the invitation: update, role and removal bodies, and the requests on the wire.
mod lifecycle;

fn spec_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/contract/atlas-invites-openapi.yaml")
}

/// The spec as JSON.
fn spec() -> Value {
    let text = std::fs::read_to_string(spec_path()).expect("the contract is in the repository");
    serde_yaml_ng::from_str(&text).expect("the contract is YAML")
}

/// A validator for `#/components/schemas/{name}`, resolving references inside the spec.
fn validator(spec: &Value, name: &str) -> jsonschema::Validator {
    let schema = json!({
        "$ref": format!("#/components/schemas/{name}"),
        "components": spec["components"],
    });
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .build(&schema)
        .unwrap_or_else(|e| panic!("schema {name} compiles: {e}"))
}

fn assert_valid(validator: &jsonschema::Validator, instance: &Value) {
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{instance}\n{}", errors.join("\n"));
}

#[test]
fn the_contract_copy_matches_the_shared_one() {
    // The shared copy sits beside the repository when the team's shared folder is there.
    let shared = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/atlas-api/atlas-invites-openapi.yaml");
    if let Ok(shared) = std::fs::read(&shared) {
        assert_eq!(
            std::fs::read(spec_path()).unwrap(),
            shared,
            "tests/contract/ is out of date: copy shared/atlas-api/atlas-invites-openapi.yaml"
        );
    }
}

/// Every request the sample file and a few edge cases produce.
fn requests() -> Vec<InvitationRequest> {
    let sample = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples/users.csv");
    let roster = roster::load(&sample, &RosterOptions::default()).unwrap();
    let mut requests: Vec<InvitationRequest> =
        roster.invitees.iter().map(|i| i.to_request()).collect();
    requests.push(InvitationRequest {
        username: "all.roles@example.com".into(),
        roles: OrgRole::ALL.to_vec(),
        team_ids: vec![
            "5f1e2d3c4b5a697887766001".into(),
            "5f1e2d3c4b5a697887766002".into(),
        ],
        group_role_assignments: vec![GroupRoleAssignment {
            group_id: "5f1e2d3c4b5a697887766101".into(),
            roles: vec!["GROUP_OWNER".into(), "GROUP_READ_ONLY".into()],
        }],
    });
    requests
}

#[test]
fn invite_request_bodies_validate_against_the_spec() {
    let spec = spec();
    let validator = validator(&spec, "OrganizationInvitationRequest");
    let requests = requests();
    assert!(requests.len() > 20);
    for request in &requests {
        assert_valid(&validator, &serde_json::to_value(request).unwrap());
    }
    // The validator is not vacuous: a wrong role is refused.
    let mut bad = serde_json::to_value(&requests[0]).unwrap();
    bad["roles"] = json!(["ORG_ADMIN"]);
    assert!(!validator.is_valid(&bad));
}

#[test]
fn users_request_bodies_validate_against_the_spec() {
    let spec = spec();
    let validator = validator(&spec, "OrgUserRequest");
    for request in &requests() {
        let body = serde_json::to_value(OrgUserRequest::from(request)).unwrap();
        assert_valid(&validator, &body);
        assert!(body["roles"]["orgRoles"].is_array());
    }
    let bad = json!({"username": "a@example.com", "roles": {"orgRoles": []}});
    assert!(!validator.is_valid(&bad), "minItems 1 is enforced");
}

#[test]
fn the_client_understands_the_spec_error_examples() {
    let spec = spec();
    let responses = spec["components"]["responses"].as_object().unwrap();
    let mut seen = 0;
    for (name, response) in responses {
        let example = &response["content"]["application/json"]["example"];
        if example.is_null() {
            continue;
        }
        seen += 1;
        let api: ApiError =
            serde_json::from_value(example.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            api.error,
            example["error"].as_u64().unwrap() as u16,
            "{name}"
        );
        assert_eq!(
            api.error_code,
            example["errorCode"].as_str().unwrap(),
            "{name}"
        );
        let error = CallError::Status {
            status: api.error,
            api: Some(Box::new(api.clone())),
            body: String::new(),
            error_code_header: None,
            rate: RateHeaders::default(),
        };
        let class = error.class();
        let expected = match api.error {
            401 | 403 => ErrorClass::Auth,
            429 => ErrorClass::RateLimited { retry_after: None },
            409 => ErrorClass::AlreadyInvited,
            500 => ErrorClass::Transient,
            _ => ErrorClass::Permanent,
        };
        assert_eq!(class, expected, "{name}");
        assert!(error.to_string().contains(&api.error_code), "{name}");
    }
    assert!(seen >= 7, "the spec's shared error responses were read");
}

#[test]
fn an_invitation_built_from_the_spec_examples_parses() {
    let spec = spec();
    let schema = &spec["components"]["schemas"]["OrganizationInvitation"]["properties"];
    let mut example = serde_json::Map::new();
    for (field, property) in schema.as_object().unwrap() {
        if let Some(value) = property.get("example") {
            example.insert(field.clone(), value.clone());
        }
    }
    example.insert("username".into(), json!("ada@example.com"));
    let invitation: Invitation = serde_json::from_value(Value::Object(example.clone())).unwrap();
    assert_eq!(invitation.id.as_deref(), example["id"].as_str());
    assert_eq!(invitation.org_id.as_deref(), example["orgId"].as_str());
}

#[test]
fn the_simulator_answers_in_the_spec_shapes() {
    let spec = spec();
    let invitation = validator(&spec, "OrganizationInvitation");
    let api_error = validator(&spec, "ApiError");
    let sim = Sim::healthy();
    let work = Work::new();
    let csv = work.write(
        "people.csv",
        "email,roles,teams,projects\n\
         ada@example.com,owner,5f1e2d3c4b5a697887766001,5f1e2d3c4b5a697887766101:GROUP_OWNER\n",
    );
    assert_eq!(exec(&mut run_cmd(&sim, &work, &csv)).code, 0);
    for created in sim.state().invitations() {
        assert_valid(&invitation, &serde_json::to_value(&created).unwrap());
    }
    // Error bodies the simulator sends are ApiErrors.
    for status in [400u16, 401, 404, 409, 429, 500] {
        let body = serde_json::to_value(ApiError::new(status, "SOME_CODE", "detail")).unwrap();
        assert_valid(&api_error, &body);
    }
}

#[test]
fn the_simulator_declares_its_rate_limits_in_the_spec_shapes() {
    use atlas_sim::{RateLimit, SimConfig};
    let spec = spec();
    let listing = validator(&spec, "PaginatedRateLimitEndpointSets");
    let one = validator(&spec, "RateLimitEndpointSetResponse");
    // The media type the client asks for is the one the spec declares for a 200.
    let path = &spec["paths"]["/api/atlas/v2/rateLimits"]["get"]["responses"]["200"]["content"];
    assert!(
        path[atlas_invite::atlas::rate_limits::MEDIA_TYPE_2025_03_12].is_object(),
        "{path}"
    );
    let sim = Sim::start(SimConfig {
        rate_limit: Some(RateLimit {
            per_second: 5.0 / 60.0,
            burst: 10,
        }),
        ..SimConfig::default()
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let get = |path: &str| {
        let url = format!("{}{path}", sim.url());
        runtime.block_on(async {
            let answer = reqwest::Client::new()
                .get(url)
                .bearer_auth(TOKEN)
                .header(
                    "Accept",
                    atlas_invite::atlas::rate_limits::MEDIA_TYPE_2025_03_12,
                )
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), 200);
            assert_eq!(
                answer.headers()["content-type"],
                atlas_invite::atlas::rate_limits::MEDIA_TYPE_2025_03_12
            );
            answer.json::<Value>().await.unwrap()
        })
    };
    let page = get("/api/atlas/v2/rateLimits");
    assert_valid(&listing, &page);
    assert_eq!(page["results"].as_array().unwrap().len(), 1);
    let id = page["results"][0]["endpointSetId"].as_str().unwrap();
    assert_valid(&one, &get(&format!("/api/atlas/v2/rateLimits/{id}")));
    // The validators are not vacuous.
    assert!(!one.is_valid(&json!({"scope": "GALAXY"})));
    assert!(!listing.is_valid(&json!({"totalCount": 1})));
}
