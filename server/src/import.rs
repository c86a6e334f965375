//! The import worker: takes queued sessions, plans them with
//! `roster-import` against the snapshot they name, and applies the plan in
//! one transaction that also marks the session succeeded. A crash before
//! that commit leaves nothing applied; the session is queued again at the
//! next start.

use std::sync::Arc;
use std::time::{Duration, Instant};

use std::collections::HashMap;

use roster_import::{Action, GroupRef, LinkRule, Plan, PlanInput, plan};
use roster_proto::ObjectGuid;
use roster_proto::admin::{AccessKind, ChangeAction, Job, Link, SessionChange, SessionTrigger};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::db::Db;
use crate::settings::Limits;
use crate::store::{self, StoreError, sessions::SessionWork};

/// Why an import failed; recorded on the session.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("job no longer exists")]
    JobGone,
    #[error("the job has no directory state yet: its agent has not pushed a snapshot")]
    NoState,
    #[error("snapshot {0} is not committed")]
    SnapshotNotCommitted(Uuid),
    #[error("the job's scope cannot be used with base DN `{base}`: {source}")]
    Scope { base: String, source: roster_proto::scope::ScopeError },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ImportError {
    fn from(e: sqlx::Error) -> Self {
        ImportError::Store(StoreError::Sql(e))
    }
}

/// Wakes the worker when a session is queued.
#[derive(Debug, Clone, Default)]
pub struct ImportQueue {
    notify: Arc<Notify>,
}

impl ImportQueue {
    pub fn wake(&self) {
        self.notify.notify_one();
    }
}

/// Runs queued imports until the process ends. Re-checks the queue every
/// few seconds too, so a session queued by another replica is not missed.
pub async fn run_worker(db: Db, queue: ImportQueue, limits: Arc<Limits>) {
    match store::sessions::requeue_interrupted(&db).await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(sessions = n, "re-queued imports interrupted by a previous stop"),
        Err(error) => tracing::error!(%error, "could not re-queue interrupted imports"),
    }
    let mut last_housekeeping: Option<Instant> = None;
    loop {
        if last_housekeeping.is_none_or(|at| at.elapsed() >= Duration::from_secs(60)) {
            last_housekeeping = Some(Instant::now());
            if let Err(error) = housekeeping(&db, &limits).await {
                tracing::error!(%error, "housekeeping");
            }
        }
        if let Err(error) = queue_scheduled(&db, time::OffsetDateTime::now_utc()).await {
            tracing::error!(%error, "import schedule");
        }
        if let Err(error) = drain(&db).await {
            tracing::error!(%error, "import queue");
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), queue.notify.notified()).await;
    }
}

/// Queues a `schedule` session for every job whose daily time has come and
/// that has a snapshot, and moves each job's next time on. Safe to run on
/// several replicas at once: a conditional UPDATE lets one of them win.
/// Returns the sessions it queued.
pub async fn queue_scheduled(db: &Db, now: time::OffsetDateTime) -> Result<Vec<Uuid>, StoreError> {
    let now_ms = (now.unix_timestamp_nanos() / 1_000_000) as i64;
    let mut queued = Vec::new();
    for job in store::jobs::due_jobs(db, now_ms).await? {
        let daily = crate::schedule::parse_daily_time(&job.schedule_time)
            .ok_or(StoreError::Corrupt { column: "jobs.schedule_time", detail: job.schedule_time.clone() })?;
        let next = crate::schedule::next_daily_run(daily, now);
        let mut tx = db.begin_write().await?;
        if !store::jobs::advance_schedule(&mut tx, &job, (next.unix_timestamp_nanos() / 1_000_000) as i64).await? {
            continue;
        }
        match store::directory::latest_committed(&mut tx, job.id).await? {
            Some(snapshot) => {
                let id = store::sessions::insert_session(
                    &mut tx,
                    job.tenant_id,
                    job.id,
                    snapshot.id,
                    &snapshot.manifest_sha256,
                    SessionTrigger::Schedule,
                )
                .await?;
                tracing::info!(job = %job.id, tenant = %job.tenant_id, session = %id, "scheduled import queued");
                queued.push(id);
            }
            None => tracing::info!(job = %job.id, tenant = %job.tenant_id, "scheduled import skipped: the job has no snapshot yet"),
        }
        tx.commit().await?;
    }
    Ok(queued)
}

/// Forgets expired token ids, deletes snapshots left unfinished longer
/// than the limit allows, purges users inactive past their tenant's grace
/// period and sessions past its retention.
pub async fn housekeeping(db: &Db, limits: &Limits) -> Result<(), StoreError> {
    housekeeping_at(db, limits, store::now_ms()).await
}

