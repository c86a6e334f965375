//! The control plane: what the server asks of a job's agent, the agent's
//! long poll for it, its results and heartbeats. Commands live in the
//! database (`store::commands`), so any replica can issue one and any
//! replica can answer the poll; the [`CommandBell`] only makes a poll on
//! the same replica answer at once instead of at its next look.

use std::sync::Arc;
use std::time::Duration;

use roster_proto::admin::{Job, Session, SessionTrigger};
use roster_proto::agent::{Command, CommandAction, CommandOutcome, CommandResult, Heartbeat};
use roster_proto::{CommandId, JobId, SessionId, TenantId};
use tokio::sync::Notify;

use crate::db::Db;
use crate::error::{AppError, CommandError, Missing};
use crate::settings::Limits;
use crate::store::agents::AgentRecord;
use crate::store::commands::Acked;
use crate::store::{self, StoreError, UnixMillis};

/// A job without directory state is sent a full push when its agent
/// polls, unless a command was issued for it within this long (the last
/// one may still be running, or have failed: it is not asked again at
/// every poll).
pub const FIRST_PUSH_RETRY_MS: i64 = 5 * 60 * 1000;

/// How long a command not tied to a session (a first push, a structure
/// refresh, a check) may wait for an agent to take it.
pub const COMMAND_TTL_MS: i64 = 60 * 60 * 1000;

/// Wakes this replica's polls when a command is issued here.
#[derive(Debug, Clone, Default)]
pub struct CommandBell(Arc<Notify>);

impl CommandBell {
    pub fn ring(&self) {
        self.0.notify_waiters();
    }
}

/// The agent's next command, waiting up to `wait` for one: a command
/// issued for its job (oldest first), or, while the job has no directory
/// state, a full push so that its first import follows by itself. `None`
/// when nothing came within `wait`, and always for an agent that stands by
/// (another agent of the job holds its lease). `fence`: the fencing token
/// the agent sent, renewing that grant (fenced if another took over).
pub async fn next_command(
    db: &Db,
    limits: &Limits,
    bell: &CommandBell,
    agent: &AgentRecord,
    fence: Option<u64>,
    wait: Duration,
) -> Result<Option<Command>, AppError> {
    let deadline = tokio::time::Instant::now() + wait;
    // Only the job's lease holder is handed commands; a poll renews the
    // holder's lease, and a standby's poll takes it over once it expired.
    if !super::leases::claim(db, limits, agent, fence).await?.active {
        tokio::time::sleep_until(deadline).await;
        return Ok(None);
    }
    loop {
        // Listen before looking, so a command issued between the look and the wait is not missed.
        let rung = bell.0.notified();
        tokio::pin!(rung);
        rung.as_mut().enable();
        let now = UnixMillis::now();
        if let Some(command) = store::commands::take_next(db, agent.tenant_id, agent.job_id, agent.id, now).await? {
            tracing::info!(agent = %agent.id, job = %agent.job_id, command = %command.id, action = ?command.action, "command delivered");
            return Ok(Some(command));
        }
        if first_push_due(db, agent, now).await? {
            let mut tx = db.begin_write().await?;
            let push = CommandAction::Push { full: true };
            store::commands::issue(&mut tx, agent.tenant_id, agent.job_id, push, None, now, UnixMillis(now.0 + COMMAND_TTL_MS)).await?;
            tx.commit().await?;
            tracing::info!(agent = %agent.id, job = %agent.job_id, "the job has no data yet: its first push is asked for");
            continue;
        }
        let look_again = tokio::time::Instant::now() + Duration::from_millis(limits.command_poll_ms);
        if tokio::time::Instant::now() >= deadline {
            return Ok(None);
        }
        tokio::select! {
            () = &mut rung => {}
            () = tokio::time::sleep_until(look_again.min(deadline)) => {}
        }
    }
}

async fn first_push_due(db: &Db, agent: &AgentRecord, now: UnixMillis) -> Result<bool, AppError> {
    if store::directory::has_state(db, agent.job_id).await? {
        return Ok(false);
    }
    Ok(!store::commands::issued_since(db, agent.job_id, now.minus_ms(FIRST_PUSH_RETRY_MS)).await?)
}

