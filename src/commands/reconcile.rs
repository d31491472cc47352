//! `atlas-invite reconcile --org ID`: ask Atlas what became of every invitation (accepted,
//! pending until when, expired, declined, or unknown to Atlas) and record it per person in the
//! journal, with the time of the observation.
//!
//! Everything is read first (every page of the users resource, then the pending invitations),
//! and only then written, in one transaction: a reconcile that fails half-way records nothing,
//! so the journal never mixes two observations. Rate limits and transient failures are retried
//! with the run's backoff policy; refused credentials stop at once.

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, SystemTime};

use anyhow::anyhow;
use serde::Serialize;

use crate::atlas::client::{Api, AtlasClient, ClientConfig};
use crate::atlas::error::{CallError, ErrorClass};
use crate::atlas::model::Invitation;
use crate::atlas::users::{MEMBERSHIP_STATUSES, OrgUserDetail, USERS_ENDPOINT, USERS_PAGE_SIZE};
use crate::cli::{Format, ReconcileArgs};
use crate::exit::{Failure, INCOMPLETE, SUCCESS, USAGE};
use crate::journal::{
    InviteFilter, Journal, MembershipState, Observation, ReconcileRun, ReconcileTotals,
};
use crate::retry::{GaveUp, RetryPolicy, retry_reads};
use crate::util::{hostname, human_duration, now_rfc3339, os_user, rfc3339};
use crate::vocab::EmailKey;

/// Requests per page at most, the first included.
const ATTEMPTS: u32 = 6;
/// Longest wait between two attempts (a server's `Retry-After` is honoured even above it).
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Pages read at most: 5 million people, far beyond any organization, so that a server that
/// keeps answering full pages cannot keep this loop going for ever.
const MAX_PAGES: u32 = 10_000;
/// Horizon of the "expiring soon" hint.
const EXPIRING_SOON: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// What `--format json` prints.
#[derive(Serialize)]
struct Summary {
    #[serde(flatten)]
    totals: ReconcileTotals,
    requests: u64,
    /// Pending invitations of journal people expiring within 7 days.
    expiring_within_7d: u64,
}

pub(super) async fn reconcile(args: &ReconcileArgs) -> Result<i32, Failure> {
    let settings = super::settings::resolve(&args.atlas)?;
    let org_id = settings.require_org("")?;
    let path = super::journal_path::for_reconcile(&args.journal, &org_id)?;
    let credentials = settings.require_credentials()?;
    let base_url = settings.base_url.value.clone();
    let client = AtlasClient::new(&ClientConfig {
        base_url: base_url.clone(),
        org_id: org_id.clone(),
        api: Api::from(args.atlas.api),
        credentials,
        timeout: args.timeout,
        concurrency: 1,
        envelope: false,
    })
    .map_err(Failure::usage)?;
    let mut journal = Journal::open(&path).map_err(Failure::usage)?;

    let started_at = now_rfc3339();
    let policy = RetryPolicy::new(ATTEMPTS, MAX_BACKOFF);
    let mut requests = 0u64;
    let mut users: Vec<OrgUserDetail> = Vec::new();
    for page in 1..=MAX_PAGES {
        let answer = with_retries(&policy, &mut requests, USERS_ENDPOINT, || {
            client.org_users_page(page, &MEMBERSHIP_STATUSES)
        })
        .await?;
        let got = answer.value.results.len();
        let total = answer.value.total_count;
        users.extend(answer.value.results);
        // A short page ends the listing. `totalCount` ("an estimate" per the spec) only saves
        // the request for an empty last page when the count says everything is in.
        let complete =
            got < USERS_PAGE_SIZE as usize || total.is_some_and(|t| users.len() as u64 >= t);
        if complete {
            break;
        }
    }
    let invitations = with_retries(&policy, &mut requests, "GET /orgs/{orgId}/invites", || {
        client.pending_invitations()
    })
    .await?
    .map(|answer| answer.value)
    .unwrap_or_default();

    let observed = merge(&users, &invitations);
    let run = ReconcileRun {
        org_id: org_id.clone(),
        started_at,
        base_url: redact(&base_url),
        os_user: os_user(),
        hostname: hostname(),
        requests,
    };
    let totals = journal
        .record_memberships(&run, &observed)
        .map_err(|e| Failure::aborted(anyhow!(e)))?;
    let expiring = journal
        .invite_report(&InviteFilter {
            org_id: Some(org_id),
            expiring_before: Some(rfc3339(SystemTime::now() + EXPIRING_SOON)),
            ..InviteFilter::default()
        })
        .map_err(Failure::usage)?
        .len() as u64;
    let summary = Summary {
        totals,
        requests,
        expiring_within_7d: expiring,
    };
    match args.format {
        Format::Json => crate::outln!(
            "{}",
            serde_json::to_string(&summary).map_err(Failure::usage)?
        ),
        Format::Text => crate::out!("{}", crate::terminal::safe_lines(&render(&summary))),
    }
    Ok(SUCCESS)
}

