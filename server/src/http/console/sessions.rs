//! A job's Sessions tab ("Perform import", the history and its picture),
//! one session's page (counts, notes, a held plan with Approve / Reject,
//! the itemised changes with a filter and a CSV download, live progress
//! while it runs), and the heartbeat picture of the Agents tab.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use roster_proto::SessionId;
use roster_proto::admin::{Agent, ChangeAction, ChangeDetail, Job, Session, SessionChange, SessionStatus};
use serde::Deserialize;

use super::jobs::{JobFrame, Tab, tenant_job};
use super::view::{Chrome, Section, session_status, when};
use super::{Failure, SignedIn, paths, render};
use crate::error::{AppError, Missing};
use crate::http::admin::parse_id;
use crate::service;
use crate::state::AppState;
use crate::store::sessions::Verdict;
use crate::store::{self, UnixMillis};

/// Sessions a job's history shows (and its picture draws).
const HISTORY: u32 = 100;
/// Changes a session's page lists at a time.
const CHANGES_PER_PAGE: u32 = 200;

/// A session as a row of the history.
pub(super) struct SessionRow {
    pub session: Session,
    pub status: (&'static str, &'static str),
    pub created: String,
    pub link: String,
}

impl SessionRow {
    pub fn of(session: Session) -> SessionRow {
        SessionRow { status: session_status(session.status), created: when(&session.created_at), link: paths::session(session.id), session }
    }

    pub fn is_held(&self) -> bool {
        self.session.status == SessionStatus::Held
    }

    /// While waiting for the agent: when the wait ends.
    pub fn waiting(&self) -> Option<String> {
        self.session.waiting_until.filter(|_| self.session.status == SessionStatus::Waiting).map(|at| when(&at))
    }

    pub fn trigger(&self) -> &'static str {
        match self.session.trigger {
            roster_proto::admin::SessionTrigger::FirstPush => "first snapshot",
            roster_proto::admin::SessionTrigger::Manual => "by an admin",
            roster_proto::admin::SessionTrigger::Schedule => "scheduled",
            roster_proto::admin::SessionTrigger::Change => "change in AD",
        }
    }
}

#[derive(Template)]
#[template(path = "job_sessions.html")]
struct Sessions {
    chrome: Chrome,
    frame: JobFrame,
    sessions: Vec<SessionRow>,
    picture: String,
    import: String,
}

pub(super) async fn list(State(state): State<AppState>, signed: SignedIn, Path(job): Path<String>) -> Result<Response, Failure> {
    let job = tenant_job(&state, &signed, &job).await?;
    let (sessions, _) = store::sessions::list_sessions(&state.db, job.id, HISTORY, None).await?;
    let active = store::users::count_active(&state.db, job.id).await?;
    let picture = sessions_picture(&job, &sessions, active);
    let import = paths::job_imports(job.id);
    render(&Sessions {
        chrome: Chrome::new(&signed, Section::Jobs),
        frame: JobFrame { job, tab: Tab::Sessions },
        sessions: sessions.into_iter().map(SessionRow::of).collect(),
        picture,
        import,
    })
}

/// Active users after each session, walked back from today's count: only
/// a succeeded session changed users, by exactly its counts.
fn sessions_picture(job: &Job, newest_first: &[Session], active_now: u64) -> String {
    let mut active = active_now;
    let mut points = Vec::with_capacity(newest_first.len());
    for session in newest_first {
        let c = &session.counts;
        let applied = session.status == SessionStatus::Succeeded;
        points.push(roster_chart::Session {
            at_unix_ms: UnixMillis::from_datetime(session.created_at).0,
            label: None,
            active_users: active,
            created: if applied { c.created } else { 0 },
            updated: if applied { c.updated } else { 0 },
            deactivated: if applied { c.deactivated } else { 0 },
            reactivated: if applied { c.reactivated } else { 0 },
        });
        if applied {
            active = (active + c.deactivated).saturating_sub(c.created + c.reactivated);
        }
    }
    roster_chart::sessions_chart(&roster_chart::SessionsChart {
        id_prefix: format!("sessions-{}", job.id),
        title: format!("Active users and changes per import of {}", job.name),
        sessions: points,
    })
}

#[derive(Debug, Deserialize)]
pub(super) struct ImportForm {
    /// `fresh`: ask the agent first; `stored`: the stored directory state.
    source: String,
}

pub(super) async fn perform_import(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(job): Path<String>,
    Form(form): Form<ImportForm>,
) -> Result<Response, Failure> {
    let job = tenant_job(&state, &signed, &job).await?;
    let session = match form.source.as_str() {
        "fresh" => service::commands::start_fresh_import(&state.db, &state.limits, &state.commands, &signed.caller, &job).await?,
        _ => service::imports::start_import(&state.db, &state.imports, &signed.caller, &job).await?,
    };
    Ok(Redirect::to(&paths::session(session.id)).into_response())
}

