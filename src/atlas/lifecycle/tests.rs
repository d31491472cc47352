//! The lifecycle requests against the simulator: what each sends and how each answer (a
//! change, a 404, a 409, a refusal, a fault) comes back, through every `Api`.

use std::time::Duration;

use atlas_sim::{Fault, RateLimit, SimConfig, Simulator, SimulatorHandle};

use super::*;
use crate::atlas::auth::{Credentials, Secret};
use crate::atlas::client::ClientConfig;
use crate::atlas::error::ErrorClass;
use crate::atlas::error::RateHeaders;
use crate::atlas::model::{GroupRoleAssignment, InvitationRequest, OrgRole};

const ORG: &str = "5f1e2d3c4b5a697887766554";
const TOKEN: &str = "lifecycle-token";
const TEAM: &str = "65a1f0c2e4b7d9a3c5e8f101";
const PROJECT: &str = "65b2e1d3f5a7c9b1d3e5f201";

async fn simulator(config: SimConfig) -> SimulatorHandle {
    Simulator::start(SimConfig {
        org_id: Some(ORG.into()),
        token: Some(TOKEN.into()),
        ..config
    })
    .await
    .expect("the simulator starts")
}

fn client(sim: &SimulatorHandle, api: Api) -> AtlasClient {
    AtlasClient::new(&ClientConfig {
        base_url: sim.base_url(),
        org_id: ORG.into(),
        api,
        credentials: Credentials::AccessToken(Secret::new(TOKEN)),
        timeout: Duration::from_secs(5),
        concurrency: 2,
        envelope: false,
    })
    .expect("a client for the simulator")
}

fn request(email: &str, roles: &[OrgRole], teams: &[&str]) -> InvitationRequest {
    InvitationRequest {
        username: email.into(),
        roles: roles.to_vec(),
        team_ids: teams.iter().map(|t| (*t).to_owned()).collect(),
        group_role_assignments: vec![],
    }
}

/// Invites `email` through `client` and answers the id Atlas gave (the invitation's, or with
/// the users API the pending user's).
async fn invited(client: &AtlasClient, email: &str) -> String {
    let answer = client
        .invite(&request(email, &[OrgRole::OrgMember], &[]))
        .await
        .unwrap();
    answer.value.id.unwrap()
}

#[tokio::test]
async fn invitations_are_updated_and_cancelled_on_every_api() {
    for api in [Api::Invites, Api::InvitesV1, Api::Users] {
        let sim = simulator(SimConfig::default()).await;
        let client = client(&sim, api);
        let id = invited(&client, "ann@example.com").await;
        let change = InvitationUpdateRequest {
            roles: Some(vec![OrgRole::OrgOwner, OrgRole::OrgMember]),
            team_ids: Some(vec![TEAM.into()]),
            group_role_assignments: None,
        };
        let updated = client.update_invitation(&id, &change).await.unwrap();
        assert_eq!(updated.status, 200, "{api:?}");
        assert_eq!(updated.value.id.as_deref(), Some(id.as_str()), "{api:?}");
        assert_eq!(updated.value.roles, ["ORG_OWNER", "ORG_MEMBER"], "{api:?}");
        assert_eq!(updated.value.team_ids, [TEAM], "{api:?}");
        let held = sim.state().invitations_for("ann@example.com");
        assert_eq!(held[0].roles, ["ORG_OWNER", "ORG_MEMBER"], "{api:?}");

        let removed = client.delete_invitation(&id).await.unwrap();
        assert_eq!(
            (removed.value, removed.status),
            (Removal::Removed, 204),
            "{api:?}"
        );
        let found = client.find_invitation("ann@example.com").await.unwrap();
        assert_eq!(found.value, None, "{api:?}");
        let again = client.delete_invitation(&id).await.unwrap();
        assert_eq!(
            (again.value, again.status),
            (Removal::AlreadyGone, 404),
            "{api:?}"
        );
        let late = client.update_invitation(&id, &change).await.unwrap_err();
        assert!(is_gone(&late), "{api:?}: {late}");
        assert_eq!(late.class(), ErrorClass::Permanent, "{api:?}");
        let stats = sim.state().stats();
        match api {
            Api::Users => assert_eq!((stats.user_updates, stats.user_deletes), (2, 2)),
            _ => assert_eq!((stats.invite_updates, stats.invite_deletes), (2, 2)),
        }
    }
}

