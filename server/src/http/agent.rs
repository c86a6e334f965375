//! The agent API: registration, the job's scope, the snapshot upload
//! protocol (offer a signed manifest, put the missing chunks, commit), and
//! the control plane (the long poll for commands, their results, heartbeats).
//! An agent only ever sees its own job's snapshots and sessions. Handlers
//! parse, authorise (the [`Signed`] extractor: the token, then the body
//! it binds), call `service` and answer.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Request, State};
use axum::http::StatusCode;
use roster_proto::admin::Session;
use roster_proto::agent::{
    AgentJob, Command, CommandResult, CommitResponse, FENCING_TOKEN_HEADER, Heartbeat, Lease, MAX_COMMAND_WAIT_SECS, OfferResponse,
    OfferSnapshot, RegisterRequest, RegisterResponse, RotateKey, SnapshotState,
};
use roster_proto::manifest::MAX_CHUNK_BYTES;
use roster_proto::problem::Problem;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::error::{AppError, LimitError, RequestError};
use crate::http::auth::{Signed, SignedBody};
use crate::http::client::ClientAddress;
use crate::http::json::{ApiJson, ApiQuery, body_rejected};
use crate::http::openapi::{params, responses};
use crate::service::{agents, commands, leases, uploads};
use crate::state::AppState;

/// The agent routes, each registered with its documentation (`#[utoipa::path]`).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(job))
        .routes(routes!(rotate_key))
        .routes(routes!(offer))
        .routes(routes!(snapshot_state))
        .routes(routes!(put_chunk).layer(DefaultBodyLimit::max(MAX_CHUNK_BYTES + 64 * 1024)))
        .routes(routes!(commit))
        .routes(routes!(session))
        .routes(routes!(lease))
        .routes(routes!(next_command))
        .routes(routes!(command_result))
        .routes(routes!(heartbeat))
}

/// Redeems a registration token. The one route without credentials, so it
/// is rate-limited per client address before the body is even read.
#[utoipa::path(
    post,
    path = "/register",
    operation_id = "registerAgent",
    tag = "agent",
    summary = "Register an agent with a one-time token",
    description = "Needs no Authorization header: the registration token in the body is the credential. It is redeemed by this call.",
    security(),
    request_body(
        content = RegisterRequest,
        content_type = "application/json",
    ),
    responses(
        (status = 201, description = "Registered: the agent's identity and the audience its tokens must name.", body = RegisterResponse, content_type = "application/json"),
        (status = 400, response = responses::BadRequest),
        (status = 401, description = "The registration token is unknown, used or expired.", body = Problem, content_type = "application/problem+json"),
        (status = 413, response = responses::PayloadTooLarge),
        (status = 422, description = "Body does not fit `RegisterRequest`, or `public_key` is not 32 bytes of base64 forming an Ed25519 point, or is a small-order (weak) point such as the identity.", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = inline(responses::RegisterRateLimited)),
        (status = 500, response = responses::Internal),
        (status = 503, response = responses::Unavailable),
    ),
)]
async fn register(
    State(state): State<AppState>,
    client: ClientAddress,
    request: axum::extract::Request,
) -> Result<(StatusCode, ApiJson<RegisterResponse>), AppError> {
    // The limit first: a flood is refused before its bodies are read.
    state.register_rate.check(client.0, std::time::Instant::now()).map_err(LimitError::rate)?;
    let ApiJson(request) = ApiJson::<RegisterRequest>::from_request(request, &state).await?;
    let registered = agents::register(&state.db, &state.audience, request).await?;
    Ok((StatusCode::CREATED, ApiJson(registered)))
}

