//! The import worker: takes queued sessions, plans them with
//! `roster-import` against the snapshot they name, and applies the plan in
//! one transaction that also marks the session succeeded. A crash before
//! that commit leaves nothing applied; the session is queued again at the
//! next start.

use std::sync::Arc;
use std::time::{Duration, Instant};

use std::collections::HashMap;

use roster_import::{Action, GroupRef, LinkRule, Plan, PlanDigest, Planner, UserChange};
use roster_proto::ObjectGuid;
use roster_proto::admin::{AccessKind, Job, Link, SessionChange, SessionTrigger};
use roster_proto::records::{GroupRecord, UserRecord};
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
    // At start, any session no live import holds was interrupted.
    if let Err(error) = requeue_interrupted(&db, store::now_ms()).await {
        tracing::error!(%error, "could not re-queue interrupted imports");
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
        if let Err(error) = drain(&db, limits.import_batch_users).await {
            tracing::error!(%error, "import queue");
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), queue.notify.notified()).await;
    }
}

/// How long after its claim a session not locked by any import counts as
/// abandoned (PostgreSQL): longer than a claim waits for its job's lock.
const ABANDONED_AFTER_MS: i64 = 5 * 60 * 1000;

/// Re-queues imports interrupted by a stopped server (see
/// [`store::sessions::requeue_interrupted`]).
async fn requeue_interrupted(db: &Db, claimed_before_ms: i64) -> Result<(), StoreError> {
    let requeued = store::sessions::requeue_interrupted(db, claimed_before_ms).await?;
    if requeued > 0 {
        tracing::warn!(sessions = requeued, "re-queued imports interrupted by a stopped server");
    }
    Ok(())
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
    if db.dialect == crate::db::Dialect::Postgres {
        // Another replica may have died mid-import; SQLite has no other process.
        requeue_interrupted(db, now - ABANDONED_AFTER_MS).await?;
    }
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

async fn drain(db: &Db, batch_users: u32) -> Result<(), StoreError> {
    for id in store::sessions::queued(db).await? {
        let Some(token) = store::sessions::claim(db, id).await? else { continue };
        let Some(work) = store::sessions::work(db, id, token).await? else { continue };
        let started = Instant::now();
        let elapsed_ms = || started.elapsed().as_millis() as u64;
        match run_session_in_batches(db, &work, batch_users).await {
            Ok(RunOutcome::Applied) => {
                tracing::info!(session = %id, job = %work.job_id, tenant = %work.tenant_id, elapsed_ms = elapsed_ms(), "import succeeded")
            }
            Ok(RunOutcome::Held) => {
                tracing::info!(session = %id, job = %work.job_id, tenant = %work.tenant_id, elapsed_ms = elapsed_ms(), "import held")
            }
            Ok(RunOutcome::Lost) => {
                tracing::warn!(session = %id, job = %work.job_id, tenant = %work.tenant_id, "the session was re-queued or finished elsewhere; this run recorded nothing")
            }
            Err(error) => {
                tracing::error!(session = %id, job = %work.job_id, tenant = %work.tenant_id, %error, "import failed");
                store::sessions::fail(db, &work, &error.to_string()).await?;
            }
        }
    }
    Ok(())
}

/// What an import plans with, read once: the scope, the link rules, the
/// access catalogue and the groups. Users are read a batch at a time.
#[derive(Debug)]
pub struct PlanContext {
    /// The snapshot the job's directory state stands at.
    pub snapshot_id: Uuid,
    pub scope: roster_proto::scope::ResolvedScope,
    pub rules: Vec<LinkRule>,
    /// Where each rule stands among the stored links, and how many there are.
    positions: Vec<usize>,
    link_count: usize,
    /// Notes on links that cannot be read.
    link_notes: Vec<String>,
    pub catalogue: HashMap<Uuid, (AccessKind, String)>,
    pub groups: Vec<GroupRecord>,
    now_unix: i64,
}

impl PlanContext {
    /// Reads what a plan of `job` with `links` needs from its stored
    /// directory state.
    pub async fn load(conn: &mut sqlx::AnyConnection, tenant: Uuid, job: &Job, links: &[Link]) -> Result<PlanContext, ImportError> {
        let state = store::directory::state(conn, job.id).await?.ok_or(ImportError::NoState)?;
        let base = store::directory::snapshot_base_dn(conn, state.snapshot_id)
            .await?
            .ok_or(ImportError::SnapshotNotCommitted(state.snapshot_id))?;
        let scope = job.scope().resolve(&base).map_err(|source| ImportError::Scope { base, source })?;
        let (rules, positions, link_notes) = link_rules(links);
        Ok(PlanContext {
            snapshot_id: state.snapshot_id,
            scope,
            rules,
            positions,
            link_count: links.len(),
            link_notes,
            catalogue: store::jobs::access_catalogue(conn, tenant).await?,
            groups: store::directory::load_groups(conn, job.id).await?,
            now_unix: time::OffsetDateTime::now_utc().unix_timestamp(),
        })
    }

    pub fn planner(&self) -> Planner<'_> {
        Planner::new(&self.groups, &self.scope, &self.rules, &self.catalogue, self.now_unix)
    }

    /// Explains users by the same rules and clock as [`PlanContext::planner`] plans them.
    pub fn explainer(&self) -> roster_import::Explainer<'_> {
        roster_import::Explainer::new(roster_import::ExplainInput {
            groups: &self.groups,
            scope: &self.scope,
            links: &self.rules,
            accesses: &self.catalogue,
            now_unix: self.now_unix,
        })
    }

    /// For each stored link (by position), the group it resolved to.
    pub fn resolved_links(&self, plan: &Plan) -> Vec<Option<ObjectGuid>> {
        let mut resolved = vec![None; self.link_count];
        for (position, group) in self.positions.iter().zip(&plan.resolved_links) {
            resolved[*position] = *group;
        }
        resolved
    }

    /// The notes of a plan: those about the links themselves first.
    pub fn notes(&self, plan: &Plan) -> Vec<String> {
        self.link_notes.iter().chain(&plan.notes).cloned().collect()
    }
}

