//! The console's people and their sign-ins: console admins (with the hash
//! of their password and of an unused set-up link) and server-side
//! sessions, each keyed by the sha256 of the secret its cookie holds.

use roster_proto::admin::AdminRole;
use roster_proto::{ConsoleAdminId, TenantId};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Db, StoreError, UnixMillis, get_id};

/// A console sign-in ends after this long without a request.
pub const SESSION_IDLE_MS: i64 = 60 * 60_000;
/// A console sign-in ends this long after it began, however busy.
pub const SESSION_ABSOLUTE_MS: i64 = 12 * 60 * 60_000;
/// How often at most a sign-in's `last_seen_at` is written.
pub const SESSION_TOUCH_MS: i64 = 60_000;

/// A console admin as the console shows and authorises it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleAdmin {
    pub id: ConsoleAdminId,
    pub tenant_id: TenantId,
    /// As given when the admin was added.
    pub email: String,
    pub role: AdminRole,
    /// False until the set-up link has been used.
    pub has_password: bool,
    pub created_at: UnixMillis,
    /// Who added this admin, as the audit log names actors.
    pub created_by: String,
}

/// How an address is compared: trimmed and lower-cased. Email local parts
/// may be case-sensitive in theory; no provider an admin uses makes them so,
/// and two accounts differing only in case would be a trap.
pub fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

const ADMIN_COLUMNS: &str =
    "id, tenant_id, email, role, CAST(CASE WHEN password_hash IS NULL THEN 0 ELSE 1 END AS BIGINT) AS has_password, created_at, created_by";

fn admin_from(row: &AnyRow) -> Result<ConsoleAdmin, StoreError> {
    let role: String = row.try_get("role")?;
    Ok(ConsoleAdmin {
        id: get_id(row, "id")?,
        tenant_id: get_id(row, "tenant_id")?,
        email: row.try_get("email")?,
        role: AdminRole::parse(&role).ok_or(StoreError::Corrupt { column: "console_admins.role", detail: role })?,
        has_password: row.try_get::<i64, _>("has_password")? != 0,
        created_at: UnixMillis(row.try_get("created_at")?),
        created_by: row.try_get("created_by")?,
    })
}

/// What [`add_admin`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddedAdmin {
    /// A new admin, or an existing admin of the same tenant given a new
    /// set-up link (and the role asked for): its old link no longer works.
    Added { admin: ConsoleAdmin, existed: bool },
    /// The address is another tenant's admin's (addresses are unique on the server).
    EmailTaken,
}

