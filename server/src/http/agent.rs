//! The agent API: registration, the job's scope, and the snapshot upload
//! protocol (offer a signed manifest, put the missing chunks, commit).
//! An agent only ever sees its own job's snapshots and sessions.

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use roster_proto::admin::Session;
use roster_proto::agent::{
    AgentJob, CommitResponse, OfferSnapshot, RegisterRequest, RegisterResponse, RotateKey, SnapshotState, SnapshotStatus,
};
use roster_proto::manifest::{FORMAT_VERSION, MAX_CHUNK_BYTES, SnapshotKind};
use roster_snapshot::keys::PublicKey;
use uuid::Uuid;

use crate::app::AppState;
use crate::error::AppError;
use crate::http::auth::{AgentCaller, ClientAddress};
use crate::http::json::{ApiJson, body_rejected};
use crate::ingest::{self, Committed, IngestError};
use crate::store;
use crate::store::directory::SnapshotRecord;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/register", post(register))
        .route("/job", get(job))
        .route("/key", post(rotate_key))
        .route("/snapshots", post(offer))
        .route("/snapshots/{id}", get(snapshot_state))
        .route("/snapshots/{id}/chunks/{index}", put(put_chunk).layer(DefaultBodyLimit::max(MAX_CHUNK_BYTES + 64 * 1024)))
        .route("/snapshots/{id}/commit", post(commit))
        .route("/sessions/{id}", get(session))
}

/// Redeems a registration token. The one route without credentials, so it
/// is rate-limited per client address before the body is even read.
async fn register(
    State(state): State<AppState>,
    client: ClientAddress,
    request: Result<ApiJson<RegisterRequest>, AppError>,
) -> Result<(StatusCode, ApiJson<RegisterResponse>), AppError> {
    state.register_rate.check(client.0, std::time::Instant::now()).map_err(AppError::TooManyRequests)?;
    let ApiJson(request) = request?;
    let public_key = PublicKey::from_base64(&request.public_key).map_err(|e| AppError::Unprocessable(e.to_string()))?;
    let limit = |s: Option<String>| s.map(|s| s.chars().take(255).collect::<String>());
    let mut tx = state.db.begin_write().await?;
    let (tenant_id, job_id) = store::jobs::redeem_registration_token(&mut tx, request.token.trim())
        .await?
        .ok_or_else(|| AppError::Unauthorized("registration token unknown, used or expired".into()))?;
    let agent_id = store::agents::insert_agent(
        &mut tx,
        tenant_id,
        job_id,
        &public_key,
        limit(request.hostname).as_deref(),
        limit(request.agent_version).as_deref(),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(tenant = %tenant_id, job = %job_id, agent = %agent_id, "agent registered");
    Ok((StatusCode::CREATED, ApiJson(RegisterResponse { agent_id, tenant_id, job_id, audience: state.audience.to_string() })))
}

/// Replaces the caller's key with the one in the body (the request itself
/// is signed with the current key). The old key is refused from now on.
async fn rotate_key(
    State(state): State<AppState>,
    caller: AgentCaller,
    ApiJson(request): ApiJson<RotateKey>,
) -> Result<StatusCode, AppError> {
    let key = PublicKey::from_base64(&request.public_key).map_err(|e| AppError::Unprocessable(e.to_string()))?;
    if key == caller.agent.public_key {
        return Err(AppError::Unprocessable("the new key is the current key".into()));
    }
    if !store::agents::replace_key(&state.db, caller.agent.id, &key).await? {
        return Err(AppError::Unauthorized(format!("agent {} is revoked", caller.agent.id)));
    }
    tracing::info!(tenant = %caller.agent.tenant_id, agent = %caller.agent.id, "agent key rotated");
    Ok(StatusCode::NO_CONTENT)
}

async fn job(State(state): State<AppState>, caller: AgentCaller) -> Result<ApiJson<AgentJob>, AppError> {
    let job = store::jobs::get_job(&state.db, caller.agent.tenant_id, caller.agent.job_id).await?.ok_or(AppError::NotFound("job"))?;
    let mut conn = state.db.pool.acquire().await?;
    let held = store::directory::state(&mut conn, job.id).await?;
    let requested = store::jobs::full_sync_requested(&mut conn, job.id).await?;
    let sync = ingest::sync_advice(held.as_ref(), &job, requested, store::now_ms());
    Ok(ApiJson(AgentJob { job_id: job.id, scope: job.scope(), name: job.name, sync }))
}

/// The caller's snapshot, or 404 (also for other agents' snapshots).
async fn own_snapshot(state: &AppState, caller: &AgentCaller, id: &str) -> Result<SnapshotRecord, AppError> {
    let id: Uuid = id.parse().map_err(|_| AppError::NotFound("snapshot"))?;
    match store::directory::get_snapshot(&state.db, id).await? {
        Some(s) if s.job_id == caller.agent.job_id && s.tenant_id == caller.agent.tenant_id => Ok(s),
        _ => Err(AppError::NotFound("snapshot")),
    }
}

async fn state_of(state: &AppState, snapshot: &SnapshotRecord) -> Result<SnapshotState, AppError> {
    let stored = store::directory::stored_chunks(&state.db, snapshot.id).await?;
    let missing = snapshot.manifest.chunks.iter().map(|c| c.index).filter(|i| stored.binary_search(i).is_err()).collect();
    Ok(SnapshotState {
        snapshot_id: snapshot.id,
        status: if snapshot.committed { SnapshotStatus::Committed } else { SnapshotStatus::Receiving },
        missing_chunks: missing,
    })
}

async fn offer(
    State(state): State<AppState>,
    caller: AgentCaller,
    ApiJson(offer): ApiJson<OfferSnapshot>,
) -> Result<ApiJson<SnapshotState>, AppError> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let verified =
        roster_snapshot::token::verify_manifest(&offer.manifest_token, &caller.agent.public_key, caller.agent.id, &state.audience, now)
            .map_err(|e| AppError::Unauthorized(format!("manifest: {e}")))?;
    let manifest = verified.claims.manifest;
    if manifest.version != FORMAT_VERSION {
        return Err(AppError::Unprocessable(format!(
            "manifest version {} is not supported (this server speaks {FORMAT_VERSION})",
            manifest.version
        )));
    }
    if manifest.job_id != caller.agent.job_id {
        return Err(AppError::NotFound("job"));
    }
    check_chunk_list(&manifest)?;
    check_limits(&state, &manifest).await?;
    if manifest.kind == SnapshotKind::Delta {
        // Refuse early what the commit would refuse, before any chunk travels.
        let job = store::jobs::get_job(&state.db, caller.agent.tenant_id, manifest.job_id).await?.ok_or(AppError::NotFound("job"))?;
        let mut conn = state.db.pool.acquire().await?;
        let held = store::directory::state(&mut conn, job.id).await?;
        let requested = store::jobs::full_sync_requested(&mut conn, job.id).await?;
        ingest::check_delta(held.as_ref(), &job, requested, store::now_ms(), manifest.base.as_ref())
            .map_err(AppError::DeltaBaseMismatch)?;
    }
    let stored = store::directory::offer_snapshot(&state.db, caller.agent.tenant_id, &manifest, &verified.sha256).await?;
    if stored.agent_id != caller.agent.id || stored.job_id != caller.agent.job_id {
        return Err(AppError::NotFound("snapshot"));
    }
    if stored.manifest != manifest {
        return Err(AppError::Conflict(format!("snapshot {} was offered before with a different manifest", manifest.snapshot_id)));
    }
    tracing::info!(tenant = %caller.agent.tenant_id, job = %caller.agent.job_id, snapshot = %manifest.snapshot_id, chunks = manifest.chunks.len(), "snapshot offered");
    Ok(ApiJson(state_of(&state, &stored).await?))
}

