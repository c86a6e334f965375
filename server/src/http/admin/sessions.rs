//! Session handlers: a job's sessions, one session, its itemised changes,
//! and approving or rejecting a held one.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use roster_proto::SessionId;
use roster_proto::admin::{Decision, Page, Session, SessionChange};

use super::{PageQuery, TenantJob, parse_id, time_and_id};
use crate::error::{AppError, Missing, RequestError};
use crate::http::auth::Admin;
use crate::http::cursor;
use crate::http::json::{ApiJson, ApiQuery, body_rejected};
use crate::service;
use crate::state::AppState;
use crate::store;
use crate::store::sessions::Verdict;

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

pub(super) async fn get_session(State(state): State<AppState>, admin: Admin, Path(id): Path<String>) -> Result<ApiJson<Session>, AppError> {
    let id = parse_id(&id, Missing::Session)?;
    let session = store::sessions::get_session(&state.db, admin.tenant_id, id).await?.ok_or(AppError::NotFound(Missing::Session))?;
    Ok(ApiJson(session))
}

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
    let body = body.map_err(|rejection| body_rejected(rejection.status(), rejection.body_text(), || RequestError::BodyTooLarge))?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok("admin".to_owned());
    }
    let decision: Option<Decision> = serde_json::from_slice(&body).map_err(RequestError::NotADecision)?;
    Ok(decision
        .unwrap_or_default()
        .by
        .map(|by| by.trim().chars().take(200).collect::<String>())
        .filter(|by| !by.is_empty())
        .unwrap_or_else(|| "admin".to_owned()))
}

/// Approves a held session: it runs again at once and, if its plan is
/// still the one held (nothing changed meanwhile), is applied past the
/// safeguard; otherwise it is planned again and judged again.
pub(super) async fn approve_session(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, ApiJson<Session>), AppError> {
    Ok((StatusCode::ACCEPTED, ApiJson(decide(&state, admin, &id, body, Verdict::Approve).await?)))
}

/// Rejects a held session: nothing of it is applied.
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
    service::sessions::decide(&state.db, &state.imports, admin.tenant_id, id, verdict, &by).await
}
