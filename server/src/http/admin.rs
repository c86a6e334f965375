//! The admin API: jobs, registration tokens, accesses, links, sessions,
//! users. Every query is scoped to the caller's tenant; another tenant's
//! objects answer 404, exactly like objects that do not exist.

use std::collections::{BTreeMap, BTreeSet};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use roster_import::GroupRef;
use roster_proto::admin::{
    Access, AccessDelta, AccessKind, AccessRef, Agent, CreateAccess, CreateJob, Decision, HistoryEntry, Job, Link, LinkInput, LinksPreview,
    LinksSaved, Page, PlanPreview, RegistrationToken, SafeguardPolicy, Session, SessionChange, SessionTrigger, TenantSettings, User,
};
use roster_proto::scope::JobScope;
use serde::Deserialize;
use uuid::Uuid;

use crate::app::AppState;
use crate::error::AppError;
use crate::http::auth::Admin;
use crate::http::cursor;
use crate::http::json::{ApiJson, ApiQuery, body_rejected};
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
        .route("/jobs/{job}/plan", post(plan_import))
        .route("/jobs/{job}/policy", get(get_policy).put(put_policy))
        .route("/jobs/{job}/full-sync", post(request_full_sync))
        .route("/accesses", get(list_accesses).post(create_access))
        .route("/sessions/{id}", get(get_session))
        .route("/sessions/{id}/changes", get(list_changes))
        .route("/sessions/{id}/approve", post(approve_session))
        .route("/sessions/{id}/reject", post(reject_session))
        .route("/users", get(list_users))
        .route("/users/{id}/history", get(user_history))
        .route("/settings", get(get_settings).put(put_settings))
        .route("/agents", get(list_agents))
        .route("/agents/{id}/revoke", post(revoke_agent))
        .merge(super::insight::routes())
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

pub(crate) fn parse_id(text: &str, what: &'static str) -> Result<Uuid, AppError> {
    text.parse().map_err(|_| AppError::NotFound(what))
}

