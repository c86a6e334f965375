//! The load test (`scripts/load.sh` builds and runs it): many agents
//! pushing real signed snapshots through the real agent protocol at two
//! `roster-server` replicas that share one PostgreSQL database, all on
//! 127.0.0.1.
//!
//! It starts the replicas (release `roster-server serve`, each on its own
//! port, on a fresh database of the server `ROSTER_TEST_POSTGRES_URL`
//! names), creates `--tenants` tenants with `roster-server tenant create`,
//! and through the admin API one job per agent (continuous sync, its staff
//! group linked to a basic access), round-robin over the tenants. Each of
//! `--agents` agents registers with a replica (alternately) and, with the
//! agent's own client ([`roster_agent::http::ServerClient`]: its signing,
//! retries and back-off), pushes a full snapshot of `--users` users, then
//! every `--delta-every` seconds (each agent on its own phase) a delta
//! changing the display name of `--changes` users it has not changed
//! before, until `--seconds` have passed. With `--restart`, one replica is
//! killed (SIGKILL) half-way and started again on the same port.
//!
//! Afterwards it waits for every import to settle and checks, per job,
//! through the admin API (which reads the database): no import failed or
//! was held; every user is as the last snapshot the driver saw committed
//! says (a committed snapshot lost leaves a display name behind); the
//! imports' updates add up to exactly the changes committed (a snapshot
//! applied twice, or one lost, breaks the sum); no snapshot was imported
//! by two sessions.
//!
//! It prints pushes per second, p50/p95/p99 of offer and commit (a small
//! snapshot's offer carries its commit: counted as a commit), imports per
//! minute, the database's size, each replica's RSS (now and peak) and the
//! errors; and PASS or FAIL per target: 0 failed imports, 0 lost or doubly
//! applied snapshots, 0 failed pushes, p95 commit < 1 s. It exits 0 when
//! every target passes, 3 when one fails, and 2 (or panics) when the run
//! itself cannot be made.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::process::{Child, ExitCode};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use roster_agent::config::ServerConfig;
use roster_agent::http::ServerClient;
use roster_e2e::{Admin, binary, job_over, spawn_server};
use roster_proto::admin::{
    AccessKind, CreateAccess, CreateJob, CreatedTenant, Job, LinkInput, Page, RegistrationToken, Session, SessionStatus, SyncMode,
};
use roster_proto::agent::{CommitResponse, InlineChunk, MAX_INLINE_CHUNK_BYTES, RegisterRequest};
use roster_proto::manifest::{ChunkRef, DirectoryIdentity, FORMAT_VERSION, Manifest, RecordCounts, SnapshotKind, Watermark};
use roster_proto::records::{Record, UserRecord};
use roster_proto::{JobId, ObjectGuid, SnapshotId};
use roster_snapshot::chunk::{Chunk, ChunkWriter};
use roster_snapshot::keys::AgentKey;
use roster_snapshot::token::sign_manifest;
use roster_testkit::database::fresh_postgres_database;
use roster_testkit::records;
use tokio::sync::Mutex;

const BASE: &str = "DC=load,DC=example,DC=test";
const STAFF_GROUP: &str = "CN=Staff,OU=Groups,DC=load,DC=example,DC=test";
/// Targets.
const P95_COMMIT_TARGET: Duration = Duration::from_secs(1);
/// How long imports may take to settle once pushing stops.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug, Parser)]
#[command(about = "Roster's load test: agents pushing real signed snapshots at two replicas on one PostgreSQL")]
struct Args {
    /// Agents, one job each.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    agents: u32,
    /// Tenants the jobs are spread over.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    tenants: u32,
    /// Users in each agent's full snapshot.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..))]
    users: u32,
    /// How long the agents push deltas after their full snapshot.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    seconds: u64,
    /// Seconds between an agent's deltas.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    delta_every: u64,
    /// Users each delta changes.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    changes: u32,
    /// Replicas sharing the database.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
    replicas: u32,
    /// Kill the last replica (SIGKILL) half-way and start it again.
    #[arg(long)]
    restart: bool,
}

/// The replicas' settings beyond the defaults. Registration is limited per
/// client address, and here every agent registers from 127.0.0.1 (each
/// tenant's request limit stays as it is).
const REPLICA_ENV: &[(&str, &str)] = &[("ROSTER_REGISTER_REQUESTS_PER_MINUTE", "100000"), ("ROSTER_REGISTER_REQUEST_BURST", "1000")];

