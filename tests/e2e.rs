//! End to end: the real Samba AD DC → the real `roster-agent` binary →
//! signed, chunked push → the real `roster-server` binary → automatic first
//! import → users with exactly the right accesses, checked through the
//! admin API. Runs on SQLite and on PostgreSQL.
//!
//! The fixture (`scripts/fixture.py`): OU=Fixture holds Staff/Copenhagen
//! (cph-0001..1100, every 50th disabled), Staff/Aarhus (aar-0001..0150,
//! aar-0150 disabled), External (ext-0001..0020) and Groups:
//! All-Staff ⊃ {Staff-DK ⊃ {Sales-DK ⊃ cph-0001..0100, Copenhagen-All ⊃ all
//! cph}, ext-0001}; Admins-CPH ⊃ cph-0001..0005; VIP ⊃ {cph-0002, aar-0001};
//! Unlinked ⊃ aar-0002..0010; Cycle-A ⊃ {Cycle-B, aar-0011, aar-0013
//! (expired)}, Cycle-B ⊃ {Cycle-A, aar-0012}; Bulk-All ⊃ bulk-0001..3000.

// A failed unwrap is a failed test, which is what we want here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

mod bench_import;
mod continuous;
mod faults;
mod load;
mod schemathesis;
mod service;

use roster_e2e::contract::Contract;
use roster_e2e::{Admin, Agent, Engine, LdapTransport, Server, TestOu, env, job_over, ldap_modify, set_up, wait_for_entry};
use roster_proto::admin::{Access, AccessKind, CreateJob, Job, Page, Schedule, Session, SessionStatus, User};
use roster_proto::insight::{Explanation, ReasonCode, Structure};

/// A group of the fixture's `OU=Groups,OU=Fixture`, by DN.
fn fixture_group(cn: &str) -> String {
    format!("CN={cn},OU=Groups,OU=Fixture,{}", env("ROSTER_TEST_LDAP_BASE_DN"))
}

/// The fixture's main job: Copenhagen and Aarhus, with four links.
async fn tenant_with_job(server: &Server, agent: &Agent) -> (Admin, Job, Vec<Access>) {
    let job = CreateJob {
        schedule: Some(Schedule { enabled: false, daily_at: "03:00".parse().unwrap(), ..Schedule::default() }),
        ..job_over("corp.example.test", &["OU=Copenhagen,OU=Staff,OU=Fixture", "OU=Aarhus,OU=Staff,OU=Fixture"], &["OU=Groups,OU=Fixture"])
    };
    let links = [
        (fixture_group("All-Staff"), AccessKind::User, "Copenhagen"),
        (fixture_group("Cycle-A"), AccessKind::User, "Aarhus"),
        (fixture_group("Admins-CPH"), AccessKind::Administrator, "Copenhagen"),
        (fixture_group("VIP"), AccessKind::Vip, "VIP"),
    ];
    set_up(server, agent, job, &links).await
}

fn accesses_of(user: &User) -> BTreeSet<(AccessKind, String)> {
    user.accesses.iter().map(|a| (a.kind, a.name.clone())).collect()
}

fn set(items: &[(AccessKind, &str)]) -> BTreeSet<(AccessKind, String)> {
    items.iter().map(|(k, n)| (*k, n.to_string())).collect()
}

