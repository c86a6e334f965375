//! Test harness: the real server (`Application::build`) on port 0 with a
//! fresh database per test — an SQLite file in a temporary directory, or a
//! new PostgreSQL database on the server named by `ROSTER_TEST_POSTGRES_URL`
//! (set by `scripts/test.sh`), both from `roster_testkit::database` — and a
//! small typed client.

#![allow(dead_code)]

pub mod older;
pub mod tls;
pub mod world;

use std::time::{Duration, Instant};

use roster_proto::SessionId;
use roster_proto::admin::{Session, SessionStatus};
use roster_server::app::Application;
use roster_server::settings::{Limits, Settings};
pub use roster_testkit::database::{Engine, TestDatabase};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A running server and a client for it.
pub struct TestApp {
    pub url: String,
    pub http: reqwest::Client,
    /// Keeps the SQLite file alive for the test's duration.
    _database: TestDatabase,
    pub database_url: String,
    /// The server's own database handle, for what only it measures (how
    /// long a write held the writer).
    pub db: roster_server::db::Db,
    /// The certificate an HTTPS server presents; `None` for plain HTTP.
    pub tls: Option<tls::SelfSigned>,
    /// Keeps the certificate and key files alive with the server.
    _tls_files: Option<roster_testkit::TempDir>,
}

pub async fn spawn_app(engine: Engine) -> TestApp {
    spawn_app_with(engine, Limits::default()).await
}

/// Like [`spawn_app`], with other limits.
pub async fn spawn_app_with(engine: Engine, limits: Limits) -> TestApp {
    spawn_app_on(TestDatabase::create(engine).await, limits).await
}

/// Like [`spawn_app_with`], on a database the test prepared (e.g. as an
/// older server left it).
pub async fn spawn_app_on(database: TestDatabase, limits: Limits) -> TestApp {
    spawn(database, limits, None).await
}

/// Like [`spawn_app_with`], serving HTTPS as `serve --tls-cert --tls-key`
/// does, with a self-signed certificate made for the test
/// ([`tls::self_signed`]); the client trusts that certificate only.
pub async fn spawn_https_app_with(engine: Engine, limits: Limits) -> TestApp {
    spawn(TestDatabase::create(engine).await, limits, Some(tls::self_signed())).await
}

async fn spawn(database: TestDatabase, limits: Limits, certificate: Option<tls::SelfSigned>) -> TestApp {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let database_url = database.url.clone();
    let files = certificate.as_ref().map(|certificate| {
        let dir = roster_testkit::TempDir::new("tls");
        std::fs::write(dir.path().join("cert.pem"), &certificate.cert_pem).expect("write the certificate");
        std::fs::write(dir.path().join("key.pem"), &certificate.key_pem).expect("write the key");
        dir
    });
    let tls =
        files.as_ref().map(|dir| roster_server::settings::TlsFiles { cert: dir.path().join("cert.pem"), key: dir.path().join("key.pem") });
    let settings =
        Settings { database_url: database_url.clone(), listen: "127.0.0.1:0".parse().expect("address"), tls, limits, public_url: None };
    let app = Application::build(settings).await.expect("build the server");
    let (scheme, http) = match &certificate {
        None => ("http", reqwest::Client::new()),
        Some(certificate) => {
            let trusted = reqwest::Certificate::from_der(&certificate.cert_der).expect("a certificate");
            ("https", reqwest::Client::builder().tls_certs_only([trusted]).build().expect("an HTTPS client"))
        }
    };
    let url = format!("{scheme}://127.0.0.1:{}", app.port());
    let db = app.state().db.clone();
    tokio::spawn(app.run_until_stopped());
    TestApp { url, http, _database: database, database_url, db, tls: certificate, _tls_files: files }
}

/// A tenant named "Old" with the admin token `value`, stored as every
/// server before migration 0006 stored them (no token id, label or expiry).
pub async fn old_tenant_with_token(pool: &sqlx::AnyPool, value: &str) -> roster_proto::TenantId {
    let tenant = roster_proto::TenantId::new();
    sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ($1, 'Old', 1)")
        .bind(tenant.to_string())
        .execute(pool)
        .await
        .expect("the tenant");
    sqlx::query("INSERT INTO admin_tokens (token_hash, tenant_id, created_at) VALUES ($1, $2, 1)")
        .bind(roster_snapshot::sha256_hex(value.as_bytes()).into_string())
        .bind(tenant.to_string())
        .execute(pool)
        .await
        .expect("the admin token");
    tenant
}