/// Adds a console admin with an unused set-up link (its hash, valid until
/// `setup_expires`), or gives an existing admin of the tenant a new link,
/// in the caller's write transaction `conn` (`EmailTaken` wrote nothing).
/// An admin who was removed comes back this way, with no password.
pub async fn add_admin(
    conn: &mut sqlx::AnyConnection,
    tenant: TenantId,
    email: &str,
    role: AdminRole,
    created_by: &str,
    setup_hash: &str,
    setup_expires: UnixMillis,
) -> Result<AddedAdmin, StoreError> {
    let key = email_key(email);
    let now = UnixMillis::now();
    let existing =
        sqlx::query("SELECT id, tenant_id FROM console_admins WHERE email_key = $1").bind(&key).fetch_optional(&mut *conn).await?;
    let (id, existed) = match existing {
        Some(row) => {
            let owner: TenantId = get_id(&row, "tenant_id")?;
            if owner != tenant {
                return Ok(AddedAdmin::EmailTaken);
            }
            let id: ConsoleAdminId = get_id(&row, "id")?;
            // A removed admin comes back with no password: its set-up link sets one.
            sqlx::query(
                "UPDATE console_admins SET role = $1, setup_hash = $2, setup_expires_at = $3,
                        password_hash = CASE WHEN disabled_at IS NULL THEN password_hash END,
                        password_set_at = CASE WHEN disabled_at IS NULL THEN password_set_at END,
                        disabled_at = NULL
                 WHERE id = $4",
            )
            .bind(role.as_str())
            .bind(setup_hash)
            .bind(setup_expires.0)
            .bind(id.to_string())
            .execute(&mut *conn)
            .await?;
            (id, true)
        }
        None => {
            let id = ConsoleAdminId::new();
            sqlx::query(
                "INSERT INTO console_admins (id, tenant_id, email, email_key, role, setup_hash, setup_expires_at, created_at, created_by)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(id.to_string())
            .bind(tenant.to_string())
            .bind(email.trim())
            .bind(&key)
            .bind(role.as_str())
            .bind(setup_hash)
            .bind(setup_expires.0)
            .bind(now.0)
            .bind(created_by)
            .execute(&mut *conn)
            .await?;
            (id, false)
        }
    };
    let admin = admin_in(conn, id).await?.ok_or(StoreError::Corrupt { column: "console_admins", detail: "vanished".into() })?;
    Ok(AddedAdmin::Added { admin, existed })
}

async fn admin_in(conn: &mut sqlx::AnyConnection, id: ConsoleAdminId) -> Result<Option<ConsoleAdmin>, StoreError> {
    let sql = format!("SELECT {ADMIN_COLUMNS} FROM console_admins WHERE id = $1 AND disabled_at IS NULL");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.to_string()).fetch_optional(&mut *conn).await?;
    row.as_ref().map(admin_from).transpose()
}

/// The admin whose unused set-up link has this hash, if it has not expired.
pub async fn admin_by_setup(db: &Db, setup_hash: &str, now: UnixMillis) -> Result<Option<ConsoleAdmin>, StoreError> {
    let sql = format!("SELECT {ADMIN_COLUMNS} FROM console_admins WHERE setup_hash = $1 AND setup_expires_at > $2 AND disabled_at IS NULL");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(setup_hash).bind(now.0).fetch_optional(&db.pool).await?;
    row.as_ref().map(admin_from).transpose()
}

/// Spends the set-up link `setup_hash` in the caller's write transaction
/// `conn`: sets the admin's password and ends every session it had. `None`
/// (nothing written) when the link is unknown, used or expired (checked
/// again here, so a link is spent once even by two tabs at once).
pub async fn set_password(
    conn: &mut sqlx::AnyConnection,
    setup_hash: &str,
    password_hash: &str,
    now: UnixMillis,
) -> Result<Option<ConsoleAdmin>, StoreError> {
    let row = sqlx::query(
        "UPDATE console_admins SET password_hash = $1, password_set_at = $2, setup_hash = NULL, setup_expires_at = NULL
         WHERE setup_hash = $3 AND setup_expires_at > $2 AND disabled_at IS NULL RETURNING id",
    )
    .bind(password_hash)
    .bind(now.0)
    .bind(setup_hash)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let id: ConsoleAdminId = get_id(&row, "id")?;
    sqlx::query("DELETE FROM console_sessions WHERE admin_id = $1").bind(id.to_string()).execute(&mut *conn).await?;
    admin_in(conn, id).await
}

/// What signing in needs of an admin: who it is and its password's hash.
#[derive(Debug, Clone)]
pub struct SignInRecord {
    pub admin: ConsoleAdmin,
    /// The argon2id PHC string; `None` before the set-up link was used.
    pub password_hash: Option<String>,
}

/// The admin who signs in with `email`, if any (removed admins are not).
pub async fn admin_for_sign_in(db: &Db, email: &str) -> Result<Option<SignInRecord>, StoreError> {
    let sql = format!("SELECT {ADMIN_COLUMNS}, password_hash FROM console_admins WHERE email_key = $1 AND disabled_at IS NULL");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(email_key(email)).fetch_optional(&db.pool).await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(SignInRecord { admin: admin_from(&row)?, password_hash: row.try_get("password_hash")? }))
}

