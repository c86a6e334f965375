//! The JSON Schemas of `proto-schemas/json/`, generated from the wire types.
//!
//! Every wire type derives `schemars::JsonSchema`; [`ENTRIES`] is the one
//! list of which file each type's schema lives in, under which `$defs` name
//! (or as the file's root), and, for HTTP bodies, its OpenAPI component
//! name. [`files`] turns the types into the documents as they are committed:
//! draft 2020-12, references between files in their relative form
//! (`common.schema.json#/$defs/uuid`), and the few house rules applied to
//! every schema (see [`finish`]). A type schemars emits that the registry
//! does not name is an error, so no definition is ever dropped or invented.

use std::collections::BTreeMap;

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value, json};

use crate::ObjectGuid;
use crate::admin::{
    Access, AccessDelta, AccessKind, AccessRef, ActorKind, AdminRole, AdminToken, Agent, AgentState, AuditAction, AuditEntry, Budget,
    ChangeAction, ChangeDetail, CreateAccess, CreateAdminToken, CreateJob, CreatedAdminToken, CreatedTenant, DeactivationReason, Decision,
    HistoryEntry, ImportProgress, Job, Link, LinkInput, LinksPreview, LinksSaved, NextCursor, Page, PlanPreview, RegistrationToken,
    SafeguardPolicy, Schedule, ScheduledRun, ScheduledRuns, Session, SessionChange, SessionCounts, SessionStatus, SessionTrigger,
    StartImport, SyncMode, TenantSettings, UpdateAccess, UpdateJob, User,
};
use crate::agent::{
    AgentJob, Command, CommandAction, CommandOutcome, CommandResult, CommitResponse, Heartbeat, InlineChunk, Lease, OfferResponse,
    OfferSnapshot, RegisterRequest, RegisterResponse, RotateKey, SnapshotState, SnapshotStatus, SyncAdvice,
};
use crate::claims::{ManifestClaims, RequestClaims, RotationClaims};
use crate::insight::{AccessGrant, Explanation, GrantChain, GroupStep, GroupSummary, OuNode, Reason, ReasonCode, Structure};
use crate::manifest::{ChunkRef, DirectoryIdentity, Manifest, RecordCounts, SnapshotKind, Watermark};
use crate::problem::Problem;
use crate::records::Record;
use crate::scope::JobScope;

pub mod common;
#[cfg(feature = "openapi")]
pub mod openapi;

/// The base of every file's `$id`: `$id` = BASE + file name. `.invalid`
/// never resolves (RFC 2606): the ids are names, not locations.
pub const BASE: &str = "https://roster.invalid/proto-schemas/json/";

/// The draft every file is written in.
pub const DRAFT: &str = "https://json-schema.org/draft/2020-12/schema";

/// One file of `proto-schemas/json/`.
#[derive(Debug)]
pub struct SchemaFile {
    pub name: &'static str,
    /// The title of a file of definitions; a file with a root schema takes
    /// its root type's title.
    pub title: &'static str,
    /// Said of the whole file (for a root schema, instead of its type's doc comment).
    pub description: &'static str,
}

