//! "Import users": the jobs list, "New import job", and a job's General
//! tab (scope, schedule and its next runs, safeguard) and Agents tab
//! (registration token, the command line to start an agent, each agent's
//! state; revoke).

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use roster_proto::admin::{Agent, Budget, CreateJob, Job, SafeguardPolicy, Schedule, ScheduledRun, Session, SyncMode, UpdateJob};
use roster_proto::{DailyTime, TenantId};
use serde::Deserialize;

use super::tenant::needs_attention;
use super::view::{Chrome, JobStatus, Section, agent_state, when, when_or};
use super::{Failure, SignedIn, paths, render};
use crate::error::{AppError, Missing};
use crate::http::admin::{MAX_LIMIT, job_of, parse_id};
use crate::service;
use crate::state::AppState;
use crate::store::{self, UnixMillis};

/// What the dashboard and the jobs list show of a job, all read from the
/// records its runs write.
pub(super) struct JobSummary {
    pub job: Job,
    pub status: JobStatus,
    pub last_success: String,
    /// The next scheduled run, on the schedule's clock and in UTC.
    pub next_run: Option<ScheduledRun>,
    /// The held import waiting for a decision, if the newest finished session is one.
    pub held: Option<Session>,
    /// The failed import, if the newest finished session failed.
    pub failed: Option<Session>,
    /// An import under way.
    pub running: Option<Session>,
    pub silent_agents: Vec<Agent>,
    pub agents: usize,
}

impl JobSummary {
    /// When an agent was last heard from, or never.
    pub fn seen(&self, agent: &Agent) -> String {
        when_or(&agent.last_seen_at, "never")
    }

    /// An agent's state in a word.
    pub fn state_word(&self, agent: &Agent) -> &'static str {
        agent_state(agent.state).0
    }

    pub fn next_run_text(&self) -> String {
        match &self.next_run {
            Some(run) => format!("{} ({})", run.local, when(&run.at)),
            None => "not scheduled".to_owned(),
        }
    }
}

/// Reads what [`JobSummary`] shows of `job`.
pub(super) async fn summarise(state: &AppState, tenant: TenantId, job: Job) -> Result<JobSummary, Failure> {
    let db = &state.db;
    let newest = store::sessions::newest_finished(db, job.id).await?;
    let held = store::sessions::held(db, job.id).await?;
    let last_success = store::sessions::newest_succeeded(db, job.id).await?;
    let running = store::sessions::newest_unfinished(db, job.id).await?;
    let has_snapshot = {
        let mut conn = db.pool.acquire().await.map_err(AppError::from)?;
        store::directory::latest_committed(&mut conn, job.id).await?.is_some()
    };
    let (agents, _) = store::agents::list_agents(db, tenant, Some(job.id), MAX_LIMIT, None, UnixMillis::now()).await?;
    let states: Vec<_> = agents.iter().map(|a| a.state).collect();
    let status = JobStatus::judge(held.is_some(), newest.as_ref().map(|s| s.status), has_snapshot, &states);
    let next_run =
        crate::schedule::upcoming(&job.schedule, job.id, state.limits.schedule_jitter_secs, UnixMillis::now())?.into_iter().next();
    let failed = newest.filter(|s| s.status == roster_proto::admin::SessionStatus::Failed);
    let count = agents.len();
    let silent_agents = agents.into_iter().filter(|a| needs_attention(a.state)).collect();
    Ok(JobSummary {
        job,
        status,
        last_success: last_success.and_then(|s| s.finished_at).map_or_else(|| "never".to_owned(), |at| when(&at)),
        next_run,
        held,
        failed,
        running,
        silent_agents,
        agents: count,
    })
}

/// [`summarise`] of each of the tenant's jobs, oldest first: what the
/// dashboard and the jobs list both show.
pub(super) async fn summarise_all(state: &AppState, tenant: TenantId) -> Result<Vec<JobSummary>, Failure> {
    let (jobs, _) = store::jobs::list_jobs(&state.db, tenant, MAX_LIMIT, None).await?;
    let mut summaries = Vec::with_capacity(jobs.len());
    for job in jobs {
        summaries.push(summarise(state, tenant, job).await?);
    }
    Ok(summaries)
}

#[derive(Template)]
#[template(path = "jobs.html")]
struct Jobs {
    chrome: Chrome,
    jobs: Vec<JobSummary>,
}

