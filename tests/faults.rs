//! Faults end to end, with the real binaries: the server killed while the
//! agent uploads (chunk by chunk, and inside an offer carrying its chunk),
//! while a snapshot commits and while an import runs (by `ROSTER_FAULT`,
//! which aborts the process at a known point), and the database taken away
//! while the agent pushes. After each, the database is read directly to show
//! that nothing was half-applied, and once the server is back the same agent
//! run finishes with everything imported exactly once.

use std::time::Duration;

use roster_e2e::RunningAgent;
use sqlx::Row;

use super::*;

/// How long a run may take end to end, including the agent's backoff.
const RUN: Duration = Duration::from_secs(240);

/// A job over OU=Bulk (3,000 users, all in the linked group Bulk-All): a
/// snapshot of several chunks and an import of 3,000 users.
async fn bulk_job(server: &Server, agent: &Agent) -> (Admin, Job) {
    let job = job_over("bulk-faults", &["OU=Bulk,OU=Fixture"], &["OU=Groups,OU=Fixture"]);
    let (admin, job, _) = set_up(server, agent, job, &[(fixture_group("Bulk-All"), AccessKind::User, "Bulk")]).await;
    (admin, job)
}

/// Counts rows of the server's database with `sql`, whose `$1` is the job id.
async fn count(server: &Server, sql: &str, job: &Job) -> i64 {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&server.database_url).await.expect("open the server's database");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(job.id.to_string()).fetch_one(&pool).await.expect(sql);
    let n: i64 = row.try_get(0).expect("a count");
    pool.close().await;
    n
}

/// What the job holds: (committed snapshots, objects in its directory state,
/// sessions, succeeded sessions, users).
async fn holdings(server: &Server, job: &Job) -> (i64, i64, i64, i64, i64) {
    (
        count(server, "SELECT COUNT(*) FROM snapshots WHERE job_id = $1 AND status = 'committed'", job).await,
        // The state's objects are those of the generation it reads (a commit
        // stages its own generation before it applies it).
        count(
            server,
            "SELECT COUNT(*) FROM directory_objects o JOIN directory_state s ON s.job_id = o.job_id AND s.generation = o.generation
             WHERE o.job_id = $1",
            job,
        )
        .await,
        count(server, "SELECT COUNT(*) FROM sessions WHERE job_id = $1", job).await,
        count(server, "SELECT COUNT(*) FROM sessions WHERE job_id = $1 AND status = 'succeeded'", job).await,
        count(server, "SELECT COUNT(*) FROM users WHERE job_id = $1", job).await,
    )
}

/// The push finished, and everything arrived once: one committed snapshot
/// with each chunk stored once, one succeeded session of 3,000 creations,
/// 3,000 distinct users with their access.
async fn assert_imported_once(server: &Server, admin: &Admin, job: &Job, output: &std::process::Output) {
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the push failed ({}):\n{log}", output.status);
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("push prints JSON");
    assert_eq!(summary["users"], 3000, "{summary}");
    let session: Session = serde_json::from_value(summary["session"].clone()).expect("push prints the import session");
    assert_eq!(session.status, SessionStatus::Succeeded, "{session:?}");
    assert_eq!(session.counts.created, 3000, "{session:?}");

    let (snapshots, _, sessions, succeeded, users) = holdings(server, job).await;
    assert_eq!((snapshots, sessions, succeeded, users), (1, 1, 1, 3000));
    let chunks =
        count(server, "SELECT COUNT(*) FROM snapshot_chunks c JOIN snapshots s ON s.id = c.snapshot_id WHERE s.job_id = $1", job).await;
    assert_eq!(Some(chunks as u64), summary["chunks"].as_u64(), "each chunk of the manifest is stored once: {summary}");
    let listed: Page<Session> = admin.get(&format!("/api/v1/jobs/{}/sessions", job.id)).await;
    assert_eq!(listed.items.len(), 1);
    let imported = admin.all_users(job.id).await;
    let guids: BTreeSet<_> = imported.iter().map(|u| u.object_guid).collect();
    assert_eq!((imported.len(), guids.len()), (3000, 3000));
    assert!(imported.iter().all(|u| u.active && accesses_of(u) == set(&[(AccessKind::User, "Bulk")])));
}

/// A push of [`bulk_job`] that crashed the server at `fault`: the server
/// has aborted, and the agent is backing off.
struct Crashed {
    server: Server,
    admin: Admin,
    job: Job,
    push: RunningAgent,
    _agent: Agent,
}

