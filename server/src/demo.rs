//! The demo tenant `roster-server serve --demo` creates on a fresh
//! database: a job over the whole domain, a basic access, and a
//! registration token, printed with the commands to try them.

use roster_proto::admin::{AccessKind, CreateJob};

use crate::db::Db;
use crate::store;

/// What the demo set-up made, for printing.
#[derive(Debug)]
pub struct Demo {
    pub tenant_id: uuid::Uuid,
    pub admin_token: String,
    pub job_id: uuid::Uuid,
    pub registration_token: String,
}

/// Creates the demo tenant.
pub async fn create(db: &Db) -> anyhow::Result<Demo> {
    let tenant = store::tenants::create_tenant(db, "Demo").await?;
    let job = CreateJob { name: "Demo domain".into(), relative_paths: vec!["*".into()], group_paths: vec![], schedule_time: None };
    let job = match store::jobs::create_job(db, tenant.tenant_id, &job, "02:00", time::macros::time!(02:00)).await? {
        store::jobs::CreatedJob::Created(job) => job,
        store::jobs::CreatedJob::NameTaken => anyhow::bail!("the demo tenant already has its job"),
    };
    store::jobs::create_access(db, tenant.tenant_id, AccessKind::User, "Headquarters").await?;
    let token = store::jobs::create_registration_token(db, tenant.tenant_id, job.id, 24 * 3600 * 1000).await?;
    Ok(Demo { tenant_id: tenant.tenant_id, admin_token: tenant.admin_token, job_id: job.id, registration_token: token.token })
}