async fn first_push_imports_the_real_directory(engine: Engine, transport: LdapTransport, https: bool) {
    let server = Server::start(engine, https).await;
    assert_eq!(server.url.starts_with("https://"), https);
    let agent = Agent::new(transport, 200);
    let (admin, job, _) = tenant_with_job(&server, &agent).await;

    // Preflight: the agent reaches both ends and counts what each path matches.
    let check = agent.run_ok(&["check"]);
    let report = String::from_utf8_lossy(&check.stdout).into_owned() + &String::from_utf8_lossy(&check.stderr);
    assert!(report.contains("1100") && report.contains("150"), "check output lacks the per-path counts:\n{report}");

    let output = agent.run_ok(&["push"]);
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("push output is not JSON ({e}): {}", String::from_utf8_lossy(&output.stdout)));
    assert_eq!(summary["users"], 1250, "{summary}");
    assert!(summary["pages"].as_u64().unwrap() >= 7, "1,250 users at 200 a page take at least 7 pages: {summary}");
    let session: Session = serde_json::from_value(summary["session"].clone()).expect("push prints the import session");
    assert_eq!(session.status, SessionStatus::Succeeded, "{session:?}");
    let session = admin.wait_for_session(session.id).await;
    assert_eq!(session.counts.created, 1103, "{session:?}");
    assert_eq!(session.counts.not_linked, 147, "{session:?}");
    assert_eq!(session.manifest_sha256.map(|sha| sha.as_str().len()), Some(64));

    let users = admin.all_users(job.id).await;
    let user = |name: &str| users.iter().find(|u| u.username == name);
    assert_eq!(users.len(), 1103);

    // Nested three levels (All-Staff ⊃ Staff-DK ⊃ Sales-DK ⊃ cph-0001) plus direct links.
    let cph1 = user("cph-0001").expect("cph-0001 imported");
    assert_eq!(accesses_of(cph1), set(&[(AccessKind::User, "Copenhagen"), (AccessKind::Administrator, "Copenhagen")]));
    assert!(cph1.active);
    assert_eq!(cph1.email.as_deref(), Some("cph-0001@example.test"));
    let cph2 = user("cph-0002").unwrap();
    assert_eq!(
        accesses_of(cph2),
        set(&[(AccessKind::User, "Copenhagen"), (AccessKind::Administrator, "Copenhagen"), (AccessKind::Vip, "VIP")])
    );
    assert_eq!(accesses_of(user("cph-0777").unwrap()), set(&[(AccessKind::User, "Copenhagen")]));
    // Users beyond the first 1,000 arrived; disabled accounts are inactive.
    assert!(user("cph-1099").unwrap().active);
    assert!(!user("cph-1100").unwrap().active, "cph-1100 is disabled in AD");
    assert!(!user("cph-0050").unwrap().active, "cph-0050 is disabled in AD");
    assert_eq!(users.iter().filter(|u| u.active).count(), 1100 - 22 + 2);
    // The two-group cycle grants its members, and terminates.
    assert_eq!(accesses_of(user("aar-0011").unwrap()), set(&[(AccessKind::User, "Aarhus")]));
    assert_eq!(accesses_of(user("aar-0012").unwrap()), set(&[(AccessKind::User, "Aarhus")]));
    // An expired account is imported inactive.
    let expired = user("aar-0013").unwrap();
    assert_eq!(accesses_of(expired), set(&[(AccessKind::User, "Aarhus")]));
    assert!(!expired.active, "aar-0013's account expired in 2012");
    // Not imported: VIP alone is no basic access; a group with no link; out of scope.
    assert!(user("aar-0001").is_none(), "aar-0001 has VIP only");
    assert!(user("aar-0002").is_none(), "aar-0002 is only in an unlinked group");
    assert!(user("ext-0001").is_none(), "ext-0001 is in All-Staff but outside the job's paths");
    // Why cph-0001 is an administrator and a user, as the console asks.
    let why: Explanation = admin.get(&format!("/api/v1/users/{}/explain", cph1.id)).await;
    let chains: Vec<&str> = why.grants.iter().flat_map(|g| g.chains.iter().map(|c| c.text.as_str())).collect();
    // Through Sales-DK or Copenhagen-All, equally short: one chain per linked group, ties by name.
    assert!(chains.contains(&"Copenhagen-All → Staff-DK → All-Staff (linked: user @ Copenhagen)"), "{chains:?}");
    assert!(chains.contains(&"Admins-CPH (linked: administrator @ Copenhagen)"), "{chains:?}");
    // And why aar-0001, in VIP only, is not imported.
    let why: Explanation = admin.get(&format!("/api/v1/jobs/{}/explain?user=aar-0001", job.id)).await;
    assert!(!why.imported && why.reasons.iter().any(|r| r.code == ReasonCode::NoBasicAccess), "{why:?}");
    // The structure the console shows: the fixture's OUs and nested counts.
    let structure: Structure = admin.get(&format!("/api/v1/jobs/{}/structure?search=All-Staff", job.id)).await;
    let all_staff = structure.groups.iter().find(|g| g.name == "All-Staff").expect("All-Staff in the structure");
    // Staff-DK and ext-0001 directly; through Staff-DK, the 1,100 cph users (ext-0001, outside the job's paths, is not read).
    assert_eq!((all_staff.direct_members, all_staff.nested_users), (2, 1100));

    // Every GUID is AD's standard string form, unique per user.
    let guids: BTreeSet<String> = users.iter().map(|u| u.object_guid.to_string()).collect();
    assert_eq!(guids.len(), users.len());

    // A second push is stored, not imported, and the session list holds one run.
    let again = agent.run_ok(&["push"]);
    let again: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert!(again["session"].is_null(), "{again}");
    let sessions: Page<Session> = admin.get(&format!("/api/v1/jobs/{}/sessions", job.id)).await;
    assert_eq!(sessions.items.len(), 1);
}

