//! Proves that `proto-schemas/` describes exactly what the Rust wire types put on the wire.
//!
//! Every wire type is built with realistic values (all optional fields set, and again with
//! them unset), serialized with serde_json and validated against the schema files as read
//! from disk; documents the schemas accept must also parse back into the Rust types; a few
//! invalid documents must be refused; and `openapi.json` (generated from the server's router,
//! whose `tests/contract.rs` keeps the committed copy fresh and every documented operation
//! routed) must be well-formed, with every `$ref` resolving and every response example a valid
//! body. References between the schema files are resolved
//! from a local registry keyed by each file's `$id`: nothing is ever fetched.

// A failed unwrap, expect or panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::path::{Path, PathBuf};

use jsonschema::{Draft, Registry, Validator};
use roster_proto::ObjectGuid;
use roster_proto::admin::{
    Access, AccessChange, AccessDelta, AccessKind, AccessRef, AgentState, Budget, ChangeAction, ChangeDetail, CreateAccess, CreateJob,
    CreatedTenant, DeactivationReason, Decision, HistoryEntry, Job, Link, LinkInput, LinksPreview, LinksSaved, Page, PlanPreview,
    RegistrationToken, SafeguardPolicy, Schedule, ScheduledRun, ScheduledRuns, Session, SessionChange, SessionCounts, SessionStatus,
    SessionTrigger, StartImport, SyncMode, TenantSettings, User,
};
use roster_proto::agent::{
    AgentJob, Command, CommandAction, CommandOutcome, CommandResult, CommitResponse, Heartbeat, InlineChunk, OfferResponse, OfferSnapshot,
    RegisterRequest, RegisterResponse, SnapshotState, SnapshotStatus, SyncAdvice,
};
use roster_proto::insight::{AccessGrant, Explanation, GrantChain, GroupStep, GroupSummary, OuNode, Reason, ReasonCode, Structure};
use roster_proto::manifest::{
    ChunkRef, DirectoryIdentity, FORMAT_VERSION, MAX_CHUNK_BYTES, Manifest, RecordCounts, SnapshotKind, Watermark,
};
use roster_proto::problem::{Problem, ProblemKind};
use roster_proto::records::{DeletedRecord, GroupMembersRecord, GroupRecord, OuRecord, Record, UserRecord};
use roster_proto::scope::JobScope;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use time::macros::datetime;

/// The base of every schema file's `$id`: `$id` = BASE + file name.
const BASE: &str = "https://roster.invalid/proto-schemas/json/";

const HTTP_METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch", "trace"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto-schemas")
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// The schema files, by file name.
fn schema_files() -> BTreeMap<String, Value> {
    let dir = root().join("json");
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.ends_with(".schema.json"), "{} does not belong in proto-schemas/json/", path.display());
        files.insert(name, read_json(&path));
    }
    files
}

/// The schema files in a registry keyed by `$id`, and validators built against it.
struct Contract {
    registry: Registry<'static>,
}

impl Contract {
    fn load() -> Contract {
        let resources: Vec<(String, Value)> = schema_files()
            .into_values()
            .map(|schema| (schema["$id"].as_str().expect("every schema file has an $id").to_owned(), schema))
            .collect();
        let registry = Registry::new().draft(Draft::Draft202012).extend(resources).unwrap().prepare().unwrap();
        Contract { registry }
    }

    /// A validator for `reference`: a file name, optionally with a fragment (`x.schema.json#/$defs/y`).
    fn validator(&self, reference: &str) -> Validator {
        jsonschema::options()
            .with_draft(Draft::Draft202012)
            .should_validate_formats(true)
            .offline()
            .with_registry(&self.registry)
            .build(&json!({ "$ref": format!("{BASE}{reference}") }))
            .unwrap_or_else(|e| panic!("cannot build a validator for {reference}: {e}"))
    }

    fn errors(&self, reference: &str, document: &Value) -> Vec<String> {
        self.validator(reference).iter_errors(document).map(|e| format!("{}: {e}", e.instance_path())).collect()
    }

    /// `value` as serde writes it validates against `reference`, and the JSON parses back into
    /// an equal value.
    fn check<T: Serialize + DeserializeOwned + PartialEq + Debug>(&self, reference: &str, value: &T) {
        let document = serde_json::to_value(value).unwrap();
        let errors = self.errors(reference, &document);
        assert!(errors.is_empty(), "{reference} refuses what Rust writes:\n{}\n{document:#}", errors.join("\n"));
        let back: T = serde_json::from_value(document.clone()).unwrap_or_else(|e| panic!("{document} does not parse back: {e}"));
        assert_eq!(&back, value);
    }

    /// A document the schema accepts, which Rust must then also accept.
    fn accepts<T: DeserializeOwned>(&self, reference: &str, document: Value) -> T {
        let errors = self.errors(reference, &document);
        assert!(errors.is_empty(), "{reference} refuses {document}:\n{}", errors.join("\n"));
        serde_json::from_value(document.clone()).unwrap_or_else(|e| panic!("schema {reference} accepts {document}, Rust does not: {e}"))
    }

    fn rejects(&self, reference: &str, document: Value, why: &str) {
        assert!(!self.validator(reference).is_valid(&document), "{reference} accepts a document with {why}: {document}");
    }
}

fn guid(text: &str) -> ObjectGuid {
    text.parse().unwrap()
}

/// Any of the typed ids (or a bare UUID), from its text.
fn id<T: std::str::FromStr<Err: std::fmt::Debug>>(text: &str) -> T {
    text.parse().unwrap()
}

