//! bench-import: the import benchmark. Times a full import of N users and a
//! no-change re-import through `roster_server::import::run_session`, on
//! SQLite or PostgreSQL, each against the best independent way to do the
//! same work, measured in the same run by the engine's own bulk paths (not
//! through sqlx): the full import against a bulk load of exactly the rows
//! it writes, the no-change re-import against a plain read of exactly the
//! rows it compares. It prints the ratios with their targets (each <= 1.5 x
//! its baseline; the no-change re-import writing no user row).
//!
//! Run it through the script, which builds it in release mode (and starts
//! a PostgreSQL server of its own when given none):
//!
//! ```text
//! scripts/bench-import.sh [--engine sqlite|postgres] [--postgres-url URL] [--users N] [--groups G] [--runs R] [--dir DIR] [--strict]
//! ```
//!
//! or directly: `cargo run --release -p roster-server --example bench-import -- --users 100000`
//! (`--help` lists the options).
//!
//! Each of R runs (default 3) does, on fresh databases (SQLite: files in
//! `DIR/run-K`, DIR a temporary directory removed afterwards unless `--dir`
//! is given; PostgreSQL: databases of their own on the `--postgres-url`
//! server, dropped after the run):
//! 1. Setup (not timed): a fresh, migrated database, a tenant, a job over the whole domain, G basic (`user`) accesses and G
//!    links, one per site group; then the job's directory state as a
//!    committed full snapshot leaves it: the snapshot row, the state, N
//!    users (`OU=Site-NN,OU=Staff`, ~3 % disabled, ~2 % in no linked group,
//!    ~5 % in two) and G groups `Site-NN` with ~N/G members each, in one
//!    transaction.
//! 2. Full import: a queued manual session, claimed and run in a child
//!    process (this program with `--child-session`) as a server runs it,
//!    so its time, CPU time and peak RSS are its own, not the setup's.
//!    Checked: it succeeded and created every linked user, the rows it
//!    wrote, and that the count of rows written (below) finds exactly those.
//! 3. No-change re-import: a second session over the same state, in a
//!    child process too. Checked:
//!    it succeeded with nothing created, updated, deactivated or
//!    reactivated, every imported user unchanged; the user rows it wrote
//!    are counted (new, updated or deleted rows of `users` and
//!    `user_accesses`: SQLite's rowids or PostgreSQL's `xmin`, with
//!    `created_at`, `updated_at` and counts; see [`RowVersions`]) and its
//!    itemised changes.
//! 4. Read baseline: on the same database, right after the re-import, a
//!    second connection reads in one read transaction every row the
//!    re-import compares ([`COMPARED_ROWS`]), in the order it reads them:
//!    the state's groups, their members, its directory users by anchor,
//!    and the job's stored users (id, anchor, active, fingerprint). On
//!    SQLite through its C API with the import connection's journal mode,
//!    synchronous setting and page cache, each column's bytes touched and
//!    nothing parsed; on PostgreSQL as `COPY (SELECT ...) TO STDOUT`, every
//!    byte received. Checked: it saw every user.
//! 5. Insert baseline: the rows the full import wrote (its `users`,
//!    `user_accesses` and `session_changes` rows), read back and held in
//!    memory before the clock starts, loaded into a second fresh, migrated
//!    database (`Db::connect`, then closed) in one transaction, foreign
//!    keys checked: on SQLite through its C API with one prepared INSERT
//!    per table (`BEGIN IMMEDIATE`, set up as the import's connection was),
//!    on PostgreSQL by one `COPY ... FROM STDIN` per table (text format,
//!    made before the clock starts). Only the load and the commit are
//!    timed. Its tenant, job, accesses and session rows come first, untimed.
//! 6. The API's answers (with `--server-bin`, which the script passes): the
//!    release `roster-server` on the imported database, asked over HTTP
//!    what the console asks of the job: its structure, why a user has its
//!    access, a page of its users ([`ApiTimes`]); each under 200 ms is a
//!    target (the issue's, at a million users).
//!
//! The report also gives the import database's size after both imports
//! (the job's directory state, its users and two sessions), per 100,000
//! users.
//!
//! Before each timed phase what was written so far is flushed (SQLite:
//! `fsync` of its files; PostgreSQL: `CHECKPOINT`), so no phase pays for
//! another's writes. The report gives the median of each time over the
//! runs, the ratios of those medians, and each run's ratios; the machine
//! may be shared, so a single run can be far off. Each import's peak RSS
//! (`VmHWM` of its process) has a target too: under 256 MiB, which the
//! issue sets at a million users. CPU time of the process doing each phase
//! (all threads, from `/proc/self/stat`; on PostgreSQL the server's work is
//! elsewhere) is printed beside, and this process's peak RSS per phase of
//! the first run, reset between phases through `/proc/self/clear_refs`
//! where the kernel allows it. A failed check exits 1; a missed target
//! prints FAIL and exits 3 only with `--strict`.

mod postgres;
mod sqlite;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use futures_util::TryStreamExt;
use roster_proto::admin::{Access, AccessKind, CreateJob, Job, LinkInput, Session, SessionStatus, SessionTrigger};
use roster_proto::manifest::{ChunkRef, DirectoryIdentity, FORMAT_VERSION, Manifest, RecordCounts, SnapshotKind, Watermark};
use roster_proto::records::{GroupRecord, OuRecord, Record, UserRecord};
use roster_proto::{AgentId, JobId, ObjectGuid, SessionId, Sha256Hex, SnapshotId, TenantId};
use roster_server::db::Db;
use roster_server::store;
use roster_snapshot::keys::AgentKey;
use sqlx::Row;

/// The rows a no-change re-import compares, in the order it reads them
/// (the same queries and indexes as `store::directory::load_groups`,
/// `user_batch` and `store::users::stored_between`, unpaged): the state's
/// groups, their members, its directory users, the job's stored users.
/// `$1` is the job's id, `$2` the state's generation.
const COMPARED_ROWS: [(&str, &str); 4] = [
    ("groups", "SELECT record FROM directory_objects WHERE job_id = $1 AND generation = $2 AND kind = 'group' ORDER BY object_guid"),
    (
        "members",
        "SELECT group_guid, member_guid FROM directory_members WHERE job_id = $1 AND generation = $2 ORDER BY group_guid, member_guid",
    ),
    (
        "directory users",
        "SELECT anchor, object_guid, record FROM directory_objects WHERE job_id = $1 AND generation = $2 AND kind = 'user'
         ORDER BY anchor, object_guid",
    ),
    ("stored users", "SELECT id, anchor, active, fingerprint FROM users WHERE job_id = $1 ORDER BY anchor"),
];

/// The full import may take at most this many times the bulk insert.
const FULL_TARGET: f64 = 1.5;
/// The no-change re-import may take at most this many times the plain read.
const NO_CHANGE_TARGET: f64 = 1.5;
/// Each import's process stays under this peak RSS, in MiB (the issue's target at a million users).
const RSS_TARGET_MIB: u64 = 256;
/// The bench directory's base DN.
const BASE: &str = "DC=corp,DC=example,DC=test";
/// Exit code when a target is missed under `--strict`.
const EXIT_TARGET_MISSED: u8 = 3;

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "bench-import",
    about = "Times a full and a no-change import against the engine's own bulk load of the rows the one writes and plain read of the rows the other compares"
)]
struct Args {
    /// Users in the directory.
    #[arg(long, default_value_t = 100_000)]
    users: u32,
    /// Site groups (and accesses, and links); users are spread evenly.
    #[arg(long, default_value_t = 100)]
    groups: u32,
    /// The database engine.
    #[arg(long, value_enum, default_value_t = EngineName::Sqlite)]
    engine: EngineName,
    /// PostgreSQL only: a server where the bench may create and drop databases (a superuser's URL, for CHECKPOINT).
    #[arg(long, env = "ROSTER_BENCH_POSTGRES_URL", hide_env_values = true)]
    postgres_url: Option<String>,
    /// SQLite only: where the databases go, one folder per run, kept afterwards (default: a temporary directory, removed afterwards).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Runs, each on fresh databases; the report gives medians.
    #[arg(long, default_value_t = 3)]
    runs: u32,
    /// Exit with code 3 when a target is missed (a failed check always exits 1).
    #[arg(long)]
    strict: bool,
    /// The release `roster-server` binary: when given, the job's structure, an explanation and a page of users are
    /// asked of it over HTTP on the imported database (target: each under 200 ms).
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Internal: run this queued session's import in this process, on the
    /// database in `ROSTER_BENCH_CHILD_DATABASE_URL`, and print what it took.
    #[arg(long, hide = true)]
    child_session: Option<String>,
}

/// The environment variable a child import finds its database's URL in
/// (not its command line: a PostgreSQL URL may hold a password).
const CHILD_DATABASE_URL: &str = "ROSTER_BENCH_CHILD_DATABASE_URL";

/// `--engine`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum EngineName {
    Sqlite,
    Postgres,
}

/// Where a run's databases are made.
#[derive(Debug)]
enum Engine {
    /// SQLite files, a folder per run.
    Sqlite(WorkDir),
    /// Databases of their own on this PostgreSQL server (its URL).
    Postgres(String),
}

