//! Credentials for the Atlas Administration API, read from the environment, and the
//! [`Authenticator`] that turns them into an `Authorization` header for each request.
//!
//! Three kinds, with the same variable names and precedence as the Atlas CLI and the Terraform
//! provider: an access token, then a service account (OAuth client credentials), then a
//! programmatic API key (HTTP Digest). Secrets are wrapped in [`Secret`], whose `Debug` and
//! `Display` never show the value, so they cannot leak through logs, errors or panics.

use std::fmt;
use std::time::{Duration, Instant};

use reqwest::header::HeaderValue;
use serde::Deserialize;

use super::error::{CallError, RateHeaders};
use super::model::ApiError;

/// Environment variable holding a bearer access token.
pub const ACCESS_TOKEN_VAR: &str = "MONGODB_ATLAS_ACCESS_TOKEN";
/// Service account client id.
pub const CLIENT_ID_VAR: &str = "MONGODB_ATLAS_CLIENT_ID";
/// Service account client secret.
pub const CLIENT_SECRET_VAR: &str = "MONGODB_ATLAS_CLIENT_SECRET";
/// Programmatic API key, public part (the Atlas CLI's name; `MONGODB_ATLAS_PUBLIC_KEY` too).
pub const PUBLIC_KEY_VARS: [&str; 2] = ["MONGODB_ATLAS_PUBLIC_API_KEY", "MONGODB_ATLAS_PUBLIC_KEY"];
/// Programmatic API key, private part (`MONGODB_ATLAS_PRIVATE_KEY` too).
pub const PRIVATE_KEY_VARS: [&str; 2] =
    ["MONGODB_ATLAS_PRIVATE_API_KEY", "MONGODB_ATLAS_PRIVATE_KEY"];

/// A service-account token is renewed this long before it expires, so that no request goes out
/// with a token about to lapse.
const RENEW_MARGIN: Duration = Duration::from_secs(60);

/// A credential value that must never be printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself, for building the one header that carries it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How requests authenticate.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// `Authorization: Bearer <token>`.
    AccessToken(Secret),
    /// A service account: access tokens from `POST /api/oauth/token`.
    ServiceAccount {
        client_id: String,
        client_secret: Secret,
    },
    /// A programmatic API key, sent with HTTP Digest authentication.
    ApiKey {
        public_key: String,
        private_key: Secret,
    },
}

/// No usable credentials were found.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CredentialsError {
    #[error(
        "no Atlas credentials: set {ACCESS_TOKEN_VAR}, or {CLIENT_ID_VAR} and {CLIENT_SECRET_VAR} of a service account, or MONGODB_ATLAS_PUBLIC_API_KEY and MONGODB_ATLAS_PRIVATE_API_KEY of an API key, with the Organization Owner role, or keep them in an Atlas CLI profile (--profile NAME, else the `default` profile is read)"
    )]
    Missing,
    #[error("{set} is set but {missing} is not: set both, or use another kind of credentials")]
    Incomplete {
        set: &'static str,
        missing: &'static str,
    },
}

impl Credentials {
    /// Reads credentials from the process environment.
    pub fn from_env() -> Result<Credentials, CredentialsError> {
        Credentials::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads credentials through `lookup`, so tests need not touch the process environment.
    /// Blank values count as unset.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Credentials, CredentialsError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let first = |names: [&'static str; 2]| {
            names
                .into_iter()
                .find_map(|name| get(name).map(|v| (name, v)))
        };
        if let Some(token) = get(ACCESS_TOKEN_VAR) {
            return Ok(Credentials::AccessToken(Secret::new(token)));
        }
        match (get(CLIENT_ID_VAR), get(CLIENT_SECRET_VAR)) {
            (Some(client_id), Some(secret)) => {
                return Ok(Credentials::ServiceAccount {
                    client_id,
                    client_secret: Secret::new(secret),
                });
            }
            (Some(_), None) => {
                return Err(CredentialsError::Incomplete {
                    set: CLIENT_ID_VAR,
                    missing: CLIENT_SECRET_VAR,
                });
            }
            (None, Some(_)) => {
                return Err(CredentialsError::Incomplete {
                    set: CLIENT_SECRET_VAR,
                    missing: CLIENT_ID_VAR,
                });
            }
            (None, None) => {}
        }
        match (first(PUBLIC_KEY_VARS), first(PRIVATE_KEY_VARS)) {
            (Some((_, public_key)), Some((_, private_key))) => Ok(Credentials::ApiKey {
                public_key,
                private_key: Secret::new(private_key),
            }),
            (Some((set, _)), None) => Err(CredentialsError::Incomplete {
                set,
                missing: PRIVATE_KEY_VARS[0],
            }),
            (None, Some((set, _))) => Err(CredentialsError::Incomplete {
                set,
                missing: PUBLIC_KEY_VARS[0],
            }),
            (None, None) => Err(CredentialsError::Missing),
        }
    }

    /// What kind of credentials these are, safe to print: never the secret, only the public
    /// half (the client id, the public key) that names them in Atlas.
    pub fn describe(&self) -> String {
        match self {
            Credentials::AccessToken(_) => "access token".to_owned(),
            Credentials::ServiceAccount { client_id, .. } => {
                format!("service account {client_id}")
            }
            Credentials::ApiKey { public_key, .. } => format!("API key {public_key} (HTTP Digest)"),
        }
    }
}

