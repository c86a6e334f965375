//! A tenant's own things: its access catalogue, its settings and its admin
//! tokens.

use roster_proto::TenantId;
use roster_proto::admin::{Access, CreateAccess, CreateAdminToken, CreatedAdminToken, MAX_ADMIN_TOKEN_DAYS, TenantSettings};

use crate::db::Db;
use crate::error::{AccessError, AdminTokenError, AppError, SettingsError};
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

/// Checks and issues an admin token: its label is held to a name's rules
/// and its life to 1..=[`MAX_ADMIN_TOKEN_DAYS`] days.
pub async fn issue_admin_token(db: &Db, tenant: TenantId, input: &CreateAdminToken) -> Result<CreatedAdminToken, AppError> {
    let label = match &input.label {
        Some(label) => Some(roster_proto::name::checked_name(label).map_err(AdminTokenError::Label)?.0),
        None => None,
    };
    let expires = match input.expires_in_days {
        Some(days) if (1..=MAX_ADMIN_TOKEN_DAYS).contains(&days) => Some(store::UnixMillis::now().plus_days(days)),
        Some(days) => return Err(AdminTokenError::ExpiresInDays(days).into()),
        None => None,
    };
    let created = store::tenants::add_admin_token(db, tenant, label.as_deref(), expires).await?;
    tracing::info!(tenant = %tenant, admin_token = %created.token.id, "admin token issued");
    Ok(created)
}