/// Another server on the same database, as a second replica would run:
/// its own listener and its own import worker.
pub async fn spawn_replica(app: &TestApp) -> String {
    let settings = Settings {
        database_url: app.database_url.clone(),
        listen: "127.0.0.1:0".parse().expect("address"),
        tls: None,
        limits: Limits::default(),
        public_url: None,
    };
    let replica = Application::build(settings).await.expect("build the replica");
    let url = format!("http://127.0.0.1:{}", replica.port());
    tokio::spawn(replica.run_until_stopped());
    url
}

/// An HTTP answer: status and parsed JSON body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub www_authenticate: Option<String>,
    pub body: serde_json::Value,
}

impl Answer {
    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_value(self.body.clone()).unwrap_or_else(|e| panic!("unexpected body {}: {e}", self.body))
    }

    /// Asserts a problem+json error with this status.
    pub fn assert_problem(&self, status: u16) -> &Answer {
        assert_eq!(self.status, status, "body: {}", self.body);
        assert_eq!(self.content_type, "application/problem+json", "body: {}", self.body);
        assert_eq!(self.body["status"], status);
        assert!(self.body["detail"].as_str().is_some_and(|d| !d.is_empty()), "no detail: {}", self.body);
        if status == 401 {
            assert_eq!(self.www_authenticate.as_deref(), Some("Bearer"), "a 401 names its scheme");
        }
        self
    }

    /// Asserts that the problem is of `kind`, so a client can tell it from
    /// others of its status without reading `detail`.
    pub fn assert_kind(&self, kind: roster_proto::problem::ProblemKind) -> &Answer {
        assert_eq!(self.body["type"], kind.uri(), "body: {}", self.body);
        self
    }
}

impl TestApp {
    pub async fn send(&self, method: reqwest::Method, path: &str, bearer: Option<&str>, body: Option<reqwest::Body>, json: bool) -> Answer {
        self.send_with(method, path, bearer, body, json, &[]).await
    }

    /// [`TestApp::send`] with extra request headers.
    pub async fn send_with(
        &self,
        method: reqwest::Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<reqwest::Body>,
        json: bool,
        headers: &[(&str, String)],
    ) -> Answer {
        let mut request = self.http.request(method, format!("{}{path}", self.url));
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.header("content-type", if json { "application/json" } else { "application/octet-stream" }).body(body);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let www_authenticate = response.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let bytes = response.bytes().await.expect("body");
        let body = if bytes.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Answer { status, content_type, www_authenticate, body }
    }

    pub async fn get(&self, path: &str, bearer: &str) -> Answer {
        self.send(reqwest::Method::GET, path, Some(bearer), None, false).await
    }

    pub async fn post<B: Serialize>(&self, path: &str, bearer: Option<&str>, body: &B) -> Answer {
        let bytes = serde_json::to_vec(body).expect("serialize");
        self.send(reqwest::Method::POST, path, bearer, Some(bytes.into()), true).await
    }

    pub async fn put<B: Serialize>(&self, path: &str, bearer: &str, body: &B) -> Answer {
        let bytes = serde_json::to_vec(body).expect("serialize");
        self.send(reqwest::Method::PUT, path, Some(bearer), Some(bytes.into()), true).await
    }

    pub async fn patch<B: Serialize>(&self, path: &str, bearer: &str, body: &B) -> Answer {
        let bytes = serde_json::to_vec(body).expect("serialize");
        self.send(reqwest::Method::PATCH, path, Some(bearer), Some(bytes.into()), true).await
    }

    pub async fn delete(&self, path: &str, bearer: &str) -> Answer {
        self.send(reqwest::Method::DELETE, path, Some(bearer), None, false).await
    }

    /// Creates a tenant through the store, as `roster-server tenant create` does.
    pub async fn create_tenant(&self, name: &str) -> roster_proto::admin::CreatedTenant {
        let db = roster_server::db::Db::connect(&self.database_url).await.expect("db");
        roster_server::store::tenants::create_tenant(&db, name, None).await.expect("tenant")
    }

    /// Polls a session until it is finished, with a deadline.
    pub async fn wait_for_session(&self, admin: &str, id: SessionId) -> Session {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let session: Session = self.get(&format!("/api/v1/sessions/{id}"), admin).await.json();
            if session.status.is_settled() {
                return session;
            }
            assert!(Instant::now() < deadline, "session {id} still {:?}", session.status);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Runs `$body` (an async fn taking `Engine`) once per database engine.
#[macro_export]
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::support::Engine::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::support::Engine::Postgres).await
                }
            )*
        }
    };
}

pub fn session_succeeded(session: &Session) {
    assert_eq!(session.status, SessionStatus::Succeeded, "session failed: {:?}", session.error);
}

/// Percent-encodes a query value.
pub fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}
