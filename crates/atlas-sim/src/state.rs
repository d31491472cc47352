//! The simulator's memory: created invitations, members, per-token rate-limit buckets, the
//! remaining scripted faults, the seeded fault generator, and the request counters.
//!
//! What happens to people after the invitation (updates, cancellations, role changes,
//! removals) works on the same [`Book`] from `people.rs`.
//!
//! [`SimState`] is shared between the HTTP handlers and whoever started the simulator (tests
//! inspect it). Every method takes `&self`; the locks are plain `std::sync::Mutex`es held only
//! for a few map operations and never across an `.await`, which keeps 64 concurrent clients from
//! queueing behind each other. Counters are atomics so that counting never takes a lock.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use atlas_model::{GroupRole, Invitation, OrgRole};

use super::config::{Fault, RateLimit, SimConfig};

/// Name every simulated organization answers with (the contract requires `orgName`, and its
/// pattern allows no spaces).
pub(crate) const ORG_NAME: &str = "Atlas-Simulator-Org";
/// Who the simulated invitations say sent them.
pub(crate) const INVITER: &str = "simulator-admin@example.com";
/// How long an invitation stays valid, as in Atlas.
const INVITATION_LIFETIME: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// A snapshot of what the simulator has seen and done.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Every HTTP request received, whatever its path or outcome.
    pub requests: u64,
    /// POSTs on either invite path (v2 and v1.0), whatever their outcome.
    pub invite_posts: u64,
    /// GETs on either invite path.
    pub invite_gets: u64,
    /// Invitations created, including those whose answer was then dropped, cut or broken.
    pub created: u64,
    /// 429 answers, from the token bucket or scripted.
    pub rate_limited: u64,
    /// 5xx answers, including injected ones (JSON or HTML).
    pub server_errors: u64,
    /// Connections closed without an answer after recording the invitation.
    pub dropped: u64,
    /// Requests that were never answered.
    pub hung: u64,
    /// 409 answers.
    pub conflicts: u64,
    /// 401 answers.
    pub unauthorized: u64,
    /// 400 answers.
    pub bad_requests: u64,
    /// POSTs on the users path (`/api/atlas/v2/orgs/{orgId}/users`), whatever their outcome.
    pub user_posts: u64,
    /// GETs on the users path, one per page.
    pub user_gets: u64,
    /// GETs on `/api/atlas/v2/rateLimits` (and one endpoint set), whatever their outcome.
    pub rate_limit_gets: u64,
    /// PATCHes of one invitation (`.../invites/{invitationId}`, v2 and v1.0).
    pub invite_updates: u64,
    /// DELETEs of one invitation (v2 and v1.0).
    pub invite_deletes: u64,
    /// PATCHes, `:addRole` and `:removeRole` POSTs of one user (`.../users/{userId}`).
    pub user_updates: u64,
    /// DELETEs of one user.
    pub user_deletes: u64,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) requests: AtomicU64,
    pub(crate) invite_posts: AtomicU64,
    pub(crate) invite_gets: AtomicU64,
    pub(crate) created: AtomicU64,
    pub(crate) rate_limited: AtomicU64,
    pub(crate) server_errors: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) hung: AtomicU64,
    pub(crate) conflicts: AtomicU64,
    pub(crate) unauthorized: AtomicU64,
    pub(crate) bad_requests: AtomicU64,
    pub(crate) user_posts: AtomicU64,
    pub(crate) user_gets: AtomicU64,
    pub(crate) rate_limit_gets: AtomicU64,
    pub(crate) invite_updates: AtomicU64,
    pub(crate) invite_deletes: AtomicU64,
    pub(crate) user_updates: AtomicU64,
    pub(crate) user_deletes: AtomicU64,
}

/// Adds one to a counter. Relaxed ordering is enough: counters are only ever summed.
pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// One request as the simulator received it, kept with [`SimConfig::record_requests`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    /// The path, without the query.
    pub path: String,
    pub query: Option<String>,
    pub content_type: Option<String>,
    pub accept: Option<String>,
    pub body: Vec<u8>,
}

/// What a validated invite POST asks for, in the simulator's own terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewInvitation {
    pub(crate) username: String,
    pub(crate) roles: Vec<OrgRole>,
    pub(crate) team_ids: Vec<String>,
    pub(crate) group_roles: Vec<GroupRole>,
}

