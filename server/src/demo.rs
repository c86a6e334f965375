//! The demo tenant `roster-server serve --demo` sets up: a job over the
//! whole domain and a basic access, made on the first run; every run issues
//! a fresh admin token and registration token for it (tokens are shown
//! once and stored hashed, so old ones cannot be printed again).

use roster_proto::admin::{AccessKind, CreateJob, Schedule};
use roster_proto::{JobId, TenantId};

use crate::db::Db;
use crate::settings::Limits;
use crate::store;

/// What the demo set-up made, for printing.
#[derive(Debug)]
pub struct Demo {
    pub tenant_id: TenantId,
    pub admin_token: String,
    pub job_id: JobId,
    pub registration_token: String,
    /// The demo console admin (an owner) and its fresh set-up link.
    pub admin: crate::service::admins::SetupLink,
}

const TENANT: &str = "Demo";
const JOB: &str = "Demo domain";
/// The demo console admin's address (never a real mailbox: `.test`).
pub const ADMIN_EMAIL: &str = "admin@demo.roster.test";

/// Sets up the demo tenant, or finds it, and issues fresh tokens.
pub async fn create(db: &Db) -> anyhow::Result<Demo> {
    let (tenant_id, admin_token) = match store::tenants::tenant_named(db, TENANT).await? {
        Some(id) => (id, store::tenants::add_admin_token(&mut *db.writer().await?, id, Some("demo"), None).await?.admin_token),
        None => {
            let tenant = store::tenants::create_tenant(db, TENANT, None).await?;
            (tenant.tenant_id, tenant.admin_token)
        }
    };
    let job = CreateJob {
        policy: None,
        name: JOB.into(),
        relative_paths: vec!["*".into()],
        group_paths: vec![],
        schedule: None,
        full_sync_interval_days: None,
        sync_mode: None,
        user_filter: None,
    };
    let jitter_secs = Limits::default().schedule_jitter_secs;
    let created = store::jobs::create_job(&mut *db.writer().await?, tenant_id, &job, Schedule::default(), 7, jitter_secs).await?;
    let job_id = match created {
        store::jobs::CreatedJob::Created(job) => job.id,
        store::jobs::CreatedJob::NameTaken => {
            store::jobs::job_named(db, tenant_id, JOB).await?.map(|j| j.id).ok_or_else(|| anyhow::anyhow!("the demo job vanished"))?
        }
    };
    store::jobs::create_access(&mut *db.writer().await?, tenant_id, AccessKind::User, "Headquarters").await?;
    let token = store::jobs::create_registration_token(&mut *db.writer().await?, tenant_id, job_id, store::UnixMillis::DAY_MS).await?;
    let admin = crate::service::admins::add_admin_as_operator(db, tenant_id, ADMIN_EMAIL, roster_proto::admin::AdminRole::Owner)
        .await
        .map_err(|e| anyhow::anyhow!("adding the demo admin: {}", e.detail()))?;
    Ok(Demo { tenant_id, admin_token, job_id, registration_token: token.token, admin })
}