pub(super) async fn list(State(state): State<AppState>, signed: SignedIn) -> Result<Response, Failure> {
    let summaries = summarise_all(&state, signed.caller.tenant).await?;
    render(&Jobs { chrome: Chrome::new(&signed, Section::Jobs), jobs: summaries })
}

/// A job's settings as its forms hold them: text, as typed, so a refused
/// form comes back as it was sent.
#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct JobForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    relative_paths: String,
    #[serde(default)]
    group_paths: String,
    #[serde(default)]
    user_filter: String,
    #[serde(default)]
    schedule_enabled: Option<String>,
    #[serde(default)]
    daily_at: String,
    #[serde(default)]
    time_zone: String,
    #[serde(default)]
    interval_minutes: String,
    #[serde(default)]
    full_sync_interval_days: String,
    #[serde(default)]
    max_deactivations_count: String,
    #[serde(default)]
    max_deactivations_percent: String,
    #[serde(default)]
    max_lost_basic_count: String,
    #[serde(default)]
    max_lost_basic_percent: String,
    #[serde(default)]
    min_active_users: String,
    #[serde(default)]
    sync_mode: String,
}

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|line| !line.is_empty()).map(str::to_owned).collect()
}

/// A form field that must be a number, or the refusal naming it.
fn number<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, AppError> {
    text.trim()
        .parse()
        .map_err(|_| crate::error::RequestError::InvalidBody(format!("{what} must be a whole number, not `{}`", text.trim())).into())
}

impl JobForm {
    fn of(job: &Job) -> JobForm {
        JobForm {
            name: job.name.clone(),
            relative_paths: job.relative_paths.join("\n"),
            group_paths: job.group_paths.join("\n"),
            user_filter: job.user_filter.clone().unwrap_or_default(),
            schedule_enabled: job.schedule.enabled.then(|| "on".to_owned()),
            daily_at: job.schedule.daily_at.to_string(),
            time_zone: job.schedule.time_zone.clone(),
            interval_minutes: job.schedule.interval_minutes.map(|m| m.to_string()).unwrap_or_default(),
            full_sync_interval_days: job.full_sync_interval_days.to_string(),
            max_deactivations_count: job.policy.max_deactivations.count.to_string(),
            max_deactivations_percent: job.policy.max_deactivations.percent.to_string(),
            max_lost_basic_count: job.policy.max_lost_basic.count.to_string(),
            max_lost_basic_percent: job.policy.max_lost_basic.percent.to_string(),
            min_active_users: job.policy.min_active_users.to_string(),
            sync_mode: job.sync_mode.as_str().to_owned(),
        }
    }

    fn blank() -> JobForm {
        let defaults = Job {
            id: uuid::Uuid::nil().into(),
            name: String::new(),
            relative_paths: vec![],
            group_paths: vec![],
            user_filter: None,
            schedule: Schedule::default(),
            full_sync_interval_days: 7,
            policy: SafeguardPolicy::default(),
            sync_mode: SyncMode::default(),
            created_at: time::OffsetDateTime::UNIX_EPOCH,
        };
        JobForm { relative_paths: "*".into(), ..JobForm::of(&defaults) }
    }

    fn schedule(&self) -> Result<Schedule, AppError> {
        let daily_at: DailyTime = self
            .daily_at
            .trim()
            .parse()
            .map_err(|e| crate::error::RequestError::InvalidBody(format!("the daily time must be HH:MM: {e}")))?;
        let interval_minutes = match self.interval_minutes.trim() {
            "" => None,
            text => Some(number(text, "the interval in minutes")?),
        };
        Ok(Schedule { enabled: self.schedule_enabled.is_some(), daily_at, time_zone: self.time_zone.trim().to_owned(), interval_minutes })
    }

    fn policy(&self) -> Result<SafeguardPolicy, AppError> {
        Ok(SafeguardPolicy {
            max_deactivations: Budget {
                count: number(&self.max_deactivations_count, "the deactivations budget")?,
                percent: number(&self.max_deactivations_percent, "the deactivations percentage")?,
            },
            max_lost_basic: Budget {
                count: number(&self.max_lost_basic_count, "the lost basic accesses budget")?,
                percent: number(&self.max_lost_basic_percent, "the lost basic accesses percentage")?,
            },
            min_active_users: number(&self.min_active_users, "the smallest directory the budgets apply to")?,
        })
    }

