//! Turning committed snapshots into the job's directory state: a full
//! snapshot replaces it, a delta changes it — but only if the delta builds
//! on exactly the watermark the state holds (the from/to rule). Also the
//! advice the agent gets on whether its next snapshot may be a delta.
//!
//! Commit stages, then applies. Staging decodes the chunks, checks them
//! and their counts against the signed manifest, and writes the records as
//! the snapshot's own *generation* of the job's objects, in transactions of
//! bounded size, so no commit holds the writer long. Applying is one short
//! transaction: the snapshot is marked committed, a full snapshot's
//! generation becomes the state's (an `UPDATE`), a delta's is merged into
//! it (set operations, after the from/to check), and the job's first
//! snapshot queues its import. Anything wrong and nothing of it applied;
//! generations no state reads are deleted afterwards in bounded steps.

use roster_proto::admin::{Job, SessionTrigger, SyncMode};
use roster_proto::agent::SyncAdvice;
use roster_proto::dn::Dn;
use roster_proto::manifest::{Manifest, RecordCounts, SnapshotKind, Watermark};
use std::collections::{HashMap, HashSet};

use roster_proto::records::Record;
use roster_proto::scope::{JobScope, ResolvedScope};
use roster_proto::{JobId, ObjectGuid, SnapshotId};

use crate::db::Db;
use crate::store::directory::{DirectoryState, SnapshotRecord, StagedObject};
use crate::store::{self, StoreError, UnixMillis};

/// Why a snapshot could not be committed.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("chunk {0} is missing")]
    MissingChunk(u32),
    #[error("chunk {index}: {source}")]
    Chunk { index: u32, source: roster_snapshot::chunk::ChunkError },
    #[error("chunk {index} holds {actual} records; the manifest says {expected}")]
    ChunkRecords { index: u32, actual: u64, expected: u64 },
    #[error("the chunks hold {actual:?}; the manifest says {expected:?}")]
    Counts { actual: RecordCounts, expected: RecordCounts },
    #[error("a full snapshot cannot hold deletions")]
    DeletionInFull,
    #[error("the job was deleted")]
    JobGone,
    #[error("members continue group {0}, which no record before them names")]
    OrphanMembers(roster_proto::ObjectGuid),
    #[error("{0}")]
    BaseMismatch(DeltaRefusal),
    #[error("the job's scope does not resolve against the snapshot's base DN: {0}")]
    Scope(roster_proto::scope::ScopeError),
    /// The agent does not hold the job's lease, or its token is older.
    #[error(transparent)]
    Fenced(crate::lease::Fenced),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for IngestError {
    fn from(e: sqlx::Error) -> Self {
        IngestError::Store(StoreError::Sql(e))
    }
}

/// What committing did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Committed {
    /// The snapshot is now the job's state; `queued` when that queued an
    /// import: of sessions waiting for fresh data, or else the job's first.
    Now { queued: bool },
    /// It already was committed (a retried commit).
    Already,
}

/// Why a delta cannot be applied onto the state the server holds (the
/// from/to rule); the agent answers each with a full snapshot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeltaRefusal {
    #[error("a delta snapshot must name the watermark it builds on")]
    NoBase,
    #[error("the server holds no directory state for this job yet: send a full snapshot")]
    NoState,
    #[error(
        "the delta builds on {}@{} USN {}, but the server holds {}@{} USN {}: send a full snapshot",
        .base.dns_host_name, .base.invocation_id, .base.usn, .held.dns_host_name, .held.invocation_id, .held.usn
    )]
    OtherBase { base: Watermark, held: Watermark },
    /// The server requires a full snapshot (the advice's reason).
    #[error("a full snapshot is required: {0}")]
    FullRequired(String),
    /// The delta's "to" side is another DC database than its "from" side:
    /// USNs do not compare across them.
    #[error(
        "the delta moves the watermark from {}@{} to {}@{}, another DC database: send a full snapshot",
        .base.dns_host_name, .base.invocation_id, .to.dns_host_name, .to.invocation_id
    )]
    OtherDc { base: Watermark, to: Watermark },
    /// The delta's watermark is below its base: it would read changes again
    /// or claim to undo them.
    #[error("the delta moves the watermark back from USN {} to USN {}: send a full snapshot", .base.usn, .to.usn)]
    Backwards { base: Watermark, to: Watermark },
    /// A delta record names an object the state holds as another kind (a
    /// user in place of a group): AD never changes an object's class.
    #[error("the delta sends {guid} as a {sent}, but the state holds it as a {held}: send a full snapshot")]
    KindChanged { guid: roster_proto::ObjectGuid, held: String, sent: String },
}

