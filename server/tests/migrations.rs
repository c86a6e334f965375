//! The SQLite and PostgreSQL migrations describe the same schema: the real
//! migrations are run (through `Db::connect`) on a fresh database of each
//! engine, both catalogues are read into one plain-data [`Schema`], and the
//! two are compared. The comparison is a pure function, tested here with
//! cases that must fail, so the check provably can.
//!
//! What is compared: tables; columns (name, nullability, type family);
//! primary keys; unique constraints (by columns: their names are the
//! engines' own); indexes (name, table, columns, uniqueness, and the
//! predicate of a partial index). Where the dialects differ on purpose, the
//! description is normalised, and each normalisation is named here:
//!
//! - types compare by family: SQLite's `INTEGER` and PostgreSQL's `BIGINT`
//!   are both integers, `BLOB` and `BYTEA` both bytes;
//! - a primary-key column counts as NOT NULL: PostgreSQL enforces it, while
//!   SQLite (for historical reasons) only does for `INTEGER PRIMARY KEY`, so
//!   its catalogue says "nullable" for a `TEXT PRIMARY KEY` column;
//! - a partial index's predicate compares without PostgreSQL's casts and
//!   parentheses (`((status)::text = 'running'::text)` is `status = 'running'`).
//!
//! Not compared: defaults, CHECK constraints, foreign keys, column order.

// A failed unwrap is a failed test, which is what we want here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};

use roster_server::db::Db;
use roster_testkit::database::{Engine, TestDatabase};
use sqlx::{Connection, Row};

#[path = "support/older.rs"]
mod older;

/// A column's type, as far as both engines agree on it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Family {
    Integer,
    Text,
    Bytes,
    Bool,
    Time,
    /// A type neither engine is expected to use here, kept as declared.
    Other(String),
}

/// One column: whether it accepts NULL and its type family.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Column {
    nullable: bool,
    family: Family,
}

/// One table: its columns by name, its primary key and its unique constraints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Table {
    columns: BTreeMap<String, Column>,
    primary_key: Vec<String>,
    unique: BTreeSet<Vec<String>>,
}

/// One index declared with `CREATE [UNIQUE] INDEX` (not those the engines
/// make for primary keys and unique constraints).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Index {
    table: String,
    columns: Vec<String>,
    unique: bool,
    /// The normalised `WHERE` of a partial index.
    predicate: Option<String>,
}

/// A database's schema as plain data, the same shape for both engines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Schema {
    tables: BTreeMap<String, Table>,
    indexes: BTreeMap<String, Index>,
}

/// The type family of a declared SQLite type or a PostgreSQL `data_type`.
fn family(declared: &str) -> Family {
    let lower = declared.trim().to_ascii_lowercase();
    match lower.as_str() {
        "integer" | "int" | "bigint" | "smallint" | "int2" | "int4" | "int8" => Family::Integer,
        "text" | "character varying" | "varchar" | "character" | "char" => Family::Text,
        "blob" | "bytea" => Family::Bytes,
        "boolean" | "bool" => Family::Bool,
        _ if lower.starts_with("timestamp") || lower.starts_with("time") || lower == "date" => Family::Time,
        _ if lower.starts_with("varchar") || lower.starts_with("character varying") => Family::Text,
        _ => Family::Other(lower),
    }
}

