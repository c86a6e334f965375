//! Imports an admin asks for: one now, or a dry run of one.

use roster_proto::TenantId;
use roster_proto::admin::{Job, PlanPreview, Session, SessionTrigger};

use crate::db::Db;
use crate::error::{AppError, Missing, SessionError};
use crate::import::ImportQueue;
use crate::store;

/// Queues an import of the job's newest committed snapshot and wakes the
/// worker; refused while the job has none.
pub async fn start_import(db: &Db, queue: &ImportQueue, caller: &super::audit::Caller, job: &Job) -> Result<Session, AppError> {
    caller.may(roster_proto::admin::AdminRole::Admin)?;
    let tenant = caller.tenant;
    let mut tx = db.begin_write().await?;
    let snapshot = store::directory::latest_committed(&mut tx, job.id).await?.ok_or(SessionError::NoSnapshot)?;
    let id =
        store::sessions::insert_session(&mut tx, tenant, job.id, snapshot.id, &snapshot.manifest_sha256, SessionTrigger::Manual).await?;
    let summary = format!("started an import of job \"{}\" from its stored directory state", job.name);
    super::audit::record_in(&mut tx, caller, roster_proto::admin::AuditAction::ImportStarted, Some(id.to_string()), &summary).await?;
    tx.commit().await?;
    queue.wake();
    store::sessions::get_session(db, tenant, id).await?.ok_or(AppError::NotFound(Missing::Session))
}

/// A dry run: plans an import of the job's stored directory state with its
/// current links and users, applies nothing, and lists the first `limit`
/// changes.
/// Reading and planning run on the blocking pool
/// ([`super::read_off_the_workers`]): a plan walks the whole directory.
pub async fn plan_preview(db: &Db, tenant: TenantId, job: &Job, limit: u32) -> Result<PlanPreview, AppError> {
    let (db, job) = (db.clone(), job.clone());
    super::read_off_the_workers(async move { planned_preview(&db, tenant, &job, limit).await }).await?
}

async fn planned_preview(db: &Db, tenant: TenantId, job: &Job, limit: u32) -> Result<PlanPreview, AppError> {
    // A read-only transaction: one consistent picture, nothing written.
    let mut tx = db.begin_read().await?;
    let links = store::jobs::get_links(&mut tx, job.id).await?;
    let mut changes = Vec::new();
    let mut total_changes = 0u64;
    let (plan, context) = crate::import::plan_streamed(&mut tx, db.dialect, tenant, job, &links, |change| {
        total_changes += 1;
        if changes.len() < limit as usize {
            changes.push(crate::import::session_change(change, change.existing_id));
        }
    })
    .await?;
    tx.rollback().await?;
    Ok(PlanPreview {
        snapshot_id: context.snapshot_id,
        counts: plan.counts,
        held_reasons: roster_import::safeguard::judge(&job.policy, &plan),
        notes: context.notes(&plan),
        changes,
        total_changes,
    })
}