/// The files, in the order the README lists them.
pub const FILES: &[SchemaFile] = &[
    SchemaFile {
        name: "record.schema.json",
        title: "Record",
        description: "One directory object of a snapshot (Rust `roster_proto::records::Record`, internally tagged by `type`). A chunk is gzip-compressed NDJSON: every line is one `Record`, at most 1 MiB (1048576 bytes) of NDJSON per chunk before compression. `deleted` records (tombstones) belong only in delta snapshots: the server refuses to commit a full snapshot holding one (422); a record alone cannot tell which kind of snapshot it is in, so this schema accepts them. A group with more than 10,000 members (`MAX_MEMBERS_PER_RECORD`) is written as its `group` record with the first 10,000 members followed directly by `group_members` records carrying the rest, in order.",
    },
    SchemaFile {
        name: "manifest.schema.json",
        title: "Manifest",
        description: "A snapshot's table of contents (Rust `roster_proto::manifest::Manifest`). It never travels bare: the agent signs it as the `manifest` claim of an EdDSA JWT (see manifest-claims.schema.json), and the server trusts a chunk only if its sha256 is the one the signed manifest names.",
    },
    SchemaFile {
        name: "manifest-claims.schema.json",
        title: "ManifestClaims",
        description: "Claims (JWT payload) of a manifest token: `OfferSnapshot.manifest_token` is a compact JWS with header exactly `{\"alg\":\"EdDSA\",\"typ\":\"JWT\"}`, signed with the agent's registered Ed25519 key (Rust `roster_proto::claims::ManifestClaims`). The server also requires `iss` = the calling agent = `manifest.agent_id`, `jti` = `manifest.snapshot_id`, `aud` = its audience, `exp - iat` <= 300, `iat` <= now + 60 and `exp` >= now - 60 (else 401). The snapshot's recorded `manifest_sha256` is the sha256 of the decoded payload bytes.",
    },
    SchemaFile {
        name: "request-token-claims.schema.json",
        title: "RequestClaims",
        description: "Claims (JWT payload) of the request token that authenticates every `/agent/v1` call except `register`: `Authorization: Bearer <JWT>`, a compact JWS signed with the agent's registered Ed25519 key (Rust `roster_proto::claims::RequestClaims`). The algorithm is pinned: `none` and HMAC are refused. The server requires `iss` = a registered, unrevoked agent, `aud` = its audience, `exp - iat` <= 300, `iat` <= now + 60, `exp` >= now - 60, `htm`/`htu` equal to the request's method and path, and `bsh` equal to the sha256 of the exact body bytes (of no bytes for a request without a body), checked before the body is acted on (else 401). The header is exactly `{\"alg\":\"EdDSA\",\"typ\":\"JWT\"}` (base64url without padding) and the signature is verified strictly (RFC 8032 with no small-order key or R).",
    },
    SchemaFile {
        name: "problem.schema.json",
        title: "Problem",
        description: "The error body of every API (RFC 9457, media type `application/problem+json`; Rust `roster_proto::problem::Problem`). The server writes `title` = the status's reason phrase and always a `detail`; 401, 500 and 503 details are deliberately generic. `type` names the problem's kind as `urn:roster:problem:<kind>` (Rust `roster_proto::problem::ProblemKind`), so a client can tell problems of one status apart: e.g. `urn:roster:problem:delta-base-mismatch` (409 to `POST /agent/v1/snapshots` and `POST /agent/v1/snapshots/{id}/commit`: a delta that does not build on the watermark the server holds; send a full snapshot) from `urn:roster:problem:too-many-pending-snapshots`. Clients should compare `type`, never `detail`.",
    },
    SchemaFile {
        name: "agent-api.schema.json",
        title: "Roster agent API bodies",
        description: "Bodies of the agent API (`/agent/v1`, Rust `roster_proto::agent`). This document only holds definitions; validate against one of its `$defs`.",
    },
    SchemaFile {
        name: "admin-api.schema.json",
        title: "Roster admin API bodies",
        description: "Bodies of the admin API (`/api/v1`, Rust `roster_proto::admin`). This document only holds definitions; validate against one of its `$defs`. List endpoints answer a page: Rust `Page<T>` is spelled out once per item type (`jobPage`, `accessPage`, ...).",
    },
    SchemaFile {
        name: "insight.schema.json",
        title: "Roster insight bodies",
        description: "Insight into a job's directory state (Rust `roster_proto::insight`): why a user holds its accesses or is not imported (`explanation`), and the AD structure the state holds (`structure`). Both are computed by `roster_import` from the stored state, the job's scope, the links and the access catalogue, with the same rules as an import. This document only holds definitions; validate against one of its `$defs`.",
    },
    SchemaFile {
        name: "common.schema.json",
        title: "Roster common types",
        description: "Scalar types shared by every Roster message. This document only holds definitions; validate against one of its `$defs`.",
    },
];

/// Where one type's schema lives.
#[derive(Debug)]
pub struct Entry {
    /// The Rust type, as written in the registry (the definition's `title`).
    pub rust: &'static str,
    /// The file, one of [`FILES`].
    pub file: &'static str,
    /// Its name under the file's `$defs`; `None` for the file's root schema.
    pub def: Option<&'static str>,
    /// For an HTTP body: its key in openapi.json's `components.schemas`.
    pub component: Option<&'static str>,
    /// The definition name schemars gives the type (what its `$ref`s name).
    schema_name: fn() -> std::borrow::Cow<'static, str>,
    /// The type's own schema.
    json_schema: fn(&mut SchemaGenerator) -> Schema,
}

