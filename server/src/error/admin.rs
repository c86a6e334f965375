//! Why the admin API refuses a change: a job, policy, links, access or
//! settings it will not store, and a session or import it cannot start or
//! decide now.

use roster_proto::admin::SessionStatus;
use roster_proto::{AccessId, SessionId};

/// A job that cannot be created, changed or deleted as asked.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("name must not be empty")]
    EmptyName,
    /// A name with a control or bidi-override character, or too long.
    #[error("name: {0}")]
    Name(roster_proto::name::NameError),
    #[error("{0}")]
    Scope(roster_proto::scope::ScopeError),
    #[error("schedule: {0}")]
    Schedule(roster_schedule::ScheduleError),
    #[error("full_sync_interval_days must be between 1 and 365, got {0}")]
    FullSyncInterval(u32),
    #[error("user_filter must be at most {max} characters, got {0}", max = roster_proto::scope::MAX_FILTER_LEN)]
    FilterTooLong(usize),
    #[error("a job named `{0}` already exists")]
    NameTaken(String),
    #[error("the job still has active users ({0}): it can be deleted once none is active (unlink its groups and import it)")]
    HasActiveUsers(u64),
}

/// A safeguard policy out of range.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("{budget}.percent must be between 0 and 100, got {percent}")]
    Percent { budget: &'static str, percent: u32 },
}

/// Links that cannot be saved: every problem found, in order.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct LinksError(pub Vec<LinkProblem>);

/// One link's problem, by its position in the request.
#[derive(Debug, thiserror::Error)]
pub enum LinkProblem {
    #[error("links[{index}].group: {source}")]
    Group { index: usize, source: roster_import::LinkError },
    #[error("links[{index}].access_id: no access {access_id} in this tenant")]
    Access { index: usize, access_id: AccessId },
}

/// An access that cannot be created, renamed or deleted.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("name must not be empty")]
    EmptyName,
    /// A name with a control or bidi-override character, or too long.
    #[error("name: {0}")]
    Name(roster_proto::name::NameError),
    #[error("another {kind} access is named `{name}`")]
    NameTaken { kind: &'static str, name: String },
    #[error("the access is in use (links granting it: {links}; users holding it: {users}): remove the links and import their jobs first")]
    InUse { links: u64, users: u64 },
}

/// An admin token that cannot be issued as asked.
#[derive(Debug, thiserror::Error)]
pub enum AdminTokenError {
    /// A label with a control or bidi-override character, too long, or blank.
    #[error("label: {0}")]
    Label(roster_proto::name::NameError),
    #[error("expires_in_days must be between 1 and {max}, got {0}", max = roster_proto::admin::MAX_ADMIN_TOKEN_DAYS)]
    ExpiresInDays(u32),
}

/// Tenant settings out of range.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("purge_after_days must be between 1 and 3650, got {0}")]
    PurgeAfterDays(u32),
    #[error("session_retention_days must be at least 1 (omit it to keep sessions forever)")]
    SessionRetentionZero,
}

/// An import or a decision that cannot happen in the job's or session's
/// present state.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("session {id} is {}, not held", .status.as_str())]
    NotHeld { id: SessionId, status: SessionStatus },
    /// An import asked for before any snapshot was committed.
    #[error("the job has no snapshot yet: register an agent and run `roster-agent push`")]
    NoSnapshot,
    /// A plan (dry run, structure, explain) asked for before any state exists.
    #[error("the job has no directory state yet: register an agent and run `roster-agent push` first")]
    NoDirectoryState,
}
