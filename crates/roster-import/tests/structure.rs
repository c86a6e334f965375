//! Table tests of the structure view: a small directory state, and the OU
//! tree and group summaries it must give, with and without a search.

// A failed unwrap is a failed test, which is what we want here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{BASE, guid, link_to, named_group};
use roster_import::{LinkRule, StructureInput, structure};
use roster_proto::ObjectGuid;
use roster_proto::insight::{GroupSummary, OuNode, Structure};
use roster_proto::records::{DeletedRecord, GroupRecord, OuRecord, Record, UserRecord};

/// OU `n` at `relative` (relative to BASE), named by its first RDN.
fn ou(n: u32, relative: &str) -> OuRecord {
    let name = relative.split(',').next().unwrap().split('=').nth(1).unwrap().to_owned();
    OuRecord { object_guid: guid(n), dn: format!("{relative},{BASE}"), name }
}

fn group(n: u32, name: &str, members: &[u32]) -> GroupRecord {
    named_group(n, name, members)
}

/// User `n` in `container`, enabled.
fn user(n: u32, container: &str) -> UserRecord {
    common::user(n, container, 512)
}

fn link(group: &str, access: u128) -> LinkRule {
    link_to(group, access)
}

struct World {
    users: Vec<UserRecord>,
    groups: Vec<GroupRecord>,
    ous: Vec<OuRecord>,
    links: Vec<LinkRule>,
}

impl World {
    fn structure(&self, search: Option<&str>) -> Structure {
        structure(StructureInput { users: &self.users, groups: &self.groups, ous: &self.ous, links: &self.links }, search)
    }
}

/// OUs: Staff ⊃ {Copenhagen ⊃ Sales, Aarhus}, Groups, and Inner below the
/// `CN=Builtin` container. Users in OUs, in `CN=Users` and in a container
/// inside Staff. Groups: all-staff ⊃ {Team-A, u1, a reference outside the
/// state}; Team-A ⊃ {u2, u3, team-b}; team-b ⊃ {u3, u4, Team-A} (a cycle);
/// Self ⊃ {Self, u5}; Empty.
fn world() -> World {
    World {
        users: vec![
            user(1, "OU=Staff"),
            user(2, "OU=Staff"),
            user(3, "OU=Copenhagen,OU=Staff"),
            user(4, "OU=Copenhagen,OU=Staff"),
            // The same OU, spelled differently.
            UserRecord { dn: format!("cn=u5, ou=COPENHAGEN,ou=staff,{BASE}"), ..user(5, "") },
            user(6, "OU=Sales,OU=Copenhagen,OU=Staff"),
            user(7, "CN=Users"),
            user(8, "CN=Users"),
            user(9, "CN=Contractors,OU=Staff"),
            UserRecord { dn: "not a DN".into(), ..user(10, "") },
        ],
        ous: vec![
            ou(50, "OU=Staff"),
            ou(51, "OU=Copenhagen,OU=Staff"),
            ou(52, "OU=Aarhus,OU=Staff"),
            ou(53, "OU=Sales,OU=Copenhagen,OU=Staff"),
            ou(54, "OU=Groups"),
            ou(55, "OU=Inner,CN=Builtin"),
        ],
        groups: vec![
            group(100, "all-staff", &[101, 1, 9999]),
            group(101, "Team-A", &[2, 3, 102]),
            group(102, "team-b", &[3, 4, 101]),
            group(103, "Self", &[103, 5, 5]),
            group(104, "Empty", &[]),
        ],
        links: vec![
            link(&format!("CN=all-staff,OU=Groups,{BASE}"), 3),
            link(&format!("cn=ALL-STAFF, ou=groups,{BASE}"), 1),
            link(&guid(100).to_string(), 2),
            link(&guid(100).to_string(), 1),
            link(&format!("CN=Team-A,OU=Groups,{BASE}"), 9),
            link(&format!("CN=Gone,OU=Groups,{BASE}"), 4),
            link(&guid(555).to_string(), 5),
        ],
    }
}

/// An OU tree as (name, users, users_below, children), for comparing.
#[derive(Debug, PartialEq)]
struct Tree(String, u64, u64, Vec<Tree>);

fn node(name: &str, users: u64, users_below: u64, children: Vec<Tree>) -> Tree {
    Tree(name.to_owned(), users, users_below, children)
}

fn tree(nodes: &[OuNode]) -> Vec<Tree> {
    nodes.iter().map(|n| node(&n.name, n.users, n.users_below, tree(&n.children))).collect()
}

