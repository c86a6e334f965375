//! The AD structure a job's directory state holds ("Load AD structure"):
//! the OU tree with user counts, and every group with its direct and
//! nested member counts and the accesses linked to it. Links resolve as the
//! planner resolves them (`links::expand`); nesting is followed the
//! same way, cycles and self-membership tolerated.
//!
//! Counting needs every user and membership of the state, so it is done
//! once per state ([`summarise`]) into a [`StructureSummary`] a server can
//! keep; each question (its links, its search) is answered from that
//! ([`StructureSummary::present`]) without reading the state again.

use std::collections::{HashMap, HashSet};

use roster_proto::dn::Dn;
use roster_proto::insight::{GroupSummary, OuNode, Structure};
use roster_proto::records::{GroupRecord, OuRecord, Record, UserRecord};
use roster_proto::{AccessId, ObjectGuid};
use serde::{Deserialize, Serialize};

use crate::links::{self, LinkRule};

/// What the structure is built from: a job's directory state and its links.
#[derive(Debug, Clone, Copy)]
pub struct StructureInput<'a> {
    /// The state's users.
    pub users: &'a [UserRecord],
    /// The state's groups, with their direct members.
    pub groups: &'a [GroupRecord],
    /// The state's organizational units.
    pub ous: &'a [OuRecord],
    /// The job's links.
    pub links: &'a [LinkRule],
}

/// Builds the structure of a directory state: [`summarise`], then
/// [`StructureSummary::present`].
///
/// `search`: case-insensitive substring of a name or DN; when given, only
/// matching groups are listed and the OU tree keeps matching OUs plus their
/// ancestors (counts stay the unfiltered ones). Blank search = no filter.
pub fn structure(input: StructureInput<'_>, search: Option<&str>) -> Structure {
    summarise(input.users, input.groups, input.ous).present(input.links, search)
}