/// Why an invitation was not created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Conflict {
    AlreadyInvited,
    AlreadyMember,
    /// The organization holds [`SimConfig::max_org_users`] people already, this many.
    OrgFull(usize),
    /// This team holds [`SimConfig::max_team_users`] people already, this many.
    TeamFull(String, usize),
}

/// The outcome of asking the token bucket for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RateDecision {
    /// No rate limit is configured.
    Unlimited,
    /// Admitted; `remaining` whole tokens are left out of `limit`.
    Allowed { limit: u32, remaining: u32 },
    /// Refused; one token will be back after `retry_after` whole seconds (at least 1).
    Limited { limit: u32, retry_after: u64 },
}

struct Bucket {
    tokens: f64,
    refilled_at: Instant,
}

pub(crate) struct Book {
    pub(crate) invitations: Vec<Invitation>,
    /// Pending invitations per (organization, lower-cased address).
    pub(crate) pending: HashMap<(String, String), usize>,
    /// Active members by lower-cased address, members of every organization.
    pub(crate) members: HashMap<String, Member>,
    scripts: HashMap<String, VecDeque<Fault>>,
    /// Invitations no longer pending, by invitation id, with how they ended. They stay in
    /// `invitations` (the history tests inspect) but leave the invites listing.
    pub(crate) closed: HashMap<String, Closed>,
}

/// What an active member holds in the organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Member {
    /// Organization roles, as wire names (`ORG_MEMBER`), never empty.
    pub(crate) roles: Vec<String>,
    pub(crate) team_ids: Vec<String>,
    pub(crate) group_roles: Vec<GroupRole>,
}

impl Member {
    /// A member with `role` alone, as one who joined outside the simulator.
    pub(crate) fn with_role(role: OrgRole) -> Member {
        Member {
            roles: vec![role.as_str().to_owned()],
            team_ids: Vec::new(),
            group_roles: Vec::new(),
        }
    }

    /// A member holding what their accepted invitation granted.
    fn from_invitation(invitation: &Invitation) -> Member {
        let mut member = Member {
            roles: invitation.roles.clone(),
            team_ids: invitation.team_ids.clone(),
            group_roles: invitation.group_role_assignments.clone(),
        };
        if member.roles.is_empty() {
            member.roles.push(OrgRole::OrgMember.as_str().to_owned());
        }
        member
    }
}

/// How an invitation stopped being pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Closed {
    Accepted,
    Expired,
    Rejected,
    /// Cancelled through a DELETE (of the invitation or of its pending user), or, for an
    /// accepted one, its member removed: the person is no longer listed at all.
    Deleted,
}

/// One person as the users resource lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SimUser {
    /// A member; `invitation` is the accepted one, if they joined through the simulator.
    Active {
        email: String,
        invitation: Option<Invitation>,
        member: Member,
    },
    /// The person's latest invitation, with `None` while it is pending.
    Invited {
        invitation: Invitation,
        closed: Option<Closed>,
    },
}

/// Everything the simulator remembers. Thread-safe; all methods take `&self`.
pub struct SimState {
    config: SimConfig,
    pub(crate) book: Mutex<Book>,
    buckets: Mutex<HashMap<String, Bucket>>,
    fault_rng: Mutex<fastrand::Rng>,
    next_id: AtomicU64,
    pub(crate) counters: Counters,
    pub(crate) auth: Mutex<super::auth::AuthBook>,
    pub(crate) auth_counters: super::auth::AuthCounters,
    recorded: Mutex<Vec<RecordedRequest>>,
}

