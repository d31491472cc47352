//! What becomes of people after the invitation, in the simulator's memory: a pending invitation
//! updated or cancelled, a pending or active user found by id, given or stripped of a role, or
//! removed; and the head counts behind Atlas's capacity limits.
//!
//! These are the rules Atlas enforces, and what the simulator answers when one is broken
//! ([`Refusal::error`] has the codes, and `README.md` lists them):
//!
//! - only pending invitations can be read, updated or cancelled by id; an accepted, expired,
//!   declined or cancelled one is a 404, as the spec says of deleting an accepted one;
//! - a user is addressed by the id the users resource lists: a pending user by its
//!   invitation's id, a member by the id derived from their address ([`user_id`]); updates
//!   and role changes reach pending and active users only ("You can update an active user or
//!   a user that has not yet accepted the invitation"); a removal reaches any listed user;
//! - "A user must have at least one role at all times": removing the last organization role
//!   is refused, and an update cannot send none (its validation refuses that first);
//! - the organization keeps at least one active `ORG_OWNER` once it has one: neither removing
//!   that member nor taking the role away from them is allowed;
//! - adding a role the user holds already is a conflict (the spec lists a 409 for `:addRole`
//!   only); removing one they do not hold changes nothing;
//! - an organization holds at most [`SimConfig::max_org_users`](crate::SimConfig) people
//!   (members and people with a pending invitation), a team at most
//!   [`SimConfig::max_team_users`](crate::SimConfig) (its members and the pending invitations
//!   naming it), when they are set (`atlas-sim` sets Atlas's 500 and 250).
//!
//! Every change is made whole or not at all, under the one lock of the [`Book`].

use std::collections::HashSet;

use sha2::{Digest, Sha256};

use atlas_model::{ApiError, GroupRole, Invitation, OrgRole};

use super::state::{Book, Closed, SimState, SimUser, lock, same_person};

/// What an update changes; `None` leaves a field as it is, `Some` replaces it whole.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Change {
    pub(crate) roles: Option<Vec<OrgRole>>,
    pub(crate) team_ids: Option<Vec<String>>,
    pub(crate) group_roles: Option<Vec<GroupRole>>,
}

/// Why a change of a person was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// No pending invitation has this id in the organization.
    InvitationNotFound(String),
    /// No pending or active user (or, for a removal or a read asking for them, no expired or
    /// declined one) has this id in the organization.
    UserNotFound(String),
    /// The role to remove is the user's only organization role.
    LastOrgRole(String),
    /// The change would leave the organization without an active `ORG_OWNER`.
    LastOwner(String),
    /// `:addRole` of a role the user holds already.
    HasRole { user: String, role: OrgRole },
    /// The team holds as many people as it may.
    TeamFull { team: String, max: usize },
}

impl Refusal {
    /// The answer Atlas gives. The codes of the not-found cases follow Atlas's
    /// `<RESOURCE>_NOT_FOUND` naming (the spec's shared example is the generic
    /// `RESOURCE_NOT_FOUND`); the refusals are 400s, because the spec lists no 409 for
    /// `updateOrgUser`, `removeOrgUserRole` or `removeOrgUser`, and 400 is its answer to a
    /// request that cannot be carried out as sent.
    pub(crate) fn error(&self) -> ApiError {
        match self {
            Refusal::InvitationNotFound(id) => ApiError::new(
                404,
                "INVITATION_NOT_FOUND",
                format!("No pending invitation with ID {id} exists in this organization."),
            ),
            Refusal::UserNotFound(id) => ApiError::new(
                404,
                "USER_NOT_FOUND",
                format!("No user with ID {id} exists in this organization."),
            ),
            Refusal::LastOrgRole(user) => ApiError::new(
                400,
                "CANNOT_REMOVE_LAST_ORG_ROLE",
                format!(
                    "The user {user} must have at least one organization role at all times: add \
                     the new role before removing the old one."
                ),
            ),
            Refusal::LastOwner(user) => ApiError::new(
                400,
                "CANNOT_REMOVE_LAST_ORG_OWNER",
                format!(
                    "The user {user} is the last Organization Owner: an organization must keep \
                     at least one."
                ),
            ),
            Refusal::HasRole { user, role } => ApiError::new(
                409,
                "USER_ALREADY_HAS_ORG_ROLE",
                format!("The user {user} already has the organization role {role}."),
            ),
            Refusal::TeamFull { team, max } => team_full(team, *max),
        }
    }
}

