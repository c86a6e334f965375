//! What an import reads: the plan's context (scope, links, catalogue,
//! groups) read once, the batched walk over the job's users, and the dry
//! runs and views planned from them.

use roster_import::{AccessCatalogue, AccountName, GroupRef, LinkRule, Plan, Planner, StructureSummary, Summariser, UserChange};
use roster_proto::admin::{Job, Link, SessionChange};
use roster_proto::records::{GroupRecord, UserRecord};
use roster_proto::scope::ResolvedScope;
use roster_proto::{JobId, ObjectGuid, SnapshotId, TenantId, UserId};

use super::ImportError;
use crate::store;

/// What an import plans with, read once: the scope, the link rules, the
/// access catalogue and the groups. Users are read a batch at a time.
#[derive(Debug)]
pub struct PlanContext {
    /// The snapshot the job's directory state stands at.
    pub snapshot_id: SnapshotId,
    pub scope: ResolvedScope,
    pub rules: Vec<LinkRule>,
    /// Where each rule stands among the stored links, and how many there are.
    positions: Vec<usize>,
    link_count: usize,
    /// Notes on links that cannot be read.
    link_notes: Vec<String>,
    pub catalogue: AccessCatalogue,
    pub groups: Vec<GroupRecord>,
    now_unix: i64,
}

impl PlanContext {
    /// Reads what a plan of `job` with `links` needs from its stored
    /// directory state.
    pub async fn load(conn: &mut sqlx::AnyConnection, tenant: TenantId, job: &Job, links: &[Link]) -> Result<PlanContext, ImportError> {
        let groups = store::directory::load_groups(conn, job.id).await?;
        PlanContext::with_groups(conn, tenant, job, links, groups).await
    }

    /// The context with `groups` (read from the job's state) rather than all of them.
    async fn with_groups(
        conn: &mut sqlx::AnyConnection,
        tenant: TenantId,
        job: &Job,
        links: &[Link],
        groups: Vec<GroupRecord>,
    ) -> Result<PlanContext, ImportError> {
        let (snapshot_id, scope) = state_and_scope(conn, job).await?;
        let (rules, positions, link_notes) = link_rules(links);
        Ok(PlanContext {
            snapshot_id,
            scope,
            rules,
            positions,
            link_count: links.len(),
            link_notes,
            catalogue: store::jobs::access_catalogue(conn, tenant).await?,
            groups,
            now_unix: time::OffsetDateTime::now_utc().unix_timestamp(),
        })
    }

    pub fn planner(&self) -> Planner<'_> {
        Planner::new(&self.groups, &self.scope, &self.rules, &self.catalogue, self.now_unix)
    }

    /// Explains users by the same rules and clock as [`PlanContext::planner`] plans them.
    pub fn explainer(&self) -> roster_import::Explainer<'_> {
        roster_import::Explainer::new(roster_import::ExplainInput {
            groups: &self.groups,
            scope: &self.scope,
            links: &self.rules,
            accesses: &self.catalogue,
            now_unix: self.now_unix,
        })
    }

    /// For each stored link (by position), the group it resolved to.
    pub fn resolved_links(&self, plan: &Plan) -> Vec<Option<ObjectGuid>> {
        let mut resolved = vec![None; self.link_count];
        for (position, group) in self.positions.iter().zip(&plan.resolved_links) {
            resolved[*position] = *group;
        }
        resolved
    }

    /// The notes of a plan: those about the links themselves first.
    pub fn notes(&self, plan: &Plan) -> Vec<String> {
        self.link_notes.iter().chain(&plan.notes).cloned().collect()
    }
}

/// The snapshot the job's directory state stands at, and the job's scope
/// resolved against that snapshot's base DN.
async fn state_and_scope(conn: &mut sqlx::AnyConnection, job: &Job) -> Result<(SnapshotId, ResolvedScope), ImportError> {
    let state = store::directory::state(conn, job.id).await?.ok_or(ImportError::NoState)?;
    let base = store::directory::snapshot_base_dn(conn, job.id, state.snapshot_id)
        .await?
        .ok_or(ImportError::SnapshotNotCommitted(state.snapshot_id))?;
    let scope = job.scope().resolve(&base).map_err(|source| ImportError::Scope { base, source })?;
    Ok((state.snapshot_id, scope))
}

/// A batch of directory users as read, with the stored users of its range.
type BatchRead = (Vec<(store::directory::UserKey, UserRecord)>, Vec<roster_import::StoredUser>);

