//! Tenants, their admin tokens, and the server's own identity (the `aud`
//! agents sign for).

use roster_proto::admin::{AdminToken, CreatedAdminToken, CreatedTenant, TenantSettings};
use roster_proto::{AdminTokenId, TenantId};
use sqlx::Row;
use uuid::Uuid;

use super::page::{Bind, PageQuery};
use super::{Db, StoreError, UnixMillis, get_id, hash_secret, new_secret, now_ms, to_datetime};

/// How often at most an admin token's `last_used_at` is written: a busy
/// console must not make every read a write.
pub const ADMIN_TOKEN_TOUCH_MS: i64 = 60_000;

/// Creates a tenant and its first admin token (returned once, stored
/// hashed), which expires at `expires` if given.
pub async fn create_tenant(db: &Db, name: &str, expires: Option<UnixMillis>) -> Result<CreatedTenant, StoreError> {
    let id = TenantId::new();
    let mut tx = db.begin_write().await?;
    sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)")
        .bind(id.to_string())
        .bind(name)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
    let token = add_admin_token(&mut tx, id, None, expires).await?;
    tx.commit().await?;
    Ok(CreatedTenant {
        tenant_id: id,
        name: name.to_owned(),
        admin_token: token.admin_token,
        admin_token_expires_at: token.token.expires_at,
    })
}

/// Issues another admin token for a tenant (returned once, stored hashed),
/// on `conn` (the caller's write transaction, or the writer).
pub async fn add_admin_token(
    conn: &mut sqlx::AnyConnection,
    tenant: TenantId,
    label: Option<&str>,
    expires: Option<UnixMillis>,
) -> Result<CreatedAdminToken, StoreError> {
    let value = new_secret("rst_admin_")?;
    let id = AdminTokenId::new();
    let created = now_ms();
    sqlx::query("INSERT INTO admin_tokens (token_hash, id, tenant_id, label, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(hash_secret(&value))
        .bind(id.to_string())
        .bind(tenant.to_string())
        .bind(label)
        .bind(created)
        .bind(expires.map(|e| e.0))
        .execute(&mut *conn)
        .await?;
    let token = AdminToken {
        id,
        label: label.map(str::to_owned),
        created_at: to_datetime(created),
        expires_at: expires.map(UnixMillis::to_datetime),
        last_used_at: None,
    };
    Ok(CreatedAdminToken { token, admin_token: value })
}

/// What authenticating by an admin token needs to know of it.
#[derive(Debug, Clone)]
pub struct AdminTokenUse {
    pub id: AdminTokenId,
    pub tenant_id: TenantId,
    /// As given when it was issued (the audit log names the token by it).
    pub label: Option<String>,
    pub expires_at: Option<UnixMillis>,
    pub last_used_at: Option<UnixMillis>,
}

impl AdminTokenUse {
    /// True once `now` has reached its expiry.
    pub fn expired(&self, now: UnixMillis) -> bool {
        self.expires_at.is_some_and(|at| now >= at)
    }
}

/// The admin token with this value, expired or not; a revoked one is gone.
pub async fn admin_token(db: &Db, token: &str) -> Result<Option<AdminTokenUse>, StoreError> {
    let row = sqlx::query("SELECT id, tenant_id, label, expires_at, last_used_at FROM admin_tokens WHERE token_hash = $1")
        .bind(hash_secret(token))
        .fetch_optional(&db.pool)
        .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(AdminTokenUse {
        id: get_id(&row, "id")?,
        tenant_id: get_id(&row, "tenant_id")?,
        label: row.try_get("label")?,
        expires_at: row.try_get::<Option<i64>, _>("expires_at")?.map(UnixMillis),
        last_used_at: row.try_get::<Option<i64>, _>("last_used_at")?.map(UnixMillis),
    }))
}

/// The tenant an admin token that is in force (not expired) belongs to.
pub async fn tenant_for_admin_token(db: &Db, token: &str) -> Result<Option<TenantId>, StoreError> {
    Ok(admin_token(db, token).await?.filter(|t| !t.expired(UnixMillis::now())).map(|t| t.tenant_id))
}