/// Checks a delta's "to" side against its "from" side: the same DC
/// database (host name and invocation id), and a USN not below the base's.
pub fn check_watermark_moves(base: Option<&Watermark>, to: &Watermark) -> Result<(), DeltaRefusal> {
    let base = base.ok_or(DeltaRefusal::NoBase)?;
    if base.dns_host_name != to.dns_host_name || base.invocation_id != to.invocation_id {
        return Err(DeltaRefusal::OtherDc { base: base.clone(), to: to.clone() });
    }
    if to.usn < base.usn {
        return Err(DeltaRefusal::Backwards { base: base.clone(), to: to.clone() });
    }
    Ok(())
}

/// Refuses a staged delta that names an object the current generation
/// holds as another kind (checked in the applying transaction, before the
/// delta is merged).
async fn check_kind_kept(conn: &mut sqlx::AnyConnection, job: JobId, current: &str, delta: SnapshotId) -> Result<(), IngestError> {
    match store::directory::kind_replaced(conn, job, current, delta).await? {
        Some((guid, held, sent)) => Err(IngestError::BaseMismatch(DeltaRefusal::KindChanged { guid, held, sent })),
        None => Ok(()),
    }
}

impl IngestError {
    /// True when the snapshot can never be committed (its content or its
    /// base is wrong), as opposed to a chunk still missing or the database
    /// failing: such a snapshot is marked failed and its chunks deleted.
    pub fn is_final(&self) -> bool {
        match self {
            IngestError::MissingChunk(_) | IngestError::Store(_) => false,
            IngestError::Chunk { .. }
            | IngestError::ChunkRecords { .. }
            | IngestError::Counts { .. }
            | IngestError::DeletionInFull
            | IngestError::OrphanMembers(_)
            | IngestError::BaseMismatch(_)
            | IngestError::Scope(_)
            | IngestError::Fenced(_)
            | IngestError::JobGone => true,
        }
    }
}

/// Checks that a delta builds on the state the server holds.
pub fn check_base(held: Option<&DirectoryState>, base: Option<&Watermark>) -> Result<(), DeltaRefusal> {
    match (held, base) {
        (_, None) => Err(DeltaRefusal::NoBase),
        (None, Some(_)) => Err(DeltaRefusal::NoState),
        (Some(held), Some(base)) if held.watermark != *base => {
            Err(DeltaRefusal::OtherBase { base: base.clone(), held: held.watermark.clone() })
        }
        _ => Ok(()),
    }
}

/// Checks that a delta may be applied at all: it builds on the held state,
/// and the server does not require a full snapshot (scope changed,
/// reconciliation due or requested) — what the agent was advised, enforced.
pub fn check_delta(
    held: Option<&DirectoryState>,
    job: &Job,
    full_requested: bool,
    now: UnixMillis,
    base: Option<&Watermark>,
) -> Result<(), DeltaRefusal> {
    check_base(held, base)?;
    match sync_advice(held, job, full_requested, now).full_required {
        Some(reason) => Err(DeltaRefusal::FullRequired(reason)),
        None => Ok(()),
    }
}

/// What decides whether a delta is welcome, read once: the state the
/// server holds for the job, whether an admin asked for a full
/// reconciliation, and when it was read. The agent's advice and the checks
/// at offer and at commit all come from it, so they cannot disagree.
#[derive(Debug)]
pub struct SyncInputs {
    pub held: Option<DirectoryState>,
    pub full_requested: bool,
    pub now: UnixMillis,
}

impl SyncInputs {
    /// Reads `job`'s inputs on `conn` (a pool connection, or the commit's
    /// transaction so that the check sees what the commit changes).
    pub async fn read(conn: &mut sqlx::AnyConnection, job: &Job) -> Result<SyncInputs, StoreError> {
        let held = store::directory::state(conn, job.id).await?;
        let full_requested = store::jobs::full_sync_requested(conn, job.id).await?;
        Ok(SyncInputs { held, full_requested, now: UnixMillis::now() })
    }

    /// Whether the agent's next snapshot may be a delta.
    pub fn advice(&self, job: &Job) -> SyncAdvice {
        sync_advice(self.held.as_ref(), job, self.full_requested, self.now)
    }

