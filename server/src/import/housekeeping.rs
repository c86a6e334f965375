//! Housekeeping, once a minute: interrupted imports re-queued, the staged
//! plans of runs that ended without clearing them deleted, expired token
//! ids forgotten, unfinished snapshots deleted, applied snapshots'
//! chunks deleted, directory generations no state reads deleted, users
//! purged past the grace period (their personal data erased), sessions
//! past their retention, console sign-ins past their expiry and heartbeat
//! buckets past two days.

use crate::db::Db;
use crate::settings::Limits;
use crate::store::{self, StoreError, UnixMillis};

/// How long a running session with no sign of life and not locked by any
/// import counts as abandoned (PostgreSQL): far longer than a live import
/// goes between two (see `session::BEAT_EVERY`).
const ABANDONED_AFTER_MS: i64 = 5 * 60 * 1000;

/// Re-queues imports interrupted by a stopped server (see
/// [`store::sessions::requeue_interrupted`]).
pub(super) async fn requeue_interrupted(db: &Db, silent_since: UnixMillis) -> Result<(), StoreError> {
    let requeued = store::sessions::requeue_interrupted(db, silent_since).await?;
    if requeued > 0 {
        tracing::warn!(sessions = requeued, "re-queued imports interrupted by a stopped server");
    }
    Ok(())
}

/// Forgets expired token ids, deletes snapshots left unfinished longer
/// than the limit allows, purges users inactive past their tenant's grace
/// period and sessions past its retention.
/// Days an acknowledged or expired agent command is kept (for support).
pub const COMMANDS_KEPT_DAYS: u32 = 7;
/// Days agents' heartbeat buckets are kept (the console shows the last one).
const BEATS_KEPT_DAYS: u32 = 2;

pub async fn housekeeping(db: &Db, limits: &Limits) -> Result<(), StoreError> {
    housekeeping_at(db, limits, UnixMillis::now()).await
}

/// [`housekeeping`] as of `now` (Unix ms).
pub async fn housekeeping_at(db: &Db, limits: &Limits, now: UnixMillis) -> Result<(), StoreError> {
    if db.dialect == crate::db::Dialect::Postgres {
        // Another replica may have died mid-import; SQLite has no other process.
        requeue_interrupted(db, now.minus_ms(ABANDONED_AFTER_MS)).await?;
    }
    for run in store::staged::abandoned_runs(db).await? {
        let rows = store::staged::clear(db, run).await?;
        tracing::info!(%run, rows, "deleted the staged plan of an import run that ended without clearing it");
    }
    store::agents::forget_expired_tokens(db, now).await?;
    let commands = store::commands::prune(db, now.minus_days(COMMANDS_KEPT_DAYS), now).await?;
    if commands > 0 {
        tracing::info!(commands, "deleted agent commands done with");
    }
    store::console::prune_sessions(db, now, now.minus_ms(store::console::SESSION_IDLE_MS)).await?;
    store::agents::prune_beats(db, now.minus_days(BEATS_KEPT_DAYS)).await?;
    let deleted = store::directory::delete_unfinished(db, now.minus_ms(limits.unfinished_snapshot_ttl_secs * 1000)).await?;
    if deleted > 0 {
        tracing::info!(snapshots = deleted, "deleted unfinished snapshots");
    }
    // Also what a crash right after a commit left, and expired retention.
    let kept_since = store::chunks::kept_since(limits.full_snapshot_chunk_retention_days, now);
    let chunks = store::chunks::delete_applied_chunks(db, None, kept_since).await?;
    if chunks > 0 {
        tracing::info!(chunks, "deleted the chunks of applied snapshots");
    }
    for (job, generation) in store::directory::stale_generations(db).await? {
        store::directory::drop_generation(db, job, &generation, crate::ingest::DROP_ROWS_PER_TRANSACTION).await?;
        tracing::info!(%job, %generation, "deleted a directory generation no state reads");
    }
    for (tenant, settings) in store::tenants::all_settings(db).await? {
        let purged = store::purge::purge_inactive(db, tenant, now.minus_days(settings.purge_after_days)).await?;
        if purged > 0 {
            tracing::info!(%tenant, users = purged, days = settings.purge_after_days, "purged users inactive past the grace period");
        }
        if let Some(days) = settings.session_retention_days {
            let removed = store::sessions::delete_finished_before(db, tenant, now.minus_days(days)).await?;
            if removed > 0 {
                tracing::info!(%tenant, sessions = removed, days, "removed sessions past their retention");
            }
        }
    }
    Ok(())
}
