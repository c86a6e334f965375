//! The tenant's audit log: every change an admin made, newest first.

use axum::extract::State;
use roster_proto::AuditEntryId;
use roster_proto::admin::{AuditEntry, Page};
use roster_proto::schema::openapi::AuditPage;

use super::{PageQuery, time_and_id};
use crate::error::AppError;
use crate::http::auth::Admin;
use crate::http::cursor;
use crate::http::json::{ApiJson, ApiQuery};
use crate::http::openapi::{params, responses};
use crate::state::AppState;
use crate::store;

/// The cursor of an audit page: the last entry's `(at ms, id)`.
pub(crate) fn audit_cursor(text: &str) -> Result<(i64, AuditEntryId), AppError> {
    time_and_id(text)
}

/// Writes an audit page's cursor.
pub(crate) fn encode_audit_cursor((ms, id): (i64, AuditEntryId)) -> String {
    cursor::encode(&[ms.to_string(), id.to_string()])
}

#[utoipa::path(
    get,
    path = "/audit",
    operation_id = "listAudit",
    tag = "admin",
    summary = "The tenant's audit log",
    description = "Every change an admin made (in the console or with an admin token), newest first: who, when, what and to what. Jobs created, changed and deleted; links saved; imports started; held plans approved or rejected; safeguards, settings and accesses changed; registration and admin tokens issued; agents and tokens revoked; console admins added and removed.",
    params(params::Limit, params::Cursor),
    responses(
        (status = 200, description = "A page of entries, newest first.", body = AuditPage, content_type = "application/json"),
        (status = 400, response = responses::BadQuery),
        (status = 401, response = responses::Unauthorized),
        (status = 429, response = responses::TooManyRequests),
        (status = 500, response = responses::Internal),
        (status = 503, response = responses::Unavailable),
    ),
)]
pub(super) async fn list_audit(
    State(state): State<AppState>,
    admin: Admin,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<ApiJson<Page<AuditEntry>>, AppError> {
    let before = match &page.cursor {
        Some(c) => Some(audit_cursor(c)?),
        None => None,
    };
    let (items, next) = store::audit::list(&state.db, admin.tenant_id, page.limit()?, before).await?;
    Ok(ApiJson(Page { items, next_cursor: next.map(encode_audit_cursor) }))
}
