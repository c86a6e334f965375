//! Job handlers: create, list, read, change and delete jobs, their registration tokens,
//! links, safeguard policy, imports, dry runs and full reconciliations.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use roster_proto::admin::{
    CreateJob, Job, Link, LinkInput, LinksSaved, Page, PlanPreview, RegistrationToken, SafeguardPolicy, ScheduledRuns, Session,
    StartImport, UpdateJob,
};
use roster_proto::problem::Problem;
use roster_proto::schema::openapi::JobPage;
use roster_proto::schema::{LinkInputs, Links};
use serde::Deserialize;

use super::{DEFAULT_LIMIT, PageQuery, TenantJob, time_and_id};
use crate::error::{AppError, RequestError};
use crate::http::auth::Admin;
use crate::http::cursor;
use crate::http::json::{self, ApiJson, ApiQuery};
use crate::http::openapi::{examples, params, responses};
use crate::service;
use crate::state::AppState;
use crate::store;

/// How long a registration token stays usable.
const REGISTRATION_TOKEN_TTL_MS: i64 = store::UnixMillis::DAY_MS;
/// Most changes a dry run lists (the contract's `limit` maximum).
const MAX_PLAN_CHANGES: u32 = roster_proto::admin::MAX_PLAN_CHANGES as u32;

#[utoipa::path(
    post,
    path = "/jobs",
    operation_id = "createJob",
    tag = "admin",
    summary = "Create a job",
    request_body(
        content = CreateJob,
        content_type = "application/json",
    ),
    responses(
        (status = 201, description = "Created.", body = Job, content_type = "application/json"),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 409, description = "A job of that name (trimmed) already exists in the tenant.", body = Problem, content_type = "application/problem+json"),
        (status = 413, response = responses::PayloadTooLarge),
        (status = 422, description = "Body does not fit `CreateJob`, the name is blank, the scope is invalid (no non-blank relative path, or a path that is not a DN), `schedule_time` is not `HH:MM`, or `full_sync_interval_days` is outside 1..=365.", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = responses::TooManyRequests),
        (status = 500, response = responses::Internal),
        (status = 503, response = responses::Unavailable),
    ),
)]
pub(super) async fn create_job(
    State(state): State<AppState>,
    admin: Admin,
    ApiJson(input): ApiJson<CreateJob>,
) -> Result<(StatusCode, ApiJson<Job>), AppError> {
    let job = service::jobs::create_job(&state.db, &admin.caller, &input, state.limits.schedule_jitter_secs).await?;
    Ok((StatusCode::CREATED, ApiJson(job)))
}

#[utoipa::path(
    get,
    path = "/jobs",
    operation_id = "listJobs",
    tag = "admin",
    summary = "List the tenant's jobs",
    params(params::Limit, params::Cursor),
    responses(
        (status = 200, description = "All jobs, oldest first, in one page.", body = JobPage, content_type = "application/json"),
        (status = 400, response = responses::BadQuery),
        (status = 401, response = responses::Unauthorized),
        (status = 429, response = responses::TooManyRequests),
        (status = 500, response = responses::Internal),
        (status = 503, response = responses::Unavailable),
    ),
)]
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

#[utoipa::path(
    get,
    path = "/jobs/{job}",
    operation_id = "getJob",
    tag = "admin",
    summary = "Get a job",
    params(params::Job),
    responses(
        (status = 200, description = "The job.", body = Job, content_type = "application/json"),
        (status = 401, response = responses::Unauthorized),
        (status = 404, response = responses::NotFound),
        (status = 429, response = responses::TooManyRequests),
        (status = 500, response = responses::Internal),
        (status = 503, response = responses::Unavailable),
    ),
)]
pub(super) async fn get_job(TenantJob { job, .. }: TenantJob) -> Result<ApiJson<Job>, AppError> {
    Ok(ApiJson(job))
}

