//! The tenant's own pages: the dashboard (every job's status and what
//! needs attention), the access catalogue, and the settings (grace period,
//! retention, admins, audit log).

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use roster_proto::admin::{Access, AccessKind, AdminRole, AgentState, AuditEntry, CreateAccess, TenantSettings};
use serde::Deserialize;

use super::jobs::{JobSummary, summarise_all};
use super::view::{Chrome, Section, when};
use super::{Failure, SignedIn, paths, render};
use crate::error::{AppError, Missing};
use crate::http::admin::{MAX_LIMIT, parse_id};
use crate::service;
use crate::state::AppState;
use crate::store;

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard {
    chrome: Chrome,
    jobs: Vec<JobSummary>,
    attention: usize,
}

pub(super) async fn dashboard(State(state): State<AppState>, signed: SignedIn) -> Result<Response, Failure> {
    let summaries = summarise_all(&state, signed.caller.tenant).await?;
    let attention = summaries.iter().map(|s| usize::from(s.held.is_some()) + usize::from(s.failed.is_some()) + s.silent_agents.len()).sum();
    render(&Dashboard { chrome: Chrome::new(&signed, Section::Dashboard), jobs: summaries, attention })
}

#[derive(Template)]
#[template(path = "accesses.html")]
struct Accesses {
    chrome: Chrome,
    accesses: Vec<Access>,
    error: Option<String>,
    name: String,
    kinds: [AccessKind; 4],
}

async fn all_accesses(state: &AppState, signed: &SignedIn) -> Result<Vec<Access>, Failure> {
    Ok(store::jobs::list_accesses(&state.db, signed.caller.tenant, MAX_LIMIT, None).await?.0)
}

pub(super) async fn accesses(State(state): State<AppState>, signed: SignedIn) -> Result<Response, Failure> {
    let accesses = all_accesses(&state, &signed).await?;
    render(&Accesses {
        chrome: Chrome::new(&signed, Section::Accesses),
        accesses,
        error: None,
        name: String::new(),
        kinds: AccessKind::ALL,
    })
}

#[derive(Debug, Deserialize)]
pub(super) struct AccessForm {
    kind: String,
    name: String,
}

pub(super) async fn create_access(
    State(state): State<AppState>,
    signed: SignedIn,
    Form(form): Form<AccessForm>,
) -> Result<Response, Failure> {
    let outcome = match AccessKind::parse(&form.kind) {
        Some(kind) => {
            service::tenants::create_access(&state.db, &signed.caller, &CreateAccess { kind, name: form.name.clone() }).await.map(|_| ())
        }
        None => Err(crate::error::RequestError::InvalidBody(format!("`{}` is not a kind of access", form.kind.escape_debug())).into()),
    };
    access_outcome(&state, &signed, outcome, form.name).await
}

#[derive(Debug, Deserialize)]
pub(super) struct ChangeAccessForm {
    /// `rename` (with `name`) or `delete`.
    action: String,
    #[serde(default)]
    name: String,
}

pub(super) async fn change_access(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    Form(form): Form<ChangeAccessForm>,
) -> Result<Response, Failure> {
    let id = parse_id(&id, Missing::Access)?;
    let outcome = match form.action.as_str() {
        "delete" => service::tenants::delete_access(&state.db, &signed.caller, id).await,
        _ => service::tenants::rename_access(&state.db, &signed.caller, id, &roster_proto::admin::UpdateAccess { name: form.name.clone() })
            .await
            .map(|_| ()),
    };
    access_outcome(&state, &signed, outcome, String::new()).await
}

