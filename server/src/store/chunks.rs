//! How long snapshot chunks are kept, and how much of them a job may hold
//! unfinished. Chunks are the directory's personal data as the agent read
//! it: once a snapshot is applied to the directory state (or refused at its
//! commit) they have done their job and are deleted, a bounded batch per
//! statement so no transaction holds the writer for long. Only the job's
//! newest full snapshot may keep its chunks for a while (diagnosis).

use roster_proto::manifest::Manifest;
use roster_proto::{JobId, SnapshotId};

use super::{Db, StoreError, UnixMillis};

/// Chunks deleted per statement: at most 1 MiB each, so one statement
/// writes a few tens of MiB at most.
const DELETE_BATCH_CHUNKS: i64 = 32;

/// Snapshots whose chunks are looked for per sweep round.
const SWEEP_SNAPSHOTS: i64 = 500;

/// The commit time from which a job's newest full snapshot still keeps its
/// chunks, as of `now`, when they are kept `days` days (0: none is kept).
pub fn kept_since(days: u32, now: UnixMillis) -> UnixMillis {
    match days {
        0 => UnixMillis(i64::MAX),
        days => now.minus_days(days),
    }
}

/// Deletes the chunks of `job`'s (or, with `None`, every job's) snapshots
/// that are applied or failed, except those of a job's newest full snapshot
/// committed at or after `keep_newest_full_since` (`UnixMillis(i64::MAX)`
/// keeps none). Called after each commit and by housekeeping, which also
/// sweeps what a crash between the two left. Returns how many chunks went.
pub async fn delete_applied_chunks(db: &Db, job: Option<JobId>, keep_newest_full_since: UnixMillis) -> Result<u64, StoreError> {
    let mut deleted = 0;
    loop {
        let rows = sqlx::query(
            "SELECT s.job_id, s.id FROM snapshots s
             WHERE s.status <> 'receiving' AND ($1 = '' OR s.job_id = $1)
               AND EXISTS (SELECT 1 FROM snapshot_chunks c WHERE c.job_id = s.job_id AND c.snapshot_id = s.id)
               AND NOT (s.status = 'committed' AND s.kind = 'full' AND s.committed_at >= $2
                        AND NOT EXISTS (SELECT 1 FROM snapshots n
                                        WHERE n.job_id = s.job_id AND n.status = 'committed' AND n.kind = 'full'
                                          AND (n.committed_at > s.committed_at OR (n.committed_at = s.committed_at AND n.id > s.id))))
             ORDER BY s.job_id, s.id LIMIT $3",
        )
        .bind(job.map(|j| j.to_string()).unwrap_or_default())
        .bind(keep_newest_full_since.0)
        .bind(SWEEP_SNAPSHOTS)
        .fetch_all(&db.pool)
        .await?;
        for row in &rows {
            deleted += delete_chunks_of(db, super::get_id(row, "job_id")?, super::get_id(row, "id")?).await?;
        }
        if (rows.len() as i64) < SWEEP_SNAPSHOTS {
            return Ok(deleted);
        }
    }
}

/// Deletes every chunk of `job`'s `snapshot`, a batch per statement.
async fn delete_chunks_of(db: &Db, job: JobId, snapshot: SnapshotId) -> Result<u64, StoreError> {
    let mut deleted = 0;
    loop {
        let result = sqlx::query(
            "DELETE FROM snapshot_chunks WHERE job_id = $1 AND snapshot_id = $2
               AND idx IN (SELECT idx FROM snapshot_chunks WHERE job_id = $1 AND snapshot_id = $2 ORDER BY idx LIMIT $3)",
        )
        .bind(job.to_string())
        .bind(snapshot.to_string())
        .bind(DELETE_BATCH_CHUNKS)
        .execute(&mut *db.writer().await?)
        .await?;
        deleted += result.rows_affected();
        if result.rows_affected() < DELETE_BATCH_CHUNKS as u64 {
            return Ok(deleted);
        }
    }
}

/// Marks a snapshot still receiving as failed (its commit refused it for
/// good: it can never be committed) and deletes its chunks, so it no longer
/// counts against the job's pending snapshots or storage. False when it was
/// not receiving (committed or failed meanwhile).
pub async fn fail_snapshot(db: &Db, job: JobId, snapshot: SnapshotId) -> Result<bool, StoreError> {
    let result = sqlx::query("UPDATE snapshots SET status = 'failed' WHERE id = $1 AND job_id = $2 AND status = 'receiving'")
        .bind(snapshot.to_string())
        .bind(job.to_string())
        .execute(&mut *db.writer().await?)
        .await?;
    delete_chunks_of(db, job, snapshot).await?;
    Ok(result.rows_affected() == 1)
}

/// The bytes of every chunk a manifest names.
pub fn manifest_bytes(manifest: &Manifest) -> u64 {
    manifest.chunks.iter().fold(0u64, |sum, chunk| sum.saturating_add(chunk.size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_full_snapshot_keeps_its_chunks_for_the_retention_only() {
        const DAY_MS: i64 = UnixMillis::DAY_MS;
        let now = UnixMillis(100 * DAY_MS);
        assert_eq!(kept_since(0, now), UnixMillis(i64::MAX), "0 days: nothing is kept");
        assert_eq!(kept_since(7, now), UnixMillis(93 * DAY_MS));
        assert_eq!(kept_since(u32::MAX, UnixMillis(i64::MIN + 1)), UnixMillis(i64::MIN), "saturates");
    }
}
