//! Atlas's rate limits as Atlas states them: the token buckets `GET /api/atlas/v2/rateLimits`
//! declares per endpoint set (`PaginatedRateLimitEndpointSets`, version 2025-03-12), and the
//! texts of its refusals, which name the bucket too:
//!
//! - 429 `RATE_LIMITED_TOKEN_BUCKET`: "… Please retry after 55 seconds. Request capacity: 10.
//!   Refill rate: 5 per 60 seconds."
//! - the older invitation limit, 400 `INVITATIONS_RATE_LIMITED_IP`: "Rate limit of 10
//!   invitations per 1 minutes exceeded".
//!
//! Both become a [`BucketLimit`], which the pipeline's rate gate paces with.
//!
//! See: `listRateLimits` and `getRateLimit` in `atlas-invites-openapi.yaml`.

use super::client::AtlasClient;
use super::directory::Page;
use super::error::{CallError, summarise_body};

// The wire types and the bucket arithmetic live in `atlas-model`, shared with the simulator.
pub use atlas_model::rate_limits::{
    AppliedValue, BucketLimit, EndpointSet, MEDIA_TYPE_2025_03_12, SetEndpoint, StatedLimit,
    parse_stated_limit,
};

/// `GET /api/atlas/v2/rateLimits`.
pub const RATE_LIMITS_PATH: &str = "/api/atlas/v2/rateLimits";
/// Endpoint sets per page.
const PAGE_SIZE: u32 = 100;
/// Pages read at most: Atlas has a few dozen endpoint sets, never thousands.
const MAX_PAGES: u32 = 20;

/// What `GET /rateLimits` says about one endpoint.
#[derive(Debug, Clone, PartialEq)]
pub enum Declared {
    /// The sets that list the endpoint, and the strictest bucket among them.
    Limit {
        limit: BucketLimit,
        sets: Vec<EndpointSet>,
    },
    /// Atlas answered, and no set with a usable bucket lists the endpoint.
    Nothing,
    /// Atlas did not say: the credentials may not read the resource (401, 403), the server
    /// does not have it (404), or the request failed. Never a reason to stop a run.
    Unavailable { status: Option<u16>, reason: String },
}

impl Declared {
    /// The bucket to pace with, if Atlas declared one.
    pub fn limit(&self) -> Option<BucketLimit> {
        match self {
            Declared::Limit { limit, .. } => Some(*limit),
            Declared::Nothing | Declared::Unavailable { .. } => None,
        }
    }

    /// One line for people: what Atlas declared for `endpoint`, or why it did not.
    pub fn describe(&self, endpoint: &str) -> String {
        match self {
            Declared::Limit { limit, sets } => {
                let names: Vec<String> = sets
                    .iter()
                    .filter_map(|s| s.endpoint_set_name.clone().or(s.endpoint_set_id.clone()))
                    .collect();
                if names.is_empty() {
                    format!("Atlas allows {limit} for {endpoint}")
                } else {
                    format!(
                        "Atlas allows {limit} for {endpoint} (endpoint set {})",
                        names.join(", ")
                    )
                }
            }
            Declared::Nothing => format!("Atlas declares no rate limit for {endpoint}"),
            Declared::Unavailable {
                status: Some(status @ (401 | 403)),
                ..
            } => format!(
                "the credentials may not read GET {RATE_LIMITS_PATH} (HTTP {status}); the limit is learned from Atlas's answers"
            ),
            Declared::Unavailable {
                status: Some(404), ..
            } => format!(
                "this server has no GET {RATE_LIMITS_PATH} (HTTP 404); the limit is learned from its answers"
            ),
            Declared::Unavailable { reason, .. } => format!(
                "GET {RATE_LIMITS_PATH} failed ({reason}); the limit is learned from Atlas's answers"
            ),
        }
    }
}

impl AtlasClient {
    /// Every endpoint set `GET /rateLimits` lists that covers `endpoint` (a template such as
    /// `POST /api/atlas/v2/orgs/{orgId}/invites`). The request filters by path; the sets are
    /// checked here too, in case a server ignores the filter.
    pub async fn rate_limit_sets(&self, endpoint: &str) -> Result<Vec<EndpointSet>, CallError> {
        let (method, path) = endpoint.split_once(' ').unwrap_or(("POST", endpoint));
        let path = path.split('?').next().unwrap_or(path);
        let size = PAGE_SIZE.to_string();
        let mut sets = Vec::new();
        for page_num in 1..=MAX_PAGES {
            let page_text = page_num.to_string();
            let query = [
                ("endpointPath", path),
                ("itemsPerPage", size.as_str()),
                ("pageNum", page_text.as_str()),
            ];
            let answer = self
                .get(RATE_LIMITS_PATH, &query, MEDIA_TYPE_2025_03_12)
                .await?;
            let page: Page<EndpointSet> =
                serde_json::from_slice(&answer.value).map_err(|e| CallError::BadAnswer {
                    status: answer.status,
                    message: format!(
                        "the rateLimits answer is not the expected JSON ({e}): {}",
                        summarise_body(&answer.value)
                    ),
                })?;
            let read = page.results.len();
            sets.extend(page.results.into_iter().filter(|s| s.covers(method, path)));
            if read < PAGE_SIZE as usize {
                break;
            }
        }
        Ok(sets)
    }

    /// What Atlas declares for `endpoint`: never an error, since a run can always learn the
    /// limit from the answers instead.
    pub async fn declared_limit(&self, endpoint: &str) -> Declared {
        match self.rate_limit_sets(endpoint).await {
            Ok(sets) => {
                let limit = sets
                    .iter()
                    .filter_map(EndpointSet::limit)
                    .reduce(BucketLimit::stricter);
                match limit {
                    Some(limit) => Declared::Limit { limit, sets },
                    None => Declared::Nothing,
                }
            }
            Err(e) => Declared::Unavailable {
                status: e.http_status(),
                reason: e.to_string(),
            },
        }
    }
}
