//! Tenant-wide handlers: the access catalogue, settings, users and their
//! history, and agents.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use roster_proto::admin::{Access, Agent, CreateAccess, HistoryEntry, Page, TenantSettings, UpdateAccess, User};
use roster_proto::problem::Problem;
use roster_proto::schema::openapi::{AccessPage, AgentPage, HistoryPage, UserPage};
use roster_proto::{JobId, SessionId, TenantId, UserId};
use serde::Deserialize;

use super::{PageQuery, bad_cursor, job_of, parse_id, time_and_id};
use crate::error::{AppError, Missing};
use crate::http::auth::Admin;
use crate::http::cursor;
use crate::http::json::{ApiJson, ApiQuery};
use crate::http::openapi::{params, responses};
use crate::service;
use crate::state::AppState;
use crate::store;

#[utoipa::path(
    post,
    path = "/accesses",
    operation_id = "createAccess",
    tag = "admin",
    summary = "Create an access (idempotent)",
    request_body(
        content = CreateAccess,
        content_type = "application/json",
    ),
    responses(
        (status = 200, description = "An access of that kind and (trimmed) name already existed; it is answered unchanged.", body = Access, content_type = "application/json"),
        (status = 201, description = "Created.", body = Access, content_type = "application/json"),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 413, response = responses::PayloadTooLarge),
        (status = 422, description = "Body does not fit `CreateAccess` (e.g. unknown `kind`), or the name is blank.", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = responses::TooManyRequests),
        (status = 500, response = responses::Internal),
        (status = 503, response = responses::Unavailable),
    ),
)]
pub(super) async fn create_access(
    State(state): State<AppState>,
    admin: Admin,
    ApiJson(input): ApiJson<CreateAccess>,
) -> Result<(StatusCode, ApiJson<Access>), AppError> {
    let (access, created) = service::tenants::create_access(&state.db, &admin.caller, &input).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, ApiJson(access)))
}

#[utoipa::path(
    get,
    path = "/accesses",
    operation_id = "listAccesses",
    tag = "admin",
    summary = "List the tenant's access catalogue",
    params(params::Limit, params::Cursor),
    responses(
        (status = 200, description = "All accesses in one page, ordered by kind and name.", body = AccessPage, content_type = "application/json"),
        (status = 400, response = responses::BadQuery),
        (status = 401, response = responses::Unauthorized),
        (status = 429, response = responses::TooManyRequests),
        (status = 500, response = responses::Internal),
        (status = 503, response = responses::Unavailable),
    ),
)]
pub(super) async fn list_accesses(
    State(state): State<AppState>,
    admin: Admin,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<ApiJson<Page<Access>>, AppError> {
    let after = match &page.cursor {
        Some(c) => {
            let [kind, name, id]: [String; 3] = cursor::decode(c, 3)?.try_into().map_err(|_| bad_cursor())?;
            Some((kind, name, id.parse().map_err(|_| bad_cursor())?))
        }
        None => None,
    };
    let (items, next) = store::jobs::list_accesses(&state.db, admin.tenant_id, page.limit()?, after).await?;
    Ok(ApiJson(Page { items, next_cursor: next.map(|(kind, name, id)| cursor::encode(&[kind, name, id.to_string()])) }))
}

#[utoipa::path(
    patch,
    path = "/accesses/{id}",
    operation_id = "updateAccess",
    tag = "admin",
    summary = "Rename an access",
    description = "Its kind stays; links and users keep it under its new name.",
    params(params::AccessId),
    request_body(
        content = UpdateAccess,
        content_type = "application/json",
    ),
    responses(
        (status = 200, description = "Renamed.", body = Access, content_type = "application/json"),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 404, response = responses::NotFound),
        (status = 409, description = "Another access of the same kind has that (trimmed) name.", body = Problem, content_type = "application/problem+json"),
        (status = 413, response = responses::PayloadTooLarge),
        (status = 422, description = "Body does not fit `UpdateAccess`, or the name is blank or holds a forbidden character.", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = responses::TooManyRequests),
        (status = 500, response = responses::Internal),
        (status = 503, response = responses::Unavailable),
    ),
)]
pub(super) async fn update_access(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<UpdateAccess>,
) -> Result<ApiJson<Access>, AppError> {
    let id = parse_id(&id, Missing::Access)?;
    Ok(ApiJson(service::tenants::rename_access(&state.db, &admin.caller, id, &input).await?))
}

