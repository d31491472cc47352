//! A stateful, fault-injecting MongoDB Atlas invitation API that runs in-process.
//!
//! Atlas itself is out of reach, so integration tests, `atlas-invite run --simulate` and
//! `atlas-invite simulate` all talk to this simulator instead. It speaks the contract of
//! `POST`/`GET /api/atlas/v2/orgs/{orgId}/invites` (API version 2023-01-01) and of the legacy
//! `/api/atlas/v1.0/...` path: bearer authentication, version negotiation, request validation,
//! 409 on duplicates and members, a per-token token-bucket rate limit with `Retry-After`, and
//! injectable faults (500s, proxy HTML pages, hangs, truncated bodies, and connections dropped
//! after the invitation was recorded).
//!
//! Files, each owning one thing:
//! - `config.rs`: [`SimConfig`], [`RateLimit`] and [`Fault`], i.e. what a run looks like;
//! - `state.rs`: [`SimState`] and [`SimStats`], i.e. what the simulator remembers;
//! - `routes.rs`: the HTTP surface (checks, faults, answer shapes);
//! - `users.rs`: the users resource (`GET`/`POST /api/atlas/v2/orgs/{orgId}/users`, version
//!   2025-02-19): paginated listing by membership status, and invitations through it, whose
//!   `OrgUserRequest` bodies `user_request.rs` validates;
//! - `directory.rs`: the organization's teams and projects (`GET .../teams`, `.../groups`);
//! - `validate.rs`: invitation request validation with Atlas' error codes;
//! - `server.rs`: [`Simulator`], [`SimulatorHandle`] and [`serve_until_killed`].

mod auth;
mod config;
mod directory;
mod routes;
mod server;
mod state;
mod user_request;
mod users;
mod validate;

pub use config::{Fault, RateLimit, SimConfig};
pub use server::{Simulator, SimulatorHandle, serve_until_killed};
pub use state::{SimState, SimStats};

#[cfg(test)]
mod tests;
