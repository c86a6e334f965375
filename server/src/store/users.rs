//! The booking service's users as imported, and their accesses.

use std::collections::HashMap;
use std::sync::LazyLock;

use roster_import::{CurrentUser, FieldValue, InvalidField, StoredUser, USER_FIELDS, UserState};
use roster_proto::admin::{AccessKind, AccessRef, User};
use roster_proto::{AccessId, JobId, TenantId, UserId};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::page::{Bind, PageKey, PageQuery};
use super::{Db, StoreError, get_id, get_parsed, parse_text};
use crate::db::Dialect;

/// The columns every query of this table reads.
static STATE_COLUMNS: LazyLock<String> = LazyLock::new(|| format!("id, job_id, anchor, {}, active", USER_FIELDS.join(", ")));

/// Stored as 0/1: the Any driver has no boolean for SQLite.
fn active_of(row: &AnyRow) -> Result<bool, StoreError> {
    Ok(row.try_get::<i64, _>("active")? != 0)
}

fn state_from_row(row: &AnyRow) -> Result<UserState, StoreError> {
    UserState::from_stored(get_parsed(row, "anchor")?, active_of(row)?, |column| Ok(row.try_get::<Option<String>, _>(column)?))
}

/// A query of `'q` with `user`'s imported fields bound next, in
/// [`USER_FIELDS`] order, as the columns of that name are written.
pub(super) fn bind_fields<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    user: &'q UserState,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    for value in user.field_values() {
        query = match value {
            FieldValue::Text(text) => query.bind(text),
            FieldValue::Optional(text) => query.bind(text),
            FieldValue::Guid(guid) => query.bind(guid.to_string()),
        };
    }
    query
}

impl From<InvalidField> for StoreError {
    fn from(e: InvalidField) -> Self {
        StoreError::Corrupt { column: e.field, detail: e.source.to_string() }
    }
}

/// A job's users whose anchor lies after `after` and up to `upto` (each
/// bound open when `None`), by fingerprint: the stored side of one batch
/// of a streamed import.
pub async fn stored_between(
    conn: &mut sqlx::AnyConnection,
    job: JobId,
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
    let sql = super::packed::select(
        &["id", "anchor", "CAST(active AS TEXT)", "fingerprint"],
        "anchor",
        &format!("SELECT id, anchor, active, fingerprint FROM users WHERE {bounds}"),
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(job.to_string())
        .bind(after.unwrap_or(""))
        .bind(upto.unwrap_or(""))
        .fetch_one(&mut *conn)
        .await?;
    let page = super::packed::Page::read(&row)?;
    page.rows()?
        .into_iter()
        .map(|[id, anchor, active, fingerprint]| {
            Ok(StoredUser {
                id: parse_text(id, "users.id")?,
                anchor: parse_text(anchor, "users.anchor")?,
                active: parse_text::<i64>(active, "users.active")? != 0,
                fingerprint: fingerprint.to_owned(),
            })
        })
        .collect()
}

/// The stored users `ids` with their accesses, as the planner compares them.
pub async fn current_users_by_id(
    conn: &mut sqlx::AnyConnection,
    dialect: Dialect,
    ids: &[UserId],
) -> Result<HashMap<UserId, CurrentUser>, StoreError> {
    let aggregate = match dialect {
        Dialect::Sqlite => "group_concat(ua.access_id, ',')",
        Dialect::Postgres => "string_agg(ua.access_id, ',')",
    };
    let mut users = HashMap::with_capacity(ids.len());
    // A few hundred ids a query keeps within every engine's parameter limit.
    for some in ids.chunks(500) {
        let sql = format!(
            "SELECT {}, (SELECT {aggregate} FROM user_accesses ua WHERE ua.user_id = users.id) AS accesses
             FROM users WHERE id IN {}",
            STATE_COLUMNS.as_str(),
            dialect.tuples(1, some.len())
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
                        .parse::<uuid::Uuid>()
                        .map(AccessId::from)
                        .map_err(|e| StoreError::Corrupt { column: "user_accesses.access_id", detail: e.to_string() })?,
                );
            }
            let id = get_id(row, "id")?;
            users.insert(id, CurrentUser { id, state });
        }
    }
    Ok(users)
}

/// A user of `tenant` (`None` for other tenants' users too): its job and
/// state, without accesses.
pub async fn get_user(db: &Db, tenant: TenantId, id: UserId) -> Result<Option<(JobId, UserState)>, StoreError> {
    let sql = format!("SELECT {} FROM users WHERE tenant_id = $1 AND id = $2", STATE_COLUMNS.as_str());
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant.to_string()).bind(id.to_string()).fetch_optional(&db.pool).await?;
    row.map(|row| Ok((get_id(&row, "job_id")?, state_from_row(&row)?))).transpose()
}

/// A user of `tenant` as the API lists it, with its accesses.
pub async fn user_with_accesses(db: &Db, tenant: TenantId, id: UserId) -> Result<Option<User>, StoreError> {
    let sql = format!("SELECT {} FROM users WHERE tenant_id = $1 AND id = $2", STATE_COLUMNS.as_str());
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant.to_string()).bind(id.to_string()).fetch_optional(&db.pool).await?;
    let Some(row) = row else { return Ok(None) };
    let mut user = state_from_row(&row)?.into_api_user(id, get_id(&row, "job_id")?, Vec::new());
    let grants =
        sqlx::query("SELECT a.id, a.kind, a.name FROM user_accesses ua JOIN accesses a ON a.id = ua.access_id WHERE ua.user_id = $1")
            .bind(id.to_string())
            .fetch_all(&db.pool)
            .await?;
    for row in &grants {
        let kind: String = row.try_get("kind")?;
        let kind = AccessKind::parse(&kind).ok_or(StoreError::Corrupt { column: "accesses.kind", detail: kind })?;
        user.accesses.push(AccessRef { id: get_id(row, "id")?, kind, name: row.try_get("name")? });
    }
    user.accesses.sort();
    Ok(Some(user))
}