/// 400 `MAX_USERS_PER_ORG_EXCEEDED`: the organization holds `max` people already. A 400 rather
/// than a 409: a client reads a 409 on an invitation as "already invited", which would be
/// exactly wrong here.
pub(crate) fn org_full(org_id: &str, max: usize) -> ApiError {
    ApiError::new(
        400,
        "MAX_USERS_PER_ORG_EXCEEDED",
        format!(
            "Organization {org_id} has reached its limit of {max} users, pending invitations \
             included."
        ),
    )
}

/// 400 `MAX_USERS_PER_TEAM_EXCEEDED`, for the same reason as [`org_full`].
pub(crate) fn team_full(team: &str, max: usize) -> ApiError {
    ApiError::new(
        400,
        "MAX_USERS_PER_TEAM_EXCEEDED",
        format!("Team {team} has reached its limit of {max} users."),
    )
}

/// A stable 24-hex id for a member, derived from the address so that every listing (and a
/// member who joined outside the simulator) gives the same one.
pub(crate) fn user_id(email: &str) -> String {
    let digest = Sha256::digest(email.to_lowercase().as_bytes());
    digest.iter().take(12).map(|b| format!("{b:02x}")).collect()
}

/// Who a users-resource id names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Person {
    /// An active member, by lower-cased address.
    Member(String),
    /// A person invited but not a member, by the index of their latest invitation.
    Invited {
        index: usize,
        closed: Option<Closed>,
    },
}

impl Book {
    fn is_open(&self, invitation: &Invitation) -> bool {
        invitation
            .id
            .as_ref()
            .is_some_and(|id| !self.closed.contains_key(id))
    }

    /// The index of the pending invitation `id` of `org_id`.
    fn open_invitation(&self, org_id: &str, id: &str) -> Option<usize> {
        self.invitations.iter().position(|inv| {
            inv.id.as_deref() == Some(id)
                && inv.org_id.as_deref() == Some(org_id)
                && self.is_open(inv)
        })
    }

    /// People in `org_id`: every member, and everybody else with a pending invitation to it.
    pub(crate) fn org_headcount(&self, org_id: &str) -> usize {
        let invited = self
            .pending
            .iter()
            .filter(|((org, email), count)| {
                org == org_id && **count > 0 && !self.members.contains_key(email)
            })
            .count();
        self.members.len() + invited
    }

    /// Whether the person `email` (lower-cased) is in `team` of `org_id`: as a member holding
    /// it, or through a pending invitation naming it.
    fn in_team(&self, org_id: &str, email: &str, team: &str) -> bool {
        match self.members.get(email) {
            Some(member) => member.team_ids.iter().any(|t| t == team),
            None => self.invitations.iter().any(|inv| {
                inv.org_id.as_deref() == Some(org_id)
                    && same_person(inv, email)
                    && self.is_open(inv)
                    && inv.team_ids.iter().any(|t| t == team)
            }),
        }
    }

    /// People in `team`: members holding it, and everybody else with a pending invitation
    /// naming it.
    fn team_headcount(&self, org_id: &str, team: &str) -> usize {
        let members = self
            .members
            .values()
            .filter(|m| m.team_ids.iter().any(|t| t == team))
            .count();
        let invited: HashSet<String> = self
            .invitations
            .iter()
            .filter(|inv| inv.org_id.as_deref() == Some(org_id) && self.is_open(inv))
            .filter(|inv| inv.team_ids.iter().any(|t| t == team))
            .filter_map(|inv| inv.username.as_deref().map(str::to_lowercase))
            .filter(|email| !self.members.contains_key(email))
            .collect();
        members + invited.len()
    }

