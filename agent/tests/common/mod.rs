//! Shared helpers for the agent's integration tests: a stand-in Roster
//! server that checks every signature the agent sends (and keeps a
//! watermark like the real one, refusing deltas on another base), the Samba
//! DC's coordinates from `ROSTER_TEST_*`, and [`TestOu`], a test's own OU on
//! the shared DC to change objects in. Temporary folders come from
//! `roster_testkit`.

// Each test file uses a different subset of these helpers, and a helper's
// panic is its test's failure report.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use ldap3::{Ldap, LdapConnAsync, Mod, Scope, SearchEntry};
use roster_agent::Secret;
use roster_agent::ldap::LdapSettings;
use roster_proto::admin::{Session, SessionCounts, SessionStatus, SessionTrigger};
use roster_proto::agent::{
    AgentJob, CommitResponse, FENCING_TOKEN_HEADER, Lease, OfferResponse, OfferSnapshot, RegisterRequest, RegisterResponse, SnapshotState,
    SnapshotStatus, SyncAdvice,
};
use roster_proto::manifest::{Manifest, SnapshotKind, Watermark};
use roster_proto::scope::JobScope;
use roster_proto::{AgentId, JobId, ObjectGuid, SessionId, SnapshotId, TenantId};
use roster_snapshot::keys::PublicKey;
use roster_snapshot::token::{check_body, verify_manifest, verify_request};
pub use roster_testkit::TempDir;
use uuid::Uuid;

/// The registration token the mock server accepts.
pub const REGISTRATION_TOKEN: &str = "reg-token-123";

/// What the mock server knows and has seen.
#[derive(Debug)]
pub struct MockState {
    /// Handed out at registration; the `iss` every token must carry.
    pub agent_id: AgentId,
    /// Handed out at registration.
    pub tenant_id: TenantId,
    /// Handed out at registration and in the job.
    pub job_id: JobId,
    /// The `aud` every token must carry.
    pub audience: String,
    /// The job's scope, as `GET /agent/v1/job` gives it.
    pub scope: JobScope,
    /// Set by register.
    pub public_key: Option<PublicKey>,
    /// Every request as `METHOD /path`, in order.
    pub requests: Vec<String>,
    /// `jti` of every request token seen.
    pub token_ids: Vec<String>,
    /// Injected answers: (`METHOD /path` suffix, status, Retry-After seconds).
    pub failures: VecDeque<(String, u16, Option<u64>)>,
    /// Injected problems: (`METHOD /path` suffix, status, problem `type`).
    pub problems: VecDeque<(String, u16, String)>,
    /// What `GET /agent/v1/job` advertises as the sync advice.
    pub sync: SyncAdvice,
    /// The watermark the server really holds: an offered delta whose base
    /// differs is refused with 409 `delta-base-mismatch`, like the real one.
    pub held: Option<Watermark>,
    /// After a commit, hold and advertise the committed manifest's watermark.
    pub advance_on_commit: bool,
    /// Every verified manifest offered, in order.
    pub offered: Vec<Manifest>,
    /// The last verified manifest offered.
    pub manifest: Option<Manifest>,
    /// How many offers were accepted.
    pub manifest_offers: u32,
    /// Uploaded chunks of the last offered snapshot by index, each checked against the manifest.
    pub chunks: BTreeMap<u32, Vec<u8>>,
    /// How many chunks arrived inside offers (`OfferSnapshot.chunks`).
    pub inline_chunks: u32,
    /// Session polls answered so far.
    pub polls: u32,
    /// Polls answered `running` before the session finishes.
    pub running_polls: u32,
    /// How the import ends.
    pub final_status: SessionStatus,
    /// Whether commit starts a session at all.
    pub start_session: bool,
    /// The session the last commit started, as last reported.
    pub session: Option<Session>,
    /// The fencing token of the job's lease when this agent holds it
    /// (`POST /agent/v1/lease` grants it); `None`: another agent holds it.
    /// Offers, chunks and commits without it are refused 409 `fenced`,
    /// like the real server, and so is a request for the lease that
    /// carries another token (it asks to renew a grant it lost).
    pub lease: Option<u64>,
    /// The fencing token each request for the lease carried.
    pub lease_requests: Vec<Option<u64>>,
}