impl Engine {
    fn from_args(args: &Args) -> anyhow::Result<Engine> {
        match (args.engine, &args.postgres_url) {
            (EngineName::Sqlite, _) => Ok(Engine::Sqlite(WorkDir::new(args.dir.as_deref())?)),
            (EngineName::Postgres, _) if args.dir.is_some() => {
                bail!("--dir is for SQLite's files; PostgreSQL's databases are dropped after each run")
            }
            (EngineName::Postgres, Some(url)) => Ok(Engine::Postgres(url.clone())),
            (EngineName::Postgres, None) => {
                bail!(
                    "--engine postgres needs --postgres-url or ROSTER_BENCH_POSTGRES_URL (scripts/bench-import.sh starts a server of its own)"
                )
            }
        }
    }

    /// The fresh database `name` of run `index`.
    async fn open(&self, index: u32, name: &str) -> anyhow::Result<BenchDb> {
        let place = match self {
            Engine::Sqlite(workdir) => Place::Sqlite(workdir.database(index, name)?),
            Engine::Postgres(url) => {
                Place::Postgres(postgres::Database::create(url, &format!("roster_bench_{}_{index}_{name}", std::process::id())).await?)
            }
        };
        let db = Db::connect(&place.url()).await.with_context(|| format!("opening the {name} database"))?;
        Ok(BenchDb { db, place })
    }

    /// Removes run `index`'s databases.
    async fn clean(&self, index: u32, databases: Vec<Place>) -> anyhow::Result<()> {
        match self {
            Engine::Sqlite(workdir) if workdir.remove => {
                let dir = workdir.path.join(format!("run-{index}"));
                std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))
            }
            Engine::Sqlite(_) => Ok(()),
            Engine::Postgres(_) => {
                for place in databases {
                    if let Place::Postgres(database) = place {
                        database.remove().await?;
                    }
                }
                Ok(())
            }
        }
    }
}

/// One database of a run, opened as the server opens it.
#[derive(Debug)]
struct BenchDb {
    db: Db,
    place: Place,
}

/// Where a database is.
#[derive(Debug)]
enum Place {
    Sqlite(PathBuf),
    Postgres(postgres::Database),
}

impl Place {
    /// What `Db::connect` takes.
    fn url(&self) -> String {
        match self {
            Place::Sqlite(path) => sqlite::url(path),
            Place::Postgres(database) => database.url.clone(),
        }
    }

    /// Flushes what was written so far, so the next timed phase does not pay for it.
    async fn settle(&self) -> anyhow::Result<()> {
        match self {
            Place::Sqlite(path) => sqlite::settle(path),
            Place::Postgres(database) => database.settle().await,
        }
    }

    /// The database's bytes on disk.
    async fn bytes(&self) -> anyhow::Result<u64> {
        match self {
            Place::Sqlite(path) => sqlite::bytes(path),
            Place::Postgres(database) => database.bytes().await,
        }
    }
}

impl BenchDb {
    async fn settle(&self) -> anyhow::Result<()> {
        self.place.settle().await
    }

    /// How the server's connections to it are set up, which the baselines copy.
    async fn setup(&self) -> anyhow::Result<Setup> {
        Ok(match &self.place {
            Place::Sqlite(_) => Setup::Sqlite(sqlite::Pragmas::read(&self.db).await?),
            Place::Postgres(database) => Setup::Postgres(postgres::Settings::read(database).await?),
        })
    }

    /// The read baseline on this database.
    async fn plain_read(&self, setup: &Setup, job: JobId) -> anyhow::Result<PlainRead> {
        match (&self.place, setup) {
            (Place::Sqlite(path), Setup::Sqlite(pragmas)) => sqlite::plain_read(&pragmas.open(path)?, job),
            (Place::Postgres(database), Setup::Postgres(_)) => postgres::plain_read(database, job).await,
            _ => bail!("the setup read is of another engine"),
        }
    }

    /// The insert baseline: `rows` into this database, its pool closed first.
    async fn insert(self, setup: &Setup, rows: &ImportedRows) -> anyhow::Result<(Duration, Place)> {
        self.db.pool.close().await;
        self.settle().await?;
        let elapsed = match (&self.place, setup) {
            (Place::Sqlite(path), Setup::Sqlite(pragmas)) => sqlite::insert(&mut pragmas.open(path)?, rows)?,
            (Place::Postgres(database), Setup::Postgres(_)) => postgres::insert(database, rows).await?,
            _ => bail!("the setup read is of another engine"),
        };
        Ok((elapsed, self.place))
    }

    /// Closes the pool; the database stays.
    async fn close(self) -> Place {
        self.db.pool.close().await;
        self.place
    }
}

/// How the import's connections were set up: the baselines' are the same.
#[derive(Debug, Clone)]
enum Setup {
    Sqlite(sqlite::Pragmas),
    Postgres(postgres::Settings),
}

impl Setup {
    /// The engine and its version.
    fn engine(&self) -> String {
        match self {
            Setup::Sqlite(_) => format!("SQLite {}", rusqlite::version()),
            Setup::Postgres(settings) => format!("PostgreSQL {}", settings.version()),
        }
    }

    /// What the two baselines are called in the report.
    fn baselines(&self) -> [&'static str; 2] {
        match self {
            Setup::Sqlite(_) => ["bulk insert, SQLite C API", "plain read, SQLite C API"],
            Setup::Postgres(_) => ["COPY FROM STDIN, PostgreSQL", "COPY TO STDOUT, PostgreSQL"],
        }
    }
}

impl std::fmt::Display for Setup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Setup::Sqlite(pragmas) => pragmas.fmt(f),
            Setup::Postgres(settings) => settings.fmt(f),
        }
    }
}

/// Runs the benchmark; see the module doc.
#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    if let Some(session) = &args.child_session {
        let url = std::env::var(CHILD_DATABASE_URL).with_context(|| format!("--child-session needs {CHILD_DATABASE_URL}"))?;
        ChildRun::run(&url, session.parse().context("--child-session")?).await?.print();
        return Ok(ExitCode::SUCCESS);
    }
    if args.users == 0 || args.groups == 0 || args.runs == 0 {
        bail!("--users, --groups and --runs must be at least 1");
    }
    let engine = Engine::from_args(&args)?;
    let fixture = Fixture::new(args.users, args.groups);
    let mut runs = Vec::with_capacity(args.runs as usize);
    for index in 1..=args.runs {
        let (run, databases) =
            run_once(&engine, &fixture, index, args.server_bin.as_deref()).await.with_context(|| format!("run {index}"))?;
        engine.clean(index, databases).await?;
        runs.push(run);
    }
    let all_met = report(&args, &fixture.expected(), &runs);
    Ok(if all_met || !args.strict { ExitCode::SUCCESS } else { ExitCode::from(EXIT_TARGET_MISSED) })
}

/// Prints a progress line on stderr.
fn log(message: &str) {
    eprintln!("bench-import: {message}");
}

/// What one run measured.
#[derive(Debug)]
struct RunResult {
    /// The bulk insert of the full import's rows.
    baseline: Duration,
    full: Duration,
    /// The plain read of the no-change re-import's rows.
    read: PlainRead,
    no_change: Duration,
    /// CPU time (user + system, every thread) of the same phases, when readable.
    baseline_cpu: Option<Duration>,
    full_cpu: Option<Duration>,
    read_cpu: Option<Duration>,
    no_change_cpu: Option<Duration>,
    /// How the import's connections were set up (and so the baselines').
    setup: Setup,
    /// The import database's bytes after both imports.
    database_bytes: u64,
    /// User rows the no-change re-import wrote.
    written: UserRowsWritten,
    /// The admin API's answers on the imported database, when asked.
    api: Option<ApiTimes>,
    /// Counting the structure while the full snapshot was staged (CPU of the commit).
    counted_while_staged: Duration,
    /// Itemised changes the no-change re-import recorded.
    changes_recorded: u64,
    rss: Rss,
}

