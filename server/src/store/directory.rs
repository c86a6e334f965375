//! Snapshots and their chunks: what agents uploaded, as the signed
//! manifest describes it.

use roster_proto::manifest::Manifest;
use sqlx::Row;
use uuid::Uuid;

use super::{Db, StoreError, get_json, get_uuid, now_ms};

/// A stored snapshot's header.
#[derive(Debug, Clone)]
pub struct SnapshotRecord {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub job_id: Uuid,
    pub agent_id: Uuid,
    pub committed: bool,
    pub manifest: Manifest,
    pub manifest_sha256: String,
}

/// The columns every query of this table reads, as a literal for `concat!`.
macro_rules! snapshot_columns {
    () => {
        "id, tenant_id, job_id, agent_id, status, manifest_json, manifest_sha256"
    };
}

fn snapshot_from_row(row: &sqlx::any::AnyRow) -> Result<SnapshotRecord, StoreError> {
    let status: String = row.try_get("status")?;
    Ok(SnapshotRecord {
        id: get_uuid(row, "id")?,
        tenant_id: get_uuid(row, "tenant_id")?,
        job_id: get_uuid(row, "job_id")?,
        agent_id: get_uuid(row, "agent_id")?,
        committed: status == "committed",
        manifest: get_json(row, "manifest_json")?,
        manifest_sha256: row.try_get("manifest_sha256")?,
    })
}

/// Stores an offered snapshot, or does nothing if it is already stored
/// (the agent is resuming). Returns the stored one either way.
pub async fn offer_snapshot(db: &Db, tenant: Uuid, manifest: &Manifest, manifest_sha256: &str) -> Result<SnapshotRecord, StoreError> {
    sqlx::query(
        "INSERT INTO snapshots (id, tenant_id, job_id, agent_id, kind, status, manifest_json, manifest_sha256, chunk_count, created_at)
         VALUES ($1, $2, $3, $4, 'full', 'receiving', $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING",
    )
    .bind(manifest.snapshot_id.to_string())
    .bind(tenant.to_string())
    .bind(manifest.job_id.to_string())
    .bind(manifest.agent_id.to_string())
    .bind(serde_json::to_string(manifest).unwrap_or_default())
    .bind(manifest_sha256)
    .bind(manifest.chunks.len() as i64)
    .bind(now_ms())
    .execute(&db.pool)
    .await?;
    get_snapshot(db, manifest.snapshot_id).await?.ok_or(StoreError::Corrupt { column: "snapshots", detail: "vanished after insert".into() })
}

pub async fn get_snapshot(db: &Db, id: Uuid) -> Result<Option<SnapshotRecord>, StoreError> {
    let row = sqlx::query(concat!("SELECT ", snapshot_columns!(), " FROM snapshots WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(snapshot_from_row).transpose()
}

/// The job's newest committed snapshot.
pub async fn latest_committed(conn: &mut sqlx::AnyConnection, job: Uuid) -> Result<Option<SnapshotRecord>, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        snapshot_columns!(),
        " FROM snapshots WHERE job_id = $1 AND status = 'committed' ORDER BY committed_at DESC, id DESC LIMIT 1"
    ))
    .bind(job.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(snapshot_from_row).transpose()
}

/// Indexes of the chunks already stored.
pub async fn stored_chunks(db: &Db, snapshot: Uuid) -> Result<Vec<u32>, StoreError> {
    let rows = sqlx::query("SELECT idx FROM snapshot_chunks WHERE snapshot_id = $1 ORDER BY idx")
        .bind(snapshot.to_string())
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(|r| Ok(u32::try_from(r.try_get::<i64, _>("idx")?).unwrap_or(u32::MAX))).collect()
}

/// Stores a chunk whose hash the caller checked; storing it twice is a no-op.
pub async fn put_chunk(db: &Db, snapshot: Uuid, index: u32, sha256: &str, bytes: &[u8]) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO snapshot_chunks (snapshot_id, idx, sha256, data) VALUES ($1, $2, $3, $4) ON CONFLICT (snapshot_id, idx) DO NOTHING",
    )
    .bind(snapshot.to_string())
    .bind(i64::from(index))
    .bind(sha256)
    .bind(bytes.to_vec())
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// One stored chunk's bytes.
pub async fn chunk(conn: &mut sqlx::AnyConnection, snapshot: Uuid, index: u32) -> Result<Option<Vec<u8>>, StoreError> {
    let row = sqlx::query("SELECT data FROM snapshot_chunks WHERE snapshot_id = $1 AND idx = $2")
        .bind(snapshot.to_string())
        .bind(i64::from(index))
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.map(|r| r.try_get::<Vec<u8>, _>("data")).transpose()?)
}

/// Marks a snapshot committed. Returns false if it already was.
pub async fn mark_committed(conn: &mut sqlx::AnyConnection, snapshot: Uuid) -> Result<bool, StoreError> {
    let result = sqlx::query("UPDATE snapshots SET status = 'committed', committed_at = $1 WHERE id = $2 AND status = 'receiving'")
        .bind(now_ms())
        .bind(snapshot.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(result.rows_affected() == 1)
}

/// True when the job has a committed snapshot other than `except`.
pub async fn has_other_committed(conn: &mut sqlx::AnyConnection, job: Uuid, except: Uuid) -> Result<bool, StoreError> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM snapshots WHERE job_id = $1 AND status = 'committed' AND id <> $2")
        .bind(job.to_string())
        .bind(except.to_string())
        .fetch_one(&mut *conn)
        .await?;
    Ok(row.try_get::<i64, _>("n")? > 0)
}
