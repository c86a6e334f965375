//! The tenant's admin tokens: listed (never their values), issued (the
//! value answered once) and revoked.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use roster_proto::AdminTokenId;
use roster_proto::admin::{AdminToken, CreateAdminToken, CreatedAdminToken, Page};
use roster_proto::problem::Problem;
use roster_proto::schema::openapi::AdminTokenPage;

use super::{PageQuery, parse_id, time_and_id};
use crate::error::{AppError, Missing};
use crate::http::auth::Admin;
use crate::http::cursor;
use crate::http::json::{ApiJson, ApiQuery};
use crate::http::openapi::{params, responses};
use crate::service;
use crate::state::AppState;
use crate::store;

#[utoipa::path(
    get,
    path = "/admin-tokens",
    operation_id = "listAdminTokens",
    tag = "admin",
    summary = "List the tenant's admin tokens",
    description = "Every admin token of the tenant that is not revoked, oldest first, expired ones included; never a token's value.",
    params(params::Limit, params::Cursor),
    responses(
        (status = 200, description = "A page of tokens.", body = AdminTokenPage, content_type = "application/json"),
        (status = 400, response = responses::BadQuery),
        (status = 401, response = responses::Unauthorized),
        (status = 429, response = responses::TooManyRequests),
        (status = 500, response = responses::Internal),
        (status = 503, response = responses::Unavailable),
    ),
)]
pub(super) async fn list_admin_tokens(
    State(state): State<AppState>,
    admin: Admin,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<ApiJson<Page<AdminToken>>, AppError> {
    let after = match &page.cursor {
        Some(c) => Some(time_and_id::<AdminTokenId>(c)?),
        None => None,
    };
    let (items, next) = store::tenants::list_admin_tokens(&state.db, admin.tenant_id, page.limit()?, after).await?;
    Ok(ApiJson(Page { items, next_cursor: next.map(|(ms, id)| cursor::encode(&[ms.to_string(), id.to_string()])) }))
}

#[utoipa::path(
    post,
    path = "/admin-tokens",
    operation_id = "createAdminToken",
    tag = "admin",
    summary = "Issue an admin token",
    description = "The value is in this answer only; the server keeps its hash. From `expires_at` on (if given) the token answers 401 like an unknown one.",
    request_body(
        content = CreateAdminToken,
        content_type = "application/json",
        examples(
            ("console" = (summary = "For a console, for 90 days", value = json!({
                "label": "console",
                "expires_in_days": 90
            }))),
        ),
    ),
    responses(
        (status = 201, description = "Issued.", body = CreatedAdminToken, content_type = "application/json"),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 413, response = responses::PayloadTooLarge),
        (status = 422, description = "Body does not fit `CreateAdminToken`, the label breaks a name's rules, or `expires_in_days` is outside 1..=3650.", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = responses::TooManyRequests),
        (status = 500, response = responses::Internal),
        (status = 503, response = responses::Unavailable),
    ),
)]
pub(super) async fn create_admin_token(
    State(state): State<AppState>,
    admin: Admin,
    ApiJson(input): ApiJson<CreateAdminToken>,
) -> Result<(StatusCode, ApiJson<CreatedAdminToken>), AppError> {
    let created = service::tenants::issue_admin_token(&state.db, &admin.caller, &input).await?;
    Ok((StatusCode::CREATED, ApiJson(created)))
}

/// Revokes an admin token, the caller's own included: it is refused from
/// the next request on.
#[utoipa::path(
    delete,
    path = "/admin-tokens/{id}",
    operation_id = "revokeAdminToken",
    tag = "admin",
    summary = "Revoke an admin token",
    description = "No request body. From now on the token answers 401 like an unknown one and is no longer listed. Revoking the token this request uses is allowed and takes effect at once.",
    params(params::AdminTokenId),
    responses(
        (status = 204, description = "Revoked; no body."),
        (status = 401, response = responses::Unauthorized),
        (status = 404, response = responses::NotFound),
        (status = 429, response = responses::TooManyRequests),
        (status = 500, response = responses::Internal),
        (status = 503, response = responses::Unavailable),
    ),
)]
pub(super) async fn revoke_admin_token(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    let id: AdminTokenId = parse_id(&id, Missing::AdminToken)?;
    service::tenants::revoke_admin_token(&state.db, &admin.caller, id).await?;
    tracing::warn!(tenant = %admin.tenant_id, admin_token = %id, own = id == admin.token_id, "admin token revoked");
    Ok(StatusCode::NO_CONTENT)
}
