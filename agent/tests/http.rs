//! The agent's HTTP side against a stand-in server: registration, signed
//! requests under a path prefix, retries with `Retry-After` and fresh
//! tokens, and client errors carrying the server's problem type and detail
//! (no directory needed); and, with the Samba DC (`ROSTER_TEST_*`), how
//! `push` follows the server's sync advice: a delta on a matching base, a
//! full snapshot when forced, and a full snapshot in the same run when the
//! server refuses a delta's base with 409 `delta-base-mismatch`.

// Helpers outside #[test] functions panic on failure too: in a test, that is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::{DELTA_BASE_MISMATCH, MockServer, REGISTRATION_TOKEN, TempDir, TestOu, dc};
use roster_agent::commands::Context;
use roster_agent::commands::push::{PushOptions, push, push_with};
use roster_agent::commands::register::{RegisterOptions, register};
use roster_agent::config::EnvMap;
use roster_agent::http::HttpError;
use roster_agent::ldap::Directory;
use roster_agent::{Secret, Stage};
use roster_proto::agent::SyncAdvice;
use roster_proto::manifest::{Manifest, SnapshotKind, Watermark};
use roster_proto::records::{Record, UserRecord};
use roster_proto::scope::JobScope;

fn scope() -> JobScope {
    JobScope { relative_paths: vec!["OU=Copenhagen,OU=Staff,OU=Fixture".into()], group_paths: vec![], user_filter: None }
}

fn options(server: &MockServer, token: &str) -> RegisterOptions {
    RegisterOptions { server_url: server.url.clone(), token: Secret::new(token), force: false }
}

async fn registered(server: &MockServer, env: &[(&str, &str)]) -> (TempDir, Context) {
    let state = TempDir::new("http");
    let env: EnvMap = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let ctx = Context::load(state.path(), None, &env).unwrap();
    register(&ctx, &options(server, REGISTRATION_TOKEN)).await.unwrap();
    (state, ctx)
}

#[tokio::test]
async fn register_stores_the_identity_and_signs_requests_under_the_prefix() {
    let server = MockServer::start(scope()).await;
    let state = TempDir::new("http");
    let ctx = Context::load(state.path(), None, &EnvMap::new()).unwrap();
    let report = register(&ctx, &options(&server, REGISTRATION_TOKEN)).await.unwrap();
    assert_eq!(report.agent_id, server.lock().agent_id);
    assert_eq!(report.job_id, server.lock().job_id);

    let key_path = ctx.state.key_path();
    let pem = std::fs::read_to_string(&key_path).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let stored: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(ctx.state.registration_path()).unwrap()).unwrap();
    assert_eq!(stored["agent_id"], report.agent_id.to_string());
    assert_eq!(stored["audience"], "urn:roster:mock");
    assert!(stored["server_url"].as_str().unwrap().ends_with("/roster"));
    assert!(!format!("{report:?}").contains("PRIVATE"));

    let again = register(&ctx, &options(&server, REGISTRATION_TOKEN)).await.unwrap_err();
    assert_eq!(again.stage, Stage::Register);
    assert!(again.to_string().contains("--force"), "{again}");
    let forced = RegisterOptions { force: true, ..options(&server, REGISTRATION_TOKEN) };
    register(&ctx, &forced).await.unwrap();
    assert_ne!(std::fs::read_to_string(&key_path).unwrap(), pem, "--force makes a new key");

    let identity = ctx.state.identity().unwrap();
    let job = ctx.client(&identity).unwrap().job().await.unwrap();
    assert_eq!(job.scope, scope());
    assert_eq!(server.lock().requests.last().unwrap(), "GET /roster/agent/v1/job");
}

