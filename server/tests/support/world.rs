//! A tenant's world for API tests: a job, accesses, a registered agent
//! played in-process with the agent's own signing code, and builders for
//! the records an agent sends.

use reqwest::Method;
use roster_proto::admin::{Access, AccessKind, CreateAccess, CreateJob, Job, LinkInput, Page, RegistrationToken, User};
use roster_proto::agent::{CommitResponse, InlineChunk, OfferSnapshot, RegisterRequest, RegisterResponse, RotateKey, SnapshotState};
use roster_proto::manifest::{ChunkRef, DirectoryIdentity, FORMAT_VERSION, Manifest, RecordCounts, SnapshotKind, Watermark};
use roster_proto::records::{Record, UserRecord};
use roster_proto::{AgentId, JobId, ObjectGuid, SnapshotId};
use roster_server::settings::Limits;
use roster_snapshot::chunk::{Chunk, ChunkWriter};
use roster_snapshot::keys::AgentKey;
use roster_snapshot::token;
use roster_testkit::records;

use super::{Engine, TestApp, spawn_app_with};

pub const BASE: &str = "DC=corp,DC=example,DC=test";

pub fn guid(n: u32) -> ObjectGuid {
    format!("{n:08x}-1111-2222-3333-444455556666").parse().unwrap()
}

pub fn user(n: u32, ou: &str, uac: u32) -> Record {
    Record::User(UserRecord {
        user_principal_name: Some(format!("user{n}@corp.example.test")),
        mail: Some(format!("user{n}@example.test")),
        display_name: Some(format!("User {n}")),
        user_account_control: uac,
        ..records::user(guid(n), format!("CN=user{n},{ou},{BASE}"), format!("user{n}"))
    })
}

pub fn group(n: u32, name: &str, members: &[u32]) -> Record {
    Record::Group(records::group(guid(n), format!("CN={name},OU=Groups,{BASE}"), name.into(), members.iter().map(|m| guid(*m)).collect()))
}

/// A tenant with a job, accesses and an agent registered to the job.
pub struct World {
    pub app: TestApp,
    pub admin: String,
    pub job: Job,
    pub user_access: Access,
    pub vip_access: Access,
    pub agent: Agent,
}

impl World {
    /// Links `CN=Sales,OU=Groups` to the basic access.
    pub async fn link_sales_to_basic_access(&self) {
        let links = vec![LinkInput { group: format!("CN=Sales,OU=Groups,{BASE}"), access_id: self.user_access.id }];
        let answer = self.app.put(&format!("/api/v1/jobs/{}/links", self.job.id), &self.admin, &links).await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
    }
}

pub struct Agent {
    pub key: AgentKey,
    pub id: AgentId,
    pub audience: String,
    pub job_id: JobId,
    /// The fencing token its requests carry (none: the header is left out).
    pub fence: Option<u64>,
}

impl Agent {
    /// The `Roster-Fencing-Token` header its requests carry, if any.
    fn fence_header(&self) -> Vec<(&'static str, String)> {
        self.fence.map(|token| (roster_proto::agent::FENCING_TOKEN_HEADER, token.to_string())).into_iter().collect()
    }

    /// A request token for `method` `path` without a body.
    pub fn token(&self, method: &str, path: &str) -> String {
        self.token_for(method, path, b"")
    }

    /// A request token for `method` `path` with exactly `body`.
    pub fn token_for(&self, method: &str, path: &str, body: &[u8]) -> String {
        token::sign_request(&self.key, self.id, &self.audience, method, path, body, time::OffsetDateTime::now_utc().unix_timestamp())
            .unwrap()
    }

    pub async fn get(&self, app: &TestApp, path: &str) -> super::Answer {
        // A token names the path without its query.
        let signed = path.split('?').next().unwrap_or(path);
        app.send_with(Method::GET, path, Some(&self.token("GET", signed)), None, false, &self.fence_header()).await
    }

    pub async fn post<B: serde::Serialize>(&self, app: &TestApp, path: &str, body: &B) -> super::Answer {
        let bytes = serde_json::to_vec(body).unwrap();
        let token = self.token_for("POST", path, &bytes);
        app.send_with(Method::POST, path, Some(&token), Some(bytes.into()), true, &self.fence_header()).await
    }