/// Base64url without padding, as JWTs use it (roster-proto has no base64 dependency).
fn b64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for group in bytes.chunks(3) {
        let n = group.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=group.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

const AGENT: &str = "5b0a4c3e-2d1f-4e6a-9b8c-7d6e5f4a3b2c";
const TENANT: &str = "0e4d8f1a-6b2c-4a9e-8d7f-1c3b5a7e9f20";
const JOB: &str = "8f14e45f-ceea-467f-a0e6-3c1b2d4e5f60";
const SNAPSHOT: &str = "c9f0f895-fb98-4b91-99f5-1a2b3c4d5e6f";
const SESSION: &str = "45c48cce-2e2d-4fbd-aa1a-fc51c7c4b8e1";
const ACCESS: &str = "d3d94468-02a4-4322-8f5d-7a1e9b6c0d2f";
const USER_ID: &str = "6512bd43-d9ca-4a6e-b2c1-3e0f8d7c6b5a";
const AUDIENCE: &str = "urn:roster:server:1679091c-5a88-4faf-b5e6-6d2c4b8a0e13";
const ANN: &str = "d4c3b2a1-f6e5-1807-293a-4b5c6d7e8f90";
const SALES: &str = "00112233-4455-6677-8899-aabbccddeeff";
const STAFF_OU: &str = "a87ff679-a2f3-471d-8181-4b3c2d1e0f9a";
const SHA: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const DELTA_SNAPSHOT: &str = "d67d8ab4-f4c1-4bf2-9aba-1b2c3d4e5f70";
/// The DC's NTDS Settings `invocationId`.
const INVOCATION: &str = "4f1c2d3e-5a6b-4c7d-8e9f-0a1b2c3d4e5f";
/// Ann's `mS-DS-ConsistencyGuid` (AD Connect copied her original objectGUID).
const ANN_ANCHOR: &str = "b1a2c3d4-e5f6-0718-293a-4b5c6d7e8f91";
/// `accountExpires` for 2027-06-30T22:00:00Z as a FILETIME.
const EXPIRES_2027: i64 = 134_588_664_000_000_000;
/// The problem `type` of a delta the server cannot apply.
const DELTA_BASE_MISMATCH: &str = ProblemKind::DeltaBaseMismatch.uri();

fn full_user() -> UserRecord {
    UserRecord {
        object_guid: guid(ANN),
        dn: "CN=Ann Berg,OU=Copenhagen,OU=Staff,DC=corp,DC=example,DC=test".into(),
        sam_account_name: "ann".into(),
        user_principal_name: Some("ann@corp.example.test".into()),
        mail: Some("ann.berg@example.test".into()),
        given_name: Some("Ann".into()),
        surname: Some("Berg".into()),
        display_name: Some("Ann Berg".into()),
        telephone_number: Some("+45 33 12 34 56".into()),
        department: Some("Sales".into()),
        title: Some("Account Manager".into()),
        user_account_control: 512,
        account_expires: Some(EXPIRES_2027),
        consistency_guid: Some(guid(ANN_ANCHOR)),
        usn_changed: Some(41_235),
        when_changed: Some("20261125120000.0Z".into()),
        outside_filter: true,
    }
}

fn minimal_user() -> UserRecord {
    UserRecord {
        object_guid: guid("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"),
        dn: "CN=svc-print,OU=Staff,DC=corp,DC=example,DC=test".into(),
        sam_account_name: "svc-print".into(),
        user_principal_name: None,
        mail: None,
        given_name: None,
        surname: None,
        display_name: None,
        telephone_number: None,
        department: None,
        title: None,
        user_account_control: 66_050,
        account_expires: None,
        consistency_guid: None,
        usn_changed: None,
        when_changed: None,
        outside_filter: false,
    }
}

fn records() -> Vec<Record> {
    vec![
        Record::User(full_user()),
        Record::User(minimal_user()),
        Record::Group(GroupRecord {
            object_guid: guid(SALES),
            dn: "CN=Sales,OU=Groups,DC=corp,DC=example,DC=test".into(),
            name: "Sales".into(),
            group_type: -2_147_483_646,
            members: vec![guid(ANN), guid("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")],
        }),
        Record::Group(GroupRecord {
            object_guid: guid("11111111-2222-3333-4444-555555555555"),
            dn: "CN=Empty,OU=Groups,DC=corp,DC=example,DC=test".into(),
            name: "Empty".into(),
            group_type: 0,
            members: vec![],
        }),
        Record::Ou(OuRecord { object_guid: guid(STAFF_OU), dn: "OU=Staff,DC=corp,DC=example,DC=test".into(), name: "Staff".into() }),
        // The two values AD writes for "never expires".
        Record::User(UserRecord { account_expires: Some(i64::MAX), ..minimal_user() }),
        Record::User(UserRecord { account_expires: Some(0), consistency_guid: Some(guid(ANN_ANCHOR)), ..minimal_user() }),
        Record::Deleted(DeletedRecord {
            object_guid: guid("2c3d4e5f-6a7b-8c9d-0e1f-a2b3c4d5e6f7"),
            last_known_parent: Some("OU=Copenhagen,OU=Staff,DC=corp,DC=example,DC=test".into()),
        }),
        Record::Deleted(DeletedRecord { object_guid: guid("3d4e5f6a-7b8c-9d0e-1f2a-b3c4d5e6f7a8"), last_known_parent: None }),
        Record::GroupMembers(GroupMembersRecord { object_guid: guid(SALES), members: vec![guid(ANN_ANCHOR)] }),
    ]
}

fn watermark(usn: u64) -> Watermark {
    Watermark { dns_host_name: "dc01.corp.example.test".into(), invocation_id: guid(INVOCATION), usn }
}

fn manifest() -> Manifest {
    Manifest {
        version: FORMAT_VERSION,
        snapshot_id: id(SNAPSHOT),
        agent_id: id(AGENT),
        job_id: id(JOB),
        kind: SnapshotKind::Full,
        read_started_at: datetime!(2026-11-25 02:00:03.250 UTC),
        directory: DirectoryIdentity {
            domain_dn: "DC=corp,DC=example,DC=test".into(),
            domain_sid: Some("S-1-5-21-3623811015-3361044348-30300820".into()),
            dns_host_name: Some("dc01.corp.example.test".into()),
            base_dn: "DC=corp,DC=example,DC=test".into(),
        },
        watermark: watermark(41_870),
        base: None,
        counts: RecordCounts { users: 2, groups: 2, ous: 1, deleted: 0 },
        chunks: vec![
            ChunkRef { index: 0, size: 1_048_576, sha256: SHA.into(), records: 4 },
            ChunkRef { index: 1, size: 311, sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".into(), records: 1 },
        ],
    }
}

/// A delta: what changed since the previous snapshot's watermark.
fn delta_manifest() -> Manifest {
    Manifest {
        snapshot_id: id(DELTA_SNAPSHOT),
        kind: SnapshotKind::Delta,
        read_started_at: datetime!(2026-11-26 02:00:01.5 UTC),
        watermark: watermark(42_311),
        base: Some(watermark(41_870)),
        counts: RecordCounts { users: 3, groups: 1, ous: 0, deleted: 2 },
        chunks: vec![ChunkRef { index: 0, size: 1_204, sha256: SHA.into(), records: 6 }],
        ..manifest()
    }
}

fn minimal_manifest() -> Manifest {
    Manifest {
        directory: DirectoryIdentity {
            domain_dn: "DC=corp".into(),
            domain_sid: None,
            dns_host_name: None,
            base_dn: "OU=Branch,DC=corp".into(),
        },
        counts: RecordCounts::default(),
        chunks: vec![],
        read_started_at: datetime!(2026-11-25 02:00:00 UTC),
        ..manifest()
    }
}

/// `roster_snapshot::token::ManifestClaims` (roster-proto cannot name that crate; its own tests
/// cover the struct, this covers the shape the schema gives it).
fn manifest_claims(manifest: &Manifest) -> Value {
    json!({"iss": manifest.agent_id, "aud": AUDIENCE, "iat": 1_795_576_803_i64, "exp": 1_795_576_923_i64, "jti": manifest.snapshot_id, "manifest": manifest})
}

/// `roster_snapshot::token::RequestClaims`, likewise.
fn request_claims(method: &str, path: &str) -> Value {
    json!({"iss": AGENT, "aud": AUDIENCE, "iat": 1_795_576_803_i64, "exp": 1_795_576_923_i64, "jti": "1f0e2d3c-4b5a-4978-8796-a5b4c3d2e1f0", "htm": method, "htu": path, "bsh": roster_proto::claims::EMPTY_BODY_SHA256})
}

/// `roster_snapshot::token::RotationClaims`, likewise.
fn rotation_claims() -> Value {
    json!({"iss": AGENT, "aud": AUDIENCE, "iat": 1_795_576_803_i64, "exp": 1_795_576_923_i64, "jti": "1f0e2d3c-4b5a-4978-8796-a5b4c3d2e1f1", "replaces": SHA})
}

fn jwt(claims: &Value) -> String {
    let header = b64url(br#"{"alg":"EdDSA","typ":"JWT"}"#);
    format!("{header}.{}.{}", b64url(&serde_json::to_vec(claims).unwrap()), b64url(&[0x5a; 64]))
}

fn finished_session() -> Session {
    Session {
        id: id(SESSION),
        job_id: id(JOB),
        trigger: SessionTrigger::FirstPush,
        status: SessionStatus::Failed,
        snapshot_id: Some(id(SNAPSHOT)),
        manifest_sha256: Some(SHA.parse().unwrap()),
        caught_up: false,
        waiting_until: None,
        progress: None,
        counts: SessionCounts { created: 120, updated: 3, deactivated: 1, unchanged: 980, not_linked: 7, reactivated: 2, lost_basic: 1 },
        notes: vec!["no links: nobody imported".into()],
        error: Some("database: connection reset".into()),
        held_reasons: vec![],
        decided_by: None,
        decided_at: None,
        created_at: datetime!(2026-11-25 02:00:05.125 UTC),
        finished_at: Some(datetime!(2026-11-25 02:00:07 UTC)),
        duration_ms: Some(1_875),
    }
}

fn queued_session() -> Session {
    Session {
        trigger: SessionTrigger::Manual,
        status: SessionStatus::Queued,
        counts: SessionCounts::default(),
        notes: vec![],
        error: None,
        finished_at: None,
        duration_ms: None,
        ..finished_session()
    }
}

/// What the safeguard says when ten of thirty active users would be deactivated.
const HELD_REASON: &str = "the plan deactivates 10 of 30 active users; the policy allows 3 (500 or 10 %, whichever is smaller)";

/// Planned beyond the job's safeguard: nothing applied, waiting for an admin.
fn held_session() -> Session {
    Session {
        trigger: SessionTrigger::Schedule,
        status: SessionStatus::Held,
        counts: SessionCounts { deactivated: 10, lost_basic: 10, unchanged: 20, ..SessionCounts::default() },
        notes: vec![],
        error: None,
        held_reasons: vec![
            HELD_REASON.into(),
            "the plan takes a basic access from 10 of 30 active users; the policy allows 3 (500 or 10 %, whichever is smaller)".into(),
        ],
        ..finished_session()
    }
}

/// A held session an admin approved: queued again, its end cleared until it runs.
fn approved_session() -> Session {
    Session {
        status: SessionStatus::Queued,
        decided_by: Some("alice@corp.example.test".into()),
        decided_at: Some(datetime!(2026-11-25 08:15:00 UTC)),
        finished_at: None,
        duration_ms: None,
        ..held_session()
    }
}

/// Approved, planned again, and failed: every optional member set.
fn failed_after_approval() -> Session {
    Session {
        status: SessionStatus::Failed,
        notes: vec!["the directory, the links or the users changed since this plan was approved: it was planned again".into()],
        error: Some("database: connection reset".into()),
        finished_at: Some(datetime!(2026-11-25 08:15:02.25 UTC)),
        duration_ms: Some(2_250),
        ..approved_session()
    }
}

fn rejected_session() -> Session {
    Session {
        status: SessionStatus::Rejected,
        decided_by: Some("bob".into()),
        decided_at: Some(datetime!(2026-11-25 08:15:00 UTC)),
        ..held_session()
    }
}

/// Rejected by a newer run of the job, not by an admin.
fn superseded_session() -> Session {
    Session { decided_by: Some(format!("superseded by session {SESSION}")), ..rejected_session() }
}

/// Every `SessionStatus` (roster-proto has no `ALL` for it). A new variant breaks the match:
/// add it to the list too.
fn session_statuses() -> [SessionStatus; 7] {
    use SessionStatus::*;
    let all = [Waiting, Queued, Running, Succeeded, Held, Rejected, Failed];
    for status in all {
        match status {
            Waiting | Queued | Running | Succeeded | Held | Rejected | Failed => {}
        }
    }
    all
}

/// A realistic session in `status`.
fn session_in(status: SessionStatus) -> Session {
    match status {
        SessionStatus::Waiting => Session {
            status,
            trigger: SessionTrigger::Schedule,
            snapshot_id: None,
            manifest_sha256: None,
            caught_up: true,
            waiting_until: Some(datetime!(2026-11-25 02:12:00 UTC)),
            ..queued_session()
        },
        SessionStatus::Queued => queued_session(),
        SessionStatus::Running => Session { status, ..queued_session() },
        SessionStatus::Succeeded => Session {
            status,
            counts: SessionCounts { created: 2, updated: 5, reactivated: 1, unchanged: 1_100, not_linked: 7, ..SessionCounts::default() },
            notes: vec![],
            error: None,
            ..finished_session()
        },
        SessionStatus::Held => held_session(),
        SessionStatus::Rejected => rejected_session(),
        SessionStatus::Failed => finished_session(),
    }
}

fn job() -> Job {
    Job {
        id: id(JOB),
        name: "Corp HQ".into(),
        relative_paths: vec!["OU=Copenhagen,OU=Staff".into(), "OU=Aarhus,OU=Staff".into()],
        group_paths: vec![],
        schedule: Schedule {
            enabled: true,
            daily_at: "02:00".parse().unwrap(),
            time_zone: "Europe/Copenhagen".into(),
            interval_minutes: None,
        },
        full_sync_interval_days: 7,
        user_filter: Some("(employeeType=staff)".into()),
        policy: SafeguardPolicy::default(),
        sync_mode: SyncMode::Continuous,
        created_at: datetime!(2026-11-24 09:30:00.5 UTC),
    }
}

fn user(active: bool) -> User {
    User {
        id: id(USER_ID),
        job_id: id(JOB),
        object_guid: guid(ANN),
        username: "ann".into(),
        email: active.then(|| "ann.berg@example.test".into()),
        display_name: active.then(|| "Ann Berg".into()),
        active,
        accesses: if active { vec![AccessRef { id: id(ACCESS), kind: AccessKind::User, name: "Copenhagen".into() }] } else { vec![] },
    }
}

#[test]
fn schema_files_are_2020_12_and_named_by_their_id() {
    let files = schema_files();
    for required in [
        "common.schema.json",
        "record.schema.json",
        "manifest.schema.json",
        "manifest-claims.schema.json",
        "request-token-claims.schema.json",
        "problem.schema.json",
        "agent-api.schema.json",
        "admin-api.schema.json",
        "insight.schema.json",
    ] {
        assert!(files.contains_key(required), "proto-schemas/json/{required} is missing");
    }
    for (name, schema) in &files {
        assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema", "{name}");
        assert_eq!(schema["$id"], format!("{BASE}{name}"), "{name}: $id must be the base plus the file name");
        if let Err(e) = jsonschema::meta::validate(schema) {
            panic!("{name} is not a valid schema: {e} at {}", e.instance_path());
        }
    }
}

#[test]
fn every_ref_in_the_schema_files_resolves() {
    let files = schema_files();
    for (name, schema) in &files {
        for reference in refs(schema) {
            let (file, pointer) = reference.split_once('#').unwrap_or((&reference, ""));
            let target =
                if file.is_empty() { schema } else { files.get(file).unwrap_or_else(|| panic!("{name}: $ref {reference} names no file")) };
            assert!(target.pointer(pointer).is_some(), "{name}: $ref {reference} points nowhere");
        }
    }
}

#[test]
fn records_match() {
    let c = Contract::load();
    for record in records() {
        c.check("record.schema.json", &record);
    }
    // What serde fills in on input: a group without `group_type` is 0.
    let group: Record = c.accepts(
        "record.schema.json",
        json!({"type": "group", "object_guid": SALES, "dn": "CN=Sales,DC=corp", "name": "Sales", "members": []}),
    );
    assert!(matches!(group, Record::Group(GroupRecord { group_type: 0, .. })));
    // The $defs validate single lines too.
    c.check("record.schema.json#/$defs/user", &Record::User(full_user()));
    c.check("record.schema.json#/$defs/ou", &records()[4]);

    let user = serde_json::to_value(Record::User(full_user())).unwrap();
    let without = |field: &str| {
        let mut v = user.clone();
        v.as_object_mut().unwrap().remove(field);
        v
    };
    let with = |field: &str, value: Value| {
        let mut v = user.clone();
        v[field] = value;
        v
    };
    c.rejects("record.schema.json", without("sam_account_name"), "no sam_account_name");
    c.rejects("record.schema.json", without("user_account_control"), "no user_account_control");
    c.rejects("record.schema.json", without("type"), "no type");
    c.rejects("record.schema.json", with("type", json!("contact")), "an unknown type");
    c.rejects("record.schema.json", with("type", json!("group")), "a user's fields under type group");
    c.rejects("record.schema.json", with("members", json!([])), "a group's field on a user");
    c.rejects("record.schema.json", with("object_guid", json!(ANN.to_uppercase())), "an upper-case GUID");
    c.rejects("record.schema.json", with("object_guid", json!(format!("{{{ANN}}}"))), "a GUID in braces");
    c.rejects("record.schema.json", with("object_guid", json!("CN=Ann Berg")), "a DN for a GUID");
    c.rejects("record.schema.json", with("user_account_control", json!(-1)), "a negative u32");
    c.rejects("record.schema.json", with("mail", Value::Null), "null for a left-out optional field");
    c.rejects(
        "record.schema.json",
        json!({"type": "group", "object_guid": SALES, "dn": "CN=g", "name": "g", "members": ["not-a-guid"]}),
        "a bad member GUID",
    );
    c.rejects(
        "record.schema.json",
        json!({"type": "group", "object_guid": SALES, "dn": "CN=g", "name": "g", "group_type": 2_147_483_650_u64, "members": []}),
        "a group_type beyond i32",
    );

    // accountExpires is an i64 FILETIME, mS-DS-ConsistencyGuid a GUID in objectGUID form.
    c.rejects("record.schema.json", with("account_expires", json!(9_223_372_036_854_775_808_u64)), "an account_expires beyond i64");
    c.rejects("record.schema.json", with("account_expires", json!("never")), "a string account_expires");
    c.rejects("record.schema.json", with("account_expires", json!(1.5)), "a fractional account_expires");
    c.rejects("record.schema.json", with("consistency_guid", json!(ANN_ANCHOR.to_uppercase())), "an upper-case consistency GUID");
    c.rejects("record.schema.json", with("consistency_guid", Value::Null), "a null consistency GUID");
    let user: Record = c.accepts("record.schema.json", with("account_expires", json!(-1)));
    assert!(matches!(user, Record::User(UserRecord { account_expires: Some(-1), .. })), "negative FILETIMEs parse (and mean never)");

    // Tombstones.
    c.check("record.schema.json#/$defs/deleted", &records()[7]);
    let parent = "OU=Staff,DC=corp";
    c.rejects("record.schema.json", json!({"type": "deleted", "object_guid": "not-a-guid"}), "a bad GUID in a deleted record");
    c.rejects(
        "record.schema.json",
        json!({"type": "deleted", "object_guid": format!("{{{SALES}}}")}),
        "a GUID in braces in a deleted record",
    );
    c.rejects("record.schema.json", json!({"type": "deleted", "last_known_parent": parent}), "a deleted record without object_guid");
    c.rejects("record.schema.json", json!({"type": "deleted", "object_guid": SALES, "dn": "CN=x"}), "a dn on a deleted record");
    c.rejects(
        "record.schema.json",
        json!({"type": "deleted", "object_guid": SALES, "last_known_parent": null}),
        "a null last_known_parent",
    );
    c.rejects("record.schema.json", json!({"type": "tombstone", "object_guid": SALES}), "an unknown record type");
    let deleted: Record = c.accepts("record.schema.json", json!({"type": "deleted", "object_guid": SALES}));
    assert_eq!(deleted, Record::Deleted(DeletedRecord { object_guid: guid(SALES), last_known_parent: None }));
}

#[test]
fn guid_input_forms_match_the_parser() {
    let c = Contract::load();
    let upper = ANN.to_uppercase();
    for accepted in [ANN.to_owned(), upper.clone(), format!("{{{upper}}}"), format!("  {{{ANN}}} ")] {
        assert!(c.errors("common.schema.json#/$defs/objectGuidInput", &json!(accepted)).is_empty(), "schema refuses {accepted:?}");
        assert_eq!(accepted.parse::<ObjectGuid>(), Ok(guid(ANN)), "{accepted:?}");
    }
    for refused in [format!("{{{ANN}"), format!("{ANN}}}"), ANN.replace('-', ""), format!("{ANN}0"), "CN=Sales,DC=corp".to_owned()] {
        c.rejects("common.schema.json#/$defs/objectGuidInput", json!(refused), "a malformed GUID");
        assert!(refused.parse::<ObjectGuid>().is_err(), "{refused:?} parses");
    }
    // Output is canonical whatever the input was.
    assert_eq!(serde_json::to_value(guid(&format!("{{{upper}}}"))).unwrap(), json!(ANN));
}

/// The `relativePath` pattern accepts exactly what a job's scope accepts.
#[test]
fn relative_path_pattern_is_the_scope_parser() {
    let c = Contract::load();
    let cases = [
        "OU=Copenhagen,OU=Staff",
        " OU = Copenhagen , OU=Staff ",
        "*",
        " * ",
        "",
        "   ",
        "ou=Sales+cn=x,OU=Staff",
        "OU=R\\&D\\, Lab,OU=Sites",
        "OU=a=b",
        "OU=",
        "OU=Tr\\C3\\A6s",
        "1.2.3=x",
        "Staff",
        "OU=Staff,",
        ",OU=Staff",
        "OU=Staff+",
        "=Staff",
        "O U=Staff",
        "OU=Staff\\",
        "**",
        "OU=*",
        "OU=Staff,*",
        "OU=A\\,B",
        "O\\U=Staff",
    ];
    for path in cases {
        let scope = JobScope { relative_paths: vec!["*".to_owned()], group_paths: vec![path.to_owned()], user_filter: None };
        let server = scope.validate().is_ok();
        let schema = c.errors("common.schema.json#/$defs/relativePath", &json!(path)).is_empty();
        assert_eq!(schema, server, "{path:?}: the schema says {schema}, the scope parser {server}");
    }
}

#[test]
fn manifest_and_token_claims_match() {
    let c = Contract::load();
    for m in [manifest(), minimal_manifest(), delta_manifest()] {
        c.check("manifest.schema.json", &m);
        let claims = manifest_claims(&m);
        let errors = c.errors("manifest-claims.schema.json", &claims);
        assert!(errors.is_empty(), "manifest claims: {errors:?}");
    }
    let m = serde_json::to_value(manifest()).unwrap();
    let with = |pointer: &str, value: Value| {
        let mut v = m.clone();
        *v.pointer_mut(pointer).unwrap() = value;
        v
    };
    c.rejects("manifest.schema.json", with("/version", json!(2)), "another format version");
    c.rejects("manifest.schema.json", with("/kind", json!("incremental")), "an unknown kind");
    c.rejects("manifest.schema.json", with("/kind", json!("Delta")), "a kind in the wrong case");
    c.rejects("manifest.schema.json", with("/snapshot_id", json!("snapshot-1")), "a bad uuid");
    c.rejects("manifest.schema.json", with("/read_started_at", json!("25/11/2026 02:00")), "a non-RFC 3339 time");
    c.rejects("manifest.schema.json", with("/chunks/0/size", json!(0)), "an empty chunk");
    c.rejects("manifest.schema.json", with("/chunks/0/size", json!(MAX_CHUNK_BYTES + 1)), "an oversized chunk");
    c.rejects("manifest.schema.json", with("/chunks/0/sha256", json!(SHA.to_uppercase())), "an upper-case sha256");
    c.rejects("manifest.schema.json", with("/counts", json!({"users": 1, "groups": 0})), "counts without ous");
    let mut extra = m.clone();
    extra["type"] = json!("full");
    c.rejects("manifest.schema.json", extra, "an extra type member");

    // Watermarks.
    let without = |document: &Value, pointer: &str, member: &str| {
        let mut v = document.clone();
        v.pointer_mut(pointer).unwrap().as_object_mut().unwrap().remove(member);
        v
    };
    c.rejects("manifest.schema.json", without(&m, "", "watermark"), "no watermark");
    c.rejects("manifest.schema.json", without(&m, "/watermark", "invocation_id"), "a watermark without invocation_id");
    c.rejects("manifest.schema.json", without(&m, "/watermark", "dns_host_name"), "a watermark without dns_host_name");
    c.rejects("manifest.schema.json", with("/watermark/invocation_id", json!("dc01")), "a watermark with a bad invocation_id");
    c.rejects("manifest.schema.json", with("/watermark/usn", json!(-1)), "a negative USN");
    c.rejects("manifest.schema.json", with("/watermark", Value::Null), "a null watermark");

    // Counts: `deleted` is optional on input, and 0 unless the snapshot is a delta.
    let full: Manifest = c.accepts("manifest.schema.json", without(&m, "/counts", "deleted"));
    assert_eq!(full.counts.deleted, 0);
    c.rejects("manifest.schema.json", with("/counts/deleted", json!(1)), "tombstones counted in a full snapshot");
    c.rejects("manifest.schema.json", with("/counts/deleted", json!(-1)), "a negative deleted count");

    // A delta must name its base.
    let delta = serde_json::to_value(delta_manifest()).unwrap();
    assert_eq!(delta["kind"], "delta");
    assert_eq!(delta["counts"]["deleted"], 2);
    c.rejects("manifest.schema.json", without(&delta, "", "base"), "a delta without base");
    let mut null_base = delta.clone();
    null_base["base"] = Value::Null;
    c.rejects("manifest.schema.json", null_base, "a delta with a null base");
    c.rejects("manifest.schema.json", without(&delta, "/base", "invocation_id"), "a base without invocation_id");
    let mut bad_base = delta.clone();
    bad_base["base"]["invocation_id"] = json!(format!("{{{INVOCATION}}}"));
    c.rejects("manifest.schema.json", bad_base, "a base with a GUID in braces");
    let mut claims = manifest_claims(&delta_manifest());
    claims["manifest"].as_object_mut().unwrap().remove("base");
    c.rejects("manifest-claims.schema.json", claims, "a delta without base in the claims");
    let mut claims = manifest_claims(&manifest());
    claims["manifest"]["version"] = json!(0);
    c.rejects("manifest-claims.schema.json", claims, "a manifest of another version");
    let mut claims = manifest_claims(&manifest());
    claims.as_object_mut().unwrap().remove("jti");
    c.rejects("manifest-claims.schema.json", claims, "no jti");

    // Every signed agent route, as openapi.json (generated from the router) documents it.
    let doc = openapi();
    let mut signed_routes = 0;
    for (path, item) in doc["paths"].as_object().unwrap().iter().filter(|(p, _)| p.starts_with("/agent/v1/") && *p != "/agent/v1/register")
    {
        for method in item.as_object().unwrap().keys().filter(|m| HTTP_METHODS.contains(&m.as_str())) {
            let (method, path) = (method.to_uppercase(), path.replace("{id}", SNAPSHOT).replace("{index}", "0"));
            let errors = c.errors("request-token-claims.schema.json", &request_claims(&method, &path));
            assert!(errors.is_empty(), "{method} {path}: {errors:?}");
            signed_routes += 1;
        }
    }
    assert!(signed_routes > 0, "openapi.json documents no signed agent route");
    c.rejects("request-token-claims.schema.json", request_claims("get", "/agent/v1/job"), "a lower-case method");
    c.rejects("request-token-claims.schema.json", request_claims("GET", "/agent/v1/job?x=1"), "a query in htu");
    c.rejects("request-token-claims.schema.json", request_claims("GET", "https://roster.example/agent/v1/job"), "a URL for htu");
    let mut claims = request_claims("GET", "/agent/v1/job");
    claims["iat"] = json!("now");
    c.rejects("request-token-claims.schema.json", claims, "a string iat");
    let mut claims = request_claims("GET", "/agent/v1/job");
    claims.as_object_mut().unwrap().remove("bsh");
    c.rejects("request-token-claims.schema.json", claims, "no body digest");
    let mut claims = request_claims("GET", "/agent/v1/job");
    claims["bsh"] = json!(SHA.to_uppercase());
    c.rejects("request-token-claims.schema.json", claims, "an upper-case body digest");
}

#[test]
fn agent_api_bodies_match() {
    let c = Contract::load();
    let s = |def: &str| format!("agent-api.schema.json#/$defs/{def}");
    for action in
        [CommandAction::Push { full: true }, CommandAction::Push { full: false }, CommandAction::LoadStructure, CommandAction::Check]
    {
        c.check(
            &s("command"),
            &Command { id: "0191e3f4-7c1a-7d2e-8f00-00000000abcd".parse().unwrap(), action, issued_at: datetime!(2026-11-25 02:00:00 UTC) },
        );
    }
    let command = json!({"id": "0191e3f4-7c1a-7d2e-8f00-00000000abcd", "action": {"kind": "push", "full": false}, "issued_at": "2026-11-25T02:00:00Z"});
    c.rejects(&s("command"), with(&command, "/action/kind", json!("reboot")), "an unknown kind");
    c.rejects(&s("command"), without(&command, "/action", "full"), "a push without full");
    c.check(
        &s("commandResult"),
        &CommandResult { outcome: CommandOutcome::Succeeded, message: "pushed".into(), snapshot_id: Some(id(SNAPSHOT)) },
    );
    c.check(
        &s("commandResult"),
        &CommandResult { outcome: CommandOutcome::Failed, message: "ldap: the DC refused the bind".into(), snapshot_id: None },
    );
    c.rejects(&s("commandResult"), json!({"outcome": "maybe", "message": ""}), "an unknown outcome");
    c.rejects(&s("commandResult"), json!({"outcome": "failed"}), "no message");
    let beat = Heartbeat { version: "0.1.0".into(), host_name: "dc01".into(), os: "linux".into(), dc_reachable: true, last_error: None };
    c.check(&s("heartbeat"), &beat);
    c.check(&s("heartbeat"), &Heartbeat { dc_reachable: false, last_error: Some("ldap: connection refused".into()), ..beat.clone() });
    c.rejects(&s("heartbeat"), without(&to_json(&beat), "", "last_error"), "no last_error (always written)");
    let held = roster_proto::agent::Lease { active: true, fencing_token: Some(7), expires_at: datetime!(2026-12-02 09:00:00 UTC) };
    c.check(&s("lease"), &held);
    c.check(&s("lease"), &roster_proto::agent::Lease { active: false, fencing_token: None, ..held.clone() });
    c.rejects(&s("lease"), without(&to_json(&held), "", "fencing_token"), "no fencing_token (always written)");
    let public_key = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
    c.check(&s("rotateKey"), &roster_proto::agent::RotateKey { public_key: public_key.into(), proof: jwt(&rotation_claims()) });
    c.rejects(&s("rotateKey"), json!({}), "no public key");
    c.rejects(&s("rotateKey"), json!({"public_key": public_key}), "no proof of the new key");
    c.rejects(&s("rotateKey"), json!({"public_key": public_key, "proof": "not a JWS"}), "a proof that is no JWS");
    let errors = c.errors(&s("rotationProofClaims"), &rotation_claims());
    assert!(errors.is_empty(), "rotation claims: {errors:?}");
    let mut claims = rotation_claims();
    claims.as_object_mut().unwrap().remove("replaces");
    c.rejects(&s("rotationProofClaims"), claims, "no key it replaces");
    c.check(
        &s("registerRequest"),
        &RegisterRequest {
            token: "rst_reg_3q2-7wEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into(),
            public_key: public_key.into(),
            hostname: Some("SRV-AD01".into()),
            agent_version: Some("0.1.0".into()),
        },
    );
    c.check(
        &s("registerRequest"),
        &RegisterRequest { token: "rst_reg_x".into(), public_key: public_key.into(), hostname: None, agent_version: None },
    );
    c.rejects(&s("registerRequest"), json!({"token": "t", "public_key": "c2hvcnQ="}), "a public key that is not 32 bytes");
    c.rejects(&s("registerRequest"), json!({"token": "t", "public_key": "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo"}), "an unpadded key");
    c.rejects(&s("registerRequest"), json!({"public_key": public_key}), "no token");

    c.check(
        &s("registerResponse"),
        &RegisterResponse { agent_id: id(AGENT), tenant_id: id(TENANT), job_id: id(JOB), audience: AUDIENCE.into() },
    );

    // The three answers the server gives: no state yet, a delta welcome, a reconciliation due.
    let no_state = SyncAdvice { base: None, full_required: Some("the server holds no directory state for this job yet".into()) };
    let delta_welcome = SyncAdvice { base: Some(watermark(41_870)), full_required: None };
    let full_due =
        SyncAdvice { base: Some(watermark(41_870)), full_required: Some("the full reconciliation (every 7 days) is due".into()) };
    for sync in [&no_state, &delta_welcome, &full_due] {
        c.check(&s("syncAdvice"), sync);
    }
    let scope = JobScope {
        relative_paths: vec!["OU=Staff".into(), "*".into()],
        group_paths: vec!["OU=Groups".into()],
        user_filter: Some("(employeeType=staff)".into()),
    };
    c.check(
        &s("agentJob"),
        &AgentJob { job_id: id(JOB), name: "Corp HQ".into(), scope, sync: delta_welcome.clone(), sync_mode: SyncMode::Continuous },
    );
    let minimal_scope = JobScope { relative_paths: vec!["*".into()], group_paths: vec![], user_filter: None };
    for sync in [no_state, full_due] {
        c.check(
            &s("agentJob"),
            &AgentJob { job_id: id(JOB), name: "Corp HQ".into(), scope: minimal_scope.clone(), sync, sync_mode: SyncMode::Scheduled },
        );
    }
    let null_sync = json!({"base": null, "full_required": null});
    let job: AgentJob = c.accepts(&s("agentJob"), json!({"job_id": JOB, "name": "n", "relative_paths": ["*"], "sync": null_sync}));
    assert!(job.scope.group_paths.is_empty());
    let written = serde_json::to_value(&job).unwrap();
    assert_eq!(written["sync"], null_sync, "both sync members are written even when null");
    c.rejects(
        &s("agentJob"),
        json!({"job_id": JOB, "name": "n", "relative_paths": ["*"], "scope": {}, "sync": null_sync}),
        "an unflattened scope",
    );
    c.rejects(&s("agentJob"), json!({"job_id": JOB, "name": "n", "sync": null_sync}), "no relative_paths");
    c.rejects(&s("agentJob"), json!({"job_id": JOB, "name": "n", "relative_paths": ["*"]}), "no sync");
    c.rejects(&s("agentJob"), json!({"job_id": JOB, "name": "n", "relative_paths": ["*"], "sync": null}), "a null sync");
    c.rejects(&s("syncAdvice"), json!({"base": null}), "no full_required (it is null, never left out)");
    c.rejects(&s("syncAdvice"), json!({"full_required": null}), "no base (it is null, never left out)");
    c.rejects(&s("syncAdvice"), json!({"base": null, "full_required": true}), "a boolean full_required");
    c.rejects(
        &s("syncAdvice"),
        json!({"base": {"dns_host_name": "dc01.corp.example.test", "usn": 41_870}, "full_required": null}),
        "a watermark without invocation_id",
    );
    c.rejects(
        &s("syncAdvice"),
        json!({"base": {"dns_host_name": "dc01", "invocation_id": INVOCATION, "usn": "41870"}, "full_required": null}),
        "a string USN",
    );

    c.check(&s("offerSnapshot"), &OfferSnapshot { manifest_token: jwt(&manifest_claims(&manifest())), chunks: Vec::new(), commit: false });
    c.check(
        &s("offerSnapshot"),
        &OfferSnapshot { manifest_token: jwt(&manifest_claims(&delta_manifest())), chunks: Vec::new(), commit: false },
    );
    let inline = vec![InlineChunk::new(0, b"\x1f\x8b one chunk"), InlineChunk::new(1, b"")];
    c.check(&s("offerSnapshot"), &OfferSnapshot { manifest_token: jwt(&manifest_claims(&delta_manifest())), chunks: inline, commit: true });
    c.rejects(&s("offerSnapshot"), json!({"manifest_token": serde_json::to_string(&manifest()).unwrap()}), "a bare manifest");
    let token = jwt(&manifest_claims(&delta_manifest()));
    c.rejects(&s("offerSnapshot"), json!({"manifest_token": token, "chunks": [{"index": 0, "bytes": "H4s"}]}), "unpadded base64");
    c.rejects(&s("offerSnapshot"), json!({"manifest_token": token, "chunks": [{"index": 0, "bytes": "H4-_"}]}), "base64url");
    c.rejects(&s("offerSnapshot"), json!({"manifest_token": token, "chunks": [{"index": -1, "bytes": ""}]}), "a negative index");
    c.rejects(&s("offerSnapshot"), json!({"manifest_token": token, "commit": "yes"}), "a string commit");
    assert_eq!(InlineChunk::new(3, b"\x00\xffab").decode().as_deref(), Some(&b"\x00\xffab"[..]), "bytes round-trip");
    for text in ["H4s", "H4-_", "AB==\n", "AB=A"] {
        assert_eq!(InlineChunk { index: 0, bytes: text.into() }.decode(), None, "{text:?} is not canonical padded base64");
    }

    let receiving = SnapshotState { snapshot_id: id(SNAPSHOT), status: SnapshotStatus::Receiving, missing_chunks: vec![1] };
    c.check(&s("offerResponse"), &OfferResponse { state: receiving, commit: None });
    let committed = SnapshotState { snapshot_id: id(SNAPSHOT), status: SnapshotStatus::Committed, missing_chunks: vec![] };
    let commit = CommitResponse { snapshot_id: id(SNAPSHOT), session: Some(queued_session()), message: "imported at once".into() };
    c.check(&s("offerResponse"), &OfferResponse { state: committed, commit: Some(commit) });
    c.rejects(
        &s("offerResponse"),
        json!({"snapshot_id": SNAPSHOT, "status": "committed", "missing_chunks": [], "commit": null}),
        "a null commit",
    );

    for status in [SnapshotStatus::Receiving, SnapshotStatus::Committed] {
        let missing = if status == SnapshotStatus::Receiving { vec![0, 2] } else { vec![] };
        c.check(&s("snapshotState"), &SnapshotState { snapshot_id: id(SNAPSHOT), status, missing_chunks: missing });
    }
    c.rejects(&s("snapshotState"), json!({"snapshot_id": SNAPSHOT, "status": "stored", "missing_chunks": []}), "an unknown status");

    c.check(
        &s("commitResponse"),
        &CommitResponse {
            snapshot_id: id(SNAPSHOT),
            session: Some(queued_session()),
            message: "first snapshot of the job: imported at once".into(),
        },
    );
    c.check(&s("commitResponse"), &CommitResponse { snapshot_id: id(SNAPSHOT), session: None, message: "snapshot stored".into() });
    c.rejects(&s("commitResponse"), json!({"snapshot_id": SNAPSHOT, "session": null, "message": "m"}), "a null session");
}

#[test]
fn admin_api_bodies_match() {
    let c = Contract::load();
    let s = |def: &str| format!("admin-api.schema.json#/$defs/{def}");

    let seen = roster_proto::admin::Agent {
        id: id(USER_ID),
        job_id: id(JOB),
        state: AgentState::Revoked,
        active: false,
        os: Some("windows 10.0.20348".into()),
        dc_reachable: Some(true),
        last_error: Some("ldap: the DC refused the bind".into()),
        last_push_at: Some(datetime!(2026-11-25 02:00:01 UTC)),
        hostname: Some("dc-host".into()),
        agent_version: Some("0.1.0".into()),
        registered_at: datetime!(2026-11-24 09:30:00 UTC),
        last_seen_at: Some(datetime!(2026-11-25 02:00:03.25 UTC)),
        revoked_at: Some(datetime!(2026-11-25 08:00:00 UTC)),
    };
    let fresh = roster_proto::admin::Agent {
        state: AgentState::Offline,
        hostname: None,
        os: None,
        dc_reachable: None,
        last_error: None,
        last_push_at: None,
        agent_version: None,
        last_seen_at: None,
        revoked_at: None,
        ..seen.clone()
    };
    c.check(&s("agentPage"), &Page { items: vec![seen, fresh.clone()], next_cursor: Some("abc".into()) });
    let mut no_revoked = serde_json::to_value(roster_proto::admin::Agent { revoked_at: None, ..fresh.clone() }).unwrap();
    no_revoked.as_object_mut().unwrap().remove("revoked_at");
    c.rejects(&s("agent"), no_revoked, "no revoked_at");

    c.check(
        &s("createJob"),
        &CreateJob {
            name: "Corp HQ".into(),
            relative_paths: vec!["OU=Staff".into()],
            group_paths: vec!["OU=Groups".into()],
            schedule: Some(Schedule {
                enabled: false,
                daily_at: "23:59".parse().unwrap(),
                time_zone: "America/New_York".into(),
                interval_minutes: Some(30),
            }),
            full_sync_interval_days: Some(3),
            user_filter: Some("(department=Sales)".into()),
            policy: Some(SafeguardPolicy::default()),
            sync_mode: None,
        },
    );
    c.check(
        &s("createJob"),
        &CreateJob {
            name: "Corp HQ".into(),
            relative_paths: vec!["*".into()],
            group_paths: vec![],
            schedule: None,
            full_sync_interval_days: None,
            user_filter: None,
            policy: None,
            sync_mode: None,
        },
    );
    let input: CreateJob = c.accepts(&s("createJob"), json!({"name": "Corp HQ", "relative_paths": ["OU=Staff"]}));
    assert!(input.group_paths.is_empty() && input.schedule.is_none() && input.full_sync_interval_days.is_none());
    let input: CreateJob = c.accepts(
        &s("createJob"),
        json!({"name": "n", "relative_paths": ["*"], "schedule": {"daily_at": "02:30", "time_zone": "Europe/Copenhagen"}}),
    );
    assert_eq!(
        input.schedule,
        Some(Schedule { enabled: true, daily_at: "02:30".parse().unwrap(), time_zone: "Europe/Copenhagen".into(), interval_minutes: None }),
        "enabled unless it says otherwise, once a day"
    );
    for (schedule, why) in [
        (json!({"daily_at": "2:30", "time_zone": "UTC"}), "a bad time"),
        (json!({"daily_at": "24:00", "time_zone": "UTC"}), "a bad time"),
        (json!({"daily_at": "02:30"}), "no time zone"),
        (json!({"time_zone": "UTC"}), "no time"),
        (json!({"daily_at": "02:30", "time_zone": ""}), "a blank time zone"),
        (json!({"daily_at": "02:30", "time_zone": "UTC", "interval_minutes": 4}), "an interval under 5 minutes"),
        (json!({"daily_at": "02:30", "time_zone": "UTC", "interval_minutes": 1441}), "an interval over a day"),
        (json!({"daily_at": "02:30", "time_zone": "UTC", "every": 5}), "an unknown member"),
    ] {
        c.rejects(&s("createJob"), json!({"name": "n", "relative_paths": ["*"], "schedule": schedule}), why);
    }
    c.check(
        &s("scheduledRuns"),
        &ScheduledRuns {
            schedule: job().schedule,
            runs: vec![
                ScheduledRun {
                    at: datetime!(2027-03-27 01:31:10 UTC),
                    local: "2027-03-27T02:31:10+01:00".into(),
                    slot: "2027-03-27T02:30".into(),
                    dst_day: false,
                    dst_note: None,
                },
                ScheduledRun {
                    at: datetime!(2027-03-28 01:01:10 UTC),
                    local: "2027-03-28T03:01:10+02:00".into(),
                    slot: "2027-03-28T02:30".into(),
                    dst_day: true,
                    dst_note: Some("02:30 does not exist on 2027-03-28 in Europe/Copenhagen: runs at 03:00, the end of the gap".into()),
                },
            ],
        },
    );
    c.check(&s("startImport"), &StartImport { fresh: true });
    let start: StartImport = c.accepts(&s("startImport"), json!({}));
    assert!(!start.fresh);
    c.rejects(&s("startImport"), json!({"fresh": "yes"}), "a string for fresh");
    for days in [1, 365] {
        let input: CreateJob = c.accepts(&s("createJob"), json!({"name": "n", "relative_paths": ["*"], "full_sync_interval_days": days}));
        assert_eq!(input.full_sync_interval_days, Some(days));
    }
    for (days, why) in [
        (json!(0), "full_sync_interval_days: 0"),
        (json!(366), "full_sync_interval_days: 366"),
        (json!(-7), "a negative interval"),
        (json!("7"), "a string interval"),
        (json!(null), "a null interval"),
    ] {
        c.rejects(&s("createJob"), json!({"name": "n", "relative_paths": ["*"], "full_sync_interval_days": days}), why);
    }
    c.rejects(&s("createJob"), json!({"name": "n", "relative_paths": []}), "no relative path");
    c.rejects(&s("createJob"), json!({"name": "n", "relative_paths": ["  "]}), "only blank relative paths");
    c.rejects(&s("createJob"), json!({"name": "   ", "relative_paths": ["*"]}), "a blank name");
    c.rejects(&s("createJob"), json!({"name": "n", "relative_paths": ["*"], "schedule_time": "02:30"}), "the old schedule_time");
    c.rejects(
        &s("createJob"),
        json!({"name": "n", "relative_paths": ["*"], "user_filter": "department=Sales"}),
        "an unparenthesised filter",
    );
    c.check(&s("job"), &Job { user_filter: None, ..job() });

    c.check(&s("job"), &job());
    c.check(&s("job"), &Job { full_sync_interval_days: 365, group_paths: vec!["OU=Groups".into()], ..job() });
    let mut no_interval = serde_json::to_value(job()).unwrap();
    no_interval.as_object_mut().unwrap().remove("full_sync_interval_days");
    c.rejects(&s("job"), no_interval, "no full_sync_interval_days");
    c.check(&s("jobPage"), &Page { items: vec![job()], next_cursor: None });
    c.check(&s("jobPage"), &Page::<Job> { items: vec![], next_cursor: None });
    c.rejects(&s("jobPage"), json!({"items": []}), "no next_cursor");
    let mut bad = serde_json::to_value(job()).unwrap();
    bad["created_at"] = json!("yesterday");
    c.rejects(&s("job"), bad, "a bad date-time");

    c.check(
        &s("registrationToken"),
        &RegistrationToken {
            job_id: id(JOB),
            token: "rst_reg_3q2-7wEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into(),
            expires_at: datetime!(2026-11-26 09:30:00.5 UTC),
        },
    );

    for kind in AccessKind::ALL {
        c.check(&s("createAccess"), &CreateAccess { kind, name: "Copenhagen".into() });
        c.check(&s("access"), &Access { id: id(ACCESS), kind, name: "Copenhagen".into() });
        c.check(&s("accessRef"), &AccessRef { id: id(ACCESS), kind, name: "Copenhagen".into() });
    }
    c.check(
        &s("accessPage"),
        &Page { items: vec![Access { id: id(ACCESS), kind: AccessKind::Vip, name: "Lounge".into() }], next_cursor: None },
    );
    c.rejects(&s("createAccess"), json!({"kind": "guest", "name": "Lobby"}), "an unknown access kind");
    c.rejects(&s("createAccess"), json!({"kind": "User", "name": "Lobby"}), "an enum value in the wrong case");
    c.rejects(&s("createAccess"), json!({"kind": "user", "name": ""}), "an empty name");

    let inputs = vec![
        LinkInput { group: "CN=Sales,OU=Groups,DC=corp,DC=example,DC=test".into(), access_id: id(ACCESS) },
        LinkInput { group: format!("{{{}}}", SALES.to_uppercase()), access_id: id(ACCESS) },
    ];
    c.check(&s("linkInputs"), &inputs);
    c.check(&s("linkInputs"), &Vec::<LinkInput>::new());
    c.accepts::<Vec<LinkInput>>(&s("linkInputs"), json!([{"group": "Sales DK", "access_id": ACCESS}]));
    c.rejects(&s("linkInputs"), json!([{"group": "   ", "access_id": ACCESS}]), "a blank group");
    c.rejects(&s("linkInputs"), json!([{"group": "tab\there", "access_id": ACCESS}]), "a name with a control character");
    c.rejects(&s("linkInputs"), json!({"group": "CN=Sales", "access_id": ACCESS}), "a single link instead of a list");
    c.check(
        &s("links"),
        &vec![
            Link { group: inputs[0].group.clone(), access_id: id(ACCESS), group_guid: Some(guid(SALES)) },
            Link { group: "CN=Not Yet,DC=corp".into(), access_id: id(ACCESS), group_guid: None },
        ],
    );

    c.check(&s("user"), &user(true));
    c.check(&s("user"), &user(false));
    c.check(&s("userPage"), &Page { items: vec![user(true), user(false)], next_cursor: Some(USER_ID.into()) });
    let mut no_email = serde_json::to_value(user(true)).unwrap();
    no_email.as_object_mut().unwrap().remove("email");
    c.rejects(&s("user"), no_email, "no email (it is null, never left out)");

    c.check(&s("session"), &finished_session());
    c.check(&s("session"), &queued_session());
    for trigger in [SessionTrigger::FirstPush, SessionTrigger::Manual, SessionTrigger::Schedule] {
        for status in session_statuses() {
            c.check(&s("session"), &Session { trigger, ..session_in(status) });
        }
    }
    c.check(
        &s("sessionPage"),
        &Page {
            items: vec![finished_session(), queued_session()],
            next_cursor: Some("1795576805125.45c48cce-2e2d-4fbd-aa1a-fc51c7c4b8e1".into()),
        },
    );
    let mut bad = serde_json::to_value(finished_session()).unwrap();
    bad["status"] = json!("done");
    c.rejects(&s("session"), bad, "an unknown session status");
    let mut bad = serde_json::to_value(finished_session()).unwrap();
    bad["trigger"] = json!("cron");
    c.rejects(&s("session"), bad, "an unknown trigger");

    let changes: Vec<SessionChange> = ChangeAction::ALL
        .into_iter()
        .map(|action| SessionChange {
            user_id: Some(id(USER_ID)),
            object_guid: guid(ANN),
            username: "ann".into(),
            action,
            details: vec![field("email", Some("a@x"), Some("b@x")), ChangeDetail::AccessGained(copenhagen())],
        })
        .collect();
    for change in &changes {
        c.check(&s("sessionChange"), change);
    }
    c.check(&s("sessionChangePage"), &Page { items: changes, next_cursor: Some("100".into()) });
    c.rejects(
        &s("sessionChange"),
        json!({"user_id": USER_ID, "object_guid": ANN, "username": "ann", "action": "deleted", "details": []}),
        "an unknown action",
    );

    for expires in [None, Some(datetime!(2027-01-01 12:00 UTC))] {
        let created = CreatedTenant {
            tenant_id: id(TENANT),
            name: "Example A/S".into(),
            admin_token: "rst_admin_AAAA".into(),
            admin_token_expires_at: expires,
        };
        c.check(&s("createdTenant"), &created);
    }

    let used = roster_proto::admin::AdminToken {
        id: id(USER_ID),
        label: Some("console".into()),
        created_at: datetime!(2026-11-24 09:30:00 UTC),
        expires_at: Some(datetime!(2027-02-22 09:30:00 UTC)),
        last_used_at: Some(datetime!(2026-11-25 08:00:00 UTC)),
    };
    let first = roster_proto::admin::AdminToken { label: None, expires_at: None, last_used_at: None, ..used.clone() };
    c.check(&s("adminTokenPage"), &Page { items: vec![used.clone(), first], next_cursor: None });
    c.check(&s("createdAdminToken"), &roster_proto::admin::CreatedAdminToken { token: used, admin_token: "rst_admin_AAAA".into() });
    c.check(&s("createAdminToken"), &roster_proto::admin::CreateAdminToken::default());
    c.check(
        &s("createAdminToken"),
        &roster_proto::admin::CreateAdminToken {
            label: Some("ci".into()),
            expires_in_days: Some(roster_proto::admin::MAX_ADMIN_TOKEN_DAYS),
        },
    );
    c.rejects(&s("createAdminToken"), json!({"expires_in_days": 0}), "no life");
    c.rejects(&s("createAdminToken"), json!({"expires_in_days": 3651}), "longer than allowed");
    c.rejects(&s("createAdminToken"), json!({"expires_at": "2027-01-01T00:00:00Z"}), "an unknown member");
    c.rejects(&s("createdAdminToken"), json!({"id": USER_ID, "created_at": "2026-11-24T09:30:00Z"}), "no value");
}

/// A copy of `document` with the value at `pointer` replaced.
fn with(document: &Value, pointer: &str, value: Value) -> Value {
    let mut v = document.clone();
    *v.pointer_mut(pointer).unwrap_or_else(|| panic!("{pointer} is not in {document}")) = value;
    v
}

/// A copy of `document` without `member` of the object at `pointer`.
fn without(document: &Value, pointer: &str, member: &str) -> Value {
    let mut v = document.clone();
    let removed = v.pointer_mut(pointer).and_then(Value::as_object_mut).and_then(|object| object.remove(member));
    assert!(removed.is_some(), "{pointer}/{member} is not in {document}");
    v
}

fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap()
}

fn strict_policy() -> SafeguardPolicy {
    SafeguardPolicy {
        max_deactivations: Budget { count: 25, percent: 2 },
        max_lost_basic: Budget { count: 50, percent: 5 },
        min_active_users: 100,
    }
}

#[test]
fn safeguard_policy_and_settings_match() {
    let c = Contract::load();
    let s = |def: &str| format!("admin-api.schema.json#/$defs/{def}");

    // The policy, alone (GET/PUT .../policy), on a job, and in a new job.
    let nothing_may_go = SafeguardPolicy {
        max_deactivations: Budget { count: 0, percent: 0 },
        max_lost_basic: Budget { count: 0, percent: 0 },
        min_active_users: 0,
    };
    let anything_goes = SafeguardPolicy {
        max_deactivations: Budget { count: u64::MAX, percent: 100 },
        max_lost_basic: Budget { count: u64::MAX, percent: 100 },
        min_active_users: u64::MAX,
    };
    for policy in [SafeguardPolicy::default(), strict_policy(), nothing_may_go, anything_goes] {
        c.check(&s("safeguardPolicy"), &policy);
        c.check(&s("budget"), &policy.max_lost_basic);
        c.check(&s("job"), &Job { policy, ..job() });
    }
    c.check(
        &s("createJob"),
        &CreateJob {
            name: "Payroll".into(),
            relative_paths: vec!["OU=Payroll".into()],
            group_paths: vec![],
            schedule: None,
            full_sync_interval_days: None,
            user_filter: None,
            policy: Some(strict_policy()),
            sync_mode: None,
        },
    );
    let policy = to_json(&SafeguardPolicy::default());
    assert_eq!(
        policy,
        json!({"max_deactivations": {"count": 500, "percent": 10}, "max_lost_basic": {"count": 500, "percent": 10}, "min_active_users": 20})
    );
    for (document, why) in [
        (with(&policy, "/max_deactivations/percent", json!(101)), "a percent above 100"),
        (with(&policy, "/max_lost_basic/percent", json!(10.5)), "a percent that is not an integer"),
        (with(&policy, "/max_lost_basic/percent", json!("10")), "a string percent"),
        (with(&policy, "/max_deactivations/percent", json!(-1)), "a negative percent"),
        (with(&policy, "/max_deactivations/count", json!(-5)), "a negative count"),
        (with(&policy, "/max_deactivations/count", json!(2.5)), "a fractional count"),
        (with(&policy, "/min_active_users", json!(null)), "a null min_active_users"),
        (without(&policy, "", "min_active_users"), "no min_active_users"),
        (without(&policy, "", "max_lost_basic"), "no max_lost_basic"),
        (without(&policy, "/max_deactivations", "count"), "a budget without count"),
        (without(&policy, "/max_deactivations", "percent"), "a budget without percent"),
        (with(&policy, "/max_deactivations", json!(500)), "a bare count for a budget"),
        (with(&policy, "/max_deactivations", json!({"count": 500, "percent": 10, "ratio": 0.1})), "an extra member in a budget"),
    ] {
        c.rejects(&s("safeguardPolicy"), document.clone(), why);
        let mut job = to_json(&job());
        job["policy"] = document.clone();
        c.rejects(&s("job"), job, why);
        c.rejects(&s("createJob"), json!({"name": "n", "relative_paths": ["*"], "policy": document}), why);
    }
    let mut extra = policy.clone();
    extra["mode"] = json!("strict");
    c.rejects(&s("safeguardPolicy"), extra, "an extra member");
    c.rejects(&s("job"), without(&to_json(&job()), "", "policy"), "a job without policy (always written)");
    c.rejects(&s("createJob"), json!({"name": "n", "relative_paths": ["*"], "policy": null}), "a null policy");
    // Bounds the server refuses with 422 are the schema's bounds.
    let budget: Budget = c.accepts(&s("budget"), json!({"count": 0, "percent": 100}));
    assert_eq!(budget.allowance(1_000), 0);
    let input: CreateJob = c.accepts(&s("createJob"), json!({"name": "n", "relative_paths": ["*"]}));
    assert_eq!(input.policy, None, "no policy: the server applies the defaults");

    // Tenant settings.
    for settings in [
        TenantSettings::default(),
        TenantSettings { purge_after_days: 7, session_retention_days: Some(365) },
        TenantSettings { purge_after_days: 1, session_retention_days: Some(1) },
        TenantSettings { purge_after_days: 3650, session_retention_days: Some(u32::MAX) },
    ] {
        c.check(&s("tenantSettings"), &settings);
    }
    assert_eq!(to_json(&TenantSettings::default()), json!({"purge_after_days": 30}), "forever is written as no retention");
    let settings: TenantSettings = c.accepts(&s("tenantSettings"), json!({"purge_after_days": 30}));
    assert_eq!(settings, TenantSettings::default());
    for (document, why) in [
        (json!({"purge_after_days": 0}), "purge_after_days: 0"),
        (json!({"purge_after_days": 3651}), "purge_after_days: 3651"),
        (json!({"purge_after_days": "30"}), "a string purge_after_days"),
        (json!({"purge_after_days": 30.5}), "a fractional purge_after_days"),
        (json!({"purge_after_days": 30, "session_retention_days": 0}), "session_retention_days: 0"),
        (json!({"purge_after_days": 30, "session_retention_days": null}), "a null session_retention_days (left out means forever)"),
        (json!({"purge_after_days": 30, "session_retention_days": 4_294_967_296_u64}), "a session_retention_days beyond u32"),
        (json!({"session_retention_days": 90}), "no purge_after_days"),
        (json!({"purge_after_days": 30, "purge_sessions": true}), "an extra member"),
    ] {
        c.rejects(&s("tenantSettings"), document, why);
    }
}

#[test]
fn held_sessions_and_decisions_match() {
    let c = Contract::load();
    let s = |def: &str| format!("admin-api.schema.json#/$defs/{def}");

    for session in [held_session(), approved_session(), failed_after_approval(), rejected_session(), superseded_session()] {
        c.check(&s("session"), &session);
    }
    c.check(&s("sessionPage"), &Page { items: vec![approved_session(), superseded_session()], next_cursor: None });
    // Every optional member of a session is set in one of them.
    let all_set = to_json(&failed_after_approval());
    for member in ["error", "held_reasons", "decided_by", "decided_at", "finished_at", "duration_ms"] {
        assert!(all_set.get(member).is_some(), "{member} is not written");
    }
    let agent_answer =
        roster_proto::agent::CommitResponse { snapshot_id: id(SNAPSHOT), session: Some(held_session()), message: "m".into() };
    c.check("agent-api.schema.json#/$defs/commitResponse", &agent_answer);

    // Members left out when empty or unset, and counts always written.
    let queued = to_json(&queued_session());
    for member in ["held_reasons", "decided_by", "decided_at"] {
        assert!(queued.get(member).is_none(), "{member} is written for a session that was never held: {queued}");
    }
    assert_eq!(queued["counts"]["reactivated"], json!(0));
    assert_eq!(queued["counts"]["lost_basic"], json!(0));
    let old_counts = json!({"created": 1, "updated": 2, "deactivated": 3, "unchanged": 4, "not_linked": 5});
    let counts: SessionCounts = c.accepts(&s("sessionCounts"), old_counts.clone());
    assert_eq!(
        counts,
        SessionCounts { created: 1, updated: 2, deactivated: 3, unchanged: 4, not_linked: 5, reactivated: 0, lost_basic: 0 }
    );
    let session: Session = c.accepts(&s("session"), with(&queued, "/counts", old_counts));
    assert_eq!((session.counts.reactivated, session.counts.lost_basic), (0, 0));

    let held = to_json(&held_session());
    let rejected = to_json(&rejected_session());
    c.rejects(&s("session"), without(&held, "", "held_reasons"), "a held session without held_reasons");
    c.rejects(&s("session"), with(&held, "/held_reasons", json!([])), "empty held_reasons (left out, never [])");
    c.rejects(&s("session"), with(&held, "/held_reasons", json!(HELD_REASON)), "a single held reason that is no list");
    c.rejects(&s("session"), with(&held, "/status", json!("Held")), "a status in the wrong case");
    c.rejects(&s("session"), with(&held, "/status", json!("on_hold")), "an unknown session status");
    c.rejects(&s("session"), with(&held, "/status", json!("approved")), "`approved`, which is no status (an approval queues)");
    c.rejects(&s("session"), without(&rejected, "", "decided_by"), "a rejected session without decided_by");
    c.rejects(&s("session"), without(&without(&rejected, "", "decided_by"), "", "decided_at"), "a rejected session without a decision");
    c.rejects(&s("session"), without(&rejected, "", "held_reasons"), "a rejected session without held_reasons");
    let approved = to_json(&approved_session());
    c.rejects(&s("session"), without(&approved, "", "decided_at"), "decided_by without decided_at");
    c.rejects(&s("session"), without(&approved, "", "decided_by"), "decided_at without decided_by");
    c.rejects(&s("session"), with(&approved, "/decided_at", json!("this morning")), "a decided_at that is no date-time");
    c.rejects(&s("session"), with(&approved, "/decided_by", json!(null)), "a null decided_by");
    c.rejects(&s("session"), with(&held, "/counts/lost_basic", json!(-1)), "a negative lost_basic");
    c.rejects(&s("session"), with(&held, "/counts/reactivated", json!(1.5)), "a fractional reactivated");
    c.rejects(&s("session"), with(&held, "/counts/reactivated", json!(null)), "a null reactivated");

    // Itemised changes: a planned creation has no user yet.
    let planned = planned_creation();
    c.check(&s("sessionChange"), &planned);
    assert!(to_json(&planned).get("user_id").is_none());
    for action in ChangeAction::ALL {
        c.check(&s("sessionChange"), &SessionChange { action, ..deactivation() });
    }
    c.check(&s("sessionChangePage"), &Page { items: vec![planned.clone(), deactivation(), reactivation()], next_cursor: Some("3".into()) });
    let change = to_json(&deactivation());
    c.rejects(&s("sessionChange"), without(&change, "", "user_id"), "a deactivation without user_id");
    c.rejects(&s("sessionChange"), with(&to_json(&reactivation()), "/user_id", json!(null)), "a null user_id");
    c.rejects(&s("sessionChange"), with(&change, "/user_id", json!("ann")), "a user_id that is no uuid");
    c.rejects(&s("sessionChange"), with(&change, "/action", json!("Reactivated")), "an action in the wrong case");
    c.rejects(&s("sessionChange"), with(&change, "/action", json!("deleted")), "an unknown action (imports never delete)");
    c.rejects(&s("sessionChange"), without(&change, "", "details"), "no details");

    // Every kind of detail, and every reason a user becomes inactive.
    let mut details = vec![
        field("title", Some("Clerk"), None),
        field("user_principal_name", None, Some("ann@corp.example.test")),
        ChangeDetail::AccessGained(AccessChange { id: id(ACCESS), kind: None, name: None }),
        ChangeDetail::Reactivated,
        ChangeDetail::Note { text: "email: a@x -> b@x".into() },
    ];
    for reason in DeactivationReason::ALL {
        details.push(ChangeDetail::Deactivated { reason });
        details.push(ChangeDetail::Inactive { reason });
    }
    for detail in &details {
        c.check(&s("changeDetail"), detail);
    }
    assert_eq!(
        to_json(&ChangeDetail::AccessLost(copenhagen())),
        json!({"type": "access_lost", "id": ACCESS, "kind": "user", "name": "Copenhagen"})
    );
    c.rejects(&s("changeDetail"), json!("+access user @ Copenhagen"), "words instead of data");
    c.rejects(&s("changeDetail"), json!({"type": "deactivated", "reason": "gone"}), "an unknown reason");
    c.rejects(&s("changeDetail"), json!({"type": "renamed"}), "an unknown type");
    c.rejects(&s("changeDetail"), json!({"type": "field", "old": "a"}), "a field without its name");
    c.rejects(&s("changeDetail"), json!({"type": "access_gained", "kind": "user"}), "an access without its id");

    // The optional body of approve and reject.
    c.check(&s("decision"), &Decision { by: Some("alice@corp.example.test".into()) });
    c.check(&s("decision"), &Decision::default());
    assert_eq!(to_json(&Decision::default()), json!({}));
    let decision: Decision = c.accepts(&s("decision"), json!({}));
    assert_eq!(decision.by, None);
    let decision: Decision = c.accepts(&s("decision"), json!({"by": "  bob  "}));
    assert_eq!(decision.by.as_deref(), Some("  bob  "), "the server trims, not the type");
    c.rejects(&s("decision"), json!({"by": null}), "a null by");
    c.rejects(&s("decision"), json!({"by": 42}), "a number for by");
    c.rejects(&s("decision"), json!({"by": "bob", "verdict": "approve"}), "an extra member");
    c.rejects(&s("decision"), json!("bob"), "a bare string");
}

/// Bo is new in AD: planned, not yet created.
fn planned_creation() -> SessionChange {
    SessionChange {
        user_id: None,
        object_guid: guid("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"),
        username: "bo".into(),
        action: ChangeAction::Created,
        details: vec![field("username", None, Some("bo")), ChangeDetail::AccessGained(copenhagen())],
    }
}

fn deactivation() -> SessionChange {
    SessionChange {
        user_id: Some(id(USER_ID)),
        object_guid: guid(ANN),
        username: "ann".into(),
        action: ChangeAction::Deactivated,
        details: vec![ChangeDetail::Deactivated { reason: DeactivationReason::GoneFromDirectory }, ChangeDetail::AccessLost(copenhagen())],
    }
}

fn reactivation() -> SessionChange {
    SessionChange { action: ChangeAction::Reactivated, details: vec![ChangeDetail::Reactivated], ..deactivation() }
}

fn field(name: &str, old: Option<&str>, new: Option<&str>) -> ChangeDetail {
    ChangeDetail::Field { field: name.into(), old: old.map(Into::into), new: new.map(Into::into) }
}

fn copenhagen() -> AccessChange {
    AccessChange { id: id(ACCESS), kind: Some(AccessKind::User), name: Some("Copenhagen".into()) }
}

fn plan_preview() -> PlanPreview {
    PlanPreview {
        snapshot_id: id(SNAPSHOT),
        counts: SessionCounts { created: 1, deactivated: 10, lost_basic: 10, reactivated: 1, unchanged: 18, not_linked: 2, updated: 0 },
        held_reasons: vec![HELD_REASON.into()],
        notes: vec![
            "linked group `CN=Gone,OU=Groups,DC=corp,DC=example,DC=test` is not in the snapshot (check the DN and the job's group paths)"
                .into(),
        ],
        changes: vec![planned_creation(), deactivation(), reactivation()],
        total_changes: 12,
    }
}

fn links_saved() -> LinksSaved {
    let copenhagen = AccessRef { id: id(ACCESS), kind: AccessKind::User, name: "Copenhagen".into() };
    let lounge = AccessRef { id: id("1679091c-5a88-4faf-b5e6-6d2c4b8a0e14"), kind: AccessKind::Vip, name: "Lounge".into() };
    LinksSaved {
        links: vec![
            Link { group: "CN=Sales,OU=Groups,DC=corp,DC=example,DC=test".into(), access_id: id(ACCESS), group_guid: Some(guid(SALES)) },
            Link { group: "CN=Not Yet,DC=corp".into(), access_id: lounge.id, group_guid: None },
        ],
        preview: LinksPreview {
            gains: vec![AccessDelta { access: copenhagen, users: 2, usernames: vec!["ann".into(), "bo".into()] }],
            // 250 users lose the lounge: the first 100 are named.
            losses: vec![AccessDelta { access: lounge, users: 250, usernames: (0..100).map(|i| format!("user{i:03}")).collect() }],
            counts: SessionCounts { created: 1, updated: 251, lost_basic: 0, unchanged: 900, not_linked: 3, ..SessionCounts::default() },
            notes: vec!["linked group `CN=Not Yet,DC=corp` is not in the snapshot (check the DN and the job's group paths)".into()],
        },
    }
}

#[test]
fn plans_link_previews_and_history_match() {
    let c = Contract::load();
    let s = |def: &str| format!("admin-api.schema.json#/$defs/{def}");

    // Dry runs.
    c.check(&s("planPreview"), &plan_preview());
    let nothing = PlanPreview {
        snapshot_id: id(SNAPSHOT),
        counts: SessionCounts::default(),
        held_reasons: vec![],
        notes: vec![],
        changes: vec![],
        total_changes: 0,
    };
    c.check(&s("planPreview"), &nothing);
    // `?limit=0`: counted, not listed.
    c.check(&s("planPreview"), &PlanPreview { changes: vec![], ..plan_preview() });
    let plan = to_json(&plan_preview());
    assert_eq!(plan["held_reasons"], json!([HELD_REASON]));
    assert_eq!(to_json(&nothing)["held_reasons"], json!([]), "held_reasons is written even when empty");
    assert!(plan["changes"][0].get("user_id").is_none(), "a planned creation has no user id");
    c.rejects(&s("planPreview"), without(&plan, "", "total_changes"), "no total_changes");
    c.rejects(&s("planPreview"), without(&plan, "", "held_reasons"), "no held_reasons (empty, never left out)");
    c.rejects(&s("planPreview"), with(&plan, "/total_changes", json!(-1)), "a negative total");
    c.rejects(&s("planPreview"), with(&plan, "/snapshot_id", json!("latest")), "a snapshot id that is no uuid");
    c.rejects(&s("planPreview"), with(&plan, "/changes/1/action", json!("purged")), "an unknown action");
    c.rejects(&s("planPreview"), without(&plan, "/changes/1", "user_id"), "a planned deactivation without user_id");
    c.rejects(
        &s("planPreview"),
        with(&plan, "/changes", json!(vec![plan["changes"][1].clone(); 10_001])),
        "more changes than a plan lists",
    );
    let mut extra = plan.clone();
    extra["session_id"] = json!(SESSION);
    c.rejects(&s("planPreview"), extra, "an extra member");

    // What PUT .../links answers.
    c.check(&s("linksSaved"), &links_saved());
    let before_first_snapshot = LinksSaved {
        links: vec![Link { group: format!("{{{}}}", SALES.to_uppercase()), access_id: id(ACCESS), group_guid: Some(guid(SALES)) }],
        preview: LinksPreview {
            gains: vec![],
            losses: vec![],
            counts: SessionCounts::default(),
            notes: vec!["the job has no snapshot yet: the links take effect at its first import".into()],
        },
    };
    c.check(&s("linksSaved"), &before_first_snapshot);
    c.check(&s("linksSaved"), &LinksSaved { links: vec![], ..before_first_snapshot });
    c.check(&s("linksPreview"), &links_saved().preview);
    c.check(&s("accessDelta"), &links_saved().preview.gains[0]);
    let saved = to_json(&links_saved());
    c.rejects(&s("linksSaved"), saved["links"].clone(), "the bare list of links PUT answered before");
    c.rejects(&s("linksSaved"), without(&saved, "", "preview"), "no preview");
    c.rejects(&s("linksSaved"), without(&saved, "/preview", "counts"), "a preview without counts");
    c.rejects(&s("linksSaved"), without(&saved, "/preview", "losses"), "a preview without losses (empty, never left out)");
    c.rejects(&s("linksSaved"), with(&saved, "/preview/gains/0/access/kind", json!("guest")), "an unknown access kind");
    c.rejects(&s("linksSaved"), with(&saved, "/preview/gains/0/access", json!(ACCESS)), "an access id for an access");
    c.rejects(&s("linksSaved"), with(&saved, "/preview/gains/0/users", json!(0)), "a delta of nobody");
    c.rejects(&s("linksSaved"), with(&saved, "/preview/gains/0/usernames", json!([])), "a delta naming nobody");
    let names: Vec<String> = (0..101).map(|i| format!("user{i:03}")).collect();
    c.rejects(&s("linksSaved"), with(&saved, "/preview/losses/0/usernames", json!(names)), "101 usernames");
    c.rejects(&s("linksSaved"), with(&saved, "/preview/losses/0/users", json!("250")), "a string user count");

    // A user's timeline.
    let entries: Vec<HistoryEntry> = [
        (
            SessionTrigger::FirstPush,
            ChangeAction::Created,
            vec![field("username", None, Some("ann")), ChangeDetail::AccessGained(copenhagen())],
        ),
        (SessionTrigger::Schedule, ChangeAction::Updated, vec![field("email", Some("ann@x"), Some("ann.berg@example.test"))]),
        (
            SessionTrigger::Schedule,
            ChangeAction::Deactivated,
            vec![ChangeDetail::Deactivated { reason: DeactivationReason::DisabledInDirectory }, ChangeDetail::AccessLost(copenhagen())],
        ),
        (SessionTrigger::Manual, ChangeAction::Reactivated, vec![ChangeDetail::Reactivated, ChangeDetail::AccessGained(copenhagen())]),
    ]
    .into_iter()
    .enumerate()
    .map(|(day, (trigger, action, details))| HistoryEntry {
        session_id: id(SESSION),
        trigger,
        at: datetime!(2026-11-24 02:00:04.5 UTC) + time::Duration::days(day as i64),
        action,
        details,
    })
    .collect();
    assert_eq!(entries.iter().map(|e| e.action).collect::<Vec<_>>(), ChangeAction::ALL, "the timeline shows every action");
    for entry in &entries {
        c.check(&s("historyEntry"), entry);
    }
    c.check(
        &s("historyPage"),
        &Page { items: entries.clone(), next_cursor: Some("1795576805125.45c48cce-2e2d-4fbd-aa1a-fc51c7c4b8e1".into()) },
    );
    c.check(&s("historyPage"), &Page::<HistoryEntry> { items: vec![], next_cursor: None });
    let entry = to_json(&entries[2]);
    c.rejects(&s("historyEntry"), with(&entry, "/action", json!("held")), "a session status for an action");
    c.rejects(&s("historyEntry"), with(&entry, "/trigger", json!("cron")), "an unknown trigger");
    c.rejects(&s("historyEntry"), with(&entry, "/at", json!("2026-11-24")), "a date without a time");
    c.rejects(&s("historyEntry"), with(&entry, "/session_id", json!(1)), "a number for a session id");
    c.rejects(&s("historyEntry"), without(&entry, "", "at"), "no at");
    c.rejects(&s("historyEntry"), without(&entry, "", "details"), "no details");
    c.rejects(&s("historyPage"), json!({"items": [entry]}), "no next_cursor");
}

/// The defaults the documents show are the Rust defaults.
#[test]
fn documented_defaults_are_the_rust_defaults() {
    let files = schema_files();
    let admin = &files["admin-api.schema.json"]["$defs"];
    assert_eq!(admin["safeguardPolicy"]["examples"][0], to_json(&SafeguardPolicy::default()));
    assert_eq!(admin["tenantSettings"]["properties"]["purge_after_days"]["examples"][0], json!(TenantSettings::default().purge_after_days));
    assert_eq!(admin["sessionCounts"]["properties"]["reactivated"]["default"], json!(SessionCounts::default().reactivated));
    assert_eq!(admin["sessionCounts"]["properties"]["lost_basic"]["default"], json!(SessionCounts::default().lost_basic));
    let doc = openapi();
    let example = |pointer: &str| doc.pointer(pointer).unwrap_or_else(|| panic!("openapi.json has no {pointer}")).clone();
    let responses =
        |path: &str| format!("/paths/{}/get/responses/200/content/application~1json/examples/default/value", path.replace('/', "~1"));
    assert_eq!(example(&responses("/api/v1/jobs/{job}/policy")), to_json(&SafeguardPolicy::default()));
    assert_eq!(example(&responses("/api/v1/settings")), to_json(&TenantSettings::default()));
    let plan_limit = example("/components/parameters/planLimit/schema");
    assert_eq!((plan_limit["default"].clone(), plan_limit["maximum"].clone()), (json!(100), json!(10_000)));
    assert_eq!(files["admin-api.schema.json"]["$defs"]["planPreview"]["properties"]["changes"]["maxItems"], plan_limit["maximum"]);
}

#[test]
fn problems_match() {
    let c = Contract::load();
    c.check(
        "problem.schema.json",
        &Problem {
            kind: ProblemKind::JobNameTaken.uri().into(),
            title: "Conflict".into(),
            status: 409,
            detail: Some("a job named `Corp HQ` already exists".into()),
        },
    );
    c.check(
        "problem.schema.json",
        &Problem { kind: ProblemKind::NotFound.uri().into(), title: "Not Found".into(), status: 404, detail: None },
    );
    c.check(
        "problem.schema.json",
        &Problem {
            kind: DELTA_BASE_MISMATCH.into(),
            title: "Conflict".into(),
            status: 409,
            detail: Some("a delta snapshot must name the watermark it builds on".into()),
        },
    );
    c.rejects("problem.schema.json", json!({"title": "Not Found", "status": 404}), "no type");
    c.rejects(
        "problem.schema.json",
        json!({"type": ProblemKind::NotFound.uri(), "title": "Not Found", "status": "404"}),
        "a string status",
    );
    c.rejects(
        "problem.schema.json",
        json!({"type": "urn:roster:problem:no-such-kind", "title": "Conflict", "status": 409}),
        "an unknown kind",
    );
}

/// Every enum's schema lists exactly the values serde writes for its variants.
#[test]
fn enums_are_exact() {
    fn written<T: Serialize>(values: &[T]) -> BTreeSet<String> {
        values.iter().map(|v| serde_json::to_value(v).unwrap().as_str().unwrap().to_owned()).collect()
    }
    let files = schema_files();
    let listed = |file: &str, pointer: &str| -> BTreeSet<String> {
        files[file]
            .pointer(pointer)
            .and_then(Value::as_array)
            .unwrap_or_else(|| panic!("{file}#{pointer} has no enum"))
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(listed("admin-api.schema.json", "/$defs/accessKind/enum"), written(&AccessKind::ALL));
    assert_eq!(
        listed("admin-api.schema.json", "/$defs/sessionTrigger/enum"),
        written(&[SessionTrigger::FirstPush, SessionTrigger::Manual, SessionTrigger::Schedule, SessionTrigger::Change])
    );
    assert_eq!(listed("agent-api.schema.json", "/$defs/syncMode/enum"), written(&SyncMode::ALL));
    for mode in SyncMode::ALL {
        assert_eq!(serde_json::to_value(mode).unwrap(), json!(mode.as_str()), "{mode:?}");
    }
    assert_eq!(listed("admin-api.schema.json", "/$defs/sessionStatus/enum"), written(&session_statuses()));
    for status in session_statuses() {
        assert_eq!(serde_json::to_value(status).unwrap(), json!(status.as_str()), "{status:?}");
        assert_eq!(SessionStatus::parse(status.as_str()), Some(status));
    }
    assert_eq!(listed("admin-api.schema.json", "/$defs/changeAction/enum"), written(&ChangeAction::ALL));
    for action in ChangeAction::ALL {
        assert_eq!(serde_json::to_value(action).unwrap(), json!(action.as_str()), "{action:?}");
        assert_eq!(ChangeAction::parse(action.as_str()), Some(action));
    }
    assert_eq!((SessionStatus::parse("Held"), ChangeAction::parse("deleted")), (None, None));
    assert_eq!(listed("admin-api.schema.json", "/$defs/deactivationReason/enum"), written(&DeactivationReason::ALL));
    for reason in DeactivationReason::ALL {
        assert_eq!(serde_json::to_value(reason).unwrap(), json!(reason.as_str()), "{reason:?}");
    }
    assert_eq!(
        listed("agent-api.schema.json", "/$defs/snapshotStatus/enum"),
        written(&[SnapshotStatus::Receiving, SnapshotStatus::Committed])
    );
    assert_eq!(listed("manifest.schema.json", "/$defs/snapshotKind/enum"), written(&[SnapshotKind::Full, SnapshotKind::Delta]));
    let tags: BTreeSet<String> = records().iter().map(|r| serde_json::to_value(r).unwrap()["type"].as_str().unwrap().to_owned()).collect();
    assert_eq!(listed("record.schema.json", "/properties/type/enum"), tags);
    assert_eq!(files["manifest.schema.json"]["properties"]["version"]["const"], json!(FORMAT_VERSION));
    assert_eq!(files["manifest.schema.json"]["$defs"]["chunkRef"]["properties"]["size"]["maximum"], json!(MAX_CHUNK_BYTES));
}

fn openapi() -> Value {
    read_json(&root().join("openapi.json"))
}

#[test]
fn openapi_documents_exactly_the_routes() {
    let doc = openapi();
    let version = doc["openapi"].as_str().expect("an openapi version");
    let minor = version.strip_prefix("3.1.").unwrap_or_else(|| panic!("openapi {version} is not 3.1.x"));
    assert!(!minor.is_empty() && minor.bytes().all(|b| b.is_ascii_digit()), "openapi {version} is not 3.1.x");

    let mut documented = BTreeSet::new();
    let mut operation_ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let path_params: Vec<&Value> = item.get("parameters").and_then(Value::as_array).map(|a| a.iter().collect()).unwrap_or_default();
        for (method, operation) in item.as_object().unwrap() {
            if !HTTP_METHODS.contains(&method.as_str()) {
                continue;
            }
            documented.insert((method.to_uppercase(), path.clone()));
            let op_id = operation["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            assert!(operation_ids.insert(op_id.to_owned()), "operationId {op_id} is used twice");

            // Every `{name}` of the template is a declared path parameter.
            let mut params = path_params.clone();
            params.extend(operation.get("parameters").and_then(Value::as_array).into_iter().flatten());
            let declared: BTreeSet<String> = params
                .iter()
                .map(|p| resolve(&doc, p))
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().unwrap().to_owned())
                .collect();
            let in_template: BTreeSet<String> =
                path.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}')).map(str::to_owned).collect();
            assert_eq!(declared, in_template, "{method} {path}: path parameters");

            // Agent routes carry request tokens; admin routes inherit the admin token.
            let security = operation.get("security");
            if path == "/health" || path == "/agent/v1/register" {
                assert_eq!(security, Some(&json!([])), "{method} {path} needs no credentials");
            } else if path.starts_with("/agent/v1/") {
                assert_eq!(security, Some(&json!([{"agentRequestToken": []}])), "{method} {path}");
            } else {
                assert_eq!(security, None, "{method} {path} should inherit the admin token");
            }

            // Every error is problem+json.
            let responses = operation["responses"].as_object().unwrap_or_else(|| panic!("{method} {path} has no responses"));
            assert!(responses.keys().any(|code| code.starts_with('2')), "{method} {path} has no success response");
            for (code, response) in responses {
                let response = resolve(&doc, response);
                if code.starts_with('4') || code.starts_with('5') {
                    let content = response["content"].as_object().unwrap_or_else(|| panic!("{method} {path} {code} has no content"));
                    assert!(content.contains_key("application/problem+json"), "{method} {path} {code} is not problem+json");
                }
            }
            // A JSON body can be too large; an admin token can be refused or out of rate.
            if operation.pointer("/requestBody/content/application~1json").is_some() {
                assert!(responses.contains_key("413"), "{method} {path} takes a JSON body and documents no 413");
            }
            if path.starts_with("/api/v1/") {
                for code in ["401", "429"] {
                    assert!(responses.contains_key(code), "{method} {path} documents no {code}");
                }
            }
        }
    }
    // The route set itself is the router's: openapi.json is generated from it, and
    // roster-server's `tests/contract.rs` checks that the committed copy is fresh and that
    // every documented operation is routed.
    assert!(documented.contains(&("GET".to_owned(), "/health".to_owned())), "openapi.json documents no /health: {documented:?}");
}

#[test]
fn openapi_refs_resolve_into_the_schema_files() {
    let doc = openapi();
    let files = schema_files();
    let c = Contract::load();
    for reference in refs(&doc) {
        let (file, pointer) = reference.split_once('#').unwrap_or((reference.as_str(), ""));
        if file.is_empty() {
            assert!(doc.pointer(pointer).is_some(), "openapi.json: $ref {reference} points nowhere");
        } else if let Some(name) = file.strip_prefix("json/") {
            let schema = files.get(name).unwrap_or_else(|| panic!("openapi.json: $ref {reference} names no schema file"));
            assert!(schema.pointer(pointer).is_some(), "openapi.json: $ref {reference} points nowhere");
            // And a validator can be built from it through the registry.
            c.validator(&reference["json/".len()..]);
        } else {
            panic!("openapi.json: $ref {reference} is neither local nor into json/");
        }
    }
    // One source of truth: component schemas only point into json/.
    for (name, schema) in doc["components"]["schemas"].as_object().expect("components.schemas") {
        let object = schema.as_object().unwrap();
        assert!(
            object.len() == 1 && object["$ref"].as_str().is_some_and(|r| r.starts_with("json/")),
            "components.schemas.{name} must be a bare $ref into json/, not a copy"
        );
    }
}

/// Request and response examples in openapi.json are valid bodies, and the two snapshot routes
/// that can refuse a delta's base show that problem's `type`.
#[test]
fn openapi_examples_are_valid() {
    let doc = openapi();
    let c = Contract::load();
    let mut mismatch_shown = BTreeSet::new();
    let mut examples_seen = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().unwrap() {
            if !HTTP_METHODS.contains(&method.as_str()) {
                continue;
            }
            // (status code or "request", its content)
            let mut contents: Vec<(&str, &Value)> = Vec::new();
            for (code, response) in operation["responses"].as_object().unwrap() {
                contents.extend(resolve(&doc, response).get("content").map(|content| (code.as_str(), content)));
            }
            contents.extend(operation.pointer("/requestBody/content").map(|content| ("request", content)));
            for (code, content) in contents {
                for (media_type, media) in content.as_object().into_iter().flatten() {
                    let Some(examples) = media.get("examples").and_then(Value::as_object) else { continue };
                    let schema = resolve(&doc, &media["schema"]);
                    let reference = schema["$ref"].as_str().unwrap_or_else(|| panic!("{method} {path} {code}: example without a schema"));
                    let reference = reference.strip_prefix("json/").unwrap_or_else(|| panic!("{method} {path} {code}: {reference}"));
                    for (name, example) in examples {
                        let value = &example["value"];
                        examples_seen += 1;
                        let errors = c.errors(reference, value);
                        assert!(errors.is_empty(), "{method} {path} {code} {media_type} example {name}: {errors:?}");
                        if value["type"] == DELTA_BASE_MISMATCH {
                            assert_eq!(code, "409", "{method} {path}: the delta-base-mismatch problem is a 409");
                            assert_eq!(value["status"], 409, "{method} {path} example {name}");
                            mismatch_shown.insert((method.to_uppercase(), path.clone()));
                        }
                    }
                }
            }
        }
    }
    let expected: BTreeSet<(String, String)> = [("POST", "/agent/v1/snapshots"), ("POST", "/agent/v1/snapshots/{id}/commit")]
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(mismatch_shown, expected, "routes that show the delta-base-mismatch problem");
    assert!(examples_seen >= 20, "only {examples_seen} examples were checked");
}