    /// The first of `teams` that `email` (lower-cased) would join and that is full already.
    pub(crate) fn full_team(
        &self,
        org_id: &str,
        email: &str,
        teams: &[String],
        max: usize,
    ) -> Option<String> {
        teams
            .iter()
            .filter(|team| !self.in_team(org_id, email, team))
            .find(|team| self.team_headcount(org_id, team) >= max)
            .cloned()
    }

    fn active_owners(&self) -> usize {
        self.members
            .values()
            .filter(|m| m.roles.iter().any(|r| r == OrgRole::OrgOwner.as_str()))
            .count()
    }

    /// Whether taking `ORG_OWNER` from the member `email` would leave no active owner.
    fn is_last_owner(&self, email: &str) -> bool {
        self.members
            .get(email)
            .is_some_and(|m| m.roles.iter().any(|r| r == OrgRole::OrgOwner.as_str()))
            && self.active_owners() == 1
    }

    /// The person `id` names in `org_id`, if any is listed.
    fn person(&self, org_id: &str, id: &str) -> Option<Person> {
        if let Some(email) = self.members.keys().find(|email| user_id(email) == id) {
            return Some(Person::Member(email.clone()));
        }
        let index = self.invitations.iter().position(|inv| {
            inv.id.as_deref() == Some(id) && inv.org_id.as_deref() == Some(org_id)
        })?;
        let email = self.invitations[index]
            .username
            .as_deref()
            .unwrap_or_default()
            .to_lowercase();
        if self.members.contains_key(&email) {
            return None;
        }
        // Only the person's latest invitation stands for them, as in the listing.
        let latest = self
            .invitations
            .iter()
            .rposition(|inv| inv.org_id.as_deref() == Some(org_id) && same_person(inv, &email))?;
        let closed = self.closed.get(id).copied();
        (latest == index && closed != Some(Closed::Deleted))
            .then_some(Person::Invited { index, closed })
    }

    /// How the users resource shows `person`.
    fn user(&self, org_id: &str, person: &Person) -> SimUser {
        match person {
            Person::Member(email) => SimUser::Active {
                email: email.clone(),
                invitation: self
                    .invitations
                    .iter()
                    .rev()
                    .find(|inv| {
                        inv.org_id.as_deref() == Some(org_id)
                            && same_person(inv, email)
                            && inv.id.as_ref().and_then(|id| self.closed.get(id))
                                == Some(&Closed::Accepted)
                    })
                    .cloned(),
                member: self.members[email].clone(),
            },
            Person::Invited { index, closed } => SimUser::Invited {
                invitation: self.invitations[*index].clone(),
                closed: *closed,
            },
        }
    }

