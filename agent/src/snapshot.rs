//! One read of the directory (full or delta) into a spool directory, and
//! the manifest describing it. Shared by `push` (which signs and uploads
//! it) and `read` (which leaves it on disk for inspection).

use std::path::Path;

use roster_proto::manifest::{FORMAT_VERSION, Manifest, RecordCounts, SnapshotKind, Watermark};
use roster_proto::scope::{JobScope, ResolvedScope};
use roster_proto::{AgentId, JobId, SnapshotId};
use time::OffsetDateTime;
use tracing::info;

use crate::error::{AgentError, Stage};
use crate::ldap::{Directory, DirectoryInfo, LdapSettings, ReadMode, ReadStats};
use crate::spool::{self, SpoolWriter, Spooled};
use crate::sync::SnapshotPlan;

/// A finished read, spooled.
#[derive(Debug, Clone)]
pub struct SnapshotRead {
    /// The snapshot's id (also the spool directory's name under `push`).
    pub snapshot_id: SnapshotId,
    /// When the read began; goes into the manifest.
    pub read_started_at: OffsetDateTime,
    /// The directory read, with the watermark read before the read.
    pub info: DirectoryInfo,
    /// Full or delta (and on what base), as decided once the watermark was known.
    pub plan: SnapshotPlan,
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
    pub snapshot_id: SnapshotId,
    /// `full` or `delta`, so an operator sees which one ran.
    pub kind: SnapshotKind,
    /// Users read (full: in scope, deduplicated; delta: changed).
    pub users: u64,
    /// Groups read.
    pub groups: u64,
    /// OUs read.
    pub ous: u64,
    /// Tombstones read (deltas only; 0 for a full snapshot).
    pub deleted: u64,
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
            kind: self.plan.kind(),
            users: self.stats.users,
            groups: self.stats.groups,
            ous: self.stats.ous,
            deleted: self.stats.deleted,
            pages: self.stats.pages,
            chunks: self.spooled.chunks.len() as u64,
            bytes: self.spooled.chunks.iter().map(|c| c.size).sum(),
        }
    }

    /// The manifest of this snapshot for `agent_id` and `job_id`.
    pub fn manifest(&self, agent_id: AgentId, job_id: JobId) -> Manifest {
        Manifest {
            version: FORMAT_VERSION,
            snapshot_id: self.snapshot_id,
            agent_id,
            job_id,
            kind: self.plan.kind(),
            read_started_at: self.read_started_at,
            directory: self.info.identity(),
            watermark: self.watermark().clone(),
            base: self.plan.base().cloned(),
            counts: RecordCounts { users: self.stats.users, groups: self.stats.groups, ous: self.stats.ous, deleted: self.stats.deleted },
            chunks: self.spooled.chunks.clone(),
        }
    }
}

impl SnapshotRead {
    /// Where the DC's changes stood just before the read: where the next
    /// delta starts.
    pub fn watermark(&self) -> &Watermark {
        &self.info.watermark
    }
}

/// Connects, reads the watermark, lets `plan` decide full or delta from
/// it, reads into `spool_dir` (chunk by chunk as pages arrive) and closes.
/// `plan` may also decline (`None`): then nothing is read, and the answer
/// is `None`. On any failure the spool directory is removed: a partial
/// read is never pushed.
pub async fn read_snapshot(
    settings: &LdapSettings,
    scope: &JobScope,
    spool_dir: &Path,
    snapshot_id: SnapshotId,
    plan: impl FnOnce(&Watermark) -> Option<SnapshotPlan>,
) -> Result<Option<SnapshotRead>, AgentError> {
    let result = read_inner(settings, scope, spool_dir, snapshot_id, plan).await;
    if result.is_err() {
        spool::remove_dir(spool_dir);
    }
    result
}

async fn read_inner(
    settings: &LdapSettings,
    scope: &JobScope,
    spool_dir: &Path,
    snapshot_id: SnapshotId,
    plan: impl FnOnce(&Watermark) -> Option<SnapshotPlan>,
) -> Result<Option<SnapshotRead>, AgentError> {
    let read_started_at = OffsetDateTime::now_utc();
    let mut directory = Directory::connect(settings).await?;
    let info = directory.directory_info(settings.base_dn.as_deref()).await?;
    let Some(plan) = plan(&info.watermark) else {
        directory.close().await;
        return Ok(None);
    };
    let mode = match &plan {
        SnapshotPlan::Full { reason } => {
            info!(%reason, "full snapshot");
            ReadMode::Full
        }
        SnapshotPlan::Delta { base } => {
            info!(base_usn = base.usn, "delta snapshot: changes since the server's watermark");
            ReadMode::Delta { since_usn: base.usn.saturating_add(1) }
        }
    };
    info!(
        domain = %info.root.default_naming_context,
        dc = %info.watermark.dns_host_name,
        invocation_id = %info.watermark.invocation_id,
        highest_committed_usn = info.watermark.usn,
        base_dn = %info.base_dn,
        "reading the directory"
    );
    let resolved = scope.resolve(&info.base_dn).map_err(|e| Stage::Config.err(e))?;
    let mut spool = SpoolWriter::create(spool_dir)?;
    let stats = directory.read(&info, &resolved, mode, &mut spool).await?;
    let spooled = spool.finish()?;
    directory.close().await;
    info!(chunks = spooled.chunks.len(), bytes = spooled.bytes(), dir = %spooled.dir.display(), "snapshot spooled");
    Ok(Some(SnapshotRead { snapshot_id, read_started_at, info, plan, scope: resolved, stats, spooled }))
}
