//! The words every layer shares — the pipeline, the journal, the reports and the display — and
//! that depend on none of them: today the status of a person's invitation.

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
}

impl InviteStatus {
    /// Every status, in the order summaries list them.
    pub const ALL: [InviteStatus; 7] = [
        InviteStatus::Invited,
        InviteStatus::AlreadyInvited,
        InviteStatus::AlreadyMember,
        InviteStatus::Failed,
        InviteStatus::Invalid,
        InviteStatus::Pending,
        InviteStatus::InFlight,
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
