//! One user by id (version 2025-02-19), its role changes, and the rules Atlas holds them to.

use reqwest::Method;
use serde_json::json;

use super::*;
use crate::*;
use atlas_model::users::OrgUserDetail;
use atlas_model::{MEDIA_TYPE_2023_01_01, MEDIA_TYPE_2025_02_19};

#[tokio::test]
async fn pending_and_active_users_are_read_and_changed_by_id() {
    let bench = Bench::start(SimConfig {
        existing_owners: vec!["owner@example.com".into()],
        ..SimConfig::default()
    })
    .await;
    let created = bench
        .call(
            Method::POST,
            On::Users,
            "",
            Some(json!({"username": "pat@example.com", "roles": {"orgRoles": ["ORG_MEMBER"]}})),
        )
        .await;
    assert_eq!(created.status, 201);
    let pending_id = created.json::<OrgUserDetail>().id;

    let got = bench
        .call(Method::GET, On::Users, &format!("/{pending_id}"), None)
        .await;
    assert_eq!(got.status, 200);
    assert_eq!(got.header("content-type"), Some(MEDIA_TYPE_2025_02_19));
    assert_eq!(got.json::<OrgUserDetail>().org_membership_status, "PENDING");

    // A pending user: new roles and a team, project roles left as they are.
    let change = json!({"roles": {"orgRoles": ["ORG_GROUP_CREATOR"]}, "teamIds": [TEAM]});
    let got = bench
        .call(
            Method::PATCH,
            On::Users,
            &format!("/{pending_id}"),
            Some(change),
        )
        .await;
    assert_eq!(got.status, 200, "{}", String::from_utf8_lossy(&got.body));
    let user: OrgUserDetail = got.json();
    assert_eq!(user.roles.org_roles, ["ORG_GROUP_CREATOR"]);
    assert_eq!(user.team_ids, [TEAM]);
    assert_eq!(
        bench.state().pending(ORG, None)[0].roles,
        ["ORG_GROUP_CREATOR"],
        "the invitation itself changed"
    );

    // Add before removing: nobody is left without a role.
    let add = json!({"orgRole": "ORG_MEMBER"});
    let got = bench
        .call(
            Method::POST,
            On::Users,
            &format!("/{pending_id}:addRole"),
            Some(add.clone()),
        )
        .await;
    assert_eq!(got.status, 200);
    assert_eq!(
        got.json::<OrgUserDetail>().roles.org_roles,
        ["ORG_GROUP_CREATOR", "ORG_MEMBER"]
    );
    let again = bench
        .call(
            Method::POST,
            On::Users,
            &format!("/{pending_id}:addRole"),
            Some(add),
        )
        .await;
    assert_eq!(
        (again.status.as_u16(), again.code()),
        (409, "USER_ALREADY_HAS_ORG_ROLE".to_owned())
    );
    let remove = json!({"orgRole": "ORG_GROUP_CREATOR"});
    let got = bench
        .call(
            Method::POST,
            On::Users,
            &format!("/{pending_id}:removeRole"),
            Some(remove.clone()),
        )
        .await;
    assert_eq!(got.json::<OrgUserDetail>().roles.org_roles, ["ORG_MEMBER"]);
    // Removing a role the user no longer holds changes nothing.
    let got = bench
        .call(
            Method::POST,
            On::Users,
            &format!("/{pending_id}:removeRole"),
            Some(remove),
        )
        .await;
    assert_eq!(got.status, 200);
    let last = json!({"orgRole": "ORG_MEMBER"});
    let got = bench
        .call(
            Method::POST,
            On::Users,
            &format!("/{pending_id}:removeRole"),
            Some(last),
        )
        .await;
    assert_eq!(
        (got.status.as_u16(), got.code()),
        (400, "CANNOT_REMOVE_LAST_ORG_ROLE".to_owned())
    );

    // The person accepts: an active user, with the id the listing gives members.
    assert!(bench.state().accept_invitation("pat@example.com"));
    let gone = bench
        .call(Method::GET, On::Users, &format!("/{pending_id}"), None)
        .await;
    assert_eq!(
        (gone.status.as_u16(), gone.code()),
        (404, "USER_NOT_FOUND".to_owned())
    );
    let active_id = bench.user_id("pat@example.com").await;
    let got = bench
        .call(Method::GET, On::Users, &format!("/{active_id}"), None)
        .await;
    let user: OrgUserDetail = got.json();
    assert_eq!(user.org_membership_status, "ACTIVE");
    assert_eq!(
        user.roles.org_roles,
        ["ORG_MEMBER"],
        "what the invitation held"
    );
    assert_eq!(user.team_ids, [TEAM]);
    let change = json!({"roles": {"orgRoles": ["ORG_OWNER"]}, "teamIds": []});
    let got = bench
        .call(
            Method::PATCH,
            On::Users,
            &format!("/{active_id}"),
            Some(change),
        )
        .await;
    let user: OrgUserDetail = got.json();
    assert_eq!(
        (user.roles.org_roles, user.team_ids),
        (vec!["ORG_OWNER".to_owned()], vec![])
    );

    // Removed, the member leaves the listing and may be invited again.
    let got = bench
        .call(Method::DELETE, On::Users, &format!("/{active_id}"), None)
        .await;
    assert_eq!(got.status, 204);
    let again = bench
        .call(Method::DELETE, On::Users, &format!("/{active_id}"), None)
        .await;
    assert_eq!(
        (again.status.as_u16(), again.code()),
        (404, "USER_NOT_FOUND".to_owned())
    );
    let page = bench.users("?username=pat@example.com").await;
    assert!(page.results.is_empty(), "{:?}", page.results);
    assert_eq!(bench.invite("pat@example.com", &[]).await.status, 200);
    let stats = bench.state().stats();
    assert_eq!((stats.user_updates, stats.user_deletes), (7, 2));
}

