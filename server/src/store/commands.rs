//! Commands for a job's agent (`GET /agent/v1/commands`): issued by the
//! server (a scheduled run, an admin's fresh import or structure refresh,
//! a job's first push), delivered in the order issued to one agent of the
//! job, answered again to that agent until it reports the result, then
//! acknowledged once and never delivered again; or expired unanswered.

use roster_proto::agent::{Command, CommandAction, CommandOutcome, CommandResult};
use roster_proto::{AgentId, CommandId, JobId, SessionId, TenantId};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Db, StoreError, UnixMillis, get_id, get_json};

/// Queues a command for `job`'s agent, valid until `expires_at`.
pub async fn issue(
    conn: &mut sqlx::AnyConnection,
    tenant: TenantId,
    job: JobId,
    action: CommandAction,
    session: Option<SessionId>,
    now: UnixMillis,
    expires_at: UnixMillis,
) -> Result<CommandId, StoreError> {
    let id = CommandId::new();
    let action =
        serde_json::to_string(&action).map_err(|e| StoreError::Corrupt { column: "agent_commands.action", detail: e.to_string() })?;
    sqlx::query(
        "INSERT INTO agent_commands (id, tenant_id, job_id, action, session_id, issued_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id.to_string())
    .bind(tenant.to_string())
    .bind(job.to_string())
    .bind(action)
    .bind(session.map(|s| s.to_string()))
    .bind(now.0)
    .bind(expires_at.0)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

fn command_from_row(row: &AnyRow) -> Result<Command, StoreError> {
    Ok(Command { id: get_id(row, "id")?, action: get_json(row, "action")?, issued_at: UnixMillis(row.try_get("issued_at")?).to_datetime() })
}

/// The oldest open command of `agent`'s job, for `agent`, which holds the
/// job's lease (only the holder is handed commands): one nobody took yet,
/// one it took and has not answered (it restarted, or its answer was lost),
/// or one another agent took and has not answered (a holder that died or
/// was revoked: its successor runs it; should the old holder wake up, its
/// push is fenced). Taking it marks it delivered to `agent`.
pub async fn take_next(db: &Db, tenant: TenantId, job: JobId, agent: AgentId, now: UnixMillis) -> Result<Option<Command>, StoreError> {
    // A read first, so that an idle poll writes nothing.
    let row = sqlx::query(
        "SELECT id, action, issued_at, delivered_to FROM agent_commands
         WHERE job_id = $1 AND tenant_id = $2 AND acked_at IS NULL AND expires_at > $3
         ORDER BY id LIMIT 1",
    )
    .bind(job.to_string())
    .bind(tenant.to_string())
    .bind(now.0)
    .fetch_optional(&db.pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let command = command_from_row(&row)?;
    let holder: Option<String> = row.try_get("delivered_to")?;
    if holder.as_deref() == Some(agent.to_string().as_str()) {
        return Ok(Some(command));
    }
    let taken = sqlx::query(
        "UPDATE agent_commands SET delivered_to = $1, delivered_at = $2
         WHERE id = $3 AND acked_at IS NULL AND (delivered_to IS NULL OR delivered_to = $4)",
    )
    .bind(agent.to_string())
    .bind(now.0)
    .bind(command.id.to_string())
    .bind(holder)
    .execute(&mut *db.writer().await?)
    .await?;
    // Another agent of the job (or another replica's poll) took it first: the caller looks again.
    Ok((taken.rows_affected() == 1).then_some(command))
}

/// Whether a command was issued for `job` after `since` (a job's first
/// push is not asked for again while one was asked for lately).
pub async fn issued_since(db: &Db, job: JobId, since: UnixMillis) -> Result<bool, StoreError> {
    let row = sqlx::query("SELECT 1 AS found FROM agent_commands WHERE job_id = $1 AND issued_at > $2 LIMIT 1")
        .bind(job.to_string())
        .bind(since.0)
        .fetch_optional(&db.pool)
        .await?;
    Ok(row.is_some())
}

/// What acknowledging a command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acked {
    /// Recorded now; the waiting session the command served, if any.
    Now { action: CommandAction, session: Option<SessionId> },
    /// It was acknowledged before: nothing changed.
    Already,
    /// No such command was delivered to this agent.
    Unknown,
}

/// Records `agent`'s result of command `id`, once.
pub async fn acknowledge(
    conn: &mut sqlx::AnyConnection,
    agent: AgentId,
    id: CommandId,
    result: &CommandResult,
    now: UnixMillis,
) -> Result<Acked, StoreError> {
    let row = sqlx::query("SELECT action, session_id, acked_at FROM agent_commands WHERE id = $1 AND delivered_to = $2")
        .bind(id.to_string())
        .bind(agent.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else { return Ok(Acked::Unknown) };
    if row.try_get::<Option<i64>, _>("acked_at")?.is_some() {
        return Ok(Acked::Already);
    }
    let outcome = match result.outcome {
        CommandOutcome::Succeeded => "succeeded",
        CommandOutcome::Failed => "failed",
    };
    let message: String = result.message.chars().take(roster_proto::agent::MAX_REPORTED_ERROR_CHARS).collect();
    let done = sqlx::query("UPDATE agent_commands SET acked_at = $1, outcome = $2, message = $3 WHERE id = $4 AND acked_at IS NULL")
        .bind(now.0)
        .bind(outcome)
        .bind(message)
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() == 0 {
        return Ok(Acked::Already);
    }
    let session = row
        .try_get::<Option<String>, _>("session_id")?
        .map(|s| s.parse())
        .transpose()
        .map_err(|e: roster_proto::IdError| StoreError::Corrupt { column: "agent_commands.session_id", detail: e.to_string() })?;
    Ok(Acked::Now { action: get_json(&row, "action")?, session })
}

/// Ends the open commands a session asked for (it no longer waits), so
/// that no agent runs them now.
pub async fn expire_for_session(conn: &mut sqlx::AnyConnection, session: SessionId, now: UnixMillis) -> Result<(), StoreError> {
    sqlx::query("UPDATE agent_commands SET expires_at = $1 WHERE session_id = $2 AND acked_at IS NULL AND expires_at > $1")
        .bind(now.0)
        .bind(session.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Deletes the commands issued before `before` that are done with
/// (acknowledged, or expired by `now`). Returns how many.
pub async fn prune(db: &Db, before: UnixMillis, now: UnixMillis) -> Result<u64, StoreError> {
    let result = sqlx::query("DELETE FROM agent_commands WHERE issued_at < $1 AND (acked_at IS NOT NULL OR expires_at <= $2)")
        .bind(before.0)
        .bind(now.0)
        .execute(&mut *db.writer().await?)
        .await?;
    Ok(result.rows_affected())
}