/// The server's limits on one snapshot and on a job's unfinished ones.
async fn check_limits(state: &AppState, manifest: &roster_proto::manifest::Manifest) -> Result<(), AppError> {
    let limits = &state.limits;
    if manifest.chunks.len() > limits.max_chunks_per_snapshot {
        return Err(AppError::PayloadTooLarge(format!(
            "the snapshot has {} chunks; this server accepts at most {}",
            manifest.chunks.len(),
            limits.max_chunks_per_snapshot
        )));
    }
    let records: u64 = manifest.chunks.iter().map(|c| c.records).sum();
    if records > limits.max_records_per_snapshot {
        return Err(AppError::PayloadTooLarge(format!(
            "the snapshot holds {records} records; this server accepts at most {}",
            limits.max_records_per_snapshot
        )));
    }
    let pending = store::directory::pending_snapshots(&state.db, manifest.job_id, manifest.snapshot_id).await?;
    if pending >= limits.max_pending_snapshots_per_job {
        return Err(AppError::Conflict(format!(
            "the job already has {pending} unfinished snapshots (at most {}): commit one, or wait until unfinished ones expire",
            limits.max_pending_snapshots_per_job
        )));
    }
    Ok(())
}

/// Chunks are numbered 0..n in order, each within the size limit.
fn check_chunk_list(manifest: &roster_proto::manifest::Manifest) -> Result<(), AppError> {
    for (position, chunk) in manifest.chunks.iter().enumerate() {
        if chunk.index as usize != position {
            return Err(AppError::Unprocessable(format!(
                "manifest chunk {position} has index {}; chunks must be numbered from 0 in order",
                chunk.index
            )));
        }
        if chunk.size == 0 || chunk.size > MAX_CHUNK_BYTES as u64 {
            return Err(AppError::Unprocessable(format!(
                "manifest chunk {position} has size {}; allowed 1..={MAX_CHUNK_BYTES}",
                chunk.size
            )));
        }
        if chunk.sha256.len() != 64 || !chunk.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(AppError::Unprocessable(format!("manifest chunk {position} has a malformed sha256")));
        }
    }
    Ok(())
}

