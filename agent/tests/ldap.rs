//! The agent against the real Samba AD DC (started by scripts/test.sh;
//! these tests fail without it): paging, member resolution through
//! extended DNs, TLS modes, the refusals, the `read` command, a whole
//! `push` to a stand-in server (including a connection cut mid-read that
//! must push nothing), the watermark, and delta reads: changed, moved and
//! deleted objects, new group members, account expiry. Tests that change
//! the directory do it in their own OU and assert only about it: other
//! tests share the DC.

// Helpers outside #[test] functions panic on failure too: in a test, that is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use common::{Dc, MockServer, REGISTRATION_TOKEN, TempDir, TestOu, dc};
use ldap3::Mod;
use roster_agent::commands::Context;
use roster_agent::commands::push::{PushOptions, push};
use roster_agent::commands::register::{RegisterOptions, register};
use roster_agent::config::EnvMap;
use roster_agent::ldap::tls::Transport;
use roster_agent::ldap::{Directory, LdapSettings, ReadMode, ReadStats};
use roster_agent::{Secret, Stage};
use roster_proto::ObjectGuid;
use roster_proto::admin::SessionStatus;
use roster_proto::manifest::{SnapshotKind, Watermark};
use roster_proto::records::{DeletedRecord, GroupRecord, Record, UserRecord};
use roster_proto::scope::JobScope;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const COPENHAGEN: &str = "OU=Copenhagen,OU=Staff,OU=Fixture";
const GROUPS: &str = "OU=Groups,OU=Fixture";

fn scope(users: &[&str], groups: &[&str]) -> JobScope {
    JobScope {
        relative_paths: users.iter().map(|s| s.to_string()).collect(),
        group_paths: groups.iter().map(|s| s.to_string()).collect(),
        user_filter: None,
    }
}

async fn read(settings: &LdapSettings, scope: &JobScope) -> (ReadStats, Vec<Record>) {
    read_with(settings, scope, |_| ReadMode::Full).await.1
}

/// Reads with the mode `mode` picks from the watermark read first; returns that watermark too.
async fn read_with(
    settings: &LdapSettings,
    scope: &JobScope,
    mode: impl FnOnce(&Watermark) -> ReadMode,
) -> (Watermark, (ReadStats, Vec<Record>)) {
    let mut directory = Directory::connect(settings).await.unwrap();
    let info = directory.directory_info(settings.base_dn.as_deref()).await.unwrap();
    let resolved = scope.resolve(&info.base_dn).unwrap();
    let mut records = Vec::new();
    let stats = directory.read(&info, &resolved, mode(&info.watermark), &mut records).await.unwrap();
    directory.close().await;
    (info.watermark, (stats, records))
}

/// Everything under the base DN changed after `base` (the whole domain: a
/// delta is not limited to the scope), and the watermark read before.
async fn delta_since(dc: &Dc, base: &Watermark) -> (Watermark, ReadStats, Vec<Record>) {
    let (mark, (stats, records)) = read_with(&dc.plain(100), &scope(&["*"], &[]), |_| ReadMode::Delta { since_usn: base.usn + 1 }).await;
    (mark, stats, records)
}

async fn current_watermark(dc: &Dc) -> Watermark {
    let mut directory = Directory::connect(&dc.plain(100)).await.unwrap();
    let (_, mark) = directory.watermark().await.unwrap();
    directory.close().await;
    mark
}

fn user(records: &[Record], guid: ObjectGuid) -> Option<&UserRecord> {
    users(records).into_iter().find(|u| u.object_guid == guid)
}

fn deleted(records: &[Record]) -> Vec<&DeletedRecord> {
    records.iter().filter_map(|r| if let Record::Deleted(d) = r { Some(d) } else { None }).collect()
}

fn same_dn(a: &str, b: &str) -> bool {
    roster_proto::dn::Dn::parse(a).unwrap() == roster_proto::dn::Dn::parse(b).unwrap()
}

fn users(records: &[Record]) -> Vec<&UserRecord> {
    records.iter().filter_map(|r| if let Record::User(u) = r { Some(u) } else { None }).collect()
}

fn groups(records: &[Record]) -> HashMap<&str, &GroupRecord> {
    records.iter().filter_map(|r| if let Record::Group(g) = r { Some((g.name.as_str(), g)) } else { None }).collect()
}

