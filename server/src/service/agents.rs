//! An agent's own operations apart from uploads: redeeming a registration
//! token, rotating its key, and reading its job's scope with the advice on
//! what kind of snapshot to send next.

use roster_proto::agent::{AgentJob, RegisterRequest, RegisterResponse, RotateKey};
use roster_snapshot::keys::PublicKey;

use crate::db::Db;
use crate::error::{AgentKeyError, AppError, AuthError, Missing};
use crate::ingest;
use crate::store;
use crate::store::agents::{AgentRecord, KeyReplaced};

/// Longest hostname or agent version kept; longer ones are cut, not refused
/// (they are shown to admins, never trusted).
const MAX_LABEL_CHARS: usize = 255;

/// Redeems `request`'s registration token and registers its key as a new
/// agent of the token's job, in one transaction: a token is redeemed at most
/// once and only together with the agent it creates.
pub async fn register(db: &Db, audience: &str, request: RegisterRequest) -> Result<RegisterResponse, AppError> {
    let public_key = PublicKey::from_base64(&request.public_key).map_err(AgentKeyError::Invalid)?;
    let label = |s: Option<String>| s.map(|s| s.chars().take(MAX_LABEL_CHARS).collect::<String>());
    let mut tx = db.begin_write().await?;
    let (tenant_id, job_id) =
        store::jobs::redeem_registration_token(&mut tx, db.dialect, request.token.trim()).await?.ok_or(AuthError::RegistrationToken)?;
    let agent_id = store::agents::insert_agent(
        &mut tx,
        tenant_id,
        job_id,
        &public_key,
        label(request.hostname).as_deref(),
        label(request.agent_version).as_deref(),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(tenant = %tenant_id, job = %job_id, agent = %agent_id, "agent registered");
    Ok(RegisterResponse { agent_id, tenant_id, job_id, audience: audience.to_owned() })
}

/// Replaces `agent`'s key with `request.public_key` (the request asking for
/// it was signed with the current one) once `request.proof`, signed by the
/// new key, verifies strictly for this agent, server and current key, and
/// its `jti` was never used; the old key is refused from now on. Of two
/// rotations checked against the same key, one takes effect and the other
/// is refused ([`AgentKeyError::Changed`]).
pub async fn rotate_key(db: &Db, audience: &str, agent: &AgentRecord, request: &RotateKey) -> Result<(), AppError> {
    let key = PublicKey::from_base64(&request.public_key).map_err(AgentKeyError::Invalid)?;
    if key == agent.public_key {
        return Err(AgentKeyError::Unchanged.into());
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let proof = roster_snapshot::token::verify_rotation(&request.proof, &key, agent.id, audience, &agent.public_key, now)
        .map_err(AgentKeyError::Proof)?;
    let until = roster_snapshot::token::remember_until(proof.exp).map_err(AgentKeyError::Proof)?;
    if !store::agents::remember_token(db, proof.jti, store::UnixMillis::from_unix_secs(until)).await? {
        return Err(AgentKeyError::ProofReplayed(proof.jti).into());
    }
    match store::agents::replace_key(db, agent.id, &agent.public_key, &key).await? {
        KeyReplaced::Replaced => {}
        KeyReplaced::Revoked => return Err(AuthError::Revoked(agent.id).into()),
        KeyReplaced::Changed => return Err(AgentKeyError::Changed.into()),
    }
    tracing::info!(tenant = %agent.tenant_id, agent = %agent.id, "agent key rotated");
    Ok(())
}

/// `agent`'s job: its scope, and whether the next snapshot may be a delta.
pub async fn job(db: &Db, agent: &AgentRecord) -> Result<AgentJob, AppError> {
    let job = store::jobs::get_job(db, agent.tenant_id, agent.job_id).await?.ok_or(AppError::NotFound(Missing::Job))?;
    let mut conn = db.pool.acquire().await?;
    let sync = ingest::SyncInputs::read(&mut conn, &job).await?.advice(&job);
    Ok(AgentJob { job_id: job.id, scope: job.scope(), name: job.name, sync, sync_mode: job.sync_mode })
}
