//! One session's run. It plans the import from one read snapshot, a batch
//! at a time, staging each batch's changes in a short write; judges the
//! plan against the job's safeguard; then applies the staged plan (or
//! records it as held) with the session's outcome in one short
//! transaction, after checking that what it planned from still holds. No
//! write lasts longer than one batch or those few set statements, so a big
//! import never keeps other tenants from writing. An import into a job
//! with no user yet, which the safeguard cannot hold, is written as it is
//! planned instead, in that one transaction ([`import_into_empty_job`]):
//! about as long a write as those set statements, each row written once.

use roster_import::{AccessCatalogue, Plan, PlanDigest, UserChange};
use roster_proto::ObjectGuid;
use roster_proto::admin::{Job, Link};

use super::ImportError;
use super::read::{Batches, PlanContext, note_duplicates};
use crate::db::Db;
use crate::store::creations::Creating;
use crate::store::staged::{StagedChange, StagedCounts};
use crate::store::{self, sessions::SessionWork};

/// How many times a run plans before it gives up on inputs that keep
/// changing under it (see [`finish_staged`]).
pub const MAX_PLANS: u32 = 3;

/// A running import shows a sign of life with each batch it stages, and
/// between batches that change nothing at least this often (see
/// [`store::sessions::requeue_interrupted`]).
const BEAT_EVERY: std::time::Duration = std::time::Duration::from_secs(20);

/// Plans one import and, unless the job's safeguard holds it, applies it:
/// users, the session's itemised changes and its outcome commit together.
/// Users are read, planned and staged a batch at a time, so memory does not
/// grow with the directory. A plan the safeguard holds is recorded instead
/// (its changes and reasons; no user is touched). A run that follows an
/// approval skips the safeguard if its plan is still the one approved.
pub async fn run_session(db: &Db, work: &SessionWork) -> Result<RunOutcome, ImportError> {
    run_session_in_batches(db, work, crate::settings::DEFAULT_IMPORT_BATCH_USERS).await
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
    let work = &mut work.clone();
    if !store::sessions::mark_started(&mut *db.writer().await?, work).await? {
        return Ok(RunOutcome::Lost);
    }
    let outcome = plan_and_finish(db, work, batch_users).await;
    // Applied, recorded or failed: the staged rows have served either way.
    if let Err(error) = store::staged::clear(db, work.claim_token).await {
        tracing::warn!(%error, session = %work.id, "could not clear an import's staged plan; housekeeping will");
    }
    outcome
}

async fn plan_and_finish(db: &Db, work: &SessionWork, batch_users: u32) -> Result<RunOutcome, ImportError> {
    if let Some(outcome) = import_into_empty_job(db, work, batch_users).await? {
        return Ok(outcome);
    }
    for attempt in 1..=MAX_PLANS {
        let Some(planned) = plan_staged(db, work, batch_users).await? else { return Ok(RunOutcome::Lost) };
        match finish_staged(db, work, planned, attempt == MAX_PLANS).await? {
            Finished::Outcome(outcome) => return Ok(outcome),
            Finished::Replan(why) => {
                tracing::info!(session = %work.id, job = %work.job_id, attempt, "{why} while the import was planned: planning again")
            }
        }
    }
    Err(ImportError::UsersKeptChanging(MAX_PLANS))
}