#[tokio::test]
async fn paged_read_returns_every_copenhagen_user() {
    let dc = dc();
    let (stats, records) = read(&dc.plain(100), &scope(&[COPENHAGEN], &[GROUPS])).await;
    let users = users(&records);
    assert_eq!(stats.users, 1100);
    assert_eq!(users.len(), 1100);
    assert!(stats.pages > 11 + 1, "1,100 users at 100 a page plus groups and OUs; pages = {}", stats.pages);
    let names: BTreeSet<&str> = users.iter().map(|u| u.sam_account_name.as_str()).collect();
    let expected: BTreeSet<String> = (1..=1100).map(|n| format!("cph-{n:04}")).collect();
    assert_eq!(names, expected.iter().map(String::as_str).collect());
    assert!(users.iter().all(|u| u.dn.ends_with(&format!("{COPENHAGEN},{}", dc.base_dn))), "a user from outside the scope");
    let guids: BTreeSet<ObjectGuid> = users.iter().map(|u| u.object_guid).collect();
    assert_eq!(guids.len(), 1100, "object GUIDs are unique");

    // Disabled users: every 50th (userAccountControl 514 = bit 2 set).
    let disabled: BTreeSet<&str> = users.iter().filter(|u| u.is_disabled()).map(|u| u.sam_account_name.as_str()).collect();
    let expected_disabled: BTreeSet<String> = (1..=1100).filter(|n| n % 50 == 0).map(|n| format!("cph-{n:04}")).collect();
    assert_eq!(disabled, expected_disabled.iter().map(String::as_str).collect());
    let cph1 = users.iter().find(|u| u.sam_account_name == "cph-0001").unwrap();
    assert_eq!(cph1.user_account_control, 512);
    assert_eq!(cph1.user_principal_name.as_deref(), Some("cph-0001@corp.example.test"));
    assert_eq!(cph1.department.as_deref(), Some("Sales"));
    assert!(cph1.usn_changed.is_some() && cph1.when_changed.is_some());

    // A bigger page means fewer pages for the same records.
    let (big, _) = read(&dc.plain(1000), &scope(&[COPENHAGEN], &[GROUPS])).await;
    assert_eq!(big.users, 1100);
    assert!(big.pages < stats.pages, "{} pages at 1000 vs {} at 100", big.pages, stats.pages);
}

/// Over several connections a full read takes exactly the users one
/// connection takes, each once. With the watermark set back to the middle
/// of the users' USNs, the slices cover only up to it and the users above
/// it (as if changed during the read) are read by the search for changes
/// since the watermark.
#[tokio::test]
async fn a_read_over_several_connections_reads_what_one_reads() {
    let dc = dc();
    let scope = scope(&["OU=Fixture"], &[GROUPS]);
    let by_guid = |records: &[Record]| {
        let mut users: Vec<UserRecord> = users(records).into_iter().cloned().collect();
        users.sort_by_key(|u| u.object_guid);
        users
    };
    let one = LdapSettings { read_connections: 1, ..dc.plain(200) };
    let (_, (stats, one_read)) = read_with(&one, &scope, |_| ReadMode::Full).await;
    let expected = by_guid(&one_read);
    assert!(expected.len() > 3000, "the fixture's users: {}", expected.len());
    for connections in [2, 8] {
        let many = LdapSettings { read_connections: connections, ..dc.plain(200) };
        let (_, (parallel, records)) = read_with(&many, &scope, |_| ReadMode::Full).await;
        assert_eq!(parallel.users, stats.users, "{connections} connections");
        assert_eq!(by_guid(&records), expected, "{connections} connections");
        assert_eq!(groups(&records), groups(&one_read), "{connections} connections");
    }

    let settings = LdapSettings { read_connections: 3, ..dc.plain(200) };
    let mut directory = Directory::connect(&settings).await.unwrap();
    let mut info = directory.directory_info(settings.base_dn.as_deref()).await.unwrap();
    let mut usns: Vec<u64> = expected.iter().map(|u| u.usn_changed.unwrap()).collect();
    usns.sort_unstable();
    info.watermark.usn = usns[usns.len() / 2];
    let resolved = scope.resolve(&info.base_dn).unwrap();
    let mut records = Vec::new();
    let set_back = directory.read(&info, &resolved, ReadMode::Full, &mut records).await.unwrap();
    directory.close().await;
    assert_eq!(set_back.users, stats.users);
    assert_eq!(by_guid(&records), expected, "the users above the watermark too, each once");
}

#[tokio::test]
async fn group_members_are_the_guids_of_the_objects_read() {
    let dc = dc();
    let (stats, records) = read(&dc.plain(100), &scope(&[COPENHAGEN], &[GROUPS])).await;
    let groups = groups(&records);
    assert_eq!(stats.groups as usize, groups.len());
    for name in ["Sales-DK", "Copenhagen-All", "Staff-DK", "All-Staff", "Admins-CPH", "VIP", "Unlinked", "Aarhus-All", "Cycle-A", "Cycle-B"]
    {
        assert!(groups.contains_key(name), "group {name} missing");
    }
    assert!(groups.values().all(|g| g.dn.starts_with("CN=") && !g.dn.contains("<GUID=")), "entry DNs are plain");

    let copenhagen: BTreeSet<ObjectGuid> = users(&records).iter().map(|u| u.object_guid).collect();
    let all = &groups["Copenhagen-All"];
    assert_eq!(all.members.len(), 1100);
    assert_eq!(all.members.iter().copied().collect::<BTreeSet<_>>(), copenhagen);
    assert_eq!(all.group_type, -2147483646, "global security group");

    let staff = &groups["Staff-DK"];
    let expected: BTreeSet<ObjectGuid> = [groups["Sales-DK"].object_guid, groups["Copenhagen-All"].object_guid].into();
    assert_eq!(staff.members.iter().copied().collect::<BTreeSet<_>>(), expected);

    assert!(groups["Cycle-A"].members.contains(&groups["Cycle-B"].object_guid));
    assert!(groups["Cycle-B"].members.contains(&groups["Cycle-A"].object_guid));
    // Members outside the user scope are kept as references (aar-0011 and aar-0013 are in Aarhus).
    assert_eq!(groups["Cycle-A"].members.len(), 3);
    assert_eq!(groups["Aarhus-All"].members.len(), 150);
    assert!(groups["Aarhus-All"].members.iter().all(|m| !copenhagen.contains(m)));
}

