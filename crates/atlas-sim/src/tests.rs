//! End-to-end tests of the simulator over real TCP: small hand-written HTTP/1.1 requests where
//! the exact bytes matter (status line, headers, no answer at all), and reqwest where a real
//! client's view matters (a dropped connection, a timeout, keep-alive under concurrency).

use std::collections::HashSet;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;
use atlas_model::{ApiError, Invitation, MEDIA_TYPE_2023_01_01, is_atlas_id};

const ORG: &str = "5f1e2d3c4b5a697887766554";
const OTHER_ORG: &str = "5f1e2d3c4b5a697887766555";

/// One answer read off the wire.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.text()))
    }

    fn error(&self) -> ApiError {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not an ApiError ({e}): {:?}", self.text()))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request on a fresh connection (`Connection: close`) and reads the whole answer.
/// A connection closed before any byte of answer is an `UnexpectedEof` error.
async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> io::Result<Answer> {
    let mut stream = TcpStream::connect(addr).await?;
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    if raw.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed without an answer",
        ));
    }
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an answer has a header block");
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .map(|line| {
            let (name, value) = line.split_once(':').unwrap();
            (name.trim().to_owned(), value.trim().to_owned())
        })
        .collect();
    Ok(Answer {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    })
}

fn v2_path(org: &str) -> String {
    format!("/api/atlas/v2/orgs/{org}/invites")
}

const V2_HEADERS: [(&str, &str); 3] = [
    ("Authorization", "Bearer secret"),
    ("Accept", MEDIA_TYPE_2023_01_01),
    ("Content-Type", MEDIA_TYPE_2023_01_01),
];

fn invite_body(email: &str) -> String {
    json!({"username": email, "roles": ["ORG_MEMBER"]}).to_string()
}

/// A v2 invitation POST for `email` with `headers`.
async fn post_invite(
    sim: &SimulatorHandle,
    headers: &[(&str, &str)],
    email: &str,
) -> io::Result<Answer> {
    send(
        sim.addr(),
        "POST",
        &v2_path(ORG),
        headers,
        &invite_body(email),
    )
    .await
}

/// A well-formed v2 invitation POST for `email`.
async fn invite(sim: &SimulatorHandle, email: &str) -> io::Result<Answer> {
    post_invite(sim, &V2_HEADERS, email).await
}

/// A well-formed v2 invitation POST for `email` through a real client.
fn client_invite(client: &reqwest::Client, url: &str, email: &str) -> reqwest::RequestBuilder {
    client
        .post(url)
        .bearer_auth("secret")
        .header("Accept", MEDIA_TYPE_2023_01_01)
        .header("Content-Type", MEDIA_TYPE_2023_01_01)
        .body(invite_body(email))
}

async fn start(config: SimConfig) -> SimulatorHandle {
    Simulator::start(config)
        .await
        .expect("the simulator starts")
}

fn http_client() -> reqwest::Client {
    // reqwest is built without a TLS provider and refuses to build a client, even a plain-HTTP
    // one, until a process-wide provider is installed. Another test may have installed it.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .build()
        .expect("a plain-HTTP client builds")
}

