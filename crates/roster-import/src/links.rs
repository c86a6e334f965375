//! Link rules: an AD group, named by objectGUID, DN or name, grants an
//! access. A link given by DN or name may be set before the group was ever
//! seen; it is resolved against each snapshot's groups (the server then
//! keeps the objectGUID it resolved to). A name must match exactly one
//! group (case-insensitively, as AD compares names).

use std::collections::{HashMap, HashSet};

use roster_proto::dn::Dn;
use roster_proto::records::GroupRecord;
use roster_proto::{AccessId, ObjectGuid};

/// How a link names its group.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GroupRef {
    Guid(ObjectGuid),
    Dn(Dn),
    /// The group's name (`cn`), kept as given.
    Name(String),
}

/// Why a link's group cannot be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("`{0}` is neither an objectGUID, a distinguished name nor the name of a group")]
    BadGroup(String),
}

impl GroupRef {
    /// Reads a group as an admin gives it: an objectGUID, a DN, or a name.
    /// Text with `=` must be a DN; a name is at most 256 characters, without
    /// control characters.
    pub fn parse(text: &str) -> Result<GroupRef, LinkError> {
        let bad = || LinkError::BadGroup(text.to_owned());
        if let Ok(guid) = text.parse::<ObjectGuid>() {
            return Ok(GroupRef::Guid(guid));
        }
        if text.contains('=') {
            return match Dn::parse(text) {
                Ok(dn) if dn.depth() > 0 => Ok(GroupRef::Dn(dn)),
                _ => Err(bad()),
            };
        }
        let name = text.trim();
        if name.is_empty() || name.chars().count() > 256 || name.chars().any(char::is_control) {
            return Err(bad());
        }
        Ok(GroupRef::Name(name.to_owned()))
    }

    /// The group this names among `groups`, if exactly one.
    pub(crate) fn resolve(&self, index: &GroupIndex<'_>) -> Option<ObjectGuid> {
        match self {
            GroupRef::Guid(guid) => index.by_guid.contains_key(guid).then_some(*guid),
            GroupRef::Dn(dn) => index.by_dn.get(dn).copied(),
            GroupRef::Name(name) => match index.by_name.get(&name.to_lowercase()).map(Vec::as_slice) {
                Some([only]) => Some(*only),
                _ => None,
            },
        }
    }

    /// How many groups a name matches (for messages); 1 for GUIDs and DNs.
    pub fn matches(&self, groups: &[GroupRecord]) -> usize {
        match self {
            GroupRef::Name(name) => groups.iter().filter(|g| g.name.to_lowercase() == name.to_lowercase()).count(),
            _ => 1,
        }
    }
}

/// A snapshot's groups by GUID, DN and lower-cased name.
pub(crate) struct GroupIndex<'a> {
    pub by_guid: HashMap<ObjectGuid, &'a GroupRecord>,
    by_dn: HashMap<Dn, ObjectGuid>,
    by_name: HashMap<String, Vec<ObjectGuid>>,
}

impl<'a> GroupIndex<'a> {
    pub fn new(groups: &'a [GroupRecord]) -> GroupIndex<'a> {
        let mut by_name: HashMap<String, Vec<ObjectGuid>> = HashMap::new();
        for group in groups {
            let guids = by_name.entry(group.name.to_lowercase()).or_default();
            if !guids.contains(&group.object_guid) {
                guids.push(group.object_guid);
            }
        }
        GroupIndex {
            by_guid: groups.iter().map(|g| (g.object_guid, g)).collect(),
            by_dn: groups.iter().filter_map(|g| Dn::parse(&g.dn).ok().map(|dn| (dn, g.object_guid))).collect(),
            by_name,
        }
    }
}

/// One link: members of `group` (transitively) get `access_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkRule {
    /// The group exactly as the admin gave it, for messages.
    pub group_text: String,
    pub group: GroupRef,
    pub access_id: AccessId,
}

/// What the links grant, resolved against one snapshot's groups.
///
/// Each member's accesses are one of a few distinct sets, kept once: a
/// million users linked through a handful of groups share a handful of
/// sets, so a member costs its GUID and a set's number, not a set of its
/// own.
#[derive(Debug, Default)]
pub(crate) struct Grants {
    /// For each member reached (user or other object, by GUID), its set
    /// of accesses: an index into `sets`.
    by_member: HashMap<ObjectGuid, usize>,
    /// The distinct sets of accesses granted, each sorted, without repeats.
    sets: Vec<Box<[AccessId]>>,
    /// For each link (by position), the group GUID it resolved to.
    pub resolved: Vec<Option<ObjectGuid>>,
}

impl Grants {
    /// The accesses the links grant `member` (sorted), or `None` when no
    /// linked group reaches it.
    pub fn of(&self, member: &ObjectGuid) -> Option<&[AccessId]> {
        self.by_member.get(member).map(|&set| &*self.sets[set])
    }