    pub async fn put_chunk(&self, app: &TestApp, snapshot: SnapshotId, index: u32, bytes: Vec<u8>) -> super::Answer {
        let path = format!("/agent/v1/snapshots/{snapshot}/chunks/{index}");
        let token = self.token_for("PUT", &path, &bytes);
        app.send_with(Method::PUT, &path, Some(&token), Some(bytes.into()), false, &self.fence_header()).await
    }

    /// The body of a key rotation onto `new_key`, with its proof.
    pub fn rotation(&self, new_key: &AgentKey) -> RotateKey {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        RotateKey {
            public_key: new_key.public_key().to_base64(),
            proof: token::sign_rotation(new_key, self.id, &self.audience, &self.key.public_key(), now).unwrap(),
        }
    }

    pub fn manifest(&self, chunks: &[Chunk], records: &[Record]) -> Manifest {
        Manifest {
            version: FORMAT_VERSION,
            snapshot_id: SnapshotId::new(),
            agent_id: self.id,
            job_id: self.job_id,
            kind: SnapshotKind::Full,
            read_started_at: time::OffsetDateTime::now_utc(),
            directory: DirectoryIdentity {
                domain_dn: BASE.into(),
                domain_sid: None,
                dns_host_name: Some("dc1".into()),
                base_dn: BASE.into(),
            },
            watermark: watermark(1000),
            base: None,
            counts: RecordCounts::of(records),
            chunks: chunks
                .iter()
                .map(|c| ChunkRef { index: c.index, size: c.bytes.len() as u64, sha256: c.sha256.to_string(), records: c.records })
                .collect(),
        }
    }

    pub fn sign(&self, manifest: &Manifest) -> OfferSnapshot {
        OfferSnapshot {
            manifest_token: token::sign_manifest(&self.key, manifest, &self.audience, time::OffsetDateTime::now_utc().unix_timestamp())
                .unwrap(),
            chunks: Vec::new(),
            commit: false,
        }
    }

    /// An offer of `manifest` carrying `chunks` inline, and asking to commit if `commit`.
    pub fn sign_inline(&self, manifest: &Manifest, chunks: &[Chunk], commit: bool) -> OfferSnapshot {
        let chunks = chunks.iter().map(|c| InlineChunk::new(c.index, &c.bytes)).collect();
        OfferSnapshot { chunks, commit, ..self.sign(manifest) }
    }

    /// Offers, uploads and commits a full snapshot of `records`.
    pub async fn push(&self, app: &TestApp, records: &[Record]) -> CommitResponse {
        self.push_as(app, records, SnapshotKind::Full, None, watermark(1000)).await.json()
    }

    /// Offers a full snapshot of `records` and uploads its chunks, without
    /// committing it; its id.
    pub async fn offer_and_upload(&self, app: &TestApp, records: &[Record]) -> SnapshotId {
        let chunks = chunk(records, 8192);
        let manifest = self.manifest(&chunks, records);
        let offered = self.post(app, "/agent/v1/snapshots", &self.sign(&manifest)).await;
        assert_eq!(offered.status, 200, "{:?}", offered.body);
        for chunk in &chunks {
            assert_eq!(self.put_chunk(app, manifest.snapshot_id, chunk.index, chunk.bytes.clone()).await.status, 204);
        }
        manifest.snapshot_id
    }

    /// Offers, uploads and commits a snapshot; answers the first refusal.
    pub async fn push_as(
        &self,
        app: &TestApp,
        records: &[Record],
        kind: SnapshotKind,
        base: Option<Watermark>,
        to: Watermark,
    ) -> super::Answer {
        let chunks = chunk(records, 8192);
        let mut manifest = self.manifest(&chunks, records);
        manifest.kind = kind;
        manifest.base = base;
        manifest.watermark = to;
        let offered = self.post(app, "/agent/v1/snapshots", &self.sign(&manifest)).await;
        if offered.status != 200 {
            return offered;
        }
        let state: SnapshotState = offered.json();
        assert_eq!(state.missing_chunks, (0..chunks.len() as u32).collect::<Vec<_>>());
        for chunk in &chunks {
            let answer = self.put_chunk(app, manifest.snapshot_id, chunk.index, chunk.bytes.clone()).await;
            assert_eq!(answer.status, 204, "{:?}", answer.body);
        }
        self.post(app, &format!("/agent/v1/snapshots/{}/commit", manifest.snapshot_id), &()).await
    }
}

