//! The agent's HTTP side against a stand-in server (no directory needed):
//! registration, signed requests under a path prefix, retries with
//! `Retry-After` and fresh tokens, and client errors carrying the
//! server's problem detail.

// Helpers outside #[test] functions panic on failure too: in a test, that is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::{MockServer, REGISTRATION_TOKEN, TempDir};
use roster_agent::commands::Context;
use roster_agent::commands::register::{RegisterOptions, register};
use roster_agent::config::EnvMap;
use roster_agent::http::HttpError;
use roster_agent::{Secret, Stage};
use roster_proto::scope::JobScope;

fn scope() -> JobScope {
    JobScope { relative_paths: vec!["OU=Copenhagen,OU=Staff,OU=Fixture".into()], group_paths: vec![] }
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