impl Entry {
    /// The reference to this schema from another file: `admin-api.schema.json#/$defs/job`,
    /// or the bare file name for a root schema.
    pub fn reference(&self) -> String {
        match self.def {
            Some(def) => format!("{}#/$defs/{def}", self.file),
            None => self.file.to_owned(),
        }
    }

    /// The reference from a schema inside `file`.
    fn reference_from(&self, file: &str) -> String {
        match (self.file == file, self.def) {
            (true, Some(def)) => format!("#/$defs/{def}"),
            (true, None) => "#".to_owned(),
            (false, _) => self.reference(),
        }
    }

    /// The `$ref` target openapi.json gives the component: the reference,
    /// relative to `proto-schemas/`.
    pub fn openapi_target(&self) -> String {
        format!("json/{}", self.reference())
    }
}

/// Lists the registry: `Type => "file" [# "def"] [, "Component" [via Marker]];`.
/// `via` names a unit type that stands for the body in OpenAPI where the
/// body's own type is not ours to implement a trait for (`Vec<LinkInput>`).
macro_rules! registry {
    ($($ty:ty => $file:literal $(# $def:literal)? $(, $component:literal $(via $marker:ident)?)?;)*) => {
        /// Every schema of `proto-schemas/json/`, by file.
        pub static ENTRIES: &[Entry] = &[$(
            Entry {
                rust: stringify!($ty),
                file: $file,
                def: registry!(@option $($def)?),
                component: registry!(@option $($component)?),
                schema_name: <$ty as JsonSchema>::schema_name,
                json_schema: <$ty as JsonSchema>::json_schema,
            },
        )*];

        #[cfg(feature = "openapi")]
        mod components {
            #[allow(unused_imports)]
            use super::*;
            $($(registry!(@component $ty, $component $(, $marker)?);)?)*
        }
        #[cfg(feature = "openapi")]
        pub use components::*;
    };
    (@option) => { None };
    (@option $value:literal) => { Some($value) };
    (@component $ty:ty, $component:literal) => {
        $crate::schema::openapi::component!($ty, $component);
    };
    (@component $ty:ty, $component:literal, $marker:ident) => {
        #[doc = concat!("Stands for `", stringify!($ty), "` in OpenAPI (`", $component, "`).")]
        #[derive(Debug)]
        pub struct $marker;
        $crate::schema::openapi::component!($marker, $component);
    };
}

registry! {
    Record => "record.schema.json", "Record";
    Manifest => "manifest.schema.json", "Manifest";
    SnapshotKind => "manifest.schema.json" # "snapshotKind";
    DirectoryIdentity => "manifest.schema.json" # "directoryIdentity";
    RecordCounts => "manifest.schema.json" # "recordCounts";
    Watermark => "manifest.schema.json" # "watermark", "Watermark";
    ChunkRef => "manifest.schema.json" # "chunkRef";
    ManifestClaims => "manifest-claims.schema.json", "ManifestClaims";
    RequestClaims => "request-token-claims.schema.json", "RequestTokenClaims";
    Problem => "problem.schema.json", "Problem";

    RegisterRequest => "agent-api.schema.json" # "registerRequest", "RegisterRequest";
    RegisterResponse => "agent-api.schema.json" # "registerResponse", "RegisterResponse";
    JobScope => "agent-api.schema.json" # "jobScope";
    SyncMode => "agent-api.schema.json" # "syncMode";
    AgentJob => "agent-api.schema.json" # "agentJob", "AgentJob";
    SyncAdvice => "agent-api.schema.json" # "syncAdvice", "SyncAdvice";
    OfferSnapshot => "agent-api.schema.json" # "offerSnapshot", "OfferSnapshot";
    InlineChunk => "agent-api.schema.json" # "inlineChunk";
    OfferResponse => "agent-api.schema.json" # "offerResponse", "OfferResponse";
    SnapshotStatus => "agent-api.schema.json" # "snapshotStatus";
    SnapshotState => "agent-api.schema.json" # "snapshotState", "SnapshotState";
    CommitResponse => "agent-api.schema.json" # "commitResponse", "CommitResponse";
    RotateKey => "agent-api.schema.json" # "rotateKey", "RotateKey";
    RotationClaims => "agent-api.schema.json" # "rotationProofClaims";
    Command => "agent-api.schema.json" # "command", "Command";
    CommandAction => "agent-api.schema.json" # "commandAction";
    CommandResult => "agent-api.schema.json" # "commandResult", "CommandResult";
    CommandOutcome => "agent-api.schema.json" # "commandOutcome";
    Heartbeat => "agent-api.schema.json" # "heartbeat", "Heartbeat";
    Lease => "agent-api.schema.json" # "lease", "Lease";

    CreateJob => "admin-api.schema.json" # "createJob", "CreateJob";
    UpdateJob => "admin-api.schema.json" # "updateJob", "UpdateJob";
    SafeguardPolicy => "admin-api.schema.json" # "safeguardPolicy", "SafeguardPolicy";
    Budget => "admin-api.schema.json" # "budget";
    Schedule => "admin-api.schema.json" # "schedule", "Schedule";
    ScheduledRuns => "admin-api.schema.json" # "scheduledRuns", "ScheduledRuns";
    ScheduledRun => "admin-api.schema.json" # "scheduledRun";
    StartImport => "admin-api.schema.json" # "startImport", "StartImport";
    TenantSettings => "admin-api.schema.json" # "tenantSettings", "TenantSettings";
    Job => "admin-api.schema.json" # "job", "Job";
    Page<Job> => "admin-api.schema.json" # "jobPage", "JobPage";
    RegistrationToken => "admin-api.schema.json" # "registrationToken", "RegistrationToken";
    AccessKind => "admin-api.schema.json" # "accessKind";
    CreateAccess => "admin-api.schema.json" # "createAccess", "CreateAccess";
    UpdateAccess => "admin-api.schema.json" # "updateAccess", "UpdateAccess";
    Access => "admin-api.schema.json" # "access", "Access";
    Page<Access> => "admin-api.schema.json" # "accessPage", "AccessPage";
    LinkInput => "admin-api.schema.json" # "linkInput";
    Vec<LinkInput> => "admin-api.schema.json" # "linkInputs", "LinkInputs" via LinkInputs;
    Link => "admin-api.schema.json" # "link";
    Vec<Link> => "admin-api.schema.json" # "links", "Links" via Links;
    LinksSaved => "admin-api.schema.json" # "linksSaved", "LinksSaved";
    LinksPreview => "admin-api.schema.json" # "linksPreview";
    AccessDelta => "admin-api.schema.json" # "accessDelta";
    AccessRef => "admin-api.schema.json" # "accessRef";
    User => "admin-api.schema.json" # "user";
    Page<User> => "admin-api.schema.json" # "userPage", "UserPage";
    SessionTrigger => "admin-api.schema.json" # "sessionTrigger";
    SessionStatus => "admin-api.schema.json" # "sessionStatus";
    SessionCounts => "admin-api.schema.json" # "sessionCounts";
    Session => "admin-api.schema.json" # "session", "Session";
    Page<Session> => "admin-api.schema.json" # "sessionPage", "SessionPage";
    ChangeAction => "admin-api.schema.json" # "changeAction";
    SessionChange => "admin-api.schema.json" # "sessionChange";
    ChangeDetail => "admin-api.schema.json" # "changeDetail";
    DeactivationReason => "admin-api.schema.json" # "deactivationReason";
    Page<SessionChange> => "admin-api.schema.json" # "sessionChangePage", "SessionChangePage";
    PlanPreview => "admin-api.schema.json" # "planPreview", "PlanPreview";
    Decision => "admin-api.schema.json" # "decision", "Decision";
    HistoryEntry => "admin-api.schema.json" # "historyEntry";
    Page<HistoryEntry> => "admin-api.schema.json" # "historyPage", "HistoryPage";
    NextCursor => "admin-api.schema.json" # "nextCursor";
    CreatedTenant => "admin-api.schema.json" # "createdTenant";
    Agent => "admin-api.schema.json" # "agent";
    AgentState => "admin-api.schema.json" # "agentState";
    Page<Agent> => "admin-api.schema.json" # "agentPage", "AgentPage";
    AdminToken => "admin-api.schema.json" # "adminToken";
    Page<AdminToken> => "admin-api.schema.json" # "adminTokenPage", "AdminTokenPage";
    CreateAdminToken => "admin-api.schema.json" # "createAdminToken", "CreateAdminToken";
    CreatedAdminToken => "admin-api.schema.json" # "createdAdminToken", "CreatedAdminToken";
    AdminRole => "admin-api.schema.json" # "adminRole";
    ActorKind => "admin-api.schema.json" # "actorKind";
    AuditAction => "admin-api.schema.json" # "auditAction";
    AuditEntry => "admin-api.schema.json" # "auditEntry";
    ImportProgress => "admin-api.schema.json" # "importProgress";
    Page<AuditEntry> => "admin-api.schema.json" # "auditPage", "AuditPage";

    Explanation => "insight.schema.json" # "explanation", "Explanation";
    AccessGrant => "insight.schema.json" # "accessGrant";
    GrantChain => "insight.schema.json" # "grantChain";
    GroupStep => "insight.schema.json" # "groupStep";
    Reason => "insight.schema.json" # "reason";
    ReasonCode => "insight.schema.json" # "reasonCode";
    Structure => "insight.schema.json" # "structure", "Structure";
    OuNode => "insight.schema.json" # "ouNode";
    GroupSummary => "insight.schema.json" # "groupSummary";

    common::Uuid => "common.schema.json" # "uuid";
    common::DateTime => "common.schema.json" # "dateTime";
    ObjectGuid => "common.schema.json" # "objectGuid";
    common::ObjectGuidInput => "common.schema.json" # "objectGuidInput";
    common::Sha256Hex => "common.schema.json" # "sha256Hex";
    common::Uint32 => "common.schema.json" # "uint32";
    common::Uint64 => "common.schema.json" # "uint64";
    common::Int64 => "common.schema.json" # "int64";
    common::UnixTime => "common.schema.json" # "unixTime";
    common::RelativePath => "common.schema.json" # "relativePath";
    common::NonBlank => "common.schema.json" # "nonBlank";
}

/// Why the files cannot be generated: the registry and the types disagree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    #[error("schemars emits a definition `{0}` that the registry in roster_proto::schema does not place in any file")]
    Unregistered(String),
    #[error("two registry entries are both `{0}`")]
    Duplicate(String),
    #[error("registry entry {rust} names the file `{file}`, which is not in FILES")]
    UnknownFile { rust: &'static str, file: &'static str },
}

/// The entry a component name belongs to (for the OpenAPI document).
pub fn component(name: &str) -> Option<&'static Entry> {
    ENTRIES.iter().find(|entry| entry.component == Some(name))
}

