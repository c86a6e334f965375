//! `roster-agent read`: read the directory with a given scope into a
//! folder of chunks plus the unsigned manifest, without a server, so the
//! LDAP side can be tried and inspected on its own. Always a full read;
//! the manifest carries the watermark a later delta would start from.

use std::path::PathBuf;

use roster_proto::manifest::Watermark;
use roster_proto::scope::JobScope;
use roster_proto::{AgentId, JobId, SnapshotId};
use serde::Serialize;
use uuid::Uuid;

use super::Context;
use crate::error::{AgentError, Cause, Stage};
use crate::snapshot::{SnapshotSummary, read_snapshot};
use crate::sync::SnapshotPlan;

/// The manifest file `read` writes next to the chunks.
pub const MANIFEST_FILE: &str = "manifest.json";

/// What `read` is asked to do.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Folder for the chunks and `manifest.json`; must not exist or be empty.
    pub out: PathBuf,
    /// The scope to read, as a job would give it.
    pub scope: JobScope,
    /// Read only what changed after this USN of the same DC (a delta, as
    /// `push` would send on a base with this USN); `None` reads everything.
    pub since_usn: Option<u64>,
}

/// The one JSON object `read` prints.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ReadReport {
    /// What was read.
    #[serde(flatten)]
    pub snapshot: SnapshotSummary,
    /// The folder holding `NNNNNN.chunk` files.
    pub out: PathBuf,
    /// The unsigned manifest (agent and job ids are nil).
    pub manifest: PathBuf,
}

/// Reads into `options.out`. On failure the folder is removed.
pub async fn read(ctx: &Context, options: &ReadOptions) -> Result<ReadReport, AgentError> {
    let settings = ctx.ldap_settings()?;
    options.scope.validate().map_err(|e| Stage::Config.err(e))?;
    let snapshot_id = SnapshotId::new();
    let since_usn = options.since_usn;
    let plan = |current: &Watermark| match since_usn {
        None => SnapshotPlan::Full { reason: "the read command reads everything in scope".to_owned() },
        Some(usn) => SnapshotPlan::Delta { base: Watermark { usn, ..current.clone() } },
    };
    let read = read_snapshot(&settings, &options.scope, &options.out, snapshot_id, |current| Some(plan(current)))
        .await?
        .ok_or_else(|| Stage::Config.err("the read was declined before it began".to_owned()))?;
    let manifest = read.manifest(AgentId::from(Uuid::nil()), JobId::from(Uuid::nil()));
    let path = options.out.join(MANIFEST_FILE);
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| Stage::Spool.err(e.to_string()))?;
    std::fs::write(&path, json).map_err(|e| Stage::Spool.err(Cause::io("cannot write", &path, e)))?;
    Ok(ReadReport { snapshot: read.summary(), out: options.out.clone(), manifest: path })
}
