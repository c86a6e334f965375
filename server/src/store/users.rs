//! The booking service's users as imported, and their accesses.

use std::collections::{BTreeSet, HashMap};

use roster_import::{CurrentUser, StoredUser, UserState};
use roster_proto::admin::{AccessKind, AccessRef, User};
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::{Db, StoreError, get_parsed, get_uuid, now_ms};
use crate::db::Dialect;

/// The columns every query of this table reads, as a literal for `concat!`.
macro_rules! state_columns {
    () => {
        "id, job_id, anchor, object_guid, username, user_principal_name, email, display_name, given_name, surname, \
     telephone_number, department, title, dn, active"
    };
}

fn state_from_row(row: &AnyRow) -> Result<UserState, StoreError> {
    Ok(UserState {
        anchor: get_parsed(row, "anchor")?,
        object_guid: get_parsed(row, "object_guid")?,
        username: row.try_get("username")?,
        user_principal_name: row.try_get("user_principal_name")?,
        email: row.try_get("email")?,
        display_name: row.try_get("display_name")?,
        given_name: row.try_get("given_name")?,
        surname: row.try_get("surname")?,
        telephone_number: row.try_get("telephone_number")?,
        department: row.try_get("department")?,
        title: row.try_get("title")?,
        dn: row.try_get("dn")?,
        // Stored as 0/1: the Any driver has no boolean for SQLite.
        active: row.try_get::<i64, _>("active")? != 0,
        accesses: BTreeSet::new(),
    })
}

/// A job's users whose anchor lies after `after` and up to `upto` (each
/// bound open when `None`), by fingerprint: the stored side of one batch
/// of a streamed import.
pub async fn stored_between(
    conn: &mut sqlx::AnyConnection,
    job: Uuid,
    after: Option<&str>,
    upto: Option<&str>,
) -> Result<Vec<StoredUser>, StoreError> {
    // Plain range conditions, so the (job_id, anchor) index serves them.
    let bounds = match (after.is_some(), upto.is_some()) {
        (false, false) => "job_id = $1",
        (true, false) => "job_id = $1 AND anchor > $2",
        (false, true) => "job_id = $1 AND anchor <= $3",
        (true, true) => "job_id = $1 AND anchor > $2 AND anchor <= $3",
    };
    let rows =
        sqlx::query(sqlx::AssertSqlSafe(format!("SELECT id, anchor, active, fingerprint FROM users WHERE {bounds} ORDER BY anchor")))
            .bind(job.to_string())
            .bind(after.unwrap_or(""))
            .bind(upto.unwrap_or(""))
            .fetch_all(&mut *conn)
            .await?;
    rows.iter()
        .map(|row| {
            Ok(StoredUser {
                id: get_uuid(row, "id")?,
                anchor: get_parsed(row, "anchor")?,
                active: row.try_get::<i64, _>("active")? != 0,
                fingerprint: row.try_get("fingerprint")?,
            })
        })
        .collect()
}

