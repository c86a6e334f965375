//! Messages of the agent API (`/agent/v1/...`), which only registered
//! agents call, every request signed with the agent's own key.

use serde::{Deserialize, Serialize};

use crate::admin::Session;
use crate::id::{AgentId, JobId, SnapshotId, TenantId};
use crate::manifest::Watermark;
use crate::scope::JobScope;

/// `POST /agent/v1/register`: trade a one-time token for an identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// The one-time registration token an admin created for the job.
    pub token: String,
    /// The agent's Ed25519 public key: 32 raw bytes, base64 (standard alphabet).
    pub public_key: String,
    /// The machine the agent runs on, for the console.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::optional::present")]
    pub hostname: Option<String>,
    /// The agent's version, for the console.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::optional::present")]
    pub agent_version: Option<String>,
}

/// The identity the server gave a newly registered agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterResponse {
    pub agent_id: AgentId,
    pub tenant_id: TenantId,
    pub job_id: JobId,
    /// The `aud` claim every token of this agent must carry.
    pub audience: String,
}

/// `POST /agent/v1/key`: replace the agent's key. Signed (like every agent
/// request) with the current key; from the answer on, only the new key is
/// accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateKey {
    /// The new Ed25519 public key: 32 raw bytes, base64 (standard alphabet).
    pub public_key: String,
}

/// `GET /agent/v1/job`: what the agent is to read, and from where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentJob {
    pub job_id: JobId,
    pub name: String,
    #[serde(flatten)]
    pub scope: JobScope,
    /// The directory state the server holds for the job.
    pub sync: SyncAdvice,
}

/// Whether the next snapshot may be a delta, and on what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncAdvice {
    /// The watermark of the server's state: a delta must build on exactly
    /// this. `None` when the server holds no state yet.
    pub base: Option<Watermark>,
    /// Why the next snapshot must be full even if the agent could send a
    /// delta (no state yet, the scope changed, a reconciliation is due or
    /// was requested). `None`: a delta is welcome.
    pub full_required: Option<String>,
}

/// `POST /agent/v1/snapshots`: offer a signed manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfferSnapshot {
    /// The manifest as an EdDSA-signed JWT (see `roster-snapshot`).
    pub manifest_token: String,
}

/// Where an offered snapshot stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotStatus {
    /// Waiting for chunks or the commit.
    Receiving,
    /// Committed: its chunks are checked and it is the job's newest state.
    Committed,
}

/// The server's answer to an offer: which chunks it still needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotState {
    pub snapshot_id: SnapshotId,
    pub status: SnapshotStatus,
    /// Chunk indexes not yet stored; upload these, then commit.
    pub missing_chunks: Vec<u32>,
}

/// `POST /agent/v1/snapshots/{id}/commit`: the snapshot is whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
