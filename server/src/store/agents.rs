//! Registered agents: identity, public key, job, revocation.

use roster_snapshot::keys::PublicKey;
use sqlx::Row;
use uuid::Uuid;

use super::{Db, StoreError, get_uuid, now_ms};

/// An agent as the server knows it.
#[derive(Debug, Clone)]
pub struct AgentRecord {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub job_id: Uuid,
    /// The key every token of this agent must verify with.
    pub public_key: PublicKey,
    /// Revoked agents are refused on every request.
    pub revoked: bool,
}

pub async fn insert_agent(
    conn: &mut sqlx::AnyConnection,
    tenant: Uuid,
    job: Uuid,
    public_key: &PublicKey,
    hostname: Option<&str>,
    agent_version: Option<&str>,
) -> Result<Uuid, StoreError> {
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO agents (id, tenant_id, job_id, public_key, hostname, agent_version, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id.to_string())
    .bind(tenant.to_string())
    .bind(job.to_string())
    .bind(public_key.to_base64())
    .bind(hostname)
    .bind(agent_version)
    .bind(now_ms())
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

pub async fn get_agent(db: &Db, id: Uuid) -> Result<Option<AgentRecord>, StoreError> {
    let Some(row) = sqlx::query("SELECT id, tenant_id, job_id, public_key, revoked_at FROM agents WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&db.pool)
        .await?
    else {
        return Ok(None);
    };
    let key: String = row.try_get("public_key")?;
    let revoked_at: Option<i64> = row.try_get("revoked_at")?;
    Ok(Some(AgentRecord {
        id: get_uuid(&row, "id")?,
        tenant_id: get_uuid(&row, "tenant_id")?,
        job_id: get_uuid(&row, "job_id")?,
        public_key: PublicKey::from_base64(&key).map_err(|e| StoreError::Corrupt { column: "agents.public_key", detail: e.to_string() })?,
        revoked: revoked_at.is_some(),
    }))
}

/// Notes that the agent was heard from, for the health view.
pub async fn touch(db: &Db, id: Uuid) -> Result<(), StoreError> {
    sqlx::query("UPDATE agents SET last_seen_at = $1 WHERE id = $2").bind(now_ms()).bind(id.to_string()).execute(&db.pool).await?;
    Ok(())
}