/// Takes a lock even if a panicking thread poisoned it: the data behind these locks stays
/// consistent between statements, and a simulator that stops answering after one failed test
/// assertion would only hide the real failure.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl SimState {
    /// Builds the state a simulator with `config` starts from.
    pub fn new(config: SimConfig) -> SimState {
        let mut fault_rng = match config.seed {
            Some(seed) => fastrand::Rng::with_seed(seed),
            None => fastrand::Rng::new(),
        };
        // Ids count up from a random point so that two simulator runs do not hand out the same
        // ids, while one run can never repeat one.
        let first_id = fault_rng.u64(..1 << 40);
        let mut scripts: HashMap<String, VecDeque<Fault>> = HashMap::new();
        for (email, faults) in &config.script {
            scripts
                .entry(email.trim().to_lowercase())
                .or_default()
                .extend(faults.iter().copied());
        }
        let members = config
            .existing_members
            .iter()
            .map(|email| (email, OrgRole::OrgMember))
            .chain(
                config
                    .existing_owners
                    .iter()
                    .map(|e| (e, OrgRole::OrgOwner)),
            )
            .map(|(email, role)| (email.trim().to_lowercase(), Member::with_role(role)))
            .collect();
        SimState {
            book: Mutex::new(Book {
                invitations: Vec::new(),
                pending: HashMap::new(),
                members,
                scripts,
                closed: HashMap::new(),
            }),
            buckets: Mutex::new(HashMap::new()),
            fault_rng: Mutex::new(fault_rng),
            next_id: AtomicU64::new(first_id),
            counters: Counters::default(),
            auth: Mutex::new(super::auth::AuthBook::default()),
            auth_counters: super::auth::AuthCounters::default(),
            recorded: Mutex::new(Vec::new()),
            config,
        }
    }

    /// The configuration this state was built from.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// Every invitation created, in creation order.
    pub fn invitations(&self) -> Vec<Invitation> {
        lock(&self.book).invitations.clone()
    }

    /// The invitations created for `email` (case-insensitive), in creation order.
    pub fn invitations_for(&self, email: &str) -> Vec<Invitation> {
        let wanted = email.trim().to_lowercase();
        lock(&self.book)
            .invitations
            .iter()
            .filter(|inv| {
                inv.username
                    .as_deref()
                    .is_some_and(|name| name.to_lowercase() == wanted)
            })
            .cloned()
            .collect()
    }

    /// The organization roles `email` holds now (case-insensitive): a member's, else those of
    /// their pending invitation; `None` when Atlas would list nobody (never invited, or
    /// cancelled, removed, expired or declined).
    pub fn org_roles_of(&self, email: &str) -> Option<Vec<String>> {
        let wanted = email.trim().to_lowercase();
        let book = lock(&self.book);
        if let Some(member) = book.members.get(&wanted) {
            return Some(member.roles.clone());
        }
        book.invitations
            .iter()
            .rev()
            .filter(|inv| {
                inv.username
                    .as_deref()
                    .is_some_and(|name| name.to_lowercase() == wanted)
            })
            .find(|inv| {
                inv.id
                    .as_ref()
                    .is_none_or(|id| !book.closed.contains_key(id))
            })
            .map(|inv| inv.roles.clone())
    }

    /// Every request received so far, in arrival order, when the simulator was configured
    /// with [`SimConfig::record_requests`]; empty otherwise.
    pub fn recorded(&self) -> Vec<RecordedRequest> {
        lock(&self.recorded).clone()
    }

    /// Keeps `request` if requests are recorded.
    pub(crate) fn record(&self, request: impl FnOnce() -> RecordedRequest) {
        if self.config.record_requests {
            lock(&self.recorded).push(request());
        }
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> SimStats {
        let c = &self.counters;
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        SimStats {
            requests: get(&c.requests),
            invite_posts: get(&c.invite_posts),
            invite_gets: get(&c.invite_gets),
            created: get(&c.created),
            rate_limited: get(&c.rate_limited),
            server_errors: get(&c.server_errors),
            dropped: get(&c.dropped),
            hung: get(&c.hung),
            conflicts: get(&c.conflicts),
            unauthorized: get(&c.unauthorized),
            bad_requests: get(&c.bad_requests),
            user_posts: get(&c.user_posts),
            user_gets: get(&c.user_gets),
            rate_limit_gets: get(&c.rate_limit_gets),
            invite_updates: get(&c.invite_updates),
            invite_deletes: get(&c.invite_deletes),
            user_updates: get(&c.user_updates),
            user_deletes: get(&c.user_deletes),
        }
    }

    /// Makes `email` (case-insensitive) an active member of every organization, so that
    /// inviting it answers 409 `USER_ALREADY_IN_ORG`. A new member holds `ORG_MEMBER`; one
    /// already there keeps their roles.
    pub fn add_member(&self, email: &str) {
        lock(&self.book)
            .members
            .entry(email.trim().to_lowercase())
            .or_insert_with(|| Member::with_role(OrgRole::OrgMember));
    }

    /// Whether organization `org_id` exists (the id is already known to be well-formed).
    pub(crate) fn org_exists(&self, org_id: &str) -> bool {
        self.config
            .org_id
            .as_deref()
            .is_none_or(|only| only == org_id)
    }

    /// Whether `token` (already known to be non-empty) may call the API.
    pub(crate) fn token_accepted(&self, token: &str) -> bool {
        self.config
            .token
            .as_deref()
            .is_none_or(|only| only == token)
    }

    /// The whole tokens left in `token`'s bucket, refilled to now (tests watch when a request
    /// spends its token).
    #[cfg(test)]
    pub(crate) fn tokens_left(&self, token: &str) -> Option<u32> {
        let RateLimit { per_second, burst } = self.config.rate_limit?;
        let buckets = lock(&self.buckets);
        let bucket = buckets.get(token)?;
        let elapsed = bucket.refilled_at.elapsed().as_secs_f64();
        Some(
            (bucket.tokens + elapsed * per_second)
                .min(f64::from(burst))
                .floor() as u32,
        )
    }

    /// Takes one token from `token`'s bucket, if a rate limit is configured.
    pub(crate) fn take_token(&self, token: &str) -> RateDecision {
        let Some(RateLimit { per_second, burst }) = self.config.rate_limit else {
            return RateDecision::Unlimited;
        };
        let capacity = f64::from(burst.max(1));
        let now = Instant::now();
        let mut buckets = lock(&self.buckets);
        let bucket = buckets.entry(token.to_owned()).or_insert(Bucket {
            tokens: capacity,
            refilled_at: now,
        });
        let elapsed = now.duration_since(bucket.refilled_at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(capacity);
        bucket.refilled_at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            RateDecision::Allowed {
                limit: burst,
                remaining: bucket.tokens.floor() as u32,
            }
        } else {
            RateDecision::Limited {
                limit: burst,
                retry_after: retry_after_secs(bucket.tokens, per_second),
            }
        }
    }

    /// The fault for `email`'s next invite POST: its next scripted fault if any is left, else a
    /// random draw against the configured rates, else none.
    pub(crate) fn next_fault(&self, email: &str) -> Option<Fault> {
        {
            let mut book = lock(&self.book);
            if let Some(queue) = book.scripts.get_mut(&email.trim().to_lowercase())
                && let Some(fault) = queue.pop_front()
            {
                return Some(fault);
            }
        }
        let c = &self.config;
        let total = c.fail_rate + c.drop_rate + c.hang_rate + c.html_503_rate;
        if total <= 0.0 {
            // Drawing nothing keeps a seeded sequence independent of fault-free configs.
            return None;
        }
        let draw = lock(&self.fault_rng).f64();
        let mut threshold = 0.0;
        for (rate, fault) in [
            (c.fail_rate, Fault::Error500),
            (c.drop_rate, Fault::RecordThenDrop),
            (c.hang_rate, Fault::Hang),
            (c.html_503_rate, Fault::Html503),
        ] {
            threshold += rate;
            if draw < threshold {
                return Some(fault);
            }
        }
        None
    }

    /// Records an invitation unless the address is a member or (without `duplicate_invites`)
    /// already has a pending invitation to `org_id`, or the organization or one of the teams
    /// is full.
    pub(crate) fn create(&self, org_id: &str, new: &NewInvitation) -> Result<Invitation, Conflict> {
        let email = new.username.trim().to_lowercase();
        let now = SystemTime::now();
        let mut book = lock(&self.book);
        if book.members.contains_key(&email) {
            return Err(Conflict::AlreadyMember);
        }
        let pending = book
            .pending
            .get(&(org_id.to_owned(), email.clone()))
            .copied()
            .unwrap_or(0);
        if pending > 0 && !self.config.duplicate_invites {
            return Err(Conflict::AlreadyInvited);
        }
        // A second invitation of the same person (with `duplicate_invites`) adds nobody.
        if let Some(max) = self.config.max_org_users
            && pending == 0
            && book.org_headcount(org_id) >= max
        {
            return Err(Conflict::OrgFull(max));
        }
        if let Some(max) = self.config.max_team_users
            && let Some(team) = book.full_team(org_id, &email, &new.team_ids, max)
        {
            return Err(Conflict::TeamFull(team, max));
        }
        let key = (org_id.to_owned(), email);
        let invitation = Invitation {
            id: Some(self.new_id(now)),
            username: Some(new.username.clone()),
            org_id: Some(org_id.to_owned()),
            org_name: Some(ORG_NAME.to_owned()),
            roles: new.roles.iter().map(|r| r.as_str().to_owned()).collect(),
            team_ids: new.team_ids.clone(),
            group_role_assignments: new.group_roles.clone(),
            created_at: Some(timestamp(now)),
            expires_at: Some(timestamp(now + INVITATION_LIFETIME)),
            inviter_username: Some(INVITER.to_owned()),
        };
        book.pending.insert(key, pending + 1);
        book.invitations.push(invitation.clone());
        bump(&self.counters.created);
        Ok(invitation)
    }

    /// The pending invitations to `org_id`, optionally only those for `username`
    /// (case-insensitive), in creation order.
    pub(crate) fn pending(&self, org_id: &str, username: Option<&str>) -> Vec<Invitation> {
        let wanted = username.map(|name| name.trim().to_lowercase());
        let book = lock(&self.book);
        book.invitations
            .iter()
            .filter(|inv| inv.org_id.as_deref() == Some(org_id))
            .filter(|inv| {
                inv.id
                    .as_ref()
                    .is_none_or(|id| !book.closed.contains_key(id))
            })
            .filter(|inv| match &wanted {
                None => true,
                Some(wanted) => inv
                    .username
                    .as_deref()
                    .is_some_and(|name| name.to_lowercase() == *wanted),
            })
            .cloned()
            .collect()
    }

    /// A 24-hex id shaped like a MongoDB ObjectId: 8 hex digits of Unix seconds, then a counter.
    /// The counter alone guarantees uniqueness; the timestamp makes ids sort by creation time.
    fn new_id(&self, now: SystemTime) -> String {
        let secs = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() as u32;
        let seq = self.next_id.fetch_add(1, Ordering::Relaxed);
        format!("{secs:08x}{seq:016x}")
    }
}