/// Replaces the caller's key with the one in the body (the request itself
/// is signed with the current key, the body's proof with the new one). The
/// old key is refused from now on.
#[utoipa::path(
    post,
    path = "/key",
    operation_id = "rotateKey",
    tag = "agent",
    summary = "Replace the agent's key",
    description = "Signed with the current key (the request token binds the body, `bsh`), and `proof` signed with the new key (`RotationClaims`: this agent, this server, a fresh `jti`, `replaces` = the sha256 of the current key's 32 raw bytes), verified strictly before the key changes. So a token seen in transit cannot move the agent onto someone else's key. If the answer is lost, the agent tries a request signed with the new key: it works exactly when the server took it. A revoked agent cannot rotate (401).",
    security(("agentRequestToken" = [])),
    request_body(
        content = RotateKey,
        content_type = "application/json",
    ),
    responses(
        (status = 204, description = "The new key is in place; the old one is refused from now on. No body."),
        (status = 401, response = responses::Unauthorized),
        (status = 409, description = "`urn:roster:problem:key-changed`: another rotation replaced the key this request was signed with while this one was checked; nothing changed. Requests signed with the key now in place work.", body = Problem, content_type = "application/problem+json"),
        (status = 413, response = responses::PayloadTooLarge),
        (status = 422, description = "`public_key` is not 32 bytes of base64 making an Ed25519 point, is a small-order (weak) point, or is the current key; or `proof` does not verify strictly with the new key for this agent, server, time and current key, or was used before.", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = responses::TooManyRequests),
        (status = 500, response = responses::Internal),
        (status = 503, response = responses::Unavailable),
    ),
)]
async fn rotate_key(
    State(state): State<AppState>,
    Signed { caller, body: ApiJson(request) }: Signed<ApiJson<RotateKey>>,
) -> Result<StatusCode, AppError> {
    agents::rotate_key(&state.db, &state.audience, &caller.agent, &request).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/job",
    operation_id = "getAgentJob",
    tag = "agent",
    summary = "What the agent is to read",
    description = "Also says, in `sync`, what directory state the server holds for the job (`sync.base`, the watermark a delta must build on) and whether the next snapshot must be full (`sync.full_required`: no state yet, the scope changed since the last full snapshot, the full reconciliation is due, or an admin asked for one). Ask before every snapshot.",
    security(("agentRequestToken" = [])),
    responses(
        (status = 200, description = "The agent's job, scope and sync advice.", body = AgentJob, content_type = "application/json"),
        (status = 401, response = responses::Unauthorized),
        (status = 404, response = responses::NotFound),
        (status = 429, response = responses::TooManyRequests),
        (status = 500, response = responses::Internal),
        (status = 503, response = responses::Unavailable),
    ),
)]
async fn job(State(state): State<AppState>, Signed { caller, .. }: Signed<()>) -> Result<ApiJson<AgentJob>, AppError> {
    Ok(ApiJson(agents::job(&state.db, &caller.agent).await?))
}