    /// The sync mode chosen: one of the radio buttons' values.
    fn sync_mode(&self) -> Result<SyncMode, AppError> {
        SyncMode::ALL.into_iter().find(|mode| mode.as_str() == self.sync_mode.trim()).ok_or_else(|| {
            crate::error::RequestError::InvalidBody(format!(
                "the sync mode must be scheduled or continuous, not `{}`",
                self.sync_mode.trim()
            ))
            .into()
        })
    }

    fn filter(&self) -> Option<String> {
        Some(self.user_filter.trim().to_owned()).filter(|f| !f.is_empty())
    }
}

#[derive(Template)]
#[template(path = "job_new.html")]
struct NewJob {
    chrome: Chrome,
    form: JobForm,
    error: Option<String>,
}

pub(super) async fn new_page(signed: SignedIn) -> Result<Response, Failure> {
    signed.caller.may(roster_proto::admin::AdminRole::Admin)?;
    render(&NewJob { chrome: Chrome::new(&signed, Section::Jobs), form: JobForm::blank(), error: None })
}

pub(super) async fn create(State(state): State<AppState>, signed: SignedIn, Form(form): Form<JobForm>) -> Result<Response, Failure> {
    let input = CreateJob {
        name: form.name.clone(),
        relative_paths: lines(&form.relative_paths),
        group_paths: lines(&form.group_paths),
        user_filter: form.filter(),
        schedule: None,
        full_sync_interval_days: None,
        policy: None,
        sync_mode: None,
    };
    match service::jobs::create_job(&state.db, &signed.caller, &input, state.limits.schedule_jitter_secs).await {
        Ok(job) => Ok(Redirect::to(&paths::job_agents(job.id)).into_response()),
        Err(error @ (AppError::Job(_) | AppError::Request(_))) => {
            let status = error.problem().0;
            let page = NewJob { chrome: Chrome::new(&signed, Section::Jobs), form, error: Some(error.detail()) };
            Ok((status, render(&page)?).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

/// The tabs of a job's pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tab {
    General,
    Sessions,
    Linking,
    Agents,
}

/// What every tab of a job shows at its top.
pub(super) struct JobFrame {
    pub job: Job,
    pub tab: Tab,
}

impl JobFrame {
    pub fn current(&self, tab: Tab) -> &'static str {
        if self.tab == tab { "page" } else { "false" }
    }
    pub fn general(&self) -> String {
        paths::job(self.job.id)
    }
    pub fn sessions(&self) -> String {
        paths::job_sessions(self.job.id)
    }
    pub fn linking(&self) -> String {
        paths::job_linking(self.job.id)
    }
    pub fn agents(&self) -> String {
        paths::job_agents(self.job.id)
    }
    pub fn registration_token(&self) -> String {
        paths::job_registration_token(self.job.id)
    }
}

/// The tenant's job named by the route's `{job}`, or 404.
pub(super) async fn tenant_job(state: &AppState, signed: &SignedIn, job: &str) -> Result<Job, Failure> {
    Ok(job_of(state, signed.caller.tenant, job).await?)
}

#[derive(Template)]
#[template(path = "job_general.html")]
struct General {
    chrome: Chrome,
    frame: JobFrame,
    form: JobForm,
    runs: Vec<ScheduledRun>,
    error: Option<String>,
    saved: bool,
}

impl General {
    fn utc(&self, run: &ScheduledRun) -> String {
        when(&run.at)
    }
}

async fn general_page(
    state: &AppState,
    signed: &SignedIn,
    job: Job,
    form: JobForm,
    error: Option<String>,
    saved: bool,
) -> Result<General, Failure> {
    let runs = crate::schedule::upcoming(&job.schedule, job.id, state.limits.schedule_jitter_secs, UnixMillis::now())?;
    Ok(General { chrome: Chrome::new(signed, Section::Jobs), frame: JobFrame { job, tab: Tab::General }, form, runs, error, saved })
}

#[derive(Debug, Deserialize)]
pub(super) struct SavedQuery {
    saved: Option<String>,
}

pub(super) async fn general(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(job): Path<String>,
    axum::extract::Query(query): axum::extract::Query<SavedQuery>,
) -> Result<Response, Failure> {
    let job = tenant_job(&state, &signed, &job).await?;
    let form = JobForm::of(&job);
    render(&general_page(&state, &signed, job, form, None, query.saved.is_some()).await?)
}

pub(super) async fn save_general(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(job): Path<String>,
    Form(form): Form<JobForm>,
) -> Result<Response, Failure> {
    let job = tenant_job(&state, &signed, &job).await?;
    let outcome = async {
        let patch = UpdateJob {
            name: Some(form.name.clone()),
            relative_paths: Some(lines(&form.relative_paths)),
            group_paths: Some(lines(&form.group_paths)),
            user_filter: Some(form.user_filter.trim().to_owned()),
            schedule: Some(form.schedule()?),
            full_sync_interval_days: Some(number(&form.full_sync_interval_days, "the days between full snapshots")?),
            policy: Some(form.policy()?),
            sync_mode: Some(form.sync_mode()?),
        };
        service::jobs::update_job(&state.db, &signed.caller, &job, &patch, state.limits.schedule_jitter_secs).await
    }
    .await;
    match outcome {
        Ok(job) => Ok(Redirect::to(&format!("{}?saved=1", paths::job(job.id))).into_response()),
        Err(error @ (AppError::Job(_) | AppError::Policy(_) | AppError::Request(_))) => {
            let status = error.problem().0;
            let page = general_page(&state, &signed, job, form, Some(error.detail()), false).await?;
            Ok((status, render(&page)?).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

/// An agent as the Agents tab lists it.
struct AgentRow {
    agent: Agent,
    state: (&'static str, &'static str),
    last_seen: String,
    last_push: String,
    revoke: String,
}

#[derive(Template)]
#[template(path = "job_agents.html")]
struct Agents {
    chrome: Chrome,
    frame: JobFrame,
    agents: Vec<AgentRow>,
    /// A registration token just issued, shown once.
    token: Option<String>,
    token_expires: String,
    server_url: String,
    heartbeats: String,
}

async fn agents_page(state: &AppState, signed: &SignedIn, job: Job, token: Option<(String, String)>) -> Result<Agents, Failure> {
    let now = UnixMillis::now();
    let (agents, _) = store::agents::list_agents(&state.db, signed.caller.tenant, Some(job.id), MAX_LIMIT, None, now).await?;
    let heartbeats = super::sessions::heartbeat_picture(state, &job, &agents, now).await?;
    let rows = agents
        .into_iter()
        .map(|agent| AgentRow {
            state: agent_state(agent.state),
            last_seen: when_or(&agent.last_seen_at, "never"),
            last_push: when_or(&agent.last_push_at, "never"),
            revoke: paths::agent_revoke(agent.id),
            agent,
        })
        .collect();
    let (token, token_expires) = token.unzip();
    Ok(Agents {
        chrome: Chrome::new(signed, Section::Jobs),
        frame: JobFrame { job, tab: Tab::Agents },
        agents: rows,
        token,
        token_expires: token_expires.unwrap_or_default(),
        server_url: state.console.public_url.clone(),
        heartbeats,
    })
}

pub(super) async fn agents(State(state): State<AppState>, signed: SignedIn, Path(job): Path<String>) -> Result<Response, Failure> {
    let job = tenant_job(&state, &signed, &job).await?;
    render(&agents_page(&state, &signed, job, None).await?)
}

/// How long a registration token issued in the console works.
const REGISTRATION_TOKEN_TTL_MS: i64 = UnixMillis::DAY_MS;

pub(super) async fn issue_registration_token(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(job): Path<String>,
) -> Result<Response, Failure> {
    let job = tenant_job(&state, &signed, &job).await?;
    let token = service::jobs::issue_registration_token(&state.db, &signed.caller, &job, REGISTRATION_TOKEN_TTL_MS).await?;
    let expires = when(&token.expires_at);
    render(&agents_page(&state, &signed, job, Some((token.token, expires))).await?)
}

pub(super) async fn revoke_agent(State(state): State<AppState>, signed: SignedIn, Path(agent): Path<String>) -> Result<Response, Failure> {
    let id = parse_id(&agent, Missing::Agent)?;
    let job = store::agents::job_of_agent(&state.db, signed.caller.tenant, id).await?.ok_or(AppError::NotFound(Missing::Agent))?;
    service::tenants::revoke_agent(&state.db, &signed.caller, id).await?;
    Ok(Redirect::to(&paths::job_agents(job)).into_response())
}
