//! Users: a search over the tenant's imported users with their status and
//! accesses, and a user's page: per access the chain of groups that grants
//! it, or why the user is not imported or not active, and its history.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use roster_proto::admin::{HistoryEntry, User};
use roster_proto::insight::Explanation;
use roster_proto::{JobId, UserId};
use serde::Deserialize;

use super::view::{Chrome, Section, when};
use super::{Failure, SignedIn, paths, render};
use crate::error::{AppError, Missing};
use crate::http::admin::parse_id;
use crate::state::AppState;
use crate::store;

/// Users a search page lists.
const PAGE: u32 = 100;

struct UserRow {
    user: User,
    link: String,
    accesses: String,
}

#[derive(Template)]
#[template(path = "users.html")]
struct Users {
    chrome: Chrome,
    search: String,
    users: Vec<UserRow>,
    more: Option<String>,
    /// The jobs to explain an AD user of: (id, name, chosen).
    jobs: Vec<(JobId, String, bool)>,
    account: String,
    explained: Option<Explanation>,
    explain_error: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct UsersQuery {
    search: Option<String>,
    after: Option<String>,
    job: Option<String>,
    /// An AD account to explain (imported or not), in `job`.
    account: Option<String>,
}

pub(super) async fn list(State(state): State<AppState>, signed: SignedIn, Query(query): Query<UsersQuery>) -> Result<Response, Failure> {
    let search = query.search.unwrap_or_default();
    let term = Some(search.trim()).filter(|s| !s.is_empty());
    let after: Option<UserId> = query.after.as_deref().and_then(|a| a.parse().ok());
    let job: Option<JobId> = query.job.as_deref().and_then(|j| j.parse().ok());
    let (users, next) = store::users::search_users(&state.db, signed.caller.tenant, job, term, PAGE, after).await?;
    let more = next.map(|id| {
        let search = form_urlencoded(&search);
        format!("{}?search={search}&after={id}", paths::USERS)
    });
    let users = users
        .into_iter()
        .map(|user| UserRow {
            link: paths::user(user.id),
            accesses: user.accesses.iter().map(|a| a.name.as_str()).collect::<Vec<_>>().join(", "),
            user,
        })
        .collect();
    let (all_jobs, _) = store::jobs::list_jobs(&state.db, signed.caller.tenant, crate::http::admin::MAX_LIMIT, None).await?;
    let account = query.account.unwrap_or_default();
    let (mut explained, mut explain_error) = (None, None);
    if let (Some(job_id), false) = (job, account.trim().is_empty())
        && let Some(chosen) = all_jobs.iter().find(|j| j.id == job_id)
    {
        match crate::http::insight::explain_account_of(&state, signed.caller.tenant, chosen.clone(), account.trim().to_owned()).await {
            Ok(explanation) => explained = Some(explanation),
            Err(error @ (AppError::NotFound(_) | AppError::Session(_) | AppError::Import(_))) => {
                explain_error = Some(match error {
                    AppError::NotFound(_) => format!(
                        "The job's directory holds no account named {}: check the name, or whether the agent reads where it lives (the job's scope and group paths).",
                        account.trim()
                    ),
                    other => other.detail(),
                })
            }
            Err(other) => return Err(other.into()),
        }
    }
    let jobs = all_jobs.iter().map(|j| (j.id, j.name.clone(), Some(j.id) == job)).collect();
    render(&Users { chrome: Chrome::new(&signed, Section::Users), search, users, more, jobs, account, explained, explain_error })
}

/// `text` percent-encoded for a query string.
fn form_urlencoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

struct HistoryRow {
    at: String,
    action: &'static str,
    details: String,
    session: String,
}

#[derive(Template)]
#[template(path = "user.html")]
struct UserPage {
    chrome: Chrome,
    user: User,
    explanation: Option<Explanation>,
    explain_error: Option<String>,
    history: Vec<HistoryRow>,
    job: String,
    job_name: String,
}

pub(super) async fn detail(State(state): State<AppState>, signed: SignedIn, Path(id): Path<String>) -> Result<Response, Failure> {
    let id: UserId = parse_id(&id, Missing::User)?;
    let tenant = signed.caller.tenant;
    let user = store::users::user_with_accesses(&state.db, tenant, id).await?.ok_or(AppError::NotFound(Missing::User))?;
    let job = crate::http::admin::job_of(&state, tenant, &user.job_id.to_string()).await?;
    let (explanation, explain_error) = match crate::http::insight::explain_stored_user(&state, tenant, id).await {
        Ok(explanation) => (Some(explanation), None),
        Err(error @ (AppError::Session(_) | AppError::Import(_))) => (None, Some(error.detail())),
        Err(other) => return Err(other.into()),
    };
    let (entries, _) = store::sessions::history(&state.db, id, 100, None).await?;
    let history = entries
        .into_iter()
        .map(|entry: HistoryEntry| HistoryRow {
            at: when(&entry.at),
            action: entry.action.as_str(),
            details: super::sessions::describe_details(&entry.details),
            session: paths::session(entry.session_id),
        })
        .collect();
    render(&UserPage {
        chrome: Chrome::new(&signed, Section::Users),
        user,
        explanation,
        explain_error,
        history,
        job: paths::job(job.id),
        job_name: job.name,
    })
}