/// One replica: its process and where it listens.
struct Replica {
    url: String,
    child: Child,
    /// Peak RSS of earlier processes of this replica (before a restart), KiB.
    earlier_peak_kib: u64,
    /// CPU time of earlier processes of this replica.
    earlier_cpu: Duration,
}

impl Replica {
    async fn start(database_url: &str, listen: &str) -> Replica {
        let (child, url) = spawn_server(database_url, listen, false, REPLICA_ENV).await;
        Replica { url, child, earlier_peak_kib: 0, earlier_cpu: Duration::ZERO }
    }

    /// RSS now and at its peak (over restarts), KiB.
    fn rss_kib(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        let field = |name: &str| {
            status.lines().find_map(|l| l.strip_prefix(name)).and_then(|v| v.split_whitespace().next()?.parse().ok()).unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:").max(self.earlier_peak_kib))
    }

    /// CPU time (user and system) over restarts.
    fn cpu(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // After the command's closing parenthesis: state is field 3, utime and stime fields 14 and 15.
        let fields: Vec<&str> = stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
        let ticks: u64 = fields.get(11..13).map(|t| t.iter().filter_map(|v| v.parse::<u64>().ok()).sum()).unwrap_or(0);
        // The kernel's USER_HZ is 100 on every Linux this runs on.
        Duration::from_millis(ticks * 10) + self.earlier_cpu
    }

    async fn kill_and_restart(&mut self, database_url: &str) -> Duration {
        self.earlier_peak_kib = self.rss_kib().1;
        self.earlier_cpu = self.cpu();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let started = Instant::now();
        let listen = self.url.trim_start_matches("http://").to_owned();
        let (child, url) = spawn_server(database_url, &listen, false, REPLICA_ENV).await;
        assert_eq!(url, self.url, "the restarted replica listens where it did");
        self.child = child;
        started.elapsed()
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Request latencies and failures, shared by all agents.
#[derive(Default)]
struct Stats {
    offers: Mutex<Vec<Duration>>,
    commits: Mutex<Vec<Duration>>,
    /// From a full snapshot's commit to its import's end.
    first_imports: Mutex<Vec<Duration>>,
    pushes: AtomicU64,
    failed_pushes: AtomicU64,
    errors: Mutex<Vec<String>>,
}

impl Stats {
    async fn error(&self, what: String) {
        self.failed_pushes.fetch_add(1, Ordering::Relaxed);
        let mut errors = self.errors.lock().await;
        if errors.len() < 20 {
            errors.push(what);
        }
    }
}

/// What one agent committed: the expected state of its job.
struct Pushed {
    job: JobId,
    admin: Arc<Admin>,
    /// Each user's display-name version as last committed.
    versions: Vec<u32>,
    /// Changes in committed deltas.
    changes: u64,
    /// The snapshots the server said it committed, in order.
    committed: Vec<SnapshotId>,
}

/// One simulated agent: the agent's client, key and directory.
struct LoadAgent {
    n: u32,
    client: ServerClient,
    key: Arc<AgentKey>,
    agent_id: roster_proto::AgentId,
    audience: String,
    job: JobId,
    usn: u64,
    versions: Vec<u32>,
    /// The next user a delta changes.
    next_user: u32,
}

fn guid(agent: u32, n: u32) -> ObjectGuid {
    format!("{agent:08x}-{:04x}-4000-8000-{n:012x}", n >> 16).parse().unwrap()
}

impl LoadAgent {
    fn user(&self, i: u32) -> Record {
        let version = self.versions[i as usize];
        Record::User(UserRecord {
            user_principal_name: Some(format!("user{i}@a{}.load.example.test", self.n)),
            mail: Some(format!("user{i}@a{}.load.example.test", self.n)),
            display_name: Some(display_name(i, version)),
            given_name: Some(format!("Given{i}")),
            surname: Some(format!("Surname{i}")),
            department: Some(format!("Department {}", i % 17)),
            ..records::user(guid(self.n, i), format!("CN=user{i},OU=Staff,{BASE}"), format!("user{i}"))
        })
    }

    fn watermark(&self) -> Watermark {
        Watermark { dns_host_name: "dc1.load.example.test".into(), invocation_id: guid(self.n, u32::MAX), usn: self.usn }
    }

    fn full_records(&self) -> Vec<Record> {
        let users = self.versions.len() as u32;
        let mut records: Vec<Record> = (0..users).map(|i| self.user(i)).collect();
        let members = (0..users).map(|i| guid(self.n, i)).collect();
        records.push(Record::Group(records::group(guid(self.n, users), STAFF_GROUP.into(), "Staff".into(), members)));
        records
    }

    /// Pushes `records` as a snapshot of `kind` (from the current
    /// watermark to the next); the commit's answer.
    async fn push(&mut self, records: &[Record], kind: SnapshotKind, stats: &Stats) -> Result<CommitResponse, String> {
        let chunks = chunk(records);
        let base = (kind == SnapshotKind::Delta).then(|| self.watermark());
        self.usn += 1;
        let manifest = self.manifest(&chunks, records, kind, base);
        let inline = chunks.iter().map(|c| c.bytes.len() as u64).sum::<u64>() <= MAX_INLINE_CHUNK_BYTES;
        let inline_chunks: Vec<InlineChunk> =
            if inline { chunks.iter().map(|c| InlineChunk::new(c.index, &c.bytes)).collect() } else { Vec::new() };
        let sign = || sign_manifest(&self.key, &manifest, &self.audience, time::OffsetDateTime::now_utc().unix_timestamp());
        let started = Instant::now();
        let offered = match self.client.offer_snapshot(sign, &inline_chunks, inline).await {
            Ok(offered) => offered,
            // As the agent does (`roster-agent`'s push): the answer to a commit
            // that happened may have been lost (a replica killed while it
            // answered), and the offer the client sent again is then refused
            // for its base. Committing again answers what the commit did; a
            // snapshot the server never stored stays an error.
            Err(error) if inline => match self.client.commit(manifest.snapshot_id).await {
                Ok(commit) => {
                    stats.commits.lock().await.push(started.elapsed());
                    return Ok(commit);
                }
                Err(_) => return Err(format!("offer: {error}")),
            },
            Err(error) => return Err(format!("offer: {error}")),
        };
        if let Some(commit) = offered.commit {
            stats.commits.lock().await.push(started.elapsed());
            return Ok(commit);
        }
        stats.offers.lock().await.push(started.elapsed());
        for index in &offered.state.missing_chunks {
            let chunk = chunks.iter().find(|c| c.index == *index).ok_or(format!("the server asked for chunk {index}"))?;
            self.client.put_chunk(manifest.snapshot_id, *index, &chunk.bytes).await.map_err(|e| format!("chunk {index}: {e}"))?;
        }
        let started = Instant::now();
        let commit = self.client.commit(manifest.snapshot_id).await.map_err(|e| format!("commit: {e}"))?;
        stats.commits.lock().await.push(started.elapsed());
        Ok(commit)
    }

    /// Waits for the import a commit started to settle; an error unless it succeeded.
    async fn wait_for(&self, commit: CommitResponse, stats: &Stats) -> Result<(), String> {
        let started = Instant::now();
        let Some(mut session) = commit.session else { return Err(format!("committing {} started no import", commit.snapshot_id)) };
        while !session.status.is_settled() {
            if started.elapsed() > SETTLE_TIMEOUT {
                return Err(format!("session {} still {} after {} s", session.id, session.status.as_str(), SETTLE_TIMEOUT.as_secs()));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            session = self.client.session(session.id).await.map_err(|e| format!("session: {e}"))?;
        }
        stats.first_imports.lock().await.push(started.elapsed());
        match session.status {
            SessionStatus::Succeeded => Ok(()),
            status => Err(format!("session {} {}: {}", session.id, status.as_str(), session.error.unwrap_or_default())),
        }
    }

    fn manifest(&self, chunks: &[Chunk], records: &[Record], kind: SnapshotKind, base: Option<Watermark>) -> Manifest {
        Manifest {
            version: FORMAT_VERSION,
            snapshot_id: SnapshotId::new(),
            agent_id: self.agent_id,
            job_id: self.job,
            kind,
            read_started_at: time::OffsetDateTime::now_utc(),
            directory: DirectoryIdentity {
                domain_dn: BASE.into(),
                domain_sid: None,
                dns_host_name: Some("dc1.load.example.test".into()),
                base_dn: BASE.into(),
            },
            watermark: self.watermark(),
            base,
            counts: RecordCounts::of(records),
            chunks: chunks
                .iter()
                .map(|c| ChunkRef { index: c.index, size: c.bytes.len() as u64, sha256: c.sha256.to_string(), records: c.records })
                .collect(),
        }
    }
}

fn display_name(i: u32, version: u32) -> String {
    format!("User {i} v{version}")
}

fn chunk(records: &[Record]) -> Vec<Chunk> {
    let mut writer = ChunkWriter::new();
    let mut chunks: Vec<Chunk> = records.iter().filter_map(|r| writer.push(r).expect("chunk a record")).collect();
    chunks.extend(writer.finish().expect("finish a chunk"));
    chunks
}

/// Runs one agent: its full snapshot, then deltas until `until`.
async fn run_agent(mut agent: LoadAgent, admin: Arc<Admin>, args: Arc<Args>, stats: Arc<Stats>, until: Instant) -> Pushed {
    let mut pushed = Pushed { job: agent.job, admin, versions: agent.versions.clone(), changes: 0, committed: Vec::new() };
    let records = agent.full_records();
    stats.pushes.fetch_add(1, Ordering::Relaxed);
    match agent.push(&records, SnapshotKind::Full, &stats).await {
        Ok(commit) => {
            pushed.committed.push(commit.snapshot_id);
            // As `roster-agent push --wait` does: the deltas follow the
            // first import, so each of their changes is an update.
            if let Err(error) = agent.wait_for(commit, &stats).await {
                stats.error(format!("agent {} first import: {error}", agent.n)).await;
                return pushed;
            }
        }
        Err(error) => {
            stats.error(format!("agent {} full snapshot: {error}", agent.n)).await;
            return pushed;
        }
    }
    // Each agent on its own phase, so pushes spread over the interval.
    let every = Duration::from_secs(args.delta_every);
    let phase = every.mul_f64(f64::from(agent.n % 97) / 97.0);
    let mut next = tokio::time::Instant::now() + phase;
    while Instant::now() + (next - tokio::time::Instant::now()) < until {
        tokio::time::sleep_until(next).await;
        next += every;
        let changed: Vec<u32> = (0..args.changes).map(|k| (agent.next_user + k) % args.users).collect();
        agent.next_user = (agent.next_user + args.changes) % args.users;
        for &i in &changed {
            agent.versions[i as usize] += 1;
        }
        let records: Vec<Record> = changed.iter().map(|&i| agent.user(i)).collect();
        stats.pushes.fetch_add(1, Ordering::Relaxed);
        match agent.push(&records, SnapshotKind::Delta, &stats).await {
            Ok(commit) => {
                pushed.versions.clone_from(&agent.versions);
                pushed.changes += u64::from(args.changes);
                pushed.committed.push(commit.snapshot_id);
            }
            Err(error) => {
                // Uncommitted: the directory "changed back", and the next
                // delta starts from the last committed watermark again.
                stats.error(format!("agent {} delta: {error}", agent.n)).await;
                agent.versions.clone_from(&pushed.versions);
                agent.usn -= 1;
            }
        }
    }
    pushed
}

/// The machine's busy and total CPU time so far, in ticks (`/proc/stat`):
/// the replicas, PostgreSQL and the driver together.
fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let values: Vec<u64> = stat.lines().next().unwrap_or("").split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
    let total: u64 = values.iter().sum();
    // idle and iowait are the 4th and 5th.
    let idle = values.get(3).copied().unwrap_or(0) + values.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FAIL" }
}

fn log(message: &str) {
    eprintln!("load: {message}");
}

/// Every session of a job, following cursors.
async fn all_sessions(admin: &Admin, job: JobId) -> Vec<Session> {
    let mut sessions = Vec::new();
    let mut cursor = String::new();
    loop {
        let page: Page<Session> = admin.get(&format!("/api/v1/jobs/{job}/sessions?limit=200{cursor}")).await;
        sessions.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return sessions,
        }
    }
}

/// What the checks found over all jobs.
#[derive(Default)]
struct Checked {
    imports: u64,
    failed: Vec<String>,
    /// Users not as the last committed snapshot says, over all jobs.
    wrong_users: u64,
    /// Jobs whose imports' updates do not add up to the changes committed.
    wrong_sums: Vec<String>,
    /// Snapshots imported by more than one session (in the database).
    doubled: u64,
    /// Jobs whose committed snapshots in the database are not the ones the
    /// server answered as committed, or whose directory state does not
    /// stand at the last of them.
    wrong_snapshots: Vec<String>,
    /// When the imports ran (seconds since the start), for imports per minute.
    import_ends: Vec<f64>,
}

async fn settle(pushed: &Pushed) -> Vec<Session> {
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    loop {
        let sessions = all_sessions(&pushed.admin, pushed.job).await;
        if sessions.iter().all(|s| s.status.is_settled()) || Instant::now() > deadline {
            return sessions;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn check(pushed: &Pushed, checked: &mut Checked, started_at: time::OffsetDateTime) {
    let sessions = settle(pushed).await;
    let mut updated = 0;
    for session in &sessions {
        match session.status {
            SessionStatus::Succeeded => {
                checked.imports += 1;
                updated += session.counts.updated;
                if let Some(finished) = session.finished_at {
                    checked.import_ends.push((finished - started_at).as_seconds_f64());
                }
            }
            status => checked.failed.push(format!(
                "job {}: session {} is {} ({})",
                pushed.job,
                session.id,
                status.as_str(),
                session.error.as_deref().unwrap_or("")
            )),
        }
    }
    if updated != pushed.changes {
        checked
            .wrong_sums
            .push(format!("job {}: the imports updated {updated} users, the deltas committed {} changes", pushed.job, pushed.changes));
    }
    let users = pushed.admin.all_users(pushed.job).await;
    let mut seen = 0;
    for user in &users {
        let Some(i) = user.username.strip_prefix("user").and_then(|n| n.parse::<u32>().ok()) else {
            checked.wrong_users += 1;
            continue;
        };
        seen += 1;
        let expected = pushed.versions.get(i as usize).map(|v| display_name(i, *v));
        if user.display_name != expected || !user.active {
            checked.wrong_users += 1;
        }
    }
    checked.wrong_users += (pushed.versions.len() as u64).saturating_sub(seen);
}

/// The database's own record of the snapshots: per job, the committed
/// snapshots are exactly those the server answered as committed, the
/// directory state stands at the last of them, and no snapshot was
/// imported by two sessions.
async fn check_database(database_url: &str, pushed: &[Pushed], checked: &mut Checked) {
    use sqlx::{Connection, Row};
    let mut conn = sqlx::PgConnection::connect(database_url).await.expect("connect to the load database");
    let mut committed: HashMap<String, Vec<String>> = HashMap::new();
    for row in sqlx::query("SELECT job_id, id FROM snapshots WHERE status = 'committed'").fetch_all(&mut conn).await.expect("snapshots") {
        committed.entry(row.get("job_id")).or_default().push(row.get("id"));
    }
    let states: HashMap<String, String> = sqlx::query("SELECT job_id, snapshot_id FROM directory_state")
        .fetch_all(&mut conn)
        .await
        .expect("directory states")
        .iter()
        .map(|row| (row.get("job_id"), row.get("snapshot_id")))
        .collect();
    for job in pushed {
        let key = job.job.to_string();
        let mut expected: Vec<String> = job.committed.iter().map(ToString::to_string).collect();
        let mut found = committed.remove(&key).unwrap_or_default();
        expected.sort();
        found.sort();
        if found != expected {
            checked.wrong_snapshots.push(format!(
                "job {key}: {} snapshots committed in the database, {} answered as committed",
                found.len(),
                expected.len()
            ));
        }
        let last = job.committed.last().map(ToString::to_string);
        if states.get(&key) != last.as_ref() {
            checked
                .wrong_snapshots
                .push(format!("job {key}: the directory state stands at {:?}, the last commit was {last:?}", states.get(&key)));
        }
    }
    let doubled: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT job_id, snapshot_id FROM sessions WHERE status = 'succeeded'
         GROUP BY job_id, snapshot_id HAVING COUNT(*) > 1) twice",
    )
    .fetch_one(&mut conn)
    .await
    .expect("sessions per snapshot");
    checked.doubled = u64::try_from(doubled).unwrap_or_default();
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Arc::new(Args::parse());
    roster_agent::install_crypto_provider();
    let database_url = fresh_postgres_database().await;
    let mut replicas = Vec::new();
    for _ in 0..args.replicas {
        replicas.push(Replica::start(&database_url, "127.0.0.1:0").await);
    }
    log(&format!(
        "{} replicas on one PostgreSQL database: {}",
        replicas.len(),
        replicas.iter().map(|r| r.url.as_str()).collect::<Vec<_>>().join(", ")
    ));

    // --- tenants, jobs, agents ---------------------------------------------
    let setup_started = Instant::now();
    let mut admins = Vec::new();
    for t in 0..args.tenants {
        let output = std::process::Command::new(binary("roster-server"))
            .args(["tenant", "create", "--name", &format!("Load tenant {t}")])
            .env("ROSTER_DATABASE_URL", &database_url)
            .output()
            .expect("run roster-server tenant create");
        assert!(output.status.success(), "tenant create failed: {}", String::from_utf8_lossy(&output.stderr));
        let tenant: CreatedTenant = serde_json::from_slice(&output.stdout).expect("tenant create prints JSON");
        let admin = Admin::new(&replicas[t as usize % replicas.len()].url, &tenant.admin_token);
        let access: roster_proto::admin::Access =
            admin.post("/api/v1/accesses", &CreateAccess { kind: AccessKind::User, name: "Meeting rooms".into() }).await;
        admins.push((Arc::new(admin), access));
    }
    let mut agents = Vec::new();
    for n in 0..args.agents {
        let (admin, access) = &admins[(n % args.tenants) as usize];
        let job: Job = admin
            .post(
                "/api/v1/jobs",
                &CreateJob { sync_mode: Some(SyncMode::Continuous), ..job_over(&format!("Load job {n}"), &["OU=Staff"], &["OU=Groups"]) },
            )
            .await;
        let _: serde_json::Value = admin
            .put(&format!("/api/v1/jobs/{}/links", job.id), &vec![LinkInput { group: STAFF_GROUP.into(), access_id: access.id }])
            .await;
        let token: RegistrationToken = admin.post(&format!("/api/v1/jobs/{}/registration-tokens", job.id), &()).await;
        let url = &replicas[n as usize % replicas.len()].url;
        let client = ServerClient::new(url, &ServerConfig { ca_file: None, max_retries: 12 }).expect("an agent's client");
        let key = Arc::new(AgentKey::generate().expect("an agent key"));
        let request = RegisterRequest {
            token: token.token,
            public_key: key.public_key().to_base64(),
            hostname: Some(format!("load-{n}")),
            agent_version: Some(roster_agent::AGENT_VERSION.into()),
        };
        let registered = client.register(&request).await.expect("register an agent");
        let client = client.with_identity(Arc::clone(&key), registered.agent_id, &registered.audience);
        agents.push((
            LoadAgent {
                n,
                client,
                key,
                agent_id: registered.agent_id,
                audience: registered.audience,
                job: job.id,
                usn: 1000,
                versions: vec![0; args.users as usize],
                next_user: 0,
            },
            Arc::clone(admin),
        ));
    }
    log(&format!("{} tenants, {} jobs and agents set up in {:.1} s", args.tenants, args.agents, setup_started.elapsed().as_secs_f64()));

    // --- pushing -----------------------------------------------------------
    let stats = Arc::new(Stats::default());
    let started = Instant::now();
    let started_at = time::OffsetDateTime::now_utc();
    let machine_before = machine_ticks();
    let until = started + Duration::from_secs(args.seconds);
    let tasks: Vec<_> = agents
        .into_iter()
        .map(|(agent, admin)| tokio::spawn(run_agent(agent, admin, Arc::clone(&args), Arc::clone(&stats), until)))
        .collect();
    let mut restart_note = String::new();
    if args.restart {
        tokio::time::sleep(Duration::from_secs(args.seconds) / 2).await;
        let last = replicas.len() - 1;
        log(&format!("killing replica {} ({}) and starting it again", last + 1, replicas[last].url));
        let took = replicas[last].kill_and_restart(&database_url).await;
        restart_note = format!(
            "replica {} killed (SIGKILL) at {} s and listening again {:.1} s later",
            last + 1,
            args.seconds / 2,
            took.as_secs_f64()
        );
        log(&restart_note);
    }
    let mut pushed = Vec::new();
    for task in tasks {
        pushed.push(task.await.expect("an agent's task"));
    }
    let pushing = started.elapsed();
    let machine_after = machine_ticks();
    let machine_busy = (machine_after.0 - machine_before.0) as f64 / (machine_after.1 - machine_before.1).max(1) as f64;
    log(&format!("pushing ended after {:.1} s; waiting for the imports to settle and checking every job", pushing.as_secs_f64()));

    // --- checks --------------------------------------------------------------
    let mut checked = Checked::default();
    for job in &pushed {
        check(job, &mut checked, started_at).await;
    }
    check_database(&database_url, &pushed, &mut checked).await;
    let database_bytes: i64 = {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&database_url).await.expect("connect to the load database");
        sqlx::query_scalar("SELECT pg_database_size(current_database())").fetch_one(&mut conn).await.expect("database size")
    };

    // --- report --------------------------------------------------------------
    let mut offers = std::mem::take(&mut *stats.offers.lock().await);
    let mut commits = std::mem::take(&mut *stats.commits.lock().await);
    offers.sort();
    commits.sort();
    let pushes = stats.pushes.load(Ordering::Relaxed);
    let failed_pushes = stats.failed_pushes.load(Ordering::Relaxed);
    let window = pushing.as_secs_f64();
    let imports_in_window = checked.import_ends.iter().filter(|t| **t <= window).count();
    let p95_commit = percentile(&commits, 95.0);
    let lost_or_doubled = checked.wrong_users + (checked.wrong_sums.len() + checked.wrong_snapshots.len()) as u64 + checked.doubled;
    println!(
        "load: {} agents in {} tenants, {} users each, a delta of {} changes every {} s per agent, {} s, {} replicas on one PostgreSQL (127.0.0.1)",
        args.agents, args.tenants, args.users, args.changes, args.delta_every, args.seconds, args.replicas
    );
    if !restart_note.is_empty() {
        println!("  {restart_note}");
    }
    println!("  pushes                    {pushes} ({:.1} per second), {failed_pushes} failed", pushes as f64 / window);
    println!(
        "  offer (then chunks)       p50 {}  p95 {}  p99 {}  ({} offers)",
        ms(percentile(&offers, 50.0)),
        ms(percentile(&offers, 95.0)),
        ms(percentile(&offers, 99.0)),
        offers.len()
    );
    println!(
        "  commit (or inline offer)  p50 {}  p95 {}  p99 {}  ({} commits)",
        ms(percentile(&commits, 50.0)),
        ms(p95_commit),
        ms(percentile(&commits, 99.0)),
        commits.len()
    );
    let mut first = std::mem::take(&mut *stats.first_imports.lock().await);
    first.sort();
    println!(
        "  first import (commit to end) p50 {}  p95 {}  ({} users each)",
        ms(percentile(&first, 50.0)),
        ms(percentile(&first, 95.0)),
        args.users
    );
    println!(
        "  imports                   {} succeeded, {:.0} per minute while pushing",
        checked.imports,
        imports_in_window as f64 / (window / 60.0)
    );
    println!(
        "  machine CPU while pushing {:.0} % busy over {} cores (replicas, PostgreSQL and this driver)",
        100.0 * machine_busy,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!("  database size             {:.1} MiB", database_bytes as f64 / (1024.0 * 1024.0));
    for (i, replica) in replicas.iter().enumerate() {
        let (now, peak) = replica.rss_kib();
        let cpu = replica.cpu().as_secs_f64();
        println!(
            "  replica {} RSS, CPU        {:.0} MiB now, {:.0} MiB peak; {cpu:.0} s CPU ({:.0} % of a core over the run)",
            i + 1,
            now as f64 / 1024.0,
            peak as f64 / 1024.0,
            100.0 * cpu / started.elapsed().as_secs_f64()
        );
    }
    for error in stats.errors.lock().await.iter() {
        println!("  error: {error}");
    }
    for failure in checked.failed.iter().chain(&checked.wrong_sums).chain(&checked.wrong_snapshots).take(20) {
        println!("  check: {failure}");
    }
    let targets = [
        ("failed or held imports", checked.failed.len() as u64 == 0, format!("{}", checked.failed.len()), "0"),
        ("failed pushes", failed_pushes == 0, format!("{failed_pushes}"), "0"),
        (
            "lost or doubly applied",
            lost_or_doubled == 0,
            format!(
                "{} users off, {} jobs' updates off, {} snapshot records off, {} imported twice",
                checked.wrong_users,
                checked.wrong_sums.len(),
                checked.wrong_snapshots.len(),
                checked.doubled
            ),
            "0",
        ),
        ("p95 commit", p95_commit < P95_COMMIT_TARGET, ms(p95_commit), "< 1000 ms"),
    ];
    let mut all = true;
    for (name, ok, value, target) in targets {
        all &= ok;
        println!("  {name:<25} {value:<40} target {target:<10} {}", verdict(ok));
    }
    if all { ExitCode::SUCCESS } else { ExitCode::from(3) }
}