#[utoipa::path(
    patch,
    path = "/jobs/{job}",
    operation_id = "updateJob",
    tag = "admin",
    summary = "Change a job",
    description = "The members given replace the job's; the others stay. The result is checked as a new job is. Changing the paths or the user filter makes the next snapshot full.",
    params(params::Job),
    request_body(
        content = UpdateJob,
        content_type = "application/json",
    ),
    responses(
        (status = 200, description = "The job as changed.", body = Job, content_type = "application/json"),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 404, response = responses::NotFound),
        (status = 409, description = "Another job of the tenant has that (trimmed) name.", body = Problem, content_type = "application/problem+json"),
        (status = 413, response = responses::PayloadTooLarge),
        (status = 422, description = "Body does not fit `UpdateJob`, or the job it would make is invalid (as for `createJob`).", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = responses::TooManyRequests),
        (status = 500, response = responses::Internal),
        (status = 503, response = responses::Unavailable),
    ),
)]
pub(super) async fn update_job(
    State(state): State<AppState>,
    TenantJob { admin, job }: TenantJob,
    ApiJson(patch): ApiJson<UpdateJob>,
) -> Result<ApiJson<Job>, AppError> {
    Ok(ApiJson(service::jobs::update_job(&state.db, &admin.caller, &job, &patch, state.limits.schedule_jitter_secs).await?))
}

#[utoipa::path(
    delete,
    path = "/jobs/{job}",
    operation_id = "deleteJob",
    tag = "admin",
    summary = "Delete a job",
    description = "Refused while the job has active users (unlink its groups and import it first). Otherwise its agents are revoked, its registration tokens, links and directory state deleted, and its queued or held imports failed; its sessions stay readable (`GET /api/v1/sessions/{id}`), and its inactive users stay until the tenant's grace period ends. Its name is free again.",
    params(params::Job),
    responses(
        (status = 204, description = "Deleted; no body."),
        (status = 401, response = responses::Unauthorized),
        (status = 404, response = responses::NotFound),
        (status = 409, description = "The job has active users; the detail says how many.", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = responses::TooManyRequests),
        (status = 500, response = responses::Internal),
        (status = 503, response = responses::Unavailable),
    ),
)]
pub(super) async fn delete_job(State(state): State<AppState>, TenantJob { admin, job }: TenantJob) -> Result<StatusCode, AppError> {
    service::jobs::delete_job(&state.db, &admin.caller, &job).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/jobs/{job}/registration-tokens",
    operation_id = "createRegistrationToken",
    tag = "admin",
    summary = "Create a one-time agent registration token",
    description = "No request body.",
    params(params::Job),
    responses(
        (status = 201, description = "Created; the token is shown only now and is valid for 24 hours.", body = RegistrationToken, content_type = "application/json"),
        (status = 401, response = responses::Unauthorized),
        (status = 404, response = responses::NotFound),
        (status = 429, response = responses::TooManyRequests),
        (status = 500, response = responses::Internal),
        (status = 503, response = responses::Unavailable),
    ),
)]
pub(super) async fn create_registration_token(
    State(state): State<AppState>,
    TenantJob { admin, job }: TenantJob,
) -> Result<(StatusCode, ApiJson<RegistrationToken>), AppError> {
    let token = service::jobs::issue_registration_token(&state.db, &admin.caller, &job, REGISTRATION_TOKEN_TTL_MS).await?;
    Ok((StatusCode::CREATED, ApiJson(token)))
}

#[utoipa::path(
    get,
    path = "/jobs/{job}/links",
    operation_id = "getLinks",
    tag = "admin",
    summary = "Get the job's links",
    params(params::Job),
    responses(
        (status = 200, description = "The links, in the order they were given.", body = Links, content_type = "application/json"),
        (status = 401, response = responses::Unauthorized),
        (status = 404, response = responses::NotFound),
        (status = 429, response = responses::TooManyRequests),
        (status = 500, response = responses::Internal),
        (status = 503, response = responses::Unavailable),
    ),
)]
pub(super) async fn get_links(State(state): State<AppState>, TenantJob { job, .. }: TenantJob) -> Result<ApiJson<Vec<Link>>, AppError> {
    let mut conn = state.db.pool.acquire().await?;
    Ok(ApiJson(store::jobs::get_links(&mut conn, job.id).await?))
}