#[tokio::test]
async fn whole_domain_read_skips_references_and_reads_ous() {
    let dc = dc();
    let (stats, records) = read(&dc.plain(500), &scope(&["*"], &[])).await;
    // The fixture's 1,270 users plus the domain's own accounts (Administrator, Guest, krbtgt).
    assert!(stats.users >= 1270, "{}", stats.users);
    let ous: Vec<&str> = records.iter().filter_map(|r| if let Record::Ou(o) = r { Some(o.name.as_str()) } else { None }).collect();
    for ou in ["Fixture", "Staff", "Copenhagen", "Aarhus", "External", "Groups", "Domain Controllers"] {
        assert!(ous.contains(&ou), "OU {ou} missing from {ous:?}");
    }
    let all_staff = groups(&records)["All-Staff"];
    let ext1 = users(&records).into_iter().find(|u| u.sam_account_name == "ext-0001").unwrap();
    assert!(all_staff.members.contains(&ext1.object_guid));
}

#[tokio::test]
async fn ldaps_and_starttls_verify_with_the_ca_file() {
    let dc = dc();
    for (settings, transport) in [(dc.ldaps(), Transport::Ldaps), (dc.starttls(), Transport::StartTls)] {
        let mut directory = Directory::connect(&settings).await.unwrap_or_else(|e| panic!("{}: {e}", settings.url));
        assert_eq!(directory.transport(), transport);
        let info = directory.directory_info(None).await.unwrap();
        assert_eq!(info.root.default_naming_context, dc.base_dn);
        assert_eq!(info.base_dn, dc.base_dn);
        assert!(info.domain_sid.as_deref().is_some_and(|s| s.starts_with("S-1-5-21-")), "{:?}", info.domain_sid);
        assert!(info.root.dns_host_name.is_some() && info.root.highest_committed_usn.is_some());
        let count = directory.count(roster_agent::ldap::ObjectKind::Users, &format!("{COPENHAGEN},{}", dc.base_dn)).await.unwrap();
        assert_eq!(count, 1100);
    }
    // Without the CA the self-made certificate is refused.
    let untrusted = LdapSettings { ca_file: None, ..dc.ldaps() };
    let error = Directory::connect(&untrusted).await.unwrap_err();
    assert_eq!(error.stage, Stage::Connect);
    assert!(error.to_string().contains("ROSTER_LDAP_CA_FILE"), "{error}");
}

#[tokio::test]
async fn plain_ldap_is_refused_unless_allowed() {
    let dc = dc();
    let refused = LdapSettings { allow_insecure: false, ..dc.plain(100) };
    let error = Directory::connect(&refused).await.unwrap_err();
    assert_eq!(error.stage, Stage::Connect);
    let message = error.to_string();
    assert!(message.contains("use ldaps:// or StartTLS") && message.contains("ROSTER_LDAP_ALLOW_INSECURE=true"), "{message}");
    Directory::connect(&dc.plain(100)).await.unwrap();
}

#[tokio::test]
async fn a_wrong_password_fails_at_bind_with_ads_reason() {
    let dc = dc();
    for settings in [dc.plain(100), dc.ldaps()] {
        let wrong = LdapSettings { password: Secret::new("not-the-password"), ..settings };
        let error = Directory::connect(&wrong).await.unwrap_err();
        assert_eq!(error.stage, Stage::Bind);
        let message = error.to_string();
        assert!(message.starts_with("bind failed: LDAP result 49 (invalidCredentials)") && message.contains("data 52e"), "{message}");
        assert!(!message.contains("not-the-password"));
    }
}

#[tokio::test]
async fn bind_names_in_every_form_work() {
    let dc = dc();
    let realm = dc.bind_dn.split('@').nth(1).unwrap_or("CORP.EXAMPLE.TEST");
    let netbios = realm.split('.').next().unwrap();
    for bind in [format!("{netbios}\\Administrator"), format!("CN=Administrator,CN=Users,{}", dc.base_dn)] {
        let settings = LdapSettings { bind_dn: bind.clone(), ..dc.plain(100) };
        Directory::connect(&settings).await.unwrap_or_else(|e| panic!("{bind}: {e}"));
    }
}

fn agent(dc: &Dc, state: &TempDir, extra: &[(&str, &str)]) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_roster-agent"));
    command.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default()).arg("--state-dir").arg(state.path());
    for (k, v) in dc.env(100) {
        command.env(k, v);
    }
    for (k, v) in extra {
        command.env(k, v);
    }
    command
}

