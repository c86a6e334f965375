//! Session handlers: a job's sessions, one session, its itemised changes,
//! and approving or rejecting a held one.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use roster_proto::SessionId;
use roster_proto::admin::{Decision, Page, Session, SessionChange};
use roster_proto::problem::Problem;
use roster_proto::schema::openapi::{SessionChangePage, SessionPage};

use super::{PageQuery, TenantJob, parse_id, time_and_id};
use crate::error::{AppError, Missing};
use crate::http::auth::Admin;
use crate::http::cursor;
use crate::http::json::{self, ApiJson, ApiQuery};
use crate::http::openapi::{examples, params, responses};
use crate::service;
use crate::state::AppState;
use crate::store;
use crate::store::sessions::Verdict;

#[utoipa::path(
    get,
    path = "/jobs/{job}/sessions",
    operation_id = "listSessions",
    tag = "admin",
    summary = "List the job's import sessions",
    params(params::Job, params::Limit, params::Cursor),
    responses(
        (status = 200, description = "A page of sessions, newest first.", body = SessionPage, content_type = "application/json"),
        (status = 400, response = responses::BadQuery),
        (status = 401, response = responses::Unauthorized),
        (status = 404, response = responses::NotFound),
        (status = 429, response = responses::TooManyRequests),
        (status = 500, response = responses::Internal),
        (status = 503, response = responses::Unavailable),
    ),
)]
pub(super) async fn list_sessions(
    State(state): State<AppState>,
    TenantJob { job, .. }: TenantJob,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<ApiJson<Page<Session>>, AppError> {
    let before = match &page.cursor {
        Some(c) => Some(time_and_id::<SessionId>(c)?),
        None => None,
    };
    let (items, next) = store::sessions::list_sessions(&state.db, job.id, page.limit()?, before).await?;
    Ok(ApiJson(Page { items, next_cursor: next.map(|(ms, id)| cursor::encode(&[ms.to_string(), id.to_string()])) }))
}

#[utoipa::path(
    get,
    path = "/sessions/{id}",
    operation_id = "getSession",
    tag = "admin",
    summary = "Get an import session",
    params(params::SessionId),
    responses(
        (
            status = 200,
            description = "The session.",
            body = Session,
            content_type = "application/json",
            examples(
                ("held" = (summary = "Held by the safeguard", value = json!({
                    "id": "45c48cce-2e2d-4fbd-aa1a-fc51c7c4b8e1",
                    "job_id": "8f14e45f-ceea-467f-a0e6-3c1b2d4e5f60",
                    "trigger": "schedule",
                    "status": "held",
                    "snapshot_id": "c9f0f895-fb98-4b91-99f5-1a2b3c4d5e6f",
                    "manifest_sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                    "counts": {
                        "created": 0,
                        "updated": 0,
                        "deactivated": 10,
                        "reactivated": 0,
                        "lost_basic": 10,
                        "unchanged": 20,
                        "not_linked": 0
                    },
                    "notes": [],
                    "held_reasons": [
                        "the plan deactivates 10 of 30 active users; the policy allows 3 (500 or 10 %, whichever is smaller)"
                    ],
                    "created_at": "2026-11-25T02:00:05.125Z",
                    "finished_at": "2026-11-25T02:00:07Z",
                    "duration_ms": 1875
                }))),
            ),
        ),
        (status = 401, response = responses::Unauthorized),
        (status = 404, response = responses::NotFound),
        (status = 429, response = responses::TooManyRequests),
        (status = 500, response = responses::Internal),
        (status = 503, response = responses::Unavailable),
    ),
)]
pub(super) async fn get_session(State(state): State<AppState>, admin: Admin, Path(id): Path<String>) -> Result<ApiJson<Session>, AppError> {
    let id = parse_id(&id, Missing::Session)?;
    let session = store::sessions::get_session(&state.db, admin.tenant_id, id).await?.ok_or(AppError::NotFound(Missing::Session))?;
    Ok(ApiJson(session))
}