#[tokio::test]
async fn a_refused_registration_stores_nothing() {
    let server = MockServer::start(scope()).await;
    let state = TempDir::new("http");
    let ctx = Context::load(state.path(), None, &EnvMap::new()).unwrap();
    let error = register(&ctx, &options(&server, "wrong-token")).await.unwrap_err();
    assert_eq!(error.stage, Stage::Register);
    assert!(error.to_string().contains("401") && error.to_string().contains("unknown or used registration token"), "{error}");
    assert!(!error.to_string().contains("wrong-token"), "the token is a secret");
    assert!(!ctx.state.is_registered());
    let leftovers: Vec<_> = std::fs::read_dir(state.path()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn server_errors_and_429_are_retried_with_retry_after_and_fresh_tokens() {
    let server = MockServer::start(scope()).await;
    let (_state, ctx) = registered(&server, &[]).await;
    {
        let mut s = server.lock();
        s.failures.push_back(("GET /roster/agent/v1/job".into(), 503, Some(1)));
        s.failures.push_back(("GET /roster/agent/v1/job".into(), 429, None));
    }
    let client = ctx.client(&ctx.state.identity().unwrap()).unwrap();
    let started = Instant::now();
    client.job().await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After: 1 was not honoured");
    let s = server.lock();
    assert_eq!(s.requests.iter().filter(|r| *r == "GET /roster/agent/v1/job").count(), 3);
    // The server checked the signature of all three attempts; each carried its own token.
    assert_eq!(s.token_ids.len(), 3);
    let mut ids = s.token_ids.clone();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), s.token_ids.len());
}

#[tokio::test]
async fn client_errors_fail_at_once_with_the_problem_detail() {
    let server = MockServer::start(scope()).await;
    let (_state, ctx) = registered(&server, &[]).await;
    server.lock().failures.push_back(("GET /roster/agent/v1/job".into(), 409, None));
    let client = ctx.client(&ctx.state.identity().unwrap()).unwrap();
    let error = client.job().await.unwrap_err();
    assert_eq!(error.status().map(|s| s.as_u16()), Some(409));
    assert_eq!(error.problem_type(), Some("about:blank"));
    assert!(error.to_string().ends_with("the server answered 409 Conflict: injected failure"), "{error}");
    assert_eq!(server.lock().requests.iter().filter(|r| r.ends_with("/job")).count(), 1);
}

#[tokio::test]
async fn retries_are_bounded_by_configuration() {
    let server = MockServer::start(scope()).await;
    let (_state, ctx) = registered(&server, &[("ROSTER_HTTP_MAX_RETRIES", "1")]).await;
    for _ in 0..3 {
        server.lock().failures.push_back(("GET /roster/agent/v1/job".into(), 500, None));
    }
    let client = ctx.client(&ctx.state.identity().unwrap()).unwrap();
    let error = client.job().await.unwrap_err();
    assert!(matches!(error, HttpError::Status { .. }));
    assert_eq!(server.lock().requests.iter().filter(|r| r.ends_with("/job")).count(), 2, "one try plus one retry");
}

#[tokio::test]
async fn an_unreachable_server_is_a_transport_error() {
    let server = MockServer::start(scope()).await;
    let (_state, ctx) = registered(&server, &[("ROSTER_HTTP_MAX_RETRIES", "1")]).await;
    // Point the registration at a port nobody listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}/roster", listener.local_addr().unwrap());
    drop(listener);
    let path = ctx.state.registration_path();
    let text = std::fs::read_to_string(&path).unwrap().replace(&server.url, &dead);
    std::fs::write(&path, text).unwrap();
    let client = ctx.client(&ctx.state.identity().unwrap()).unwrap();
    let error = client.job().await.unwrap_err();
    assert!(matches!(error, HttpError::Transport { .. }), "{error}");
    assert!(error.to_string().starts_with(&format!("GET {dead}/agent/v1/job: ")), "{error}");
}

/// A registered agent whose LDAP settings are the DC's, and whose stand-in
/// job reads only the test's own OU.
async fn registered_with_dc(server: &MockServer) -> (TempDir, Context) {
    let state = TempDir::new("http-dc");
    let mut env: EnvMap = dc().env(100).into_iter().collect();
    env.insert("ROSTER_HTTP_MAX_RETRIES".into(), "1".into());
    let ctx = Context::load(state.path(), None, &env).unwrap();
    register(&ctx, &options(server, REGISTRATION_TOKEN)).await.unwrap();
    (state, ctx)
}