#[utoipa::path(
    post,
    path = "/snapshots",
    operation_id = "offerSnapshot",
    tag = "agent",
    summary = "Offer a signed snapshot manifest",
    params(params::FencingToken),
    description = "For a delta (`manifest.kind` = `delta`) the server checks the base before any chunk travels: it answers 409 `urn:roster:problem:delta-base-mismatch` unless `manifest.base` is exactly the watermark it holds for the job (`sync.base` of `GET /agent/v1/job`). A full snapshot's `base` is not looked at.\n\nA small snapshot (a continuous job's change) may travel in this one request: `chunks` carries chunks inline (base64, at most 65536 decoded bytes in all; each checked against the manifest before anything is stored, then stored as `PUT /agent/v1/snapshots/{id}/chunks/{index}` stores it), and `commit: true` then commits the snapshot as `POST /agent/v1/snapshots/{id}/commit` does. The answer's `commit` is that commit's answer; a refused commit answers as the commit route would (409 `chunks-missing`, `delta-base-mismatch` or `fenced`, 422 `invalid-snapshot`), the offer and its chunks stored all the same.",
    security(("agentRequestToken" = [])),
    request_body(
        content = OfferSnapshot,
        content_type = "application/json",
    ),
    responses(
        (status = 200, description = "The snapshot's state: the chunks still missing (all of them for a new offer, but those sent inline). Offering the same manifest again answers the current state, except for a delta whose base is no longer the server's watermark (e.g. once it is committed), which answers 409. With `commit: true`, `commit` is the commit's answer and the state `committed`.", body = OfferResponse, content_type = "application/json"),
        (status = 400, response = responses::BadRequest),
        (status = 401, description = "The request token, or the manifest token (signature, `iss`, `aud`, times, or a `manifest.agent_id`/`snapshot_id` that differs from `iss`/`jti`), does not verify.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`manifest.job_id` is not the agent's job, or the snapshot id belongs to another agent.", body = Problem, content_type = "application/problem+json"),
        (
            status = 409,
            description = "Conflicts, told apart by the problem `type`. `urn:roster:problem:manifest-conflict`: a snapshot with this id was offered before with a different manifest. `urn:roster:problem:delta-base-mismatch`: the manifest is a delta and the server holds no directory state for the job, or the delta names no `base`, or its `base` is not exactly the server's watermark (another snapshot was committed since, the agent's state is stale, ...), or its `watermark` is another DC database than its `base` (dnsHostName or invocationId) or a USN below it; `detail` says which. Nothing is stored: read and send a full snapshot instead (the agent does so at once). `urn:roster:problem:too-many-pending-snapshots`: the job already has as many unfinished snapshots as allowed (default 4): commit one, or wait until unfinished snapshots expire (default after 24 h, chunks and all). `urn:roster:problem:storage-quota-in-use`: the chunk sizes of this manifest and of the job's other unfinished snapshots together (stored or still to come) exceed the job's storage quota (default 4 GiB): commit them, or wait until they expire. Offering a snapshot again does not count against itself. `urn:roster:problem:fenced`: the job's lease is held by another agent, or the `Roster-Fencing-Token` sent is older than the lease's newest grant (another agent took over) or was never granted; nothing is stored: ask for the lease again (`POST /agent/v1/lease`) and stand by if it is another's. A delta is also refused this way while the server requires a full snapshot (`GET /agent/v1/job` says why in `sync.full_required`: no state yet, the job's scope changed, a reconciliation is due or was requested).",
            body = Problem,
            content_type = "application/problem+json",
            examples(
                ("deltaBaseMismatch" = (summary = "A delta the server cannot apply", value = json!({
                    "type": "urn:roster:problem:delta-base-mismatch",
                    "title": "Conflict",
                    "status": 409,
                    "detail": "the delta builds on dc01.corp.example.test@4f1c2d3e-5a6b-4c7d-8e9f-0a1b2c3d4e5f USN 41235, but the server holds dc01.corp.example.test@4f1c2d3e-5a6b-4c7d-8e9f-0a1b2c3d4e5f USN 41870: send a full snapshot"
                }))),
                ("differentManifest" = (summary = "The id was used for another manifest", value = json!({
                    "type": "urn:roster:problem:manifest-conflict",
                    "title": "Conflict",
                    "status": 409,
                    "detail": "snapshot c9f0f895-fb98-4b91-99f5-1a2b3c4d5e6f was offered before with a different manifest"
                }))),
            ),
        ),
        (status = 413, description = "The manifest names more chunks (default limit 10,000) or more records (default 20,000,000) than the server accepts (`urn:roster:problem:snapshot-too-large`), or chunks of more bytes than a job's storage quota for unfinished snapshots (default 4 GiB; `urn:roster:problem:snapshot-over-quota`); nothing is stored.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Body does not fit `OfferSnapshot`; `manifest.version` is not 1; or the chunk list is malformed (indexes not 0..n in order, a size outside 1..=1048576, a sha256 that is not 64 hex digits) (`urn:roster:problem:invalid-manifest`); or a chunk sent inline is not named by the manifest, is sent twice, is not standard padded base64, does not match its `size` or `sha256`, or the inline chunks exceed 65536 bytes (`urn:roster:problem:chunk-mismatch`; nothing is stored); or the snapshot was offered before and its commit refused it, or `commit: true` and the commit refused it for its contents (`urn:roster:problem:invalid-snapshot`): offer a new one.", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = responses::TooManyRequests),
        (status = 500, response = responses::Internal),
        (status = 503, response = responses::Unavailable),
    ),
)]
async fn offer(
    State(state): State<AppState>,
    FencingToken(fence): FencingToken,
    Signed { caller, body: ApiJson(offer) }: Signed<ApiJson<OfferSnapshot>>,
) -> Result<ApiJson<OfferResponse>, AppError> {
    Ok(ApiJson(uploads::offer(&state.db, &state.limits, &state.imports, &state.audience, &caller.agent, fence, &offer).await?))
}

