//! Why the agent API refuses a key or a snapshot upload (offer, chunk,
//! commit).

use roster_proto::SnapshotId;
use roster_proto::agent::MAX_INLINE_CHUNK_BYTES;
use roster_proto::manifest::{FORMAT_VERSION, MAX_CHUNK_BYTES};

/// A public key the server will not register or rotate to.
#[derive(Debug, thiserror::Error)]
pub enum AgentKeyError {
    #[error("{0}")]
    Invalid(roster_snapshot::keys::KeyError),
    #[error("the new key is the current key")]
    Unchanged,
    /// The rotation's proof does not show the new key's private half.
    #[error("the proof of the new key does not verify: {0}")]
    Proof(roster_snapshot::token::TokenError),
    #[error("the proof of the new key ({0}) was used before")]
    ProofReplayed(uuid::Uuid),
    /// Another rotation replaced the key this one was checked against
    /// between the check and the write; this one changes nothing.
    #[error("the agent's key changed while this rotation was checked (another rotation came first): sign with the current key")]
    Changed,
}

/// An offer or a chunk that does not agree with the protocol or with its
/// own signed manifest.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("manifest version {0} is not supported (this server speaks {FORMAT_VERSION})")]
    Version(u32),
    #[error("manifest chunk {position} has index {index}; chunks must be numbered from 0 in order")]
    ChunkIndex { position: usize, index: u32 },
    #[error("manifest chunk {position} has size {size}; allowed 1..={MAX_CHUNK_BYTES}")]
    ChunkSize { position: usize, size: u64 },
    #[error("manifest chunk {position} has a malformed sha256")]
    ChunkSha256 { position: usize },
    #[error("snapshot {0} was offered before with a different manifest")]
    ManifestDiffers(SnapshotId),
    #[error("chunk {index} is {actual} bytes; the manifest says {expected}")]
    BodySize { index: u32, actual: usize, expected: u64 },
    #[error("chunk {index}: {source}")]
    BodyHash { index: u32, source: roster_snapshot::chunk::ChunkError },
    #[error("the offer carries chunk {index}, which the manifest does not name")]
    InlineUnknown { index: u32 },
    #[error("the offer carries chunk {index} twice")]
    InlineTwice { index: u32 },
    #[error("chunk {index} in the offer is not standard padded base64")]
    InlineEncoding { index: u32 },
    #[error(
        "the offer carries {bytes} chunk bytes; at most {MAX_INLINE_CHUNK_BYTES} travel inline: upload the others with PUT /agent/v1/snapshots/{{id}}/chunks/{{index}}"
    )]
    InlineTooLarge { bytes: u64 },
    #[error("chunks still missing: {0:?}")]
    ChunksMissing(Vec<u32>),
    /// Its commit refused it for good; its chunks are gone.
    #[error("snapshot {0} failed verification at its commit and cannot be committed: offer a new snapshot")]
    Failed(SnapshotId),
}

/// A command result the server will not record.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("command {0}'s result was reported before; the first result stands")]
    AlreadyReported(roster_proto::CommandId),
}
