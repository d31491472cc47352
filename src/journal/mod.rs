//! The SQLite journal: every run, every person's latest state and every HTTP request.
//!
//! Its table and column names are a public contract (people query it with `sqlite3`); README
//! documents them. `store` opens and migrates it, `queries` reads and writes it outside a run,
//! and `recorder` is the single writer during a run, consuming pipeline events. `lifecycle`
//! records what `reconcile` observes in Atlas, and `reports` holds the audit reads.

mod changes;
mod lifecycle;
mod queries;
mod recorder;
mod reports;
mod store;
#[cfg(test)]
mod test_support;

use std::path::PathBuf;

pub use crate::plan::PlanOptions;
pub use crate::plan::PlannedRow;
pub use crate::vocab::InviteStatus;
pub use changes::{Candidate, ChangeReport, RevokeSelection};
pub use lifecycle::{MembershipState, Observation, ReconcileRun, ReconcileTotals};
pub use queries::{NewRun, Plan, Planner, RunRecord, RunTotals, StatusCount};
pub use recorder::{Recorded, Recorder, RecorderGone, RecorderHandle};
pub use reports::{
    AttemptReport, InviteFilter, InviteReport, ProjectRoles, RUN_DID_NOT_FINISH, RUN_FINISHED,
    RUN_RUNNING, RunReport, TimelineAttempt,
};
pub use store::Journal;

/// Why the journal could not be used.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("failed to open journal {}: {source}", path.display())]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("failed to access journal {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("journal {} failed: {source}", path.display())]
    Sql {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("failed to apply journal migration {name}: {source}")]
    Migration {
        name: String,
        source: rusqlite::Error,
    },
    #[error(
        "journal {} has schema version {version}, newer than this atlas-invite knows ({known}): upgrade atlas-invite",
        path.display()
    )]
    TooNew {
        path: PathBuf,
        version: i64,
        known: i64,
    },
    #[error("{} is not an atlas-invite journal", path.display())]
    NotAJournal { path: PathBuf },
    #[error(
        "journal {} is in use by another atlas-invite run: wait for it to finish, or pass --journal with another file",
        path.display()
    )]
    Busy { path: PathBuf },
    /// A query the operator wrote (`revoke --where`) that SQLite refused.
    #[error("{0}")]
    Query(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_match_the_statuses_table() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(&dir.path().join("j.db")).unwrap();
        let mut stmt = journal
            .conn
            .prepare("SELECT status FROM statuses ORDER BY status")
            .unwrap();
        let mut stored: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        stored.sort();
        let mut ours: Vec<&str> = InviteStatus::ALL.iter().map(|s| s.as_str()).collect();
        ours.sort();
        assert_eq!(stored, ours);
        for s in InviteStatus::ALL {
            assert_eq!(InviteStatus::parse(s.as_str()), Some(s));
        }
    }
}
