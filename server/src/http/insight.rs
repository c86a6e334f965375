//! The admin API's answers about a job's directory rather than its users:
//! "Load AD structure" (the OU tree and groups with member counts) and
//! "why does this user have this right?" (explain), for imported users and
//! for AD users who are not imported. Both read the stored directory state
//! and apply the planner's own rules (`roster_import`).

use axum::extract::{Path, State};
use roster_import::AccountName;
use roster_proto::TenantId;
use roster_proto::admin::Job;
use roster_proto::insight::{Explanation, Reason, ReasonCode, Structure};
use roster_proto::problem::Problem;
use roster_proto::records::UserRecord;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::admin::{TenantJob, job_of, parse_id};
use crate::error::{AppError, Missing, RequestError};
use crate::http::auth::Admin;
use crate::http::json::{ApiJson, ApiQuery};
use crate::http::openapi::{examples, params, responses};
use crate::import::{PlanContext, explain_view, structure_view};
use crate::service::read_off_the_workers;
use crate::state::AppState;
use crate::store;

/// The insight routes, each registered with its documentation (`#[utoipa::path]`).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(job_structure)).routes(routes!(explain_account)).routes(routes!(explain_user))
}

/// `?search=TEXT`.
#[derive(Debug, Deserialize)]
struct StructureQuery {
    search: Option<String>,
}

