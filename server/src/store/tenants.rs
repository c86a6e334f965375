//! Tenants, their admin tokens, and the server's own identity (the `aud`
//! agents sign for).

use roster_proto::TenantId;
use roster_proto::admin::{CreatedTenant, TenantSettings};
use sqlx::Row;
use uuid::Uuid;

use super::{Db, StoreError, get_id, hash_secret, new_secret, now_ms};

/// Creates a tenant and its first admin token (returned once, stored hashed).
pub async fn create_tenant(db: &Db, name: &str) -> Result<CreatedTenant, StoreError> {
    let id = TenantId::new();
    let token = new_secret("rst_admin_")?;
    let mut tx = db.begin_write().await?;
    sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)")
        .bind(id.to_string())
        .bind(name)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO admin_tokens (token_hash, tenant_id, created_at) VALUES ($1, $2, $3)")
        .bind(hash_secret(&token))
        .bind(id.to_string())
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(CreatedTenant { tenant_id: id, name: name.to_owned(), admin_token: token })
}

/// Issues another admin token for a tenant (returned once, stored hashed).
pub async fn add_admin_token(db: &Db, tenant: TenantId) -> Result<String, StoreError> {
    let token = new_secret("rst_admin_")?;
    sqlx::query("INSERT INTO admin_tokens (token_hash, tenant_id, created_at) VALUES ($1, $2, $3)")
        .bind(hash_secret(&token))
        .bind(tenant.to_string())
        .bind(now_ms())
        .execute(&mut *db.writer().await?)
        .await?;
    Ok(token)
}

/// The oldest tenant with this name.
pub async fn tenant_named(db: &Db, name: &str) -> Result<Option<TenantId>, StoreError> {
    let row =
        sqlx::query("SELECT id FROM tenants WHERE name = $1 ORDER BY created_at, id LIMIT 1").bind(name).fetch_optional(&db.pool).await?;
    row.map(|r| get_id(&r, "id")).transpose()
}

/// The tenant an admin token belongs to.
pub async fn tenant_for_admin_token(db: &Db, token: &str) -> Result<Option<TenantId>, StoreError> {
    let row =
        sqlx::query("SELECT tenant_id FROM admin_tokens WHERE token_hash = $1").bind(hash_secret(token)).fetch_optional(&db.pool).await?;
    row.map(|r| get_id(&r, "tenant_id")).transpose()
}

/// The audience agents must sign for: made once per deployment and shared
/// by every replica on the same database.
pub async fn audience(db: &Db) -> Result<String, StoreError> {
    let candidate = format!("urn:roster:server:{}", Uuid::new_v4());
    sqlx::query("INSERT INTO server_identity (id, audience, created_at) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING")
        .bind(&candidate)
        .bind(now_ms())
        .execute(&mut *db.writer().await?)
        .await?;
    let row = sqlx::query("SELECT audience FROM server_identity WHERE id = 1").fetch_one(&db.pool).await?;
    Ok(row.try_get("audience")?)
}

fn settings_from_row(row: &sqlx::any::AnyRow) -> Result<TenantSettings, StoreError> {
    let days = |value: i64| u32::try_from(value).unwrap_or(u32::MAX);
    Ok(TenantSettings {
        purge_after_days: days(row.try_get("purge_after_days")?),
        session_retention_days: row.try_get::<Option<i64>, _>("session_retention_days")?.map(days),
    })
}

/// A tenant's settings.
pub async fn settings(conn: &mut sqlx::AnyConnection, tenant: TenantId) -> Result<TenantSettings, StoreError> {
    let row = sqlx::query("SELECT purge_after_days, session_retention_days FROM tenants WHERE id = $1")
        .bind(tenant.to_string())
        .fetch_one(&mut *conn)
        .await?;
    settings_from_row(&row)
}

/// Replaces a tenant's settings.
pub async fn set_settings(db: &Db, tenant: TenantId, settings: &TenantSettings) -> Result<(), StoreError> {
    sqlx::query("UPDATE tenants SET purge_after_days = $1, session_retention_days = $2 WHERE id = $3")
        .bind(i64::from(settings.purge_after_days))
        .bind(settings.session_retention_days.map(i64::from))
        .bind(tenant.to_string())
        .execute(&mut *db.writer().await?)
        .await?;
    Ok(())
}

/// Every tenant with its settings (for housekeeping).
pub async fn all_settings(db: &Db) -> Result<Vec<(TenantId, TenantSettings)>, StoreError> {
    let rows = sqlx::query("SELECT id, purge_after_days, session_retention_days FROM tenants ORDER BY id").fetch_all(&db.pool).await?;
    rows.iter().map(|row| Ok((get_id(row, "id")?, settings_from_row(row)?))).collect()
}
