//! How the simulator writes an API answer, for every resource: JSON bodies (compact, or
//! indented with `pretty=true`; bare, or wrapped in `{status, content}` with `envelope=true`),
//! the `ApiError` shape of every refusal, 429s with `Retry-After`, the `RateLimit-*` and
//! deprecation headers, and the HTML pages a proxy in front of Atlas sends.
//!
//! Atlas writes these parts the same way on every resource, so they are written in one place
//! here; each resource still picks its own media type and the shape of its successes.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Serialize;

use atlas_model::ApiError;

/// The `Deprecation` and `Sunset` dates (HTTP dates, as RFC 9745 allows) of a deprecated
/// resource, sent on every answer to it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Deprecated {
    pub(super) since: &'static str,
    pub(super) sunset: &'static str,
}

/// The bucket a token-bucket 429 names in its detail, as Atlas does.
#[derive(Debug, Clone, Copy)]
pub(super) struct StatedBucket {
    /// The endpoint set's name.
    pub(super) set: &'static str,
    pub(super) capacity: u32,
    /// `refill` requests every `period` seconds.
    pub(super) refill: u64,
    pub(super) period: u64,
}

/// How the answers to one request are written.
pub(super) struct Reply {
    /// `pretty=true`: indented JSON.
    pub(super) pretty: bool,
    /// `envelope=true`: every JSON answer is a 200 whose body carries the real status, as Atlas
    /// does for clients behind proxies that hide status codes.
    pub(super) envelope: bool,
    /// Set on a deprecated resource: its headers go on every answer, refusals included.
    pub(super) deprecated: Option<Deprecated>,
    /// `(RateLimit-Limit, RateLimit-Remaining)` once the token bucket has been consulted.
    pub(super) rate: Option<(u32, u32)>,
}

impl Reply {
    /// Compact, bare JSON without extra headers: for resources that take no answer flags.
    pub(super) fn plain() -> Reply {
        Reply {
            pretty: false,
            envelope: false,
            deprecated: None,
            rate: None,
        }
    }

    /// Adds the headers every answer to this request carries.
    pub(super) fn decorate(&self, mut response: Response) -> Response {
        let headers = response.headers_mut();
        if let Some(deprecated) = self.deprecated {
            headers.insert("deprecation", HeaderValue::from_static(deprecated.since));
            headers.insert("sunset", HeaderValue::from_static(deprecated.sunset));
        }
        if let Some((limit, remaining)) = self.rate {
            headers.insert("ratelimit-limit", HeaderValue::from(limit));
            headers.insert("ratelimit-remaining", HeaderValue::from(remaining));
        }
        response
    }

    /// `value` as JSON, compact or pretty as asked, never enveloped.
    pub(super) fn bytes(&self, value: &impl Serialize) -> Vec<u8> {
        let written = if self.pretty {
            serde_json::to_vec_pretty(value)
        } else {
            serde_json::to_vec(value)
        };
        written.expect("the simulator's own types always serialise")
    }

    /// `value` as a `status` answer in `content_type`, or with `envelope=true` a 200 carrying
    /// `{status, content}`.
    pub(super) fn json(
        &self,
        status: StatusCode,
        content_type: &'static str,
        value: &impl Serialize,
    ) -> Response {
        let (status, body) = if self.envelope {
            let content = serde_json::to_value(value).expect("serialisable");
            let wrapped = serde_json::json!({ "status": status.as_u16(), "content": content });
            (StatusCode::OK, self.bytes(&wrapped))
        } else {
            (status, self.bytes(value))
        };
        self.decorate(raw(status, content_type, body))
    }

    /// A 204 without a body, in `content_type`; with `envelope=true` a 200 carrying
    /// `{status: 204, content: null}`, as Atlas wraps every answer.
    pub(super) fn no_content(&self, content_type: &'static str) -> Response {
        if self.envelope {
            self.json(
                StatusCode::NO_CONTENT,
                content_type,
                &serde_json::Value::Null,
            )
        } else {
            self.decorate(raw(StatusCode::NO_CONTENT, content_type, Body::empty()))
        }
    }

    /// An `ApiError` answer. Errors are `application/json` on every resource and version, as
    /// the spec's shared error responses declare.
    pub(super) fn error(&self, error: ApiError) -> Response {
        let status = StatusCode::from_u16(error.error).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        self.json(status, "application/json", &error)
    }

    pub(super) fn fail(&self, status: u16, code: &str, detail: impl Into<String>) -> Response {
        self.error(ApiError::new(status, code, detail))
    }

    /// A 429. `retry_after` is the `Retry-After` header (whole seconds), if one is to be sent;
    /// `wait` is the number of seconds the detail text names, if any. The two differ when the
    /// simulator is configured to leave the header out, so that only the text says when to
    /// retry. With `bucket`, the detail is worded as Atlas's token bucket words it: "Rate limit
    /// exceeded for …. Please retry after 55 seconds. Request capacity: 10. Refill rate: 5 per
    /// 60 seconds."
    pub(super) fn rate_limited(
        &self,
        code: &str,
        retry_after: Option<u64>,
        wait: Option<u64>,
        bucket: Option<StatedBucket>,
    ) -> Response {
        let retry = match wait {
            Some(secs) => format!("Please retry after {secs} seconds."),
            None => "Please retry later.".to_owned(),
        };
        let detail = match bucket {
            Some(b) => format!(
                "Rate limit exceeded for endpoint set {}. {retry} Request capacity: {}. Refill rate: {} per {} seconds.",
                b.set, b.capacity, b.refill, b.period
            ),
            None => format!("You have exceeded the rate limit for this API key. {retry}"),
        };
        let mut response = self.fail(429, code, detail);
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// A bare answer: status, `Content-Type` and body, nothing else.
pub(super) fn raw(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Body>,
) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// An HTML page as a proxy in front of Atlas would send it: no Atlas headers at all, which is
/// the point, since clients must cope with answers that are not Atlas' own.
pub(super) fn html(status: StatusCode, page: impl Into<Body>) -> Response {
    raw(status, "text/html", page)
}