/// The tenant's admins, oldest first (at most `limit`; removed ones are not listed).
pub async fn list_admins(db: &Db, tenant: TenantId, limit: u32) -> Result<Vec<ConsoleAdmin>, StoreError> {
    let sql =
        format!("SELECT {ADMIN_COLUMNS} FROM console_admins WHERE tenant_id = $1 AND disabled_at IS NULL ORDER BY created_at, id LIMIT $2");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant.to_string()).bind(i64::from(limit)).fetch_all(&db.pool).await?;
    rows.iter().map(admin_from).collect()
}

/// The tenant's admin `id`, unless removed, read on `conn` (the change's
/// write transaction, after [`lock_owners`]).
pub async fn get_admin(conn: &mut sqlx::AnyConnection, tenant: TenantId, id: ConsoleAdminId) -> Result<Option<ConsoleAdmin>, StoreError> {
    let sql = format!("SELECT {ADMIN_COLUMNS} FROM console_admins WHERE id = $1 AND tenant_id = $2 AND disabled_at IS NULL");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.to_string()).bind(tenant.to_string()).fetch_optional(&mut *conn).await?;
    row.as_ref().map(admin_from).transpose()
}

/// The admin whose address is `email` (compared as [`email_key`] does),
/// of any tenant, unless removed, read on `conn` (the change's write
/// transaction, after [`lock_owners`]).
pub async fn admin_with_email(conn: &mut sqlx::AnyConnection, email: &str) -> Result<Option<ConsoleAdmin>, StoreError> {
    let sql = format!("SELECT {ADMIN_COLUMNS} FROM console_admins WHERE email_key = $1 AND disabled_at IS NULL");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(email_key(email)).fetch_optional(&mut *conn).await?;
    row.as_ref().map(admin_from).transpose()
}

/// Holds the tenant's admins until the transaction ends, so that the
/// owners a change counts ([`count_owners`]) are still the owners when it
/// commits: two owners demoting or removing each other at once are
/// judged one after the other, and one of them is the last owner. Whatever
/// adds, demotes or removes an admin takes it first. SQLite's write
/// transaction already excludes every other writer; PostgreSQL locks the
/// tenant's row (`NO KEY UPDATE`: rows that only reference the tenant,
/// checked with a key-share lock, are not held up). False when the tenant
/// is not there.
pub async fn lock_owners(conn: &mut sqlx::AnyConnection, dialect: crate::db::Dialect, tenant: TenantId) -> Result<bool, StoreError> {
    let sql = match dialect {
        crate::db::Dialect::Postgres => "SELECT id FROM tenants WHERE id = $1 FOR NO KEY UPDATE",
        crate::db::Dialect::Sqlite => "SELECT id FROM tenants WHERE id = $1",
    };
    Ok(sqlx::query(sql).bind(tenant.to_string()).fetch_optional(&mut *conn).await?.is_some())
}

/// How many owners the tenant has who can sign in, or whose set-up link
/// still works, counted on `conn` (the change's write transaction, after
/// [`lock_owners`]).
pub async fn count_owners(conn: &mut sqlx::AnyConnection, tenant: TenantId) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM console_admins WHERE tenant_id = $1 AND role = 'owner' AND disabled_at IS NULL
           AND (password_hash IS NOT NULL OR setup_expires_at > $2)",
    )
    .bind(tenant.to_string())
    .bind(UnixMillis::now().0)
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.try_get("n")?)
}

/// Removes a tenant's admin in the caller's write transaction `conn`: it
/// can no longer sign in and its sessions end (the row stays, so the audit
/// log's entries keep naming it). False when the tenant has no such admin.
pub async fn remove_admin(
    conn: &mut sqlx::AnyConnection,
    tenant: TenantId,
    id: ConsoleAdminId,
    now: UnixMillis,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE console_admins SET disabled_at = $1, password_hash = NULL, setup_hash = NULL, setup_expires_at = NULL
         WHERE id = $2 AND tenant_id = $3 AND disabled_at IS NULL",
    )
    .bind(now.0)
    .bind(id.to_string())
    .bind(tenant.to_string())
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM console_sessions WHERE admin_id = $1").bind(id.to_string()).execute(&mut *conn).await?;
    Ok(done.rows_affected() == 1)
}

