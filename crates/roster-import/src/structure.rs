//! The AD structure a job's directory state holds ("Load AD structure"):
//! the OU tree with user counts, and every group with its direct and
//! nested member counts and the accesses linked to it. Links resolve as the
//! planner resolves them (`links::expand`); nesting is followed the
//! same way, cycles and self-membership tolerated.

use std::collections::{HashMap, HashSet};

use roster_proto::dn::Dn;
use roster_proto::insight::{GroupSummary, OuNode, Structure};
use roster_proto::records::{GroupRecord, OuRecord, UserRecord};
use roster_proto::{AccessId, ObjectGuid};

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

/// Builds the structure of a directory state.
///
/// `search`: case-insensitive substring of a name or DN; when given, only
/// matching groups are listed and the OU tree keeps matching OUs plus their
/// ancestors (counts stay the unfiltered ones). Blank search = no filter.
pub fn structure(input: StructureInput<'_>, search: Option<&str>) -> Structure {
    let needle = search.map(str::trim).filter(|s| !s.is_empty()).map(str::to_lowercase);
    let matches = |name: &str, dn: &str| match &needle {
        None => true,
        Some(needle) => name.to_lowercase().contains(needle) || dn.to_lowercase().contains(needle),
    };
    Structure { users: input.users.len() as u64, ous: ou_tree(input.users, input.ous, &matches), groups: group_summaries(&input, &matches) }
}

/// The OU forest: roots are OUs whose parent DN is not an OU of the state.
fn ou_tree(users: &[UserRecord], ous: &[OuRecord], matches: &dyn Fn(&str, &str) -> bool) -> Vec<OuNode> {
    // One node per distinct DN (the first record wins); unreadable DNs are roots without users.
    let mut index: HashMap<Dn, usize> = HashMap::with_capacity(ous.len());
    let mut nodes: Vec<(&OuRecord, Option<Dn>)> = Vec::with_capacity(ous.len());
    for ou in ous {
        match Dn::parse(&ou.dn) {
            Ok(dn) => {
                if !index.contains_key(&dn) {
                    index.insert(dn.clone(), nodes.len());
                    nodes.push((ou, Some(dn)));
                }
            }
            Err(_) => nodes.push((ou, None)),
        }
    }

    let mut direct_users = vec![0u64; nodes.len()];
    for user in users {
        let parent = Dn::parse(&user.dn).ok().and_then(|dn| dn.parent());
        if let Some(ou) = parent.and_then(|dn| index.get(&dn)) {
            direct_users[*ou] += 1;
        }
    }

    let parent_of: Vec<Option<usize>> =
        nodes.iter().map(|(_, dn)| dn.as_ref().and_then(Dn::parent).and_then(|parent| index.get(&parent).copied())).collect();

    // Children before parents: a parent's DN is exactly one RDN shorter.
    let mut order: Vec<usize> = (0..nodes.len()).collect();
    order.sort_by_key(|i| std::cmp::Reverse(nodes[*i].1.as_ref().map_or(0, Dn::depth)));

    let mut children: Vec<Vec<OuNode>> = vec![Vec::new(); nodes.len()];
    let mut below = direct_users.clone();
    let mut keep: Vec<bool> = nodes.iter().map(|(ou, _)| matches(&ou.name, &ou.dn)).collect();
    let mut roots = Vec::new();
    for i in order {
        let (ou, _) = nodes[i];
        let mut kids = std::mem::take(&mut children[i]);
        kids.sort_by_cached_key(ou_key);
        let node = OuNode {
            object_guid: ou.object_guid,
            dn: ou.dn.clone(),
            name: ou.name.clone(),
            users: direct_users[i],
            users_below: below[i],
            children: kids,
        };
        match parent_of[i] {
            Some(parent) => {
                below[parent] += below[i];
                if keep[i] {
                    keep[parent] = true;
                    children[parent].push(node);
                }
            }
            None if keep[i] => roots.push(node),
            None => {}
        }
    }
    roots.sort_by_cached_key(ou_key);
    roots
}

fn ou_key(node: &OuNode) -> (String, String, String, ObjectGuid) {
    (node.name.to_lowercase(), node.name.clone(), node.dn.clone(), node.object_guid)
}

