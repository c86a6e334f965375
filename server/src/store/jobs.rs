//! Import jobs, their registration tokens and links, and the tenant's
//! access catalogue.

use roster_import::AccessCatalogue;
use roster_proto::admin::{Access, AccessKind, CreateJob, Job, Link, LinkInput, RegistrationToken, SafeguardPolicy, Schedule, SyncMode};
use roster_proto::scope::JobScope;
use roster_proto::{AccessId, JobId, ObjectGuid, TenantId};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::page::{Bind, PageKey, PageQuery};
use super::{Db, StoreError, UnixMillis, get_id, get_json, hash_secret, new_secret, now_ms, to_datetime};

/// The columns every query of this table reads, as a literal for `concat!`.
macro_rules! job_columns {
    () => {
        "id, tenant_id, name, relative_paths, group_paths, user_filter, schedule, full_sync_interval_days, policy, sync_mode, created_at"
    };
}

/// A safeguard policy as the `jobs.policy` column holds it.
fn policy_json(policy: &SafeguardPolicy) -> Result<String, StoreError> {
    serde_json::to_string(policy).map_err(|e| StoreError::Corrupt { column: "jobs.policy", detail: e.to_string() })
}

fn job_from_row(row: &AnyRow) -> Result<Job, StoreError> {
    Ok(Job {
        id: get_id(row, "id")?,
        name: row.try_get("name")?,
        relative_paths: get_json(row, "relative_paths")?,
        group_paths: get_json(row, "group_paths")?,
        user_filter: row.try_get("user_filter")?,
        schedule: get_json(row, "schedule")?,
        full_sync_interval_days: u32::try_from(row.try_get::<i64, _>("full_sync_interval_days")?).unwrap_or(u32::MAX),
        policy: get_json(row, "policy")?,
        sync_mode: sync_mode_of(row)?,
        created_at: to_datetime(row.try_get("created_at")?),
    })
}

/// The job's sync mode in a row with `sync_mode`.
fn sync_mode_of(row: &AnyRow) -> Result<SyncMode, StoreError> {
    let mode: String = row.try_get("sync_mode")?;
    serde_json::from_value(serde_json::Value::String(mode.clone()))
        .map_err(|_| StoreError::Corrupt { column: "jobs.sync_mode", detail: mode })
}

/// Outcome of creating a job.
#[derive(Debug)]
pub enum CreatedJob {
    Created(Box<Job>),
    NameTaken,
}

/// A schedule as the `jobs.schedule` column holds it.
fn schedule_json(schedule: &Schedule) -> Result<String, StoreError> {
    serde_json::to_string(schedule).map_err(|e| StoreError::Corrupt { column: "jobs.schedule", detail: e.to_string() })
}

/// The next run of a stored job's schedule after `now`.
fn next_run(schedule: &Schedule, job: JobId, jitter_secs: u32, now: UnixMillis) -> Result<Option<crate::schedule::NextRun>, StoreError> {
    crate::schedule::next_run(schedule, job, jitter_secs, now)
        .map_err(|e| StoreError::Corrupt { column: "jobs.schedule", detail: e.to_string() })
}

