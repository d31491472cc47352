//! What the pipeline needs from the outside, as two small traits: an [`Executor`] that carries
//! out one operation for one person and looks up whether it took effect, and an [`EventSink`]
//! that takes the pipeline's events (and commits those that must be durable before a request
//! goes out).
//!
//! The Atlas client and the journal's recorder implement them; the pipeline knows neither, so
//! its state machine — send, answer, unknown outcome, settle, lookup, resend, 409, 429, 401 — is
//! tested with fakes on tokio's paused clock.

use futures::future::BoxFuture;

use super::events::Event;
use crate::atlas::client::{Answer, Api, AtlasClient};
use crate::atlas::error::CallError;
use crate::atlas::lifecycle::{
    DELETE_USER_ENDPOINT, InvitationUpdateRequest, OrgUserRolesUpdate, OrgUserUpdateRequest,
    Removal, UPDATE_USER_ENDPOINT,
};
use crate::atlas::model::{Invitation, InvitationRequest, OrgRole, UserGroupRoles};
use crate::plan::Grants;

/// A user of the organization, as a change needs to know them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSeen {
    pub id: String,
    /// Accepted: a member (`ACTIVE`), not a pending invitee.
    pub active: bool,
    /// Holds ORG_OWNER.
    pub owner: bool,
}

/// One PATCH or DELETE of a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeCall {
    /// `PATCH …/invites/{invitationId}`: the grants of a pending invitation.
    UpdateInvitation { id: String, grants: Grants },
    /// `PATCH …/users/{userId}`: the roles and teams of a pending or active user, replaced in
    /// one request, so that nobody is ever left without a role.
    UpdateUser { id: String, grants: Grants },
    /// `DELETE …/invites/{invitationId}`.
    DeleteInvitation { id: String },
    /// `DELETE …/users/{userId}`: a pending user's invitation, or a member, removed.
    DeleteUser { id: String },
}

/// What a PATCH or DELETE did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Applied,
    /// A deletion found nothing left to delete.
    Gone,
}

/// A future of the executor.
pub type Call<'a, T> = BoxFuture<'a, Result<Answer<T>, CallError>>;

/// One operation against Atlas for one person: today, the invitation.
pub trait Executor: Send + Sync {
    /// Carries the operation out (the POST that invites). The answer's `id` identifies what was
    /// created.
    fn send<'a>(
        &'a self,
        request: &'a InvitationRequest,
    ) -> BoxFuture<'a, Result<Answer<Invitation>, CallError>>;

    /// Whether the operation took effect for `email` (the GET made after an unknown outcome).
    fn lookup<'a>(
        &'a self,
        email: &'a str,
    ) -> BoxFuture<'a, Result<Answer<Option<Invitation>>, CallError>>;

    /// The endpoint `send` uses, as recorded in `attempts.endpoint`.
    fn send_endpoint(&self) -> &'static str;

    /// The endpoint `lookup` uses.
    fn lookup_endpoint(&self) -> &'static str;

    /// The id of the pending invitation for `email`, with the invitation endpoints (the users
    /// endpoint has no invitations: `None` always).
    fn find_pending_invitation<'a>(&'a self, email: &'a str) -> Call<'a, Option<String>>;

    /// The endpoint of [`Executor::find_pending_invitation`], `None` when the API in use has no
    /// invitations.
    fn invitation_lookup_endpoint(&self) -> Option<&'static str>;

    /// The user (pending or active) for `email`, if any.
    fn find_user<'a>(&'a self, email: &'a str) -> Call<'a, Option<UserSeen>>;

    /// The endpoint of [`Executor::find_user`].
    fn user_lookup_endpoint(&self) -> &'static str;

    /// How many members of the organization hold ORG_OWNER.
    fn owners(&self) -> Call<'_, u64>;

    /// The endpoint [`Executor::owners`] reads.
    fn owners_endpoint(&self) -> &'static str;

    /// Sends one PATCH or DELETE. A DELETE that finds nothing (404) is [`Effect::Gone`]; an
    /// update that finds nothing is an error (the person was looked up a moment ago).
    fn change<'a>(&'a self, call: &'a ChangeCall) -> Call<'a, Effect>;

    /// The endpoint of a change, as recorded in `attempts.endpoint`.
    fn change_endpoint(&self, call: &ChangeCall) -> &'static str;
}

