//! Tenants, their admin tokens, and the server's own identity (the `aud`
//! agents sign for).

use roster_proto::admin::CreatedTenant;
use sqlx::Row;
use uuid::Uuid;

use super::{Db, StoreError, get_uuid, hash_secret, new_secret, now_ms};

/// Creates a tenant and its first admin token (returned once, stored hashed).
pub async fn create_tenant(db: &Db, name: &str) -> Result<CreatedTenant, StoreError> {
    let id = Uuid::new_v4();
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
pub async fn add_admin_token(db: &Db, tenant: Uuid) -> Result<String, StoreError> {
    let token = new_secret("rst_admin_")?;
    sqlx::query("INSERT INTO admin_tokens (token_hash, tenant_id, created_at) VALUES ($1, $2, $3)")
        .bind(hash_secret(&token))
        .bind(tenant.to_string())
        .bind(now_ms())
        .execute(&db.pool)
        .await?;
    Ok(token)
}

/// The oldest tenant with this name.
pub async fn tenant_named(db: &Db, name: &str) -> Result<Option<Uuid>, StoreError> {
    let row =
        sqlx::query("SELECT id FROM tenants WHERE name = $1 ORDER BY created_at, id LIMIT 1").bind(name).fetch_optional(&db.pool).await?;
    row.map(|r| get_uuid(&r, "id")).transpose()
}

/// The tenant an admin token belongs to.
pub async fn tenant_for_admin_token(db: &Db, token: &str) -> Result<Option<Uuid>, StoreError> {
    let row =
        sqlx::query("SELECT tenant_id FROM admin_tokens WHERE token_hash = $1").bind(hash_secret(token)).fetch_optional(&db.pool).await?;
    row.map(|r| get_uuid(&r, "tenant_id")).transpose()
}

/// The audience agents must sign for: made once per deployment and shared
/// by every replica on the same database.
pub async fn audience(db: &Db) -> Result<String, StoreError> {
    let candidate = format!("urn:roster:server:{}", Uuid::new_v4());
    sqlx::query("INSERT INTO server_identity (id, audience, created_at) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING")
        .bind(&candidate)
        .bind(now_ms())
        .execute(&db.pool)
        .await?;
    let row = sqlx::query("SELECT audience FROM server_identity WHERE id = 1").fetch_one(&db.pool).await?;
    Ok(row.try_get("audience")?)
}
