//! The daily schedule: queues an import for every job whose time has come.

use roster_proto::admin::SessionTrigger;
use roster_proto::{DailyTime, SessionId};

use crate::db::Db;
use crate::store::{self, StoreError, UnixMillis};

/// Queues a `schedule` session for every job whose daily time has come and
/// that has a snapshot, and moves each job's next time on. Safe to run on
/// several replicas at once: a conditional UPDATE lets one of them win.
/// Returns the sessions it queued.
pub async fn queue_scheduled(db: &Db, now: time::OffsetDateTime) -> Result<Vec<SessionId>, StoreError> {
    let mut queued = Vec::new();
    for job in store::jobs::due_jobs(db, UnixMillis::from_datetime(now)).await? {
        let daily: DailyTime = job
            .schedule_time
            .parse()
            .map_err(|_| StoreError::Corrupt { column: "jobs.schedule_time", detail: job.schedule_time.clone() })?;
        let next = crate::schedule::next_daily_run(daily, now);
        let mut tx = db.begin_write().await?;
        if !store::jobs::advance_schedule(&mut tx, &job, UnixMillis::from_datetime(next)).await? {
            continue;
        }
        match store::directory::latest_committed(&mut tx, job.id).await? {
            Some(snapshot) => {
                let id = store::sessions::insert_session(
                    &mut tx,
                    job.tenant_id,
                    job.id,
                    snapshot.id,
                    &snapshot.manifest_sha256,
                    SessionTrigger::Schedule,
                )
                .await?;
                tracing::info!(job = %job.id, tenant = %job.tenant_id, session = %id, "scheduled import queued");
                queued.push(id);
            }
            None => tracing::info!(job = %job.id, tenant = %job.tenant_id, "scheduled import skipped: the job has no snapshot yet"),
        }
        tx.commit().await?;
    }
    Ok(queued)
}