fn full_tree() -> Vec<Tree> {
    vec![
        node("Groups", 0, 0, vec![]),
        node("Inner", 0, 0, vec![]),
        node("Staff", 2, 6, vec![node("Aarhus", 0, 0, vec![]), node("Copenhagen", 3, 4, vec![node("Sales", 1, 1, vec![])])]),
    ]
}

/// A group as (name, direct_members, direct_users, nested_users, linked accesses).
type Counts = (String, u64, u64, u64, Vec<u128>);

fn counts(groups: &[GroupSummary]) -> Vec<Counts> {
    groups
        .iter()
        .map(|g| {
            (
                g.name.clone(),
                g.direct_members,
                g.direct_users,
                g.nested_users,
                g.linked_accesses.iter().map(|a| a.as_uuid().as_u128()).collect(),
            )
        })
        .collect()
}

fn all_counts() -> Vec<Counts> {
    [
        ("all-staff", 3, 1, 4, vec![1, 2, 3]),
        ("Empty", 0, 0, 0, vec![]),
        ("Self", 2, 1, 1, vec![]),
        ("Team-A", 3, 2, 3, vec![9]),
        ("team-b", 3, 2, 3, vec![]),
    ]
    .into_iter()
    .map(|(name, members, users, nested, accesses)| (name.to_owned(), members, users, nested, accesses))
    .collect()
}

#[test]
fn the_ou_tree_counts_users_by_parent_and_below() {
    let structure = world().structure(None);
    assert_eq!(structure.users, 10, "every user counts in the total, whatever its container");
    assert_eq!(tree(&structure.ous), full_tree());
    let staff = &structure.ous[2];
    assert_eq!((staff.object_guid, staff.dn.as_str()), (guid(50), format!("OU=Staff,{BASE}").as_str()));
    assert_eq!(staff.children[1].children[0].object_guid, guid(53));
}

#[test]
fn groups_count_direct_and_nested_members() {
    let structure = world().structure(None);
    assert_eq!(counts(&structure.groups), all_counts());
    let all = &structure.groups[0];
    assert_eq!((all.object_guid, all.dn.as_str()), (guid(100), format!("CN=all-staff,OU=Groups,{BASE}").as_str()));
}

#[test]
fn a_search_keeps_matching_groups_and_ous_with_their_ancestors() {
    let staff = |children| node("Staff", 2, 6, children);
    let copenhagen = |children| node("Copenhagen", 3, 4, children);
    type Case = (Option<&'static str>, Vec<Tree>, Vec<&'static str>);
    let cases: Vec<Case> = vec![
        // A DN below Copenhagen contains "copen" too.
        (Some("copen"), vec![staff(vec![copenhagen(vec![node("Sales", 1, 1, vec![])])])], vec![]),
        (Some("SALES"), vec![staff(vec![copenhagen(vec![node("Sales", 1, 1, vec![])])])], vec![]),
        (Some("aarhus"), vec![staff(vec![node("Aarhus", 0, 0, vec![])])], vec![]),
        (Some("builtin"), vec![node("Inner", 0, 0, vec![])], vec![]),
        (Some(" TEAM "), vec![], vec!["Team-A", "team-b"]),
        (Some("ou=groups"), vec![node("Groups", 0, 0, vec![])], vec!["all-staff", "Empty", "Self", "Team-A", "team-b"]),
        (Some("nothing like it"), vec![], vec![]),
    ];
    let world = world();
    for (search, ous, groups) in cases {
        let structure = world.structure(search);
        assert_eq!(structure.users, 10, "{search:?}: the total stays unfiltered");
        assert_eq!(tree(&structure.ous), ous, "{search:?}");
        let names: Vec<&str> = structure.groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, groups, "{search:?}");
    }
    // Counts of a listed group stay the unfiltered ones.
    let team = world.structure(Some("team"));
    assert_eq!(counts(&team.groups), all_counts()[3..].to_vec());
}

#[test]
fn a_blank_search_is_no_filter() {
    let world = world();
    let unfiltered = world.structure(None);
    for blank in ["", "   ", "\t"] {
        assert_eq!(world.structure(Some(blank)), unfiltered, "{blank:?}");
    }
}

#[test]
fn the_same_state_in_any_order_gives_the_same_structure() {
    let mut world = world();
    let first = world.structure(None);
    world.users.reverse();
    world.groups.reverse();
    world.ous.reverse();
    assert_eq!(world.structure(None), first);
    world.ous.rotate_left(2);
    world.groups.rotate_left(3);
    assert_eq!(world.structure(None), first);
}