/// A partial index's predicate without casts, parentheses, case or spacing differences.
fn normalise_predicate(predicate: &str) -> String {
    // Keywords and identifiers fold to lower case; quoted literals keep theirs.
    let mut quoted = false;
    let mut text: String = predicate
        .chars()
        .map(|c| {
            quoted ^= c == '\'';
            if quoted { c } else { c.to_ascii_lowercase() }
        })
        .collect();
    // PostgreSQL writes `'running'::text` and `(status)::text`.
    text = text.replace("::character varying", "");
    while let Some(at) = text.find("::") {
        let end = text[at + 2..].find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).map_or(text.len(), |n| at + 2 + n);
        text.replace_range(at..end, "");
    }
    let text: String = text.chars().filter(|c| *c != '(' && *c != ')').collect();
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Every way `postgres` differs from `sqlite`, one readable line each;
/// empty when they describe the same schema.
fn differences(sqlite: &Schema, postgres: &Schema) -> Vec<String> {
    let mut out = Vec::new();
    for name in keys(&sqlite.tables, &postgres.tables) {
        match (sqlite.tables.get(name), postgres.tables.get(name)) {
            (Some(s), Some(p)) => table_differences(name, s, p, &mut out),
            (Some(_), None) => out.push(format!("table {name}: only in SQLite")),
            (None, _) => out.push(format!("table {name}: only in PostgreSQL")),
        }
    }
    for name in keys(&sqlite.indexes, &postgres.indexes) {
        match (sqlite.indexes.get(name), postgres.indexes.get(name)) {
            (Some(s), Some(p)) => index_differences(name, s, p, &mut out),
            (Some(s), None) => out.push(format!("index {name} on {}: only in SQLite", s.table)),
            (None, Some(p)) => out.push(format!("index {name} on {}: only in PostgreSQL", p.table)),
            (None, None) => {}
        }
    }
    out
}

fn table_differences(name: &str, sqlite: &Table, postgres: &Table, out: &mut Vec<String>) {
    for column in keys(&sqlite.columns, &postgres.columns) {
        match (sqlite.columns.get(column), postgres.columns.get(column)) {
            (Some(s), Some(p)) => {
                if s.nullable != p.nullable {
                    let null = |c: &Column| if c.nullable { "nullable" } else { "NOT NULL" };
                    out.push(format!("table {name}: column {column} is {} in SQLite, {} in PostgreSQL", null(s), null(p)));
                }
                if s.family != p.family {
                    out.push(format!("table {name}: column {column} is {:?} in SQLite, {:?} in PostgreSQL", s.family, p.family));
                }
            }
            (Some(_), None) => out.push(format!("table {name}: column {column} only in SQLite")),
            (None, _) => out.push(format!("table {name}: column {column} only in PostgreSQL")),
        }
    }
    if sqlite.primary_key != postgres.primary_key {
        out.push(format!(
            "table {name}: primary key ({}) in SQLite, ({}) in PostgreSQL",
            sqlite.primary_key.join(", "),
            postgres.primary_key.join(", ")
        ));
    }
    for columns in sqlite.unique.difference(&postgres.unique) {
        out.push(format!("table {name}: UNIQUE ({}) only in SQLite", columns.join(", ")));
    }
    for columns in postgres.unique.difference(&sqlite.unique) {
        out.push(format!("table {name}: UNIQUE ({}) only in PostgreSQL", columns.join(", ")));
    }
}

fn index_differences(name: &str, sqlite: &Index, postgres: &Index, out: &mut Vec<String>) {
    if sqlite.table != postgres.table {
        out.push(format!("index {name}: on {} in SQLite, on {} in PostgreSQL", sqlite.table, postgres.table));
    }
    if sqlite.columns != postgres.columns {
        out.push(format!(
            "index {name}: columns ({}) in SQLite, ({}) in PostgreSQL",
            sqlite.columns.join(", "),
            postgres.columns.join(", ")
        ));
    }
    if sqlite.unique != postgres.unique {
        let unique = |i: &Index| if i.unique { "unique" } else { "not unique" };
        out.push(format!("index {name}: {} in SQLite, {} in PostgreSQL", unique(sqlite), unique(postgres)));
    }
    match (&sqlite.predicate, &postgres.predicate) {
        (Some(s), Some(p)) if s != p => out.push(format!("index {name}: WHERE {s} in SQLite, WHERE {p} in PostgreSQL")),
        (Some(s), None) => out.push(format!("index {name}: partial (WHERE {s}) only in SQLite")),
        (None, Some(p)) => out.push(format!("index {name}: partial (WHERE {p}) only in PostgreSQL")),
        _ => {}
    }
}

