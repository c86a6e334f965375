//! The database handle: one `sqlx` Any pool over SQLite (embedded default)
//! or PostgreSQL (scale-out), the migrations for each, and the few places
//! where their SQL differs.
//!
//! Every query in `store` is written once, with `$N` placeholders, which
//! both drivers accept. Only the schema (types) and the way a write
//! transaction starts differ, and both are here.
//!
//! SQLite has one writer. Its busy handler sleeps and polls, so a client
//! looping writes can starve everyone else; here writers instead queue in
//! one in-process FIFO ([`Db::begin_write`], [`Db::writer`]) and SQLite's
//! lock is only ever contended by another process.

use std::ops::{Deref, DerefMut};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Executor, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

/// Which engine the URL named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// `rows` tuples of `width` bind placeholders, `(.., ..), (.., ..)`,
    /// for a statement whose parameters are exactly these, bound in order.
    /// PostgreSQL's are numbered (`$1`, `$2`, …). SQLite's are plain `?`:
    /// SQLite keeps a named parameter (`$n`, `?n`) in a list it walks on
    /// every name lookup, and sqlx looks up each parameter's name as it
    /// binds, so n named parameters cost n² steps (a 200-row staging
    /// statement has 3,800; that walk was the largest part of a full
    /// import's CPU). A plain `?` has no name: binding stays linear.
    pub fn tuples(self, rows: usize, width: usize) -> String {
        let mut text = String::with_capacity(rows * width * 4);
        for row in 0..rows {
            text.push_str(if row == 0 { "(" } else { ", (" });
            for column in 0..width {
                if column > 0 {
                    text.push_str(", ");
                }
                match self {
                    Dialect::Sqlite => text.push('?'),
                    Dialect::Postgres => {
                        use std::fmt::Write as _;
                        let _ = write!(text, "${}", row * width + column + 1);
                    }
                }
            }
            text.push(')');
        }
        text
    }

    /// A parenthesised list of `count` placeholders for a statement's
    /// parameters `first..first + count` (1-based), for `IN (…)`: numbered
    /// on PostgreSQL, plain `?` on SQLite (bound in order, as [`Dialect::tuples`]).
    pub fn list(self, first: usize, count: usize) -> String {
        let items: Vec<String> = (first..first + count).map(|n| self.param(n)).collect();
        format!("({})", items.join(", "))
    }

    /// The placeholder of a statement's `n`th parameter (1-based) in a
    /// statement bound in order, as [`Dialect::list`]'s: `$n` on
    /// PostgreSQL, `?` on SQLite.
    pub fn param(self, n: usize) -> String {
        match self {
            Dialect::Sqlite => "?".to_owned(),
            Dialect::Postgres => format!("${n}"),
        }
    }
}

/// The pool and its dialect; cheap to clone.
#[derive(Debug, Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub dialect: Dialect,
    /// SQLite's writers, in arrival order: tokio's mutex is fair (FIFO), so
    /// every writer gets its turn after those already waiting, and waiting
    /// writers hold no pool connection. PostgreSQL has none (row locks).
    writer: Option<Arc<Mutex<()>>>,
    /// The longest any write has held the writer, in microseconds (see
    /// [`Db::take_longest_write`]): a cheap, always-on measure of the
    /// wait one write can cause every other.
    longest_write_micros: Arc<AtomicU64>,
}

/// A write's turn as the writer, and since when it holds it; on drop (the
/// write's end) the time held is recorded if it is the longest yet.
#[derive(Debug)]
struct Held {
    _turn: Option<OwnedMutexGuard<()>>,
    since: Instant,
    longest_micros: Arc<AtomicU64>,
}

impl Drop for Held {
    fn drop(&mut self) {
        let micros = u64::try_from(self.since.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.longest_micros.fetch_max(micros, Ordering::Relaxed);
    }
}

/// A write transaction holding its turn as SQLite's writer until it ends.
/// Derefs to the connection, like a `Transaction`.
#[derive(Debug)]
pub struct WriteTx {
    tx: Transaction<'static, Any>,
    _held: Held,
}

impl WriteTx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

impl Deref for WriteTx {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.tx
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }
}

/// A pool connection for one auto-committed write statement, holding the
/// writer's turn (see [`Db::writer`]).
#[derive(Debug)]
pub struct WriteConn {
    conn: PoolConnection<Any>,
    _held: Held,
}

impl Deref for WriteConn {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.conn
    }
}

