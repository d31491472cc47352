//! What the pipeline reports. The pipeline never prints and never writes the journal itself: it
//! emits these events, the journal recorder commits them, and only then does the display see
//! them, so nothing is shown as done before it is durable.

use std::time::{Duration, SystemTime};

use super::{ChangeState, EmailKey, InviteStatus, Operation};

/// Which request an attempt was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptKind {
    /// The POST that creates the invitation.
    Invite,
    /// A GET that checks whether an invitation already exists after an unknown outcome, or
    /// finds the invitation or user a change acts on.
    Lookup,
    /// A PATCH that sets a pending invitation's or a user's grants.
    Update,
    /// A DELETE that cancels a pending invitation or pending user.
    Revoke,
    /// A DELETE that removes a user from the organization.
    Remove,
}

impl AttemptKind {
    /// The value stored in `attempts.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptKind::Invite => "invite",
            AttemptKind::Lookup => "lookup",
            AttemptKind::Update => "update",
            AttemptKind::Revoke => "revoke",
            AttemptKind::Remove => "remove",
        }
    }
}

/// What one HTTP request meant, as stored in `attempts.outcome`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    Invited,
    AlreadyInvited,
    AlreadyMember,
    /// A lookup found the invitation.
    Found,
    /// A lookup found no invitation.
    NotFound,
    /// A transient failure (5xx, connection refused) that will be retried.
    Retry,
    RateLimited,
    /// The request was sent but no usable answer came back: it may or may not have been created.
    Unknown,
    /// A non-retryable refusal (4xx).
    Refused,
    /// 401 or 403: the credentials cannot do this.
    Unauthorized,
    /// A change was applied (2xx to a PATCH or DELETE).
    Applied,
    /// A DELETE found nothing to delete (404): it is gone already.
    Gone,
}

impl AttemptOutcome {
    /// The value stored in `attempts.outcome`.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Invited => "invited",
            AttemptOutcome::AlreadyInvited => "already_invited",
            AttemptOutcome::AlreadyMember => "already_member",
            AttemptOutcome::Found => "found",
            AttemptOutcome::NotFound => "not_found",
            AttemptOutcome::Retry => "retry",
            AttemptOutcome::RateLimited => "rate_limited",
            AttemptOutcome::Unknown => "unknown",
            AttemptOutcome::Refused => "refused",
            AttemptOutcome::Unauthorized => "unauthorized",
            AttemptOutcome::Applied => "applied",
            AttemptOutcome::Gone => "gone",
        }
    }
}

/// One HTTP request and its answer.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub email_key: EmailKey,
    /// 1-based number of this request for this person within the run.
    pub attempt: u32,
    pub kind: AttemptKind,
    /// The endpoint as a template, e.g. `POST /api/atlas/v2/orgs/{orgId}/invites`.
    pub endpoint: &'static str,
    pub sent_at: SystemTime,
    pub latency: Duration,
    pub http_status: Option<u16>,
    pub error_code: Option<String>,
    pub detail: Option<String>,
    pub outcome: AttemptOutcome,
}

/// The end of one person's processing in this run.
#[derive(Debug, Clone)]
pub struct RowResult {
    pub email_key: EmailKey,
    pub email: String,
    pub status: InviteStatus,
    pub invitation_id: Option<String>,
    pub http_status: Option<u16>,
    pub error_code: Option<String>,
    pub detail: Option<String>,
    /// Requests made for this person in this run.
    pub attempts: u32,
    /// The last request, when it was not reported on its own: it ended the row.
    pub last_attempt: Option<AttemptRecord>,
}

/// What a change acted on in Atlas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeTarget {
    /// A pending invitation, by id.
    Invitation(String),
    /// A pending or active user, by id.
    User(String),
}

impl ChangeTarget {
    /// `changes.target`.
    pub fn kind(&self) -> &'static str {
        match self {
            ChangeTarget::Invitation(_) => "invitation",
            ChangeTarget::User(_) => "user",
        }
    }

    /// `changes.target_id`.
    pub fn id(&self) -> &str {
        match self {
            ChangeTarget::Invitation(id) | ChangeTarget::User(id) => id,
        }
    }
}