/// Creates a job (its schedule already checked) whose first scheduled
/// import is its schedule's next run, on `conn` (the caller's write
/// transaction, or the writer).
pub async fn create_job(
    conn: &mut sqlx::AnyConnection,
    tenant: TenantId,
    input: &CreateJob,
    schedule: Schedule,
    full_sync_interval_days: u32,
    jitter_secs: u32,
) -> Result<CreatedJob, StoreError> {
    let now = now_ms();
    let job = Job {
        // Time-ordered, so jobs made in the same millisecond still list in order.
        id: JobId::new(),
        name: input.name.trim().to_owned(),
        relative_paths: input.relative_paths.clone(),
        group_paths: input.group_paths.clone(),
        user_filter: JobScope::given_filter(input.user_filter.as_deref()).map(str::to_owned),
        schedule,
        full_sync_interval_days,
        policy: input.policy.unwrap_or_default(),
        sync_mode: input.sync_mode.unwrap_or_default(),
        created_at: to_datetime(now),
    };
    let next = next_run(&job.schedule, job.id, jitter_secs, UnixMillis(now))?;
    let result = sqlx::query(
        "INSERT INTO jobs (id, tenant_id, name, relative_paths, group_paths, schedule, next_run_at, next_run_key, created_at,
             full_sync_interval_days, user_filter, policy, name_key, sync_mode)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT DO NOTHING",
    )
    .bind(job.id.to_string())
    .bind(tenant.to_string())
    .bind(&job.name)
    .bind(serde_json::to_string(&job.relative_paths).unwrap_or_default())
    .bind(serde_json::to_string(&job.group_paths).unwrap_or_default())
    .bind(schedule_json(&job.schedule)?)
    .bind(next.as_ref().map(|n| n.starts_at.0))
    .bind(next.map(|n| n.key))
    .bind(now)
    .bind(i64::from(full_sync_interval_days))
    .bind(&job.user_filter)
    .bind(policy_json(&job.policy)?)
    .bind(roster_proto::name::name_key(&job.name))
    .bind(job.sync_mode.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(if result.rows_affected() == 1 { CreatedJob::Created(Box::new(job)) } else { CreatedJob::NameTaken })
}

/// What [`update_job`] did.
#[derive(Debug)]
pub enum UpdatedJob {
    Updated(Box<Job>),
    NameTaken,
    /// The job was deleted meanwhile.
    Gone,
}

/// Changes a job in the caller's write transaction `conn`, holding its
/// row until it ends: `change` is given the job as it is now (so a change
/// made meanwhile, such as a new policy, is not undone) and answers the
/// job as it will be, or why not. A new schedule moves the next scheduled
/// import to its next run; a new scope records when it changed (see
/// `ingest`). An unchanged name keeps its key. Only `Updated` wrote
/// anything; after any other answer the caller rolls back (a name taken
/// has aborted a PostgreSQL transaction).
pub async fn update_job<E>(
    conn: &mut sqlx::AnyConnection,
    dialect: crate::db::Dialect,
    tenant: TenantId,
    job: JobId,
    jitter_secs: u32,
    change: impl FnOnce(&Job) -> Result<Job, E>,
) -> Result<Result<UpdatedJob, E>, StoreError> {
    let current = match lock_job(conn, dialect, job).await? {
        true => job_in(&mut *conn, tenant, job).await?,
        false => None,
    };
    let Some(current) = current else { return Ok(Ok(UpdatedJob::Gone)) };
    let updated = match change(&current) {
        Ok(updated) => updated,
        Err(refused) => return Ok(Err(refused)),
    };
    let now = now_ms();
    let rescheduled = updated.schedule != current.schedule;
    let next = match rescheduled {
        true => next_run(&updated.schedule, job, jitter_secs, UnixMillis(now))?,
        false => None,
    };
    let scope_changed = (updated.scope() != current.scope()).then_some(now);
    let result = sqlx::query(
        "UPDATE jobs SET name = $1, name_key = CASE WHEN name = $1 THEN name_key ELSE $2 END, relative_paths = $3, group_paths = $4,
             user_filter = $5, schedule = $6,
             next_run_at = CASE WHEN $13 = 1 THEN $7 ELSE next_run_at END,
             next_run_key = CASE WHEN $13 = 1 THEN $14 ELSE next_run_key END,
             full_sync_interval_days = $8, policy = $9, scope_changed_at = COALESCE($12, scope_changed_at), sync_mode = $15
         WHERE id = $10 AND tenant_id = $11 AND deleted_at IS NULL",
    )
    .bind(&updated.name)
    .bind(roster_proto::name::name_key(&updated.name))
    .bind(serde_json::to_string(&updated.relative_paths).unwrap_or_default())
    .bind(serde_json::to_string(&updated.group_paths).unwrap_or_default())
    .bind(&updated.user_filter)
    .bind(schedule_json(&updated.schedule)?)
    .bind(next.as_ref().map(|n| n.starts_at.0))
    .bind(i64::from(updated.full_sync_interval_days))
    .bind(policy_json(&updated.policy)?)
    .bind(job.to_string())
    .bind(tenant.to_string())
    .bind(scope_changed)
    .bind(i64::from(rescheduled))
    .bind(next.map(|n| n.key))
    .bind(updated.sync_mode.as_str())
    .execute(&mut *conn)
    .await;
    Ok(Ok(match result {
        Ok(done) if done.rows_affected() == 1 => UpdatedJob::Updated(Box::new(updated)),
        Ok(_) => UpdatedJob::Gone,
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => UpdatedJob::NameTaken,
        Err(e) => return Err(e.into()),
    }))
}

