//! Roster's wire contract: every message the agent and the server exchange.
//!
//! These types are the source of `proto-schemas/json/`: each derives its
//! JSON Schema, and [`schema`] says which file holds it (`tests/contract.rs`
//! regenerates the files and fails when the committed copy is stale;
//! `tests/schemas.rs` validates realistic values against them). The crate has no I/O: it
//! holds plain data and the small pure helpers that give the data meaning
//! (GUID rendering, DN comparison, job scope).

pub mod admin;
pub mod agent;
pub mod claims;
pub mod daily;
pub mod dn;
pub mod guid;
pub mod id;
pub mod insight;
pub mod manifest;
pub mod name;
pub mod optional;
pub mod problem;
pub mod records;
pub mod schema;
pub mod scope;
pub mod sha256;

pub use daily::DailyTime;
pub use guid::{GuidText, ObjectGuid};
pub use id::{
    AccessId, AdminTokenId, AgentId, AuditEntryId, CommandId, ConsoleAdminId, IdError, JobId, SessionId, SnapshotId, TenantId, UserId,
};
pub use sha256::Sha256Hex;