/// The end of one change (an update, a revocation or a removal) in this run.
#[derive(Debug, Clone)]
pub struct ChangeResult {
    /// `changes.id`.
    pub change_id: i64,
    pub email_key: EmailKey,
    pub email: String,
    pub operation: Operation,
    pub state: ChangeState,
    pub target: Option<ChangeTarget>,
    pub http_status: Option<u16>,
    pub error_code: Option<String>,
    pub detail: Option<String>,
    /// Requests made for this change in this run.
    pub attempts: u32,
    /// The last request, when it was not reported on its own.
    pub last_attempt: Option<AttemptRecord>,
}

/// Why the pipeline stopped taking new rows before the end of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// Atlas answered 401 or 403: the credentials lack access, so every further request would
    /// fail the same way.
    AuthFailed { status: u16, detail: String },
    /// Ctrl-C or SIGTERM.
    Interrupted,
    /// The journal could not be written, so no outcome could be recorded truthfully.
    JournalFailed(String),
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StopReason::AuthFailed { status, detail } => {
                // The detail is the error's own text, which usually names the status already.
                let what = if detail.starts_with("HTTP ") {
                    detail.clone()
                } else {
                    format!("HTTP {status}: {detail}")
                };
                write!(
                    f,
                    "Atlas refused the credentials ({what}); the caller needs the Organization Owner role on this organization"
                )
            }
            StopReason::Interrupted => f.write_str("interrupted"),
            StopReason::JournalFailed(e) => write!(f, "the journal could not be written: {e}"),
        }
    }
}

/// Everything the pipeline reports.
#[derive(Debug, Clone)]
pub enum Event {
    /// Requests for these people are about to be sent; committed before any of them goes out.
    /// Rows are marked a batch at a time, ahead of the workers, so that the commit is not on
    /// every request's path; a crash can thus leave a few rows `in_flight` that were never
    /// sent, which the next run's lookup finds absent and sends.
    InFlight { email_keys: Vec<EmailKey> },
    /// A request completed (or failed without an answer).
    Attempt(AttemptRecord),
    /// A transient failure; the row will be retried after `delay`.
    Retrying {
        email: String,
        attempt: u32,
        delay: Duration,
        reason: String,
    },
    /// Atlas said to slow down: every worker pauses for `wait`, and the client-side rate is now
    /// `rate_per_sec`.
    RateLimited { wait: Duration, rate_per_sec: f64 },
    /// A person is done for this run.
    Finished(RowResult),
    /// A change is done for this run.
    ChangeFinished(ChangeResult),
    /// The pipeline stops taking new rows.
    Stopping(StopReason),
    /// The run may send until `until`: committed to `runs.lease_until` before any request
    /// relies on it (see `pipeline::lease`).
    Lease { until: SystemTime },
    /// A request for `email` may still be worked on by Atlas: the row waits `wait` (the settle
    /// window) before the lookup that decides whether to send again.
    Settling { email: String, wait: Duration },
    /// The wait announced by `Settling` is over (or the run stopped during it).
    Settled { email: String },
    /// Atlas marks the endpoint in use as deprecated (`Sunset` header); sent once per run.
    Deprecated {
        endpoint: &'static str,
        sunset: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_names_its_status_once() {
        let stop = StopReason::AuthFailed {
            status: 401,
            detail: "HTTP 401 UNAUTHORIZED: The access token is not valid.".into(),
        };
        let text = stop.to_string();
        assert!(
            text.contains("(HTTP 401 UNAUTHORIZED: The access token is not valid.)"),
            "{text}"
        );
        assert_eq!(text.matches("401").count(), 1, "{text}");
        let bare = StopReason::AuthFailed {
            status: 403,
            detail: "no answer".into(),
        };
        assert!(bare.to_string().contains("(HTTP 403: no answer)"));
    }
}