/// The union of two maps' keys, in order.
fn keys<'a, V>(a: &'a BTreeMap<String, V>, b: &'a BTreeMap<String, V>) -> BTreeSet<&'a String> {
    a.keys().chain(b.keys()).collect()
}

/// Primary-key columns are NOT NULL (see the file's comment).
fn primary_key_not_null(schema: &mut Schema) {
    for table in schema.tables.values_mut() {
        for name in &table.primary_key {
            if let Some(column) = table.columns.get_mut(name) {
                column.nullable = false;
            }
        }
    }
}

/// Tables that are not Roster's own.
fn is_ours(table: &str) -> bool {
    table != "_sqlx_migrations" && !table.starts_with("sqlite_")
}

/// Reads an SQLite database's catalogue (`sqlite_master` and the `pragma_*` functions).
async fn sqlite_schema(url: &str) -> Schema {
    let mut conn = sqlx::SqliteConnection::connect(url).await.expect("open the SQLite file");
    let mut schema = Schema::default();
    let tables: Vec<String> = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .fetch_all(&mut conn)
        .await
        .expect("list SQLite tables");
    for name in tables.into_iter().filter(|t| is_ours(t)) {
        let mut table = Table::default();
        let mut primary_key = Vec::new();
        for row in sqlx::query("SELECT name, type, \"notnull\", pk FROM pragma_table_info($1)")
            .bind(&name)
            .fetch_all(&mut conn)
            .await
            .expect("table info")
        {
            let column: String = row.get(0);
            let declared: String = row.get(1);
            let not_null: i64 = row.get(2);
            let pk: i64 = row.get(3);
            if pk > 0 {
                primary_key.push((pk, column.clone()));
            }
            table.columns.insert(column, Column { nullable: not_null == 0, family: family(&declared) });
        }
        primary_key.sort();
        table.primary_key = primary_key.into_iter().map(|(_, c)| c).collect();
        let indexes = sqlx::query("SELECT name, origin, \"unique\" FROM pragma_index_list($1)")
            .bind(&name)
            .fetch_all(&mut conn)
            .await
            .expect("index list");
        for row in indexes {
            let index: String = row.get(0);
            let origin: String = row.get(1);
            let unique: i64 = row.get(2);
            let columns: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_index_info($1) ORDER BY seqno")
                .bind(&index)
                .fetch_all(&mut conn)
                .await
                .expect("index info");
            match origin.as_str() {
                "u" => {
                    table.unique.insert(columns);
                }
                "c" => {
                    let sql: String = sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = $1")
                        .bind(&index)
                        .fetch_one(&mut conn)
                        .await
                        .expect("index SQL");
                    let predicate = split_where(&sql).map(normalise_predicate);
                    schema.indexes.insert(index, Index { table: name.clone(), columns, unique: unique == 1, predicate });
                }
                // The primary key's own index, already described by `pk` above.
                _ => {}
            }
        }
        schema.tables.insert(name, table);
    }
    primary_key_not_null(&mut schema);
    schema
}

