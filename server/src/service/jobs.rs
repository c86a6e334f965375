//! Creating, changing and deleting jobs, and replacing their safeguard policy.

use roster_proto::admin::{AdminRole, AuditAction, CreateJob, Job, SafeguardPolicy, Schedule, UpdateJob};
use roster_proto::name::NameError;
use roster_proto::scope::JobScope;

use super::audit::{self, Caller};
use crate::db::Db;
use crate::error::{AppError, JobError, Missing, PolicyError};
use crate::store;

/// Days between full reconciliations when a job does not say.
const DEFAULT_FULL_SYNC_DAYS: u32 = 7;

/// Checks `input` and creates the job in `tenant`, audited in the same
/// transaction; a name the tenant already uses is refused.
pub async fn create_job(db: &Db, caller: &Caller, input: &CreateJob, jitter_secs: u32) -> Result<Job, AppError> {
    caller.may(AdminRole::Admin)?;
    let tenant = caller.tenant;
    let name = checked_job_name(&input.name)?;
    let checked = check_settings(input)?;
    let input = &CreateJob { name, ..input.clone() };
    let mut tx = db.begin_write().await?;
    let refused = match store::jobs::create_job(&mut tx, tenant, input, checked.schedule, checked.interval, jitter_secs).await? {
        store::jobs::CreatedJob::Created(job) => {
            let summary = format!("created job \"{}\"", job.name);
            audit::record_in(&mut tx, caller, AuditAction::JobCreated, Some(job.id.to_string()), &summary).await?;
            tx.commit().await?;
            tracing::info!(tenant = %tenant, job = %job.id, "job created");
            return Ok(*job);
        }
        store::jobs::CreatedJob::NameTaken => JobError::NameTaken(input.name.clone()).into(),
    };
    tx.rollback().await?;
    Err(refused)
}

/// Applies `patch` to the job as it is when the change is written (see
/// [`store::jobs::update_job`]): the members given are checked as a new
/// job's are (a stored member left alone is not checked again), and a name
/// another of the tenant's jobs has is refused. A changed scope makes the
/// next snapshot full by itself: the directory state remembers the scope
/// of its last full snapshot. The change and its audit entry are one
/// transaction.
pub async fn update_job(db: &Db, caller: &Caller, job: &Job, patch: &UpdateJob, jitter_secs: u32) -> Result<Job, AppError> {
    caller.may(AdminRole::Admin)?;
    let tenant = caller.tenant;
    let change = |current: &Job| -> Result<Job, AppError> {
        let name = match &patch.name {
            Some(name) => checked_job_name(name)?,
            None => current.name.clone(),
        };
        let merged = CreateJob {
            name: name.clone(),
            relative_paths: patch.relative_paths.clone().unwrap_or_else(|| current.relative_paths.clone()),
            group_paths: patch.group_paths.clone().unwrap_or_else(|| current.group_paths.clone()),
            schedule: Some(patch.schedule.clone().unwrap_or_else(|| current.schedule.clone())),
            full_sync_interval_days: Some(patch.full_sync_interval_days.unwrap_or(current.full_sync_interval_days)),
            user_filter: patch.user_filter.clone().or_else(|| current.user_filter.clone()),
            policy: Some(patch.policy.unwrap_or(current.policy)),
            sync_mode: Some(patch.sync_mode.unwrap_or(current.sync_mode)),
        };
        let checked = check_settings(&merged)?;
        Ok(Job {
            id: current.id,
            name,
            relative_paths: merged.relative_paths,
            group_paths: merged.group_paths,
            user_filter: JobScope::given_filter(merged.user_filter.as_deref()).map(str::to_owned),
            schedule: checked.schedule,
            full_sync_interval_days: checked.interval,
            policy: checked.policy,
            sync_mode: merged.sync_mode.unwrap_or_default(),
            created_at: current.created_at,
        })
    };
    let mut tx = db.begin_write().await?;
    let refused = match store::jobs::update_job(&mut tx, db.dialect, tenant, job.id, jitter_secs, change).await? {
        Ok(store::jobs::UpdatedJob::Updated(updated)) => {
            let summary = format!("changed job \"{}\": {}", updated.name, changed_members(job, &updated).join("; "));
            audit::record_in(&mut tx, caller, AuditAction::JobUpdated, Some(job.id.to_string()), &summary).await?;
            tx.commit().await?;
            tracing::info!(tenant = %tenant, job = %job.id, "job changed");
            return Ok(*updated);
        }
        Ok(store::jobs::UpdatedJob::NameTaken) => JobError::NameTaken(patch.name.as_deref().unwrap_or(&job.name).trim().to_owned()).into(),
        Ok(store::jobs::UpdatedJob::Gone) => AppError::NotFound(Missing::Job),
        Err(refused) => refused,
    };
    tx.rollback().await?;
    Err(refused)
}

