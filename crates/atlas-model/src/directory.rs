//! The organization's teams and projects listings, `GET /orgs/{orgId}/teams`
//! (`PaginatedTeamView`) and `GET /orgs/{orgId}/groups` (`PaginatedAtlasGroupView`), version
//! 2023-01-01; `Page` is also the shape of the `rateLimits` listing.
//!
//! See: `listOrgTeams` and `getOrgGroups` in `atlas-invites-openapi.yaml`.

use serde::{Deserialize, Serialize};

/// `TeamResponse`: the fields of a team that matter here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TeamView {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<serde_json::Value>,
}

/// `Group`: a project, with the fields the spec requires.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupView {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub org_id: String,
    #[serde(default)]
    pub cluster_count: i64,
    #[serde(default)]
    pub created: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<serde_json::Value>,
}

/// `PaginatedTeamView` and `PaginatedAtlasGroupView`: one page of a listing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<serde_json::Value>,
    #[serde(default = "Vec::new")]
    pub results: Vec<T>,
    /// Omitted when the request said `includeCount=false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_count: Option<u64>,
}
