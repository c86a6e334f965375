//! A tenant's own things: its access catalogue, its settings and its admin
//! tokens.

use roster_proto::admin::{
    Access, AdminRole, AuditAction, CreateAccess, CreateAdminToken, CreatedAdminToken, MAX_ADMIN_TOKEN_DAYS, TenantSettings, UpdateAccess,
};
use roster_proto::{AccessId, AdminTokenId, AgentId};

use super::audit::{self, Caller};
use crate::db::Db;
use crate::error::{AccessError, AdminTokenError, AppError, Missing, SettingsError};
use crate::store;

/// Creates an access, or finds the one of that kind and name; `true` when
/// it was created now (and audited in the same transaction; finding one
/// writes nothing).
pub async fn create_access(db: &Db, caller: &Caller, input: &CreateAccess) -> Result<(Access, bool), AppError> {
    caller.may(AdminRole::Admin)?;
    let (name, _) = checked_access_name(&input.name)?;
    let mut tx = db.begin_write().await?;
    let (access, created) = store::jobs::create_access(&mut tx, caller.tenant, input.kind, &name).await?;
    if created {
        let summary = format!("created the {} access \"{}\"", access.kind.as_str(), access.name);
        audit::record_in(&mut tx, caller, AuditAction::AccessCreated, Some(access.id.to_string()), &summary).await?;
    }
    tx.commit().await?;
    Ok((access, created))
}

/// Renames a tenant's access, audited in the same transaction; a name
/// another access of its kind has is refused.
pub async fn rename_access(db: &Db, caller: &Caller, id: AccessId, input: &UpdateAccess) -> Result<Access, AppError> {
    caller.may(AdminRole::Admin)?;
    let tenant = caller.tenant;
    let (name, _) = checked_access_name(&input.name)?;
    let mut tx = db.begin_write().await?;
    let refused = match store::jobs::rename_access(&mut tx, tenant, id, &name).await? {
        store::jobs::RenamedAccess::Renamed(access) => {
            let summary = format!("renamed the {} access {id} to \"{}\"", access.kind.as_str(), access.name);
            audit::record_in(&mut tx, caller, AuditAction::AccessRenamed, Some(id.to_string()), &summary).await?;
            tx.commit().await?;
            tracing::info!(tenant = %tenant, access = %id, "access renamed");
            return Ok(access);
        }
        store::jobs::RenamedAccess::NameTaken(access) => AccessError::NameTaken { kind: access.kind.as_str(), name }.into(),
        store::jobs::RenamedAccess::Missing => AppError::NotFound(Missing::Access),
    };
    tx.rollback().await?;
    Err(refused)
}

/// Deletes a tenant's access that no link grants and no user holds,
/// audited in the same transaction.
pub async fn delete_access(db: &Db, caller: &Caller, id: AccessId) -> Result<(), AppError> {
    caller.may(AdminRole::Admin)?;
    let tenant = caller.tenant;
    let mut tx = db.begin_write().await?;
    let refused = match store::jobs::delete_access(&mut tx, db.dialect, tenant, id).await? {
        store::jobs::DeletedAccess::Deleted => {
            audit::record_in(&mut tx, caller, AuditAction::AccessDeleted, Some(id.to_string()), &format!("deleted the access {id}"))
                .await?;
            tx.commit().await?;
            tracing::info!(tenant = %tenant, access = %id, "access deleted");
            return Ok(());
        }
        store::jobs::DeletedAccess::InUse { links, users } => AccessError::InUse { links, users }.into(),
        store::jobs::DeletedAccess::Missing => AppError::NotFound(Missing::Access),
    };
    tx.rollback().await?;
    Err(refused)
}

/// An access's name, checked: the name to store and its key.
fn checked_access_name(name: &str) -> Result<(String, String), AccessError> {
    roster_proto::name::checked_name(name).map_err(|e| match e {
        roster_proto::name::NameError::Blank => AccessError::EmptyName,
        other => AccessError::Name(other),
    })
}

