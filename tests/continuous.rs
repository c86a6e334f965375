//! Continuous sync end to end: a job switched to `sync_mode: continuous`,
//! the real `roster-agent run` watching the Samba DC, the real server
//! importing each change at once. A disable, a group join and a delete
//! each reach the admin API within the target: 10 s with the DC's change
//! notifications, 60 s polling `highestCommittedUSN` every 15 s (the
//! defaults). A burst of 200 changes arrives as a few deltas, all applied.

use std::time::{Duration, Instant};

use roster_e2e::{Admin, Agent, Engine, LdapTransport, RunningAgent, Server, TestOu, ldap_modify_at};
use roster_proto::JobId;
use roster_proto::admin::{AccessKind, Job, Page, Session, SessionStatus, SessionTrigger, SyncMode, User};

use super::{job_over, set_up};

/// Polls the job's users until `done` holds; how long that took.
async fn until_users(
    admin: &Admin,
    job: JobId,
    agent: &mut RunningAgent,
    within: Duration,
    what: &str,
    done: impl Fn(&[User]) -> bool,
) -> Duration {
    let started = Instant::now();
    loop {
        let users = admin.all_users(job).await;
        if done(&users) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "{what}: not seen through the API within {within:?}: {users:?}\nthe agent's log:\n{}",
            agent.log_so_far()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn user<'u>(users: &'u [User], ou: &TestOu, name: &str) -> Option<&'u User> {
    users.iter().find(|u| u.username == ou.sam(name))
}

async fn sessions(admin: &Admin, job: JobId) -> Vec<Session> {
    admin.get::<Page<Session>>(&format!("/api/v1/jobs/{job}/sessions?limit=100")).await.items
}

/// A job over `ou`'s `OU=In`, its group `Staff` linked to a user access,
/// switched to continuous sync, its agent running with `extra` arguments
/// and its first import done (`members` created). The agent (its state
/// directory) lives as long as the caller keeps it.
async fn continuous_job(server: &Server, ou: &TestOu, members: &[&str], extra: &[&str]) -> (Admin, Job, Agent, RunningAgent) {
    let agent = Agent::new(LdapTransport::Ldaps, 1000);
    let group = ou.add_group("Staff", members);
    let scope = job_over("continuous", &[&format!("OU=In,{}", ou.relative)], &[&ou.relative]);
    let (admin, job, _) = set_up(server, &agent, scope, &[(group, AccessKind::User, "HQ")]).await;
    let job: Job = admin.patch(&format!("/api/v1/jobs/{}", job.id), &serde_json::json!({"sync_mode": "continuous"})).await;
    assert_eq!(job.sync_mode, SyncMode::Continuous);
    let mut args = vec!["run", "--heartbeat-every", "1"];
    args.extend_from_slice(extra);
    let mut running = agent.spawn(&args, 3);
    running.wait_for_log("watching the DC for changes", Duration::from_secs(60));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let done = sessions(&admin, job.id).await.into_iter().find(|s| s.trigger == SessionTrigger::FirstPush && s.status.is_settled());
        if let Some(first) = done {
            assert_eq!((first.status, first.counts.created), (SessionStatus::Succeeded, members.len() as u64), "{first:?}");
            break;
        }
        assert!(Instant::now() < deadline, "no first import");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    (admin, job, agent, running)
}