/// An access token issued to a service account.
struct IssuedToken {
    token: Secret,
    renew_at: Instant,
    /// Counts renewals, so that a 401 seen by many workers renews once.
    generation: u64,
}

/// The token endpoint's answer.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// The token endpoint's error body (`{"error": "invalid_client", "error_description": …}`).
#[derive(Deserialize)]
struct TokenError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

enum Kind {
    Bearer(Secret),
    ServiceAccount {
        client_id: String,
        client_secret: Secret,
        token_url: String,
        token: tokio::sync::Mutex<Option<IssuedToken>>,
    },
    Digest {
        public_key: String,
        private_key: Secret,
        /// The last challenge: reused, with `nc` counting up, so that a request costs one round
        /// trip, not two.
        challenge: std::sync::Mutex<Option<digest_auth::WwwAuthenticateHeader>>,
    },
}

/// Produces the `Authorization` header of each request, shared by every worker.
pub struct Authenticator {
    kind: Kind,
}

/// An `Authorization` value and the token generation it came from.
pub(crate) struct Authorization {
    pub(crate) value: Option<HeaderValue>,
    generation: u64,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Authenticator(***)")
    }
}

impl Authenticator {
    /// An authenticator for `credentials` against the Atlas at `base_url`.
    pub fn new(credentials: &Credentials, base_url: &str) -> Authenticator {
        let kind = match credentials.clone() {
            Credentials::AccessToken(token) => Kind::Bearer(token),
            Credentials::ServiceAccount {
                client_id,
                client_secret,
            } => Kind::ServiceAccount {
                client_id,
                client_secret,
                token_url: format!("{}/api/oauth/token", base_url.trim_end_matches('/')),
                token: tokio::sync::Mutex::new(None),
            },
            Credentials::ApiKey {
                public_key,
                private_key,
            } => Kind::Digest {
                public_key,
                private_key,
                challenge: std::sync::Mutex::new(None),
            },
        };
        Authenticator { kind }
    }

