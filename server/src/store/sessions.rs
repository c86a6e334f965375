//! Import sessions: one row per run, kept forever, with counts, notes and
//! the itemised changes.

use roster_proto::admin::{ChangeAction, ChangeDetail, HistoryEntry, Session, SessionChange, SessionCounts, SessionStatus, SessionTrigger};
use roster_proto::{JobId, SessionId, Sha256Hex, SnapshotId, TenantId, UserId};
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::db::Dialect;

use super::page::{Bind, PageQuery};
use super::{Db, StoreError, UnixMillis, get_id, get_json, get_parsed, now_ms, to_datetime};

/// The columns every query of this table reads, as a literal for `concat!`.
macro_rules! columns {
    () => {
        "id, tenant_id, job_id, snapshot_id, trigger_kind, status, manifest_sha256, created_count, updated_count, \
     deactivated_count, unchanged_count, not_linked_count, reactivated_count, lost_basic_count, notes, error, held_reasons, decided_by, \
     decided_at, created_at, finished_at, duration_ms, caught_up, waiting_until, progress_done, progress_total"
    };
}

fn trigger_str(trigger: SessionTrigger) -> &'static str {
    match trigger {
        SessionTrigger::FirstPush => "first_push",
        SessionTrigger::Manual => "manual",
        SessionTrigger::Schedule => "schedule",
        SessionTrigger::Change => "change",
    }
}

/// The session's trigger in a row with `trigger_kind`.
fn trigger_of(row: &AnyRow) -> Result<SessionTrigger, StoreError> {
    let trigger: String = row.try_get("trigger_kind")?;
    serde_json::from_value(serde_json::Value::String(trigger.clone()))
        .map_err(|_| StoreError::Corrupt { column: "sessions.trigger_kind", detail: trigger })
}

/// The change's action in a row with `action`.
fn action_of(row: &AnyRow) -> Result<ChangeAction, StoreError> {
    let action: String = row.try_get("action")?;
    ChangeAction::parse(&action).ok_or(StoreError::Corrupt { column: "session_changes.action", detail: action })
}

/// A change's details in a row with `details`: data, or the words sessions
/// recorded before details were data, each read as a note.
fn details_of(row: &AnyRow) -> Result<Vec<ChangeDetail>, StoreError> {
    let text: String = row.try_get("details")?;
    parse_details(&text).map_err(|e| StoreError::Corrupt { column: "session_changes.details", detail: e.to_string() })
}

/// A change's details as they are stored: a JSON array.
pub(super) fn details_json(details: &[ChangeDetail]) -> String {
    serde_json::to_string(details).unwrap_or_else(|_| "[]".into())
}

/// Stored details (a JSON array), old words included.
fn parse_details(text: &str) -> Result<Vec<ChangeDetail>, serde_json::Error> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Stored {
        Data(ChangeDetail),
        Words(String),
    }
    let stored: Vec<Stored> = serde_json::from_str(text)?;
    Ok(stored
        .into_iter()
        .map(|detail| match detail {
            Stored::Data(detail) => detail,
            Stored::Words(text) => ChangeDetail::Note { text },
        })
        .collect())
}