/// Imports into a job that holds no user yet (its first import, as a
/// rule), in the session's one transaction, writing each batch as it is
/// planned while the next one is read and planned. Such a plan only
/// creates users, and with no active user the safeguard holds nothing
/// whatever its policy, so there is nothing to judge before writing:
/// staging the plan, copying it and clearing it would write every row
/// three times. `None`, having written nothing, when the job holds users
/// or the session follows an approval: the run stages its plan.
///
/// Nothing the plan is made from changes until the transaction ends: it
/// locks the job's state, the job and the session's row first (on SQLite
/// it holds the writer's turn), so the read it plans from, begun then,
/// sees what the transaction sees. The session shows no progress
/// meanwhile (its row is the transaction's).
async fn import_into_empty_job(db: &Db, work: &SessionWork, batch_users: u32) -> Result<Option<RunOutcome>, ImportError> {
    // Asked first of a read, so a re-import never waits for the writer here.
    if work.approved_digest.is_some() || store::users::holds_users(&mut *db.pool.acquire().await?, work.job_id).await? {
        return Ok(None);
    }
    let mut tx = db.begin_write().await?;
    store::directory::lock_state(&mut tx, db.dialect, work.job_id).await?;
    if !store::jobs::lock_job(&mut tx, db.dialect, work.job_id).await? {
        tx.rollback().await?;
        return Err(ImportError::JobGone);
    }
    if !store::sessions::beat(&mut tx, work, None).await? {
        tx.rollback().await?;
        return Ok(Some(RunOutcome::Lost));
    }
    // Again under the locks: the answer that counts is the transaction's.
    if store::users::holds_users(&mut tx, work.job_id).await? {
        tx.rollback().await?;
        return Ok(None);
    }
    let mut read = db.begin_read().await?;
    let inputs = Inputs::read(&mut read, work).await?;
    let context = PlanContext::load(&mut read, work.tenant_id, &inputs.job, &inputs.links).await?;
    let mut planner = context.planner();
    let mut batches = Batches::new(batch_users, db.dialect);
    let into = Creating { tenant: work.tenant_id, job: work.job_id, session: work.id, now: store::now_ms() };
    // A task of its own writes each batch while the next ones are read and
    // planned here, so the database writes while this task plans.
    let (send, mut receive) = tokio::sync::mpsc::channel::<Vec<UserChange>>(1);
    let dialect = db.dialect;
    let writer = tokio::spawn(async move {
        let mut seq = 0i64;
        while let Some(changes) = receive.recv().await {
            store::creations::create(&mut tx, dialect, into, seq, &changes).await?;
            seq += changes.len() as i64;
        }
        Ok::<_, ImportError>((tx, seq))
    });
    let planned = async {
        while let Some(changes) = batches.next(&mut read, work.job_id, &mut planner).await? {
            if send.send(changes).await.is_err() {
                break; // The writer stopped: its error is the one to report.
            }
        }
        Ok::<_, ImportError>(())
    }
    .await;
    drop(send);
    let (mut tx, seq) = match writer.await {
        Ok(written) => written?,
        Err(stopped) => match stopped.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(_) => return Err(ImportError::Interrupted),
        },
    };
    planned?;
    read.rollback().await?;
    let mut plan = planner.finish();
    note_duplicates(&mut plan, batches.duplicates());
    if !roster_import::safeguard::judge(&inputs.job.policy, &plan).is_empty() {
        // Never with no active user; should the safeguard change, the staged run records the hold.
        tx.rollback().await?;
        return Ok(None);
    }
    if seq > 0 {
        store::users::bump_revision(&mut tx, work.job_id).await?;
    }
    store::jobs::record_link_resolution(&mut tx, work.job_id, &context.resolved_links(&plan)).await?;
    if !store::sessions::succeed(&mut tx, work, &plan.counts, &context.notes(&plan)).await? {
        tx.rollback().await?;
        return Ok(Some(RunOutcome::Lost));
    }
    store::sessions::supersede_held(&mut tx, work.job_id, work.id).await?;
    crate::fault::before_import_commit();
    tx.commit().await?;
    Ok(Some(RunOutcome::Applied))
}

/// What a plan is made from besides the directory's users: read at its
/// start from the snapshot it plans from, and again when it is applied.
#[derive(Debug, PartialEq)]
struct Inputs {
    job: Job,
    links: Vec<Link>,
    catalogue: AccessCatalogue,
    /// The snapshot the directory state stands at, and its generation.
    state: Option<(roster_proto::SnapshotId, Option<String>)>,
    /// The job's users' revision: the users the plan changes.
    users_revision: i64,
}

impl Inputs {
    async fn read(conn: &mut sqlx::AnyConnection, work: &SessionWork) -> Result<Inputs, ImportError> {
        let job = store::jobs::job_in(&mut *conn, work.tenant_id, work.job_id).await?.ok_or(ImportError::JobGone)?;
        let users_revision = store::users::revision(conn, work.job_id).await?.ok_or(ImportError::JobGone)?;
        let state = match store::directory::state(conn, work.job_id).await? {
            Some(state) => Some((state.snapshot_id, store::directory::current_generation(conn, work.job_id).await?)),
            None => None,
        };
        Ok(Inputs {
            links: store::jobs::get_links(conn, work.job_id).await?,
            catalogue: store::jobs::access_catalogue(conn, work.tenant_id).await?,
            job,
            state,
            users_revision,
        })
    }
}

/// A plan, staged, and what it was made from.
#[derive(Debug)]
pub struct Planned {
    inputs: Inputs,
    plan: Plan,
    digest: String,
    notes: Vec<String>,
    resolved_links: Vec<Option<ObjectGuid>>,
    staged: StagedCounts,
}

/// Plans the import from one read snapshot, staging each batch of changes
/// in a short write of its own with a sign of life, in place of what the
/// run staged before. `None` when the session is no longer this run's.
/// [`run_session`] runs this and
/// [`finish_staged`]; tests run them one at a time, to change things in
/// between.
pub async fn plan_staged(db: &Db, work: &SessionWork, batch_users: u32) -> Result<Option<Planned>, ImportError> {
    store::staged::clear(db, work.claim_token).await?;
    let mut read = db.begin_read().await?;
    let inputs = Inputs::read(&mut read, work).await?;
    let context = PlanContext::load(&mut read, work.tenant_id, &inputs.job, &inputs.links).await?;
    let mut planner = context.planner();
    let mut batches = Batches::new(batch_users, db.dialect);
    let total = store::directory::count_users(&mut read, work.job_id).await?;
    let (mut digest, mut staged, mut seq) = (PlanDigest::default(), StagedCounts::default(), 0i64);
    let mut last_beat = std::time::Instant::now();
    while let Some(changes) = batches.next(&mut read, work.job_id, &mut planner).await? {
        if changes.is_empty() && last_beat.elapsed() < BEAT_EVERY {
            continue;
        }
        let batch: Vec<StagedChange<'_>> = changes.iter().map(StagedChange::new).collect();
        for change in &batch {
            digest.add(change.change);
            staged.add(change);
        }
        let mut tx = db.begin_write().await?;
        if !store::sessions::beat(&mut tx, work, Some((batches.walked(), total))).await? {
            return Ok(None);
        }
        store::staged::stage(&mut tx, db.dialect, work.claim_token, seq, &batch).await?;
        tx.commit().await?;
        last_beat = std::time::Instant::now();
        seq += batch.len() as i64;
    }
    read.rollback().await?;
    let mut plan = planner.finish();
    note_duplicates(&mut plan, batches.duplicates());
    Ok(Some(Planned {
        notes: context.notes(&plan),
        resolved_links: context.resolved_links(&plan),
        digest: digest.finish(),
        inputs,
        plan,
        staged,
    }))
}