#[test]
fn groups_sort_by_name_case_insensitively_then_dn() {
    let mut a = group(1, "Sales", &[]);
    a.dn = format!("CN=Sales,OU=Oslo,{BASE}");
    let mut b = group(2, "sales", &[]);
    b.dn = format!("CN=sales,OU=Bergen,{BASE}");
    let world = World { users: vec![], groups: vec![group(3, "Zeta", &[]), a, b, group(4, "alpha", &[])], ous: vec![], links: vec![] };
    let structure = world.structure(None);
    let order: Vec<(&str, ObjectGuid)> = structure.groups.iter().map(|g| (g.name.as_str(), g.object_guid)).collect();
    assert_eq!(order, vec![("alpha", guid(4)), ("sales", guid(2)), ("Sales", guid(1)), ("Zeta", guid(3))]);
    assert_eq!((structure.users, structure.ous.len()), (0, 0));
}

#[test]
fn a_large_state_is_summarised() {
    // 100,000 users in 100 OUs and 10,000 groups of ten, nested 100 to a
    // department group, every department in All-Staff.
    let ous: Vec<OuRecord> =
        (0..100u32).map(|o| ou(5_000_000 + o, &format!("OU=Site{o},OU=Staff"))).chain([ou(4_999_999, "OU=Staff")]).collect();
    let users: Vec<UserRecord> = (0..100_000u32).map(|n| user(n + 1, &format!("OU=Site{},OU=Staff", n % 100))).collect();
    let mut groups: Vec<GroupRecord> =
        (0..10_000u32).map(|g| group(1_000_000 + g, &format!("Team-{g:05}"), &(g * 10 + 1..=g * 10 + 10).collect::<Vec<_>>())).collect();
    for d in 0..100u32 {
        groups.push(group(2_000_000 + d, &format!("Dept-{d:03}"), &(1_000_000 + d * 100..1_000_000 + d * 100 + 100).collect::<Vec<_>>()));
    }
    groups.push(group(3_000_000, "All-Staff", &(2_000_000..2_000_100).collect::<Vec<_>>()));
    let world = World { users, groups, ous, links: vec![link(&format!("CN=All-Staff,OU=Groups,{BASE}"), 1)] };
    let structure = world.structure(None);
    assert_eq!(tree(&structure.ous).len(), 1);
    assert_eq!((structure.ous[0].users, structure.ous[0].users_below, structure.ous[0].children.len()), (0, 100_000, 100));
    assert_eq!(structure.groups.len(), 10_101);
    assert_eq!(
        counts(&structure.groups[..2]),
        vec![("All-Staff".to_owned(), 100, 0, 100_000, vec![1]), ("Dept-000".to_owned(), 100, 0, 1_000, vec![])]
    );
    assert!(structure.groups[101..].iter().all(|g| g.direct_users == 10 && g.nested_users == 10));
}

/// A server keeps a state's summary as JSON and answers each request from
/// it: read back, it answers every search and every set of links as the
/// state itself does. Flat, so an OU tree deeper than any JSON reader's
/// nesting limit is kept too.
#[test]
fn a_kept_summary_answers_as_the_state_does() {
    let state = world();
    let kept: roster_import::StructureSummary =
        serde_json::from_str(&serde_json::to_string(&roster_import::summarise(&state.users, &state.groups, &state.ous)).unwrap()).unwrap();
    let other_links = vec![link("Team-A", 9), link(&guid(104).to_string(), 8), link("nothing", 7)];
    for links in [state.links.clone(), other_links, vec![]] {
        let relinked = World { links: links.clone(), ..world() };
        for search in [None, Some("team"), Some("copen"), Some("nothing like it")] {
            assert_eq!(kept.present(&links, search), relinked.structure(search), "{search:?} {links:?}");
        }
    }

    // A chain of 500 OUs, a user at the bottom.
    let mut relative = String::from("OU=L0");
    let mut ous = vec![ou(10_000, &relative)];
    for level in 1..500u32 {
        relative = format!("OU=L{level},{relative}");
        ous.push(ou(10_000 + level, &relative));
    }
    let deep = roster_import::summarise(&[user(1, &relative)], &[], &ous);
    let kept: roster_import::StructureSummary = serde_json::from_str(&serde_json::to_string(&deep).unwrap()).unwrap();
    let structure = kept.present(&[], None);
    assert_eq!((structure.ous.len(), structure.ous[0].users_below), (1, 1));

    // A summary not made by `summarise` (edited where it is kept) is answered, not a panic.
    let mut edited = serde_json::to_value(&deep).unwrap();
    edited["ous"][3]["parent"] = serde_json::json!(100_000);
    let edited: roster_import::StructureSummary = serde_json::from_value(edited).unwrap();
    assert!(!edited.present(&[], Some("L3")).ous.is_empty());
}

