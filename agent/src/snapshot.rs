//! One full read of the directory into a spool directory, and the
//! manifest describing it. Shared by `push` (which signs and uploads it)
//! and `read` (which leaves it on disk for inspection).

use std::path::Path;

use roster_proto::manifest::{FORMAT_VERSION, Manifest, RecordCounts, SnapshotKind};
use roster_proto::scope::{JobScope, ResolvedScope};
use time::OffsetDateTime;
use tracing::info;
use uuid::Uuid;

use crate::error::{AgentError, Stage};
use crate::ldap::{Directory, DirectoryInfo, LdapSettings, ReadStats};
use crate::spool::{self, SpoolWriter, Spooled};

/// A finished read, spooled.
#[derive(Debug, Clone)]
pub struct SnapshotRead {
    /// The snapshot's id (also the spool directory's name under `push`).
    pub snapshot_id: Uuid,
    /// When the read began; goes into the manifest.
    pub read_started_at: OffsetDateTime,
    /// The directory read.
    pub info: DirectoryInfo,
    /// The scope as searched.
    pub scope: ResolvedScope,
    /// Record and page counts.
    pub stats: ReadStats,
    /// The chunks on disk.
    pub spooled: Spooled,
}

/// What a read produced, as `push` and `read` print it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SnapshotSummary {
    /// The snapshot's id; the server's and the console's handle on it.
    pub snapshot_id: Uuid,
    /// Users read (in scope, deduplicated).
    pub users: u64,
    /// Groups read.
    pub groups: u64,
    /// OUs read.
    pub ous: u64,
    /// LDAP result pages read across all searches (shows paging happened).
    pub pages: u64,
    /// Chunks in the snapshot.
    pub chunks: u64,
    /// Compressed bytes of all chunks.
    pub bytes: u64,
}

impl SnapshotRead {
    /// The counts to report.
    pub fn summary(&self) -> SnapshotSummary {
        SnapshotSummary {
            snapshot_id: self.snapshot_id,
            users: self.stats.users,
            groups: self.stats.groups,
            ous: self.stats.ous,
            pages: self.stats.pages,
            chunks: self.spooled.chunks.len() as u64,
            bytes: self.spooled.chunks.iter().map(|c| c.size).sum(),
        }
    }

    /// The manifest of this snapshot for `agent_id` and `job_id`.
    pub fn manifest(&self, agent_id: Uuid, job_id: Uuid) -> Manifest {
        Manifest {
            version: FORMAT_VERSION,
            snapshot_id: self.snapshot_id,
            agent_id,
            job_id,
            kind: SnapshotKind::Full,
            read_started_at: self.read_started_at,
            directory: self.info.identity(),
            counts: RecordCounts { users: self.stats.users, groups: self.stats.groups, ous: self.stats.ous },
            chunks: self.spooled.chunks.clone(),
        }
    }
}

/// Connects, reads everything `scope` covers into `spool_dir` (chunk by
/// chunk as pages arrive) and closes. On any failure the spool directory
/// is removed: a partial read is never pushed.
pub async fn read_snapshot(
    settings: &LdapSettings,
    scope: &JobScope,
    spool_dir: &Path,
    snapshot_id: Uuid,
) -> Result<SnapshotRead, AgentError> {
    let result = read_inner(settings, scope, spool_dir, snapshot_id).await;
    if result.is_err() {
        spool::remove_dir(spool_dir);
    }
    result
}

async fn read_inner(settings: &LdapSettings, scope: &JobScope, spool_dir: &Path, snapshot_id: Uuid) -> Result<SnapshotRead, AgentError> {
    let read_started_at = OffsetDateTime::now_utc();
    let mut directory = Directory::connect(settings).await?;
    let info = directory.directory_info(settings.base_dn.as_deref()).await?;
    info!(
        domain = %info.root.default_naming_context,
        dc = info.root.dns_host_name.as_deref().unwrap_or("?"),
        highest_committed_usn = info.root.highest_committed_usn,
        base_dn = %info.base_dn,
        "reading the directory"
    );
    let resolved = scope.resolve(&info.base_dn).map_err(|e| Stage::Config.err(e))?;
    let mut spool = SpoolWriter::create(spool_dir)?;
    let stats = directory.read(&resolved, &info.base_dn, &mut spool).await?;
    let spooled = spool.finish()?;
    directory.close().await;
    info!(chunks = spooled.chunks.len(), bytes = spooled.bytes(), dir = %spooled.dir.display(), "snapshot spooled");
    Ok(SnapshotRead { snapshot_id, read_started_at, info, scope: resolved, stats, spooled })
}
