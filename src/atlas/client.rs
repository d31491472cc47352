//! The HTTP client for the invite endpoints: one `reqwest::Client` with keep-alive connections
//! shared by every worker, versioned media types, per-request credentials from the
//! [`Authenticator`], a per-request timeout, an optional `envelope=true`, and a cap on how much
//! of an answer is read.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode, Url};

use super::auth::{Authenticator, Credentials};
use super::error::{CallError, RateHeaders, summarise_body};
use super::model::{
    ApiError, Invitation, InvitationRequest, MEDIA_TYPE_2023_01_01, MEDIA_TYPE_2025_02_19, OrgUser,
    OrgUserPage, OrgUserRequest,
};

/// Largest answer body read; anything longer is a broken answer, not something to buffer.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Which endpoint invites people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// `POST /api/atlas/v2/orgs/{orgId}/invites`, version 2023-01-01 (deprecated by Atlas).
    Invites,
    /// `POST /api/atlas/v1.0/orgs/{orgId}/invites`, plain `application/json`.
    InvitesV1,
    /// `POST /api/atlas/v2/orgs/{orgId}/users`, version 2025-02-19: the replacement.
    Users,
}

impl Api {
    /// The name used on the command line and in the journal.
    pub fn as_str(self) -> &'static str {
        match self {
            Api::Invites => "invites",
            Api::InvitesV1 => "invites-v1",
            Api::Users => "users",
        }
    }

    fn path(self, org_id: &str) -> String {
        match self {
            Api::Invites => format!("/api/atlas/v2/orgs/{org_id}/invites"),
            Api::InvitesV1 => format!("/api/atlas/v1.0/orgs/{org_id}/invites"),
            Api::Users => format!("/api/atlas/v2/orgs/{org_id}/users"),
        }
    }

    fn media_type(self) -> &'static str {
        match self {
            Api::Invites => MEDIA_TYPE_2023_01_01,
            Api::InvitesV1 => "application/json",
            Api::Users => MEDIA_TYPE_2025_02_19,
        }
    }

    /// The POST endpoint as a template, as recorded in `attempts.endpoint`.
    pub fn invite_endpoint(self) -> &'static str {
        match self {
            Api::Invites => "POST /api/atlas/v2/orgs/{orgId}/invites",
            Api::InvitesV1 => "POST /api/atlas/v1.0/orgs/{orgId}/invites",
            Api::Users => "POST /api/atlas/v2/orgs/{orgId}/users",
        }
    }

    /// The lookup endpoint as a template, as recorded in `attempts.endpoint`.
    pub fn lookup_endpoint(self) -> &'static str {
        match self {
            Api::Invites => "GET /api/atlas/v2/orgs/{orgId}/invites?username=",
            Api::InvitesV1 => "GET /api/atlas/v1.0/orgs/{orgId}/invites?username=",
            Api::Users => "GET /api/atlas/v2/orgs/{orgId}/users?username=",
        }
    }
}

/// Everything needed to build an [`AtlasClient`].
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub base_url: String,
    pub org_id: String,
    pub api: Api,
    pub credentials: Credentials,
    /// Limit of one whole request, from connecting to the last byte of the answer.
    pub timeout: Duration,
    /// Requests in flight at once, so that as many connections stay open for reuse.
    pub concurrency: usize,
    /// Send `envelope=true` and read the status from the body, for proxies that hide status
    /// codes.
    pub envelope: bool,
}

/// The client could not be built from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid base URL {url:?}: {reason}")]
    BaseUrl { url: String, reason: String },
    #[error(
        "refusing to send credentials over plain http to {host}: use https, or a loopback address for a local server"
    )]
    InsecureBaseUrl { host: String },
    #[error(
        "the base URL for {host} holds a user name or password: credentials never go in the URL \
         (nor into the journal); set MONGODB_ATLAS_ACCESS_TOKEN, or MONGODB_ATLAS_CLIENT_ID and \
         MONGODB_ATLAS_CLIENT_SECRET, or MONGODB_ATLAS_PUBLIC_API_KEY and \
         MONGODB_ATLAS_PRIVATE_API_KEY, and pass the URL without them"
    )]
    UserInfo { host: String },
    #[error("failed to build the HTTP client: {0}")]
    Build(String),
}

