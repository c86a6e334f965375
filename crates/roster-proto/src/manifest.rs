//! The snapshot manifest: what a snapshot contains, chunk by chunk. The
//! agent signs it (see `roster-snapshot`); the server trusts a chunk only if
//! its sha256 is the one the signed manifest names.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::id::{AgentId, JobId, SnapshotId};

use crate::schema::common;

/// Version of the manifest and record format; bumped on breaking change.
pub const FORMAT_VERSION: u32 = 1;

/// Largest uncompressed chunk, so both sides bound memory per chunk.
pub const MAX_CHUNK_BYTES: usize = 1024 * 1024;

/// Full snapshots replace the job's directory state; deltas change it, and
/// only if their `base` is exactly the server's watermark. A delta reads
/// changed users and groups domain-wide so that moves out of scope are seen;
/// the server keeps those in the job's scope or already in its state and
/// drops the rest. `GET /agent/v1/job` says (`sync`) whether a delta is welcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotKind {
    /// Everything in the job's scope; committing it replaces the job's directory state.
    Full,
    /// Only objects changed (`uSNChanged`) or deleted (tombstones) since
    /// `Manifest::base`.
    Delta,
}

/// How far a DC's changes have been read: the DC, its database identity
/// and its update sequence number. USNs are only comparable on the same DC
/// with the same `invocation_id` (a restore from backup changes it).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct Watermark {
    /// The DC's `dnsHostName`.
    #[schemars(example = &"dc01.corp.example.test")]
    pub dns_host_name: String,
    /// The `invocationId` of the DC's NTDS Settings object, in objectGUID string form.
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RecordCounts {
    pub users: u64,
    pub groups: u64,
    pub ous: u64,
    /// `deleted` records (tombstones). Always written; 0 when absent on
    /// input. Deltas only: unless `kind` is `delta` it must be 0.
    #[serde(default)]
    pub deleted: u64,
}

impl RecordCounts {
    /// Counts `record`: a user, group, OU or tombstone is one object; a
    /// group's continuation (`group_members`) is part of its group.
    pub fn add(&mut self, record: &crate::records::Record) {
        use crate::records::Record;
        match record {
            Record::User(_) => self.users += 1,
            Record::Group(_) => self.groups += 1,
            Record::Ou(_) => self.ous += 1,
            Record::Deleted(_) => self.deleted += 1,
            Record::GroupMembers(_) => {}
        }
    }

    /// The counts of `records`, as a manifest names them.
    pub fn of<'a>(records: impl IntoIterator<Item = &'a crate::records::Record>) -> RecordCounts {
        let mut counts = RecordCounts::default();
        for record in records {
            counts.add(record);
        }
        counts
    }
}

/// One chunk as the manifest names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ChunkRef {
    /// Position in the snapshot, from 0.
    pub index: u32,
    /// Compressed size in bytes; the server refuses 0 and anything above
    /// 1 MiB ([`MAX_CHUNK_BYTES`]).
    #[schemars(range(min = 1, max = MAX_CHUNK_BYTES))]
    pub size: u64,
    /// sha256 of the compressed bytes, lower-case hex (the server compares
    /// case-insensitively).
    #[schemars(with = "common::Sha256Hex")]
    pub sha256: String,
    /// Records in the chunk.
    pub records: u64,
}

/// A snapshot's table of contents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = manifest_rules)]
pub struct Manifest {
    /// Format version of the manifest and the records ([`FORMAT_VERSION`]).
    /// Bumped on a breaking change; a server answers 422 to a version it
    /// does not speak.
    #[schemars(extend("const" = FORMAT_VERSION))]
    pub version: u32,
    /// Chosen by the agent; equals the token's `jti`.
    pub snapshot_id: SnapshotId,
    /// Equals the token's `iss`.
    pub agent_id: AgentId,
    /// Must be the agent's own job (else 404).
    pub job_id: JobId,
    pub kind: SnapshotKind,
    /// When the agent started reading (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "common::DateTime")]
    pub read_started_at: time::OffsetDateTime,
    pub directory: DirectoryIdentity,
    /// Where this snapshot leaves the job's directory state.
    pub watermark: Watermark,
    /// For a delta: the state it builds on, which must equal the watermark
    /// the server holds for the job (`sync.base`) member by member. Required
    /// when `kind` is `delta` (the server answers a delta without it, or
    /// with another one, 409 `urn:roster:problem:delta-base-mismatch`); a
    /// full snapshot builds on nothing and leaves it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<Watermark>,
    pub counts: RecordCounts,
    /// The chunks in order: element i must have `index` i (the server
    /// answers 422 otherwise).
    pub chunks: Vec<ChunkRef>,
}

/// What the types cannot say: a delta names its `base`, and only a delta
/// counts tombstones (the server enforces both: 409 `delta-base-mismatch`,
/// 422 at commit).
fn manifest_rules(schema: &mut schemars::Schema) {
    schema.insert("if".into(), serde_json::json!({ "properties": { "kind": { "const": "delta" } }, "required": ["kind"] }));
    schema.insert("then".into(), serde_json::json!({ "required": ["base"] }));
    schema.insert("else".into(), serde_json::json!({ "properties": { "counts": { "properties": { "deleted": { "const": 0 } } } } }));
}

impl Manifest {
    /// Total compressed bytes across chunks.
    pub fn total_bytes(&self) -> u64 {
        self.chunks.iter().map(|c| c.size).sum()
    }

    /// A delta that holds no object at all: the DC's USN moved for changes
    /// outside the job's scope. Nothing to import (continuous sync).
    pub fn is_empty_delta(&self) -> bool {
        let c = &self.counts;
        self.kind == SnapshotKind::Delta && c.users + c.groups + c.ous + c.deleted == 0
    }
}

#[cfg(test)]
mod tests {
    use super::RecordCounts;
    use crate::records::Record;

    const GUID: &str = "01234567-89ab-cdef-0123-456789abcdef";

    fn record(json: serde_json::Value) -> Record {
        serde_json::from_value(json).unwrap_or_else(|e| panic!("a record: {e}"))
    }

    #[test]
    fn every_object_counts_once_and_a_groups_continuation_not_at_all() {
        let user = record(
            serde_json::json!({"type": "user", "object_guid": GUID, "dn": "CN=a,DC=x", "sam_account_name": "a", "user_account_control": 512}),
        );
        let group = record(
            serde_json::json!({"type": "group", "object_guid": GUID, "dn": "CN=g,DC=x", "name": "g", "group_type": 2, "members": []}),
        );
        let more = record(serde_json::json!({"type": "group_members", "object_guid": GUID, "members": [GUID]}));
        let ou = record(serde_json::json!({"type": "ou", "object_guid": GUID, "dn": "OU=o,DC=x", "name": "o"}));
        let deleted = record(serde_json::json!({"type": "deleted", "object_guid": GUID}));
        let counts = |users, groups, ous, deleted| RecordCounts { users, groups, ous, deleted };
        let cases: [(&[&Record], RecordCounts); 7] = [
            (&[], counts(0, 0, 0, 0)),
            (&[&user], counts(1, 0, 0, 0)),
            (&[&group], counts(0, 1, 0, 0)),
            (&[&group, &more, &more], counts(0, 1, 0, 0)),
            (&[&ou], counts(0, 0, 1, 0)),
            (&[&deleted], counts(0, 0, 0, 1)),
            (&[&user, &user, &group, &more, &ou, &deleted, &deleted], counts(2, 1, 1, 2)),
        ];
        for (records, expected) in cases {
            assert_eq!(RecordCounts::of(records.iter().copied()), expected, "{records:?}");
        }
    }
}