/// Follows a local `$ref` of openapi.json (one level is all the document uses).
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix('#')) {
        Some(pointer) => doc.pointer(pointer).unwrap_or_else(|| panic!("$ref #{pointer} points nowhere")),
        None => value,
    }
}

/// Every `$ref` string in a document.
fn refs(value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    match (key.as_str(), v) {
                        ("$ref", Value::String(r)) => out.push(r.clone()),
                        _ => walk(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    walk(value, &mut out);
    out
}

/// A group as an insight chain names it.
fn step(guid_text: &str, name: &str) -> GroupStep {
    GroupStep { object_guid: guid(guid_text), name: name.into(), dn: format!("CN={name},OU=Groups,DC=corp,DC=example,DC=test") }
}

/// Ann: imported and active, `user @ Copenhagen` through two linked groups, and an administrator.
fn explained_ann() -> Explanation {
    let sales_dk = step(SALES, "Sales-DK");
    let staff_dk = step("22222222-3333-4444-5555-666666666666", "Staff-DK");
    let all_staff = step("33333333-4444-5555-6666-777777777777", "All-Staff");
    let cph = step("44444444-5555-6666-7777-888888888888", "CPH-Office");
    Explanation {
        object_guid: guid(ANN),
        anchor: guid(ANN_ANCHOR),
        username: "ann".into(),
        dn: full_user().dn,
        in_scope: true,
        imported: true,
        active: true,
        grants: vec![
            AccessGrant {
                access_id: id(ACCESS),
                kind: AccessKind::User,
                name: "Copenhagen".into(),
                chains: vec![
                    GrantChain { groups: vec![cph.clone()], text: "CPH-Office (linked: user @ Copenhagen)".into() },
                    GrantChain {
                        groups: vec![sales_dk.clone(), staff_dk, all_staff],
                        text: "Sales-DK → Staff-DK → All-Staff (linked: user @ Copenhagen)".into(),
                    },
                ],
            },
            AccessGrant {
                access_id: id("e4da3b7f-bbce-4345-9777-2b0674a318d5"),
                kind: AccessKind::Administrator,
                name: "Copenhagen".into(),
                chains: vec![GrantChain { groups: vec![sales_dk], text: "Sales-DK (linked: administrator @ Copenhagen)".into() }],
            },
        ],
        reasons: vec![],
    }
}

/// A disabled service account outside the job's paths, linked only to a VIP access.
fn explained_service_account() -> Explanation {
    let lounge = step("55555555-6666-7777-8888-999999999999", "Lounge");
    Explanation {
        object_guid: minimal_user().object_guid,
        anchor: minimal_user().object_guid,
        username: "svc-print".into(),
        dn: "CN=svc-print,OU=Service,DC=corp,DC=example,DC=test".into(),
        in_scope: false,
        imported: false,
        active: false,
        grants: vec![AccessGrant {
            access_id: id("1679091c-5a88-4faf-b5e6-6d2c4b8a0e14"),
            kind: AccessKind::Vip,
            name: "Lounge".into(),
            chains: vec![GrantChain { groups: vec![lounge], text: "Lounge (linked: vip @ Lounge)".into() }],
        }],
        reasons: vec![
            Reason {
                code: ReasonCode::OutOfScope,
                text: "`CN=svc-print,OU=Service,DC=corp,DC=example,DC=test` is not below any of the job's paths: OU=Staff,DC=corp,DC=example,DC=test".into(),
            },
            Reason { code: ReasonCode::NoBasicAccess, text: "linked groups grant the user only vip @ Lounge, and no basic (user) access".into() },
            Reason { code: ReasonCode::Disabled, text: "the account is disabled in AD".into() },
        ],
    }
}

/// One explanation per reason code, each with no grants.
fn explained_for_each_reason() -> Vec<Explanation> {
    ReasonCode::ALL
        .into_iter()
        .map(|code| Explanation {
            grants: vec![],
            in_scope: !matches!(code, ReasonCode::OutOfScope | ReasonCode::OutsideFilter | ReasonCode::UnreadableDn),
            imported: false,
            active: false,
            reasons: vec![Reason { code, text: format!("{code:?}") }],
            ..explained_service_account()
        })
        .collect()
}

fn ou(guid_text: &str, dn: &str, users: u64, children: Vec<OuNode>) -> OuNode {
    let name = dn.split(',').next().unwrap().trim_start_matches("OU=").to_owned();
    let users_below = users + children.iter().map(|c| c.users_below).sum::<u64>();
    OuNode { object_guid: guid(guid_text), dn: dn.into(), name, users, users_below, children }
}

fn structure() -> Structure {
    let copenhagen = ou("66666666-7777-8888-9999-aaaaaaaaaaaa", "OU=Copenhagen,OU=Staff,DC=corp,DC=example,DC=test", 1_200, vec![]);
    let aarhus = ou("77777777-8888-9999-aaaa-bbbbbbbbbbbb", "OU=Aarhus,OU=Staff,DC=corp,DC=example,DC=test", 800, vec![]);
    Structure {
        users: 2_105,
        ous: vec![
            ou("88888888-9999-aaaa-bbbb-cccccccccccc", "OU=Groups,DC=corp,DC=example,DC=test", 0, vec![]),
            ou(STAFF_OU, "OU=Staff,DC=corp,DC=example,DC=test", 5, vec![aarhus, copenhagen]),
        ],
        groups: vec![
            GroupSummary {
                object_guid: guid("33333333-4444-5555-6666-777777777777"),
                dn: "CN=All-Staff,OU=Groups,DC=corp,DC=example,DC=test".into(),
                name: "All-Staff".into(),
                direct_members: 3,
                direct_users: 0,
                nested_users: 2_000,
                nested_users_exact: true,
                linked_accesses: vec![id(ACCESS), id("e4da3b7f-bbce-4345-9777-2b0674a318d5")],
            },
            GroupSummary {
                object_guid: guid("11111111-2222-3333-4444-555555555555"),
                dn: "CN=Empty,OU=Groups,DC=corp,DC=example,DC=test".into(),
                name: "Empty".into(),
                direct_members: 0,
                direct_users: 0,
                nested_users: 0,
                nested_users_exact: true,
                linked_accesses: vec![],
            },
        ],
    }
}

#[test]
fn insight_schema_is_in_the_registry() {
    assert!(schema_files().contains_key("insight.schema.json"), "proto-schemas/json/insight.schema.json is missing");
    let c = Contract::load();
    for def in ["explanation", "accessGrant", "grantChain", "groupStep", "reason", "reasonCode", "structure", "ouNode", "groupSummary"] {
        c.validator(&format!("insight.schema.json#/$defs/{def}"));
    }
}

#[test]
fn insight_bodies_match() {
    let c = Contract::load();
    let s = |def: &str| format!("insight.schema.json#/$defs/{def}");

    c.check(&s("explanation"), &explained_ann());
    c.check(&s("explanation"), &explained_service_account());
    for explanation in explained_for_each_reason() {
        c.check(&s("explanation"), &explanation);
    }
    // What `GET /api/v1/users/{id}/explain` answers for a stored user the directory state no longer holds.
    let gone = Explanation {
        in_scope: false,
        imported: false,
        active: false,
        grants: vec![],
        reasons: vec![Reason {
            code: ReasonCode::GoneFromDirectory,
            text: "the user is no longer in the job's directory: deleted in AD, or moved where the agent does not read".into(),
        }],
        ..explained_ann()
    };
    c.check(&s("explanation"), &gone);
    // Imported but disabled and expired: inactive, with both reasons.
    let inactive = Explanation {
        active: false,
        reasons: vec![
            Reason { code: ReasonCode::Disabled, text: "the account is disabled in AD".into() },
            Reason { code: ReasonCode::Expired, text: "the account has expired in AD".into() },
        ],
        ..explained_ann()
    };
    c.check(&s("explanation"), &inactive);
    c.check(&s("structure"), &structure());
    c.check(&s("structure"), &Structure { users: 0, ous: vec![], groups: vec![] });
    c.check(&s("ouNode"), &structure().ous[1]);
    c.check(&s("groupSummary"), &structure().groups[0]);

    let ann = serde_json::to_value(explained_ann()).unwrap();
    let with = |document: &Value, pointer: &str, value: Value| {
        let mut v = document.clone();
        *v.pointer_mut(pointer).unwrap_or_else(|| panic!("{pointer}")) = value;
        v
    };
    let without = |document: &Value, pointer: &str, member: &str| {
        let mut v = document.clone();
        v.pointer_mut(pointer).unwrap().as_object_mut().unwrap().remove(member);
        v
    };
    let reason = |code: &str| json!({"code": code, "text": "t"});
    c.rejects(&s("explanation"), without(&ann, "", "anchor"), "no anchor");
    c.rejects(&s("explanation"), without(&ann, "", "reasons"), "no reasons (empty, never left out)");
    c.rejects(&s("explanation"), with(&ann, "/object_guid", json!(ANN.to_uppercase())), "an upper-case GUID");
    c.rejects(&s("explanation"), with(&ann, "/grants/0/kind", json!("guest")), "an unknown access kind");
    c.rejects(&s("explanation"), with(&ann, "/grants/0/access_id", json!("copenhagen")), "a bad access id");
    c.rejects(&s("explanation"), with(&ann, "/grants/0/chains", json!([])), "a grant without a chain");
    let chain = ann["grants"][0]["chains"][0].clone();
    c.rejects(&s("explanation"), with(&ann, "/grants/0/chains", json!(vec![chain; 6])), "six chains for one access");
    c.rejects(&s("explanation"), with(&ann, "/grants/0/chains/0/groups", json!([])), "a chain without groups");
    c.rejects(&s("explanation"), without(&ann, "/grants/0/chains/0/groups/0", "dn"), "a group step without dn");
    let mut extra = ann.clone();
    extra["grants"][0]["chains"][0]["linked"] = json!(true);
    c.rejects(&s("explanation"), extra, "an extra member in a chain");
    c.rejects(&s("explanation"), with(&ann, "/in_scope", json!(false)), "imported while out of scope");
    c.rejects(&s("explanation"), with(&ann, "/imported", json!(false)), "active while not imported");
    c.rejects(&s("explanation"), with(&ann, "/reasons", json!([reason("disabled")])), "active with a reason");
    c.rejects(&s("explanation"), with(&ann, "/active", json!(false)), "inactive without a reason");
    let inactive = serde_json::to_value(&inactive).unwrap();
    c.rejects(&s("explanation"), with(&inactive, "/reasons/0", reason("left_scope")), "an unknown reason code");
    c.rejects(&s("explanation"), with(&inactive, "/reasons/0", reason("Disabled")), "a reason code in the wrong case");
    c.rejects(&s("explanation"), with(&inactive, "/reasons/0", json!({"code": "disabled"})), "a reason without text");
    c.rejects(&s("explanation"), with(&inactive, "/active", json!("no")), "a string for a flag");

    let tree = serde_json::to_value(structure()).unwrap();
    c.rejects(&s("structure"), with(&tree, "/users", json!(-1)), "a negative user count");
    c.rejects(&s("structure"), without(&tree, "", "groups"), "no groups");
    c.rejects(&s("structure"), without(&tree, "/ous/1/children/0", "children"), "an OU without children (empty, never left out)");
    c.rejects(&s("structure"), with(&tree, "/ous/1/children/0/users_below", json!(1.5)), "a fractional count");
    c.rejects(&s("structure"), with(&tree, "/ous/1/object_guid", json!(format!("{{{STAFF_OU}}}"))), "a GUID in braces");
    c.rejects(&s("structure"), with(&tree, "/groups/0/linked_accesses", json!([ACCESS, ACCESS])), "an access linked twice");
    c.rejects(&s("structure"), with(&tree, "/groups/0/linked_accesses", json!(["user @ Copenhagen"])), "a linked access that is no id");
    c.rejects(&s("structure"), without(&tree, "/groups/0", "nested_users"), "a group without nested_users");

    // What the schema accepts, Rust reads: a tree nested deeper than the examples.
    let deep = json!({
        "users": 1,
        "ous": [{"object_guid": STAFF_OU, "dn": "OU=a,DC=x", "name": "a", "users": 0, "users_below": 1, "children": [
            {"object_guid": SALES, "dn": "OU=b,OU=a,DC=x", "name": "b", "users": 0, "users_below": 1, "children": [
                {"object_guid": ANN, "dn": "OU=c,OU=b,OU=a,DC=x", "name": "c", "users": 1, "users_below": 1, "children": []}
            ]}
        ]}],
        "groups": []
    });
    let parsed: Structure = c.accepts(&s("structure"), deep);
    assert_eq!(parsed.ous[0].children[0].children[0].users, 1);
}

#[test]
fn insight_enums_are_exact() {
    let files = schema_files();
    let listed: Vec<String> = files["insight.schema.json"]["$defs"]["reasonCode"]["enum"]
        .as_array()
        .expect("insight.schema.json#/$defs/reasonCode has an enum")
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    // In order: reasons are listed in this order.
    let written: Vec<String> =
        ReasonCode::ALL.iter().map(|code| serde_json::to_value(code).unwrap().as_str().unwrap().to_owned()).collect();
    assert_eq!(listed, written);
    for code in ReasonCode::ALL {
        assert_eq!(serde_json::to_value(code).unwrap(), json!(code.as_str()));
    }
}