/// [`housekeeping`] as of `now` (Unix ms).
pub async fn housekeeping_at(db: &Db, limits: &Limits, now: i64) -> Result<(), StoreError> {
    const DAY_MS: i64 = 24 * 3600 * 1000;
    store::agents::forget_expired_tokens(db, now).await?;
    let deleted = store::directory::delete_unfinished(db, now - limits.unfinished_snapshot_ttl_secs * 1000).await?;
    if deleted > 0 {
        tracing::info!(snapshots = deleted, "deleted unfinished snapshots");
    }
    for (tenant, settings) in store::tenants::all_settings(db).await? {
        let purged = store::users::purge_inactive(db, tenant, now - i64::from(settings.purge_after_days) * DAY_MS).await?;
        if purged > 0 {
            tracing::info!(%tenant, users = purged, days = settings.purge_after_days, "purged users inactive past the grace period");
        }
        if let Some(days) = settings.session_retention_days {
            let removed = store::sessions::delete_finished_before(db, tenant, now - i64::from(days) * DAY_MS).await?;
            if removed > 0 {
                tracing::info!(%tenant, sessions = removed, days, "removed sessions past their retention");
            }
        }
    }
    Ok(())
}

async fn drain(db: &Db) -> Result<(), StoreError> {
    for id in store::sessions::queued(db).await? {
        if !store::sessions::claim(db, id).await? {
            continue;
        }
        let Some(work) = store::sessions::work(db, id).await? else { continue };
        let started = Instant::now();
        match run_session(db, &work).await {
            Ok(()) => {
                tracing::info!(session = %id, job = %work.job_id, tenant = %work.tenant_id, elapsed_ms = started.elapsed().as_millis() as u64, "import succeeded")
            }
            Err(error) => {
                tracing::error!(session = %id, job = %work.job_id, tenant = %work.tenant_id, %error, "import failed");
                store::sessions::fail(db, &work, &error.to_string()).await?;
            }
        }
    }
    Ok(())
}

/// What the planner read and decided, before anything is written.
#[derive(Debug)]
pub struct Planned {
    pub plan: Plan,
    /// The plan's notes, with those about the links themselves first.
    pub notes: Vec<String>,
    /// For each stored link (by position), the group it resolved to.
    pub resolved_links: Vec<Option<ObjectGuid>>,
    /// The snapshot the job's directory state stands at.
    pub snapshot_id: Uuid,
    pub catalogue: HashMap<Uuid, (AccessKind, String)>,
}

/// The link rules the planner uses: a link resolved once to a group's
/// objectGUID follows that GUID (through renames and moves), else it is
/// matched as given. Returns the rules, where each stands among `links`,
/// and notes on links that cannot be read.
pub fn link_rules(links: &[Link]) -> (Vec<LinkRule>, Vec<usize>, Vec<String>) {
    let mut rules = Vec::with_capacity(links.len());
    let mut positions = Vec::with_capacity(links.len());
    let mut notes = Vec::new();
    for (position, link) in links.iter().enumerate() {
        let group = match link.group_guid {
            Some(guid) => Ok(GroupRef::Guid(guid)),
            None => GroupRef::parse(&link.group),
        };
        match group {
            Ok(group) => {
                rules.push(LinkRule { group_text: link.group.clone(), group, access_id: link.access_id });
                positions.push(position);
            }
            Err(error) => notes.push(format!("ignored link: {error}")),
        }
    }
    (rules, positions, notes)
}

/// Plans an import of `job` from its stored directory state with `links`,
/// reading everything through `conn` (one transaction gives one consistent
/// picture). Writes nothing.
pub async fn plan_job(conn: &mut sqlx::AnyConnection, tenant: Uuid, job: &Job, links: &[Link]) -> Result<Planned, ImportError> {
    let state = store::directory::state(conn, job.id).await?.ok_or(ImportError::NoState)?;
    let base =
        store::directory::snapshot_base_dn(conn, state.snapshot_id).await?.ok_or(ImportError::SnapshotNotCommitted(state.snapshot_id))?;
    let scope = job.scope().resolve(&base).map_err(|source| ImportError::Scope { base, source })?;
    let directory = store::directory::load_directory(conn, job.id).await?;
    let catalogue = store::jobs::access_catalogue(conn, tenant).await?;
    let current = store::users::current_users(conn, job.id).await?;
    let (rules, positions, mut notes) = link_rules(links);
    let now_unix = time::OffsetDateTime::now_utc().unix_timestamp();
    let plan = plan(PlanInput {
        users: &directory.users,
        groups: &directory.groups,
        scope: &scope,
        links: &rules,
        accesses: &catalogue,
        current: &current,
        now_unix,
    });
    notes.extend(plan.notes.iter().cloned());
    let mut resolved_links = vec![None; links.len()];
    for (position, group) in positions.iter().zip(&plan.resolved_links) {
        resolved_links[*position] = *group;
    }
    Ok(Planned { plan, notes, resolved_links, snapshot_id: state.snapshot_id, catalogue })
}

/// What the planner reads, for the questions asked of it without planning
/// (explain, structure).
#[derive(Debug)]
pub struct JobView {
    pub directory: store::directory::Directory,
    pub scope: roster_proto::scope::ResolvedScope,
    pub rules: Vec<LinkRule>,
    pub catalogue: HashMap<Uuid, (AccessKind, String)>,
}

