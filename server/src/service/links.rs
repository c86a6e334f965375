//! Replacing a job's links, with a preview of who gains and who loses
//! which access at the next import.

use std::collections::{BTreeMap, BTreeSet};

use roster_import::GroupRef;
use roster_proto::admin::{AccessDelta, AccessKind, AccessRef, Job, Link, LinkInput, LinksPreview, LinksSaved};
use roster_proto::{AccessId, TenantId};

use crate::db::Db;
use crate::error::{AppError, LinkProblem, LinksError};
use crate::import::ImportError;
use crate::store;

/// Most usernames an access delta lists (the contract's `maxItems`).
const PREVIEW_USERNAMES: usize = roster_proto::admin::MAX_DELTA_USERNAMES;

/// Replaces the job's links and previews their effect. Groups are checked
/// for syntax now and resolved to their objectGUID against the job's
/// directory state when it holds them (else at the first snapshot that
/// does); a link keeps the objectGUID it resolved to, so it follows its
/// group through renames.
///
/// The preview is planned on a read transaction, outside the writers'
/// queue (a plan walks the whole directory); only the result is written, in
/// one short transaction. Two admins replacing links at once: the last
/// write wins, whole (links and their resolutions together), and each
/// answer previews the links it wrote against the state it read. The
/// checks and the preview (reading, decoding and planning) run on the
/// blocking pool ([`super::read_off_the_workers`]); the write does not.
pub async fn replace_links(db: &Db, caller: &super::audit::Caller, job: &Job, links: &[LinkInput]) -> Result<LinksSaved, AppError> {
    caller.may(roster_proto::admin::AdminRole::Admin)?;
    let tenant = caller.tenant;
    let (reader, read_job, read_links) = (db.clone(), job.clone(), links.to_vec());
    let (saved, preview) =
        super::read_off_the_workers(async move { preview_links(&reader, tenant, &read_job, &read_links).await }).await??;
    let resolved: Vec<_> = saved.iter().map(|link| link.group_guid).collect();
    let mut tx = db.begin_write().await?;
    if !store::jobs::lock_job(&mut tx, db.dialect, job.id).await? {
        tx.rollback().await?;
        return Err(AppError::NotFound(crate::error::Missing::Job));
    }
    store::jobs::put_links(&mut tx, job.id, links, &resolved).await?;
    let links = store::jobs::get_links(&mut tx, job.id).await?;
    let summary = format!(
        "saved {} links of job \"{}\": {} grants of an access to gain, {} to lose",
        links.len(),
        job.name,
        preview.gains.iter().map(|d| d.users).sum::<u64>(),
        preview.losses.iter().map(|d| d.users).sum::<u64>()
    );
    super::audit::record_in(&mut tx, caller, roster_proto::admin::AuditAction::LinksSaved, Some(job.id.to_string()), &summary).await?;
    tx.commit().await?;
    tracing::info!(tenant = %tenant, job = %job.id, links = links.len(), "links replaced");
    Ok(LinksSaved { links, preview })
}

/// Previews `links` without saving them: who would gain and lose which
/// access (the console shows this before an admin confirms the change).
pub async fn preview(db: &Db, caller: &super::audit::Caller, job: &Job, links: &[LinkInput]) -> Result<LinksPreview, AppError> {
    let (reader, read_job, read_links, tenant) = (db.clone(), job.clone(), links.to_vec(), caller.tenant);
    let (_, preview) = super::read_off_the_workers(async move { preview_links(&reader, tenant, &read_job, &read_links).await }).await??;
    Ok(preview)
}

/// Checks `links`, resolves their groups and previews them, on a read
/// transaction: the links as they will be saved, and the preview.
async fn preview_links(db: &Db, tenant: TenantId, job: &Job, links: &[LinkInput]) -> Result<(Vec<Link>, LinksPreview), AppError> {
    let mut read = db.begin_read().await?;
    let catalogue = store::jobs::access_catalogue(&mut read, tenant).await?;
    let mut problems = Vec::new();
    for (index, link) in links.iter().enumerate() {
        if let Err(source) = GroupRef::parse(link.group.trim()) {
            problems.push(LinkProblem::Group { index, source });
        }
        if !catalogue.contains(&link.access_id) {
            problems.push(LinkProblem::Access { index, access_id: link.access_id });
        }
    }
    if !problems.is_empty() {
        return Err(LinksError(problems).into());
    }
    // A group given by GUID is resolved; one given as before keeps its resolution.
    let before = store::jobs::get_links(&mut read, job.id).await?;
    let mut saved: Vec<Link> = links
        .iter()
        .map(|l| Link {
            group: l.group.trim().to_owned(),
            access_id: l.access_id,
            group_guid: match GroupRef::parse(l.group.trim()) {
                Ok(GroupRef::Guid(guid)) => Some(guid),
                _ => before.iter().find(|old| old.group == l.group.trim()).and_then(|old| old.group_guid),
            },
        })
        .collect();
    let mut preview = PreviewBuilder::default();
    let preview = match crate::import::plan_streamed(&mut read, db.dialect, tenant, job, &saved, |change| preview.add(change)).await {
        Ok((plan, context)) => {
            for (link, resolved) in saved.iter_mut().zip(context.resolved_links(&plan)) {
                link.group_guid = resolved.or(link.group_guid);
            }
            preview.finish(&plan, &context)
        }
        Err(ImportError::NoState) => LinksPreview {
            gains: Vec::new(),
            losses: Vec::new(),
            counts: Default::default(),
            notes: vec!["the job has no snapshot yet: the links take effect at its first import".to_owned()],
        },
        Err(error) => return Err(error.into()),
    };
    read.rollback().await?;
    Ok((saved, preview))
}

/// Who gains and who loses each access, gathered change by change: a
/// count and the first usernames (in order) per access.
#[derive(Debug, Default)]
struct PreviewBuilder {
    gains: BTreeMap<AccessId, (u64, BTreeSet<String>)>,
    losses: BTreeMap<AccessId, (u64, BTreeSet<String>)>,
}

impl PreviewBuilder {
    fn add(&mut self, change: &roster_import::UserChange) {
        let note = |map: &mut BTreeMap<AccessId, (u64, BTreeSet<String>)>, id: AccessId| {
            let (count, names) = map.entry(id).or_default();
            *count += 1;
            if names.len() < PREVIEW_USERNAMES || names.last().is_some_and(|last| change.target.username < *last) {
                names.insert(change.target.username.clone());
                if names.len() > PREVIEW_USERNAMES {
                    names.pop_last();
                }
            }
        };
        for id in &change.gained {
            note(&mut self.gains, *id);
        }
        for id in &change.lost {
            note(&mut self.losses, *id);
        }
    }

    fn finish(self, plan: &roster_import::Plan, context: &crate::import::PlanContext) -> LinksPreview {
        let deltas = |map: BTreeMap<AccessId, (u64, BTreeSet<String>)>| {
            let mut deltas: Vec<AccessDelta> = map
                .into_iter()
                .map(|(id, (users, names))| {
                    let (kind, name) = context
                        .catalogue
                        .get(&id)
                        .map(|(kind, name)| (kind, name.to_owned()))
                        .unwrap_or((AccessKind::User, id.to_string()));
                    AccessDelta { access: AccessRef { id, kind, name }, users, usernames: names.into_iter().collect() }
                })
                .collect();
            deltas.sort_by(|a, b| a.access.cmp(&b.access));
            deltas
        };
        LinksPreview { gains: deltas(self.gains), losses: deltas(self.losses), counts: plan.counts, notes: context.notes(plan) }
    }
}
