//! Creating jobs and replacing their safeguard policy.

use roster_proto::admin::{CreateJob, Job, SafeguardPolicy};
use roster_proto::name::NameError;
use roster_proto::scope::JobScope;
use roster_proto::{DailyTime, TenantId};

use crate::db::Db;
use crate::error::{AppError, JobError, PolicyError};
use crate::store;

/// Daily import time when a job does not say.
const DEFAULT_SCHEDULE: &str = "02:00";
/// Days between full reconciliations when a job does not say.
const DEFAULT_FULL_SYNC_DAYS: u32 = 7;

/// Checks `input` and creates the job in `tenant`; a name the tenant
/// already uses is refused.
pub async fn create_job(db: &Db, tenant: TenantId, input: &CreateJob) -> Result<Job, AppError> {
    let (name, _) = roster_proto::name::checked_name(&input.name).map_err(|e| match e {
        NameError::Blank => JobError::EmptyName,
        other => JobError::Name(other),
    })?;
    let input = &CreateJob { name, ..input.clone() };
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
    if let Some(policy) = &input.policy {
        validate_policy(policy)?;
    }
    let interval = input.full_sync_interval_days.unwrap_or(DEFAULT_FULL_SYNC_DAYS);
    if !(1..=365).contains(&interval) {
        return Err(JobError::FullSyncInterval(interval).into());
    }
    match store::jobs::create_job(db, tenant, input, daily, interval).await? {
        store::jobs::CreatedJob::Created(job) => {
            tracing::info!(tenant = %tenant, job = %job.id, "job created");
            Ok(job)
        }
        store::jobs::CreatedJob::NameTaken => Err(JobError::NameTaken(input.name.clone()).into()),
    }
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