/// A directory state's structure, counted, before links and a search are
/// applied: what a server keeps per state. Flat (no nesting to recurse
/// into, however deep the OUs), with the records' own DNs and names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StructureSummary {
    users: u64,
    /// One per distinct DN (the first record wins); parents by index.
    ous: Vec<CountedOu>,
    /// One per objectGUID (the last record winning, as in `links::expand`),
    /// in the state's order, without members.
    groups: Vec<CountedGroup>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct CountedOu {
    object_guid: ObjectGuid,
    dn: String,
    name: String,
    users: u64,
    users_below: u64,
    /// The OU whose DN is this one's parent DN; `None` for a root.
    parent: Option<usize>,
    /// RDNs in the DN (0 when it cannot be read): children are deeper.
    depth: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct CountedGroup {
    record: GroupRecord,
    direct_members: u64,
    direct_users: u64,
    nested_users: u64,
    nested_users_exact: bool,
}

/// Counts a directory state's users by OU and its groups' members.
pub fn summarise(users: &[UserRecord], groups: &[GroupRecord], ous: &[OuRecord]) -> StructureSummary {
    let mut summariser = Summariser::new(ous);
    for user in users {
        summariser.add_user(user.object_guid, &user.dn);
    }
    summariser.finish(groups)
}

/// [`summarise`] with the users given one at a time, so that a server
/// need not hold a big state's users at once: the OUs first, then each
/// user's objectGUID and DN, then the groups with their members.
#[derive(Debug)]
pub struct Summariser {
    /// The OUs, one per distinct DN (the first record wins; unreadable DNs
    /// are roots without users), with the DN each was read as.
    ous: Vec<(OuRecord, Option<Dn>)>,
    index: HashMap<Dn, usize>,
    direct_users: Vec<u64>,
    /// Every user's objectGUID, in the order given.
    users: Vec<ObjectGuid>,
}

impl Summariser {
    pub fn new(ous: &[OuRecord]) -> Summariser {
        let mut index: HashMap<Dn, usize> = HashMap::with_capacity(ous.len());
        let mut nodes: Vec<(OuRecord, Option<Dn>)> = Vec::with_capacity(ous.len());
        for ou in ous {
            match Dn::parse(&ou.dn) {
                Ok(dn) => {
                    if !index.contains_key(&dn) {
                        index.insert(dn.clone(), nodes.len());
                        nodes.push((ou.clone(), Some(dn)));
                    }
                }
                Err(_) => nodes.push((ou.clone(), None)),
            }
        }
        Summariser { direct_users: vec![0; nodes.len()], ous: nodes, index, users: Vec::new() }
    }

    /// One user of the state.
    pub fn add_user(&mut self, object_guid: ObjectGuid, dn: &str) {
        self.add_user_under(object_guid, Dn::parse(dn).ok().and_then(|dn| dn.parent()).as_ref());
    }

    /// One user of the state, by the parent of its DN (`None`: its DN
    /// does not read, or it has no parent).
    fn add_user_under(&mut self, object_guid: ObjectGuid, parent: Option<&Dn>) {
        if let Some(ou) = parent.and_then(|dn| self.index.get(dn)) {
            self.direct_users[*ou] += 1;
        }
        self.users.push(object_guid);
    }

    /// The summary, with the state's `groups`.
    pub fn finish(self, groups: &[GroupRecord]) -> StructureSummary {
        let Summariser { ous, index, direct_users, users } = self;
        let mut counted: Vec<CountedOu> = ous
            .into_iter()
            .zip(&direct_users)
            .map(|((ou, dn), users)| CountedOu {
                parent: dn.as_ref().and_then(Dn::parent).and_then(|parent| index.get(&parent).copied()),
                depth: dn.as_ref().map_or(0, Dn::depth),
                object_guid: ou.object_guid,
                dn: ou.dn,
                name: ou.name,
                users: *users,
                users_below: *users,
            })
            .collect();
        for i in children_first(&counted) {
            if let Some(parent) = counted[i].parent {
                counted[parent].users_below += counted[i].users_below;
            }
        }
        StructureSummary { users: users.len() as u64, groups: count_groups(&users, groups), ous: counted }
    }
}

/// [`summarise`] of the state a full snapshot's records make, given in
/// the snapshot's order, so that a server can count a snapshot while it
/// stages it instead of reading the state back. The state is each
/// objectGUID's last record (an object sent twice counts once, as what its
/// last record says, even another kind), and a group's members are every
/// member any record of it names, its `group_members` continuations too,
/// each once. OUs and groups are taken in the order the state is read in
/// (objectGUID's text: see the server's `store::directory`), so the
/// summary is the one [`summarise`] makes of the stored state. It holds
/// about 40 bytes per record, plus the OU and group records and their
/// memberships.
#[derive(Debug, Default)]
pub struct SnapshotSummariser {
    /// Every object record's objectGUID and what it was, in order.
    objects: Vec<(ObjectGuid, Staged)>,
    /// The distinct parent DNs of users, and their slots.
    parents: Vec<Dn>,
    parent_slots: HashMap<Dn, usize>,
    ous: Vec<OuRecord>,
    /// Without their members, which are gathered apart.
    groups: Vec<GroupRecord>,
    /// (group, member) as the records name them.
    members: Vec<(ObjectGuid, ObjectGuid)>,
}

/// What an object record of a snapshot was.
#[derive(Debug, Clone, Copy)]
enum Staged {
    /// A user, by its DN's parent's slot.
    User(Option<usize>),
    Group(usize),
    Ou(usize),
    /// A tombstone: nothing the state holds.
    Deleted,
}

impl SnapshotSummariser {
    /// The snapshot's next record.
    pub fn add(&mut self, record: &Record) {
        match record {
            Record::User(user) => {
                let parent = Dn::parse(&user.dn).ok().and_then(|dn| dn.parent()).map(|parent| match self.parent_slots.get(&parent) {
                    Some(slot) => *slot,
                    None => {
                        self.parent_slots.insert(parent.clone(), self.parents.len());
                        self.parents.push(parent);
                        self.parents.len() - 1
                    }
                });
                self.objects.push((user.object_guid, Staged::User(parent)));
            }
            Record::Group(group) => {
                self.members.extend(group.members.iter().map(|member| (group.object_guid, *member)));
                self.objects.push((group.object_guid, Staged::Group(self.groups.len())));
                self.groups.push(GroupRecord { members: Vec::new(), ..group.clone() });
            }
            Record::GroupMembers(more) => self.members.extend(more.members.iter().map(|member| (more.object_guid, *member))),
            Record::Ou(ou) => {
                self.objects.push((ou.object_guid, Staged::Ou(self.ous.len())));
                self.ous.push(ou.clone());
            }
            Record::Deleted(deleted) => self.objects.push((deleted.object_guid, Staged::Deleted)),
        }
    }

    /// The summary of the state the records make.
    pub fn finish(self) -> StructureSummary {
        let SnapshotSummariser { mut objects, parents, parent_slots: _, ous, groups, mut members } = self;
        // Stable: of one objectGUID's records, the last stays last.
        objects.sort_by_key(|(guid, _)| *guid);
        let (mut ou_stands, mut group_stands, mut users) = (vec![false; ous.len()], vec![false; groups.len()], Vec::new());
        for (guid, staged) in objects.chunk_by(|a, b| a.0 == b.0).filter_map(<[_]>::last) {
            match *staged {
                Staged::User(parent) => users.push((*guid, parent)),
                Staged::Group(i) => group_stands[i] = true,
                Staged::Ou(i) => ou_stands[i] = true,
                Staged::Deleted => {}
            }
        }
        drop(objects);
        let mut state_ous: Vec<OuRecord> = ous.into_iter().zip(ou_stands).filter_map(|(ou, stands)| stands.then_some(ou)).collect();
        let mut state_groups: Vec<GroupRecord> =
            groups.into_iter().zip(group_stands).filter_map(|(group, stands)| stands.then_some(group)).collect();
        state_ous.sort_by_cached_key(|ou| ou.object_guid.to_string());
        let mut summariser = Summariser::new(&state_ous);
        for (guid, parent) in users {
            summariser.add_user_under(guid, parent.map(|slot| &parents[slot]));
        }
        state_groups.sort_by_cached_key(|group| group.object_guid.to_string());
        let position: HashMap<ObjectGuid, usize> = state_groups.iter().enumerate().map(|(i, g)| (g.object_guid, i)).collect();
        members.sort_unstable();
        members.dedup();
        for (group, member) in members {
            if let Some(&i) = position.get(&group) {
                state_groups[i].members.push(member);
            }
        }
        summariser.finish(&state_groups)
    }
}

impl StructureSummary {
    /// The structure with `links`' accesses on their groups, narrowed to
    /// `search` (see [`structure`]).
    pub fn present(&self, links: &[LinkRule], search: Option<&str>) -> Structure {
        let needle = search.map(str::trim).filter(|s| !s.is_empty()).map(str::to_lowercase);
        let matches = |name: &str, dn: &str| match &needle {
            None => true,
            Some(needle) => name.to_lowercase().contains(needle) || dn.to_lowercase().contains(needle),
        };
        Structure { users: self.users, ous: self.ou_tree(&matches), groups: self.group_summaries(links, &matches) }
    }

    /// The summary after users joined the state or moved in it while every
    /// group stayed as it was and named none of the joining users: what a
    /// delta of users alone changes (a group's counts then stay; the
    /// server checks that no group names a user that joins). Each change is
    /// a user's DN before (`None`: it joins) and after.
    pub fn with_users_changed<'a>(mut self, changes: impl IntoIterator<Item = (Option<&'a str>, &'a str)>) -> StructureSummary {
        let mut index: HashMap<Dn, usize> = HashMap::with_capacity(self.ous.len());
        for (i, ou) in self.ous.iter().enumerate() {
            if let Ok(dn) = Dn::parse(&ou.dn) {
                index.entry(dn).or_insert(i);
            }
        }
        let ou_of = |dn: &str| Dn::parse(dn).ok().and_then(|dn| dn.parent()).and_then(|parent| index.get(&parent).copied());
        let mut moves: Vec<(usize, i64)> = Vec::new();
        for (before, after) in changes {
            match before {
                Some(before) => moves.extend(ou_of(before).map(|ou| (ou, -1))),
                None => self.users += 1,
            }
            moves.extend(ou_of(after).map(|ou| (ou, 1)));
        }
        for (ou, by) in moves {
            self.ous[ou].users = self.ous[ou].users.saturating_add_signed(by);
            // Up the parents; at most as many steps as OUs (a kept summary
            // edited into a cycle ends too).
            let mut at = Some(ou);
            for _ in 0..self.ous.len() {
                let Some(i) = at.filter(|i| *i < self.ous.len()) else { break };
                self.ous[i].users_below = self.ous[i].users_below.saturating_add_signed(by);
                at = self.ous[i].parent;
            }
        }
        self
    }

    /// The OU forest of the OUs that match and their ancestors.
    fn ou_tree(&self, matches: &dyn Fn(&str, &str) -> bool) -> Vec<OuNode> {
        let ous = &self.ous;
        let mut children: Vec<Vec<OuNode>> = vec![Vec::new(); ous.len()];
        let mut keep: Vec<bool> = ous.iter().map(|ou| matches(&ou.name, &ou.dn)).collect();
        let mut roots = Vec::new();
        for i in children_first(ous) {
            let ou = &ous[i];
            let mut kids = std::mem::take(&mut children[i]);
            kids.sort_by_cached_key(ou_key);
            let node = OuNode {
                object_guid: ou.object_guid,
                // Shown with its control and invisible characters escaped, the same DN.
                dn: roster_proto::dn::escape_invisible(&ou.dn).unwrap_or_else(|| ou.dn.clone()),
                name: ou.name.clone(),
                users: ou.users,
                users_below: ou.users_below,
                children: kids,
            };
            // A parent out of range (a summary kept by hand, not by `summarise`) is no parent.
            match ou.parent.filter(|parent| *parent < ous.len()) {
                Some(parent) if keep[i] => {
                    keep[parent] = true;
                    children[parent].push(node);
                }
                None if keep[i] => roots.push(node),
                _ => {}
            }
        }
        roots.sort_by_cached_key(ou_key);
        roots
    }

    /// The groups that match, with the accesses `links` give them.
    fn group_summaries(&self, links: &[LinkRule], matches: &dyn Fn(&str, &str) -> bool) -> Vec<GroupSummary> {
        let records: Vec<GroupRecord> = self.groups.iter().map(|g| g.record.clone()).collect();
        let slot: HashMap<ObjectGuid, usize> = records.iter().enumerate().map(|(slot, g)| (g.object_guid, slot)).collect();
        let mut linked: Vec<Vec<AccessId>> = vec![Vec::new(); records.len()];
        for (link, resolved) in links.iter().zip(links::resolve(links, &records)) {
            if let Some(group) = resolved.and_then(|guid| slot.get(&guid).copied()) {
                linked[group].push(link.access_id);
            }
        }
        let mut summaries: Vec<GroupSummary> = Vec::new();
        for (counted, mut accesses) in self.groups.iter().zip(linked) {
            let group = &counted.record;
            if !matches(&group.name, &group.dn) {
                continue;
            }
            accesses.sort_unstable();
            accesses.dedup();
            summaries.push(GroupSummary {
                object_guid: group.object_guid,
                dn: roster_proto::dn::escape_invisible(&group.dn).unwrap_or_else(|| group.dn.clone()),
                name: group.name.clone(),
                direct_members: counted.direct_members,
                direct_users: counted.direct_users,
                nested_users: counted.nested_users,
                nested_users_exact: counted.nested_users_exact,
                linked_accesses: accesses,
            });
        }
        summaries.sort_by_cached_key(|g| (g.name.to_lowercase(), g.dn.to_lowercase(), g.name.clone(), g.dn.clone(), g.object_guid));
        summaries
    }
}