    /// Checks that a delta building on `base` may be applied.
    pub fn check_delta(&self, job: &Job, base: Option<&Watermark>) -> Result<(), DeltaRefusal> {
        check_delta(self.held.as_ref(), job, self.full_requested, self.now, base)
    }
}

/// Whether the agent's next snapshot may be a delta.
pub fn sync_advice(held: Option<&DirectoryState>, job: &Job, full_requested: bool, now: UnixMillis) -> SyncAdvice {
    let Some(held) = held else {
        return SyncAdvice { base: None, full_required: Some("the server holds no directory state for this job yet".into()) };
    };
    let scope = job.scope();
    let interval_ms = i64::from(job.full_sync_interval_days) * UnixMillis::DAY_MS;
    let full_required = if full_requested {
        Some("an admin asked for a full reconciliation".to_owned())
    } else if held.full_scope != scope {
        Some("the job's scope changed since the last full snapshot".to_owned())
    } else if now.millis_since(held.full_at) >= interval_ms {
        Some(format!("the full reconciliation (every {} days) is due", job.full_sync_interval_days))
    } else {
        None
    };
    SyncAdvice { base: Some(held.watermark.clone()), full_required }
}

/// Rows (objects and members) one staging transaction writes at most. It
/// bounds how long a commit holds SQLite's writer, so how long any other
/// tenant's write waits behind it: 500 user rows take tens of milliseconds
/// (a debug build under load: up to ~200 ms).
pub const STAGE_ROWS_PER_TRANSACTION: usize = 500;

/// Rows one transaction deletes at most when a stale generation is removed.
pub const DROP_ROWS_PER_TRANSACTION: u32 = 2_000;

/// Commits `snapshot` into `job`'s directory state (see the module doc).
pub async fn commit(db: &Db, snapshot: &SnapshotRecord, job: &Job, fencing_token: Option<u64>) -> Result<Committed, IngestError> {
    let scope = job.scope();
    let resolved = scope.resolve(&snapshot.manifest.directory.base_dn).map_err(IngestError::Scope)?;
    if store::directory::get_snapshot(db, snapshot.job_id, snapshot.id).await?.is_some_and(|stored| stored.committed) {
        return Ok(Committed::Already);
    }
    let full = snapshot.manifest.kind == SnapshotKind::Full;
    let applied = match stage(db, snapshot, &resolved, full).await {
        Ok(structure) => apply(db, snapshot, job, structure, fencing_token).await,
        Err(error) => Err(error),
    };
    match applied {
        Ok((outcome, stale)) => {
            // The state no longer reads it: deleted in the background, in
            // bounded steps (housekeeping finishes if this is cut short).
            if let Some(stale) = stale {
                let (db, job) = (db.clone(), job.id);
                tokio::spawn(async move {
                    if let Err(error) = store::directory::drop_generation(&db, job, &stale, DROP_ROWS_PER_TRANSACTION).await {
                        tracing::warn!(%job, generation = %stale, %error, "could not delete a stale generation yet");
                    }
                });
            }
            Ok(outcome)
        }
        // A refused snapshot is refused again on every retry: its staged rows go now.
        // (A database error may be passing; a retry may be staging the same rows.)
        Err(error) if !matches!(error, IngestError::Store(_)) => {
            store::directory::drop_generation(db, job.id, &snapshot.id.to_string(), DROP_ROWS_PER_TRANSACTION).await?;
            Err(error)
        }
        Err(error) => Err(error),
    }
}

/// What one staging transaction writes: objects (each once; the last
/// record of an object wins, in scope if any of its records was) and
/// group members.
#[derive(Default)]
struct Staging {
    objects: Vec<StagedObject>,
    positions: HashMap<ObjectGuid, usize>,
    members: Vec<(ObjectGuid, ObjectGuid)>,
}

impl Staging {
    fn add(&mut self, record: &Record, in_scope: bool) {
        let (object, members) = StagedObject::new(record, in_scope);
        if let Some((group, members)) = members {
            self.members.extend(members.iter().map(|member| (group, *member)));
        }
        if matches!(record, Record::GroupMembers(_)) {
            return;
        }
        match self.positions.get(&object.guid) {
            Some(&i) => {
                let in_scope = object.in_scope || self.objects[i].in_scope;
                self.objects[i] = object;
                self.objects[i].in_scope = in_scope;
            }
            None => {
                self.positions.insert(object.guid, self.objects.len());
                self.objects.push(object);
            }
        }
    }

