//! Messages of the agent API (`/agent/v1/...`), which only registered
//! agents call, every request signed with the agent's own key.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::admin::Session;
use crate::id::{AgentId, CommandId, JobId, SnapshotId, TenantId};
use crate::manifest::Watermark;
use crate::schema::common::{self, Nullable};
use crate::scope::JobScope;

/// An Ed25519 public key as the server takes it: 32 raw bytes in canonical
/// padded base64 (44 characters, the last data character one whose low bits
/// are zero), surrounding white space ignored. The server also checks that
/// it decodes to a curve point (else 422).
pub const PUBLIC_KEY_PATTERN: &str = r"^\s*[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=\s*$";

/// A compact JWS: three base64url parts.
pub const COMPACT_JWT_PATTERN: &str = r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$";

/// `POST /agent/v1/register`: trade a one-time token for an identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// The one-time registration token an admin created for the job
    /// (`RegistrationToken.token`); surrounding white space is ignored.
    pub token: String,
    /// The agent's Ed25519 public key: 32 raw bytes, base64 (standard alphabet).
    #[schemars(regex(pattern = PUBLIC_KEY_PATTERN))]
    pub public_key: String,
    /// The machine the agent runs on, for the console; the server keeps the first 255 characters.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::optional::present")]
    pub hostname: Option<String>,
    /// The agent's version, for the console; the server keeps the first 255 characters.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::optional::present")]
    pub agent_version: Option<String>,
}

/// The identity the server gave a newly registered agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RegisterResponse {
    /// The `iss` of every token this agent signs.
    pub agent_id: AgentId,
    pub tenant_id: TenantId,
    pub job_id: JobId,
    /// The `aud` claim every token of this agent must carry.
    pub audience: String,
}

/// `POST /agent/v1/key`: replace the agent's key. Signed (like every agent
/// request) with the current key, and carrying a proof signed with the new
/// one; from the answer on, only the new key is accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateKey {
    /// The new Ed25519 public key: 32 raw bytes, base64 (standard alphabet).
    #[schemars(regex(pattern = PUBLIC_KEY_PATTERN))]
    pub public_key: String,
    /// Proof that the caller holds the new key's private half: a compact JWS
    /// of `RotationClaims` (`iss` the agent, `aud` the server, a fresh `jti`,
    /// `replaces` the sha256 of the current key's raw bytes) signed by the
    /// new key, verified strictly before the key changes (else 422).
    #[schemars(regex(pattern = COMPACT_JWT_PATTERN))]
    pub proof: String,
}

/// `GET /agent/v1/job`: what the agent is to read, and from where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AgentJob {
    pub job_id: JobId,
    pub name: String,
    #[serde(flatten)]
    pub scope: JobScope,
    /// The directory state the server holds for the job.
    pub sync: SyncAdvice,
    /// `continuous`: `roster-agent run` watches the DC and pushes a delta
    /// as soon as something in scope changed (absent from older servers:
    /// `scheduled`).
    #[serde(default)]
    pub sync_mode: crate::admin::SyncMode,
}

/// Whether the next snapshot may be a delta, and on what. Both members are
/// always written, possibly `null`; the server answers `base: null` only
/// together with a `full_required` reason. The agent sends a delta only when
/// `full_required` is null, `base` is not, and it reads the same DC database
/// as `base` (same `dns_host_name` and `invocation_id`, USN not gone back);
/// otherwise a full snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SyncAdvice {
    /// The watermark of the server's state: a delta must build on exactly
    /// this. `None` (`null`, always written) when the server holds no state yet.
    #[schemars(with = "Nullable<Watermark>")]
    pub base: Option<Watermark>,
    /// Why the next snapshot must be full even if the agent could send a
    /// delta (no state yet, the scope changed, a reconciliation is due or
    /// was requested). `None` (`null`, always written): a delta is welcome.
    #[schemars(with = "Nullable<String>", example = Some("the full reconciliation (every 7 days) is due"), example = None::<&str>)]
    pub full_required: Option<String>,
}

/// `POST /agent/v1/snapshots`: offer a signed manifest, and with it, for a
/// small snapshot, its chunks and the commit: a continuous job's change
/// then travels in one request instead of three.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OfferSnapshot {
    /// The manifest as an EdDSA-signed compact JWT whose payload is a
    /// `ManifestClaims` (manifest-claims.schema.json; see `roster-snapshot`).
    #[schemars(regex(pattern = COMPACT_JWT_PATTERN))]
    pub manifest_token: String,
    /// Chunks sent with the offer, each stored as `PUT
    /// /agent/v1/snapshots/{id}/chunks/{index}` would store it; each index
    /// at most once, and at most `MAX_INLINE_CHUNK_BYTES` (65536) decoded
    /// bytes in all. Absent: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chunks: Vec<InlineChunk>,
    /// Commit the snapshot once the chunks are stored, as `POST
    /// /agent/v1/snapshots/{id}/commit` would (every chunk must then be
    /// stored: sent inline or uploaded before); the answer's `commit` is
    /// that commit's answer, and a refused commit is the offer's answer.
    /// Absent: false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub commit: bool,
}

/// The most chunk bytes (decoded) one offer may carry inline.
pub const MAX_INLINE_CHUNK_BYTES: u64 = 64 * 1024;

/// A standard, padded base64 text (RFC 4648 section 4).
pub const BASE64_PATTERN: &str = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$";