/// Users an import reads per batch, unless told otherwise.
pub const DEFAULT_BATCH_USERS: u32 = 1000;

/// The walk over a job's users in anchor order, a batch at a time
/// ([`roster_import::Batches`], which pairs each directory user with the
/// stored user of the same anchor), reading each batch from the store.
#[derive(Debug)]
pub struct Batches {
    walk: roster_import::Batches,
    dialect: crate::db::Dialect,
}

impl Batches {
    /// A walk reading `size` directory users at a time (at least 1).
    pub fn new(size: u32, dialect: crate::db::Dialect) -> Batches {
        Batches { walk: roster_import::Batches::new(size), dialect }
    }

    /// The changes of the next batch; `None` once every user is planned.
    /// Stored users are read by fingerprint first; only those the import
    /// changes (or that left the directory) are read whole.
    pub async fn next(
        &mut self,
        conn: &mut sqlx::AnyConnection,
        job: Uuid,
        planner: &mut Planner<'_>,
    ) -> Result<Option<Vec<UserChange>>, ImportError> {
        if self.walk.is_done() {
            return Ok(None);
        }
        let batch = store::directory::user_batch(conn, job, self.walk.after(), self.walk.size()).await?;
        let range = self.walk.stored_range(&batch);
        let stored = store::users::stored_between(conn, job, range.after, range.upto).await?;
        let paired = self.walk.pair(planner, &batch, &stored);
        let whole = store::users::current_users_by_id(conn, self.dialect, &paired.wanted()).await?;
        Ok(Some(paired.plan(planner, &whole)))
    }

    /// Directory users skipped because another record has the same anchor.
    pub fn duplicates(&self) -> u64 {
        self.walk.duplicates()
    }
}

/// Plans `job` with `links` without writing, handing each change to
/// `on_change`; returns the plan's summary (counts, notes, resolutions;
/// its `changes` empty) and the context it was planned with.
pub async fn plan_streamed(
    conn: &mut sqlx::AnyConnection,
    dialect: crate::db::Dialect,
    tenant: Uuid,
    job: &Job,
    links: &[Link],
    mut on_change: impl FnMut(&UserChange),
) -> Result<(Plan, PlanContext), ImportError> {
    let context = PlanContext::load(conn, tenant, job, links).await?;
    let mut planner = context.planner();
    let mut batches = Batches::new(DEFAULT_BATCH_USERS, dialect);
    while let Some(changes) = batches.next(conn, job.id, &mut planner).await? {
        changes.iter().for_each(&mut on_change);
    }
    let mut plan = planner.finish();
    note_duplicates(&mut plan, batches.duplicates());
    Ok((plan, context))
}

fn note_duplicates(plan: &mut Plan, duplicates: u64) {
    if duplicates > 0 {
        plan.notes.push(format!("{duplicates} user records share an anchor (mS-DS-ConsistencyGuid) with another and were skipped"));
    }
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

/// What the planner reads, and the job's users and OUs, for the
/// questions asked of it without planning (explain, structure).
#[derive(Debug)]
pub struct JobView {
    pub context: PlanContext,
    pub users: Vec<UserRecord>,
    pub ous: Vec<roster_proto::records::OuRecord>,
}

/// Reads the job's directory state, scope, link rules and access catalogue.
pub async fn job_view(conn: &mut sqlx::AnyConnection, tenant: Uuid, job: &Job) -> Result<JobView, ImportError> {
    let links = store::jobs::get_links(conn, job.id).await?;
    let context = PlanContext::load(conn, tenant, job, &links).await?;
    let store::directory::UsersAndOus { users, ous } = store::directory::load_users_and_ous(conn, job.id).await?;
    Ok(JobView { context, users, ous })
}

/// One change as a session records it; a planned creation has no user id.
pub fn session_change(change: &UserChange, user_id: Option<Uuid>) -> SessionChange {
    SessionChange {
        user_id,
        object_guid: change.target.object_guid,
        username: change.target.username.clone(),
        action: change.action.into(),
        details: change.details.clone(),
    }
}

/// Plans one import and, unless the job's safeguard holds it, applies it:
/// users, the session's itemised changes and its outcome in one
/// transaction. Users are read, planned and written a batch at a time, so
/// memory does not grow with the directory. A plan the safeguard holds is
/// rolled back and recorded instead (its changes and reasons; no user is
/// touched). A run that follows an approval skips the safeguard if its plan
/// is still the one approved.
pub async fn run_session(db: &Db, work: &SessionWork) -> Result<RunOutcome, ImportError> {
    run_session_in_batches(db, work, DEFAULT_BATCH_USERS).await
}

/// How a run of a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    /// The plan was applied and the session succeeded.
    Applied,
    /// The safeguard held the plan; nothing was applied.
    Held,
    /// The session was no longer this run's (re-queued, or finished by
    /// another run): nothing was recorded.
    Lost,
}