/// Refuses a base URL that embeds `user:password@`: it would be stored in the journal's `runs`
/// table and printed. The error names the host only.
pub fn check_base_url(base_url: &str) -> Result<(), ClientError> {
    let shown = without_userinfo(base_url);
    let url = Url::parse(base_url.trim()).map_err(|e| ClientError::BaseUrl {
        url: shown.clone(),
        reason: e.to_string(),
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ClientError::UserInfo {
            host: url.host_str().unwrap_or_default().to_owned(),
        });
    }
    Ok(())
}

/// `text` with anything between `://` and an `@` of the authority replaced by `***`, so that an
/// error about a malformed URL never repeats a password written in it.
fn without_userinfo(text: &str) -> String {
    let Some(start) = text.find("://").map(|i| i + 3) else {
        return text.to_owned();
    };
    let authority_end = text[start..]
        .find(['/', '?', '#'])
        .map_or(text.len(), |i| start + i);
    match text[start..authority_end].rfind('@') {
        Some(at) => format!("{}***{}", &text[..start], &text[start + at..]),
        None => text.to_owned(),
    }
}

/// A successful call, with what the answer's headers said about rate limits and deprecation.
#[derive(Debug, Clone)]
pub struct Answer<T> {
    pub value: T,
    pub status: u16,
    pub rate: RateHeaders,
    /// `Sunset` header: the endpoint is deprecated and stops working on this date.
    pub sunset: Option<String>,
}

impl<T> Answer<T> {
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Answer<U> {
        Answer {
            value: f(self.value),
            status: self.status,
            rate: self.rate,
            sunset: self.sunset,
        }
    }
}

/// Talks to one organization through one invite endpoint.
#[derive(Debug, Clone)]
pub struct AtlasClient {
    http: reqwest::Client,
    base: Url,
    url: Url,
    api: Api,
    org_id: String,
    envelope: bool,
    auth: Arc<Authenticator>,
    /// The `RateLimit-*` headers of the last answer from the invite endpoint's resource (the
    /// check before a run, the capacity count), for the run's rate gate: those requests spent
    /// tokens of the bucket the invitations draw from before the gate existed.
    last_rate: Arc<std::sync::Mutex<Option<RateHeaders>>>,
}