    /// The header for a request. `None` as value means: send without credentials to obtain a
    /// Digest challenge first.
    pub(crate) async fn authorize(
        &self,
        http: &reqwest::Client,
        method: &reqwest::Method,
        path_and_query: &str,
    ) -> Result<Authorization, CallError> {
        match &self.kind {
            Kind::Bearer(token) => Ok(Authorization {
                value: Some(bearer(token)?),
                generation: 0,
            }),
            Kind::ServiceAccount {
                client_id,
                client_secret,
                token_url,
                token,
            } => {
                // The lock makes renewal single-flight: workers arriving while one renews wait
                // for its token instead of each asking for their own.
                let mut slot = token.lock().await;
                let fresh = slot.as_ref().is_some_and(|t| Instant::now() < t.renew_at);
                if !fresh {
                    let generation = slot.as_ref().map_or(1, |t| t.generation + 1);
                    let issued = fetch_token(http, token_url, client_id, client_secret).await?;
                    *slot = Some(IssuedToken {
                        generation,
                        ..issued
                    });
                }
                let issued = slot.as_ref().expect("a token was just stored");
                Ok(Authorization {
                    value: Some(bearer(&issued.token)?),
                    generation: issued.generation,
                })
            }
            Kind::Digest {
                public_key,
                private_key,
                challenge,
            } => {
                let mut slot = challenge.lock().unwrap_or_else(|e| e.into_inner());
                let Some(prompt) = slot.as_mut() else {
                    return Ok(Authorization {
                        value: None,
                        generation: 0,
                    });
                };
                let context = digest_auth::AuthContext::new_with_method(
                    public_key.as_str(),
                    private_key.expose(),
                    path_and_query,
                    Option::<&[u8]>::None,
                    digest_auth::HttpMethod::from(method.as_str()),
                );
                let answer = prompt.respond(&context).map_err(|e| CallError::BadAnswer {
                    status: 401,
                    message: format!("could not answer the digest challenge: {e}"),
                })?;
                let mut value =
                    HeaderValue::from_str(&answer.to_header_string()).map_err(|_| {
                        CallError::BadAnswer {
                            status: 401,
                            message: "the digest answer is not a valid header".into(),
                        }
                    })?;
                value.set_sensitive(true);
                Ok(Authorization {
                    value: Some(value),
                    generation: 0,
                })
            }
        }
    }

    /// Learns from a 401. Returns true when sending again may succeed: a renewed service-account
    /// token (renewed once, however many workers saw the 401), or a new Digest challenge.
    pub(crate) async fn unauthorized(&self, used: &Authorization, challenges: &[String]) -> bool {
        match &self.kind {
            Kind::Bearer(_) => false,
            Kind::ServiceAccount { token, .. } => {
                let mut slot = token.lock().await;
                if let Some(current) = slot.as_mut()
                    && current.generation == used.generation
                {
                    // Renew on the next request; later 401s for this generation see a newer
                    // token already and do not renew again.
                    current.renew_at = Instant::now();
                }
                true
            }
            Kind::Digest { challenge, .. } => {
                let parsed = challenges
                    .iter()
                    .filter(|c| c.trim_start().to_ascii_lowercase().starts_with("digest"))
                    .find_map(|c| digest_auth::parse(c).ok());
                let mut slot = challenge.lock().unwrap_or_else(|e| e.into_inner());
                match parsed {
                    // A signed request refused with the same nonce means wrong keys: stop.
                    Some(new)
                        if used.value.is_none()
                            || new.stale
                            || slot.as_ref().is_none_or(|old| old.nonce != new.nonce) =>
                    {
                        *slot = Some(new);
                        true
                    }
                    _ => false,
                }
            }
        }
    }
}

fn bearer(token: &Secret) -> Result<HeaderValue, CallError> {
    let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| {
        CallError::BadAnswer {
            status: 0,
            message: "the access token contains characters not allowed in a header".into(),
        }
    })?;
    // Marks the value so that reqwest and hyper never print it.
    value.set_sensitive(true);
    Ok(value)
}

