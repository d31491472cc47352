//! Everything that speaks the Atlas Administration API: wire types and the HTTP client.

pub mod model;