/// One run on fresh databases: setup, full import, no-change re-import,
/// baselines. Errors when a check fails; returns what it measured and its
/// databases.
async fn run_once(engine: &Engine, fixture: &Fixture, index: u32, server_bin: Option<&Path>) -> anyhow::Result<(RunResult, Vec<Place>)> {
    let expected = fixture.expected();
    let mut rss = Rss::new();
    let secs = |d: Duration| d.as_secs_f64();

    // --- setup -------------------------------------------------------------
    let started = Instant::now();
    // Opened as the server opens it: the import plans in a read transaction
    // on one connection while it stages on another.
    let import = engine.open(index, "import").await?;
    let db = &import.db;
    let world = create_world(db, fixture).await?;
    let counted_while_staged = load_directory(db, &world, fixture).await?;
    import.settle().await?;
    log(&format!(
        "run {index}: set up {} users and {} groups in {:.1} s ({} users in a linked group, {} grants; the structure counted as staged in {:.0} ms)",
        fixture.users,
        fixture.groups,
        secs(started.elapsed()),
        expected.users,
        expected.grants,
        counted_while_staged.as_secs_f64() * 1000.0
    ));
    rss.phase("setup");

    // --- full import ---------------------------------------------------------
    let session = queue_session(db, &world).await?;
    let before = Counters::read(db).await?;
    let run = ChildRun::spawn(&import.place, session).await.context("the full import")?;
    let (full, full_cpu) = (run.elapsed, run.cpu);
    rss.child("full import", run.peak_kib);
    let full_session = finished_session(db, &world, session).await?;
    check_full_import(db, &full_session, &expected).await?;
    // The count of rows written, checked where the answer is known: the
    // re-import's "0 written" below is only as good as this.
    let written = UserRowsWritten::between(db, &before, &Counters::read(db).await?).await?;
    let wanted = (expected.users, 0, 0, expected.grants, 0);
    let seen = (written.users_inserted, written.users_updated, written.users_deleted, written.accesses_inserted, written.accesses_deleted);
    anyhow::ensure!(seen == wanted, "the rows the full import wrote were counted as {written}; expected {wanted:?}");
    log(&format!("run {index}: full import {:.2} s; now the no-change re-import", secs(full)));
    import.settle().await?;

    // --- no-change re-import -------------------------------------------------
    // The re-import's writes are told apart by `updated_at` and
    // `created_at`: make sure the clock has moved past the full import's
    // last millisecond.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let session = queue_session(db, &world).await?;
    let before = Counters::read(db).await?;
    let run = ChildRun::spawn(&import.place, session).await.context("the no-change re-import")?;
    let (no_change, no_change_cpu) = (run.elapsed, run.cpu);
    let after = Counters::read(db).await?;
    rss.child("no-change re-import", run.peak_kib);
    let session = finished_session(db, &world, session).await?;
    check_no_change(&session, &expected)?;
    let written = UserRowsWritten::between(db, &before, &after).await?;
    let changes_recorded = session_change_count(db, session.id).await?;
    log(&format!("run {index}: no-change re-import {:.2} s; now the baselines", secs(no_change)));

    // --- read baseline -------------------------------------------------------
    let setup = import.setup().await?;
    import.settle().await?;
    let cpu = cpu_time();
    let read = import.plain_read(&setup, world.job.id).await?;
    let read_cpu = cpu_since(cpu);
    read.check(fixture, &expected)?;

    // --- insert baseline -----------------------------------------------------
    let rows = ImportedRows::read(db, full_session.id).await?;
    // Closed first: SQLite's last connection folds the WAL into the file.
    let import = import.close().await;
    import.settle().await?;
    let database_bytes = import.bytes().await?;
    let baseline = engine.open(index, "baseline").await?;
    let baseline_world = create_world(&baseline.db, fixture).await?;
    let baseline_session = {
        let mut conn = baseline.db.pool.acquire().await?;
        store::sessions::insert_session(
            &mut conn,
            baseline_world.tenant,
            baseline_world.job.id,
            baseline_world.snapshot_id,
            &baseline_world.manifest_sha256,
            SessionTrigger::Manual,
        )
        .await?
    };
    let rows = rows.for_world(&world, &baseline_world, baseline_session)?;
    let cpu = cpu_time();
    let (baseline_time, baseline) = baseline.insert(&setup, &rows).await?;
    let baseline_cpu = cpu_since(cpu);
    rss.phase("insert baseline (holds every row)");
    drop(rows);
    check_baseline(&baseline, &expected).await?;
    log(&format!(
        "run {index}: bulk load {:.2} s, full import {:.2} s ({:.2} x); plain read {:.2} s, no-change re-import {:.2} s ({:.2} x)",
        secs(baseline_time),
        secs(full),
        secs(full) / secs(baseline_time),
        secs(read.elapsed),
        secs(no_change),
        secs(no_change) / secs(read.elapsed)
    ));
    // --- the API's answers at this size -------------------------------------
    let api = match server_bin {
        Some(bin) => Some(ApiTimes::measure(bin, &import, &world, fixture).await.context("asking the API")?),
        None => None,
    };
    if let Some(api) = &api {
        log(&format!("run {index}: API {api}"));
    }
    let result = RunResult {
        api,
        counted_while_staged,
        baseline: baseline_time,
        full,
        read,
        no_change,
        baseline_cpu,
        full_cpu,
        read_cpu,
        no_change_cpu,
        setup,
        database_bytes,
        written,
        changes_recorded,
        rss,
    };
    Ok((result, vec![import, baseline]))
}

/// How long the admin API, in a `roster-server` of its own on the
/// imported database, takes to answer what the console asks of a job of
/// this size: "Load AD structure", why a user has its access (named as an
/// admin types it, and from the console's user page), and a page of the
/// job's users. Each is asked once to warm up, then timed
/// [`ApiTimes::TIMES`] times (the median kept), over HTTP on 127.0.0.1.
/// The structure's first answer is kept too (its count was kept when the
/// snapshot was committed), and its answer when no count is kept, which
/// counts the state (as after a delta that changes groups).
#[derive(Debug, Clone, Copy)]
struct ApiTimes {
    /// The first structure asked of the imported state.
    structure_first: Duration,
    structure: Duration,
    /// The structure asked with no count kept of the state: counted from it.
    structure_recounted: Duration,
    /// A user named as an admin types it (`/jobs/{job}/explain?user=NAME`).
    explain: Duration,
    /// A stored user, as the console's user page asks (`/users/{id}/explain`).
    explain_stored: Duration,
    users: Duration,
    /// The server's peak RSS after answering.
    server_peak_kib: Option<u64>,
}

impl ApiTimes {
    /// Requests of each kind timed.
    const TIMES: usize = 5;
    /// Users a page asks for (the console's page size).
    const PAGE: u32 = 50;
    /// Each answer's target.
    const TARGET: Duration = Duration::from_millis(200);

    /// Starts `bin` on `import`'s database, asks, and stops it.
    async fn measure(bin: &Path, import: &Place, world: &World, fixture: &Fixture) -> anyhow::Result<ApiTimes> {
        let mut server = tokio::process::Command::new(bin)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("ROSTER_DATABASE_URL", import.url())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let stdout = server.stdout.take().context("the server's stdout")?;
        let base = tokio::time::timeout(Duration::from_secs(60), async {
            let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
            while let Some(line) = lines.next_line().await? {
                if let Some(url) = line.strip_prefix("roster-server listening on ") {
                    return Ok(url.to_owned());
                }
            }
            bail!("the server exited before listening")
        })
        .await
        .context("the server did not listen within 60 s")??;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::new();
        let job = world.job.id;
        // A user in a linked group, by sAMAccountName as an admin types it.
        let someone = fixture.user(fixture.users / 2)?.sam_account_name;
        let ask = async |path: String| -> anyhow::Result<(Duration, serde_json::Value)> {
            let started = Instant::now();
            let answer = http.get(format!("{base}/api/v1{path}")).bearer_auth(&world.admin_token).send().await?;
            let status = answer.status();
            let body: serde_json::Value = answer.json().await?;
            let elapsed = started.elapsed();
            anyhow::ensure!(status.is_success(), "GET {path} answered {status}: {body}");
            Ok((elapsed, body))
        };
        // The first answer and the median of the next ones.
        let time = async |path: String, check: &dyn Fn(&serde_json::Value) -> bool| -> anyhow::Result<(Duration, Duration)> {
            let (first, body) = ask(path.clone()).await?;
            anyhow::ensure!(check(&body), "GET {path} answered something else than expected");
            let mut times = Vec::with_capacity(Self::TIMES);
            for _ in 0..Self::TIMES {
                times.push(ask(path.clone()).await?.0);
            }
            Ok((first, median(times)))
        };
        let users = u64::from(fixture.users);
        let (structure_first, structure) = time(format!("/jobs/{job}/structure"), &|body| body["users"].as_u64() == Some(users)).await?;
        let (_, explain) = time(format!("/jobs/{job}/explain?user={someone}"), &|body| body["imported"].as_bool() == Some(true)).await?;
        let page = Self::PAGE;
        let (_, listed) =
            time(format!("/users?job={job}&limit={page}"), &|body| body["items"].as_array().is_some_and(|u| u.len() == page as usize))
                .await?;
        let (_, page_body) = ask(format!("/users?job={job}&limit=1")).await?;
        let stored = page_body["items"][0]["id"].as_str().context("a user's id in the users page")?.to_owned();
        let (_, explain_stored) = time(format!("/users/{stored}/explain"), &|body| body["imported"].as_bool() == Some(true)).await?;
        // Last: the structure of a state no count was kept for, counted from it.
        let db = Db::connect(&import.url()).await?;
        sqlx::query("DELETE FROM directory_summaries WHERE job_id = $1").bind(job.to_string()).execute(&db.pool).await?;
        db.pool.close().await;
        let (structure_recounted, body) = ask(format!("/jobs/{job}/structure")).await?;
        anyhow::ensure!(body["users"].as_u64() == Some(users), "the recounted structure holds other users");
        let server_peak_kib = server.id().and_then(|pid| proc_status_kib(&format!("/proc/{pid}/status"), "VmHWM"));
        server.kill().await.context("stopping the server")?;
        Ok(ApiTimes { structure_first, structure, structure_recounted, explain, explain_stored, users: listed, server_peak_kib })
    }
}

impl std::fmt::Display for ApiTimes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        write!(
            f,
            "structure {:.0} ms (first {:.0} ms, recounted {:.0} ms), explain {:.0} ms (a stored user {:.0} ms), a page of users {:.0} ms (server peak RSS {})",
            ms(self.structure),
            ms(self.structure_first),
            ms(self.structure_recounted),
            ms(self.explain),
            ms(self.explain_stored),
            ms(self.users),
            mib(self.server_peak_kib)
        )
    }
}

/// The median of some durations (the mean of the middle two for an even count).
fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    let n = values.len();
    match n {
        0 => Duration::ZERO,
        _ if n % 2 == 1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2,
    }
}