/// A change as a row: who, what, and its details in words.
struct ChangeRow {
    username: String,
    action: &'static str,
    details: String,
    user: Option<String>,
}

/// A change's details in words, for the table and the CSV.
pub(super) fn describe_details(details: &[ChangeDetail]) -> String {
    details
        .iter()
        .map(|detail| match detail {
            ChangeDetail::Field { field, old, new } => {
                format!("{field}: {} → {}", old.as_deref().unwrap_or("(none)"), new.as_deref().unwrap_or("(none)"))
            }
            ChangeDetail::AccessGained(access) => format!("gains {}", access.name.as_deref().unwrap_or("an access")),
            ChangeDetail::AccessLost(access) => format!("loses {}", access.name.as_deref().unwrap_or("an access")),
            ChangeDetail::Deactivated { reason } => format!("deactivated: {}", reason.as_str().replace('_', " ")),
            ChangeDetail::Inactive { reason } => format!("inactive: {}", reason.as_str().replace('_', " ")),
            ChangeDetail::Reactivated => "reactivated".to_owned(),
            ChangeDetail::Note { text } => text.clone(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[derive(Template)]
#[template(path = "session.html")]
struct SessionPage {
    chrome: Chrome,
    job: Job,
    row: SessionRow,
    changes: Vec<ChangeRow>,
    /// The filter in force: an action's name, or empty for all.
    action: String,
    actions: [ChangeAction; 4],
    more: Option<String>,
    csv: String,
    decision: String,
    progress: String,
    live: bool,
    back: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct ChangesQuery {
    action: Option<String>,
    from: Option<i64>,
}

async fn session_of(state: &AppState, signed: &SignedIn, id: &str) -> Result<Session, Failure> {
    let id: SessionId = parse_id(id, Missing::Session)?;
    Ok(store::sessions::get_session(&state.db, signed.caller.tenant, id).await?.ok_or(AppError::NotFound(Missing::Session))?)
}

pub(super) async fn detail(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    Query(query): Query<ChangesQuery>,
) -> Result<Response, Failure> {
    let session = session_of(&state, &signed, &id).await?;
    let job = tenant_job(&state, &signed, &session.job_id.to_string()).await?;
    let action = query.action.as_deref().and_then(ChangeAction::parse);
    // Pages of the session's changes, kept to the filter, up to one screenful.
    let mut changes = Vec::new();
    let mut from = query.from.unwrap_or(0);
    let mut more = None;
    loop {
        let (page, next) = store::sessions::list_changes(&state.db, session.id, CHANGES_PER_PAGE, from).await?;
        changes.extend(page.into_iter().filter(|c| action.is_none_or(|a| c.action == a)).map(|c: SessionChange| ChangeRow {
            username: c.username,
            action: c.action.as_str(),
            details: describe_details(&c.details),
            user: c.user_id.map(paths::user),
        }));
        match next {
            Some(next) if changes.len() < CHANGES_PER_PAGE as usize => from = next,
            Some(next) => {
                let filter = action.map(|a| format!("&action={}", a.as_str())).unwrap_or_default();
                more = Some(format!("{}?from={next}{filter}", paths::session(session.id)));
                break;
            }
            None => break,
        }
    }
    let live = matches!(session.status, SessionStatus::Waiting | SessionStatus::Queued | SessionStatus::Running);
    let page = SessionPage {
        chrome: Chrome::new(&signed, Section::Jobs),
        back: paths::job_sessions(job.id),
        job,
        csv: paths::session_changes_csv(session.id),
        decision: paths::session_decision(session.id),
        progress: paths::session_progress(session.id),
        row: SessionRow::of(session),
        changes,
        action: action.map(|a| a.as_str().to_owned()).unwrap_or_default(),
        actions: ChangeAction::ALL,
        more,
        live,
    };
    render(&page)
}

#[derive(Template)]
#[template(path = "session_progress.html")]
struct Progress {
    row: SessionRow,
    live: bool,
    progress: String,
}

/// The session's status and counts alone, which the session page reloads
/// every two seconds (htmx) while the import is under way. Once it has
/// ended, htmx is told to reload the whole page (`HX-Refresh`), which then
/// shows what only an ended session has: its changes, a held plan's
/// Approve and Reject.
pub(super) async fn progress(State(state): State<AppState>, signed: SignedIn, Path(id): Path<String>) -> Result<Response, Failure> {
    let session = session_of(&state, &signed, &id).await?;
    let live = matches!(session.status, SessionStatus::Waiting | SessionStatus::Queued | SessionStatus::Running);
    let progress = paths::session_progress(session.id);
    let mut response = render(&Progress { row: SessionRow::of(session), live, progress })?;
    if !live {
        response.headers_mut().insert("hx-refresh", axum::http::HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// One CSV field, quoted when it must be, and never read as a formula by a
/// spreadsheet (a leading `=`, `+`, `-`, `@`, tab or CR is prefixed with `'`).
fn csv_field(text: &str) -> String {
    let text = match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_owned(),
    };
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text }
}

pub(super) async fn changes_csv(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    Query(query): Query<ChangesQuery>,
) -> Result<Response, Failure> {
    let session = session_of(&state, &signed, &id).await?;
    let action = query.action.as_deref().and_then(ChangeAction::parse);
    let mut csv = String::from("username,object_guid,action,user_id,details\r\n");
    let mut from = 0;
    loop {
        let (page, next) = store::sessions::list_changes(&state.db, session.id, crate::http::admin::MAX_LIMIT, from).await?;
        for change in page.into_iter().filter(|c| action.is_none_or(|a| c.action == a)) {
            let row = [
                csv_field(&change.username),
                change.object_guid.to_string(),
                change.action.as_str().to_owned(),
                change.user_id.map(|u| u.to_string()).unwrap_or_default(),
                csv_field(&describe_details(&change.details)),
            ];
            csv.push_str(&row.join(","));
            csv.push_str("\r\n");
        }
        match next {
            Some(next) => from = next,
            None => break,
        }
    }
    let disposition = format!("attachment; filename=\"session-{}-changes.csv\"", session.id);
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, disposition)], csv).into_response())
}

#[derive(Debug, Deserialize)]
pub(super) struct DecisionForm {
    verdict: String,
    /// Where to go afterwards: the dashboard when decided there.
    #[serde(default)]
    back: Option<String>,
}

pub(super) async fn decide(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    Form(form): Form<DecisionForm>,
) -> Result<Response, Failure> {
    let session = session_of(&state, &signed, &id).await?;
    let verdict = match form.verdict.as_str() {
        "approve" => Verdict::Approve,
        "reject" => Verdict::Reject,
        other => {
            return Err(crate::error::RequestError::InvalidBody(format!(
                "a decision is approve or reject, not `{}`",
                other.escape_debug()
            ))
            .into());
        }
    };
    service::sessions::decide(&state.db, &state.imports, &signed.caller, session.id, verdict, &signed.admin.email).await?;
    let back = match form.back.as_deref() {
        Some("dashboard") => paths::DASHBOARD.to_owned(),
        _ => paths::session(session.id),
    };
    Ok(Redirect::to(&back).into_response())
}

/// The Agents tab's picture: each agent's heartbeats over the last day,
/// five minutes a cell.
pub(super) async fn heartbeat_picture(state: &AppState, job: &Job, agents: &[Agent], now: UnixMillis) -> Result<String, Failure> {
    const BUCKETS: usize = (UnixMillis::DAY_MS / store::agents::BEAT_BUCKET_MS) as usize;
    let end = now.0 - now.0.rem_euclid(store::agents::BEAT_BUCKET_MS) + store::agents::BEAT_BUCKET_MS;
    let start = end - UnixMillis::DAY_MS;
    let mut beats: std::collections::HashMap<roster_proto::AgentId, Vec<i64>> = std::collections::HashMap::new();
    for (agent, at) in store::agents::beats_since(&state.db, job.id, UnixMillis(start)).await? {
        beats.entry(agent).or_default().push(at);
    }
    let rows = agents
        .iter()
        .map(|agent| {
            let mut heard = vec![false; BUCKETS];
            for at in beats.get(&agent.id).into_iter().flatten() {
                if let Some(cell) = usize::try_from((at - start) / store::agents::BEAT_BUCKET_MS).ok().and_then(|i| heard.get_mut(i)) {
                    *cell = true;
                }
            }
            let name = agent.hostname.clone().unwrap_or_else(|| format!("agent {}", &agent.id.to_string()[..8]));
            roster_chart::AgentHeartbeats { name, heard }
        })
        .collect();
    let ticks = (0..=4)
        .map(|i| {
            let bucket = i * BUCKETS / 4;
            let at = start + bucket as i64 * store::agents::BEAT_BUCKET_MS;
            roster_chart::Tick { bucket, label: when(&UnixMillis(at).to_datetime())[11..].to_owned() }
        })
        .collect();
    Ok(roster_chart::heartbeat_chart(&roster_chart::HeartbeatChart {
        id_prefix: format!("beats-{}", job.id),
        title: "Heartbeats over the last day".to_owned(),
        buckets: BUCKETS,
        agents: rows,
        ticks,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_never_formulas() {
        let cases = [
            ("ann", "ann"),
            ("a,b", "\"a,b\""),
            ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("=HYPERLINK(\"x\")", "\"'=HYPERLINK(\"\"x\"\")\""),
            ("+1", "'+1"),
            ("-1", "'-1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("two\nlines", "\"two\nlines\""),
        ];
        for (text, expected) in cases {
            assert_eq!(csv_field(text), expected, "{text:?}");
        }
    }
}