impl MockState {
    /// Commits snapshot `id`, the last offered, once all its chunks are here.
    /// Refused: the status and detail of the problem to answer.
    fn commit(&mut self, id: &str) -> Result<CommitResponse, (StatusCode, &'static str)> {
        let Some(manifest) = self.manifest.clone() else { return Err((StatusCode::NOT_FOUND, "no snapshot")) };
        if manifest.snapshot_id.to_string() != id {
            return Err((StatusCode::NOT_FOUND, "other snapshot"));
        }
        if manifest.chunks.iter().any(|c| !self.chunks.contains_key(&c.index)) {
            return Err((StatusCode::CONFLICT, "chunks missing"));
        }
        let session = self.start_session.then(|| new_session(self.job_id, manifest.snapshot_id));
        self.session = session.clone();
        if self.advance_on_commit {
            self.held = Some(manifest.watermark.clone());
            self.sync = SyncAdvice { base: Some(manifest.watermark.clone()), full_required: None };
        }
        Ok(CommitResponse { snapshot_id: manifest.snapshot_id, session, message: "imported at once: first snapshot of the job".into() })
    }
}

/// A stand-in for the Roster server's agent API, under a path prefix.
#[derive(Debug)]
pub struct MockServer {
    /// Base URL including the prefix, e.g. `http://127.0.0.1:PORT/roster`.
    pub url: String,
    /// What the server knows and saw; tests read and tweak it.
    pub state: Arc<Mutex<MockState>>,
    /// The serving task, aborted on drop.
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

const PREFIX: &str = "/roster";

impl MockServer {
    fn new_state(scope: JobScope) -> Arc<Mutex<MockState>> {
        Arc::new(Mutex::new(MockState {
            agent_id: AgentId::new(),
            tenant_id: TenantId::new(),
            job_id: JobId::new(),
            audience: "urn:roster:mock".into(),
            scope,
            public_key: None,
            requests: Vec::new(),
            token_ids: Vec::new(),
            failures: VecDeque::new(),
            problems: VecDeque::new(),
            sync: SyncAdvice { base: None, full_required: None },
            held: None,
            advance_on_commit: true,
            offered: Vec::new(),
            manifest: None,
            manifest_offers: 0,
            chunks: BTreeMap::new(),
            inline_chunks: 0,
            polls: 0,
            running_polls: 2,
            final_status: SessionStatus::Succeeded,
            start_session: true,
            session: None,
            lease: Some(7),
            lease_requests: Vec::new(),
        }))
    }

    /// Over plain HTTP.
    pub async fn start(scope: JobScope) -> MockServer {
        let state = MockServer::new_state(scope);
        let app = Router::new().fallback(handle).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}{PREFIX}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        MockServer { url, state, task }
    }

    /// Over HTTPS with the given certificate (for 127.0.0.1) and key.
    pub async fn start_tls(scope: JobScope, cert: &Path, key: &Path) -> MockServer {
        roster_agent::install_crypto_provider();
        let state = MockServer::new_state(scope);
        let app = Router::new().fallback(handle).with_state(state.clone());
        let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key).await.unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("https://{}{PREFIX}", listener.local_addr().unwrap());
        let server = axum_server::tls_rustls::from_tcp_rustls(listener, config).unwrap();
        let task = tokio::spawn(async move {
            let _ = server.serve(app.into_make_service()).await;
        });
        MockServer { url, state, task }
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, MockState> {
        self.state.lock().unwrap()
    }
}

/// The problem `type` the real server answers a delta on the wrong base with.
pub const FENCED: &str = roster_proto::problem::ProblemKind::Fenced.uri();
pub const DELTA_BASE_MISMATCH: &str = roster_proto::problem::ProblemKind::DeltaBaseMismatch.uri();

