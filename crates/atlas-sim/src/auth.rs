//! The credentials the simulator accepts, as Atlas does: bearer tokens (a configured one, or
//! any non-empty one), short-lived access tokens it issues to service accounts through
//! `POST /api/oauth/token` (client credentials flow), and HTTP Digest for programmatic API keys.
//!
//! What is checked here: who the caller is. What a caller may do is not modelled: every
//! authenticated caller is an Organization Owner.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::json;

use super::state::{SimState, bump};

/// Realm of the Digest challenge, as Atlas names it.
pub(crate) const DIGEST_REALM: &str = "MMS Public API";
/// Prefix of the access tokens the simulator issues, so they can be told from static ones.
const ISSUED_PREFIX: &str = "sim-oauth-";

/// What the simulator remembers about credentials it handed out.
#[derive(Default)]
pub(crate) struct AuthBook {
    /// Issued access tokens and when each expires.
    issued: HashMap<String, Instant>,
    /// Digest nonces handed out in challenges and still valid.
    nonces: HashSet<String>,
    serial: u64,
}

/// Why a request was refused, and the challenge to answer it with.
pub(crate) struct Denial {
    pub(crate) detail: &'static str,
}

/// Counts tokens issued, for tests that check one refresh serves every worker.
#[derive(Default)]
pub(crate) struct AuthCounters {
    pub(crate) tokens_issued: AtomicU64,
}

impl SimState {
    /// Identifies the caller of an API request; the identity keys its rate-limit bucket.
    pub(crate) fn authenticate(
        &self,
        method: &Method,
        path_and_query: &str,
        headers: &HeaderMap,
    ) -> Result<String, Denial> {
        let value = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .unwrap_or_default();
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        let rest = rest.trim();
        if scheme.eq_ignore_ascii_case("bearer") && !rest.is_empty() {
            return self.check_bearer(rest);
        }
        if scheme.eq_ignore_ascii_case("digest") {
            return self.check_digest(method, path_and_query, value);
        }
        Err(Denial {
            detail: "You are not authorized for this resource: send an access token as \
                     Authorization: Bearer <token>, or use HTTP Digest with an API key.",
        })
    }

    fn check_bearer(&self, token: &str) -> Result<String, Denial> {
        if let Some(expires) = self.auth_book().issued.get(token).copied() {
            return if Instant::now() < expires {
                Ok(token.to_owned())
            } else {
                Err(Denial {
                    detail: "The access token has expired: request a new one from /api/oauth/token.",
                })
            };
        }
        if token.starts_with(ISSUED_PREFIX) {
            return Err(Denial {
                detail: "The access token is not valid.",
            });
        }
        if self.token_accepted(token) {
            Ok(token.to_owned())
        } else {
            Err(Denial {
                detail: "The access token is not valid.",
            })
        }
    }

    fn check_digest(
        &self,
        method: &Method,
        path_and_query: &str,
        value: &str,
    ) -> Result<String, Denial> {
        let invalid = Denial {
            detail: "The digest credentials are not valid.",
        };
        let Ok(sent) = digest_auth::AuthorizationHeader::parse(value) else {
            return Err(invalid);
        };
        let Some((_, private)) = self
            .config()
            .api_keys
            .iter()
            .find(|(public, _)| *public == sent.username)
        else {
            return Err(invalid);
        };
        if !self.auth_book().nonces.contains(&sent.nonce) {
            return Err(Denial {
                detail: "The digest nonce is unknown or stale: answer the new challenge.",
            });
        }
        if sent.uri != path_and_query {
            return Err(invalid);
        }
        let context = digest_auth::AuthContext::new_with_method(
            sent.username.as_str(),
            private.as_str(),
            sent.uri.as_str(),
            Option::<&[u8]>::None,
            digest_auth::HttpMethod::from(method.as_str()),
        );
        let mut expected = sent.clone();
        expected.digest(&context);
        if expected.response == sent.response {
            Ok(sent.username)
        } else {
            Err(invalid)
        }
    }

    /// A fresh Digest challenge. Its nonce stays valid, so clients can sign later requests
    /// with it (incrementing `nc`) instead of paying a 401 round trip each time.
    pub(crate) fn digest_challenge(&self) -> String {
        let mut book = self.auth_book();
        book.serial += 1;
        let nonce = format!("simnonce{:016x}{:08x}", fastrand::u64(..), book.serial);
        book.nonces.insert(nonce.clone());
        format!(
            "Digest realm=\"{DIGEST_REALM}\", domain=\"\", nonce=\"{nonce}\", algorithm=MD5, qop=\"auth\", stale=false"
        )
    }

    /// Issues an access token when `client_id`/`secret` name a configured service account.
    fn issue_token(&self, client_id: &str, secret: &str) -> Option<(String, Duration)> {
        let known = self
            .config()
            .service_accounts
            .iter()
            .any(|(id, s)| id == client_id && s == secret);
        if !known {
            return None;
        }
        let ttl = self.config().token_ttl;
        let mut book = self.auth_book();
        book.serial += 1;
        let token = format!(
            "{ISSUED_PREFIX}{:016x}{:08x}",
            fastrand::u64(..),
            book.serial
        );
        book.issued.insert(token.clone(), Instant::now() + ttl);
        bump(&self.auth_counters.tokens_issued);
        Some((token, ttl))
    }

    /// Expires every access token issued so far, as a revocation in Atlas would; the next
    /// request with one of them answers 401.
    pub fn revoke_tokens(&self) {
        let now = Instant::now();
        for expiry in self.auth_book().issued.values_mut() {
            *expiry = now;
        }
    }

    /// Access tokens issued so far.
    pub fn tokens_issued(&self) -> u64 {
        self.auth_counters.tokens_issued.load(Ordering::Relaxed)
    }
}

/// The 401 answer to an unauthenticated API request: an `ApiError` body, and both a Bearer
/// and a Digest challenge, as Atlas offers both.
pub(crate) fn unauthorized(sim: &SimState, detail: &str) -> Response {
    let body = json!({
        "error": 401,
        "errorCode": "UNAUTHORIZED",
        "detail": detail,
        "reason": "Unauthorized",
    });
    let mut response = (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
    let headers = response.headers_mut();
    if let Ok(challenge) = HeaderValue::from_str(&sim.digest_challenge()) {
        headers.append(header::WWW_AUTHENTICATE, challenge);
    }
    headers.append(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"MongoDB Atlas\""),
    );
    response
}

/// `POST /api/oauth/token`: the OAuth 2.0 client credentials flow of service accounts.
pub(crate) async fn oauth_token(State(sim): State<Arc<SimState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let oauth_error = |status: StatusCode, error: &str, description: &str| {
        (
            status,
            axum::Json(json!({"error": error, "error_description": description})),
        )
            .into_response()
    };
    if parts.method != Method::POST {
        return oauth_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            "use POST",
        );
    }
    let Some((client_id, secret)) = basic_credentials(&parts.headers) else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "send the client id and secret with HTTP Basic authentication",
        );
    };
    let form = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let grant = form
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == "grant_type")
        .map(|(_, v)| v.to_owned());
    if grant.as_deref() != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be client_credentials",
        );
    }
    match sim.issue_token(&client_id, &secret) {
        Some((token, ttl)) => axum::Json(json!({
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": ttl.as_secs().max(1),
        }))
        .into_response(),
        None => oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client id or wrong secret",
        ),
    }
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

impl SimState {
    fn auth_book(&self) -> std::sync::MutexGuard<'_, AuthBook> {
        self.auth
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