#[utoipa::path(
    get,
    path = "/sessions/{id}/changes",
    operation_id = "listSessionChanges",
    tag = "admin",
    summary = "List a session's itemised changes",
    description = "For a `held` or `rejected` session the changes are the ones its plan would make (planned creations have no `user_id`); once an approved session is applied, they are replaced by the changes it made.",
    params(params::SessionId, params::Limit, params::Cursor),
    responses(
        (status = 200, description = "A page of changes, in the order the import made them.", body = SessionChangePage, content_type = "application/json"),
        (status = 400, response = responses::BadQuery),
        (status = 401, response = responses::Unauthorized),
        (status = 404, response = responses::NotFound),
        (status = 429, response = responses::TooManyRequests),
        (status = 500, response = responses::Internal),
        (status = 503, response = responses::Unavailable),
    ),
)]
pub(super) async fn list_changes(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<ApiJson<Page<SessionChange>>, AppError> {
    let id = parse_id(&id, Missing::Session)?;
    store::sessions::get_session(&state.db, admin.tenant_id, id).await?.ok_or(AppError::NotFound(Missing::Session))?;
    let from = match &page.cursor {
        None => 0,
        Some(c) => cursor::decode_as::<i64>(c, 1)?[0],
    };
    let (items, next) = store::sessions::list_changes(&state.db, id, page.limit()?, from).await?;
    Ok(ApiJson(Page { items, next_cursor: next.map(|n| cursor::encode(&[n.to_string()])) }))
}

/// The optional body of approve and reject: who decided (`admin` unless
/// the body names someone).
fn decision(body: Result<Bytes, BytesRejection>) -> Result<String, AppError> {
    let decision: Decision = json::optional_body(body, "Decision", json::Null::IsNoBody)?.unwrap_or_default();
    Ok(decision
        .by
        .map(|by| by.trim().chars().take(200).collect::<String>())
        .filter(|by| !by.is_empty())
        .unwrap_or_else(|| "admin".to_owned()))
}

/// Approves a held session: it runs again at once and, if its plan is
/// still the one held (nothing changed meanwhile), is applied past the
/// safeguard; otherwise it is planned again and judged again.
#[utoipa::path(
    post,
    path = "/sessions/{id}/approve",
    operation_id = "approveSession",
    tag = "admin",
    summary = "Approve a held session",
    description = "The session is queued again and runs at once. If its plan is still the one that was held (nothing changed meanwhile: directory state, links, users), it is applied past the safeguard; otherwise it is planned again (a note says so) and judged again, so it may be held again. Follow it with `GET /api/v1/sessions/{id}`.",
    params(params::SessionId),
    request_body(
        content = Decision,
        content_type = "application/json",
        description = "Optional: an empty body (or `null`) is the same as `{}`. The Content-Type is not checked.",
        examples(
            ("named" = (summary = "Recorded as decided_by", value = json!(examples::named_decision()))),
        ),
    ),
    responses(
        (
            status = 202,
            description = "Approved: the session as it stands (`queued`, with `decided_by` and `decided_at`; `finished_at` and `duration_ms` are cleared until it finishes again).",
            body = Session,
            content_type = "application/json",
            examples(
                ("approved" = (summary = "Queued again after the approval", value = json!({
                    "id": "45c48cce-2e2d-4fbd-aa1a-fc51c7c4b8e1",
                    "job_id": "8f14e45f-ceea-467f-a0e6-3c1b2d4e5f60",
                    "trigger": "schedule",
                    "status": "queued",
                    "snapshot_id": "c9f0f895-fb98-4b91-99f5-1a2b3c4d5e6f",
                    "manifest_sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                    "counts": {
                        "created": 0,
                        "updated": 0,
                        "deactivated": 10,
                        "reactivated": 0,
                        "lost_basic": 10,
                        "unchanged": 20,
                        "not_linked": 0
                    },
                    "notes": [],
                    "held_reasons": [
                        "the plan deactivates 10 of 30 active users; the policy allows 3 (500 or 10 %, whichever is smaller)"
                    ],
                    "decided_by": "alice@corp.example.test",
                    "decided_at": "2026-11-25T08:15:00Z",
                    "created_at": "2026-11-25T02:00:05.125Z"
                }))),
            ),
        ),
        (status = 401, response = responses::Unauthorized),
        (status = 404, response = responses::NotFound),
        (
            status = 409,
            description = "The session is not `held` (any more): it was never held, another decision came first, or a newer run of the job superseded it.",
            body = Problem,
            content_type = "application/problem+json",
            examples(
                ("notHeld" = (summary = "Decided before", value = json!(examples::not_held()))),
            ),
        ),
        (status = 413, response = responses::PayloadTooLarge),
        (status = 422, description = "The body is neither empty nor `null` nor JSON fitting `Decision` (this includes malformed JSON: there is no 400 here).", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = responses::TooManyRequests),
        (status = 500, response = responses::Internal),
        (status = 503, response = responses::Unavailable),
    ),
)]
pub(super) async fn approve_session(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, ApiJson<Session>), AppError> {
    Ok((StatusCode::ACCEPTED, ApiJson(decide(&state, admin, &id, body, Verdict::Approve).await?)))
}