async fn plain_ldap_without_opt_in_pushes_nothing(engine: Engine) {
    let server = Server::start(engine, false).await;
    let agent = Agent::new(LdapTransport::Plain { allow_insecure: false }, 500);
    let (admin, job, _) = tenant_with_job(&server, &agent).await;
    let output = agent.run(&["push"]);
    assert!(!output.status.success(), "a simple bind over plain ldap:// must be refused");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("ROSTER_LDAP_ALLOW_INSECURE"), "the error must say how to opt in:\n{stderr}");
    let sessions: Page<Session> = admin.get(&format!("/api/v1/jobs/{}/sessions", job.id)).await;
    assert!(sessions.items.is_empty());

    // With the explicit opt-in the same read works.
    let allowed = Agent { state: agent.state, transport: LdapTransport::Plain { allow_insecure: true }, page_size: 1000, dc: None };
    let output = allowed.run_ok(&["push"]);
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["users"], 1250);
}

#[tokio::test]
async fn sqlite_first_push_over_ldaps() {
    first_push_imports_the_real_directory(Engine::Sqlite, LdapTransport::Ldaps, false).await;
}

#[tokio::test]
async fn postgres_first_push_over_starttls_to_an_https_server() {
    first_push_imports_the_real_directory(Engine::Postgres, LdapTransport::StartTls, true).await;
}

#[tokio::test]
async fn sqlite_plain_ldap_needs_explicit_opt_in() {
    plain_ldap_without_opt_in_pushes_nothing(Engine::Sqlite).await;
}

/// A group far beyond Windows' 1,500-value range arrives whole.
async fn a_group_of_3000_members_arrives_whole(engine: Engine) {
    let server = Server::start(engine, false).await;
    let agent = Agent::new(LdapTransport::Ldaps, 1000);
    let job = job_over("bulk", &["OU=Bulk,OU=Fixture"], &["OU=Groups,OU=Fixture"]);
    let (admin, job, _) = set_up(&server, &agent, job, &[(fixture_group("Bulk-All"), AccessKind::User, "Bulk")]).await;
    let output = agent.run_ok(&["push"]);
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["users"], 3000, "{summary}");
    let session: Session = serde_json::from_value(summary["session"].clone()).unwrap();
    let session = admin.wait_for_session(session.id).await;
    assert_eq!(session.counts.created, 3000, "{session:?}");
    let users = admin.all_users(job.id).await;
    assert_eq!(users.len(), 3000);
    assert!(users.iter().all(|u| u.active && accesses_of(u) == set(&[(AccessKind::User, "Bulk")])));
}

#[tokio::test]
async fn postgres_a_group_of_3000_members_arrives_whole() {
    a_group_of_3000_members_arrives_whole(Engine::Postgres).await;
}

