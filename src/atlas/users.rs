//! Who is in the organization, as Atlas lists it: `GET /orgs/{orgId}/users` (version
//! 2025-02-19, paginated, every `orgMembershipStatus`) and the whole pending-invitation list of
//! the invites resource. `reconcile` reads both; the simulator serves the same wire types.
//!
//! The users resource is the one that knows what became of an invitation: an accepted one
//! leaves the invites list and its person turns `ACTIVE`, an expired or declined one is listed
//! with `INVITATION_EXPIRED` or `INVITATION_REJECTED` when asked for explicitly.
//!
//! See: `listOrgUsers` and `listOrgInvites` in `atlas-invites-openapi.yaml`.

use super::client::{Answer, Api, AtlasClient};
use super::error::{CallError, summarise_body};
use super::model::{Invitation, MEDIA_TYPE_2023_01_01, MEDIA_TYPE_2025_02_19};

// The wire types live in `atlas-model`, shared with the simulator.
pub use atlas_model::users::{
    MEMBERSHIP_STATUSES, OrgUserDetail, OrgUserDetailPage, OrgUserRolesView,
};

/// Users per page: the most the users resource allows (`itemsPerPage` maximum).
pub const USERS_PAGE_SIZE: u32 = 500;

/// The users listing as a template, for messages.
pub const USERS_ENDPOINT: &str = "GET /api/atlas/v2/orgs/{orgId}/users";

impl AtlasClient {
    /// Page `page_num` (1-based) of the organization's users in any of `statuses`, at
    /// [`USERS_PAGE_SIZE`] per page, with the total count.
    pub async fn org_users_page(
        &self,
        page_num: u32,
        statuses: &[&str],
    ) -> Result<Answer<OrgUserDetailPage>, CallError> {
        let path = format!("/api/atlas/v2/orgs/{}/users", self.org_id());
        let page = page_num.to_string();
        let size = USERS_PAGE_SIZE.to_string();
        let mut query = vec![
            ("itemsPerPage", size.as_str()),
            ("pageNum", page.as_str()),
            ("includeCount", "true"),
        ];
        // The spec's array parameter is sent exploded, one pair per value, as Atlas expects.
        query.extend(statuses.iter().map(|s| ("orgMembershipStatuses", *s)));
        let answer = self.get(&path, &query, MEDIA_TYPE_2025_02_19).await?;
        decode(answer)
    }

    /// The user (pending or active) whose username is `email`, from the users resource
    /// (`GET …/users?username=`), whatever the API used for invitations.
    pub async fn find_user_by_name(
        &self,
        email: &str,
    ) -> Result<Answer<Option<OrgUserDetail>>, CallError> {
        let path = format!("/api/atlas/v2/orgs/{}/users", self.org_id());
        let query = [
            ("username", email),
            ("orgMembershipStatuses", "PENDING"),
            ("orgMembershipStatuses", "ACTIVE"),
        ];
        let answer = self.get(&path, &query, MEDIA_TYPE_2025_02_19).await?;
        let page: Answer<OrgUserDetailPage> = decode(answer)?;
        Ok(page.map(|page| {
            page.results
                .into_iter()
                .find(|u| u.username.eq_ignore_ascii_case(email))
        }))
    }

    /// How many members (active users) of the organization hold ORG_OWNER, reading every page
    /// of the users listing.
    pub async fn count_owners(&self) -> Result<Answer<u64>, CallError> {
        let mut owners = 0;
        // Atlas allows 500 users per organization: 100 pages of 500 is a listing gone wrong.
        let answer = self
            .for_each_user(&["ACTIVE"], 100, |user| {
                owners += u64::from(user.roles.org_roles.iter().any(|r| r == "ORG_OWNER"));
            })
            .await?;
        Ok(answer.map(|()| owners))
    }

    /// Reads every page of the organization's users in `statuses` (at most `max_pages`) and
    /// hands each user to `visit`; the answer is the last page's, for its rate-limit headers.
    pub async fn for_each_user(
        &self,
        statuses: &[&str],
        max_pages: u32,
        mut visit: impl FnMut(&OrgUserDetail),
    ) -> Result<Answer<()>, CallError> {
        let mut read: u64 = 0;
        let mut page_num = 1;
        loop {
            let page = self.org_users_page(page_num, statuses).await?;
            let results = page.value.results.len();
            read += results as u64;
            page.value.results.iter().for_each(&mut visit);
            let total = page.value.total_count.unwrap_or(u64::MAX);
            let last = results == 0
                || results < USERS_PAGE_SIZE as usize
                || read >= total
                || page_num >= max_pages;
            if last {
                return Ok(page.map(|_| ()));
            }
            page_num += 1;
        }
    }

    /// Every pending invitation of the organization from the invites resource of the client's
    /// API (v2 or v1.0). `None` with `--api users`, whose users listing already holds them.
    pub async fn pending_invitations(&self) -> Result<Option<Answer<Vec<Invitation>>>, CallError> {
        let (path, media_type) = match self.api() {
            Api::Invites => (
                format!("/api/atlas/v2/orgs/{}/invites", self.org_id()),
                MEDIA_TYPE_2023_01_01,
            ),
            Api::InvitesV1 => (
                format!("/api/atlas/v1.0/orgs/{}/invites", self.org_id()),
                "application/json",
            ),
            Api::Users => return Ok(None),
        };
        let answer = self.get(&path, &[], media_type).await?;
        decode(answer).map(Some)
    }
}

fn decode<T: serde::de::DeserializeOwned>(answer: Answer<Vec<u8>>) -> Result<Answer<T>, CallError> {
    let value = serde_json::from_slice(&answer.value).map_err(|e| CallError::BadAnswer {
        status: answer.status,
        message: format!(
            "the answer is not the expected JSON ({e}): {}",
            summarise_body(&answer.value)
        ),
    })?;
    Ok(Answer {
        value,
        status: answer.status,
        rate: answer.rate,
        sunset: answer.sunset,
    })
}