    fn rows(&self) -> usize {
        self.objects.len() + self.members.len()
    }

    /// Writes what is gathered into `snapshot`'s generation, in
    /// transactions of at most [`STAGE_ROWS_PER_TRANSACTION`] rows, each
    /// also registering the generation (so no staged row is ever lost
    /// track of).
    async fn flush(&mut self, db: &Db, job: JobId, snapshot: SnapshotId) -> Result<(), IngestError> {
        for part in self.objects.chunks(STAGE_ROWS_PER_TRANSACTION) {
            let mut tx = db.begin_write().await?;
            store::directory::register_generation(&mut tx, job, snapshot).await?;
            store::directory::stage_objects(&mut tx, db.dialect, job, snapshot, part).await?;
            tx.commit().await?;
        }
        for part in self.members.chunks(STAGE_ROWS_PER_TRANSACTION) {
            let mut tx = db.begin_write().await?;
            store::directory::register_generation(&mut tx, job, snapshot).await?;
            store::directory::stage_members(&mut tx, db.dialect, job, snapshot, part).await?;
            tx.commit().await?;
        }
        *self = Staging::default();
        Ok(())
    }
}

/// Decodes the snapshot's chunks and stages their records as the
/// snapshot's own generation, a bounded transaction at a time, outside the
/// state (which nothing here changes). Every chunk is checked against the
/// signed manifest and the records are counted against it, so nothing is
/// applied from a snapshot that does not add up. A full snapshot's
/// structure is counted on the way (the state it makes is its records),
/// so that "Load AD structure" need not read a new state back.
async fn stage(db: &Db, snapshot: &SnapshotRecord, resolved: &ResolvedScope, full: bool) -> Result<StructureChange, IngestError> {
    let manifest = &snapshot.manifest;
    let job = snapshot.job_id;
    let mut staging = Staging::default();
    let mut structure = full.then(roster_import::SnapshotSummariser::default);
    let mut users_only = true;
    let mut counts = RecordCounts::default();
    // The groups this snapshot has named so far, which continuations may follow.
    let mut groups = HashSet::new();
    for chunk_ref in &manifest.chunks {
        let index = chunk_ref.index;
        let bytes = store::directory::chunk(&mut *db.pool.acquire().await?, job, snapshot.id, index)
            .await?
            .ok_or(IngestError::MissingChunk(index))?;
        roster_snapshot::chunk::verify_hash(&bytes, &chunk_ref.sha256).map_err(|source| IngestError::Chunk { index, source })?;
        let records = roster_snapshot::chunk::decode(&bytes).map_err(|source| IngestError::Chunk { index, source })?;
        if records.len() as u64 != chunk_ref.records {
            return Err(IngestError::ChunkRecords { index, actual: records.len() as u64, expected: chunk_ref.records });
        }
        for record in &records {
            counts.add(record);
            if let Some(structure) = &mut structure {
                structure.add(record);
            }
            users_only &= matches!(record, Record::User(_));
            match record {
                Record::User(user) => {
                    // A delta reads changed users domain-wide so that moves out of
                    // scope are seen; only users the state knows or in scope are kept.
                    staging.add(record, full || roster_import::user_in_scope(resolved, user));
                }
                Record::Group(group) => {
                    groups.insert(group.object_guid);
                    staging.add(record, full || Dn::parse(&group.dn).is_ok_and(|dn| resolved.contains_group(&dn)));
                }
                Record::Ou(_) => {
                    staging.add(record, true);
                }
                Record::Deleted(_) => {
                    if full {
                        return Err(IngestError::DeletionInFull);
                    }
                    staging.add(record, true);
                }
                Record::GroupMembers(more) => {
                    // Continues the group before it; applied with it (see merge_delta).
                    if full && !groups.contains(&more.object_guid) {
                        return Err(IngestError::OrphanMembers(more.object_guid));
                    }
                    staging.add(record, true);
                }
            }
            if staging.rows() >= STAGE_ROWS_PER_TRANSACTION {
                staging.flush(db, job, snapshot.id).await?;
            }
        }
    }
    staging.flush(db, job, snapshot.id).await?;
    if counts != manifest.counts {
        return Err(IngestError::Counts { actual: counts, expected: manifest.counts });
    }
    Ok(match structure {
        Some(structure) => StructureChange::Counted(structure.finish()),
        None if users_only => StructureChange::UsersOnly,
        None => StructureChange::Other,
    })
}

