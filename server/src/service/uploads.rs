//! The snapshot upload protocol, as an agent drives it: offer a signed
//! manifest, put the chunks it lacks, commit; or, for a small snapshot, all
//! three in the offer (its chunks inline, and the commit asked for), each
//! step as its own request would take it. Each step checks what it can
//! before anything is stored, and an agent only ever reaches its own job's
//! snapshots and sessions: another agent's answer 404, like ones that do
//! not exist. Snapshot ids are the job's own, so another job's id is a
//! fresh one here: offering it answers as any new id does.

use roster_proto::admin::{Session, SessionTrigger, SyncMode};
use roster_proto::agent::{
    CommitResponse, InlineChunk, MAX_INLINE_CHUNK_BYTES, OfferResponse, OfferSnapshot, SnapshotState, SnapshotStatus,
};
use roster_proto::manifest::{ChunkRef, FORMAT_VERSION, MAX_CHUNK_BYTES, Manifest, SnapshotKind};
use roster_proto::{SessionId, SnapshotId};

use crate::db::Db;
use crate::error::{AppError, AuthError, LimitError, Missing, UploadError};
use crate::import::ImportQueue;
use crate::ingest::{self, Committed, IngestError, SyncInputs};
use crate::settings::Limits;
use crate::store;
use crate::store::agents::AgentRecord;
use crate::store::directory::SnapshotRecord;

/// Verifies `manifest_token` with `agent`'s key, checks the manifest against
/// the format, the server's limits and (for a delta) the state it must build
/// on, and stores the offer. Offering again answers which chunks are still
/// missing; the same snapshot id with another manifest is refused. The
/// job's room for unfinished snapshots is judged in the transaction that
/// stores the offer.
///
/// Chunks the offer carries are checked against the manifest before
/// anything is stored, then stored as [`put_chunk`] would; asked to, the
/// snapshot is then committed as [`commit`] would (its refusal is the
/// offer's answer).
pub async fn offer(
    db: &Db,
    limits: &Limits,
    imports: &ImportQueue,
    audience: &str,
    agent: &AgentRecord,
    fencing_token: Option<u64>,
    offer: &OfferSnapshot,
) -> Result<OfferResponse, AppError> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let verified = roster_snapshot::token::verify_manifest(&offer.manifest_token, &agent.public_key, agent.id, audience, now)
        .map_err(AuthError::Manifest)?;
    let manifest = verified.claims.manifest;
    if manifest.version != FORMAT_VERSION {
        return Err(UploadError::Version(manifest.version).into());
    }
    if manifest.job_id != agent.job_id {
        return Err(AppError::NotFound(Missing::Job));
    }
    check_chunk_list(&manifest)?;
    check_size(limits, &manifest)?;
    let inline = inline_chunks(&manifest, &offer.chunks)?;
    check_fence(db, agent, fencing_token).await?;
    if manifest.kind == SnapshotKind::Delta {
        // Refuse early what the commit would refuse, before any chunk travels.
        let job = store::jobs::get_job(db, agent.tenant_id, manifest.job_id).await?.ok_or(AppError::NotFound(Missing::Job))?;
        let mut conn = db.pool.acquire().await?;
        SyncInputs::read(&mut conn, &job).await?.check_delta(&job, manifest.base.as_ref()).map_err(IngestError::BaseMismatch)?;
        ingest::check_watermark_moves(manifest.base.as_ref(), &manifest.watermark).map_err(IngestError::BaseMismatch)?;
    }
    // The room is judged and the offer stored in one write transaction
    // holding the job's offers, so simultaneous offers cannot all fit in
    // the same room.
    let mut tx = db.begin_write().await?;
    if !store::directory::lock_offers(&mut tx, db.dialect, manifest.job_id).await? {
        tx.rollback().await?;
        return Err(AppError::NotFound(Missing::Job));
    }
    check_room(&mut tx, limits, &manifest).await?;
    let stored = store::directory::offer_snapshot(&mut tx, agent.tenant_id, &manifest, &verified.sha256).await?;
    tx.commit().await?;
    if stored.agent_id != agent.id || stored.job_id != agent.job_id {
        return Err(AppError::NotFound(Missing::Snapshot));
    }
    if stored.manifest != manifest {
        return Err(UploadError::ManifestDiffers(manifest.snapshot_id).into());
    }
    if stored.failed {
        return Err(UploadError::Failed(stored.id).into());
    }
    tracing::info!(
        tenant = %agent.tenant_id,
        job = %agent.job_id,
        snapshot = %manifest.snapshot_id,
        chunks = manifest.chunks.len(),
        inline = inline.len(),
        "snapshot offered"
    );
    for (index, bytes) in &inline {
        store_chunk(db, agent, fencing_token, &stored, *index, bytes).await?;
    }
    if !offer.commit {
        return Ok(OfferResponse { state: state_of(db, &stored).await?, commit: None });
    }
    let committed = commit(db, limits, imports, &stored, fencing_token).await?;
    let state = SnapshotState { snapshot_id: stored.id, status: SnapshotStatus::Committed, missing_chunks: Vec::new() };
    Ok(OfferResponse { state, commit: Some(committed) })
}

