//! A tenant's own things: its access catalogue, its settings and its admin
//! tokens.

use roster_proto::admin::{Access, CreateAccess, CreateAdminToken, CreatedAdminToken, MAX_ADMIN_TOKEN_DAYS, TenantSettings, UpdateAccess};
use roster_proto::{AccessId, TenantId};

use crate::db::Db;
use crate::error::{AccessError, AdminTokenError, AppError, Missing, SettingsError};
use crate::store;

/// Creates an access, or finds the one of that kind and name; `true` when
/// it was created now.
pub async fn create_access(db: &Db, tenant: TenantId, input: &CreateAccess) -> Result<(Access, bool), AppError> {
    let (name, _) = checked_access_name(&input.name)?;
    Ok(store::jobs::create_access(db, tenant, input.kind, &name).await?)
}

/// Renames a tenant's access; a name another access of its kind has is refused.
pub async fn rename_access(db: &Db, tenant: TenantId, id: AccessId, input: &UpdateAccess) -> Result<Access, AppError> {
    let (name, _) = checked_access_name(&input.name)?;
    match store::jobs::rename_access(db, tenant, id, &name).await? {
        store::jobs::RenamedAccess::Renamed(access) => {
            tracing::info!(tenant = %tenant, access = %id, "access renamed");
            Ok(access)
        }
        store::jobs::RenamedAccess::NameTaken(access) => Err(AccessError::NameTaken { kind: access.kind.as_str(), name }.into()),
        store::jobs::RenamedAccess::Missing => Err(AppError::NotFound(Missing::Access)),
    }
}

/// Deletes a tenant's access that no link grants and no user holds.
pub async fn delete_access(db: &Db, tenant: TenantId, id: AccessId) -> Result<(), AppError> {
    match store::jobs::delete_access(db, tenant, id).await? {
        store::jobs::DeletedAccess::Deleted => {
            tracing::info!(tenant = %tenant, access = %id, "access deleted");
            Ok(())
        }
        store::jobs::DeletedAccess::InUse { links, users } => Err(AccessError::InUse { links, users }.into()),
        store::jobs::DeletedAccess::Missing => Err(AppError::NotFound(Missing::Access)),
    }
}

/// An access's name, checked: the name to store and its key.
fn checked_access_name(name: &str) -> Result<(String, String), AccessError> {
    roster_proto::name::checked_name(name).map_err(|e| match e {
        roster_proto::name::NameError::Blank => AccessError::EmptyName,
        other => AccessError::Name(other),
    })
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
