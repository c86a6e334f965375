//! The import worker and what it runs: the loop that takes queued
//! sessions (`worker`), the daily schedule (`scheduler`), the once-a-minute
//! housekeeping (`housekeeping`), what a plan reads from the store and the
//! batched walk over the job's users (`read`), and the session's run
//! (`session`): planned from a read snapshot and staged a batch at a time,
//! then judged and applied or held in one short transaction. A crash
//! before that commit leaves nothing applied; the session is queued again
//! at the next start.

mod housekeeping;
mod read;
mod scheduler;
mod session;
mod worker;

use roster_proto::SnapshotId;

use crate::store::StoreError;

pub use housekeeping::{housekeeping, housekeeping_at};
pub use read::{Batches, PlanContext, StructureView, explain_view, link_rules, plan_streamed, session_change, structure_view};
pub use scheduler::{fail_overdue_waits, start_due_runs};
pub use session::{Finished, MAX_PLANS, Planned, RunOutcome, finish_staged, plan_staged, run_session, run_session_in_batches};
pub use worker::{ImportQueue, run_scheduler, run_worker};

/// Why an import failed; recorded on the session.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("job no longer exists")]
    JobGone,
    #[error("the job has no directory state yet: its agent has not pushed a snapshot")]
    NoState,
    #[error("snapshot {0} is not committed")]
    SnapshotNotCommitted(SnapshotId),
    #[error("the job's scope cannot be used with base DN `{base}`: {source}")]
    Scope { base: String, source: roster_proto::scope::ScopeError },
    #[error("the job's users kept changing while the import was planned ({0} plans): it applied nothing")]
    UsersKeptChanging(u32),
    #[error("the import's writer stopped before the import finished: the server is shutting down")]
    Interrupted,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ImportError {
    fn from(e: sqlx::Error) -> Self {
        ImportError::Store(StoreError::Sql(e))
    }
}