/// Prints the report on stdout; returns whether every target was met.
fn report(args: &Args, expected: &Expected, runs: &[RunResult]) -> bool {
    let baseline = median(runs.iter().map(|r| r.baseline).collect());
    let full = median(runs.iter().map(|r| r.full).collect());
    let read = median(runs.iter().map(|r| r.read.elapsed).collect());
    let no_change = median(runs.iter().map(|r| r.no_change).collect());
    let full_ratio = full.as_secs_f64() / baseline.as_secs_f64();
    let no_change_ratio = no_change.as_secs_f64() / read.as_secs_f64();
    let written = runs.iter().map(|r| r.written.total()).max().unwrap_or(0);
    let verdict = |ok: bool| if ok { "PASS" } else { "FAIL" };
    let full_ok = full_ratio <= FULL_TARGET;
    let no_change_ok = no_change_ratio <= NO_CHANGE_TARGET;
    let written_ok = written == 0;
    let peak = |phase: &str| median_u64(runs.iter().filter_map(|r| r.rss.of_child(phase)).collect());
    let (full_peak, no_change_peak) = (peak("full import"), peak("no-change re-import"));
    let rss_ok = |kib: u64| kib > 0 && kib < RSS_TARGET_MIB * 1024;
    let build = if cfg!(debug_assertions) { "debug build: timings are not meaningful" } else { "release build" };
    let secs = |d: Duration| format!("{:.2} s", d.as_secs_f64());
    let per_run = |ratio: &dyn Fn(&RunResult) -> f64| runs.iter().map(|r| format!("{:.2}", ratio(r))).collect::<Vec<_>>().join(" ");
    let runs_text = if runs.len() == 1 { "1 run".to_owned() } else { format!("median of {} runs", runs.len()) };
    let first = &runs[0];
    let [insert_name, read_name] = first.setup.baselines();
    println!("bench-import: {} users in {} groups ({}, {build}, {runs_text})", args.users, args.groups, first.setup.engine());
    println!("  connections (import, baselines) {}", first.setup);
    println!(
        "  rows the full import writes     {} users, {} user_accesses, {} session_changes ({} users in no linked group)",
        expected.users,
        expected.grants,
        expected.users,
        u64::from(args.users) - expected.users
    );
    println!(
        "  rows a no-change import reads   {} groups, {} members, {} directory users, {} stored users ({} MiB of columns)",
        first.read.groups,
        first.read.members,
        first.read.directory_users,
        first.read.stored_users,
        first.read.bytes.div_ceil(1 << 20)
    );
    let insert_how = match first.setup {
        Setup::Sqlite(_) => "prepared INSERTs",
        Setup::Postgres(_) => "COPY per table, text format",
    };
    println!("  {insert_name:<31} {:>7}   (baseline: those rows, {insert_how}, one transaction)", secs(baseline));
    println!(
        "  full import                     {:>7}   ratio {full_ratio:.2} x bulk load     target <= {FULL_TARGET}   {}",
        secs(full),
        verdict(full_ok)
    );
    println!("  {read_name:<31} {:>7}   (baseline: those rows, one read transaction)", secs(read));
    println!(
        "  no-change re-import             {:>7}   ratio {no_change_ratio:.2} x plain read    target <= {NO_CHANGE_TARGET}   {}",
        secs(no_change),
        verdict(no_change_ok)
    );
    println!("  user rows written (no change)   {written:>7}                                target 0        {}", verdict(written_ok));
    for (name, kib) in [("full import", full_peak), ("no-change re-import", no_change_peak)] {
        println!(
            "  peak RSS, {name:<21} {:>7}   (its own process, as a server's)      target < {RSS_TARGET_MIB} MiB  {}",
            mib(Some(kib)),
            verdict(rss_ok(kib))
        );
    }
    for (index, run) in runs.iter().enumerate().filter(|(_, r)| r.written.total() > 0) {
        println!("    run {}: {}", index + 1, run.written);
    }
    if runs.len() > 1 {
        println!("  per run: full / bulk load       {}", per_run(&|r| r.full.as_secs_f64() / r.baseline.as_secs_f64()));
        println!("  per run: no-change / plain read {}", per_run(&|r| r.no_change.as_secs_f64() / r.read.elapsed.as_secs_f64()));
    }
    let api: Vec<ApiTimes> = runs.iter().filter_map(|r| r.api).collect();
    let mut api_ok = true;
    if api.len() == runs.len() {
        let median_of = format!("median of {}", ApiTimes::TIMES);
        let next = format!("median of the next {}", ApiTimes::TIMES);
        let answers = [
            ("structure, first answer", median(api.iter().map(|a| a.structure_first).collect()), "its first, counted as committed"),
            ("structure", median(api.iter().map(|a| a.structure).collect()), next.as_str()),
            ("structure, recounted", median(api.iter().map(|a| a.structure_recounted).collect()), "no count kept: counts the state"),
            ("explain (a user by name)", median(api.iter().map(|a| a.explain).collect()), median_of.as_str()),
            ("explain (a stored user)", median(api.iter().map(|a| a.explain_stored).collect()), median_of.as_str()),
            ("a page of users", median(api.iter().map(|a| a.users).collect()), median_of.as_str()),
        ];
        for (name, t, how) in answers {
            let ok = t < ApiTimes::TARGET;
            api_ok &= ok;
            println!(
                "  API: {name:<26} {:>5.0} ms   (roster-server on the imported database, {how})   target < {} ms  {}",
                t.as_secs_f64() * 1000.0,
                ApiTimes::TARGET.as_millis(),
                verdict(ok)
            );
        }
        println!("  API: server's peak RSS          {}   (informative)", mib(api.first().and_then(|a| a.server_peak_kib)));
        println!(
            "  structure counted as staged     {:>5.0} ms   (informative: CPU in the full snapshot's commit, which keeps the count)",
            median(runs.iter().map(|r| r.counted_while_staged).collect()).as_secs_f64() * 1000.0
        );
    } else {
        println!("  API answers                     not measured (no --server-bin; scripts/bench-import.sh passes it)");
    }
    println!(
        "  no-change / full                {:.2}   (informative: a read-only phase over a write-heavy one, so it moves with the disk)",
        no_change.as_secs_f64() / full.as_secs_f64()
    );
    println!("  itemised changes (no change)    {:>7}   (session_changes rows the re-import recorded)", first.changes_recorded);
    let size = median_u64(runs.iter().map(|r| r.database_bytes).collect());
    let mib = |bytes: f64| bytes / f64::from(1 << 20);
    println!(
        "  database size after both imports {:.1} MiB: {:.1} MiB per 100,000 users (directory state, users, 2 sessions)",
        mib(size as f64),
        mib(size as f64) * 100_000.0 / f64::from(args.users)
    );
    let cpu = |phase: fn(&RunResult) -> Option<Duration>| {
        runs.iter().map(phase).collect::<Option<Vec<_>>>().map_or("?".to_owned(), |all| secs(median(all)))
    };
    println!(
        "  CPU time, its process           bulk load {}, full import {}, plain read {}, no-change re-import {}   (informative{})",
        cpu(|r| r.baseline_cpu),
        cpu(|r| r.full_cpu),
        cpu(|r| r.read_cpu),
        cpu(|r| r.no_change_cpu),
        match first.setup {
            Setup::Sqlite(_) => "",
            Setup::Postgres(_) => "; the PostgreSQL server's own CPU is not in it",
        }
    );
    println!("  peak RSS (run 1)                {}", first.rss.report());
    full_ok && no_change_ok && written_ok && rss_ok(full_peak) && rss_ok(no_change_peak) && api_ok
}

/// The median of some counts (the lower middle one for an even count).
fn median_u64(mut values: Vec<u64>) -> u64 {
    values.sort_unstable();
    values.get(values.len().saturating_sub(1) / 2).copied().unwrap_or(0)
}

/// The bench's databases' directory: the one given, or a temporary one
/// removed when this is dropped. Each run gets a folder of its own.
#[derive(Debug)]
struct WorkDir {
    path: PathBuf,
    /// True for a temporary directory: runs' folders are removed after them.
    remove: bool,
}

impl WorkDir {
    /// Uses `dir`, or makes a temporary directory.
    fn new(dir: Option<&Path>) -> anyhow::Result<WorkDir> {
        let work = match dir {
            Some(dir) => WorkDir { path: dir.to_owned(), remove: false },
            None => {
                let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
                let path = std::env::temp_dir().join(format!("roster-bench-import.{}.{nanos}", std::process::id()));
                WorkDir { path, remove: true }
            }
        };
        std::fs::create_dir_all(&work.path).with_context(|| format!("creating {}", work.path.display()))?;
        Ok(work)
    }

    /// Database `name`'s file in run `index`'s folder (made if missing);
    /// an error if the file exists (an earlier run's databases).
    fn database(&self, index: u32, name: &str) -> anyhow::Result<PathBuf> {
        let dir = self.path.join(format!("run-{index}"));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let file = dir.join(format!("{name}.db"));
        if file.exists() {
            bail!("{} already exists (an earlier run's databases?): give an empty or new directory", file.display());
        }
        Ok(file)
    }
}

impl Drop for WorkDir {
    /// Removes a temporary directory with whatever is left in it.
    fn drop(&mut self) {
        if self.remove
            && let Err(error) = std::fs::remove_dir_all(&self.path)
        {
            log(&format!("warning: could not remove {}: {error}", self.path.display()));
        }
    }
}

/// A deterministic directory: who the users are and which groups they are in.
#[derive(Debug, Clone, Copy)]
struct Fixture {
    users: u32,
    groups: u32,
}