/// Records that the token was used at `now`, unless that was written less
/// than [`ADMIN_TOKEN_TOUCH_MS`] ago (the condition is in the SQL too, so
/// concurrent requests write it once).
pub async fn touch_admin_token(db: &Db, token: &AdminTokenUse, now: UnixMillis) -> Result<(), StoreError> {
    if token.last_used_at.is_some_and(|at| now.millis_since(at) < ADMIN_TOKEN_TOUCH_MS) {
        return Ok(());
    }
    sqlx::query("UPDATE admin_tokens SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at <= $3)")
        .bind(now.0)
        .bind(token.id.to_string())
        .bind(now.minus_ms(ADMIN_TOKEN_TOUCH_MS).0)
        .execute(&mut *db.writer().await?)
        .await?;
    Ok(())
}

/// A page of the tenant's admin tokens, oldest first, after the `(created_at
/// ms, id)` key, and the key to continue from.
pub async fn list_admin_tokens(
    db: &Db,
    tenant: TenantId,
    limit: u32,
    after: Option<(i64, AdminTokenId)>,
) -> Result<(Vec<AdminToken>, Option<(i64, AdminTokenId)>), StoreError> {
    PageQuery::new(
        "SELECT id, label, created_at, expires_at, last_used_at FROM admin_tokens WHERE tenant_id = $1",
        vec![Bind::Text(tenant.to_string())],
        after,
        limit,
    )
    .fetch(&db.pool, |row| {
        Ok(AdminToken {
            id: get_id(row, "id")?,
            label: row.try_get("label")?,
            created_at: to_datetime(row.try_get("created_at")?),
            expires_at: row.try_get::<Option<i64>, _>("expires_at")?.map(to_datetime),
            last_used_at: row.try_get::<Option<i64>, _>("last_used_at")?.map(to_datetime),
        })
    })
    .await
}

/// Revokes (deletes) the tenant's admin token `id` on `conn` (the caller's
/// write transaction, or the writer); false when the tenant has no such
/// token. From then on the token is an unknown one.
pub async fn revoke_admin_token(conn: &mut sqlx::AnyConnection, tenant: TenantId, id: AdminTokenId) -> Result<bool, StoreError> {
    let result = sqlx::query("DELETE FROM admin_tokens WHERE id = $1 AND tenant_id = $2")
        .bind(id.to_string())
        .bind(tenant.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(result.rows_affected() == 1)
}

/// Whether the tenant exists.
pub async fn exists(db: &Db, tenant: TenantId) -> Result<bool, StoreError> {
    Ok(sqlx::query("SELECT id FROM tenants WHERE id = $1").bind(tenant.to_string()).fetch_optional(&db.pool).await?.is_some())
}

/// The oldest tenant with this name.
pub async fn tenant_named(db: &Db, name: &str) -> Result<Option<TenantId>, StoreError> {
    let row =
        sqlx::query("SELECT id FROM tenants WHERE name = $1 ORDER BY created_at, id LIMIT 1").bind(name).fetch_optional(&db.pool).await?;
    row.map(|r| get_id(&r, "id")).transpose()
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

/// Replaces a tenant's settings, on `conn` (the caller's write transaction).
pub async fn set_settings(conn: &mut sqlx::AnyConnection, tenant: TenantId, settings: &TenantSettings) -> Result<(), StoreError> {
    sqlx::query("UPDATE tenants SET purge_after_days = $1, session_retention_days = $2 WHERE id = $3")
        .bind(i64::from(settings.purge_after_days))
        .bind(settings.session_retention_days.map(i64::from))
        .bind(tenant.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Every tenant with its settings (for housekeeping).
pub async fn all_settings(db: &Db) -> Result<Vec<(TenantId, TenantSettings)>, StoreError> {
    let rows = sqlx::query("SELECT id, purge_after_days, session_retention_days FROM tenants ORDER BY id").fetch_all(&db.pool).await?;
    rows.iter().map(|row| Ok((get_id(row, "id")?, settings_from_row(row)?))).collect()
}
