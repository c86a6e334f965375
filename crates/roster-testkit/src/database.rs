//! A fresh database per test, on either engine: an SQLite file in a
//! temporary directory, or a new database on the PostgreSQL server named by
//! `ROSTER_TEST_POSTGRES_URL`.

use sqlx::Connection;

use crate::TempDir;

/// Which engine a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// A fresh, empty database, and what keeps it alive.
#[derive(Debug)]
pub struct TestDatabase {
    /// What `Db::connect` or `ROSTER_DATABASE_URL` takes.
    pub url: String,
    /// The SQLite file's directory, removed with it; `None` on PostgreSQL
    /// (a test's database is left on the throw-away server).
    _dir: Option<TempDir>,
}

impl TestDatabase {
    /// A fresh database on `engine`.
    pub async fn create(engine: Engine) -> TestDatabase {
        match engine {
            Engine::Sqlite => {
                let dir = TempDir::new("test");
                TestDatabase { url: format!("sqlite://{}/roster.db", dir.0.display()), _dir: Some(dir) }
            }
            Engine::Postgres => TestDatabase { url: fresh_postgres_database().await, _dir: None },
        }
    }
}

/// The PostgreSQL server for tests; failing, not skipping, when it is not set.
pub fn postgres_url() -> String {
    crate::env("ROSTER_TEST_POSTGRES_URL")
}

/// A fresh, empty database on the test PostgreSQL server; returns its URL.
pub async fn fresh_postgres_database() -> String {
    let admin_url = postgres_url();
    let name = format!("roster_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin_url).await.expect("connect to the test PostgreSQL server");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await.expect("create database");
    let (base, _) = admin_url.rsplit_once('/').expect("postgres URL has a database part");
    format!("{base}/{name}")
}
