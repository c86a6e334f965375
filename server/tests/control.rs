//! The control plane against the real server on port 0, on both engines:
//! scheduled runs (due by the database's clock, started once per slot,
//! caught up once, fresh data or a failure that says why), fresh imports,
//! commands delivered and acknowledged once, a job's first push asked for
//! by itself, heartbeats and agent states, and two replicas sharing the
//! schedule. The agent side is played in-process with the agent's signing
//! code; `tests/e2e.rs` runs the real agent binary against the Samba DC.

// A failed unwrap is a failed test, which is what we want here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

use roster_proto::admin::{
    Agent as AgentView, AgentState, Page, Schedule, ScheduledRuns, Session, SessionStatus, SessionTrigger, SyncMode,
};
use roster_proto::agent::{Command, CommandAction, CommandOutcome, CommandResult, Heartbeat, Lease};
use roster_proto::manifest::SnapshotKind;
use roster_proto::problem::ProblemKind;
use roster_proto::{JobId, SessionId};
use roster_server::db::Db;
use roster_server::settings::Limits;
use roster_server::store::UnixMillis;
use support::world::*;
use support::{Engine, TestApp, session_succeeded, spawn_replica};

/// Makes the job's next scheduled run due `ago_ms` ago, for slot `key`.
async fn make_due(db: &Db, job: JobId, ago_ms: i64, key: &str) {
    sqlx::query("UPDATE jobs SET next_run_at = $1, next_run_key = $2 WHERE id = $3")
        .bind(UnixMillis::now().0 - ago_ms)
        .bind(key)
        .bind(job.to_string())
        .execute(&db.pool)
        .await
        .unwrap();
}

async fn sessions_of(app: &TestApp, admin: &str, job: JobId) -> Vec<Session> {
    let page: Page<Session> = app.get(&format!("/api/v1/jobs/{job}/sessions?limit=100"), admin).await.json();
    page.items
}