/// Renames, moves, deletions and small changes in AD reach the service
/// through delta snapshots: the same user stays the same user, a move out of
/// scope and a deletion deactivate, and a delta is small.
async fn directory_changes_flow_through_deltas(engine: Engine) {
    let server = Server::start(engine, false).await;
    let agent = Agent::new(LdapTransport::Ldaps, 1000);
    let ou = TestOu::create();
    let names = ["ann", "bob", "cid", "dan", "eve"];
    ou.add_users(&names);
    let group = ou.add_group("Staff", &names);
    let job = job_over("delta", &[&format!("OU=In,{}", ou.relative)], &[&ou.relative]);
    let (admin, job, _) = set_up(&server, &agent, job, &[(group, AccessKind::User, "HQ")]).await;

    let first: serde_json::Value = serde_json::from_slice(&agent.run_ok(&["push"]).stdout).unwrap();
    assert_eq!(first["kind"], "full", "{first}");
    assert_eq!(first["users"], 5, "{first}");
    let before = admin.all_users(job.id).await;
    assert_eq!(before.len(), 5);

    // In AD: rename ann, move bob out of scope, delete cid, change dan's title.
    let dn = |name: &str| format!("CN={name},OU=In,{}", ou.dn);
    ldap_modify(&format!(
        "dn: {ann}\nchangetype: modify\nreplace: sAMAccountName\nsAMAccountName: {renamed}\n-\n\n\
         dn: {ann}\nchangetype: modrdn\nnewrdn: CN=ann-renamed\ndeleteoldrdn: 1\n\n\
         dn: {bob}\nchangetype: modrdn\nnewrdn: CN=bob\ndeleteoldrdn: 1\nnewsuperior: OU=Out,{ou}\n\n\
         dn: {cid}\nchangetype: delete\n\n\
         dn: {dan}\nchangetype: modify\nreplace: title\ntitle: Manager\n-\n",
        ann = dn("ann"),
        renamed = ou.sam("ann2"),
        bob = dn("bob"),
        cid = dn("cid"),
        dan = dn("dan"),
        ou = ou.dn,
    ));

    let second: serde_json::Value = serde_json::from_slice(&agent.run_ok(&["push"]).stdout).unwrap();
    assert_eq!(second["kind"], "delta", "{second}");
    assert!(second["deleted"].as_u64().unwrap() >= 1, "the tombstone of cid is in the delta: {second}");
    assert!(second["bytes"].as_u64().unwrap() < first["bytes"].as_u64().unwrap(), "a delta is smaller: {first} vs {second}");
    assert!(second["session"].is_null(), "later snapshots wait for the schedule or an admin");

    let session: Session = admin.post(&format!("/api/v1/jobs/{}/imports", job.id), &serde_json::json!({})).await;
    let session = admin.wait_for_session(session.id).await;
    assert_eq!(session.status, SessionStatus::Succeeded, "{session:?}");
    assert_eq!((session.counts.updated, session.counts.deactivated, session.counts.unchanged), (2, 2, 1), "{session:?}");

    let after = admin.all_users(job.id).await;
    assert_eq!(after.len(), 5, "nobody is deleted");
    let by_guid = |guid| after.iter().find(|u| u.object_guid == guid).unwrap();
    let original = |name: &str| before.iter().find(|u| u.username == ou.sam(name)).unwrap();
    let ann = by_guid(original("ann").object_guid);
    assert_eq!((ann.id, &ann.username, ann.active), (original("ann").id, &ou.sam("ann2"), true), "a rename keeps the user");
    assert!(!by_guid(original("bob").object_guid).active, "a move out of scope is a departure");
    assert!(!by_guid(original("cid").object_guid).active, "a deletion deactivates");
    assert!(by_guid(original("dan").object_guid).active);
    assert!(by_guid(original("eve").object_guid).active);
}

#[tokio::test]
async fn sqlite_directory_changes_flow_through_deltas() {
    directory_changes_flow_through_deltas(Engine::Sqlite).await;
}

