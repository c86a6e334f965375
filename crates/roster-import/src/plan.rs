//! The planner: one pure function from what the directory says and what
//! the service holds to the list of changes an import makes.

use std::collections::{BTreeSet, HashMap};

pub use roster_proto::admin::DeactivationReason;
use roster_proto::admin::{AccessChange, ChangeDetail, SessionCounts};
use roster_proto::records::{GroupRecord, UserRecord};
use roster_proto::scope::ResolvedScope;
use roster_proto::{AccessId, ObjectGuid, UserId};

use crate::catalogue::AccessCatalogue;
use crate::fields::USER_FIELDS;
use crate::fields::UserState;
use crate::links::{self, LinkRule};
use crate::scope::UserScope;

/// A stored user known by its fingerprint only: enough to tell that a
/// re-import leaves it as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredUser {
    pub id: UserId,
    pub anchor: ObjectGuid,
    pub active: bool,
    pub fingerprint: String,
}

/// A stored user: its id and state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentUser {
    pub id: UserId,
    pub state: UserState,
}

/// Everything the planner looks at.
#[derive(Debug, Clone, Copy)]
pub struct PlanInput<'a> {
    pub users: &'a [UserRecord],
    pub groups: &'a [GroupRecord],
    pub scope: &'a ResolvedScope,
    pub links: &'a [LinkRule],
    /// The tenant's access catalogue: id → (kind, name).
    pub accesses: &'a AccessCatalogue,
    /// The job's users as stored now.
    pub current: &'a [CurrentUser],
    /// The time the import judges `accountExpires` against (Unix seconds).
    pub now_unix: i64,
}

/// What an import does to one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Update,
    /// Active before, inactive after.
    Deactivate,
    /// Inactive before, active after: the same user comes back.
    Reactivate,
}

impl From<Action> for roster_proto::admin::ChangeAction {
    fn from(action: Action) -> Self {
        match action {
            Action::Create => roster_proto::admin::ChangeAction::Created,
            Action::Update => roster_proto::admin::ChangeAction::Updated,
            Action::Deactivate => roster_proto::admin::ChangeAction::Deactivated,
            Action::Reactivate => roster_proto::admin::ChangeAction::Reactivated,
        }
    }
}

/// One user's change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserChange {
    pub action: Action,
    /// The stored user, for updates and deactivations.
    pub existing_id: Option<UserId>,
    /// The user as it will be.
    pub target: UserState,
    /// Accesses the user holds after the import and did not before, and
    /// the reverse.
    pub gained: Vec<AccessId>,
    pub lost: Vec<AccessId>,
    /// Field by field, the accesses gained and lost, and why the user
    /// became inactive, as data.
    pub details: Vec<ChangeDetail>,
}

/// The whole plan of an import.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub changes: Vec<UserChange>,
    pub counts: SessionCounts,
    /// Things the admin should know.
    pub notes: Vec<String>,
    /// For each link (by position), the group it resolved to in this snapshot.
    pub resolved_links: Vec<Option<ObjectGuid>>,
    /// Distinct users the directory has in the job's scope.
    pub users_in_scope: u64,
    /// The job's active users before the import.
    pub active_before: u64,
}

/// Plans an import. Deterministic: the same input gives the same plan.
/// Holds the whole plan in memory; [`Planner`] decides user by user for
/// callers that stream.
pub fn plan(input: PlanInput<'_>) -> Plan {
    let mut planner = Planner::new(input.groups, input.scope, input.links, input.accesses, input.now_unix);
    let current: HashMap<ObjectGuid, &CurrentUser> = input.current.iter().map(|u| (u.state.anchor, u)).collect();
    // Every record of each anchor, in input order.
    let mut by_anchor: HashMap<ObjectGuid, Vec<&UserRecord>> = HashMap::new();
    let mut order: Vec<ObjectGuid> = Vec::new();
    for record in input.users {
        let records = by_anchor.entry(record.anchor()).or_default();
        if records.is_empty() {
            order.push(record.anchor());
        }
        records.push(record);
    }
    let mut changes = Vec::new();
    for anchor in &order {
        if let Some(record) = by_anchor.get(anchor).and_then(|records| planner.pick(records)) {
            changes.extend(planner.user(record, current.get(anchor).copied()));
        }
    }
    for user in input.current {
        if !by_anchor.contains_key(&user.state.anchor) {
            changes.extend(planner.gone(user));
        }
    }
    let mut plan = planner.finish();
    plan.changes = changes;
    plan
}