impl AtlasClient {
    /// Builds the client; fails on a malformed base URL or on plain http to a remote host.
    pub fn new(config: &ClientConfig) -> Result<AtlasClient, ClientError> {
        check_base_url(&config.base_url)?;
        let base_text = config.base_url.trim_end_matches('/');
        let shown = without_userinfo(&config.base_url);
        let base = Url::parse(base_text).map_err(|e| ClientError::BaseUrl {
            url: shown.clone(),
            reason: e.to_string(),
        })?;
        let host = base.host_str().unwrap_or_default().to_owned();
        match base.scheme() {
            "https" => {}
            "http" if is_loopback(&host) => {}
            "http" => return Err(ClientError::InsecureBaseUrl { host }),
            other => {
                return Err(ClientError::BaseUrl {
                    url: shown,
                    reason: format!("unsupported scheme {other:?}; use https://"),
                });
            }
        }
        let url = Url::parse(&format!("{base_text}{}", config.api.path(&config.org_id))).map_err(
            |e| ClientError::BaseUrl {
                url: shown.clone(),
                reason: e.to_string(),
            },
        )?;

        // The TLS backend is rustls on `ring`; installing it is idempotent, and a second
        // install (already done by an earlier client) is not an error worth reporting.
        let _ = rustls::crypto::ring::default_provider().install_default();

        let http = reqwest::Client::builder()
            .user_agent(concat!("atlas-invite/", env!("CARGO_PKG_VERSION")))
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .pool_max_idle_per_host(config.concurrency.max(1))
            // Retrying is the pipeline's job: it knows which requests are safe to send again.
            // reqwest's own layer would copy every request's headers and body in case an
            // HTTP/2 server refuses a stream; such a refusal reaches the pipeline as a lost
            // answer, which it resolves by looking the person up.
            .retry(reqwest::retry::never().max_retries_per_request(0))
            // Atlas never redirects an API call. Following one would send the person's data,
            // and the credentials of the token request, to wherever `Location` points; a 3xx
            // is instead reported as a permanent error naming it (see `redirect_error`).
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ClientError::Build(e.to_string()))?;
        Ok(AtlasClient {
            http,
            auth: Arc::new(Authenticator::new(&config.credentials, base_text)),
            last_rate: Arc::default(),
            base,
            url,
            api: config.api,
            org_id: config.org_id.clone(),
            envelope: config.envelope,
        })
    }

    /// The endpoint in use.
    pub fn api(&self) -> Api {
        self.api
    }

    /// The organization this client invites into.
    pub fn org_id(&self) -> &str {
        &self.org_id
    }

    /// The base URL every path is joined to (for `lifecycle.rs`, which builds paths with ids).
    pub(crate) fn base(&self) -> &Url {
        &self.base
    }

    /// `POST /orgs/{orgId}/invites` (or `/users`): invites one person. The answer's `id` is the
    /// invitation id (or, for the users endpoint, the pending user's id).
    pub async fn invite(
        &self,
        request: &InvitationRequest,
    ) -> Result<Answer<Invitation>, CallError> {
        let encoded = match self.api {
            Api::Users => serde_json::to_vec(&OrgUserRequest::from(request)),
            Api::Invites | Api::InvitesV1 => serde_json::to_vec(request),
        };
        let body = encoded.map_err(|e| CallError::BadAnswer {
            status: 0,
            message: format!("failed to encode the request: {e}"),
        })?;
        let answer = self
            .send(
                Method::POST,
                self.url.clone(),
                Some(bytes::Bytes::from(body)),
                self.api.media_type(),
            )
            .await?;
        let status = answer.status;
        let invitation = match self.api {
            Api::Users => {
                let user: OrgUser = parse_json(status, &answer.value)?;
                Invitation {
                    id: user.id,
                    username: user.username,
                    ..Invitation::default()
                }
            }
            Api::Invites | Api::InvitesV1 => parse_json(status, &answer.value)?,
        };
        if invitation.id.as_deref().is_none_or(str::is_empty) {
            return Err(CallError::BadAnswer {
                status,
                message: "the answer has no invitation id".into(),
            });
        }
        Ok(answer.map(|_| invitation))
    }

    /// The pending invitation (or, for the users endpoint, the pending or active user) for
    /// `email`, if any.
    pub async fn find_invitation(
        &self,
        email: &str,
    ) -> Result<Answer<Option<Invitation>>, CallError> {
        let mut url = self.url.clone();
        url.query_pairs_mut().append_pair("username", email);
        let answer = self
            .send(Method::GET, url, None, self.api.media_type())
            .await?;
        let status = answer.status;
        let matches =
            |u: &Option<String>| u.as_deref().is_some_and(|u| u.eq_ignore_ascii_case(email));
        let found = match self.api {
            Api::Users => {
                let page: OrgUserPage = parse_json(status, &answer.value)?;
                page.results
                    .into_iter()
                    .find(|u| matches(&u.username))
                    .map(|u| Invitation {
                        id: u.id,
                        username: u.username,
                        ..Invitation::default()
                    })
            }
            Api::Invites | Api::InvitesV1 => {
                let list: Vec<Invitation> = parse_json(status, &answer.value)?;
                list.into_iter().find(|inv| matches(&inv.username))
            }
        };
        Ok(answer.map(|_| found))
    }

    /// A GET on `path` (relative to the base URL) with `query`, in `media_type`; the answer's
    /// body as bytes. Used for harmless checks and listings.
    pub async fn get(
        &self,
        path: &str,
        query: &[(&str, &str)],
        media_type: &str,
    ) -> Result<Answer<Vec<u8>>, CallError> {
        let mut url = self.base.join(path).map_err(|e| CallError::BadAnswer {
            status: 0,
            message: format!("invalid path {path}: {e}"),
        })?;
        for (name, value) in query {
            url.query_pairs_mut().append_pair(name, value);
        }
        self.send(Method::GET, url, None, media_type).await
    }

    /// Sends one request, authenticating it; on a 401 it lets the authenticator renew a token
    /// or answer a Digest challenge and sends once more.
    pub(crate) async fn send(
        &self,
        method: Method,
        mut url: Url,
        body: Option<bytes::Bytes>,
        media_type: &str,
    ) -> Result<Answer<Vec<u8>>, CallError> {
        if self.envelope {
            url.query_pairs_mut().append_pair("envelope", "true");
        }
        let path_and_query = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        // A Digest key may need one unauthenticated request to get its first challenge, then
        // the signed one; a token may need one renewal. Three tries cover both.
        let mut tries = 0;
        loop {
            tries += 1;
            let auth = self
                .auth
                .authorize(&self.http, &method, &path_and_query)
                .await?;
            let mut builder = self
                .http
                .request(method.clone(), url.clone())
                .header(ACCEPT, media_type);
            if let Some(value) = &auth.value {
                builder = builder.header(AUTHORIZATION, value.clone());
            }
            if let Some(body) = &body {
                builder = builder.header(CONTENT_TYPE, media_type).body(body.clone());
            }
            let (status, meta, bytes) = self.receive(builder).await?;
            if status.is_redirection() {
                return Err(redirect_error(
                    status.as_u16(),
                    meta.location.as_deref(),
                    &url,
                ));
            }
            if status == StatusCode::UNAUTHORIZED
                && tries < 3
                && self.auth.unauthorized(&auth, &meta.challenges).await
            {
                continue;
            }
            if status.is_success() {
                return Ok(Answer {
                    value: bytes,
                    status: status.as_u16(),
                    rate: meta.rate,
                    sunset: meta.sunset,
                });
            }
            return Err(status_error(status, meta, &bytes));
        }
    }

    /// What the last answer from the invite endpoint's resource said of its rate limit.
    pub fn last_rate_headers(&self) -> Option<RateHeaders> {
        self.last_rate
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Sends the request and reads the answer, unwrapping an envelope when one was asked for.
    async fn receive(
        &self,
        builder: reqwest::RequestBuilder,
    ) -> Result<(StatusCode, Meta, Vec<u8>), CallError> {
        let mut response = builder.send().await.map_err(transport_error)?;
        let status = response.status();
        let meta = Meta::read(status, response.headers());
        if meta.rate.remaining.is_some() && response.url().path().starts_with(self.url.path()) {
            *self
                .last_rate
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(meta.rate.clone());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(CallError::BadAnswer {
                    status: status.as_u16(),
                    message: format!("the answer is larger than {MAX_BODY_BYTES} bytes"),
                });
            }
            body.extend_from_slice(&chunk);
        }
        if self.envelope && status == StatusCode::OK {
            return unwrap_envelope(&body).map(|(status, content)| (status, meta, content));
        }
        Ok((status, meta, body))
    }
}