/// Polls the job's sessions until `count` have `trigger`, with a deadline
/// (the server's schedule looks every 5 s).
async fn wait_for_sessions(app: &TestApp, admin: &str, job: JobId, trigger: SessionTrigger, count: usize) -> Vec<Session> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found: Vec<Session> = sessions_of(app, admin, job).await.into_iter().filter(|s| s.trigger == trigger).collect();
        if found.len() >= count {
            return found;
        }
        assert!(Instant::now() < deadline, "{} of {count} {trigger:?} sessions after 30 s", found.len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls a session until `done` holds, with a deadline.
async fn wait_until(app: &TestApp, admin: &str, id: SessionId, done: impl Fn(&Session) -> bool) -> Session {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let session: Session = app.get(&format!("/api/v1/sessions/{id}"), admin).await.json();
        if done(&session) {
            return session;
        }
        assert!(Instant::now() < deadline, "session {id} still {session:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The agent's next command, within `wait` seconds.
async fn poll(w: &World, wait: u32) -> Option<Command> {
    let answer = w.agent.get(&w.app, &format!("/agent/v1/commands?wait={wait}")).await;
    match answer.status {
        200 => Some(answer.json()),
        204 => None,
        other => panic!("polling for commands answered {other}: {}", answer.body),
    }
}

fn result(outcome: CommandOutcome, message: &str) -> CommandResult {
    CommandResult { outcome, message: message.into(), snapshot_id: None }
}

async fn report(w: &World, command: &Command, result: &CommandResult) -> support::Answer {
    w.agent.post(&w.app, &format!("/agent/v1/commands/{}/result", command.id), result).await
}

/// A due run asks the agent for fresh data and imports exactly what it
/// pushes; the slot starts once, the command is acknowledged once.
async fn scheduled_runs_import_fresh_data_once_per_slot(engine: Engine) {
    let w = world(engine).await;
    w.link_sales_to_basic_access().await;
    let first = w.agent.push(&w.app, &[user(1, "OU=Staff", 512), group(200, "Sales", &[1])]).await.session.unwrap();
    session_succeeded(&w.app.wait_for_session(&w.admin, first.id).await);
    // The first push was asked for by no command: none is waiting.
    assert!(poll(&w, 0).await.is_none());

    // Daily at 02:00 UTC, its run due a moment ago.
    let daily = serde_json::json!({"schedule": {"daily_at": "02:00", "time_zone": "UTC"}});
    assert_eq!(w.app.patch(&format!("/api/v1/jobs/{}", w.job.id), &w.admin, &daily).await.status, 200);
    let db = Db::connect(&w.app.database_url).await.unwrap();
    make_due(&db, w.job.id, 1_000, "2027-01-10T02:00").await;
    let started = wait_for_sessions(&w.app, &w.admin, w.job.id, SessionTrigger::Schedule, 1).await;
    let waiting = &started[0];
    assert_eq!(waiting.status, SessionStatus::Waiting, "{waiting:?}");
    assert!(waiting.snapshot_id.is_none() && waiting.waiting_until.is_some() && !waiting.caught_up, "{waiting:?}");
    // The job moved on to its next slot: tomorrow's 02:00 UTC at the latest.
    let next: Option<i64> =
        sqlx::query_scalar("SELECT next_run_at FROM jobs WHERE id = $1").bind(w.job.id.to_string()).fetch_one(&db.pool).await.unwrap();
    assert!(next.is_some_and(|at| at > UnixMillis::now().0 && at <= UnixMillis::now().0 + 86_400_000 + 120_000), "{next:?}");

    let command = poll(&w, 5).await.expect("the agent is asked to push");
    assert_eq!(command.action, CommandAction::Push { full: false });
    assert_eq!(poll(&w, 0).await.map(|c| c.id), Some(command.id), "answered again until reported");
    // It pushes what the directory holds now: that is what is imported.
    let pushed = w.agent.push(&w.app, &[user(1, "OU=Staff", 512), user(2, "OU=Staff", 512), group(200, "Sales", &[1, 2])]).await;
    assert_eq!(pushed.session.as_ref().map(|s| s.id), Some(waiting.id), "{pushed:?}");
    let done = CommandResult { snapshot_id: Some(pushed.snapshot_id), ..result(CommandOutcome::Succeeded, "pushed") };
    assert_eq!(report(&w, &command, &done).await.status, 204);
    report(&w, &command, &done).await.assert_problem(409).assert_kind(ProblemKind::CommandAlreadyReported);
    assert!(poll(&w, 0).await.is_none(), "an acknowledged command is never delivered again");
    let session = w.app.wait_for_session(&w.admin, waiting.id).await;
    session_succeeded(&session);
    assert_eq!(session.snapshot_id, Some(pushed.snapshot_id));
    assert_eq!((session.counts.created, session.counts.unchanged), (1, 1), "{session:?}");

    // The same slot made due again (a replica's stale view) starts nothing.
    make_due(&db, w.job.id, 1_000, "2027-01-10T02:00").await;
    let runs_of = |key: &'static str| {
        let db = db.clone();
        let job = w.job.id;
        async move {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM schedule_runs WHERE job_id = $1 AND run_key = $2")
                .bind(job.to_string())
                .bind(key)
                .fetch_one(&db.pool)
                .await
                .unwrap()
        }
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while sqlx::query_scalar::<_, Option<i64>>("SELECT next_run_at FROM jobs WHERE id = $1")
        .bind(w.job.id.to_string())
        .fetch_one(&db.pool)
        .await
        .unwrap()
        .is_some_and(|at| at <= UnixMillis::now().0)
    {
        assert!(Instant::now() < deadline, "the due job was never looked at");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(runs_of("2027-01-10T02:00").await, 1);
    assert_eq!(wait_for_sessions(&w.app, &w.admin, w.job.id, SessionTrigger::Schedule, 1).await.len(), 1);
}

/// A run missed while the server was down runs once when it is back,
/// marked caught up, however many slots it missed.
async fn a_missed_run_is_caught_up_once(engine: Engine) {
    let w = world(engine).await;
    let db = Db::connect(&w.app.database_url).await.unwrap();
    make_due(&db, w.job.id, 3 * 86_400_000, "2000-01-01T02:00").await;
    let started = wait_for_sessions(&w.app, &w.admin, w.job.id, SessionTrigger::Schedule, 1).await;
    assert_eq!(started.len(), 1);
    assert!(started[0].caught_up, "{:?}", started[0]);
    let keys: Vec<String> = sqlx::query_scalar("SELECT run_key FROM schedule_runs WHERE job_id = $1")
        .bind(w.job.id.to_string())
        .fetch_all(&db.pool)
        .await
        .unwrap();
    // The latest 02:00 UTC slot by now, not the stale key nor one per missed day.
    let today = time::OffsetDateTime::now_utc();
    let latest = if today.hour() >= 2 { today.date() } else { today.date().previous_day().unwrap() };
    assert_eq!(keys, vec![format!("{latest}T02:00 UTC")]);
}

/// "Perform import" with fresh data waits for the agent; an agent that
/// cannot push fails it at once, saying why; one that never answers fails
/// it at the deadline, naming the agent and when it was last heard from.
async fn fresh_imports_wait_for_the_agent(engine: Engine) {
    let w = world(engine).await;
    let path = format!("/api/v1/jobs/{}/imports", w.job.id);
    // Fresh data works before any snapshot, too.
    let answer = w.app.post(&path, Some(&w.admin), &serde_json::json!({"fresh": true})).await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    let waiting: Session = answer.json();
    assert_eq!((waiting.status, waiting.trigger), (SessionStatus::Waiting, SessionTrigger::Manual));
    let command = poll(&w, 5).await.unwrap();
    assert_eq!(command.action, CommandAction::Push { full: false });
    let pushed = w.agent.push(&w.app, &[user(1, "OU=Staff", 512)]).await;
    assert_eq!(pushed.session.as_ref().map(|s| s.id), Some(waiting.id), "the waiting session, not a second first import");
    assert_eq!(report(&w, &command, &result(CommandOutcome::Succeeded, "pushed")).await.status, 204);
    session_succeeded(&w.app.wait_for_session(&w.admin, waiting.id).await);

    // The agent could not read the directory: the session fails with its words.
    let waiting: Session = w.app.post(&path, Some(&w.admin), &serde_json::json!({"fresh": true})).await.json();
    let command = poll(&w, 5).await.unwrap();
    assert_eq!(report(&w, &command, &result(CommandOutcome::Failed, "ldap: the DC refused the bind")).await.status, 204);
    let failed = wait_until(&w.app, &w.admin, waiting.id, |s| s.status.is_settled()).await;
    assert_eq!(failed.status, SessionStatus::Failed);
    assert!(failed.error.as_deref().unwrap().contains("the DC refused the bind"), "{failed:?}");

    // Nobody answers: at the deadline it fails, naming the agent, never importing stale data.
    let waiting: Session = w.app.post(&path, Some(&w.admin), &serde_json::json!({"fresh": true})).await.json();
    let db = Db::connect(&w.app.database_url).await.unwrap();
    sqlx::query("UPDATE sessions SET waiting_until = $1 WHERE id = $2")
        .bind(UnixMillis::now().0 - 1)
        .bind(waiting.id.to_string())
        .execute(&db.pool)
        .await
        .unwrap();
    let failed = wait_until(&w.app, &w.admin, waiting.id, |s| s.status.is_settled()).await;
    assert_eq!(failed.status, SessionStatus::Failed);
    let error = failed.error.clone().unwrap();
    assert!(error.starts_with("no fresh snapshot arrived within 10 minutes: agent "), "{error}");
    assert!(error.contains(&w.agent.id.to_string()) && error.contains("last heard from at "), "{error}");
    assert!(failed.snapshot_id.is_none() && failed.waiting_until.is_none(), "{failed:?}");
    // Its command expired with it.
    assert!(poll(&w, 0).await.is_none());

    // A body that is not JSON, or not a StartImport, is refused; so is `null`.
    w.app.post(&path, Some(&w.admin), &serde_json::json!({"fresh": "yes"})).await.assert_problem(422);
    w.app.post(&path, Some(&w.admin), &()).await.assert_problem(422);
    w.app.post(&path, Some(&w.admin), &serde_json::json!({"stale": true})).await.assert_problem(422);
}

/// A job with no data asks its agent for a full push at the first poll;
/// the command is the agent's until it reports, and is not asked for again
/// at every poll after a failure.
async fn a_job_without_data_asks_for_its_first_push(engine: Engine) {
    let w = world(engine).await;
    let command = poll(&w, 0).await.expect("a first push");
    assert_eq!(command.action, CommandAction::Push { full: true });
    assert_eq!(poll(&w, 0).await.map(|c| c.id), Some(command.id));
    // Another agent of the job does not get the command the first one holds.
    let other = register(&w.app, &w.admin, w.job.id).await;
    let answer = other.get(&w.app, "/agent/v1/commands?wait=0").await;
    assert_eq!(answer.status, 204, "{}", answer.body);
    assert_eq!(report(&w, &command, &result(CommandOutcome::Failed, "the DC is unreachable")).await.status, 204);
    assert!(poll(&w, 0).await.is_none(), "a failed first push is not asked again at once");
    // A result for a command this agent was never given is unknown.
    let answer = other.post(&w.app, &format!("/agent/v1/commands/{}/result", command.id), &result(CommandOutcome::Succeeded, "")).await;
    answer.assert_problem(404);
    w.agent.post(&w.app, "/agent/v1/commands/not-a-uuid/result", &result(CommandOutcome::Succeeded, "")).await.assert_problem(404);
    let answer = w.agent.get(&w.app, "/agent/v1/commands?wait=31").await;
    answer.assert_problem(400);
    // "Load AD structure" asks for a push too.
    let answer = w.app.post(&format!("/api/v1/jobs/{}/structure/refresh", w.job.id), Some(&w.admin), &()).await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    assert_eq!(poll(&w, 5).await.map(|c| c.action), Some(CommandAction::LoadStructure));
}

/// A long poll answers as soon as a command is issued, not at its end.
async fn a_long_poll_answers_when_a_command_is_issued(engine: Engine) {
    // The poll looks in the database only every 30 s: only the bell can answer it sooner.
    let w = world_with(engine, Limits { command_poll_ms: 30_000, ..Limits::default() }).await;
    // Its first push out of the way.
    w.agent.push(&w.app, &[user(1, "OU=Staff", 512)]).await;
    let started = Instant::now();
    let (command, answer) = tokio::join!(poll(&w, 30), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        w.app.post(&format!("/api/v1/jobs/{}/structure/refresh", w.job.id), Some(&w.admin), &()).await
    });
    assert_eq!(answer.status, 202);
    assert_eq!(command.map(|c| c.action), Some(CommandAction::LoadStructure));
    assert!(started.elapsed() < Duration::from_secs(5), "answered after {:?}", started.elapsed());
}

/// Heartbeats say how the agent is; its state follows from when it was
/// last heard from.
async fn agents_show_their_heartbeat_and_state(engine: Engine) {
    let w = world(engine).await;
    let beat = Heartbeat {
        version: "0.1.0".into(),
        host_name: "dc-agent-01".into(),
        os: "linux".into(),
        dc_reachable: false,
        last_error: Some("ldap: connection refused".into()),
    };
    assert_eq!(w.agent.post(&w.app, "/agent/v1/heartbeat", &beat).await.status, 204);
    let url = format!("/api/v1/agents?job={}", w.job.id);
    let agents = async |app: &TestApp| app.get(&url, &w.admin).await.json::<Page<AgentView>>().items;
    let listed = agents(&w.app).await;
    assert_eq!(listed.len(), 1);
    let agent = &listed[0];
    assert_eq!(agent.state, AgentState::Healthy);
    assert_eq!(
        (agent.hostname.as_deref(), agent.os.as_deref(), agent.agent_version.as_deref(), agent.dc_reachable, agent.last_error.as_deref()),
        (Some("dc-agent-01"), Some("linux"), Some("0.1.0"), Some(false), Some("ldap: connection refused"))
    );
    assert!(agent.last_push_at.is_none());
    let db = Db::connect(&w.app.database_url).await.unwrap();
    let silent_for = |ms: i64| {
        let db = db.clone();
        let agent = w.agent.id;
        async move {
            sqlx::query("UPDATE agents SET last_seen_at = $1 WHERE id = $2")
                .bind(UnixMillis::now().0 - ms)
                .bind(agent.to_string())
                .execute(&db.pool)
                .await
                .unwrap();
        }
    };
    silent_for(5 * 60 * 1000).await;
    assert_eq!(agents(&w.app).await[0].state, AgentState::Stale);
    silent_for(11 * 60 * 1000).await;
    assert_eq!(agents(&w.app).await[0].state, AgentState::Offline);
    // A poll is a sign of life; a push shows as the last push.
    w.agent.push(&w.app, &[user(1, "OU=Staff", 512)]).await;
    let agent = &agents(&w.app).await[0];
    assert_eq!(agent.state, AgentState::Healthy);
    assert!(agent.last_push_at.is_some());
    let bad = serde_json::json!({"version": "1", "host_name": "h", "os": "linux", "dc_reachable": "yes", "last_error": null});
    w.agent.post(&w.app, "/agent/v1/heartbeat", &bad).await.assert_problem(422);
    assert_eq!(w.app.post(&format!("/api/v1/agents/{}/revoke", w.agent.id), Some(&w.admin), &()).await.status, 204);
    assert_eq!(agents(&w.app).await[0].state, AgentState::Revoked);
}

/// The next runs in the tenant's zone, daylight saving flagged.
async fn schedules_show_their_next_runs(engine: Engine) {
    let w = world(engine).await;
    let path = format!("/api/v1/jobs/{}", w.job.id);
    let schedule = serde_json::json!({"daily_at": "02:30", "time_zone": "America/New_York"});
    let answer = w.app.patch(&path, &w.admin, &serde_json::json!({ "schedule": schedule })).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let runs: ScheduledRuns = w.app.get(&format!("{path}/schedule"), &w.admin).await.json();
    assert_eq!(runs.schedule.time_zone, "America/New_York");
    assert_eq!(runs.runs.len(), 5);
    for (run, next) in runs.runs.iter().zip(&runs.runs[1..]) {
        assert!(run.at < next.at, "{runs:?}");
    }
    for run in &runs.runs {
        assert!(run.at > time::OffsetDateTime::now_utc());
        let local = time::OffsetDateTime::parse(&run.local, &time::format_description::well_known::Rfc3339).unwrap();
        assert_eq!(local, run.at, "the same instant");
        assert!(matches!(local.offset().whole_hours(), -5 | -4), "{run:?}");
        assert!(run.slot.ends_with("T02:30"), "{run:?}");
    }
    // Its stored next run is the first shown.
    let db = Db::connect(&w.app.database_url).await.unwrap();
    let (next_at, next_key): (i64, String) = sqlx::query_as("SELECT next_run_at, next_run_key FROM jobs WHERE id = $1")
        .bind(w.job.id.to_string())
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!((UnixMillis(next_at).to_datetime(), next_key), (runs.runs[0].at, format!("{} America/New_York", runs.runs[0].slot)));
    // Disabled: no runs, nothing stored as due.
    let off = Schedule { enabled: false, ..runs.schedule.clone() };
    assert_eq!(w.app.patch(&path, &w.admin, &serde_json::json!({ "schedule": off })).await.status, 200);
    let runs: ScheduledRuns = w.app.get(&format!("{path}/schedule"), &w.admin).await.json();
    assert!(runs.runs.is_empty());
    let next: Option<i64> =
        sqlx::query_scalar("SELECT next_run_at FROM jobs WHERE id = $1").bind(w.job.id.to_string()).fetch_one(&db.pool).await.unwrap();
    assert_eq!(next, None);
}

/// PostgreSQL only: two server replicas and four more claimers in this
/// process share one database's schedule; every due run starts exactly once.
#[tokio::test]
async fn postgres_replicas_start_each_due_run_once() {
    let w = world(Engine::Postgres).await;
    let _replica = spawn_replica(&w.app).await;
    let db = Db::connect(&w.app.database_url).await.unwrap();
    let mut jobs = vec![w.job.id];
    for n in 0..19 {
        jobs.push(create_staff_job(&w.app, &w.admin, &format!("job-{n}")).await.id);
    }
    for job in &jobs {
        make_due(&db, *job, 1_000, "2027-01-10T02:00").await;
    }
    let limits = Limits::default();
    let bell = roster_server::service::commands::CommandBell::default();
    let mut claimers = Vec::new();
    for _ in 0..4 {
        let db = Db::connect(&w.app.database_url).await.unwrap();
        let (limits, bell) = (limits.clone(), bell.clone());
        claimers.push(tokio::spawn(async move { roster_server::import::start_due_runs(&db, &limits, &bell).await.unwrap() }));
    }
    for claimer in claimers {
        claimer.await.unwrap();
    }
    for job in &jobs {
        let started = wait_for_sessions(&w.app, &w.admin, *job, SessionTrigger::Schedule, 1).await;
        assert_eq!(started.len(), 1, "job {job}: {started:?}");
    }
    let runs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM schedule_runs").fetch_one(&db.pool).await.unwrap();
    let sessions: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE trigger_kind = 'schedule'").fetch_one(&db.pool).await.unwrap();
    assert_eq!((runs, sessions), (20, 20));
}

/// A snapshot read before a fresh import was asked for never serves it,
/// even when it is committed after; the agent's next push does.
async fn a_snapshot_read_before_a_fresh_import_does_not_serve_it(engine: Engine) {
    let w = world(engine).await;
    w.agent.push(&w.app, &[user(1, "OU=Staff", 512)]).await;
    // A push under way: offered (its read done) before the admin asks.
    let old = w.agent.offer_and_upload(&w.app, &[user(1, "OU=Staff", 512)]).await;
    let waiting: Session =
        w.app.post(&format!("/api/v1/jobs/{}/imports", w.job.id), Some(&w.admin), &serde_json::json!({"fresh": true})).await.json();
    let committed = w.agent.post(&w.app, &format!("/agent/v1/snapshots/{old}/commit"), &()).await;
    assert_eq!(committed.status, 200, "{}", committed.body);
    assert!(committed.json::<roster_proto::agent::CommitResponse>().session.is_none());
    let still: Session = w.app.get(&format!("/api/v1/sessions/{}", waiting.id), &w.admin).await.json();
    assert_eq!(still.status, SessionStatus::Waiting, "older data is not fresh: {still:?}");
    // The push the command asks for is.
    let command = poll(&w, 5).await.unwrap();
    let pushed = w.agent.push(&w.app, &[user(1, "OU=Staff", 512), user(2, "OU=Staff", 512)]).await;
    assert_eq!(pushed.session.map(|s| s.id), Some(waiting.id));
    assert_eq!(report(&w, &command, &result(CommandOutcome::Succeeded, "pushed")).await.status, 204);
    let done = w.app.wait_for_session(&w.admin, waiting.id).await;
    // Both users of the fresh read (the job has no links: neither is imported), not the one of the old read.
    assert_eq!((done.status, done.counts.not_linked), (SessionStatus::Succeeded, 2), "{done:?}");

    // Two requests before the agent looks: one push serves both, and the second is withdrawn.
    let path = format!("/api/v1/jobs/{}/imports", w.job.id);
    let first: Session = w.app.post(&path, Some(&w.admin), &serde_json::json!({"fresh": true})).await.json();
    let second: Session = w.app.post(&path, Some(&w.admin), &serde_json::json!({"fresh": true})).await.json();
    let command = poll(&w, 5).await.unwrap();
    w.agent.push(&w.app, &[user(1, "OU=Staff", 512)]).await;
    assert_eq!(report(&w, &command, &result(CommandOutcome::Succeeded, "pushed")).await.status, 204);
    for id in [first.id, second.id] {
        session_succeeded(&w.app.wait_for_session(&w.admin, id).await);
    }
    assert!(poll(&w, 0).await.is_none(), "the second push is not asked for any more");
}

/// A command held by an agent that is then revoked goes to another agent
/// of the job; deleting the job fails what waits and withdraws what was asked.
async fn commands_outlive_a_revoked_agent_but_not_their_job(engine: Engine) {
    let w = world(engine).await;
    w.agent.push(&w.app, &[user(1, "OU=Staff", 512)]).await;
    let path = format!("/api/v1/jobs/{}/imports", w.job.id);
    let waiting: Session = w.app.post(&path, Some(&w.admin), &serde_json::json!({"fresh": true})).await.json();
    let command = poll(&w, 5).await.unwrap();
    let other = register(&w.app, &w.admin, w.job.id).await;
    assert_eq!(other.get(&w.app, "/agent/v1/commands?wait=0").await.status, 204, "held by the first agent");
    assert_eq!(w.app.post(&format!("/api/v1/agents/{}/revoke", w.agent.id), Some(&w.admin), &()).await.status, 204);
    let answer = other.get(&w.app, "/agent/v1/commands?wait=0").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json::<Command>().id, command.id);

    let db = Db::connect(&w.app.database_url).await.unwrap();
    // Deleting needs no active user: this job imported nobody (no links).
    assert_eq!(w.app.delete(&format!("/api/v1/jobs/{}", w.job.id), &w.admin).await.status, 204);
    let failed: Session = w.app.get(&format!("/api/v1/sessions/{}", waiting.id), &w.admin).await.json();
    assert_eq!((failed.status, failed.error.as_deref()), (SessionStatus::Failed, Some("the job was deleted")));
    let open: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM agent_commands WHERE job_id = $1 AND acked_at IS NULL AND expires_at > $2")
        .bind(w.job.id.to_string())
        .bind(UnixMillis::now().0)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(open, 0);
}

/// Sessions past their retention go with the runs and commands that name them.
async fn retention_removes_scheduled_sessions_with_their_runs(engine: Engine) {
    let w = world(engine).await;
    w.agent.push(&w.app, &[user(1, "OU=Staff", 512)]).await;
    let db = Db::connect(&w.app.database_url).await.unwrap();
    make_due(&db, w.job.id, 1_000, "2027-01-10T02:00").await;
    let waiting = wait_for_sessions(&w.app, &w.admin, w.job.id, SessionTrigger::Schedule, 1).await.remove(0);
    let command = poll(&w, 5).await.unwrap();
    w.agent.push(&w.app, &[user(1, "OU=Staff", 512)]).await;
    assert_eq!(report(&w, &command, &result(CommandOutcome::Succeeded, "pushed")).await.status, 204);
    session_succeeded(&w.app.wait_for_session(&w.admin, waiting.id).await);
    let settings = roster_proto::admin::TenantSettings { purge_after_days: 30, session_retention_days: Some(7) };
    assert_eq!(w.app.put("/api/v1/settings", &w.admin, &settings).await.status, 200);
    let later = UnixMillis(UnixMillis::now().0 + 8 * UnixMillis::DAY_MS);
    roster_server::import::housekeeping_at(&db, &roster_server::settings::Limits::default(), later).await.unwrap();
    assert!(sessions_of(&w.app, &w.admin, w.job.id).await.is_empty());
    for table in ["schedule_runs", "agent_commands"] {
        let left: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table} WHERE job_id = $1")))
            .bind(w.job.id.to_string())
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert_eq!(left, 0, "{table}");
    }
}

/// `agent` asks for its job's lease.
async fn claim(app: &TestApp, agent: &Agent) -> Lease {
    let answer = agent.post(app, "/agent/v1/lease", &()).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.json()
}

/// Lets the job's lease run out now, as if its holder had been silent for a minute.
async fn expire_lease(app: &TestApp, job: JobId) {
    let db = Db::connect(&app.database_url).await.unwrap();
    sqlx::query("UPDATE job_leases SET expires_at = $1 WHERE job_id = $2")
        .bind(UnixMillis::now().0 - 1)
        .bind(job.to_string())
        .execute(&db.pool)
        .await
        .unwrap();
}

/// Two agents of one job: one holds the lease and is handed commands, the
/// other stands by and is refused uploads; once the holder is silent past
/// its lease the standby takes over with a newer fencing token, and the
/// old holder's upload, offered before the takeover and committed after
/// it, is refused and changes nothing: it stands by from then on.
async fn one_agent_of_a_job_holds_its_lease_and_a_stale_one_is_fenced(engine: Engine) {
    let w = world(engine).await;
    let mut first = register(&w.app, &w.admin, w.job.id).await;
    let mut second = register(&w.app, &w.admin, w.job.id).await;
    let lease = claim(&w.app, &first).await;
    assert!(lease.active && lease.fencing_token.is_some(), "{lease:?}");
    let standby = claim(&w.app, &second).await;
    assert_eq!((standby.active, standby.fencing_token), (false, None));
    assert!(claim(&w.app, &first).await.active, "the holder renews it");
    let agents: Page<AgentView> = w.app.get(&format!("/api/v1/agents?job={}", w.job.id), &w.admin).await.json();
    let active: Vec<_> = agents.items.iter().filter(|a| a.active).map(|a| a.id).collect();
    assert_eq!(active, vec![first.id], "exactly the holder is active: {agents:?}");

    // Only the holder uploads: the standby without a token, or with the holder's, is fenced.
    let records = [user(1, "OU=Staff", 512)];
    let refused = second.push_as(&w.app, &records, roster_proto::manifest::SnapshotKind::Full, None, watermark(1000)).await;
    refused.assert_problem(409).assert_kind(ProblemKind::Fenced);
    second.fence = lease.fencing_token;
    let refused = second.push_as(&w.app, &records, roster_proto::manifest::SnapshotKind::Full, None, watermark(1000)).await;
    refused.assert_problem(409).assert_kind(ProblemKind::Fenced);
    second.fence = None;
    first.fence = lease.fencing_token;
    let pushed = first.push(&w.app, &records).await;
    session_succeeded(&w.app.wait_for_session(&w.admin, pushed.session.expect("the first import").id).await);
    // Only the holder is handed commands: the standby's poll answers nothing.
    let waiting: Session =
        w.app.post(&format!("/api/v1/jobs/{}/imports", w.job.id), Some(&w.admin), &serde_json::json!({"fresh": true})).await.json();
    assert_eq!(second.get(&w.app, "/agent/v1/commands?wait=0").await.status, 204, "a standby is handed nothing");

    // The holder offers and uploads a snapshot, then goes silent past its lease.
    let stale = first.offer_and_upload(&w.app, &[user(1, "OU=Staff", 512), user(2, "OU=Staff", 512)]).await;
    expire_lease(&w.app, w.job.id).await;
    let taken = claim(&w.app, &second).await;
    assert!(taken.active, "{taken:?}");
    assert!(taken.fencing_token > lease.fencing_token, "a takeover raises the token: {taken:?} after {lease:?}");
    let command = second.get(&w.app, "/agent/v1/commands?wait=5").await;
    assert_eq!(command.status, 200, "the new holder is handed the fresh import's push: {}", command.body);
    assert!(matches!(command.json::<Command>().action, CommandAction::Push { .. }), "{}", command.body);

    // The old holder wakes up and commits with its old token: refused, nothing changes.
    let late = first.post(&w.app, &format!("/agent/v1/snapshots/{stale}/commit"), &()).await;
    late.assert_problem(409).assert_kind(ProblemKind::Fenced);
    let structure: roster_proto::insight::Structure = w.app.get(&format!("/api/v1/jobs/{}/structure", w.job.id), &w.admin).await.json();
    assert_eq!(structure.users, 1, "the fenced snapshot changed nothing: the state holds the first push's one user");
    // Asking to renew its old grant (as after a restart, token remembered) is refused the same way;
    // asked again without the token, it stands by.
    let renewal = first.post(&w.app, "/agent/v1/lease", &()).await;
    renewal.assert_problem(409).assert_kind(ProblemKind::Fenced);
    let poll = first.get(&w.app, "/agent/v1/commands?wait=0").await;
    poll.assert_problem(409).assert_kind(ProblemKind::Fenced);
    first.fence = None;
    let back = claim(&w.app, &first).await;
    assert_eq!((back.active, back.fencing_token), (false, None), "the old holder stands by");

    // The new holder's push serves the waiting import.
    second.fence = taken.fencing_token;
    second.push(&w.app, &[user(1, "OU=Staff", 512), user(3, "OU=Staff", 512)]).await;
    let served = w.app.wait_for_session(&w.admin, waiting.id).await;
    session_succeeded(&served);
    let structure: roster_proto::insight::Structure = w.app.get(&format!("/api/v1/jobs/{}/structure", w.job.id), &w.admin).await.json();
    assert_eq!(structure.users, 2, "the new holder's snapshot is the state");
    let agents: Page<AgentView> = w.app.get(&format!("/api/v1/agents?job={}", w.job.id), &w.admin).await.json();
    let active: Vec<_> = agents.items.iter().filter(|a| a.active).map(|a| a.id).collect();
    assert_eq!(active, vec![second.id], "{agents:?}");

    // A fencing token that is not a positive decimal integer is refused as such.
    let mut odd = second;
    for bad in [0, u64::MAX] {
        odd.fence = Some(bad);
        let answer = odd.push_as(&w.app, &records, roster_proto::manifest::SnapshotKind::Full, None, watermark(1000)).await;
        match bad {
            0 => answer.assert_problem(400).assert_kind(ProblemKind::MalformedHeader),
            _ => answer.assert_problem(409).assert_kind(ProblemKind::Fenced),
        };
    }
}

/// A continuous job: its agent is told so, and each snapshot it commits
/// is imported at once (trigger `change`), the safeguard applying as
/// always; a delta that changes nothing imports nothing.
async fn a_continuous_job_imports_each_change_at_once(engine: Engine) {
    let w = world(engine).await;
    w.link_sales_to_basic_access().await;
    let told = async || w.agent.get(&w.app, "/agent/v1/job").await.json::<roster_proto::agent::AgentJob>().sync_mode;
    assert_eq!(told().await, SyncMode::Scheduled, "scheduled unless the job says otherwise");
    let patched = w.app.patch(&format!("/api/v1/jobs/{}", w.job.id), &w.admin, &serde_json::json!({"sync_mode": "continuous"})).await;
    assert_eq!(patched.json::<roster_proto::admin::Job>().sync_mode, SyncMode::Continuous);
    assert_eq!(told().await, SyncMode::Continuous);
    let bad = w.app.patch(&format!("/api/v1/jobs/{}", w.job.id), &w.admin, &serde_json::json!({"sync_mode": "sometimes"})).await;
    bad.assert_problem(422);

    let staff: Vec<u32> = (1..=30).collect();
    let mut full: Vec<_> = staff.iter().map(|n| user(*n, "OU=Staff", 512)).collect();
    full.push(group(200, "Sales", &staff));
    let first = w.agent.push(&w.app, &full).await.session.expect("the first import");
    assert_eq!(first.trigger, SessionTrigger::FirstPush);
    session_succeeded(&w.app.wait_for_session(&w.admin, first.id).await);

    let delta = async |records: &[_], from: u64, to: u64| -> roster_proto::agent::CommitResponse {
        let answer = w.agent.push_as(&w.app, records, SnapshotKind::Delta, Some(watermark(from)), watermark(to)).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        answer.json()
    };
    let disabled = delta(&[user(3, "OU=Staff", 514)], 1000, 1001).await;
    let change = disabled.session.clone().expect("a change is imported at once");
    assert_eq!(change.trigger, SessionTrigger::Change, "{disabled:?}");
    let change = w.app.wait_for_session(&w.admin, change.id).await;
    session_succeeded(&change);
    assert_eq!((change.counts.deactivated, change.counts.unchanged), (1, 29), "{change:?}");

    let idle = delta(&[], 1001, 1005).await;
    assert!(idle.session.is_none(), "a delta with nothing in it imports nothing: {idle:?}");

    let mass: Vec<_> = (4..=20).map(|n| user(n, "OU=Staff", 514)).collect();
    let mass = delta(&mass, 1005, 1006).await;
    let held = w.app.wait_for_session(&w.admin, mass.session.expect("imported at once").id).await;
    assert_eq!(held.status, SessionStatus::Held, "a mass change is held, never applied: {held:?}");
    let active = all_users(&w.app, &w.admin, w.job.id, 100).await.iter().filter(|u| u.active).count();
    assert_eq!(active, 29, "nothing of the held change applied");
    assert_eq!(sessions_of(&w.app, &w.admin, w.job.id).await.len(), 3, "one session per change that changes something");
}

on_both_engines!(
    a_continuous_job_imports_each_change_at_once,
    one_agent_of_a_job_holds_its_lease_and_a_stale_one_is_fenced,
    a_snapshot_read_before_a_fresh_import_does_not_serve_it,
    commands_outlive_a_revoked_agent_but_not_their_job,
    retention_removes_scheduled_sessions_with_their_runs,
    scheduled_runs_import_fresh_data_once_per_slot,
    a_missed_run_is_caught_up_once,
    fresh_imports_wait_for_the_agent,
    a_job_without_data_asks_for_its_first_push,
    a_long_poll_answers_when_a_command_is_issued,
    agents_show_their_heartbeat_and_state,
    schedules_show_their_next_runs,
);