/// When `job`'s scope last changed, if it did since it was created.
pub async fn scope_changed_at(conn: &mut sqlx::AnyConnection, job: JobId) -> Result<Option<UnixMillis>, StoreError> {
    let row = sqlx::query("SELECT scope_changed_at FROM jobs WHERE id = $1").bind(job.to_string()).fetch_optional(&mut *conn).await?;
    Ok(row.map(|row| row.try_get::<Option<i64>, _>("scope_changed_at")).transpose()?.flatten().map(UnixMillis))
}

/// What [`delete_job`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeletedJob {
    Deleted,
    /// The job still has this many active users: nothing was changed.
    HasActiveUsers(u64),
    /// The job was deleted meanwhile.
    Gone,
}

/// The name a deleted job is renamed to: it starts with a control
/// character, which no job's name may hold, and names the job's id, so it
/// collides with nothing and the old name is free again.
fn deleted_name(job: JobId) -> String {
    format!("\u{1}deleted {job}")
}

/// Deletes a job that has no active users, in the caller's write
/// transaction `conn` (only `Deleted` wrote anything): it is
/// marked deleted and renamed out of the way, its agents are revoked, its
/// unredeemed registration tokens and its links deleted, its queued and
/// held imports failed, and its directory state dropped (its generations
/// are then deleted by housekeeping, see
/// `directory::stale_generations`). Its sessions, snapshots' manifests and
/// inactive users stay (users until the grace period ends, as always).
pub async fn delete_job(
    conn: &mut sqlx::AnyConnection,
    dialect: crate::db::Dialect,
    tenant: TenantId,
    job: JobId,
) -> Result<DeletedJob, StoreError> {
    // The same order as an import's apply: no import applies meanwhile.
    super::directory::lock_state(conn, dialect, job).await?;
    let ours = sqlx::query("SELECT id FROM jobs WHERE id = $1 AND tenant_id = $2").bind(job.to_string()).bind(tenant.to_string());
    if !lock_job(conn, dialect, job).await? || ours.fetch_optional(&mut *conn).await?.is_none() {
        return Ok(DeletedJob::Gone);
    }
    let active: i64 = sqlx::query("SELECT COUNT(*) AS n FROM users WHERE job_id = $1 AND active = 1")
        .bind(job.to_string())
        .fetch_one(&mut *conn)
        .await?
        .try_get("n")?;
    if active > 0 {
        return Ok(DeletedJob::HasActiveUsers(u64::try_from(active).unwrap_or(0)));
    }
    let (now, id) = (now_ms(), job.to_string());
    sqlx::query("UPDATE jobs SET deleted_at = $1, name = $2, name_key = $2 WHERE id = $3")
        .bind(now)
        .bind(deleted_name(job))
        .bind(&id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("UPDATE agents SET revoked_at = $1 WHERE job_id = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(&id)
        .execute(&mut *conn)
        .await?;
    for sql in [
        "DELETE FROM registration_tokens WHERE job_id = $1",
        "DELETE FROM links WHERE job_id = $1",
        "DELETE FROM directory_state WHERE job_id = $1",
        "DELETE FROM directory_summaries WHERE job_id = $1",
    ] {
        sqlx::query(sql).bind(&id).execute(&mut *conn).await?;
    }
    sqlx::query(
        "UPDATE sessions SET status = 'failed', error = 'the job was deleted', finished_at = $1, waiting_until = NULL
         WHERE job_id = $2 AND status IN ('waiting', 'queued', 'held')",
    )
    .bind(now)
    .bind(&id)
    .execute(&mut *conn)
    .await?;
    // Nothing is asked of its agents any more (they are revoked too), and no run is scheduled.
    sqlx::query("UPDATE agent_commands SET expires_at = $1 WHERE job_id = $2 AND acked_at IS NULL AND expires_at > $1")
        .bind(now)
        .bind(&id)
        .execute(&mut *conn)
        .await?;
    // Planned creations name people no user row will ever be purged for.
    sqlx::query(
        "DELETE FROM session_changes WHERE user_id IS NULL
           AND session_id IN (SELECT id FROM sessions WHERE job_id = $1 AND status <> 'succeeded')",
    )
    .bind(&id)
    .execute(&mut *conn)
    .await?;
    // Snapshots still uploading fail now; their chunks go with the others'.
    sqlx::query("UPDATE snapshots SET status = 'failed' WHERE job_id = $1 AND status = 'receiving'").bind(&id).execute(&mut *conn).await?;
    Ok(DeletedJob::Deleted)
}

/// A page of a tenant's jobs in creation order, after `after`
/// (`created_at` ms, id); returns the key of the last one if more follow.
pub async fn list_jobs(
    db: &Db,
    tenant: TenantId,
    limit: u32,
    after: Option<(i64, JobId)>,
) -> Result<(Vec<Job>, Option<(i64, JobId)>), StoreError> {
    PageQuery::new(
        concat!("SELECT ", job_columns!(), " FROM jobs WHERE tenant_id = $1 AND deleted_at IS NULL"),
        vec![Bind::Text(tenant.to_string())],
        after,
        limit,
    )
    .fetch(&db.pool, job_from_row)
    .await
}

/// A tenant's job by name (compared by its key, as when it was created).
pub async fn job_named(db: &Db, tenant: TenantId, name: &str) -> Result<Option<Job>, StoreError> {
    let row = sqlx::query(concat!("SELECT ", job_columns!(), " FROM jobs WHERE tenant_id = $1 AND name_key = $2 AND deleted_at IS NULL"))
        .bind(tenant.to_string())
        .bind(roster_proto::name::name_key(name))
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(job_from_row).transpose()
}

/// A job of `tenant`; `None` also for another tenant's job and a deleted one.
pub async fn get_job(db: &Db, tenant: TenantId, job: JobId) -> Result<Option<Job>, StoreError> {
    job_in(&db.pool, tenant, job).await
}

/// [`get_job`], read through `conn` (a transaction's connection, or the pool).
pub async fn job_in<'c>(
    conn: impl sqlx::Executor<'c, Database = sqlx::Any>,
    tenant: TenantId,
    job: JobId,
) -> Result<Option<Job>, StoreError> {
    let row = sqlx::query(concat!("SELECT ", job_columns!(), " FROM jobs WHERE id = $1 AND tenant_id = $2 AND deleted_at IS NULL"))
        .bind(job.to_string())
        .bind(tenant.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(job_from_row).transpose()
}

/// Issues a registration token for `job`, valid for `ttl_ms`, on `conn`
/// (the caller's write transaction, or the writer).
pub async fn create_registration_token(
    conn: &mut sqlx::AnyConnection,
    tenant: TenantId,
    job: JobId,
    ttl_ms: i64,
) -> Result<RegistrationToken, StoreError> {
    let token = new_secret("rst_reg_")?;
    let now = now_ms();
    sqlx::query("INSERT INTO registration_tokens (token_hash, tenant_id, job_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(hash_secret(&token))
        .bind(tenant.to_string())
        .bind(job.to_string())
        .bind(now)
        .bind(now + ttl_ms)
        .execute(&mut *conn)
        .await?;
    Ok(RegistrationToken { job_id: job, token, expires_at: to_datetime(now + ttl_ms) })
}

/// Marks a registration token used and returns its (tenant, job), if it was
/// valid, unused and unexpired. Done with one conditional UPDATE, so two
/// agents racing with the same token cannot both win.
/// A token of a deleted job is not valid: the job is locked first (as
/// deleting it locks it, then its tokens), then the token.
pub async fn redeem_registration_token(
    conn: &mut sqlx::AnyConnection,
    dialect: crate::db::Dialect,
    token: &str,
) -> Result<Option<(TenantId, JobId)>, StoreError> {
    let now = now_ms();
    let hash = hash_secret(token);
    let row = sqlx::query("SELECT tenant_id, job_id FROM registration_tokens WHERE token_hash = $1")
        .bind(&hash)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let (tenant, job): (TenantId, JobId) = (get_id(&row, "tenant_id")?, get_id(&row, "job_id")?);
    if !lock_job(conn, dialect, job).await? {
        return Ok(None);
    }
    let claimed = sqlx::query("UPDATE registration_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1")
        .bind(now)
        .bind(&hash)
        .execute(&mut *conn)
        .await?;
    Ok((claimed.rows_affected() == 1).then_some((tenant, job)))
}

fn access_from_row(row: &AnyRow) -> Result<Access, StoreError> {
    let kind: String = row.try_get("kind")?;
    Ok(Access {
        id: get_id(row, "id")?,
        kind: AccessKind::parse(&kind).ok_or(StoreError::Corrupt { column: "accesses.kind", detail: kind })?,
        name: row.try_get("name")?,
    })
}

/// Creates an access, or returns the existing one of the same kind and name,
/// on `conn` (the caller's write transaction, or the writer).
/// An access whose name's key (`roster_proto::name::name_key`) is taken
/// is the existing one.
pub async fn create_access(
    conn: &mut sqlx::AnyConnection,
    tenant: TenantId,
    kind: AccessKind,
    name: &str,
) -> Result<(Access, bool), StoreError> {
    let id = AccessId::new();
    let name_key = roster_proto::name::name_key(name);
    let inserted = sqlx::query(
        "INSERT INTO accesses (id, tenant_id, kind, name, created_at, name_key) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(id.to_string())
    .bind(tenant.to_string())
    .bind(kind.as_str())
    .bind(name)
    .bind(now_ms())
    .bind(&name_key)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    let row = sqlx::query("SELECT id, kind, name FROM accesses WHERE tenant_id = $1 AND kind = $2 AND name_key = $3")
        .bind(tenant.to_string())
        .bind(kind.as_str())
        .bind(&name_key)
        .fetch_one(&mut *conn)
        .await?;
    Ok((access_from_row(&row)?, inserted))
}

/// What [`rename_access`] did.
#[derive(Debug)]
pub enum RenamedAccess {
    Renamed(Access),
    NameTaken(Access),
    Missing,
}

/// Renames a tenant's access to `name` (checked by the caller) in the
/// caller's write transaction `conn`; another access of its kind whose
/// name has the same key keeps it. The access is read first: a name taken
/// aborts a PostgreSQL transaction, which then reads nothing more (only
/// `Renamed` wrote anything; after the others the caller rolls back).
pub async fn rename_access(
    conn: &mut sqlx::AnyConnection,
    tenant: TenantId,
    id: AccessId,
    name: &str,
) -> Result<RenamedAccess, StoreError> {
    let row = sqlx::query("SELECT id, kind, name FROM accesses WHERE id = $1 AND tenant_id = $2")
        .bind(id.to_string())
        .bind(tenant.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    let Some(before) = row.as_ref().map(access_from_row).transpose()? else { return Ok(RenamedAccess::Missing) };
    let result = sqlx::query("UPDATE accesses SET name = $1, name_key = $2 WHERE id = $3 AND tenant_id = $4")
        .bind(name)
        .bind(roster_proto::name::name_key(name))
        .bind(id.to_string())
        .bind(tenant.to_string())
        .execute(&mut *conn)
        .await;
    Ok(match result {
        Ok(done) if done.rows_affected() == 1 => RenamedAccess::Renamed(Access { name: name.to_owned(), ..before }),
        Ok(_) => RenamedAccess::Missing,
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => RenamedAccess::NameTaken(before),
        Err(e) => return Err(e.into()),
    })
}

/// What [`delete_access`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeletedAccess {
    Deleted,
    /// Links grant it or users hold it: nothing was changed.
    InUse {
        links: u64,
        users: u64,
    },
    Missing,
}

/// Deletes a tenant's access that no link grants and no user holds, in the
/// caller's write transaction `conn` (on PostgreSQL a link saved
/// meanwhile, or an import giving it, fails on the foreign key rather than
/// be lost). Only `Deleted` wrote anything.
pub async fn delete_access(
    conn: &mut sqlx::AnyConnection,
    dialect: crate::db::Dialect,
    tenant: TenantId,
    id: AccessId,
) -> Result<DeletedAccess, StoreError> {
    let of_access = |sql: &'static str| sqlx::query(sql).bind(id.to_string());
    let found = match dialect {
        crate::db::Dialect::Postgres => sqlx::query("SELECT id FROM accesses WHERE id = $1 AND tenant_id = $2 FOR UPDATE"),
        crate::db::Dialect::Sqlite => sqlx::query("SELECT id FROM accesses WHERE id = $1 AND tenant_id = $2"),
    }
    .bind(id.to_string())
    .bind(tenant.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    if found.is_none() {
        return Ok(DeletedAccess::Missing);
    }
    let links: i64 = of_access("SELECT COUNT(*) AS n FROM links WHERE access_id = $1").fetch_one(&mut *conn).await?.try_get("n")?;
    let users: i64 = of_access("SELECT COUNT(*) AS n FROM user_accesses WHERE access_id = $1").fetch_one(&mut *conn).await?.try_get("n")?;
    if links > 0 || users > 0 {
        return Ok(DeletedAccess::InUse { links: u64::try_from(links).unwrap_or(0), users: u64::try_from(users).unwrap_or(0) });
    }
    of_access("DELETE FROM accesses WHERE id = $1").execute(&mut *conn).await?;
    Ok(DeletedAccess::Deleted)
}

/// A page of the tenant's accesses ordered by kind, name and id, after
/// `after`; returns the key of the last one if more follow.
pub async fn list_accesses(
    db: &Db,
    tenant: TenantId,
    limit: u32,
    after: Option<(String, String, AccessId)>,
) -> Result<(Vec<Access>, Option<(String, String, AccessId)>), StoreError> {
    PageQuery::new("SELECT id, kind, name FROM accesses WHERE tenant_id = $1", vec![Bind::Text(tenant.to_string())], after, limit)
        .fetch(&db.pool, access_from_row)
        .await
}

/// The accesses' key: kind, name and id.
impl PageKey for (String, String, AccessId) {
    const COLUMNS: &'static [&'static str] = &["kind", "name", "id"];

    fn binds(&self) -> Vec<Bind> {
        vec![Bind::Text(self.0.clone()), Bind::Text(self.1.clone()), Bind::Text(self.2.to_string())]
    }

    fn of_row(row: &AnyRow) -> Result<Self, StoreError> {
        Ok((row.try_get("kind")?, row.try_get("name")?, get_id(row, "id")?))
    }
}

/// The catalogue as the planner wants it.
pub async fn access_catalogue(conn: &mut sqlx::AnyConnection, tenant: TenantId) -> Result<AccessCatalogue, StoreError> {
    let rows =
        sqlx::query("SELECT id, kind, name FROM accesses WHERE tenant_id = $1").bind(tenant.to_string()).fetch_all(&mut *conn).await?;
    rows.iter().map(access_from_row).collect()
}

/// Replaces a job's links. Access ids must be the tenant's (checked by the caller).
/// Locks the job's row until the transaction ends. Whatever changes a
/// job's links or its users takes it first (after the job's directory
/// state, where it takes that too): two link replacements do not
/// interleave (last writer wins, whole), a purge never lands between an
/// import's check of what it planned from and its commit, and nothing is
/// written to a job deleted meanwhile. SQLite's write transaction already
/// excludes every other writer; PostgreSQL locks the row. False when the
/// job is not there or deleted.
pub async fn lock_job(conn: &mut sqlx::AnyConnection, dialect: crate::db::Dialect, job: JobId) -> Result<bool, StoreError> {
    let sql = match dialect {
        crate::db::Dialect::Postgres => "SELECT id FROM jobs WHERE id = $1 AND deleted_at IS NULL FOR UPDATE",
        crate::db::Dialect::Sqlite => "SELECT id FROM jobs WHERE id = $1 AND deleted_at IS NULL",
    };
    Ok(sqlx::query(sql).bind(job.to_string()).fetch_optional(&mut *conn).await?.is_some())
}

pub async fn put_links(
    conn: &mut sqlx::AnyConnection,
    job: JobId,
    links: &[LinkInput],
    resolved: &[Option<ObjectGuid>],
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM links WHERE job_id = $1").bind(job.to_string()).execute(&mut *conn).await?;
    for (position, link) in links.iter().enumerate() {
        sqlx::query("INSERT INTO links (job_id, position, group_text, access_id, group_guid) VALUES ($1, $2, $3, $4, $5)")
            .bind(job.to_string())
            .bind(position as i64)
            .bind(link.group.trim())
            .bind(link.access_id.to_string())
            .bind(resolved.get(position).copied().flatten().map(|g| g.to_string()))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub async fn get_links(conn: &mut sqlx::AnyConnection, job: JobId) -> Result<Vec<Link>, StoreError> {
    let rows = sqlx::query("SELECT group_text, access_id, group_guid FROM links WHERE job_id = $1 ORDER BY position")
        .bind(job.to_string())
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|row| {
            let guid: Option<String> = row.try_get("group_guid")?;
            Ok(Link {
                group: row.try_get("group_text")?,
                access_id: get_id(row, "access_id")?,
                group_guid: guid
                    .map(|g| g.parse::<ObjectGuid>())
                    .transpose()
                    .map_err(|e| StoreError::Corrupt { column: "links.group_guid", detail: e.to_string() })?,
            })
        })
        .collect()
}

/// Records which group each link resolved to in the snapshot just imported.
pub async fn record_link_resolution(conn: &mut sqlx::AnyConnection, job: JobId, resolved: &[Option<ObjectGuid>]) -> Result<(), StoreError> {
    for (position, guid) in resolved.iter().enumerate() {
        if let Some(guid) = guid {
            // Written only when it changes: a re-import that changes nothing writes nothing.
            sqlx::query(
                "UPDATE links SET group_guid = $1 WHERE job_id = $2 AND position = $3 AND (group_guid IS NULL OR group_guid <> $1)",
            )
            .bind(guid.to_string())
            .bind(job.to_string())
            .bind(position as i64)
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

/// Asks the job's agent for a full snapshot next time (a reconciliation),
/// on `conn` (the caller's write transaction). False when the job was
/// deleted meanwhile.
pub async fn request_full_sync(conn: &mut sqlx::AnyConnection, job: JobId) -> Result<bool, StoreError> {
    let result = sqlx::query("UPDATE jobs SET full_sync_requested = 1 WHERE id = $1 AND deleted_at IS NULL")
        .bind(job.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(result.rows_affected() == 1)
}

/// True when an admin asked for a full reconciliation not yet delivered.
pub async fn full_sync_requested(conn: &mut sqlx::AnyConnection, job: JobId) -> Result<bool, StoreError> {
    let row = sqlx::query("SELECT full_sync_requested FROM jobs WHERE id = $1").bind(job.to_string()).fetch_optional(&mut *conn).await?;
    Ok(match row {
        Some(row) => row.try_get::<i64, _>("full_sync_requested")? != 0,
        None => false,
    })
}

/// A full snapshot arrived: the request is answered.
pub async fn clear_full_sync_request(conn: &mut sqlx::AnyConnection, job: JobId) -> Result<(), StoreError> {
    sqlx::query("UPDATE jobs SET full_sync_requested = 0 WHERE id = $1").bind(job.to_string()).execute(&mut *conn).await?;
    Ok(())
}

/// Replaces a job's safeguard policy, on `conn` (the caller's write
/// transaction). False when the job was deleted meanwhile.
pub async fn set_policy(conn: &mut sqlx::AnyConnection, job: JobId, policy: &SafeguardPolicy) -> Result<bool, StoreError> {
    let result = sqlx::query("UPDATE jobs SET policy = $1 WHERE id = $2 AND deleted_at IS NULL")
        .bind(policy_json(policy)?)
        .bind(job.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(result.rows_affected() == 1)
}
