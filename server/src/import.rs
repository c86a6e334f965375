//! The import worker: takes queued sessions, plans them with
//! `roster-import` against the snapshot they name, and applies the plan in
//! one transaction that also marks the session succeeded. A crash before
//! that commit leaves nothing applied; the session is queued again at the
//! next start.

use std::sync::Arc;
use std::time::{Duration, Instant};

use roster_import::{Action, GroupRef, LinkRule, PlanInput, plan};
use roster_proto::admin::{SessionChange, SessionTrigger};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::db::Db;
use crate::settings::Limits;
use crate::store::{self, StoreError, sessions::SessionWork};

/// Why an import failed; recorded on the session.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("job no longer exists")]
    JobGone,
    #[error("snapshot {0} is not committed")]
    SnapshotNotCommitted(Uuid),
    #[error("the job's scope cannot be used with base DN `{base}`: {source}")]
    Scope { base: String, source: roster_proto::scope::ScopeError },
    #[error("chunk {index} of the snapshot is missing")]
    MissingChunk { index: u32 },
    #[error("chunk {index}: {source}")]
    Chunk { index: u32, source: roster_snapshot::chunk::ChunkError },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ImportError {
    fn from(e: sqlx::Error) -> Self {
        ImportError::Store(StoreError::Sql(e))
    }
}

/// Wakes the worker when a session is queued.
#[derive(Debug, Clone, Default)]
pub struct ImportQueue {
    notify: Arc<Notify>,
}

impl ImportQueue {
    pub fn wake(&self) {
        self.notify.notify_one();
    }
}

/// Runs queued imports until the process ends. Re-checks the queue every
/// few seconds too, so a session queued by another replica is not missed.
pub async fn run_worker(db: Db, queue: ImportQueue, limits: Arc<Limits>) {
    match store::sessions::requeue_interrupted(&db).await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(sessions = n, "re-queued imports interrupted by a previous stop"),
        Err(error) => tracing::error!(%error, "could not re-queue interrupted imports"),
    }
    let mut last_housekeeping: Option<Instant> = None;
    loop {
        if last_housekeeping.is_none_or(|at| at.elapsed() >= Duration::from_secs(60)) {
            last_housekeeping = Some(Instant::now());
            if let Err(error) = housekeeping(&db, &limits).await {
                tracing::error!(%error, "housekeeping");
            }
        }
        if let Err(error) = queue_scheduled(&db, time::OffsetDateTime::now_utc()).await {
            tracing::error!(%error, "import schedule");
        }
        if let Err(error) = drain(&db).await {
            tracing::error!(%error, "import queue");
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), queue.notify.notified()).await;
    }
}

