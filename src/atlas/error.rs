//! What can go wrong with one Atlas request, and what it means for the invitation.
//!
//! The distinction that matters most is whether the request may have been acted on: a request
//! that never left ([`CallError::NotSent`]) can be sent again blindly, one that left without a
//! usable answer ([`CallError::NoAnswer`], [`CallError::BadAnswer`]) must be looked up first, or
//! the person could be invited twice.

use std::time::Duration;

use super::model::ApiError;
use super::rate_limits::{StatedLimit, parse_stated_limit};

/// The failure of one request.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    /// Atlas (or a proxy in front of it) answered with an error status.
    #[error("{}", status_text(*status, api.as_deref(), body))]
    Status {
        status: u16,
        /// The `ApiError` body, when the body was one (boxed: it is large and rare).
        api: Option<Box<ApiError>>,
        /// The start of the body, when it was not an `ApiError` (e.g. a proxy's HTML page).
        body: String,
        /// `X-Error-Code` header, sent by some Atlas answers without a JSON body.
        error_code_header: Option<String>,
        rate: RateHeaders,
    },
    /// The request never reached Atlas (connection refused, DNS failure, connect timeout).
    #[error("could not connect: {0}")]
    NotSent(String),
    /// The request was sent but no complete answer came back (timeout, reset, closed).
    #[error("no answer: {0}")]
    NoAnswer(String),
    /// A success status whose body could not be used (not JSON, truncated, no `id`).
    #[error("unusable answer (HTTP {status}): {message}")]
    BadAnswer { status: u16, message: String },
}

/// Rate-limit information from an answer's headers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateHeaders {
    /// `Retry-After`, in seconds.
    pub retry_after: Option<Duration>,
    /// `RateLimit-Limit`.
    pub limit: Option<u64>,
    /// `RateLimit-Remaining`.
    pub remaining: Option<u64>,
}

/// What a rate-limit refusal said about the limit (see [`CallError::rate_limit_hint`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateLimitHint {
    /// `Retry-After`, or the detail's "Please retry after N seconds".
    pub retry_after: Option<Duration>,
    /// Capacity and refill as the detail states them.
    pub stated: StatedLimit,
    /// The refusal's `RateLimit-*` headers.
    pub headers: RateHeaders,
}

/// What a failure means for the person being invited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorClass {
    /// Nothing was created; sending again is safe (5xx, connection refused).
    Transient,
    /// Atlas asked the client to slow down; nothing was created.
    RateLimited { retry_after: Option<Duration> },
    /// The request may or may not have been acted on: look the person up before sending again.
    Unknown,
    /// Atlas says a pending invitation for this person already exists.
    AlreadyInvited,
    /// Atlas says this person is already a member of the organization.
    AlreadyMember,
    /// 401/403: the credentials cannot do this; every further request would fail alike.
    Auth,
    /// A refusal that sending again will not change (other 4xx).
    Permanent,
}

impl CallError {
    /// Sorts the failure into what the pipeline must do about it.
    pub fn class(&self) -> ErrorClass {
        match self {
            CallError::NotSent(_) => ErrorClass::Transient,
            CallError::NoAnswer(_) | CallError::BadAnswer { .. } => ErrorClass::Unknown,
            CallError::Status { status, rate, .. } => {
                let code = self.error_code().unwrap_or_default().to_ascii_uppercase();
                if *status == 429 || code.contains("RATE_LIMITED") || self.is_legacy_rate_limit() {
                    let retry_after = rate
                        .retry_after
                        .or_else(|| retry_after_from_detail(self.detail_text()));
                    ErrorClass::RateLimited { retry_after }
                } else if *status == 409 || code.contains("ALREADY") {
                    if code.contains("MEMBER") || code.contains("IN_ORG") {
                        ErrorClass::AlreadyMember
                    } else {
                        ErrorClass::AlreadyInvited
                    }
                } else if *status == 401 || *status == 403 {
                    ErrorClass::Auth
                } else if *status == 502 || *status == 504 {
                    // A gateway that gave up waiting may have forwarded the request already.
                    ErrorClass::Unknown
                } else if *status >= 500 {
                    ErrorClass::Transient
                } else {
                    ErrorClass::Permanent
                }
            }
        }
    }

    /// Whether Atlas itself finished with the request: false when no answer came back, or only
    /// a gateway's 502 or 504, behind which Atlas may still be working on it.
    pub fn was_answered(&self) -> bool {
        match self {
            CallError::NotSent(_) | CallError::NoAnswer(_) => false,
            CallError::Status { status, .. } => !matches!(status, 502 | 504),
            CallError::BadAnswer { .. } => true,
        }
    }