/// What the client needs from an answer's headers, read once before the body.
struct Meta {
    rate: RateHeaders,
    sunset: Option<String>,
    error_code_header: Option<String>,
    /// `WWW-Authenticate` challenges, kept only for a 401.
    challenges: Vec<String>,
    /// `Location`, kept only for a 3xx.
    location: Option<String>,
}

impl Meta {
    fn read(status: StatusCode, headers: &HeaderMap) -> Meta {
        let challenges = if status == StatusCode::UNAUTHORIZED {
            headers
                .get_all(WWW_AUTHENTICATE)
                .iter()
                .filter_map(|v| v.to_str().ok().map(str::to_owned))
                .collect()
        } else {
            Vec::new()
        };
        Meta {
            rate: rate_headers(headers),
            sunset: header_text(headers, "sunset"),
            error_code_header: header_text(headers, "x-error-code"),
            challenges,
            location: status
                .is_redirection()
                .then(|| header_text(headers, "location"))
                .flatten(),
        }
    }
}

/// `{"status": N, "content": …}` → (N, content). A body without an envelope is a broken answer:
/// its real status is unknown.
fn unwrap_envelope(body: &[u8]) -> Result<(StatusCode, Vec<u8>), CallError> {
    #[derive(serde::Deserialize)]
    struct Envelope {
        status: u16,
        #[serde(default)]
        content: serde_json::Value,
    }
    let envelope: Envelope = serde_json::from_slice(body).map_err(|e| CallError::BadAnswer {
        status: 200,
        message: format!(
            "expected an envelope with status and content ({e}): {}",
            summarise_body(body)
        ),
    })?;
    let status = StatusCode::from_u16(envelope.status).map_err(|_| CallError::BadAnswer {
        status: 200,
        message: format!(
            "the envelope's status {} is not an HTTP status",
            envelope.status
        ),
    })?;
    let content = serde_json::to_vec(&envelope.content).unwrap_or_default();
    Ok((status, content))
}