impl Executor for AtlasClient {
    fn send<'a>(
        &'a self,
        request: &'a InvitationRequest,
    ) -> BoxFuture<'a, Result<Answer<Invitation>, CallError>> {
        Box::pin(self.invite(request))
    }

    fn lookup<'a>(
        &'a self,
        email: &'a str,
    ) -> BoxFuture<'a, Result<Answer<Option<Invitation>>, CallError>> {
        Box::pin(self.find_invitation(email))
    }

    fn send_endpoint(&self) -> &'static str {
        self.api().invite_endpoint()
    }

    fn lookup_endpoint(&self) -> &'static str {
        self.api().lookup_endpoint()
    }

    fn find_pending_invitation<'a>(&'a self, email: &'a str) -> Call<'a, Option<String>> {
        Box::pin(async move {
            let answer = self.find_invitation(email).await?;
            Ok(answer.map(|found| found.and_then(|invitation| invitation.id)))
        })
    }

    fn invitation_lookup_endpoint(&self) -> Option<&'static str> {
        match self.api() {
            Api::Invites | Api::InvitesV1 => Some(self.api().lookup_endpoint()),
            // The users resource holds pending invitations as pending users.
            Api::Users => None,
        }
    }

    fn find_user<'a>(&'a self, email: &'a str) -> Call<'a, Option<UserSeen>> {
        Box::pin(async move {
            let answer = self.find_user_by_name(email).await?;
            Ok(answer.map(|user| {
                user.map(|user| UserSeen {
                    active: user.org_membership_status == "ACTIVE",
                    owner: user.roles.org_roles.iter().any(|r| r == "ORG_OWNER"),
                    id: user.id,
                })
            }))
        })
    }

    fn user_lookup_endpoint(&self) -> &'static str {
        USER_LOOKUP_ENDPOINT
    }

    fn owners(&self) -> Call<'_, u64> {
        Box::pin(self.count_owners())
    }

    fn owners_endpoint(&self) -> &'static str {
        crate::atlas::users::USERS_ENDPOINT
    }

    fn change<'a>(&'a self, call: &'a ChangeCall) -> Call<'a, Effect> {
        Box::pin(async move {
            match call {
                ChangeCall::UpdateInvitation { id, grants } => {
                    let request = InvitationUpdateRequest {
                        roles: Some(org_roles(grants)),
                        team_ids: Some(grants.team_ids.clone()),
                        group_role_assignments: Some(grants.projects.clone()),
                    };
                    Ok(self
                        .update_invitation(id, &request)
                        .await?
                        .map(|_| Effect::Applied))
                }
                ChangeCall::UpdateUser { id, grants } => {
                    let request = OrgUserUpdateRequest {
                        roles: Some(OrgUserRolesUpdate {
                            org_roles: org_roles(grants),
                            group_role_assignments: Some(
                                grants
                                    .projects
                                    .iter()
                                    .map(|p| UserGroupRoles {
                                        group_id: p.group_id.clone(),
                                        group_roles: p.roles.clone(),
                                    })
                                    .collect(),
                            ),
                        }),
                        team_ids: Some(grants.team_ids.clone()),
                    };
                    Ok(self
                        .update_user(id, &request)
                        .await?
                        .map(|_| Effect::Applied))
                }
                ChangeCall::DeleteInvitation { id } => {
                    Ok(removed(self.delete_invitation(id).await?))
                }
                ChangeCall::DeleteUser { id } => Ok(removed(self.delete_user(id).await?)),
            }
        })
    }

    fn change_endpoint(&self, call: &ChangeCall) -> &'static str {
        match call {
            ChangeCall::UpdateInvitation { .. } => self.api().update_invitation_endpoint(),
            ChangeCall::DeleteInvitation { .. } => self.api().delete_invitation_endpoint(),
            ChangeCall::UpdateUser { .. } => UPDATE_USER_ENDPOINT,
            ChangeCall::DeleteUser { .. } => DELETE_USER_ENDPOINT,
        }
    }
}

/// The lookup of a user by address, as a template for `attempts.endpoint`.
const USER_LOOKUP_ENDPOINT: &str = "GET /api/atlas/v2/orgs/{orgId}/users?username=";

/// The organization roles of grants as the wire types take them; a role this version does not
/// know (the journal was written by a later one) is left out rather than sent wrong.
fn org_roles(grants: &Grants) -> Vec<OrgRole> {
    grants
        .roles
        .iter()
        .filter_map(|r| OrgRole::parse(r))
        .collect()
}

fn removed(answer: Answer<Removal>) -> Answer<Effect> {
    answer.map(|removal| match removal {
        Removal::Removed => Effect::Applied,
        Removal::AlreadyGone => Effect::Gone,
    })
}

/// The sink could not take an event: nothing may be done that relies on it being recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the journal could not record the event")]
pub struct SinkClosed;

/// Where the pipeline's events go.
pub trait EventSink: Send + Sync {
    /// Hands an event over; it is recorded (and shown) in order, soon.
    fn emit(&self, event: Event);

    /// Hands an event over and completes once it is durable.
    fn commit(&self, event: Event) -> BoxFuture<'_, Result<(), SinkClosed>>;
}
