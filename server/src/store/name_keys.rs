//! Job and access names stored before migration 0003 kept themselves as
//! their key, since `roster_proto::name::name_key` (NFC, default-ignorable
//! characters removed) cannot be computed in SQL. Re-keyed here at
//! start-up, so that such a name and its look-alike cannot be two jobs.
//!
//! Idempotent: a row is re-keyed only while its key is not its name's, and
//! only if no other row holds that key. A row whose new key another holds
//! (two look-alike names stored before 0003, or one stored since) keeps its
//! old key: the row already holding the key keeps it (every look-up by that
//! name finds it), else the oldest takes it. Nothing is renamed or merged;
//! the row left is still reached by its id, and named in a warning at each
//! start until it is deleted.

use roster_proto::name::name_key;
use sqlx::Row;
use uuid::Uuid;

use super::page::PageQuery;
use super::{Db, StoreError};

/// Rows read, and re-keyed in one write transaction, at a time: the
/// writers' queue is held briefly, however many names there are.
pub const REKEY_BATCH_ROWS: u32 = 200;

/// A table of names and what its names are unique within.
#[derive(Debug, Clone, Copy)]
struct Table {
    name: &'static str,
    /// The condition, on `other` and the table's own row, of a row with
    /// whose key this row's may not be equal.
    same_scope: &'static str,
}

const TABLES: [Table; 2] = [
    Table { name: "jobs", same_scope: "other.tenant_id = jobs.tenant_id" },
    Table { name: "accesses", same_scope: "other.tenant_id = accesses.tenant_id AND other.kind = accesses.kind" },
];

/// What re-keying did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rekeyed {
    /// Rows given their name's key.
    pub rekeyed: u64,
    /// Rows left with their old key because another row holds the new one.
    pub collisions: Vec<Collision>,
}

/// A row whose name's key another row of its tenant (and kind) holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collision {
    pub table: &'static str,
    pub id: Uuid,
    /// The row holding the key.
    pub held_by: Uuid,
}

/// Gives every job and access its name's key where it lacks it.
pub async fn rekey_names(db: &Db) -> Result<Rekeyed, StoreError> {
    let mut done = Rekeyed::default();
    for table in TABLES {
        let mut after: Option<(i64, Uuid)> = None;
        loop {
            // A key equal to its name is 0003's default; a name keyed since
            // that differs from its key is keyed already.
            let select = format!("SELECT id, name, name_key, created_at FROM {} WHERE name_key = name", table.name);
            let (rows, next) = PageQuery::new(&select, Vec::new(), after, REKEY_BATCH_ROWS)
                .fetch(&db.pool, |row| {
                    Ok((super::get_id::<Uuid>(row, "id")?, row.try_get::<String, _>("name")?, row.try_get::<String, _>("name_key")?))
                })
                .await?;
            let stale: Vec<(Uuid, String, String)> = rows
                .into_iter()
                .filter(|(_, name, key)| name_key(name) != *key)
                .map(|(id, name, key)| (id, name_key(&name), key))
                .collect();
            if !stale.is_empty() {
                rekey_batch(db, table, &stale, &mut done).await?;
            }
            match next {
                Some(key) => after = Some(key),
                None => break,
            }
        }
    }
    Ok(done)
}

/// Re-keys `stale` (id, new key, old key) in one write transaction. On
/// PostgreSQL another replica starting at once may commit the same key
/// first (the unique index then refuses this transaction): the batch is
/// tried again, and then sees that row.
async fn rekey_batch(db: &Db, table: Table, stale: &[(Uuid, String, String)], done: &mut Rekeyed) -> Result<(), StoreError> {
    const ATTEMPTS: u32 = 3;
    let mut attempt = 1;
    loop {
        let mut batch = Rekeyed::default();
        match try_rekey_batch(db, table, stale, &mut batch).await {
            Err(StoreError::Sql(sqlx::Error::Database(e))) if e.is_unique_violation() && attempt < ATTEMPTS => attempt += 1,
            Err(e) => return Err(e),
            Ok(()) => {
                done.rekeyed += batch.rekeyed;
                done.collisions.extend(batch.collisions);
                return Ok(());
            }
        }
    }
}

async fn try_rekey_batch(db: &Db, table: Table, stale: &[(Uuid, String, String)], done: &mut Rekeyed) -> Result<(), StoreError> {
    let Table { name, same_scope } = table;
    let update = format!(
        "UPDATE {name} SET name_key = $1 WHERE id = $2 AND name_key = $3
           AND NOT EXISTS (SELECT 1 FROM {name} other WHERE {same_scope} AND other.name_key = $1)"
    );
    let holder = format!(
        "SELECT other.id FROM {name} other JOIN {name} ON {same_scope} WHERE {name}.id = $1 AND other.name_key = $2 AND other.id <> $1"
    );
    let mut tx = db.begin_write().await?;
    for (id, new_key, old_key) in stale {
        let updated = sqlx::query(sqlx::AssertSqlSafe(update.as_str()))
            .bind(new_key)
            .bind(id.to_string())
            .bind(old_key)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if updated == 1 {
            done.rekeyed += 1;
            continue;
        }
        // Not updated: another row holds the key, or the row changed meanwhile.
        let held = sqlx::query(sqlx::AssertSqlSafe(holder.as_str())).bind(id.to_string()).bind(new_key).fetch_optional(&mut *tx).await?;
        if let Some(row) = held {
            done.collisions.push(Collision { table: name, id: *id, held_by: super::get_id(&row, "id")? });
        }
    }
    tx.commit().await?;
    Ok(())
}