/// dc1's watermark at `usn`.
pub fn watermark(usn: u64) -> Watermark {
    Watermark { dns_host_name: "dc1.corp.example.test".into(), invocation_id: guid(999), usn }
}

pub fn chunk(records: &[Record], limit: usize) -> Vec<Chunk> {
    let mut writer = ChunkWriter::with_limit(limit);
    let mut chunks: Vec<Chunk> = records.iter().filter_map(|r| writer.push(r).unwrap()).collect();
    chunks.extend(writer.finish().unwrap());
    chunks
}

pub async fn register(app: &TestApp, admin: &str, job: JobId) -> Agent {
    let token: RegistrationToken = app.post(&format!("/api/v1/jobs/{job}/registration-tokens"), Some(admin), &()).await.json();
    let key = AgentKey::generate().unwrap();
    let request = RegisterRequest {
        token: token.token.clone(),
        public_key: key.public_key().to_base64(),
        hostname: Some("dc-host".into()),
        agent_version: None,
    };
    let answer = app.post("/agent/v1/register", None, &request).await;
    assert_eq!(answer.status, 201, "{:?}", answer.body);
    let registered: RegisterResponse = answer.json();
    assert_eq!(registered.job_id, job);
    // A registration token works once.
    app.post("/agent/v1/register", None, &request).await.assert_problem(401);
    Agent { key, id: registered.agent_id, audience: registered.audience, job_id: job, fence: None }
}

pub async fn world(engine: Engine) -> World {
    world_with(engine, Limits::default()).await
}

/// A job named `name` over `OU=Staff`, with every other setting left out.
/// Its schedule is off: a test's imports are its own, whatever the hour
/// it runs at (the default schedule is daily at 02:00 UTC).
pub fn staff_job(name: &str) -> CreateJob {
    CreateJob {
        name: name.into(),
        relative_paths: vec!["OU=Staff".into()],
        group_paths: vec![],
        schedule: Some(roster_proto::admin::Schedule { enabled: false, ..Default::default() }),
        full_sync_interval_days: None,
        user_filter: None,
        policy: None,
        sync_mode: None,
    }
}

/// Creates the job [`staff_job`] names for the tenant of `admin`.
pub async fn create_staff_job(app: &TestApp, admin: &str, name: &str) -> Job {
    let answer = app.post("/api/v1/jobs", Some(admin), &staff_job(name)).await;
    assert_eq!(answer.status, 201, "{:?}", answer.body);
    answer.json()
}

pub async fn world_with(engine: Engine, limits: Limits) -> World {
    let app = spawn_app_with(engine, limits).await;
    let tenant = app.create_tenant("Acme").await;
    let admin = tenant.admin_token;
    let job = create_staff_job(&app, &admin, "corp").await;
    let user_access: Access =
        app.post("/api/v1/accesses", Some(&admin), &CreateAccess { kind: AccessKind::User, name: "Copenhagen".into() }).await.json();
    let vip_access: Access =
        app.post("/api/v1/accesses", Some(&admin), &CreateAccess { kind: AccessKind::Vip, name: "VIP".into() }).await.json();
    let agent = register(&app, &admin, job.id).await;
    World { app, admin, job, user_access, vip_access, agent }
}

pub async fn all_users(app: &TestApp, admin: &str, job: JobId, limit: u32) -> Vec<User> {
    let mut users = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => format!("/api/v1/users?job={job}&limit={limit}"),
            Some(c) => format!("/api/v1/users?job={job}&limit={limit}&cursor={c}"),
        };
        let page: Page<User> = app.get(&path, admin).await.json();
        users.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return users,
        }
    }
}
