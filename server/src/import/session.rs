//! One session's transaction: plans the import a batch at a time, judges
//! it against the job's safeguard, and applies it or holds it, recording
//! the session's outcome in the same transaction.

use roster_import::{Action, Plan, PlanDigest};

use super::ImportError;
use super::read::{Batches, PlanContext, note_duplicates, session_change};
use crate::db::Db;
use crate::store::{self, sessions::SessionWork};

/// Plans one import and, unless the job's safeguard holds it, applies it:
/// users, the session's itemised changes and its outcome in one
/// transaction. Users are read, planned and written a batch at a time, so
/// memory does not grow with the directory. A plan the safeguard holds is
/// rolled back and recorded instead (its changes and reasons; no user is
/// touched). A run that follows an approval skips the safeguard if its plan
/// is still the one approved.
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
