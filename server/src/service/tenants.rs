//! A tenant's own things: its access catalogue and its settings.

use roster_proto::TenantId;
use roster_proto::admin::{Access, CreateAccess, TenantSettings};

use crate::db::Db;
use crate::error::{AccessError, AppError, SettingsError};
use crate::store;

/// Creates an access, or finds the one of that kind and name; `true` when
/// it was created now.
pub async fn create_access(db: &Db, tenant: TenantId, input: &CreateAccess) -> Result<(Access, bool), AppError> {
    let (name, _) = roster_proto::name::checked_name(&input.name).map_err(|e| match e {
        roster_proto::name::NameError::Blank => AccessError::EmptyName,
        other => AccessError::Name(other),
    })?;
    Ok(store::jobs::create_access(db, tenant, input.kind, &name).await?)
}

/// Checks and stores the tenant's settings.
pub async fn replace_settings(db: &Db, tenant: TenantId, settings: &TenantSettings) -> Result<(), AppError> {
    if !(1..=3650).contains(&settings.purge_after_days) {
        return Err(SettingsError::PurgeAfterDays(settings.purge_after_days).into());
    }
    if settings.session_retention_days.is_some_and(|days| days == 0) {
        return Err(SettingsError::SessionRetentionZero.into());
    }
    store::tenants::set_settings(db, tenant, settings).await?;
    tracing::info!(tenant = %tenant, ?settings, "tenant settings replaced");
    Ok(())
}
