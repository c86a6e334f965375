//! Jobs' leases (`job_leases`): read, and written as `crate::lease`
//! decides, each decision in a transaction that holds the job's lock, so
//! grants and commits of one job are decided one at a time.

use std::collections::HashMap;

use roster_proto::{AgentId, JobId, TenantId};
use sqlx::Row;

use super::{Db, StoreError, UnixMillis, get_id};
use crate::lease::{self, Claim, LeaseRow};

/// The job's lease, if any agent ever held it.
pub async fn get(conn: &mut sqlx::AnyConnection, job: JobId) -> Result<Option<LeaseRow>, StoreError> {
    let row = sqlx::query("SELECT agent_id, fencing_token, granted_at, expires_at FROM job_leases WHERE job_id = $1")
        .bind(job.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|row| {
        Ok(LeaseRow {
            agent: get_id(&row, "agent_id")?,
            fencing_token: u64::try_from(row.try_get::<i64, _>("fencing_token")?)
                .map_err(|e| StoreError::Corrupt { column: "fencing_token", detail: e.to_string() })?,
            granted_at: UnixMillis(row.try_get("granted_at")?),
            expires_at: UnixMillis(row.try_get("expires_at")?),
        })
    })
    .transpose()
}

async fn put(conn: &mut sqlx::AnyConnection, job: JobId, lease: &LeaseRow) -> Result<(), StoreError> {
    let token = i64::try_from(lease.fencing_token).map_err(|e| StoreError::Corrupt { column: "fencing_token", detail: e.to_string() })?;
    sqlx::query(
        "INSERT INTO job_leases (job_id, agent_id, fencing_token, granted_at, expires_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (job_id) DO UPDATE SET agent_id = excluded.agent_id, fencing_token = excluded.fencing_token,
             granted_at = excluded.granted_at, expires_at = excluded.expires_at",
    )
    .bind(job.to_string())
    .bind(lease.agent.to_string())
    .bind(token)
    .bind(lease.granted_at.0)
    .bind(lease.expires_at.0)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// `agent`'s request for `job`'s lease at `now`, carrying the fencing
/// token `sent` of the grant it believes it holds, if any: decided and
/// written. A holder whose lease has more than half its time left is
/// answered from a plain read (a poll and a heartbeat every 30 s would
/// otherwise each write); anything else is decided again under the job's
/// lock. `None`: the job is gone.
pub async fn claim(
    db: &Db,
    job: JobId,
    agent: AgentId,
    sent: Option<u64>,
    now: UnixMillis,
    ttl_ms: i64,
) -> Result<Option<Claim>, FenceCheck> {
    {
        let mut conn = db.pool.acquire().await?;
        if let Some(current) = get(&mut conn, job).await?
            && current.agent == agent
            && sent.is_none_or(|sent| sent == current.fencing_token)
            && current.expires_at.0 - now.0 > ttl_ms / 2
        {
            return Ok(Some(Claim::Renewed(current)));
        }
    }
    let mut tx = db.begin_write().await?;
    if !super::jobs::lock_job(&mut tx, db.dialect, job).await? {
        tx.rollback().await?;
        return Ok(None);
    }
    let current = get(&mut tx, job).await?;
    let holder_revoked = match current {
        Some(lease) if lease.agent != agent && lease.expires_at.0 > now.0 => revoked(&mut tx, lease.agent).await?,
        _ => false,
    };
    let decided = match lease::claim(current, holder_revoked, agent, sent, now, ttl_ms) {
        Ok(decided) => decided,
        Err(fenced) => {
            tx.rollback().await?;
            return Err(FenceCheck::Fenced(fenced));
        }
    };
    if let Some(lease) = decided.held() {
        put(&mut tx, job, lease).await?;
    }
    tx.commit().await?;
    Ok(Some(decided))
}

async fn revoked(conn: &mut sqlx::AnyConnection, agent: AgentId) -> Result<bool, StoreError> {
    let row = sqlx::query("SELECT revoked_at FROM agents WHERE id = $1").bind(agent.to_string()).fetch_optional(&mut *conn).await?;
    Ok(match row {
        Some(row) => row.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
        None => true,
    })
}

/// Checks an upload's fencing token against the job's lease in the
/// commit's transaction `conn`, which must already hold the job's lock
/// (`jobs::lock_job`), so no grant slips between the check and the commit.
pub async fn check_fence(conn: &mut sqlx::AnyConnection, job: JobId, agent: AgentId, sent: Option<u64>) -> Result<(), FenceCheck> {
    let current = get(conn, job).await?;
    lease::fence(current.as_ref(), agent, sent).map_err(FenceCheck::Fenced)
}

/// Why [`check_fence`] refused.
#[derive(Debug, thiserror::Error)]
pub enum FenceCheck {
    #[error(transparent)]
    Fenced(lease::Fenced),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for FenceCheck {
    fn from(e: sqlx::Error) -> Self {
        FenceCheck::Store(StoreError::Sql(e))
    }
}

/// The agents holding a live lease of the tenant's jobs at `now`.
pub async fn holders(db: &Db, tenant: TenantId, now: UnixMillis) -> Result<HashMap<JobId, AgentId>, StoreError> {
    let rows = sqlx::query(
        "SELECT job_leases.job_id, job_leases.agent_id FROM job_leases JOIN jobs ON jobs.id = job_leases.job_id
          WHERE jobs.tenant_id = $1 AND job_leases.expires_at > $2",
    )
    .bind(tenant.to_string())
    .bind(now.0)
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(|row| Ok((get_id(row, "job_id")?, get_id(row, "agent_id")?))).collect()
}
