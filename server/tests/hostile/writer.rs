//! The SQLite writer under a hostile tenant: one tenant saturating link
//! previews and full-snapshot commits on a 20,000-user job must not stall
//! another tenant's agent, and a group of a million members (with
//! duplicates) commits in bounded time, stored once per member.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::Method;
use roster_proto::admin::{Job, LinkInput, Session};
use roster_proto::agent::{CommitResponse, SnapshotState};
use roster_proto::insight::Structure;
use roster_proto::records::{GroupRecord, MAX_MEMBERS_PER_RECORD, Record};
use roster_snapshot::chunk::Chunk;
use roster_testkit::records;

use crate::support::world::{self, Agent, BASE, World, guid, user};
use crate::support::{Answer, Engine, TestApp};

/// What the issue demands of the other tenant: every request answered
/// within 2 s.
const ANSWERED_WITHIN: Duration = Duration::from_secs(2);

/// How long tenant A attacks: long enough for several of its 20,000-user
/// commits and dozens of link previews to overlap B's pushes.
const ATTACK: Duration = Duration::from_secs(20);

/// The hostile job's size.
const USERS: u32 = 20_000;

/// A snapshot's records and its chunks (1 MiB, as the agent writes them),
/// encoded once: each push signs a new manifest over the same chunks.
struct Encoded {
    records: Vec<Record>,
    chunks: Vec<Chunk>,
}

impl Encoded {
    fn new(records: Vec<Record>) -> Encoded {
        let chunks = world::chunk(&records, roster_proto::manifest::MAX_CHUNK_BYTES);
        Encoded { records, chunks }
    }
}

/// Offers, uploads and commits a full snapshot of `encoded` under a new
/// snapshot id; answers the commit, or the first refusal.
async fn push_full(agent: &Agent, app: &TestApp, encoded: &Encoded) -> Answer {
    let Encoded { records, chunks } = encoded;
    let manifest = agent.manifest(chunks, records);
    let offered = agent.post(app, "/agent/v1/snapshots", &agent.sign(&manifest)).await;
    if offered.status != 200 {
        return offered;
    }
    let state: SnapshotState = offered.json();
    for chunk in chunks.iter().filter(|c| state.missing_chunks.contains(&c.index)) {
        let answer = agent.put_chunk(app, manifest.snapshot_id, chunk.index, chunk.bytes.clone()).await;
        if answer.status != 204 {
            return answer;
        }
    }
    agent.post(app, &format!("/agent/v1/snapshots/{}/commit", manifest.snapshot_id), &()).await
}

/// `USERS` users in OU=Staff, all in the group Sales (split into
/// continuation records as the agent splits it).
fn big_directory() -> Vec<Record> {
    let mut records: Vec<Record> = (0..USERS).map(|n| user(n, "OU=Staff", 512)).collect();
    let sales = records::group(guid(USERS), format!("CN=Sales,OU=Groups,{BASE}"), "Sales".into(), (0..USERS).map(guid).collect());
    let (sales, more) = sales.split(MAX_MEMBERS_PER_RECORD);
    records.push(Record::Group(sales));
    records.extend(more.into_iter().map(Record::GroupMembers));
    records
}

/// A second tenant on the same server, with its own job and agent.
async fn other_tenant(app: &TestApp) -> (String, Job, Agent) {
    let tenant = app.create_tenant("Globex").await;
    let job = world::create_staff_job(app, &tenant.admin_token, "globex").await;
    let agent = world::register(app, &tenant.admin_token, job.id).await;
    (tenant.admin_token, job, agent)
}