#[tokio::test]
async fn the_read_command_writes_chunks_and_a_manifest() {
    let dc = dc();
    let state = TempDir::new("read");
    let out = state.path().join("out");
    let output = agent(&dc, &state, &[]).args(["read", "--path", COPENHAGEN, "--group-path", GROUPS, "--out"]).arg(&out).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["users"], 1100);
    assert_eq!((report["kind"].as_str(), report["deleted"].as_u64()), (Some("full"), Some(0)));
    assert!(report["pages"].as_u64().unwrap() >= 13);
    let manifest: roster_proto::manifest::Manifest = serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest.counts.users, 1100);
    assert_eq!((manifest.kind, manifest.base.as_ref()), (SnapshotKind::Full, None));
    assert!(manifest.watermark.usn > 0, "the manifest carries the watermark read before the read");
    assert_eq!(manifest.directory.domain_dn, dc.base_dn);
    assert!(manifest.directory.domain_sid.as_deref().is_some_and(|s| s.starts_with("S-1-5-21-")));
    let mut decoded = 0;
    for chunk in &manifest.chunks {
        let bytes = std::fs::read(out.join(format!("{:06}.chunk", chunk.index))).unwrap();
        roster_snapshot::chunk::verify_hash(&bytes, &chunk.sha256).unwrap();
        decoded += roster_snapshot::chunk::decode(&bytes).unwrap().len() as u64;
    }
    assert_eq!(decoded, manifest.counts.users + manifest.counts.groups + manifest.counts.ous);

    // The CLI's refusals name their stage.
    let plain = agent(&dc, &state, &[("ROSTER_LDAP_ALLOW_INSECURE", "false")])
        .args(["read", "--out"])
        .arg(state.path().join("o2"))
        .output()
        .unwrap();
    assert!(!plain.status.success());
    let stderr = String::from_utf8_lossy(&plain.stderr);
    assert!(stderr.contains("connect failed: refusing a simple bind over plain ldap://"), "{stderr}");
    let wrong = agent(&dc, &state, &[("ROSTER_LDAP_PASSWORD", "nope")]).arg("check").output().unwrap();
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("bind failed: LDAP result 49 (invalidCredentials)"));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("data 52e"));
    let bad_bool = agent(&dc, &state, &[("ROSTER_LDAP_STARTTLS", "sometimes")]).arg("check").output().unwrap();
    assert!(String::from_utf8_lossy(&bad_bool.stderr).contains("config failed: ROSTER_LDAP_STARTTLS must be true/false"));
}

async fn registered(dc: &Dc, server: &MockServer, ldap_url: Option<&str>) -> (TempDir, Context) {
    let state = TempDir::new("push");
    let mut env: EnvMap = dc.env(100).into_iter().collect();
    if let Some(url) = ldap_url {
        env.insert("ROSTER_LDAP_URL".into(), url.into());
    }
    env.insert("ROSTER_HTTP_MAX_RETRIES".into(), "2".into());
    let ctx = Context::load(state.path(), None, &env).unwrap();
    let options = RegisterOptions { server_url: server.url.clone(), token: Secret::new(REGISTRATION_TOKEN), force: false };
    register(&ctx, &options).await.unwrap();
    (state, ctx)
}

#[tokio::test]
async fn push_uploads_a_signed_snapshot_and_waits_for_the_import() {
    let dc = dc();
    let server = MockServer::start(scope(&[COPENHAGEN], &[GROUPS])).await;
    let (_state, ctx) = registered(&dc, &server, None).await;
    server.lock().failures.push_back(("/chunks/0".into(), 503, None));
    let report = push(&ctx, &PushOptions::default()).await.unwrap();
    assert_eq!(report.snapshot.users, 1100);
    assert!(report.snapshot.pages >= 13);
    let session = report.session.as_ref().unwrap();
    assert_eq!(session.status, SessionStatus::Succeeded);
    assert!(!report.import_failed());
    let s = server.lock();
    let manifest = s.manifest.as_ref().unwrap();
    assert_eq!(manifest.snapshot_id, report.snapshot.snapshot_id);
    assert_eq!(manifest.counts.users, 1100);
    assert_eq!(report.snapshot.chunks as usize, manifest.chunks.len());
    assert_eq!(report.snapshot.bytes, manifest.total_bytes());
    assert_eq!(s.chunks.len(), manifest.chunks.len(), "every chunk uploaded (one after a retry)");
    assert!(manifest.total_bytes() > roster_proto::agent::MAX_INLINE_CHUNK_BYTES, "too large to travel inline");
    assert_eq!(s.inline_chunks, 0, "offer, chunks, commit");
    assert!(s.failures.is_empty(), "chunk 0 was uploaded on its own, and retried");
    assert!(s.polls >= 3, "polled until finished");
    let records: Vec<Record> = s.chunks.values().flat_map(|b| roster_snapshot::chunk::decode(b).unwrap()).collect();
    assert_eq!(users(&records).len(), 1100);
    assert!(!ctx.state.spool_root().join(report.snapshot.snapshot_id.to_string()).exists(), "the spool is removed after success");

    let json = serde_json::to_value(&report).unwrap();
    let keys: BTreeSet<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["bytes", "chunks", "deleted", "groups", "kind", "message", "ous", "pages", "session", "snapshot_id", "users"].into());
    assert_eq!((json["kind"].as_str(), json["deleted"].as_u64()), (Some("full"), Some(0)), "the stand-in held no state: a full snapshot");
    assert_eq!(manifest.kind, SnapshotKind::Full);
    assert_eq!(manifest.base, None);
    assert!(manifest.watermark.usn > 0 && !manifest.watermark.dns_host_name.is_empty());
}

