//! The snapshot manifest: what a snapshot contains, chunk by chunk. The
//! agent signs it (see `roster-snapshot`); the server trusts a chunk only if
//! its sha256 is the one the signed manifest names.

use serde::{Deserialize, Serialize};

use crate::id::{AgentId, JobId, SnapshotId};

/// Version of the manifest and record format; bumped on breaking change.
pub const FORMAT_VERSION: u32 = 1;

/// Largest uncompressed chunk, so both sides bound memory per chunk.
pub const MAX_CHUNK_BYTES: usize = 1024 * 1024;

/// Full snapshots replace the job's directory state; deltas change it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotKind {
    Full,
    /// Only objects changed (`uSNChanged`) or deleted (tombstones) since
    /// `Manifest::base`.
    Delta,
}

/// How far a DC's changes have been read: the DC, its database identity
/// and its update sequence number. USNs are only comparable on the same DC
/// with the same `invocation_id` (a restore from backup changes it).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Watermark {
    /// The DC's `dnsHostName`.
    pub dns_host_name: String,
    /// The DC's NTDS Settings `invocationId`.
    pub invocation_id: crate::ObjectGuid,
    /// `highestCommittedUSN`, read *before* the read began.
    pub usn: u64,
}

impl Watermark {
    /// True when `other` was read from the same DC database, so USNs compare.
    pub fn same_database(&self, other: &Watermark) -> bool {
        self.dns_host_name.eq_ignore_ascii_case(&other.dns_host_name) && self.invocation_id == other.invocation_id
    }
}

/// The directory a snapshot was read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryIdentity {
    /// The domain's naming context, e.g. `DC=corp,DC=example,DC=test`.
    pub domain_dn: String,
    /// The domain's SID (`S-1-5-21-...`), when readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_sid: Option<String>,
    /// The DC that answered (`dnsHostName`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_host_name: Option<String>,
    /// The base DN the job's relative paths were resolved against.
    pub base_dn: String,
}

/// How many records of each type the chunks hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordCounts {
    pub users: u64,
    pub groups: u64,
    pub ous: u64,
    /// Tombstones (deltas only).
    #[serde(default)]
    pub deleted: u64,
}

/// One chunk as the manifest names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkRef {
    /// Position in the snapshot, from 0.
    pub index: u32,
    /// Compressed size in bytes.
    pub size: u64,
    /// Lower-case hex sha256 of the compressed bytes.
    pub sha256: String,
    /// Records in the chunk.
    pub records: u64,
}

/// A snapshot's table of contents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    pub snapshot_id: SnapshotId,
    pub agent_id: AgentId,
    pub job_id: JobId,
    pub kind: SnapshotKind,
    /// When the agent started reading (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    pub read_started_at: time::OffsetDateTime,
    pub directory: DirectoryIdentity,
    /// Where this snapshot leaves the job's directory state.
    pub watermark: Watermark,
    /// For a delta: the state it builds on. The server refuses a delta whose
    /// base is not the watermark it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<Watermark>,
    pub counts: RecordCounts,
    pub chunks: Vec<ChunkRef>,
}

impl Manifest {
    /// Total compressed bytes across chunks.
    pub fn total_bytes(&self) -> u64 {
        self.chunks.iter().map(|c| c.size).sum()
    }
}