/// Replaces the job's links and answers with who gains and who loses
/// which access at the next import (see `service::links`).
#[utoipa::path(
    put,
    path = "/jobs/{job}/links",
    operation_id = "putLinks",
    tag = "admin",
    summary = "Replace the job's links",
    description = "Replaces the job's links and answers with who gains and who loses which access at the next import, planned on the job's stored directory state (empty before the first snapshot). Groups are checked for syntax now and resolved to their objectGUID against the job's directory state when it holds them (else at the first snapshot that does); a group given again as before keeps the objectGUID it resolved to, so a link follows its group through renames. The body is parsed before the job is looked up, so a bad body answers 400/422 even for an unknown job.",
    params(params::Job),
    request_body(
        content = LinkInputs,
        content_type = "application/json",
    ),
    responses(
        (
            status = 200,
            description = "The links as stored, and the preview of what they do.",
            body = LinksSaved,
            content_type = "application/json",
            examples(
                ("withPreview" = (summary = "Linking Sales grants Copenhagen to two users", value = json!({
                    "links": [
                        {
                            "group": "CN=Sales,OU=Groups,DC=corp,DC=example,DC=test",
                            "access_id": "d3d94468-02a4-4322-8f5d-7a1e9b6c0d2f",
                            "group_guid": "00112233-4455-6677-8899-aabbccddeeff"
                        }
                    ],
                    "preview": {
                        "gains": [
                            {
                                "access": {
                                    "id": "d3d94468-02a4-4322-8f5d-7a1e9b6c0d2f",
                                    "kind": "user",
                                    "name": "Copenhagen"
                                },
                                "users": 2,
                                "usernames": [
                                    "ann",
                                    "bo"
                                ]
                            }
                        ],
                        "losses": [],
                        "counts": {
                            "created": 1,
                            "updated": 1,
                            "deactivated": 0,
                            "reactivated": 0,
                            "lost_basic": 0,
                            "unchanged": 28,
                            "not_linked": 3
                        },
                        "notes": []
                    }
                }))),
                ("beforeFirstSnapshot" = (summary = "No snapshot yet", value = json!({
                    "links": [
                        {
                            "group": "CN=Sales,OU=Groups,DC=corp,DC=example,DC=test",
                            "access_id": "d3d94468-02a4-4322-8f5d-7a1e9b6c0d2f"
                        }
                    ],
                    "preview": {
                        "gains": [],
                        "losses": [],
                        "counts": {
                            "created": 0,
                            "updated": 0,
                            "deactivated": 0,
                            "reactivated": 0,
                            "lost_basic": 0,
                            "unchanged": 0,
                            "not_linked": 0
                        },
                        "notes": [
                            "the job has no snapshot yet: the links take effect at its first import"
                        ]
                    }
                }))),
            ),
        ),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 404, response = responses::NotFound),
        (status = 409, description = "The job's scope does not resolve against its snapshot's base DN, so the preview cannot be planned; nothing is saved.", body = Problem, content_type = "application/problem+json"),
        (status = 413, response = responses::PayloadTooLarge),
        (status = 422, description = "Body does not fit `Vec<LinkInput>`, a `group` is neither an objectGUID, a DN nor a group name, or an `access_id` is not an access of the tenant (all problems are listed in `detail`).", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = responses::TooManyRequests),
        (status = 500, response = responses::Internal),
        (status = 503, response = responses::Unavailable),
    ),
)]
pub(super) async fn put_links(
    State(state): State<AppState>,
    TenantJob { admin, job }: TenantJob,
    ApiJson(links): ApiJson<Vec<LinkInput>>,
) -> Result<ApiJson<LinksSaved>, AppError> {
    Ok(ApiJson(service::links::replace_links(&state.db, &admin.caller, &job, &links).await?))
}

/// `?limit=N` of the dry run.
#[derive(Debug, Deserialize)]
pub(super) struct PlanQuery {
    limit: Option<u32>,
}