async fn crash_during_push(engine: Engine, fault: &str) -> Crashed {
    let mut server = Server::start_with_fault(engine, false, Some(fault)).await;
    let agent = Agent::new(LdapTransport::Ldaps, 1000);
    let (admin, job) = bulk_job(&server, &agent).await;
    let mut push = agent.spawn(&["push"], 10);
    let status = server.wait_for_exit(RUN).await;
    assert!(!status.success(), "the server aborted: {status}");
    push.wait_for_log("request failed; retrying", RUN);
    Crashed { server, admin, job, push, _agent: agent }
}

impl Crashed {
    /// Restarts the server; the same agent run finishes, and everything is
    /// imported exactly once. Returns the agent's output.
    async fn recover(mut self) -> std::process::Output {
        self.server.restart().await;
        let output = self.push.finish(RUN);
        assert_imported_once(&self.server, &self.admin, &self.job, &output).await;
        output
    }
}

/// Killed after storing the first chunk: the agent's request fails, it backs
/// off, and once the server is back it sends what is still missing and
/// commits.
async fn server_killed_during_upload(engine: Engine) {
    let crashed = crash_during_push(engine, "abort-after-chunks=1").await;
    let (snapshots, objects, sessions, _, users) = holdings(&crashed.server, &crashed.job).await;
    assert_eq!((snapshots, objects, sessions, users), (0, 0, 0, 0), "nothing is applied from an unfinished upload");

    let output = crashed.recover().await;
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("chunk uploaded"), "{log}");
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(summary["chunks"].as_u64().unwrap() >= 2, "the upload was cut with chunks still to send: {summary}");
}

#[tokio::test]
async fn sqlite_server_killed_during_upload() {
    server_killed_during_upload(Engine::Sqlite).await;
}

#[tokio::test]
async fn postgres_server_killed_during_upload() {
    server_killed_during_upload(Engine::Postgres).await;
}

/// Killed inside an offer that carried its only chunk inline and asked for
/// the commit (a small snapshot is one request), right after the chunk was
/// stored: nothing is applied; the agent's offer, retried against the
/// restarted server, finds the chunk stored, commits, and the people are
/// imported once.
async fn server_killed_during_an_inline_offer(engine: Engine) {
    let mut server = Server::start_with_fault(engine, false, Some("abort-after-chunks=1")).await;
    let agent = Agent::new(LdapTransport::Ldaps, 1000);
    let ou = TestOu::create();
    let people = ["ann", "bob", "cid", "dan", "eve", "fay"];
    ou.add_users(&people);
    let group = ou.add_group("Staff", &people);
    let job = job_over("inline-faults", &[&format!("OU=In,{}", ou.relative)], &[&ou.relative]);
    let (admin, job, _) = set_up(&server, &agent, job, &[(group, AccessKind::User, "HQ")]).await;
    let mut push = agent.spawn(&["push"], 10);
    let status = server.wait_for_exit(RUN).await;
    assert!(!status.success(), "the server aborted: {status}");
    push.wait_for_log("request failed; retrying", RUN);
    let (snapshots, objects, sessions, _, users) = holdings(&server, &job).await;
    assert_eq!((snapshots, objects, sessions, users), (0, 0, 0, 0), "nothing is applied from an unfinished offer");
    let stored =
        count(&server, "SELECT COUNT(*) FROM snapshot_chunks c JOIN snapshots s ON s.id = c.snapshot_id WHERE s.job_id = $1", &job).await;
    assert_eq!(stored, 1, "the server died after storing the chunk the offer carried");

    server.restart().await;
    let output = push.finish(RUN);
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the push failed ({}):\n{log}", output.status);
    assert!(!log.contains("chunk uploaded"), "the chunk travelled inline, never by PUT:\n{log}");
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("push prints JSON");
    assert_eq!((summary["users"].as_u64(), summary["chunks"].as_u64()), (Some(people.len() as u64), Some(1)), "{summary}");
    let session: Session = serde_json::from_value(summary["session"].clone()).expect("push prints the import session");
    assert_eq!((session.status, session.counts.created), (SessionStatus::Succeeded, people.len() as u64), "{session:?}");

    let (snapshots, _, sessions, succeeded, users) = holdings(&server, &job).await;
    assert_eq!((snapshots, sessions, succeeded, users), (1, 1, 1, people.len() as i64));
    let chunks =
        count(&server, "SELECT COUNT(*) FROM snapshot_chunks c JOIN snapshots s ON s.id = c.snapshot_id WHERE s.job_id = $1", &job).await;
    assert_eq!(chunks, 1, "the chunk is stored once");
    let imported = admin.all_users(job.id).await;
    let mut names: Vec<_> = imported.iter().map(|u| u.username.clone()).collect();
    names.sort();
    let mut expected: Vec<_> = people.iter().map(|p| ou.sam(p)).collect();
    expected.sort();
    assert_eq!(names, expected, "each person imported once");
}