/// `POST /api/oauth/token` with the client credentials flow.
async fn fetch_token(
    http: &reqwest::Client,
    token_url: &str,
    client_id: &str,
    client_secret: &Secret,
) -> Result<IssuedToken, CallError> {
    let response = http
        .post(token_url)
        .basic_auth(client_id, Some(client_secret.expose()))
        .header(reqwest::header::ACCEPT, "application/json")
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body("grant_type=client_credentials")
        .send()
        .await
        .map_err(|e| {
            if e.is_connect() {
                CallError::NotSent(format!("token request: {e}"))
            } else {
                CallError::NoAnswer(format!("token request: {e}"))
            }
        })?;
    let status = response.status().as_u16();
    if response.status().is_redirection() {
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok());
        return Err(super::client::redirect_error(
            status,
            location,
            response.url(),
        ));
    }
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .map(Duration::from_secs);
    let body = response
        .bytes()
        .await
        .map_err(|e| CallError::NoAnswer(format!("token request: {e}")))?;
    if (200..300).contains(&status) {
        let answer: TokenAnswer =
            serde_json::from_slice(&body).map_err(|e| CallError::BadAnswer {
                status,
                message: format!("the token endpoint's answer is not a token: {e}"),
            })?;
        let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(3600));
        // Renew a minute early; for very short-lived tokens, after three quarters of their life.
        let renew_after = if lifetime > RENEW_MARGIN * 2 {
            lifetime - RENEW_MARGIN
        } else {
            lifetime * 3 / 4
        };
        return Ok(IssuedToken {
            token: Secret::new(answer.access_token),
            renew_at: Instant::now() + renew_after,
            generation: 0,
        });
    }
    let error: Option<TokenError> = serde_json::from_slice(&body).ok();
    let (code, detail) = match error {
        Some(e) => (
            format!("OAUTH_{}", e.error.to_ascii_uppercase()),
            e.error_description.unwrap_or(e.error),
        ),
        None => (String::new(), super::error::summarise_body(&body)),
    };
    // A refused client is an authentication failure of the whole run, like a 401 from the API.
    let status = if status == 400 && code == "OAUTH_INVALID_CLIENT" {
        401
    } else {
        status
    };
    Err(CallError::Status {
        status,
        api: Some(Box::new(ApiError::new(
            status,
            &code,
            format!("the service account could not get an access token: {detail}"),
        ))),
        body: String::new(),
        error_code_header: None,
        rate: RateHeaders {
            retry_after,
            ..RateHeaders::default()
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn secrets_never_print() {
        let creds = Credentials::AccessToken(Secret::new("tok-123"));
        assert!(!format!("{creds:?}").contains("tok-123"));
        let sa = Credentials::ServiceAccount {
            client_id: "mdb_sa_id".into(),
            client_secret: Secret::new("sa-secret"),
        };
        assert!(!format!("{sa:?}").contains("sa-secret"));
        assert!(!sa.describe().contains("sa-secret"));
        assert_eq!(Secret::new("tok-123").to_string(), "***");
    }

    #[test]
    fn missing_credentials_name_every_variable() {
        let err = Credentials::from_lookup(lookup(&[(ACCESS_TOKEN_VAR, "  ")])).unwrap_err();
        let text = err.to_string();
        for var in [
            ACCESS_TOKEN_VAR,
            CLIENT_ID_VAR,
            "MONGODB_ATLAS_PRIVATE_API_KEY",
        ] {
            assert!(text.contains(var), "{text}");
        }
    }

    #[test]
    fn precedence_is_token_then_service_account_then_api_key() {
        let all = [
            (ACCESS_TOKEN_VAR, "tok"),
            (CLIENT_ID_VAR, "id"),
            (CLIENT_SECRET_VAR, "secret"),
            ("MONGODB_ATLAS_PUBLIC_API_KEY", "pub"),
            ("MONGODB_ATLAS_PRIVATE_API_KEY", "priv"),
        ];
        assert!(matches!(
            Credentials::from_lookup(lookup(&all)).unwrap(),
            Credentials::AccessToken(_)
        ));
        assert!(matches!(
            Credentials::from_lookup(lookup(&all[1..])).unwrap(),
            Credentials::ServiceAccount { .. }
        ));
        assert!(matches!(
            Credentials::from_lookup(lookup(&all[3..])).unwrap(),
            Credentials::ApiKey { .. }
        ));
    }

    #[test]
    fn api_keys_are_read_under_both_names() {
        let creds = Credentials::from_lookup(lookup(&[
            ("MONGODB_ATLAS_PUBLIC_KEY", "pub"),
            ("MONGODB_ATLAS_PRIVATE_KEY", "priv"),
        ]))
        .unwrap();
        let Credentials::ApiKey {
            public_key,
            private_key,
        } = creds
        else {
            panic!("not an API key");
        };
        assert_eq!(public_key, "pub");
        assert_eq!(private_key.expose(), "priv");
    }

    #[test]
    fn half_a_pair_says_which_half_is_missing() {
        let err = Credentials::from_lookup(lookup(&[(CLIENT_ID_VAR, "id")])).unwrap_err();
        assert!(err.to_string().contains(CLIENT_SECRET_VAR), "{err}");
        let err =
            Credentials::from_lookup(lookup(&[("MONGODB_ATLAS_PUBLIC_KEY", "p")])).unwrap_err();
        assert!(
            err.to_string().contains("MONGODB_ATLAS_PRIVATE_API_KEY"),
            "{err}"
        );
    }
}