/// Every group (one per objectGUID, the last record winning as in
/// `links::expand`) that matches, counted.
fn group_summaries(input: &StructureInput<'_>, matches: &dyn Fn(&str, &str) -> bool) -> Vec<GroupSummary> {
    let mut by_guid: HashMap<ObjectGuid, usize> = HashMap::with_capacity(input.groups.len());
    for (i, group) in input.groups.iter().enumerate() {
        by_guid.insert(group.object_guid, i);
    }
    let mut records: Vec<usize> = by_guid.values().copied().collect();
    records.sort_unstable();
    let slot: HashMap<ObjectGuid, usize> = records.iter().enumerate().map(|(slot, i)| (input.groups[*i].object_guid, slot)).collect();

    // Users by objectGUID; a GUID that is also a group's is walked as a group, as links do.
    let user_slot: HashMap<ObjectGuid, usize> = {
        let mut map = HashMap::with_capacity(input.users.len());
        for user in input.users {
            if !slot.contains_key(&user.object_guid) {
                let next = map.len();
                map.entry(user.object_guid).or_insert(next);
            }
        }
        map
    };

    // Direct members of each group, split into nested groups and users.
    let mut nested_groups: Vec<Vec<usize>> = Vec::with_capacity(records.len());
    let mut member_users: Vec<Vec<usize>> = Vec::with_capacity(records.len());
    let mut direct_members: Vec<u64> = Vec::with_capacity(records.len());
    for i in &records {
        let distinct: HashSet<ObjectGuid> = input.groups[*i].members.iter().copied().collect();
        let mut groups: Vec<usize> = distinct.iter().filter_map(|m| slot.get(m).copied()).collect();
        groups.sort_unstable();
        let mut users: Vec<usize> = distinct.iter().filter_map(|m| user_slot.get(m).copied()).collect();
        users.sort_unstable();
        direct_members.push(distinct.len() as u64);
        nested_groups.push(groups);
        member_users.push(users);
    }

    let expanded = links::expand(input.links, input.groups);
    let mut linked: Vec<Vec<AccessId>> = vec![Vec::new(); records.len()];
    for (link, resolved) in input.links.iter().zip(&expanded.resolved) {
        if let Some(group) = resolved.and_then(|guid| slot.get(&guid).copied()) {
            linked[group].push(link.access_id);
        }
    }

    let mut walk = NestedWalk::new(records.len(), user_slot.len());
    let mut summaries: Vec<GroupSummary> = Vec::new();
    for (group_slot, i) in records.iter().enumerate() {
        let group = &input.groups[*i];
        if !matches(&group.name, &group.dn) {
            continue;
        }
        let mut accesses = std::mem::take(&mut linked[group_slot]);
        accesses.sort_unstable();
        accesses.dedup();
        summaries.push(GroupSummary {
            object_guid: group.object_guid,
            dn: group.dn.clone(),
            name: group.name.clone(),
            direct_members: direct_members[group_slot],
            direct_users: member_users[group_slot].len() as u64,
            nested_users: walk.count(group_slot, &nested_groups, &member_users),
            linked_accesses: accesses,
        });
    }
    summaries.sort_by_cached_key(|g| (g.name.to_lowercase(), g.dn.to_lowercase(), g.name.clone(), g.dn.clone(), g.object_guid));
    summaries
}

/// Counts distinct users below a group, reusing its marks between groups
/// (a walk's number marks what it has seen, so nothing is cleared).
#[derive(Debug)]
struct NestedWalk {
    walk: u32,
    group_seen: Vec<u32>,
    user_seen: Vec<u32>,
    stack: Vec<usize>,
}

impl NestedWalk {
    fn new(groups: usize, users: usize) -> Self {
        NestedWalk { walk: 0, group_seen: vec![0; groups], user_seen: vec![0; users], stack: Vec::new() }
    }

    fn count(&mut self, root: usize, nested_groups: &[Vec<usize>], member_users: &[Vec<usize>]) -> u64 {
        self.walk += 1;
        let walk = self.walk;
        let mut count = 0u64;
        self.group_seen[root] = walk;
        self.stack.clear();
        self.stack.push(root);
        while let Some(group) = self.stack.pop() {
            for user in &member_users[group] {
                if self.user_seen[*user] != walk {
                    self.user_seen[*user] = walk;
                    count += 1;
                }
            }
            for nested in &nested_groups[group] {
                if self.group_seen[*nested] != walk {
                    self.group_seen[*nested] = walk;
                    self.stack.push(*nested);
                }
            }
        }
        count
    }
}
