//! The PostgreSQL side of the bench: a fresh database per phase on the
//! server the caller names, a `CHECKPOINT` before each timed phase, and the
//! two baselines done by PostgreSQL's own bulk paths: `COPY ... FROM STDIN`
//! of exactly the rows the full import wrote, and `COPY (SELECT ...) TO
//! STDOUT` of exactly the rows a no-change re-import compares.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::TryStreamExt;
use roster_proto::JobId;
use sqlx::{AssertSqlSafe, Connection, PgConnection, Row};

use super::{COMPARED_ROWS, ImportedRows, PlainRead};

/// A database of the bench's own on a PostgreSQL server, dropped by
/// [`Database::remove`].
#[derive(Debug)]
pub struct Database {
    /// The server's URL the database was made through (its maintenance database).
    admin_url: String,
    name: String,
    /// What `Db::connect` takes.
    pub url: String,
}

impl Database {
    /// Creates database `name` (letters, digits and `_`) on the server at
    /// `admin_url`, dropping one of the same name left by an interrupted run.
    pub async fn create(admin_url: &str, name: &str) -> anyhow::Result<Database> {
        anyhow::ensure!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "bad database name {name:?}");
        let url = with_database(admin_url, name)?;
        let mut admin = PgConnection::connect(admin_url).await.with_context(|| format!("connecting to {}", redacted(admin_url)))?;
        sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}"))).execute(&mut admin).await?;
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .with_context(|| format!("creating database {name} (the URL's user needs CREATEDB)"))?;
        admin.close().await?;
        Ok(Database { admin_url: admin_url.to_owned(), name: name.to_owned(), url })
    }

    /// Drops the database (every pool on it closed first).
    pub async fn remove(self) -> anyhow::Result<()> {
        let mut admin = PgConnection::connect(&self.admin_url).await?;
        sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)))
            .execute(&mut admin)
            .await
            .with_context(|| format!("dropping database {}", self.name))?;
        Ok(())
    }

    async fn connect(&self) -> anyhow::Result<PgConnection> {
        PgConnection::connect(&self.url).await.with_context(|| format!("connecting to database {}", self.name))
    }

    /// Writes every dirty buffer to disk (`CHECKPOINT`), so the next timed
    /// phase does not pay for the previous phase's writes.
    pub async fn settle(&self) -> anyhow::Result<()> {
        let mut conn = self.connect().await?;
        sqlx::raw_sql("CHECKPOINT").execute(&mut conn).await.context("CHECKPOINT (the URL's user needs superuser or pg_checkpoint)")?;
        Ok(())
    }

    /// The database's size on disk (`pg_database_size`).
    pub async fn bytes(&self) -> anyhow::Result<u64> {
        let mut conn = self.connect().await?;
        let bytes: i64 = sqlx::query("SELECT pg_database_size(current_database())").fetch_one(&mut conn).await?.try_get(0)?;
        Ok(u64::try_from(bytes)?)
    }
}

/// `url` with its database (the path) replaced by `name`, its query kept.
fn with_database(url: &str, name: &str) -> anyhow::Result<String> {
    let (base, query) = url.split_once('?').map_or((url, None), |(base, query)| (base, Some(query)));
    let Some(authority) = base.find("://").map(|i| i + 3) else { bail!("{} is not a postgres:// URL", redacted(url)) };
    let path = base[authority..].find('/').map_or(base.len(), |i| authority + i);
    Ok(format!("{}/{name}{}", &base[..path], query.map(|q| format!("?{q}")).unwrap_or_default()))
}

/// `url` without its password, for messages.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => match url[scheme + 3..at].split_once(':') {
            Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
            None => url.to_owned(),
        },
        _ => url.to_owned(),
    }
}

/// The server's settings that decide how fast it writes: the same for the
/// import and both baselines (one server).
#[derive(Debug, Clone)]
pub struct Settings {
    version: String,
    fsync: String,
    synchronous_commit: String,
    shared_buffers: String,
    wal_level: String,
}

impl Settings {
    /// Reads them off `db`'s server.
    pub async fn read(db: &Database) -> anyhow::Result<Settings> {
        let mut conn = db.connect().await?;
        let mut show = async |name: &str| -> anyhow::Result<String> {
            Ok(sqlx::query("SELECT current_setting($1)").bind(name).fetch_one(&mut conn).await?.try_get(0)?)
        };
        Ok(Settings {
            version: show("server_version").await?,
            fsync: show("fsync").await?,
            synchronous_commit: show("synchronous_commit").await?,
            shared_buffers: show("shared_buffers").await?,
            wal_level: show("wal_level").await?,
        })
    }

    /// The server's version.
    pub fn version(&self) -> &str {
        &self.version
    }
}

impl std::fmt::Display for Settings {
    /// As PostgreSQL names them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "fsync {}, synchronous_commit {}, shared_buffers {}, wal_level {}, foreign keys checked",
            self.fsync, self.synchronous_commit, self.shared_buffers, self.wal_level
        )
    }
}

