//! Job handlers: create, list and read jobs, their registration tokens,
//! links, safeguard policy, imports, dry runs and full reconciliations.

use axum::extract::State;
use axum::http::StatusCode;
use roster_proto::admin::{CreateJob, Job, Link, LinkInput, LinksSaved, Page, PlanPreview, RegistrationToken, SafeguardPolicy, Session};
use serde::Deserialize;

use super::{DEFAULT_LIMIT, PageQuery, TenantJob, time_and_id};
use crate::error::{AppError, RequestError};
use crate::http::auth::Admin;
use crate::http::cursor;
use crate::http::json::{ApiJson, ApiQuery};
use crate::service;
use crate::state::AppState;
use crate::store;

/// How long a registration token stays usable.
const REGISTRATION_TOKEN_TTL_MS: i64 = 24 * 3600 * 1000;
/// Most changes a dry run lists.
const MAX_PLAN_CHANGES: u32 = 10_000;

pub(super) async fn create_job(
    State(state): State<AppState>,
    admin: Admin,
    ApiJson(input): ApiJson<CreateJob>,
) -> Result<(StatusCode, ApiJson<Job>), AppError> {
    let job = service::jobs::create_job(&state.db, admin.tenant_id, &input).await?;
    Ok((StatusCode::CREATED, ApiJson(job)))
}

pub(super) async fn list_jobs(
    State(state): State<AppState>,
    admin: Admin,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<ApiJson<Page<Job>>, AppError> {
    let after = match &page.cursor {
        Some(c) => Some(time_and_id(c)?),
        None => None,
    };
    let (items, next) = store::jobs::list_jobs(&state.db, admin.tenant_id, page.limit()?, after).await?;
    Ok(ApiJson(Page { items, next_cursor: next.map(|(ms, id)| cursor::encode(&[ms.to_string(), id.to_string()])) }))
}

pub(super) async fn get_job(TenantJob { job, .. }: TenantJob) -> Result<ApiJson<Job>, AppError> {
    Ok(ApiJson(job))
}

pub(super) async fn create_registration_token(
    State(state): State<AppState>,
    TenantJob { admin, job }: TenantJob,
) -> Result<(StatusCode, ApiJson<RegistrationToken>), AppError> {
    let token = store::jobs::create_registration_token(&state.db, admin.tenant_id, job.id, REGISTRATION_TOKEN_TTL_MS).await?;
    Ok((StatusCode::CREATED, ApiJson(token)))
}

pub(super) async fn get_links(State(state): State<AppState>, TenantJob { job, .. }: TenantJob) -> Result<ApiJson<Vec<Link>>, AppError> {
    let mut conn = state.db.pool.acquire().await?;
    Ok(ApiJson(store::jobs::get_links(&mut conn, job.id).await?))
}

/// Replaces the job's links and answers with who gains and who loses
/// which access at the next import (see `service::links`).
pub(super) async fn put_links(
    State(state): State<AppState>,
    TenantJob { admin, job }: TenantJob,
    ApiJson(links): ApiJson<Vec<LinkInput>>,
) -> Result<ApiJson<LinksSaved>, AppError> {
    Ok(ApiJson(service::links::replace_links(&state.db, admin.tenant_id, &job, &links).await?))
}

/// `?limit=N` of the dry run.
#[derive(Debug, Deserialize)]
pub(super) struct PlanQuery {
    limit: Option<u32>,
}

/// A dry run: plans an import of the job's stored directory state with its
/// current links and users, applies nothing, and answers with the plan.
pub(super) async fn plan_import(
    State(state): State<AppState>,
    TenantJob { admin, job }: TenantJob,
    ApiQuery(query): ApiQuery<PlanQuery>,
) -> Result<ApiJson<PlanPreview>, AppError> {
    let limit = match query.limit {
        None => DEFAULT_LIMIT,
        Some(n) if n <= MAX_PLAN_CHANGES => n,
        Some(n) => return Err(RequestError::Limit { given: n, min: 0, max: MAX_PLAN_CHANGES }.into()),
    };
    Ok(ApiJson(service::imports::plan_preview(&state.db, admin.tenant_id, &job, limit).await?))
}

pub(super) async fn get_policy(TenantJob { job, .. }: TenantJob) -> Result<ApiJson<SafeguardPolicy>, AppError> {
    Ok(ApiJson(job.policy))
}

pub(super) async fn put_policy(
    State(state): State<AppState>,
    TenantJob { admin, job }: TenantJob,
    ApiJson(policy): ApiJson<SafeguardPolicy>,
) -> Result<ApiJson<SafeguardPolicy>, AppError> {
    service::jobs::replace_policy(&state.db, admin.tenant_id, &job, &policy).await?;
    Ok(ApiJson(policy))
}

/// "Perform import": plans and applies the job's newest snapshot now.
pub(super) async fn start_import(
    State(state): State<AppState>,
    TenantJob { admin, job }: TenantJob,
) -> Result<(StatusCode, ApiJson<Session>), AppError> {
    let session = service::imports::start_import(&state.db, &state.imports, admin.tenant_id, &job).await?;
    Ok((StatusCode::ACCEPTED, ApiJson(session)))
}

/// Asks the job's agent to send a full snapshot next time, catching what
/// deltas cannot see (e.g. deletions whose tombstones are gone).
pub(super) async fn request_full_sync(State(state): State<AppState>, TenantJob { admin, job }: TenantJob) -> Result<StatusCode, AppError> {
    store::jobs::request_full_sync(&state.db, job.id).await?;
    tracing::info!(tenant = %admin.tenant_id, job = %job.id, "full reconciliation requested");
    Ok(StatusCode::ACCEPTED)
}