fn own_scope(ou: &TestOu) -> JobScope {
    JobScope { relative_paths: vec![ou.relative()], group_paths: vec![ou.relative()], user_filter: None }
}

/// The records the stand-in received for the last snapshot.
fn received(server: &MockServer) -> Vec<Record> {
    server.lock().chunks.values().flat_map(|bytes| roster_snapshot::chunk::decode(bytes).unwrap()).collect()
}

fn user_named<'a>(records: &'a [Record], suffix: &str) -> Option<&'a UserRecord> {
    records.iter().find_map(|r| if let Record::User(u) = r { u.sam_account_name.ends_with(suffix).then_some(u) } else { None })
}

async fn dc_watermark() -> Watermark {
    let mut directory = Directory::connect(&dc().plain(100)).await.unwrap();
    let (_, mark) = directory.watermark().await.unwrap();
    directory.close().await;
    mark
}

fn kinds(offered: &[Manifest]) -> Vec<SnapshotKind> {
    offered.iter().map(|m| m.kind).collect()
}

#[tokio::test]
async fn push_sends_a_delta_on_the_servers_base_and_a_full_snapshot_when_told() {
    let dc = dc();
    let mut ou = TestOu::create(&dc).await;
    let changed = ou.add_user("chg", None, &[("title", &["Clerk"])]).await;
    ou.add_user("same", None, &[("title", &["Clerk"])]).await;
    let server = MockServer::start(own_scope(&ou)).await;
    let (_state, ctx) = registered_with_dc(&server).await;

    // The stand-in holds nothing yet: full. It then holds (and advertises) that snapshot's watermark.
    let first = push(&ctx, &PushOptions::default()).await.unwrap();
    assert_eq!((first.snapshot.kind, first.snapshot.users, first.snapshot.deleted), (SnapshotKind::Full, 2, 0));
    let full = server.lock().manifest.clone().unwrap();
    assert_eq!(server.lock().sync.base.as_ref(), Some(&full.watermark));

    ou.set(&changed, "title", "Chief").await;
    let second = push(&ctx, &PushOptions::default()).await.unwrap();
    assert_eq!(second.snapshot.kind, SnapshotKind::Delta);
    let delta = server.lock().manifest.clone().unwrap();
    assert_eq!((delta.kind, delta.base.as_ref()), (SnapshotKind::Delta, Some(&full.watermark)), "the delta names its base");
    assert!(delta.watermark.same_database(&full.watermark) && delta.watermark.usn > full.watermark.usn);
    assert_eq!(delta.counts.users, second.snapshot.users);
    let records = received(&server);
    assert_eq!(user_named(&records, "-chg").and_then(|u| u.title.as_deref()), Some("Chief"));
    assert!(user_named(&records, "-same").is_none(), "the untouched user is not in the delta");
    let json = serde_json::to_value(&second).unwrap();
    assert_eq!(json["kind"], "delta");
    assert!(json["deleted"].is_u64());

    // --full, or the server asking for one, wins over a usable base.
    let forced = push(&ctx, &PushOptions { full: true, ..PushOptions::default() }).await.unwrap();
    assert_eq!(forced.snapshot.kind, SnapshotKind::Full);
    server.lock().sync.full_required = Some("a reconciliation is due".into());
    let asked = push(&ctx, &PushOptions::default()).await.unwrap();
    assert_eq!(asked.snapshot.kind, SnapshotKind::Full);
    // A base from another DC, or from the future, is no base.
    for base in [
        Watermark { dns_host_name: "dc2.corp.example.test".into(), ..full.watermark.clone() },
        Watermark { usn: u64::MAX, ..full.watermark.clone() },
    ] {
        server.lock().sync = SyncAdvice { base: Some(base.clone()), full_required: None };
        server.lock().held = Some(base);
        assert_eq!(push(&ctx, &PushOptions::default()).await.unwrap().snapshot.kind, SnapshotKind::Full);
    }
    assert_eq!(
        kinds(&server.lock().offered),
        [SnapshotKind::Full, SnapshotKind::Delta, SnapshotKind::Full, SnapshotKind::Full, SnapshotKind::Full, SnapshotKind::Full]
    );
    ou.remove().await;
}

