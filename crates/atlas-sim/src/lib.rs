//! A stateful, fault-injecting MongoDB Atlas invitation API that runs in-process.
//!
//! Atlas itself is out of reach, so integration tests, `atlas-invite run --simulate`,
//! `atlas-invite simulate` and this crate's own `atlas-sim` binary all talk to this simulator
//! instead. It speaks the contract of
//! `POST`/`GET /api/atlas/v2/orgs/{orgId}/invites` (API version 2023-01-01) and of the legacy
//! `/api/atlas/v1.0/...` path, of the users resource (version 2025-02-19), and of what follows
//! the invitation (one invitation or user updated, re-roled, cancelled or removed): bearer
//! authentication, version negotiation, request validation, 409 on duplicates and members,
//! Atlas's rules and capacity limits, a per-token token-bucket rate limit with `Retry-After`,
//! and injectable faults (500s, proxy HTML pages, hangs, truncated bodies, and connections
//! dropped after the invitation or the change was recorded).
//!
//! It serves the wire types of the `atlas-model` crate, the ones `atlas-invite` reads, and
//! depends on nothing of `atlas-invite` itself.
//!
//! Files, each owning one thing:
//! - `config.rs`: [`SimConfig`], [`RateLimit`] and [`Fault`], i.e. what a run looks like;
//! - `state.rs`: [`SimState`] and [`SimStats`], i.e. what the simulator remembers;
//! - `routes.rs`: the router, and the invite paths' own work (listing, validation, creation);
//! - `admission.rs`: what every API request passes before a resource's own work (latency,
//!   method, authentication, rate limit, version, organization) and the counting around it;
//! - `reply.rs`: how answers are written (JSON, `ApiError`, 429s, rate-limit and deprecation
//!   headers, proxy HTML pages);
//! - `faults.rs`: what an injected fault does to a request that creates or changes, and
//!   `ConnControl`, with which a handler drops its connection without answering;
//! - `users.rs`: the users resource (`GET`/`POST /api/atlas/v2/orgs/{orgId}/users`, version
//!   2025-02-19): paginated listing by membership status, and invitations through it, whose
//!   `OrgUserRequest` bodies `user_request.rs` validates;
//! - `invitation.rs`: one pending invitation by id (`GET`, `PATCH`, `DELETE` of
//!   `.../invites/{invitationId}`, v2 and v1.0);
//! - `user.rs`: one user by id (`GET`, `PATCH`, `DELETE` of `.../users/{userId}`, and its
//!   `:addRole` and `:removeRole`), whose bodies `change_request.rs` validates;
//! - `people.rs`: what those changes do to the simulator's memory, the rules Atlas holds them
//!   to (the last role, the last owner) and the capacity of organizations and teams;
//! - [`control`]: the rehearsal controls under `/_sim/` (accept, expire, decline), and their
//!   client for the `atlas-sim` subcommands;
//! - `directory.rs`: the organization's teams and projects (`GET .../teams`, `.../groups`);
//! - `rate_limits.rs`: `GET /api/atlas/v2/rateLimits` and `.../rateLimits/{endpointSetId}`,
//!   declaring the token bucket (capacity and refill);
//! - `validate.rs`: invitation request validation with Atlas' error codes;
//! - `server.rs`: [`Simulator`], [`SimulatorHandle`] and [`serve_until_killed`];
//! - [`cli`]: the flags of the `atlas-sim` binary, turned into a [`SimConfig`].

mod admission;
mod auth;
mod change_request;
pub mod cli;
mod config;
pub mod control;
mod directory;
mod faults;
mod invitation;
mod people;
mod rate_limits;
mod reply;
mod routes;
mod server;
mod state;
mod user;
mod user_request;
mod users;
mod validate;

pub use config::{DEFAULT_MAX_ORG_USERS, DEFAULT_MAX_TEAM_USERS, Fault, RateLimit, SimConfig};
pub use server::{Simulator, SimulatorHandle, serve_until_killed};
pub use state::{RecordedRequest, SimState, SimStats};

#[cfg(test)]
mod lifecycle_tests;
#[cfg(test)]
mod tests;