/// A signed-in browser's session, and its admin.
#[derive(Debug, Clone)]
pub struct SessionUse {
    pub admin: ConsoleAdmin,
    pub created_at: UnixMillis,
    pub last_seen_at: UnixMillis,
    pub expires_at: UnixMillis,
}

/// Starts a session for `admin`, keyed by its cookie secret's hash.
pub async fn create_session(
    db: &Db,
    token_hash: &str,
    admin: ConsoleAdminId,
    now: UnixMillis,
    expires: UnixMillis,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO console_sessions (token_hash, admin_id, created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $3, $4)")
        .bind(token_hash)
        .bind(admin.to_string())
        .bind(now.0)
        .bind(expires.0)
        .execute(&mut *db.writer().await?)
        .await?;
    Ok(())
}

/// The session with this hash and its admin (not removed); whether it is
/// still in force is for the caller to judge.
pub async fn session(db: &Db, token_hash: &str) -> Result<Option<SessionUse>, StoreError> {
    let row = sqlx::query(
        "SELECT a.id, a.tenant_id, a.email, a.role, CAST(CASE WHEN a.password_hash IS NULL THEN 0 ELSE 1 END AS BIGINT) AS has_password, a.created_at, a.created_by,
                s.created_at AS session_created_at, s.last_seen_at, s.expires_at
         FROM console_sessions s JOIN console_admins a ON a.id = s.admin_id
         WHERE s.token_hash = $1 AND a.disabled_at IS NULL",
    )
    .bind(token_hash)
    .fetch_optional(&db.pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(SessionUse {
        admin: admin_from(&row)?,
        created_at: UnixMillis(row.try_get("session_created_at")?),
        last_seen_at: UnixMillis(row.try_get("last_seen_at")?),
        expires_at: UnixMillis(row.try_get("expires_at")?),
    }))
}

/// Records that the session was used at `now`, unless that was written
/// less than `resolution_ms` ago.
pub async fn touch_session(db: &Db, token_hash: &str, now: UnixMillis, resolution_ms: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE console_sessions SET last_seen_at = $1 WHERE token_hash = $2 AND last_seen_at <= $3")
        .bind(now.0)
        .bind(token_hash)
        .bind(now.minus_ms(resolution_ms).0)
        .execute(&mut *db.writer().await?)
        .await?;
    Ok(())
}

/// Ends one session (signing out).
pub async fn delete_session(db: &Db, token_hash: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM console_sessions WHERE token_hash = $1").bind(token_hash).execute(&mut *db.writer().await?).await?;
    Ok(())
}

/// Ends every session of an admin (signing out everywhere), on `conn`
/// (the caller's write transaction). Returns how many.
pub async fn delete_sessions_of(conn: &mut sqlx::AnyConnection, admin: ConsoleAdminId) -> Result<u64, StoreError> {
    let done = sqlx::query("DELETE FROM console_sessions WHERE admin_id = $1").bind(admin.to_string()).execute(&mut *conn).await?;
    Ok(done.rows_affected())
}

/// Deletes sessions past their absolute expiry or idle since before
/// `idle_before`. Returns how many.
pub async fn prune_sessions(db: &Db, now: UnixMillis, idle_before: UnixMillis) -> Result<u64, StoreError> {
    let done = sqlx::query("DELETE FROM console_sessions WHERE expires_at <= $1 OR last_seen_at < $2")
        .bind(now.0)
        .bind(idle_before.0)
        .execute(&mut *db.writer().await?)
        .await?;
    Ok(done.rows_affected())
}
