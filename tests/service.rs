//! The agent as a service, end to end: the real `roster-agent run` and the
//! real `roster-server` against the Samba DC. Its first import comes with
//! nobody pushing; "Perform import" with fresh data picks up an AD change;
//! a schedule due in a minute in a non-UTC zone runs once with fresh data;
//! the server killed while the agent runs and while an import waits for
//! it, and everything carries on; one `run` per state directory; SIGTERM
//! ends it cleanly.

use std::time::{Duration, Instant};

use roster_e2e::{Admin, Agent, Engine, LdapTransport, Server, TestOu, env, ldap_modify_at, wait_for_entry};
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
    disable_on(&ou.url, ou, name);
}

/// Disables `name` of `ou` writing to the DC at `url` (`ldap://`).
fn disable_on(url: &str, ou: &TestOu, name: &str) {
    let ldif = format!("dn: CN={name},OU=In,{}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 514\n-\n", ou.dn);
    ldap_modify_at(url, &ldif);
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

/// The tenant's agents, each with whether it holds its job's lease.
async fn agents(admin: &Admin) -> Vec<AgentView> {
    admin.get::<Page<AgentView>>("/api/v1/agents").await.items
}

/// Polls until the job's only active agent is `holder`.
async fn wait_for_holder(admin: &Admin, holder: roster_proto::AgentId, timeout: Duration) -> Vec<AgentView> {
    let deadline = Instant::now() + timeout;
    loop {
        let seen = agents(admin).await;
        let active: Vec<_> = seen.iter().filter(|a| a.active).map(|a| a.id).collect();
        if active == [holder] {
            return seen;
        }
        assert!(Instant::now() < deadline, "agent {holder} never became the only active one: {seen:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Where the two agents of a failover read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dcs {
    /// Both the shared DC.
    Shared,
    /// Each its own DC of the test suite's replicating pair: the first
    /// 127.0.0.4, the second 127.0.0.5.
    Pair,
}

/// Two agents of one job: one holds the job's lease and does its work, the
/// other stands by. The active one is killed outright (SIGKILL: nothing of
/// it says goodbye); within its lease the standby takes over, and an
/// import with fresh data imports a change made in AD after the kill, once
/// (on another DC of the domain, by a full snapshot: the watermark names
/// the dead agent's DC). The killed agent, started again with its old
/// fencing token, is refused, and stands by behind its successor.
async fn a_standby_agent_takes_over_when_the_active_one_dies(engine: Engine, dcs: Dcs) {
    // A short lease keeps the test quick; the agents beat every second.
    let server = Server::start_with_env(engine, &[("ROSTER_LEASE_TTL_SECS", "4")]).await;
    let mut first = Agent::new(LdapTransport::Ldaps, 1000);
    let mut second = Agent::new(LdapTransport::Ldaps, 1000);
    let ou = match dcs {
        Dcs::Shared => TestOu::create(),
        Dcs::Pair => {
            first.dc = Some((env("ROSTER_TEST_DC_A_LDAPS_URL"), env("ROSTER_TEST_DC_PAIR_CA_FILE")));
            second.dc = Some((env("ROSTER_TEST_DC_B_LDAPS_URL"), env("ROSTER_TEST_DC_PAIR_CA_FILE")));
            TestOu::create_on(&env("ROSTER_TEST_DC_A_LDAP_URL"))
        }
    };
    // Where the successor reads, and so where the change after the kill is made.
    let successors_dc = match dcs {
        Dcs::Shared => ou.url.clone(),
        Dcs::Pair => env("ROSTER_TEST_DC_B_LDAP_URL"),
    };
    let names = ["ann", "bob", "cid"];
    ou.add_users(&names);
    let group = ou.add_group("Staff", &names);
    let (admin, job, _) = set_up(
        &server,
        &first,
        job_over("failover", &[&format!("OU=In,{}", ou.relative)], &[&ou.relative]),
        &[(group.clone(), AccessKind::User, "HQ")],
    )
    .await;
    let [first_id] = agents(&admin).await.iter().map(|a| a.id).collect::<Vec<_>>()[..] else { panic!("one agent registered") };
    let token: roster_proto::admin::RegistrationToken = admin.post(&format!("/api/v1/jobs/{}/registration-tokens", job.id), &()).await;
    second.run_ok(&["register", "--server", &server.url, "--token", &token.token]);
    let second_id = agents(&admin).await.into_iter().map(|a| a.id).find(|id| *id != first_id).expect("the second agent registered");

    let beat = ["run", "--heartbeat-every", "1", "--poll-wait", "2"];
    let mut running_first = first.spawn(&beat, 3);
    running_first.wait_for_log("this agent holds the job's lease", Duration::from_secs(30));
    let initial = settled_session(&admin, job.id, SessionTrigger::FirstPush, Duration::from_secs(90)).await;
    assert_eq!((initial.status, initial.counts.created), (SessionStatus::Succeeded, 3), "{initial:?}");
    let mut running_second = second.spawn(&beat, 3);
    running_second.wait_for_log("this one stands by", Duration::from_secs(30));
    let seen = wait_for_holder(&admin, first_id, Duration::from_secs(10)).await;
    assert!(seen.iter().all(|a| a.last_push_at.is_some() == (a.id == first_id)), "only the active agent pushed: {seen:?}");
    // The successor's DC has what the first import read.
    wait_for_entry(&successors_dc, &group).await;

    // The active agent dies; AD changes after it did.
    running_first.kill();
    disable_on(&successors_dc, &ou, "bob");
    running_second.wait_for_log("this agent holds the job's lease", Duration::from_secs(30));
    wait_for_holder(&admin, second_id, Duration::from_secs(10)).await;
    let waiting: Session = admin.post(&format!("/api/v1/jobs/{}/imports", job.id), &serde_json::json!({"fresh": true})).await;
    let fresh = admin.wait_for_session(waiting.id).await;
    assert_eq!(fresh.status, SessionStatus::Succeeded, "{fresh:?}");
    assert_eq!((fresh.counts.deactivated, fresh.counts.unchanged, fresh.counts.created), (1, 2, 0), "{fresh:?}");
    let seen = agents(&admin).await;
    assert!(seen.iter().find(|a| a.id == second_id).is_some_and(|a| a.last_push_at.is_some()), "the successor pushed: {seen:?}");
    if dcs == Dcs::Pair {
        let switched = running_second.wait_for_log("the DC changed from", Duration::from_secs(10));
        assert!(switched.contains("full"), "another DC's successor sends a full snapshot: {switched}");
    }

    // The killed agent comes back with the token of its lost grant: the
    // server refuses it, the agent forgets it and stands by behind its successor.
    // (`fencing-token`: roster_agent::state::FENCING_TOKEN_FILE.)
    let kept = first.state.path().join("fencing-token");
    let old_token = std::fs::read_to_string(&kept).expect("the killed agent kept its fencing token");
    let mut running_again = first.spawn(&beat, 3);
    let refused = running_again.wait_for_log("the server refused this agent's fencing token", Duration::from_secs(30));
    assert!(refused.contains(&format!("fencing_token={}", old_token.trim())), "the token it kept was refused: {refused}");
    running_again.wait_for_log("this one stands by", Duration::from_secs(30));
    assert!(!kept.exists(), "the lost grant is forgotten");
    wait_for_holder(&admin, second_id, Duration::from_secs(10)).await;
    disable_on(&successors_dc, &ou, "cid");
    let waiting: Session = admin.post(&format!("/api/v1/jobs/{}/imports", job.id), &serde_json::json!({"fresh": true})).await;
    let fresh = admin.wait_for_session(waiting.id).await;
    assert_eq!((fresh.status, fresh.counts.deactivated), (SessionStatus::Succeeded, 1), "{fresh:?}");
    let users = admin.all_users(job.id).await;
    assert_eq!(users.len(), 3, "nobody imported twice: {users:?}");

    for running in [running_second, running_again] {
        let mut running = running;
        running.terminate();
        let output = running.finish(Duration::from_secs(20));
        assert!(output.status.success(), "{:?}: {}", output.status, String::from_utf8_lossy(&output.stderr));
    }
}

#[tokio::test]
async fn sqlite_a_standby_agent_takes_over_when_the_active_one_dies() {
    a_standby_agent_takes_over_when_the_active_one_dies(Engine::Sqlite, Dcs::Shared).await;
}

#[tokio::test]
async fn postgres_a_standby_agent_takes_over_when_the_active_one_dies() {
    a_standby_agent_takes_over_when_the_active_one_dies(Engine::Postgres, Dcs::Shared).await;
}

#[tokio::test]
async fn sqlite_agents_on_two_dcs_of_the_domain_fail_over_with_a_full_snapshot() {
    a_standby_agent_takes_over_when_the_active_one_dies(Engine::Sqlite, Dcs::Pair).await;
}

#[tokio::test]
async fn postgres_agents_on_two_dcs_of_the_domain_fail_over_with_a_full_snapshot() {
    a_standby_agent_takes_over_when_the_active_one_dies(Engine::Postgres, Dcs::Pair).await;
}
