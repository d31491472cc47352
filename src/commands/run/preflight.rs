//! The one harmless request a run makes before its first invitation, the same as `doctor`'s: a
//! wrong organization or refused credentials end the run before anything is sent or written,
//! instead of failing every row, one request each.

use anyhow::anyhow;

use crate::atlas::client::AtlasClient;
use crate::atlas::error::{CallError, ErrorClass};
use crate::commands::doctor::PROBE_EMAIL;
use crate::exit::Failure;

/// Checks that Atlas knows the organization and accepts the credentials. Anything else (an
/// outage, a rate limit, no answer) is left to the run, which retries it row by row.
pub(in crate::commands) async fn check(client: &AtlasClient) -> Result<(), Failure> {
    let Err(error) = client.find_invitation(PROBE_EMAIL).await else {
        return Ok(());
    };
    let org = client.org_id();
    match (&error, error.class()) {
        (_, ErrorClass::Auth) => Err(Failure::aborted(anyhow!(
            "Atlas refused the credentials for organization {org} ({error}); nothing was sent. \
             The caller needs the Organization Owner role; `atlas-invite doctor` checks the setup"
        ))),
        (
            CallError::Status {
                status: 300..=399, ..
            },
            _,
        ) => Err(Failure::usage(anyhow!("{error}; nothing was sent"))),
        (CallError::Status { status: 404, .. }, _) => Err(Failure::usage(anyhow!(
            "Atlas has no organization {org} ({error}); nothing was sent: check --org \
             (or MONGODB_ATLAS_ORG_ID)"
        ))),
        (CallError::Status { status: 400, .. }, _)
            if error.error_code() == Some("INVALID_ORG_ID") =>
        {
            Err(Failure::usage(anyhow!(
                "Atlas says {org} is not an organization id ({error}); nothing was sent: check --org"
            )))
        }
        _ => Ok(()),
    }
}