/// What the full import must write.
#[derive(Debug, Clone, Copy)]
struct Expected {
    /// Users in at least one linked group: created, one `users` and one
    /// `session_changes` row each.
    users: u64,
    /// Their accesses: one `user_accesses` row each.
    grants: u64,
}

/// Given names, surnames, departments and titles the users are made of.
const GIVEN_NAMES: [&str; 24] = [
    "Anna", "Mette", "Sofie", "Ida", "Emma", "Laura", "Maria", "Camilla", "Julie", "Louise", "Karen", "Freja", "Lars", "Peter", "Jens",
    "Mads", "Søren", "Henrik", "Thomas", "Rasmus", "Niels", "Mikkel", "Jonas", "Frederik",
];
/// See [`GIVEN_NAMES`].
const SURNAMES: [&str; 24] = [
    "Nielsen",
    "Jensen",
    "Hansen",
    "Pedersen",
    "Andersen",
    "Christensen",
    "Larsen",
    "Sørensen",
    "Rasmussen",
    "Jørgensen",
    "Petersen",
    "Madsen",
    "Kristensen",
    "Olsen",
    "Thomsen",
    "Christiansen",
    "Poulsen",
    "Johansen",
    "Møller",
    "Mortensen",
    "Knudsen",
    "Jakobsen",
    "Mikkelsen",
    "Olesen",
];
/// See [`GIVEN_NAMES`].
const DEPARTMENTS: [&str; 10] =
    ["Finance", "Sales", "Engineering", "Operations", "Support", "Marketing", "Legal", "Human Resources", "Logistics", "Research"];
/// See [`GIVEN_NAMES`].
const TITLES: [&str; 12] = [
    "Consultant",
    "Senior Consultant",
    "Engineer",
    "Senior Engineer",
    "Team Lead",
    "Manager",
    "Analyst",
    "Coordinator",
    "Specialist",
    "Assistant",
    "Director",
    "Technician",
];

impl Fixture {
    /// N users in G site groups.
    fn new(users: u32, groups: u32) -> Fixture {
        Fixture { users, groups }
    }

    /// The site (and group) user `i` belongs to.
    fn site(&self, i: u32) -> u32 {
        i % self.groups
    }

    /// The groups user `i` is a direct member of: none for ~2 % (service
    /// accounts and the like), two for ~5 %, else its site's.
    fn memberships(&self, i: u32) -> Vec<u32> {
        if i % 50 == 11 {
            Vec::new()
        } else if i % 20 == 3 && self.groups > 1 {
            vec![self.site(i), (self.site(i) + 1) % self.groups]
        } else {
            vec![self.site(i)]
        }
    }

    /// What the full import writes.
    fn expected(&self) -> Expected {
        let mut expected = Expected { users: 0, grants: 0 };
        for i in 0..self.users {
            let groups = self.memberships(i).len() as u64;
            if groups > 0 {
                expected.users += 1;
                expected.grants += groups;
            }
        }
        expected
    }

    /// A site's name: its OU, group and access are called this.
    fn site_name(g: u32) -> String {
        format!("Site-{:02}", g + 1)
    }

    /// The DN of a site's group, as the links name it.
    fn group_dn(g: u32) -> String {
        format!("CN={},OU=Groups,{BASE}", Fixture::site_name(g))
    }

    /// User `i`, with the fields an agent reads.
    fn user(&self, i: u32) -> anyhow::Result<UserRecord> {
        let n = i as usize;
        let given = GIVEN_NAMES[n % GIVEN_NAMES.len()];
        let surname = SURNAMES[(n / GIVEN_NAMES.len()) % SURNAMES.len()];
        let folded = |s: &str| s.to_lowercase().replace('ø', "oe");
        let initial = given.chars().next().map(|c| c.to_ascii_lowercase()).unwrap_or('x');
        let sam = format!("{initial}{}{i}", folded(surname).chars().take(8).collect::<String>());
        Ok(UserRecord {
            object_guid: guid(1, u64::from(i))?,
            dn: format!("CN={given} {surname} {i},OU={},OU=Staff,{BASE}", Fixture::site_name(self.site(i))),
            user_principal_name: Some(format!("{sam}@corp.example.test")),
            mail: Some(format!("{}.{}{i}@example.com", folded(given), folded(surname))),
            sam_account_name: sam,
            given_name: Some(given.to_owned()),
            surname: Some(surname.to_owned()),
            display_name: Some(format!("{given} {surname}")),
            telephone_number: (!i.is_multiple_of(5)).then(|| format!("+45 {:04} {:04}", 3000 + i / 10_000 % 7000, i % 10_000)),
            department: Some(DEPARTMENTS[(n / 7) % DEPARTMENTS.len()].to_owned()),
            title: Some(TITLES[(n / 3) % TITLES.len()].to_owned()),
            // ~3 % disabled: imported, inactive.
            user_account_control: if i % 33 == 7 { 514 } else { 512 },
            account_expires: i.is_multiple_of(4).then_some(i64::MAX),
            consistency_guid: None,
            outside_filter: false,
            usn_changed: Some(20_000 + u64::from(i)),
            when_changed: Some(format!("2025{:02}{:02}093015.0Z", 1 + i % 12, 1 + i % 28)),
        })
    }

    /// Site `g`'s group with its members.
    fn group(g: u32, members: Vec<ObjectGuid>) -> anyhow::Result<GroupRecord> {
        Ok(GroupRecord {
            object_guid: guid(2, u64::from(g))?,
            dn: Fixture::group_dn(g),
            name: Fixture::site_name(g),
            group_type: -2147483646,
            members,
        })
    }

    /// The OUs: `OU=Staff`, `OU=Groups` and one per site.
    fn ous(&self) -> anyhow::Result<Vec<OuRecord>> {
        let mut ous = vec![
            OuRecord { object_guid: guid(3, 0)?, dn: format!("OU=Staff,{BASE}"), name: "Staff".into() },
            OuRecord { object_guid: guid(3, 1)?, dn: format!("OU=Groups,{BASE}"), name: "Groups".into() },
        ];
        for g in 0..self.groups {
            let name = Fixture::site_name(g);
            ous.push(OuRecord { object_guid: guid(3, 2 + u64::from(g))?, dn: format!("OU={name},OU=Staff,{BASE}"), name });
        }
        Ok(ous)
    }
}

/// SplitMix64: a fixed pseudo-random sequence, so runs are comparable.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A random-looking but fixed objectGUID for object `n` of a `kind`
/// (1 users, 2 groups, 3 OUs, 4 other), so anchor order is not creation order.
fn guid(kind: u64, n: u64) -> anyhow::Result<ObjectGuid> {
    let a = splitmix64((kind << 48) ^ n);
    let b = splitmix64(a);
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&a.to_le_bytes());
    bytes[8..].copy_from_slice(&b.to_le_bytes());
    Ok(ObjectGuid::from_ldap_bytes(&bytes)?)
}

/// The tenant, job, accesses, agent and committed snapshot of one database.
#[derive(Debug)]
struct World {
    tenant: TenantId,
    /// The tenant's admin token, for the API's answers.
    admin_token: String,
    job: Job,
    /// Site `g`'s access at index `g`.
    accesses: Vec<Access>,
    snapshot_id: SnapshotId,
    manifest: Manifest,
    manifest_sha256: Sha256Hex,
}

/// Creates the tenant, the job (whole domain, default safeguard), one
/// basic access per site, a registered agent and its offered full
/// snapshot (committed by [`load_directory`]; the baseline's sessions only
/// need it to exist).
async fn create_world(db: &Db, fixture: &Fixture) -> anyhow::Result<World> {
    let created = store::tenants::create_tenant(db, "Bench", None).await?;
    let (tenant, admin_token) = (created.tenant_id, created.admin_token);
    let input = CreateJob {
        name: "corp".into(),
        relative_paths: vec![roster_proto::scope::WHOLE_DOMAIN.into()],
        group_paths: Vec::new(),
        schedule: None,
        full_sync_interval_days: None,
        user_filter: None,
        // The default: a first import has no active users, so it never holds.
        policy: None,
        sync_mode: None,
    };
    // No scheduled import: only the bench's own run, even in the server it starts.
    let schedule = roster_proto::admin::Schedule { enabled: false, ..roster_proto::admin::Schedule::default() };
    let created = store::jobs::create_job(&mut *db.writer().await?, tenant, &input, schedule, 7, 0).await?;
    let job = match created {
        store::jobs::CreatedJob::Created(job) => *job,
        store::jobs::CreatedJob::NameTaken => bail!("a fresh database already has a job named {}", input.name),
    };
    let mut accesses = Vec::with_capacity(fixture.groups as usize);
    for g in 0..fixture.groups {
        accesses.push(store::jobs::create_access(&mut *db.writer().await?, tenant, AccessKind::User, &Fixture::site_name(g)).await?.0);
    }
    let key = AgentKey::generate()?;
    let agent = {
        let mut conn = db.pool.acquire().await?;
        store::agents::insert_agent(&mut conn, tenant, job.id, &key.public_key(), Some("dc1.corp.example.test"), Some("bench")).await?
    };
    let manifest = manifest(fixture, agent, job.id)?;
    let manifest_sha256 = roster_snapshot::sha256_hex(&serde_json::to_vec(&manifest)?);
    let snapshot = store::directory::offer_snapshot(&mut *db.writer().await?, tenant, &manifest, &manifest_sha256).await?;
    Ok(World { tenant, admin_token, job, accesses, snapshot_id: snapshot.id, manifest, manifest_sha256 })
}

