//! An import's plan, staged: the changes a run planned from a read
//! snapshot, written here a batch at a time in short transactions, then
//! applied to `users`, `user_accesses` and `session_changes` by a few set
//! statements inside the session's one short transaction, or recorded as
//! a held plan. Rows are keyed by the run (its claim token), so two runs of
//! one session never mix, and deleted once the run ends.

use std::sync::LazyLock;

use roster_import::{Action, USER_FIELDS, UserChange};
use roster_proto::{JobId, SessionId, TenantId, UserId};
use sqlx::Row;
use uuid::Uuid;

use super::sessions::details_json;
use super::users::bind_fields;
use super::{Db, StoreError, multi_insert, now_ms};
use crate::db::Dialect;

/// One planned change and the user row it writes.
#[derive(Debug, Clone, Copy)]
pub struct StagedChange<'a> {
    pub change: &'a UserChange,
    /// The row the change writes: the stored user's, or a new id for a
    /// creation.
    pub user_id: UserId,
}

impl<'a> StagedChange<'a> {
    /// A change as staged: updates write the stored user; a creation (or
    /// a change with no stored user) a new row with a time-ordered id, so
    /// inserts append to the id index.
    pub fn new(change: &'a UserChange) -> StagedChange<'a> {
        StagedChange { change, user_id: Self::existing_of(change).unwrap_or_else(UserId::new) }
    }

    /// The stored user a change writes over, if any.
    fn existing_of(change: &UserChange) -> Option<UserId> {
        if change.action == Action::Create { None } else { change.existing_id }
    }

    /// True when the change writes a new row.
    pub fn creates(&self) -> bool {
        Self::existing_of(self.change).is_none()
    }
}

/// How many rows of each kind a run staged: what applying must write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StagedCounts {
    pub creates: u64,
    pub updates: u64,
}

impl StagedCounts {
    pub fn add(&mut self, staged: &StagedChange<'_>) {
        if staged.creates() {
            self.creates += 1;
        } else {
            self.updates += 1;
        }
    }

    pub fn changes(&self) -> u64 {
        self.creates + self.updates
    }
}

/// The columns of a staged change, in bind order: the change's own, then
/// the user's imported fields as [`USER_FIELDS`] names them.
static CHANGE_COLUMNS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    let mut columns = vec!["run_id", "seq", "user_id", "existing_id", "action", "details", "anchor"];
    columns.extend(USER_FIELDS);
    columns.extend(["active", "fingerprint"]);
    columns
});

/// Rows per staging statement: far below every engine's parameter limit.
const CHANGES_PER_STATEMENT: usize = 200;
const ACCESSES_PER_STATEMENT: usize = 1000;

/// Rows deleted per transaction when a run's staged rows are cleared.
const CLEAR_ROWS_PER_TRANSACTION: i64 = 5000;

