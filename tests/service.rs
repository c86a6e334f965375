//! The agent as a service, end to end: the real `roster-agent run` and the
//! real `roster-server` against the Samba DC. Its first import comes with
//! nobody pushing; "Perform import" with fresh data picks up an AD change;
//! a schedule due in a minute in a non-UTC zone runs once with fresh data;
//! the server killed while the agent runs and while an import waits for
//! it, and everything carries on; one `run` per state directory; SIGTERM
//! ends it cleanly.

use std::time::{Duration, Instant};

use roster_e2e::{Admin, Agent, Engine, LdapTransport, Server, TestOu, ldap_modify};
use roster_proto::admin::{AccessKind, Agent as AgentView, AgentState, Page, Session, SessionStatus, SessionTrigger};

use super::{job_over, set_up};

/// Polls the job's sessions until one with `trigger` has settled.
async fn settled_session(admin: &Admin, job: roster_proto::JobId, trigger: SessionTrigger, timeout: Duration) -> Session {
    let deadline = Instant::now() + timeout;
    loop {
        let page: Page<Session> = admin.get(&format!("/api/v1/jobs/{job}/sessions?limit=100")).await;
        if let Some(session) = page.items.into_iter().find(|s| s.trigger == trigger && s.status.is_settled()) {
            return session;
        }
        assert!(Instant::now() < deadline, "no settled {trigger:?} session within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn sessions(admin: &Admin, job: roster_proto::JobId) -> Vec<Session> {
    admin.get::<Page<Session>>(&format!("/api/v1/jobs/{job}/sessions?limit=100")).await.items
}

/// Polls the tenant's agents until `done` holds for the only one.
async fn agent_view(admin: &Admin, done: impl Fn(&AgentView) -> bool) -> AgentView {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let page: Page<AgentView> = admin.get("/api/v1/agents").await;
        if let Some(agent) = page.items.into_iter().find(&done) {
            return agent;
        }
        assert!(Instant::now() < deadline, "the agent never showed as expected");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn disable(ou: &TestOu, name: &str) {
    ldap_modify(&format!("dn: CN={name},OU=In,{}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 514\n-\n", ou.dn));
}

async fn run_mode_imports_by_itself_and_takes_fresh_imports(engine: Engine) {
    let mut server = Server::start(engine, false).await;
    let agent = Agent::new(LdapTransport::Ldaps, 1000);
    let ou = TestOu::create();
    let names = ["ann", "bob", "cid"];
    ou.add_users(&names);
    let group = ou.add_group("Staff", &names);
    let (admin, job, _) = set_up(
        &server,
        &agent,
        job_over("service", &[&format!("OU=In,{}", ou.relative)], &[&ou.relative]),
        &[(group, AccessKind::User, "HQ")],
    )
    .await;

    let mut running = agent.spawn(&["run", "--heartbeat-every", "2"], 3);
    // Nobody pushes: the server asks the new job's agent for its first snapshot.
    let first = settled_session(&admin, job.id, SessionTrigger::FirstPush, Duration::from_secs(90)).await;
    assert_eq!(first.status, SessionStatus::Succeeded, "{first:?}");
    assert_eq!(first.counts.created, 3, "{first:?}");
    let seen = agent_view(&admin, |a| a.os.is_some()).await;
    assert_eq!(seen.state, AgentState::Healthy);
    assert_eq!(seen.dc_reachable, Some(true), "{seen:?}");
    assert!(seen.hostname.is_some() && seen.agent_version.is_some() && seen.last_push_at.is_some(), "{seen:?}");

    // A second `run` on the same state directory refuses to start, and says so
    // in its log file too (a service's only witness).
    let log = agent.state.0.join("logs").join("second.log");
    let second = agent.run(&["run", "--log-file", log.to_str().unwrap()]);
    assert!(!second.status.success());
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(said.contains("is in use by another roster-agent"), "{said}");
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("is in use by another roster-agent"), "{logged}");
    // So do a push and a key rotation: the service's spool and key are its own while it runs.
    for command in [&["push"][..], &["rotate-key"]] {
        let refused = agent.run(command);
        assert!(!refused.status.success(), "{command:?}");
        assert!(String::from_utf8_lossy(&refused.stderr).contains("is in use by another roster-agent"), "{command:?}");
    }

    // "Perform import" with fresh data picks up a change made in AD just now.
    disable(&ou, "bob");
    let waiting: Session = admin.post(&format!("/api/v1/jobs/{}/imports", job.id), &serde_json::json!({"fresh": true})).await;
    assert_eq!(waiting.status, SessionStatus::Waiting);
    let fresh = admin.wait_for_session(waiting.id).await;
    assert_eq!(fresh.status, SessionStatus::Succeeded, "{fresh:?}");
    assert_eq!((fresh.counts.deactivated, fresh.counts.unchanged), (1, 2), "{fresh:?}");

    // The server goes away and comes back: the agent carries on by itself.
    server.restart().await;
    disable(&ou, "cid");
    let waiting: Session = admin.post(&format!("/api/v1/jobs/{}/imports", job.id), &serde_json::json!({"fresh": true})).await;
    let fresh = admin.wait_for_session(waiting.id).await;
    assert_eq!(fresh.status, SessionStatus::Succeeded, "{fresh:?}");
    assert_eq!(fresh.counts.deactivated, 1, "{fresh:?}");

    // SIGTERM ends it cleanly, at once.
    running.terminate();
    let output = running.finish(Duration::from_secs(20));
    assert!(output.status.success(), "{:?}: {}", output.status, String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stderr).contains("stop asked"));
}

#[tokio::test]
async fn sqlite_run_mode_imports_by_itself_and_takes_fresh_imports() {
    run_mode_imports_by_itself_and_takes_fresh_imports(Engine::Sqlite).await;
}

#[tokio::test]
async fn postgres_run_mode_imports_by_itself_and_takes_fresh_imports() {
    run_mode_imports_by_itself_and_takes_fresh_imports(Engine::Postgres).await;
}

/// A schedule due in a minute, in a zone half an hour off UTC, runs once
/// with data read after it came due; the server is killed while that run
/// waits for the agent, and the run carries on when the agent comes.
#[tokio::test]
async fn sqlite_a_schedule_in_the_tenants_zone_runs_once_with_fresh_data() {
    let mut server = Server::start_with_env(Engine::Sqlite, &[("ROSTER_SCHEDULE_JITTER_SECS", "0")]).await;
    let agent = Agent::new(LdapTransport::Ldaps, 1000);
    let ou = TestOu::create();
    let names = ["ann", "bob"];
    ou.add_users(&names);
    let group = ou.add_group("Staff", &names);
    let (admin, job, _) = set_up(
        &server,
        &agent,
        job_over("scheduled", &[&format!("OU=In,{}", ou.relative)], &[&ou.relative]),
        &[(group, AccessKind::User, "HQ")],
    )
    .await;
    agent.run_ok(&["push"]);

    // Due at the next whole minute at least 20 s away, on Kolkata's clock (UTC+05:30).
    let kolkata = time::UtcOffset::from_hms(5, 30, 0).unwrap();
    let due = (time::OffsetDateTime::now_utc() + time::Duration::seconds(80)).to_offset(kolkata);
    let due = due.replace_second(0).unwrap().replace_nanosecond(0).unwrap();
    let daily_at = format!("{:02}:{:02}", due.hour(), due.minute());
    let schedule = serde_json::json!({"schedule": {"daily_at": daily_at, "time_zone": "Asia/Kolkata"}});
    let _: serde_json::Value = admin.patch(&format!("/api/v1/jobs/{}", job.id), &schedule).await;
    let runs: roster_proto::admin::ScheduledRuns = admin.get(&format!("/api/v1/jobs/{}/schedule", job.id)).await;
    assert_eq!(runs.runs[0].at, due.to_offset(time::UtcOffset::UTC), "{runs:?}");
    assert!(runs.runs[0].local.ends_with("+05:30"), "{runs:?}");

    // No agent runs: at its time the run starts and waits for fresh data.
    let deadline = Instant::now() + Duration::from_secs(150);
    let waiting = loop {
        let found = sessions(&admin, job.id).await.into_iter().find(|s| s.trigger == SessionTrigger::Schedule);
        if let Some(session) = found {
            break session;
        }
        assert!(Instant::now() < deadline, "the scheduled run never started");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(waiting.status, SessionStatus::Waiting, "{waiting:?}");
    assert!(waiting.created_at >= due.to_offset(time::UtcOffset::UTC), "never before its time: {waiting:?}");
    assert!(!waiting.caught_up);
    // AD changes after the run came due: the data it imports is read after that.
    disable(&ou, "ann");
    // The server is killed while the run waits; back, it still waits.
    server.restart().await;
    let still: Session = admin.get(&format!("/api/v1/sessions/{}", waiting.id)).await;
    assert_eq!(still.status, SessionStatus::Waiting, "{still:?}");
    let mut running = agent.spawn(&["run"], 3);
    let scheduled = admin.wait_for_session(waiting.id).await;
    assert_eq!(scheduled.status, SessionStatus::Succeeded, "{scheduled:?}");
    assert_eq!(scheduled.counts.deactivated, 1, "fresh data: {scheduled:?}");
    let count = sessions(&admin, job.id).await.iter().filter(|s| s.trigger == SessionTrigger::Schedule).count();
    assert_eq!(count, 1, "the slot ran once");
    let runs: roster_proto::admin::ScheduledRuns = admin.get(&format!("/api/v1/jobs/{}/schedule", job.id)).await;
    assert_eq!(runs.runs[0].at, (due + time::Duration::days(1)).to_offset(time::UtcOffset::UTC), "the next run is tomorrow's");
    running.terminate();
    assert!(running.finish(Duration::from_secs(20)).status.success());
}