    /// Closes the invitation at `index` as cancelled, and counts it out of the pending ones.
    fn cancel(&mut self, index: usize) {
        let invitation = &self.invitations[index];
        let Some(id) = invitation.id.clone() else {
            return;
        };
        let was_open = self.closed.insert(id, Closed::Deleted).is_none();
        let key = (
            invitation.org_id.clone().unwrap_or_default(),
            invitation
                .username
                .as_deref()
                .unwrap_or_default()
                .trim()
                .to_lowercase(),
        );
        if was_open && let Some(count) = self.pending.get_mut(&key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.pending.remove(&key);
            }
        }
    }

    /// The pending or active person `id` names, for an update.
    fn changeable(&self, org_id: &str, id: &str) -> Result<Person, Refusal> {
        match self.person(org_id, id) {
            Some(person @ (Person::Member(_) | Person::Invited { closed: None, .. })) => Ok(person),
            _ => Err(Refusal::UserNotFound(id.to_owned())),
        }
    }

    /// Checks `change` against the rules for `person`, then makes it.
    fn change(
        &mut self,
        org_id: &str,
        person: &Person,
        change: Change,
        max_team_users: Option<usize>,
    ) -> Result<(), Refusal> {
        let email = self.email_of(person);
        if let Some(new_roles) = &change.roles {
            if new_roles.is_empty() {
                return Err(Refusal::LastOrgRole(email));
            }
            let keeps_owner = new_roles.contains(&OrgRole::OrgOwner);
            if !keeps_owner && self.is_last_owner(&email) {
                return Err(Refusal::LastOwner(email));
            }
        }
        if let (Some(teams), Some(max)) = (&change.team_ids, max_team_users)
            && let Some(team) = self.full_team(org_id, &email, teams, max)
        {
            return Err(Refusal::TeamFull { team, max });
        }
        let names = |roles: Vec<OrgRole>| -> Vec<String> {
            roles.into_iter().map(|r| r.as_str().to_owned()).collect()
        };
        match person {
            Person::Member(email) => {
                let member = self.members.get_mut(email).expect("found above");
                if let Some(roles) = change.roles {
                    member.roles = names(roles);
                }
                if let Some(teams) = change.team_ids {
                    member.team_ids = teams;
                }
                if let Some(groups) = change.group_roles {
                    member.group_roles = groups;
                }
            }
            Person::Invited { index, .. } => {
                let inv = &mut self.invitations[*index];
                if let Some(roles) = change.roles {
                    inv.roles = names(roles);
                }
                if let Some(teams) = change.team_ids {
                    inv.team_ids = teams;
                }
                if let Some(groups) = change.group_roles {
                    inv.group_role_assignments = groups;
                }
            }
        }
        Ok(())
    }

    /// The organization roles `person` holds.
    fn roles_of(&self, person: &Person) -> Vec<String> {
        match person {
            Person::Member(email) => self.members[email].roles.clone(),
            Person::Invited { index, .. } => self.invitations[*index].roles.clone(),
        }
    }

    fn email_of(&self, person: &Person) -> String {
        match person {
            Person::Member(email) => email.clone(),
            Person::Invited { index, .. } => self.invitations[*index]
                .username
                .as_deref()
                .unwrap_or_default()
                .to_lowercase(),
        }
    }
}

/// Parses wire role names back into roles, dropping any the simulator never stores.
fn parse_roles(names: &[String]) -> Vec<OrgRole> {
    names
        .iter()
        .filter_map(|name| OrgRole::ALL.into_iter().find(|r| r.as_str() == name))
        .collect()
}

/// Changes of pending invitations, by invitation id (the invites resources, v2 and v1.0).
impl SimState {
    /// The pending invitation `id` of `org_id`.
    pub(crate) fn invitation(&self, org_id: &str, id: &str) -> Result<Invitation, Refusal> {
        let book = lock(&self.book);
        book.open_invitation(org_id, id)
            .map(|index| book.invitations[index].clone())
            .ok_or_else(|| Refusal::InvitationNotFound(id.to_owned()))
    }

    /// Replaces what `change` names in the pending invitation `id`.
    pub(crate) fn update_invitation(
        &self,
        org_id: &str,
        id: &str,
        change: Change,
    ) -> Result<Invitation, Refusal> {
        let mut book = lock(&self.book);
        let index = book
            .open_invitation(org_id, id)
            .ok_or_else(|| Refusal::InvitationNotFound(id.to_owned()))?;
        let closed = None;
        book.change(
            org_id,
            &Person::Invited { index, closed },
            change,
            self.config().max_team_users,
        )?;
        Ok(book.invitations[index].clone())
    }

    /// Cancels the pending invitation `id`: it leaves the invites listing, its person leaves
    /// the users listing, and they may be invited again.
    pub(crate) fn delete_invitation(&self, org_id: &str, id: &str) -> Result<(), Refusal> {
        let mut book = lock(&self.book);
        let index = book
            .open_invitation(org_id, id)
            .ok_or_else(|| Refusal::InvitationNotFound(id.to_owned()))?;
        book.cancel(index);
        Ok(())
    }