#[tokio::test]
async fn a_refused_delta_base_is_followed_by_a_full_snapshot_in_the_same_run() {
    let dc = dc();
    let mut ou = TestOu::create(&dc).await;
    ou.add_user("u1", None, &[]).await;
    let server = MockServer::start(own_scope(&ou)).await;
    let (_state, ctx) = registered_with_dc(&server).await;
    let now = dc_watermark().await;

    // At the offer: the server advertised a base, but by the time the delta
    // arrives it holds another one (another push got there first).
    {
        let mut s = server.lock();
        s.sync = SyncAdvice { base: Some(now.clone()), full_required: None };
        s.held = Some(Watermark { usn: now.usn - 1, ..now.clone() });
    }
    let report = push(&ctx, &PushOptions::default()).await.unwrap();
    assert_eq!(report.snapshot.kind, SnapshotKind::Full);
    assert_eq!(report.snapshot.users, 1);
    {
        let s = server.lock();
        assert_eq!(kinds(&s.offered), [SnapshotKind::Delta, SnapshotKind::Full]);
        assert_eq!(s.offered[0].base.as_ref(), Some(&now));
        assert_eq!(s.manifest.as_ref().unwrap().snapshot_id, report.snapshot.snapshot_id, "the full one was committed");
        assert!(s.session.is_some());
    }
    assert_eq!(std::fs::read_dir(ctx.state.spool_root()).map(|d| d.count()).unwrap_or(0), 0, "no spool left behind");

    // At the commit (the snapshot is small: it travels with its chunks and the commit in one
    // request, so the commit's refusal is the offer's answer): same fallback. The agent first
    // commits again, in case the refusal answers a repeated offer of a delta that was committed.
    server.lock().offered.clear();
    server.lock().requests.clear();
    server.lock().problems.push_back(("/agent/v1/snapshots".into(), 409, DELTA_BASE_MISMATCH.into()));
    let report = push(&ctx, &PushOptions::default()).await.unwrap();
    assert_eq!(report.snapshot.kind, SnapshotKind::Full);
    {
        let s = server.lock();
        let uploads: Vec<&str> = s.requests.iter().map(String::as_str).filter(|r| r.contains("/snapshots")).collect();
        assert_eq!(uploads.len(), 3, "offer, commit again, offer of the full snapshot: {uploads:?}");
        assert!(uploads[1].ends_with("/commit"), "{uploads:?}");
        assert!(!uploads.iter().any(|r| r.contains("/chunks/")), "every chunk inline: {uploads:?}");
    }
    // The refused offer was answered before the stand-in looked at it.
    assert_eq!(kinds(&server.lock().offered), [SnapshotKind::Full]);

    // Only once per run: a second refusal is the run's error.
    server.lock().offered.clear();
    server.lock().requests.clear();
    for _ in 0..2 {
        server.lock().problems.push_back(("/agent/v1/snapshots".into(), 409, DELTA_BASE_MISMATCH.into()));
    }
    let error = push(&ctx, &PushOptions::default()).await.unwrap_err();
    assert_eq!(error.stage, Stage::Upload);
    let offers = server.lock().requests.iter().filter(|r| r.ends_with("/agent/v1/snapshots")).count();
    assert_eq!(offers, 2, "a delta, then once a full snapshot");

    // Any other 409 is not a reason for a full snapshot.
    server.lock().offered.clear();
    server.lock().problems.push_back(("/agent/v1/snapshots".into(), 409, "about:blank".into()));
    let error = push(&ctx, &PushOptions::default()).await.unwrap_err();
    assert_eq!(error.stage, Stage::Upload);
    assert!(error.to_string().contains("409 Conflict: injected problem"), "{error}");
    assert!(server.lock().offered.is_empty(), "refused before the manifest was looked at");
    ou.remove().await;
}

