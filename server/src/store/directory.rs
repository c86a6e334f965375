//! Snapshots and their chunks (what agents uploaded, as the signed
//! manifest describes it), and the directory state they build per job.

use roster_proto::manifest::{Manifest, Watermark};
use roster_proto::records::{GroupMembersRecord, GroupRecord, OuRecord, Record, UserRecord};
use roster_proto::scope::JobScope;
use roster_proto::{AgentId, JobId, ObjectGuid, Sha256Hex, SnapshotId, TenantId};
use sqlx::Row;

use super::{Db, StoreError, UnixMillis, get_id, get_json, get_parsed, now_ms};

/// A stored snapshot's header.
#[derive(Debug, Clone)]
pub struct SnapshotRecord {
    pub id: SnapshotId,
    pub tenant_id: TenantId,
    pub job_id: JobId,
    pub agent_id: AgentId,
    pub committed: bool,
    /// Refused at its commit for good (see `store::chunks::fail_snapshot`).
    pub failed: bool,
    pub manifest: Manifest,
    pub manifest_sha256: Sha256Hex,
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
        id: get_id(row, "id")?,
        tenant_id: get_id(row, "tenant_id")?,
        job_id: get_id(row, "job_id")?,
        agent_id: get_id(row, "agent_id")?,
        committed: status == "committed",
        failed: status == "failed",
        manifest: get_json(row, "manifest_json")?,
        manifest_sha256: get_parsed(row, "manifest_sha256")?,
    })
}

