//! The admin API: jobs, registration tokens, accesses, links, sessions,
//! users. Every query is scoped to the caller's tenant; another tenant's
//! objects answer 404, exactly like objects that do not exist.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use roster_import::GroupRef;
use roster_proto::admin::{
    Access, Agent, CreateAccess, CreateJob, Job, Link, LinkInput, Page, RegistrationToken, Session, SessionChange, SessionTrigger, User,
};
use roster_proto::scope::JobScope;
use serde::Deserialize;
use uuid::Uuid;

use crate::app::AppState;
use crate::error::AppError;
use crate::http::auth::Admin;
use crate::http::cursor;
use crate::http::json::{ApiJson, ApiQuery};
use crate::store;

/// Default and largest page sizes of list endpoints.
const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;
/// How long a registration token stays usable.
const REGISTRATION_TOKEN_TTL_MS: i64 = 24 * 3600 * 1000;
/// Daily import time when a job does not say.
const DEFAULT_SCHEDULE: &str = "02:00";
/// Days between full reconciliations when a job does not say.
const DEFAULT_FULL_SYNC_DAYS: u32 = 7;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/jobs", post(create_job).get(list_jobs))
        .route("/jobs/{job}", get(get_job))
        .route("/jobs/{job}/registration-tokens", post(create_registration_token))
        .route("/jobs/{job}/links", get(get_links).put(put_links))
        .route("/jobs/{job}/sessions", get(list_sessions))
        .route("/jobs/{job}/imports", post(start_import))
        .route("/jobs/{job}/full-sync", post(request_full_sync))
        .route("/accesses", get(list_accesses).post(create_access))
        .route("/sessions/{id}", get(get_session))
        .route("/sessions/{id}/changes", get(list_changes))
        .route("/users", get(list_users))
        .route("/agents", get(list_agents))
        .route("/agents/{id}/revoke", post(revoke_agent))
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
            Some(n) => Err(AppError::BadRequest(format!("limit must be between 1 and {MAX_LIMIT}, got {n}"))),
        }
    }
}

fn bad_cursor() -> AppError {
    AppError::BadRequest("cursor is not one this API returned".into())
}

/// A `(created_at ms, id)` cursor.
fn time_and_id(text: &str) -> Result<(i64, Uuid), AppError> {
    let [ms, id]: [String; 2] = cursor::decode(text, 2)?.try_into().map_err(|_| bad_cursor())?;
    Ok((ms.parse().map_err(|_| bad_cursor())?, id.parse().map_err(|_| bad_cursor())?))
}

fn parse_id(text: &str, what: &'static str) -> Result<Uuid, AppError> {
    text.parse().map_err(|_| AppError::NotFound(what))
}

async fn job_of(state: &AppState, admin: Admin, job: &str) -> Result<Job, AppError> {
    let id = parse_id(job, "job")?;
    store::jobs::get_job(&state.db, admin.tenant_id, id).await?.ok_or(AppError::NotFound("job"))
}

async fn create_job(
    State(state): State<AppState>,
    admin: Admin,
    ApiJson(input): ApiJson<CreateJob>,
) -> Result<(StatusCode, ApiJson<Job>), AppError> {
    if input.name.trim().is_empty() {
        return Err(AppError::Unprocessable("name must not be empty".into()));
    }
    JobScope {
        relative_paths: input.relative_paths.clone(),
        group_paths: input.group_paths.clone(),
        user_filter: input.user_filter.clone(),
    }
    .validate()
    .map_err(|e| AppError::Unprocessable(e.to_string()))?;
    let schedule = input.schedule_time.clone().unwrap_or_else(|| DEFAULT_SCHEDULE.to_owned());
    let Some(daily) = crate::schedule::parse_daily_time(&schedule) else {
        return Err(AppError::Unprocessable(format!("schedule_time must be HH:MM (24-hour, UTC), got `{schedule}`")));
    };
    let interval = input.full_sync_interval_days.unwrap_or(DEFAULT_FULL_SYNC_DAYS);
    if !(1..=365).contains(&interval) {
        return Err(AppError::Unprocessable(format!("full_sync_interval_days must be between 1 and 365, got {interval}")));
    }
    match store::jobs::create_job(&state.db, admin.tenant_id, &input, &schedule, daily, interval).await? {
        store::jobs::CreatedJob::Created(job) => {
            tracing::info!(tenant = %admin.tenant_id, job = %job.id, "job created");
            Ok((StatusCode::CREATED, ApiJson(job)))
        }
        store::jobs::CreatedJob::NameTaken => Err(AppError::Conflict(format!("a job named `{}` already exists", input.name.trim()))),
    }
}