/// A dry run: plans an import of the job's stored directory state with its
/// current links and users, applies nothing, and answers with the plan.
#[utoipa::path(
    post,
    path = "/jobs/{job}/plan",
    operation_id = "planImport",
    tag = "admin",
    summary = "Dry run: what an import would do now",
    description = "No request body. Plans an import of the job's stored directory state with its current links and users, exactly as the next import would, and applies nothing (nothing is written, not even link resolutions). `held_reasons` says whether the job's safeguard would hold the import.",
    params(params::Job, params::PlanLimit),
    responses(
        (
            status = 200,
            description = "The plan: counts, whether the safeguard would hold it and why, notes, and the first `limit` changes (planned creations have no `user_id`).",
            body = PlanPreview,
            content_type = "application/json",
            examples(
                ("wouldBeHeld" = (summary = "Ten of thirty users left AD", value = json!({
                    "snapshot_id": "c9f0f895-fb98-4b91-99f5-1a2b3c4d5e6f",
                    "counts": {
                        "created": 1,
                        "updated": 0,
                        "deactivated": 10,
                        "reactivated": 0,
                        "lost_basic": 10,
                        "unchanged": 19,
                        "not_linked": 0
                    },
                    "held_reasons": [
                        "the plan deactivates 10 of 30 active users; the policy allows 3 (500 or 10 %, whichever is smaller)"
                    ],
                    "notes": [],
                    "changes": [
                        {
                            "object_guid": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
                            "username": "bo",
                            "action": "created",
                            "details": [
                                {
                                    "type": "field",
                                    "field": "username",
                                    "new": "bo"
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
                            "user_id": "6512bd43-d9ca-4a6e-b2c1-3e0f8d7c6b5a",
                            "object_guid": "d4c3b2a1-f6e5-1807-293a-4b5c6d7e8f90",
                            "username": "ann",
                            "action": "deactivated",
                            "details": [
                                {
                                    "type": "deactivated",
                                    "reason": "gone_from_directory"
                                },
                                {
                                    "type": "access_lost",
                                    "id": "d3d94468-02a4-4322-8f5d-7a1e9b6c0d2f",
                                    "kind": "user",
                                    "name": "Copenhagen"
                                }
                            ]
                        }
                    ],
                    "total_changes": 11
                }))),
            ),
        ),
        (status = 400, description = "`limit` does not parse or is outside 0..=10000.", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = responses::Unauthorized),
        (status = 404, response = responses::NotFound),
        (
            status = 409,
            description = "The job has no directory state yet (no snapshot committed), or its scope does not resolve against the snapshot's base DN; `detail` says which.",
            body = Problem,
            content_type = "application/problem+json",
            examples(
                ("noSnapshot" = (summary = "No snapshot yet", value = json!(examples::no_snapshot()))),
            ),
        ),
        (status = 429, response = responses::TooManyRequests),
        (status = 500, response = responses::Internal),
        (status = 503, response = responses::Unavailable),
    ),
)]
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