    /// True when no linked group reaches anything.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.by_member.is_empty()
    }

    /// Every member reached, with its accesses.
    #[cfg(test)]
    pub fn members(&self) -> impl Iterator<Item = (ObjectGuid, &[AccessId])> {
        self.by_member.iter().map(|(member, &set)| (*member, &*self.sets[set]))
    }
}

/// Builds [`Grants`]' sets: each member's set grows one access at a time,
/// and each step from a set by an access is worked out once.
#[derive(Debug, Default)]
struct SetBuilder {
    sets: Vec<Box<[AccessId]>>,
    /// Each distinct set's index.
    index: HashMap<Box<[AccessId]>, usize>,
    /// (a set, or none yet; an access) -> the set with it added.
    steps: HashMap<(Option<usize>, AccessId), usize>,
}

impl SetBuilder {
    /// The set `from` (none: the empty set) with `access` added.
    fn add(&mut self, from: Option<usize>, access: AccessId) -> usize {
        if let Some(&to) = self.steps.get(&(from, access)) {
            return to;
        }
        let mut set: Vec<AccessId> = from.map(|i| self.sets[i].to_vec()).unwrap_or_default();
        if let Err(at) = set.binary_search(&access) {
            set.insert(at, access);
        }
        let set = set.into_boxed_slice();
        let to = match self.index.get(&set) {
            Some(&to) => to,
            None => {
                let to = self.sets.len();
                self.sets.push(set.clone());
                self.index.insert(set, to);
                to
            }
        };
        self.steps.insert((from, access), to);
        to
    }
}

/// What each link resolves to among `groups`, as [`expand`] resolves it.
pub(crate) fn resolve(links: &[LinkRule], groups: &[GroupRecord]) -> Vec<Option<ObjectGuid>> {
    let index = GroupIndex::new(groups);
    links.iter().map(|link| link.group.resolve(&index)).collect()
}

/// Expands every link through nested groups. Cycles and self-membership
/// end the walk; members that are not groups of the snapshot (users, and
/// references to objects outside it) receive the grant.
pub(crate) fn expand(links: &[LinkRule], groups: &[GroupRecord]) -> Grants {
    let index = GroupIndex::new(groups);
    let by_guid = &index.by_guid;
    let mut grants = Grants::default();
    let mut sets = SetBuilder::default();
    // Members reached from a group, computed once per linked group.
    let mut reach_cache: HashMap<ObjectGuid, Vec<ObjectGuid>> = HashMap::new();
    for link in links {
        let root = link.group.resolve(&index);
        grants.resolved.push(root);
        let Some(root) = root else { continue };
        let members = reach_cache.entry(root).or_insert_with(|| reachable_members(root, by_guid));
        for member in members.iter() {
            let set = grants.by_member.get(member).copied();
            grants.by_member.insert(*member, sets.add(set, link.access_id));
        }
    }
    grants.sets = sets.sets;
    grants
}