    /// The lower-cased address behind a pending invitation id, which picks that person's
    /// scripted faults; empty when there is none.
    pub(crate) fn invitation_email(&self, org_id: &str, id: &str) -> String {
        let book = lock(&self.book);
        book.open_invitation(org_id, id)
            .and_then(|index| book.invitations[index].username.clone())
            .unwrap_or_default()
            .to_lowercase()
    }
}

/// Changes of users, by user id (the users resource, version 2025-02-19).
impl SimState {
    /// The user `id` of `org_id`, if listed in one of `statuses` (the `orgMembershipStatus`
    /// names).
    pub(crate) fn user(
        &self,
        org_id: &str,
        id: &str,
        statuses: &[&str],
    ) -> Result<SimUser, Refusal> {
        let book = lock(&self.book);
        let person = book
            .person(org_id, id)
            .filter(|person| {
                let status = match person {
                    Person::Member(_) => "ACTIVE",
                    Person::Invited { closed: None, .. } => "PENDING",
                    Person::Invited {
                        closed: Some(Closed::Expired),
                        ..
                    } => "INVITATION_EXPIRED",
                    Person::Invited {
                        closed: Some(Closed::Rejected),
                        ..
                    } => "INVITATION_REJECTED",
                    Person::Invited { .. } => return false,
                };
                statuses.contains(&status)
            })
            .ok_or_else(|| Refusal::UserNotFound(id.to_owned()))?;
        Ok(book.user(org_id, &person))
    }

    /// The lower-cased address of the user `id`, which picks that person's scripted faults;
    /// empty when there is none.
    pub(crate) fn user_email(&self, org_id: &str, id: &str) -> String {
        let book = lock(&self.book);
        book.person(org_id, id)
            .map(|person| book.email_of(&person))
            .unwrap_or_default()
    }

    /// Replaces what `change` names for the pending or active user `id`.
    pub(crate) fn update_user(
        &self,
        org_id: &str,
        id: &str,
        change: Change,
    ) -> Result<SimUser, Refusal> {
        let mut book = lock(&self.book);
        let person = book.changeable(org_id, id)?;
        book.change(org_id, &person, change, self.config().max_team_users)?;
        Ok(book.user(org_id, &person))
    }

    /// `:addRole`: gives the pending or active user `id` one more organization role.
    pub(crate) fn add_org_role(
        &self,
        org_id: &str,
        id: &str,
        role: OrgRole,
    ) -> Result<SimUser, Refusal> {
        let mut book = lock(&self.book);
        let person = book.changeable(org_id, id)?;
        let mut roles = parse_roles(&book.roles_of(&person));
        if roles.contains(&role) {
            return Err(Refusal::HasRole {
                user: book.email_of(&person),
                role,
            });
        }
        roles.push(role);
        let change = Change {
            roles: Some(roles),
            ..Change::default()
        };
        book.change(org_id, &person, change, self.config().max_team_users)?;
        Ok(book.user(org_id, &person))
    }

    /// `:removeRole`: takes one organization role from the pending or active user `id`.
    pub(crate) fn remove_org_role(
        &self,
        org_id: &str,
        id: &str,
        role: OrgRole,
    ) -> Result<SimUser, Refusal> {
        let mut book = lock(&self.book);
        let person = book.changeable(org_id, id)?;
        let held = parse_roles(&book.roles_of(&person));
        if !held.contains(&role) {
            return Ok(book.user(org_id, &person));
        }
        let rest: Vec<OrgRole> = held.into_iter().filter(|r| *r != role).collect();
        if rest.is_empty() {
            return Err(Refusal::LastOrgRole(book.email_of(&person)));
        }
        let change = Change {
            roles: Some(rest),
            ..Change::default()
        };
        book.change(org_id, &person, change, self.config().max_team_users)?;
        Ok(book.user(org_id, &person))
    }