pub(crate) async fn job_of(state: &AppState, admin: Admin, job: &str) -> Result<Job, AppError> {
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
    if let Some(policy) = &input.policy {
        validate_policy(policy)?;
    }
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

/// Replaces the job's links and answers with who gains and who loses
/// which access at the next import. Groups are checked for syntax now and
/// resolved to their objectGUID against the job's directory state when it
/// holds them (else at the first snapshot that does); a link keeps the
/// objectGUID it resolved to, so it follows its group through renames.
async fn put_links(
    State(state): State<AppState>,
    admin: Admin,
    Path(job): Path<String>,
    ApiJson(links): ApiJson<Vec<LinkInput>>,
) -> Result<ApiJson<LinksSaved>, AppError> {
    let job = job_of(&state, admin, &job).await?;
    let mut tx = state.db.begin_write().await?;
    let catalogue = store::jobs::access_catalogue(&mut tx, admin.tenant_id).await?;
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
    // A group given by GUID is resolved; one given as before keeps its resolution.
    let before = store::jobs::get_links(&mut tx, job.id).await?;
    let resolved: Vec<_> = links
        .iter()
        .map(|l| match GroupRef::parse(l.group.trim()) {
            Ok(GroupRef::Guid(guid)) => Some(guid),
            _ => before.iter().find(|old| old.group == l.group.trim()).and_then(|old| old.group_guid),
        })
        .collect();
    store::jobs::put_links(&mut tx, job.id, &links, &resolved).await?;
    let saved = store::jobs::get_links(&mut tx, job.id).await?;
    let mut preview = PreviewBuilder::default();
    let preview =
        match crate::import::plan_streamed(&mut tx, state.db.dialect, admin.tenant_id, &job, &saved, |change| preview.add(change)).await {
            Ok((plan, context)) => {
                store::jobs::record_link_resolution(&mut tx, job.id, &context.resolved_links(&plan)).await?;
                preview.finish(&plan, &context)
            }
            Err(crate::import::ImportError::NoState) => LinksPreview {
                gains: Vec::new(),
                losses: Vec::new(),
                counts: Default::default(),
                notes: vec!["the job has no snapshot yet: the links take effect at its first import".to_owned()],
            },
            Err(error) => return Err(error.into()),
        };
    let links = store::jobs::get_links(&mut tx, job.id).await?;
    tx.commit().await?;
    tracing::info!(tenant = %admin.tenant_id, job = %job.id, links = links.len(), "links replaced");
    Ok(ApiJson(LinksSaved { links, preview }))
}

/// Most usernames an access delta lists.
const PREVIEW_USERNAMES: usize = 100;

/// Who gains and who loses each access, gathered change by change: a
/// count and the first usernames (in order) per access.
#[derive(Debug, Default)]
struct PreviewBuilder {
    gains: BTreeMap<Uuid, (u64, BTreeSet<String>)>,
    losses: BTreeMap<Uuid, (u64, BTreeSet<String>)>,
}

impl PreviewBuilder {
    fn add(&mut self, change: &roster_import::UserChange) {
        let note = |map: &mut BTreeMap<Uuid, (u64, BTreeSet<String>)>, id: Uuid| {
            let (count, names) = map.entry(id).or_default();
            *count += 1;
            if names.len() < PREVIEW_USERNAMES || names.last().is_some_and(|last| change.target.username < *last) {
                names.insert(change.target.username.clone());
                if names.len() > PREVIEW_USERNAMES {
                    names.pop_last();
                }
            }
        };
        for id in &change.gained {
            note(&mut self.gains, *id);
        }
        for id in &change.lost {
            note(&mut self.losses, *id);
        }
    }

    fn finish(self, plan: &roster_import::Plan, context: &crate::import::PlanContext) -> LinksPreview {
        let deltas = |map: BTreeMap<Uuid, (u64, BTreeSet<String>)>| {
            let mut deltas: Vec<AccessDelta> = map
                .into_iter()
                .map(|(id, (users, names))| {
                    let (kind, name) = context.catalogue.get(&id).cloned().unwrap_or((AccessKind::User, id.to_string()));
                    AccessDelta { access: AccessRef { id, kind, name }, users, usernames: names.into_iter().collect() }
                })
                .collect();
            deltas.sort_by(|a, b| a.access.cmp(&b.access));
            deltas
        };
        LinksPreview { gains: deltas(self.gains), losses: deltas(self.losses), counts: plan.counts, notes: context.notes(plan) }
    }
}

/// `?limit=N` of the dry run.
#[derive(Debug, Deserialize)]
struct PlanQuery {
    limit: Option<u32>,
}

/// A dry run: plans an import of the job's stored directory state with its
/// current links and users, applies nothing, and answers with the plan.
async fn plan_import(
    State(state): State<AppState>,
    admin: Admin,
    Path(job): Path<String>,
    ApiQuery(query): ApiQuery<PlanQuery>,
) -> Result<ApiJson<PlanPreview>, AppError> {
    let job = job_of(&state, admin, &job).await?;
    let limit = match query.limit {
        None => DEFAULT_LIMIT,
        Some(n) if n <= MAX_PLAN_CHANGES => n,
        Some(n) => return Err(AppError::BadRequest(format!("limit must be between 0 and {MAX_PLAN_CHANGES}, got {n}"))),
    };
    // A read-only transaction: one consistent picture, nothing written.
    let mut tx = state.db.pool.begin().await?;
    let links = store::jobs::get_links(&mut tx, job.id).await?;
    let mut changes = Vec::new();
    let mut total_changes = 0u64;
    let (plan, context) = crate::import::plan_streamed(&mut tx, state.db.dialect, admin.tenant_id, &job, &links, |change| {
        total_changes += 1;
        if changes.len() < limit as usize {
            changes.push(crate::import::session_change(change, change.existing_id));
        }
    })
    .await?;
    tx.rollback().await?;
    Ok(ApiJson(PlanPreview {
        snapshot_id: context.snapshot_id,
        counts: plan.counts,
        held_reasons: roster_import::safeguard::judge(&job.policy, &plan),
        notes: context.notes(&plan),
        changes,
        total_changes,
    }))
}

/// Most changes a dry run lists.
const MAX_PLAN_CHANGES: u32 = 10_000;

fn validate_policy(policy: &SafeguardPolicy) -> Result<(), AppError> {
    for (name, budget) in [("max_deactivations", policy.max_deactivations), ("max_lost_basic", policy.max_lost_basic)] {
        if budget.percent > 100 {
            return Err(AppError::Unprocessable(format!("{name}.percent must be between 0 and 100, got {}", budget.percent)));
        }
    }
    Ok(())
}

async fn get_policy(State(state): State<AppState>, admin: Admin, Path(job): Path<String>) -> Result<ApiJson<SafeguardPolicy>, AppError> {
    Ok(ApiJson(job_of(&state, admin, &job).await?.policy))
}

async fn put_policy(
    State(state): State<AppState>,
    admin: Admin,
    Path(job): Path<String>,
    ApiJson(policy): ApiJson<SafeguardPolicy>,
) -> Result<ApiJson<SafeguardPolicy>, AppError> {
    let job = job_of(&state, admin, &job).await?;
    validate_policy(&policy)?;
    store::jobs::set_policy(&state.db, job.id, &policy).await?;
    tracing::info!(tenant = %admin.tenant_id, job = %job.id, ?policy, "safeguard policy replaced");
    Ok(ApiJson(policy))
}

async fn get_settings(State(state): State<AppState>, admin: Admin) -> Result<ApiJson<TenantSettings>, AppError> {
    let mut conn = state.db.pool.acquire().await?;
    Ok(ApiJson(store::tenants::settings(&mut conn, admin.tenant_id).await?))
}

async fn put_settings(
    State(state): State<AppState>,
    admin: Admin,
    ApiJson(settings): ApiJson<TenantSettings>,
) -> Result<ApiJson<TenantSettings>, AppError> {
    if !(1..=3650).contains(&settings.purge_after_days) {
        return Err(AppError::Unprocessable(format!("purge_after_days must be between 1 and 3650, got {}", settings.purge_after_days)));
    }
    if settings.session_retention_days.is_some_and(|days| days == 0) {
        return Err(AppError::Unprocessable("session_retention_days must be at least 1 (omit it to keep sessions forever)".into()));
    }
    store::tenants::set_settings(&state.db, admin.tenant_id, &settings).await?;
    tracing::info!(tenant = %admin.tenant_id, ?settings, "tenant settings replaced");
    Ok(ApiJson(settings))
}

/// The optional body of approve and reject.
fn decision(body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>) -> Result<String, AppError> {
    let body = body.map_err(|rejection| {
        body_rejected(rejection.status(), rejection.body_text(), || "the request body is larger than this server accepts".into())
    })?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok("admin".to_owned());
    }
    let decision: Option<Decision> =
        serde_json::from_slice(&body).map_err(|e| AppError::Unprocessable(format!("body is not a Decision: {e}")))?;
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
async fn approve_session(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<(StatusCode, ApiJson<Session>), AppError> {
    decide(state, admin, id, body, store::sessions::Verdict::Approve).await
}

/// Rejects a held session: nothing of it is applied.
async fn reject_session(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<(StatusCode, ApiJson<Session>), AppError> {
    decide(state, admin, id, body, store::sessions::Verdict::Reject).await
}

async fn decide(
    state: AppState,
    admin: Admin,
    id: String,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
    verdict: store::sessions::Verdict,
) -> Result<(StatusCode, ApiJson<Session>), AppError> {
    let id = parse_id(&id, "session")?;
    let by = decision(body)?;
    let session = store::sessions::get_session(&state.db, admin.tenant_id, id).await?.ok_or(AppError::NotFound("session"))?;
    if !store::sessions::decide(&state.db, admin.tenant_id, id, verdict, &by).await? {
        return Err(AppError::Conflict(format!("session {id} is {}, not held", session.status.as_str())));
    }
    tracing::info!(tenant = %admin.tenant_id, session = %id, ?verdict, %by, "held session decided");
    if verdict == store::sessions::Verdict::Approve {
        state.imports.wake();
    }
    let session = store::sessions::get_session(&state.db, admin.tenant_id, id).await?.ok_or(AppError::NotFound("session"))?;
    let status = if verdict == store::sessions::Verdict::Approve { StatusCode::ACCEPTED } else { StatusCode::OK };
    Ok((status, ApiJson(session)))
}

/// One user's timeline across sessions, oldest first.
async fn user_history(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<ApiJson<Page<HistoryEntry>>, AppError> {
    let id = parse_id(&id, "user")?;
    store::users::get_user(&state.db, admin.tenant_id, id).await?.ok_or(AppError::NotFound("user"))?;
    let after = match &page.cursor {
        Some(c) => Some(time_and_id(c).map(|(ms, id)| (ms, id.to_string()))?),
        None => None,
    };
    let (items, next) = store::sessions::history(&state.db, id, page.limit()?, after).await?;
    Ok(ApiJson(Page { items, next_cursor: next.map(|(ms, id)| cursor::encode(&[ms.to_string(), id])) }))
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