/// Queues a `schedule` session for every job whose daily time has come and
/// that has a snapshot, and moves each job's next time on. Safe to run on
/// several replicas at once: a conditional UPDATE lets one of them win.
/// Returns the sessions it queued.
pub async fn queue_scheduled(db: &Db, now: time::OffsetDateTime) -> Result<Vec<Uuid>, StoreError> {
    let now_ms = (now.unix_timestamp_nanos() / 1_000_000) as i64;
    let mut queued = Vec::new();
    for job in store::jobs::due_jobs(db, now_ms).await? {
        let daily = crate::schedule::parse_daily_time(&job.schedule_time)
            .ok_or(StoreError::Corrupt { column: "jobs.schedule_time", detail: job.schedule_time.clone() })?;
        let next = crate::schedule::next_daily_run(daily, now);
        let mut tx = db.begin_write().await?;
        if !store::jobs::advance_schedule(&mut tx, &job, (next.unix_timestamp_nanos() / 1_000_000) as i64).await? {
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

/// Forgets expired token ids and deletes snapshots left unfinished longer
/// than the limit allows.
pub async fn housekeeping(db: &Db, limits: &Limits) -> Result<(), StoreError> {
    let now = store::now_ms();
    store::agents::forget_expired_tokens(db, now).await?;
    let deleted = store::directory::delete_unfinished(db, now - limits.unfinished_snapshot_ttl_secs * 1000).await?;
    if deleted > 0 {
        tracing::info!(snapshots = deleted, "deleted unfinished snapshots");
    }
    Ok(())
}

async fn drain(db: &Db) -> Result<(), StoreError> {
    for id in store::sessions::queued(db).await? {
        if !store::sessions::claim(db, id).await? {
            continue;
        }
        let Some(work) = store::sessions::work(db, id).await? else { continue };
        let started = Instant::now();
        match run_session(db, &work).await {
            Ok(()) => {
                tracing::info!(session = %id, job = %work.job_id, tenant = %work.tenant_id, elapsed_ms = started.elapsed().as_millis() as u64, "import succeeded")
            }
            Err(error) => {
                tracing::error!(session = %id, job = %work.job_id, tenant = %work.tenant_id, %error, "import failed");
                store::sessions::fail(db, &work, &error.to_string()).await?;
            }
        }
    }
    Ok(())
}

/// Plans and applies one import.
pub async fn run_session(db: &Db, work: &SessionWork) -> Result<(), ImportError> {
    let snapshot =
        store::directory::get_snapshot(db, work.snapshot_id).await?.ok_or(ImportError::SnapshotNotCommitted(work.snapshot_id))?;
    if !snapshot.committed {
        return Err(ImportError::SnapshotNotCommitted(snapshot.id));
    }
    let job = store::jobs::get_job(db, work.tenant_id, work.job_id).await?.ok_or(ImportError::JobGone)?;
    let base = snapshot.manifest.directory.base_dn.clone();
    let scope = job.scope().resolve(&base).map_err(|source| ImportError::Scope { base, source })?;

    let mut tx = db.begin_write().await?;
    let (users, groups) = store::directory::load_users_and_groups(&mut tx, work.job_id).await?;
    let catalogue = store::jobs::access_catalogue(&mut tx, work.tenant_id).await?;
    let stored_links = store::jobs::get_links(&mut tx, work.job_id).await?;
    let mut notes = Vec::new();
    // The links that parse, and where each stands among the stored ones.
    let mut links: Vec<LinkRule> = Vec::with_capacity(stored_links.len());
    let mut positions: Vec<usize> = Vec::with_capacity(stored_links.len());
    for (position, link) in stored_links.iter().enumerate() {
        match GroupRef::parse(&link.group) {
            Ok(group) => {
                links.push(LinkRule { group_text: link.group.clone(), group, access_id: link.access_id });
                positions.push(position);
            }
            Err(error) => notes.push(format!("ignored link: {error}")),
        }
    }
    let current = store::users::current_users(&mut tx, work.job_id).await?;
    let now_unix = time::OffsetDateTime::now_utc().unix_timestamp();
    let plan =
        plan(PlanInput { users: &users, groups: &groups, scope: &scope, links: &links, accesses: &catalogue, current: &current, now_unix });
    notes.extend(plan.notes.iter().cloned());

    let mut changes = Vec::with_capacity(plan.changes.len());
    for change in &plan.changes {
        let user_id = match (change.action, change.existing_id) {
            (Action::Create, _) | (_, None) => store::users::insert_user(&mut tx, work.tenant_id, work.job_id, &change.target).await?,
            (_, Some(id)) => {
                store::users::update_user(&mut tx, id, &change.target).await?;
                id
            }
        };
        changes.push(SessionChange {
            user_id,
            object_guid: change.target.object_guid,
            username: change.target.username.clone(),
            action: change.action.into(),
            details: change.details.clone(),
        });
    }
    let mut resolved = vec![None; stored_links.len()];
    for (position, group) in positions.iter().zip(&plan.resolved_links) {
        resolved[*position] = *group;
    }
    store::jobs::record_link_resolution(&mut tx, work.job_id, &resolved).await?;
    store::sessions::insert_changes(&mut tx, work.id, &changes).await?;
    if !store::sessions::succeed(&mut tx, work, &plan.counts, &notes).await? {
        // Someone else finished or re-queued it meanwhile: apply nothing.
        tx.rollback().await?;
        return Ok(());
    }
    crate::fault::before_import_commit();
    tx.commit().await?;
    Ok(())
}