/// The walk over a job's users in anchor order, a batch at a time
/// ([`roster_import::Batches`], which pairs each directory user with the
/// stored user of the same anchor), reading each batch from the store.
#[derive(Debug)]
pub struct Batches {
    walk: roster_import::Batches,
    dialect: crate::db::Dialect,
    /// Directory users read so far (the session's progress).
    walked: u64,
    /// The next batch and its stored users, read while the one before it
    /// was paired.
    ahead: Option<BatchRead>,
}

impl Batches {
    /// A walk reading `size` directory users at a time (at least 1).
    pub fn new(size: u32, dialect: crate::db::Dialect) -> Batches {
        Batches { walk: roster_import::Batches::new(size), dialect, walked: 0, ahead: None }
    }

    /// Directory users read so far.
    pub fn walked(&self) -> u64 {
        self.walked
    }

    /// The changes of the next batch; `None` once every user is planned.
    /// Stored users are read by fingerprint first; only those the import
    /// changes (or that left the directory) are read whole. After a full
    /// batch, the next one is asked for before this one is paired, so the
    /// database reads it while this task plans (a no-change re-import is
    /// about as much database work as planning).
    pub async fn next(
        &mut self,
        conn: &mut sqlx::AnyConnection,
        job: JobId,
        planner: &mut Planner<'_>,
    ) -> Result<Option<Vec<UserChange>>, ImportError> {
        if self.walk.is_done() {
            return Ok(None);
        }
        let (batch, stored) = match self.ahead.take() {
            Some(ahead) => ahead,
            None => {
                let batch = store::directory::user_batch(conn, job, self.walk.after(), self.walk.size()).await?;
                let range = self.walk.stored_range(&batch);
                let stored = store::users::stored_between(conn, job, range.after, range.upto).await?;
                (batch, stored)
            }
        };
        self.walked += batch.len() as u64;
        let size = self.walk.size();
        let next_after = batch.last().filter(|_| batch.len() == size as usize).map(|(key, _)| key.clone());
        let walk = &mut self.walk;
        // Biased: the reads are asked for first, then the pairing runs.
        let (ahead, paired) = tokio::join!(
            biased;
            async {
                let Some(after) = &next_after else { return Ok(None) };
                let next = store::directory::user_batch(conn, job, Some(after), size).await?;
                let range = roster_import::Batches::stored_range_after(size, &batch, &next);
                let stored = store::users::stored_between(conn, job, range.after, range.upto).await?;
                Ok::<_, ImportError>(Some((next, stored)))
            },
            async { walk.pair(planner, &batch, &stored) },
        );
        self.ahead = ahead?;
        let whole = store::users::current_users_by_id(conn, self.dialect, &paired.wanted()).await?;
        Ok(Some(paired.plan(planner, &whole)))
    }

    /// Directory users skipped because another record has the same anchor.
    pub fn duplicates(&self) -> u64 {
        self.walk.duplicates()
    }
}

/// Plans `job` with `links` without writing, handing each change to
/// `on_change`; returns the plan's summary (counts, notes, resolutions;
/// its `changes` empty) and the context it was planned with.
pub async fn plan_streamed(
    conn: &mut sqlx::AnyConnection,
    dialect: crate::db::Dialect,
    tenant: TenantId,
    job: &Job,
    links: &[Link],
    mut on_change: impl FnMut(&UserChange),
) -> Result<(Plan, PlanContext), ImportError> {
    let context = PlanContext::load(conn, tenant, job, links).await?;
    let mut planner = context.planner();
    let mut batches = Batches::new(crate::settings::DEFAULT_IMPORT_BATCH_USERS, dialect);
    while let Some(changes) = batches.next(conn, job.id, &mut planner).await? {
        changes.iter().for_each(&mut on_change);
    }
    let mut plan = planner.finish();
    note_duplicates(&mut plan, batches.duplicates());
    Ok((plan, context))
}

pub(super) fn note_duplicates(plan: &mut Plan, duplicates: u64) {
    if duplicates > 0 {
        plan.notes.push(format!("{duplicates} user records share an anchor (mS-DS-ConsistencyGuid) with another and were skipped"));
    }
}