/// `Roster-Fencing-Token`: the fencing token of the sender's lease, if it sent one.
struct FencingToken(Option<u64>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for FencingToken {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, AppError> {
        let Some(value) = parts.headers.get(FENCING_TOKEN_HEADER) else { return Ok(FencingToken(None)) };
        let malformed = || RequestError::MalformedHeader { name: "Roster-Fencing-Token", expected: "a positive decimal integer" };
        let text = value.to_str().map_err(|_| malformed())?;
        match text.parse::<u64>() {
            Ok(token) if token > 0 && token.to_string() == text => Ok(FencingToken(Some(token))),
            _ => Err(malformed().into()),
        }
    }
}

/// Asks for the job's lease: the answer says whether this agent holds it
/// (and its fencing token) or stands by.
#[utoipa::path(
    post,
    path = "/lease",
    operation_id = "claimLease",
    tag = "agent",
    summary = "Hold the job's lease, or stand by",
    description = "No request body. Of a job's agents exactly one holds its lease at a time (60 s by default, `ROSTER_LEASE_TTL_SECS`; renewed by each request for the lease and each poll for commands): only the holder is handed commands and pushes snapshots; the others stand by and take the lease over once its holder has been silent past `expires_at`. Every grant to a new holder increases the job's fencing token; the holder sends it in the `Roster-Fencing-Token` header with every offer, chunk and commit, and anything sent with an older token, or by an agent that does not hold the lease, is refused (409 `urn:roster:problem:fenced`). A request for the lease that carries a fencing token asks to renew that grant: if another agent took over since (the sender was paused or restarted past its lease), it is refused the same way, and the agent asks again without the token. `roster-agent` asks with every heartbeat (every 30 s) and before every push, sending the token it holds (kept in its state directory across restarts).",
    security(("agentRequestToken" = [])),
    responses(
        (status = 200, description = "Whether this agent holds the lease: `active` with its `fencing_token`, or a standby until at least `expires_at`.", body = Lease, content_type = "application/json"),
        (status = 400, response = responses::BadHeader),
        (status = 401, response = responses::Unauthorized),
        (status = 404, description = "The agent's job was deleted.", body = Problem, content_type = "application/problem+json"),
        (status = 409, response = responses::Fenced),
        (status = 429, response = responses::TooManyRequests),
        (status = 500, response = responses::Internal),
        (status = 503, response = responses::Unavailable),
    ),
)]
async fn lease(
    State(state): State<AppState>,
    FencingToken(fence): FencingToken,
    Signed { caller, .. }: Signed<()>,
) -> Result<ApiJson<Lease>, AppError> {
    Ok(ApiJson(leases::claim(&state.db, &state.limits, &caller.agent, fence).await?))
}

#[utoipa::path(
    get,
    path = "/snapshots/{id}",
    operation_id = "getSnapshotState",
    tag = "agent",
    summary = "Where an offered snapshot stands",
    params(params::SnapshotId),
    security(("agentRequestToken" = [])),
    responses(
        (status = 200, description = "The snapshot's state.", body = SnapshotState, content_type = "application/json"),
        (status = 401, response = responses::Unauthorized),
        (status = 404, response = responses::NotFound),
        (status = 429, response = responses::TooManyRequests),
        (status = 500, response = responses::Internal),
        (status = 503, response = responses::Unavailable),
    ),
)]
async fn snapshot_state(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Signed { caller, .. }: Signed<()>,
) -> Result<ApiJson<SnapshotState>, AppError> {
    let snapshot = uploads::own_snapshot(&state.db, &caller.agent, &id).await?;
    Ok(ApiJson(uploads::state_of(&state.db, &snapshot).await?))
}