fn from_row(row: &AnyRow) -> Result<Session, StoreError> {
    let corrupt = |column: &'static str, value: String| StoreError::Corrupt { column, detail: value };
    let status: String = row.try_get("status")?;
    let count = |column: &str| -> Result<u64, StoreError> { Ok(u64::try_from(row.try_get::<i64, _>(column)?).unwrap_or(0)) };
    let finished_at: Option<i64> = row.try_get("finished_at")?;
    let duration_ms: Option<i64> = row.try_get("duration_ms")?;
    Ok(Session {
        id: get_id(row, "id")?,
        job_id: get_id(row, "job_id")?,
        trigger: trigger_of(row)?,
        status: SessionStatus::parse(&status).ok_or_else(|| corrupt("sessions.status", status.clone()))?,
        snapshot_id: row
            .try_get::<Option<String>, _>("snapshot_id")?
            .map(|id| id.parse())
            .transpose()
            .map_err(|e: roster_proto::IdError| corrupt("sessions.snapshot_id", e.to_string()))?,
        manifest_sha256: row
            .try_get::<Option<String>, _>("manifest_sha256")?
            .map(|sha| sha.parse().map_err(|_| corrupt("sessions.manifest_sha256", sha)))
            .transpose()?,
        caught_up: row.try_get::<i64, _>("caught_up")? != 0,
        waiting_until: row.try_get::<Option<i64>, _>("waiting_until")?.map(to_datetime),
        progress: match (status.as_str(), row.try_get::<Option<i64>, _>("progress_done")?, row.try_get::<Option<i64>, _>("progress_total")?)
        {
            ("running", Some(done), Some(total)) => Some(roster_proto::admin::ImportProgress {
                done: u64::try_from(done).unwrap_or(0),
                total: u64::try_from(total).unwrap_or(0),
            }),
            _ => None,
        },
        counts: SessionCounts {
            created: count("created_count")?,
            updated: count("updated_count")?,
            deactivated: count("deactivated_count")?,
            unchanged: count("unchanged_count")?,
            not_linked: count("not_linked_count")?,
            reactivated: count("reactivated_count")?,
            lost_basic: count("lost_basic_count")?,
        },
        notes: get_json(row, "notes")?,
        error: row.try_get("error")?,
        held_reasons: get_json(row, "held_reasons")?,
        decided_by: row.try_get("decided_by")?,
        decided_at: row.try_get::<Option<i64>, _>("decided_at")?.map(to_datetime),
        created_at: to_datetime(row.try_get("created_at")?),
        finished_at: finished_at.map(to_datetime),
        duration_ms: duration_ms.and_then(|d| u64::try_from(d).ok()),
    })
}

