//! Snapshots and their chunks (what agents uploaded, as the signed
//! manifest describes it), and the directory state they build per job.

use roster_proto::manifest::{Manifest, Watermark};
use roster_proto::records::{GroupRecord, OuRecord, Record, UserRecord};
use roster_proto::scope::JobScope;
use roster_proto::{AgentId, JobId, ObjectGuid, Sha256Hex, SnapshotId, TenantId};
use sqlx::Row;

use super::{Db, StoreError, UnixMillis, get_id, get_json, get_parsed, now_ms, parse_json, parse_text};

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
    /// When it was first offered (the server's clock).
    pub offered_at: UnixMillis,
}

/// The columns every query of this table reads, as a literal for `concat!`.
macro_rules! snapshot_columns {
    () => {
        "id, tenant_id, job_id, agent_id, status, manifest_json, manifest_sha256, created_at"
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
        offered_at: UnixMillis(row.try_get("created_at")?),
    })
}

/// Stores an offered snapshot, or does nothing if the job already has one
/// of that id (the agent is resuming), on `conn` (the offer's write
/// transaction, see [`lock_offers`]). Snapshot ids are the job's own:
/// another job's snapshot of the same id is another snapshot. Returns the
/// job's stored one either way.
pub async fn offer_snapshot(
    conn: &mut sqlx::AnyConnection,
    tenant: TenantId,
    manifest: &Manifest,
    manifest_sha256: &Sha256Hex,
) -> Result<SnapshotRecord, StoreError> {
    sqlx::query(
        "INSERT INTO snapshots (id, tenant_id, job_id, agent_id, kind, status, manifest_json, manifest_sha256, chunk_count, chunk_bytes, created_at)
         VALUES ($1, $2, $3, $4, $9, 'receiving', $5, $6, $7, $10, $8) ON CONFLICT (job_id, id) DO NOTHING",
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
    .bind(i64::try_from(super::chunks::manifest_bytes(manifest)).unwrap_or(i64::MAX))
    .execute(&mut *conn)
    .await?;
    snapshot_on(conn, manifest.job_id, manifest.snapshot_id)
        .await?
        .ok_or(StoreError::Corrupt { column: "snapshots", detail: "vanished after insert".into() })
}

/// Locks the job's offers until the transaction ends, so that the room
/// an offer was judged against (pending snapshots, bytes) is still there
/// when it is stored. SQLite's write transaction already excludes every
/// other writer; PostgreSQL locks the job's row (`NO KEY UPDATE`: rows
/// that only reference the job, checked with a key-share lock, are not held up).
/// False when the job is not there or was deleted: it takes no offer.
pub async fn lock_offers(conn: &mut sqlx::AnyConnection, dialect: crate::db::Dialect, job: JobId) -> Result<bool, StoreError> {
    let sql = match dialect {
        crate::db::Dialect::Postgres => "SELECT id FROM jobs WHERE id = $1 AND deleted_at IS NULL FOR NO KEY UPDATE",
        crate::db::Dialect::Sqlite => "SELECT id FROM jobs WHERE id = $1 AND deleted_at IS NULL",
    };
    Ok(sqlx::query(sql).bind(job.to_string()).fetch_optional(&mut *conn).await?.is_some())
}

/// `job`'s snapshot named `id` (another job's of the same id is not it).
pub async fn get_snapshot(db: &Db, job: JobId, id: SnapshotId) -> Result<Option<SnapshotRecord>, StoreError> {
    snapshot_on(&mut *db.pool.acquire().await?, job, id).await
}

/// [`get_snapshot`] on `conn`.
async fn snapshot_on(conn: &mut sqlx::AnyConnection, job: JobId, id: SnapshotId) -> Result<Option<SnapshotRecord>, StoreError> {
    let row = sqlx::query(concat!("SELECT ", snapshot_columns!(), " FROM snapshots WHERE job_id = $1 AND id = $2"))
        .bind(job.to_string())
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
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

/// Indexes of the chunks of `job`'s `snapshot` already stored.
pub async fn stored_chunks(db: &Db, job: JobId, snapshot: SnapshotId) -> Result<Vec<u32>, StoreError> {
    let rows = sqlx::query("SELECT idx FROM snapshot_chunks WHERE job_id = $1 AND snapshot_id = $2 ORDER BY idx")
        .bind(job.to_string())
        .bind(snapshot.to_string())
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(|r| Ok(u32::try_from(r.try_get::<i64, _>("idx")?).unwrap_or(u32::MAX))).collect()
}

/// Stores a chunk whose hash the caller checked; storing it twice is a no-op.
pub async fn put_chunk(db: &Db, job: JobId, snapshot: SnapshotId, index: u32, sha256: &str, bytes: &[u8]) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO snapshot_chunks (job_id, snapshot_id, idx, sha256, data) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (job_id, snapshot_id, idx) DO NOTHING",
    )
    .bind(job.to_string())
    .bind(snapshot.to_string())
    .bind(i64::from(index))
    .bind(sha256)
    .bind(bytes.to_vec())
    .execute(&mut *db.writer().await?)
    .await?;
    Ok(())
}