#[utoipa::path(
    delete,
    path = "/accesses/{id}",
    operation_id = "deleteAccess",
    tag = "admin",
    summary = "Delete an access",
    description = "Refused while a link of any job grants it or a user holds it: remove the links, then import their jobs.",
    params(params::AccessId),
    responses(
        (status = 204, description = "Deleted; no body."),
        (status = 401, response = responses::Unauthorized),
        (status = 404, response = responses::NotFound),
        (status = 409, description = "Links grant the access or users hold it; the detail says how many.", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = responses::TooManyRequests),
        (status = 500, response = responses::Internal),
        (status = 503, response = responses::Unavailable),
    ),
)]
pub(super) async fn delete_access(State(state): State<AppState>, admin: Admin, Path(id): Path<String>) -> Result<StatusCode, AppError> {
    let id = parse_id(&id, Missing::Access)?;
    service::tenants::delete_access(&state.db, &admin.caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/settings",
    operation_id = "getSettings",
    tag = "admin",
    summary = "Get the tenant's settings",
    responses(
        (
            status = 200,
            description = "The settings (the defaults until changed: 30 days' grace, sessions kept forever).",
            body = TenantSettings,
            content_type = "application/json",
            examples(
                ("default" = (summary = "The defaults", value = json!({
                    "purge_after_days": 30
                }))),
            ),
        ),
        (status = 401, response = responses::Unauthorized),
        (status = 429, response = responses::TooManyRequests),
        (status = 500, response = responses::Internal),
        (status = 503, response = responses::Unavailable),
    ),
)]
pub(super) async fn get_settings(State(state): State<AppState>, admin: Admin) -> Result<ApiJson<TenantSettings>, AppError> {
    let mut conn = state.db.pool.acquire().await?;
    Ok(ApiJson(store::tenants::settings(&mut conn, admin.tenant_id).await?))
}

#[utoipa::path(
    put,
    path = "/settings",
    operation_id = "putSettings",
    tag = "admin",
    summary = "Replace the tenant's settings",
    description = "Replaces the settings whole: a member left out takes its default (`session_retention_days` left out keeps sessions forever).",
    request_body(
        content = TenantSettings,
        content_type = "application/json",
        examples(
            ("yearOfSessions" = (summary = "A week's grace, a year of sessions", value = json!({
                "purge_after_days": 7,
                "session_retention_days": 365
            }))),
        ),
    ),
    responses(
        (status = 200, description = "The settings as stored; housekeeping applies them from its next round.", body = TenantSettings, content_type = "application/json"),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 413, response = responses::PayloadTooLarge),
        (status = 422, description = "Body does not fit `TenantSettings`, `purge_after_days` is outside 1..=3650, or `session_retention_days` is 0 (leave it out to keep sessions forever).", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = responses::TooManyRequests),
        (status = 500, response = responses::Internal),
        (status = 503, response = responses::Unavailable),
    ),
)]
pub(super) async fn put_settings(
    State(state): State<AppState>,
    admin: Admin,
    ApiJson(settings): ApiJson<TenantSettings>,
) -> Result<ApiJson<TenantSettings>, AppError> {
    service::tenants::replace_settings(&state.db, &admin.caller, &settings).await?;
    Ok(ApiJson(settings))
}

