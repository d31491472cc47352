//! One pending invitation by id, on the v2 and v1.0 invite paths.

use reqwest::Method;
use serde_json::{Value, json};

use super::*;
use crate::*;
use atlas_model::{Invitation, MEDIA_TYPE_2023_01_01};

#[tokio::test]
async fn one_invitation_is_read_updated_and_cancelled_by_id() {
    let bench = Bench::start(SimConfig::default()).await;
    let id = bench.invited("ann@example.com").await;
    let one = format!("/{id}");

    let got = bench.call(Method::GET, On::V2, &one, None).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.header("content-type"), Some(MEDIA_TYPE_2023_01_01));
    assert!(
        got.header("sunset").is_some(),
        "deprecated like the collection"
    );
    assert_eq!(
        got.json::<Invitation>().username.as_deref(),
        Some("ann@example.com")
    );

    let change = json!({"roles": ["ORG_OWNER", "ORG_BILLING_ADMIN"], "teamIds": [TEAM]});
    let got = bench.call(Method::PATCH, On::V2, &one, Some(change)).await;
    assert_eq!(got.status, 200, "{}", String::from_utf8_lossy(&got.body));
    let updated: Invitation = got.json();
    assert_eq!(updated.roles, ["ORG_OWNER", "ORG_BILLING_ADMIN"]);
    assert_eq!(updated.team_ids, [TEAM]);
    assert_eq!(
        updated.id.as_deref(),
        Some(id.as_str()),
        "the same invitation"
    );
    // The listing and the users resource see the change.
    let listed = bench.state().pending(ORG, Some("ann@example.com"));
    assert_eq!(listed[0].roles, ["ORG_OWNER", "ORG_BILLING_ADMIN"]);
    let pending = bench.users("?username=ann@example.com").await;
    assert_eq!(pending.results[0].team_ids, [TEAM]);

    // Teams alone: the roles stay.
    let got = bench
        .call(Method::PATCH, On::V2, &one, Some(json!({"teamIds": []})))
        .await;
    let updated: Invitation = got.json();
    assert!(updated.team_ids.is_empty());
    assert_eq!(updated.roles.len(), 2);

    let got = bench.call(Method::DELETE, On::V2, &one, None).await;
    assert_eq!(got.status, 204);
    assert!(got.body.is_empty());
    assert!(bench.state().pending(ORG, None).is_empty());
    assert_eq!(
        bench.users("").await.total_count,
        Some(0),
        "no longer a user"
    );
    for method in [Method::GET, Method::DELETE] {
        let got = bench.call(method.clone(), On::V2, &one, None).await;
        assert_eq!(got.status, 404, "{method}");
        assert_eq!(got.code(), "INVITATION_NOT_FOUND");
    }
    let got = bench
        .call(Method::PATCH, On::V2, &one, Some(json!({"teamIds": []})))
        .await;
    assert_eq!(got.status, 404);
    // Cancelled, the person may be invited again.
    assert_eq!(bench.invite("ann@example.com", &[]).await.status, 200);
    let stats = bench.state().stats();
    assert_eq!((stats.invite_updates, stats.invite_deletes), (3, 2));
}

#[tokio::test]
async fn the_v1_path_changes_invitations_in_plain_json() {
    let bench = Bench::start(SimConfig::default()).await;
    let id = bench.invited("bob@example.com").await;
    let one = format!("/{id}");
    let got = bench
        .call(
            Method::PATCH,
            On::V1,
            &one,
            Some(json!({"roles": ["ORG_READ_ONLY"]})),
        )
        .await;
    assert_eq!(got.status, 200);
    assert_eq!(got.header("content-type"), Some("application/json"));
    assert_eq!(got.header("deprecation"), None);
    assert_eq!(got.json::<Invitation>().roles, ["ORG_READ_ONLY"]);
    let got = bench.call(Method::DELETE, On::V1, &one, None).await;
    assert_eq!(got.status, 204);
    assert_eq!(
        bench.call(Method::GET, On::V1, &one, None).await.status,
        404
    );
}

