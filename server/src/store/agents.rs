//! Registered agents: identity, public key, job, revocation.

use roster_proto::admin::{Agent, AgentState};
use roster_proto::agent::Heartbeat;
use roster_proto::{AgentId, JobId, TenantId};
use roster_snapshot::keys::{KeyError, PublicKey};
use sqlx::Row;
use uuid::Uuid;

use super::page::{Bind, PageQuery};
use super::{Db, StoreError, UnixMillis, get_id, now_ms, to_datetime};

/// An agent as the server knows it.
#[derive(Debug, Clone)]
pub struct AgentRecord {
    pub id: AgentId,
    pub tenant_id: TenantId,
    pub job_id: JobId,
    /// The key every token of this agent must verify with.
    pub public_key: PublicKey,
    /// Revoked agents are refused on every request.
    pub revoked: bool,
    /// When the agent was last heard from, so a request only writes it
    /// when it is stale (see [`touch`]).
    pub last_seen_at: Option<UnixMillis>,
}

pub async fn insert_agent(
    conn: &mut sqlx::AnyConnection,
    tenant: TenantId,
    job: JobId,
    public_key: &PublicKey,
    hostname: Option<&str>,
    agent_version: Option<&str>,
) -> Result<AgentId, StoreError> {
    let id = AgentId::new();
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

/// The agent `id`: `None` when there is no such agent, `Some(Err)` when its
/// stored key is one [`PublicKey::from_base64`] refuses (a weak key
/// registered before such keys were refused): no token can verify with it,
/// so the caller refuses the agent as it would a bad signature, rather than
/// failing as if the database were corrupt.
pub async fn get_agent(db: &Db, id: AgentId) -> Result<Option<Result<AgentRecord, KeyError>>, StoreError> {
    let Some(row) = sqlx::query("SELECT id, tenant_id, job_id, public_key, revoked_at, last_seen_at FROM agents WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&db.pool)
        .await?
    else {
        return Ok(None);
    };
    let key: String = row.try_get("public_key")?;
    let revoked_at: Option<i64> = row.try_get("revoked_at")?;
    let (id, tenant_id, job_id) = (get_id(&row, "id")?, get_id(&row, "tenant_id")?, get_id(&row, "job_id")?);
    let last_seen_at = row.try_get::<Option<i64>, _>("last_seen_at")?.map(UnixMillis);
    Ok(Some(PublicKey::from_base64(&key).map(|public_key| AgentRecord {
        id,
        tenant_id,
        job_id,
        public_key,
        revoked: revoked_at.is_some(),
        last_seen_at,
    })))
}

/// How stale `last_seen_at` may get: the health view needs seconds, and
/// writing it on every request would put every agent request in the
/// writers' queue.
/// Within `AgentState::HEALTHY_WITHIN_SECS` (90 s) of an agent polling every
/// 30 s, with room to spare.
pub const LAST_SEEN_RESOLUTION_MS: i64 = 15_000;

/// Notes that the agent was heard from, for the health view: at most once
/// per [`LAST_SEEN_RESOLUTION_MS`] per agent. `agent` is the row as the
/// request read it; the conditional `UPDATE` keeps replicas from writing
/// it again within the minute.
pub async fn touch(db: &Db, agent: &AgentRecord, now: UnixMillis) -> Result<(), StoreError> {
    if agent.last_seen_at.is_some_and(|seen| (0..LAST_SEEN_RESOLUTION_MS).contains(&now.millis_since(seen))) {
        return Ok(());
    }
    sqlx::query("UPDATE agents SET last_seen_at = $1 WHERE id = $2 AND (last_seen_at IS NULL OR last_seen_at <= $3)")
        .bind(now.0)
        .bind(agent.id.to_string())
        .bind(now.minus_ms(LAST_SEEN_RESOLUTION_MS).0)
        .execute(&mut *db.writer().await?)
        .await?;
    Ok(())
}

/// Remembers a request token's id until it expires; false when it was
/// already used (a replay).
pub async fn remember_token(db: &Db, jti: Uuid, expires: UnixMillis) -> Result<bool, StoreError> {
    let result = sqlx::query("INSERT INTO used_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING")
        .bind(jti.to_string())
        .bind(expires.0)
        .execute(&mut *db.writer().await?)
        .await?;
    Ok(result.rows_affected() == 1)
}

/// Forgets token ids whose tokens have expired (they are refused by their
/// `exp` from then on). Returns how many.
pub async fn forget_expired_tokens(db: &Db, now: UnixMillis) -> Result<u64, StoreError> {
    let result = sqlx::query("DELETE FROM used_tokens WHERE expires_at < $1").bind(now.0).execute(&mut *db.writer().await?).await?;
    Ok(result.rows_affected())
}

/// A page of a tenant's agents (optionally one job's) in registration
/// order, after `after` (`registered_at` ms, id), their states judged at `now`.
pub async fn list_agents(
    db: &Db,
    tenant: TenantId,
    job: Option<JobId>,
    limit: u32,
    after: Option<(i64, AgentId)>,
    now: UnixMillis,
) -> Result<(Vec<Agent>, Option<(i64, AgentId)>), StoreError> {
    PageQuery::new(
        "SELECT id, job_id, hostname, agent_version, os, dc_reachable, last_error, created_at, last_seen_at, revoked_at,
                (SELECT MAX(committed_at) FROM snapshots WHERE snapshots.job_id = agents.job_id AND snapshots.agent_id = agents.id)
                    AS last_push_at,
                (SELECT COUNT(*) FROM job_leases
                  WHERE job_leases.job_id = agents.job_id AND job_leases.agent_id = agents.id AND job_leases.expires_at > $3)
                    AS holds_lease
           FROM agents
          WHERE tenant_id = $1 AND ($2 = '' OR job_id = $2)",
        vec![Bind::Text(tenant.to_string()), Bind::Text(job.map(|j| j.to_string()).unwrap_or_default()), Bind::Int(now.0)],
        after,
        limit,
    )
    .fetch(&db.pool, |row| {
        let last_seen_at = row.try_get::<Option<i64>, _>("last_seen_at")?.map(to_datetime);
        let revoked_at = row.try_get::<Option<i64>, _>("revoked_at")?.map(to_datetime);
        Ok(Agent {
            id: get_id(row, "id")?,
            job_id: get_id(row, "job_id")?,
            state: AgentState::judge(revoked_at.is_some(), last_seen_at, now.to_datetime()),
            active: revoked_at.is_none() && row.try_get::<i64, _>("holds_lease")? > 0,
            hostname: row.try_get("hostname")?,
            os: row.try_get("os")?,
            dc_reachable: row.try_get::<Option<i64>, _>("dc_reachable")?.map(|v| v != 0),
            last_error: row.try_get("last_error")?,
            last_push_at: row.try_get::<Option<i64>, _>("last_push_at")?.map(to_datetime),
            agent_version: row.try_get("agent_version")?,
            registered_at: to_datetime(row.try_get("created_at")?),
            last_seen_at,
            revoked_at,
        })
    })
    .await
}

/// How a job's agents were last heard from, for a failed wait's reason:
/// (agent, host name, last seen, revoked), newest registration first.
pub async fn job_agents_seen(
    conn: &mut sqlx::AnyConnection,
    job: JobId,
) -> Result<Vec<(AgentId, Option<String>, Option<UnixMillis>, bool)>, StoreError> {
    let rows = sqlx::query("SELECT id, hostname, last_seen_at, revoked_at FROM agents WHERE job_id = $1 ORDER BY created_at DESC, id")
        .bind(job.to_string())
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|row| {
            Ok((
                get_id(row, "id")?,
                row.try_get("hostname")?,
                row.try_get::<Option<i64>, _>("last_seen_at")?.map(UnixMillis),
                row.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
            ))
        })
        .collect()
}

/// Records what an agent says of itself, and that it was heard from now.
/// Texts are kept to their first 255 characters (an error to
/// `MAX_REPORTED_ERROR_CHARS`).
pub async fn heartbeat(db: &Db, agent: AgentId, beat: &Heartbeat, now: UnixMillis) -> Result<(), StoreError> {
    let short = |text: &str| text.chars().take(255).collect::<String>();
    let error = beat.last_error.as_deref().map(|e| e.chars().take(roster_proto::agent::MAX_REPORTED_ERROR_CHARS).collect::<String>());
    sqlx::query(
        "UPDATE agents SET hostname = $1, agent_version = $2, os = $3, dc_reachable = $4, last_error = $5, last_seen_at = $6
         WHERE id = $7 AND revoked_at IS NULL",
    )
    .bind(short(&beat.host_name))
    .bind(short(&beat.version))
    .bind(short(&beat.os))
    .bind(i64::from(beat.dc_reachable))
    .bind(error)
    .bind(now.0)
    .bind(agent.to_string())
    .execute(&mut *db.writer().await?)
    .await?;
    sqlx::query("INSERT INTO agent_beats (agent_id, bucket_at) VALUES ($1, $2) ON CONFLICT (agent_id, bucket_at) DO NOTHING")
        .bind(agent.to_string())
        .bind(now.0 - now.0.rem_euclid(BEAT_BUCKET_MS))
        .execute(&mut *db.writer().await?)
        .await?;
    Ok(())
}

/// The span of one heartbeat bucket (`agent_beats`): five minutes.
pub const BEAT_BUCKET_MS: i64 = 5 * 60_000;

/// The buckets since `since` in which each of the job's agents sent a
/// heartbeat: `(agent, bucket start)`, by agent then time.
pub async fn beats_since(db: &Db, job: JobId, since: UnixMillis) -> Result<Vec<(AgentId, i64)>, StoreError> {
    let rows = sqlx::query(
        "SELECT b.agent_id, b.bucket_at FROM agent_beats b JOIN agents a ON a.id = b.agent_id
         WHERE a.job_id = $1 AND b.bucket_at >= $2 ORDER BY b.agent_id, b.bucket_at",
    )
    .bind(job.to_string())
    .bind(since.0)
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(|row| Ok((get_id(row, "agent_id")?, row.try_get("bucket_at")?))).collect()
}

/// The job of the tenant's agent `agent`, if the tenant has it.
pub async fn job_of_agent(db: &Db, tenant: TenantId, agent: AgentId) -> Result<Option<JobId>, StoreError> {
    let row = sqlx::query("SELECT job_id FROM agents WHERE id = $1 AND tenant_id = $2")
        .bind(agent.to_string())
        .bind(tenant.to_string())
        .fetch_optional(&db.pool)
        .await?;
    row.map(|row| get_id(&row, "job_id")).transpose()
}

/// Forgets heartbeat buckets older than `before`. Returns how many.
pub async fn prune_beats(db: &Db, before: UnixMillis) -> Result<u64, StoreError> {
    let done = sqlx::query("DELETE FROM agent_beats WHERE bucket_at < $1").bind(before.0).execute(&mut *db.writer().await?).await?;
    Ok(done.rows_affected())
}

/// Revokes a tenant's agent, on `conn` (the caller's write transaction);
/// false when the tenant has no such agent. Revoking twice keeps the
/// first time.
pub async fn revoke(conn: &mut sqlx::AnyConnection, tenant: TenantId, agent: AgentId) -> Result<bool, StoreError> {
    sqlx::query("UPDATE agents SET revoked_at = $1 WHERE id = $2 AND tenant_id = $3 AND revoked_at IS NULL")
        .bind(now_ms())
        .bind(agent.to_string())
        .bind(tenant.to_string())
        .execute(&mut *conn)
        .await?;
    let row = sqlx::query("SELECT COUNT(*) AS n FROM agents WHERE id = $1 AND tenant_id = $2")
        .bind(agent.to_string())
        .bind(tenant.to_string())
        .fetch_one(&mut *conn)
        .await?;
    Ok(row.try_get::<i64, _>("n")? > 0)
}

/// What [`replace_key`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyReplaced {
    Replaced,
    /// The agent is revoked or gone.
    Revoked,
    /// The agent's key is no longer the one the rotation was checked
    /// against: another rotation came first.
    Changed,
}

/// Replaces an unrevoked agent's key `old`, the key the rotation was
/// verified with, by `new`. Conditional on `old`, so of two rotations
/// checked against the same key exactly one takes effect.
pub async fn replace_key(db: &Db, agent: AgentId, old: &PublicKey, new: &PublicKey) -> Result<KeyReplaced, StoreError> {
    let result = sqlx::query("UPDATE agents SET public_key = $1 WHERE id = $2 AND revoked_at IS NULL AND public_key = $3")
        .bind(new.to_base64())
        .bind(agent.to_string())
        .bind(old.to_base64())
        .execute(&mut *db.writer().await?)
        .await?;
    if result.rows_affected() == 1 {
        return Ok(KeyReplaced::Replaced);
    }
    let revoked = sqlx::query("SELECT revoked_at FROM agents WHERE id = $1")
        .bind(agent.to_string())
        .fetch_optional(&db.pool)
        .await?
        .map(|row| row.try_get::<Option<i64>, _>("revoked_at"))
        .transpose()?;
    Ok(match revoked {
        None | Some(Some(_)) => KeyReplaced::Revoked,
        Some(None) => KeyReplaced::Changed,
    })
}
