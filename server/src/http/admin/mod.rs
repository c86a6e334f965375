//! The admin API: jobs, registration tokens, accesses, links, sessions,
//! users, admin tokens. Every query is scoped to the caller's tenant; another tenant's
//! objects answer 404, exactly like objects that do not exist. Handlers
//! parse, authorise (the [`Admin`] and [`TenantJob`] extractors), call
//! `store` or `service`, and answer.

mod audit;
mod jobs;
mod sessions;
mod tenant;
mod tokens;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use roster_proto::TenantId;
use roster_proto::admin::Job;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(crate) use self::audit::{audit_cursor, encode_audit_cursor};
use crate::error::{AppError, Missing, RequestError};
use crate::http::auth::Admin;
use crate::http::cursor;
use crate::state::AppState;
use crate::store;

/// Default and largest page sizes of list endpoints.
pub(crate) const DEFAULT_LIMIT: u32 = 100;
pub(crate) const MAX_LIMIT: u32 = 1000;

/// The admin routes, each registered with its documentation (`#[utoipa::path]`).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(jobs::create_job, jobs::list_jobs))
        .routes(routes!(jobs::get_job, jobs::update_job, jobs::delete_job))
        .routes(routes!(jobs::create_registration_token))
        .routes(routes!(jobs::get_links, jobs::put_links))
        .routes(routes!(sessions::list_sessions))
        .routes(routes!(jobs::start_import))
        .routes(routes!(jobs::get_schedule))
        .routes(routes!(jobs::refresh_structure))
        .routes(routes!(jobs::plan_import))
        .routes(routes!(jobs::get_policy, jobs::put_policy))
        .routes(routes!(jobs::request_full_sync))
        .routes(routes!(tenant::list_accesses, tenant::create_access))
        .routes(routes!(tenant::update_access, tenant::delete_access))
        .routes(routes!(sessions::get_session))
        .routes(routes!(sessions::list_changes))
        .routes(routes!(sessions::approve_session))
        .routes(routes!(sessions::reject_session))
        .routes(routes!(tenant::list_users))
        .routes(routes!(tenant::user_history))
        .routes(routes!(tenant::get_settings, tenant::put_settings))
        .routes(routes!(tenant::list_agents))
        .routes(routes!(tenant::revoke_agent))
        .routes(routes!(tokens::list_admin_tokens, tokens::create_admin_token))
        .routes(routes!(tokens::revoke_admin_token))
        .routes(routes!(audit::list_audit))
        .merge(super::insight::routes())
}

/// A job of the calling tenant, named by the route's `{job}` segment. A
/// malformed id, an unknown job and another tenant's job all answer the
/// same 404.
#[derive(Debug, Clone)]
pub struct TenantJob {
    pub admin: Admin,
    pub job: Job,
}

/// The `{job}` segment of a route.
#[derive(Debug, Deserialize)]
struct JobSegment {
    job: String,
}

impl FromRequestParts<AppState> for TenantJob {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let admin = Admin::from_request_parts(parts, state).await?;
        let Path(JobSegment { job }) =
            Path::<JobSegment>::from_request_parts(parts, state).await.map_err(|_| AppError::NotFound(Missing::Job))?;
        let job = job_of(state, admin.tenant_id, &job).await?;
        Ok(TenantJob { admin, job })
    }
}

/// `?limit=N&cursor=C` of list endpoints.
#[derive(Debug, Deserialize)]
struct PageQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

impl PageQuery {
    fn limit(&self) -> Result<u32, AppError> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(n) => Err(RequestError::Limit { given: n, min: 1, max: MAX_LIMIT }.into()),
        }
    }
}

fn bad_cursor() -> AppError {
    RequestError::Cursor.into()
}

/// A `(created_at ms, id)` cursor.
fn time_and_id<T: std::str::FromStr>(text: &str) -> Result<(i64, T), AppError> {
    let [ms, id]: [String; 2] = cursor::decode(text, 2)?.try_into().map_err(|_| bad_cursor())?;
    Ok((ms.parse().map_err(|_| bad_cursor())?, id.parse().map_err(|_| bad_cursor())?))
}

/// The id in a path segment; a malformed one is a `what` that is not there.
pub(crate) fn parse_id<T: std::str::FromStr>(text: &str, what: Missing) -> Result<T, AppError> {
    text.parse().map_err(|_| AppError::NotFound(what))
}

/// The tenant's job `job` (an id as text), or 404.
pub(crate) async fn job_of(state: &AppState, tenant: TenantId, job: &str) -> Result<Job, AppError> {
    let id = parse_id(job, Missing::Job)?;
    store::jobs::get_job(&state.db, tenant, id).await?.ok_or(AppError::NotFound(Missing::Job))
}