/// One person per lower-cased address. Several entries for one person (an expired invitation
/// and a newer pending one, a user also in the invites list) resolve to the most advanced state:
/// `ACTIVE`, then `PENDING`, then a lapsed invitation.
fn merge(users: &[OrgUserDetail], invitations: &[Invitation]) -> HashMap<String, Observation> {
    fn rank(state: MembershipState) -> u8 {
        match state {
            MembershipState::Active => 3,
            MembershipState::Pending => 2,
            MembershipState::InvitationExpired | MembershipState::InvitationRejected => 1,
            MembershipState::Missing => 0,
        }
    }
    let mut seen: HashMap<String, Observation> = HashMap::new();
    let mut offer = |key: String, observation: Observation| {
        if key.is_empty() {
            return;
        }
        match seen.get_mut(&key) {
            Some(known) if rank(known.state) > rank(observation.state) => {}
            Some(known) if rank(known.state) == rank(observation.state) => {
                // The same state from both listings: keep what either knows.
                if known.expires_at.is_none() {
                    known.expires_at = observation.expires_at;
                }
                if known.atlas_user_id.is_none() {
                    known.atlas_user_id = observation.atlas_user_id;
                }
            }
            _ => {
                seen.insert(key, observation);
            }
        }
    };
    for user in users {
        // An unknown future status is not guessed at: the person reads as not listed.
        let Some(state) = MembershipState::parse(&user.org_membership_status) else {
            continue;
        };
        let expires_at = match state {
            MembershipState::Pending | MembershipState::InvitationExpired => {
                user.invitation_expires_at.as_deref().map(journal_time)
            }
            _ => None,
        };
        offer(
            EmailKey::of(&user.username).into(),
            Observation {
                state,
                expires_at,
                atlas_user_id: (!user.id.is_empty()).then(|| user.id.clone()),
            },
        );
    }
    for invitation in invitations {
        let key = EmailKey::of(invitation.username.as_deref().unwrap_or_default()).into();
        offer(
            key,
            Observation {
                state: MembershipState::Pending,
                expires_at: invitation.expires_at.as_deref().map(journal_time),
                atlas_user_id: None,
            },
        );
    }
    seen
}

/// Calls `call` until it succeeds, retrying rate limits (after `Retry-After`), server errors and
/// lost answers (these are reads, safe to repeat) up to the policy's attempts; says on stderr
/// what is retried, and turns what is not into the command's failure.
async fn with_retries<T, F, Fut>(
    policy: &RetryPolicy,
    requests: &mut u64,
    what: &str,
    mut call: F,
) -> Result<T, Failure>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, CallError>>,
{
    let say = |error: &CallError, wait: Duration| {
        eprintln!(
            "{what}: {}; retrying in {}",
            crate::terminal::safe(&error.to_string()),
            human_duration(wait)
        );
    };
    let result = retry_reads(policy, say, || {
        *requests += 1;
        call()
    })
    .await;
    let GaveUp { error, attempts } = match result {
        Ok(value) => return Ok(value),
        Err(gave_up) => gave_up,
    };
    match error.class() {
        ErrorClass::Auth => Err(Failure::aborted(anyhow!(
            "Atlas refused the credentials ({error}): check them and that they carry the \
             Organization Owner (or Member) role; nothing was recorded"
        ))),
        ErrorClass::Permanent | ErrorClass::AlreadyInvited | ErrorClass::AlreadyMember => {
            Err(Failure {
                code: USAGE,
                error: anyhow!(
                    "Atlas refused {what} ({error}): check --org and --base-url; nothing was \
                     recorded"
                ),
            })
        }
        ErrorClass::RateLimited { .. } | ErrorClass::Transient | ErrorClass::Unknown => {
            Err(Failure {
                code: INCOMPLETE,
                error: anyhow!(
                    "failed to read {what} after {attempts} attempts ({error}); nothing was \
                     recorded: try again later"
                ),
            })
        }
    }
}

/// An Atlas timestamp in the journal's format, so that it compares as text with the journal's
/// own; kept as given when it cannot be read.
fn journal_time(text: &str) -> String {
    humantime::parse_rfc3339_weak(text.trim().trim_end_matches(['Z', 'z']))
        .map(rfc3339)
        .unwrap_or_else(|_| text.to_owned())
}