/// Reads a PostgreSQL database's catalogue (`information_schema` and `pg_indexes`).
async fn postgres_schema(url: &str) -> Schema {
    let mut conn = sqlx::PgConnection::connect(url).await.expect("connect to the PostgreSQL database");
    let mut schema = Schema::default();
    let columns = sqlx::query(
        "SELECT table_name::text, column_name::text, is_nullable::text, data_type::text FROM information_schema.columns \
         WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position",
    )
    .fetch_all(&mut conn)
    .await
    .expect("list PostgreSQL columns");
    for row in columns {
        let table: String = row.get(0);
        if !is_ours(&table) {
            continue;
        }
        let nullable: String = row.get(2);
        let declared: String = row.get(3);
        let column = Column { nullable: nullable == "YES", family: family(&declared) };
        schema.tables.entry(table).or_default().columns.insert(row.get(1), column);
    }
    let constraints = sqlx::query(
        "SELECT tc.table_name::text, tc.constraint_name::text, tc.constraint_type::text, kcu.column_name::text \
         FROM information_schema.table_constraints tc \
         JOIN information_schema.key_column_usage kcu \
           ON kcu.constraint_schema = tc.constraint_schema AND kcu.constraint_name = tc.constraint_name AND kcu.table_name = tc.table_name \
         WHERE tc.table_schema = current_schema() AND tc.constraint_type IN ('PRIMARY KEY', 'UNIQUE') \
         ORDER BY tc.table_name, tc.constraint_name, kcu.ordinal_position",
    )
    .fetch_all(&mut conn)
    .await
    .expect("list PostgreSQL constraints");
    // (table, constraint) -> (kind, columns in key order)
    let mut keyed: BTreeMap<(String, String), (String, Vec<String>)> = BTreeMap::new();
    for row in constraints {
        let entry = keyed.entry((row.get(0), row.get(1))).or_insert_with(|| (row.get(2), Vec::new()));
        entry.1.push(row.get(3));
    }
    let constraint_names: BTreeSet<String> = keyed.keys().map(|(_, name)| name.clone()).collect();
    for ((table, _), (kind, columns)) in keyed {
        if !is_ours(&table) {
            continue;
        }
        let table = schema.tables.entry(table).or_default();
        if kind == "PRIMARY KEY" {
            table.primary_key = columns;
        } else {
            table.unique.insert(columns);
        }
    }
    let indexes = sqlx::query("SELECT tablename::text, indexname::text, indexdef FROM pg_indexes WHERE schemaname = current_schema()")
        .fetch_all(&mut conn)
        .await
        .expect("list PostgreSQL indexes");
    for row in indexes {
        let table: String = row.get(0);
        let name: String = row.get(1);
        let definition: String = row.get(2);
        // Indexes behind a primary key or unique constraint carry its name.
        if !is_ours(&table) || constraint_names.contains(&name) {
            continue;
        }
        schema.indexes.insert(name, parse_postgres_index(table, &definition));
    }
    primary_key_not_null(&mut schema);
    schema
}

/// `CREATE [UNIQUE] INDEX name ON public.t USING btree (a, b) [WHERE ...]` as an [`Index`].
fn parse_postgres_index(table: String, definition: &str) -> Index {
    let unique = definition.starts_with("CREATE UNIQUE INDEX");
    let (head, predicate) = match split_where(definition) {
        Some(predicate) => (&definition[..definition.len() - predicate.len()], Some(normalise_predicate(predicate))),
        None => (definition, None),
    };
    let open = head
        .find(" USING ")
        .and_then(|at| head[at..].find('(').map(|n| at + n))
        .unwrap_or_else(|| panic!("no column list in `{definition}`"));
    let close = head.rfind(')').unwrap_or_else(|| panic!("no column list in `{definition}`"));
    let columns = head[open + 1..close].split(',').map(|c| c.trim().trim_matches('"').to_owned()).collect();
    Index { table, columns, unique, predicate }
}

/// The text after an index definition's ` WHERE `, if it has one.
fn split_where(sql: &str) -> Option<&str> {
    let at = sql.to_ascii_uppercase().find(" WHERE ")?;
    Some(sql[at + " WHERE ".len()..].trim())
}

#[tokio::test]
async fn sqlite_and_postgres_migrations_describe_the_same_schema() {
    let sqlite_database = TestDatabase::create(Engine::Sqlite).await;
    Db::connect(&sqlite_database.url).await.expect("migrate SQLite");
    let postgres_database = TestDatabase::create(Engine::Postgres).await;
    Db::connect(&postgres_database.url).await.expect("migrate PostgreSQL");

    let sqlite = sqlite_schema(&sqlite_database.url).await;
    let postgres = postgres_schema(&postgres_database.url).await;
    assert!(sqlite.tables.len() > 10, "read too few SQLite tables: {sqlite:#?}");
    assert!(!sqlite.indexes.is_empty(), "read no SQLite index: {sqlite:#?}");
    let differences = differences(&sqlite, &postgres);
    assert!(differences.is_empty(), "the migrations differ:\n  {}", differences.join("\n  "));
}

