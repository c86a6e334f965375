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
use roster_proto::{SessionId, SnapshotId};
use roster_snapshot::keys::PublicKey;

use crate::error::{AgentKeyError, AppError, AuthError, LimitError, Missing, RequestError, UploadError};
use crate::http::auth::{AgentCaller, ClientAddress};
use crate::http::json::{ApiJson, body_rejected};
use crate::ingest::{self, Committed, IngestError};
use crate::state::AppState;
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
    state.register_rate.check(client.0, std::time::Instant::now()).map_err(LimitError::rate)?;
    let ApiJson(request) = request?;
    let public_key = PublicKey::from_base64(&request.public_key).map_err(AgentKeyError::Invalid)?;
    let limit = |s: Option<String>| s.map(|s| s.chars().take(255).collect::<String>());
    let mut tx = state.db.begin_write().await?;
    let (tenant_id, job_id) =
        store::jobs::redeem_registration_token(&mut tx, request.token.trim()).await?.ok_or(AuthError::RegistrationToken)?;
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
    let key = PublicKey::from_base64(&request.public_key).map_err(AgentKeyError::Invalid)?;
    if key == caller.agent.public_key {
        return Err(AgentKeyError::Unchanged.into());
    }
    if !store::agents::replace_key(&state.db, caller.agent.id, &key).await? {
        return Err(AuthError::Revoked(caller.agent.id).into());
    }
    tracing::info!(tenant = %caller.agent.tenant_id, agent = %caller.agent.id, "agent key rotated");
    Ok(StatusCode::NO_CONTENT)
}

async fn job(State(state): State<AppState>, caller: AgentCaller) -> Result<ApiJson<AgentJob>, AppError> {
    let job =
        store::jobs::get_job(&state.db, caller.agent.tenant_id, caller.agent.job_id).await?.ok_or(AppError::NotFound(Missing::Job))?;
    let mut conn = state.db.pool.acquire().await?;
    let held = store::directory::state(&mut conn, job.id).await?;
    let requested = store::jobs::full_sync_requested(&mut conn, job.id).await?;
    let sync = ingest::sync_advice(held.as_ref(), &job, requested, store::now_ms());
    Ok(ApiJson(AgentJob { job_id: job.id, scope: job.scope(), name: job.name, sync }))
}

/// The caller's snapshot, or 404 (also for other agents' snapshots).
async fn own_snapshot(state: &AppState, caller: &AgentCaller, id: &str) -> Result<SnapshotRecord, AppError> {
    let id: SnapshotId = id.parse().map_err(|_| AppError::NotFound(Missing::Snapshot))?;
    match store::directory::get_snapshot(&state.db, id).await? {
        Some(s) if s.job_id == caller.agent.job_id && s.tenant_id == caller.agent.tenant_id => Ok(s),
        _ => Err(AppError::NotFound(Missing::Snapshot)),
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
            .map_err(AuthError::Manifest)?;
    let manifest = verified.claims.manifest;
    if manifest.version != FORMAT_VERSION {
        return Err(UploadError::Version(manifest.version).into());
    }
    if manifest.job_id != caller.agent.job_id {
        return Err(AppError::NotFound(Missing::Job));
    }
    check_chunk_list(&manifest)?;
    check_limits(&state, &manifest).await?;
    if manifest.kind == SnapshotKind::Delta {
        // Refuse early what the commit would refuse, before any chunk travels.
        let job =
            store::jobs::get_job(&state.db, caller.agent.tenant_id, manifest.job_id).await?.ok_or(AppError::NotFound(Missing::Job))?;
        let mut conn = state.db.pool.acquire().await?;
        let held = store::directory::state(&mut conn, job.id).await?;
        let requested = store::jobs::full_sync_requested(&mut conn, job.id).await?;
        ingest::check_delta(held.as_ref(), &job, requested, store::now_ms(), manifest.base.as_ref()).map_err(IngestError::BaseMismatch)?;
    }
    let stored = store::directory::offer_snapshot(&state.db, caller.agent.tenant_id, &manifest, &verified.sha256).await?;
    if stored.agent_id != caller.agent.id || stored.job_id != caller.agent.job_id {
        return Err(AppError::NotFound(Missing::Snapshot));
    }
    if stored.manifest != manifest {
        return Err(UploadError::ManifestDiffers(manifest.snapshot_id).into());
    }
    tracing::info!(tenant = %caller.agent.tenant_id, job = %caller.agent.job_id, snapshot = %manifest.snapshot_id, chunks = manifest.chunks.len(), "snapshot offered");
    Ok(ApiJson(state_of(&state, &stored).await?))
}

/// The server's limits on one snapshot and on a job's unfinished ones.
async fn check_limits(state: &AppState, manifest: &roster_proto::manifest::Manifest) -> Result<(), AppError> {
    let limits = &state.limits;
    if manifest.chunks.len() > limits.max_chunks_per_snapshot {
        return Err(LimitError::SnapshotChunks { chunks: manifest.chunks.len(), max: limits.max_chunks_per_snapshot }.into());
    }
    let records: u64 = manifest.chunks.iter().map(|c| c.records).sum();
    if records > limits.max_records_per_snapshot {
        return Err(LimitError::SnapshotRecords { records, max: limits.max_records_per_snapshot }.into());
    }
    let pending = store::directory::pending_snapshots(&state.db, manifest.job_id, manifest.snapshot_id).await?;
    if pending >= limits.max_pending_snapshots_per_job {
        return Err(LimitError::PendingSnapshots { pending, max: limits.max_pending_snapshots_per_job }.into());
    }
    Ok(())
}

/// Chunks are numbered 0..n in order, each within the size limit.
fn check_chunk_list(manifest: &roster_proto::manifest::Manifest) -> Result<(), UploadError> {
    for (position, chunk) in manifest.chunks.iter().enumerate() {
        if chunk.index as usize != position {
            return Err(UploadError::ChunkIndex { position, index: chunk.index });
        }
        if chunk.size == 0 || chunk.size > MAX_CHUNK_BYTES as u64 {
            return Err(UploadError::ChunkSize { position, size: chunk.size });
        }
        if chunk.sha256.len() != 64 || !chunk.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(UploadError::ChunkSha256 { position });
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
        body_rejected(rejection.status(), rejection.body_text(), || RequestError::ChunkTooLarge { max: MAX_CHUNK_BYTES })
    })?;
    let snapshot = own_snapshot(&state, &caller, &id).await?;
    let index: u32 = index.parse().map_err(|_| AppError::NotFound(Missing::Chunk))?;
    let chunk = snapshot.manifest.chunks.get(index as usize).ok_or(AppError::NotFound(Missing::Chunk))?;
    if body.len() as u64 != chunk.size {
        return Err(UploadError::BodySize { index, actual: body.len(), expected: chunk.size }.into());
    }
    roster_snapshot::chunk::verify_hash(&body, &chunk.sha256).map_err(|source| UploadError::BodyHash { index, source })?;
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
            return Err(UploadError::ChunksMissing(current.missing_chunks).into());
        }
        let job = store::jobs::get_job(&state.db, snapshot.tenant_id, snapshot.job_id).await?.ok_or(AppError::NotFound(Missing::Job))?;
        let outcome = ingest::commit(&state.db, &snapshot, &job).await?;
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
    let id: SessionId = id.parse().map_err(|_| AppError::NotFound(Missing::Session))?;
    match store::sessions::get_session(&state.db, caller.agent.tenant_id, id).await? {
        Some(session) if session.job_id == caller.agent.job_id => Ok(ApiJson(session)),
        _ => Err(AppError::NotFound(Missing::Session)),
    }
}
