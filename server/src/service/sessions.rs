//! Deciding held sessions.

use roster_proto::SessionId;
use roster_proto::admin::Session;

use crate::db::Db;
use crate::error::{AppError, Missing, SessionError};
use crate::import::ImportQueue;
use crate::store;
use crate::store::sessions::Verdict;

/// Approves or rejects a held session, `by` whom (as the session records
/// it; the audit log names the caller, in the same transaction). An
/// approved one is queued and, once that is committed, the worker woken; a
/// session that is not held is refused.
pub async fn decide(
    db: &Db,
    queue: &ImportQueue,
    caller: &super::audit::Caller,
    id: SessionId,
    verdict: Verdict,
    by: &str,
) -> Result<Session, AppError> {
    caller.may(roster_proto::admin::AdminRole::Admin)?;
    let tenant = caller.tenant;
    let session = store::sessions::get_session(db, tenant, id).await?.ok_or(AppError::NotFound(Missing::Session))?;
    let mut tx = db.begin_write().await?;
    if !store::sessions::decide(&mut tx, tenant, id, verdict, by).await? {
        tx.rollback().await?;
        return Err(SessionError::NotHeld { id, status: session.status }.into());
    }
    let (action, verb) = match verdict {
        Verdict::Approve => (roster_proto::admin::AuditAction::SessionApproved, "approved"),
        Verdict::Reject => (roster_proto::admin::AuditAction::SessionRejected, "rejected"),
    };
    let counts = &session.counts;
    let summary = format!(
        "{verb} a held import ({} to deactivate, {} losing a basic access, {} to create)",
        counts.deactivated, counts.lost_basic, counts.created
    );
    super::audit::record_in(&mut tx, caller, action, Some(id.to_string()), &summary).await?;
    tx.commit().await?;
    // `by` is the admin's own text: escaped, so it cannot forge a log line.
    tracing::info!(tenant = %tenant, session = %id, ?verdict, by = %by.escape_debug(), "held session decided");
    if verdict == Verdict::Approve {
        queue.wake();
    }
    store::sessions::get_session(db, tenant, id).await?.ok_or(AppError::NotFound(Missing::Session))
}
