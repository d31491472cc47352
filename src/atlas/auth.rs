//! Credentials for the Atlas Administration API, read from the environment.
//!
//! Only a bearer access token is supported today (`MONGODB_ATLAS_ACCESS_TOKEN`); the enum leaves
//! room for service accounts and programmatic API keys. Secrets are wrapped in [`Secret`], whose
//! `Debug` and `Display` never show the value, so they cannot leak through logs or panics.

use std::fmt;

/// Environment variable holding a bearer access token.
pub const ACCESS_TOKEN_VAR: &str = "MONGODB_ATLAS_ACCESS_TOKEN";

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
}

/// No usable credentials were found.
#[derive(Debug, thiserror::Error)]
#[error(
    "no Atlas credentials: set {ACCESS_TOKEN_VAR} to an access token of a user or service account with the Organization Owner role (or pass --simulate to try the tool against the built-in simulator)"
)]
pub struct MissingCredentials;

impl Credentials {
    /// Reads credentials from the process environment.
    pub fn from_env() -> Result<Credentials, MissingCredentials> {
        Credentials::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads credentials through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Credentials, MissingCredentials> {
        match lookup(ACCESS_TOKEN_VAR) {
            Some(token) if !token.trim().is_empty() => {
                Ok(Credentials::AccessToken(Secret::new(token.trim())))
            }
            _ => Err(MissingCredentials),
        }
    }

    /// Where the credentials came from, safe to print.
    pub fn describe(&self) -> &'static str {
        match self {
            Credentials::AccessToken(_) => ACCESS_TOKEN_VAR,
        }
    }

    /// The `Authorization` header value.
    pub(crate) fn authorization(&self) -> String {
        match self {
            Credentials::AccessToken(token) => format!("Bearer {}", token.expose()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let creds = Credentials::AccessToken(Secret::new("tok-123"));
        assert!(!format!("{creds:?}").contains("tok-123"));
        assert_eq!(Secret::new("tok-123").to_string(), "***");
    }

    #[test]
    fn missing_or_blank_token_names_the_variable() {
        let err = Credentials::from_lookup(|_| Some("  ".into())).unwrap_err();
        assert!(err.to_string().contains(ACCESS_TOKEN_VAR));
        assert!(Credentials::from_lookup(|_| None).is_err());
    }

    #[test]
    fn token_is_sent_as_bearer() {
        let creds = Credentials::from_lookup(|_| Some("abc".into())).unwrap();
        assert_eq!(creds.authorization(), "Bearer abc");
        assert_eq!(creds.describe(), ACCESS_TOKEN_VAR);
    }
}