/// The chunks an offer carries, decoded and checked against `manifest`
/// (named by it, each once, its size and sha256, no more than
/// [`MAX_INLINE_CHUNK_BYTES`] in all), in the offer's order.
fn inline_chunks(manifest: &Manifest, chunks: &[InlineChunk]) -> Result<Vec<(u32, Vec<u8>)>, UploadError> {
    // Judged on the manifest's names and sizes before anything is decoded.
    let mut named = Vec::with_capacity(chunks.len());
    for inline in chunks {
        let index = inline.index;
        let chunk = manifest.chunks.get(index as usize).ok_or(UploadError::InlineUnknown { index })?;
        if named.iter().any(|(_, seen): &(&InlineChunk, &ChunkRef)| seen.index == index) {
            return Err(UploadError::InlineTwice { index });
        }
        named.push((inline, chunk));
    }
    let bytes: u64 = named.iter().map(|(_, chunk)| chunk.size).sum();
    if bytes > MAX_INLINE_CHUNK_BYTES {
        return Err(UploadError::InlineTooLarge { bytes });
    }
    named
        .into_iter()
        .map(|(inline, chunk)| {
            let bytes = inline.decode().ok_or(UploadError::InlineEncoding { index: chunk.index })?;
            check_body(chunk.index, chunk, &bytes)?;
            Ok((chunk.index, bytes))
        })
        .collect()
}

/// A chunk's bytes are what the manifest names: its length and its sha256.
fn check_body(index: u32, chunk: &ChunkRef, body: &[u8]) -> Result<(), UploadError> {
    if body.len() as u64 != chunk.size {
        return Err(UploadError::BodySize { index, actual: body.len(), expected: chunk.size });
    }
    roster_snapshot::chunk::verify_hash(body, &chunk.sha256).map_err(|source| UploadError::BodyHash { index, source })
}

/// Refuses early, before chunks travel, an upload the commit would refuse
/// for its fencing token (the commit checks again, under the job's lock).
async fn check_fence(db: &Db, agent: &AgentRecord, fencing_token: Option<u64>) -> Result<(), AppError> {
    let lease = store::leases::get(&mut *db.pool.acquire().await?, agent.job_id).await?;
    Ok(crate::lease::fence(lease.as_ref(), agent.id, fencing_token)?)
}

/// The server's limits on one snapshot, whatever else the job holds.
fn check_size(limits: &Limits, manifest: &Manifest) -> Result<(), AppError> {
    if manifest.chunks.len() > limits.max_chunks_per_snapshot {
        return Err(LimitError::SnapshotChunks { chunks: manifest.chunks.len(), max: limits.max_chunks_per_snapshot }.into());
    }
    // The numbers are the agent's: summed with checked arithmetic, since a
    // wrapped sum (`u64::MAX` and 2 make 1) would pass the limit. A sum past
    // `u64::MAX` is over any limit.
    let chunk_records = manifest.chunks.iter().try_fold(0u64, |sum, chunk| sum.checked_add(chunk.records));
    let counts = &manifest.counts;
    let counted = [counts.users, counts.groups, counts.ous, counts.deleted].into_iter().try_fold(0u64, u64::checked_add);
    let records = chunk_records.zip(counted).map_or(u64::MAX, |(chunks, counted)| chunks.max(counted));
    if records > limits.max_records_per_snapshot {
        return Err(LimitError::SnapshotRecords { records, max: limits.max_records_per_snapshot }.into());
    }
    let (bytes, max) = (store::chunks::manifest_bytes(manifest), limits.max_unfinished_snapshot_bytes_per_job);
    if bytes > max {
        return Err(LimitError::SnapshotOverQuota { bytes, max }.into());
    }
    Ok(())
}