/// One chunk inside an offer (`OfferSnapshot.chunks`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InlineChunk {
    /// The chunk's `index` in the manifest.
    pub index: u32,
    /// The chunk's bytes exactly as the manifest names them (their length
    /// its `size`, their sha256 its `sha256`), in standard padded base64.
    #[schemars(regex(pattern = BASE64_PATTERN))]
    pub bytes: String,
}

impl InlineChunk {
    /// Chunk `index` carrying `bytes`.
    pub fn new(index: u32, bytes: &[u8]) -> InlineChunk {
        use base64::Engine as _;
        InlineChunk { index, bytes: base64::engine::general_purpose::STANDARD.encode(bytes) }
    }

    /// The chunk's bytes; `None` when `bytes` is not canonical padded base64.
    pub fn decode(&self) -> Option<Vec<u8>> {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.decode(&self.bytes).ok()
    }
}

/// Where an offered snapshot stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotStatus {
    /// Waiting for chunks or the commit.
    Receiving,
    /// Committed: its chunks are checked and it is the job's newest state.
    Committed,
}

/// The server's answer to an offer: which chunks it still needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SnapshotState {
    pub snapshot_id: SnapshotId,
    pub status: SnapshotStatus,
    /// Chunk indexes not yet stored; upload these, then commit.
    pub missing_chunks: Vec<u32>,
}

/// The server's answer to an offer: the snapshot's state, and when the
/// offer asked to commit, the commit's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OfferResponse {
    #[serde(flatten)]
    pub state: SnapshotState,
    /// Present when the offer asked to commit (`OfferSnapshot.commit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<CommitResponse>,
}

/// `POST /agent/v1/snapshots/{id}/commit`: the snapshot is whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CommitResponse {
    pub snapshot_id: SnapshotId,
    /// The import session this snapshot started, if it started one (the
    /// first snapshot of a job is imported at once; later ones wait for the
    /// job's schedule or an admin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<Session>,
    /// What happens next, in words.
    pub message: String,
}

/// Seconds a grant of a job's lease lasts unless its holder renews it (each
/// request for the lease and each poll for commands renews it), by default
/// (a server may be set otherwise: `ROSTER_LEASE_TTL_SECS`).
pub const LEASE_TTL_SECS: u32 = 60;

/// The request header in which an agent sends the fencing token of its
/// lease with every offer, chunk and commit.
pub const FENCING_TOKEN_HEADER: &str = "roster-fencing-token";

/// `POST /agent/v1/lease`: whether the asking agent holds its job's lease.
/// Of a job's agents exactly one holds it at a time: only the holder is
/// handed commands and pushes snapshots; the others stand by and take over
/// when the holder has been silent past its lease. Every grant to a new
/// holder increases the job's fencing token, which the holder sends with
/// every offer, chunk and commit (header `Roster-Fencing-Token`); anything
/// sent with an older token is refused (409 `fenced`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Lease {
    /// Whether this agent holds the lease now.
    pub active: bool,
    /// The holder's fencing token (`null` for a standby, always written).
    #[schemars(with = "Nullable<u64>")]
    pub fencing_token: Option<u64>,
    /// When the lease ends unless its holder renews it: for a standby, the
    /// earliest moment it may take over.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "common::DateTime")]
    pub expires_at: time::OffsetDateTime,
}

/// Most seconds `GET /agent/v1/commands?wait=` holds a poll open.
pub const MAX_COMMAND_WAIT_SECS: u32 = 30;

/// Most characters of an error an agent reports that the server keeps.
pub const MAX_REPORTED_ERROR_CHARS: usize = 2000;

/// `GET /agent/v1/commands`: the next thing the server wants of the agent.
/// Run it, then report with `POST /agent/v1/commands/{id}/result`; until
/// then the same command is answered again (after a restart, say). A
/// command is acknowledged once and never run again after that.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Command {
    pub id: CommandId,
    pub action: CommandAction,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "common::DateTime")]
    pub issued_at: time::OffsetDateTime,
}

/// What a command asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CommandAction {
    /// Read the directory and push a snapshot, as `roster-agent push`
    /// does: a delta where the server's sync advice allows, full when
    /// `full` says so or the advice requires it.
    Push {
        /// A full snapshot whatever the advice.
        full: bool,
    },
    /// Push a snapshot so the server's OU and group tree is current (for
    /// "Load AD structure").
    LoadStructure,
    /// Run the preflight checks (`roster-agent check`) and report them.
    Check,
}

/// `POST /agent/v1/commands/{id}/result`: how a command went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandResult {
    pub outcome: CommandOutcome,
    /// What it did or why it failed, in words; the server keeps the first
    /// `MAX_REPORTED_ERROR_CHARS` (2,000) characters.
    pub message: String,
    /// The snapshot a push committed.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::optional::present")]
    pub snapshot_id: Option<SnapshotId>,
}

/// Whether a command did what it was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CommandOutcome {
    Succeeded,
    Failed,
}

/// `POST /agent/v1/heartbeat`: how the agent is, every 30 s while it runs
/// (any request also counts as a sign of life).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    /// The agent's version; the server keeps the first 255 characters.
    pub version: String,
    /// The machine it runs on; the server keeps the first 255 characters.
    pub host_name: String,
    /// Its operating system, e.g. `windows 10.0.20348` or `linux`; the server
    /// keeps the first 255 characters.
    pub os: String,
    /// Whether the domain controller answered its last attempt (a bind and
    /// a rootDSE read).
    pub dc_reachable: bool,
    /// The last error since the previous heartbeat (`null`: none); the
    /// server keeps the first `MAX_REPORTED_ERROR_CHARS` characters.
    #[schemars(with = "Nullable<String>")]
    pub last_error: Option<String>,
}