/// [`run_session`], reading `batch_users` directory users at a time.
pub async fn run_session_in_batches(db: &Db, work: &SessionWork, batch_users: u32) -> Result<RunOutcome, ImportError> {
    let job = store::jobs::get_job(db, work.tenant_id, work.job_id).await?.ok_or(ImportError::JobGone)?;
    let mut tx = db.begin_write().await?;
    // No snapshot of this job commits while it is planned and applied.
    store::directory::lock_state(&mut tx, db.dialect, work.job_id).await?;
    let work = &mut work.clone();
    if !store::sessions::mark_started(&mut tx, work).await? {
        return Ok(RunOutcome::Lost);
    }
    let links = store::jobs::get_links(&mut tx, work.job_id).await?;
    let context = PlanContext::load(&mut tx, work.tenant_id, &job, &links).await?;
    // A run after an approval replaces the changes its held plan recorded.
    store::sessions::clear_changes(&mut tx, work.id).await?;

    let mut applying = sqlx::Connection::begin(&mut *tx).await?;
    let (plan, digest) = stream_into(&mut applying, db.dialect, work, &context, Write::Apply, batch_users).await?;
    let mut notes = context.notes(&plan);
    let approved = work.approved_digest.as_deref() == Some(digest.as_str());
    if work.approved_digest.is_some() && !approved {
        notes.push("the directory, the links or the users changed since this plan was approved: it was planned again".to_owned());
    }
    let held_reasons = if approved { Vec::new() } else { roster_import::safeguard::judge(&job.policy, &plan) };
    if held_reasons.is_empty() {
        applying.commit().await?;
    } else {
        applying.rollback().await?;
        stream_into(&mut tx, db.dialect, work, &context, Write::Plan, batch_users).await?;
    }
    store::jobs::record_link_resolution(&mut tx, work.job_id, &context.resolved_links(&plan)).await?;
    let recorded = if held_reasons.is_empty() {
        store::sessions::succeed(&mut tx, work, &plan.counts, &notes).await?
    } else {
        store::sessions::hold(&mut tx, work, &plan.counts, &notes, &held_reasons, &digest).await?
    };
    if !recorded {
        // Someone else finished or re-queued it meanwhile: apply nothing.
        tx.rollback().await?;
        return Ok(RunOutcome::Lost);
    }
    store::sessions::supersede_held(&mut tx, work.job_id, work.id).await?;
    crate::fault::before_import_commit();
    tx.commit().await?;
    if held_reasons.is_empty() {
        Ok(RunOutcome::Applied)
    } else {
        tracing::warn!(session = %work.id, job = %work.job_id, tenant = %work.tenant_id, reasons = ?held_reasons, "import held by the safeguard");
        Ok(RunOutcome::Held)
    }
}

/// What a streamed pass writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Write {
    /// Users and the changes applied to them.
    Apply,
    /// The changes only, as a plan (a held session).
    Plan,
}

/// One pass over the job's users: plans each batch and writes it. Returns
/// the plan's summary and digest.
async fn stream_into(
    conn: &mut sqlx::AnyConnection,
    dialect: crate::db::Dialect,
    work: &SessionWork,
    context: &PlanContext,
    write: Write,
    batch_users: u32,
) -> Result<(Plan, String), ImportError> {
    let mut planner = context.planner();
    let mut batches = Batches::new(batch_users, dialect);
    let mut digest = PlanDigest::default();
    let mut seq = 0i64;
    while let Some(changes) = batches.next(conn, work.job_id, &mut planner).await? {
        let mut recorded = Vec::with_capacity(changes.len());
        for change in &changes {
            digest.add(change);
            let user_id = match (write, change.action, change.existing_id) {
                (Write::Plan, _, existing) => existing,
                (Write::Apply, Action::Create, _) | (Write::Apply, _, None) => {
                    Some(store::users::insert_user(conn, work.tenant_id, work.job_id, &change.target).await?)
                }
                (Write::Apply, _, Some(id)) => {
                    store::users::update_user(conn, id, &change.target).await?;
                    Some(id)
                }
            };
            recorded.push(session_change(change, user_id));
        }
        store::sessions::insert_changes(conn, work.id, seq, &recorded).await?;
        seq += recorded.len() as i64;
    }
    let mut plan = planner.finish();
    note_duplicates(&mut plan, batches.duplicates());
    Ok((plan, digest.finish()))
}