/// Reads the job's directory state, scope, link rules and access catalogue.
pub async fn job_view(conn: &mut sqlx::AnyConnection, tenant: Uuid, job: &Job) -> Result<JobView, ImportError> {
    let state = store::directory::state(conn, job.id).await?.ok_or(ImportError::NoState)?;
    let base =
        store::directory::snapshot_base_dn(conn, state.snapshot_id).await?.ok_or(ImportError::SnapshotNotCommitted(state.snapshot_id))?;
    let scope = job.scope().resolve(&base).map_err(|source| ImportError::Scope { base, source })?;
    let directory = store::directory::load_directory(conn, job.id).await?;
    let catalogue = store::jobs::access_catalogue(conn, tenant).await?;
    let (rules, _, _) = link_rules(&store::jobs::get_links(conn, job.id).await?);
    Ok(JobView { directory, scope, rules, catalogue })
}

/// The itemised changes of a plan, as a session records them; planned
/// creations have no user id.
pub fn planned_changes(plan: &Plan) -> Vec<SessionChange> {
    plan.changes
        .iter()
        .map(|change| SessionChange {
            user_id: change.existing_id,
            object_guid: change.target.object_guid,
            username: change.target.username.clone(),
            action: change.action.into(),
            details: change.details.clone(),
        })
        .collect()
}

/// A digest of what a plan would do, user by user: two plans with the same
/// digest make the same changes. An approval names the digest it saw.
pub fn plan_digest(plan: &Plan) -> String {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    for change in &plan.changes {
        hasher.update(change.target.anchor.to_string());
        hasher.update([0]);
        hasher.update(ChangeAction::from(change.action).as_str());
        for detail in &change.details {
            hasher.update([0]);
            hasher.update(detail);
        }
        hasher.update([1]);
    }
    hasher.finalize().iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Plans one import and, unless the job's safeguard holds it, applies it:
/// users, the session's itemised changes and its outcome in one
/// transaction. A held plan records its changes and reasons, and applies
/// nothing. A run that follows an approval skips the safeguard if its plan
/// is still the one approved.
pub async fn run_session(db: &Db, work: &SessionWork) -> Result<(), ImportError> {
    let job = store::jobs::get_job(db, work.tenant_id, work.job_id).await?.ok_or(ImportError::JobGone)?;
    let mut tx = db.begin_write().await?;
    let links = store::jobs::get_links(&mut tx, work.job_id).await?;
    let Planned { plan, mut notes, resolved_links, .. } = plan_job(&mut tx, work.tenant_id, &job, &links).await?;
    let digest = plan_digest(&plan);
    let approved = work.approved_digest.as_deref() == Some(digest.as_str());
    if work.approved_digest.is_some() && !approved {
        notes.push("the directory, the links or the users changed since this plan was approved: it was planned again".to_owned());
    }
    let held_reasons = if approved { Vec::new() } else { roster_import::safeguard::judge(&job.policy, &plan) };

    store::jobs::record_link_resolution(&mut tx, work.job_id, &resolved_links).await?;
    // A run after an approval replaces the changes its held plan recorded.
    store::sessions::clear_changes(&mut tx, work.id).await?;
    if !held_reasons.is_empty() {
        store::sessions::insert_changes(&mut tx, work.id, &planned_changes(&plan)).await?;
        if !store::sessions::hold(&mut tx, work, &plan.counts, &notes, &held_reasons, &digest).await? {
            tx.rollback().await?;
            return Ok(());
        }
        store::sessions::supersede_held(&mut tx, work.job_id, work.id).await?;
        tx.commit().await?;
        tracing::warn!(session = %work.id, job = %work.job_id, tenant = %work.tenant_id, reasons = ?held_reasons, "import held by the safeguard");
        return Ok(());
    }

    let mut changes = Vec::with_capacity(plan.changes.len());
    for change in &plan.changes {
        let user_id = match (change.action, change.existing_id) {
            (Action::Create, _) | (_, None) => store::users::insert_user(&mut tx, work.tenant_id, work.job_id, &change.target).await?,
            (_, Some(id)) => {
                store::users::update_user(&mut tx, id, &change.target).await?;
                id
            }
        };
        changes.push(SessionChange {
            user_id: Some(user_id),
            object_guid: change.target.object_guid,
            username: change.target.username.clone(),
            action: change.action.into(),
            details: change.details.clone(),
        });
    }
    store::sessions::insert_changes(&mut tx, work.id, &changes).await?;
    if !store::sessions::succeed(&mut tx, work, &plan.counts, &notes).await? {
        // Someone else finished or re-queued it meanwhile: apply nothing.
        tx.rollback().await?;
        return Ok(());
    }
    store::sessions::supersede_held(&mut tx, work.job_id, work.id).await?;
    crate::fault::before_import_commit();
    tx.commit().await?;
    Ok(())
}