/// The manifest an agent would sign for the fixture's full snapshot:
/// chunks of 2,000 records (~1 MiB of NDJSON, ~120 KiB gzipped) each.
fn manifest(fixture: &Fixture, agent: AgentId, job: JobId) -> anyhow::Result<Manifest> {
    let counts =
        RecordCounts { users: u64::from(fixture.users), groups: u64::from(fixture.groups), ous: 2 + u64::from(fixture.groups), deleted: 0 };
    let total = counts.users + counts.groups + counts.ous;
    /// Records per chunk.
    const PER_CHUNK: u64 = 2_000;
    let chunks = (0..total.div_ceil(PER_CHUNK))
        .map(|index| {
            let records = PER_CHUNK.min(total - index * PER_CHUNK);
            Ok(ChunkRef {
                index: u32::try_from(index)?,
                size: records * 60,
                sha256: roster_snapshot::sha256_hex(format!("bench chunk {index}").as_bytes()).into_string(),
                records,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Manifest {
        version: FORMAT_VERSION,
        snapshot_id: SnapshotId::new(),
        agent_id: agent,
        job_id: job,
        kind: SnapshotKind::Full,
        read_started_at: time::OffsetDateTime::now_utc(),
        directory: DirectoryIdentity {
            domain_dn: BASE.into(),
            domain_sid: Some("S-1-5-21-3623811015-3361044348-30300820".into()),
            dns_host_name: Some("dc1.corp.example.test".into()),
            base_dn: BASE.into(),
        },
        watermark: Watermark { dns_host_name: "dc1.corp.example.test".into(), invocation_id: guid(4, 0)?, usn: 20_000 + total },
        base: None,
        counts,
        chunks,
    })
}

/// Links each site group to its access and builds the job's directory
/// state as committing the fixture's full snapshot leaves it, in one
/// transaction: its objects, and its structure as counted while staged
/// (`roster_import::SnapshotSummariser`, fed each record as ingest feeds
/// it). Users are made one at a time, staged together. Returns the time
/// the counting took.
async fn load_directory(db: &Db, world: &World, fixture: &Fixture) -> anyhow::Result<Duration> {
    let job = world.job.id;
    let links: Vec<LinkInput> = world
        .accesses
        .iter()
        .enumerate()
        .map(|(g, access)| LinkInput { group: Fixture::group_dn(g as u32), access_id: access.id })
        .collect();
    let mut tx = db.begin_write().await?;
    store::jobs::put_links(&mut tx, job, &links, &[]).await?;
    if !store::directory::mark_committed(&mut tx, job, world.snapshot_id).await? {
        bail!("snapshot {} was already committed", world.snapshot_id);
    }
    store::directory::save_state(&mut tx, job, world.snapshot_id, &world.manifest.watermark, Some(&world.job.scope())).await?;
    // Staged straight into the snapshot's generation, which the state reads,
    // a batch at a time: the bench holds no more than a batch, so the
    // imports' peak RSS after it is theirs, not the setup's left-overs.
    /// Objects staged per batch.
    const BATCH: usize = 5_000;
    let mut objects = Vec::with_capacity(BATCH);
    let mut staged_members = Vec::new();
    let mut members: Vec<Vec<ObjectGuid>> = vec![Vec::new(); fixture.groups as usize];
    let mut structure = roster_import::SnapshotSummariser::default();
    let mut counting = Duration::ZERO;
    let mut count = |record: &Record| {
        let started = Instant::now();
        structure.add(record);
        counting += started.elapsed();
    };
    let records = fixture.ous()?.into_iter().map(|ou| anyhow::Ok(Record::Ou(ou))).chain((0..fixture.users).map(|i| {
        let user = fixture.user(i)?;
        for g in fixture.memberships(i) {
            members[g as usize].push(user.object_guid);
        }
        Ok(Record::User(user))
    }));
    for record in records {
        let record = record?;
        count(&record);
        objects.push(store::directory::StagedObject::new(&record, true).0);
        if objects.len() == BATCH {
            store::directory::stage_objects(&mut tx, db.dialect, job, world.snapshot_id, &objects).await?;
            objects.clear();
        }
    }
    for (g, members) in members.into_iter().enumerate() {
        let group = Record::Group(Fixture::group(g as u32, members)?);
        count(&group);
        let (object, group_members) = store::directory::StagedObject::new(&group, true);
        if let Some((group, group_members)) = group_members {
            staged_members.extend(group_members.iter().map(|member| (group, *member)));
        }
        objects.push(object);
        if objects.len() == BATCH || staged_members.len() >= BATCH {
            store::directory::stage_objects(&mut tx, db.dialect, job, world.snapshot_id, &objects).await?;
            store::directory::stage_members(&mut tx, db.dialect, job, world.snapshot_id, &staged_members).await?;
            objects.clear();
            staged_members.clear();
        }
    }
    store::directory::stage_objects(&mut tx, db.dialect, job, world.snapshot_id, &objects).await?;
    store::directory::stage_members(&mut tx, db.dialect, job, world.snapshot_id, &staged_members).await?;
    let started = Instant::now();
    let structure = structure.finish();
    counting += started.elapsed();
    store::directory::keep_summary(&mut tx, job, world.snapshot_id, &structure).await?;
    tx.commit().await?;
    Ok(counting)
}

/// Queues a manual import of the world's snapshot (a child process claims and runs it).
async fn queue_session(db: &Db, world: &World) -> anyhow::Result<SessionId> {
    let mut conn = db.pool.acquire().await?;
    Ok(store::sessions::insert_session(
        &mut conn,
        world.tenant,
        world.job.id,
        world.snapshot_id,
        &world.manifest_sha256,
        SessionTrigger::Manual,
    )
    .await?)
}

/// One import run in a process of its own, as a server runs it: the
/// time, CPU time and peak RSS are the import's, not the setup's or an
/// earlier import's left-overs.
#[derive(Debug, Clone, Copy)]
struct ChildRun {
    /// From claiming the session's work to the import's end.
    elapsed: Duration,
    cpu: Option<Duration>,
    /// The child process's peak RSS (`VmHWM`), everything included.
    peak_kib: Option<u64>,
}

impl ChildRun {
    /// Runs queued `session` on the database at `place` in a child
    /// process (this program, `--child-session`); an error unless it applied.
    async fn spawn(place: &Place, session: SessionId) -> anyhow::Result<ChildRun> {
        let exe = std::env::current_exe().context("finding this program to run an import in a child process")?;
        let child = tokio::process::Command::new(&exe)
            .arg("--child-session")
            .arg(session.to_string())
            .env(CHILD_DATABASE_URL, place.url())
            .stderr(std::process::Stdio::inherit())
            .output()
            .await
            .with_context(|| format!("running {} as the child import (rebuilt or removed meanwhile?)", exe.display()))?;
        let out = String::from_utf8_lossy(&child.stdout);
        if !child.status.success() {
            bail!(
                "the child import exited with {} (its error is above){}",
                child.status,
                if out.is_empty() { String::new() } else { format!("; it printed {out:?}") }
            );
        }
        ChildRun::parse(&out).with_context(|| format!("the child import printed {out:?}"))
    }

    /// In the child: claims `session` on `url`'s database and runs its import.
    async fn run(url: &str, session: SessionId) -> anyhow::Result<ChildRun> {
        let db = Db::connect(url).await.context("opening the database")?;
        let Some(token) = store::sessions::claim(&db, session).await? else { bail!("could not claim session {session}") };
        let (started, cpu) = (Instant::now(), cpu_time());
        let work = store::sessions::work(&db, session, token).await?.with_context(|| format!("claimed session {session} has no work"))?;
        let outcome = roster_server::import::run_session(&db, &work).await.context("the import failed")?;
        anyhow::ensure!(outcome == roster_server::import::RunOutcome::Applied, "the import was not applied: {outcome:?}");
        let run = ChildRun { elapsed: started.elapsed(), cpu: cpu_since(cpu), peak_kib: status_kib("VmHWM") };
        db.pool.close().await;
        Ok(run)
    }

    /// One line on stdout: nanoseconds, CPU milliseconds and peak KiB (`-` when unknown).
    fn print(&self) {
        let or_dash = |v: Option<u128>| v.map_or("-".to_owned(), |v| v.to_string());
        println!("{} {} {}", self.elapsed.as_nanos(), or_dash(self.cpu.map(|c| c.as_millis())), or_dash(self.peak_kib.map(u128::from)));
    }

    /// Reads what [`ChildRun::print`] printed.
    fn parse(line: &str) -> anyhow::Result<ChildRun> {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [nanos, cpu, peak] = fields[..] else { bail!("expected three fields") };
        let maybe = |v: &str| -> anyhow::Result<Option<u64>> { Ok(if v == "-" { None } else { Some(v.parse()?) }) };
        Ok(ChildRun { elapsed: Duration::from_nanos(nanos.parse()?), cpu: maybe(cpu)?.map(Duration::from_millis), peak_kib: maybe(peak)? })
    }
}

/// The session as its run left it; an error unless it succeeded.
async fn finished_session(db: &Db, world: &World, id: SessionId) -> anyhow::Result<Session> {
    let session = store::sessions::get_session(db, world.tenant, id).await?.with_context(|| format!("session {id} vanished"))?;
    if session.status != SessionStatus::Succeeded {
        bail!(
            "session {} ended {} (error: {}; held: {:?}; notes: {:?})",
            session.id,
            session.status.as_str(),
            session.error.as_deref().unwrap_or("none"),
            session.held_reasons,
            session.notes
        );
    }
    Ok(session)
}

/// Rows of one `SELECT COUNT(*) ...` with no parameters.
async fn count(db: &Db, sql: &'static str) -> anyhow::Result<u64> {
    let n: i64 = sqlx::query(sql).fetch_one(&db.pool).await?.try_get(0)?;
    Ok(u64::try_from(n)?)
}

/// The session's itemised changes.
async fn session_change_count(db: &Db, session: SessionId) -> anyhow::Result<u64> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM session_changes WHERE session_id = $1")
        .bind(session.to_string())
        .fetch_one(&db.pool)
        .await?;
    Ok(u64::try_from(row.try_get::<i64, _>("n")?)?)
}

/// Checks the full import created every linked user and wrote their rows.
async fn check_full_import(db: &Db, session: &Session, expected: &Expected) -> anyhow::Result<()> {
    let c = &session.counts;
    if c.created != expected.users || c.updated + c.deactivated + c.reactivated != 0 {
        bail!(
            "the full import created {} users (expected {}), updated {}, deactivated {}, reactivated {}",
            c.created,
            expected.users,
            c.updated,
            c.deactivated,
            c.reactivated
        );
    }
    let users = count(db, "SELECT COUNT(*) FROM users").await?;
    let grants = count(db, "SELECT COUNT(*) FROM user_accesses").await?;
    let changes = session_change_count(db, session.id).await?;
    if (users, grants, changes) != (expected.users, expected.grants, expected.users) {
        bail!(
            "the full import wrote {users} users, {grants} user_accesses and {changes} session_changes; expected {}, {} and {}",
            expected.users,
            expected.grants,
            expected.users
        );
    }
    Ok(())
}

/// Checks the re-import changed nothing and counted every imported user unchanged.
fn check_no_change(session: &Session, expected: &Expected) -> anyhow::Result<()> {
    let c = &session.counts;
    if c.created + c.updated + c.deactivated + c.reactivated != 0 || c.unchanged != expected.users {
        bail!(
            "the no-change re-import created {}, updated {}, deactivated {}, reactivated {} and left {} unchanged (expected 0, 0, 0, 0, {})",
            c.created,
            c.updated,
            c.deactivated,
            c.reactivated,
            c.unchanged,
            expected.users
        );
    }
    Ok(())
}

/// Checks the baseline's database holds as many rows as the full import wrote.
async fn check_baseline(place: &Place, expected: &Expected) -> anyhow::Result<()> {
    let db = Db::connect(&place.url()).await.context("reopening the baseline database")?;
    let users = count(&db, "SELECT COUNT(*) FROM users").await?;
    let grants = count(&db, "SELECT COUNT(*) FROM user_accesses").await?;
    let changes = count(&db, "SELECT COUNT(*) FROM session_changes").await?;
    db.pool.close().await;
    if (users, grants, changes) != (expected.users, expected.grants, expected.users) {
        bail!(
            "the baseline inserted {users} users, {grants} user_accesses and {changes} session_changes; expected {}, {} and {}",
            expected.users,
            expected.grants,
            expected.users
        );
    }
    Ok(())
}

/// Where the user tables stand, to tell which rows an import wrote.
#[derive(Debug, Clone, Copy)]
struct Counters {
    users: i64,
    users_max_updated_at: i64,
    /// The first row version of each table written after this moment:
    /// see [`RowVersions`].
    users_mark: i64,
    accesses: i64,
    accesses_mark: i64,
}

/// How each engine tells the rows written after a moment. SQLite gives an
/// inserted row a rowid larger than any before it (an updated row keeps
/// its own, so `updated_at` tells those); PostgreSQL stamps each row
/// version with the transaction that wrote it (`xmin`), inserted or
/// updated alike (so `created_at` tells them apart), and every later
/// transaction's id is at least the current snapshot's `xmax`.
#[derive(Debug, Clone, Copy)]
struct RowVersions {
    /// Selects `users`' mark (`m`) with its count (`n`) and latest `updated_at` (`t`).
    users_mark: &'static str,
    /// Selects `user_accesses`' mark and count.
    accesses_mark: &'static str,
    /// Counts `users` rows inserted since mark `$1` (given `$2`, the latest `updated_at` before).
    users_inserted: &'static str,
    /// Counts `users` rows updated since mark `$1` (given `$2`).
    users_updated: &'static str,
    /// Counts `user_accesses` rows inserted since mark `$1`.
    accesses_inserted: &'static str,
}

impl RowVersions {
    fn of(dialect: roster_server::db::Dialect) -> RowVersions {
        match dialect {
            roster_server::db::Dialect::Sqlite => RowVersions {
                users_mark: "SELECT COUNT(*) AS n, COALESCE(MAX(rowid), 0) + 1 AS m, COALESCE(MAX(updated_at), 0) AS t FROM users",
                accesses_mark: "SELECT COUNT(*) AS n, COALESCE(MAX(rowid), 0) + 1 AS m FROM user_accesses",
                users_inserted: "SELECT COUNT(*) AS n FROM users WHERE rowid >= $1 AND $2 = $2",
                users_updated: "SELECT COUNT(*) AS n FROM users WHERE rowid < $1 AND updated_at > $2",
                accesses_inserted: "SELECT COUNT(*) AS n FROM user_accesses WHERE rowid >= $1",
            },
            roster_server::db::Dialect::Postgres => RowVersions {
                users_mark: "SELECT COUNT(*) AS n, CAST(CAST(pg_snapshot_xmax(pg_current_snapshot()) AS TEXT) AS BIGINT) AS m,
                                 COALESCE(MAX(updated_at), 0) AS t FROM users",
                accesses_mark: "SELECT COUNT(*) AS n, CAST(CAST(pg_snapshot_xmax(pg_current_snapshot()) AS TEXT) AS BIGINT) AS m FROM user_accesses",
                users_inserted: "SELECT COUNT(*) AS n FROM users WHERE CAST(CAST(xmin AS TEXT) AS BIGINT) >= $1 AND created_at > $2",
                users_updated: "SELECT COUNT(*) AS n FROM users WHERE CAST(CAST(xmin AS TEXT) AS BIGINT) >= $1 AND created_at <= $2",
                accesses_inserted: "SELECT COUNT(*) AS n FROM user_accesses WHERE CAST(CAST(xmin AS TEXT) AS BIGINT) >= $1",
            },
        }
    }
}

impl Counters {
    /// Reads the counters.
    async fn read(db: &Db) -> anyhow::Result<Counters> {
        let sql = RowVersions::of(db.dialect);
        let mut conn = db.pool.acquire().await?;
        let users = sqlx::query(sql.users_mark).fetch_one(&mut *conn).await?;
        let accesses = sqlx::query(sql.accesses_mark).fetch_one(&mut *conn).await?;
        Ok(Counters {
            users: users.try_get("n")?,
            users_mark: users.try_get("m")?,
            users_max_updated_at: users.try_get("t")?,
            accesses: accesses.try_get("n")?,
            accesses_mark: accesses.try_get("m")?,
        })
    }
}

/// User rows an import wrote, by kind.
#[derive(Debug, Clone, Copy)]
struct UserRowsWritten {
    users_inserted: u64,
    users_updated: u64,
    users_deleted: u64,
    accesses_inserted: u64,
    accesses_deleted: u64,
}

impl UserRowsWritten {
    /// What changed in `users` and `user_accesses` from `before` to
    /// `after`: rows written since `before`'s marks ([`RowVersions`]), and
    /// the counts tell the deleted ones.
    async fn between(db: &Db, before: &Counters, after: &Counters) -> anyhow::Result<UserRowsWritten> {
        let sql = RowVersions::of(db.dialect);
        let count = async |sql: &'static str, mark: i64, updated_at: Option<i64>| -> anyhow::Result<i64> {
            let mut query = sqlx::query(sql).bind(mark);
            if let Some(updated_at) = updated_at {
                query = query.bind(updated_at);
            }
            Ok(query.fetch_one(&db.pool).await?.try_get("n")?)
        };
        let users_inserted = count(sql.users_inserted, before.users_mark, Some(before.users_max_updated_at)).await?;
        let users_updated = count(sql.users_updated, before.users_mark, Some(before.users_max_updated_at)).await?;
        let accesses_inserted = count(sql.accesses_inserted, before.accesses_mark, None).await?;
        let deleted = |before: i64, inserted: i64, after: i64| u64::try_from(before + inserted - after).unwrap_or(0);
        Ok(UserRowsWritten {
            users_inserted: u64::try_from(users_inserted)?,
            users_updated: u64::try_from(users_updated)?,
            users_deleted: deleted(before.users, users_inserted, after.users),
            accesses_inserted: u64::try_from(accesses_inserted)?,
            accesses_deleted: deleted(before.accesses, accesses_inserted, after.accesses),
        })
    }

    /// Every user row written.
    fn total(&self) -> u64 {
        self.users_inserted + self.users_updated + self.users_deleted + self.accesses_inserted + self.accesses_deleted
    }
}

impl std::fmt::Display for UserRowsWritten {
    /// The counts, in words.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "users: {} inserted, {} updated, {} deleted; user_accesses: {} inserted, {} deleted",
            self.users_inserted, self.users_updated, self.users_deleted, self.accesses_inserted, self.accesses_deleted
        )
    }
}