#[tokio::test]
async fn an_accepted_invitation_cannot_be_cancelled_but_its_member_removed() {
    let sim = simulator(SimConfig::default()).await;
    let client = client(&sim, Api::Invites);
    let id = invited(&client, "bob@example.com").await;
    assert!(sim.state().accept_invitation("bob@example.com"));
    let cancelled = client.delete_invitation(&id).await.unwrap();
    assert_eq!(cancelled.value, Removal::AlreadyGone);

    let page = client.org_users_page(1, &["ACTIVE"]).await.unwrap().value;
    let bob = page
        .results
        .iter()
        .find(|u| u.username == "bob@example.com")
        .unwrap();
    let found = client.get_user(&bob.id).await.unwrap().value.unwrap();
    assert_eq!(found.org_membership_status, "ACTIVE");
    let removed = client.delete_user(&bob.id).await.unwrap();
    assert_eq!(removed.value, Removal::Removed);
    assert_eq!(client.get_user(&bob.id).await.unwrap().value, None);
    assert_eq!(
        client.delete_user(&bob.id).await.unwrap().value,
        Removal::AlreadyGone
    );
}

#[tokio::test]
async fn roles_change_one_at_a_time_adding_first() {
    let sim = simulator(SimConfig::default()).await;
    let client = client(&sim, Api::Users);
    let id = invited(&client, "cy@example.com").await;
    let pending = client.get_user(&id).await.unwrap().value.unwrap();
    assert_eq!(pending.org_membership_status, "PENDING");

    let steps = role_steps(&[OrgRole::OrgMember], &[OrgRole::OrgBillingAdmin]);
    assert_eq!(
        steps,
        [
            RoleStep::Add(OrgRole::OrgBillingAdmin),
            RoleStep::Remove(OrgRole::OrgMember)
        ]
    );
    for step in steps {
        match step {
            RoleStep::Add(role) => {
                let added = client.add_org_role(&id, role).await.unwrap();
                assert!(matches!(added.value, RoleAdded::Added(_)), "{added:?}");
            }
            RoleStep::Remove(role) => {
                let user = client.remove_org_role(&id, role).await.unwrap().value;
                assert_eq!(user.roles.org_roles, ["ORG_BILLING_ADMIN"]);
            }
        }
    }
    // Sent again (an answer was lost): the addition finds the role held.
    let again = client
        .add_org_role(&id, OrgRole::OrgBillingAdmin)
        .await
        .unwrap();
    assert_eq!((again.value, again.status), (RoleAdded::AlreadyHeld, 409));
    // The last role stays; Atlas's refusal is a permanent error, not "gone".
    let last = client
        .remove_org_role(&id, OrgRole::OrgBillingAdmin)
        .await
        .unwrap_err();
    assert_eq!(last.http_status(), Some(400));
    assert_eq!(last.class(), ErrorClass::Permanent);
    assert!(!is_gone(&last));

    let change = OrgUserUpdateRequest {
        roles: Some(OrgUserRolesUpdate {
            org_roles: vec![OrgRole::OrgReadOnly],
            group_role_assignments: Some(vec![super::super::model::UserGroupRoles {
                group_id: PROJECT.into(),
                group_roles: vec!["GROUP_READ_ONLY".into()],
            }]),
        }),
        team_ids: Some(vec![TEAM.into()]),
    };
    let user = client.update_user(&id, &change).await.unwrap().value;
    assert_eq!(user.roles.org_roles, ["ORG_READ_ONLY"]);
    assert_eq!(user.roles.group_role_assignments[0].group_id, PROJECT);
    assert_eq!(user.team_ids, [TEAM]);
    assert_eq!(
        client.delete_user(&id).await.unwrap().value,
        Removal::Removed
    );
}