/// Deletes `job` unless it has active users (see
/// [`store::jobs::delete_job`]), audited in the same transaction, then
/// erases the chunks its snapshots kept (in bounded steps of their own;
/// housekeeping sweeps any a failure leaves).
pub async fn delete_job(db: &Db, caller: &Caller, job: &Job) -> Result<(), AppError> {
    caller.may(AdminRole::Admin)?;
    let tenant = caller.tenant;
    let mut tx = db.begin_write().await?;
    let refused = match store::jobs::delete_job(&mut tx, db.dialect, tenant, job.id).await? {
        store::jobs::DeletedJob::Deleted => {
            let summary = format!("deleted job \"{}\"", job.name);
            audit::record_in(&mut tx, caller, AuditAction::JobDeleted, Some(job.id.to_string()), &summary).await?;
            tx.commit().await?;
            tracing::info!(tenant = %tenant, job = %job.id, "job deleted");
            store::chunks::delete_applied_chunks(db, Some(job.id), store::UnixMillis(i64::MAX)).await?;
            return Ok(());
        }
        store::jobs::DeletedJob::HasActiveUsers(users) => JobError::HasActiveUsers(users).into(),
        store::jobs::DeletedJob::Gone => AppError::NotFound(Missing::Job),
    };
    tx.rollback().await?;
    Err(refused)
}

/// A job's settings other than its name, as checked for storing.
struct Checked {
    /// With the zone as the time zone database spells it.
    schedule: Schedule,
    interval: u32,
    policy: SafeguardPolicy,
}

/// The one check of a job's name, for creating and renaming it.
fn checked_job_name(name: &str) -> Result<String, JobError> {
    let (name, _) = roster_proto::name::checked_name(name).map_err(|e| match e {
        NameError::Blank => JobError::EmptyName,
        other => JobError::Name(other),
    })?;
    Ok(name)
}

/// The one check of a job's other settings, for creating and changing it.
fn check_settings(input: &CreateJob) -> Result<Checked, AppError> {
    // Counted as sent, as the schema's `maxLength` counts, before a blank filter is read as none.
    if let Some(filter) = &input.user_filter
        && filter.chars().count() > roster_proto::scope::MAX_FILTER_LEN
    {
        return Err(JobError::FilterTooLong(filter.chars().count()).into());
    }
    JobScope {
        relative_paths: input.relative_paths.clone(),
        group_paths: input.group_paths.clone(),
        user_filter: input.user_filter.clone(),
    }
    .validate()
    .map_err(JobError::Scope)?;
    let schedule = crate::schedule::normalised(&input.schedule.clone().unwrap_or_default())?;
    let policy = input.policy.unwrap_or_default();
    validate_policy(&policy)?;
    let interval = input.full_sync_interval_days.unwrap_or(DEFAULT_FULL_SYNC_DAYS);
    if !(1..=365).contains(&interval) {
        return Err(JobError::FullSyncInterval(interval).into());
    }
    Ok(Checked { schedule, interval, policy })
}

fn validate_policy(policy: &SafeguardPolicy) -> Result<(), PolicyError> {
    for (budget, limit) in [("max_deactivations", policy.max_deactivations), ("max_lost_basic", policy.max_lost_basic)] {
        if limit.percent > 100 {
            return Err(PolicyError::Percent { budget, percent: limit.percent });
        }
    }
    Ok(())
}