/// Stores an offered snapshot, or does nothing if it is already stored
/// (the agent is resuming). Returns the stored one either way.
pub async fn offer_snapshot(
    db: &Db,
    tenant: TenantId,
    manifest: &Manifest,
    manifest_sha256: &Sha256Hex,
) -> Result<SnapshotRecord, StoreError> {
    sqlx::query(
        "INSERT INTO snapshots (id, tenant_id, job_id, agent_id, kind, status, manifest_json, manifest_sha256, chunk_count, created_at)
         VALUES ($1, $2, $3, $4, $9, 'receiving', $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING",
    )
    .bind(manifest.snapshot_id.to_string())
    .bind(tenant.to_string())
    .bind(manifest.job_id.to_string())
    .bind(manifest.agent_id.to_string())
    .bind(serde_json::to_string(manifest).unwrap_or_default())
    .bind(manifest_sha256.as_str())
    .bind(manifest.chunks.len() as i64)
    .bind(now_ms())
    .bind(match manifest.kind {
        roster_proto::manifest::SnapshotKind::Full => "full",
        roster_proto::manifest::SnapshotKind::Delta => "delta",
    })
    .execute(&db.pool)
    .await?;
    get_snapshot(db, manifest.snapshot_id).await?.ok_or(StoreError::Corrupt { column: "snapshots", detail: "vanished after insert".into() })
}

pub async fn get_snapshot(db: &Db, id: SnapshotId) -> Result<Option<SnapshotRecord>, StoreError> {
    let row = sqlx::query(concat!("SELECT ", snapshot_columns!(), " FROM snapshots WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(snapshot_from_row).transpose()
}

/// The job's newest committed snapshot.
pub async fn latest_committed(conn: &mut sqlx::AnyConnection, job: JobId) -> Result<Option<SnapshotRecord>, StoreError> {
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
pub async fn stored_chunks(db: &Db, snapshot: SnapshotId) -> Result<Vec<u32>, StoreError> {
    let rows = sqlx::query("SELECT idx FROM snapshot_chunks WHERE snapshot_id = $1 ORDER BY idx")
        .bind(snapshot.to_string())
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(|r| Ok(u32::try_from(r.try_get::<i64, _>("idx")?).unwrap_or(u32::MAX))).collect()
}

/// Stores a chunk whose hash the caller checked; storing it twice is a no-op.
pub async fn put_chunk(db: &Db, snapshot: SnapshotId, index: u32, sha256: &str, bytes: &[u8]) -> Result<(), StoreError> {
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
pub async fn chunk(conn: &mut sqlx::AnyConnection, snapshot: SnapshotId, index: u32) -> Result<Option<Vec<u8>>, StoreError> {
    let row = sqlx::query("SELECT data FROM snapshot_chunks WHERE snapshot_id = $1 AND idx = $2")
        .bind(snapshot.to_string())
        .bind(i64::from(index))
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.map(|r| r.try_get::<Vec<u8>, _>("data")).transpose()?)
}

/// Marks a snapshot committed. Returns false if it already was.
pub async fn mark_committed(conn: &mut sqlx::AnyConnection, snapshot: SnapshotId) -> Result<bool, StoreError> {
    let result = sqlx::query("UPDATE snapshots SET status = 'committed', committed_at = $1 WHERE id = $2 AND status = 'receiving'")
        .bind(now_ms())
        .bind(snapshot.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(result.rows_affected() == 1)
}

/// True when the job has a committed snapshot other than `except`.
pub async fn has_other_committed(conn: &mut sqlx::AnyConnection, job: JobId, except: SnapshotId) -> Result<bool, StoreError> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM snapshots WHERE job_id = $1 AND status = 'committed' AND id <> $2")
        .bind(job.to_string())
        .bind(except.to_string())
        .fetch_one(&mut *conn)
        .await?;
    Ok(row.try_get::<i64, _>("n")? > 0)
}

/// What the server holds of a job's directory: the objects (in
/// `directory_objects`) and where they stand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryState {
    /// The snapshot that last changed the state.
    pub snapshot_id: SnapshotId,
    /// Where the state stands; a delta must build on exactly this.
    pub watermark: Watermark,
    /// The job's scope when the last full snapshot was read: a delta only
    /// carries changes, so a changed scope needs a full snapshot.
    pub full_scope: JobScope,
    /// When the last full snapshot was committed (Unix ms).
    pub full_at: UnixMillis,
}

pub async fn state(conn: &mut sqlx::AnyConnection, job: JobId) -> Result<Option<DirectoryState>, StoreError> {
    let row = sqlx::query("SELECT snapshot_id, watermark, full_scope, full_at FROM directory_state WHERE job_id = $1")
        .bind(job.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(DirectoryState {
        snapshot_id: get_id(&row, "snapshot_id")?,
        watermark: get_json(&row, "watermark")?,
        full_scope: get_json(&row, "full_scope")?,
        full_at: UnixMillis(row.try_get("full_at")?),
    }))
}

/// Records where the state stands after `snapshot`; a full snapshot also
/// records the scope it was read with and when.
pub async fn save_state(
    conn: &mut sqlx::AnyConnection,
    job: JobId,
    snapshot: SnapshotId,
    watermark: &Watermark,
    full_scope: Option<&JobScope>,
) -> Result<(), StoreError> {
    let now = now_ms();
    let watermark = serde_json::to_string(watermark).unwrap_or_default();
    match full_scope {
        Some(scope) => {
            sqlx::query(
                "INSERT INTO directory_state (job_id, snapshot_id, watermark, full_scope, full_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)
                 ON CONFLICT (job_id) DO UPDATE SET snapshot_id = excluded.snapshot_id, watermark = excluded.watermark,
                     full_scope = excluded.full_scope, full_at = excluded.full_at, updated_at = excluded.updated_at",
            )
            .bind(job.to_string())
            .bind(snapshot.to_string())
            .bind(watermark)
            .bind(serde_json::to_string(scope).unwrap_or_default())
            .bind(now)
            .execute(&mut *conn)
            .await?;
        }
        None => {
            sqlx::query("UPDATE directory_state SET snapshot_id = $1, watermark = $2, updated_at = $3 WHERE job_id = $4")
                .bind(snapshot.to_string())
                .bind(watermark)
                .bind(now)
                .bind(job.to_string())
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

/// Empties the job's directory (before a full snapshot fills it again).
pub async fn clear_objects(conn: &mut sqlx::AnyConnection, job: JobId) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM directory_objects WHERE job_id = $1").bind(job.to_string()).execute(&mut *conn).await?;
    Ok(())
}

/// The kind of a stored object.
fn kind_of(record: &Record) -> &'static str {
    match record {
        Record::User(_) => "user",
        Record::Group(_) => "group",
        Record::Ou(_) => "ou",
        Record::Deleted(_) => "deleted",
        Record::GroupMembers(_) => "group_members",
    }
}

/// Stores or replaces an object.
pub async fn upsert_object(conn: &mut sqlx::AnyConnection, job: JobId, guid: ObjectGuid, record: &Record) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO directory_objects (job_id, object_guid, kind, record, anchor) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (job_id, object_guid) DO UPDATE SET kind = excluded.kind, record = excluded.record, anchor = excluded.anchor",
    )
    .bind(job.to_string())
    .bind(guid.to_string())
    .bind(kind_of(record))
    .bind(serde_json::to_string(record).unwrap_or_default())
    .bind(match record {
        Record::User(user) => Some(user.anchor().to_string()),
        _ => None,
    })
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Locks the job's directory state until the transaction ends, so no
/// snapshot commits into it meanwhile. SQLite's write transaction already
/// excludes every other writer; PostgreSQL locks the state's row.
pub async fn lock_state(conn: &mut sqlx::AnyConnection, dialect: crate::db::Dialect, job: JobId) -> Result<(), StoreError> {
    if dialect == crate::db::Dialect::Postgres {
        sqlx::query("SELECT job_id FROM directory_state WHERE job_id = $1 FOR UPDATE")
            .bind(job.to_string())
            .fetch_optional(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The job's groups as the state holds them.
pub async fn load_groups(conn: &mut sqlx::AnyConnection, job: JobId) -> Result<Vec<GroupRecord>, StoreError> {
    let rows = sqlx::query("SELECT record FROM directory_objects WHERE job_id = $1 AND kind = 'group' ORDER BY object_guid")
        .bind(job.to_string())
        .fetch_all(&mut *conn)
        .await?;
    let mut groups = Vec::with_capacity(rows.len());
    for row in &rows {
        if let Record::Group(group) = get_json::<Record>(row, "record")? {
            groups.push(group);
        }
    }
    Ok(groups)
}

/// Where a walk over the state's users in anchor order stands: the last
/// (anchor, objectGUID) read.
pub type UserKey = roster_import::UserKey;

/// The next `limit` users after `after`, in (anchor, objectGUID) order.
pub async fn user_batch(
    conn: &mut sqlx::AnyConnection,
    job: JobId,
    after: Option<&UserKey>,
    limit: u32,
) -> Result<Vec<(UserKey, UserRecord)>, StoreError> {
    // A row-value comparison, so the (job_id, kind, anchor, object_guid)
    // index seeks straight to the batch instead of scanning up to it.
    let after_key = if after.is_some() { "AND (anchor, object_guid) > ($2, $3)" } else { "AND $2 = $3" };
    let (anchor, guid) = after.cloned().unwrap_or_default();
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT anchor, object_guid, record FROM directory_objects
         WHERE job_id = $1 AND kind = 'user' {after_key}
         ORDER BY anchor, object_guid LIMIT $4"
    )))
    .bind(job.to_string())
    .bind(anchor)
    .bind(guid)
    .bind(i64::from(limit))
    .fetch_all(&mut *conn)
    .await?;
    let mut users = Vec::with_capacity(rows.len());
    for row in &rows {
        let key = (row.try_get("anchor")?, row.try_get("object_guid")?);
        // A user row's record is a user's: read it as one directly (one
        // pass, without the tagged enum's buffering; its `type` is ignored).
        users.push((key, get_json::<UserRecord>(row, "record")?));
    }
    Ok(users)
}

/// Appends a large group's continued member list to its stored record.
/// Returns false when the state holds no such group.
pub async fn append_group_members(conn: &mut sqlx::AnyConnection, job: JobId, more: &GroupMembersRecord) -> Result<bool, StoreError> {
    let row = sqlx::query("SELECT record FROM directory_objects WHERE job_id = $1 AND object_guid = $2 AND kind = 'group'")
        .bind(job.to_string())
        .bind(more.object_guid.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else { return Ok(false) };
    let Record::Group(mut group) = get_json::<Record>(&row, "record")? else {
        return Err(StoreError::Corrupt { column: "directory_objects.record", detail: "a group row holds another record".into() });
    };
    group.members.extend_from_slice(&more.members);
    upsert_object(conn, job, group.object_guid, &Record::Group(group)).await?;
    Ok(true)
}

pub async fn object_exists(conn: &mut sqlx::AnyConnection, job: JobId, guid: ObjectGuid) -> Result<bool, StoreError> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM directory_objects WHERE job_id = $1 AND object_guid = $2")
        .bind(job.to_string())
        .bind(guid.to_string())
        .fetch_one(&mut *conn)
        .await?;
    Ok(row.try_get::<i64, _>("n")? > 0)
}

pub async fn delete_object(conn: &mut sqlx::AnyConnection, job: JobId, guid: ObjectGuid) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM directory_objects WHERE job_id = $1 AND object_guid = $2")
        .bind(job.to_string())
        .bind(guid.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The base DN of a committed snapshot (what the job's paths are relative to).
pub async fn snapshot_base_dn(conn: &mut sqlx::AnyConnection, snapshot: SnapshotId) -> Result<Option<String>, StoreError> {
    let row = sqlx::query("SELECT manifest_json FROM snapshots WHERE id = $1 AND status = 'committed'")
        .bind(snapshot.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|row| Ok(get_json::<Manifest>(&row, "manifest_json")?.directory.base_dn)).transpose()
}

/// The users and OUs of a job's directory state (its groups come with
/// [`load_groups`]).
#[derive(Debug, Clone, Default)]
pub struct UsersAndOus {
    pub users: Vec<UserRecord>,
    pub ous: Vec<OuRecord>,
}

/// The job's users and OUs as the state holds them.
pub async fn load_users_and_ous(conn: &mut sqlx::AnyConnection, job: JobId) -> Result<UsersAndOus, StoreError> {
    let rows = sqlx::query("SELECT record FROM directory_objects WHERE job_id = $1 AND kind IN ('user', 'ou') ORDER BY object_guid")
        .bind(job.to_string())
        .fetch_all(&mut *conn)
        .await?;
    let mut loaded = UsersAndOus::default();
    for row in &rows {
        match get_json::<Record>(row, "record")? {
            Record::User(user) => loaded.users.push(user),
            Record::Ou(ou) => loaded.ous.push(ou),
            Record::Group(_) | Record::Deleted(_) | Record::GroupMembers(_) => {}
        }
    }
    Ok(loaded)
}

/// Snapshots of `job` still receiving chunks, other than `except` (a
/// snapshot being offered again does not count against itself).
pub async fn pending_snapshots(db: &Db, job: JobId, except: SnapshotId) -> Result<u64, StoreError> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM snapshots WHERE job_id = $1 AND status = 'receiving' AND id <> $2")
        .bind(job.to_string())
        .bind(except.to_string())
        .fetch_one(&db.pool)
        .await?;
    Ok(u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0))
}

/// Deletes snapshots that were offered before `before` and never
/// committed, with their chunks. Returns how many.
pub async fn delete_unfinished(db: &Db, before: UnixMillis) -> Result<u64, StoreError> {
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "DELETE FROM snapshot_chunks WHERE snapshot_id IN (SELECT id FROM snapshots WHERE status = 'receiving' AND created_at < $1)",
    )
    .bind(before.0)
    .execute(&mut *tx)
    .await?;
    let deleted =
        sqlx::query("DELETE FROM snapshots WHERE status = 'receiving' AND created_at < $1").bind(before.0).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(deleted.rows_affected())
}

/// When `record` (a user, group or OU) names an object the job's state
/// holds as another kind: its GUID, the held kind and the record's.
pub async fn kind_replaced(
    conn: &mut sqlx::AnyConnection,
    job: JobId,
    record: &Record,
) -> Result<Option<(ObjectGuid, String, &'static str)>, StoreError> {
    let guid = match record {
        Record::User(user) => user.object_guid,
        Record::Group(group) => group.object_guid,
        Record::Ou(ou) => ou.object_guid,
        Record::Deleted(_) | Record::GroupMembers(_) => return Ok(None),
    };
    let row = sqlx::query("SELECT kind FROM directory_objects WHERE job_id = $1 AND object_guid = $2")
        .bind(job.to_string())
        .bind(guid.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    let held: Option<String> = row.map(|r| r.try_get("kind")).transpose()?;
    let sent = kind_of(record);
    Ok(held.filter(|held| held != sent).map(|held| (guid, held, sent)))
}