/// Every non-group object reachable from `root` through `member` links.
fn reachable_members(root: ObjectGuid, by_guid: &HashMap<ObjectGuid, &GroupRecord>) -> Vec<ObjectGuid> {
    let mut seen_groups: HashSet<ObjectGuid> = HashSet::from([root]);
    let mut members: HashSet<ObjectGuid> = HashSet::new();
    let mut queue = vec![root];
    while let Some(group) = queue.pop() {
        let Some(record) = by_guid.get(&group) else { continue };
        for member in &record.members {
            if by_guid.contains_key(member) {
                if seen_groups.insert(*member) {
                    queue.push(*member);
                }
            } else {
                members.insert(*member);
            }
        }
    }
    members.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn guid(n: u32) -> ObjectGuid {
        format!("{n:08x}-0000-0000-0000-000000000000").parse().unwrap()
    }

    fn group(n: u32, members: &[u32]) -> GroupRecord {
        GroupRecord {
            object_guid: guid(n),
            dn: format!("CN=G{n},OU=Groups,DC=corp"),
            name: format!("G{n}"),
            group_type: -2147483646,
            members: members.iter().map(|m| guid(*m)).collect(),
        }
    }

    fn link(group: &str, access: u128) -> LinkRule {
        LinkRule { group_text: group.into(), group: GroupRef::parse(group).unwrap(), access_id: AccessId::from(Uuid::from_u128(access)) }
    }

    /// Groups are 100+, users below 100.
    fn check(groups: &[GroupRecord], links: &[LinkRule], expected: &[(u32, &[u128])]) {
        let grants = expand(links, groups);
        let mut actual: Vec<(ObjectGuid, Vec<AccessId>)> = grants.members().map(|(m, a)| (m, a.to_vec())).collect();
        actual.sort();
        let mut expected: Vec<(ObjectGuid, Vec<AccessId>)> =
            expected.iter().map(|(m, a)| (guid(*m), a.iter().map(|x| AccessId::from(Uuid::from_u128(*x))).collect())).collect();
        expected.sort();
        assert_eq!(actual, expected);
    }

    #[test]
    fn direct_and_nested_memberships_grant() {
        let groups = [group(100, &[1, 101]), group(101, &[2, 102]), group(102, &[3])];
        check(&groups, &[link(&guid(100).to_string(), 7)], &[(1, &[7]), (2, &[7]), (3, &[7])]);
        check(&groups, &[link("cn=g101, ou=groups, dc=CORP", 8)], &[(2, &[8]), (3, &[8])]);
    }

    #[test]
    fn accesses_accumulate_across_links() {
        let groups = [group(100, &[1, 2]), group(101, &[2])];
        check(&groups, &[link("CN=G100,OU=Groups,DC=corp", 1), link("CN=G101,OU=Groups,DC=corp", 2)], &[(1, &[1]), (2, &[1, 2])]);
    }

    #[test]
    fn members_with_the_same_accesses_share_one_set_whatever_the_links_order() {
        // Users 1-4 in G100 (access 1); 3-6 in G101 (access 2); 5-8 in G102 (access 1 again, and 3).
        let groups = [group(100, &[1, 2, 3, 4]), group(101, &[3, 4, 5, 6]), group(102, &[5, 6, 7, 8])];
        let g = |n: u32| guid(n).to_string();
        let links = [link(&g(100), 1), link(&g(101), 2), link(&g(102), 1), link(&g(102), 3), link(&g(100), 1)];
        let expected: &[(u32, &[u128])] =
            &[(1, &[1]), (2, &[1]), (3, &[1, 2]), (4, &[1, 2]), (5, &[1, 2, 3]), (6, &[1, 2, 3]), (7, &[1, 3]), (8, &[1, 3])];
        let mut orders = vec![links.to_vec()];
        orders.push(links.iter().rev().cloned().collect());
        orders.push(vec![links[3].clone(), links[1].clone(), links[0].clone(), links[2].clone(), links[4].clone()]);
        for order in &orders {
            check(&groups, order, expected);
            // Four distinct sets ({1}, {1,2}, {1,2,3}, {1,3}), kept once each,
            // plus those only passed through on the way ({2}, {3}, {2,3}, ...).
            let grants = expand(order, &groups);
            let mut kept: Vec<&[AccessId]> = grants.sets.iter().map(|set| &**set).collect();
            kept.sort();
            kept.dedup();
            assert_eq!(kept.len(), grants.sets.len(), "a set kept twice: {:?}", grants.sets);
            for set in &grants.sets {
                assert!(set.windows(2).all(|w| w[0] < w[1]), "unsorted or repeated: {set:?}");
            }
        }
    }

    #[test]
    fn cycles_and_self_membership_end_the_walk() {
        let groups = [group(100, &[101, 1]), group(101, &[100, 2]), group(102, &[102, 3])];
        check(&groups, &[link("CN=G101,OU=Groups,DC=corp", 5)], &[(1, &[5]), (2, &[5])]);
        check(&groups, &[link("CN=G102,OU=Groups,DC=corp", 6)], &[(3, &[6])]);
    }

    #[test]
    fn unknown_groups_resolve_to_nothing() {
        let groups = [group(100, &[1])];
        let links = [link("CN=Gone,OU=Groups,DC=corp", 1), link(&guid(555).to_string(), 2)];
        let grants = expand(&links, &groups);
        assert_eq!(grants.resolved, vec![None, None]);
        assert!(grants.is_empty());
    }

    #[test]
    fn group_refs_parse_guids_dns_and_names() {
        assert!(matches!(GroupRef::parse("{00000064-0000-0000-0000-000000000000}"), Ok(GroupRef::Guid(_))));
        assert!(matches!(GroupRef::parse("CN=Sales,DC=corp"), Ok(GroupRef::Dn(_))));
        assert_eq!(GroupRef::parse(" Sales DK "), Ok(GroupRef::Name("Sales DK".into())));
        for bad in ["", "   ", "CN=Sales,corp", "=x", "tab\there", &"x".repeat(257)] {
            assert!(GroupRef::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_name_resolves_only_when_one_group_has_it() {
        let mut twin = group(102, &[3]);
        twin.name = "g100".into();
        twin.dn = "CN=G100,OU=Other,DC=corp".into();
        let groups = [group(100, &[1]), group(101, &[2])];
        check(&groups, &[link("g101", 4)], &[(2, &[4])]);
        let with_twin = [group(100, &[1]), group(101, &[2]), twin];
        let grants = expand(&[link("G100", 4)], &with_twin);
        assert_eq!(grants.resolved, vec![None], "two groups are named G100");
        assert!(grants.is_empty());
        assert_eq!(GroupRef::parse("G100").unwrap().matches(&with_twin), 2);
    }
}