/// Decides an import user by user, for a caller that reads the directory
/// and the stored users in batches: it calls [`Planner::user`] once per
/// anchor the directory holds (with the stored user of that anchor, if
/// any), [`Planner::gone`] for every stored user whose anchor the directory
/// does not hold, then [`Planner::finish`]. Memory is the groups' and the
/// grants', whatever the number of users.
#[derive(Debug)]
pub struct Planner<'a> {
    scope: &'a ResolvedScope,
    accesses: &'a AccessCatalogue,
    now_unix: i64,
    grants: links::Grants,
    summary: Plan,
    unreadable_dns: u64,
    /// Users whose AD fields had to be cleaned (`fields::clean_record`).
    cleaned_users: u64,
    /// Users whose DN held control or invisible characters, now escaped.
    escaped_dns: u64,
}

impl<'a> Planner<'a> {
    pub fn new(
        groups: &[GroupRecord],
        scope: &'a ResolvedScope,
        links: &[LinkRule],
        accesses: &'a AccessCatalogue,
        now_unix: i64,
    ) -> Planner<'a> {
        let grants = links::expand(links, groups);
        let mut summary = Plan { resolved_links: grants.resolved.clone(), ..Plan::default() };
        note_link_problems(links, groups, accesses, &grants.resolved, &mut summary.notes);
        Planner { scope, accesses, now_unix, grants, summary, unreadable_dns: 0, cleaned_users: 0, escaped_dns: 0 }
    }

    /// Of several records with the same anchor (a consistency GUID shared
    /// by mistake), the one that counts: the first in scope, else the first.
    pub fn pick<'r>(&self, records: &[&'r UserRecord]) -> Option<&'r UserRecord> {
        match records {
            [only] => Some(only),
            _ => records.iter().copied().find(|r| self.in_scope(r)).or_else(|| records.first().copied()),
        }
    }

    fn in_scope(&self, record: &UserRecord) -> bool {
        crate::scope::user_in_scope(self.scope, record)
    }

    /// What the rules say of the directory's user `record`, whoever is stored.
    fn verdict(&self, record: &UserRecord) -> Verdict {
        let place = UserScope::of(self.scope, record);
        if !place.in_scope() {
            return Verdict::OutOfScope { unreadable: place.unreadable_dn() };
        }
        let granted: BTreeSet<AccessId> = self
            .grants
            .of(&record.object_guid)
            .map(|set| set.iter().filter(|id| self.accesses.contains(id)).copied().collect())
            .unwrap_or_default();
        if !granted.iter().any(|id| self.accesses.is_basic(id)) {
            return Verdict::NotLinked;
        }
        let (active, reason) = if record.is_disabled() {
            (false, DeactivationReason::DisabledInDirectory)
        } else if record.is_expired(self.now_unix) {
            (false, DeactivationReason::AccountExpired)
        } else {
            (true, DeactivationReason::DisabledInDirectory)
        };
        Verdict::Imported { active, reason, granted }
    }

    /// True (and counted unchanged) when the import leaves `stored`, the
    /// stored user of `record`'s anchor, exactly as it is; the caller
    /// otherwise asks [`Planner::user`] with the whole stored user.
    pub fn is_unchanged(&mut self, record: &UserRecord, stored: &StoredUser) -> bool {
        let raw = record;
        let cleaned = crate::fields::clean_record(raw);
        let record = &*cleaned;
        let Verdict::Imported { active, granted, .. } = self.verdict(record) else { return false };
        if stored.active != active || stored.anchor != record.anchor() {
            return false;
        }
        let print = crate::fields::fingerprint(stored.anchor, &UserState::record_values(record), active, &granted);
        if print.as_slice() != stored.fingerprint.as_bytes() {
            return false;
        }
        self.summary.active_before += u64::from(stored.active);
        self.summary.users_in_scope += 1;
        self.summary.counts.unchanged += 1;
        self.count_cleaned(raw, &cleaned);
        true
    }

    /// Counts `record` among the cleaned users (and escaped DNs) when
    /// `cleaned` (`fields::clean_record`'s) had to change it.
    fn count_cleaned(&mut self, record: &UserRecord, cleaned: &UserRecord) {
        // Borrowed, as usual: nothing was cleaned.
        if std::ptr::eq(record, cleaned) {
            return;
        }
        let dn_escaped = cleaned.dn != record.dn;
        self.escaped_dns += u64::from(dn_escaped);
        let fields_cleaned = !dn_escaped || UserRecord { dn: record.dn.clone(), ..cleaned.clone() } != *record;
        self.cleaned_users += u64::from(fields_cleaned);
    }

    /// The change for the directory's user `record` and the stored user of
    /// the same anchor, if any; `None` when nothing changes.
    pub fn user(&mut self, record: &UserRecord, existing: Option<&CurrentUser>) -> Option<UserChange> {
        self.count_stored(existing);
        let cleaned = crate::fields::clean_record(record);
        self.count_cleaned(record, &cleaned);
        let record = &*cleaned;
        let (active, reason, granted) = match self.verdict(record) {
            Verdict::OutOfScope { unreadable } => {
                self.unreadable_dns += u64::from(unreadable);
                let existing = existing?;
                let target = UserState { active: false, accesses: BTreeSet::new(), ..existing.state.clone() };
                return self.change(Some(existing), target, DeactivationReason::LeftScope);
            }
            Verdict::NotLinked => {
                self.summary.users_in_scope += 1;
                self.summary.counts.not_linked += 1;
                let existing = existing?;
                let target = UserState { active: false, accesses: BTreeSet::new(), ..UserState::from_record(record) };
                return self.change(Some(existing), target, DeactivationReason::NoBasicAccess);
            }
            Verdict::Imported { active, reason, granted } => (active, reason, granted),
        };
        self.summary.users_in_scope += 1;
        if let Some(existing) = existing
            && existing.state.active == active
            && existing.state.accesses == granted
            && existing.state.same_fields(record)
        {
            // The common case of a re-import, decided without copying the record.
            self.summary.counts.unchanged += 1;
            return None;
        }
        let target = UserState { active, accesses: granted, ..UserState::from_record(record) };
        self.change(existing, target, reason)
    }

    /// The change for a stored user whose anchor the directory no longer holds.
    pub fn gone(&mut self, existing: &CurrentUser) -> Option<UserChange> {
        self.count_stored(Some(existing));
        let target = UserState { active: false, accesses: BTreeSet::new(), ..existing.state.clone() };
        self.change(Some(existing), target, DeactivationReason::GoneFromDirectory)
    }

    /// The plan's counts, notes and link resolutions (its `changes` are
    /// the ones `user` and `gone` returned, not kept here).
    pub fn finish(mut self) -> Plan {
        if self.unreadable_dns > 0 {
            self.summary
                .notes
                .push(format!("{} users had a DN that could not be read and were treated as out of scope", self.unreadable_dns));
        }
        if self.cleaned_users > 0 {
            self.summary.notes.push(format!(
                "{} users had control characters, escape sequences or bidi overrides in their AD fields, or values longer than AD allows: \
                 they were removed or cut",
                self.cleaned_users
            ));
        }
        if self.escaped_dns > 0 {
            self.summary.notes.push(format!(
                "{} users had control or invisible characters in their DN, which AD itself would have escaped: they are kept escaped \
                 as AD writes them (`\\0A`), the same DN",
                self.escaped_dns
            ));
        }
        self.summary
    }

    fn count_stored(&mut self, existing: Option<&CurrentUser>) {
        if existing.is_some_and(|u| u.state.active) {
            self.summary.active_before += 1;
        }
    }

    /// The change from `existing` to `target`, or `None` (counted
    /// unchanged). `reason` explains the user being inactive, if the change
    /// deactivates it.
    fn change(&mut self, existing: Option<&CurrentUser>, target: UserState, reason: DeactivationReason) -> Option<UserChange> {
        let counts = &mut self.summary.counts;
        let Some(existing) = existing else {
            let mut details = vec![ChangeDetail::Field { field: "username".to_owned(), old: None, new: Some(target.username.clone()) }];
            details.extend(target.accesses.iter().map(|id| ChangeDetail::AccessGained(access_change(self.accesses, id))));
            if !target.active {
                details.push(ChangeDetail::Inactive { reason });
            }
            counts.created += 1;
            let gained = target.accesses.iter().copied().collect();
            return Some(UserChange { action: Action::Create, existing_id: None, target, gained, lost: Vec::new(), details });
        };
        let details = diff(self.accesses, &existing.state, &target, reason);
        if details.is_empty() {
            counts.unchanged += 1;
            return None;
        }
        let is_basic = |id: &AccessId| self.accesses.is_basic(id);
        if existing.state.active && existing.state.accesses.iter().any(|id| is_basic(id) && !target.accesses.contains(id)) {
            counts.lost_basic += 1;
        }
        let action = match (existing.state.active, target.active) {
            (true, false) => {
                counts.deactivated += 1;
                Action::Deactivate
            }
            (false, true) => {
                counts.reactivated += 1;
                Action::Reactivate
            }
            _ => {
                counts.updated += 1;
                Action::Update
            }
        };
        let gained = target.accesses.difference(&existing.state.accesses).copied().collect();
        let lost = existing.state.accesses.difference(&target.accesses).copied().collect();
        Some(UserChange { action, existing_id: Some(existing.id), target, gained, lost, details })
    }
}