/// OUs children before parents: a parent's DN is exactly one RDN shorter.
fn children_first(ous: &[CountedOu]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..ous.len()).collect();
    order.sort_by_key(|i| std::cmp::Reverse(ous[*i].depth));
    order
}

fn ou_key(node: &OuNode) -> (String, String, String, ObjectGuid) {
    (node.name.to_lowercase(), node.name.clone(), node.dn.clone(), node.object_guid)
}

/// Every group (one per objectGUID, the last record winning as in
/// `links::expand`), counted, in the state's order, without its members.
fn count_groups(users: &[ObjectGuid], groups: &[GroupRecord]) -> Vec<CountedGroup> {
    let mut by_guid: HashMap<ObjectGuid, usize> = HashMap::with_capacity(groups.len());
    for (i, group) in groups.iter().enumerate() {
        by_guid.insert(group.object_guid, i);
    }
    let mut records: Vec<usize> = by_guid.values().copied().collect();
    records.sort_unstable();
    let slot: HashMap<ObjectGuid, usize> = records.iter().enumerate().map(|(slot, i)| (groups[*i].object_guid, slot)).collect();

    // Users by objectGUID; a GUID that is also a group's is walked as a group, as links do.
    let user_slot: HashMap<ObjectGuid, usize> = {
        let mut map = HashMap::with_capacity(users.len());
        for user in users {
            if !slot.contains_key(user) {
                let next = map.len();
                map.entry(*user).or_insert(next);
            }
        }
        map
    };

    // Direct members of each group, split into nested groups and users.
    let mut nested_groups: Vec<Vec<usize>> = Vec::with_capacity(records.len());
    let mut member_users: Vec<Vec<usize>> = Vec::with_capacity(records.len());
    let mut direct_members: Vec<u64> = Vec::with_capacity(records.len());
    for i in &records {
        let distinct: HashSet<ObjectGuid> = groups[*i].members.iter().copied().collect();
        let mut nested: Vec<usize> = distinct.iter().filter_map(|m| slot.get(m).copied()).collect();
        nested.sort_unstable();
        let mut users: Vec<usize> = distinct.iter().filter_map(|m| user_slot.get(m).copied()).collect();
        users.sort_unstable();
        direct_members.push(distinct.len() as u64);
        nested_groups.push(nested);
        member_users.push(users);
    }

    let nested = nested_counts(&nested_groups, &member_users, NESTED_COUNT_BUDGET);
    records
        .iter()
        .enumerate()
        .map(|(group_slot, i)| CountedGroup {
            record: GroupRecord { members: Vec::new(), ..groups[*i].clone() },
            direct_members: direct_members[group_slot],
            direct_users: member_users[group_slot].len() as u64,
            nested_users: nested[group_slot].count,
            nested_users_exact: nested[group_slot].exact,
        })
        .collect()
}