/// Queues an import of `snapshot` for `job`.
pub async fn insert_session(
    conn: &mut sqlx::AnyConnection,
    tenant: TenantId,
    job: JobId,
    snapshot: SnapshotId,
    manifest_sha256: &Sha256Hex,
    trigger: SessionTrigger,
) -> Result<SessionId, StoreError> {
    let id = SessionId::new();
    sqlx::query(
        "INSERT INTO sessions (id, tenant_id, job_id, snapshot_id, trigger_kind, status, manifest_sha256, created_at)
         VALUES ($1, $2, $3, $4, $5, 'queued', $6, $7)",
    )
    .bind(id.to_string())
    .bind(tenant.to_string())
    .bind(job.to_string())
    .bind(snapshot.to_string())
    .bind(trigger_str(trigger))
    .bind(manifest_sha256.as_str())
    .bind(now_ms())
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

/// Whether `job` has an import queued that has not started yet.
pub async fn has_queued(conn: &mut sqlx::AnyConnection, job: JobId) -> Result<bool, StoreError> {
    let row = sqlx::query("SELECT 1 AS queued FROM sessions WHERE job_id = $1 AND status = 'queued' LIMIT 1")
        .bind(job.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.is_some())
}

/// A session of `tenant` (`None` for other tenants' sessions too).
pub async fn get_session(db: &Db, tenant: TenantId, id: SessionId) -> Result<Option<Session>, StoreError> {
    let row = sqlx::query(concat!("SELECT ", columns!(), " FROM sessions WHERE id = $1 AND tenant_id = $2"))
        .bind(id.to_string())
        .bind(tenant.to_string())
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// The job's session that ended last (by when it ended: a session made
/// earlier may end later): what the job's status is judged from.
pub async fn newest_finished(db: &Db, job: JobId) -> Result<Option<Session>, StoreError> {
    newest_where(db, job, "status IN ('succeeded', 'held', 'failed', 'rejected')").await
}

/// The job's held session waiting for a decision, if any (a newer held
/// one supersedes an older, so there is at most one).
pub async fn held(db: &Db, job: JobId) -> Result<Option<Session>, StoreError> {
    newest_where(db, job, "status = 'held'").await
}

/// The job's newest successful import.
pub async fn newest_succeeded(db: &Db, job: JobId) -> Result<Option<Session>, StoreError> {
    newest_where(db, job, "status = 'succeeded'").await
}

/// The job's newest session that is still under way (waiting, queued or running).
pub async fn newest_unfinished(db: &Db, job: JobId) -> Result<Option<Session>, StoreError> {
    newest_where(db, job, "status IN ('waiting', 'queued', 'running')").await
}

async fn newest_where(db: &Db, job: JobId, condition: &'static str) -> Result<Option<Session>, StoreError> {
    let sql = format!(
        concat!(
            "SELECT ",
            columns!(),
            " FROM sessions WHERE job_id = $1 AND {} ORDER BY COALESCE(finished_at, created_at) DESC, created_at DESC, id DESC LIMIT 1"
        ),
        condition
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(job.to_string()).fetch_optional(&db.pool).await?;
    row.as_ref().map(from_row).transpose()
}

/// The session committing `job`'s `snapshot` started, if any: the job's
/// first import, a continuous job's import of a change, or the sessions
/// that were waiting for fresh data (the oldest of them).
pub async fn session_for_snapshot(db: &Db, job: JobId, snapshot: SnapshotId) -> Result<Option<Session>, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM sessions WHERE job_id = $1 AND snapshot_id = $2
             AND (trigger_kind IN ('first_push', 'change')
                  OR created_at <= (SELECT committed_at FROM snapshots WHERE job_id = $1 AND id = $2))
           ORDER BY created_at, id LIMIT 1"
    ))
    .bind(job.to_string())
    .bind(snapshot.to_string())
    .fetch_optional(&db.pool)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Starts a session that waits for fresh data until `waiting_until`: the
/// job's agent is asked for a snapshot (see `store::commands`), and the
/// commit of one offered after now makes it `queued` ([`attach_waiting`]).
pub async fn insert_waiting(
    conn: &mut sqlx::AnyConnection,
    tenant: TenantId,
    job: JobId,
    trigger: SessionTrigger,
    caught_up: bool,
    waiting_until: UnixMillis,
) -> Result<SessionId, StoreError> {
    let id = SessionId::new();
    sqlx::query(
        "INSERT INTO sessions (id, tenant_id, job_id, trigger_kind, status, caught_up, waiting_until, created_at)
         VALUES ($1, $2, $3, $4, 'waiting', $5, $6, $7)",
    )
    .bind(id.to_string())
    .bind(tenant.to_string())
    .bind(job.to_string())
    .bind(trigger_str(trigger))
    .bind(i64::from(caught_up))
    .bind(waiting_until.0)
    .bind(now_ms())
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

/// What makes a snapshot fresh enough for a waiting session.
#[derive(Debug, Clone, Copy)]
pub struct Freshness {
    /// The agent that read it.
    pub agent: roster_proto::AgentId,
    /// When it was offered (the server's clock).
    pub offered_at: UnixMillis,
    /// When its read began, by the agent's clock.
    pub read_started_at: UnixMillis,
    /// How far ahead of the server an agent's clock may be.
    pub clock_ahead_ms: i64,
}

/// Gives `snapshot` to every session of `job` waiting for data whose data
/// it holds, queuing them; returns how many. A snapshot is fresh for a
/// session when its agent was given a command after the session began and
/// before the snapshot was offered (an agent runs one command at a time,
/// so its read began after that), or, for a snapshot no command asked for
/// (`roster-agent push` by hand), when its read began after the session
/// by the agent's clock even were that clock as far ahead as allowed.
/// Never a read that may have begun before the session did. The pushes
/// those sessions asked for that no agent took yet are withdrawn.
pub async fn attach_waiting(
    conn: &mut sqlx::AnyConnection,
    job: JobId,
    snapshot: SnapshotId,
    manifest_sha256: &Sha256Hex,
    fresh: Freshness,
) -> Result<u64, StoreError> {
    let result = sqlx::query(
        "UPDATE sessions SET status = 'queued', snapshot_id = $1, manifest_sha256 = $2, waiting_until = NULL
         WHERE job_id = $3 AND status = 'waiting'
           AND (created_at + $7 <= $6
                OR EXISTS (SELECT 1 FROM agent_commands c
                            WHERE c.job_id = $3 AND c.delivered_to = $4
                              AND c.delivered_at >= sessions.created_at AND c.delivered_at <= $5))",
    )
    .bind(snapshot.to_string())
    .bind(manifest_sha256.as_str())
    .bind(job.to_string())
    .bind(fresh.agent.to_string())
    .bind(fresh.offered_at.0)
    .bind(fresh.read_started_at.0)
    .bind(fresh.clock_ahead_ms)
    .execute(&mut *conn)
    .await?;
    // Their pushes no agent took yet are not needed any more.
    sqlx::query(
        "UPDATE agent_commands SET expires_at = $1
         WHERE job_id = $2 AND delivered_to IS NULL AND acked_at IS NULL AND expires_at > $1
           AND session_id IN (SELECT id FROM sessions WHERE job_id = $2 AND snapshot_id = $3)",
    )
    .bind(fresh.offered_at.0.max(now_ms()))
    .bind(job.to_string())
    .bind(snapshot.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(result.rows_affected())
}

/// A session waiting for data, as [`overdue_waiting`] finds it.
#[derive(Debug, Clone)]
pub struct Waiting {
    pub id: SessionId,
    pub tenant_id: TenantId,
    pub job_id: JobId,
}

/// Sessions whose wait for fresh data ended before `now`.
pub async fn overdue_waiting(conn: &mut sqlx::AnyConnection, now: UnixMillis) -> Result<Vec<Waiting>, StoreError> {
    let rows =
        sqlx::query("SELECT id, tenant_id, job_id FROM sessions WHERE status = 'waiting' AND waiting_until < $1 ORDER BY waiting_until")
            .bind(now.0)
            .fetch_all(&mut *conn)
            .await?;
    rows.iter()
        .map(|row| Ok(Waiting { id: get_id(row, "id")?, tenant_id: get_id(row, "tenant_id")?, job_id: get_id(row, "job_id")? }))
        .collect()
}

/// Fails a session still waiting for data, saying why; false if it is no
/// longer waiting (its snapshot came, or it failed already).
pub async fn fail_waiting(conn: &mut sqlx::AnyConnection, id: SessionId, error: &str) -> Result<bool, StoreError> {
    let now = now_ms();
    let result = sqlx::query(
        "UPDATE sessions SET status = 'failed', error = $1, waiting_until = NULL, finished_at = $2, duration_ms = $2 - created_at
         WHERE id = $3 AND status = 'waiting'",
    )
    .bind(error)
    .bind(now)
    .bind(id.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// A job's sessions, newest first, a page at a time; the cursor is the
/// last session's `created_at` and id.
pub async fn list_sessions(
    db: &Db,
    job: JobId,
    limit: u32,
    cursor: Option<(i64, SessionId)>,
) -> Result<(Vec<Session>, Option<(i64, SessionId)>), StoreError> {
    PageQuery::new(concat!("SELECT ", columns!(), " FROM sessions WHERE job_id = $1"), vec![Bind::Text(job.to_string())], cursor, limit)
        .descending()
        .fetch(&db.pool, from_row)
        .await
}

/// Queued sessions, oldest first.
pub async fn queued(db: &Db) -> Result<Vec<SessionId>, StoreError> {
    let rows = sqlx::query("SELECT id FROM sessions WHERE status = 'queued' ORDER BY created_at, id").fetch_all(&db.pool).await?;
    rows.iter().map(|r| get_id(r, "id")).collect()
}

/// Takes a queued session for this worker, unless another import of the
/// same job is running. One conditional UPDATE, so two workers can't both
/// take it; and a unique index over running sessions' jobs, so two workers
/// can't take two sessions of one job either (PostgreSQL's snapshot would
/// let both `NOT EXISTS` pass).
///
/// Returns the claim's token: a session re-queued and claimed again
/// elsewhere meanwhile (see [`requeue_interrupted`]) has another, and this
/// run then records nothing.
pub async fn claim(db: &Db, id: SessionId) -> Result<Option<Uuid>, StoreError> {
    let token = Uuid::new_v4();
    let result = sqlx::query(
        "UPDATE sessions SET status = 'running', started_at = $1, alive_at = $1, claim_token = $3
         WHERE id = $2 AND status = 'queued'
           AND NOT EXISTS (SELECT 1 FROM sessions other WHERE other.job_id = sessions.job_id AND other.status = 'running')",
    )
    .bind(now_ms())
    .bind(id.to_string())
    .bind(token.to_string())
    .execute(&mut *db.writer().await?)
    .await;
    match result {
        Ok(result) => Ok((result.rows_affected() == 1).then_some(token)),
        // Another replica claimed an import of the same job at the same
        // moment: the unique index of running sessions kept it to one.
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Work facts of a claimed session.
#[derive(Debug, Clone)]
pub struct SessionWork {
    pub id: SessionId,
    pub tenant_id: TenantId,
    pub job_id: JobId,
    pub snapshot_id: SnapshotId,
    pub started_at: i64,
    /// The digest of the held plan an admin approved, if this run follows an approval.
    pub approved_digest: Option<String>,
    /// The token of the claim this run holds.
    pub claim_token: Uuid,
}

/// What a run of a session claimed with `claim_token` needs.
pub async fn work(db: &Db, id: SessionId, claim_token: Uuid) -> Result<Option<SessionWork>, StoreError> {
    let row = sqlx::query("SELECT id, tenant_id, job_id, snapshot_id, started_at, created_at, approved_digest FROM sessions WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&db.pool)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let started: Option<i64> = row.try_get("started_at")?;
    Ok(Some(SessionWork {
        id: get_id(&row, "id")?,
        tenant_id: get_id(&row, "tenant_id")?,
        job_id: get_id(&row, "job_id")?,
        snapshot_id: get_id(&row, "snapshot_id")?,
        started_at: started.unwrap_or(row.try_get("created_at")?),
        approved_digest: row.try_get("approved_digest")?,
        claim_token,
    }))
}

/// Records when a claimed session's import really began (a claim may wait
/// its turn first), as its first sign of life. False when the session is
/// no longer this run's (re-queued meanwhile).
pub async fn mark_started(conn: &mut sqlx::AnyConnection, work: &mut SessionWork) -> Result<bool, StoreError> {
    work.started_at = now_ms();
    let result =
        sqlx::query("UPDATE sessions SET started_at = $1, alive_at = $1, progress_done = NULL, progress_total = NULL WHERE id = $2 AND status = 'running' AND claim_token = $3")
            .bind(work.started_at)
            .bind(work.id.to_string())
            .bind(work.claim_token.to_string())
            .execute(&mut *conn)
            .await?;
    Ok(result.rows_affected() == 1)
}

/// A running import's sign of life, written with each batch it stages (see
/// [`requeue_interrupted`]), with how far it has got when given (`done`
/// of `total` directory users). False when the session is no longer this
/// run's: the run then stops.
pub async fn beat(conn: &mut sqlx::AnyConnection, work: &SessionWork, progress: Option<(u64, u64)>) -> Result<bool, StoreError> {
    let (done, total) = progress.map_or((None, None), |(done, total)| (Some(done), Some(total)));
    let result = sqlx::query(
        "UPDATE sessions SET alive_at = $1, progress_done = COALESCE($4, progress_done), progress_total = COALESCE($5, progress_total)
         WHERE id = $2 AND status = 'running' AND claim_token = $3",
    )
    .bind(now_ms())
    .bind(work.id.to_string())
    .bind(work.claim_token.to_string())
    .bind(done.map(|d| i64::try_from(d).unwrap_or(i64::MAX)))
    .bind(total.map(|t| i64::try_from(t).unwrap_or(i64::MAX)))
    .execute(&mut *conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Marks a running session succeeded, inside the import's transaction, so
/// the users' changes and the session's outcome commit together.
pub async fn succeed(
    conn: &mut sqlx::AnyConnection,
    work: &SessionWork,
    counts: &SessionCounts,
    notes: &[String],
) -> Result<bool, StoreError> {
    finish(conn, work, SessionStatus::Succeeded, counts, notes, None).await
}

/// Marks a running session held, with why and the digest of its plan,
/// inside the transaction that records the plan's itemised changes.
pub async fn hold(
    conn: &mut sqlx::AnyConnection,
    work: &SessionWork,
    counts: &SessionCounts,
    notes: &[String],
    reasons: &[String],
    digest: &str,
) -> Result<bool, StoreError> {
    if !finish(conn, work, SessionStatus::Held, counts, notes, None).await? {
        return Ok(false);
    }
    sqlx::query("UPDATE sessions SET held_reasons = $1, plan_digest = $2 WHERE id = $3")
        .bind(serde_json::to_string(reasons).unwrap_or_else(|_| "[]".into()))
        .bind(digest)
        .bind(work.id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(true)
}

/// An admin's decision on a held session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Queue it again; its plan passes the safeguard if unchanged.
    Approve,
    Reject,
}

/// Approves or rejects a held session of `tenant`, on `conn` (the
/// caller's write transaction); false if there is no such held session
/// (another decision came first).
pub async fn decide(
    conn: &mut sqlx::AnyConnection,
    tenant: TenantId,
    id: SessionId,
    verdict: Verdict,
    by: &str,
) -> Result<bool, StoreError> {
    let sql = match verdict {
        Verdict::Approve => {
            "UPDATE sessions SET status = 'queued', approved_digest = plan_digest, decided_by = $1, decided_at = $2, started_at = NULL,
                 finished_at = NULL, duration_ms = NULL
             WHERE id = $3 AND tenant_id = $4 AND status = 'held'"
        }
        Verdict::Reject => {
            "UPDATE sessions SET status = 'rejected', decided_by = $1, decided_at = $2 WHERE id = $3 AND tenant_id = $4 AND status = 'held'"
        }
    };
    let result = sqlx::query(sql).bind(by).bind(now_ms()).bind(id.to_string()).bind(tenant.to_string()).execute(&mut *conn).await?;
    Ok(result.rows_affected() == 1)
}

/// Rejects the job's other held sessions once a newer run has been
/// planned: an approval applies to the newest plan only.
pub async fn supersede_held(conn: &mut sqlx::AnyConnection, job: JobId, newer: SessionId) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE sessions SET status = 'rejected', decided_by = $1, decided_at = $2 WHERE job_id = $3 AND status = 'held' AND id <> $4",
    )
    .bind(format!("superseded by session {newer}"))
    .bind(now_ms())
    .bind(job.to_string())
    .bind(newer.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Removes `tenant`'s finished sessions (succeeded, rejected, failed)
/// created before `before`, with their changes, the scheduled runs that
/// started them and the commands they asked for. Returns how many.
pub async fn delete_finished_before(db: &Db, tenant: TenantId, before: UnixMillis) -> Result<u64, StoreError> {
    let old = "SELECT id FROM sessions WHERE tenant_id = $1 AND created_at < $2 AND status IN ('succeeded', 'rejected', 'failed')";
    let children = [("session_changes", "session_id"), ("schedule_runs", "session_id"), ("agent_commands", "session_id")];
    super::delete_with_children(db, old, "sessions", &children, tenant, before).await
}

/// One user's timeline: the changes applied to it, oldest first, a page at
/// a time; the cursor is the last entry's session `created_at` and id.
pub async fn history(
    db: &Db,
    user: UserId,
    limit: u32,
    after: Option<(i64, SessionId)>,
) -> Result<(Vec<HistoryEntry>, Option<(i64, SessionId)>), StoreError> {
    PageQuery::new(
        "SELECT s.id, s.trigger_kind, s.created_at, s.finished_at, c.action, c.details FROM session_changes c
                 JOIN sessions s ON s.id = c.session_id
                 WHERE c.user_id = $1 AND s.status = 'succeeded'",
        vec![Bind::Text(user.to_string())],
        after,
        limit,
    )
    .of_table("s.")
    .fetch(&db.pool, |row| {
        let (created, finished): (i64, Option<i64>) = (row.try_get("created_at")?, row.try_get("finished_at")?);
        Ok(HistoryEntry {
            session_id: get_id(row, "id")?,
            trigger: trigger_of(row)?,
            at: to_datetime(finished.unwrap_or(created)),
            action: action_of(row)?,
            details: details_of(row)?,
        })
    })
    .await
}

/// Marks a session failed (a write: it waits its turn in the writers' queue).
pub async fn fail(db: &Db, work: &SessionWork, error: &str) -> Result<(), StoreError> {
    finish(&mut *db.writer().await?, work, SessionStatus::Failed, &SessionCounts::default(), &[], Some(error)).await?;
    Ok(())
}

async fn finish(
    conn: &mut sqlx::AnyConnection,
    work: &SessionWork,
    status: SessionStatus,
    counts: &SessionCounts,
    notes: &[String],
    error: Option<&str>,
) -> Result<bool, StoreError> {
    let now = now_ms();
    let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let result = sqlx::query(
        "UPDATE sessions SET status = $1, created_count = $2, updated_count = $3, deactivated_count = $4, unchanged_count = $5,
             not_linked_count = $6, notes = $7, error = $8, finished_at = $9, duration_ms = $10, reactivated_count = $12,
             lost_basic_count = $13
         WHERE id = $11 AND status = 'running' AND claim_token = $14",
    )
    .bind(status.as_str())
    .bind(n(counts.created))
    .bind(n(counts.updated))
    .bind(n(counts.deactivated))
    .bind(n(counts.unchanged))
    .bind(n(counts.not_linked))
    .bind(serde_json::to_string(notes).unwrap_or_else(|_| "[]".into()))
    .bind(error)
    .bind(now)
    .bind(now - work.started_at)
    .bind(work.id.to_string())
    .bind(n(counts.reactivated))
    .bind(n(counts.lost_basic))
    .bind(work.claim_token.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Puts sessions whose import no longer runs back in the queue. Nothing
/// of them was applied: an import applies in the one transaction that
/// records its outcome.
///
/// On SQLite one process owns the database, so at its start every
/// `running` session was interrupted. On PostgreSQL other replicas may be
/// running imports: a live import shows a sign of life with every batch it
/// stages ([`beat`]) and holds its session's row locked while it applies,
/// so only sessions silent since before `silent_since` whose row no
/// transaction holds are re-queued. A run that loses its session this way
/// finds out at its next beat, or when it records its outcome, and stops.
pub async fn requeue_interrupted(db: &Db, silent_since: UnixMillis) -> Result<u64, StoreError> {
    let result =
        match db.dialect {
            Dialect::Sqlite => sqlx::query(
                "UPDATE sessions SET status = 'queued', started_at = NULL, alive_at = NULL, claim_token = NULL WHERE status = 'running'",
            )
            .execute(&mut *db.writer().await?)
            .await?,
            Dialect::Postgres => {
                sqlx::query(
                    "UPDATE sessions SET status = 'queued', started_at = NULL, alive_at = NULL, claim_token = NULL
                 WHERE id IN (SELECT id FROM sessions WHERE status = 'running' AND COALESCE(alive_at, started_at) < $1
                              FOR UPDATE SKIP LOCKED)",
                )
                .bind(silent_since.0)
                .execute(&mut *db.writer().await?)
                .await?
            }
        };
    Ok(result.rows_affected())
}

/// Forgets a session's itemised changes (those of its held plan).
pub async fn clear_changes(conn: &mut sqlx::AnyConnection, session: SessionId) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM session_changes WHERE session_id = $1").bind(session.to_string()).execute(&mut *conn).await?;
    Ok(())
}

/// A page of a session's changes, in order; the cursor is the next seq.
pub async fn list_changes(db: &Db, session: SessionId, limit: u32, from_seq: i64) -> Result<(Vec<SessionChange>, Option<i64>), StoreError> {
    let rows = sqlx::query(
        "SELECT seq, user_id, object_guid, username, action, details FROM session_changes
         WHERE session_id = $1 AND seq >= $2 ORDER BY seq LIMIT $3",
    )
    .bind(session.to_string())
    .bind(from_seq)
    .bind(i64::from(limit) + 1)
    .fetch_all(&db.pool)
    .await?;
    let mut changes = Vec::new();
    let mut next = None;
    for (i, row) in rows.iter().enumerate() {
        if i == limit as usize {
            next = Some(row.try_get::<i64, _>("seq")?);
            break;
        }
        changes.push(SessionChange {
            user_id: row
                .try_get::<Option<String>, _>("user_id")?
                .map(|id| id.parse::<Uuid>().map(UserId::from))
                .transpose()
                .map_err(|e| StoreError::Corrupt { column: "session_changes.user_id", detail: e.to_string() })?,
            object_guid: get_parsed(row, "object_guid")?,
            username: row.try_get("username")?,
            action: action_of(row)?,
            details: details_of(row)?,
        });
    }
    Ok((changes, next))
}

#[cfg(test)]
mod tests {
    // A failed unwrap is a failed test, which is what we want here.
    #![allow(clippy::unwrap_used)]

    use roster_proto::admin::{ChangeDetail, DeactivationReason};

    use super::parse_details;

    #[test]
    fn details_read_as_data_and_old_words_as_notes() {
        let stored = r#"[{"type":"deactivated","reason":"left_scope"},"-access user @ Aarhus",{"type":"reactivated"}]"#;
        assert_eq!(
            parse_details(stored).unwrap(),
            vec![
                ChangeDetail::Deactivated { reason: DeactivationReason::LeftScope },
                ChangeDetail::Note { text: "-access user @ Aarhus".into() },
                ChangeDetail::Reactivated,
            ]
        );
        assert_eq!(parse_details(r#"["username: ann", "re-activated"]"#).unwrap().len(), 2, "a session of an older version");
        assert!(parse_details(r#"[{"type":"renamed"}]"#).is_err(), "neither data nor words");
    }
}
