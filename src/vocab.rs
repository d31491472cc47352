//! The words every layer shares — the pipeline, the journal, the reports and the display — and
//! that depend on none of them: the identity of a person (their email key) and the status of
//! their invitation, the events a run emits ([`events`]) and the counts they add up to
//! ([`Counts`], [`Tally`]).

pub mod events;
mod tally;

pub use tally::Tally;

use std::fmt;

/// The state of one person's invitation, as stored in `invites.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InviteStatus {
    Pending,
    InFlight,
    Invited,
    Failed,
    Invalid,
    AlreadyInvited,
    AlreadyMember,
    /// `revoke` cancelled the pending invitation this journal created.
    Revoked,
    /// `run --prune` or `revoke --remove-active` removed the person from the organization.
    Removed,
}

impl InviteStatus {
    /// Every status, in the order summaries list them.
    pub const ALL: [InviteStatus; 9] = [
        InviteStatus::Invited,
        InviteStatus::AlreadyInvited,
        InviteStatus::AlreadyMember,
        InviteStatus::Failed,
        InviteStatus::Invalid,
        InviteStatus::Pending,
        InviteStatus::InFlight,
        InviteStatus::Revoked,
        InviteStatus::Removed,
    ];

    /// The value stored in the journal.
    pub fn as_str(self) -> &'static str {
        match self {
            InviteStatus::Pending => "pending",
            InviteStatus::InFlight => "in_flight",
            InviteStatus::Invited => "invited",
            InviteStatus::Failed => "failed",
            InviteStatus::Invalid => "invalid",
            InviteStatus::AlreadyInvited => "already_invited",
            InviteStatus::AlreadyMember => "already_member",
            InviteStatus::Revoked => "revoked",
            InviteStatus::Removed => "removed",
        }
    }

    /// Parses a stored value.
    pub fn parse(text: &str) -> Option<InviteStatus> {
        InviteStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// True when nothing is left to do for this person: a rerun skips them.
    pub fn is_done(self) -> bool {
        matches!(
            self,
            InviteStatus::Invited | InviteStatus::AlreadyInvited | InviteStatus::AlreadyMember
        )
    }
}

/// Stored as its text, like `in_flight`.
impl rusqlite::types::ToSql for InviteStatus {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

/// A stored value this version does not know is an error, never "no row": a person whose
/// status cannot be read must not be planned as if the journal had never seen them.
impl rusqlite::types::FromSql for InviteStatus {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        let text = value.as_str()?;
        InviteStatus::parse(text).ok_or_else(|| {
            rusqlite::types::FromSqlError::Other(
                format!("unknown invite status {text:?} in the journal").into(),
            )
        })
    }
}

impl fmt::Display for InviteStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The identity of a person within an organization: their address in lower case, as stored in
/// `invites.email_key`. The one place an address is normalised, so that the CSV reader, the
/// journal, `history`, `export` and `reconcile` can never disagree on who is who.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, serde::Serialize)]
#[serde(transparent)]
pub struct EmailKey(String);

impl EmailKey {
    /// The key of an address (ASCII fast path; HR addresses are nearly always ASCII). Leading
    /// and trailing spaces are not part of an address.
    pub fn of(email: &str) -> EmailKey {
        let email = email.trim();
        EmailKey(if email.is_ascii() {
            email.to_ascii_lowercase()
        } else {
            email.to_lowercase()
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::ops::Deref for EmailKey {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<EmailKey> for String {
    fn from(key: EmailKey) -> String {
        key.0
    }
}

/// Stored as the lower-cased text.
impl rusqlite::types::ToSql for EmailKey {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.0.as_str().into())
    }
}

/// A stored key is taken as it is: it was normalised when it was written.
impl rusqlite::types::FromSql for EmailKey {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        Ok(EmailKey(value.as_str()?.to_owned()))
    }
}

impl PartialEq<str> for EmailKey {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for EmailKey {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<EmailKey> for String {
    fn eq(&self, other: &EmailKey) -> bool {
        *self == other.0
    }
}

/// What a run does for one person: the invitation, or one of the changes that follow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// Create the invitation (`POST …/invites` or `…/users`).
    Invite,
    /// Set a pending invitation's or a user's grants to what the file now asks.
    Update,
    /// Cancel a pending invitation (or pending user) that a run created.
    Revoke,
    /// Remove a person from the organization.
    Remove,
}

impl Operation {
    /// The value stored in `changes.operation` and `attempts.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Invite => "invite",
            Operation::Update => "update",
            Operation::Revoke => "revoke",
            Operation::Remove => "remove",
        }
    }

    /// Parses a stored value.
    pub fn parse(text: &str) -> Option<Operation> {
        [
            Operation::Invite,
            Operation::Update,
            Operation::Revoke,
            Operation::Remove,
        ]
        .into_iter()
        .find(|o| o.as_str() == text)
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state of one change (`changes.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeState {
    /// Decided, not answered yet.
    Planned,
    /// Atlas applied it, or had nothing left to remove.
    Done,
    /// Left alone on purpose (an accepted invitation without `--remove-active`).
    Kept,
    Failed,
}

impl ChangeState {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeState::Planned => "planned",
            ChangeState::Done => "done",
            ChangeState::Kept => "kept",
            ChangeState::Failed => "failed",
        }
    }
}

impl rusqlite::types::ToSql for ChangeState {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

/// What the people of a run came to, and what it took: the one set of counts that the recorder
/// produces from committed results and that the summary (text and JSON), the `runs` row and the
/// exit code all read.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub invited: u64,
    pub already_invited: u64,
    pub already_member: u64,
    /// Refused by Atlas, or every attempt failed.
    pub failed: u64,
    /// Left `pending` or `in_flight` (the run stopped, or outcomes stayed unknown).
    pub unfinished: u64,
    /// HTTP requests made.
    pub requests: u64,
    pub retries: u64,
    pub rate_limited: u64,
    /// People whose grants were updated to what the file asks.
    pub updated: u64,
    /// Pending invitations cancelled (`revoke`).
    pub revoked: u64,
    /// People removed from the organization (`--prune`, `revoke --remove-active`).
    pub removed: u64,
    /// Changes left alone on purpose (accepted invitations `revoke` does not touch).
    pub kept: u64,
}

impl Counts {
    /// People with an outcome in this run.
    pub fn finished(&self) -> u64 {
        self.settled() + self.unfinished
    }

    /// Invitations and changes that ended this run, for good or not (`unfinished` aside).
    pub fn settled(&self) -> u64 {
        self.done() + self.updated + self.revoked + self.removed + self.kept + self.failed
    }

    /// People who ended done: invited now, or found already invited or a member.
    pub fn done(&self) -> u64 {
        self.invited + self.already_invited + self.already_member
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_email_key_is_the_trimmed_address_in_lower_case() {
        assert_eq!(
            EmailKey::of(" Ada.Lovelace@Example.COM\t"),
            "ada.lovelace@example.com"
        );
        assert_eq!(EmailKey::of("ÉLODIE@exemple.fr"), "élodie@exemple.fr");
        assert_eq!(EmailKey::of("a@x.io"), EmailKey::of("A@X.IO"));
    }

    #[test]
    fn statuses_round_trip_through_their_stored_text() {
        for status in InviteStatus::ALL {
            assert_eq!(InviteStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(InviteStatus::parse("revoked_by_hand"), None);
    }
}