#[tokio::test]
async fn the_last_owner_refusal_is_permanent() {
    let sim = simulator(SimConfig {
        existing_owners: vec!["owner@example.com".into()],
        ..SimConfig::default()
    })
    .await;
    let client = client(&sim, Api::Users);
    let page = client.org_users_page(1, &["ACTIVE"]).await.unwrap().value;
    let owner = &page.results[0].id;
    let error = client.delete_user(owner).await.unwrap_err();
    assert_eq!(error.http_status(), Some(400));
    assert_eq!(error.class(), ErrorClass::Permanent);
    assert!(
        error.to_string().contains("last Organization Owner"),
        "{error}"
    );
}

#[tokio::test]
async fn counts_are_read_as_capacity_counts_them() {
    let sim = simulator(SimConfig {
        existing_members: vec!["m@example.com".into()],
        ..SimConfig::default()
    })
    .await;
    let v2 = client(&sim, Api::Invites);
    let users = client(&sim, Api::Users);
    for (email, teams) in [
        ("a@example.com", &[TEAM][..]),
        ("b@example.com", &[TEAM, "65a1f0c2e4b7d9a3c5e8f102"][..]),
        ("c@example.com", &[][..]),
    ] {
        v2.invite(&request(email, &[OrgRole::OrgMember], teams))
            .await
            .unwrap();
    }
    assert!(sim.state().expire_invitation("c@example.com"));
    assert_eq!(v2.count_org_users().await.unwrap().value, 3);
    assert_eq!(v2.count_pending_invitations().await.unwrap().value, 2);
    assert_eq!(users.count_pending_invitations().await.unwrap().value, 2);
    let per_team = v2.team_user_counts().await.unwrap().value;
    assert_eq!(per_team.get(TEAM), Some(&2));
    assert_eq!(per_team.get("65a1f0c2e4b7d9a3c5e8f102"), Some(&1));
    assert_eq!(v2.count_team_users(TEAM).await.unwrap().value, 2);
    assert_eq!(
        v2.count_team_users("65a1f0c2e4b7d9a3c5e8f199")
            .await
            .unwrap()
            .value,
        0
    );
}

#[tokio::test]
async fn faults_of_changes_are_classified_as_for_invitations() {
    // Every request that creates or changes the person draws from their script: the
    // invitation takes a slow answer of no delay, the removals the rest.
    let sim = simulator(SimConfig::default().with_script(
        "dee@example.com",
        [Fault::Slow(0), Fault::Error500, Fault::RecordThenDrop],
    ))
    .await;
    let v2 = client(&sim, Api::Invites);
    let created = invited(&v2, "dee@example.com").await;
    let failed = v2.delete_invitation(&created).await.unwrap_err();
    assert_eq!(failed.class(), ErrorClass::Transient, "{failed}");
    let lost = v2.delete_invitation(&created).await.unwrap_err();
    assert_eq!(lost.class(), ErrorClass::Unknown, "{lost}");
    // The lost answer's removal was made: sending again finds it gone.
    assert_eq!(
        v2.delete_invitation(&created).await.unwrap().value,
        Removal::AlreadyGone
    );

    let limited = simulator(SimConfig {
        rate_limit: Some(RateLimit {
            per_second: 0.01,
            burst: 1,
        }),
        ..SimConfig::default()
    })
    .await;
    let v2 = client(&limited, Api::Invites);
    let id = invited(&v2, "eve@example.com").await;
    let refused = v2.delete_invitation(&id).await.unwrap_err();
    assert!(
        matches!(
            refused.class(),
            ErrorClass::RateLimited {
                retry_after: Some(_)
            }
        ),
        "{refused}"
    );
    let RateHeaders { limit, .. } = match &refused {
        CallError::Status { rate, .. } => rate.clone(),
        other => panic!("{other}"),
    };
    assert_eq!(limit, Some(1));
}