/// The link rules the planner uses: a link resolved once to a group's
/// objectGUID follows that GUID (through renames and moves), else it is
/// matched as given. Returns the rules, where each stands among `links`,
/// and notes on links that cannot be read.
pub fn link_rules(links: &[Link]) -> (Vec<LinkRule>, Vec<usize>, Vec<String>) {
    let mut rules = Vec::with_capacity(links.len());
    let mut positions = Vec::with_capacity(links.len());
    let mut notes = Vec::new();
    for (position, link) in links.iter().enumerate() {
        let group = match link.group_guid {
            Some(guid) => Ok(GroupRef::Guid(guid)),
            None => GroupRef::parse(&link.group),
        };
        match group {
            Ok(group) => {
                rules.push(LinkRule { group_text: link.group.clone(), group, access_id: link.access_id });
                positions.push(position);
            }
            Err(error) => notes.push(format!("ignored link: {error}")),
        }
    }
    (rules, positions, notes)
}

/// A job's structure, counted, and the link rules to present it with.
#[derive(Debug)]
pub struct StructureView {
    pub summary: StructureSummary,
    pub rules: Vec<LinkRule>,
    /// Counted now, from the whole state standing at this snapshot (for
    /// the caller to keep); `None` when it was kept from before.
    pub counted_at: Option<SnapshotId>,
}

/// The job's structure: as counted before while its state has not moved
/// on since (a kept summary), else counted from the whole state,
/// `batch_users` users at a time. Refused as a plan is when the job's
/// scope does not resolve. `conn` should be a read transaction's, so that
/// what is counted is one state.
pub async fn structure_view(conn: &mut sqlx::AnyConnection, job: &Job, batch_users: u32) -> Result<StructureView, ImportError> {
    let rules = link_rules(&store::jobs::get_links(conn, job.id).await?).0;
    let (snapshot_id, _) = state_and_scope(conn, job).await?;
    if let Some(summary) = store::directory::summary_at(conn, job.id, snapshot_id).await? {
        return Ok(StructureView { summary, rules, counted_at: None });
    }
    let mut summariser = Summariser::new(&store::directory::load_ous(conn, job.id).await?);
    let mut after = None;
    let batch_users = batch_users.max(1);
    loop {
        let batch = store::directory::user_batch(conn, job.id, after.as_ref(), batch_users).await?;
        for (_, user) in &batch {
            summariser.add_user(user.object_guid, &user.dn);
        }
        match batch.last() {
            Some((key, _)) if batch.len() == batch_users as usize => after = Some(key.clone()),
            _ => break,
        }
    }
    let summary = summariser.finish(&store::directory::load_groups(conn, job.id).await?);
    Ok(StructureView { summary, rules, counted_at: Some(snapshot_id) })
}

/// What explaining the user `name` names reads: the users it may name
/// (by an indexed key: objectGUID or anchor, account name or DN) and the
/// plan's context with only the memberships above them
/// (`store::directory::groups_above`). Users staged before lookup keys
/// were are found by reading every user, and then every group.
pub async fn explain_view(
    conn: &mut sqlx::AnyConnection,
    dialect: crate::db::Dialect,
    tenant: TenantId,
    job: &Job,
    name: &AccountName,
) -> Result<(PlanContext, Vec<UserRecord>), ImportError> {
    let links = store::jobs::get_links(conn, job.id).await?;
    let found = match (name, name.key()) {
        (AccountName::Guid(guid), _) => Some(store::directory::users_by_guid(conn, job.id, *guid).await?),
        (_, Some(key)) => {
            let found = store::directory::users_by_key(conn, job.id, &key).await?;
            let named = found.iter().any(|user| name.matches(user));
            (named || !store::directory::has_unkeyed_users(conn, job.id).await?).then_some(found)
        }
        // A kind of name without a key is matched against every user.
        (_, None) => None,
    };
    match found {
        Some(users) => {
            let guids: Vec<ObjectGuid> = users.iter().map(|u| u.object_guid).collect();
            let groups = store::directory::groups_above(conn, dialect, job.id, &guids).await?;
            Ok((PlanContext::with_groups(conn, tenant, job, &links, groups).await?, users))
        }
        None => {
            let context = PlanContext::load(conn, tenant, job, &links).await?;
            Ok((context, store::directory::load_users(conn, job.id).await?))
        }
    }
}

/// One change as a session records it; a planned creation has no user id.
pub fn session_change(change: &UserChange, user_id: Option<UserId>) -> SessionChange {
    SessionChange {
        user_id,
        object_guid: change.target.object_guid,
        username: change.target.username.clone(),
        action: change.action.into(),
        details: change.details.clone(),
    }
}