/// The server's limits on a job's unfinished snapshots, read on the
/// offer's transaction (see [`offer`]).
async fn check_room(conn: &mut sqlx::AnyConnection, limits: &Limits, manifest: &Manifest) -> Result<(), AppError> {
    let (pending, used) = store::directory::unfinished(conn, manifest.job_id, manifest.snapshot_id).await?;
    if pending >= limits.max_pending_snapshots_per_job {
        return Err(LimitError::PendingSnapshots { pending, max: limits.max_pending_snapshots_per_job }.into());
    }
    let (bytes, max) = (store::chunks::manifest_bytes(manifest), limits.max_unfinished_snapshot_bytes_per_job);
    if used.saturating_add(bytes) > max {
        return Err(LimitError::QuotaInUse { bytes, used, max }.into());
    }
    Ok(())
}

/// Chunks are numbered 0..n in order, each within the size limit.
fn check_chunk_list(manifest: &Manifest) -> Result<(), UploadError> {
    for (position, chunk) in manifest.chunks.iter().enumerate() {
        if chunk.index as usize != position {
            return Err(UploadError::ChunkIndex { position, index: chunk.index });
        }
        if chunk.size == 0 || chunk.size > MAX_CHUNK_BYTES as u64 {
            return Err(UploadError::ChunkSize { position, size: chunk.size });
        }
        if chunk.sha256.len() != 64 || !chunk.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(UploadError::ChunkSha256 { position });
        }
    }
    Ok(())
}

/// `agent`'s snapshot named `id`, or 404 (also for another agent's).
pub async fn own_snapshot(db: &Db, agent: &AgentRecord, id: &str) -> Result<SnapshotRecord, AppError> {
    let id: SnapshotId = id.parse().map_err(|_| AppError::NotFound(Missing::Snapshot))?;
    match store::directory::get_snapshot(db, agent.job_id, id).await? {
        Some(s) if s.tenant_id == agent.tenant_id => Ok(s),
        _ => Err(AppError::NotFound(Missing::Snapshot)),
    }
}

/// Where `snapshot`'s upload stands: committed (its chunks may be gone:
/// none is missing any more), or which chunks it lacks.
pub async fn state_of(db: &Db, snapshot: &SnapshotRecord) -> Result<SnapshotState, AppError> {
    if snapshot.committed {
        return Ok(SnapshotState { snapshot_id: snapshot.id, status: SnapshotStatus::Committed, missing_chunks: Vec::new() });
    }
    let stored = store::directory::stored_chunks(db, snapshot.job_id, snapshot.id).await?;
    let missing = snapshot.manifest.chunks.iter().map(|c| c.index).filter(|i| stored.binary_search(i).is_err()).collect();
    Ok(SnapshotState {
        snapshot_id: snapshot.id,
        status: if snapshot.committed { SnapshotStatus::Committed } else { SnapshotStatus::Receiving },
        missing_chunks: missing,
    })
}

/// Stores chunk `index` of `snapshot` once its length and sha256 are the
/// manifest's. A chunk put again, or put after the commit, changes nothing.
pub async fn put_chunk(
    db: &Db,
    agent: &AgentRecord,
    fencing_token: Option<u64>,
    snapshot: &SnapshotRecord,
    index: &str,
    body: &[u8],
) -> Result<(), AppError> {
    let index = chunk_index(index).ok_or(AppError::NotFound(Missing::Chunk))?;
    store_chunk(db, agent, fencing_token, snapshot, index, body).await
}

/// [`put_chunk`] for a chunk index already parsed.
async fn store_chunk(
    db: &Db,
    agent: &AgentRecord,
    fencing_token: Option<u64>,
    snapshot: &SnapshotRecord,
    index: u32,
    body: &[u8],
) -> Result<(), AppError> {
    let chunk = snapshot.manifest.chunks.get(index as usize).ok_or(AppError::NotFound(Missing::Chunk))?;
    check_body(index, chunk, body)?;
    if snapshot.committed {
        return Ok(());
    }
    if snapshot.failed {
        return Err(UploadError::Failed(snapshot.id).into());
    }
    check_fence(db, agent, fencing_token).await?;
    store::directory::put_chunk(db, snapshot.job_id, snapshot.id, index, &chunk.sha256, body).await?;
    crate::fault::chunk_stored();
    Ok(())
}