#[tokio::test]
async fn creating_an_invitation_answers_it_and_counts_it() {
    let sim = start(SimConfig::default()).await;
    let body = json!({
        "username": "Ada@Example.com",
        "roles": ["ORG_MEMBER"],
        "teamIds": ["32b6e34b3d91647abb20e7b8"],
        "groupRoleAssignments": [{"groupId": "32b6e34b3d91647abb20e7b9", "roles": ["GROUP_READ_ONLY"]}]
    });
    let answer = send(
        sim.addr(),
        "POST",
        &v2_path(ORG),
        &V2_HEADERS,
        &body.to_string(),
    )
    .await
    .unwrap();
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.header("content-type"), Some(MEDIA_TYPE_2023_01_01));
    assert_eq!(
        answer.header("sunset"),
        Some("Thu, 01 Jul 2027 00:00:00 GMT")
    );
    assert!(answer.header("deprecation").is_some());
    let invitation: Invitation = serde_json::from_slice(&answer.body).unwrap();
    assert!(is_atlas_id(invitation.id.as_deref().unwrap()));
    assert_eq!(invitation.username.as_deref(), Some("Ada@Example.com"));
    assert_eq!(invitation.org_id.as_deref(), Some(ORG));
    assert!(invitation.org_name.is_some() && invitation.inviter_username.is_some());
    assert!(invitation.created_at.is_some() && invitation.expires_at.is_some());
    assert_eq!(invitation.group_role_assignments.len(), 1);
    assert_eq!(invitation.team_ids.len(), 1);

    assert_eq!(
        sim.state().invitations_for("ada@example.com"),
        vec![invitation]
    );
    let stats = sim.state().stats();
    assert_eq!(
        (stats.requests, stats.invite_posts, stats.created),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn the_v2_path_requires_the_versioned_accept_header() {
    let sim = start(SimConfig::default()).await;
    let headers = [
        ("Authorization", "Bearer secret"),
        ("Accept", "application/json"),
        ("Content-Type", "application/json"),
    ];
    let answer = post_invite(&sim, &headers, "a@example.com").await.unwrap();
    assert_eq!(answer.status, 406);
    let error = answer.error();
    assert_eq!(error.error_code, "INVALID_VERSION_DATE");
    assert!(error.detail.unwrap().contains(MEDIA_TYPE_2023_01_01));
    assert!(sim.state().invitations().is_empty());
}

#[tokio::test]
async fn the_v1_path_takes_plain_json_without_deprecation_headers() {
    let sim = start(SimConfig::default()).await;
    let headers = [
        ("Authorization", "Bearer secret"),
        ("Content-Type", "application/json"),
    ];
    let path = format!("/api/atlas/v1.0/orgs/{ORG}/invites");
    let answer = send(
        sim.addr(),
        "POST",
        &path,
        &headers,
        &invite_body("a@example.com"),
    )
    .await
    .unwrap();
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(answer.header("deprecation"), None);
    assert!(answer.json()["id"].is_string());
}

#[tokio::test]
async fn a_body_that_is_not_json_is_refused_as_unsupported() {
    let sim = start(SimConfig::default()).await;
    let headers = [
        ("Authorization", "Bearer secret"),
        ("Accept", MEDIA_TYPE_2023_01_01),
        ("Content-Type", "text/plain"),
    ];
    let answer = post_invite(&sim, &headers, "a@example.com").await.unwrap();
    assert_eq!(answer.status, 415);
    assert!(sim.state().invitations().is_empty());
}

#[tokio::test]
async fn missing_or_wrong_tokens_are_unauthorized() {
    let sim = start(SimConfig {
        token: Some("right".into()),
        ..SimConfig::default()
    })
    .await;
    let no_token = [
        ("Accept", MEDIA_TYPE_2023_01_01),
        ("Content-Type", MEDIA_TYPE_2023_01_01),
    ];
    let answer = post_invite(&sim, &no_token, "a@example.com").await.unwrap();
    assert_eq!(answer.status, 401);
    assert_eq!(answer.error().error_code, "UNAUTHORIZED");

    let wrong = invite(&sim, "a@example.com").await.unwrap();
    assert_eq!(wrong.status, 401);

    let mut right = V2_HEADERS;
    right[0] = ("Authorization", "Bearer right");
    let answer = post_invite(&sim, &right, "a@example.com").await.unwrap();
    assert_eq!(answer.status, 200);
    let stats = sim.state().stats();
    assert_eq!((stats.unauthorized, stats.created), (2, 1));
}

#[tokio::test]
async fn organization_ids_are_checked() {
    let sim = start(SimConfig {
        org_id: Some(ORG.into()),
        ..SimConfig::default()
    })
    .await;
    let body = invite_body("a@example.com");
    let malformed = send(sim.addr(), "POST", &v2_path("my-org"), &V2_HEADERS, &body)
        .await
        .unwrap();
    assert_eq!(malformed.status, 400);
    assert_eq!(malformed.error().error_code, "INVALID_ORG_ID");
    let unknown = send(sim.addr(), "POST", &v2_path(OTHER_ORG), &V2_HEADERS, &body)
        .await
        .unwrap();
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.error().error_code, "ORG_NOT_FOUND");
    assert!(sim.state().invitations().is_empty());
}