/// Tenant A loops `PUT links` (each previews an access change for 20,000
/// users) and full 20,000-user commits while tenant B's agent reads its
/// job and pushes small snapshots: every B request is answered within
/// 2 s, and none with 503. Before the writer was fair and commits bounded,
/// B's requests waited behind A's long write transactions in SQLite's
/// busy handler and got 503 after its 10 s timeout.
async fn one_tenant_cannot_stall_another(engine: Engine) {
    let a = world::world(engine).await;
    let directory = Arc::new(Encoded::new(big_directory()));
    let first: CommitResponse = push_full(&a.agent, &a.app, &directory).await.json();
    let session = first.session.expect("the first snapshot is imported at once");
    let settled: Session = a.app.wait_for_session(&a.admin, session.id).await;
    crate::support::session_succeeded(&settled);
    let (_, _, b) = other_tenant(&a.app).await;
    let a = Arc::new(a);

    let stop = Arc::new(AtomicBool::new(false));
    // Tenant A's finished link previews and commits.
    let (previews, commits) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut attackers = Vec::new();
    for links_loop in [true, true, false] {
        let (a, stop, directory) = (Arc::clone(&a), Arc::clone(&stop), Arc::clone(&directory));
        let done = Arc::clone(if links_loop { &previews } else { &commits });
        attackers.push(tokio::spawn(async move {
            let mut round = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let answer = if links_loop { put_links(&a, round).await } else { push_full(&a.agent, &a.app, &directory).await };
                assert!(answer.status == 200 || answer.status == 429, "tenant A's own request: {} {:?}", answer.status, answer.body);
                done.fetch_add(1, Ordering::Relaxed);
                round += 1;
            }
        }));
    }

    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    let mut requests = 0u32;
    let mut round = 0u32;
    while started.elapsed() < ATTACK {
        for (what, took, status) in b_round(&a.app, &b, round).await {
            assert_ne!(status, 503, "tenant B's {what} was refused while tenant A wrote");
            assert!(took < ANSWERED_WITHIN, "tenant B's {what} took {took:?} while tenant A wrote");
            slowest = slowest.max(took);
            requests += 1;
        }
        round += 1;
    }
    stop.store(true, Ordering::Relaxed);
    for attacker in attackers {
        attacker.await.expect("tenant A's loop");
    }
    let (previews, commits) = (previews.load(Ordering::Relaxed), commits.load(Ordering::Relaxed));
    eprintln!("tenant B: {requests} requests, slowest {slowest:?}; tenant A: {previews} link previews, {commits} commits of {USERS} users");
    assert!(previews >= 2 && commits >= 1, "tenant A wrote throughout: {previews} previews, {commits} commits");
}

/// Replaces A's links: Sales grants the basic access on even rounds and
/// the VIP one too on odd rounds, so every preview changes 20,000 users.
async fn put_links(a: &World, round: u32) -> Answer {
    let sales = format!("CN=Sales,OU=Groups,{BASE}");
    let mut links = vec![LinkInput { group: sales.clone(), access_id: a.user_access.id }];
    if round % 2 == 1 {
        links.push(LinkInput { group: sales, access_id: a.vip_access.id });
    }
    let path = format!("/api/v1/jobs/{}/links", a.job.id);
    let body = serde_json::to_vec(&links).expect("links");
    a.app.send(Method::PUT, &path, Some(&a.admin), Some(body.into()), true).await
}

/// One round of tenant B's agent: read its job, push a small full snapshot
/// (offer, chunk, commit). Answers each request's name, time and status,
/// after checking it succeeded.
async fn b_round(app: &TestApp, b: &Agent, round: u32) -> Vec<(&'static str, Duration, u16)> {
    let mut timed = Vec::new();
    let at = Instant::now();
    let job = b.get(app, "/agent/v1/job").await;
    timed.push(("GET /agent/v1/job", at.elapsed(), job.status));
    if job.status != 200 {
        return timed;
    }
    let records: Vec<Record> = (0..10).map(|n| user(100_000 + round * 10 + n, "OU=Staff", 512)).collect();
    let chunks = world::chunk(&records, roster_proto::manifest::MAX_CHUNK_BYTES);
    let manifest = b.manifest(&chunks, &records);
    let at = Instant::now();
    let offered = b.post(app, "/agent/v1/snapshots", &b.sign(&manifest)).await;
    timed.push(("offer", at.elapsed(), offered.status));
    assert_eq!(offered.status, 200, "{:?}", offered.body);
    for chunk in &chunks {
        let at = Instant::now();
        let stored = b.put_chunk(app, manifest.snapshot_id, chunk.index, chunk.bytes.clone()).await;
        timed.push(("chunk", at.elapsed(), stored.status));
        assert_eq!(stored.status, 204, "{:?}", stored.body);
    }
    let at = Instant::now();
    let committed = b.post(app, &format!("/agent/v1/snapshots/{}/commit", manifest.snapshot_id), &()).await;
    timed.push(("commit", at.elapsed(), committed.status));
    assert_eq!(committed.status, 200, "{:?}", committed.body);
    timed
}

/// How many members the big group has, and how many of them come twice.
const MEMBERS: u32 = 1_000_000;
const DUPLICATES: u32 = 100_000;

