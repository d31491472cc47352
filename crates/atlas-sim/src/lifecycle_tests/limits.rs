//! The capacity of organizations and teams, the faults and rate limit of changes, the
//! rehearsal controls, and the recording of requests.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use super::*;
use crate::*;
use atlas_model::MEDIA_TYPE_2023_01_01;

#[tokio::test]
async fn organizations_and_teams_fill_up() {
    let bench = Bench::start(SimConfig {
        existing_members: vec!["m@example.com".into()],
        max_org_users: Some(3),
        max_team_users: Some(2),
        ..SimConfig::default()
    })
    .await;
    assert_eq!(bench.invite("a@example.com", &[TEAM]).await.status, 200);
    assert_eq!(bench.invite("b@example.com", &[TEAM]).await.status, 200);
    let page = bench.users("").await;
    assert_eq!(
        page.total_count,
        Some(3),
        "the member and two pending invitations"
    );
    let got = bench.invite("c@example.com", &[]).await;
    assert_eq!(
        (got.status.as_u16(), got.code()),
        (400, "MAX_USERS_PER_ORG_EXCEEDED".to_owned())
    );
    let through_users = bench
        .call(
            Method::POST,
            On::Users,
            "",
            Some(json!({"username": "c@example.com", "roles": {"orgRoles": ["ORG_MEMBER"]}})),
        )
        .await;
    assert_eq!(through_users.status, 400);
    assert_eq!(through_users.code(), "MAX_USERS_PER_ORG_EXCEEDED");
    // Expired invitations hold no place.
    assert!(bench.state().expire_invitation("b@example.com"));
    assert_eq!(bench.invite("c@example.com", &[TEAM]).await.status, 200);
    let got = bench.invite("d@example.com", &[]).await;
    assert_eq!(got.status, 400);
    // The team holds a and c; the member cannot join it, nor a third invitation.
    let member = bench.user_id("m@example.com").await;
    let join = json!({"teamIds": [TEAM, OTHER_TEAM]});
    let got = bench
        .call(Method::PATCH, On::Users, &format!("/{member}"), Some(join))
        .await;
    assert_eq!(
        (got.status.as_u16(), got.code()),
        (400, "MAX_USERS_PER_TEAM_EXCEEDED".to_owned())
    );
    let a = bench.user_id("a@example.com").await;
    let stay = json!({"teamIds": [TEAM, OTHER_TEAM]});
    let got = bench
        .call(Method::PATCH, On::Users, &format!("/{a}"), Some(stay))
        .await;
    assert_eq!(
        got.status, 200,
        "a member of the team takes no new place in it"
    );
    // Removing a pending user frees both places.
    assert_eq!(
        bench
            .call(Method::DELETE, On::Users, &format!("/{a}"), None)
            .await
            .status,
        204
    );
    let join = json!({"teamIds": [TEAM]});
    let got = bench
        .call(Method::PATCH, On::Users, &format!("/{member}"), Some(join))
        .await;
    assert_eq!(got.status, 200);
    assert_eq!(bench.invite("d@example.com", &[]).await.status, 200);
}

#[tokio::test]
async fn a_change_whose_answer_is_lost_is_made_all_the_same() {
    let bench = Bench::start(
        SimConfig::default()
            .with_script("a@example.com", [Fault::RecordThenDrop])
            .with_script("b@example.com", [Fault::Error500, Fault::Slow(400)]),
    )
    .await;
    // Invited straight into the state: an invite POST would consume the scripted faults,
    // which every request that creates or changes the person draws from.
    let invited = |email: &str| {
        let new = crate::state::NewInvitation {
            username: email.to_owned(),
            roles: vec![atlas_model::OrgRole::OrgMember],
            team_ids: vec![],
            group_roles: vec![],
        };
        bench.state().create(ORG, &new).unwrap().id.unwrap()
    };
    let a = invited("a@example.com");
    let b = invited("b@example.com");
    let dropped = bench
        .request(Method::DELETE, On::V2, &format!("/{a}"))
        .send()
        .await;
    assert!(
        dropped.is_err(),
        "the connection closes unanswered: {dropped:?}"
    );
    assert!(
        bench.state().pending(ORG, Some("a@example.com")).is_empty(),
        "yet it was cancelled"
    );
    assert_eq!(bench.state().stats().dropped, 1);

    // b: a 500 cancels nothing; then a slow answer the client gives up on cancels all the same.
    let failed = bench
        .call(Method::DELETE, On::V2, &format!("/{b}"), None)
        .await;
    assert_eq!(failed.status, 500);
    assert_eq!(bench.state().pending(ORG, Some("b@example.com")).len(), 1);
    let impatient = bench
        .request(Method::DELETE, On::V2, &format!("/{b}"))
        .timeout(Duration::from_millis(50))
        .send()
        .await;
    assert!(impatient.unwrap_err().is_timeout());
    let state = bench.state();
    for _ in 0..400 {
        if state.pending(ORG, Some("b@example.com")).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        state.pending(ORG, Some("b@example.com")).is_empty(),
        "the server went on"
    );
}