/// A chunk index as the URL must write it: decimal digits in canonical
/// form, so each chunk has one URL (`01`, `+1`, ` 1` name none; Rust's
/// integer parser accepts the first two).
fn chunk_index(text: &str) -> Option<u32> {
    let index: u32 = text.parse().ok()?;
    (index.to_string() == text).then_some(index)
}

/// Checks that every chunk is there, then commits `snapshot` into its job's
/// directory state (see `ingest`); the job's first snapshot, or one that
/// imports waiting for fresh data take, queues them at once and wakes the
/// worker. Committing twice answers the same.
/// A snapshot refused for good is marked failed at once (its chunks
/// deleted), so it no longer holds one of the job's pending slots; an
/// applied one's chunks are deleted (see `store::chunks`).
pub async fn commit(
    db: &Db,
    limits: &Limits,
    imports: &ImportQueue,
    snapshot: &SnapshotRecord,
    fencing_token: Option<u64>,
) -> Result<CommitResponse, AppError> {
    if snapshot.failed {
        return Err(UploadError::Failed(snapshot.id).into());
    }
    if !snapshot.committed {
        let current = state_of(db, snapshot).await?;
        if !current.missing_chunks.is_empty() {
            return Err(UploadError::ChunksMissing(current.missing_chunks).into());
        }
        let job = store::jobs::get_job(db, snapshot.tenant_id, snapshot.job_id).await?.ok_or(AppError::NotFound(Missing::Job))?;
        let outcome = match ingest::commit(db, snapshot, &job, fencing_token).await {
            Err(refused) if refused.is_final() => {
                store::chunks::fail_snapshot(db, snapshot.job_id, snapshot.id).await?;
                tracing::info!(tenant = %snapshot.tenant_id, job = %snapshot.job_id, snapshot = %snapshot.id, "snapshot failed verification: marked failed");
                return Err(refused.into());
            }
            outcome => outcome?,
        };
        let kept_since = store::chunks::kept_since(limits.full_snapshot_chunk_retention_days, store::UnixMillis::now());
        if let Err(error) = store::chunks::delete_applied_chunks(db, Some(job.id), kept_since).await {
            // Committed all the same; housekeeping deletes them later.
            tracing::warn!(job = %job.id, snapshot = %snapshot.id, %error, "could not delete an applied snapshot's chunks yet");
        }
        if outcome == (Committed::Now { queued: true }) {
            imports.wake();
        }
        tracing::info!(tenant = %snapshot.tenant_id, job = %snapshot.job_id, snapshot = %snapshot.id, kind = ?snapshot.manifest.kind, "snapshot committed");
    }
    let session = store::sessions::session_for_snapshot(db, snapshot.job_id, snapshot.id).await?;
    let message = match &session {
        Some(session) if session.trigger == SessionTrigger::FirstPush => "first snapshot of the job: imported at once".to_owned(),
        Some(session) if session.trigger == SessionTrigger::Change => "a change of a continuously synced job: imported at once".to_owned(),
        Some(_) => "fresh data for the import waiting for it: imported at once".to_owned(),
        None => match store::jobs::get_job(db, snapshot.tenant_id, snapshot.job_id).await? {
            Some(job) if job.sync_mode == SyncMode::Continuous => {
                "snapshot stored: nothing in it for an import, or the import of the job already queued reads it".to_owned()
            }
            _ => "snapshot stored: it is imported at the job's scheduled time, or when an admin starts an import".to_owned(),
        },
    };
    Ok(CommitResponse { snapshot_id: snapshot.id, session, message })
}

/// `agent`'s job's session named `id`, or 404 (also for other jobs').
pub async fn session(db: &Db, agent: &AgentRecord, id: &str) -> Result<Session, AppError> {
    let id: SessionId = id.parse().map_err(|_| AppError::NotFound(Missing::Session))?;
    match store::sessions::get_session(db, agent.tenant_id, id).await? {
        Some(session) if session.job_id == agent.job_id => Ok(session),
        _ => Err(AppError::NotFound(Missing::Session)),
    }
}

#[cfg(test)]
mod tests {
    use roster_proto::agent::InlineChunk;
    use roster_proto::manifest::{ChunkRef, DirectoryIdentity, FORMAT_VERSION, Manifest, RecordCounts, SnapshotKind, Watermark};

    use crate::error::UploadError;