#[tokio::test]
async fn sqlite_server_killed_during_an_inline_offer() {
    server_killed_during_an_inline_offer(Engine::Sqlite).await;
}

#[tokio::test]
async fn postgres_server_killed_during_an_inline_offer() {
    server_killed_during_an_inline_offer(Engine::Postgres).await;
}

/// Killed with the snapshot's directory state written but not committed:
/// neither the state nor the first-import session exists; the agent's
/// commit, retried against the restarted server, applies it once.
async fn server_killed_while_committing_a_snapshot(engine: Engine) {
    let crashed = crash_during_push(engine, "abort-before-snapshot-commit").await;
    let (snapshots, objects, sessions, _, users) = holdings(&crashed.server, &crashed.job).await;
    assert_eq!((snapshots, objects, sessions, users), (0, 0, 0, 0), "a crashed commit leaves no directory state and no session");
    crashed.recover().await;
}

#[tokio::test]
async fn sqlite_server_killed_while_committing_a_snapshot() {
    server_killed_while_committing_a_snapshot(Engine::Sqlite).await;
}

#[tokio::test]
async fn postgres_server_killed_while_committing_a_snapshot() {
    server_killed_while_committing_a_snapshot(Engine::Postgres).await;
}

/// Killed with the import's users and session written but not committed: no
/// user exists and the session is still running; the restarted server runs
/// the import again, and the waiting agent sees it succeed.
async fn server_killed_during_import(engine: Engine) {
    let crashed = crash_during_push(engine, "abort-before-import-commit").await;
    let (server, job) = (&crashed.server, &crashed.job);
    let (snapshots, objects, sessions, succeeded, users) = holdings(server, job).await;
    assert_eq!((snapshots, sessions, succeeded, users), (1, 1, 0, 0), "the snapshot is kept; no user of the crashed import is");
    assert!(objects > 3000, "the directory state holds the snapshot: {objects}");
    let changes =
        count(server, "SELECT COUNT(*) FROM session_changes c JOIN sessions s ON s.id = c.session_id WHERE s.job_id = $1", job).await;
    assert_eq!(changes, 0, "no itemised change of the crashed import is kept");
    crashed.recover().await;
}

#[tokio::test]
async fn sqlite_server_killed_during_import() {
    server_killed_during_import(Engine::Sqlite).await;
}

#[tokio::test]
async fn postgres_server_killed_during_import() {
    server_killed_during_import(Engine::Postgres).await;
}

/// PostgreSQL refuses the server's connections while the agent pushes: the
/// server answers 503, the agent backs off, and the push completes once the
/// database is back.
#[tokio::test]
async fn postgres_database_away_while_the_agent_pushes() {
    use sqlx::Connection;
    let server = Server::start(Engine::Postgres, false).await;
    let agent = Agent::new(LdapTransport::Ldaps, 1000);
    let (admin, job) = bulk_job(&server, &agent).await;

    let database = server.database_url.rsplit_once('/').map(|(_, name)| name.to_owned()).unwrap();
    let mut superuser = sqlx::PgConnection::connect(&env("ROSTER_TEST_POSTGRES_URL")).await.unwrap();
    let run = |sql: String| sqlx::raw_sql(sqlx::AssertSqlSafe(sql));
    run(format!("ALTER DATABASE {database} WITH ALLOW_CONNECTIONS false")).execute(&mut superuser).await.unwrap();
    run(format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'"))
        .execute(&mut superuser)
        .await
        .unwrap();

    let mut push = agent.spawn(&["push"], 10);
    let line = push.wait_for_log("request failed; retrying", RUN);
    assert!(line.contains("503"), "the server answers 503 while its database is away: {line}");

    run(format!("ALTER DATABASE {database} WITH ALLOW_CONNECTIONS true")).execute(&mut superuser).await.unwrap();
    let output = push.finish(RUN);
    assert_imported_once(&server, &admin, &job, &output).await;
}