#[tokio::test]
async fn push_reports_a_failed_import_and_can_skip_waiting() {
    let dc = dc();
    let server = MockServer::start(scope(&[COPENHAGEN], &[GROUPS])).await;
    let (_state, ctx) = registered(&dc, &server, None).await;
    server.lock().final_status = SessionStatus::Failed;
    let report = push(&ctx, &PushOptions::default()).await.unwrap();
    assert!(report.import_failed());

    let no_wait = PushOptions { wait: false, ..PushOptions::default() };
    let polls = server.lock().polls;
    let report = push(&ctx, &no_wait).await.unwrap();
    assert_eq!(report.session.unwrap().status, SessionStatus::Queued);
    assert_eq!(server.lock().polls, polls, "--no-wait does not poll");

    server.lock().running_polls = u32::MAX;
    let short = PushOptions { wait: true, wait_timeout: Duration::from_millis(700), ..PushOptions::default() };
    let error = push(&ctx, &short).await.unwrap_err();
    assert_eq!(error.stage, Stage::WaitForImport);
}

/// A TCP proxy to the DC that forwards the DC's answers up to `limit`
/// bytes and then cuts both directions: a connection lost mid-search.
async fn cutting_proxy(target: String, limit: usize) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ldap://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let server = tokio::net::TcpStream::connect(&target).await.unwrap();
            let (mut client_read, mut client_write) = client.into_split();
            let (mut server_read, mut server_write) = server.into_split();
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
            });
            tokio::spawn(async move {
                let mut forwarded = 0;
                let mut buffer = vec![0u8; 16 * 1024];
                while forwarded < limit {
                    let n = match server_read.read(&mut buffer).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n.min(limit - forwarded),
                    };
                    if client_write.write_all(&buffer[..n]).await.is_err() {
                        break;
                    }
                    forwarded += n;
                }
                let _ = client_write.shutdown().await;
            });
        }
    });
    url
}

/// A proxy to `target` that forwards its first connection and refuses
/// every later one (closes it at once): a DC that allows one connection.
async fn one_connection_proxy(target: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ldap://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut first = true;
        while let Ok((client, _)) = listener.accept().await {
            if !std::mem::take(&mut first) {
                drop(client);
                continue;
            }
            let server = tokio::net::TcpStream::connect(&target).await.unwrap();
            tokio::spawn(async move {
                let (mut client, mut server) = (client, server);
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });
    url
}

/// A DC that refuses more connections than the first is read over that one.
#[tokio::test]
async fn a_dc_that_refuses_more_connections_is_read_over_one() {
    let dc = dc();
    let target = dc.ldap_url.trim_start_matches("ldap://").to_owned();
    let target = if target.contains(':') { target } else { format!("{target}:389") };
    let proxy = one_connection_proxy(target).await;
    let scope = scope(&[COPENHAGEN], &[GROUPS]);
    let settings = LdapSettings { url: proxy, read_connections: 3, ..dc.plain(200) };
    let (_, (stats, records)) = read_with(&settings, &scope, |_| ReadMode::Full).await;
    assert_eq!((stats.users, users(&records).len()), (1100, 1100));
}

#[tokio::test]
async fn a_connection_lost_mid_read_pushes_nothing() {
    let dc = dc();
    let target = dc.ldap_url.trim_start_matches("ldap://").to_owned();
    let target = if target.contains(':') { target } else { format!("{target}:389") };
    let proxy = cutting_proxy(target, 150_000).await;
    let server = MockServer::start(scope(&[COPENHAGEN], &[GROUPS])).await;
    let (_state, ctx) = registered(&dc, &server, Some(&proxy)).await;
    let error =
        tokio::time::timeout(Duration::from_secs(60), push(&ctx, &PushOptions::default())).await.expect("the agent hung").unwrap_err();
    assert!(matches!(error.stage, Stage::SearchUsers | Stage::SearchGroups | Stage::SearchOus), "{error}");
    assert!(error.to_string().contains("connection to the directory ended"), "{error}");
    let s = server.lock();
    assert_eq!(
        s.requests.iter().filter(|r| !r.ends_with("/register")).cloned().collect::<Vec<_>>(),
        ["GET /roster/agent/v1/job", "POST /roster/agent/v1/lease"],
        "the lease is claimed before reading; nothing is offered after the read failed"
    );
    assert!(s.manifest.is_none() && s.chunks.is_empty());
    let spools = std::fs::read_dir(ctx.state.spool_root()).map(|d| d.count()).unwrap_or(0);
    assert_eq!(spools, 0, "the partial spool is removed");
}

#[tokio::test]
async fn check_walks_every_stage_and_counts_per_search_base() {
    let dc = dc();
    let server = MockServer::start(scope(&[COPENHAGEN, "OU=Aarhus,OU=Staff,OU=Fixture"], &[GROUPS])).await;
    let (_state, ctx) = registered(&dc, &server, None).await;
    let mut out = Vec::new();
    roster_agent::commands::check::check(&ctx, &mut out).await.unwrap();
    let out = String::from_utf8(out).unwrap();
    for expected in [
        "ldap connect: ok (plain LDAP".to_owned(),
        format!("defaultNamingContext: {}", dc.base_dn),
        "domain SID: S-1-5-21-".to_owned(),
        "job: Mock job".to_owned(),
        "dsServiceName: CN=NTDS Settings,".to_owned(),
        "invocationId: ".to_owned(),
        "next push: full (the server holds no directory state for the job yet)".to_owned(),
        format!("users in {COPENHAGEN},{}: 1100", dc.base_dn),
        format!("users in OU=Aarhus,OU=Staff,OU=Fixture,{}: 150", dc.base_dn),
        format!("groups in {GROUPS},{}: ", dc.base_dn),
        "check: ok".to_owned(),
    ] {
        assert!(out.contains(&expected), "`{expected}` missing from:\n{out}");
    }
    assert!(!out.contains(&dc.password), "the password is never printed");
}

#[tokio::test]
async fn the_push_command_prints_one_json_object_and_fails_with_the_import() {
    let dc = dc();
    let server = MockServer::start(scope(&[COPENHAGEN], &[GROUPS])).await;
    let (state, _ctx) = registered(&dc, &server, None).await;
    let run = || {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_roster-agent"));
        command.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default()).arg("--state-dir").arg(state.path()).arg("push");
        for (k, v) in dc.env(100) {
            command.env(k, v);
        }
        command.output()
    };
    let output = run().await.unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "one JSON object on stdout:\n{stdout}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["users"], 1100);
    assert_eq!(report["session"]["status"], "succeeded");
    assert!(stderr.contains("page read") && stderr.contains("chunk uploaded"), "progress goes to stderr:\n{stderr}");
    assert!(!stderr.contains(&dc.password) && !stdout.contains(&dc.password));

    server.lock().final_status = SessionStatus::Failed;
    let output = run().await.unwrap();
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["session"]["status"], "failed");
}