    /// Everything a rate-limit refusal says about the limit: when to retry, and the bucket its
    /// detail names ("Request capacity: 10. Refill rate: 5 per 60 seconds.", or the older
    /// "Rate limit of 10 invitations per 1 minutes"), with its `RateLimit-*` headers.
    pub fn rate_limit_hint(&self) -> RateLimitHint {
        let CallError::Status { rate, .. } = self else {
            return RateLimitHint::default();
        };
        let detail = self.detail_text();
        RateLimitHint {
            retry_after: rate
                .retry_after
                .or_else(|| retry_after_from_detail(detail.clone())),
            stated: parse_stated_limit(&detail),
            headers: rate.clone(),
        }
    }

    /// A 400 whose detail is the older invitation limit's "Rate limit of N invitations per M
    /// minutes exceeded", whatever its error code: a limit to wait out, not a refusal of the
    /// person.
    fn is_legacy_rate_limit(&self) -> bool {
        matches!(self, CallError::Status { status: 400, .. })
            && parse_stated_limit(&self.detail_text()).legacy
    }

    /// The HTTP status, when there was an answer.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            CallError::Status { status, .. } | CallError::BadAnswer { status, .. } => Some(*status),
            CallError::NotSent(_) | CallError::NoAnswer(_) => None,
        }
    }

    /// Atlas's `errorCode`, from the body or the `X-Error-Code` header.
    pub fn error_code(&self) -> Option<&str> {
        match self {
            CallError::Status {
                api,
                error_code_header,
                ..
            } => api
                .as_ref()
                .map(|a| a.error_code.as_str())
                .filter(|c| !c.is_empty())
                .or(error_code_header.as_deref()),
            _ => None,
        }
    }

    /// A one-line explanation for people and for the journal's `detail` columns.
    pub fn detail_text(&self) -> String {
        match self {
            CallError::Status { api, body, .. } => match api {
                Some(api) => api
                    .detail
                    .clone()
                    .or_else(|| api.reason.clone())
                    .unwrap_or_default(),
                None => body.clone(),
            },
            other => other.to_string(),
        }
    }
}

fn status_text(status: u16, api: Option<&ApiError>, body: &str) -> String {
    match api {
        Some(api) => {
            let mut text = format!("HTTP {status}");
            if !api.error_code.is_empty() {
                text.push(' ');
                text.push_str(&api.error_code);
            }
            // A detail that is empty, or only the error code again ("Unauthorized"), adds
            // nothing: no dangling "HTTP 401 UNAUTHORIZED:", no "UNAUTHORIZED: Unauthorized".
            let same_words = |a: &str, b: &str| {
                let words = |t: &str| t.to_ascii_lowercase().replace(['_', '-'], " ");
                words(a) == words(b)
            };
            let detail = [api.detail.as_deref(), api.reason.as_deref()]
                .into_iter()
                .flatten()
                .map(str::trim)
                .find(|d| !d.is_empty() && !same_words(d, &api.error_code));
            if let Some(detail) = detail {
                text.push_str(": ");
                text.push_str(detail);
            }
            if let Some(fields) = &api.bad_request_detail {
                for f in &fields.fields {
                    text.push_str(&format!(" [{}: {}]", f.field, f.description));
                }
            }
            text
        }
        None if body.is_empty() => format!("HTTP {status} with an empty body"),
        None if body.starts_with(HTML_PAGE) => format!("HTTP {status} ({body})"),
        None => format!("HTTP {status}: {body}"),
    }
}

/// Reads "Please retry after N seconds" from an error detail, for 429s without `Retry-After`.
fn retry_after_from_detail(detail: String) -> Option<Duration> {
    let lower = detail.to_ascii_lowercase();
    let rest = &lower[lower.find("retry after")? + "retry after".len()..];
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok().map(Duration::from_secs)
}

/// How a web page answered instead of JSON is described: a proxy in front of Atlas (nginx, a
/// load balancer) answers so, and its title and heading only repeat the status.
const HTML_PAGE: &str = "an HTML page from a proxy";

