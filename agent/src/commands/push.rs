//! `roster-agent push`: fetch the job (and the server's sync advice), read
//! the directory into the spool (a delta when the server's watermark
//! allows, else full), sign the manifest, upload the chunks the server
//! lacks, commit, and wait for the import the commit started. Nothing is
//! offered until the whole read succeeded. A delta the server refuses as
//! built on the wrong base is followed, once, by a full snapshot.

use std::fs;
use std::path::Path;
use std::time::Duration;

use reqwest::StatusCode;
use roster_proto::SnapshotId;
use roster_proto::admin::{Session, SessionStatus};
use roster_proto::agent::{AgentJob, CommitResponse, InlineChunk, MAX_INLINE_CHUNK_BYTES, SyncAdvice};
use roster_proto::manifest::{ChunkRef, Manifest, Watermark};
use roster_proto::problem::ProblemKind;
use roster_snapshot::chunk::verify_hash;
use roster_snapshot::token::sign_manifest;
use serde::Serialize;
use tracing::{Instrument, debug, info, info_span, warn};

use super::Context;
use crate::error::{AgentError, Cause, Stage};
use crate::http::ServerClient;
use crate::ldap::LdapSettings;
use crate::snapshot::{SnapshotSummary, read_snapshot};
use crate::spool::{self, chunk_path};
use crate::state::Identity;
use crate::sync::{SnapshotPlan, plan_snapshot};

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
    /// The job as the server holds it once this snapshot is committed (the
    /// next delta's base is its watermark); `None` when nothing was committed.
    #[serde(skip)]
    pub job_after: Option<KnownJob>,
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
    let client = ctx.client(&identity)?;
    push_with(ctx, &identity, &client, None, options).await
}

/// The job as a push left it: what the server answered at `asked_at` (its
/// scope, its sync mode), with the sync base moved on to the watermark of
/// each snapshot committed since (the server's watermark is the last
/// committed snapshot's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownJob {
    pub job: AgentJob,
    pub asked_at: tokio::time::Instant,
}