#[tokio::test]
async fn https_servers_are_trusted_through_the_server_ca_file() {
    let dc = dc();
    let tls = std::path::PathBuf::from(roster_testkit::env("ROSTER_TEST_SAMBA_DIR")).join("tls");
    // The DC's test certificate names IP 127.0.0.1, so it serves the stand-in too.
    let server = MockServer::start_tls(scope(&[COPENHAGEN], &[GROUPS]), &tls.join("cert.pem"), &tls.join("key.pem")).await;
    let options = RegisterOptions { server_url: server.url.clone(), token: Secret::new(REGISTRATION_TOKEN), force: false };

    let untrusted = TempDir::new("https");
    let env: EnvMap = [("ROSTER_HTTP_MAX_RETRIES".to_owned(), "0".to_owned())].into();
    let ctx = Context::load(untrusted.path(), None, &env).unwrap();
    let error = register(&ctx, &options).await.unwrap_err();
    assert_eq!(error.stage, Stage::Register);
    assert!(error.to_string().contains("UnknownIssuer") && error.to_string().contains("ROSTER_SERVER_CA_FILE"), "{error}");
    assert!(!ctx.state.is_registered());

    let trusted = TempDir::new("https");
    let env: EnvMap = [("ROSTER_SERVER_CA_FILE".to_owned(), dc.ca_file.display().to_string())].into();
    let ctx = Context::load(trusted.path(), None, &env).unwrap();
    register(&ctx, &options).await.unwrap();
    let job = ctx.client(&ctx.state.identity().unwrap()).unwrap().job().await.unwrap();
    assert_eq!(job.name, "Mock job");
}

#[tokio::test]
async fn the_watermark_names_the_dc_and_grows_with_changes() {
    let dc = dc();
    let mut directory = Directory::connect(&dc.plain(100)).await.unwrap();
    let info = directory.directory_info(None).await.unwrap();
    let before = info.watermark.clone();
    assert_eq!(before.dns_host_name.to_ascii_lowercase(), "dc1.corp.example.test");
    assert_ne!(before.invocation_id.to_string(), "00000000-0000-0000-0000-000000000000");
    assert!(before.usn > 0);
    let service = info.root.ds_service_name.as_deref().unwrap();
    assert!(service.starts_with("CN=NTDS Settings,CN=DC1,CN=Servers,") && !service.contains('<'), "{service}");
    directory.close().await;

    let mut ou = TestOu::create(&dc).await;
    ou.add_user("wm", None, &[]).await;
    let after = current_watermark(&dc).await;
    assert!(after.same_database(&before), "{after:?} vs {before:?}");
    assert!(after.usn > before.usn, "{} then {}", before.usn, after.usn);
    ou.remove().await;
}