/// A group of a million members, a tenth of them sent twice, pushed through
/// the agent API (signed manifest, chunks, commit) as the agent splits it:
/// the commit is answered in bounded time (it re-read and rewrote the
/// whole group for every continuation, quadratic in its size), each member
/// is stored once, and the structure counts them.
async fn a_million_member_group_commits_in_linear_time(engine: Engine) {
    let _alone = HEAVY.lock().await;
    let w = world::world(engine).await;
    let users: Vec<Record> = (0..1000).map(|n| user(n, "OU=Staff", 512)).collect();
    let members = (0..MEMBERS).chain(0..DUPLICATES).map(guid).collect();
    let big: GroupRecord = records::group(guid(MEMBERS + 1), format!("CN=Everyone,OU=Groups,{BASE}"), "Everyone".into(), members);
    let (big, more) = big.split(MAX_MEMBERS_PER_RECORD);
    let mut directory = users;
    directory.push(Record::Group(big));
    directory.extend(more.into_iter().map(Record::GroupMembers));

    let chunks = world::chunk(&directory, roster_proto::manifest::MAX_CHUNK_BYTES);
    let manifest = w.agent.manifest(&chunks, &directory);
    let offered = w.agent.post(&w.app, "/agent/v1/snapshots", &w.agent.sign(&manifest)).await;
    assert_eq!(offered.status, 200, "{:?}", offered.body);
    for chunk in &chunks {
        let stored = w.agent.put_chunk(&w.app, manifest.snapshot_id, chunk.index, chunk.bytes.clone()).await;
        assert_eq!(stored.status, 204, "{:?}", stored.body);
    }
    let at = Instant::now();
    let committed = w.agent.post(&w.app, &format!("/agent/v1/snapshots/{}/commit", manifest.snapshot_id), &()).await;
    let took = at.elapsed();
    assert_eq!(committed.status, 200, "{:?}", committed.body);
    eprintln!("a {MEMBERS}-member group ({DUPLICATES} duplicates, {} chunks) committed in {took:?}", chunks.len());
    // Generous for a debug build on a shared machine; quadratic took hours.
    assert!(took < Duration::from_secs(180), "the commit took {took:?}");

    let structure: Structure = w.app.get(&format!("/api/v1/jobs/{}/structure", w.job.id), &w.admin).await.json();
    let everyone = structure.groups.iter().find(|g| g.name == "Everyone").expect("the big group");
    assert_eq!((everyone.direct_members, everyone.direct_users, everyone.nested_users), (u64::from(MEMBERS), 1000, 1000));

    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&w.app.database_url).await.expect("open the server's database");
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM directory_members WHERE job_id = $1 AND group_guid = $2")
        .bind(w.job.id.to_string())
        .bind(guid(MEMBERS + 1).to_string())
        .fetch_one(&pool)
        .await
        .expect("count the stored members");
    assert_eq!(stored, i64::from(MEMBERS), "each member is stored once");
    pool.close().await;
}

/// The heaviest tests (a million-member commit, a 20,000-user first
/// import) run one at a time: each times its own work, which the other's
/// would slow on a small machine.
static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Tenant A's first snapshot of `USERS` users queues its first import (every
/// user created) while tenant B's agent reads its job and pushes small
/// snapshots, round after round, until A's import has settled: every one
/// of B's requests is answered within 2 s. Prints the longest time any
/// write held the writer meanwhile (on SQLite the whole writers' queue)
/// and B's slowest answer.
async fn a_first_import_does_not_stall_another_tenant(engine: Engine) {
    let _alone = HEAVY.lock().await;
    let a = world::world(engine).await;
    let (_, _, b) = other_tenant(&a.app).await;
    a.link_sales_to_basic_access().await;
    let directory = Encoded::new(big_directory());
    a.app.db.take_longest_write();
    let committed = push_full(&a.agent, &a.app, &directory).await;
    assert_eq!(committed.status, 200, "{:?}", committed.body);
    let session = committed.json::<CommitResponse>().session.expect("the first snapshot is imported at once");

    let started = Instant::now();
    let (mut slowest, mut requests, mut round) = (Duration::ZERO, 0u32, 0u32);
    let settled = loop {
        for (what, took, status) in b_round(&a.app, &b, round).await {
            assert_ne!(status, 503, "tenant B's {what} was refused while tenant A imported");
            slowest = slowest.max(took);
            requests += 1;
        }
        round += 1;
        let now: Session = a.app.get(&format!("/api/v1/sessions/{}", session.id), &a.admin).await.json();
        if now.status.is_settled() {
            break now;
        }
        // Generous: alone, the PostgreSQL import took 114 s in a debug build
        // on this shared 2-core machine (a statement per user).
        assert!(started.elapsed() < Duration::from_secs(400), "tenant A's first import still {:?}", now.status);
    };
    crate::support::session_succeeded(&settled);
    assert_eq!(settled.counts.created, u64::from(USERS));
    let held = a.app.db.take_longest_write();
    eprintln!(
        "{engine:?}: tenant A's first import of {USERS} users: longest writer hold {held:?}; tenant B: {requests} requests, slowest {slowest:?}"
    );
    assert!(slowest < ANSWERED_WITHIN, "tenant B waited {slowest:?} while tenant A imported (longest writer hold {held:?})");
}

// On tokio's multi-thread runtime, as `roster-server` runs: on the test's
// default single thread, the client and every request would share one core.
macro_rules! on_both_engines_threaded {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(crate::support::Engine::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(crate::support::Engine::Postgres).await
                }
            )*
        }
    };
}

on_both_engines_threaded!(
    one_tenant_cannot_stall_another,
    a_million_member_group_commits_in_linear_time,
    a_first_import_does_not_stall_another_tenant
);