/// What the rules say of one directory user.
enum Verdict {
    OutOfScope { unreadable: bool },
    NotLinked,
    Imported { active: bool, reason: DeactivationReason, granted: BTreeSet<AccessId> },
}

fn diff(accesses: &AccessCatalogue, old: &UserState, new: &UserState, reason: DeactivationReason) -> Vec<ChangeDetail> {
    let mut details = Vec::new();
    for ((name, before), after) in USER_FIELDS.iter().zip(old.field_values()).zip(new.field_values()) {
        if before != after {
            details.push(ChangeDetail::Field { field: (*name).to_owned(), old: before.to_text(), new: after.to_text() });
        }
    }
    details.extend(old.accesses.difference(&new.accesses).map(|id| ChangeDetail::AccessLost(access_change(accesses, id))));
    details.extend(new.accesses.difference(&old.accesses).map(|id| ChangeDetail::AccessGained(access_change(accesses, id))));
    match (old.active, new.active) {
        (true, false) => details.push(ChangeDetail::Deactivated { reason }),
        (false, true) => details.push(ChangeDetail::Reactivated),
        _ => {}
    }
    details
}

/// Access `id` as a change names it: with its kind and name while the catalogue holds it.
fn access_change(accesses: &AccessCatalogue, id: &AccessId) -> AccessChange {
    let known = accesses.get(id);
    AccessChange { id: *id, kind: known.map(|(kind, _)| kind), name: known.map(|(_, name)| name.to_owned()) }
}