/// Every file of `proto-schemas/json/`, by file name, as it is committed.
pub fn files() -> Result<BTreeMap<&'static str, Value>, SchemaError> {
    let mut generator = SchemaSettings::draft2020_12().into_generator();
    let mut by_name: BTreeMap<String, &'static Entry> = BTreeMap::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut bodies = Vec::with_capacity(ENTRIES.len());
    for entry in ENTRIES {
        if !FILES.iter().any(|file| file.name == entry.file) {
            return Err(SchemaError::UnknownFile { rust: entry.rust, file: entry.file });
        }
        if !seen.insert((entry.file, entry.def)) {
            return Err(SchemaError::Duplicate(entry.reference()));
        }
        by_name.insert((entry.schema_name)().into_owned(), entry);
        bodies.push((entry, (entry.json_schema)(&mut generator).to_value()));
    }
    if let Some(name) = generator.definitions().keys().find(|name| !by_name.contains_key(name.as_str())) {
        return Err(SchemaError::Unregistered(name.clone()));
    }

    let mut out = BTreeMap::new();
    for file in FILES {
        let mut document = Map::new();
        document.insert("$schema".into(), json!(DRAFT));
        document.insert("$id".into(), json!(format!("{BASE}{}", file.name)));
        document.insert("title".into(), json!(file.title));
        let mut defs = Map::new();
        for (entry, body) in bodies.iter().filter(|(entry, _)| entry.file == file.name) {
            let mut body = body.clone();
            finish(&mut body, &by_name, file.name)?;
            match entry.def {
                Some(def) => {
                    if let Value::Object(object) = &mut body {
                        object.entry("title").or_insert_with(|| json!(entry.rust.rsplit("::").next().unwrap_or(entry.rust)));
                    }
                    defs.insert(def.to_owned(), body);
                }
                None => {
                    // The file's description says more than the type's doc comment.
                    let Value::Object(mut root) = body else { continue };
                    root.remove("description");
                    hoist_variants(&mut root, &mut defs);
                    document.extend(root);
                }
            }
        }
        document.insert("description".into(), json!(file.description));
        if !defs.is_empty() {
            document.insert("$defs".into(), Value::Object(defs));
        }
        out.insert(file.name, Value::Object(document));
    }
    Ok(out)
}

