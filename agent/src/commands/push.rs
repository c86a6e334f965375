//! `roster-agent push`: fetch the job (and the server's sync advice), read
//! the directory into the spool (a delta when the server's watermark
//! allows, else full), sign the manifest, upload the chunks the server
//! lacks, commit, and wait for the import the commit started. Nothing is
//! offered until the whole read succeeded. A delta the server refuses as
//! built on the wrong base is followed, once, by a full snapshot.

use std::fs;
use std::time::Duration;

use reqwest::StatusCode;
use roster_proto::SnapshotId;
use roster_proto::admin::{Session, SessionStatus};
use roster_proto::agent::AgentJob;
use roster_proto::problem::ProblemKind;
use roster_snapshot::chunk::verify_hash;
use roster_snapshot::token::sign_manifest;
use serde::Serialize;
use tracing::{Instrument, info, info_span, warn};

use super::Context;
use crate::error::{AgentError, Cause, Stage};
use crate::http::ServerClient;
use crate::ldap::LdapSettings;
use crate::snapshot::{SnapshotSummary, read_snapshot};
use crate::spool::{self, chunk_path};
use crate::state::Identity;
use crate::sync::plan_snapshot;

/// Longest a signed manifest is reused across offer attempts before it is
/// signed afresh (tokens live two minutes).
const RESIGN_AFTER_SECONDS: i64 = 60;
/// First and longest pause between session polls.
const FIRST_POLL: Duration = Duration::from_millis(250);
const MAX_POLL: Duration = Duration::from_secs(2);

/// What `push` is asked to do.
#[derive(Debug, Clone)]
pub struct PushOptions {
    /// Wait for the import session the commit started.
    pub wait: bool,
    /// How long to wait for it.
    pub wait_timeout: Duration,
    /// Send a full snapshot even where a delta would do.
    pub full: bool,
    /// Upload nothing when the read is a delta that holds no object
    /// (continuous sync: the DC's USN moved for something out of scope).
    pub skip_empty_delta: bool,
}

impl Default for PushOptions {
    fn default() -> PushOptions {
        PushOptions { wait: true, wait_timeout: Duration::from_secs(600), full: false, skip_empty_delta: false }
    }
}

/// The one JSON object `push` prints.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PushReport {
    /// What was read and pushed (chunks counts all of the manifest's, not
    /// only those uploaded this time).
    #[serde(flatten)]
    pub snapshot: SnapshotSummary,
    /// The server's word on what happens next.
    pub message: String,
    /// The import session, as last seen (`null` when the commit started none).
    pub session: Option<Session>,
    /// False when an empty delta was read and not uploaded (`skip_empty_delta`).
    #[serde(skip)]
    pub uploaded: bool,
}

impl PushReport {
    /// True when an import ran and failed.
    pub fn import_failed(&self) -> bool {
        self.session.as_ref().is_some_and(|s| s.status == SessionStatus::Failed)
    }
}

/// Reads, uploads and commits one snapshot: a delta when the server's
/// advice and the DC's watermark allow, else full; a full one after the
/// server refused a delta's base.
pub async fn push(ctx: &Context, options: &PushOptions) -> Result<PushReport, AgentError> {
    let identity = ctx.state.identity()?;
    let settings = ctx.ldap_settings()?;
    let client = ctx.client(&identity)?;
    let registration = identity.registration.clone();
    let span = info_span!("push", tenant_id = %registration.tenant_id, job_id = %registration.job_id, agent_id = %registration.agent_id);
    async move {
        let job = client.job().await.map_err(|e| Stage::FetchJob.err(e))?;
        if job.job_id != registration.job_id {
            warn!(server_job = %job.job_id, "the server's job differs from the registered one");
        }
        info!(
            job = %job.name,
            paths = ?job.scope.relative_paths,
            group_paths = ?job.scope.group_paths,
            base_usn = job.sync.base.as_ref().map(|b| b.usn),
            full_required = job.sync.full_required.as_deref(),
            "job fetched"
        );

        // Only the holder of the job's lease pushes; its uploads carry the lease's fencing token.
        let lease = client.lease().await.map_err(|e| Stage::Lease.err(e))?;
        if !lease.active {
            return Err(Stage::Lease.err(format!(
                "another agent of this job holds its lease (until {} at least): this agent stands by, and takes over \
                 once that one has been silent past its lease",
                lease.expires_at
            )));
        }
        info!(fencing_token = lease.fencing_token, "the job's lease is this agent's");
        let mut forced = options.full.then(|| "a full snapshot was asked for".to_owned());
        let mut fell_back = false;
        loop {
            clear_stale_spools(ctx);
            match push_snapshot(&client, &identity, &settings, &job, forced.as_deref(), ctx, options).await {
                Err(error) if !fell_back => {
                    let Some(detail) = refused_delta(&error) else { return Err(error) };
                    warn!(%detail, "the server refused the delta's base; pushing a full snapshot instead");
                    forced = Some(format!("the server refused the delta: {detail}"));
                    fell_back = true;
                }
                outcome => return outcome,
            }
        }
    }
    .instrument(span)
    .await
}

/// The server's detail when `error` is its 409 `delta-base-mismatch` to an
/// offer or a commit (the agent answers it with a full snapshot).
pub fn refused_delta(error: &AgentError) -> Option<&str> {
    match (error.stage, error.cause.as_ref()) {
        (Stage::Upload | Stage::Commit, Cause::Http(http))
            if http.status() == Some(StatusCode::CONFLICT) && http.problem_type() == Some(ProblemKind::DeltaBaseMismatch.uri()) =>
        {
            Some(http.detail().unwrap_or("delta base mismatch"))
        }
        _ => None,
    }
}