/// Back to the accesses after a change, or the page again saying why it was refused.
async fn access_outcome(state: &AppState, signed: &SignedIn, outcome: Result<(), AppError>, name: String) -> Result<Response, Failure> {
    match outcome {
        Ok(()) => Ok(Redirect::to(paths::ACCESSES).into_response()),
        Err(error @ (AppError::Access(_) | AppError::Request(_))) => {
            let status = error.problem().0;
            let accesses = all_accesses(state, signed).await?;
            let page = Accesses {
                chrome: Chrome::new(signed, Section::Accesses),
                accesses,
                error: Some(error.detail()),
                name,
                kinds: AccessKind::ALL,
            };
            Ok((status, render(&page)?).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

/// An admin as the settings page lists it.
struct AdminRow {
    id: roster_proto::ConsoleAdminId,
    email: String,
    role: &'static str,
    state: &'static str,
    added: String,
    added_by: String,
}

#[derive(Template)]
#[template(path = "settings.html")]
struct Settings {
    chrome: Chrome,
    settings: TenantSettings,
    admins: Vec<AdminRow>,
    roles: [AdminRole; 3],
    /// A set-up link just made for an invited admin, shown once.
    invited: Option<(String, String)>,
    error: Option<String>,
    audit: Vec<AuditEntry>,
}

impl Settings {
    fn at(&self, entry: &AuditEntry) -> String {
        when(&entry.at)
    }

    fn retention(&self) -> String {
        self.settings.session_retention_days.map(|d| d.to_string()).unwrap_or_default()
    }
}

async fn settings_page(
    state: &AppState,
    signed: &SignedIn,
    invited: Option<(String, String)>,
    error: Option<String>,
) -> Result<Settings, Failure> {
    let mut conn = state.db.pool.acquire().await.map_err(AppError::from)?;
    let settings = store::tenants::settings(&mut conn, signed.caller.tenant).await?;
    drop(conn);
    let admins = service::admins::list_admins(&state.db, &signed.caller)
        .await?
        .into_iter()
        .map(|a| AdminRow {
            id: a.id,
            email: a.email,
            role: a.role.as_str(),
            state: if a.has_password { "can sign in" } else { "set-up link not used yet" },
            added: when(&a.created_at.to_datetime()),
            added_by: a.created_by,
        })
        .collect();
    let (audit, _) = store::audit::list(&state.db, signed.caller.tenant, 20, None).await?;
    Ok(Settings { chrome: Chrome::new(signed, Section::Settings), settings, admins, roles: AdminRole::ALL, invited, error, audit })
}

pub(super) async fn settings(State(state): State<AppState>, signed: SignedIn) -> Result<Response, Failure> {
    render(&settings_page(&state, &signed, None, None).await?)
}

#[derive(Debug, Deserialize)]
pub(super) struct SettingsForm {
    purge_after_days: String,
    session_retention_days: String,
}

pub(super) async fn save_settings(
    State(state): State<AppState>,
    signed: SignedIn,
    Form(form): Form<SettingsForm>,
) -> Result<Response, Failure> {
    let days = |text: &str, what: &str| -> Result<Option<u32>, AppError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        text.parse().map(Some).map_err(|_| crate::error::RequestError::InvalidBody(format!("{what} must be a whole number of days")).into())
    };
    let outcome = async {
        let purge_after_days = days(&form.purge_after_days, "the grace period")?
            .ok_or_else(|| crate::error::RequestError::InvalidBody("the grace period must be given, in days".into()))?;
        let session_retention_days = days(&form.session_retention_days, "the session retention")?;
        service::tenants::replace_settings(&state.db, &signed.caller, &TenantSettings { purge_after_days, session_retention_days }).await
    }
    .await;
    match outcome {
        Ok(()) => Ok(Redirect::to(paths::SETTINGS).into_response()),
        Err(error @ (AppError::Settings(_) | AppError::Request(_))) => {
            let status = error.problem().0;
            Ok((status, render(&settings_page(&state, &signed, None, Some(error.detail())).await?)?).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct InviteForm {
    email: String,
    role: String,
}

pub(super) async fn invite_admin(
    State(state): State<AppState>,
    signed: SignedIn,
    Form(form): Form<InviteForm>,
) -> Result<Response, Failure> {
    let role = AdminRole::parse(&form.role).unwrap_or(AdminRole::Viewer);
    match service::admins::add_admin(&state.db, &signed.caller, &form.email, role).await {
        Ok(link) => {
            let invited = Some((link.admin.email.clone(), link.url(&state.console.public_url)));
            Ok((StatusCode::CREATED, render(&settings_page(&state, &signed, invited, None).await?)?).into_response())
        }
        Err(error @ AppError::Console(_)) => {
            let status = error.problem().0;
            Ok((status, render(&settings_page(&state, &signed, None, Some(error.detail())).await?)?).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

pub(super) async fn remove_admin(State(state): State<AppState>, signed: SignedIn, Path(id): Path<String>) -> Result<Response, Failure> {
    let id = parse_id(&id, Missing::Admin)?;
    match service::admins::remove_admin(&state.db, &signed.caller, id).await {
        Ok(()) => Ok(Redirect::to(paths::SETTINGS).into_response()),
        Err(error @ AppError::Console(_)) => {
            let status = error.problem().0;
            Ok((status, render(&settings_page(&state, &signed, None, Some(error.detail())).await?)?).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Template)]
#[template(path = "audit.html")]
struct Audit {
    chrome: Chrome,
    audit: Vec<AuditEntry>,
    next: Option<String>,
}

impl Audit {
    fn at(&self, entry: &AuditEntry) -> String {
        when(&entry.at)
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct AuditQuery {
    cursor: Option<String>,
}

pub(super) async fn audit(State(state): State<AppState>, signed: SignedIn, Query(query): Query<AuditQuery>) -> Result<Response, Failure> {
    let before = match &query.cursor {
        Some(cursor) => Some(crate::http::admin::audit_cursor(cursor)?),
        None => None,
    };
    let (entries, next) = store::audit::list(&state.db, signed.caller.tenant, 100, before).await?;
    let next = next.map(|key| format!("{}?cursor={}", paths::AUDIT, crate::http::admin::encode_audit_cursor(key)));
    render(&Audit { chrome: Chrome::new(&signed, Section::Settings), audit: entries, next })
}

/// `Some(state)` for an agent to name on the dashboard.
pub(super) fn needs_attention(state: AgentState) -> bool {
    matches!(state, AgentState::Stale | AgentState::Offline)
}