#[tokio::test]
async fn the_last_owner_stays_an_owner() {
    let bench = Bench::start(SimConfig {
        existing_owners: vec!["owner@example.com".into()],
        existing_members: vec!["member@example.com".into()],
        ..SimConfig::default()
    })
    .await;
    let owner = bench.user_id("owner@example.com").await;
    let member = bench.user_id("member@example.com").await;
    let to_member = json!({"roles": {"orgRoles": ["ORG_MEMBER"]}});
    let refusals = [
        bench
            .call(
                Method::PATCH,
                On::Users,
                &format!("/{owner}"),
                Some(to_member.clone()),
            )
            .await,
        bench
            .call(
                Method::POST,
                On::Users,
                &format!("/{owner}:addRole"),
                Some(json!({"orgRole": "ORG_MEMBER"})),
            )
            .await,
        bench
            .call(
                Method::POST,
                On::Users,
                &format!("/{owner}:removeRole"),
                Some(json!({"orgRole": "ORG_OWNER"})),
            )
            .await,
        bench
            .call(Method::DELETE, On::Users, &format!("/{owner}"), None)
            .await,
    ];
    let codes: Vec<(u16, String)> = refusals
        .iter()
        .map(|got| {
            (
                got.status.as_u16(),
                if got.status == 200 {
                    String::new()
                } else {
                    got.code()
                },
            )
        })
        .collect();
    assert_eq!(
        codes,
        [
            (400, "CANNOT_REMOVE_LAST_ORG_OWNER".to_owned()),
            (200, String::new()),
            (400, "CANNOT_REMOVE_LAST_ORG_OWNER".to_owned()),
            (400, "CANNOT_REMOVE_LAST_ORG_OWNER".to_owned()),
        ]
    );
    // Once another member is an owner, the first may step down and leave.
    let promote = json!({"orgRole": "ORG_OWNER"});
    let got = bench
        .call(
            Method::POST,
            On::Users,
            &format!("/{member}:addRole"),
            Some(promote),
        )
        .await;
    assert_eq!(got.status, 200);
    let got = bench
        .call(
            Method::PATCH,
            On::Users,
            &format!("/{owner}"),
            Some(to_member),
        )
        .await;
    assert_eq!(got.status, 200);
    assert_eq!(
        bench
            .call(Method::DELETE, On::Users, &format!("/{owner}"), None)
            .await
            .status,
        204
    );
}

