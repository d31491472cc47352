//! The run's tally: what the committed events add up to.

use super::events::{AttemptOutcome, AttemptRecord, ChangeResult, Event, RowResult};
use super::{ChangeState, Counts, InviteStatus, Operation};

/// Counts of what the pipeline did, from committed events only.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    pub counts: Counts,
    /// Rows that did not end done, in the order they ended.
    pub problems: Vec<RowResult>,
    /// Changes that did not end done or kept, in the order they ended.
    pub change_problems: Vec<ChangeResult>,
    /// The `Sunset` date Atlas announced for the endpoint in use, if it did.
    pub sunset: Option<String>,
}

impl Tally {
    /// Counts one committed event.
    pub fn observe(&mut self, event: &Event) {
        match event {
            Event::Attempt(a) => self.count_request(a),
            Event::Retrying { .. } => self.counts.retries += 1,
            Event::Finished(r) => {
                if let Some(a) = &r.last_attempt {
                    self.count_request(a);
                }
                match r.status {
                    InviteStatus::Invited => self.counts.invited += 1,
                    InviteStatus::AlreadyInvited => self.counts.already_invited += 1,
                    InviteStatus::AlreadyMember => self.counts.already_member += 1,
                    InviteStatus::Failed | InviteStatus::Invalid => self.counts.failed += 1,
                    InviteStatus::Pending | InviteStatus::InFlight => self.counts.unfinished += 1,
                    // Only changes end so, reported as `ChangeFinished`.
                    InviteStatus::Revoked | InviteStatus::Removed => {}
                }
                if !r.status.is_done() {
                    self.problems.push(r.clone());
                }
            }
            Event::ChangeFinished(c) => {
                if let Some(a) = &c.last_attempt {
                    self.count_request(a);
                }
                let counts = &mut self.counts;
                match (c.state, c.operation) {
                    (ChangeState::Done, Operation::Update) => counts.updated += 1,
                    (ChangeState::Done, Operation::Revoke) => counts.revoked += 1,
                    (ChangeState::Done, Operation::Remove) => counts.removed += 1,
                    (ChangeState::Done, Operation::Invite) => counts.invited += 1,
                    (ChangeState::Kept, _) => counts.kept += 1,
                    (ChangeState::Failed, _) => counts.failed += 1,
                    (ChangeState::Planned, _) => counts.unfinished += 1,
                }
                if matches!(c.state, ChangeState::Failed | ChangeState::Planned) {
                    self.change_problems.push(c.clone());
                }
            }
            Event::Deprecated { sunset, .. } => self.sunset = Some(sunset.clone()),
            Event::InFlight { .. }
            | Event::Lease { .. }
            | Event::Settling { .. }
            | Event::Settled { .. }
            | Event::RateLimited { .. }
            | Event::Stopping(_) => {}
        }
    }

    fn count_request(&mut self, attempt: &AttemptRecord) {
        self.counts.requests += 1;
        if attempt.outcome == AttemptOutcome::RateLimited {
            self.counts.rate_limited += 1;
        }
    }

    /// Rows with an outcome in this run.
    pub fn finished(&self) -> u64 {
        self.counts.finished()
    }
}