    /// A manifest naming one chunk per `bodies` entry (`sizes` override the true sizes).
    fn manifest(bodies: &[&[u8]], sizes: &[u64]) -> Manifest {
        let chunks = bodies
            .iter()
            .enumerate()
            .map(|(i, body)| ChunkRef {
                index: i as u32,
                size: sizes.get(i).copied().unwrap_or(body.len() as u64),
                sha256: roster_snapshot::sha256_hex(body).to_string(),
                records: 1,
            })
            .collect();
        let watermark =
            Watermark { dns_host_name: "dc1".into(), invocation_id: "00000000-0000-0000-0000-000000000001".parse().unwrap(), usn: 1 };
        Manifest {
            version: FORMAT_VERSION,
            snapshot_id: roster_proto::SnapshotId::new(),
            agent_id: roster_proto::AgentId::new(),
            job_id: roster_proto::JobId::new(),
            kind: SnapshotKind::Delta,
            read_started_at: time::OffsetDateTime::UNIX_EPOCH,
            directory: DirectoryIdentity { domain_dn: "DC=x".into(), domain_sid: None, dns_host_name: None, base_dn: "DC=x".into() },
            watermark,
            base: None,
            counts: RecordCounts::default(),
            chunks,
        }
    }

    #[test]
    fn inline_chunks_are_checked_against_the_manifest_before_anything_is_stored() {
        let (a, b): (&[u8], &[u8]) = (b"first chunk", b"second chunk");
        let chunk = |index: u32, bytes: &[u8]| InlineChunk::new(index, bytes);
        let raw = |index: u32, text: &str| InlineChunk { index, bytes: text.into() };
        let big = [40_000, 40_000];
        type Expect = Result<Vec<u32>, &'static str>;
        let cases: Vec<(&str, Vec<InlineChunk>, &[u64], Expect)> = vec![
            ("none", vec![], &[], Ok(vec![])),
            ("one", vec![chunk(1, b)], &[], Ok(vec![1])),
            ("both, in the offer's order", vec![chunk(1, b), chunk(0, a)], &[], Ok(vec![1, 0])),
            ("an index the manifest does not name", vec![chunk(2, a)], &[], Err("InlineUnknown")),
            ("a chunk twice", vec![chunk(0, a), chunk(0, a)], &[], Err("InlineTwice")),
            ("another chunk's bytes", vec![chunk(0, b)], &[], Err("BodySize")),
            ("bytes of the right length but another hash", vec![chunk(0, b"first chunK")], &[], Err("BodyHash")),
            ("unpadded base64", vec![raw(0, "Zmlyc3QgY2h1bms")], &[], Err("InlineEncoding")),
            ("not base64", vec![raw(0, "first chunk!")], &[], Err("InlineEncoding")),
            ("more than 64 KiB by the manifest, judged before decoding", vec![raw(0, "?"), raw(1, "?")], &big, Err("InlineTooLarge")),
            ("one of them is within the limit", vec![chunk(0, a)], &[40_000], Err("BodySize")),
        ];
        for (why, inline, sizes, expected) in cases {
            let manifest = manifest(&[a, b], sizes);
            let got = super::inline_chunks(&manifest, &inline);
            match (got, expected) {
                (Ok(decoded), Ok(indexes)) => {
                    assert_eq!(decoded.iter().map(|(i, _)| *i).collect::<Vec<_>>(), indexes, "{why}");
                    for (index, bytes) in decoded {
                        assert_eq!(bytes, [a, b][index as usize], "{why}");
                    }
                }
                (Err(error), Err(variant)) => {
                    let name = format!("{error:?}");
                    assert!(name.starts_with(variant), "{why}: {name}");
                    assert!(!matches!(error, UploadError::Version(_)), "{why}");
                }
                (got, expected) => panic!("{why}: got {got:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn chunk_indexes_are_canonical_decimal_only() {
        let cases: &[(&str, Option<u32>)] = &[
            ("0", Some(0)),
            ("1", Some(1)),
            ("10", Some(10)),
            ("4294967295", Some(u32::MAX)),
            ("01", None),
            ("00", None),
            ("+1", None),
            ("-0", None),
            (" 1", None),
            ("1 ", None),
            ("", None),
            ("1e0", None),
            ("0x1", None),
            ("4294967296", None),
            ("١", None),
        ];
        for (text, expected) in cases {
            assert_eq!(super::chunk_index(text), *expected, "{text:?}");
        }
    }
}