/// Checks and stores the tenant's settings, audited in the same transaction.
pub async fn replace_settings(db: &Db, caller: &Caller, settings: &TenantSettings) -> Result<(), AppError> {
    caller.may(AdminRole::Admin)?;
    let tenant = caller.tenant;
    if !(1..=3650).contains(&settings.purge_after_days) {
        return Err(SettingsError::PurgeAfterDays(settings.purge_after_days).into());
    }
    if settings.session_retention_days.is_some_and(|days| days == 0) {
        return Err(SettingsError::SessionRetentionZero.into());
    }
    let mut tx = db.begin_write().await?;
    store::tenants::set_settings(&mut tx, tenant, settings).await?;
    let retention = settings.session_retention_days.map_or_else(|| "forever".to_owned(), |days| format!("{days} days"));
    let summary = format!("grace period {} days, sessions kept {retention}", settings.purge_after_days);
    audit::record_in(&mut tx, caller, AuditAction::SettingsSaved, None, &summary).await?;
    tx.commit().await?;
    tracing::info!(tenant = %tenant, ?settings, "tenant settings replaced");
    Ok(())
}

/// Checks and issues an admin token, audited in the same transaction: its
/// label is held to a name's rules and its life to
/// 1..=[`MAX_ADMIN_TOKEN_DAYS`] days.
pub async fn issue_admin_token(db: &Db, caller: &Caller, input: &CreateAdminToken) -> Result<CreatedAdminToken, AppError> {
    caller.may(AdminRole::Owner)?;
    let tenant = caller.tenant;
    let label = match &input.label {
        Some(label) => Some(roster_proto::name::checked_name(label).map_err(AdminTokenError::Label)?.0),
        None => None,
    };
    let expires = match input.expires_in_days {
        Some(days) if (1..=MAX_ADMIN_TOKEN_DAYS).contains(&days) => Some(store::UnixMillis::now().plus_days(days)),
        Some(days) => return Err(AdminTokenError::ExpiresInDays(days).into()),
        None => None,
    };
    let mut tx = db.begin_write().await?;
    let created = store::tenants::add_admin_token(&mut tx, tenant, label.as_deref(), expires).await?;
    let summary = format!(
        "issued the admin token {}",
        created.token.label.as_deref().map_or_else(|| created.token.id.to_string(), |l| format!("\"{l}\""))
    );
    audit::record_in(&mut tx, caller, AuditAction::AdminTokenIssued, Some(created.token.id.to_string()), &summary).await?;
    tx.commit().await?;
    tracing::info!(tenant = %tenant, admin_token = %created.token.id, "admin token issued");
    Ok(created)
}

/// Revokes one of the tenant's admin tokens, audited in the same transaction.
pub async fn revoke_admin_token(db: &Db, caller: &Caller, id: AdminTokenId) -> Result<(), AppError> {
    caller.may(AdminRole::Owner)?;
    let mut tx = db.begin_write().await?;
    if !store::tenants::revoke_admin_token(&mut tx, caller.tenant, id).await? {
        tx.rollback().await?;
        return Err(AppError::NotFound(Missing::AdminToken));
    }
    audit::record_in(&mut tx, caller, AuditAction::AdminTokenRevoked, Some(id.to_string()), &format!("revoked the admin token {id}"))
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Revokes one of the tenant's agents, audited in the same transaction:
/// every request it makes is refused from now on.
pub async fn revoke_agent(db: &Db, caller: &Caller, id: AgentId) -> Result<(), AppError> {
    caller.may(AdminRole::Admin)?;
    let mut tx = db.begin_write().await?;
    if !store::agents::revoke(&mut tx, caller.tenant, id).await? {
        tx.rollback().await?;
        return Err(AppError::NotFound(Missing::Agent));
    }
    audit::record_in(&mut tx, caller, AuditAction::AgentRevoked, Some(id.to_string()), &format!("revoked the agent {id}")).await?;
    tx.commit().await?;
    Ok(())
}