/// A page of a tenant's users (optionally one job's), ordered by id; the
/// cursor is the last id returned.
pub async fn list_users(
    db: &Db,
    tenant: TenantId,
    job: Option<JobId>,
    limit: u32,
    after: Option<UserId>,
) -> Result<(Vec<User>, Option<UserId>), StoreError> {
    search_users(db, tenant, job, None, limit, after).await
}

/// [`list_users`] of the users whose username, display name or email
/// contains `search` (`%` and `_` are literal). Case-insensitive for
/// ASCII; letters beyond it match as typed or lower-cased (SQLite's
/// `LOWER` knows only ASCII).
pub async fn search_users(
    db: &Db,
    tenant: TenantId,
    job: Option<JobId>,
    search: Option<&str>,
    limit: u32,
    after: Option<UserId>,
) -> Result<(Vec<User>, Option<UserId>), StoreError> {
    let like = |s: &str| format!("%{}%", s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
    let (lower, typed) = search.map_or((String::new(), String::new()), |s| (like(&s.to_lowercase()), like(s)));
    let select = format!(
        "SELECT {} FROM users WHERE tenant_id = $1 AND ($2 = '' OR job_id = $2)
           AND ($3 = '' OR LOWER(username) LIKE $3 ESCAPE '\\' OR LOWER(COALESCE(display_name, '')) LIKE $3 ESCAPE '\\'
                OR LOWER(COALESCE(email, '')) LIKE $3 ESCAPE '\\'
                OR username LIKE $4 ESCAPE '\\' OR COALESCE(display_name, '') LIKE $4 ESCAPE '\\')",
        STATE_COLUMNS.as_str()
    );
    let (mut users, next) = PageQuery::new(
        &select,
        vec![
            Bind::Text(tenant.to_string()),
            Bind::Text(job.map(|j| j.to_string()).unwrap_or_default()),
            Bind::Text(lower),
            Bind::Text(typed),
        ],
        after,
        limit,
    )
    .fetch(&db.pool, |row| Ok(state_from_row(row)?.into_api_user(get_id(row, "id")?, get_id(row, "job_id")?, Vec::new())))
    .await?;
    if !users.is_empty() {
        // The page's users by id, each a primary-key seek. Asked by the
        // page's first and last id and the tenant instead, SQLite 3.51
        // (not the 3.40 CLI, whose plan seeks) took 54 ms at 100k users
        // and 336 at a million: its plan read far more than the page.
        let sql = format!(
            "SELECT ua.user_id, a.id, a.kind, a.name FROM user_accesses ua JOIN accesses a ON a.id = ua.access_id WHERE ua.user_id IN {}",
            db.dialect.list(1, users.len())
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for user in &users {
            query = query.bind(user.id.to_string());
        }
        let grants = query.fetch_all(&db.pool).await?;
        let index: HashMap<UserId, usize> = users.iter().enumerate().map(|(i, u)| (u.id, i)).collect();
        for row in &grants {
            let Some(i) = index.get(&get_id(row, "user_id")?) else { continue };
            let kind: String = row.try_get("kind")?;
            let kind = AccessKind::parse(&kind).ok_or(StoreError::Corrupt { column: "accesses.kind", detail: kind })?;
            users[*i].accesses.push(AccessRef { id: get_id(row, "id")?, kind, name: row.try_get("name")? });
        }
        for user in &mut users {
            user.accesses.sort();
        }
    }
    Ok((users, next))
}

/// The users' key: the id alone (ids are time-ordered UUIDs).
impl PageKey for UserId {
    const COLUMNS: &'static [&'static str] = &["id"];

    fn binds(&self) -> Vec<Bind> {
        vec![Bind::Text(self.to_string())]
    }

    fn of_row(row: &AnyRow) -> Result<Self, StoreError> {
        get_id(row, "id")
    }
}

/// How many of the job's users are active.
pub async fn count_active(db: &Db, job: JobId) -> Result<u64, StoreError> {
    let row =
        sqlx::query("SELECT COUNT(*) AS n FROM users WHERE job_id = $1 AND active = 1").bind(job.to_string()).fetch_one(&db.pool).await?;
    Ok(u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or_default())
}

/// True when `job` holds any user, active or not.
pub async fn holds_users(conn: &mut sqlx::AnyConnection, job: JobId) -> Result<bool, StoreError> {
    let row = sqlx::query("SELECT 1 FROM users WHERE job_id = $1 LIMIT 1").bind(job.to_string()).fetch_optional(&mut *conn).await?;
    Ok(row.is_some())
}

/// How many times `job`'s users have been written (see [`bump_revision`]);
/// `None` if there is no such job.
pub async fn revision(conn: &mut sqlx::AnyConnection, job: JobId) -> Result<Option<i64>, StoreError> {
    let row = sqlx::query("SELECT users_revision FROM jobs WHERE id = $1").bind(job.to_string()).fetch_optional(&mut *conn).await?;
    Ok(row.map(|row| row.try_get("users_revision")).transpose()?)
}

/// Counts a write of `job`'s users, in the transaction that writes them:
/// every writer of a job's users calls it, so an import planned from a
/// snapshot of them applies only if they are still as it read them.
pub async fn bump_revision(conn: &mut sqlx::AnyConnection, job: JobId) -> Result<(), StoreError> {
    sqlx::query("UPDATE jobs SET users_revision = users_revision + 1 WHERE id = $1").bind(job.to_string()).execute(&mut *conn).await?;
    Ok(())
}