#[tokio::test]
async fn expired_and_declined_users_are_found_when_asked_for_and_can_be_removed() {
    let bench = Bench::start(SimConfig::default()).await;
    let id = bench.invited("exp@example.com").await;
    assert!(bench.state().expire_invitation("exp@example.com"));
    let one = format!("/{id}");
    let got = bench.call(Method::GET, On::Users, &one, None).await;
    assert_eq!(got.status, 404, "only ACTIVE and PENDING by default");
    let got = bench
        .call(
            Method::GET,
            On::Users,
            &format!("{one}?orgMembershipStatuses=INVITATION_EXPIRED"),
            None,
        )
        .await;
    assert_eq!(
        got.json::<OrgUserDetail>().org_membership_status,
        "INVITATION_EXPIRED"
    );
    let change = json!({"teamIds": []});
    let got = bench
        .call(Method::PATCH, On::Users, &one, Some(change))
        .await;
    assert_eq!(got.status, 404, "an expired invitation is not updated");
    assert_eq!(
        bench
            .call(Method::DELETE, On::Users, &one, None)
            .await
            .status,
        204
    );
    let page = bench
        .users("?orgMembershipStatuses=INVITATION_EXPIRED")
        .await;
    assert!(page.results.is_empty());
    let bad = bench
        .call(
            Method::GET,
            On::Users,
            &format!("{one}?orgMembershipStatuses=GONE"),
            None,
        )
        .await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn changes_of_users_are_admitted_and_validated() {
    let bench = Bench::start(SimConfig {
        token: Some(TOKEN.into()),
        existing_members: vec!["m@example.com".into()],
        ..SimConfig::default()
    })
    .await;
    let id = bench.user_id("m@example.com").await;
    let url = format!(
        "{}{}",
        bench.sim.base_url(),
        On::Users.path(&format!("/{id}"))
    );
    let anonymous = bench
        .send(bench.http.get(&url).header("accept", MEDIA_TYPE_2025_02_19))
        .await;
    assert_eq!(anonymous.status, 401);
    let old = bench
        .send(
            bench
                .http
                .delete(&url)
                .bearer_auth(TOKEN)
                .header("accept", MEDIA_TYPE_2023_01_01),
        )
        .await;
    assert_eq!(old.status, 406, "only 2025-02-19 is simulated");
    let post = bench
        .call(Method::POST, On::Users, &format!("/{id}"), None)
        .await;
    assert_eq!(post.status, 405);
    let get_role = bench
        .call(Method::GET, On::Users, &format!("/{id}:addRole"), None)
        .await;
    assert_eq!(get_role.status, 405);
    assert_eq!(get_role.header("allow"), Some("POST"));
    let unknown = bench
        .call(Method::POST, On::Users, &format!("/{id}:promote"), None)
        .await;
    assert_eq!(
        (unknown.status.as_u16(), unknown.code()),
        (404, "RESOURCE_NOT_FOUND".to_owned())
    );
    for (rest, body, code) in [
        ("", json!({"roles": {"orgRoles": []}}), "MISSING_ATTRIBUTE"),
        ("", json!({"teamIds": ["x"]}), "INVALID_TEAM_ID"),
        (
            ":addRole",
            json!({"orgRole": "ORG_ADMIN"}),
            "INVALID_ENUM_VALUE",
        ),
        (":removeRole", json!({}), "MISSING_ATTRIBUTE"),
    ] {
        let method = if rest.is_empty() {
            Method::PATCH
        } else {
            Method::POST
        };
        let got = bench
            .call(
                method,
                On::Users,
                &format!("/{id}{rest}"),
                Some(body.clone()),
            )
            .await;
        assert_eq!(
            (got.status.as_u16(), got.code()),
            (400, code.to_owned()),
            "{body}"
        );
    }
    let malformed = bench.call(Method::DELETE, On::Users, "/123", None).await;
    assert_eq!(
        (malformed.status.as_u16(), malformed.code()),
        (400, "INVALID_USER_ID".to_owned())
    );
    let nobody = bench
        .call(Method::DELETE, On::Users, "/5f1e2d3c4b5a697887766599", None)
        .await;
    assert_eq!(
        (nobody.status.as_u16(), nobody.code()),
        (404, "USER_NOT_FOUND".to_owned())
    );
}