#[tokio::test]
async fn an_invalid_role_is_a_bad_request_naming_the_field() {
    let sim = start(SimConfig::default()).await;
    let body = json!({"username": "a@example.com", "roles": ["ORG_ADMIN"]}).to_string();
    let answer = send(sim.addr(), "POST", &v2_path(ORG), &V2_HEADERS, &body)
        .await
        .unwrap();
    assert_eq!(answer.status, 400);
    let error = answer.error();
    assert_eq!(error.error_code, "INVALID_ENUM_VALUE");
    assert_eq!(
        error.bad_request_detail.unwrap().fields[0].field,
        "roles[0]"
    );
    assert_eq!(sim.state().stats().bad_requests, 1);
    assert!(sim.state().invitations().is_empty());
}

#[tokio::test]
async fn a_second_invitation_conflicts_unless_duplicates_are_allowed() {
    let sim = start(SimConfig::default()).await;
    assert_eq!(invite(&sim, "a@example.com").await.unwrap().status, 200);
    let again = invite(&sim, "A@EXAMPLE.COM").await.unwrap();
    assert_eq!(again.status, 409);
    assert_eq!(again.error().error_code, "USER_ALREADY_INVITED");
    assert_eq!(sim.state().invitations().len(), 1);
    assert_eq!(sim.state().stats().conflicts, 1);

    let lax = start(SimConfig {
        duplicate_invites: true,
        ..SimConfig::default()
    })
    .await;
    assert_eq!(invite(&lax, "a@example.com").await.unwrap().status, 200);
    assert_eq!(invite(&lax, "a@example.com").await.unwrap().status, 200);
    let both = lax.state().invitations_for("a@example.com");
    assert_eq!(both.len(), 2);
    assert_ne!(both[0].id, both[1].id);
}

#[tokio::test]
async fn members_cannot_be_invited() {
    let sim = start(SimConfig {
        existing_members: vec!["Member@example.com".into()],
        ..SimConfig::default()
    })
    .await;
    let answer = invite(&sim, "member@EXAMPLE.com").await.unwrap();
    assert_eq!(answer.status, 409);
    assert_eq!(answer.error().error_code, "USER_ALREADY_IN_ORG");
    sim.state().add_member("new@example.com");
    assert_eq!(invite(&sim, "new@example.com").await.unwrap().status, 409);
    assert!(sim.state().invitations().is_empty());
}

#[tokio::test]
async fn the_token_bucket_answers_429_with_retry_after_and_rate_limit_headers() {
    let sim = start(SimConfig {
        rate_limit: Some(RateLimit {
            per_second: 0.01,
            burst: 2,
        }),
        ..SimConfig::default()
    })
    .await;
    let first = invite(&sim, "a@example.com").await.unwrap();
    assert_eq!(first.status, 200);
    assert_eq!(first.header("ratelimit-limit"), Some("2"));
    assert_eq!(first.header("ratelimit-remaining"), Some("1"));
    assert_eq!(invite(&sim, "b@example.com").await.unwrap().status, 200);

    let limited = invite(&sim, "c@example.com").await.unwrap();
    assert_eq!(limited.status, 429);
    let retry_after: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!(retry_after >= 1);
    assert_eq!(limited.header("ratelimit-remaining"), Some("0"));
    let error = limited.error();
    assert_eq!(error.error_code, "RATE_LIMITED_TOKEN_BUCKET");
    assert_eq!(error.reason.as_deref(), Some("Too Many Requests"));
    assert!(
        error
            .detail
            .unwrap()
            .contains(&format!("Please retry after {retry_after} seconds"))
    );
    assert!(sim.state().invitations_for("c@example.com").is_empty());
    assert_eq!(sim.state().stats().rate_limited, 1);

    // Buckets are per token.
    let mut other = V2_HEADERS;
    other[0] = ("Authorization", "Bearer another");
    let answer = post_invite(&sim, &other, "c@example.com").await.unwrap();
    assert_eq!(answer.status, 200);
}

