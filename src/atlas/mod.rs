//! Everything that speaks the Atlas Administration API: wire types and the HTTP client.

pub mod auth;
pub mod client;
pub mod directory;
pub mod error;
pub mod lifecycle;
pub mod model;
pub mod profile;
pub mod rate_limits;
pub mod users;
