//! Atlas's rate limits as Atlas states them: the token buckets `GET /api/atlas/v2/rateLimits`
//! declares per endpoint set (`RateLimitEndpointSetResponse`, version 2025-03-12), and the
//! texts of its refusals, which name the bucket too:
//!
//! - 429 `RATE_LIMITED_TOKEN_BUCKET`: "… Please retry after 55 seconds. Request capacity: 10.
//!   Refill rate: 5 per 60 seconds."
//! - the older invitation limit, 400 `INVITATIONS_RATE_LIMITED_IP`: "Rate limit of 10
//!   invitations per 1 minutes exceeded".
//!
//! Both become a [`BucketLimit`]. The simulator states its bucket in these words, and the
//! client reads them back with the same types.
//!
//! See: `listRateLimits` and `getRateLimit` in `atlas-invites-openapi.yaml`.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The version of the rateLimits resource. Its `preview` version is sunset on 2026-04-21.
pub const MEDIA_TYPE_2025_03_12: &str = "application/vnd.atlas.2025-03-12+json";

/// A token bucket: `capacity` requests at once, refilled by `refill` requests every `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketLimit {
    pub capacity: u64,
    pub refill: u64,
    pub per: Duration,
}

impl BucketLimit {
    /// A bucket; `None` when it could never admit a request (no capacity, no refill).
    pub fn new(capacity: u64, refill: u64, per: Duration) -> Option<BucketLimit> {
        (capacity > 0 && refill > 0 && !per.is_zero()).then_some(BucketLimit {
            capacity,
            refill,
            per,
        })
    }

    /// The refill, in requests per second.
    pub fn per_second(&self) -> f64 {
        self.refill as f64 / self.per.as_secs_f64()
    }

    /// The more restrictive of two buckets that both apply: the lower refill rate and the
    /// smaller capacity.
    pub fn stricter(self, other: BucketLimit) -> BucketLimit {
        let refill = if other.per_second() < self.per_second() {
            other
        } else {
            self
        };
        BucketLimit {
            capacity: self.capacity.min(other.capacity),
            ..refill
        }
    }
}

/// "5 per 60 s, capacity 10", as the progress line and the summary say it.
impl fmt::Display for BucketLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} per {}, capacity {}",
            self.refill,
            short_duration(self.per),
            self.capacity
        )
    }
}

/// Whole seconds as `60 s`, anything else with milliseconds.
fn short_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// What a refusal's text says about the bucket that refused it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatedLimit {
    /// "Request capacity: N".
    pub capacity: Option<u64>,
    /// "Refill rate: N per M seconds", as (N, M).
    pub refill: Option<(u64, Duration)>,
    /// The text was the older invitation limit's "Rate limit of N invitations per M minutes":
    /// a window of M minutes with N requests.
    pub legacy: bool,
}

impl StatedLimit {
    /// The whole bucket, when the text named both its capacity and its refill.
    pub fn bucket(&self) -> Option<BucketLimit> {
        let (refill, per) = self.refill?;
        BucketLimit::new(self.capacity?, refill, per)
    }
}

/// Reads capacity and refill from a refusal's detail, in either of Atlas's two wordings.
pub fn parse_stated_limit(detail: &str) -> StatedLimit {
    let lower = detail.to_ascii_lowercase();
    if let Some(rest) = after(&lower, "rate limit of ")
        && let Some((count, rest)) = leading_number(rest)
        && let Some(per) = rest.find(" per ")
        && let Some(window) = amount_of_time(&rest[per + " per ".len()..])
    {
        return StatedLimit {
            capacity: Some(count),
            refill: Some((count, window)),
            legacy: true,
        };
    }
    let capacity = after(&lower, "request capacity:")
        .and_then(|rest| leading_number(rest.trim_start()))
        .map(|(n, _)| n);
    let refill = after(&lower, "refill rate:").and_then(|rest| {
        let (count, rest) = leading_number(rest.trim_start())?;
        let rest = rest.trim_start().strip_prefix("per")?;
        Some((count, amount_of_time(rest)?))
    });
    StatedLimit {
        capacity,
        refill,
        legacy: false,
    }
}

/// The text after the first occurrence of `needle`.
fn after<'a>(text: &'a str, needle: &str) -> Option<&'a str> {
    text.find(needle).map(|i| &text[i + needle.len()..])
}

/// A whole number at the start of `text`, and what follows it.
fn leading_number(text: &str) -> Option<(u64, &str)> {
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let n = text[..end].parse().ok()?;
    Some((n, &text[end..]))
}

/// "60 seconds", "1 minutes", "1 minute", "2 hours", "6s": a positive amount of time.
fn amount_of_time(text: &str) -> Option<Duration> {
    let text = text.trim_start();
    let (count, rest) = leading_number(text)?;
    let unit: String = rest
        .trim_start()
        .chars()
        .take_while(char::is_ascii_alphabetic)
        .collect();
    let seconds = match unit.as_str() {
        "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hour" | "hours" => 3600,
        _ => return None,
    };
    (count > 0).then(|| Duration::from_secs(count.saturating_mul(seconds)))
}

/// `capacity`, `refillRate` and `refillDurationSeconds`: the applied value, and Atlas's default
/// when an override applies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppliedValue {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_value: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<i64>,
}

