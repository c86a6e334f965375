//! The admin API's answers about a job's directory rather than its users:
//! "Load AD structure" (the OU tree and groups with member counts) and
//! "why does this user have this right?" (explain), for imported users and
//! for AD users who are not imported. Both read the stored directory state
//! and apply the planner's own rules (`roster_import`).

use axum::extract::{Path, State};
use roster_import::{StructureInput, structure};
use roster_proto::admin::Job;
use roster_proto::dn::Dn;
use roster_proto::insight::{Explanation, Reason, ReasonCode, Structure};
use roster_proto::problem::Problem;
use roster_proto::records::UserRecord;
use roster_proto::{ObjectGuid, TenantId};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::admin::{TenantJob, job_of, parse_id};
use crate::error::{AppError, Missing, RequestError};
use crate::http::auth::Admin;
use crate::http::json::{ApiJson, ApiQuery};
use crate::http::openapi::{examples, params, responses};
use crate::import::{JobView, PlanContext, explain_view, job_view};
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
    TenantJob { admin, job }: TenantJob,
    ApiQuery(query): ApiQuery<StructureQuery>,
) -> Result<ApiJson<Structure>, AppError> {
    Ok(ApiJson(structure_of(&state, admin.tenant_id, job, query.search).await?))
}

/// The job's OU tree and groups with member counts, those matching
/// `search` (the API's and the console's Linking tab's one reading).
pub(crate) async fn structure_of(state: &AppState, tenant: TenantId, job: Job, search: Option<String>) -> Result<Structure, AppError> {
    with_view(state, tenant, job, move |view| {
        let input = StructureInput { users: &view.users, groups: &view.context.groups, ous: &view.ous, links: &view.context.rules };
        structure(input, search.as_deref())
    })
    .await
}

/// Reads the job's view (its whole directory state, decoded) and answers
/// `question` of it, all on the blocking pool: reading and decoding a big
/// state costs as much CPU as the question does.
async fn with_view<T: Send + 'static>(
    state: &AppState,
    tenant: TenantId,
    job: Job,
    question: impl FnOnce(JobView) -> T + Send + 'static,
) -> Result<T, AppError> {
    let db = state.db.clone();
    read_off_the_workers(async move {
        let mut conn = db.pool.acquire().await?;
        let view = job_view(&mut conn, tenant, &job).await?;
        drop(conn);
        Ok::<T, AppError>(question(view))
    })
    .await?
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
    // A GUID names the user by an indexed column; a DN or an account name
    // is matched against every user by the rules of `find_account`.
    let guid = wanted.parse::<ObjectGuid>().ok();
    let answer = with_explainer(state, tenant, job, guid, move |context, users| {
        find_account(&users, &wanted).map(|record| context.explainer().explain(record))
    });
    answer.await?.ok_or(AppError::NotFound(Missing::UserInState))
}

/// Reads the job's plan context and the users that may be the one asked
/// about ([`explain_view`]), and answers `question` of them on the
/// blocking pool, as [`with_view`] does.
async fn with_explainer<T: Send + 'static>(
    state: &AppState,
    tenant: TenantId,
    job: Job,
    guid: Option<ObjectGuid>,
    question: impl FnOnce(&PlanContext, Vec<UserRecord>) -> T + Send + 'static,
) -> Result<T, AppError> {
    let db = state.db.clone();
    read_off_the_workers(async move {
        let mut conn = db.pool.acquire().await?;
        let (context, users) = explain_view(&mut conn, tenant, &job, guid).await?;
        drop(conn);
        Ok::<T, AppError>(question(&context, users))
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
    let answer = with_explainer(state, tenant, job, Some(anchor), move |context, users| {
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

/// The user `wanted` names: by objectGUID (or consistency GUID), by DN, or
/// by sAMAccountName (case-insensitive, as AD compares it; as the import
/// stores it, cleaned, which is also how explain shows it).
fn find_account<'a>(users: &'a [UserRecord], wanted: &str) -> Option<&'a UserRecord> {
    if let Ok(guid) = wanted.parse::<ObjectGuid>() {
        return users.iter().find(|u| u.object_guid == guid || u.anchor() == guid);
    }
    if let Ok(dn) = Dn::parse(wanted)
        && dn.depth() > 1
    {
        return users.iter().find(|u| Dn::parse(&u.dn).is_ok_and(|d| d == dn));
    }
    users.iter().find(|u| roster_import::fields::clean_record(u).sam_account_name.eq_ignore_ascii_case(wanted))
}
