//! The agent API: registration, the job's scope, and the snapshot upload
//! protocol (offer a signed manifest, put the missing chunks, commit).
//! An agent only ever sees its own job's snapshots and sessions. Handlers
//! parse, authorise (the [`AgentCaller`] extractor), call `service` and
//! answer.

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use roster_proto::admin::Session;
use roster_proto::agent::{AgentJob, CommitResponse, OfferSnapshot, RegisterRequest, RegisterResponse, RotateKey, SnapshotState};
use roster_proto::manifest::MAX_CHUNK_BYTES;

use crate::error::{AppError, LimitError, RequestError};
use crate::http::auth::{AgentCaller, ClientAddress};
use crate::http::json::{ApiJson, body_rejected};
use crate::service::{agents, uploads};
use crate::state::AppState;

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
    let registered = agents::register(&state.db, &state.audience, request).await?;
    Ok((StatusCode::CREATED, ApiJson(registered)))
}

/// Replaces the caller's key with the one in the body (the request itself
/// is signed with the current key).
async fn rotate_key(
    State(state): State<AppState>,
    caller: AgentCaller,
    ApiJson(request): ApiJson<RotateKey>,
) -> Result<StatusCode, AppError> {
    agents::rotate_key(&state.db, &caller.agent, &request.public_key).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn job(State(state): State<AppState>, caller: AgentCaller) -> Result<ApiJson<AgentJob>, AppError> {
    Ok(ApiJson(agents::job(&state.db, &caller.agent).await?))
}

async fn offer(
    State(state): State<AppState>,
    caller: AgentCaller,
    ApiJson(offer): ApiJson<OfferSnapshot>,
) -> Result<ApiJson<SnapshotState>, AppError> {
    Ok(ApiJson(uploads::offer(&state.db, &state.limits, &state.audience, &caller.agent, &offer.manifest_token).await?))
}

async fn snapshot_state(
    State(state): State<AppState>,
    caller: AgentCaller,
    Path(id): Path<String>,
) -> Result<ApiJson<SnapshotState>, AppError> {
    let snapshot = uploads::own_snapshot(&state.db, &caller.agent, &id).await?;
    Ok(ApiJson(uploads::state_of(&state.db, &snapshot).await?))
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
    let snapshot = uploads::own_snapshot(&state.db, &caller.agent, &id).await?;
    uploads::put_chunk(&state.db, &snapshot, &index, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Commits the snapshot into the job's directory state; the job's first
/// snapshot is imported at once.
async fn commit(State(state): State<AppState>, caller: AgentCaller, Path(id): Path<String>) -> Result<ApiJson<CommitResponse>, AppError> {
    let snapshot = uploads::own_snapshot(&state.db, &caller.agent, &id).await?;
    Ok(ApiJson(uploads::commit(&state.db, &state.imports, &snapshot).await?))
}

async fn session(State(state): State<AppState>, caller: AgentCaller, Path(id): Path<String>) -> Result<ApiJson<Session>, AppError> {
    Ok(ApiJson(uploads::session(&state.db, &caller.agent, &id).await?))
}
