//! The SQLite side of the bench: its files flushed and measured, and the
//! two baselines done through SQLite's own C API (`rusqlite`, on the very
//! libsqlite3-sys sqlx links), on connections set up as the import's is.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use roster_proto::JobId;
use roster_server::db::Db;
use sqlx::Row;

use super::{COMPARED_ROWS, ImportedRows, PlainRead};

/// The URL `Db::connect` takes for an SQLite file.
pub fn url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// The database file and its WAL.
fn files(db: &Path) -> [PathBuf; 2] {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    [db.to_owned(), PathBuf::from(wal)]
}

/// Flushes an SQLite database's files (the database and its WAL) to disk,
/// so the next timed phase does not pay for the previous phase's writes.
pub fn settle(db: &Path) -> anyhow::Result<()> {
    for path in files(db) {
        if path.exists() {
            std::fs::File::open(&path).and_then(|f| f.sync_all()).with_context(|| format!("flushing {}", path.display()))?;
        }
    }
    Ok(())
}

/// An SQLite database's bytes on disk: the file and its WAL, if any.
pub fn bytes(db: &Path) -> anyhow::Result<u64> {
    let [file, wal] = files(db);
    let mut bytes = std::fs::metadata(&file).with_context(|| format!("reading the size of {}", file.display()))?.len();
    if let Ok(meta) = std::fs::metadata(wal) {
        bytes += meta.len();
    }
    Ok(bytes)
}

/// How the import's SQLite connection is set up (by `Db::connect`), so the
/// baselines' connections are set up the same: the same journal mode,
/// durability and page cache, foreign keys checked.
#[derive(Debug, Clone)]
pub struct Pragmas {
    journal_mode: String,
    synchronous: i64,
    cache_size: i64,
}

impl Pragmas {
    /// Reads them from the import database's connection.
    pub async fn read(db: &Db) -> anyhow::Result<Pragmas> {
        let mut conn = db.pool.acquire().await?;
        let journal_mode: String = sqlx::query("PRAGMA journal_mode").fetch_one(&mut *conn).await?.try_get(0)?;
        let synchronous: i64 = sqlx::query("PRAGMA synchronous").fetch_one(&mut *conn).await?.try_get(0)?;
        let cache_size: i64 = sqlx::query("PRAGMA cache_size").fetch_one(&mut *conn).await?.try_get(0)?;
        anyhow::ensure!(journal_mode.chars().all(|c| c.is_ascii_alphabetic()), "unexpected journal mode {journal_mode:?}");
        Ok(Pragmas { journal_mode, synchronous, cache_size })
    }

    /// Opens `path` through SQLite's C API, set up the same way.
    pub fn open(&self, path: &Path) -> anyhow::Result<rusqlite::Connection> {
        let conn = rusqlite::Connection::open(path).with_context(|| format!("opening {} with rusqlite", path.display()))?;
        let mode: String = conn.query_row(&format!("PRAGMA journal_mode = {}", self.journal_mode), [], |row| row.get(0))?;
        anyhow::ensure!(mode.eq_ignore_ascii_case(&self.journal_mode), "journal mode {mode}, not {}", self.journal_mode);
        conn.execute_batch(&format!(
            "PRAGMA synchronous = {}; PRAGMA cache_size = {}; PRAGMA foreign_keys = ON;",
            self.synchronous, self.cache_size
        ))?;
        Ok(conn)
    }
}

impl std::fmt::Display for Pragmas {
    /// As SQLite names them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let synchronous = match self.synchronous {
            0 => "OFF",
            1 => "NORMAL",
            2 => "FULL",
            3 => "EXTRA",
            _ => "?",
        };
        write!(
            f,
            "journal_mode {}, synchronous {synchronous}, cache_size {}, foreign_keys on",
            self.journal_mode.to_ascii_lowercase(),
            self.cache_size
        )
    }
}

/// The read baseline: reads [`COMPARED_ROWS`] in one read transaction
/// through SQLite's C API, touching every column's bytes and parsing
/// nothing.
pub fn plain_read(conn: &rusqlite::Connection, job: JobId) -> anyhow::Result<PlainRead> {
    let job = job.to_string();
    let started = Instant::now();
    let tx = conn.unchecked_transaction()?;
    let generation: String = tx.query_row("SELECT generation FROM directory_state WHERE job_id = ?1", [&job], |row| row.get(0))?;
    let mut bytes = 0u64;
    let mut counts = [0u64; COMPARED_ROWS.len()];
    for (count, (_, sql)) in counts.iter_mut().zip(COMPARED_ROWS) {
        let mut statement = tx.prepare(sql)?;
        let columns = statement.column_count();
        let params: [&dyn rusqlite::ToSql; 2] = [&job, &generation];
        let mut rows = statement.query(&params[..statement.parameter_count()])?;
        while let Some(row) = rows.next()? {
            *count += 1;
            for column in 0..columns {
                bytes += match row.get_ref(column)? {
                    rusqlite::types::ValueRef::Null => 0,
                    rusqlite::types::ValueRef::Integer(_) | rusqlite::types::ValueRef::Real(_) => 8,
                    rusqlite::types::ValueRef::Text(b) | rusqlite::types::ValueRef::Blob(b) => b.len() as u64,
                };
            }
        }
    }
    tx.commit()?;
    let [groups, members, directory_users, stored_users] = counts;
    Ok(PlainRead { elapsed: started.elapsed(), groups, members, directory_users, stored_users, bytes })
}

/// The insert baseline: every row of `rows` through SQLite's C API, one
/// prepared INSERT per table, in one `BEGIN IMMEDIATE` transaction;
/// returns the time from BEGIN to COMMIT.
pub fn insert(conn: &mut rusqlite::Connection, rows: &ImportedRows) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    {
        let mut users = tx.prepare(
            "INSERT INTO users (id, tenant_id, job_id, anchor, object_guid, username, user_principal_name, email, display_name,
                 given_name, surname, telephone_number, department, title, dn, active, fingerprint, deactivated_at, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
        )?;
        for u in &rows.users {
            users.execute(rusqlite::params![
                u.id,
                u.tenant_id,
                u.job_id,
                u.anchor,
                u.object_guid,
                u.username,
                u.user_principal_name,
                u.email,
                u.display_name,
                u.given_name,
                u.surname,
                u.telephone_number,
                u.department,
                u.title,
                u.dn,
                u.active,
                u.fingerprint,
                u.deactivated_at,
                u.created_at,
                u.updated_at,
            ])?;
        }
        let mut grants = tx.prepare("INSERT INTO user_accesses (user_id, access_id) VALUES (?1, ?2)")?;
        for (user, access) in &rows.grants {
            grants.execute((user, access))?;
        }
        let mut changes = tx.prepare(
            "INSERT INTO session_changes (session_id, seq, user_id, object_guid, username, action, details) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        for c in &rows.changes {
            changes.execute((&c.session_id, c.seq, &c.user_id, &c.object_guid, &c.username, &c.action, &c.details))?;
        }
    }
    tx.commit()?;
    Ok(started.elapsed())
}
