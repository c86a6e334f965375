//! Creating, changing and deleting jobs, and replacing their safeguard policy.

use roster_proto::TenantId;
use roster_proto::admin::{CreateJob, Job, SafeguardPolicy, Schedule, UpdateJob};
use roster_proto::name::NameError;
use roster_proto::scope::JobScope;

use crate::db::Db;
use crate::error::{AppError, JobError, Missing, PolicyError};
use crate::store;

/// Days between full reconciliations when a job does not say.
const DEFAULT_FULL_SYNC_DAYS: u32 = 7;

/// Checks `input` and creates the job in `tenant`; a name the tenant
/// already uses is refused.
pub async fn create_job(db: &Db, tenant: TenantId, input: &CreateJob, jitter_secs: u32) -> Result<Job, AppError> {
    let name = checked_job_name(&input.name)?;
    let checked = check_settings(input)?;
    let input = &CreateJob { name, ..input.clone() };
    match store::jobs::create_job(db, tenant, input, checked.schedule, checked.interval, jitter_secs).await? {
        store::jobs::CreatedJob::Created(job) => {
            tracing::info!(tenant = %tenant, job = %job.id, "job created");
            Ok(*job)
        }
        store::jobs::CreatedJob::NameTaken => Err(JobError::NameTaken(input.name.clone()).into()),
    }
}

/// Applies `patch` to the job as it is when the change is written (see
/// [`store::jobs::update_job`]): the members given are checked as a new
/// job's are (a stored member left alone is not checked again), and a name
/// another of the tenant's jobs has is refused. A changed scope makes the
/// next snapshot full by itself: the directory state remembers the scope
/// of its last full snapshot.
pub async fn update_job(db: &Db, tenant: TenantId, job: &Job, patch: &UpdateJob, jitter_secs: u32) -> Result<Job, AppError> {
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
            created_at: current.created_at,
        })
    };
    match store::jobs::update_job(db, tenant, job.id, jitter_secs, change).await?? {
        store::jobs::UpdatedJob::Updated(updated) => {
            tracing::info!(tenant = %tenant, job = %job.id, "job changed");
            Ok(*updated)
        }
        store::jobs::UpdatedJob::NameTaken => Err(JobError::NameTaken(patch.name.as_deref().unwrap_or(&job.name).trim().to_owned()).into()),
        store::jobs::UpdatedJob::Gone => Err(AppError::NotFound(Missing::Job)),
    }
}

/// Deletes `job` unless it has active users (see
/// [`store::jobs::delete_job`]), then erases the chunks its snapshots kept.
pub async fn delete_job(db: &Db, tenant: TenantId, job: &Job) -> Result<(), AppError> {
    match store::jobs::delete_job(db, tenant, job.id).await? {
        store::jobs::DeletedJob::Deleted => {
            store::chunks::delete_applied_chunks(db, Some(job.id), store::UnixMillis(i64::MAX)).await?;
            tracing::info!(tenant = %tenant, job = %job.id, "job deleted");
            Ok(())
        }
        store::jobs::DeletedJob::HasActiveUsers(users) => Err(JobError::HasActiveUsers(users).into()),
        store::jobs::DeletedJob::Gone => Err(AppError::NotFound(Missing::Job)),
    }
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

/// Checks and stores `job`'s safeguard policy.
pub async fn replace_policy(db: &Db, tenant: TenantId, job: &Job, policy: &SafeguardPolicy) -> Result<(), AppError> {
    validate_policy(policy)?;
    if !store::jobs::set_policy(db, job.id, policy).await? {
        return Err(AppError::NotFound(Missing::Job));
    }
    tracing::info!(tenant = %tenant, job = %job.id, ?policy, "safeguard policy replaced");
    Ok(())
}