/// A server counts a full snapshot while it stages it: the summary of its
/// records, in the snapshot's order, is the summary of the state they
/// make, each objectGUID as its last record says and each group with every
/// member any record of it names.
#[test]
fn a_snapshot_is_summarised_as_the_state_it_makes() {
    let world = world();
    let mut records: Vec<Record> = Vec::new();
    // The world in the agent's order, groups before some of their users,
    // Team-A's members continued in `group_members` records.
    for group in &world.groups {
        // One member a record for Team-A.
        let (head, more) = group.clone().split(if group.object_guid == guid(101) { 1 } else { usize::MAX });
        records.push(Record::Group(head));
        records.extend(more.into_iter().map(Record::GroupMembers));
    }
    records.extend(world.users.iter().rev().cloned().map(Record::User));
    records.extend(world.ous.iter().cloned().map(Record::Ou));
    // Sent again: user 3 as in Aarhus, user 11 then a group under its
    // GUID, Empty with a member then without, user 12 then its tombstone,
    // OU=Staff spelled differently under another GUID.
    records.push(Record::User(user(3, "OU=Aarhus,OU=Staff")));
    records.push(Record::User(user(11, "OU=Staff")));
    records.push(Record::Group(group(11, "Late", &[1])));
    records.insert(0, Record::Group(group(104, "Empty", &[6])));
    records.push(Record::User(user(12, "OU=Staff")));
    records.push(Record::Deleted(DeletedRecord { object_guid: guid(12), last_known_parent: None }));
    records.push(Record::Ou(OuRecord { object_guid: guid(49), dn: format!("ou=STAFF,{BASE}"), name: "STAFF".into() }));

    let mut summariser = roster_import::SnapshotSummariser::default();
    for record in &records {
        summariser.add(record);
    }
    let summary = summariser.finish();

    // The state those records make, written out.
    let mut users = world.users.clone();
    users[2] = user(3, "OU=Aarhus,OU=Staff");
    let mut groups = world.groups.clone();
    groups[4] = group(104, "Empty", &[6]);
    groups.push(group(11, "Late", &[1]));
    let mut ous = world.ous.clone();
    ous.insert(0, OuRecord { object_guid: guid(49), dn: format!("ou=STAFF,{BASE}"), name: "STAFF".into() });
    let state = World { users, groups, ous, links: world.links.clone() };
    for search in [None, Some("team"), Some("staff"), Some("late")] {
        assert_eq!(summary.present(&state.links, search), state.structure(search), "{search:?}");
    }
    let structure = summary.present(&[], None);
    let staff = structure.ous.iter().find(|o| o.name.eq_ignore_ascii_case("staff")).unwrap();
    let aarhus = staff.children.iter().find(|o| o.name == "Aarhus").unwrap();
    assert_eq!((structure.users, aarhus.users), (10, 1), "user 3 moved, user 11 a group, user 12 deleted");
    let empty = structure.groups.iter().find(|g| g.name == "Empty").unwrap();
    assert_eq!(empty.direct_users, 1, "a member named by an earlier record of the group");
}

/// A delta of users alone (no group changed, none naming a user that
/// joins) changes a kept summary as counting the new state would.
#[test]
fn a_delta_of_users_changes_a_summary_as_a_recount_would() {
    let before = world();
    let kept = roster_import::summarise(&before.users, &before.groups, &before.ous);
    let moved = [
        user(1, "OU=Aarhus,OU=Staff"),
        // Three OUs deep, from a container that is no OU.
        user(7, "OU=Sales,OU=Copenhagen,OU=Staff"),
        // From a DN that does not read, and out of the OUs.
        user(10, "OU=Staff"),
        user(6, "CN=Users"),
        // The same OU, spelled differently.
        UserRecord { dn: format!("CN=u5,OU=Copenhagen,OU=Staff,{BASE}"), ..user(5, "") },
    ];
    let joining =
        [user(20, "OU=Copenhagen,OU=Staff"), UserRecord { dn: "not a DN either".into(), ..user(21, "") }, user(22, "OU=Inner,CN=Builtin")];
    let mut after = world();
    for user in &moved {
        *after.users.iter_mut().find(|u| u.object_guid == user.object_guid).unwrap() = user.clone();
    }
    after.users.extend(joining.iter().cloned());
    let changes = moved
        .iter()
        .map(|u| (Some(before.users.iter().find(|b| b.object_guid == u.object_guid).unwrap().dn.as_str()), u.dn.as_str()))
        .chain(joining.iter().map(|u| (None, u.dn.as_str())));
    let changed = kept.with_users_changed(changes);
    for search in [None, Some("copen"), Some("inner"), Some("team")] {
        assert_eq!(changed.present(&after.links, search), after.structure(search), "{search:?}");
    }
    assert_ne!(tree(&changed.present(&[], None).ous), full_tree(), "the counts moved");
}