    /// Removes the user `id` from the organization: a member leaves it (the last owner
    /// excepted), a pending invitation is cancelled, an expired or declined one is forgotten.
    /// Either way the person is no longer listed, and may be invited again.
    pub(crate) fn remove_user(&self, org_id: &str, id: &str) -> Result<(), Refusal> {
        let mut book = lock(&self.book);
        let person = book
            .person(org_id, id)
            .ok_or_else(|| Refusal::UserNotFound(id.to_owned()))?;
        match person {
            Person::Member(email) => {
                if book.is_last_owner(&email) {
                    return Err(Refusal::LastOwner(email));
                }
                book.members.remove(&email);
                // Their accepted invitations must not bring them back into the listing.
                let Book {
                    invitations,
                    closed,
                    ..
                } = &mut *book;
                for inv in invitations.iter().filter(|inv| same_person(inv, &email)) {
                    if let Some(state) = inv.id.as_ref().and_then(|id| closed.get_mut(id))
                        && *state == Closed::Accepted
                    {
                        *state = Closed::Deleted;
                    }
                }
            }
            Person::Invited { index, closed } => match closed {
                None => book.cancel(index),
                Some(_) => {
                    if let Some(id) = book.invitations[index].id.clone() {
                        book.closed.insert(id, Closed::Deleted);
                    }
                }
            },
        }
        Ok(())
    }
}