fn problem(status: StatusCode, detail: &str) -> Response {
    typed_problem(status, "about:blank", detail)
}

fn typed_problem(status: StatusCode, kind: &str, detail: &str) -> Response {
    let body =
        serde_json::json!({"type": kind, "title": status.canonical_reason().unwrap_or(""), "status": status.as_u16(), "detail": detail});
    (status, [("content-type", "application/problem+json")], body.to_string()).into_response()
}

fn json(value: &impl serde::Serialize) -> Response {
    (StatusCode::OK, [("content-type", "application/json")], serde_json::to_string(value).unwrap()).into_response()
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn new_session(job_id: JobId, snapshot_id: SnapshotId) -> Session {
    Session {
        id: SessionId::new(),
        job_id,
        trigger: SessionTrigger::FirstPush,
        status: SessionStatus::Queued,
        snapshot_id: Some(snapshot_id),
        manifest_sha256: Some("0".repeat(64).parse().unwrap()),
        caught_up: false,
        waiting_until: None,
        progress: None,
        counts: SessionCounts::default(),
        notes: vec![],
        error: None,
        held_reasons: vec![],
        decided_by: None,
        decided_at: None,
        created_at: time::OffsetDateTime::now_utc(),
        finished_at: None,
        duration_ms: None,
    }
}

async fn handle(State(state): State<Arc<Mutex<MockState>>>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let mut s = state.lock().unwrap();
    let full_path = uri.path().to_owned();
    let request = format!("{method} {full_path}");
    s.requests.push(request.clone());
    let Some(path) = full_path.strip_prefix(PREFIX) else { return problem(StatusCode::NOT_FOUND, "no such path") };
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let is_register = method == Method::POST && path == "/agent/v1/register";
    let key = s.public_key;
    if !is_register {
        // Everything but register is signed, for exactly this method, full path and body.
        let Some(key) = key else { return problem(StatusCode::UNAUTHORIZED, "no agent registered") };
        let token = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).unwrap_or("");
        match verify_request(token, &key, s.agent_id, &s.audience, method.as_str(), &full_path, now()) {
            Ok(claims) => match check_body(&claims, &body) {
                Ok(()) => s.token_ids.push(claims.jti.to_string()),
                Err(e) => return problem(StatusCode::UNAUTHORIZED, &format!("bad token: {e}")),
            },
            Err(e) => return problem(StatusCode::UNAUTHORIZED, &format!("bad token: {e}")),
        }
    }
    if let Some(pos) = s.failures.iter().position(|(suffix, _, _)| request.ends_with(suffix.as_str())) {
        let (_, status, retry_after) = s.failures.remove(pos).unwrap();
        let mut response = problem(StatusCode::from_u16(status).unwrap(), "injected failure");
        if let Some(seconds) = retry_after {
            response.headers_mut().insert("retry-after", seconds.to_string().parse().unwrap());
        }
        return response;
    }
    if let Some(pos) = s.problems.iter().position(|(suffix, _, _)| request.ends_with(suffix.as_str())) {
        let (_, status, kind) = s.problems.remove(pos).unwrap();
        return typed_problem(StatusCode::from_u16(status).unwrap(), &kind, "injected problem");
    }

    if is_register {
        let request: RegisterRequest = match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => return problem(StatusCode::BAD_REQUEST, &e.to_string()),
        };
        if request.token != REGISTRATION_TOKEN {
            return problem(StatusCode::UNAUTHORIZED, "unknown or used registration token");
        }
        s.public_key = Some(PublicKey::from_base64(&request.public_key).unwrap());
        return json(&RegisterResponse { agent_id: s.agent_id, tenant_id: s.tenant_id, job_id: s.job_id, audience: s.audience.clone() });
    }

    let Some(key) = key else { return problem(StatusCode::UNAUTHORIZED, "no agent registered") };

    let uploading = matches!(
        (&method, segments.as_slice()),
        (&Method::POST, ["agent", "v1", "snapshots"])
            | (&Method::PUT, ["agent", "v1", "snapshots", _, "chunks", _])
            | (&Method::POST, ["agent", "v1", "snapshots", _, "commit"])
    );
    let sent = headers.get(FENCING_TOKEN_HEADER).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if uploading && (s.lease.is_none() || sent != s.lease) {
        return typed_problem(StatusCode::CONFLICT, FENCED, &format!("fencing token {sent:?}, the lease's is {:?}", s.lease));
    }

    match (method.clone(), segments.as_slice()) {
        (Method::POST, ["agent", "v1", "lease"]) => {
            s.lease_requests.push(sent);
            if sent.is_some() && sent != s.lease {
                return typed_problem(
                    StatusCode::CONFLICT,
                    FENCED,
                    &format!("fencing token {sent:?} is stale, the lease's is {:?}", s.lease),
                );
            }
            json(&Lease {
                active: s.lease.is_some(),
                fencing_token: s.lease,
                expires_at: time::OffsetDateTime::now_utc() + time::Duration::seconds(60),
            })
        }
        (Method::GET, ["agent", "v1", "job"]) => json(&AgentJob {
            job_id: s.job_id,
            name: "Mock job".into(),
            scope: s.scope.clone(),
            sync: s.sync.clone(),
            sync_mode: Default::default(),
        }),
        (Method::POST, ["agent", "v1", "snapshots"]) => {
            let offer: OfferSnapshot = serde_json::from_slice(&body).unwrap();
            let verified = match verify_manifest(&offer.manifest_token, &key, s.agent_id, &s.audience, now()) {
                Ok(v) => v,
                Err(e) => return problem(StatusCode::UNAUTHORIZED, &format!("bad manifest: {e}")),
            };
            let manifest = verified.claims.manifest;
            s.offered.push(manifest.clone());
            if manifest.kind == SnapshotKind::Delta && manifest.base != s.held {
                let detail = format!("the delta builds on {:?}, the server holds {:?}", manifest.base, s.held);
                return typed_problem(StatusCode::CONFLICT, DELTA_BASE_MISMATCH, &detail);
            }
            s.manifest_offers += 1;
            if s.manifest.as_ref().is_some_and(|m| m.snapshot_id != manifest.snapshot_id) {
                // Chunks belong to one snapshot: a new one starts empty.
                s.chunks.clear();
            }
            let snapshot_id = manifest.snapshot_id;
            for inline in &offer.chunks {
                let Some(chunk) = manifest.chunks.iter().find(|c| c.index == inline.index) else {
                    return problem(StatusCode::UNPROCESSABLE_ENTITY, "no such chunk");
                };
                let bytes = inline.decode().unwrap();
                if roster_snapshot::chunk::verify_hash(&bytes, &chunk.sha256).is_err() {
                    return problem(StatusCode::UNPROCESSABLE_ENTITY, "chunk hash mismatch");
                }
                s.chunks.insert(inline.index, bytes);
                s.inline_chunks += 1;
            }
            let missing = manifest.chunks.iter().map(|c| c.index).filter(|i| !s.chunks.contains_key(i)).collect();
            s.manifest = Some(manifest);
            if !offer.commit {
                return json(&OfferResponse {
                    state: SnapshotState { snapshot_id, status: SnapshotStatus::Receiving, missing_chunks: missing },
                    commit: None,
                });
            }
            match s.commit(&snapshot_id.to_string()) {
                Ok(commit) => json(&OfferResponse {
                    state: SnapshotState { snapshot_id, status: SnapshotStatus::Committed, missing_chunks: Vec::new() },
                    commit: Some(commit),
                }),
                Err((status, detail)) => problem(status, detail),
            }
        }
        (Method::PUT, ["agent", "v1", "snapshots", _, "chunks", index]) => {
            if headers.get("content-type").and_then(|v| v.to_str().ok()) != Some("application/octet-stream") {
                return problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "chunks are application/octet-stream");
            }
            let index: u32 = index.parse().unwrap();
            let Some(chunk) = s.manifest.as_ref().and_then(|m| m.chunks.iter().find(|c| c.index == index)).cloned() else {
                return problem(StatusCode::NOT_FOUND, "no such chunk");
            };
            if roster_snapshot::chunk::verify_hash(&body, &chunk.sha256).is_err() {
                return problem(StatusCode::UNPROCESSABLE_ENTITY, "chunk hash mismatch");
            }
            s.chunks.insert(index, body.to_vec());
            StatusCode::NO_CONTENT.into_response()
        }
        (Method::POST, ["agent", "v1", "snapshots", id, "commit"]) => match s.commit(id) {
            Ok(commit) => json(&commit),
            Err((status, detail)) => problem(status, detail),
        },
        (Method::GET, ["agent", "v1", "sessions", id]) => {
            let Some(mut session) = s.session.clone().filter(|x| x.id.to_string() == *id) else {
                return problem(StatusCode::NOT_FOUND, "no such session");
            };
            s.polls += 1;
            if s.polls > s.running_polls {
                session.status = s.final_status;
                session.finished_at = Some(time::OffsetDateTime::now_utc());
                if s.final_status == SessionStatus::Failed {
                    session.error = Some("mock import failure".into());
                } else {
                    session.counts.created = 1100;
                }
            } else {
                session.status = SessionStatus::Running;
            }
            s.session = Some(session.clone());
            json(&session)
        }
        _ => problem(StatusCode::NOT_FOUND, "no such endpoint"),
    }
}

