//! End-to-end tests of what the simulator does after the invitation, over real TCP with a real
//! client, and the helpers they share:
//! - `invitations.rs`: one invitation by id, on the v2 and v1.0 paths;
//! - `users.rs`: one user by id, its role changes, and the rules Atlas holds them to;
//! - `limits.rs`: the capacity of organizations and teams, the faults and rate limit of
//!   changes, the rehearsal controls under `/_sim/`, and the recording of requests.

mod invitations;
mod limits;
mod users;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::*;
use atlas_model::users::OrgUserDetailPage;
use atlas_model::{ApiError, Invitation, MEDIA_TYPE_2023_01_01, MEDIA_TYPE_2025_02_19};

pub(super) const ORG: &str = "5f1e2d3c4b5a697887766554";
pub(super) const TEAM: &str = "65a1f0c2e4b7d9a3c5e8f101";
pub(super) const OTHER_TEAM: &str = "65a1f0c2e4b7d9a3c5e8f102";
pub(super) const TOKEN: &str = "secret";

/// A simulator and a client to talk to it.
pub(super) struct Bench {
    pub(super) sim: SimulatorHandle,
    pub(super) http: reqwest::Client,
}

/// What one request got back.
pub(super) struct Got {
    pub(super) status: StatusCode,
    pub(super) headers: reqwest::header::HeaderMap,
    pub(super) body: Vec<u8>,
}

impl Got {
    pub(super) fn json<T: serde::de::DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "HTTP {} body is not the expected JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub(super) fn code(&self) -> String {
        self.json::<ApiError>().error_code
    }

    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Which resource a request is on, which decides its media type.
#[derive(Clone, Copy)]
pub(super) enum On {
    V2,
    V1,
    Users,
}

impl On {
    pub(super) fn media_type(self) -> &'static str {
        match self {
            On::V2 => MEDIA_TYPE_2023_01_01,
            On::V1 => "application/json",
            On::Users => MEDIA_TYPE_2025_02_19,
        }
    }

    pub(super) fn path(self, rest: &str) -> String {
        match self {
            On::V2 => format!("/api/atlas/v2/orgs/{ORG}/invites{rest}"),
            On::V1 => format!("/api/atlas/v1.0/orgs/{ORG}/invites{rest}"),
            On::Users => format!("/api/atlas/v2/orgs/{ORG}/users{rest}"),
        }
    }
}

impl Bench {
    pub(super) async fn start(config: SimConfig) -> Bench {
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

    pub(super) fn state(&self) -> std::sync::Arc<SimState> {
        self.sim.state()
    }

    /// A request with the token and the media type of `on`.
    pub(super) fn request(&self, method: Method, on: On, rest: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{}", self.sim.base_url(), on.path(rest)))
            .bearer_auth(TOKEN)
            .header("accept", on.media_type())
    }

    pub(super) async fn send(&self, builder: reqwest::RequestBuilder) -> Got {
        let answer = builder.send().await.expect("the simulator answers");
        Got {
            status: answer.status(),
            headers: answer.headers().clone(),
            body: answer.bytes().await.unwrap().to_vec(),
        }
    }

    pub(super) async fn call(
        &self,
        method: Method,
        on: On,
        rest: &str,
        body: Option<Value>,
    ) -> Got {
        let mut builder = self.request(method, on, rest);
        if let Some(body) = body {
            builder = builder
                .header("content-type", on.media_type())
                .body(body.to_string());
        }
        self.send(builder).await
    }

    /// Invites `email` through the v2 invites resource, into `teams`.
    pub(super) async fn invite(&self, email: &str, teams: &[&str]) -> Got {
        let body = json!({"username": email, "roles": ["ORG_MEMBER"], "teamIds": teams});
        self.call(Method::POST, On::V2, "", Some(body)).await
    }

    /// Invites `email` and answers the invitation's id.
    pub(super) async fn invited(&self, email: &str) -> String {
        let got = self.invite(email, &[]).await;
        assert_eq!(got.status, 200, "{}", String::from_utf8_lossy(&got.body));
        got.json::<Invitation>().id.unwrap()
    }

    /// The users listing in every state, or in those of `query`.
    pub(super) async fn users(&self, query: &str) -> OrgUserDetailPage {
        let got = self.call(Method::GET, On::Users, query, None).await;
        assert_eq!(got.status, 200);
        got.json()
    }

    /// The id the users listing gives `email`.
    pub(super) async fn user_id(&self, email: &str) -> String {
        let page = self
            .users(&format!(
                "?username={email}&orgMembershipStatuses=ACTIVE&orgMembershipStatuses=PENDING"
            ))
            .await;
        page.results[0].id.clone()
    }
}