/// [`push`] through `client` (`run`'s, whose connection stays open).
///
/// With `known`, and while it allows a delta, the job and the lease are
/// not asked for first (`run` holds the lease: its heartbeats and polls
/// renew it): a continuous job's change is then one request, the offer
/// carrying its chunks and the commit. Only a delta goes this way, so a
/// stale `known` can never shape what the server stores: the server
/// refuses a delta that does not build on its watermark, one it wants
/// full (the scope changed, say) and one from an agent whose lease
/// lapsed, and the push then asks after all, as it does when the DC's
/// watermark calls for a full snapshot.
pub async fn push_with(
    ctx: &Context,
    identity: &Identity,
    client: &ServerClient,
    known: Option<&KnownJob>,
    options: &PushOptions,
) -> Result<PushReport, AgentError> {
    let settings = ctx.ldap_settings()?;
    let registration = identity.registration.clone();
    let span = info_span!("push", tenant_id = %registration.tenant_id, job_id = %registration.job_id, agent_id = %registration.agent_id);
    async move {
        if let Some(known) = known.filter(|k| !options.full && k.job.sync.full_required.is_none() && k.job.sync.base.is_some()) {
            clear_stale_spools(ctx);
            let attempt = Attempt { client, identity, settings: &settings, ctx, options, job: &known.job, asked_at: known.asked_at };
            match attempt.push(Plan::DeltaOnly).await {
                Ok(Some(report)) => return Ok(report),
                Ok(None) => debug!("the DC's watermark calls for a full snapshot: asking for the job"),
                Err(error) if refused_delta(&error).is_some() || error.is(ProblemKind::Fenced) => {
                    debug!(%error, "the server refused the delta built on the job as last known: asking for the job")
                }
                Err(error) => return Err(error),
            }
        }
        let asked_at = tokio::time::Instant::now();
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
        let attempt = Attempt { client, identity, settings: &settings, ctx, options, job: &job, asked_at };
        let mut forced = options.full.then(|| "a full snapshot was asked for".to_owned());
        let mut fell_back = false;
        loop {
            clear_stale_spools(ctx);
            let plan = match &forced {
                Some(reason) => Plan::Full(reason),
                None => Plan::AsAdvised,
            };
            match attempt.push(plan).await {
                Err(error) if !fell_back => {
                    let Some(detail) = refused_delta(&error) else { return Err(error) };
                    warn!(%detail, "the server refused the delta's base; pushing a full snapshot instead");
                    forced = Some(format!("the server refused the delta: {detail}"));
                    fell_back = true;
                }
                // `Plan::AsAdvised` and `Plan::Full` always read.
                Ok(None) => return Err(Stage::Upload.err("the push read nothing".to_owned())),
                Ok(Some(report)) => return Ok(report),
                Err(error) => return Err(error),
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

/// What a push reads.
#[derive(Debug, Clone, Copy)]
enum Plan<'a> {
    /// Whatever the job's advice and the DC's watermark allow.
    AsAdvised,
    /// A full snapshot, for this reason.
    Full(&'a str),
    /// A delta, or nothing (`None`) where the watermark calls for a full snapshot.
    DeltaOnly,
}

/// One push's fixed inputs.
struct Attempt<'a> {
    client: &'a ServerClient,
    identity: &'a Identity,
    settings: &'a LdapSettings,
    ctx: &'a Context,
    options: &'a PushOptions,
    job: &'a AgentJob,
    /// When the server answered `job`.
    asked_at: tokio::time::Instant,
}

impl Attempt<'_> {
    /// One read, offer, upload, commit and wait; `None` when `plan` is
    /// `DeltaOnly` and the DC's watermark calls for a full snapshot.
    async fn push(&self, plan: Plan<'_>) -> Result<Option<PushReport>, AgentError> {
        let Attempt { client, identity, settings, ctx, options, job, .. } = *self;
        let registration = &identity.registration;
        let snapshot_id = SnapshotId::new();
        let spool_dir = ctx.state.spool_dir(snapshot_id);
        let decide = |current: &Watermark| match plan {
            Plan::AsAdvised => Some(plan_snapshot(&job.sync, current, None)),
            Plan::Full(reason) => Some(plan_snapshot(&job.sync, current, Some(reason))),
            Plan::DeltaOnly => Some(plan_snapshot(&job.sync, current, None)).filter(|p| matches!(p, SnapshotPlan::Delta { .. })),
        };
        let Some(read) = read_snapshot(settings, &job.scope, &spool_dir, snapshot_id, decide).await? else { return Ok(None) };
        let manifest = read.manifest(registration.agent_id, job.job_id);
        if options.skip_empty_delta && manifest.is_empty_delta() {
            spool::remove_dir(&spool_dir);
            let message = "nothing in the job's scope changed: the delta is not uploaded".to_owned();
            return Ok(Some(PushReport { snapshot: read.summary(), message, session: None, uploaded: false, job_after: None }));
        }

        let span = info_span!("snapshot", snapshot_id = %snapshot_id, kind = ?manifest.kind);
        async {
            let commit = self.upload_and_commit(&manifest, &spool_dir).await?;
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
            let sync = SyncAdvice { base: Some(manifest.watermark.clone()), full_required: None };
            let job_after = KnownJob { job: AgentJob { sync, ..job.clone() }, asked_at: self.asked_at };
            Ok(Some(PushReport { snapshot: read.summary(), message: commit.message, session, uploaded: true, job_after: Some(job_after) }))
        }
        .instrument(span)
        .await
    }

    /// Offers the signed manifest and commits it: in one request when the
    /// chunks fit inline, else offer, the chunks the server lacks, commit.
    async fn upload_and_commit(&self, manifest: &Manifest, spool_dir: &Path) -> Result<CommitResponse, AgentError> {
        let Attempt { client, identity, .. } = *self;
        let registration = &identity.registration;
        let key = &identity.key;
        let inline = inline_chunks(manifest, spool_dir)?;
        let mut signed: Option<(String, i64)> = None;
        let offered = client
            .offer_snapshot(
                || {
                    let now = time::OffsetDateTime::now_utc().unix_timestamp();
                    match &signed {
                        Some((token, at)) if now - at < RESIGN_AFTER_SECONDS => Ok(token.clone()),
                        _ => {
                            let token = sign_manifest(key, manifest, &registration.audience, now)?;
                            signed = Some((token.clone(), now));
                            Ok(token)
                        }
                    }
                },
                inline.as_deref().unwrap_or_default(),
                inline.is_some(),
            )
            .await
            .map_err(|e| Stage::Upload.err(e));
        let offered = match offered {
            // The answer to a commit that happened may have been lost, and the offer sent again
            // is then refused (its base is no longer the server's watermark): committing again
            // answers what the commit did.
            Err(error) if inline.is_some() && refused_delta(&error).is_some() => match client.commit(manifest.snapshot_id).await {
                Ok(commit) => return Ok(commit),
                Err(_) => return Err(error),
            },
            other => other?,
        };
        if offered.state.snapshot_id != manifest.snapshot_id {
            return Err(Stage::Upload
                .err(format!("the server answered for snapshot {} instead of {}", offered.state.snapshot_id, manifest.snapshot_id)));
        }
        if let Some(commit) = offered.commit {
            info!(chunks = manifest.chunks.len(), "manifest, chunks and commit accepted in one request");
            return Ok(commit);
        }
        info!(chunks = manifest.chunks.len(), missing = offered.state.missing_chunks.len(), "manifest accepted");
        upload(client, manifest, spool_dir, &offered.state.missing_chunks).await?;
        client.commit(manifest.snapshot_id).await.map_err(|e| Stage::Commit.err(e))
    }
}

/// Every chunk of `manifest`, read from the spool and checked against its
/// hash, when together they fit in an offer (`MAX_INLINE_CHUNK_BYTES`).
fn inline_chunks(manifest: &Manifest, spool_dir: &Path) -> Result<Option<Vec<InlineChunk>>, AgentError> {
    let total: u64 = manifest.chunks.iter().map(|c| c.size).sum();
    if total > MAX_INLINE_CHUNK_BYTES {
        return Ok(None);
    }
    let chunks = manifest.chunks.iter().map(|chunk| Ok(InlineChunk::new(chunk.index, &read_chunk(spool_dir, chunk)?)));
    chunks.collect::<Result<Vec<_>, AgentError>>().map(Some)
}

/// A spooled chunk's bytes, checked against the manifest's hash (a spool
/// file damaged on disk is caught here).
fn read_chunk(spool_dir: &Path, chunk: &ChunkRef) -> Result<Vec<u8>, AgentError> {
    let path = chunk_path(spool_dir, chunk.index);
    let bytes = fs::read(&path).map_err(|e| Stage::Spool.err(Cause::io("cannot read chunk", &path, e)))?;
    verify_hash(&bytes, &chunk.sha256).map_err(|e| Stage::Spool.err(e))?;
    Ok(bytes)
}

/// Uploads the chunks the server asked for, each checked against the
/// manifest's hash first.
async fn upload(client: &ServerClient, manifest: &Manifest, spool_dir: &Path, missing: &[u32]) -> Result<(), AgentError> {
    for (n, index) in missing.iter().enumerate() {
        let chunk = manifest
            .chunks
            .iter()
            .find(|c| c.index == *index)
            .ok_or_else(|| Stage::Upload.err(format!("the server asked for chunk {index}, which the manifest does not name")))?;
        let bytes = read_chunk(spool_dir, chunk)?;
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