/// A file's text as committed: pretty JSON and a final newline.
pub fn render(document: &Value) -> String {
    let mut text = serde_json::to_string_pretty(document).unwrap_or_default();
    text.push('\n');
    text
}

/// Moves the named variants of a root `oneOf` (a tagged enum such as
/// `Record`) into `$defs`, so each variant validates alone
/// (`record.schema.json#/$defs/user`). A variant's name is its tag, in
/// camelCase, as its `type` const says.
fn hoist_variants(root: &mut Map<String, Value>, defs: &mut Map<String, Value>) {
    let Some(Value::Array(variants)) = root.get_mut("oneOf") else { return };
    for variant in variants.iter_mut() {
        let Some(tag) = variant.pointer("/properties/type/const").and_then(Value::as_str) else { continue };
        let name = camel_case(tag);
        let reference = json!({ "$ref": format!("#/$defs/{name}") });
        defs.insert(name, std::mem::replace(variant, reference));
    }
}

fn camel_case(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        match c {
            '_' => upper = true,
            c if upper => {
                out.extend(c.to_uppercase());
                upper = false;
            }
            c => out.push(c),
        }
    }
    out
}

/// The house rules every generated schema follows, applied bottom-up:
///
/// - `$ref`s name the registry's file and definition, relative to `file`;
/// - a unit enum is an `enum` of its names (its variants' docs join its
///   description);
/// - a Rust integer carries its type's range (the common `uint32`, `uint64`,
///   `int64` where nothing else constrains it);
/// - an optional member is never `null` (`Option` + `skip_serializing_if`:
///   left out, or a value), and a struct is closed: Roster never writes a
///   member its schema does not name.
fn finish(schema: &mut Value, names: &BTreeMap<String, &'static Entry>, file: &str) -> Result<(), SchemaError> {
    let Value::Object(object) = schema else { return Ok(()) };
    optional_members(object);
    for (key, value) in object.iter_mut() {
        match key.as_str() {
            "properties" | "$defs" | "patternProperties" | "dependentSchemas" => {
                if let Value::Object(map) = value {
                    for sub in map.values_mut() {
                        finish(sub, names, file)?;
                    }
                }
            }
            "allOf" | "anyOf" | "oneOf" | "prefixItems" => {
                if let Value::Array(list) = value {
                    for sub in list {
                        finish(sub, names, file)?;
                    }
                }
            }
            "items" | "additionalProperties" | "unevaluatedProperties" | "not" | "if" | "then" | "else" | "contains" | "propertyNames" => {
                finish(value, names, file)?;
            }
            _ => {}
        }
    }
    unwrap_description(object);
    unit_enum(object);
    integer(object);
    rewrite_ref(object, names, file)?;
    close(object);
    Ok(())
}