async fn snapshot_state(
    State(state): State<AppState>,
    caller: AgentCaller,
    Path(id): Path<String>,
) -> Result<ApiJson<SnapshotState>, AppError> {
    let snapshot = own_snapshot(&state, &caller, &id).await?;
    Ok(ApiJson(state_of(&state, &snapshot).await?))
}

async fn put_chunk(
    State(state): State<AppState>,
    caller: AgentCaller,
    Path((id, index)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, AppError> {
    let body = body.map_err(|rejection| {
        body_rejected(rejection.status(), rejection.body_text(), || format!("a chunk may be at most {MAX_CHUNK_BYTES} bytes"))
    })?;
    let snapshot = own_snapshot(&state, &caller, &id).await?;
    let index: u32 = index.parse().map_err(|_| AppError::NotFound("chunk"))?;
    let chunk = snapshot.manifest.chunks.get(index as usize).ok_or(AppError::NotFound("chunk"))?;
    if body.len() as u64 != chunk.size {
        return Err(AppError::Unprocessable(format!("chunk {index} is {} bytes; the manifest says {}", body.len(), chunk.size)));
    }
    roster_snapshot::chunk::verify_hash(&body, &chunk.sha256).map_err(|e| AppError::Unprocessable(format!("chunk {index}: {e}")))?;
    if snapshot.committed {
        return Ok(StatusCode::NO_CONTENT);
    }
    store::directory::put_chunk(&state.db, snapshot.id, index, &chunk.sha256, &body).await?;
    crate::fault::chunk_stored();
    Ok(StatusCode::NO_CONTENT)
}

/// Checks that every chunk is there, then commits the snapshot into the
/// job's directory state (see `ingest`). The job's first snapshot queues an
/// import at once. Committing twice answers the same.
async fn commit(State(state): State<AppState>, caller: AgentCaller, Path(id): Path<String>) -> Result<ApiJson<CommitResponse>, AppError> {
    let snapshot = own_snapshot(&state, &caller, &id).await?;
    if !snapshot.committed {
        let current = state_of(&state, &snapshot).await?;
        if !current.missing_chunks.is_empty() {
            return Err(AppError::Conflict(format!("chunks still missing: {:?}", current.missing_chunks)));
        }
        let job = store::jobs::get_job(&state.db, snapshot.tenant_id, snapshot.job_id).await?.ok_or(AppError::NotFound("job"))?;
        let outcome = ingest::commit(&state.db, &snapshot, &job).await.map_err(|error| match error {
            IngestError::Store(e) => AppError::from(e),
            IngestError::BaseMismatch(detail) => AppError::DeltaBaseMismatch(detail),
            IngestError::MissingChunk(_) => AppError::Conflict(error.to_string()),
            other => AppError::Unprocessable(other.to_string()),
        })?;
        if outcome == (Committed::Now { first: true }) {
            state.imports.wake();
        }
        tracing::info!(tenant = %snapshot.tenant_id, job = %snapshot.job_id, snapshot = %snapshot.id, kind = ?snapshot.manifest.kind, "snapshot committed");
    }
    let session = store::sessions::session_for_snapshot(&state.db, snapshot.id).await?;
    let message = match &session {
        Some(_) => "first snapshot of the job: imported at once".to_owned(),
        None => "snapshot stored: it is imported at the job's scheduled time, or when an admin starts an import".to_owned(),
    };
    Ok(ApiJson(CommitResponse { snapshot_id: snapshot.id, session, message }))
}

async fn session(State(state): State<AppState>, caller: AgentCaller, Path(id): Path<String>) -> Result<ApiJson<Session>, AppError> {
    let id: Uuid = id.parse().map_err(|_| AppError::NotFound("session"))?;
    match store::sessions::get_session(&state.db, caller.agent.tenant_id, id).await? {
        Some(session) if session.job_id == caller.agent.job_id => Ok(ApiJson(session)),
        _ => Err(AppError::NotFound("session")),
    }
}
