//! The admin API's answers about a job's directory rather than its users:
//! "Load AD structure" (the OU tree and groups with member counts) and
//! "why does this user have this right?" (explain), for imported users and
//! for AD users who are not imported. Both read the stored directory state
//! and apply the planner's own rules (`roster_import`).

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use roster_import::{StructureInput, structure};
use roster_proto::ObjectGuid;
use roster_proto::dn::Dn;
use roster_proto::insight::{Explanation, Reason, ReasonCode, Structure};
use roster_proto::records::UserRecord;
use serde::Deserialize;

use super::admin::{TenantJob, job_of, parse_id};
use crate::error::{AppError, Missing, RequestError};
use crate::http::auth::Admin;
use crate::http::json::{ApiJson, ApiQuery};
use crate::import::job_view;
use crate::state::AppState;
use crate::store;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/jobs/{job}/structure", get(job_structure))
        .route("/jobs/{job}/explain", get(explain_account))
        .route("/users/{id}/explain", get(explain_user))
}

/// `?search=TEXT`.
#[derive(Debug, Deserialize)]
struct StructureQuery {
    search: Option<String>,
}

/// The job's OU tree and groups, with member counts, from the stored
/// directory state; `search` narrows both to names or DNs containing it.
async fn job_structure(
    State(state): State<AppState>,
    TenantJob { admin, job }: TenantJob,
    ApiQuery(query): ApiQuery<StructureQuery>,
) -> Result<ApiJson<Structure>, AppError> {
    let mut conn = state.db.pool.acquire().await?;
    let view = job_view(&mut conn, admin.tenant_id, &job).await?;
    let input = StructureInput { users: &view.users, groups: &view.context.groups, ous: &view.ous, links: &view.context.rules };
    Ok(ApiJson(structure(input, query.search.as_deref())))
}

/// `?user=NAME`: a sAMAccountName, an objectGUID or a DN.
#[derive(Debug, Deserialize)]
struct ExplainQuery {
    user: String,
}

/// Explains any AD user of the job's directory state, imported or not.
async fn explain_account(
    State(state): State<AppState>,
    TenantJob { admin, job }: TenantJob,
    ApiQuery(query): ApiQuery<ExplainQuery>,
) -> Result<ApiJson<Explanation>, AppError> {
    let wanted = query.user.trim();
    if wanted.is_empty() {
        return Err(RequestError::ExplainUser.into());
    }
    let mut conn = state.db.pool.acquire().await?;
    let view = job_view(&mut conn, admin.tenant_id, &job).await?;
    let record = find_account(&view.users, wanted).ok_or(AppError::NotFound(Missing::UserInState))?;
    Ok(ApiJson(view.context.explainer().explain(record)))
}

/// Explains a stored user: each access with the chain of groups that
/// grants it, or why it is not active; a user no longer in AD says so.
async fn explain_user(State(state): State<AppState>, admin: Admin, Path(id): Path<String>) -> Result<ApiJson<Explanation>, AppError> {
    let id = parse_id(&id, Missing::User)?;
    let (job_id, user) = store::users::get_user(&state.db, admin.tenant_id, id).await?.ok_or(AppError::NotFound(Missing::User))?;
    let job = job_of(&state, admin, &job_id.to_string()).await?;
    let mut conn = state.db.pool.acquire().await?;
    let view = job_view(&mut conn, admin.tenant_id, &job).await?;
    match view.users.iter().find(|record| record.anchor() == user.anchor) {
        Some(record) => Ok(ApiJson(view.context.explainer().explain(record))),
        None => Ok(ApiJson(Explanation {
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
        })),
    }
}

/// The user `wanted` names: by objectGUID (or consistency GUID), by DN, or
/// by sAMAccountName (case-insensitive, as AD compares it).
fn find_account<'a>(users: &'a [UserRecord], wanted: &str) -> Option<&'a UserRecord> {
    if let Ok(guid) = wanted.parse::<ObjectGuid>() {
        return users.iter().find(|u| u.object_guid == guid || u.anchor() == guid);
    }
    if let Ok(dn) = Dn::parse(wanted)
        && dn.depth() > 1
    {
        return users.iter().find(|u| Dn::parse(&u.dn).is_ok_and(|d| d == dn));
    }
    users.iter().find(|u| u.sam_account_name.eq_ignore_ascii_case(wanted))
}