/// User ids one structure may copy between member sets to count nested
/// users exactly (about 16 bytes and a few nanoseconds each). Distinct
/// counts on shared nesting (a DAG) cannot be had in linear time; chains
/// and trees cost nothing here because a set is moved, not copied, to its
/// only parent. Past the budget the remaining counts are lower bounds.
pub const NESTED_COUNT_BUDGET: u64 = 4_000_000;

/// A group's nested user count, and whether it is exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NestedCount {
    pub count: u64,
    pub exact: bool,
}

/// Distinct users reachable from each group (its own included), over the
/// condensation of the nesting graph: the groups of a cycle reach the same
/// users, and components are done sinks first. A component's set is built
/// from its nested components' sets, the largest one moved in when this is
/// its last parent (so a chain or tree is linear, small into large), others
/// copied at a cost counted against `budget`. Once the budget is spent no
/// more sets are kept and a count is the largest of the component's own
/// users and its nested components' counts, flagged inexact.
pub(crate) fn nested_counts(nested_groups: &[Vec<usize>], member_users: &[Vec<usize>], budget: u64) -> Vec<NestedCount> {
    let (component, components) = strongly_connected(nested_groups);
    let count = components.len();

    // The condensation: each component's distinct nested components.
    let mut below: Vec<Vec<usize>> = vec![Vec::new(); count];
    let mut parents = vec![0usize; count];
    let mut mark = vec![usize::MAX; count];
    for (c, groups) in components.iter().enumerate() {
        for group in groups {
            for nested in &nested_groups[*group] {
                let d = component[*nested];
                if d != c && mark[d] != c {
                    mark[d] = c;
                    below[c].push(d);
                    parents[d] += 1;
                }
            }
        }
    }

    let mut spent = 0u64;
    let mut exhausted = false;
    let mut sets: Vec<Option<HashSet<usize>>> = vec![None; count];
    let mut value: Vec<NestedCount> = vec![NestedCount { count: 0, exact: false }; count];
    let users = member_users.iter().flatten().max().map_or(0, |u| u + 1);
    let mut seen_by = vec![usize::MAX; users];
    // Components come sinks first, so every nested component is done.
    for (c, groups) in components.iter().enumerate() {
        let mut own: Vec<usize> = Vec::new();
        for group in groups {
            for user in &member_users[*group] {
                if seen_by[*user] != c {
                    seen_by[*user] = c;
                    own.push(*user);
                }
            }
        }
        let mut lower = own.len() as u64;
        let mut movable: Vec<usize> = Vec::new();
        for d in &below[c] {
            parents[*d] -= 1;
            lower = lower.max(value[*d].count);
            if parents[*d] == 0 {
                movable.push(*d);
            }
        }
        let all_exact = below[c].iter().all(|d| value[*d].exact);
        if exhausted || !all_exact {
            for d in movable {
                sets[d] = None;
            }
            value[c] = NestedCount { count: lower, exact: false };
            continue;
        }
        // The largest set whose last parent this is becomes this one's.
        let base = movable.iter().copied().max_by_key(|d| sets[*d].as_ref().map_or(0, HashSet::len));
        let mut set = base.and_then(|d| sets[d].take()).unwrap_or_default();
        for d in &below[c] {
            let moved = parents[*d] == 0;
            let Some(other) = (if moved { sets[*d].take() } else { sets[*d].clone() }) else { continue };
            spent = spent.saturating_add(other.len() as u64);
            if spent > budget {
                break;
            }
            set.extend(other);
        }
        if spent > budget {
            exhausted = true;
            sets.iter_mut().for_each(|s| *s = None);
            value[c] = NestedCount { count: lower, exact: false };
            continue;
        }
        set.extend(own);
        value[c] = NestedCount { count: set.len() as u64, exact: true };
        if parents[c] > 0 {
            sets[c] = Some(set);
        }
    }
    component.iter().map(|c| value[*c]).collect()
}