#[test]
fn types_compare_by_family() {
    for (sqlite, postgres) in [("INTEGER", "bigint"), ("INTEGER", "integer"), ("TEXT", "text"), ("BLOB", "bytea"), ("BOOLEAN", "boolean")] {
        assert_eq!(family(sqlite), family(postgres), "{sqlite} / {postgres}");
    }
    assert_eq!(family("TIMESTAMP"), family("timestamp with time zone"));
    assert_ne!(family("TEXT"), family("bigint"));
    assert_ne!(family("BLOB"), family("text"));
}

#[test]
fn predicates_compare_without_casts_and_parentheses() {
    assert_eq!(normalise_predicate("status = 'running'"), normalise_predicate("((status)::text = 'running'::text)"));
    assert_eq!(normalise_predicate("status = 'running'"), normalise_predicate("(status = 'running'::text)"));
    assert_eq!(normalise_predicate("a IS NULL AND b = 'X'"), normalise_predicate("((a IS NULL) AND (b = 'X'::text))"));
    assert_ne!(normalise_predicate("status = 'running'"), normalise_predicate("(status = 'queued'::text)"));
    assert_ne!(normalise_predicate("status = 'running'"), normalise_predicate("(status = 'Running'::text)"));
}

#[test]
fn postgres_index_definitions_parse() {
    let index = parse_postgres_index(
        "sessions".into(),
        "CREATE UNIQUE INDEX sessions_one_running_per_job ON public.sessions USING btree (job_id) WHERE (status = 'running'::text)",
    );
    assert_eq!(
        index,
        Index { table: "sessions".into(), columns: vec!["job_id".into()], unique: true, predicate: Some("status = 'running'".into()) }
    );
    let index =
        parse_postgres_index("jobs".into(), "CREATE INDEX directory_objects_anchor ON public.jobs USING btree (job_id, kind, anchor)");
    assert_eq!(index.columns, ["job_id", "kind", "anchor"]);
    assert!(!index.unique);
    assert_eq!(index.predicate, None);
}

/// A small schema: two tables, a unique constraint, a plain and a partial index.
fn small_schema() -> Schema {
    let column = |nullable, family| Column { nullable, family };
    let jobs = Table {
        columns: BTreeMap::from([
            ("id".to_owned(), column(false, Family::Text)),
            ("tenant_id".to_owned(), column(false, Family::Text)),
            ("name".to_owned(), column(false, Family::Text)),
            ("next_import_at".to_owned(), column(false, Family::Integer)),
        ]),
        primary_key: vec!["id".into()],
        unique: BTreeSet::from([vec!["tenant_id".to_owned(), "name".to_owned()]]),
    };
    let sessions = Table {
        columns: BTreeMap::from([
            ("id".to_owned(), column(false, Family::Text)),
            ("job_id".to_owned(), column(false, Family::Text)),
            ("status".to_owned(), column(false, Family::Text)),
            ("error".to_owned(), column(true, Family::Text)),
        ]),
        primary_key: vec!["id".into()],
        unique: BTreeSet::new(),
    };
    let index = |table: &str, columns: &[&str], unique, predicate: Option<&str>| Index {
        table: table.into(),
        columns: columns.iter().map(|c| (*c).to_owned()).collect(),
        unique,
        predicate: predicate.map(str::to_owned),
    };
    Schema {
        tables: BTreeMap::from([("jobs".to_owned(), jobs), ("sessions".to_owned(), sessions)]),
        indexes: BTreeMap::from([
            ("jobs_next_import".to_owned(), index("jobs", &["next_import_at"], false, None)),
            ("sessions_one_running_per_job".to_owned(), index("sessions", &["job_id"], true, Some("status = 'running'"))),
        ]),
    }
}

#[test]
fn the_same_schema_has_no_differences() {
    assert_eq!(differences(&small_schema(), &small_schema()), Vec::<String>::new());
}