/// Turns a non-JSON body into one short readable line. An HTML page becomes its title (or first
/// heading) without the status code it repeats — `an HTML page from a proxy: "Service
/// Temporarily Unavailable"`; anything else is stripped of tags, its blanks folded, cut at 200
/// characters.
pub(crate) fn summarise_body(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    if looks_like_html(&text) {
        return match html_title(&text) {
            Some(title) => format!("{HTML_PAGE}: \"{title}\""),
            None => HTML_PAGE.to_owned(),
        };
    }
    one_line(&text, 200)
}

/// Whether a body is a web page: its first tags say so.
fn looks_like_html(text: &str) -> bool {
    let start: String = text
        .trim_start()
        .chars()
        .take(512)
        .collect::<String>()
        .to_ascii_lowercase();
    start.starts_with('<')
        && ["<!doctype html", "<html", "<head", "<body", "<title"]
            .iter()
            .any(|tag| start.contains(tag))
}

/// The page's `<title>`, else its first `<h1>`, without a leading status code ("503 Service
/// Temporarily Unavailable" reads "Service Temporarily Unavailable"); `None` when both are empty.
fn html_title(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    ["title", "h1"].iter().find_map(|tag| {
        let open = lower.find(&format!("<{tag}"))?;
        let start = open + lower[open..].find('>')? + 1;
        let end = start + lower[start..].find(&format!("</{tag}"))?;
        let inner = one_line(&text[start..end], 120);
        let words = inner.trim_start_matches(|c: char| c.is_ascii_digit());
        // Only a number followed by a blank is a status code ("503 …"), not "3D printing".
        let words = if words.len() < inner.len() && (words.is_empty() || words.starts_with(' ')) {
            words.trim_start_matches([' ', '-', ':']).trim()
        } else {
            inner.as_str()
        };
        (!words.is_empty()).then(|| words.to_owned())
    })
}