#[tokio::test]
async fn without_the_header_only_the_detail_says_when_to_retry() {
    let sim = start(SimConfig {
        rate_limit: Some(RateLimit {
            per_second: 0.01,
            burst: 1,
        }),
        retry_after_header: false,
        ..SimConfig::default()
    })
    .await;
    assert_eq!(invite(&sim, "a@example.com").await.unwrap().status, 200);
    let limited = invite(&sim, "b@example.com").await.unwrap();
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("retry-after"), None);
    assert!(
        limited
            .error()
            .detail
            .unwrap()
            .contains("Please retry after")
    );
}

#[tokio::test]
async fn a_token_bucket_refusal_states_its_bucket_as_atlas_does() {
    let sim = start(SimConfig {
        rate_limit: Some(RateLimit {
            per_second: 5.0 / 6.0,
            burst: 1,
        }),
        ..SimConfig::default()
    })
    .await;
    assert_eq!(invite(&sim, "a@example.com").await.unwrap().status, 200);
    let limited = invite(&sim, "b@example.com").await.unwrap();
    assert_eq!(limited.status, 429);
    // 1.2 s to the next token, in whole seconds rounded up.
    assert_eq!(limited.header("retry-after"), Some("2"));
    let detail = limited.error().detail.unwrap();
    assert_eq!(
        detail,
        "Rate limit exceeded for endpoint set Organization Invitations. Please retry after 2 seconds. \
         Request capacity: 1. Refill rate: 5 per 6 seconds."
    );
    let stated = atlas_model::rate_limits::parse_stated_limit(&detail);
    assert_eq!(
        stated.bucket(),
        atlas_model::rate_limits::BucketLimit::new(1, 5, Duration::from_secs(6))
    );
}

#[tokio::test]
async fn the_legacy_limit_answers_400_without_rate_limit_headers() {
    let sim = start(SimConfig {
        rate_limit: Some(RateLimit {
            per_second: 10.0 / 60.0,
            burst: 2,
        }),
        rate_limit_legacy: true,
        ..SimConfig::default()
    })
    .await;
    let first = invite(&sim, "a@example.com").await.unwrap();
    assert_eq!(first.status, 200);
    assert_eq!(first.header("ratelimit-limit"), None);
    assert_eq!(invite(&sim, "b@example.com").await.unwrap().status, 200);
    let limited = invite(&sim, "c@example.com").await.unwrap();
    assert_eq!(limited.status, 400);
    assert_eq!(limited.header("retry-after"), None);
    let error = limited.error();
    assert_eq!(error.error_code, "INVITATIONS_RATE_LIMITED_IP");
    assert_eq!(
        error.detail.as_deref(),
        Some("Rate limit of 2 invitations per 12 seconds exceeded")
    );
    let stats = sim.state().stats();
    assert_eq!((stats.rate_limited, stats.bad_requests), (1, 0));
    // Atlas never listed the older limit.
    let listed = rate_limits(&sim, "").await;
    assert_eq!(listed.json()["results"], json!([]));
}

const RATE_LIMITS_HEADERS: [(&str, &str); 2] = [
    ("Authorization", "Bearer secret"),
    ("Accept", "application/vnd.atlas.2025-03-12+json"),
];