#[utoipa::path(
    put,
    path = "/snapshots/{id}/chunks/{index}",
    operation_id = "putChunk",
    tag = "agent",
    summary = "Upload one chunk",
    description = "Idempotent: a chunk already stored is not stored again. Chunks are decoded and counted only at commit.",
    params(params::SnapshotId, params::ChunkIndex, params::FencingToken),
    security(("agentRequestToken" = [])),
    request_body(
        content_type = "application/octet-stream",
        description = "The chunk exactly as the manifest names it: gzip-compressed NDJSON, one `Record` (json/record.schema.json) per line, at most 1 MiB (1048576 bytes) uncompressed; its length and sha256 must equal the manifest's `size` and `sha256`. The Content-Type is not checked.",
    ),
    responses(
        (status = 204, description = "Stored (or already stored, or the snapshot is already committed and the bytes match the manifest)."),
        (status = 400, response = responses::BadHeader),
        (status = 401, response = responses::Unauthorized),
        (status = 404, response = responses::NotFound),
        (status = 409, response = responses::Fenced),
        (status = 413, description = "The body exceeds 1 MiB + 64 KiB (1114112 bytes).", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The body's length is not the manifest's `size` for this chunk, or its sha256 is not the manifest's `sha256`.", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = responses::TooManyRequests),
        (status = 500, response = responses::Internal),
        (status = 503, response = responses::Unavailable),
    ),
)]
async fn put_chunk(
    State(state): State<AppState>,
    Path((id, index)): Path<(String, String)>,
    FencingToken(fence): FencingToken,
    Signed { caller, body: ChunkBody(body) }: Signed<ChunkBody>,
) -> Result<StatusCode, AppError> {
    let snapshot = uploads::own_snapshot(&state.db, &caller.agent, &id).await?;
    uploads::put_chunk(&state.db, &caller.agent, fence, &snapshot, &index, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Checks that every chunk is there, then commits the snapshot into the
/// job's directory state (see `ingest`). The job's first snapshot queues an
/// import at once. Committing twice answers the same.
#[utoipa::path(
    post,
    path = "/snapshots/{id}/commit",
    operation_id = "commitSnapshot",
    tag = "agent",
    summary = "Commit a snapshot whose chunks are all uploaded",
    description = "No request body. Committing is one transaction: every chunk is checked against its sha256, decoded and counted against the manifest, then a full snapshot replaces the job's directory state, or a delta changes it (its users and groups are kept where they are in the job's scope or already in the state, its `deleted` records remove objects), and the manifest's `watermark` becomes the job's watermark (`sync.base`). A commit refused for a missing chunk changes nothing: the snapshot stays `receiving`. One refused for its contents or its base (422, or 409 `delta-base-mismatch`) changes no state either, but the snapshot is marked failed at once and its chunks deleted, so it no longer counts against the job's unfinished snapshots; it can never be committed. Once applied, a snapshot's chunks are deleted (the job's newest full snapshot's may be kept a few days, default 7). Committing twice answers the same.",
    params(params::SnapshotId, params::FencingToken),
    security(("agentRequestToken" = [])),
    responses(
        (status = 200, description = "Committed (or already committed). `session` is present when this was the job's first snapshot, which is imported at once; later snapshots are imported at the job's schedule or when an admin starts an import.", body = CommitResponse, content_type = "application/json"),
        (status = 400, response = responses::BadHeader),
        (status = 401, response = responses::Unauthorized),
        (status = 404, response = responses::NotFound),
        (
            status = 409,
            description = "Told apart by the problem `type`. `urn:roster:problem:chunks-missing`: chunks are still missing (listed in `detail`). `urn:roster:problem:delta-base-mismatch`: the snapshot is a delta and, checked again now, does not build on the watermark the server holds (another snapshot was committed since the offer, or the server holds no state) or names no `base`, or one of its users, groups or OUs has the objectGUID of an object of another kind in the state; send a full snapshot instead. A delta is also refused this way while the server requires a full snapshot (`GET /agent/v1/job` says why in `sync.full_required`: no state yet, the job's scope changed, a reconciliation is due or was requested). `urn:roster:problem:fenced`: the job's lease is held by another agent, or the `Roster-Fencing-Token` sent is older than the lease's newest grant (another agent took over) or was never granted; the snapshot is marked failed: ask for the lease again (`POST /agent/v1/lease`) and stand by if it is another's.",
            body = Problem,
            content_type = "application/problem+json",
            examples(
                ("deltaBaseMismatch" = (summary = "The state moved on since the offer", value = json!({
                    "type": "urn:roster:problem:delta-base-mismatch",
                    "title": "Conflict",
                    "status": 409,
                    "detail": "the server holds no directory state for this job yet: send a full snapshot"
                }))),
                ("missingChunks" = (summary = "Not all chunks uploaded", value = json!({
                    "type": "urn:roster:problem:chunks-missing",
                    "title": "Conflict",
                    "status": 409,
                    "detail": "chunks still missing: [1, 2]"
                }))),
            ),
        ),
        (status = 422, description = "The snapshot's contents do not fit its manifest or its kind: a chunk's bytes do not match its `sha256`, or are not valid gzip/NDJSON of records, or hold more than 1 MiB uncompressed; a chunk's records do not number its `records`; the records do not match `counts` (users, groups, ous and deleted); a full snapshot holds a `deleted` record (tombstones belong only in deltas); or the job's scope does not resolve against the manifest's `directory.base_dn`; or the snapshot failed such a check before.", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = responses::TooManyRequests),
        (status = 500, response = responses::Internal),
        (status = 503, response = responses::Unavailable),
    ),
)]
async fn commit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    FencingToken(fence): FencingToken,
    Signed { caller, .. }: Signed<()>,
) -> Result<ApiJson<CommitResponse>, AppError> {
    let snapshot = uploads::own_snapshot(&state.db, &caller.agent, &id).await?;
    Ok(ApiJson(uploads::commit(&state.db, &state.limits, &state.imports, &snapshot, fence).await?))
}