/// The Samba DC's coordinates; panics (the test fails) when they are not
/// set, since these tests must never pass without a directory.
#[derive(Debug, Clone)]
pub struct Dc {
    /// `ldap://` URL (plain and StartTLS).
    pub ldap_url: String,
    /// `ldaps://` URL.
    pub ldaps_url: String,
    /// The test CA that issued the DC's certificate.
    pub ca_file: PathBuf,
    /// Administrator, as `user@REALM`.
    pub bind_dn: String,
    /// Administrator's password.
    pub password: String,
    /// The domain's DN.
    pub base_dn: String,
}

pub fn dc() -> Dc {
    let var = roster_testkit::env;
    Dc {
        ldap_url: var("ROSTER_TEST_LDAP_URL"),
        ldaps_url: var("ROSTER_TEST_LDAPS_URL"),
        ca_file: PathBuf::from(var("ROSTER_TEST_LDAP_CA_FILE")),
        bind_dn: var("ROSTER_TEST_LDAP_BIND_DN"),
        password: var("ROSTER_TEST_LDAP_PASSWORD"),
        base_dn: var("ROSTER_TEST_LDAP_BASE_DN"),
    }
}

impl Dc {
    /// Plain LDAP, explicitly allowed (tests only).
    pub fn plain(&self, page_size: u32) -> LdapSettings {
        LdapSettings {
            url: self.ldap_url.clone(),
            bind_dn: self.bind_dn.clone(),
            password: Secret::new(self.password.clone()),
            base_dn: Some(self.base_dn.clone()),
            page_size,
            allow_insecure: true,
            ..LdapSettings::default()
        }
    }