/// How a staged snapshot changes the job's structure ("Load AD structure").
#[derive(Debug)]
enum StructureChange {
    /// A full snapshot's, counted as it was staged.
    Counted(roster_import::StructureSummary),
    /// A delta of users alone: the count kept of the state can follow it
    /// ([`structure_after_users`]).
    UsersOnly,
    /// A delta with groups, OUs or tombstones: its new state is counted
    /// when it is first asked for.
    Other,
}

/// The count kept of the state at `held` (its snapshot), followed through
/// a staged delta of users alone (`StructureSummary::with_users_changed`):
/// the users it moves, and those it adds (in scope and new to the state).
/// Read on the apply's transaction before the delta is merged. `None` when
/// no count of that state is kept, or a membership names a user that joins
/// (its groups' counts change: the new state is counted when asked).
async fn structure_after_users(
    conn: &mut sqlx::AnyConnection,
    dialect: crate::db::Dialect,
    job: JobId,
    (held, current): (SnapshotId, &str),
    delta: SnapshotId,
) -> Result<Option<roster_import::StructureSummary>, IngestError> {
    let Some(kept) = store::directory::summary_at(conn, job, held).await? else { return Ok(None) };
    // As the merge keeps them: in scope, or held by the state.
    let users: Vec<_> =
        store::directory::delta_users(conn, job, current, delta).await?.into_iter().filter(|u| u.in_scope || u.held_dn.is_some()).collect();
    let joining: Vec<ObjectGuid> = users.iter().filter(|u| u.held_dn.is_none()).map(|u| u.object_guid).collect();
    if store::directory::named_as_members(conn, dialect, job, current, &joining).await? {
        return Ok(None);
    }
    Ok(Some(kept.with_users_changed(users.iter().map(|u| (u.held_dn.as_deref(), u.dn.as_str())))))
}

/// How far ahead of the server an agent's clock may be: its request tokens
/// are refused beyond this (`iat` at most 60 s ahead).
const AGENT_CLOCK_AHEAD_MS: i64 = 60_000;

/// The scope a full snapshot was read with, as the state records it: the
/// job's, unless the job's scope changed after the read began (an admin's
/// `PATCH` while the agent read). Then it was read with the old scope, and
/// the state records a scope no job has (no paths), so the next snapshot
/// must be full (`sync.full_required`).
async fn read_with_scope(conn: &mut sqlx::AnyConnection, job: &Job, manifest: &Manifest) -> Result<JobScope, IngestError> {
    let read_started = UnixMillis::from_datetime(manifest.read_started_at);
    let changed = store::jobs::scope_changed_at(conn, job.id).await?;
    Ok(match changed {
        Some(changed) if read_started.0 <= changed.0.saturating_add(AGENT_CLOCK_AHEAD_MS) => {
            JobScope { relative_paths: Vec::new(), group_paths: Vec::new(), user_filter: None }
        }
        _ => job.scope(),
    })
}