/// The invitation lifecycle after creation, for tests and `reconcile`: what Atlas does when
/// people accept, ignore or decline their invitations.
impl SimState {
    /// `email` (case-insensitive) accepts their pending invitations: they leave the invites
    /// listing and the person becomes an active member. False when nothing was pending.
    pub fn accept_invitation(&self, email: &str) -> bool {
        let Some(latest) = self.close_invitations(email, Closed::Accepted) else {
            return false;
        };
        let mut book = lock(&self.book);
        let member = book
            .members
            .entry(email.trim().to_lowercase())
            .or_insert_with(|| Member::with_role(OrgRole::OrgMember));
        *member = Member::from_invitation(&latest);
        true
    }

    /// `email`'s pending invitations expire now, as after 30 days: they leave the invites
    /// listing, the users resource lists them as `INVITATION_EXPIRED`, and a new invitation may
    /// be sent. False when nothing was pending.
    pub fn expire_invitation(&self, email: &str) -> bool {
        self.close_invitations(email, Closed::Expired).is_some()
    }

    /// `email` declines their pending invitations (`INVITATION_REJECTED`). False when nothing
    /// was pending.
    pub fn reject_invitation(&self, email: &str) -> bool {
        self.close_invitations(email, Closed::Rejected).is_some()
    }

