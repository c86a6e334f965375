//! The schedule: starts every job's due run once, with fresh data, and
//! fails the imports whose fresh data did not come in time.
//!
//! A due run (judged by the database's clock) is claimed in a write
//! transaction that holds the job's row (on PostgreSQL, rows other replicas
//! hold are skipped), moves the job on to its next run, records the run
//! under its (job, slot) key, starts a session `waiting` for data and asks
//! the job's agent to push. The commit of a snapshot offered after that
//! queues the session (`ingest`). Everything is in the database: a server
//! killed while a run waits finds it waiting when it is back, and the
//! agent's push then carries it on.

use roster_proto::SessionId;
use roster_proto::admin::{AgentState, SessionTrigger};

use crate::db::Db;
use crate::service::commands::{CommandBell, ask_for_fresh_data};
use crate::settings::Limits;
use crate::store::{self, StoreError, UnixMillis};

/// Starts every due scheduled run. Returns the sessions it started.
pub async fn start_due_runs(db: &Db, limits: &Limits, bell: &CommandBell) -> Result<Vec<SessionId>, StoreError> {
    let mut started = Vec::new();
    loop {
        let mut tx = db.begin_write().await?;
        let now = store::schedule::database_now(&mut tx, db.dialect).await?;
        let Some(job) = store::schedule::claim_due(&mut tx, db.dialect, now).await? else {
            tx.rollback().await?;
            break;
        };
        let planned = job.run.map_err(|e| e.to_string()).and_then(|(schedule, due)| {
            let next = crate::schedule::next_run(&schedule, job.id, limits.schedule_jitter_secs, now).map_err(|e| e.to_string())?;
            let run = crate::schedule::due_run(&schedule, &due, now).map_err(|e| e.to_string())?;
            Ok((due, next, run))
        });
        let (due, next, run) = match planned {
            Ok(planned) => planned,
            Err(error) => {
                // A schedule that cannot be read or is refused now (stored under an older rule): its runs stop,
                // rather than the job coming first, failing, at every tick; a PATCH of the schedule starts them again.
                tracing::error!(job = %job.id, tenant = %job.tenant_id, %error, "stored schedule unusable: its runs stop until it is changed");
                store::schedule::advance(&mut tx, job.id, None).await?;
                tx.commit().await?;
                continue;
            }
        };
        store::schedule::advance(&mut tx, job.id, next).await?;
        if store::schedule::run_started(&mut tx, job.id, &run.key).await? {
            tx.commit().await?;
            continue;
        }
        let session = ask_for_fresh_data(&mut tx, limits, job.tenant_id, job.id, SessionTrigger::Schedule, run.caught_up, now).await?;
        store::schedule::record_run(&mut tx, job.id, &run.key, due.starts_at, now, run.caught_up, session).await?;
        tx.commit().await?;
        tracing::info!(job = %job.id, tenant = %job.tenant_id, session = %session, slot = %run.key, caught_up = run.caught_up, "scheduled run started: fresh data asked of the agent");
        started.push(session);
    }
    if !started.is_empty() {
        bell.ring();
    }
    Ok(started)
}

/// Fails every import whose wait for fresh data ended, saying which agent
/// was last heard from when. Returns how many.
pub async fn fail_overdue_waits(db: &Db, limits: &Limits) -> Result<usize, StoreError> {
    let mut tx = db.begin_write().await?;
    let now = store::schedule::database_now(&mut tx, db.dialect).await?;
    let overdue = store::sessions::overdue_waiting(&mut tx, now).await?;
    let mut failed = 0;
    for waiting in &overdue {
        let agents = store::agents::job_agents_seen(&mut tx, waiting.job_id).await?;
        let reason = no_fresh_data(limits.fresh_snapshot_deadline_secs, &agents, now);
        store::commands::expire_for_session(&mut tx, waiting.id, now).await?;
        if store::sessions::fail_waiting(&mut tx, waiting.id, &reason).await? {
            tracing::warn!(session = %waiting.id, job = %waiting.job_id, tenant = %waiting.tenant_id, %reason, "import failed waiting for fresh data");
            failed += 1;
        }
    }
    tx.commit().await?;
    Ok(failed)
}

/// Why an import got no fresh data: the wait, and each agent's state and
/// when it was last heard from.
fn no_fresh_data(
    deadline_secs: u32,
    agents: &[(roster_proto::AgentId, Option<String>, Option<UnixMillis>, bool)],
    now: UnixMillis,
) -> String {
    let waited = match deadline_secs {
        secs if secs % 60 == 0 => format!("{} minutes", secs / 60),
        secs => format!("{secs} seconds"),
    };
    if agents.is_empty() {
        return format!("no fresh snapshot arrived within {waited}: the job has no registered agent");
    }
    let heard: Vec<String> = agents
        .iter()
        .map(|(id, host, seen, revoked)| {
            let state = AgentState::judge(*revoked, seen.map(UnixMillis::to_datetime), now.to_datetime());
            let host = host.as_deref().map(|h| format!(" on {}", h.escape_debug())).unwrap_or_default();
            let seen = match seen {
                Some(at) => format!("last heard from at {}", crate::store::rfc3339(*at)),
                None => "never heard from".to_owned(),
            };
            format!("agent {id}{host} is {} ({seen})", state.as_str())
        })
        .collect();
    format!("no fresh snapshot arrived within {waited}: {}", heard.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_wait_names_each_agent_and_when_it_was_heard_from() {
        let agent: roster_proto::AgentId = "0191e3f4-7c1a-7d2e-8f00-00000000abcd".parse().unwrap();
        let now = UnixMillis(1_800_000_000_000);
        assert_eq!(no_fresh_data(600, &[], now), "no fresh snapshot arrived within 10 minutes: the job has no registered agent");
        assert_eq!(
            no_fresh_data(90, &[(agent, Some("dc01".into()), Some(UnixMillis(now.0 - 3_600_000)), false)], now),
            format!(
                "no fresh snapshot arrived within 90 seconds: agent {agent} on dc01 is offline (last heard from at 2027-01-15T07:00:00Z)"
            )
        );
        assert_eq!(
            no_fresh_data(600, &[(agent, None, None, true)], now),
            format!("no fresh snapshot arrived within 10 minutes: agent {agent} is revoked (never heard from)")
        );
    }
}
