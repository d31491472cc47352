//! atlas-invite: invite a CSV of people to a MongoDB Atlas organization through a rate-limited,
//! retrying, resumable pipeline whose every outcome is journaled in SQLite.
//!
//! Modules, each owning one thing:
//! - [`atlas`]: wire types and the HTTP client for the Atlas Administration API.
//! - [`roster`]: CSV parsing and row-precise validation into [`roster::Invitee`]s.
//! - [`simulator`]: a stateful, fault-injecting Atlas server for tests and demonstrations.

pub mod atlas;
pub mod roster;
pub mod simulator;