/// One read, offer, upload, commit and wait. `forced`: why the snapshot
/// must be full whatever the advice says.
async fn push_snapshot(
    client: &ServerClient,
    identity: &Identity,
    settings: &LdapSettings,
    job: &AgentJob,
    forced: Option<&str>,
    ctx: &Context,
    options: &PushOptions,
) -> Result<PushReport, AgentError> {
    let registration = &identity.registration;
    let snapshot_id = SnapshotId::new();
    let spool_dir = ctx.state.spool_dir(snapshot_id);
    let read = read_snapshot(settings, &job.scope, &spool_dir, snapshot_id, |current| plan_snapshot(&job.sync, current, forced)).await?;
    let manifest = read.manifest(registration.agent_id, job.job_id);
    if options.skip_empty_delta && manifest.is_empty_delta() {
        spool::remove_dir(&spool_dir);
        let message = "nothing in the job's scope changed: the delta is not uploaded".to_owned();
        return Ok(PushReport { snapshot: read.summary(), message, session: None, uploaded: false });
    }

    let span = info_span!("snapshot", snapshot_id = %snapshot_id, kind = ?manifest.kind);
    async {
        let key = &identity.key;
        let mut signed: Option<(String, i64)> = None;
        let state = client
            .offer_snapshot(|| {
                let now = time::OffsetDateTime::now_utc().unix_timestamp();
                match &signed {
                    Some((token, at)) if now - at < RESIGN_AFTER_SECONDS => Ok(token.clone()),
                    _ => {
                        let token = sign_manifest(key, &manifest, &registration.audience, now)?;
                        signed = Some((token.clone(), now));
                        Ok(token)
                    }
                }
            })
            .await
            .map_err(|e| Stage::Upload.err(e))?;
        if state.snapshot_id != snapshot_id {
            return Err(Stage::Upload.err(format!("the server answered for snapshot {} instead of {snapshot_id}", state.snapshot_id)));
        }
        info!(chunks = manifest.chunks.len(), missing = state.missing_chunks.len(), "manifest accepted");
        upload(client, &manifest, &spool_dir, &state.missing_chunks).await?;

        let commit = client.commit(snapshot_id).await.map_err(|e| Stage::Commit.err(e))?;
        info!(message = %commit.message, session_id = ?commit.session.as_ref().map(|s| s.id), "snapshot committed");
        let session = match commit.session {
            Some(session) if options.wait && !session.status.is_settled() => {
                Some(wait_for_session(client, session, options.wait_timeout).await?)
            }
            other => other,
        };
        if let Some(session) = &session {
            match session.status {
                SessionStatus::Failed => {
                    warn!(session_id = %session.id, error = session.error.as_deref().unwrap_or("?"), "import failed")
                }
                SessionStatus::Held => warn!(
                    session_id = %session.id,
                    reasons = ?session.held_reasons,
                    "import held by the job's safeguard: an admin approves or rejects it in the console"
                ),
                status => info!(session_id = %session.id, ?status, counts = ?session.counts, "import session"),
            }
        }
        spool::remove_dir(&spool_dir);
        Ok(PushReport { snapshot: read.summary(), message: commit.message, session, uploaded: true })
    }
    .instrument(span)
    .await
}

/// Uploads the chunks the server asked for, each checked against the
/// manifest's hash first (a spool file damaged on disk is caught here).
async fn upload(
    client: &ServerClient,
    manifest: &roster_proto::manifest::Manifest,
    spool_dir: &std::path::Path,
    missing: &[u32],
) -> Result<(), AgentError> {
    for (n, index) in missing.iter().enumerate() {
        let chunk = manifest
            .chunks
            .iter()
            .find(|c| c.index == *index)
            .ok_or_else(|| Stage::Upload.err(format!("the server asked for chunk {index}, which the manifest does not name")))?;
        let path = chunk_path(spool_dir, *index);
        let bytes = fs::read(&path).map_err(|e| Stage::Spool.err(Cause::io("cannot read chunk", &path, e)))?;
        verify_hash(&bytes, &chunk.sha256).map_err(|e| Stage::Spool.err(e))?;
        client.put_chunk(manifest.snapshot_id, *index, &bytes).await.map_err(|e| Stage::Upload.err(e))?;
        info!(index, uploaded = n + 1, of = missing.len(), bytes = bytes.len(), "chunk uploaded");
    }
    Ok(())
}

/// Polls the session until it is finished or `timeout` passes.
async fn wait_for_session(client: &ServerClient, mut session: Session, timeout: Duration) -> Result<Session, AgentError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut pause = FIRST_POLL;
    info!(session_id = %session.id, timeout_s = timeout.as_secs(), "waiting for the import");
    while !session.status.is_settled() {
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Err(Stage::WaitForImport.err(format!(
                "import session {} is still {:?} after {} s; the server carries on with it (see the console, or raise --wait-timeout)",
                session.id,
                session.status,
                timeout.as_secs()
            )));
        }
        tokio::time::sleep(pause.min(deadline - now)).await;
        pause = (pause * 3 / 2).min(MAX_POLL);
        session = client.session(session.id).await.map_err(|e| Stage::WaitForImport.err(e))?;
    }
    Ok(session)
}

/// Removes spool directories left by failed pushes (kept until now for
/// diagnosis).
fn clear_stale_spools(ctx: &Context) {
    let root = ctx.state.spool_root();
    let Ok(entries) = fs::read_dir(&root) else { return };
    for entry in entries.flatten() {
        info!(dir = %entry.path().display(), "removing the spool of an earlier, unfinished push");
        spool::remove_dir(&entry.path());
    }
}