/// A `users` row as the import wrote it.
#[derive(Debug)]
struct UserRow {
    id: String,
    tenant_id: String,
    job_id: String,
    anchor: String,
    object_guid: String,
    username: String,
    user_principal_name: Option<String>,
    email: Option<String>,
    display_name: Option<String>,
    given_name: Option<String>,
    surname: Option<String>,
    telephone_number: Option<String>,
    department: Option<String>,
    title: Option<String>,
    dn: String,
    active: i64,
    fingerprint: String,
    deactivated_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

/// A `session_changes` row as the import wrote it.
#[derive(Debug)]
struct ChangeRow {
    session_id: String,
    seq: i64,
    user_id: Option<String>,
    object_guid: String,
    username: String,
    action: String,
    details: String,
}

/// Exactly the rows the full import wrote, in the order it wrote them:
/// what the baseline inserts.
#[derive(Debug)]
struct ImportedRows {
    users: Vec<UserRow>,
    /// (user id, access id).
    grants: Vec<(String, String)>,
    changes: Vec<ChangeRow>,
}

impl ImportedRows {
    /// Reads the rows the full import (`session`) wrote, in the order it
    /// wrote them (SQLite's rowid, PostgreSQL's physical order: both
    /// tables were empty before it), a row at a time (so only the rows are
    /// held, not the driver's copies of them too).
    async fn read(db: &Db, session: SessionId) -> anyhow::Result<ImportedRows> {
        let order = match db.dialect {
            roster_server::db::Dialect::Sqlite => "rowid",
            roster_server::db::Dialect::Postgres => "ctid",
        };
        let users = streamed(
            db,
            &format!(
                "SELECT id, tenant_id, job_id, anchor, object_guid, username, user_principal_name, email, display_name, given_name,
                 surname, telephone_number, department, title, dn, active, fingerprint, deactivated_at, created_at, updated_at
             FROM users WHERE $1 = $1 ORDER BY {order}"
            ),
            "",
            |r| {
                Ok(UserRow {
                    id: r.try_get("id")?,
                    tenant_id: r.try_get("tenant_id")?,
                    job_id: r.try_get("job_id")?,
                    anchor: r.try_get("anchor")?,
                    object_guid: r.try_get("object_guid")?,
                    username: r.try_get("username")?,
                    user_principal_name: r.try_get("user_principal_name")?,
                    email: r.try_get("email")?,
                    display_name: r.try_get("display_name")?,
                    given_name: r.try_get("given_name")?,
                    surname: r.try_get("surname")?,
                    telephone_number: r.try_get("telephone_number")?,
                    department: r.try_get("department")?,
                    title: r.try_get("title")?,
                    dn: r.try_get("dn")?,
                    active: r.try_get("active")?,
                    fingerprint: r.try_get("fingerprint")?,
                    deactivated_at: r.try_get("deactivated_at")?,
                    created_at: r.try_get("created_at")?,
                    updated_at: r.try_get("updated_at")?,
                })
            },
        )
        .await?;
        let grants = streamed(db, &format!("SELECT user_id, access_id FROM user_accesses WHERE $1 = $1 ORDER BY {order}"), "", |r| {
            Ok((r.try_get("user_id")?, r.try_get("access_id")?))
        })
        .await?;
        let changes = streamed(
            db,
            "SELECT session_id, seq, user_id, object_guid, username, action, details FROM session_changes
             WHERE session_id = $1 ORDER BY seq",
            &session.to_string(),
            |r| {
                Ok(ChangeRow {
                    session_id: r.try_get("session_id")?,
                    seq: r.try_get("seq")?,
                    user_id: r.try_get("user_id")?,
                    object_guid: r.try_get("object_guid")?,
                    username: r.try_get("username")?,
                    action: r.try_get("action")?,
                    details: r.try_get("details")?,
                })
            },
        )
        .await?;
        Ok(ImportedRows { users, grants, changes })
    }