#[tokio::test]
async fn a_delta_holds_the_changed_user_and_not_the_untouched_one() {
    let dc = dc();
    let mut ou = TestOu::create(&dc).await;
    let changed = ou.add_user("chg", None, &[("title", &["Clerk"])]).await;
    let untouched = ou.add_user("same", None, &[("title", &["Clerk"])]).await;
    let (changed_guid, untouched_guid) = (ou.guid(&changed).await, ou.guid(&untouched).await);
    let base = current_watermark(&dc).await;
    ou.set(&changed, "title", "Chief").await;

    let (mark, stats, records) = delta_since(&dc, &base).await;
    assert!(mark.usn > base.usn);
    let user = user(&records, changed_guid).unwrap_or_else(|| panic!("the changed user is missing from the delta"));
    assert_eq!(user.title.as_deref(), Some("Chief"));
    assert!(same_dn(&user.dn, &changed), "{}", user.dn);
    assert!(user.usn_changed.unwrap() > base.usn);
    assert!(user.user_account_control == 512 && user.sam_account_name.ends_with("-chg"));
    assert!(self::user(&records, untouched_guid).is_none(), "an unchanged user is not in the delta");
    let ours = |dn: &str| roster_proto::dn::Dn::parse(dn).unwrap().is_within(&roster_proto::dn::Dn::parse(&ou.dn).unwrap());
    let ous_here: Vec<&str> =
        records.iter().filter_map(|r| if let Record::Ou(o) = r { Some(o.dn.as_str()) } else { None }).filter(|dn| ours(dn)).collect();
    assert!(ous_here.is_empty(), "the OU itself did not change: {ous_here:?}");
    assert!(stats.users >= 1 && stats.users as usize == users(&records).len());
    assert!(stats.users < 1270, "a delta, not the whole domain: {} users", stats.users);
    ou.remove().await;
}

#[tokio::test]
async fn a_deleted_user_comes_as_a_tombstone() {
    let dc = dc();
    let mut ou = TestOu::create(&dc).await;
    let doomed = ou.add_user("del", None, &[]).await;
    let guid = ou.guid(&doomed).await;
    let group = ou.add_group("delg", &[]).await;
    let group_guid = ou.guid(&group).await;
    let base = current_watermark(&dc).await;
    ou.delete(&doomed).await;
    ou.delete(&group).await;

    let (_, stats, records) = delta_since(&dc, &base).await;
    let tombstones = deleted(&records);
    assert_eq!(stats.deleted as usize, tombstones.len());
    let tombstone =
        tombstones.iter().find(|d| d.object_guid == guid).unwrap_or_else(|| panic!("no tombstone for {guid} in {tombstones:?}"));
    assert!(same_dn(tombstone.last_known_parent.as_deref().unwrap(), &ou.dn), "{:?}", tombstone.last_known_parent);
    assert!(tombstones.iter().any(|d| d.object_guid == group_guid), "the group's tombstone too");
    assert!(user(&records, guid).is_none(), "a deleted user is not also a user record");

    // Before the deletion's USN, there is no tombstone.
    let (_, _, later) = delta_since(&dc, &current_watermark(&dc).await).await;
    assert!(deleted(&later).iter().all(|d| d.object_guid != guid));
    ou.remove().await;
}

#[tokio::test]
async fn a_moved_user_comes_with_its_new_dn_and_so_do_users_of_a_renamed_ou() {
    let dc = dc();
    let mut ou = TestOu::create(&dc).await;
    let from = ou.add_ou("From", None).await;
    let to = ou.add_ou("To", None).await;
    let mover = ou.add_user("mv", Some(&from), &[]).await;
    let stayer = ou.add_user("st", Some(&to), &[]).await;
    let (mover_guid, stayer_guid) = (ou.guid(&mover).await, ou.guid(&stayer).await);
    let base = current_watermark(&dc).await;
    let moved = ou.move_to(&mover, &to).await;

    let (_, _, records) = delta_since(&dc, &base).await;
    let user = user(&records, mover_guid).unwrap_or_else(|| panic!("the moved user is missing"));
    assert!(same_dn(&user.dn, &moved), "{} vs {moved}", user.dn);
    assert!(self::user(&records, stayer_guid).is_none());

    // Renaming the OU changes both users' DNs: the delta holds the OU and everything below it.
    let base = current_watermark(&dc).await;
    let renamed = ou.rename(&to, "OU=Renamed").await;
    let (_, _, records) = delta_since(&dc, &base).await;
    for guid in [mover_guid, stayer_guid] {
        let user = self::user(&records, guid).unwrap_or_else(|| panic!("a user of the renamed OU is missing"));
        assert!(same_dn(user.dn.split_once(',').unwrap().1, &renamed), "{}", user.dn);
        eprintln!("user {} under the renamed OU: uSNChanged {:?}, base USN {}", user.dn, user.usn_changed, base.usn);
    }
    assert!(records.iter().any(|r| matches!(r, Record::Ou(o) if same_dn(&o.dn, &renamed))));
    ou.remove().await;
}