    /// Moves the expiry of `email`'s pending invitations to `at`, so that tests can have
    /// invitations about to expire. False when nothing was pending.
    pub fn set_invitation_expiry(&self, email: &str, at: SystemTime) -> bool {
        let wanted = email.trim().to_lowercase();
        let mut book = lock(&self.book);
        let Book {
            invitations,
            closed,
            ..
        } = &mut *book;
        let mut changed = false;
        for inv in invitations.iter_mut() {
            let open = inv.id.as_ref().is_none_or(|id| !closed.contains_key(id));
            if open && same_person(inv, &wanted) {
                inv.expires_at = Some(timestamp(at));
                changed = true;
            }
        }
        changed
    }

    /// Closes `email`'s pending invitations, and answers the latest of them (`None` when
    /// nothing was pending).
    fn close_invitations(&self, email: &str, how: Closed) -> Option<Invitation> {
        let wanted = email.trim().to_lowercase();
        let now = SystemTime::now();
        let mut book = lock(&self.book);
        let Book {
            invitations,
            pending,
            closed,
            ..
        } = &mut *book;
        let mut latest = None;
        for inv in invitations.iter_mut() {
            let Some(id) = inv.id.clone() else { continue };
            if closed.contains_key(&id) || !same_person(inv, &wanted) {
                continue;
            }
            if how == Closed::Expired {
                inv.expires_at = Some(timestamp(now));
            }
            closed.insert(id, how);
            if let Some(org) = &inv.org_id {
                pending.remove(&(org.clone(), wanted.clone()));
            }
            latest = Some(inv.clone());
        }
        latest
    }