/// A member's roles as [`Member`] keeps them: for tests.
#[cfg(test)]
pub(crate) fn member_roles(state: &SimState, email: &str) -> Option<Vec<String>> {
    lock(&state.book)
        .members
        .get(&email.to_lowercase())
        .map(|m| m.roles.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SimConfig;
    use crate::state::NewInvitation;

    const ORG: &str = "5f1e2d3c4b5a697887766554";
    const TEAM: &str = "65a1f0c2e4b7d9a3c5e8f101";

    fn invite(state: &SimState, email: &str, teams: &[&str]) -> Invitation {
        state
            .create(
                ORG,
                &NewInvitation {
                    username: email.to_owned(),
                    roles: vec![OrgRole::OrgMember],
                    team_ids: teams.iter().map(|t| (*t).to_owned()).collect(),
                    group_roles: vec![],
                },
            )
            .unwrap()
    }

    #[test]
    fn a_cancelled_invitation_frees_its_place_and_leaves_the_listing() {
        let state = SimState::new(SimConfig {
            max_org_users: Some(2),
            ..SimConfig::default()
        });
        state.add_member("m@example.com");
        let a = invite(&state, "a@example.com", &[]);
        let b = NewInvitation {
            username: "b@example.com".into(),
            roles: vec![OrgRole::OrgMember],
            team_ids: vec![],
            group_roles: vec![],
        };
        assert_eq!(
            state.create(ORG, &b),
            Err(crate::state::Conflict::OrgFull(2))
        );
        let id = a.id.unwrap();
        state.delete_invitation(ORG, &id).unwrap();
        assert_eq!(
            state.delete_invitation(ORG, &id),
            Err(Refusal::InvitationNotFound(id.clone()))
        );
        assert!(state.create(ORG, &b).is_ok(), "the place was freed");
        assert!(
            state
                .org_users(ORG)
                .iter()
                .all(|u| !matches!(u, SimUser::Invited { invitation, .. } if invitation.id.as_deref() == Some(&id)))
        );
    }

    #[test]
    fn teams_fill_up_counting_members_and_pending_invitations() {
        let state = SimState::new(SimConfig {
            max_team_users: Some(2),
            ..SimConfig::default()
        });
        invite(&state, "a@example.com", &[TEAM]);
        let b = invite(&state, "b@example.com", &[]);
        let b_id = b.id.unwrap();
        let join = Change {
            team_ids: Some(vec![TEAM.to_owned()]),
            ..Change::default()
        };
        state.update_invitation(ORG, &b_id, join.clone()).unwrap();
        // Joining again is no new head.
        state.update_invitation(ORG, &b_id, join.clone()).unwrap();
        let c = invite(&state, "c@example.com", &[]);
        assert_eq!(
            state.update_invitation(ORG, c.id.as_deref().unwrap(), join),
            Err(Refusal::TeamFull {
                team: TEAM.to_owned(),
                max: 2
            })
        );
        assert!(state.accept_invitation("a@example.com"));
        assert_eq!(
            member_roles(&state, "a@example.com"),
            Some(vec!["ORG_MEMBER".to_owned()])
        );
        // a is now a member holding the team: still two in it.
        let d = NewInvitation {
            username: "d@example.com".into(),
            roles: vec![OrgRole::OrgMember],
            team_ids: vec![TEAM.to_owned()],
            group_roles: vec![],
        };
        assert_eq!(
            state.create(ORG, &d),
            Err(crate::state::Conflict::TeamFull(TEAM.to_owned(), 2))
        );
    }

    #[test]
    fn the_last_owner_and_the_last_role_stay() {
        let state = SimState::new(SimConfig {
            existing_owners: vec!["Owner@example.com".into()],
            ..SimConfig::default()
        });
        let owner = user_id("owner@example.com");
        assert_eq!(
            state.remove_org_role(ORG, &owner, OrgRole::OrgOwner),
            Err(Refusal::LastOrgRole("owner@example.com".into()))
        );
        state.add_org_role(ORG, &owner, OrgRole::OrgMember).unwrap();
        assert!(matches!(
            state.add_org_role(ORG, &owner, OrgRole::OrgMember),
            Err(Refusal::HasRole { .. })
        ));
        assert_eq!(
            state.remove_org_role(ORG, &owner, OrgRole::OrgOwner),
            Err(Refusal::LastOwner("owner@example.com".into()))
        );
        assert_eq!(
            state.remove_user(ORG, &owner),
            Err(Refusal::LastOwner("owner@example.com".into()))
        );
        // With a second owner, the first may go.
        state.add_member("second@example.com");
        let second = user_id("second@example.com");
        state
            .update_user(
                ORG,
                &second,
                Change {
                    roles: Some(vec![OrgRole::OrgOwner]),
                    ..Change::default()
                },
            )
            .unwrap();
        state
            .remove_org_role(ORG, &owner, OrgRole::OrgOwner)
            .unwrap();
        assert_eq!(
            member_roles(&state, "owner@example.com"),
            Some(vec!["ORG_MEMBER".to_owned()])
        );
        state.remove_user(ORG, &owner).unwrap();
        assert_eq!(member_roles(&state, "owner@example.com"), None);
        assert_eq!(
            state.user(ORG, &owner, &["ACTIVE"]),
            Err(Refusal::UserNotFound(owner.clone()))
        );
    }

    #[test]
    fn a_pending_user_is_its_latest_invitation() {
        let state = SimState::new(SimConfig::default());
        let first = invite(&state, "p@example.com", &[]);
        let first_id = first.id.unwrap();
        assert!(state.user(ORG, &first_id, &["PENDING"]).is_ok());
        assert!(state.expire_invitation("p@example.com"));
        assert!(state.user(ORG, &first_id, &["PENDING", "ACTIVE"]).is_err());
        assert!(state.user(ORG, &first_id, &["INVITATION_EXPIRED"]).is_ok());
        let second = invite(&state, "p@example.com", &[]);
        assert!(
            state.user(ORG, &first_id, &["INVITATION_EXPIRED"]).is_err(),
            "replaced by the new invitation"
        );
        let second_id = second.id.unwrap();
        state.remove_user(ORG, &second_id).unwrap();
        assert!(state.pending(ORG, Some("p@example.com")).is_empty());
        assert!(state.user(ORG, &second_id, &["PENDING"]).is_err());
        assert_eq!(
            state.user_email(ORG, &second_id),
            "",
            "a removed user has no address"
        );
    }
}