async fn rate_limits(sim: &SimulatorHandle, path_and_query: &str) -> Answer {
    send(
        sim.addr(),
        "GET",
        &format!("/api/atlas/v2/rateLimits{path_and_query}"),
        &RATE_LIMITS_HEADERS,
        "",
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn rate_limits_declare_the_bucket_without_spending_it() {
    let sim = start(SimConfig {
        rate_limit: Some(RateLimit {
            per_second: 5.0 / 60.0,
            burst: 10,
        }),
        ..SimConfig::default()
    })
    .await;
    let listed = rate_limits(
        &sim,
        "?endpointPath=%2Fapi%2Fatlas%2Fv2%2Forgs%2F%7BorgId%7D%2Finvites",
    )
    .await;
    assert_eq!(listed.status, 200);
    assert_eq!(
        listed.header("content-type"),
        Some("application/vnd.atlas.2025-03-12+json")
    );
    let body = listed.json();
    assert_eq!(body["totalCount"], 1);
    let set = &body["results"][0];
    assert_eq!(set["capacity"]["value"], 10);
    assert_eq!(set["refillRate"]["value"], 1);
    assert_eq!(set["refillDurationSeconds"]["value"], 12);
    assert_eq!(set["scope"], "USER");
    let id = set["endpointSetId"].as_str().unwrap().to_owned();
    // One set by id; an unknown id is a 404.
    let one = rate_limits(&sim, &format!("/{id}")).await;
    assert_eq!(one.json()["endpointSetName"], "Organization Invitations");
    assert_eq!(rate_limits(&sim, "/nope").await.status, 404);
    // Other paths and other scopes are filtered out.
    let other = rate_limits(&sim, "?endpointPath=%2Fapi%2Fatlas%2Fv2%2Fclusters").await;
    assert_eq!(other.json()["results"], json!([]));
    let org_scope = rate_limits(&sim, &format!("?orgId={ORG}")).await;
    assert_eq!(org_scope.json()["results"], json!([]));
    // Asking spent no token: the whole capacity is still there.
    let first = invite(&sim, "a@example.com").await.unwrap();
    assert_eq!(first.header("ratelimit-remaining"), Some("9"));
    // The version must be named; the credentials must be valid.
    let unversioned = send(
        sim.addr(),
        "GET",
        "/api/atlas/v2/rateLimits",
        &[
            ("Authorization", "Bearer secret"),
            ("Accept", "application/json"),
        ],
        "",
    )
    .await
    .unwrap();
    assert_eq!(unversioned.status, 406);
    let anonymous = send(
        sim.addr(),
        "GET",
        "/api/atlas/v2/rateLimits",
        &[("Accept", "application/vnd.atlas.2025-03-12+json")],
        "",
    )
    .await
    .unwrap();
    assert_eq!(anonymous.status, 401);
}

#[tokio::test]
async fn the_bucket_is_checked_when_the_request_arrives() {
    // The token is spent while the request still waits out its 500 ms of latency, as a real
    // server meters arrivals; the answer comes later.
    let sim = start(SimConfig {
        rate_limit: Some(RateLimit {
            per_second: 0.01,
            burst: 3,
        }),
        latency: Duration::from_millis(500),
        ..SimConfig::default()
    })
    .await;
    let addr = sim.addr();
    let pending = tokio::spawn(async move {
        send(
            addr,
            "POST",
            &v2_path(ORG),
            &V2_HEADERS,
            &invite_body("a@example.com"),
        )
        .await
    });
    let deadline = std::time::Instant::now() + Duration::from_millis(400);
    while sim.state().tokens_left("secret").is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "no token spent on arrival"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(sim.state().tokens_left("secret"), Some(2));
    assert!(!pending.is_finished(), "the answer came before the latency");
    assert_eq!(pending.await.unwrap().unwrap().status, 200);
}

#[tokio::test]
async fn record_then_drop_creates_the_invitation_and_sends_nothing() {
    let sim = start(SimConfig::default().with_script(
        "drop@example.com",
        [Fault::RecordThenDrop, Fault::RecordThenDrop],
    ))
    .await;
    let raw = invite(&sim, "drop@example.com").await;
    assert_eq!(
        raw.map(|a| a.status).unwrap_err().kind(),
        io::ErrorKind::UnexpectedEof
    );

    // A real client reports the same as a failed request, not as an answer.
    let url = format!("{}{}", sim.base_url(), v2_path(ORG));
    let outcome = client_invite(&http_client(), &url, "drop@example.com")
        .send()
        .await;
    assert!(outcome.is_err(), "{outcome:?}");

    // The first drop recorded the invitation; the second one hit the duplicate check.
    assert_eq!(sim.state().invitations_for("drop@example.com").len(), 1);
    let stats = sim.state().stats();
    assert_eq!((stats.dropped, stats.created), (2, 1));
    // With the script used up, a retry learns the invitation exists.
    assert_eq!(invite(&sim, "drop@example.com").await.unwrap().status, 409);
}

#[tokio::test]
async fn a_hang_is_cut_by_the_client_timeout_and_creates_nothing() {
    let sim = start(SimConfig::default().with_script("slow@example.com", [Fault::Hang])).await;
    let url = format!("{}{}", sim.base_url(), v2_path(ORG));
    let outcome = client_invite(&http_client(), &url, "slow@example.com")
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(outcome.unwrap_err().is_timeout());
    assert!(sim.state().invitations().is_empty());
    assert_eq!(sim.state().stats().hung, 1);
    // The next attempt is not scripted and succeeds.
    assert_eq!(invite(&sim, "slow@example.com").await.unwrap().status, 200);
}

#[tokio::test]
async fn scripted_faults_answer_as_scripted() {
    let sim = start(SimConfig::default().with_script(
        "f@example.com",
        [
            Fault::Html503,
            Fault::BadGateway502Html,
            Fault::Error500,
            Fault::Status(403),
            Fault::RateLimited {
                retry_after: Some(7),
            },
            Fault::TruncatedJson,
        ],
    ))
    .await;
    let html = invite(&sim, "f@example.com").await.unwrap();
    assert_eq!(html.status, 503);
    assert_eq!(html.header("content-type"), Some("text/html"));
    assert!(
        html.text()
            .contains("<h1>503 Service Temporarily Unavailable</h1>")
    );
    let gateway = invite(&sim, "f@example.com").await.unwrap();
    assert_eq!(gateway.status, 502);
    assert!(gateway.text().contains("502 Bad Gateway"));
    let error = invite(&sim, "F@example.com").await.unwrap();
    assert_eq!(error.status, 500);
    assert_eq!(error.error().error_code, "UNEXPECTED_ERROR");
    let forbidden = invite(&sim, "f@example.com").await.unwrap();
    assert_eq!(forbidden.status, 403);
    assert_eq!(forbidden.error().error, 403);
    let limited = invite(&sim, "f@example.com").await.unwrap();
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("retry-after"), Some("7"));
    assert!(
        sim.state().invitations().is_empty(),
        "no fault so far creates"
    );

    let truncated = invite(&sim, "f@example.com").await.unwrap();
    assert_eq!(truncated.status, 200);
    assert!(serde_json::from_slice::<Value>(&truncated.body).is_err());
    assert_eq!(sim.state().invitations_for("f@example.com").len(), 1);
    let stats = sim.state().stats();
    assert_eq!((stats.server_errors, stats.rate_limited), (3, 1));
}

#[tokio::test]
async fn ok_without_id_still_creates() {
    let sim = start(SimConfig::default().with_script("n@example.com", [Fault::OkWithoutId])).await;
    let answer = invite(&sim, "n@example.com").await.unwrap();
    assert_eq!(answer.status, 200);
    let body = answer.json();
    assert!(body.get("id").is_none(), "{body}");
    assert_eq!(body["username"], "n@example.com");
    assert_eq!(sim.state().invitations_for("n@example.com").len(), 1);
}

#[tokio::test]
async fn random_faults_follow_the_rates() {
    let sim = start(SimConfig {
        fail_rate: 1.0,
        seed: Some(7),
        ..SimConfig::default()
    })
    .await;
    for i in 0..5 {
        let answer = invite(&sim, &format!("u{i}@example.com")).await.unwrap();
        assert_eq!(answer.status, 500);
    }
    assert!(sim.state().invitations().is_empty());
    assert_eq!(sim.state().stats().server_errors, 5);
}

#[tokio::test]
async fn listing_filters_by_username_case_insensitively() {
    let sim = start(SimConfig::default()).await;
    for email in ["a@example.com", "b@example.com"] {
        assert_eq!(invite(&sim, email).await.unwrap().status, 200);
    }
    let list = |query: &'static str| {
        let path = format!("{}{query}", v2_path(ORG));
        let addr = sim.addr();
        async move {
            send(addr, "GET", &path, &V2_HEADERS[..2], "")
                .await
                .unwrap()
        }
    };
    let all = list("").await;
    assert_eq!(all.status, 200);
    assert_eq!(all.json().as_array().unwrap().len(), 2);
    let one = list("?username=A%40EXAMPLE.com").await.json();
    let one = one.as_array().unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0]["username"], "a@example.com");
    assert_eq!(list("?username=z%40example.com").await.json(), json!([]));
    let wrapped = list("?envelope=true&username=b%40example.com").await.json();
    assert_eq!(wrapped["status"], 200);
    assert_eq!(wrapped["content"][0]["username"], "b@example.com");

    // Invitations belong to their organization.
    let other = send(sim.addr(), "GET", &v2_path(OTHER_ORG), &V2_HEADERS[..2], "")
        .await
        .unwrap();
    assert_eq!(other.json(), json!([]));
    assert_eq!(sim.state().stats().invite_gets, 5);
}