fn note_link_problems(
    links: &[LinkRule],
    groups: &[GroupRecord],
    accesses: &AccessCatalogue,
    resolved: &[Option<ObjectGuid>],
    notes: &mut Vec<String>,
) {
    if links.is_empty() {
        notes.push("the job has no links, so nobody was imported: link AD groups to accesses (PUT /api/v1/jobs/{job}/links)".to_owned());
        return;
    }
    for (link, found) in links.iter().zip(resolved) {
        match (found, link.group.matches(groups)) {
            (Some(_), _) => {}
            (None, n) if n > 1 => notes.push(format!(
                "linked group `{}` names {n} groups: link it by DN or objectGUID (see GET /api/v1/jobs/{{job}}/structure)",
                link.group_text
            )),
            (None, _) => notes.push(format!(
                "linked group `{}` is not in the snapshot (check the name or DN and the job's group paths)",
                link.group_text
            )),
        }
        if !accesses.contains(&link.access_id) {
            notes.push(format!("link from `{}` names access {} which is not in the catalogue", link.group_text, link.access_id));
        }
    }
    let grants_basic = links.iter().any(|l| accesses.is_basic(&l.access_id));
    if !grants_basic {
        notes.push("no link grants a basic (user) access, so nobody was imported".to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::InvalidField;

    /// A stored state whose field `changed` (if any) holds another value.
    fn state(changed: Option<&str>) -> UserState {
        UserState::from_stored("07070707-0707-0707-0707-070707070707".parse().unwrap(), true, |column| {
            let n = if Some(column) == changed { 8 } else { 7 };
            let text = if column == "object_guid" { format!("{n:08x}-0707-0707-0707-070707070707") } else { format!("{column} {n}") };
            Ok::<_, InvalidField>(Some(text))
        })
        .unwrap()
    }

    #[test]
    fn every_field_is_diffed_compared_and_fingerprinted() {
        let base = state(None);
        for name in USER_FIELDS {
            let other = state(Some(name));
            let details = diff(&AccessCatalogue::default(), &base, &other, DeactivationReason::GoneFromDirectory);
            match details.as_slice() {
                [ChangeDetail::Field { field, old: Some(old), new: Some(new) }] => {
                    assert_eq!(field, name);
                    assert_ne!(old, new, "{name}");
                }
                other => panic!("{name}: {other:?}"),
            }
            assert_ne!(base.fingerprint(), other.fingerprint(), "{name}");
            assert_ne!(base, other, "{name}");
        }
    }
}