/// Checks and stores `job`'s safeguard policy, audited in the same transaction.
pub async fn replace_policy(db: &Db, caller: &Caller, job: &Job, policy: &SafeguardPolicy) -> Result<(), AppError> {
    caller.may(AdminRole::Admin)?;
    let tenant = caller.tenant;
    validate_policy(policy)?;
    let mut tx = db.begin_write().await?;
    if !store::jobs::set_policy(&mut tx, job.id, policy).await? {
        tx.rollback().await?;
        return Err(AppError::NotFound(Missing::Job));
    }
    let budget = |b: roster_proto::admin::Budget| format!("{} % or {} users", b.percent, b.count);
    let summary = format!(
        "safeguard of job \"{}\": deactivations at most {}, lost basic accesses at most {}, never below {} users",
        job.name,
        budget(policy.max_deactivations),
        budget(policy.max_lost_basic),
        policy.min_active_users
    );
    audit::record_in(&mut tx, caller, AuditAction::PolicySaved, Some(job.id.to_string()), &summary).await?;
    tx.commit().await?;
    tracing::info!(tenant = %tenant, job = %job.id, ?policy, "safeguard policy replaced");
    Ok(())
}

/// Asks the job's agent for a full snapshot next time, audited in the same transaction.
pub async fn request_full_sync(db: &Db, caller: &Caller, job: &Job) -> Result<(), AppError> {
    caller.may(AdminRole::Admin)?;
    let mut tx = db.begin_write().await?;
    if !store::jobs::request_full_sync(&mut tx, job.id).await? {
        tx.rollback().await?;
        return Err(AppError::NotFound(Missing::Job));
    }
    let summary = format!("asked for a full snapshot of job \"{}\"", job.name);
    audit::record_in(&mut tx, caller, AuditAction::FullSyncRequested, Some(job.id.to_string()), &summary).await?;
    tx.commit().await?;
    Ok(())
}

/// Issues a registration token for an agent of `job`, valid for `ttl_ms`,
/// audited in the same transaction.
pub async fn issue_registration_token(
    db: &Db,
    caller: &Caller,
    job: &Job,
    ttl_ms: i64,
) -> Result<roster_proto::admin::RegistrationToken, AppError> {
    caller.may(AdminRole::Admin)?;
    let mut tx = db.begin_write().await?;
    let token = store::jobs::create_registration_token(&mut tx, caller.tenant, job.id, ttl_ms).await?;
    let summary = format!("issued a registration token for job \"{}\"", job.name);
    audit::record_in(&mut tx, caller, AuditAction::RegistrationTokenIssued, Some(job.id.to_string()), &summary).await?;
    tx.commit().await?;
    Ok(token)
}

/// What a change made different, for the audit log: old → new for the
/// short members, the names of the long ones (paths, filter).
fn changed_members(before: &Job, after: &Job) -> Vec<String> {
    let mut changed = Vec::new();
    if before.name != after.name {
        changed.push(format!("name \"{}\" → \"{}\"", before.name, after.name));
    }
    if before.relative_paths != after.relative_paths {
        changed.push(format!("relative paths ({} → {})", before.relative_paths.len(), after.relative_paths.len()));
    }
    if before.group_paths != after.group_paths {
        changed.push(format!("group paths ({} → {})", before.group_paths.len(), after.group_paths.len()));
    }
    if before.user_filter != after.user_filter {
        changed.push("user filter".to_owned());
    }
    if before.schedule != after.schedule {
        let said = |s: &Schedule| match (s.enabled, s.interval_minutes) {
            (false, _) => "off".to_owned(),
            (true, None) => format!("daily at {} {}", s.daily_at, s.time_zone),
            (true, Some(m)) => format!("daily at {} {} and every {m} min", s.daily_at, s.time_zone),
        };
        changed.push(format!("schedule {} → {}", said(&before.schedule), said(&after.schedule)));
    }
    if before.full_sync_interval_days != after.full_sync_interval_days {
        changed.push(format!("full sync every {} → {} days", before.full_sync_interval_days, after.full_sync_interval_days));
    }
    if before.sync_mode != after.sync_mode {
        changed.push(format!("sync mode {} → {}", before.sync_mode.as_str(), after.sync_mode.as_str()));
    }
    if before.policy != after.policy {
        let said = |p: &SafeguardPolicy| {
            format!(
                "deactivations ≤ {} or {} %, lost basic ≤ {} or {} %, from {} users",
                p.max_deactivations.count,
                p.max_deactivations.percent,
                p.max_lost_basic.count,
                p.max_lost_basic.percent,
                p.min_active_users
            )
        };
        changed.push(format!("safeguard {} → {}", said(&before.policy), said(&after.policy)));
    }
    if changed.is_empty() {
        changed.push("nothing (saved as it was)".to_owned());
    }
    changed
}