/// The base URL without any user or password it may embed, for the `reconciles` table.
fn redact(base_url: &str) -> String {
    match reqwest::Url::parse(base_url) {
        Ok(mut url) if !url.username().is_empty() || url.password().is_some() => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.to_string()
        }
        _ => base_url.to_owned(),
    }
}

fn render(summary: &Summary) -> String {
    let t = &summary.totals;
    let mut out = format!(
        "reconciled {} people of org {} with Atlas ({} requests; Atlas listed {}, {} of them not \
         in the journal)\n",
        t.people, t.org_id, summary.requests, t.atlas_people, t.untracked
    );
    for (state, count) in [
        (MembershipState::Active, t.active),
        (MembershipState::Pending, t.pending),
        (MembershipState::InvitationExpired, t.expired),
        (MembershipState::InvitationRejected, t.rejected),
        (MembershipState::Missing, t.missing),
    ] {
        out.push_str(&format!("  {:<20} {count:>8}\n", state.as_str()));
    }
    if t.expired + t.rejected > 0 {
        out.push_str(&format!(
            "{} invitations expired or were declined: rerun `atlas-invite run <CSV> \
             --reinvite-expired` to invite them again\n",
            t.expired + t.rejected
        ));
    }
    if summary.expiring_within_7d > 0 {
        out.push_str(&format!(
            "{} pending invitations expire within 7 days: see `atlas-invite report \
             --expiring-within 7d`\n",
            summary.expiring_within_7d
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::ABORTED;

    fn user(email: &str, status: &str, expires: Option<&str>) -> OrgUserDetail {
        OrgUserDetail {
            id: "5e4d3c2b1a0f9e8d7c6b5a49".into(),
            username: email.into(),
            org_membership_status: status.into(),
            invitation_expires_at: expires.map(str::to_owned),
            ..OrgUserDetail::default()
        }
    }

    #[test]
    fn the_most_advanced_state_wins() {
        let users = [
            user(
                "Ann@Example.com",
                "INVITATION_EXPIRED",
                Some("2026-11-01T00:00:00Z"),
            ),
            user("ann@example.com", "PENDING", Some("2026-12-01T00:00:00Z")),
            user("bob@example.com", "ACTIVE", None),
            user("cy@example.com", "SOMETHING_NEW", None),
        ];
        let invitations = [
            Invitation {
                username: Some("bob@example.com".into()),
                expires_at: Some("2026-12-05T00:00:00Z".into()),
                ..Invitation::default()
            },
            Invitation {
                username: Some("dee@example.com".into()),
                expires_at: Some("2026-12-06T10:00:00Z".into()),
                ..Invitation::default()
            },
        ];
        let seen = merge(&users, &invitations);
        assert_eq!(seen["ann@example.com"].state, MembershipState::Pending);
        assert_eq!(
            seen["ann@example.com"].expires_at.as_deref(),
            Some("2026-12-01T00:00:00.000Z")
        );
        assert_eq!(seen["bob@example.com"].state, MembershipState::Active);
        assert!(!seen.contains_key("cy@example.com"));
        assert_eq!(seen["dee@example.com"].state, MembershipState::Pending);
        assert_eq!(seen["dee@example.com"].atlas_user_id, None);
    }

    #[test]
    fn timestamps_are_normalised_and_urls_redacted() {
        assert_eq!(
            journal_time("2026-12-01T10:00:00Z"),
            "2026-12-01T10:00:00.000Z"
        );
        assert_eq!(
            journal_time("2026-12-01T10:00:00.5Z"),
            "2026-12-01T10:00:00.500Z"
        );
        assert_eq!(journal_time("soon"), "soon");
        assert_eq!(
            redact("https://u:p@cloud.mongodb.com/"),
            "https://cloud.mongodb.com/"
        );
        assert_eq!(
            redact("https://cloud.mongodb.com"),
            "https://cloud.mongodb.com"
        );
    }

    #[tokio::test]
    async fn retries_stop_at_auth_failures_and_after_the_attempts() {
        let policy = RetryPolicy::new(3, Duration::from_millis(1));
        let mut requests = 0;
        let failure = with_retries::<(), _, _>(&policy, &mut requests, "x", || async {
            Err(CallError::NotSent("refused".into()))
        })
        .await
        .unwrap_err();
        assert_eq!((failure.code, requests), (INCOMPLETE, 3));
        let mut requests = 0;
        let failure = with_retries::<(), _, _>(&policy, &mut requests, "x", || async {
            Err(CallError::Status {
                status: 401,
                api: None,
                body: String::new(),
                error_code_header: None,
                rate: Default::default(),
            })
        })
        .await
        .unwrap_err();
        assert_eq!((failure.code, requests), (ABORTED, 1));
    }
}