    pub fn ldaps(&self) -> LdapSettings {
        LdapSettings { url: self.ldaps_url.clone(), allow_insecure: false, ca_file: Some(self.ca_file.clone()), ..self.plain(500) }
    }

    pub fn starttls(&self) -> LdapSettings {
        LdapSettings { starttls: true, allow_insecure: false, ca_file: Some(self.ca_file.clone()), ..self.plain(500) }
    }

    /// The `ROSTER_LDAP_*` variables for the agent binary or `Context::load`.
    pub fn env(&self, page_size: u32) -> Vec<(String, String)> {
        vec![
            ("ROSTER_LDAP_URL".into(), self.ldap_url.clone()),
            ("ROSTER_LDAP_BIND_DN".into(), self.bind_dn.clone()),
            ("ROSTER_LDAP_PASSWORD".into(), self.password.clone()),
            ("ROSTER_LDAP_BASE_DN".into(), self.base_dn.clone()),
            ("ROSTER_LDAP_PAGE_SIZE".into(), page_size.to_string()),
            ("ROSTER_LDAP_ALLOW_INSECURE".into(), "true".into()),
        ]
    }
}

/// A test's own OU on the shared DC (`OU=t-<uuid>,<base>`), and an admin
/// connection to add, change, move and delete objects in it. Other tests
/// run against the same DC at the same time, so a test asserts only about
/// objects under its own OU. [`TestOu::remove`] deletes it all.
pub struct TestOu {
    /// The OU's DN.
    pub dn: String,
    /// Prefix of every sAMAccountName made here (unique per test, ≤ 20 chars in all).
    pub prefix: String,
    /// The DC's domain DN.
    pub base_dn: String,
    /// Admin connection.
    ldap: Ldap,
}