#[utoipa::path(
    get,
    path = "/jobs/{job}/policy",
    operation_id = "getPolicy",
    tag = "admin",
    summary = "Get the job's import safeguard",
    params(params::Job),
    responses(
        (
            status = 200,
            description = "The job's safeguard policy (`Job.policy`).",
            body = SafeguardPolicy,
            content_type = "application/json",
            examples(
                ("default" = (summary = "The defaults", value = json!({
                    "max_deactivations": {
                        "count": 500,
                        "percent": 10
                    },
                    "max_lost_basic": {
                        "count": 500,
                        "percent": 10
                    },
                    "min_active_users": 20
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
pub(super) async fn get_policy(TenantJob { job, .. }: TenantJob) -> Result<ApiJson<SafeguardPolicy>, AppError> {
    Ok(ApiJson(job.policy))
}

#[utoipa::path(
    put,
    path = "/jobs/{job}/policy",
    operation_id = "putPolicy",
    tag = "admin",
    summary = "Replace the job's import safeguard",
    description = "The whole policy is replaced: send every member. The body is parsed before the job is looked up, so a bad body answers 400/422 even for an unknown job.",
    params(params::Job),
    request_body(
        content = SafeguardPolicy,
        content_type = "application/json",
        examples(
            ("strict" = (summary = "Hold any import that deactivates more than 25 users or 2 %", value = json!({
                "max_deactivations": {
                    "count": 25,
                    "percent": 2
                },
                "max_lost_basic": {
                    "count": 50,
                    "percent": 5
                },
                "min_active_users": 20
            }))),
        ),
    ),
    responses(
        (status = 200, description = "The policy as stored; it applies from the job's next import on (a session already held stays held).", body = SafeguardPolicy, content_type = "application/json"),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 404, response = responses::NotFound),
        (status = 413, response = responses::PayloadTooLarge),
        (
            status = 422,
            description = "Body does not fit `SafeguardPolicy` (every member is required), or a `percent` is above 100.",
            body = Problem,
            content_type = "application/problem+json",
            examples(
                ("percentAbove100" = (summary = "A percent above 100", value = json!({
                    "type": "urn:roster:problem:invalid-policy",
                    "title": "Unprocessable Entity",
                    "status": 422,
                    "detail": "max_deactivations.percent must be between 0 and 100, got 150"
                }))),
            ),
        ),
        (status = 429, response = responses::TooManyRequests),
        (status = 500, response = responses::Internal),
        (status = 503, response = responses::Unavailable),
    ),
)]
pub(super) async fn put_policy(
    State(state): State<AppState>,
    TenantJob { admin, job }: TenantJob,
    ApiJson(policy): ApiJson<SafeguardPolicy>,
) -> Result<ApiJson<SafeguardPolicy>, AppError> {
    service::jobs::replace_policy(&state.db, &admin.caller, &job, &policy).await?;
    Ok(ApiJson(policy))
}

/// "Perform import": plans and applies the job's newest snapshot now, or
/// (with `fresh`) asks the job's agent for a snapshot first.
#[utoipa::path(
    post,
    path = "/jobs/{job}/imports",
    operation_id = "startImport",
    tag = "admin",
    summary = "Import the job now, from its newest snapshot or fresh from the agent",
    description = "The body is optional (none, or `{}`: the stored data; `null` is refused). Creates a session with trigger `manual`. Without `fresh` it imports the newest committed snapshot (`queued` at once). With `\"fresh\": true` it asks the job's agent to push (a delta where the server's sync advice allows) and answers the session `waiting`: the commit of a snapshot the agent offers from now on queues it, and if none is committed by `waiting_until` (default 10 minutes) it fails, naming each agent of the job and when it was last heard from. It never imports older data instead.",
    params(params::Job),
    request_body(
        content = StartImport,
        content_type = "application/json",
        description = "Optional: an empty body is the same as `{}`. The Content-Type is not checked.",
    ),
    responses(
        (status = 202, description = "Started: the session as it stands (`queued`, or `waiting` for fresh data); follow it with `GET /api/v1/sessions/{id}`.", body = Session, content_type = "application/json"),
        (status = 401, response = responses::Unauthorized),
        (status = 404, response = responses::NotFound),
        (status = 409, description = "Without `fresh`: the job has no committed snapshot yet.", body = Problem, content_type = "application/problem+json"),
        (status = 413, response = responses::PayloadTooLarge),
        (status = 422, description = "The body is neither empty nor JSON fitting `StartImport` (this includes malformed JSON, and `null`).", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = responses::TooManyRequests),
        (status = 500, response = responses::Internal),
        (status = 503, response = responses::Unavailable),
    ),
)]
pub(super) async fn start_import(
    State(state): State<AppState>,
    TenantJob { admin, job }: TenantJob,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, ApiJson<Session>), AppError> {
    let start: StartImport = json::optional_body(body, "StartImport", json::Null::Refused)?.unwrap_or_default();
    let session = match start.fresh {
        true => service::commands::start_fresh_import(&state.db, &state.limits, &state.commands, &admin.caller, &job).await?,
        false => service::imports::start_import(&state.db, &state.imports, &admin.caller, &job).await?,
    };
    Ok((StatusCode::ACCEPTED, ApiJson(session)))
}

/// The job's schedule and its next runs.
#[utoipa::path(
    get,
    path = "/jobs/{job}/schedule",
    operation_id = "getSchedule",
    tag = "admin",
    summary = "The job's schedule and its next five runs",
    description = "Each run as the UTC instant it starts (its slot plus the job's fixed jitter, up to `ROSTER_SCHEDULE_JITTER_SECS`, default 120 s) and as time on the zone's clock; runs on a day the zone changes its offset are flagged `dst_day`, and a run daylight saving moved says how in `dst_note`. No runs while the schedule is disabled. Change the schedule with `PATCH /api/v1/jobs/{job}`.",
    params(params::Job),
    responses(
        (status = 200, description = "The schedule and its next runs.", body = ScheduledRuns, content_type = "application/json"),
        (status = 401, response = responses::Unauthorized),
        (status = 404, response = responses::NotFound),
        (status = 429, response = responses::TooManyRequests),
        (status = 500, response = responses::Internal),
        (status = 503, response = responses::Unavailable),
    ),
)]
pub(super) async fn get_schedule(
    State(state): State<AppState>,
    TenantJob { job, .. }: TenantJob,
) -> Result<ApiJson<ScheduledRuns>, AppError> {
    let runs = crate::schedule::upcoming(&job.schedule, job.id, state.limits.schedule_jitter_secs, store::UnixMillis::now())?;
    Ok(ApiJson(ScheduledRuns { schedule: job.schedule, runs }))
}