#[tokio::test]
async fn changes_spend_tokens_of_the_bucket() {
    let bench = Bench::start(SimConfig {
        rate_limit: Some(RateLimit {
            per_second: 0.01,
            burst: 2,
        }),
        ..SimConfig::default()
    })
    .await;
    let id = bench.invited("a@example.com").await;
    let got = bench
        .call(Method::GET, On::V2, &format!("/{id}"), None)
        .await;
    assert_eq!(got.header("ratelimit-remaining"), Some("0"));
    let got = bench
        .call(Method::DELETE, On::V2, &format!("/{id}"), None)
        .await;
    assert_eq!(
        (got.status.as_u16(), got.code()),
        (429, "RATE_LIMITED_TOKEN_BUCKET".to_owned())
    );
    assert!(got.header("retry-after").is_some());
    assert_eq!(
        bench.state().pending(ORG, None).len(),
        1,
        "a refused change changes nothing"
    );
}

#[tokio::test]
async fn the_controls_play_what_invited_people_do() {
    let bench = Bench::start(SimConfig {
        token: Some(TOKEN.into()),
        ..SimConfig::default()
    })
    .await;
    for email in ["a@example.com", "e@example.com", "d@example.com"] {
        bench.invited(email).await;
    }
    let base = bench.sim.base_url();
    let post = |path: String| bench.send(bench.http.post(format!("{base}{path}")));
    // No token needed: the controls are not Atlas's.
    let got = post("/_sim/accept?email=A@example.com".into()).await;
    assert_eq!(got.status, 200);
    let done: control::Done = got.json();
    assert_eq!(
        (done.action, done.changed),
        (control::PersonAction::Accept, true)
    );
    assert_eq!(
        bench.invite("a@example.com", &[]).await.status,
        409,
        "a member now"
    );
    let json_body = bench
        .send(
            bench
                .http
                .post(format!("{base}/_sim/expire"))
                .body(r#"{"email": "e@example.com"}"#),
        )
        .await;
    assert_eq!(json_body.status, 200);
    assert_eq!(
        post("/_sim/decline?email=d@example.com".into())
            .await
            .status,
        200
    );
    let page = bench
        .users(
            "?orgMembershipStatuses=INVITATION_EXPIRED&orgMembershipStatuses=INVITATION_REJECTED",
        )
        .await;
    assert_eq!(page.total_count, Some(2));

    let again = post("/_sim/accept?email=a@example.com".into()).await;
    assert_eq!(
        (again.status.as_u16(), again.code()),
        (404, "NOTHING_PENDING".to_owned())
    );
    assert_eq!(
        post("/_sim/explode?email=a@example.com".into())
            .await
            .status,
        404
    );
    assert_eq!(post("/_sim/accept".into()).await.status, 400);
    let get = bench
        .send(
            bench
                .http
                .get(format!("{base}/_sim/accept?email=x@example.com")),
        )
        .await;
    assert_eq!(get.status, 405);

    // The client the `atlas-sim` subcommands use.
    bench.invited("c@example.com").await;
    match control::send(&base, control::PersonAction::Accept, "c@example.com").await {
        Ok(control::Sent::Done(done)) => assert_eq!(done.email, "c@example.com"),
        other => panic!("{other:?}"),
    }
    match control::send(&base, control::PersonAction::Accept, "c@example.com").await {
        Ok(control::Sent::Refused(detail)) => assert!(detail.contains("no pending"), "{detail}"),
        other => panic!("{other:?}"),
    }
    assert!(
        control::send(
            "https://cloud.mongodb.com",
            control::PersonAction::Accept,
            "c@example.com"
        )
        .await
        .is_err()
    );
}

#[tokio::test]
async fn requests_are_recorded_only_when_asked_for() {
    let quiet = Bench::start(SimConfig::default()).await;
    quiet.invited("a@example.com").await;
    assert!(quiet.state().recorded().is_empty());

    let recording = Bench::start(SimConfig {
        record_requests: true,
        ..SimConfig::default()
    })
    .await;
    let id = recording.invited("a@example.com").await;
    let got = recording
        .call(Method::DELETE, On::V1, &format!("/{id}?pretty=true"), None)
        .await;
    assert_eq!(got.status, 204);
    let recorded = recording.state().recorded();
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[0].method, "POST");
    assert_eq!(
        recorded[0].content_type.as_deref(),
        Some(MEDIA_TYPE_2023_01_01)
    );
    let sent: Value = serde_json::from_slice(&recorded[0].body).unwrap();
    assert_eq!(sent["username"], "a@example.com");
    assert_eq!(
        recorded[1].path,
        format!("/api/atlas/v1.0/orgs/{ORG}/invites/{id}")
    );
    assert_eq!(recorded[1].query.as_deref(), Some("pretty=true"));
    assert_eq!(recorded[1].accept.as_deref(), Some("application/json"));
    assert!(recorded[1].body.is_empty());
}