/// Applies the staged snapshot in one short transaction: a full snapshot
/// becomes the state's generation, a delta is merged into it (after the
/// from/to check, inside the transaction); the new state's structure is
/// kept when it is known (`change`). Returns the generation no state reads
/// any more, to delete.
async fn apply(
    db: &Db,
    snapshot: &SnapshotRecord,
    job: &Job,
    change: StructureChange,
    fencing_token: Option<u64>,
) -> Result<(Committed, Option<String>), IngestError> {
    let manifest = &snapshot.manifest;
    let full = manifest.kind == SnapshotKind::Full;
    let mut tx = db.begin_write().await?;
    store::directory::lock_state(&mut tx, db.dialect, job.id).await?;
    // A job deleted meanwhile (its delete takes the same locks) takes nothing.
    if !store::jobs::lock_job(&mut tx, db.dialect, job.id).await? {
        tx.rollback().await?;
        return Err(IngestError::JobGone);
    }
    // Under the job's lock, as every grant of its lease is: no agent takes
    // over between this check and the commit (see `crate::lease`).
    match store::leases::check_fence(&mut tx, job.id, snapshot.agent_id, fencing_token).await {
        Ok(()) => {}
        Err(store::leases::FenceCheck::Fenced(fenced)) => {
            tx.rollback().await?;
            return Err(IngestError::Fenced(fenced));
        }
        Err(store::leases::FenceCheck::Store(error)) => return Err(error.into()),
    }
    if !store::directory::mark_committed(&mut tx, job.id, snapshot.id).await? {
        tx.rollback().await?;
        return Ok((Committed::Already, None));
    }
    let previous = store::directory::current_generation(&mut tx, job.id).await?;
    let (stale, structure) = if full {
        (previous, change)
    } else {
        let inputs = SyncInputs::read(&mut tx, job).await?;
        inputs.check_delta(job, manifest.base.as_ref()).map_err(IngestError::BaseMismatch)?;
        let current = previous.ok_or(IngestError::BaseMismatch(DeltaRefusal::NoState))?;
        check_kind_kept(&mut tx, job.id, &current, snapshot.id).await?;
        let structure = match (change, inputs.held.as_ref()) {
            (StructureChange::UsersOnly, Some(held)) => {
                let followed = structure_after_users(&mut tx, db.dialect, job.id, (held.snapshot_id, &current), snapshot.id).await?;
                followed.map_or(StructureChange::Other, StructureChange::Counted)
            }
            _ => StructureChange::Other,
        };
        store::directory::merge_delta(&mut tx, job.id, &current, snapshot.id).await?;
        (Some(snapshot.id.to_string()), structure)
    };
    let full_scope = match full {
        true => Some(read_with_scope(&mut tx, job, manifest).await?),
        false => None,
    };
    store::directory::save_state(&mut tx, job.id, snapshot.id, &manifest.watermark, full_scope.as_ref()).await?;
    if let StructureChange::Counted(structure) = &structure {
        store::directory::keep_summary(&mut tx, job.id, snapshot.id, structure).await?;
    }
    if full {
        store::jobs::clear_full_sync_request(&mut tx, job.id).await?;
    }
    let fresh = store::sessions::Freshness {
        agent: snapshot.agent_id,
        offered_at: snapshot.offered_at,
        read_started_at: UnixMillis::from_datetime(manifest.read_started_at),
        clock_ahead_ms: AGENT_CLOCK_AHEAD_MS,
    };
    let attached = store::sessions::attach_waiting(&mut tx, job.id, snapshot.id, &snapshot.manifest_sha256, fresh).await?;
    let trigger = match attached {
        0 if !store::directory::has_other_committed(&mut tx, job.id, snapshot.id).await? => Some(SessionTrigger::FirstPush),
        0 if imports_at_once(job, manifest) && !store::sessions::has_queued(&mut tx, job.id).await? => Some(SessionTrigger::Change),
        _ => None,
    };
    if let Some(trigger) = trigger {
        store::sessions::insert_session(&mut tx, snapshot.tenant_id, job.id, snapshot.id, &snapshot.manifest_sha256, trigger).await?;
    }
    crate::fault::before_snapshot_commit();
    tx.commit().await?;
    Ok((Committed::Now { queued: trigger.is_some() || attached > 0 }, stale))
}

/// Whether a committed snapshot that no session waited for is imported at
/// once: a continuous job's, unless it is a delta that changes nothing (a
/// change out of the job's scope moved the DC's USN). An import already
/// queued for the job takes it too (the import reads the state as it is
/// when it runs), so a burst of pushes is not a queue of imports.
fn imports_at_once(job: &Job, manifest: &Manifest) -> bool {
    job.sync_mode == SyncMode::Continuous && !manifest.is_empty_delta()
}

#[cfg(test)]
mod tests {
    use roster_proto::scope::JobScope;
    use uuid::Uuid;

    use super::*;

    fn watermark(host: &str, usn: u64) -> Watermark {
        Watermark { dns_host_name: host.into(), invocation_id: "00000000-0000-0000-0000-000000000001".parse().unwrap(), usn }
    }

