//! A job's lease as its agents ask for it (`POST /agent/v1/lease`, and
//! implicitly with every poll for commands): decided by `crate::lease`,
//! kept by `store::leases`.

use roster_proto::agent::Lease;

use crate::db::Db;
use crate::error::{AppError, Missing};
use crate::lease::Claim;
use crate::settings::Limits;
use crate::store::agents::AgentRecord;
use crate::store::leases::FenceCheck;
use crate::store::{self, UnixMillis};

/// `agent` asks for its job's lease: it holds it (granted, renewed or taken
/// over) or stands by. With the fencing token it sent (`sent`), it asks to
/// renew that grant, and is fenced if another agent took over since.
pub async fn claim(db: &Db, limits: &Limits, agent: &AgentRecord, sent: Option<u64>) -> Result<Lease, AppError> {
    let ttl_ms = i64::from(limits.lease_ttl_secs) * 1000;
    let claim = match store::leases::claim(db, agent.job_id, agent.id, sent, UnixMillis::now(), ttl_ms).await {
        Err(FenceCheck::Fenced(fenced)) => {
            tracing::info!(tenant = %agent.tenant_id, job = %agent.job_id, agent = %agent.id, %fenced, "lease refused to a stale grant");
            return Err(fenced.into());
        }
        claim => claim?.ok_or(AppError::NotFound(Missing::Job))?,
    };
    if let Claim::Granted(lease) = &claim {
        tracing::info!(tenant = %agent.tenant_id, job = %agent.job_id, agent = %agent.id, fencing_token = lease.fencing_token, "lease granted");
    }
    Ok(match claim {
        Claim::Granted(lease) | Claim::Renewed(lease) => {
            Lease { active: true, fencing_token: Some(lease.fencing_token), expires_at: lease.expires_at.to_datetime() }
        }
        Claim::Standby(lease) => Lease { active: false, fencing_token: None, expires_at: lease.expires_at.to_datetime() },
    })
}