/// `text` without tags, on one line with blanks folded, cut after `max` characters.
fn one_line(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    let mut last_space = true;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                if !last_space {
                    out.push(' ');
                    last_space = true;
                }
            }
            _ if in_tag => {}
            c if c.is_whitespace() || c.is_control() => {
                if !last_space {
                    out.push(' ');
                    last_space = true;
                }
            }
            c => {
                out.push(c);
                last_space = false;
            }
        }
        if out.chars().count() >= max {
            out.push('…');
            break;
        }
    }
    out.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16, code: &str, detail: &str) -> CallError {
        CallError::Status {
            status,
            api: Some(Box::new(ApiError::new(status, code, detail))),
            body: String::new(),
            error_code_header: None,
            rate: RateHeaders::default(),
        }
    }

    #[test]
    fn failures_are_classified_by_what_they_mean() {
        assert_eq!(
            status(500, "UNEXPECTED_ERROR", "x").class(),
            ErrorClass::Transient
        );
        assert_eq!(status(504, "", "").class(), ErrorClass::Unknown);
        assert_eq!(
            status(400, "INVALID_ROLE", "x").class(),
            ErrorClass::Permanent
        );
        assert_eq!(status(401, "UNAUTHORIZED", "x").class(), ErrorClass::Auth);
        assert_eq!(status(403, "FORBIDDEN", "x").class(), ErrorClass::Auth);
        assert_eq!(
            status(409, "USER_ALREADY_INVITED", "x").class(),
            ErrorClass::AlreadyInvited
        );
        assert_eq!(
            status(409, "USER_ALREADY_IN_ORG", "x").class(),
            ErrorClass::AlreadyMember
        );
        assert_eq!(
            CallError::NotSent("refused".into()).class(),
            ErrorClass::Transient
        );
        assert_eq!(
            CallError::NoAnswer("reset".into()).class(),
            ErrorClass::Unknown
        );
    }

    #[test]
    fn rate_limits_are_recognised_with_or_without_retry_after() {
        let mut e = status(
            429,
            "RATE_LIMITED_TOKEN_BUCKET",
            "Please retry after 7 seconds.",
        );
        assert_eq!(
            e.class(),
            ErrorClass::RateLimited {
                retry_after: Some(Duration::from_secs(7))
            }
        );
        if let CallError::Status { rate, .. } = &mut e {
            rate.retry_after = Some(Duration::from_secs(2));
        }
        assert_eq!(
            e.class(),
            ErrorClass::RateLimited {
                retry_after: Some(Duration::from_secs(2))
            }
        );
        // Older endpoints answered 400 with a RATE_LIMITED error code.
        assert_eq!(
            status(400, "RATE_LIMITED", "slow down").class(),
            ErrorClass::RateLimited { retry_after: None }
        );
    }

    #[test]
    fn the_legacy_invitation_limit_is_a_rate_limit() {
        let legacy = status(
            400,
            "INVITATIONS_RATE_LIMITED_IP",
            "Rate limit of 10 invitations per 1 minutes exceeded",
        );
        assert_eq!(
            legacy.class(),
            ErrorClass::RateLimited { retry_after: None }
        );
        let hint = legacy.rate_limit_hint();
        assert!(hint.stated.legacy);
        assert_eq!(
            hint.stated.bucket(),
            crate::atlas::rate_limits::BucketLimit::new(10, 10, Duration::from_secs(60))
        );
        // The text alone is enough, whatever the code says.
        assert_eq!(
            status(
                400,
                "",
                "Rate limit of 10 invitations per 1 minutes exceeded"
            )
            .class(),
            ErrorClass::RateLimited { retry_after: None }
        );
        // Another 400 stays a refusal.
        assert_eq!(
            status(400, "INVALID_EMAIL", "not an email").class(),
            ErrorClass::Permanent
        );
    }

    #[test]
    fn a_token_bucket_refusal_names_its_bucket() {
        let mut e = status(
            429,
            "RATE_LIMITED_TOKEN_BUCKET",
            "Rate limit exceeded for endpoint set Organization Invitations. Please retry after 55 seconds. Request capacity: 10. Refill rate: 5 per 60 seconds.",
        );
        if let CallError::Status { rate, .. } = &mut e {
            rate.limit = Some(10);
            rate.remaining = Some(0);
        }
        let hint = e.rate_limit_hint();
        assert_eq!(hint.retry_after, Some(Duration::from_secs(55)));
        assert_eq!(hint.headers.limit, Some(10));
        assert_eq!(
            hint.stated.bucket(),
            crate::atlas::rate_limits::BucketLimit::new(10, 5, Duration::from_secs(60))
        );
        assert!(!hint.stated.legacy);
        assert_eq!(
            CallError::NotSent("x".into()).rate_limit_hint(),
            RateLimitHint::default()
        );
    }

    #[test]
    fn html_pages_are_named_by_their_title_once() {
        let nginx =
            b"<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n\
            <body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n\
            <hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
        assert_eq!(
            summarise_body(nginx),
            "an HTML page from a proxy: \"Service Temporarily Unavailable\""
        );
        let e = CallError::Status {
            status: 503,
            api: None,
            body: summarise_body(nginx),
            error_code_header: None,
            rate: RateHeaders::default(),
        };
        assert_eq!(
            e.to_string(),
            "HTTP 503 (an HTML page from a proxy: \"Service Temporarily Unavailable\")"
        );
        // A title that is only the status: the heading names it.
        let bare = b"<!DOCTYPE html><html><head><title>502</title></head>\n<body><h1>502 Bad Gateway</h1></body></html>";
        assert_eq!(
            summarise_body(bare),
            "an HTML page from a proxy: \"Bad Gateway\""
        );
        assert_eq!(
            summarise_body(b"<html><body><p>down</p></body></html>"),
            "an HTML page from a proxy"
        );
        // Text that is not a page is folded to one line.
        assert_eq!(
            summarise_body(b"upstream\n  timed out"),
            "upstream timed out"
        );
        let long = vec![b'x'; 10_000];
        assert!(summarise_body(&long).chars().count() <= 201);
    }

    #[test]
    fn an_empty_detail_leaves_no_dangling_colon() {
        // ApiError::new gives the reason phrase ("Unauthorized"), which repeats the code.
        assert_eq!(
            status(401, "UNAUTHORIZED", "").to_string(),
            "HTTP 401 UNAUTHORIZED"
        );
        assert_eq!(
            status(401, "UNAUTHORIZED", " ").to_string(),
            "HTTP 401 UNAUTHORIZED"
        );
        assert_eq!(status(401, "", "").to_string(), "HTTP 401: Unauthorized");
        assert_eq!(
            status(401, "UNAUTHORIZED", "The access token is not valid.").to_string(),
            "HTTP 401 UNAUTHORIZED: The access token is not valid."
        );
    }

    #[test]
    fn messages_show_error_code_and_detail() {
        let e = status(400, "INVALID_ROLE", "role ORG_ADMIN is not valid");
        assert_eq!(
            e.to_string(),
            "HTTP 400 INVALID_ROLE: role ORG_ADMIN is not valid"
        );
        assert_eq!(e.error_code(), Some("INVALID_ROLE"));
        assert_eq!(e.detail_text(), "role ORG_ADMIN is not valid");
    }
}