impl std::fmt::Debug for TestOu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TestOu({})", self.dn)
    }
}

fn bytes_attrs(attrs: &[(&str, &[&str])]) -> Vec<(Vec<u8>, std::collections::HashSet<Vec<u8>>)> {
    attrs.iter().map(|(k, vs)| (k.as_bytes().to_vec(), vs.iter().map(|v| v.as_bytes().to_vec()).collect())).collect()
}

impl TestOu {
    pub async fn create(dc: &Dc) -> TestOu {
        let (conn, mut ldap) = LdapConnAsync::new(&dc.ldap_url).await.unwrap();
        ldap3::drive!(conn);
        ldap.simple_bind(&dc.bind_dn, &dc.password).await.unwrap().success().unwrap();
        let id = Uuid::new_v4().simple().to_string();
        let dn = format!("OU=t-{id},{}", dc.base_dn);
        let mut ou = TestOu { dn: dn.clone(), prefix: format!("t{}", &id[..8]), base_dn: dc.base_dn.clone(), ldap };
        ou.add_raw(&dn, &[("objectClass", &["organizationalUnit"]), ("ou", &[&format!("t-{id}")])]).await;
        ou
    }

    /// The OU's DN relative to the base DN, as a job's path names it.
    pub fn relative(&self) -> String {
        self.dn.strip_suffix(&format!(",{}", self.base_dn)).unwrap().to_owned()
    }

    async fn add_raw(&mut self, dn: &str, attrs: &[(&str, &[&str])]) {
        self.ldap.add(dn, bytes_attrs(attrs)).await.unwrap().success().unwrap_or_else(|e| panic!("add {dn}: {e}"));
    }

    /// `OU=name` under `parent` (the test's OU when `None`).
    pub async fn add_ou(&mut self, name: &str, parent: Option<&str>) -> String {
        let dn = format!("OU={name},{}", parent.unwrap_or(&self.dn));
        self.add_raw(&dn, &[("objectClass", &["organizationalUnit"]), ("ou", &[name])]).await;
        dn
    }

    /// An enabled user `CN=<prefix>-name` under `parent` with extra attributes.
    pub async fn add_user(&mut self, name: &str, parent: Option<&str>, extra: &[(&str, &[&str])]) -> String {
        let sam = format!("{}-{name}", self.prefix);
        let dn = format!("CN={sam},{}", parent.unwrap_or(&self.dn));
        let upn = format!("{sam}@corp.example.test");
        let (sam_value, upn_value) = ([sam.as_str()], [upn.as_str()]);
        let mut attrs: Vec<(&str, &[&str])> = vec![
            ("objectClass", &["user"]),
            ("sAMAccountName", &sam_value),
            ("userPrincipalName", &upn_value),
            ("userAccountControl", &["512"]),
        ];
        attrs.extend_from_slice(extra);
        self.add_raw(&dn, &attrs).await;
        dn
    }