/// A disable, a group join and a delete, each seen within `within`.
async fn changes_arrive_within(engine: Engine, extra: &[&str], within: Duration) {
    let server = Server::start(engine, false).await;
    let ou = TestOu::create();
    ou.add_users(&["ann", "bob", "cid", "dan"]);
    let (admin, job, _agent, mut running) = continuous_job(&server, &ou, &["ann", "bob", "cid"], extra).await;
    let in_dn = |name: &str| format!("CN={name},OU=In,{}", ou.dn);

    ldap_modify_at(
        &ou.url,
        &format!("dn: {}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 514\n-\n", in_dn("bob")),
    );
    let disabled =
        until_users(&admin, job.id, &mut running, within, "bob disabled", |users| user(users, &ou, "bob").is_some_and(|u| !u.active)).await;

    ldap_modify_at(&ou.url, &format!("dn: CN=Staff,{}\nchangetype: modify\nadd: member\nmember: {}\n-\n", ou.dn, in_dn("dan")));
    let joined = until_users(&admin, job.id, &mut running, within, "dan joined Staff", |users| {
        user(users, &ou, "dan").is_some_and(|u| u.active && u.accesses.iter().any(|a| a.name == "HQ"))
    })
    .await;

    ldap_modify_at(&ou.url, &format!("dn: {}\nchangetype: delete\n", in_dn("ann")));
    let deleted =
        until_users(&admin, job.id, &mut running, within, "ann deleted", |users| user(users, &ou, "ann").is_some_and(|u| !u.active)).await;

    eprintln!("continuous sync {extra:?}: disable {disabled:?}, group join {joined:?}, delete {deleted:?} (target {within:?})");
    let changes: Vec<_> = sessions(&admin, job.id).await.into_iter().filter(|s| s.trigger == SessionTrigger::Change).collect();
    assert!(changes.iter().all(|s| s.status == SessionStatus::Succeeded), "{changes:?}");
    running.terminate();
    let output = running.finish(Duration::from_secs(20));
    assert!(output.status.success(), "{:?}: {}", output.status, String::from_utf8_lossy(&output.stderr));
}

#[tokio::test]
async fn sqlite_changes_arrive_within_seconds_with_change_notifications() {
    changes_arrive_within(Engine::Sqlite, &[], Duration::from_secs(10)).await;
}

#[tokio::test]
async fn postgres_changes_arrive_within_a_minute_polling_the_usn() {
    changes_arrive_within(Engine::Postgres, &["--no-notifications"], Duration::from_secs(60)).await;
}

/// 200 users created and added to the linked group in one LDIF: a few
/// deltas (the burst settles), every user imported once.
#[tokio::test]
async fn a_burst_of_200_changes_arrives_as_few_deltas_all_applied() {
    let server = Server::start(Engine::Sqlite, false).await;
    let ou = TestOu::create();
    ou.add_users(&["ann"]);
    let (admin, job, _agent, mut running) = continuous_job(&server, &ou, &["ann"], &[]).await;

    let names: Vec<String> = (0..200).map(|i| format!("burst{i:03}")).collect();
    let mut ldif = String::new();
    for name in &names {
        ldif += &format!(
            "dn: CN={name},OU=In,{dn}\nchangetype: add\nobjectClass: user\nsAMAccountName: {sam}\nuserPrincipalName: {sam}@corp.example.test\nuserAccountControl: 512\n\n",
            dn = ou.dn,
            sam = ou.sam(name),
        );
    }
    ldif += &format!("dn: CN=Staff,{}\nchangetype: modify\nadd: member\n", ou.dn);
    for name in &names {
        ldif += &format!("member: CN={name},OU=In,{}\n", ou.dn);
    }
    ldif += "-\n";
    let started = Instant::now();
    ldap_modify_at(&ou.url, &ldif);
    let written = started.elapsed();
    let seen = until_users(&admin, job.id, &mut running, Duration::from_secs(120), "the burst", |users| {
        users.iter().filter(|u| u.active).count() == 201
    })
    .await;

    let changes: Vec<_> = sessions(&admin, job.id).await.into_iter().filter(|s| s.trigger == SessionTrigger::Change).collect();
    eprintln!("a burst of 200 written in {written:?}, all seen after {seen:?}, in {} imports", changes.len());
    assert!(!changes.is_empty() && changes.len() <= 5, "a burst is a few deltas, not hundreds: {changes:?}");
    assert!(changes.iter().all(|s| s.status == SessionStatus::Succeeded), "{changes:?}");
    let created: u64 = changes.iter().map(|s| s.counts.created).sum();
    assert_eq!(created, 200, "every user created once: {changes:?}");
    assert_eq!(admin.all_users(job.id).await.len(), 201, "nobody twice");
    running.terminate();
    let output = running.finish(Duration::from_secs(20));
    assert!(output.status.success(), "{:?}: {}", output.status, String::from_utf8_lossy(&output.stderr));
}