/// The stored users `ids` with their accesses, as the planner compares them.
pub async fn current_users_by_id(
    conn: &mut sqlx::AnyConnection,
    dialect: Dialect,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, CurrentUser>, StoreError> {
    let aggregate = match dialect {
        Dialect::Sqlite => "group_concat(ua.access_id, ',')",
        Dialect::Postgres => "string_agg(ua.access_id, ',')",
    };
    let mut users = HashMap::with_capacity(ids.len());
    // A few hundred ids a query keeps within every engine's parameter limit.
    for some in ids.chunks(500) {
        let placeholders: Vec<String> = (1..=some.len()).map(|n| format!("${n}")).collect();
        let sql = format!(
            "SELECT u.id, u.job_id, u.anchor, u.object_guid, u.username, u.user_principal_name, u.email, u.display_name, u.given_name,
                 u.surname, u.telephone_number, u.department, u.title, u.dn, u.active,
                 (SELECT {aggregate} FROM user_accesses ua WHERE ua.user_id = u.id) AS accesses
             FROM users u WHERE u.id IN ({})",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in some {
            query = query.bind(id.to_string());
        }
        for row in &query.fetch_all(&mut *conn).await? {
            let mut state = state_from_row(row)?;
            let accesses: Option<String> = row.try_get("accesses")?;
            for access in accesses.iter().flat_map(|list| list.split(',')) {
                state.accesses.insert(
                    access
                        .parse()
                        .map_err(|e: uuid::Error| StoreError::Corrupt { column: "user_accesses.access_id", detail: e.to_string() })?,
                );
            }
            let id = get_uuid(row, "id")?;
            users.insert(id, CurrentUser { id, state });
        }
    }
    Ok(users)
}

/// A query over the `users` table's imported fields.
type UserQuery<'q> = sqlx::query::Query<'q, sqlx::Any, <sqlx::Any as sqlx::Database>::Arguments>;

/// Binds the fields an import writes as `$1`..`$13`: username, UPN, email,
/// display name, given name, surname, phone, department, title, DN, active,
/// objectGUID (which changes when an account anchored by its consistency
/// GUID is re-created), and the state's fingerprint.
fn bind_imported_fields<'q>(query: UserQuery<'q>, state: &'q UserState) -> UserQuery<'q> {
    query
        .bind(&state.username)
        .bind(&state.user_principal_name)
        .bind(&state.email)
        .bind(&state.display_name)
        .bind(&state.given_name)
        .bind(&state.surname)
        .bind(&state.telephone_number)
        .bind(&state.department)
        .bind(&state.title)
        .bind(&state.dn)
        .bind(i64::from(state.active))
        .bind(state.object_guid.to_string())
        .bind(state.fingerprint())
}

/// Inserts a new user with its accesses.
pub async fn insert_user(conn: &mut sqlx::AnyConnection, tenant: Uuid, job: Uuid, state: &UserState) -> Result<Uuid, StoreError> {
    // Time-ordered: inserts append to the id index instead of scattering.
    let id = Uuid::now_v7();
    let query = sqlx::query(
        "INSERT INTO users (username, user_principal_name, email, display_name, given_name, surname, telephone_number, department,
             title, dn, active, object_guid, fingerprint, id, tenant_id, job_id, anchor, created_at, updated_at, deactivated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $18, CASE WHEN $11 = 1 THEN NULL ELSE $18 END)",
    );
    bind_imported_fields(query, state)
        .bind(id.to_string())
        .bind(tenant.to_string())
        .bind(job.to_string())
        .bind(state.anchor.to_string())
        .bind(now_ms())
        .execute(&mut *conn)
        .await?;
    insert_accesses(conn, id, &state.accesses).await?;
    Ok(id)
}

/// Overwrites a user's fields and accesses.
pub async fn update_user(conn: &mut sqlx::AnyConnection, id: Uuid, state: &UserState) -> Result<(), StoreError> {
    let query = sqlx::query(
        "UPDATE users SET username = $1, user_principal_name = $2, email = $3, display_name = $4, given_name = $5, surname = $6,
             telephone_number = $7, department = $8, title = $9, dn = $10, active = $11, object_guid = $12, fingerprint = $13,
             updated_at = $14, deactivated_at = CASE WHEN $11 = 1 THEN NULL ELSE COALESCE(deactivated_at, $14) END
         WHERE id = $15",
    );
    bind_imported_fields(query, state).bind(now_ms()).bind(id.to_string()).execute(&mut *conn).await?;
    sqlx::query("DELETE FROM user_accesses WHERE user_id = $1").bind(id.to_string()).execute(&mut *conn).await?;
    insert_accesses(conn, id, &state.accesses).await
}