#[tokio::test]
async fn a_new_member_shows_in_the_groups_delta() {
    let dc = dc();
    let mut ou = TestOu::create(&dc).await;
    let first = ou.add_user("m1", None, &[]).await;
    let second = ou.add_user("m2", None, &[]).await;
    let group = ou.add_group("grp", &[first.as_str()]).await;
    let (first_guid, second_guid, group_guid) = (ou.guid(&first).await, ou.guid(&second).await, ou.guid(&group).await);
    let base = current_watermark(&dc).await;
    ou.modify(&group, vec![Mod::Add(b"member".to_vec(), [second.as_bytes().to_vec()].into())]).await;

    let (_, _, records) = delta_since(&dc, &base).await;
    let group = records
        .iter()
        .find_map(|r| if let Record::Group(g) = r { (g.object_guid == group_guid).then_some(g) } else { None })
        .unwrap_or_else(|| panic!("the group is missing from the delta"));
    assert_eq!(group.members.iter().copied().collect::<BTreeSet<_>>(), [first_guid, second_guid].into());
    assert!(user(&records, second_guid).is_none(), "the new member itself did not change");
    ou.remove().await;
}

/// 2020-01-01T00:00:00Z as a FILETIME.
const JAN_2020: i64 = 132_223_104_000_000_000;

#[tokio::test]
async fn account_expiry_is_read_as_a_filetime() {
    let dc = dc();
    let mut ou = TestOu::create(&dc).await;
    let expired = ou.add_user("exp", None, &[("accountExpires", &[&JAN_2020.to_string()])]).await;
    let default = ou.add_user("dflt", None, &[]).await;
    let never = ou.add_user("never", None, &[("accountExpires", &["0"])]).await;
    let guids = [ou.guid(&expired).await, ou.guid(&default).await, ou.guid(&never).await];
    let relative = ou.relative();
    let (_, records) = read(&dc.plain(100), &scope(&[&relative], &[&relative])).await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();

    let expired = user(&records, guids[0]).unwrap();
    assert_eq!(expired.account_expires, Some(JAN_2020));
    assert!(expired.is_expired(now) && !expired.is_disabled(), "expired, yet not disabled");
    let default = user(&records, guids[1]).unwrap();
    eprintln!("accountExpires of a user created without one: {:?}", default.account_expires);
    assert!(matches!(default.account_expires, None | Some(0) | Some(i64::MAX)), "{:?}", default.account_expires);
    assert!(!default.is_expired(now));
    let never = user(&records, guids[2]).unwrap();
    assert_eq!(never.account_expires, Some(0));
    assert!(!never.is_expired(now));
    ou.remove().await;
}

#[tokio::test]
async fn the_consistency_guid_is_read_when_set() {
    let dc = dc();
    let mut ou = TestOu::create(&dc).await;
    let anchored = ou.add_user("anc", None, &[]).await;
    let plain = ou.add_user("pln", None, &[]).await;
    let anchor = [0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];
    ou.modify(&anchored, vec![Mod::Replace(b"mS-DS-ConsistencyGuid".to_vec(), [anchor.to_vec()].into())]).await;
    let guids = [ou.guid(&anchored).await, ou.guid(&plain).await];
    let relative = ou.relative();
    let (_, records) = read(&dc.plain(100), &scope(&[&relative], &[])).await;

    let anchored = user(&records, guids[0]).unwrap();
    assert_eq!(anchored.consistency_guid, Some(ObjectGuid::from_ldap_bytes(&anchor).unwrap()));
    assert_eq!(anchored.consistency_guid.unwrap().to_string(), "76543210-ba98-fedc-0123-456789abcdef");
    assert_eq!(anchored.anchor(), anchored.consistency_guid.unwrap());
    assert_ne!(anchored.anchor(), anchored.object_guid);
    let plain = user(&records, guids[1]).unwrap();
    assert_eq!((plain.consistency_guid, plain.anchor()), (None, plain.object_guid));
    ou.remove().await;
}

#[tokio::test]
async fn the_job_filter_narrows_full_reads_and_flags_deltas() {
    let dc = dc();
    // Full read: only Copenhagen's Sales department.
    let sales = JobScope { user_filter: Some("(department=Sales)".into()), ..scope(&[COPENHAGEN], &[GROUPS]) };
    let (stats, records) = read(&dc.plain(500), &sales).await;
    assert_eq!(stats.users, 100);
    assert!(users(&records).iter().all(|u| u.department.as_deref() == Some("Sales") && !u.outside_filter));

    // Delta: a user that stops matching comes flagged, one that still matches does not.
    let mut ou = TestOu::create(&dc).await;
    let leaving = ou.add_user("leaving", None, &[("department", &["Sales"])]).await;
    let staying = ou.add_user("staying", None, &[("department", &["Sales"])]).await;
    let (leaving_guid, staying_guid) = (ou.guid(&leaving).await, ou.guid(&staying).await);
    let base = current_watermark(&dc).await;
    ou.set(&leaving, "department", "Marketing").await;
    ou.set(&staying, "title", "Lead").await;
    let filtered = JobScope { user_filter: Some("(department=Sales)".into()), ..scope(&["*"], &[]) };
    let (_, (_, records)) = read_with(&dc.plain(100), &filtered, |_| ReadMode::Delta { since_usn: base.usn + 1 }).await;
    let left = user(&records, leaving_guid).expect("the user who left the filter is in the delta");
    assert!(left.outside_filter, "{left:?}");
    let kept = user(&records, staying_guid).expect("the changed user still matching is in the delta");
    assert!(!kept.outside_filter);
    ou.remove().await;
}
