//! Creating, changing and deleting jobs, and replacing their safeguard policy.

use roster_proto::admin::{CreateJob, Job, SafeguardPolicy, UpdateJob};
use roster_proto::name::NameError;
use roster_proto::scope::JobScope;
use roster_proto::{DailyTime, TenantId};

use crate::db::Db;
use crate::error::{AppError, JobError, Missing, PolicyError};
use crate::store;

/// Daily import time when a job does not say.
const DEFAULT_SCHEDULE: &str = "02:00";
/// Days between full reconciliations when a job does not say.
const DEFAULT_FULL_SYNC_DAYS: u32 = 7;

/// Checks `input` and creates the job in `tenant`; a name the tenant
/// already uses is refused.
pub async fn create_job(db: &Db, tenant: TenantId, input: &CreateJob) -> Result<Job, AppError> {
    let checked = check(input)?;
    let input = &CreateJob { name: checked.name, ..input.clone() };
    match store::jobs::create_job(db, tenant, input, checked.daily, checked.interval).await? {
        store::jobs::CreatedJob::Created(job) => {
            tracing::info!(tenant = %tenant, job = %job.id, "job created");
            Ok(job)
        }
        store::jobs::CreatedJob::NameTaken => Err(JobError::NameTaken(input.name.clone()).into()),
    }
}

/// Applies `patch` to `job`: the result is checked as a new job is, and a
/// name another of the tenant's jobs has is refused. A changed scope makes
/// the next snapshot full by itself: the directory state remembers the
/// scope of its last full snapshot.
pub async fn update_job(db: &Db, tenant: TenantId, job: &Job, patch: &UpdateJob) -> Result<Job, AppError> {
    let merged = CreateJob {
        name: patch.name.clone().unwrap_or_else(|| job.name.clone()),
        relative_paths: patch.relative_paths.clone().unwrap_or_else(|| job.relative_paths.clone()),
        group_paths: patch.group_paths.clone().unwrap_or_else(|| job.group_paths.clone()),
        schedule_time: Some(patch.schedule_time.clone().unwrap_or_else(|| job.schedule_time.to_string())),
        full_sync_interval_days: Some(patch.full_sync_interval_days.unwrap_or(job.full_sync_interval_days)),
        user_filter: patch.user_filter.clone().or_else(|| job.user_filter.clone()),
        policy: Some(patch.policy.unwrap_or(job.policy)),
    };
    let checked = check(&merged)?;
    let updated = Job {
        id: job.id,
        name: checked.name,
        relative_paths: merged.relative_paths,
        group_paths: merged.group_paths,
        user_filter: JobScope::given_filter(merged.user_filter.as_deref()).map(str::to_owned),
        schedule_time: checked.daily,
        full_sync_interval_days: checked.interval,
        policy: checked.policy,
        created_at: job.created_at,
    };
    match store::jobs::update_job(db, tenant, job, updated).await? {
        store::jobs::UpdatedJob::Updated(updated) => {
            tracing::info!(tenant = %tenant, job = %job.id, "job changed");
            Ok(updated)
        }
        store::jobs::UpdatedJob::NameTaken => Err(JobError::NameTaken(merged.name.trim().to_owned()).into()),
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

/// A job's settings as checked for storing.
struct Checked {
    name: String,
    daily: DailyTime,
    interval: u32,
    policy: SafeguardPolicy,
}

/// The one check of a job's settings, for creating and changing it.
fn check(input: &CreateJob) -> Result<Checked, AppError> {
    let (name, _) = roster_proto::name::checked_name(&input.name).map_err(|e| match e {
        NameError::Blank => JobError::EmptyName,
        other => JobError::Name(other),
    })?;
    JobScope {
        relative_paths: input.relative_paths.clone(),
        group_paths: input.group_paths.clone(),
        user_filter: input.user_filter.clone(),
    }
    .validate()
    .map_err(JobError::Scope)?;
    let schedule = input.schedule_time.clone().unwrap_or_else(|| DEFAULT_SCHEDULE.to_owned());
    let Ok(daily) = schedule.parse::<DailyTime>() else {
        return Err(JobError::ScheduleTime(schedule).into());
    };
    let policy = input.policy.unwrap_or_default();
    validate_policy(&policy)?;
    let interval = input.full_sync_interval_days.unwrap_or(DEFAULT_FULL_SYNC_DAYS);
    if !(1..=365).contains(&interval) {
        return Err(JobError::FullSyncInterval(interval).into());
    }
    Ok(Checked { name, daily, interval, policy })
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
    store::jobs::set_policy(db, job.id, policy).await?;
    tracing::info!(tenant = %tenant, job = %job.id, ?policy, "safeguard policy replaced");
    Ok(())
}