async fn insert_accesses(conn: &mut sqlx::AnyConnection, user: Uuid, accesses: &BTreeSet<Uuid>) -> Result<(), StoreError> {
    for access in accesses {
        sqlx::query("INSERT INTO user_accesses (user_id, access_id) VALUES ($1, $2)")
            .bind(user.to_string())
            .bind(access.to_string())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Deletes `tenant`'s users inactive since before `before_ms`, with their
/// accesses: the end of the grace period. Returns how many.
pub async fn purge_inactive(db: &Db, tenant: Uuid, before_ms: i64) -> Result<u64, StoreError> {
    let old = "SELECT id FROM users WHERE tenant_id = $1 AND active = 0 AND deactivated_at < $2";
    super::delete_with_children(db, old, "users", "user_accesses", "user_id", tenant, before_ms).await
}

/// A user of `tenant` (`None` for other tenants' users too): its job and
/// state, without accesses.
pub async fn get_user(db: &Db, tenant: Uuid, id: Uuid) -> Result<Option<(Uuid, UserState)>, StoreError> {
    let row = sqlx::query(concat!("SELECT ", state_columns!(), " FROM users WHERE tenant_id = $1 AND id = $2"))
        .bind(tenant.to_string())
        .bind(id.to_string())
        .fetch_optional(&db.pool)
        .await?;
    row.map(|row| Ok((get_uuid(&row, "job_id")?, state_from_row(&row)?))).transpose()
}

/// A page of a tenant's users (optionally one job's), ordered by id; the
/// cursor is the last id returned.
pub async fn list_users(
    db: &Db,
    tenant: Uuid,
    job: Option<Uuid>,
    limit: u32,
    after: Option<Uuid>,
) -> Result<(Vec<User>, Option<Uuid>), StoreError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        state_columns!(),
        " FROM users WHERE tenant_id = $1 AND ($2 = '' OR job_id = $2) AND id > $3 ORDER BY id LIMIT $4"
    ))
    .bind(tenant.to_string())
    .bind(job.map(|j| j.to_string()).unwrap_or_default())
    .bind(after.map(|a| a.to_string()).unwrap_or_default())
    .bind(i64::from(limit) + 1)
    .fetch_all(&db.pool)
    .await?;
    let mut users = Vec::with_capacity(rows.len());
    for row in rows.iter().take(limit as usize) {
        let state = state_from_row(row)?;
        users.push(User {
            id: get_uuid(row, "id")?,
            job_id: get_uuid(row, "job_id")?,
            object_guid: state.object_guid,
            username: state.username,
            email: state.email,
            display_name: state.display_name,
            active: state.active,
            accesses: Vec::new(),
        });
    }
    let next = if rows.len() > limit as usize { users.last().map(|u| u.id) } else { None };
    if let (Some(first), Some(last)) = (users.first().map(|u| u.id), users.last().map(|u| u.id)) {
        let grants = sqlx::query(
            "SELECT ua.user_id, a.id, a.kind, a.name FROM user_accesses ua JOIN accesses a ON a.id = ua.access_id
             JOIN users u ON u.id = ua.user_id
             WHERE u.tenant_id = $1 AND ua.user_id >= $2 AND ua.user_id <= $3",
        )
        .bind(tenant.to_string())
        .bind(first.to_string())
        .bind(last.to_string())
        .fetch_all(&db.pool)
        .await?;
        let index: HashMap<Uuid, usize> = users.iter().enumerate().map(|(i, u)| (u.id, i)).collect();
        for row in &grants {
            let Some(i) = index.get(&get_uuid(row, "user_id")?) else { continue };
            let kind: String = row.try_get("kind")?;
            let kind = AccessKind::parse(&kind).ok_or(StoreError::Corrupt { column: "accesses.kind", detail: kind })?;
            users[*i].accesses.push(AccessRef { id: get_uuid(row, "id")?, kind, name: row.try_get("name")? });
        }
        for user in &mut users {
            user.accesses.sort();
        }
    }
    Ok((users, next))
}