    /// The same rows pointing at `to`'s tenant, job, accesses and `session`
    /// instead of `from`'s, so the baseline's foreign keys hold.
    fn for_world(mut self, from: &World, to: &World, session: SessionId) -> anyhow::Result<ImportedRows> {
        let (tenant, job, session) = (to.tenant.to_string(), to.job.id.to_string(), session.to_string());
        let accesses: HashMap<String, String> =
            from.accesses.iter().zip(&to.accesses).map(|(a, b)| (a.id.to_string(), b.id.to_string())).collect();
        for user in &mut self.users {
            user.tenant_id.clone_from(&tenant);
            user.job_id.clone_from(&job);
        }
        for (_, access) in &mut self.grants {
            *access = accesses.get(access.as_str()).with_context(|| format!("the import granted unknown access {access}"))?.clone();
        }
        for change in &mut self.changes {
            change.session_id.clone_from(&session);
        }
        Ok(self)
    }
}

/// The read baseline: what a plain read of the rows a no-change re-import
/// compares found, and how long it took.
#[derive(Debug, Clone, Copy)]
struct PlainRead {
    elapsed: Duration,
    groups: u64,
    members: u64,
    directory_users: u64,
    stored_users: u64,
    /// What was read: on SQLite every column's bytes (integers count 8),
    /// on PostgreSQL the COPY text received.
    bytes: u64,
}

impl PlainRead {
    /// Checks it read every group, directory user and stored user.
    fn check(&self, fixture: &Fixture, expected: &Expected) -> anyhow::Result<()> {
        let wanted = (u64::from(fixture.groups), u64::from(fixture.users), expected.users);
        if (self.groups, self.directory_users, self.stored_users) != wanted {
            bail!(
                "the plain read saw {} groups, {} directory users and {} stored users; expected {}, {} and {}",
                self.groups,
                self.directory_users,
                self.stored_users,
                wanted.0,
                wanted.1,
                wanted.2
            );
        }
        Ok(())
    }
}

/// Every row of `sql` (with `$1` bound to `param`), made into a `T` by
/// `row` as it arrives.
async fn streamed<T>(
    db: &Db,
    sql: &str,
    param: &str,
    row: impl Fn(&sqlx::any::AnyRow) -> Result<T, sqlx::Error>,
) -> anyhow::Result<Vec<T>> {
    let mut conn = db.pool.acquire().await?;
    let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(param).fetch(&mut *conn);
    let mut all = Vec::new();
    while let Some(r) = rows.try_next().await? {
        all.push(row(&r)?);
    }
    Ok(all)
}

/// CPU time this process used so far, user and system, all threads
/// (`/proc/self/stat`, in the kernel's fixed 100 ticks per second).
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces), from field 3 on.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// CPU time used since `start` (from [`cpu_time`]).
fn cpu_since(start: Option<Duration>) -> Option<Duration> {
    Some(cpu_time()?.saturating_sub(start?))
}

/// Peak resident memory per phase, from `/proc/self/status`.
#[derive(Debug, Default)]
struct Rss {
    /// (phase, peak KiB) in order.
    phases: Vec<(&'static str, Option<u64>)>,
    /// Whether the peak could be reset between phases.
    resettable: bool,
    /// (phase, peak KiB) of the phases run in child processes.
    children: Vec<(&'static str, Option<u64>)>,
}

impl Rss {
    /// Starts measuring: resets the peak to the current RSS, if allowed.
    fn new() -> Rss {
        Rss { phases: Vec::new(), resettable: reset_peak_rss(), children: Vec::new() }
    }

    /// Records the peak since the last phase (or since the start), and resets it.
    fn phase(&mut self, name: &'static str) {
        self.phases.push((name, status_kib("VmHWM")));
        self.resettable = self.resettable && reset_peak_rss();
    }

    /// Records a phase run in a child process, with that process's peak.
    fn child(&mut self, name: &'static str, peak_kib: Option<u64>) {
        self.children.push((name, peak_kib));
    }

    /// One line: each phase's peak, or the process's when it could not be reset.
    fn report(&self) -> String {
        let list = |phases: &[(&str, Option<u64>)]| {
            phases.iter().map(|(name, kib)| format!("{} {name}", mib(*kib))).collect::<Vec<_>>().join(", ")
        };
        let own = if self.resettable {
            list(&self.phases)
        } else {
            let peak = self.phases.iter().filter_map(|(_, kib)| *kib).max();
            format!("{} (whole process; per-phase peaks need /proc/self/clear_refs)", mib(peak))
        };
        format!("{own}; in a process of its own each: {}", list(&self.children))
    }

    /// A child phase's peak.
    fn of_child(&self, name: &str) -> Option<u64> {
        self.children.iter().find(|(phase, _)| *phase == name).and_then(|(_, kib)| *kib)
    }
}

/// KiB as MiB, for the report.
fn mib(kib: Option<u64>) -> String {
    kib.map_or("?".to_owned(), |k| format!("{} MiB", k.div_ceil(1024)))
}

/// A `kB` field of `/proc/self/status` (`VmHWM`, `VmRSS`), in KiB.
fn status_kib(field: &str) -> Option<u64> {
    proc_status_kib("/proc/self/status", field)
}

/// A `kB` field of a process's `status` file, in KiB.
fn proc_status_kib(path: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(path).ok()?;
    let line = status.lines().find(|l| l.strip_prefix(field).is_some_and(|rest| rest.starts_with(':')))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Resets this process's peak RSS to its current RSS (Linux 4.0+).
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}