/// Tarjan's strongly connected components, iteratively (a chain of groups
/// may be deeper than any stack): each node's component, and the components
/// in the order Tarjan completes them, which is sinks first.
fn strongly_connected(edges: &[Vec<usize>]) -> (Vec<usize>, Vec<Vec<usize>>) {
    const UNSEEN: usize = usize::MAX;
    let n = edges.len();
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0usize; n];
    let mut on_stack = vec![false; n];
    let mut component = vec![UNSEEN; n];
    let mut components: Vec<Vec<usize>> = Vec::new();
    let mut stack: Vec<usize> = Vec::new();
    let mut next = 0usize;
    // The walk: a node and how many of its edges it has followed.
    let mut walk: Vec<(usize, usize)> = Vec::new();
    for root in 0..n {
        if index[root] != UNSEEN {
            continue;
        }
        walk.push((root, 0));
        while let Some(&(node, edge)) = walk.last() {
            if edge == 0 && index[node] == UNSEEN {
                index[node] = next;
                low[node] = next;
                next += 1;
                stack.push(node);
                on_stack[node] = true;
            }
            if let Some(&to) = edges[node].get(edge) {
                if let Some(top) = walk.last_mut() {
                    top.1 += 1;
                }
                if index[to] == UNSEEN {
                    walk.push((to, 0));
                } else if on_stack[to] {
                    low[node] = low[node].min(index[to]);
                }
                continue;
            }
            walk.pop();
            if let Some(&(parent, _)) = walk.last() {
                low[parent] = low[parent].min(low[node]);
            }
            if low[node] == index[node] {
                let mut members = Vec::new();
                while let Some(member) = stack.pop() {
                    on_stack[member] = false;
                    component[member] = components.len();
                    members.push(member);
                    if member == node {
                        break;
                    }
                }
                components.push(members);
            }
        }
    }
    (component, components)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference: a walk from each group, counting distinct users.
    fn naive(nested_groups: &[Vec<usize>], member_users: &[Vec<usize>]) -> Vec<u64> {
        (0..nested_groups.len())
            .map(|root| {
                let mut seen_groups = HashSet::from([root]);
                let mut users = HashSet::new();
                let mut stack = vec![root];
                while let Some(group) = stack.pop() {
                    users.extend(member_users[group].iter().copied());
                    for nested in &nested_groups[group] {
                        if seen_groups.insert(*nested) {
                            stack.push(*nested);
                        }
                    }
                }
                users.len() as u64
            })
            .collect()
    }

    /// A small deterministic generator (xorshift), so failures reproduce.
    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
    }

    fn check(nested_groups: &[Vec<usize>], member_users: &[Vec<usize>], what: &str) {
        let expected = naive(nested_groups, member_users);
        let counted = nested_counts(nested_groups, member_users, NESTED_COUNT_BUDGET);
        let counts: Vec<u64> = counted.iter().map(|c| c.count).collect();
        assert_eq!(counts, expected, "{what}");
        assert!(counted.iter().all(|c| c.exact), "{what}: within budget every count is exact");
        // With no budget for copies, counts are lower bounds, exact ones equal.
        for budget in [0, 1, 3] {
            for (group, c) in nested_counts(nested_groups, member_users, budget).iter().enumerate() {
                assert!(c.count <= expected[group], "{what}, budget {budget}: group {group} overcounted");
                if c.exact {
                    assert_eq!(c.count, expected[group], "{what}, budget {budget}: group {group}");
                }
            }
        }
    }

    #[test]
    fn agrees_with_a_walk_from_every_group() {
        let chain: Vec<Vec<usize>> = (0..50).map(|g| if g + 1 < 50 { vec![g + 1] } else { vec![] }).collect();
        let one_each: Vec<Vec<usize>> = (0..50).map(|g| vec![g]).collect();
        check(&chain, &one_each, "a chain");
        let mut ring = chain.clone();
        ring[49] = vec![0];
        check(&ring, &one_each, "a ring");
        check(&[vec![0]], &[vec![1, 1, 2]], "a self-member");
        // A diamond: two paths to the same users count them once.
        check(&[vec![1, 2], vec![3], vec![3], vec![]], &[vec![0], vec![1], vec![1, 2], vec![2, 3]], "a diamond");
        check(&[vec![1, 2], vec![2], vec![1]], &[vec![], vec![5], vec![6]], "a cycle below a group");
        check(&[], &[], "no groups");

        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for case in 0..400 {
            let groups = 1 + rng.below(12);
            let users = 1 + rng.below(10);
            let nested: Vec<Vec<usize>> = (0..groups).map(|_| (0..rng.below(4)).map(|_| rng.below(groups)).collect()).collect();
            let members: Vec<Vec<usize>> = (0..groups).map(|_| (0..rng.below(5)).map(|_| rng.below(users)).collect()).collect();
            check(&nested, &members, &format!("random case {case}: {nested:?} {members:?}"));
        }
    }

    #[test]
    fn a_long_chain_is_linear_and_exact() {
        let groups = 200_000;
        let chain: Vec<Vec<usize>> = (0..groups).map(|g| if g + 1 < groups { vec![g + 1] } else { vec![] }).collect();
        let one_each: Vec<Vec<usize>> = (0..groups).map(|g| vec![g]).collect();
        let counted = nested_counts(&chain, &one_each, NESTED_COUNT_BUDGET);
        assert!(counted.iter().all(|c| c.exact));
        assert_eq!(counted[0].count, groups as u64);
        assert_eq!(counted[groups - 1].count, 1);
    }

    #[test]
    fn shared_nesting_past_the_budget_is_a_flagged_lower_bound() {
        // Ladder: every level's two groups both hold both groups of the next
        // level, so each set is copied into two parents.
        let levels = 40;
        let nested: Vec<Vec<usize>> =
            (0..2 * levels).map(|g| if g / 2 + 1 < levels { vec![(g / 2 + 1) * 2, (g / 2 + 1) * 2 + 1] } else { vec![] }).collect();
        let members: Vec<Vec<usize>> = (0..2 * levels).map(|g| vec![g]).collect();
        let expected = naive(&nested, &members);
        let counted = nested_counts(&nested, &members, 100);
        assert!(counted.iter().any(|c| !c.exact), "the budget runs out");
        for (g, c) in counted.iter().enumerate() {
            assert!(c.count <= expected[g]);
            assert!(c.count >= 1, "a group's own users are always counted");
        }
    }
}