/// One stored chunk's bytes.
pub async fn chunk(conn: &mut sqlx::AnyConnection, job: JobId, snapshot: SnapshotId, index: u32) -> Result<Option<Vec<u8>>, StoreError> {
    let row = sqlx::query("SELECT data FROM snapshot_chunks WHERE job_id = $1 AND snapshot_id = $2 AND idx = $3")
        .bind(job.to_string())
        .bind(snapshot.to_string())
        .bind(i64::from(index))
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.map(|r| r.try_get::<Vec<u8>, _>("data")).transpose()?)
}

/// Marks `job`'s `snapshot` committed. Returns false if it already was.
pub async fn mark_committed(conn: &mut sqlx::AnyConnection, job: JobId, snapshot: SnapshotId) -> Result<bool, StoreError> {
    let result =
        sqlx::query("UPDATE snapshots SET status = 'committed', committed_at = $1 WHERE job_id = $2 AND id = $3 AND status = 'receiving'")
            .bind(now_ms())
            .bind(job.to_string())
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

/// Whether the job holds directory state (a snapshot was committed).
pub async fn has_state(db: &Db, job: JobId) -> Result<bool, StoreError> {
    let row =
        sqlx::query("SELECT 1 AS found FROM directory_state WHERE job_id = $1").bind(job.to_string()).fetch_optional(&db.pool).await?;
    Ok(row.is_some())
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

/// The condition "this row is of the job's current generation", for
/// queries of `directory_objects` or `directory_members` whose `$1` is the
/// job id; a literal for `concat!`.
macro_rules! current_generation {
    () => {
        "generation = (SELECT generation FROM directory_state WHERE directory_state.job_id = $1)"
    };
}

/// Records where the state stands after `snapshot`; a full snapshot also
/// records the scope it was read with and when, and its own staged
/// generation becomes the state's objects (the swap).
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
                "INSERT INTO directory_state (job_id, snapshot_id, watermark, full_scope, full_at, updated_at, generation)
                 VALUES ($1, $2, $3, $4, $5, $5, $2)
                 ON CONFLICT (job_id) DO UPDATE SET snapshot_id = excluded.snapshot_id, watermark = excluded.watermark,
                     full_scope = excluded.full_scope, full_at = excluded.full_at, updated_at = excluded.updated_at,
                     generation = excluded.generation",
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

/// The generation the job's state reads from, if it has a state.
pub async fn current_generation(conn: &mut sqlx::AnyConnection, job: JobId) -> Result<Option<String>, StoreError> {
    let row =
        sqlx::query("SELECT generation FROM directory_state WHERE job_id = $1").bind(job.to_string()).fetch_optional(&mut *conn).await?;
    Ok(row.map(|row| row.try_get("generation")).transpose()?)
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

/// An object as a snapshot's generation stages it: a group's record
/// without its members, which are rows of their own.
#[derive(Debug, Clone)]
pub struct StagedObject {
    pub guid: ObjectGuid,
    kind: &'static str,
    anchor: Option<String>,
    /// A user's keys for explain's look-ups by name and by DN.
    keys: Option<roster_import::LookupKeys>,
    record: String,
    /// Whether a delta's user or group is in the job's scope (else it only
    /// updates an object the state holds); always true for a full snapshot.
    pub in_scope: bool,
}

impl StagedObject {
    /// `record` (not a `group_members` continuation) staged with `in_scope`.
    pub fn new(record: &Record, in_scope: bool) -> (StagedObject, Option<(ObjectGuid, &[ObjectGuid])>) {
        let (guid, members) = match record {
            Record::User(user) => (user.object_guid, None),
            Record::Group(group) => (group.object_guid, Some((group.object_guid, group.members.as_slice()))),
            Record::Ou(ou) => (ou.object_guid, None),
            Record::Deleted(deleted) => (deleted.object_guid, None),
            Record::GroupMembers(more) => (more.object_guid, Some((more.object_guid, more.members.as_slice()))),
        };
        let text = match record {
            Record::Group(group) => serde_json::to_string(&Record::Group(GroupRecord { members: Vec::new(), ..group.clone() })),
            other => serde_json::to_string(other),
        };
        let (anchor, keys) = match record {
            Record::User(user) => (Some(user.anchor().to_string()), Some(roster_import::LookupKeys::of(user))),
            _ => (None, None),
        };
        (StagedObject { guid, kind: kind_of(record), anchor, keys, record: text.unwrap_or_default(), in_scope }, members)
    }
}

/// Rows one staging statement writes at most (its binds stay well under
/// either engine's limit).
const ROWS_PER_STATEMENT: usize = 400;

/// Notes that `generation` may hold rows of `job`, so that they are found
/// and deleted if its snapshot is never applied.
pub async fn register_generation(conn: &mut sqlx::AnyConnection, job: JobId, generation: SnapshotId) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO directory_generations (job_id, generation, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
        .bind(job.to_string())
        .bind(generation.to_string())
        .bind(now_ms())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Stages objects into `generation` (each guid at most once in `objects`).
/// Staging one again replaces it, keeping it in scope if it was.
pub async fn stage_objects(
    conn: &mut sqlx::AnyConnection,
    dialect: crate::db::Dialect,
    job: JobId,
    generation: SnapshotId,
    objects: &[StagedObject],
) -> Result<(), StoreError> {
    for part in objects.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO directory_objects (job_id, generation, object_guid, kind, anchor, account_key, dn_key, record, in_scope) VALUES {}
             ON CONFLICT (job_id, generation, object_guid) DO UPDATE SET kind = excluded.kind, anchor = excluded.anchor,
                 account_key = excluded.account_key, dn_key = excluded.dn_key,
                 record = excluded.record, in_scope = CASE WHEN excluded.in_scope = 1 THEN 1 ELSE directory_objects.in_scope END",
            dialect.tuples(part.len(), 9)
        );
        let (job, generation) = (job.to_string(), generation.to_string());
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for object in part {
            query = query
                .bind(job.clone())
                .bind(generation.clone())
                .bind(object.guid.to_string())
                .bind(object.kind)
                .bind(object.anchor.clone())
                .bind(object.keys.as_ref().map(|keys| keys.account.clone()))
                .bind(object.keys.as_ref().and_then(|keys| keys.dn.clone()))
                .bind(object.record.clone())
                .bind(i64::from(object.in_scope));
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Stages group members (group, member) into `generation`; a member
/// staged twice is kept once.
pub async fn stage_members(
    conn: &mut sqlx::AnyConnection,
    dialect: crate::db::Dialect,
    job: JobId,
    generation: SnapshotId,
    members: &[(ObjectGuid, ObjectGuid)],
) -> Result<(), StoreError> {
    for part in members.chunks(ROWS_PER_STATEMENT * 2) {
        let sql = format!(
            "INSERT INTO directory_members (job_id, generation, group_guid, member_guid) VALUES {} ON CONFLICT DO NOTHING",
            dialect.tuples(part.len(), 4)
        );
        let (job, generation) = (job.to_string(), generation.to_string());
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (group, member) in part {
            query = query.bind(job.clone()).bind(generation.clone()).bind(group.to_string()).bind(member.to_string());
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Applies a staged delta's generation onto the job's current one, as set
/// operations: a tombstone removes its object; a user or group is kept if
/// it is in scope or the state already holds it (an OU always); a kept or
/// removed group's members are replaced by the delta's. Continuations of a
/// group the delta does not carry add to that group if the state holds it.
pub async fn merge_delta(conn: &mut sqlx::AnyConnection, job: JobId, current: &str, delta: SnapshotId) -> Result<(), StoreError> {
    let statements = [
        "DELETE FROM directory_members WHERE job_id = $1 AND generation = $2
             AND group_guid IN (SELECT object_guid FROM directory_objects WHERE job_id = $1 AND generation = $3)",
        "INSERT INTO directory_objects (job_id, generation, object_guid, kind, anchor, account_key, dn_key, record, in_scope)
             SELECT d.job_id, $2, d.object_guid, d.kind, d.anchor, d.account_key, d.dn_key, d.record, 1 FROM directory_objects d
             WHERE d.job_id = $1 AND d.generation = $3 AND d.kind <> 'deleted' AND (d.in_scope = 1 OR EXISTS (
                 SELECT 1 FROM directory_objects c WHERE c.job_id = $1 AND c.generation = $2 AND c.object_guid = d.object_guid))
             ON CONFLICT (job_id, generation, object_guid) DO UPDATE SET kind = excluded.kind, anchor = excluded.anchor,
                 account_key = excluded.account_key, dn_key = excluded.dn_key, record = excluded.record",
        "DELETE FROM directory_objects WHERE job_id = $1 AND generation = $2
             AND object_guid IN (SELECT object_guid FROM directory_objects WHERE job_id = $1 AND generation = $3 AND kind = 'deleted')",
        "INSERT INTO directory_members (job_id, generation, group_guid, member_guid)
             SELECT m.job_id, $2, m.group_guid, m.member_guid FROM directory_members m
             WHERE m.job_id = $1 AND m.generation = $3 AND EXISTS (
                 SELECT 1 FROM directory_objects c WHERE c.job_id = $1 AND c.generation = $2 AND c.object_guid = m.group_guid AND c.kind = 'group')
             ON CONFLICT DO NOTHING",
    ];
    for sql in statements {
        sqlx::query(sql).bind(job.to_string()).bind(current).bind(delta.to_string()).execute(&mut *conn).await?;
    }
    Ok(())
}

/// A user a staged delta holds, with its DN as the state holds it.
#[derive(Debug, Clone)]
pub struct DeltaUser {
    pub object_guid: ObjectGuid,
    pub dn: String,
    /// `None`: the state does not hold the user (it joins, if in scope).
    pub held_dn: Option<String>,
    pub in_scope: bool,
}

/// The users `delta`'s generation stages, each with the DN `current` (the
/// state's generation, before the delta is merged) holds for it.
pub async fn delta_users(
    conn: &mut sqlx::AnyConnection,
    job: JobId,
    current: &str,
    delta: SnapshotId,
) -> Result<Vec<DeltaUser>, StoreError> {
    let rows = sqlx::query(
        "SELECT d.object_guid, d.record, d.in_scope, c.record AS held FROM directory_objects d
         LEFT JOIN directory_objects c ON c.job_id = d.job_id AND c.generation = $2 AND c.object_guid = d.object_guid AND c.kind = 'user'
         WHERE d.job_id = $1 AND d.generation = $3 AND d.kind = 'user'",
    )
    .bind(job.to_string())
    .bind(current)
    .bind(delta.to_string())
    .fetch_all(&mut *conn)
    .await?;
    let dn_of = |record: &str| parse_json::<UserRecord>(record, "directory_objects.record").map(|user| user.dn);
    rows.iter()
        .map(|row| {
            Ok(DeltaUser {
                object_guid: get_parsed(row, "object_guid")?,
                dn: dn_of(&row.try_get::<String, _>("record")?)?,
                held_dn: row.try_get::<Option<String>, _>("held")?.as_deref().map(dn_of).transpose()?,
                in_scope: row.try_get::<i64, _>("in_scope")? == 1,
            })
        })
        .collect()
}

/// Whether a membership of `generation` names any of `members` (as
/// `groups_above` walks them, by the member index).
pub async fn named_as_members(
    conn: &mut sqlx::AnyConnection,
    dialect: crate::db::Dialect,
    job: JobId,
    generation: &str,
    members: &[ObjectGuid],
) -> Result<bool, StoreError> {
    let (job_at, generation_at) = (dialect.param(1), dialect.param(2));
    for some in members.chunks(MEMBERS_PER_LOOKUP) {
        let sql = format!(
            "SELECT COUNT(*) AS n FROM (SELECT 1 FROM directory_members
             WHERE job_id = {job_at} AND generation = {generation_at} AND member_guid IN {} LIMIT 1) named",
            dialect.list(3, some.len())
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(job.to_string()).bind(generation);
        for member in some {
            query = query.bind(member.to_string());
        }
        if query.fetch_one(&mut *conn).await?.try_get::<i64, _>("n")? > 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Deletes up to `limit` rows of a generation that is not the job's
/// current one (members first, then objects, then the generation's entry).
/// Returns how many rows went; 0 once it is gone (or is current).
pub async fn drop_generation_step(db: &Db, job: JobId, generation: &str, limit: u32) -> Result<u64, StoreError> {
    const NOT_CURRENT: &str = "$2 <> COALESCE((SELECT generation FROM directory_state WHERE job_id = $1), '')";
    let statements = [
        format!(
            "DELETE FROM directory_members WHERE job_id = $1 AND generation = $2 AND {NOT_CURRENT} AND (group_guid, member_guid) IN
                 (SELECT group_guid, member_guid FROM directory_members WHERE job_id = $1 AND generation = $2 LIMIT $3)"
        ),
        format!(
            "DELETE FROM directory_objects WHERE job_id = $1 AND generation = $2 AND {NOT_CURRENT} AND object_guid IN
                 (SELECT object_guid FROM directory_objects WHERE job_id = $1 AND generation = $2 LIMIT $3)"
        ),
        format!("DELETE FROM directory_generations WHERE job_id = $1 AND generation = $2 AND {NOT_CURRENT} AND $3 > 0"),
    ];
    for sql in statements {
        let mut tx = db.begin_write().await?;
        let deleted = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(job.to_string())
            .bind(generation)
            .bind(i64::from(limit))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        if deleted > 0 {
            return Ok(deleted);
        }
    }
    Ok(0)
}

/// Deletes a generation no state reads, [`drop_generation_step`] by step.
pub async fn drop_generation(db: &Db, job: JobId, generation: &str, rows_per_step: u32) -> Result<(), StoreError> {
    while drop_generation_step(db, job, generation, rows_per_step).await? > 0 {}
    Ok(())
}

/// Generations no state reads and no unfinished snapshot is staging: a
/// full snapshot's predecessor, an applied delta's, an abandoned commit's.
pub async fn stale_generations(db: &Db) -> Result<Vec<(JobId, String)>, StoreError> {
    let rows = sqlx::query(
        "SELECT g.job_id, g.generation FROM directory_generations g LEFT JOIN directory_state s ON s.job_id = g.job_id
         WHERE (s.generation IS NULL OR s.generation <> g.generation)
           AND NOT EXISTS (SELECT 1 FROM snapshots p WHERE p.job_id = g.job_id AND p.id = g.generation AND p.status = 'receiving')",
    )
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(|row| Ok((get_id(row, "job_id")?, row.try_get("generation")?))).collect()
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

/// Group members read per query by [`load_groups`].
const MEMBERS_PER_PAGE: i64 = 50_000;

/// The job's groups as the state holds them, each with its members (in
/// objectGUID order, each once).
pub async fn load_groups(conn: &mut sqlx::AnyConnection, job: JobId) -> Result<Vec<GroupRecord>, StoreError> {
    let Some(generation) = current_generation(conn, job).await? else { return Ok(Vec::new()) };
    let mut groups = group_records(conn, job, &generation).await?;
    let position: std::collections::HashMap<ObjectGuid, usize> = groups.iter().enumerate().map(|(i, g)| (g.object_guid, i)).collect();
    // A packed page at a time (keyset), so no query result holds a huge group whole.
    let sql = super::packed::select(
        &["group_guid", "member_guid"],
        "group_guid, member_guid",
        "SELECT group_guid, member_guid FROM directory_members WHERE job_id = $1 AND generation = $2
           AND (group_guid, member_guid) > ($3, $4)
         ORDER BY group_guid, member_guid LIMIT $5",
    );
    let mut after = (String::new(), String::new());
    loop {
        let row = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(job.to_string())
            .bind(&generation)
            .bind(&after.0)
            .bind(&after.1)
            .bind(MEMBERS_PER_PAGE)
            .fetch_one(&mut *conn)
            .await?;
        let page = super::packed::Page::read(&row)?;
        let rows = page.rows::<2>()?;
        for [group, member] in &rows {
            if let Some(&i) = position.get(&parse_text::<ObjectGuid>(group, "directory_members.group_guid")?) {
                groups[i].members.push(parse_text(member, "directory_members.member_guid")?);
            }
        }
        match rows.last() {
            Some([group, member]) if rows.len() as i64 == MEMBERS_PER_PAGE => after = ((*group).to_owned(), (*member).to_owned()),
            _ => return Ok(groups),
        }
    }
}

/// The job's group records in `generation`, in objectGUID order, without members.
async fn group_records(conn: &mut sqlx::AnyConnection, job: JobId, generation: &str) -> Result<Vec<GroupRecord>, StoreError> {
    let records = records_of::<Record>(conn, job, Some(generation), "group", None).await?;
    Ok(records.into_iter().filter_map(|record| if let Record::Group(group) = record { Some(group) } else { None }).collect())
}

/// The records of `kind` in `job`'s `generation` (`None`: the one its state
/// reads) whose `column` is `value`, when given; decoded as `T`, in
/// objectGUID order. Ordered here, by the column's text as SQL would: asked
/// to order a few rows, SQLite walks every object of the generation in the
/// primary key's order instead of the kind's or the column's index.
async fn records_of<T: serde::de::DeserializeOwned>(
    conn: &mut sqlx::AnyConnection,
    job: JobId,
    generation: Option<&str>,
    kind: &'static str,
    only: Option<(&'static str, &str)>,
) -> Result<Vec<T>, StoreError> {
    let mut binds = vec![job.to_string()];
    let mut sql = format!("SELECT object_guid, record FROM directory_objects WHERE job_id = $1 AND kind = '{kind}' AND ");
    match generation {
        Some(generation) => {
            binds.push(generation.to_owned());
            sql.push_str(&format!("generation = ${}", binds.len()));
        }
        None => sql.push_str(current_generation!()),
    }
    if let Some((column, value)) = only {
        binds.push(value.to_owned());
        sql.push_str(&format!(" AND {column} = ${}", binds.len()));
    }
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for bind in binds {
        query = query.bind(bind);
    }
    let mut rows: Vec<(String, String)> = query
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| Ok((row.try_get("object_guid")?, row.try_get("record")?)))
        .collect::<Result<_, sqlx::Error>>()?;
    rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    rows.iter().map(|(_, record)| parse_json(record, "directory_objects.record")).collect()
}

/// Members looked up per query by [`groups_above`] (within every engine's parameter limit).
const MEMBERS_PER_LOOKUP: usize = 500;

/// The job's groups, each with only those of its direct members that are
/// among `members` or are groups above them (in objectGUID order): what
/// explaining `members` needs (`roster_import::explain` says why),
/// found by walking up the state's memberships by member (an index)
/// instead of reading them all. Every group's record is read: links
/// resolve by name and DN against all of them.
pub async fn groups_above(
    conn: &mut sqlx::AnyConnection,
    dialect: crate::db::Dialect,
    job: JobId,
    members: &[ObjectGuid],
) -> Result<Vec<GroupRecord>, StoreError> {
    let Some(generation) = current_generation(conn, job).await? else { return Ok(Vec::new()) };
    let mut groups = group_records(conn, job, &generation).await?;
    let position: std::collections::HashMap<ObjectGuid, usize> = groups.iter().enumerate().map(|(i, g)| (g.object_guid, i)).collect();
    let mut seen: std::collections::HashSet<ObjectGuid> = members.iter().copied().collect();
    let mut frontier: Vec<ObjectGuid> = seen.iter().copied().collect();
    let (job_at, generation_at) = (dialect.param(1), dialect.param(2));
    while !frontier.is_empty() {
        let mut next = Vec::new();
        for some in frontier.chunks(MEMBERS_PER_LOOKUP) {
            let sql = format!(
                "SELECT group_guid, member_guid FROM directory_members
                 WHERE job_id = {job_at} AND generation = {generation_at} AND member_guid IN {}",
                dialect.list(3, some.len())
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(job.to_string()).bind(&generation);
            for member in some {
                query = query.bind(member.to_string());
            }
            for row in query.fetch_all(&mut *conn).await? {
                let group: ObjectGuid = parse_text(&row.try_get::<String, _>("group_guid")?, "directory_members.group_guid")?;
                // Memberships of what is not a group of the state are not walked, as `load_groups` does not read them.
                let Some(&i) = position.get(&group) else { continue };
                groups[i].members.push(parse_text(&row.try_get::<String, _>("member_guid")?, "directory_members.member_guid")?);
                if seen.insert(group) {
                    next.push(group);
                }
            }
        }
        frontier = next;
    }
    for group in &mut groups {
        group.members.sort_unstable();
        group.members.dedup();
    }
    Ok(groups)
}

/// Where a walk over the state's users in anchor order stands: the last
/// (anchor, objectGUID) read.
pub type UserKey = roster_import::UserKey;

/// How many users the job's directory state holds (what an import walks).
pub async fn count_users(conn: &mut sqlx::AnyConnection, job: JobId) -> Result<u64, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) AS n FROM directory_objects WHERE job_id = $1 AND {} AND kind = 'user'",
        current_generation!()
    )))
    .bind(job.to_string())
    .fetch_one(&mut *conn)
    .await?;
    Ok(u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0))
}

/// The next `limit` users after `after`, in (anchor, objectGUID) order.
pub async fn user_batch(
    conn: &mut sqlx::AnyConnection,
    job: JobId,
    after: Option<&UserKey>,
    limit: u32,
) -> Result<Vec<(UserKey, UserRecord)>, StoreError> {
    // A row-value comparison, so the (job_id, generation, kind, anchor,
    // object_guid) index seeks straight to the batch instead of scanning up to it.
    let after_key = if after.is_some() { "AND (anchor, object_guid) > ($2, $3)" } else { "AND $2 = $3" };
    let (anchor, guid) = after.cloned().unwrap_or_default();
    let sql = super::packed::select(
        &["anchor", "object_guid", "record"],
        "anchor, object_guid",
        &format!(
            "SELECT anchor, object_guid, record FROM directory_objects
             WHERE job_id = $1 AND {} AND kind = 'user' {after_key}
             ORDER BY anchor, object_guid LIMIT $4",
            current_generation!()
        ),
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(job.to_string())
        .bind(anchor)
        .bind(guid)
        .bind(i64::from(limit))
        .fetch_one(&mut *conn)
        .await?;
    let page = super::packed::Page::read(&row)?;
    let mut users = Vec::with_capacity(page.len());
    for [anchor, guid, record] in page.rows()? {
        // A user row's record is a user's: read it as one directly (one
        // pass, without the tagged enum's buffering; its `type` is ignored).
        users.push(((anchor.to_owned(), guid.to_owned()), parse_json::<UserRecord>(record, "directory_objects.record")?));
    }
    Ok(users)
}

/// The base DN of `job`'s committed `snapshot` (what the job's paths are relative to).
pub async fn snapshot_base_dn(conn: &mut sqlx::AnyConnection, job: JobId, snapshot: SnapshotId) -> Result<Option<String>, StoreError> {
    let row = sqlx::query("SELECT manifest_json FROM snapshots WHERE job_id = $1 AND id = $2 AND status = 'committed'")
        .bind(job.to_string())
        .bind(snapshot.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|row| Ok(get_json::<Manifest>(&row, "manifest_json")?.directory.base_dn)).transpose()
}

/// The OUs of a job's directory state, in objectGUID order.
pub async fn load_ous(conn: &mut sqlx::AnyConnection, job: JobId) -> Result<Vec<OuRecord>, StoreError> {
    let records = records_of::<Record>(conn, job, None, "ou", None).await?;
    Ok(records.into_iter().filter_map(|record| if let Record::Ou(ou) = record { Some(ou) } else { None }).collect())
}

/// The user records of `job`'s directory state whose objectGUID or anchor
/// is `guid`, in objectGUID order: one user looked up (explain) without
/// reading the whole state. Both columns are indexed; each is asked on its
/// own (SQLite answers an `OR` of the two by reading every user).
pub async fn users_by_guid(conn: &mut sqlx::AnyConnection, job: JobId, guid: ObjectGuid) -> Result<Vec<UserRecord>, StoreError> {
    let guid = guid.to_string();
    let mut users = records_of::<UserRecord>(conn, job, None, "user", Some(("object_guid", &guid))).await?;
    for user in records_of::<UserRecord>(conn, job, None, "user", Some(("anchor", &guid))).await? {
        if !users.iter().any(|u| u.object_guid == user.object_guid) {
            users.push(user);
        }
    }
    users.sort_by_cached_key(|user| user.object_guid.to_string());
    Ok(users)
}

/// The user records of `job`'s directory state whose lookup key (see
/// `roster_import::LookupKeys`) is `key`, in objectGUID order: the users
/// an account name or a DN may name, by an indexed column.
pub async fn users_by_key(
    conn: &mut sqlx::AnyConnection,
    job: JobId,
    key: &roster_import::LookupKey,
) -> Result<Vec<UserRecord>, StoreError> {
    let column = match key {
        roster_import::LookupKey::Account(key) => ("account_key", key.as_str()),
        roster_import::LookupKey::Dn(key) => ("dn_key", key.as_str()),
    };
    records_of(conn, job, None, "user", Some(column)).await
}

/// Whether `job`'s directory state holds users staged before lookup keys
/// were (migration 0017), which [`users_by_key`] cannot find.
pub async fn has_unkeyed_users(conn: &mut sqlx::AnyConnection, job: JobId) -> Result<bool, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT COUNT(*) AS n FROM (SELECT 1 FROM directory_objects WHERE job_id = $1 AND ",
        current_generation!(),
        " AND kind = 'user' AND account_key IS NULL LIMIT 1) unkeyed"
    ))
    .bind(job.to_string())
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.try_get::<i64, _>("n")? > 0)
}

/// The job's structure as counted when its state stood at `snapshot`, if
/// it was counted then (see [`keep_summary`]) and the count still reads.
pub async fn summary_at(
    conn: &mut sqlx::AnyConnection,
    job: JobId,
    snapshot: SnapshotId,
) -> Result<Option<roster_import::StructureSummary>, StoreError> {
    let row = sqlx::query("SELECT summary FROM directory_summaries WHERE job_id = $1 AND snapshot_id = $2")
        .bind(job.to_string())
        .bind(snapshot.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    // A kept count that does not read (kept by another version) is counted again.
    Ok(row.and_then(|row| match get_json(&row, "summary") {
        Ok(summary) => Some(summary),
        Err(error) => {
            tracing::warn!(%job, %error, "a kept structure count does not read: counting it again");
            None
        }
    }))
}

/// Keeps `summary` as the job's structure at `snapshot`, in place of the
/// one it kept before.
pub async fn keep_summary(
    conn: &mut sqlx::AnyConnection,
    job: JobId,
    snapshot: SnapshotId,
    summary: &roster_import::StructureSummary,
) -> Result<(), StoreError> {
    let text =
        serde_json::to_string(summary).map_err(|e| StoreError::Corrupt { column: "directory_summaries.summary", detail: e.to_string() })?;
    sqlx::query(
        "INSERT INTO directory_summaries (job_id, snapshot_id, summary, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (job_id) DO UPDATE SET snapshot_id = excluded.snapshot_id, summary = excluded.summary, created_at = excluded.created_at",
    )
    .bind(job.to_string())
    .bind(snapshot.to_string())
    .bind(text)
    .bind(now_ms())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Every user of the job's state, in objectGUID order.
pub async fn load_users(conn: &mut sqlx::AnyConnection, job: JobId) -> Result<Vec<UserRecord>, StoreError> {
    records_of(conn, job, None, "user", None).await
}

/// What `job`'s snapshots still receiving chunks, other than `except` (a
/// snapshot being offered again does not count against itself), hold:
/// how many, and the bytes their signed manifests announce, stored or
/// still to come. Read on the offer's transaction (see [`lock_offers`]).
pub async fn unfinished(conn: &mut sqlx::AnyConnection, job: JobId, except: SnapshotId) -> Result<(u64, u64), StoreError> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(chunk_bytes), 0) AS BIGINT) AS bytes FROM snapshots
         WHERE job_id = $1 AND status = 'receiving' AND id <> $2",
    )
    .bind(job.to_string())
    .bind(except.to_string())
    .fetch_one(&mut *conn)
    .await?;
    let unsigned = |n: i64| u64::try_from(n).unwrap_or(0);
    Ok((unsigned(row.try_get("n")?), unsigned(row.try_get("bytes")?)))
}

/// Deletes snapshots that were offered before `before` and never
/// committed, with their chunks. Returns how many.
pub async fn delete_unfinished(db: &Db, before: UnixMillis) -> Result<u64, StoreError> {
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "DELETE FROM snapshot_chunks WHERE (job_id, snapshot_id) IN
             (SELECT job_id, id FROM snapshots WHERE status = 'receiving' AND created_at < $1)",
    )
    .bind(before.0)
    .execute(&mut *tx)
    .await?;
    let deleted =
        sqlx::query("DELETE FROM snapshots WHERE status = 'receiving' AND created_at < $1").bind(before.0).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(deleted.rows_affected())
}

/// An object `delta`'s staged generation names (a user, group or OU) that
/// the `current` generation holds as another kind: its GUID, the held kind
/// and the sent one.
pub async fn kind_replaced(
    conn: &mut sqlx::AnyConnection,
    job: JobId,
    current: &str,
    delta: SnapshotId,
) -> Result<Option<(ObjectGuid, String, String)>, StoreError> {
    let row = sqlx::query(
        "SELECT d.object_guid, c.kind AS held, d.kind AS sent FROM directory_objects d
         JOIN directory_objects c ON c.job_id = d.job_id AND c.generation = $2 AND c.object_guid = d.object_guid
         WHERE d.job_id = $1 AND d.generation = $3 AND d.kind <> 'deleted' AND d.kind <> c.kind
         ORDER BY d.object_guid LIMIT 1",
    )
    .bind(job.to_string())
    .bind(current)
    .bind(delta.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|row| Ok((get_parsed(&row, "object_guid")?, row.try_get("held")?, row.try_get("sent")?))).transpose()
}
