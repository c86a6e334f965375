//! Tenant-wide handlers: the access catalogue, settings, users and their
//! history, and agents.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use roster_proto::admin::{Access, Agent, CreateAccess, HistoryEntry, Page, TenantSettings, User};
use roster_proto::{JobId, SessionId, UserId};
use serde::Deserialize;

use super::{PageQuery, bad_cursor, job_of, parse_id, time_and_id};
use crate::error::{AppError, Missing};
use crate::http::auth::Admin;
use crate::http::cursor;
use crate::http::json::{ApiJson, ApiQuery};
use crate::service;
use crate::state::AppState;
use crate::store;

pub(super) async fn create_access(
    State(state): State<AppState>,
    admin: Admin,
    ApiJson(input): ApiJson<CreateAccess>,
) -> Result<(StatusCode, ApiJson<Access>), AppError> {
    let (access, created) = service::tenants::create_access(&state.db, admin.tenant_id, &input).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, ApiJson(access)))
}

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

pub(super) async fn get_settings(State(state): State<AppState>, admin: Admin) -> Result<ApiJson<TenantSettings>, AppError> {
    let mut conn = state.db.pool.acquire().await?;
    Ok(ApiJson(store::tenants::settings(&mut conn, admin.tenant_id).await?))
}

pub(super) async fn put_settings(
    State(state): State<AppState>,
    admin: Admin,
    ApiJson(settings): ApiJson<TenantSettings>,
) -> Result<ApiJson<TenantSettings>, AppError> {
    service::tenants::replace_settings(&state.db, admin.tenant_id, &settings).await?;
    Ok(ApiJson(settings))
}

/// One user's timeline across sessions, oldest first.
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
    async fn job_and_limit(&self, state: &AppState, admin: Admin) -> Result<(Option<JobId>, u32), AppError> {
        let job = match &self.job {
            Some(job) => Some(job_of(state, admin, job).await?.id),
            None => None,
        };
        Ok((job, PageQuery { limit: self.limit, cursor: None }.limit()?))
    }
}

pub(super) async fn list_users(
    State(state): State<AppState>,
    admin: Admin,
    ApiQuery(query): ApiQuery<JobPageQuery>,
) -> Result<ApiJson<Page<User>>, AppError> {
    let (job, limit) = query.job_and_limit(&state, admin).await?;
    let after = match &query.cursor {
        Some(c) => Some(cursor::decode_as::<UserId>(c, 1)?[0]),
        None => None,
    };
    let (items, next) = store::users::list_users(&state.db, admin.tenant_id, job, limit, after).await?;
    Ok(ApiJson(Page { items, next_cursor: next.map(|id| cursor::encode(&[id.to_string()])) }))
}

/// The tenant's agents with their health (last seen, revoked).
pub(super) async fn list_agents(
    State(state): State<AppState>,
    admin: Admin,
    ApiQuery(query): ApiQuery<JobPageQuery>,
) -> Result<ApiJson<Page<Agent>>, AppError> {
    let (job, limit) = query.job_and_limit(&state, admin).await?;
    let after = match &query.cursor {
        Some(c) => Some(time_and_id(c)?),
        None => None,
    };
    let (items, next) = store::agents::list_agents(&state.db, admin.tenant_id, job, limit, after).await?;
    Ok(ApiJson(Page { items, next_cursor: next.map(|(ms, id)| cursor::encode(&[ms.to_string(), id.to_string()])) }))
}

/// Revokes an agent: every request of it is refused from now on. A new
/// agent is registered with a new registration token.
pub(super) async fn revoke_agent(State(state): State<AppState>, admin: Admin, Path(id): Path<String>) -> Result<StatusCode, AppError> {
    let id = parse_id(&id, Missing::Agent)?;
    if !store::agents::revoke(&state.db, admin.tenant_id, id).await? {
        return Err(AppError::NotFound(Missing::Agent));
    }
    tracing::warn!(tenant = %admin.tenant_id, agent = %id, "agent revoked");
    Ok(StatusCode::NO_CONTENT)
}