/// `RateLimitEndpointSetEndpoint`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetEndpoint {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// `RateLimitEndpointSetResponse`: one endpoint set and its bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointSet {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<AppliedValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_set_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_set_name: Option<String>,
    #[serde(default)]
    pub endpoints: Vec<SetEndpoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refill_duration_seconds: Option<AppliedValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refill_rate: Option<AppliedValue>,
    /// `IP`, `GROUP`, `ORGANIZATION` or `USER`: who shares the bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl EndpointSet {
    /// The bucket the set applies, when its three numbers are there and positive.
    pub fn limit(&self) -> Option<BucketLimit> {
        let value =
            |v: &Option<AppliedValue>| v.and_then(|v| v.value).and_then(|n| u64::try_from(n).ok());
        BucketLimit::new(
            value(&self.capacity)?,
            value(&self.refill_rate)?,
            Duration::from_secs(value(&self.refill_duration_seconds)?),
        )
    }

    /// Whether the set lists `method` on `path` (a template such as
    /// `/api/atlas/v2/orgs/{orgId}/invites`). Path parameters may be named differently.
    pub fn covers(&self, method: &str, path: &str) -> bool {
        self.endpoints.iter().any(|e| {
            e.method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
                && e.path.as_deref().is_some_and(|p| same_template(p, path))
        })
    }

    /// "Organization Invitations (scope USER): 5 per 60 s, capacity 10", for `doctor`.
    pub fn describe(&self) -> String {
        let name = self
            .endpoint_set_name
            .as_deref()
            .or(self.endpoint_set_id.as_deref())
            .unwrap_or("unnamed endpoint set");
        let scope = self
            .scope
            .as_deref()
            .map(|s| format!(" (scope {s})"))
            .unwrap_or_default();
        match self.limit() {
            Some(limit) => format!("{name}{scope}: {limit}"),
            None => format!("{name}{scope}: no usable capacity and refill"),
        }
    }
}

/// Two path templates are the same endpoint when they match segment by segment, any `{…}`
/// matching any other.
fn same_template(a: &str, b: &str) -> bool {
    let segments = |p: &str| -> Vec<String> {
        p.trim_end_matches('/')
            .split('/')
            .map(|s| {
                if s.starts_with('{') && s.ends_with('}') {
                    "{}".to_owned()
                } else {
                    s.to_owned()
                }
            })
            .collect()
    };
    segments(a) == segments(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_bucket_detail_names_capacity_and_refill() {
        let stated = parse_stated_limit(
            "Rate limit exceeded for endpoint set Organization Invitations. Please retry after 55 seconds. Request capacity: 10. Refill rate: 5 per 60 seconds.",
        );
        assert_eq!(stated.capacity, Some(10));
        assert_eq!(stated.refill, Some((5, Duration::from_secs(60))));
        assert!(!stated.legacy);
        let bucket = stated.bucket().unwrap();
        assert!((bucket.per_second() - 5.0 / 60.0).abs() < 1e-12);
        assert_eq!(bucket.to_string(), "5 per 60 s, capacity 10");
        // Either half alone is still read; neither is a bucket.
        let half = parse_stated_limit("Request capacity: 3.");
        assert_eq!(half.capacity, Some(3));
        assert_eq!(half.bucket(), None);
        assert_eq!(
            parse_stated_limit("Refill rate: 1 per 1 second").refill,
            Some((1, Duration::from_secs(1)))
        );
        assert_eq!(
            parse_stated_limit("Please retry later."),
            StatedLimit::default()
        );
    }

    #[test]
    fn the_legacy_invitation_limit_is_a_window() {
        let stated = parse_stated_limit("Rate limit of 10 invitations per 1 minutes exceeded");
        assert!(stated.legacy);
        assert_eq!(
            stated.bucket(),
            BucketLimit::new(10, 10, Duration::from_secs(60))
        );
        let scaled = parse_stated_limit("Rate limit of 10 invitations per 6 seconds exceeded.");
        assert_eq!(
            scaled.bucket(),
            BucketLimit::new(10, 10, Duration::from_secs(6))
        );
        // Nonsense numbers are not a bucket.
        assert_eq!(
            parse_stated_limit("Rate limit of 0 invitations per 1 minutes exceeded").bucket(),
            None
        );
        assert_eq!(
            parse_stated_limit("Refill rate: 5 per 0 seconds").refill,
            None
        );
    }

    #[test]
    fn endpoint_sets_match_templates_and_combine_strictly() {
        let set: EndpointSet = serde_json::from_str(
            r#"{"capacity":{"value":10},"endpointSetId":"orgInvites_user","endpointSetName":"Organization Invitations",
                "endpoints":[{"method":"POST","path":"/api/atlas/v2/orgs/{orgId}/invites"}],
                "refillDurationSeconds":{"value":60},"refillRate":{"value":5},"scope":"USER"}"#,
        )
        .unwrap();
        assert!(set.covers("POST", "/api/atlas/v2/orgs/{orgId}/invites"));
        assert!(set.covers("post", "/api/atlas/v2/orgs/{ORG_ID}/invites/"));
        assert!(!set.covers("GET", "/api/atlas/v2/orgs/{orgId}/invites"));
        assert!(!set.covers("POST", "/api/atlas/v2/orgs/{orgId}/users"));
        let limit = set.limit().unwrap();
        assert_eq!(
            limit,
            BucketLimit::new(10, 5, Duration::from_secs(60)).unwrap()
        );
        assert_eq!(
            set.describe(),
            "Organization Invitations (scope USER): 5 per 60 s, capacity 10"
        );
        let fast_small = BucketLimit::new(2, 100, Duration::from_secs(1)).unwrap();
        let strict = limit.stricter(fast_small);
        assert_eq!(strict.capacity, 2);
        assert_eq!((strict.refill, strict.per), (5, Duration::from_secs(60)));
        let no_numbers = EndpointSet {
            refill_rate: Some(AppliedValue {
                default_value: None,
                value: Some(0),
            }),
            ..set
        };
        assert_eq!(no_numbers.limit(), None);
    }
}