/// The job's OU tree and groups, with member counts, from the stored
/// directory state; `search` narrows both to names or DNs containing it.
#[utoipa::path(
    get,
    path = "/jobs/{job}/structure",
    operation_id = "getStructure",
    tag = "admin",
    summary = "The AD structure of the job's directory state",
    description = r#""Load AD structure": read from the job's stored directory state (the last committed snapshot and the deltas since), not from AD."#,
    params(params::Job, params::StructureSearch),
    responses(
        (
            status = 200,
            description = "The OU tree and the groups, with member counts and the accesses linked to each group.",
            body = Structure,
            content_type = "application/json",
            examples(
                ("small" = (summary = "One OU, one linked group", value = json!({
                    "users": 31,
                    "ous": [
                        {
                            "object_guid": "a87ff679-a2f3-471d-8181-4b3c2d1e0f9a",
                            "dn": "OU=Staff,DC=corp,DC=example,DC=test",
                            "name": "Staff",
                            "users": 30,
                            "users_below": 30,
                            "children": []
                        }
                    ],
                    "groups": [
                        {
                            "object_guid": "00112233-4455-6677-8899-aabbccddeeff",
                            "dn": "CN=Sales,OU=Groups,DC=corp,DC=example,DC=test",
                            "name": "Sales",
                            "direct_members": 30,
                            "direct_users": 30,
                            "nested_users": 30,
                            "nested_users_exact": true,
                            "linked_accesses": [
                                "d3d94468-02a4-4322-8f5d-7a1e9b6c0d2f"
                            ]
                        }
                    ]
                }))),
            ),
        ),
        (status = 400, description = "The query string does not parse.", body = Problem, content_type = "application/problem+json"),
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
async fn job_structure(
    State(state): State<AppState>,
    TenantJob { job, .. }: TenantJob,
    ApiQuery(query): ApiQuery<StructureQuery>,
) -> Result<ApiJson<Structure>, AppError> {
    Ok(ApiJson(structure_of(&state, job, query.search).await?))
}

/// The job's OU tree and groups with member counts, those matching
/// `search` (the API's and the console's Linking tab's one reading). The
/// counts are kept per state (`store::directory::keep_summary`): counting
/// reads the whole state, a search or another question of the same state
/// reads only the summary.
pub(crate) async fn structure_of(state: &AppState, job: Job, search: Option<String>) -> Result<Structure, AppError> {
    let (db, batch_users) = (state.db.clone(), state.limits.import_batch_users);
    // Many questions of a state not counted yet (a search typed a letter at
    // a time) would each count it: the first counts, the others then read.
    let turn = state.structure_counts.take(&job.id).await;
    let answer = read_off_the_workers(async move {
        let mut read = db.begin_read().await?;
        let view = structure_view(&mut read, &job, batch_users).await?;
        read.rollback().await?;
        if let Some(snapshot) = view.counted_at {
            let mut tx = db.begin_write().await?;
            store::directory::keep_summary(&mut tx, job.id, snapshot, &view.summary).await?;
            tx.commit().await?;
        }
        Ok::<Structure, AppError>(view.summary.present(&view.rules, search.as_deref()))
    })
    .await?;
    drop(turn);
    answer
}

/// `?user=NAME`: a sAMAccountName, an objectGUID or a DN.
#[derive(Debug, Deserialize)]
struct ExplainQuery {
    user: String,
}

/// Explains any AD user of the job's directory state, imported or not.
#[utoipa::path(
    get,
    path = "/jobs/{job}/explain",
    operation_id = "explainAccount",
    tag = "admin",
    summary = "Why an AD user of the job has its accesses, or is not imported",
    description = "Explains any user of the job's stored directory state, imported or not, with the import's own rules (scope, user filter, links through nested groups, disabled and expired accounts).",
    params(params::Job, params::ExplainUser),
    responses(
        (
            status = 200,
            description = "The explanation: scope, import and activity, every access the links grant with the chains of groups that grant it, and the reasons the user is not imported or not active.",
            body = Explanation,
            content_type = "application/json",
            examples(
                ("imported" = (summary = "Imported through a nested group", value = json!(examples::explained_ann()))),
            ),
        ),
        (status = 400, description = "`user` is missing or blank, or the query string does not parse.", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = responses::Unauthorized),
        (status = 404, description = "The job is not a job of the tenant, or its directory state holds no such user.", body = Problem, content_type = "application/problem+json"),
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
async fn explain_account(
    State(state): State<AppState>,
    TenantJob { admin, job }: TenantJob,
    ApiQuery(query): ApiQuery<ExplainQuery>,
) -> Result<ApiJson<Explanation>, AppError> {
    let wanted = query.user.trim();
    if wanted.is_empty() {
        return Err(RequestError::ExplainUser.into());
    }
    Ok(ApiJson(explain_account_of(&state, admin.tenant_id, job, wanted.to_owned()).await?))
}

/// Explains the AD user `wanted` names (sAMAccountName, objectGUID or DN)
/// in the job's directory state, imported or not (the API's and the
/// console's one reading); 404 when the state holds no such user.
pub(crate) async fn explain_account_of(state: &AppState, tenant: TenantId, job: Job, wanted: String) -> Result<Explanation, AppError> {
    let name = AccountName::parse(&wanted);
    let answer = with_explainer(state, tenant, job, name, |name, context, users| {
        users.iter().find(|record| name.matches(record)).map(|record| context.explainer().explain(record))
    });
    answer.await?.ok_or(AppError::NotFound(Missing::UserInState))
}

/// Reads the job's plan context and the users `name` may name
/// ([`explain_view`]), and answers `question` of them, all on the blocking
/// pool: a big state's reading and decoding cost as much CPU as the
/// question does.
async fn with_explainer<T: Send + 'static>(
    state: &AppState,
    tenant: TenantId,
    job: Job,
    name: AccountName,
    question: impl FnOnce(&AccountName, &PlanContext, Vec<UserRecord>) -> T + Send + 'static,
) -> Result<T, AppError> {
    let db = state.db.clone();
    read_off_the_workers(async move {
        let mut conn = db.pool.acquire().await?;
        let (context, users) = explain_view(&mut conn, db.dialect, tenant, &job, &name).await?;
        drop(conn);
        Ok::<T, AppError>(question(&name, &context, users))
    })
    .await?
}

/// Explains a stored user: each access with the chain of groups that
/// grants it, or why it is not active; a user no longer in AD says so.
#[utoipa::path(
    get,
    path = "/users/{id}/explain",
    operation_id = "explainUser",
    tag = "admin",
    summary = "Why a user has its accesses, or is not active",
    params(params::UserId),
    responses(
        (
            status = 200,
            description = "The explanation of the user's AD account in its job's directory state. A user no longer in that state is answered with its stored identity, nothing in scope and the one reason `gone_from_directory`.",
            body = Explanation,
            content_type = "application/json",
            examples(
                ("imported" = (summary = "Imported through a nested group", value = json!(examples::explained_ann()))),
                ("gone" = (summary = "Deleted in AD since the last import", value = json!({
                    "object_guid": "d4c3b2a1-f6e5-1807-293a-4b5c6d7e8f90",
                    "anchor": "b1a2c3d4-e5f6-0718-293a-4b5c6d7e8f91",
                    "username": "ann",
                    "dn": "CN=Ann Berg,OU=Copenhagen,OU=Staff,DC=corp,DC=example,DC=test",
                    "in_scope": false,
                    "imported": false,
                    "active": false,
                    "grants": [],
                    "reasons": [
                        {
                            "code": "gone_from_directory",
                            "text": "the user is no longer in the job's directory: deleted in AD, or moved where the agent does not read"
                        }
                    ]
                }))),
            ),
        ),
        (status = 401, response = responses::Unauthorized),
        (status = 404, response = responses::NotFound),
        (status = 409, description = "The user's job has no readable directory state (its scope does not resolve against the snapshot's base DN); `detail` says why.", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = responses::TooManyRequests),
        (status = 500, response = responses::Internal),
        (status = 503, response = responses::Unavailable),
    ),
)]
async fn explain_user(State(state): State<AppState>, admin: Admin, Path(id): Path<String>) -> Result<ApiJson<Explanation>, AppError> {
    let id = parse_id(&id, Missing::User)?;
    Ok(ApiJson(explain_stored_user(&state, admin.tenant_id, id).await?))
}

/// Why a stored user has each access (the chains of groups) or is not
/// active (the API's and the console's user page's one reading).
pub(crate) async fn explain_stored_user(state: &AppState, tenant: TenantId, id: roster_proto::UserId) -> Result<Explanation, AppError> {
    let (job_id, user) = store::users::get_user(&state.db, tenant, id).await?.ok_or(AppError::NotFound(Missing::User))?;
    let job = job_of(state, tenant, &job_id.to_string()).await?;
    let anchor = user.anchor;
    let answer = with_explainer(state, tenant, job, AccountName::Guid(anchor), move |_, context, users| {
        users.iter().find(|record| record.anchor() == anchor).map(|record| context.explainer().explain(record))
    });
    match answer.await? {
        Some(explanation) => Ok(explanation),
        None => Ok(Explanation {
            object_guid: user.object_guid,
            anchor: user.anchor,
            username: user.username,
            dn: user.dn,
            in_scope: false,
            imported: false,
            active: false,
            grants: Vec::new(),
            reasons: vec![Reason {
                code: ReasonCode::GoneFromDirectory,
                text: "the user is no longer in the job's directory: deleted in AD, or moved where the agent does not read".into(),
            }],
        }),
    }
}