    /// The people of `org_id` as the users resource lists them: members by address, then each
    /// invited person's latest invitation in creation order. Accepted invitations are not listed
    /// (their person is a member), nor the invitations of members.
    pub(crate) fn org_users(&self, org_id: &str) -> Vec<SimUser> {
        let book = lock(&self.book);
        let in_org = |inv: &&Invitation| inv.org_id.as_deref() == Some(org_id);
        let status = |inv: &Invitation| inv.id.as_ref().and_then(|id| book.closed.get(id)).copied();
        // One pass over the invitations: the accepted one of each member, and the latest one
        // of everybody else, keyed by lower-cased address.
        let mut accepted: HashMap<String, &Invitation> = HashMap::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut latest: Vec<&Invitation> = Vec::new();
        for inv in book.invitations.iter().filter(in_org) {
            let key = inv.username.as_deref().unwrap_or_default().to_lowercase();
            if book.members.contains_key(&key) {
                if status(inv) == Some(Closed::Accepted) {
                    accepted.insert(key, inv);
                }
                continue;
            }
            match index.get(&key) {
                Some(&i) => latest[i] = inv,
                None => {
                    index.insert(key, latest.len());
                    latest.push(inv);
                }
            }
        }
        let mut members: Vec<(&String, &Member)> = book.members.iter().collect();
        members.sort_by_key(|(email, _)| *email);
        let mut users: Vec<SimUser> = members
            .into_iter()
            .map(|(email, member)| SimUser::Active {
                email: email.clone(),
                invitation: accepted.get(email).map(|inv| (*inv).clone()),
                member: member.clone(),
            })
            .collect();
        // A person whose latest invitation was cancelled is gone from the organization.
        users.extend(
            latest
                .into_iter()
                .filter(|inv| status(inv) != Some(Closed::Deleted))
                .map(|inv| SimUser::Invited {
                    invitation: inv.clone(),
                    closed: status(inv),
                }),
        );
        users
    }
}

/// Whether `inv` invites `key` (a lower-cased address).
pub(crate) fn same_person(inv: &Invitation, key: &str) -> bool {
    inv.username
        .as_deref()
        .is_some_and(|name| name.to_lowercase() == key)
}

/// Whole seconds until the bucket holds one token again, never less than 1 because `Retry-After`
/// is an integer and 0 would invite an immediate, certainly refused, retry.
fn retry_after_secs(tokens: f64, per_second: f64) -> u64 {
    let wait = (1.0 - tokens).max(0.0) / per_second;
    (wait.ceil() as u64).max(1)
}