/// Another agent of the job holds its lease: a push stops before reading
/// AD or uploading anything, at the lease stage, saying why. Granted, every
/// upload carries the lease's fencing token (the stand-in refuses any
/// other, like the server).
#[tokio::test]
async fn a_standby_pushes_nothing_and_the_holder_sends_its_fencing_token() {
    let dc = dc();
    let mut ou = TestOu::create(&dc).await;
    ou.add_user("u1", None, &[]).await;
    let server = MockServer::start(own_scope(&ou)).await;
    let (_state, ctx) = registered_with_dc(&server).await;

    server.lock().lease = None;
    let error = push(&ctx, &PushOptions::default()).await.unwrap_err();
    assert_eq!(error.stage, Stage::Lease, "{error}");
    assert!(error.to_string().contains("another agent of this job holds its lease"), "{error}");
    assert!(server.lock().offered.is_empty(), "a standby offers nothing");

    server.lock().lease = Some(41);
    let report = push(&ctx, &PushOptions::default()).await.unwrap();
    assert_eq!(report.snapshot.users, 1);
    assert!(server.lock().session.is_some(), "committed with the token");
    ou.remove().await;
}

/// `run`'s change pushes: on the job as the last push left it, a delta is
/// one request (no job, no lease asked for, the chunks and the commit in
/// the offer); where that job no longer holds (the server moved on, the
/// lease was lost, the DC's watermark calls for a full snapshot) the push
/// asks after all and reads nothing it would throw away.
#[tokio::test]
async fn a_change_on_the_known_job_is_one_request_and_anything_else_asks() {
    let dc = dc();
    let mut ou = TestOu::create(&dc).await;
    let changed = ou.add_user("chg", None, &[("title", &["Clerk"])]).await;
    let server = MockServer::start(own_scope(&ou)).await;
    let (_state, ctx) = registered_with_dc(&server).await;
    server.lock().lease = Some(7);
    let identity = ctx.state.identity().unwrap();
    let client = ctx.client(&identity).unwrap();
    let options = PushOptions { wait: false, ..PushOptions::default() };
    server.lock().requests.clear();
    let requests = |server: &MockServer| -> Vec<String> {
        let mut s = server.lock();
        let paths = s.requests.iter().map(|r| r.replace("/roster/agent/v1", "")).collect();
        s.requests.clear();
        paths
    };

    // Nothing known: the job and the lease first. The job it leaves has the snapshot's watermark as its base.
    let first = push_with(&ctx, &identity, &client, None, &options).await.unwrap();
    assert_eq!(requests(&server), ["GET /job", "POST /lease", "POST /snapshots"]);
    let known = first.job_after.clone().expect("committed: the job as it now stands");
    let full = server.lock().manifest.clone().unwrap();
    assert_eq!(known.job.sync, SyncAdvice { base: Some(full.watermark.clone()), full_required: None });

    // A change on the known job: one request, a delta on the right base, with its records.
    ou.set(&changed, "title", "Chief").await;
    let second = push_with(&ctx, &identity, &client, Some(&known), &options).await.unwrap();
    assert_eq!(requests(&server), ["POST /snapshots"]);
    assert_eq!(second.snapshot.kind, SnapshotKind::Delta);
    assert_eq!(server.lock().manifest.as_ref().unwrap().base.as_ref(), Some(&full.watermark));
    assert_eq!(user_named(&received(&server), "-chg").and_then(|u| u.title.as_deref()), Some("Chief"));
    assert!(server.lock().inline_chunks >= 1);
    let known = second.job_after.clone().unwrap();
    assert_eq!(known.asked_at, first.job_after.as_ref().unwrap().asked_at, "the job was not asked for again");

    // The server moved on (another snapshot committed meanwhile): refused, then asked.
    ou.set(&changed, "title", "Boss").await;
    let elsewhere = Watermark { usn: known.job.sync.base.as_ref().unwrap().usn + 1, ..full.watermark.clone() };
    (server.lock().held, server.lock().sync.base) = (Some(elsewhere.clone()), Some(elsewhere.clone()));
    let third = push_with(&ctx, &identity, &client, Some(&known), &options).await.unwrap();
    let refused = {
        let s = server.lock();
        s.offered[s.offered.len() - 2].snapshot_id
    };
    let commit_again = format!("POST /snapshots/{refused}/commit");
    assert_eq!(requests(&server), ["POST /snapshots", &commit_again, "GET /job", "POST /lease", "POST /snapshots"]);
    assert_eq!(third.snapshot.kind, SnapshotKind::Delta, "a delta on the server's own base");
    assert_eq!(server.lock().manifest.as_ref().unwrap().base.as_ref(), Some(&elsewhere));

    // The lease was lost: the offer is fenced; asked, the lease is another's: the push stands by.
    let known = third.job_after.clone().unwrap();
    server.lock().lease = None;
    ou.set(&changed, "title", "Clerk").await;
    let error = push_with(&ctx, &identity, &client, Some(&known), &options).await.unwrap_err();
    assert_eq!(error.stage, Stage::Lease, "{error}");
    assert_eq!(requests(&server), ["POST /snapshots", "GET /job", "POST /lease"]);
    server.lock().lease = Some(8);

    // A known base on another DC: no delta can build on it, so nothing is read before asking.
    let mut stale = known.clone();
    stale.job.sync.base = Some(Watermark { dns_host_name: "dc2.corp.example.test".into(), ..full.watermark.clone() });
    let offered_before = server.lock().offered.len();
    let fourth = push_with(&ctx, &identity, &client, Some(&stale), &options).await.unwrap();
    assert_eq!(requests(&server), ["GET /job", "POST /lease", "POST /snapshots"]);
    assert_eq!(fourth.snapshot.kind, SnapshotKind::Delta, "the server's own advice");
    assert_eq!(server.lock().offered.len(), offered_before + 1, "one snapshot read and offered");
    ou.remove().await;
}