#[utoipa::path(
    get,
    path = "/sessions/{id}",
    operation_id = "getAgentSession",
    tag = "agent",
    summary = "Follow an import session of the agent's job",
    description = "An agent follows the session its first snapshot started until it settles: `succeeded`, `failed`, `rejected`, or `held` (the safeguard stopped it; it waits for an admin).",
    params(params::SessionId),
    security(("agentRequestToken" = [])),
    responses(
        (status = 200, description = "The session.", body = Session, content_type = "application/json"),
        (status = 401, response = responses::Unauthorized),
        (status = 404, description = "No such session, or it belongs to another job.", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = responses::TooManyRequests),
        (status = 500, response = responses::Internal),
        (status = 503, response = responses::Unavailable),
    ),
)]
async fn session(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Signed { caller, .. }: Signed<()>,
) -> Result<ApiJson<Session>, AppError> {
    Ok(ApiJson(uploads::session(&state.db, &caller.agent, &id).await?))
}

/// A chunk's bytes, exactly as uploaded (within the chunk route's limit).
#[derive(Debug)]
struct ChunkBody(Bytes);

impl SignedBody for ChunkBody {
    fn too_large(_: String) -> RequestError {
        RequestError::ChunkTooLarge { max: MAX_CHUNK_BYTES }
    }

    async fn parse(request: Request, state: &AppState) -> Result<ChunkBody, AppError> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| body_rejected(rejection.status(), rejection.body_text(), || ChunkBody::too_large(String::new())))?;
        Ok(ChunkBody(bytes))
    }
}

/// `GET /agent/v1/commands`'s query.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CommandWait {
    #[serde(default)]
    wait: u32,
}