/// One user's timeline across sessions, oldest first.
#[utoipa::path(
    get,
    path = "/users/{id}/history",
    operation_id = "getUserHistory",
    tag = "admin",
    summary = "A user's timeline across import sessions",
    description = "Only sessions that were applied (`succeeded`) count: a held or rejected plan changed nothing. Sessions removed by the tenant's `session_retention_days` drop out of the timeline.",
    params(params::UserId, params::Limit, params::Cursor),
    responses(
        (
            status = 200,
            description = "A page of what each applied session did to the user, oldest first.",
            body = HistoryPage,
            content_type = "application/json",
            examples(
                ("leftAndCameBack" = (summary = "Created, deactivated, re-activated", value = json!({
                    "items": [
                        {
                            "session_id": "1c3b5a7e-9f20-4e4d-8f1a-6b2c4a9e8d7f",
                            "trigger": "first_push",
                            "at": "2026-11-24T10:00:02Z",
                            "action": "created",
                            "details": [
                                {
                                    "type": "field",
                                    "field": "username",
                                    "new": "ann"
                                },
                                {
                                    "type": "access_gained",
                                    "id": "d3d94468-02a4-4322-8f5d-7a1e9b6c0d2f",
                                    "kind": "user",
                                    "name": "Copenhagen"
                                }
                            ]
                        },
                        {
                            "session_id": "2d4c6b8f-0a31-4f5e-9a2b-7c3d5b0f9e80",
                            "trigger": "schedule",
                            "at": "2026-12-01T02:00:04.5Z",
                            "action": "deactivated",
                            "details": [
                                {
                                    "type": "deactivated",
                                    "reason": "disabled_in_directory"
                                }
                            ]
                        },
                        {
                            "session_id": "45c48cce-2e2d-4fbd-aa1a-fc51c7c4b8e1",
                            "trigger": "manual",
                            "at": "2026-12-03T09:12:00Z",
                            "action": "reactivated",
                            "details": [
                                {
                                    "type": "reactivated"
                                }
                            ]
                        }
                    ],
                    "next_cursor": null
                }))),
            ),
        ),
        (status = 400, response = responses::BadQuery),
        (status = 401, response = responses::Unauthorized),
        (status = 404, response = responses::NotFound),
        (status = 429, response = responses::TooManyRequests),
        (status = 500, response = responses::Internal),
        (status = 503, response = responses::Unavailable),
    ),
)]
pub(super) async fn user_history(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<ApiJson<Page<HistoryEntry>>, AppError> {
    let id = parse_id(&id, Missing::User)?;
    store::users::get_user(&state.db, admin.tenant_id, id).await?.ok_or(AppError::NotFound(Missing::User))?;
    let after = match &page.cursor {
        Some(c) => Some(time_and_id::<SessionId>(c)?),
        None => None,
    };
    let (items, next) = store::sessions::history(&state.db, id, page.limit()?, after).await?;
    Ok(ApiJson(Page { items, next_cursor: next.map(|(ms, id)| cursor::encode(&[ms.to_string(), id.to_string()])) }))
}

/// `?job=J&limit=N&cursor=C` of lists that may be narrowed to one job.
#[derive(Debug, Deserialize)]
pub(super) struct JobPageQuery {
    job: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

impl JobPageQuery {
    /// The job asked for, if one was (404 for another tenant's), and the page size.
    async fn job_and_limit(&self, state: &AppState, tenant: TenantId) -> Result<(Option<JobId>, u32), AppError> {
        let job = match &self.job {
            Some(job) => Some(job_of(state, tenant, job).await?.id),
            None => None,
        };
        Ok((job, PageQuery { limit: self.limit, cursor: None }.limit()?))
    }
}

#[utoipa::path(
    get,
    path = "/users",
    operation_id = "listUsers",
    tag = "admin",
    summary = "List the tenant's users",
    description = "Users are per job: the same person in two jobs (two domains) stays two users, each with its own `id` and accesses; Roster does not merge them. Inactive users are listed too, until they are purged (`TenantSettings.purge_after_days`).",
    params(params::UserJob, params::Limit, params::Cursor),
    responses(
        (status = 200, description = "A page of users, ordered by id.", body = UserPage, content_type = "application/json"),
        (status = 400, response = responses::BadQuery),
        (status = 401, response = responses::Unauthorized),
        (status = 404, description = "`job` is not a job of the tenant.", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = responses::TooManyRequests),
        (status = 500, response = responses::Internal),
        (status = 503, response = responses::Unavailable),
    ),
)]
pub(super) async fn list_users(
    State(state): State<AppState>,
    admin: Admin,
    ApiQuery(query): ApiQuery<JobPageQuery>,
) -> Result<ApiJson<Page<User>>, AppError> {
    let (job, limit) = query.job_and_limit(&state, admin.tenant_id).await?;
    let after = match &query.cursor {
        Some(c) => Some(cursor::decode_as::<UserId>(c, 1)?[0]),
        None => None,
    };
    let (items, next) = store::users::list_users(&state.db, admin.tenant_id, job, limit, after).await?;
    Ok(ApiJson(Page { items, next_cursor: next.map(|id| cursor::encode(&[id.to_string()])) }))
}