/// How finishing a staged plan went.
#[derive(Debug)]
pub enum Finished {
    Outcome(RunOutcome),
    /// What the plan was made from changed: plan again.
    Replan(&'static str),
}

/// Judges the plan, then in one short transaction checks that its inputs
/// still hold and applies it (or records it as held) with the session's
/// outcome. Users changed since the plan read them (by a purge) always
/// mean planning again. Other inputs changed (the job, its links, the
/// accesses, a newer snapshot) mean planning again unless this is the
/// `last` attempt, which applies its plan of them as they were when it
/// began (consistent, only older) and says so in a note: a tenant changing
/// links in a loop cannot keep its own import from finishing.
pub async fn finish_staged(db: &Db, work: &SessionWork, planned: Planned, last: bool) -> Result<Finished, ImportError> {
    let Planned { inputs, plan, digest, mut notes, resolved_links, staged } = planned;
    let approved = work.approved_digest.as_deref() == Some(digest.as_str());
    if work.approved_digest.is_some() && !approved {
        notes.push("the directory, the links or the users changed since this plan was approved: it was planned again".to_owned());
    }

    let mut tx = db.begin_write().await?;
    // Until the outcome commits, no snapshot of this job commits, no links
    // of it are saved and none of its users are purged; the session's row
    // stays locked (PostgreSQL; SQLite's writer excludes all of them).
    store::directory::lock_state(&mut tx, db.dialect, work.job_id).await?;
    if !store::jobs::lock_job(&mut tx, db.dialect, work.job_id).await? {
        tx.rollback().await?;
        return Err(ImportError::JobGone);
    }
    if !store::sessions::beat(&mut tx, work, None).await? {
        tx.rollback().await?;
        return Ok(Finished::Outcome(RunOutcome::Lost));
    }
    let now = Inputs::read(&mut tx, work).await?;
    if now.users_revision != inputs.users_revision {
        tx.rollback().await?;
        return Ok(Finished::Replan("the job's users changed"));
    }
    if now != inputs {
        if !last {
            tx.rollback().await?;
            return Ok(Finished::Replan("the job, its links, the accesses or its directory changed"));
        }
        notes.push(
            "the job, its links, the accesses or its directory kept changing while this import was planned: it applied its plan of them \
             as they were when it began; the next import plans with the changes"
                .to_owned(),
        );
    }
    // Judged by the policy as it is now: a safeguard tightened meanwhile holds.
    let held_reasons = if approved { Vec::new() } else { roster_import::safeguard::judge(&now.job.policy, &plan) };
    // A run after an approval replaces the changes its held plan recorded.
    store::sessions::clear_changes(&mut tx, work.id).await?;
    if held_reasons.is_empty() {
        store::staged::apply(&mut tx, work.claim_token, work.tenant_id, work.job_id, work.id, staged).await?;
        if staged.changes() > 0 {
            store::users::bump_revision(&mut tx, work.job_id).await?;
        }
    } else {
        store::staged::record_as_plan(&mut tx, work.claim_token, work.id).await?;
    }
    // Resolutions are by position among the links planned with.
    if now.links == inputs.links {
        store::jobs::record_link_resolution(&mut tx, work.job_id, &resolved_links).await?;
    }
    let recorded = if held_reasons.is_empty() {
        store::sessions::succeed(&mut tx, work, &plan.counts, &notes).await?
    } else {
        store::sessions::hold(&mut tx, work, &plan.counts, &notes, &held_reasons, &digest).await?
    };
    if !recorded {
        // Someone else finished or re-queued it meanwhile: apply nothing.
        tx.rollback().await?;
        return Ok(Finished::Outcome(RunOutcome::Lost));
    }
    store::sessions::supersede_held(&mut tx, work.job_id, work.id).await?;
    crate::fault::before_import_commit();
    tx.commit().await?;
    if held_reasons.is_empty() {
        Ok(Finished::Outcome(RunOutcome::Applied))
    } else {
        tracing::warn!(session = %work.id, job = %work.job_id, tenant = %work.tenant_id, reasons = ?held_reasons, "import held by the safeguard");
        Ok(Finished::Outcome(RunOutcome::Held))
    }
}