#[test]
fn role_steps_add_before_removing_and_never_strip_everything() {
    use OrgRole::*;
    assert_eq!(role_steps(&[OrgMember], &[OrgMember]), []);
    assert_eq!(
        role_steps(&[OrgMember], &[]),
        [],
        "removal is another request"
    );
    assert_eq!(
        role_steps(
            &[OrgOwner, OrgMember],
            &[OrgMember, OrgReadOnly, OrgReadOnly]
        ),
        [RoleStep::Add(OrgReadOnly), RoleStep::Remove(OrgOwner)]
    );
    assert_eq!(role_steps(&[], &[OrgMember]), [RoleStep::Add(OrgMember)]);
}

#[test]
fn only_atlas_404s_about_the_person_are_gone() {
    let status = |status: u16, code: Option<&str>| CallError::Status {
        status,
        api: code.map(|c| Box::new(crate::atlas::model::ApiError::new(status, c, "detail"))),
        body: String::new(),
        error_code_header: None,
        rate: RateHeaders::default(),
    };
    assert!(is_gone(&status(404, Some("INVITATION_NOT_FOUND"))));
    assert!(is_gone(&status(404, Some("USER_NOT_FOUND"))));
    assert!(is_gone(&status(404, Some("RESOURCE_NOT_FOUND"))));
    assert!(!is_gone(&status(404, Some("ORG_NOT_FOUND"))));
    assert!(!is_gone(&status(404, Some("TEAM_NOT_FOUND"))));
    assert!(!is_gone(&status(404, None)), "a proxy's page");
    assert!(!is_gone(&status(400, Some("USER_NOT_FOUND"))));
    assert!(!is_gone(&CallError::NoAnswer("reset".into())));
}

#[test]
fn a_users_api_update_carries_project_roles_inside_the_roles() {
    let change = InvitationUpdateRequest {
        roles: Some(vec![OrgRole::OrgMember]),
        team_ids: None,
        group_role_assignments: Some(vec![GroupRoleAssignment {
            group_id: PROJECT.into(),
            roles: vec!["GROUP_OWNER".into()],
        }]),
    };
    let body = serde_json::to_value(user_update(&change)).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"roles": {"orgRoles": ["ORG_MEMBER"], "groupRoleAssignments": [
            {"groupId": PROJECT, "groupRoles": ["GROUP_OWNER"]}]}})
    );
    let teams_only = InvitationUpdateRequest {
        team_ids: Some(vec![]),
        ..InvitationUpdateRequest::default()
    };
    assert_eq!(
        serde_json::to_value(user_update(&teams_only)).unwrap(),
        serde_json::json!({"teamIds": []})
    );
}

#[test]
fn ids_stay_one_path_segment() {
    let sim_less = AtlasClient::new(&ClientConfig {
        base_url: "https://cloud.mongodb.com".into(),
        org_id: ORG.into(),
        api: Api::Invites,
        credentials: Credentials::AccessToken(Secret::new(TOKEN)),
        timeout: Duration::from_secs(5),
        concurrency: 1,
        envelope: false,
    })
    .unwrap();
    let url = sim_less.item_url("v2", "invites", "../../x?y#z").unwrap();
    assert_eq!(
        url.as_str(),
        format!("https://cloud.mongodb.com/api/atlas/v2/orgs/{ORG}/invites/..%2F..%2Fx%3Fy%23z")
    );
    let role = sim_less
        .item_url("v2", "users", "5f1e2d3c4b5a697887766599:addRole")
        .unwrap();
    assert!(
        role.as_str()
            .ends_with("/users/5f1e2d3c4b5a697887766599:addRole"),
        "{role}"
    );
}