fn rewrite_ref(object: &mut Map<String, Value>, names: &BTreeMap<String, &'static Entry>, file: &str) -> Result<(), SchemaError> {
    let Some(Value::String(reference)) = object.get_mut("$ref") else { return Ok(()) };
    let Some(name) = reference.strip_prefix("#/$defs/") else { return Ok(()) };
    let entry = names.get(name).ok_or_else(|| SchemaError::Unregistered(name.to_owned()))?;
    *reference = entry.reference_from(file);
    Ok(())
}

/// Doc comments are wrapped at 140 columns; a description is prose, so a
/// single line break is a space (a blank line stays a paragraph break).
fn unwrap_description(object: &mut Map<String, Value>) {
    let Some(Value::String(text)) = object.get_mut("description") else { return };
    *text = text
        .split("\n\n")
        .map(|paragraph| paragraph.split('\n').map(str::trim).collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n\n");
}

/// `oneOf` of string `const`s (what schemars writes for a unit enum whose
/// variants have docs) → `enum`, the docs appended to the description.
fn unit_enum(object: &mut Map<String, Value>) {
    let Some(Value::Array(variants)) = object.get("oneOf") else { return };
    let is_unit = |v: &Value| {
        v.as_object().is_some_and(|v| {
            let names = v.get("const").is_some_and(Value::is_string)
                || v.get("enum").and_then(Value::as_array).is_some_and(|e| e.iter().all(Value::is_string));
            names && v.keys().all(|k| matches!(k.as_str(), "const" | "enum" | "type" | "description"))
        })
    };
    if variants.is_empty() || !variants.iter().all(is_unit) {
        return;
    }
    let mut names = Vec::new();
    let mut notes = Vec::new();
    for variant in variants {
        if let Some(undocumented) = variant.get("enum").and_then(Value::as_array) {
            names.extend(undocumented.iter().cloned());
            continue;
        }
        let name = variant["const"].clone();
        if let Some(doc) = variant.get("description").and_then(Value::as_str) {
            notes.push(format!("`{}`: {doc}", name.as_str().unwrap_or_default()));
        }
        names.push(name);
    }
    object.remove("oneOf");
    object.insert("type".into(), json!("string"));
    object.insert("enum".into(), Value::Array(names));
    if !notes.is_empty() {
        let own = object.get("description").and_then(Value::as_str).map(str::to_owned);
        let text = own.into_iter().chain(notes).collect::<Vec<_>>().join(" ");
        object.insert("description".into(), json!(text));
    }
}

/// Gives an integer its Rust type's range, by the `format` schemars names.
fn integer(object: &mut Map<String, Value>) {
    let is_integer = object.get("type").is_some_and(|t| t == "integer");
    let Some(format) = object.get("format").and_then(Value::as_str).map(str::to_owned) else { return };
    let Some((min, max)) = common::integer_range(&format).filter(|_| is_integer) else { return };
    object.remove("format");
    object.entry("minimum").or_insert_with(|| number(min));
    object.entry("maximum").or_insert_with(|| number(max));
    let bare = object.get("minimum") == Some(&number(min)) && object.get("maximum") == Some(&number(max));
    let validation_only = object
        .keys()
        .all(|k| matches!(k.as_str(), "type" | "minimum" | "maximum" | "description" | "default" | "examples" | "const" | "title"));
    if let Some((_, def)) = common::INTEGER_WIDTHS.iter().find(|(f, _)| *f == format).filter(|_| bare && validation_only) {
        object.remove("type");
        object.remove("minimum");
        object.remove("maximum");
        object.insert("$ref".into(), json!(format!("#/$defs/{def}")));
    }
}

fn number(n: i128) -> Value {
    if let Ok(n) = i64::try_from(n) { json!(n) } else { u64::try_from(n).map(|n| json!(n)).unwrap_or(Value::Null) }
}

/// A struct's schema, as opposed to an `if`/`then` overlay (which has
/// `properties` too, but no `type`) or a tagged enum's root.
fn is_struct(object: &Map<String, Value>) -> bool {
    object.get("type").is_some_and(|t| t == "object") && !["oneOf", "anyOf", "$ref"].iter().any(|k| object.contains_key(*k))
}

/// A struct is closed: Roster never writes a member its schema does not name.
fn close(object: &mut Map<String, Value>) {
    if is_struct(object) && object.contains_key("properties") && !object.contains_key("unevaluatedProperties") {
        object.entry("additionalProperties").or_insert(json!(false));
    }
}

/// An optional member of a struct is left out or has a value, never
/// `null`, unless `null` is its declared default (`Schedule.interval_minutes`:
/// written always, `null` for none, and the same when left out).
fn optional_members(object: &mut Map<String, Value>) {
    if !is_struct(object) {
        return;
    }
    let required: Vec<String> = object
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default();
    let Some(Value::Object(properties)) = object.get_mut("properties") else { return };
    for (name, property) in properties.iter_mut() {
        if !required.contains(name) && property.get("default") != Some(&Value::Null) {
            strip_null(property);
        }
    }
}

fn strip_null(schema: &mut Value) {
    let Value::Object(object) = schema else { return };
    if let Some(Value::Array(types)) = object.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types.remove(0);
            object.insert("type".into(), only);
        }
    }
    let Some(Value::Array(alternatives)) = object.get_mut("anyOf") else { return };
    alternatives.retain(|a| a != &json!({"type": "null"}));
    if alternatives.len() == 1 {
        let Some(Value::Object(only)) = alternatives.pop() else { return };
        object.remove("anyOf");
        for (key, value) in only {
            object.entry(key).or_insert(value);
        }
    }
}