fn status_error(status: StatusCode, meta: Meta, body: &[u8]) -> CallError {
    let api = serde_json::from_slice::<ApiError>(body)
        .ok()
        .filter(|e| !e.error_code.is_empty() || e.detail.is_some())
        .map(Box::new);
    let body = if api.is_some() {
        String::new()
    } else {
        summarise_body(body)
    };
    CallError::Status {
        status: status.as_u16(),
        api,
        body,
        error_code_header: meta.error_code_header,
        rate: meta.rate,
    }
}

/// A 3xx answer: a permanent error naming where it pointed, never followed. The target is shown
/// without user information, query or fragment (which could carry secrets), resolved against
/// the request's own URL when relative.
pub(crate) fn redirect_error(status: u16, location: Option<&str>, request: &Url) -> CallError {
    let target = match location.map(str::trim).filter(|l| !l.is_empty()) {
        None => "no Location".to_owned(),
        Some(location) => match request.join(location) {
            Ok(mut url) => {
                let _ = url.set_username("");
                let _ = url.set_password(None);
                url.set_query(None);
                url.set_fragment(None);
                summarise_body(url.as_str().as_bytes())
            }
            Err(_) => summarise_body(location.as_bytes()),
        },
    };
    CallError::Status {
        status,
        api: None,
        body: format!(
            "Atlas answered HTTP {status} redirecting to {target}; API calls are never \
             redirected, so nothing was sent there — check --base-url"
        ),
        error_code_header: None,
        rate: RateHeaders::default(),
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(status: u16, body: &[u8]) -> Result<T, CallError> {
    serde_json::from_slice(body).map_err(|e| CallError::BadAnswer {
        status,
        message: if body.is_empty() {
            "the answer is empty".into()
        } else {
            format!(
                "the answer is not the expected JSON ({e}): {}",
                summarise_body(body)
            )
        },
    })
}

/// Sorts a transport failure by whether the request can have reached Atlas.
fn transport_error(e: reqwest::Error) -> CallError {
    let text = error_chain(&e);
    if e.is_connect() {
        CallError::NotSent(text)
    } else if e.is_timeout() {
        CallError::NoAnswer(format!("timed out: {text}"))
    } else {
        CallError::NoAnswer(text)
    }
}

/// The error with its sources, which is where hyper says "connection closed before message
/// completed" and the like.
fn error_chain(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

fn rate_headers(headers: &HeaderMap) -> RateHeaders {
    let number = |name: &str| header_text(headers, name).and_then(|v| v.trim().parse::<u64>().ok());
    RateHeaders {
        retry_after: number("retry-after").map(Duration::from_secs),
        limit: number("ratelimit-limit"),
        remaining: number("ratelimit-remaining"),
    }
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atlas::auth::Secret;

    fn config(base: &str) -> ClientConfig {
        ClientConfig {
            base_url: base.into(),
            org_id: "5f1e2d3c4b5a697887766554".into(),
            api: Api::Invites,
            credentials: Credentials::AccessToken(Secret::new("t")),
            timeout: Duration::from_secs(5),
            concurrency: 4,
            envelope: false,
        }
    }

    #[test]
    fn plain_http_is_refused_except_to_loopback() {
        assert!(AtlasClient::new(&config("http://127.0.0.1:8080")).is_ok());
        assert!(AtlasClient::new(&config("http://localhost:1")).is_ok());
        assert!(AtlasClient::new(&config("http://[::1]:1")).is_ok());
        assert!(AtlasClient::new(&config("https://cloud.mongodb.com")).is_ok());
        let err = AtlasClient::new(&config("http://cloud.mongodb.com")).unwrap_err();
        assert!(matches!(err, ClientError::InsecureBaseUrl { .. }), "{err}");
        assert!(AtlasClient::new(&config("ftp://x")).is_err());
        assert!(AtlasClient::new(&config("not a url")).is_err());
    }

    #[test]
    fn user_names_and_passwords_in_the_base_url_are_refused_without_repeating_them() {
        for url in [
            "http://user:s3cret@127.0.0.1:8080",
            "https://user@cloud.mongodb.com",
            "https://:s3cret@cloud.mongodb.com/",
        ] {
            let err = AtlasClient::new(&config(url)).unwrap_err();
            assert!(matches!(err, ClientError::UserInfo { .. }), "{url}: {err}");
            assert!(!err.to_string().contains("s3cret"), "{err}");
            assert!(!err.to_string().contains("user@"), "{err}");
        }
        let err = check_base_url("http://u:s3cret@host:notaport").unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
        assert_eq!(without_userinfo("https://a:b@h/x@y"), "https://***@h/x@y");
        assert_eq!(without_userinfo("https://h/x@y"), "https://h/x@y");
    }

    #[test]
    fn endpoints_follow_the_chosen_api() {
        let client = AtlasClient::new(&config("https://cloud.mongodb.com/")).unwrap();
        assert_eq!(
            client.url.as_str(),
            "https://cloud.mongodb.com/api/atlas/v2/orgs/5f1e2d3c4b5a697887766554/invites"
        );
        let mut v1 = config("https://cloud.mongodb.com");
        v1.api = Api::InvitesV1;
        let client = AtlasClient::new(&v1).unwrap();
        assert!(client.url.as_str().contains("/api/atlas/v1.0/orgs/"));
        let mut users = config("https://cloud.mongodb.com");
        users.api = Api::Users;
        let client = AtlasClient::new(&users).unwrap();
        assert!(client.url.as_str().ends_with("/users"));
    }

    /// Serves one canned raw answer to every connection on 127.0.0.1, or none at all.
    async fn raw_server(answer: Option<Vec<u8>>) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let answer = answer.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    let _ = socket.read(&mut buf).await;
                    match answer {
                        Some(bytes) => {
                            let _ = socket.write_all(&bytes).await;
                        }
                        // Accept, read, and never answer.
                        None => tokio::time::sleep(Duration::from_secs(3600)).await,
                    }
                });
            }
        });
        format!("http://{addr}")
    }

    fn request() -> InvitationRequest {
        InvitationRequest {
            username: "a@example.com".into(),
            roles: vec![crate::atlas::model::OrgRole::OrgMember],
            team_ids: vec![],
            group_role_assignments: vec![],
        }
    }

    #[tokio::test]
    async fn a_server_that_never_answers_times_out_as_unknown() {
        let base = raw_server(None).await;
        let mut cfg = config(&base);
        cfg.timeout = Duration::from_millis(300);
        let client = AtlasClient::new(&cfg).unwrap();
        let err = client.invite(&request()).await.unwrap_err();
        assert!(matches!(err, CallError::NoAnswer(_)), "{err}");
        assert_eq!(err.class(), crate::atlas::error::ErrorClass::Unknown);
        assert!(err.to_string().contains("timed out"), "{err}");
    }

    #[tokio::test]
    async fn a_huge_body_is_refused_without_buffering_it() {
        let mut answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            4 * MAX_BODY_BYTES
        )
        .into_bytes();
        answer.extend(std::iter::repeat_n(b' ', 4 * MAX_BODY_BYTES));
        let base = raw_server(Some(answer)).await;
        let client = AtlasClient::new(&config(&base)).unwrap();
        let err = client.invite(&request()).await.unwrap_err();
        assert!(
            matches!(&err, CallError::BadAnswer { message, .. } if message.contains("larger than")),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_refused_connection_is_not_sent() {
        // Bind then drop, so the port is (almost certainly) closed.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let client = AtlasClient::new(&config(&format!("http://127.0.0.1:{port}"))).unwrap();
        let err = client.invite(&request()).await.unwrap_err();
        assert!(matches!(err, CallError::NotSent(_)), "{err}");
    }

    #[tokio::test]
    async fn an_error_answer_keeps_status_code_and_headers() {
        let body = r#"{"error":429,"errorCode":"RATE_LIMITED_TOKEN_BUCKET","detail":"Please retry after 4 seconds."}"#;
        let answer = format!(
            "HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\nretry-after: 2\r\nratelimit-limit: 10\r\nratelimit-remaining: 0\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        let base = raw_server(Some(answer.into_bytes())).await;
        let client = AtlasClient::new(&config(&base)).unwrap();
        let err = client.invite(&request()).await.unwrap_err();
        let CallError::Status { status, rate, .. } = &err else {
            panic!("{err}");
        };
        assert_eq!(*status, 429);
        assert_eq!(rate.retry_after, Some(Duration::from_secs(2)));
        assert_eq!(rate.limit, Some(10));
        assert_eq!(rate.remaining, Some(0));
        assert_eq!(err.error_code(), Some("RATE_LIMITED_TOKEN_BUCKET"));
    }

    #[tokio::test]
    async fn redirects_are_permanent_errors_naming_the_target() {
        for code in [301, 302, 303, 307, 308] {
            let answer = format!(
                "HTTP/1.1 {code} Moved\r\nlocation: https://user:pw@elsewhere.example/x?token=t\r\ncontent-length: 0\r\n\r\n"
            );
            let base = raw_server(Some(answer.into_bytes())).await;
            let client = AtlasClient::new(&config(&base)).unwrap();
            let err = client.invite(&request()).await.unwrap_err();
            assert_eq!(err.http_status(), Some(code));
            assert_eq!(err.class(), crate::atlas::error::ErrorClass::Permanent);
            let text = err.to_string();
            assert!(
                text.contains("redirecting to https://elsewhere.example/x;"),
                "{text}"
            );
            assert!(text.contains("never redirected"), "{text}");
            assert!(!text.contains("pw") && !text.contains("token=t"), "{text}");
        }
    }

    #[test]
    fn non_json_error_bodies_are_summarised() {
        let meta = Meta::read(StatusCode::BAD_GATEWAY, &HeaderMap::new());
        let e = status_error(
            StatusCode::BAD_GATEWAY,
            meta,
            b"<html><body><h1>502 Bad Gateway</h1></body></html>",
        );
        assert_eq!(
            e.to_string(),
            "HTTP 502 (an HTML page from a proxy: \"Bad Gateway\")"
        );
        assert_eq!(e.error_code(), None);
    }
}
