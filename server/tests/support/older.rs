//! A database as an older server left it: the migrations before a version
//! applied, for upgrade tests (the hostile suite's and `tests/migrations.rs`,
//! which includes this file alone).

use roster_testkit::database::{Engine, TestDatabase};

/// A fresh database with the migrations before `version` applied, as an
/// older server left it, and a pool on it (close it before a server opens
/// the database).
pub async fn database_before_migration(engine: Engine, version: i64) -> (TestDatabase, sqlx::AnyPool) {
    let database = TestDatabase::create(engine).await;
    sqlx::any::install_default_drivers();
    let all = match engine {
        Engine::Sqlite => sqlx::migrate!("./migrations/sqlite"),
        Engine::Postgres => sqlx::migrate!("./migrations/postgres"),
    };
    let before = sqlx::migrate::Migrator::with_migrations(all.iter().filter(|m| m.version < version).cloned().collect());
    let url = if engine == Engine::Sqlite { format!("{}?mode=rwc", database.url) } else { database.url.clone() };
    let pool = sqlx::AnyPool::connect(&url).await.expect("open the database");
    before.run(&pool).await.expect("the older migrations");
    (database, pool)
}