    /// A global security group `CN=<prefix>-name` in the test's OU.
    pub async fn add_group(&mut self, name: &str, members: &[&str]) -> String {
        let sam = format!("{}-{name}", self.prefix);
        let dn = format!("CN={sam},{}", self.dn);
        let sam_value = [sam.as_str()];
        let mut attrs: Vec<(&str, &[&str])> = vec![("objectClass", &["group"]), ("sAMAccountName", &sam_value)];
        if !members.is_empty() {
            attrs.push(("member", members));
        }
        self.add_raw(&dn, &attrs).await;
        dn
    }

    pub async fn modify(&mut self, dn: &str, mods: Vec<Mod<Vec<u8>>>) {
        self.ldap.modify(dn, mods).await.unwrap().success().unwrap_or_else(|e| panic!("modify {dn}: {e}"));
    }

    /// Replaces one attribute's values (text).
    pub async fn set(&mut self, dn: &str, attribute: &str, value: &str) {
        let values = [value.as_bytes().to_vec()].into();
        self.modify(dn, vec![Mod::Replace(attribute.as_bytes().to_vec(), values)]).await;
    }

    pub async fn delete(&mut self, dn: &str) {
        self.ldap.delete(dn).await.unwrap().success().unwrap_or_else(|e| panic!("delete {dn}: {e}"));
    }

    /// Moves `dn` under `new_parent`, keeping its RDN; returns the new DN.
    pub async fn move_to(&mut self, dn: &str, new_parent: &str) -> String {
        let rdn = dn.split(',').next().unwrap().to_owned();
        self.ldap.modifydn(dn, &rdn, true, Some(new_parent)).await.unwrap().success().unwrap_or_else(|e| panic!("move {dn}: {e}"));
        format!("{rdn},{new_parent}")
    }

    /// Renames `dn` to `new_rdn` in place; returns the new DN.
    pub async fn rename(&mut self, dn: &str, new_rdn: &str) -> String {
        self.ldap.modifydn(dn, new_rdn, true, None).await.unwrap().success().unwrap_or_else(|e| panic!("rename {dn}: {e}"));
        let parent = dn.split_once(',').unwrap().1;
        format!("{new_rdn},{parent}")
    }

    /// One entry's attributes (base search).
    pub async fn entry(&mut self, dn: &str, attrs: &[&str]) -> SearchEntry {
        let (entries, _) = self.ldap.search(dn, Scope::Base, "(objectClass=*)", attrs.to_vec()).await.unwrap().success().unwrap();
        SearchEntry::construct(entries.into_iter().next().unwrap())
    }

    /// The objectGUID of `dn`.
    pub async fn guid(&mut self, dn: &str) -> ObjectGuid {
        let entry = self.entry(dn, &["objectGUID"]).await;
        let bytes =
            entry.bin_attrs.get("objectGUID").and_then(|v| v.first()).cloned().unwrap_or_else(|| {
                entry.attrs.get("objectGUID").and_then(|v| v.first()).map(|s| s.as_bytes().to_vec()).expect("objectGUID")
            });
        ObjectGuid::from_ldap_bytes(&bytes).unwrap()
    }

    /// Deletes the OU and everything below it (deepest first).
    pub async fn remove(mut self) {
        let (entries, _) = self.ldap.search(&self.dn, Scope::Subtree, "(objectClass=*)", vec!["1.1"]).await.unwrap().success().unwrap();
        let mut dns: Vec<String> = entries.into_iter().map(|e| SearchEntry::construct(e).dn).collect();
        dns.sort_by_key(|dn| std::cmp::Reverse(roster_proto::dn::Dn::parse(dn).map(|d| d.depth()).unwrap_or(0)));
        for dn in dns {
            let _ = self.ldap.delete(&dn).await;
        }
        let _ = self.ldap.unbind().await;
    }
}