async fn list_jobs(
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

async fn get_job(State(state): State<AppState>, admin: Admin, Path(job): Path<String>) -> Result<ApiJson<Job>, AppError> {
    Ok(ApiJson(job_of(&state, admin, &job).await?))
}

async fn create_registration_token(
    State(state): State<AppState>,
    admin: Admin,
    Path(job): Path<String>,
) -> Result<(StatusCode, ApiJson<RegistrationToken>), AppError> {
    let job = job_of(&state, admin, &job).await?;
    let token = store::jobs::create_registration_token(&state.db, admin.tenant_id, job.id, REGISTRATION_TOKEN_TTL_MS).await?;
    Ok((StatusCode::CREATED, ApiJson(token)))
}

async fn create_access(
    State(state): State<AppState>,
    admin: Admin,
    ApiJson(input): ApiJson<CreateAccess>,
) -> Result<(StatusCode, ApiJson<Access>), AppError> {
    let name = input.name.trim();
    if name.is_empty() {
        return Err(AppError::Unprocessable("name must not be empty".into()));
    }
    let (access, created) = store::jobs::create_access(&state.db, admin.tenant_id, input.kind, name).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, ApiJson(access)))
}

async fn list_accesses(
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

async fn get_links(State(state): State<AppState>, admin: Admin, Path(job): Path<String>) -> Result<ApiJson<Vec<Link>>, AppError> {
    let job = job_of(&state, admin, &job).await?;
    let mut conn = state.db.pool.acquire().await?;
    Ok(ApiJson(store::jobs::get_links(&mut conn, job.id).await?))
}

/// Replaces the job's links. Groups are checked for syntax now and
/// resolved against the job's newest snapshot when there is one; a group
/// not (yet) in a snapshot is accepted and resolved at the next import.
async fn put_links(
    State(state): State<AppState>,
    admin: Admin,
    Path(job): Path<String>,
    ApiJson(links): ApiJson<Vec<LinkInput>>,
) -> Result<ApiJson<Vec<Link>>, AppError> {
    let job = job_of(&state, admin, &job).await?;
    let catalogue = {
        let mut conn = state.db.pool.acquire().await?;
        store::jobs::access_catalogue(&mut conn, admin.tenant_id).await?
    };
    let mut problems = Vec::new();
    for (i, link) in links.iter().enumerate() {
        if let Err(e) = GroupRef::parse(link.group.trim()) {
            problems.push(format!("links[{i}].group: {e}"));
        }
        if !catalogue.contains_key(&link.access_id) {
            problems.push(format!("links[{i}].access_id: no access {} in this tenant", link.access_id));
        }
    }
    if !problems.is_empty() {
        return Err(AppError::Unprocessable(problems.join("; ")));
    }
    // Keep resolutions already known for groups given by GUID.
    let resolved: Vec<_> = links
        .iter()
        .map(|l| match GroupRef::parse(l.group.trim()) {
            Ok(GroupRef::Guid(guid)) => Some(guid),
            _ => None,
        })
        .collect();
    store::jobs::put_links(&state.db, job.id, &links, &resolved).await?;
    tracing::info!(tenant = %admin.tenant_id, job = %job.id, links = links.len(), "links replaced");
    let mut conn = state.db.pool.acquire().await?;
    Ok(ApiJson(store::jobs::get_links(&mut conn, job.id).await?))
}

async fn list_sessions(
    State(state): State<AppState>,
    admin: Admin,
    Path(job): Path<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<ApiJson<Page<Session>>, AppError> {
    let job = job_of(&state, admin, &job).await?;
    let before = match &page.cursor {
        Some(c) => Some(time_and_id(c).map(|(ms, id)| (ms, id.to_string()))?),
        None => None,
    };
    let (items, next) = store::sessions::list_sessions(&state.db, job.id, page.limit()?, before).await?;
    Ok(ApiJson(Page { items, next_cursor: next.map(|(ms, id)| cursor::encode(&[ms.to_string(), id])) }))
}

async fn get_session(State(state): State<AppState>, admin: Admin, Path(id): Path<String>) -> Result<ApiJson<Session>, AppError> {
    let id = parse_id(&id, "session")?;
    let session = store::sessions::get_session(&state.db, admin.tenant_id, id).await?.ok_or(AppError::NotFound("session"))?;
    Ok(ApiJson(session))
}

async fn list_changes(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<ApiJson<Page<SessionChange>>, AppError> {
    let id = parse_id(&id, "session")?;
    store::sessions::get_session(&state.db, admin.tenant_id, id).await?.ok_or(AppError::NotFound("session"))?;
    let from = match &page.cursor {
        None => 0,
        Some(c) => cursor::decode_as::<i64>(c, 1)?[0],
    };
    let (items, next) = store::sessions::list_changes(&state.db, id, page.limit()?, from).await?;
    Ok(ApiJson(Page { items, next_cursor: next.map(|n| cursor::encode(&[n.to_string()])) }))
}

/// "Perform import": plans and applies the job's newest snapshot now.
async fn start_import(
    State(state): State<AppState>,
    admin: Admin,
    Path(job): Path<String>,
) -> Result<(StatusCode, ApiJson<Session>), AppError> {
    let job = job_of(&state, admin, &job).await?;
    let mut tx = state.db.begin_write().await?;
    let snapshot = store::directory::latest_committed(&mut tx, job.id)
        .await?
        .ok_or_else(|| AppError::Conflict("the job has no snapshot yet: register an agent and run `roster-agent push`".into()))?;
    let id =
        store::sessions::insert_session(&mut tx, admin.tenant_id, job.id, snapshot.id, &snapshot.manifest_sha256, SessionTrigger::Manual)
            .await?;
    tx.commit().await?;
    state.imports.wake();
    let session = store::sessions::get_session(&state.db, admin.tenant_id, id).await?.ok_or(AppError::NotFound("session"))?;
    Ok((StatusCode::ACCEPTED, ApiJson(session)))
}

/// Asks the job's agent to send a full snapshot next time, catching what
/// deltas cannot see (e.g. deletions whose tombstones are gone).
async fn request_full_sync(State(state): State<AppState>, admin: Admin, Path(job): Path<String>) -> Result<StatusCode, AppError> {
    let job = job_of(&state, admin, &job).await?;
    store::jobs::request_full_sync(&state.db, job.id).await?;
    tracing::info!(tenant = %admin.tenant_id, job = %job.id, "full reconciliation requested");
    Ok(StatusCode::ACCEPTED)
}

/// `?job=J&limit=N&cursor=C` of lists that may be narrowed to one job.
#[derive(Debug, Deserialize)]
struct JobPageQuery {
    job: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

impl JobPageQuery {
    /// The job asked for, if one was (404 for another tenant's), and the page size.
    async fn job_and_limit(&self, state: &AppState, admin: Admin) -> Result<(Option<Uuid>, u32), AppError> {
        let job = match &self.job {
            Some(job) => Some(job_of(state, admin, job).await?.id),
            None => None,
        };
        Ok((job, PageQuery { limit: self.limit, cursor: None }.limit()?))
    }
}

async fn list_users(
    State(state): State<AppState>,
    admin: Admin,
    ApiQuery(query): ApiQuery<JobPageQuery>,
) -> Result<ApiJson<Page<User>>, AppError> {
    let (job, limit) = query.job_and_limit(&state, admin).await?;
    let after = match &query.cursor {
        Some(c) => Some(cursor::decode_as::<Uuid>(c, 1)?[0]),
        None => None,
    };
    let (items, next) = store::users::list_users(&state.db, admin.tenant_id, job, limit, after).await?;
    Ok(ApiJson(Page { items, next_cursor: next.map(|id| cursor::encode(&[id.to_string()])) }))
}

/// The tenant's agents with their health (last seen, revoked).
async fn list_agents(
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
async fn revoke_agent(State(state): State<AppState>, admin: Admin, Path(id): Path<String>) -> Result<StatusCode, AppError> {
    let id = parse_id(&id, "agent")?;
    if !store::agents::revoke(&state.db, admin.tenant_id, id).await? {
        return Err(AppError::NotFound("agent"));
    }
    tracing::warn!(tenant = %admin.tenant_id, agent = %id, "agent revoked");
    Ok(StatusCode::NO_CONTENT)
}