/// Rejects a held session: nothing of it is applied.
#[utoipa::path(
    post,
    path = "/sessions/{id}/reject",
    operation_id = "rejectSession",
    tag = "admin",
    summary = "Reject a held session",
    description = "Nothing of the session's plan is applied, now or later. The next import of the job plans afresh.",
    params(params::SessionId),
    request_body(
        content = Decision,
        content_type = "application/json",
        description = "Optional: an empty body (or `null`) is the same as `{}`. The Content-Type is not checked.",
        examples(
            ("named" = (summary = "Recorded as decided_by", value = json!(examples::named_decision()))),
        ),
    ),
    responses(
        (
            status = 200,
            description = "Rejected: the session, now `rejected`, with `decided_by` and `decided_at`.",
            body = Session,
            content_type = "application/json",
            examples(
                ("rejected" = (summary = "Rejected by an admin", value = json!({
                    "id": "45c48cce-2e2d-4fbd-aa1a-fc51c7c4b8e1",
                    "job_id": "8f14e45f-ceea-467f-a0e6-3c1b2d4e5f60",
                    "trigger": "schedule",
                    "status": "rejected",
                    "snapshot_id": "c9f0f895-fb98-4b91-99f5-1a2b3c4d5e6f",
                    "manifest_sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                    "counts": {
                        "created": 0,
                        "updated": 0,
                        "deactivated": 10,
                        "reactivated": 0,
                        "lost_basic": 10,
                        "unchanged": 20,
                        "not_linked": 0
                    },
                    "notes": [],
                    "held_reasons": [
                        "the plan deactivates 10 of 30 active users; the policy allows 3 (500 or 10 %, whichever is smaller)"
                    ],
                    "decided_by": "bob",
                    "decided_at": "2026-11-25T08:15:00Z",
                    "created_at": "2026-11-25T02:00:05.125Z",
                    "finished_at": "2026-11-25T02:00:07Z",
                    "duration_ms": 1875
                }))),
            ),
        ),
        (status = 401, response = responses::Unauthorized),
        (status = 404, response = responses::NotFound),
        (
            status = 409,
            description = "The session is not `held` (any more): it was never held, another decision came first, or a newer run of the job superseded it.",
            body = Problem,
            content_type = "application/problem+json",
            examples(
                ("notHeld" = (summary = "Decided before", value = json!(examples::not_held()))),
            ),
        ),
        (status = 413, response = responses::PayloadTooLarge),
        (status = 422, description = "The body is neither empty nor `null` nor JSON fitting `Decision` (this includes malformed JSON: there is no 400 here).", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = responses::TooManyRequests),
        (status = 500, response = responses::Internal),
        (status = 503, response = responses::Unavailable),
    ),
)]
pub(super) async fn reject_session(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, ApiJson<Session>), AppError> {
    Ok((StatusCode::OK, ApiJson(decide(&state, admin, &id, body, Verdict::Reject).await?)))
}

/// What approve and reject share: the session `id` of the caller's tenant,
/// decided by whoever the body names.
async fn decide(
    state: &AppState,
    admin: Admin,
    id: &str,
    body: Result<Bytes, BytesRejection>,
    verdict: Verdict,
) -> Result<Session, AppError> {
    let id = parse_id(id, Missing::Session)?;
    let by = decision(body)?;
    service::sessions::decide(&state.db, &state.imports, &admin.caller, id, verdict, &by).await
}
