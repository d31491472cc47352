//! The organization's teams and projects, as Atlas lists them: `GET /orgs/{orgId}/teams`
//! (`PaginatedTeamView`) and `GET /orgs/{orgId}/groups` (`PaginatedAtlasGroupView`), version
//! 2023-01-01, read whole, page by page, so that names in a roster can be turned into ids. The
//! simulator serves the same wire types.
//!
//! A listing is a harmless GET, so every failure that may pass (5xx, 429, no answer) is retried
//! a few times with the pipeline's backoff; 401/403 and other 4xx are not.
//!
//! See: `listOrgTeams` and `getOrgGroups` in `atlas-invites-openapi.yaml`.

use std::time::Duration;

use super::client::AtlasClient;
use super::error::{CallError, summarise_body};
use super::model::MEDIA_TYPE_2023_01_01;
use crate::retry::{RetryPolicy, retry_reads};

// The wire types live in `atlas-model`, shared with the simulator.
pub use atlas_model::directory::{GroupView, Page, TeamView};

/// Items per page: the most the spec allows (`itemsPerPage` maximum).
pub const DIRECTORY_PAGE_SIZE: u32 = 500;
/// The teams listing as a template, for messages.
pub const TEAMS_ENDPOINT: &str = "GET /api/atlas/v2/orgs/{orgId}/teams";
/// The projects listing as a template, for messages.
pub const GROUPS_ENDPOINT: &str = "GET /api/atlas/v2/orgs/{orgId}/groups";
/// Requests per page at most, the first one included.
const ATTEMPTS: u32 = 4;
/// Cap of one wait between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Pages read at most from one listing, so that a server that never stops paging (or keeps
/// announcing a larger total) cannot keep a run waiting forever: 5,000,000 items.
const MAX_PAGES: u32 = 10_000;

/// Something a listing holds: an id and a name.
trait Named {
    fn pair(self) -> (String, String);
}

impl Named for TeamView {
    fn pair(self) -> (String, String) {
        (self.id, self.name)
    }
}

impl Named for GroupView {
    fn pair(self) -> (String, String) {
        (self.id, self.name)
    }
}

impl AtlasClient {
    /// Every team of the organization as `(id, name)`, in the order Atlas lists them.
    pub async fn org_teams(&self) -> Result<Vec<(String, String)>, CallError> {
        let path = format!("/api/atlas/v2/orgs/{}/teams", self.org_id());
        self.listing::<TeamView>(&path).await
    }

    /// Every project (group) of the organization as `(id, name)`.
    pub async fn org_projects(&self) -> Result<Vec<(String, String)>, CallError> {
        let path = format!("/api/atlas/v2/orgs/{}/groups", self.org_id());
        self.listing::<GroupView>(&path).await
    }

    /// Reads a paginated listing whole: pages of [`DIRECTORY_PAGE_SIZE`] until `totalCount`
    /// items are read, or a page comes back short or empty.
    async fn listing<T: Named + serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<Vec<(String, String)>, CallError> {
        let size = DIRECTORY_PAGE_SIZE.to_string();
        let mut items = Vec::new();
        for page_num in 1..=MAX_PAGES {
            let page = page_num.to_string();
            let query = [
                ("itemsPerPage", size.as_str()),
                ("pageNum", page.as_str()),
                ("includeCount", "true"),
            ];
            let page: Page<T> = self.get_with_retries(path, &query).await?;
            let read = page.results.len();
            items.extend(page.results.into_iter().map(Named::pair));
            let total = page.total_count.map_or(u64::MAX, |t| t);
            if read == 0 || read < DIRECTORY_PAGE_SIZE as usize || items.len() as u64 >= total {
                break;
            }
        }
        Ok(items)
    }

    /// One GET, retried on what may pass, decoded from JSON.
    async fn get_with_retries<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, CallError> {
        let policy = RetryPolicy::new(ATTEMPTS, MAX_BACKOFF);
        retry_reads(
            &policy,
            |_, _| {},
            || async {
                let answer = self.get(path, query, MEDIA_TYPE_2023_01_01).await?;
                serde_json::from_slice::<T>(&answer.value).map_err(|e| CallError::BadAnswer {
                    status: answer.status,
                    message: format!(
                        "the answer is not the expected JSON ({e}): {}",
                        summarise_body(&answer.value)
                    ),
                })
            },
        )
        .await
        .map_err(|gave_up| gave_up.error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_read_the_spec_shapes_leniently() {
        let page: Page<TeamView> = serde_json::from_str(
            r#"{"links":[],"results":[{"id":"5f1e2d3c4b5a697887766554","name":"Platform","links":[]}],"totalCount":1}"#,
        )
        .unwrap();
        assert_eq!(page.total_count, Some(1));
        assert_eq!(page.results[0].clone().pair().1, "Platform");
        let page: Page<GroupView> =
            serde_json::from_str(r#"{"results":[{"id":"x","name":"Prod","orgId":"y","clusterCount":2,"created":"2024-01-01T00:00:00Z","regionUsageRestrictions":"COMMERCIAL_FEDRAMP_REGIONS_ONLY"}]}"#)
                .unwrap();
        assert_eq!(page.total_count, None);
        assert_eq!(page.results[0].cluster_count, 2);
    }
}