#[utoipa::path(
    get,
    path = "/commands",
    operation_id = "nextAgentCommand",
    tag = "agent",
    summary = "Wait for the next command",
    description = "The agent's long poll (`roster-agent run` asks with `wait=30` in a loop): the oldest command for the agent's job that it has not reported on, held open up to `wait` seconds while there is none. A command stays the agent's own once delivered and is answered again until its result is reported (after a restart, say); run it, then `POST /agent/v1/commands/{id}/result`. While the job has no directory state, the first poll is given a full push, so its first import follows by itself. Every poll counts as a sign of life (`Agent.last_seen_at`) and asks for the job's lease as `POST /agent/v1/lease` does (with the `Roster-Fencing-Token` the agent holds, if any): only the holder is handed commands, a standby's poll answers 204 after `wait`.",
    params(params::CommandWait),
    security(("agentRequestToken" = [])),
    responses(
        (status = 200, description = "A command to run.", body = Command, content_type = "application/json"),
        (status = 204, description = "No command within `wait` seconds: ask again."),
        (status = 400, description = "A query parameter is invalid (`wait` above the maximum), or the `Roster-Fencing-Token` header is not a positive decimal integer.", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = responses::Unauthorized),
        (status = 409, response = responses::Fenced),
        (status = 429, response = responses::TooManyRequests),
        (status = 500, response = responses::Internal),
        (status = 503, response = responses::Unavailable),
    ),
)]
async fn next_command(
    State(state): State<AppState>,
    FencingToken(fence): FencingToken,
    ApiQuery(query): ApiQuery<CommandWait>,
    Signed { caller, .. }: Signed<()>,
) -> Result<axum::response::Response, AppError> {
    use axum::response::IntoResponse;
    if query.wait > MAX_COMMAND_WAIT_SECS {
        return Err(RequestError::MalformedQuery(format!(
            "wait must be between 0 and {MAX_COMMAND_WAIT_SECS} seconds, got {}",
            query.wait
        ))
        .into());
    }
    let wait = std::time::Duration::from_secs(u64::from(query.wait));
    Ok(match commands::next_command(&state.db, &state.limits, &state.commands, &caller.agent, fence, wait).await? {
        Some(command) => ApiJson(command).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

#[utoipa::path(
    post,
    path = "/commands/{id}/result",
    operation_id = "reportAgentCommand",
    tag = "agent",
    summary = "Report how a command went",
    description = "Acknowledges a command delivered to this agent, once: it is never delivered again. A failed push that an import waiting for fresh data asked for fails that import at once, with `message` as the reason.",
    params(params::CommandId),
    security(("agentRequestToken" = [])),
    request_body(content = CommandResult, content_type = "application/json"),
    responses(
        (status = 204, description = "Recorded."),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 404, description = "No such command was delivered to this agent.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The command's result was reported before (`urn:roster:problem:command-already-reported`); the first stands. An agent that lost the first answer may take this as done.", body = Problem, content_type = "application/problem+json"),
        (status = 413, response = responses::PayloadTooLarge),
        (status = 422, description = "Body does not fit `CommandResult`.", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = responses::TooManyRequests),
        (status = 500, response = responses::Internal),
        (status = 503, response = responses::Unavailable),
    ),
)]
async fn command_result(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Signed { caller, body: ApiJson(result) }: Signed<ApiJson<CommandResult>>,
) -> Result<StatusCode, AppError> {
    let id = id.parse().map_err(|_| AppError::NotFound(crate::error::Missing::Command))?;
    commands::report(&state.db, &caller.agent, id, &result).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/heartbeat",
    operation_id = "agentHeartbeat",
    tag = "agent",
    summary = "Say how the agent is",
    description = "Sent every 30 s by `roster-agent run`; shown in `GET /api/v1/agents` (host name, OS, version, whether the DC answered, the last error).",
    security(("agentRequestToken" = [])),
    request_body(content = Heartbeat, content_type = "application/json"),
    responses(
        (status = 204, description = "Recorded."),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 413, response = responses::PayloadTooLarge),
        (status = 422, description = "Body does not fit `Heartbeat`.", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = responses::TooManyRequests),
        (status = 500, response = responses::Internal),
        (status = 503, response = responses::Unavailable),
    ),
)]
async fn heartbeat(
    State(state): State<AppState>,
    Signed { caller, body: ApiJson(beat) }: Signed<ApiJson<Heartbeat>>,
) -> Result<StatusCode, AppError> {
    commands::heartbeat(&state.db, &caller.agent, &beat).await?;
    Ok(StatusCode::NO_CONTENT)
}