#[test]
fn each_kind_of_difference_is_found() {
    type Change = fn(&mut Schema);
    let cases: [(&str, Change, &str); 12] = [
        ("a missing table", |s| drop(s.tables.remove("sessions")), "table sessions: only in SQLite"),
        (
            "a missing column",
            |s| drop(s.tables.get_mut("sessions").unwrap().columns.remove("error")),
            "table sessions: column error only in SQLite",
        ),
        (
            "an extra column",
            |s| drop(s.tables.get_mut("jobs").unwrap().columns.insert("extra".into(), Column { nullable: true, family: Family::Text })),
            "table jobs: column extra only in PostgreSQL",
        ),
        (
            "a different nullability",
            |s| s.tables.get_mut("sessions").unwrap().columns.get_mut("error").unwrap().nullable = false,
            "table sessions: column error is nullable in SQLite, NOT NULL in PostgreSQL",
        ),
        (
            "a different type family",
            |s| s.tables.get_mut("jobs").unwrap().columns.get_mut("next_import_at").unwrap().family = Family::Text,
            "table jobs: column next_import_at is Integer in SQLite, Text in PostgreSQL",
        ),
        (
            "a different primary key",
            |s| s.tables.get_mut("jobs").unwrap().primary_key = vec!["tenant_id".into(), "id".into()],
            "table jobs: primary key (id) in SQLite, (tenant_id, id) in PostgreSQL",
        ),
        (
            "a missing unique constraint",
            |s| s.tables.get_mut("jobs").unwrap().unique.clear(),
            "table jobs: UNIQUE (tenant_id, name) only in SQLite",
        ),
        ("a missing index", |s| drop(s.indexes.remove("jobs_next_import")), "index jobs_next_import on jobs: only in SQLite"),
        (
            "an index on other columns",
            |s| s.indexes.get_mut("jobs_next_import").unwrap().columns = vec!["tenant_id".into()],
            "index jobs_next_import: columns (next_import_at) in SQLite, (tenant_id) in PostgreSQL",
        ),
        (
            "an index that is not unique",
            |s| s.indexes.get_mut("sessions_one_running_per_job").unwrap().unique = false,
            "index sessions_one_running_per_job: unique in SQLite, not unique in PostgreSQL",
        ),
        (
            "another predicate",
            |s| s.indexes.get_mut("sessions_one_running_per_job").unwrap().predicate = Some("status = 'queued'".into()),
            "index sessions_one_running_per_job: WHERE status = 'running' in SQLite, WHERE status = 'queued' in PostgreSQL",
        ),
        (
            "an index that is not partial",
            |s| s.indexes.get_mut("sessions_one_running_per_job").unwrap().predicate = None,
            "index sessions_one_running_per_job: partial (WHERE status = 'running') only in SQLite",
        ),
    ];
    for (case, change, expected) in cases {
        let mut postgres = small_schema();
        change(&mut postgres);
        assert_eq!(differences(&small_schema(), &postgres), [expected], "{case}");
    }
}

/// The manifest sha256 of the old database's snapshots and session.
const SHA: &str = "abababababababababababababababababababababababababababababababab";

/// The watermark of the old database's snapshots and state.
fn watermark() -> roster_proto::manifest::Watermark {
    roster_proto::manifest::Watermark {
        dns_host_name: "dc1".into(),
        invocation_id: "00000000-0000-0000-0000-000000000001".parse().unwrap(),
        usn: 1,
    }
}

/// A snapshot's manifest as stored at migration 0006: two chunks of
/// `sizes` bytes, committed or receiving.
fn manifest_json(snapshot: roster_proto::SnapshotId, agent: roster_proto::AgentId, job: roster_proto::JobId, sizes: [u64; 2]) -> String {
    use roster_proto::manifest::{ChunkRef, DirectoryIdentity, FORMAT_VERSION, Manifest, RecordCounts, SnapshotKind};
    let base = "DC=corp,DC=example,DC=test".to_owned();
    let manifest = Manifest {
        version: FORMAT_VERSION,
        snapshot_id: snapshot,
        agent_id: agent,
        job_id: job,
        kind: SnapshotKind::Full,
        read_started_at: time::OffsetDateTime::UNIX_EPOCH,
        directory: DirectoryIdentity { domain_dn: base.clone(), domain_sid: None, dns_host_name: None, base_dn: base },
        watermark: watermark(),
        base: None,
        counts: RecordCounts { users: 2, ..RecordCounts::default() },
        chunks: (0..2u32).map(|index| ChunkRef { index, size: sizes[index as usize], sha256: "ab".repeat(32), records: 1 }).collect(),
    };
    serde_json::to_string(&manifest).unwrap()
}

