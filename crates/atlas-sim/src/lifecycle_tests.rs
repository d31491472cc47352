//! End-to-end tests of what the simulator does after the invitation, over real TCP with a real
//! client: one invitation by id (v2 and v1.0), one user by id with its role changes, the rules
//! Atlas holds changes to, the capacity of organizations and teams, the faults of changes, and
//! the rehearsal controls under `/_sim/`.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::*;
use atlas_model::users::{OrgUserDetail, OrgUserDetailPage};
use atlas_model::{ApiError, Invitation, MEDIA_TYPE_2023_01_01, MEDIA_TYPE_2025_02_19};

const ORG: &str = "5f1e2d3c4b5a697887766554";
const TEAM: &str = "65a1f0c2e4b7d9a3c5e8f101";
const OTHER_TEAM: &str = "65a1f0c2e4b7d9a3c5e8f102";
const TOKEN: &str = "secret";

/// A simulator and a client to talk to it.
struct Bench {
    sim: SimulatorHandle,
    http: reqwest::Client,
}

/// What one request got back.
struct Got {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Got {
    fn json<T: serde::de::DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "HTTP {} body is not the expected JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    fn code(&self) -> String {
        self.json::<ApiError>().error_code
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Which resource a request is on, which decides its media type.
#[derive(Clone, Copy)]
enum On {
    V2,
    V1,
    Users,
}

impl On {
    fn media_type(self) -> &'static str {
        match self {
            On::V2 => MEDIA_TYPE_2023_01_01,
            On::V1 => "application/json",
            On::Users => MEDIA_TYPE_2025_02_19,
        }
    }

    fn path(self, rest: &str) -> String {
        match self {
            On::V2 => format!("/api/atlas/v2/orgs/{ORG}/invites{rest}"),
            On::V1 => format!("/api/atlas/v1.0/orgs/{ORG}/invites{rest}"),
            On::Users => format!("/api/atlas/v2/orgs/{ORG}/users{rest}"),
        }
    }
}

impl Bench {
    async fn start(config: SimConfig) -> Bench {
        let sim = Simulator::start(config)
            .await
            .expect("the simulator starts");
        // reqwest is built without a TLS provider and refuses to build a client, even a
        // plain-HTTP one, until a process-wide provider is installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Bench {
            sim,
            http: reqwest::Client::new(),
        }
    }

    fn state(&self) -> std::sync::Arc<SimState> {
        self.sim.state()
    }

    /// A request with the token and the media type of `on`.
    fn request(&self, method: Method, on: On, rest: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{}", self.sim.base_url(), on.path(rest)))
            .bearer_auth(TOKEN)
            .header("accept", on.media_type())
    }

    async fn send(&self, builder: reqwest::RequestBuilder) -> Got {
        let answer = builder.send().await.expect("the simulator answers");
        Got {
            status: answer.status(),
            headers: answer.headers().clone(),
            body: answer.bytes().await.unwrap().to_vec(),
        }
    }

    async fn call(&self, method: Method, on: On, rest: &str, body: Option<Value>) -> Got {
        let mut builder = self.request(method, on, rest);
        if let Some(body) = body {
            builder = builder
                .header("content-type", on.media_type())
                .body(body.to_string());
        }
        self.send(builder).await
    }

    /// Invites `email` through the v2 invites resource, into `teams`.
    async fn invite(&self, email: &str, teams: &[&str]) -> Got {
        let body = json!({"username": email, "roles": ["ORG_MEMBER"], "teamIds": teams});
        self.call(Method::POST, On::V2, "", Some(body)).await
    }

    /// Invites `email` and answers the invitation's id.
    async fn invited(&self, email: &str) -> String {
        let got = self.invite(email, &[]).await;
        assert_eq!(got.status, 200, "{}", String::from_utf8_lossy(&got.body));
        got.json::<Invitation>().id.unwrap()
    }

    /// The users listing in every state, or in those of `query`.
    async fn users(&self, query: &str) -> OrgUserDetailPage {
        let got = self.call(Method::GET, On::Users, query, None).await;
        assert_eq!(got.status, 200);
        got.json()
    }

    /// The id the users listing gives `email`.
    async fn user_id(&self, email: &str) -> String {
        let page = self
            .users(&format!(
                "?username={email}&orgMembershipStatuses=ACTIVE&orgMembershipStatuses=PENDING"
            ))
            .await;
        page.results[0].id.clone()
    }
}

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