/// A job's LDAP filter narrows who is in scope, end to end.
async fn a_job_filter_narrows_the_import(engine: Engine) {
    let server = Server::start(engine, false).await;
    let agent = Agent::new(LdapTransport::StartTls, 1000);
    let job = CreateJob {
        user_filter: Some("(department=Sales)".into()),
        ..job_over("sales", &["OU=Copenhagen,OU=Staff,OU=Fixture"], &["OU=Groups,OU=Fixture"])
    };
    let (admin, job, _) = set_up(&server, &agent, job, &[(fixture_group("Copenhagen-All"), AccessKind::User, "Copenhagen")]).await;
    assert_eq!(job.user_filter.as_deref(), Some("(department=Sales)"));
    let check = String::from_utf8_lossy(&agent.run_ok(&["check"]).stdout).into_owned();
    assert!(check.contains("(department=Sales)") && check.contains(": 100"), "{check}");
    let summary: serde_json::Value = serde_json::from_slice(&agent.run_ok(&["push"]).stdout).unwrap();
    assert_eq!(summary["users"], 100, "{summary}");
    let session: Session = serde_json::from_value(summary["session"].clone()).unwrap();
    assert_eq!(admin.wait_for_session(session.id).await.counts.created, 100);
}

#[tokio::test]
async fn postgres_a_job_filter_narrows_the_import() {
    a_job_filter_narrows_the_import(Engine::Postgres).await;
}

/// Pointing the agent at another DC of the same domain (same objectGUIDs,
/// another invocationId and USNs) makes the next snapshot full; the users
/// stay the same users.
async fn another_dc_of_the_domain_forces_a_full_snapshot(engine: Engine) {
    let server = Server::start(engine, false).await;
    let dc_a = (env("ROSTER_TEST_DC_A_LDAPS_URL"), env("ROSTER_TEST_DC_PAIR_CA_FILE"));
    let dc_b = (env("ROSTER_TEST_DC_B_LDAPS_URL"), env("ROSTER_TEST_DC_PAIR_CA_FILE"));
    let ou = TestOu::create_on(&env("ROSTER_TEST_DC_A_LDAP_URL"));
    ou.add_users(&["ann", "bob", "cid"]);
    let group = ou.add_group("Staff", &["ann", "bob", "cid"]);
    let mut agent = Agent::new(LdapTransport::Ldaps, 1000);
    agent.dc = Some(dc_a);
    let job = job_over("switch", &[&format!("OU=In,{}", ou.relative)], &[&ou.relative]);
    let (admin, job, _) = set_up(&server, &agent, job, &[(group.clone(), AccessKind::User, "HQ")]).await;

    let push = |agent: &Agent| -> serde_json::Value { serde_json::from_slice(&agent.run_ok(&["push"]).stdout).unwrap() };
    let first = push(&agent);
    assert_eq!((first["kind"].as_str(), first["users"].as_u64()), (Some("full"), Some(3)), "{first}");
    let same_dc = push(&agent);
    assert_eq!(same_dc["kind"], "delta", "{same_dc}");

    // The other DC has the objects once replication brought them.
    wait_for_entry(&env("ROSTER_TEST_DC_B_LDAP_URL"), &group).await;
    agent.dc = Some(dc_b);
    let output = agent.run_ok(&["push"]);
    let switched: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!((switched["kind"].as_str(), switched["users"].as_u64()), (Some("full"), Some(3)), "{switched}");
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("the DC changed from"), "the agent says why:\n{log}");
    let back_on_b = push(&agent);
    assert_eq!(back_on_b["kind"], "delta", "later pushes to the new DC are deltas again: {back_on_b}");

    let session: Session = admin.post(&format!("/api/v1/jobs/{}/imports", job.id), &serde_json::json!({})).await;
    let session = admin.wait_for_session(session.id).await;
    assert_eq!(session.status, SessionStatus::Succeeded, "{session:?}");
    assert_eq!((session.counts.created, session.counts.unchanged), (0, 3), "the same objectGUIDs: the same users: {session:?}");
}

#[tokio::test]
async fn sqlite_another_dc_of_the_domain_forces_a_full_snapshot() {
    another_dc_of_the_domain_forces_a_full_snapshot(Engine::Sqlite).await;
}