#[tokio::test]
async fn invitations_no_longer_pending_are_not_found() {
    let bench = Bench::start(SimConfig::default()).await;
    let accepted = bench.invited("acc@example.com").await;
    let expired = bench.invited("exp@example.com").await;
    let declined = bench.invited("dec@example.com").await;
    assert!(bench.state().accept_invitation("acc@example.com"));
    assert!(bench.state().expire_invitation("exp@example.com"));
    assert!(bench.state().reject_invitation("dec@example.com"));
    for id in [accepted, expired, declined] {
        let got = bench
            .call(Method::DELETE, On::V2, &format!("/{id}"), None)
            .await;
        assert_eq!(got.status, 404);
        assert_eq!(got.code(), "INVITATION_NOT_FOUND");
        let change = json!({"roles": ["ORG_MEMBER"]});
        let got = bench
            .call(Method::PATCH, On::V2, &format!("/{id}"), Some(change))
            .await;
        assert_eq!(got.status, 404);
    }
    // The accepted person is still a member.
    assert_eq!(bench.invite("acc@example.com", &[]).await.status, 409);
}

#[tokio::test]
async fn changes_of_invitations_are_admitted_and_validated_as_creations_are() {
    let bench = Bench::start(SimConfig {
        token: Some(TOKEN.into()),
        teams: vec![(TEAM.into(), "Platform".into())],
        ..SimConfig::default()
    })
    .await;
    let id = bench.invited("ann@example.com").await;
    let one = format!("/{id}");
    let url = format!("{}{}", bench.sim.base_url(), On::V2.path(&one));

    let anonymous = bench
        .send(
            bench
                .http
                .delete(&url)
                .header("accept", MEDIA_TYPE_2023_01_01),
        )
        .await;
    assert_eq!(anonymous.status, 401);
    let wrong = bench
        .send(
            bench
                .http
                .delete(&url)
                .bearer_auth("another")
                .header("accept", MEDIA_TYPE_2023_01_01),
        )
        .await;
    assert_eq!(wrong.status, 401);
    let unversioned = bench
        .send(
            bench
                .http
                .delete(&url)
                .bearer_auth(TOKEN)
                .header("accept", "application/json"),
        )
        .await;
    assert_eq!(unversioned.status, 406);
    assert_eq!(unversioned.code(), "INVALID_VERSION_DATE");
    let put = bench.call(Method::PUT, On::V2, &one, None).await;
    assert_eq!(put.status, 405);
    assert_eq!(put.header("allow"), Some("GET, PATCH, DELETE"));
    let plain = bench
        .send(
            bench
                .request(Method::PATCH, On::V2, &one)
                .header("content-type", "text/plain")
                .body("{}"),
        )
        .await;
    assert_eq!(plain.status, 415);
    for (body, code) in [
        (json!({"roles": []}), "MISSING_ATTRIBUTE"),
        (json!({"roles": ["ORG_ADMIN"]}), "INVALID_ENUM_VALUE"),
        (
            json!({"username": "other@example.com"}),
            "INVALID_ATTRIBUTE",
        ),
    ] {
        let got = bench
            .call(Method::PATCH, On::V2, &one, Some(body.clone()))
            .await;
        assert_eq!(
            (got.status.as_u16(), got.code()),
            (400, code.to_owned()),
            "{body}"
        );
    }
    let unknown_team = json!({"teamIds": [OTHER_TEAM]});
    let got = bench
        .call(Method::PATCH, On::V2, &one, Some(unknown_team))
        .await;
    assert_eq!(
        (got.status.as_u16(), got.code()),
        (404, "TEAM_NOT_FOUND".to_owned())
    );
    let malformed = bench.call(Method::GET, On::V2, "/not-an-id", None).await;
    assert_eq!(
        (malformed.status.as_u16(), malformed.code()),
        (400, "INVALID_INVITATION_ID".to_owned())
    );
    // Nothing above changed the invitation, and nothing was cancelled.
    assert_eq!(bench.state().pending(ORG, None)[0].roles, ["ORG_MEMBER"]);
    // With envelope=true, a cancellation is a 200 carrying its 204.
    let got = bench
        .call(
            Method::DELETE,
            On::V2,
            &format!("{one}?envelope=true"),
            None,
        )
        .await;
    assert_eq!(got.status, 200);
    assert_eq!(got.json::<Value>()["status"], 204);
    assert!(bench.state().pending(ORG, None).is_empty());
}