/// "Load AD structure": asks the job's agent to push now.
#[utoipa::path(
    post,
    path = "/jobs/{job}/structure/refresh",
    operation_id = "refreshStructure",
    tag = "admin",
    summary = "Ask the job's agent to reload the OU and group tree",
    description = "No request body. Asks the job's agent (at its next poll, within about 30 s while it runs) to push a snapshot, so that `GET /api/v1/jobs/{job}/structure` shows the directory as it is now, before the first import or after AD changed. It starts no import by itself (except a job's very first snapshot, which is always imported). The agent's `last_push_at` in `GET /api/v1/agents` says when it has pushed.",
    params(params::Job),
    responses(
        (status = 202, description = "Asked; no body."),
        (status = 401, response = responses::Unauthorized),
        (status = 404, response = responses::NotFound),
        (status = 429, response = responses::TooManyRequests),
        (status = 500, response = responses::Internal),
        (status = 503, response = responses::Unavailable),
    ),
)]
pub(super) async fn refresh_structure(State(state): State<AppState>, TenantJob { admin, job }: TenantJob) -> Result<StatusCode, AppError> {
    service::commands::refresh_structure(&state.db, &state.commands, &admin.caller, &job).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Asks the job's agent to send a full snapshot next time, catching what
/// deltas cannot see (e.g. deletions whose tombstones are gone).
#[utoipa::path(
    post,
    path = "/jobs/{job}/full-sync",
    operation_id = "requestFullSync",
    tag = "admin",
    summary = "Ask the job's agent for a full snapshot next time",
    description = r#"No request body. Between full reconciliations (every `Job.full_sync_interval_days` days) the agent sends deltas, which cannot see everything (e.g. deletions whose tombstones AD has already purged). This asks for a full reconciliation now: from this call until a full snapshot of the job is committed, `GET /agent/v1/job` answers `sync.full_required` ("an admin asked for a full reconciliation"), so the agent's next snapshot is full. Idempotent. It starts no import by itself: the full snapshot is imported at the job's schedule or by `POST /api/v1/jobs/{job}/imports`."#,
    params(params::Job),
    responses(
        (status = 202, description = "Requested (or already requested); no body."),
        (status = 401, response = responses::Unauthorized),
        (status = 404, response = responses::NotFound),
        (status = 429, response = responses::TooManyRequests),
        (status = 500, response = responses::Internal),
        (status = 503, response = responses::Unavailable),
    ),
)]
pub(super) async fn request_full_sync(State(state): State<AppState>, TenantJob { admin, job }: TenantJob) -> Result<StatusCode, AppError> {
    service::jobs::request_full_sync(&state.db, &admin.caller, &job).await?;
    tracing::info!(tenant = %admin.tenant_id, job = %job.id, "full reconciliation requested");
    Ok(StatusCode::ACCEPTED)
}