/// Records the agent's result of a command, once. A failed push that a
/// waiting session asked for fails that session at once, with the
/// agent's words.
pub async fn report(db: &Db, agent: &AgentRecord, id: CommandId, result: &CommandResult) -> Result<(), AppError> {
    let mut tx = db.begin_write().await?;
    let acked = store::commands::acknowledge(&mut tx, agent.id, id, result, UnixMillis::now()).await?;
    match acked {
        Acked::Unknown => return Err(AppError::NotFound(Missing::Command)),
        Acked::Already => return Err(CommandError::AlreadyReported(id).into()),
        Acked::Now { session: Some(session), .. } if result.outcome == CommandOutcome::Failed => {
            let message: String = result.message.chars().take(roster_proto::agent::MAX_REPORTED_ERROR_CHARS).collect();
            store::sessions::fail_waiting(&mut tx, session, &format!("the agent could not send fresh data: {message}")).await?;
        }
        Acked::Now { .. } => {}
    }
    tx.commit().await?;
    tracing::info!(agent = %agent.id, job = %agent.job_id, command = %id, outcome = ?result.outcome, "command result");
    Ok(())
}

/// Records the agent's heartbeat.
pub async fn heartbeat(db: &Db, agent: &AgentRecord, beat: &Heartbeat) -> Result<(), AppError> {
    store::agents::heartbeat(db, agent.id, beat, UnixMillis::now()).await?;
    Ok(())
}

/// Starts a session `trigger` that waits for fresh data (see
/// [`store::sessions::insert_waiting`]) until `Limits::fresh_snapshot_deadline_secs`
/// after `now` (the database's clock), and the push command that asks the
/// job's agent for it, valid as long as the session waits: what a
/// scheduled run and a fresh "Perform import" both start, in the caller's
/// transaction.
pub async fn ask_for_fresh_data(
    conn: &mut sqlx::AnyConnection,
    limits: &Limits,
    tenant: TenantId,
    job: JobId,
    trigger: SessionTrigger,
    caught_up: bool,
    now: UnixMillis,
) -> Result<SessionId, StoreError> {
    let until = UnixMillis(now.0.saturating_add(i64::from(limits.fresh_snapshot_deadline_secs) * 1000));
    let session = store::sessions::insert_waiting(conn, tenant, job, trigger, caught_up, until).await?;
    store::commands::issue(conn, tenant, job, CommandAction::Push { full: false }, Some(session), now, until).await?;
    Ok(session)
}

/// "Perform import" with fresh data ([`ask_for_fresh_data`]).
pub async fn start_fresh_import(
    db: &Db,
    limits: &Limits,
    bell: &CommandBell,
    caller: &super::audit::Caller,
    job: &Job,
) -> Result<Session, AppError> {
    caller.may(roster_proto::admin::AdminRole::Admin)?;
    let tenant = caller.tenant;
    let mut tx = db.begin_write().await?;
    if !store::jobs::lock_job(&mut tx, db.dialect, job.id).await? {
        tx.rollback().await?;
        return Err(AppError::NotFound(Missing::Job));
    }
    let now = store::schedule::database_now(&mut tx, db.dialect).await?;
    let id = ask_for_fresh_data(&mut tx, limits, tenant, job.id, SessionTrigger::Manual, false, now).await?;
    let summary = format!("started an import of job \"{}\" with fresh data from its agent", job.name);
    super::audit::record_in(&mut tx, caller, roster_proto::admin::AuditAction::ImportStarted, Some(id.to_string()), &summary).await?;
    tx.commit().await?;
    bell.ring();
    tracing::info!(tenant = %tenant, job = %job.id, session = %id, "fresh import asked of the agent");
    store::sessions::get_session(db, tenant, id).await?.ok_or(AppError::NotFound(Missing::Session))
}

/// "Load AD structure": asks the job's agent to push, so the structure
/// the server shows is the directory's as it is now.
pub async fn refresh_structure(db: &Db, bell: &CommandBell, caller: &super::audit::Caller, job: &Job) -> Result<CommandId, AppError> {
    caller.may(roster_proto::admin::AdminRole::Admin)?;
    let tenant = caller.tenant;
    let mut tx = db.begin_write().await?;
    if !store::jobs::lock_job(&mut tx, db.dialect, job.id).await? {
        tx.rollback().await?;
        return Err(AppError::NotFound(Missing::Job));
    }
    let now = UnixMillis::now();
    let id = store::commands::issue(&mut tx, tenant, job.id, CommandAction::LoadStructure, None, now, UnixMillis(now.0 + COMMAND_TTL_MS))
        .await?;
    let summary = format!("asked the agent of job \"{}\" to load the AD structure", job.name);
    super::audit::record_in(&mut tx, caller, roster_proto::admin::AuditAction::StructureRequested, Some(job.id.to_string()), &summary)
        .await?;
    tx.commit().await?;
    bell.ring();
    tracing::info!(tenant = %tenant, job = %job.id, command = %id, "structure refresh asked of the agent");
    Ok(id)
}