/// A database with data at migration 0006 upgrades through 0007 (snapshots
/// keyed by job, the SQLite tables rebuilt) with its data intact: every
/// snapshot, chunk, state and session is read back through `store`, the
/// bytes each manifest announces are filled in, the composite foreign keys
/// hold and are enforced, and SQLite's connections enforce foreign keys again.
async fn data_at_0006_upgrades_intact(engine: Engine) {
    use roster_server::store;
    let (database, pool) = older::database_before_migration(engine, 7).await;

    let (tenant, job, agent) = (roster_proto::TenantId::new(), roster_proto::JobId::new(), roster_proto::AgentId::new());
    let (committed, receiving, session) =
        (roster_proto::SnapshotId::new(), roster_proto::SnapshotId::new(), roster_proto::SessionId::new());
    let statements: Vec<(&str, Vec<String>)> = vec![
        ("INSERT INTO tenants (id, name, created_at) VALUES ($1, 'Old', 1)", vec![tenant.to_string()]),
        (
            "INSERT INTO jobs (id, tenant_id, name, name_key, relative_paths, group_paths, schedule_time, next_import_at,
                               full_sync_interval_days, policy, created_at)
             VALUES ($1, $2, 'corp', 'corp', '[\"*\"]', '[]', '02:00', 1, 7, '{}', 1)",
            vec![job.to_string(), tenant.to_string()],
        ),
        (
            "INSERT INTO agents (id, tenant_id, job_id, public_key, created_at) VALUES ($1, $2, $3, 'key', 1)",
            vec![agent.to_string(), tenant.to_string(), job.to_string()],
        ),
        (
            "INSERT INTO snapshots (id, tenant_id, job_id, agent_id, kind, status, manifest_json, manifest_sha256, chunk_count, created_at, committed_at)
             VALUES ($1, $2, $3, $4, 'full', 'committed', $5, $6, 2, 1, 2)",
            vec![committed.to_string(), tenant.to_string(), job.to_string(), agent.to_string(), manifest_json(committed, agent, job, [10, 20]), SHA.into()],
        ),
        (
            "INSERT INTO snapshots (id, tenant_id, job_id, agent_id, kind, status, manifest_json, manifest_sha256, chunk_count, created_at)
             VALUES ($1, $2, $3, $4, 'full', 'receiving', $5, $6, 2, 3)",
            vec![receiving.to_string(), tenant.to_string(), job.to_string(), agent.to_string(), manifest_json(receiving, agent, job, [100, 200]), SHA.into()],
        ),
        (
            "INSERT INTO directory_state (job_id, snapshot_id, watermark, full_scope, full_at, updated_at, generation)
             VALUES ($1, $2, $3, $4, 2, 2, $2)",
            vec![
                job.to_string(),
                committed.to_string(),
                serde_json::to_string(&watermark()).unwrap(),
                serde_json::to_string(&roster_proto::scope::JobScope {
                    relative_paths: vec!["*".into()],
                    group_paths: vec![],
                    user_filter: None,
                })
                .unwrap(),
            ],
        ),
        (
            "INSERT INTO sessions (id, tenant_id, job_id, snapshot_id, trigger_kind, status, manifest_sha256, created_at)
             VALUES ($1, $2, $3, $4, 'first_push', 'succeeded', $5, 2)",
            vec![session.to_string(), tenant.to_string(), job.to_string(), committed.to_string(), SHA.into()],
        ),
        (
            "INSERT INTO session_changes (session_id, seq, object_guid, username, action, details) VALUES ($1, 0, 'g', 'ann', 'created', '[]')",
            vec![session.to_string()],
        ),
    ];
    for (sql, binds) in statements {
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for bind in binds {
            query = query.bind(bind);
        }
        query.execute(&pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    for (snapshot, index, data) in [(committed, 0, "committed 0"), (committed, 1, "committed 1"), (receiving, 0, "receiving 0")] {
        sqlx::query("INSERT INTO snapshot_chunks (snapshot_id, idx, sha256, data) VALUES ($1, $2, 'ab', $3)")
            .bind(snapshot.to_string())
            .bind(index)
            .bind(data.as_bytes().to_vec())
            .execute(&pool)
            .await
            .unwrap();
    }
    pool.close().await;

    let db = Db::connect(&database.url).await.expect("migrate through 0007");
    let stored = store::directory::get_snapshot(&db, job, committed).await.unwrap().expect("the committed snapshot");
    assert!(stored.committed);
    assert_eq!(stored.manifest.chunks.len(), 2);
    assert!(store::directory::get_snapshot(&db, roster_proto::JobId::new(), committed).await.unwrap().is_none(), "scoped by job");
    assert_eq!(store::directory::stored_chunks(&db, job, committed).await.unwrap(), [0, 1]);
    assert_eq!(store::directory::stored_chunks(&db, job, receiving).await.unwrap(), [0]);
    let mut conn = db.pool.acquire().await.unwrap();
    let data = store::directory::chunk(&mut conn, job, receiving, 0).await.unwrap();
    assert_eq!(data.as_deref(), Some(&b"receiving 0"[..]));
    assert_eq!(store::directory::unfinished(&mut conn, job, roster_proto::SnapshotId::new()).await.unwrap(), (1, 300), "bytes filled in");
    let state = store::directory::state(&mut conn, job).await.unwrap().expect("the state");
    assert_eq!(state.snapshot_id, committed);
    assert_eq!(store::directory::current_generation(&mut conn, job).await.unwrap(), Some(committed.to_string()));
    drop(conn);
    let first = store::sessions::session_for_snapshot(&db, job, committed).await.unwrap().expect("the session");
    assert_eq!(first.id, session);
    let changes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM session_changes").fetch_one(&db.pool).await.unwrap();
    assert_eq!(changes, 1);
    let committed_bytes: i64 = sqlx::query_scalar("SELECT chunk_bytes FROM snapshots WHERE id = $1")
        .bind(committed.to_string())
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(committed_bytes, 30);

    // The composite keys are enforced: a chunk of another job's snapshot of this id is refused.
    let orphan = sqlx::query("INSERT INTO snapshot_chunks (job_id, snapshot_id, idx, sha256, data) VALUES ($1, $2, 9, 'x', $3)")
        .bind(roster_proto::JobId::new().to_string())
        .bind(committed.to_string())
        .bind(b"x".to_vec())
        .execute(&db.pool)
        .await;
    assert!(orphan.is_err(), "a chunk of no snapshot is refused");
    if engine == Engine::Sqlite {
        // Every pooled connection, the migration's own among them, enforces foreign keys.
        let mut conns = Vec::new();
        for _ in 0..8 {
            conns.push(db.pool.acquire().await.unwrap());
        }
        for conn in &mut conns {
            let on: i64 = sqlx::query_scalar("PRAGMA foreign_keys").fetch_one(&mut **conn).await.unwrap();
            assert_eq!(on, 1);
            let violations = sqlx::query("PRAGMA foreign_key_check").fetch_all(&mut **conn).await.unwrap();
            assert!(violations.is_empty());
        }
    }
}

#[tokio::test]
async fn sqlite_data_at_0006_upgrades_intact() {
    data_at_0006_upgrades_intact(Engine::Sqlite).await
}

#[tokio::test]
async fn postgres_data_at_0006_upgrades_intact() {
    data_at_0006_upgrades_intact(Engine::Postgres).await
}