/// The token of a grant is kept in the state directory: an agent started
/// again (each push makes its client afresh, as a restart does) renews the
/// grant it remembers; once another agent took the lease over, that token
/// is refused, forgotten, and the agent asks again and stands by.
#[tokio::test]
async fn a_remembered_fencing_token_renews_its_grant_or_is_refused_and_forgotten() {
    let dc = dc();
    let mut ou = TestOu::create(&dc).await;
    ou.add_user("u1", None, &[]).await;
    let server = MockServer::start(own_scope(&ou)).await;
    let (_state, ctx) = registered_with_dc(&server).await;
    let kept = ctx.state.fencing_token_file();

    push(&ctx, &PushOptions::default()).await.unwrap();
    assert_eq!(kept.load(), Ok(Some(7)), "the grant is kept for a restart");
    push(&ctx, &PushOptions::default()).await.unwrap();
    assert_eq!(server.lock().lease_requests, [None, Some(7)], "started again, it asks to renew the grant it holds");

    // Another agent took over meanwhile.
    server.lock().lease = None;
    let offered = server.lock().offered.len();
    let error = push(&ctx, &PushOptions::default()).await.unwrap_err();
    assert_eq!(error.stage, Stage::Lease, "{error}");
    assert!(error.to_string().contains("another agent of this job holds its lease"), "{error}");
    assert_eq!(server.lock().lease_requests[2..], [Some(7), None], "refused, it asks again without the token");
    assert_eq!(kept.load(), Ok(None), "the lost grant is forgotten");
    assert_eq!(server.lock().offered.len(), offered, "a standby offers nothing");

    // A file that holds no token is ignored (with a warning), not fatal.
    std::fs::write(ctx.state.root().join(roster_agent::state::FENCING_TOKEN_FILE), "not a token").unwrap();
    server.lock().lease = Some(8);
    push(&ctx, &PushOptions::default()).await.unwrap();
    assert_eq!(server.lock().lease_requests.last(), Some(&None));
    assert_eq!(kept.load(), Ok(Some(8)));
    ou.remove().await;
}