    fn job(paths: &[&str], interval_days: u32) -> Job {
        Job {
            id: Uuid::nil().into(),
            name: "j".into(),
            relative_paths: paths.iter().map(|s| s.to_string()).collect(),
            group_paths: vec![],
            schedule: Default::default(),
            full_sync_interval_days: interval_days,
            user_filter: None,
            policy: Default::default(),
            sync_mode: Default::default(),
            created_at: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn held(paths: &[&str], usn: u64, full_at: i64) -> DirectoryState {
        DirectoryState {
            snapshot_id: Uuid::nil().into(),
            watermark: watermark("dc1", usn),
            full_scope: JobScope { relative_paths: paths.iter().map(|s| s.to_string()).collect(), group_paths: vec![], user_filter: None },
            full_at: UnixMillis(full_at),
        }
    }

    const DAY: i64 = UnixMillis::DAY_MS;

    #[test]
    fn deltas_must_build_on_exactly_the_held_watermark() {
        let state = held(&["*"], 100, 0);
        assert!(check_base(Some(&state), Some(&watermark("dc1", 100))).is_ok());
        for (held, base) in [
            (Some(&state), None),
            (None, Some(watermark("dc1", 100))),
            (Some(&state), Some(watermark("dc1", 99))),
            (Some(&state), Some(watermark("dc1", 101))),
            (Some(&state), Some(watermark("dc2", 100))),
        ] {
            assert!(check_base(held, base.as_ref()).is_err(), "{base:?}");
        }
    }

    #[test]
    fn a_delta_moves_the_watermark_forward_on_its_own_dc_only() {
        let base = watermark("dc1", 100);
        let restored = Watermark { invocation_id: "00000000-0000-0000-0000-000000000002".parse().unwrap(), ..watermark("dc1", 200) };
        let cases: [(Option<&Watermark>, Watermark, Option<&str>); 6] = [
            (Some(&base), watermark("dc1", 100), None),
            (Some(&base), watermark("dc1", 5000), None),
            (Some(&base), watermark("dc1", 99), Some("back")),
            (Some(&base), watermark("dc2", 200), Some("another DC")),
            (Some(&base), restored, Some("another DC")),
            (None, watermark("dc1", 200), Some("must name")),
        ];
        for (base, to, refused) in cases {
            match (check_watermark_moves(base, &to), refused) {
                (Ok(()), None) => {}
                (Err(e), Some(needle)) => assert!(e.to_string().contains(needle), "{e}"),
                (outcome, _) => panic!("{base:?} -> {to:?}: {outcome:?}"),
            }
        }
    }

    #[test]
    fn deltas_are_refused_when_a_full_snapshot_is_required() {
        let now = 100 * DAY;
        let state = held(&["*"], 100, now - DAY);
        let base = watermark("dc1", 100);
        assert!(check_delta(Some(&state), &job(&["*"], 7), false, UnixMillis(now), Some(&base)).is_ok());
        let requested = check_delta(Some(&state), &job(&["*"], 7), true, UnixMillis(now), Some(&base)).unwrap_err().to_string();
        assert!(requested.contains("full snapshot is required"), "{requested}");
        assert!(check_delta(Some(&state), &job(&["OU=Staff"], 7), false, UnixMillis(now), Some(&base)).is_err(), "scope changed");
        assert!(check_delta(Some(&state), &job(&["*"], 1), false, UnixMillis(now), Some(&base)).is_err(), "reconciliation due");
        assert!(check_delta(Some(&state), &job(&["*"], 7), false, UnixMillis(now), Some(&watermark("dc1", 99))).is_err(), "wrong base");
    }

    #[test]
    fn advice_asks_for_a_full_snapshot_when_it_must() {
        let now = 100 * DAY;
        let cases: [(Option<DirectoryState>, Job, bool, Option<&str>); 6] = [
            (None, job(&["*"], 7), false, Some("no directory state")),
            (Some(held(&["*"], 5, now - DAY)), job(&["*"], 7), false, None),
            (Some(held(&["*"], 5, now - DAY)), job(&["*"], 7), true, Some("asked")),
            (Some(held(&["OU=Staff"], 5, now - DAY)), job(&["*"], 7), false, Some("scope changed")),
            (Some(held(&["*"], 5, now - 7 * DAY)), job(&["*"], 7), false, Some("every 7 days")),
            (Some(held(&["*"], 5, now - 6 * DAY)), job(&["*"], 7), false, None),
        ];
        for (state, job, requested, expected) in cases {
            let advice = sync_advice(state.as_ref(), &job, requested, UnixMillis(now));
            match (expected, &advice.full_required) {
                (None, None) => assert_eq!(advice.base, state.map(|s| s.watermark)),
                (Some(needle), Some(reason)) => assert!(reason.contains(needle), "{reason}"),
                _ => panic!("expected {expected:?}, got {advice:?}"),
            }
        }
    }
}