/// The tenant's agents with their health (last seen, revoked).
#[utoipa::path(
    get,
    path = "/agents",
    operation_id = "listAgents",
    tag = "admin",
    summary = "List the tenant's agents and their health",
    params(params::AgentJob, params::Limit, params::Cursor),
    responses(
        (status = 200, description = "A page of agents, in registration order.", body = AgentPage, content_type = "application/json"),
        (status = 400, response = responses::BadQuery),
        (status = 401, response = responses::Unauthorized),
        (status = 404, description = "`job` is not a job of the tenant.", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = responses::TooManyRequests),
        (status = 500, response = responses::Internal),
        (status = 503, response = responses::Unavailable),
    ),
)]
pub(super) async fn list_agents(
    State(state): State<AppState>,
    admin: Admin,
    ApiQuery(query): ApiQuery<JobPageQuery>,
) -> Result<ApiJson<Page<Agent>>, AppError> {
    let (job, limit) = query.job_and_limit(&state, admin.tenant_id).await?;
    let after = match &query.cursor {
        Some(c) => Some(time_and_id(c)?),
        None => None,
    };
    let (items, next) = store::agents::list_agents(&state.db, admin.tenant_id, job, limit, after, store::UnixMillis::now()).await?;
    Ok(ApiJson(Page { items, next_cursor: next.map(|(ms, id)| cursor::encode(&[ms.to_string(), id.to_string()])) }))
}

/// Revokes an agent: every request of it is refused from now on. A new
/// agent is registered with a new registration token.
#[utoipa::path(
    post,
    path = "/agents/{id}/revoke",
    operation_id = "revokeAgent",
    tag = "admin",
    summary = "Revoke an agent",
    description = "No request body. From now on every request of the agent answers 401, whatever it signs; register a new agent with a new registration token. Idempotent.",
    params(params::AgentId),
    responses(
        (status = 204, description = "Revoked (or already revoked); no body."),
        (status = 401, response = responses::Unauthorized),
        (status = 404, response = responses::NotFound),
        (status = 429, response = responses::TooManyRequests),
        (status = 500, response = responses::Internal),
        (status = 503, response = responses::Unavailable),
    ),
)]
pub(super) async fn revoke_agent(State(state): State<AppState>, admin: Admin, Path(id): Path<String>) -> Result<StatusCode, AppError> {
    let id = parse_id(&id, Missing::Agent)?;
    service::tenants::revoke_agent(&state.db, &admin.caller, id).await?;
    tracing::warn!(tenant = %admin.tenant_id, agent = %id, "agent revoked");
    Ok(StatusCode::NO_CONTENT)
}
