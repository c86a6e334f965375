//! Roster's wire contract: every message the agent and the server exchange.
//!
//! These types are the Rust face of `proto-schemas/`; a test in this crate
//! (`tests/schemas.rs`) validates their serialized form against those schemas. The crate has no I/O: it
//! holds plain data and the small pure helpers that give the data meaning
//! (GUID rendering, DN comparison, job scope).

pub mod admin;
pub mod agent;
pub mod daily;
pub mod dn;
pub mod guid;
pub mod id;
pub mod insight;
pub mod manifest;
pub mod optional;
pub mod problem;
pub mod records;
pub mod scope;
pub mod sha256;

pub use daily::DailyTime;
pub use guid::ObjectGuid;
pub use id::{AccessId, AgentId, IdError, JobId, SessionId, SnapshotId, TenantId, UserId};
pub use sha256::Sha256Hex;
