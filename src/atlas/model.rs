//! Wire types of the Atlas Administration API that `atlas-invite` sends and reads, and the role
//! vocabulary they carry.
//!
//! They live in the `atlas-model` crate (`crates/atlas-model`), which the simulator uses too, so
//! that the two can never drift apart on field names; they are re-exported here at the paths
//! the rest of the product uses.

pub use atlas_model::{
    ApiError, BadRequestDetail, FieldViolation, GroupRole, GroupRoleAssignment, Invitation,
    InvitationRequest, KNOWN_GROUP_ROLES, MEDIA_TYPE_2023_01_01, MEDIA_TYPE_2025_02_19, OrgRole,
    OrgUser, OrgUserPage, OrgUserRequest, OrgUserRoles, UserGroupRoles, is_atlas_id,
    parse_group_role,
};
