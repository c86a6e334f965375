//! Scheduled runs: which job is due by the database's clock, claimed by
//! one replica at a time, moved on to its next run, and the run recorded
//! under its (job, slot) key so that it starts once.

use roster_proto::admin::Schedule;
use roster_proto::{JobId, SessionId, TenantId};
use sqlx::Row;

use super::{StoreError, UnixMillis, get_id, get_json};
use crate::db::Dialect;
use crate::schedule::NextRun;

/// The database's clock (Unix ms): every replica judges due runs by it,
/// whatever its own clock says.
pub async fn database_now(conn: &mut sqlx::AnyConnection, dialect: Dialect) -> Result<UnixMillis, StoreError> {
    let query = match dialect {
        Dialect::Sqlite => "SELECT CAST(unixepoch('subsec') * 1000 AS INTEGER) AS now",
        Dialect::Postgres => "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT) AS now",
    };
    Ok(UnixMillis(sqlx::query(query).fetch_one(&mut *conn).await?.try_get("now")?))
}

/// A job whose scheduled run is due.
#[derive(Debug)]
pub struct DueJob {
    pub id: JobId,
    pub tenant_id: TenantId,
    /// The stored schedule and the run that is due, or why they cannot be
    /// read (the caller stops the job's runs rather than retry it at every
    /// tick ahead of every other job).
    pub run: Result<(Schedule, NextRun), StoreError>,
}

/// The job whose run is due longest at `now`, its row locked for the
/// caller's write transaction; on PostgreSQL a row another replica holds
/// is skipped (`FOR UPDATE SKIP LOCKED`), so replicas share the due jobs
/// without waiting for each other. SQLite has one writer: its transaction
/// is the lock.
pub async fn claim_due(conn: &mut sqlx::AnyConnection, dialect: Dialect, now: UnixMillis) -> Result<Option<DueJob>, StoreError> {
    let lock = match dialect {
        Dialect::Sqlite => "",
        Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
    };
    let query = format!(
        "SELECT id, tenant_id, schedule, next_run_at, next_run_key FROM jobs
          WHERE next_run_at <= $1 AND deleted_at IS NULL ORDER BY next_run_at, id LIMIT 1{lock}"
    );
    // The one varying part is a literal chosen above.
    let Some(row) = sqlx::query(sqlx::AssertSqlSafe(query)).bind(now.0).fetch_optional(&mut *conn).await? else { return Ok(None) };
    let run = (|| {
        let key: Option<String> = row.try_get("next_run_key")?;
        let key = key.ok_or(StoreError::Corrupt { column: "jobs.next_run_key", detail: "NULL beside a next_run_at".into() })?;
        Ok((get_json(&row, "schedule")?, NextRun { starts_at: UnixMillis(row.try_get("next_run_at")?), key }))
    })();
    Ok(Some(DueJob { id: get_id(&row, "id")?, tenant_id: get_id(&row, "tenant_id")?, run }))
}

/// Moves a claimed job on to its next run (`None`: none, the schedule is off).
pub async fn advance(conn: &mut sqlx::AnyConnection, job: JobId, next: Option<NextRun>) -> Result<(), StoreError> {
    sqlx::query("UPDATE jobs SET next_run_at = $1, next_run_key = $2 WHERE id = $3")
        .bind(next.as_ref().map(|n| n.starts_at.0))
        .bind(next.map(|n| n.key))
        .bind(job.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Whether the job's run for `key` already started.
pub async fn run_started(conn: &mut sqlx::AnyConnection, job: JobId, key: &str) -> Result<bool, StoreError> {
    let row = sqlx::query("SELECT 1 AS found FROM schedule_runs WHERE job_id = $1 AND run_key = $2")
        .bind(job.to_string())
        .bind(key)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.is_some())
}

/// Records that the job's run for `key` started as `session`. The key is
/// unique: a second start of the same run fails the caller's transaction.
pub async fn record_run(
    conn: &mut sqlx::AnyConnection,
    job: JobId,
    key: &str,
    due_at: UnixMillis,
    started_at: UnixMillis,
    caught_up: bool,
    session: SessionId,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO schedule_runs (job_id, run_key, due_at, started_at, caught_up, session_id) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(job.to_string())
        .bind(key)
        .bind(due_at.0)
        .bind(started_at.0)
        .bind(i64::from(caught_up))
        .bind(session.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}