#[tokio::test]
async fn unknown_paths_are_atlas_404s() {
    let sim = start(SimConfig::default()).await;
    let answer = send(sim.addr(), "GET", "/api/atlas/v2/nothing", &V2_HEADERS, "")
        .await
        .unwrap();
    assert_eq!(answer.status, 404);
    assert_eq!(answer.error().error_code, "RESOURCE_NOT_FOUND");
    assert_eq!(sim.state().stats().requests, 1);
}

#[tokio::test]
async fn keep_alive_clients_get_unique_ids_under_concurrency() {
    let sim = start(SimConfig::default()).await;
    let client = http_client();
    let url = format!("{}{}", sim.base_url(), v2_path(ORG));
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..16 {
        let (client, url) = (client.clone(), url.clone());
        tasks.spawn(async move {
            let mut ids = Vec::new();
            for i in 0..25 {
                let invitation: Invitation =
                    client_invite(&client, &url, &format!("w{worker}-{i}@example.com"))
                        .send()
                        .await
                        .unwrap()
                        .error_for_status()
                        .unwrap()
                        .json()
                        .await
                        .unwrap();
                ids.push(invitation.id.unwrap());
            }
            ids
        });
    }
    let mut ids = HashSet::new();
    while let Some(batch) = tasks.join_next().await {
        ids.extend(batch.unwrap());
    }
    assert_eq!(ids.len(), 400);
    let stats = sim.state().stats();
    assert_eq!((stats.created, stats.requests), (400, 400));
}

#[tokio::test]
async fn shutdown_closes_hung_requests_and_the_listener() {
    let sim = start(SimConfig::default().with_script("h@example.com", [Fault::Hang])).await;
    let addr = sim.addr();
    let hung = tokio::spawn(async move {
        send(
            addr,
            "POST",
            &v2_path(ORG),
            &V2_HEADERS,
            &invite_body("h@example.com"),
        )
        .await
    });
    // Wait until the server has seen the hung request, without guessing at timing.
    let state = sim.state();
    while state.stats().hung == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    sim.shutdown().await;
    let outcome = hung.await.unwrap();
    assert!(outcome.is_err(), "{outcome:?}");
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn dropping_the_handle_stops_the_server() {
    let sim = start(SimConfig::default()).await;
    let addr = sim.addr();
    drop(sim);
    // Aborting is asynchronous; the listener closes as soon as the runtime runs the task.
    let mut refused = false;
    for _ in 0..200 {
        if TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(refused);
}

#[tokio::test]
async fn invalid_configs_do_not_start() {
    let error = Simulator::start(SimConfig {
        fail_rate: 2.0,
        ..SimConfig::default()
    })
    .await
    .err()
    .expect("refused");
    assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
}