/// `rotate-key` replaces the agent's key with a request signed by the old
/// one, and a rotation interrupted after the server took the new key is
/// finished by the next run.
async fn agents_rotate_their_key(engine: Engine) {
    let server = Server::start(engine, false).await;
    let agent = Agent::new(LdapTransport::Ldaps, 1000);
    let job = job_over("rotate", &["OU=External,OU=Fixture"], &["OU=Groups,OU=Fixture"]);
    set_up(&server, &agent, job, &[(fixture_group("All-Staff"), AccessKind::User, "HQ")]).await;
    let key_path = agent.state.0.join("agent.key");
    let original = std::fs::read(&key_path).unwrap();

    let rotated: serde_json::Value = serde_json::from_slice(&agent.run_ok(&["rotate-key"]).stdout).unwrap();
    assert_eq!(rotated["finished_earlier_rotation"], false, "{rotated}");
    let second = std::fs::read(&key_path).unwrap();
    assert_ne!(original, second, "the key file holds the new key");
    assert!(!agent.state.0.join("agent.key.new").exists());
    let pushed: serde_json::Value = serde_json::from_slice(&agent.run_ok(&["push"]).stdout).unwrap();
    assert_eq!(pushed["users"], 20, "{pushed}");

    // Put the old key back: the server refuses it.
    std::fs::write(&key_path, &original).unwrap();
    assert!(!agent.run(&["push"]).status.success(), "the replaced key is refused");
    // As if a rotation stopped after the server took the key it staged.
    std::fs::write(agent.state.0.join("agent.key.new"), &second).unwrap();
    let finished: serde_json::Value = serde_json::from_slice(&agent.run_ok(&["rotate-key"]).stdout).unwrap();
    assert_eq!(finished["finished_earlier_rotation"], true, "{finished}");
    assert_eq!(std::fs::read(&key_path).unwrap(), second);
    agent.run_ok(&["push"]);
}

#[tokio::test]
async fn sqlite_agents_rotate_their_key() {
    agents_rotate_their_key(Engine::Sqlite).await;
}

/// Real messages — the server's answers and what the agent writes — match
/// the schemas in `proto-schemas/`.
async fn real_messages_match_the_contract(engine: Engine) {
    let contract = Contract::load();
    let server = Server::start(engine, false).await;
    let agent = Agent::new(LdapTransport::Ldaps, 500);
    let (admin, job, _) = tenant_with_job(&server, &agent).await;
    let admin_def = |name: &str| format!("admin-api.schema.json#/$defs/{name}");
    let pushed: serde_json::Value = serde_json::from_slice(&agent.run_ok(&["push"]).stdout).unwrap();
    let session_id = pushed["session"]["id"].as_str().unwrap().to_owned();
    admin.wait_for_session(session_id.parse().unwrap()).await;
    contract.assert_valid(&admin_def("session"), &pushed["session"]);

    let answers = [
        (format!("/api/v1/jobs/{}", job.id), "job"),
        ("/api/v1/jobs".to_owned(), "jobPage"),
        ("/api/v1/accesses".to_owned(), "accessPage"),
        (format!("/api/v1/jobs/{}/links", job.id), "links"),
        (format!("/api/v1/jobs/{}/sessions", job.id), "sessionPage"),
        (format!("/api/v1/sessions/{session_id}"), "session"),
        (format!("/api/v1/sessions/{session_id}/changes?limit=50"), "sessionChangePage"),
        (format!("/api/v1/users?job={}&limit=200", job.id), "userPage"),
        ("/api/v1/agents".to_owned(), "agentPage"),
    ];
    for (path, def) in answers {
        let body: serde_json::Value = admin.get(&path).await;
        contract.assert_valid(&admin_def(def), &body);
    }

    // What the agent writes: the manifest and every record of every chunk.
    let out = agent.state.0.join("read-out");
    agent.run_ok(&["read", "--out", out.to_str().unwrap(), "--path", "OU=Fixture", "--group-path", "OU=Groups,OU=Fixture"]);
    let manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    contract.assert_valid("manifest.schema.json", &manifest);
    let mut records = 0;
    for chunk in manifest["chunks"].as_array().unwrap() {
        let path = out.join(format!("{:06}.chunk", chunk["index"].as_u64().unwrap()));
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap()), &mut text).unwrap();
        for line in text.lines() {
            contract.assert_valid("record.schema.json", &serde_json::from_str(line).unwrap());
            records += 1;
        }
    }
    assert!(records > 4000, "{records} records checked");
}

#[tokio::test]
async fn sqlite_real_messages_match_the_contract() {
    real_messages_match_the_contract(Engine::Sqlite).await;
}