/// Stages `changes` of run `run`, numbered from `first_seq`, with the
/// accesses each user will hold. Call inside a (short) write transaction.
pub async fn stage(
    conn: &mut sqlx::AnyConnection,
    dialect: Dialect,
    run: Uuid,
    first_seq: i64,
    changes: &[StagedChange<'_>],
) -> Result<(), StoreError> {
    let run_text = run.to_string();
    for (n, some) in changes.chunks(CHANGES_PER_STATEMENT).enumerate() {
        let sql = multi_insert(dialect, "staged_changes", &CHANGE_COLUMNS, some.len());
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        let first = first_seq + (n * CHANGES_PER_STATEMENT) as i64;
        for (seq, staged) in (first..).zip(some) {
            let change = staged.change;
            let existing = StagedChange::existing_of(change);
            query = query
                .bind(run_text.clone())
                .bind(seq)
                .bind(staged.user_id.to_string())
                .bind(existing.map(|id| id.to_string()))
                .bind(roster_proto::admin::ChangeAction::from(change.action).as_str())
                .bind(details_json(&change.details))
                .bind(change.target.anchor.to_string());
            query = bind_fields(query, &change.target).bind(i64::from(change.target.active)).bind(change.target.fingerprint());
        }
        query.execute(&mut *conn).await?;
    }
    let accesses: Vec<(UserId, String)> = changes
        .iter()
        .flat_map(|staged| staged.change.target.accesses.iter().map(move |access| (staged.user_id, access.to_string())))
        .collect();
    for some in accesses.chunks(ACCESSES_PER_STATEMENT) {
        let sql = multi_insert(dialect, "staged_accesses", &["run_id", "user_id", "access_id"], some.len());
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (user, access) in some {
            query = query.bind(run_text.clone()).bind(user.to_string()).bind(access.clone());
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Writes a new user per staged creation: the imported fields, then id,
/// tenant, job, anchor and the times (`$1` the run, `$2` tenant, `$3` job,
/// `$4` now).
static INSERT_USERS: LazyLock<String> = LazyLock::new(|| {
    let fields = USER_FIELDS.join(", ");
    format!(
        "INSERT INTO users ({fields}, active, fingerprint, id, tenant_id, job_id, anchor, created_at, updated_at, deactivated_at)
         SELECT {fields}, active, fingerprint, user_id, $2, $3, anchor, $4, $4, CASE WHEN active = 1 THEN NULL ELSE $4 END
         FROM staged_changes WHERE run_id = $1 AND existing_id IS NULL"
    )
});

/// Overwrites each stored user a staged change names (`$1` the run, `$2`
/// now); a user deactivated earlier keeps when it was.
static UPDATE_USERS: LazyLock<String> = LazyLock::new(|| {
    let fields: Vec<String> = USER_FIELDS.iter().map(|field| format!("{field} = s.{field}")).collect();
    format!(
        "UPDATE users SET {}, active = s.active, fingerprint = s.fingerprint, updated_at = $2,
             deactivated_at = CASE WHEN s.active = 1 THEN NULL ELSE COALESCE(users.deactivated_at, $2) END
         FROM staged_changes s WHERE s.run_id = $1 AND s.existing_id IS NOT NULL AND users.id = s.existing_id",
        fields.join(", ")
    )
});

/// Applies run `run`'s staged changes to `job`'s users and records them as
/// `session`'s changes, inside the session's transaction. Fails, writing
/// nothing the caller commits, unless it writes exactly the rows `counts`
/// says were staged (a stored user gone meanwhile, a run staged twice).
pub async fn apply(
    conn: &mut sqlx::AnyConnection,
    run: Uuid,
    tenant: TenantId,
    job: JobId,
    session: SessionId,
    counts: StagedCounts,
) -> Result<(), StoreError> {
    let (run, now) = (run.to_string(), now_ms());
    let created =
        sqlx::query(INSERT_USERS.as_str()).bind(&run).bind(tenant.to_string()).bind(job.to_string()).bind(now).execute(&mut *conn).await?;
    let updated = sqlx::query(UPDATE_USERS.as_str()).bind(&run).bind(now).execute(&mut *conn).await?;
    if (created.rows_affected(), updated.rows_affected()) != (counts.creates, counts.updates) {
        return Err(StoreError::Corrupt {
            column: "staged_changes",
            detail: format!(
                "the run staged {} creations and {} updates but wrote {} and {}",
                counts.creates,
                counts.updates,
                created.rows_affected(),
                updated.rows_affected()
            ),
        });
    }
    sqlx::query(
        "DELETE FROM user_accesses WHERE user_id IN (SELECT existing_id FROM staged_changes WHERE run_id = $1 AND existing_id IS NOT NULL)",
    )
    .bind(&run)
    .execute(&mut *conn)
    .await?;
    sqlx::query("INSERT INTO user_accesses (user_id, access_id) SELECT user_id, access_id FROM staged_accesses WHERE run_id = $1")
        .bind(&run)
        .execute(&mut *conn)
        .await?;
    record(conn, &run, session, "user_id").await
}

/// Records run `run`'s staged changes as `session`'s held plan: a planned
/// creation names no user yet.
pub async fn record_as_plan(conn: &mut sqlx::AnyConnection, run: Uuid, session: SessionId) -> Result<(), StoreError> {
    record(conn, &run.to_string(), session, "existing_id").await
}

/// Copies the staged changes into `session_changes`, naming the user by
/// `user_column`.
async fn record(conn: &mut sqlx::AnyConnection, run: &str, session: SessionId, user_column: &'static str) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO session_changes (session_id, seq, user_id, object_guid, username, action, details)
         SELECT $2, seq, {user_column}, object_guid, username, action, details FROM staged_changes WHERE run_id = $1"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql)).bind(run).bind(session.to_string()).execute(&mut *conn).await?;
    Ok(())
}

/// Deletes run `run`'s staged rows, a bounded number per transaction.
/// Returns how many.
pub async fn clear(db: &Db, run: Uuid) -> Result<u64, StoreError> {
    let run = run.to_string();
    let mut deleted = 0;
    for (table, key) in [("staged_changes", "seq"), ("staged_accesses", "user_id, access_id")] {
        let sql = format!("DELETE FROM {table} WHERE run_id = $1 AND ({key}) IN (SELECT {key} FROM {table} WHERE run_id = $1 LIMIT $2)");
        loop {
            let result = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(&run)
                .bind(CLEAR_ROWS_PER_TRANSACTION)
                .execute(&mut *db.writer().await?)
                .await?;
            deleted += result.rows_affected();
            if result.rows_affected() < CLEAR_ROWS_PER_TRANSACTION as u64 {
                break;
            }
        }
    }
    Ok(deleted)
}

/// Runs with staged rows that no running session holds (a run that failed,
/// was interrupted, or lost its session): what housekeeping clears.
pub async fn abandoned_runs(db: &Db) -> Result<Vec<Uuid>, StoreError> {
    let rows = sqlx::query(
        "SELECT DISTINCT run_id FROM staged_changes
         WHERE run_id NOT IN (SELECT claim_token FROM sessions WHERE status = 'running' AND claim_token IS NOT NULL)
         UNION
         SELECT DISTINCT run_id FROM staged_accesses
         WHERE run_id NOT IN (SELECT claim_token FROM sessions WHERE status = 'running' AND claim_token IS NOT NULL)",
    )
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|row| {
            let run: String = row.try_get("run_id")?;
            run.parse().map_err(|e: uuid::Error| StoreError::Corrupt { column: "staged_changes.run_id", detail: e.to_string() })
        })
        .collect()
}