/// `value` as an SQL string literal.
fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// The read baseline: [`COMPARED_ROWS`], each as `COPY (SELECT ...) TO
/// STDOUT` in one repeatable-read transaction, every byte received and
/// its rows counted (a line each: COPY's text format escapes newlines
/// inside values).
pub async fn plain_read(db: &Database, job: JobId) -> anyhow::Result<PlainRead> {
    let mut conn = db.connect().await?;
    let job = job.to_string();
    let started = Instant::now();
    let mut tx = conn.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await?;
    let generation: String =
        sqlx::query("SELECT generation FROM directory_state WHERE job_id = $1").bind(&job).fetch_one(&mut *tx).await?.try_get(0)?;
    let mut bytes = 0u64;
    let mut counts = [0u64; COMPARED_ROWS.len()];
    for (count, (_, sql)) in counts.iter_mut().zip(COMPARED_ROWS) {
        // COPY takes no parameters: the two values are ours (ids), quoted.
        let select = sql.replace("$1", &literal(&job)).replace("$2", &literal(&generation));
        let mut out = tx.copy_out_raw(&format!("COPY ({select}) TO STDOUT")).await?;
        while let Some(data) = out.try_next().await? {
            bytes += data.len() as u64;
            *count += data.iter().filter(|&&b| b == b'\n').count() as u64;
        }
    }
    tx.commit().await?;
    let [groups, members, directory_users, stored_users] = counts;
    Ok(PlainRead { elapsed: started.elapsed(), groups, members, directory_users, stored_users, bytes })
}

/// The insert baseline: `rows` into `db` by `COPY ... FROM STDIN` (text
/// format), one per table, in one transaction; returns the time from
/// BEGIN to COMMIT. The COPY text is made before the clock starts, as a
/// bulk load reads it from a file.
pub async fn insert(db: &Database, rows: &ImportedRows) -> anyhow::Result<Duration> {
    let tables = [
        (
            "users (id, tenant_id, job_id, anchor, object_guid, username, user_principal_name, email, display_name, given_name, surname,
                    telephone_number, department, title, dn, active, fingerprint, deactivated_at, created_at, updated_at)",
            copy_text(rows.users.iter().map(|u| {
                vec![
                    Some(u.id.clone()),
                    Some(u.tenant_id.clone()),
                    Some(u.job_id.clone()),
                    Some(u.anchor.clone()),
                    Some(u.object_guid.clone()),
                    Some(u.username.clone()),
                    u.user_principal_name.clone(),
                    u.email.clone(),
                    u.display_name.clone(),
                    u.given_name.clone(),
                    u.surname.clone(),
                    u.telephone_number.clone(),
                    u.department.clone(),
                    u.title.clone(),
                    Some(u.dn.clone()),
                    Some(u.active.to_string()),
                    Some(u.fingerprint.clone()),
                    u.deactivated_at.map(|t| t.to_string()),
                    Some(u.created_at.to_string()),
                    Some(u.updated_at.to_string()),
                ]
            })),
        ),
        (
            "user_accesses (user_id, access_id)",
            copy_text(rows.grants.iter().map(|(user, access)| vec![Some(user.clone()), Some(access.clone())])),
        ),
        (
            "session_changes (session_id, seq, user_id, object_guid, username, action, details)",
            copy_text(rows.changes.iter().map(|c| {
                vec![
                    Some(c.session_id.clone()),
                    Some(c.seq.to_string()),
                    c.user_id.clone(),
                    Some(c.object_guid.clone()),
                    Some(c.username.clone()),
                    Some(c.action.clone()),
                    Some(c.details.clone()),
                ]
            })),
        ),
    ];
    let mut conn = db.connect().await?;
    let started = Instant::now();
    let mut tx = conn.begin().await?;
    for (table, text) in &tables {
        let mut copy = tx.copy_in_raw(&format!("COPY {table} FROM STDIN")).await?;
        // Sent in pieces of at most 1 MiB, as a client streams a file.
        for piece in text.chunks(1 << 20) {
            copy.send(piece).await?;
        }
        copy.finish().await.with_context(|| format!("COPY {}", table.split(' ').next().unwrap_or(table)))?;
    }
    tx.commit().await?;
    Ok(started.elapsed())
}

/// Rows in COPY's text format: tab-separated, `\N` for NULL, backslash,
/// tab, newline and carriage return escaped.
fn copy_text(rows: impl Iterator<Item = Vec<Option<String>>>) -> Vec<u8> {
    let mut text = Vec::new();
    for row in rows {
        for (i, value) in row.iter().enumerate() {
            if i > 0 {
                text.push(b'\t');
            }
            match value {
                None => text.extend_from_slice(b"\\N"),
                Some(value) => {
                    for &b in value.as_bytes() {
                        match b {
                            b'\\' => text.extend_from_slice(b"\\\\"),
                            b'\t' => text.extend_from_slice(b"\\t"),
                            b'\n' => text.extend_from_slice(b"\\n"),
                            b'\r' => text.extend_from_slice(b"\\r"),
                            _ => text.push(b),
                        }
                    }
                }
            }
        }
        text.push(b'\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_what_copy_would_misread() {
        let cases: [(Vec<Option<String>>, &str); 4] = [
            (vec![Some("a".into()), None], "a\t\\N\n"),
            (vec![Some("tab\there".into())], "tab\\there\n"),
            (vec![Some("back\\slash\nline\r".into())], "back\\\\slash\\nline\\r\n"),
            (vec![Some(String::new()), Some("ø".into())], "\tø\n"),
        ];
        for (row, want) in cases {
            assert_eq!(String::from_utf8(copy_text([row.clone()].into_iter())).unwrap(), want, "{row:?}");
        }
    }

    #[test]
    fn a_database_url_keeps_everything_but_its_database() {
        let cases = [
            ("postgres://postgres@127.0.0.1:55432/postgres", "postgres://postgres@127.0.0.1:55432/bench"),
            ("postgres://u:p@h/db?sslmode=disable", "postgres://u:p@h/bench?sslmode=disable"),
            ("postgresql://h:5432", "postgresql://h:5432/bench"),
        ];
        for (url, want) in cases {
            assert_eq!(with_database(url, "bench").unwrap(), want);
        }
        assert!(with_database("h:5432/db", "bench").is_err());
        assert_eq!(redacted("postgres://u:secret@h/db"), "postgres://u:***@h/db");
    }
}
