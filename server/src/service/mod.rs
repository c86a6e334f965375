//! The APIs' operations as functions, one per operation: each checks its
//! input, runs its transaction and gathers its answer, so the handlers in
//! `http::admin` and `http::agent` only parse, authorise, call and answer. They return
//! [`crate::error::AppError`], whose causes say why an operation refused.

pub mod agents;
pub mod imports;
pub mod jobs;
pub mod links;
pub mod sessions;
pub mod tenants;
pub mod uploads;
