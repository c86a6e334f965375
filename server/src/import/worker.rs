//! The worker loop: re-queues interrupted imports at start, then runs the
//! housekeeping and the queued sessions until the process ends; and the
//! schedule's loop beside it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::housekeeping::{housekeeping, requeue_interrupted};
use super::scheduler::{fail_overdue_waits, start_due_runs};
use super::session::{RunOutcome, run_session_in_batches};
use crate::db::Db;
use crate::service::commands::CommandBell;
use crate::settings::Limits;
use crate::store::{self, StoreError};

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

/// How often the schedule looks for due runs and expired waits.
const SCHEDULE_TICK: Duration = Duration::from_secs(5);

/// Starts due scheduled runs and fails expired waits for fresh data until
/// the process ends (its own task: a long import never delays a run).
pub async fn run_scheduler(db: Db, limits: Arc<Limits>, bell: CommandBell) {
    let mut tick = tokio::time::interval(SCHEDULE_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(error) = start_due_runs(&db, &limits, &bell).await {
            tracing::error!(%error, "import schedule");
        }
        if let Err(error) = fail_overdue_waits(&db, &limits).await {
            tracing::error!(%error, "imports waiting for fresh data");
        }
    }
}

/// Runs queued imports until the process ends. Re-checks the queue every
/// few seconds too, so a session queued by another replica is not missed.
pub async fn run_worker(db: Db, queue: ImportQueue, limits: Arc<Limits>) {
    // At start, any session no live import holds was interrupted.
    if let Err(error) = requeue_interrupted(&db, store::UnixMillis::now()).await {
        tracing::error!(%error, "could not re-queue interrupted imports");
    }
    let mut last_housekeeping: Option<Instant> = None;
    loop {
        if last_housekeeping.is_none_or(|at| at.elapsed() >= Duration::from_secs(60)) {
            last_housekeeping = Some(Instant::now());
            if let Err(error) = housekeeping(&db, &limits).await {
                tracing::error!(%error, "housekeeping");
            }
        }
        if let Err(error) = drain(&db, limits.import_batch_users).await {
            tracing::error!(%error, "import queue");
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), queue.notify.notified()).await;
    }
}

async fn drain(db: &Db, batch_users: u32) -> Result<(), StoreError> {
    for id in store::sessions::queued(db).await? {
        let Some(token) = store::sessions::claim(db, id).await? else { continue };
        let Some(work) = store::sessions::work(db, id, token).await? else { continue };
        let started = Instant::now();
        let elapsed_ms = || started.elapsed().as_millis() as u64;
        match run_session_in_batches(db, &work, batch_users).await {
            Ok(RunOutcome::Applied) => {
                tracing::info!(session = %id, job = %work.job_id, tenant = %work.tenant_id, elapsed_ms = elapsed_ms(), "import succeeded")
            }
            Ok(RunOutcome::Held) => {
                tracing::info!(session = %id, job = %work.job_id, tenant = %work.tenant_id, elapsed_ms = elapsed_ms(), "import held")
            }
            Ok(RunOutcome::Lost) => {
                tracing::warn!(session = %id, job = %work.job_id, tenant = %work.tenant_id, "the session was re-queued or finished elsewhere; this run recorded nothing")
            }
            Err(error) => {
                // The cause may quote a DN the agent sent: escaped, like every logged client text.
                tracing::error!(session = %id, job = %work.job_id, tenant = %work.tenant_id, error = %error.to_string().escape_debug(), "import failed");
                store::sessions::fail(db, &work, &error.to_string()).await?;
            }
        }
    }
    Ok(())
}
