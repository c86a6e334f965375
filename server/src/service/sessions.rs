//! Deciding held sessions.

use roster_proto::admin::Session;
use roster_proto::{SessionId, TenantId};

use crate::db::Db;
use crate::error::{AppError, Missing, SessionError};
use crate::import::ImportQueue;
use crate::store;
use crate::store::sessions::Verdict;

/// Approves or rejects a held session, `by` whom. An approved one is queued
/// and the worker woken; a session that is not held is refused.
pub async fn decide(
    db: &Db,
    queue: &ImportQueue,
    tenant: TenantId,
    id: SessionId,
    verdict: Verdict,
    by: &str,
) -> Result<Session, AppError> {
    let session = store::sessions::get_session(db, tenant, id).await?.ok_or(AppError::NotFound(Missing::Session))?;
    if !store::sessions::decide(db, tenant, id, verdict, by).await? {
        return Err(SessionError::NotHeld { id, status: session.status }.into());
    }
    // `by` is the admin's own text: escaped, so it cannot forge a log line.
    tracing::info!(tenant = %tenant, session = %id, ?verdict, by = %by.escape_debug(), "held session decided");
    if verdict == Verdict::Approve {
        queue.wake();
    }
    store::sessions::get_session(db, tenant, id).await?.ok_or(AppError::NotFound(Missing::Session))
}