/// ISO 8601 in UTC with second precision, as Atlas writes `createdAt` (`2024-05-01T12:00:00Z`).
pub(crate) fn timestamp(at: SystemTime) -> String {
    humantime::format_rfc3339_seconds(at).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use atlas_model::is_atlas_id;

    fn invite(email: &str) -> NewInvitation {
        NewInvitation {
            username: email.to_owned(),
            roles: vec![OrgRole::OrgMember],
            team_ids: vec![],
            group_roles: vec![],
        }
    }

    const ORG: &str = "5f1e2d3c4b5a697887766554";

    #[test]
    fn created_invitations_are_complete_and_unique() {
        let state = SimState::new(SimConfig::default());
        let a = state.create(ORG, &invite("a@example.com")).unwrap();
        let b = state.create(ORG, &invite("b@example.com")).unwrap();
        let (id_a, id_b) = (a.id.clone().unwrap(), b.id.clone().unwrap());
        assert!(is_atlas_id(&id_a) && is_atlas_id(&id_b));
        assert_ne!(id_a, id_b);
        assert_eq!(a.org_name.as_deref(), Some(ORG_NAME));
        assert_eq!(a.roles, vec!["ORG_MEMBER".to_owned()]);
        let created = humantime::parse_rfc3339(a.created_at.as_deref().unwrap()).unwrap();
        let expires = humantime::parse_rfc3339(a.expires_at.as_deref().unwrap()).unwrap();
        assert_eq!(
            expires.duration_since(created).unwrap(),
            INVITATION_LIFETIME
        );
        assert_eq!(state.invitations(), vec![a, b]);
        assert_eq!(state.stats().created, 2);
    }

    #[test]
    fn duplicates_and_members_conflict_case_insensitively() {
        let state = SimState::new(SimConfig {
            existing_members: vec!["Member@Example.com".into()],
            ..SimConfig::default()
        });
        state.create(ORG, &invite("a@example.com")).unwrap();
        assert_eq!(
            state.create(ORG, &invite("A@EXAMPLE.COM")),
            Err(Conflict::AlreadyInvited)
        );
        assert_eq!(
            state.create(ORG, &invite("member@example.com")),
            Err(Conflict::AlreadyMember)
        );
        state.add_member("late@example.com");
        assert_eq!(
            state.create(ORG, &invite("late@example.com")),
            Err(Conflict::AlreadyMember)
        );
        assert_eq!(state.invitations_for("a@EXAMPLE.com").len(), 1);
    }

    #[test]
    fn scripted_faults_come_first_then_none() {
        let config = SimConfig::default()
            .with_script("X@example.com", [Fault::Error500, Fault::RecordThenDrop]);
        let state = SimState::new(config);
        assert_eq!(state.next_fault("x@example.com"), Some(Fault::Error500));
        assert_eq!(
            state.next_fault("x@EXAMPLE.com"),
            Some(Fault::RecordThenDrop)
        );
        assert_eq!(state.next_fault("x@example.com"), None);
        assert_eq!(state.next_fault("y@example.com"), None);
    }

    #[test]
    fn seeded_random_faults_repeat_and_follow_the_rate() {
        let config = SimConfig {
            fail_rate: 0.5,
            seed: Some(42),
            ..SimConfig::default()
        };
        let draw = |state: &SimState| -> Vec<Option<Fault>> {
            (0..200)
                .map(|_| state.next_fault("a@example.com"))
                .collect()
        };
        let first = draw(&SimState::new(config.clone()));
        assert_eq!(first, draw(&SimState::new(config)));
        let failures = first.iter().filter(|f| f.is_some()).count();
        assert!((50..150).contains(&failures), "{failures} of 200 failed");
    }

    #[test]
    fn token_bucket_admits_the_burst_then_refuses() {
        let state = SimState::new(SimConfig {
            rate_limit: Some(RateLimit {
                per_second: 0.01,
                burst: 2,
            }),
            ..SimConfig::default()
        });
        assert!(matches!(
            state.take_token("t"),
            RateDecision::Allowed {
                limit: 2,
                remaining: 1
            }
        ));
        assert!(matches!(
            state.take_token("t"),
            RateDecision::Allowed { remaining: 0, .. }
        ));
        // One token takes 100 seconds at 0.01/s, minus the little time that has passed.
        match state.take_token("t") {
            RateDecision::Limited { limit, retry_after } => {
                assert_eq!(limit, 2);
                assert!((90..=100).contains(&retry_after), "{retry_after}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        // Another token has its own bucket.
        assert!(matches!(
            state.take_token("other"),
            RateDecision::Allowed { .. }
        ));
    }

    #[test]
    fn retry_after_is_rounded_up_and_at_least_one() {
        assert_eq!(retry_after_secs(0.0, 10.0), 1);
        assert_eq!(retry_after_secs(0.0, 0.25), 4);
        assert_eq!(retry_after_secs(0.5, 0.2), 3);
    }
}
