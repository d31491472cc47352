//! Fixtures shared by the journal's unit tests: a journal in a temporary directory, the run a
//! test plans people under, and the people. One copy, so that a change to `NewRun` or
//! `Invitee` is made once rather than in every test module.

use crate::atlas::model::OrgRole;
use crate::roster::Invitee;

use super::{Journal, NewRun};

/// The organization every fixture belongs to.
pub(crate) const ORG: &str = "5f1e2d3c4b5a697887766554";

/// A fresh journal in its own temporary directory. Keep the directory alive as long as the
/// journal: dropping it deletes the file.
pub(crate) fn temp_journal() -> (tempfile::TempDir, Journal) {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(&dir.path().join("j.db")).unwrap();
    (dir, journal)
}

/// A run on [`ORG`] from `people.csv`, with no options and no operator details.
pub(crate) fn new_run() -> NewRun {
    NewRun {
        org_id: ORG.into(),
        csv_path: "people.csv".into(),
        csv_sha256: "00".into(),
        api: "invites".into(),
        base_url: "http://127.0.0.1".into(),
        options: serde_json::json!({}),
        os_user: None,
        hostname: None,
        command: "run",
    }
}

/// `email` on CSV line `line`, invited as an organization member, with no teams or projects.
pub(crate) fn invitee(line: u64, email: &str) -> Invitee {
    Invitee {
        line,
        email: email.to_owned(),
        roles: vec![OrgRole::OrgMember],
        roles_defaulted: false,
        team_ids: vec![],
        projects: vec![],
        ..Invitee::default()
    }
}