impl DerefMut for WriteConn {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }
}

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database URL must start with sqlite: or postgres:// (got `{0}`)")]
    UnsupportedUrl(String),
    #[error("could not create the directory for the SQLite file {path}: {source}")]
    CreateDir { path: String, source: std::io::Error },
    #[error("could not connect to the database: {0}")]
    Connect(sqlx::Error),
    #[error("could not run migrations: {0}")]
    Migrate(sqlx::migrate::MigrateError),
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Db {
    /// Opens the database at `url`, creating an SQLite file (and its
    /// directory) if needed, and runs migrations.
    pub async fn connect(url: &str) -> Result<Db, DbError> {
        sqlx::any::install_default_drivers();
        let dialect = if url.starts_with("sqlite:") {
            Dialect::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Dialect::Postgres
        } else {
            return Err(DbError::UnsupportedUrl(redact_url(url)));
        };
        let url = match dialect {
            Dialect::Sqlite => prepare_sqlite_url(url)?,
            Dialect::Postgres => url.to_owned(),
        };
        let options = AnyConnectOptions::from_str(&url).map_err(DbError::Connect)?;
        let pool = AnyPoolOptions::new()
            .max_connections(match dialect {
                Dialect::Sqlite => 8,
                Dialect::Postgres => 16,
            })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if dialect == Dialect::Sqlite {
                        // A 16 MiB page cache per connection (8 connections: 128 MiB at most). Imports read a
                        // job's whole state, far more than any cache holds, through the OS's page cache; a
                        // larger cache per connection bought no speed (bench-import) and, each write
                        // connection filling its own, doubled an import's RSS.
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA cache_size = -16384;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(DbError::Connect)?;
        let migrator = match dialect {
            Dialect::Sqlite => &SQLITE_MIGRATIONS,
            Dialect::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&pool).await.map_err(DbError::Migrate)?;
        let writer = (dialect == Dialect::Sqlite).then(|| Arc::new(Mutex::new(())));
        Ok(Db { pool, dialect, writer, longest_write_micros: Arc::default() })
    }

    /// The longest a write transaction or statement held the writer (on
    /// SQLite its turn in the queue, on PostgreSQL its transaction) since
    /// the last call, and starts measuring afresh.
    pub fn take_longest_write(&self) -> Duration {
        Duration::from_micros(self.longest_write_micros.swap(0, Ordering::Relaxed))
    }

    /// Waits for this process's turn as SQLite's writer (FIFO); nothing on
    /// PostgreSQL.
    async fn turn(&self) -> Held {
        let turn = match &self.writer {
            Some(writer) => Some(Arc::clone(writer).lock_owned().await),
            None => None,
        };
        Held { _turn: turn, since: Instant::now(), longest_micros: Arc::clone(&self.longest_write_micros) }
    }

    /// Starts a transaction that will write. On SQLite it waits for its
    /// turn in the writers' queue, then takes the write lock up front
    /// (`BEGIN IMMEDIATE`) so it never fails upgrading from reading to
    /// writing. Keep write transactions short: every other writer waits.
    pub async fn begin_write(&self) -> Result<WriteTx, sqlx::Error> {
        let turn = self.turn().await;
        let tx = match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Dialect::Postgres => self.pool.begin().await?,
        };
        Ok(WriteTx { tx, _held: turn })
    }

    /// Starts a transaction that only reads, from one consistent snapshot
    /// of the database however long it lasts: on SQLite (WAL) a deferred
    /// transaction reads as of its first statement; on PostgreSQL
    /// `REPEATABLE READ` does. It holds no writer's turn and blocks no
    /// writer.
    pub async fn begin_read(&self) -> Result<Transaction<'static, Any>, sqlx::Error> {
        match self.dialect {
            Dialect::Sqlite => self.pool.begin().await,
            Dialect::Postgres => self.pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await,
        }
    }

    /// A connection for one auto-committed write statement, taken in turn
    /// with the write transactions (on SQLite).
    pub async fn writer(&self) -> Result<WriteConn, sqlx::Error> {
        let turn = self.turn().await;
        Ok(WriteConn { conn: self.pool.acquire().await?, _held: turn })
    }
}

/// `sqlite:path` with `mode=rwc` so the file is created, and its directory made.
fn prepare_sqlite_url(url: &str) -> Result<String, DbError> {
    let rest = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let dir = std::path::Path::new(path).parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir.filter(|_| path != ":memory:") {
        std::fs::create_dir_all(dir).map_err(|source| DbError::CreateDir { path: path.to_owned(), source })?;
    }
    let query = if query.contains("mode=") {
        query.to_owned()
    } else if query.is_empty() {
        "mode=rwc".to_owned()
    } else {
        format!("{query}&mode=rwc")
    };
    Ok(format!("sqlite://{path}?{query}"))
}

/// The URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuples_number_postgres_parameters_and_leave_sqlites_unnamed() {
        let cases = [
            (Dialect::Postgres, 2, 3, "($1, $2, $3), ($4, $5, $6)"),
            (Dialect::Sqlite, 2, 3, "(?, ?, ?), (?, ?, ?)"),
            (Dialect::Postgres, 1, 1, "($1)"),
            (Dialect::Sqlite, 1, 1, "(?)"),
            (Dialect::Postgres, 3, 1, "($1), ($2), ($3)"),
            (Dialect::Postgres, 0, 4, ""),
            (Dialect::Sqlite, 0, 4, ""),
        ];
        for (dialect, rows, width, expected) in cases {
            assert_eq!(dialect.tuples(rows, width), expected, "{dialect:?} {rows} x {width}");
        }
    }

    #[test]
    fn lists_number_from_their_first_parameter() {
        let cases = [(Dialect::Postgres, 3, 2, "($3, $4)"), (Dialect::Sqlite, 3, 2, "(?, ?)"), (Dialect::Postgres, 1, 1, "($1)")];
        for (dialect, first, count, expected) in cases {
            assert_eq!(dialect.list(first, count), expected, "{dialect:?} {first} {count}");
        }
    }

    #[test]
    fn sqlite_urls_create_their_file() {
        assert_eq!(prepare_sqlite_url("sqlite:").unwrap(), "sqlite://?mode=rwc");
        assert_eq!(prepare_sqlite_url("sqlite::memory:").unwrap(), "sqlite://:memory:?mode=rwc");
        assert_eq!(prepare_sqlite_url("sqlite://x.db?mode=ro").unwrap(), "sqlite://x.db?mode=ro");
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact_url("postgres://roster:s3cret@db:5432/roster"), "postgres://roster:***@db:5432/roster");
        assert_eq!(redact_url("sqlite://roster.db"), "sqlite://roster.db");
    }
}
