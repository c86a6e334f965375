//! Table tests of the import planner: each case is a small directory, a
//! scope, links and the service's current users, and the outcome expected
//! for every user.

// A failed unwrap is a failed test, which is what we want here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeSet, HashMap};

use roster_import::{AccessCatalogue, Action, CurrentUser, GroupRef, LinkRule, Plan, PlanInput, Planner, StoredUser, UserState, plan};
use roster_proto::admin::{AccessChange, AccessKind, ChangeDetail, DeactivationReason, SessionCounts};
use roster_proto::records::{GroupRecord, UserRecord};
use roster_proto::scope::JobScope;
use roster_proto::{AccessId, UserId};
use uuid::Uuid;

use common::{BASE, NOW, filetime, guid, link_to, named_group, user};

const USER_CPH: u128 = 1;
const ADMIN_CPH: u128 = 2;
const VIP: u128 = 3;
const USER_AAR: u128 = 4;
fn group(n: u32, members: &[u32]) -> GroupRecord {
    named_group(n, &format!("G{n}"), members)
}

fn link(group_n: u32, access: u128) -> LinkRule {
    link_to(&format!("CN=G{group_n},OU=Groups,{BASE}"), access)
}

fn catalogue() -> AccessCatalogue {
    HashMap::from([
        (AccessId::from(Uuid::from_u128(USER_CPH)), (AccessKind::User, "Copenhagen".to_owned())),
        (AccessId::from(Uuid::from_u128(ADMIN_CPH)), (AccessKind::Administrator, "Copenhagen".to_owned())),
        (AccessId::from(Uuid::from_u128(VIP)), (AccessKind::Vip, "VIP".to_owned())),
        (AccessId::from(Uuid::from_u128(USER_AAR)), (AccessKind::User, "Aarhus".to_owned())),
    ])
    .into()
}

fn field(name: &str, old: Option<&str>, new: Option<&str>) -> ChangeDetail {
    ChangeDetail::Field { field: name.to_owned(), old: old.map(str::to_owned), new: new.map(str::to_owned) }
}

fn access(id: u128, kind: AccessKind, name: &str) -> AccessChange {
    AccessChange { id: AccessId::from(Uuid::from_u128(id)), kind: Some(kind), name: Some(name.to_owned()) }
}

fn gained(id: u128, kind: AccessKind, name: &str) -> ChangeDetail {
    ChangeDetail::AccessGained(access(id, kind, name))
}

fn lost(id: u128, kind: AccessKind, name: &str) -> ChangeDetail {
    ChangeDetail::AccessLost(access(id, kind, name))
}

fn stored(record: &UserRecord, active: bool, accesses: &[u128]) -> CurrentUser {
    CurrentUser {
        id: UserId::from(Uuid::from_u128(u128::from(u32::from_str_radix(&record.object_guid.to_string()[..8], 16).unwrap()) + 1000)),
        state: UserState {
            anchor: record.anchor(),
            object_guid: record.object_guid,
            username: record.sam_account_name.clone(),
            user_principal_name: record.user_principal_name.clone(),
            email: record.mail.clone(),
            display_name: record.display_name.clone(),
            given_name: None,
            surname: None,
            telephone_number: None,
            department: None,
            title: None,
            dn: record.dn.clone(),
            active,
            accesses: accesses.iter().map(|a| AccessId::from(Uuid::from_u128(*a))).collect(),
        },
    }
}

struct World {
    users: Vec<UserRecord>,
    groups: Vec<GroupRecord>,
    paths: Vec<&'static str>,
    links: Vec<LinkRule>,
    current: Vec<CurrentUser>,
}

fn run(world: &World) -> Plan {
    let scope = JobScope { relative_paths: world.paths.iter().map(|s| s.to_string()).collect(), group_paths: vec![], user_filter: None }
        .resolve(BASE)
        .unwrap();
    let accesses = catalogue();
    plan(PlanInput {
        users: &world.users,
        groups: &world.groups,
        scope: &scope,
        links: &world.links,
        accesses: &accesses,
        current: &world.current,
        now_unix: NOW,
    })
}

/// Expected outcome for one user: action (None = no change) and, for the
/// user after the import, active flag and accesses.
type Expect = (u32, Option<Action>, bool, &'static [u128]);

fn check(world: World, counts: SessionCounts, expected: &[Expect]) -> Plan {
    let plan = run(&world);
    let base = |c: SessionCounts| (c.created, c.updated, c.deactivated, c.unchanged, c.not_linked);
    assert_eq!(base(plan.counts), base(counts), "counts; notes: {:?}", plan.notes);
    for (n, action, active, accesses) in expected {
        let change = plan.changes.iter().find(|c| c.target.object_guid == guid(*n));
        assert_eq!(change.map(|c| c.action), *action, "action for u{n}: {change:?}");
        if let Some(change) = change {
            assert_eq!(change.target.active, *active, "active for u{n}");
            let want: BTreeSet<AccessId> = accesses.iter().map(|a| AccessId::from(Uuid::from_u128(*a))).collect();
            assert_eq!(change.target.accesses, want, "accesses for u{n}");
        }
    }
    // Every change is for a user we expected something of, and is counted.
    assert_eq!(plan.changes.len() as u64, plan.counts.created + plan.counts.updated + plan.counts.deactivated + plan.counts.reactivated);
    plan
}

fn counts(created: u64, updated: u64, deactivated: u64, unchanged: u64, not_linked: u64) -> SessionCounts {
    SessionCounts { created, updated, deactivated, unchanged, not_linked, ..SessionCounts::default() }
}

#[test]
fn first_import_through_nested_groups_with_a_cycle() {
    // G100 (linked: user) ⊃ G101 ⊃ G102 ⊃ u3; G102 ⊃ G101 (cycle).
    // G200 (linked: admin) ⊃ u1; G300 (linked: vip) ⊃ u2, u5 (no basic access).
    let world = World {
        users: vec![
            user(1, "OU=Staff", 512),
            user(2, "OU=Staff", 512),
            user(3, "OU=Staff", 512),
            user(4, "OU=Staff", 514),
            user(5, "OU=Staff", 512),
            user(6, "OU=External", 512),
        ],
        groups: vec![group(100, &[101, 1, 6]), group(101, &[102, 2, 4]), group(102, &[101, 3]), group(200, &[1]), group(300, &[2, 5])],
        paths: vec!["OU=Staff"],
        links: vec![link(100, USER_CPH), link(200, ADMIN_CPH), link(300, VIP)],
        current: vec![],
    };
    let plan = check(
        world,
        counts(4, 0, 0, 0, 1),
        &[
            (1, Some(Action::Create), true, &[USER_CPH, ADMIN_CPH]),
            (2, Some(Action::Create), true, &[USER_CPH, VIP]),
            (3, Some(Action::Create), true, &[USER_CPH]),
            (4, Some(Action::Create), false, &[USER_CPH]), // disabled: imported, inactive
            (5, None, false, &[]),                         // vip only: not linked
            (6, None, false, &[]),                         // out of scope, whatever its groups
        ],
    );
    assert!(plan.notes.is_empty(), "{:?}", plan.notes);
    assert_eq!(plan.resolved_links, vec![Some(guid(100)), Some(guid(200)), Some(guid(300))]);
}

#[test]
fn no_links_imports_nobody_and_says_why() {
    let world =
        World { users: vec![user(1, "OU=Staff", 512)], groups: vec![group(100, &[1])], paths: vec!["*"], links: vec![], current: vec![] };
    let plan = check(world, counts(0, 0, 0, 0, 1), &[(1, None, false, &[])]);
    assert!(plan.notes.iter().any(|n| n.contains("no links")), "{:?}", plan.notes);
}

#[test]
fn links_without_a_basic_access_or_to_missing_groups_are_explained() {
    let world = World {
        users: vec![user(1, "OU=Staff", 512)],
        groups: vec![group(100, &[1])],
        paths: vec!["*"],
        links: vec![link(100, VIP), link(999, USER_CPH)],
        current: vec![],
    };
    let plan = check(world, counts(0, 0, 0, 0, 1), &[(1, None, false, &[])]);
    assert!(plan.notes.iter().any(|n| n.contains("CN=G999") && n.contains("not in the snapshot")), "{:?}", plan.notes);
    assert_eq!(plan.resolved_links, vec![Some(guid(100)), None]);
}

#[test]
fn reimport_without_changes_changes_nothing() {
    let u1 = user(1, "OU=Staff", 512);
    let world = World {
        current: vec![stored(&u1, true, &[USER_CPH])],
        users: vec![u1],
        groups: vec![group(100, &[1])],
        paths: vec!["*"],
        links: vec![link(100, USER_CPH)],
    };
    let plan = check(world, counts(0, 0, 0, 1, 0), &[(1, None, true, &[])]);
    assert!(plan.changes.is_empty());
}

#[test]
fn departures_deactivate_and_never_delete() {
    let staying = user(1, "OU=Staff", 512);
    let disabled_now = user(2, "OU=Staff", 514);
    let lost_group = user(3, "OU=Staff", 512);
    let moved_out = user(4, "OU=External", 512);
    let vanished = user(5, "OU=Staff", 512);
    let already_inactive = user(6, "OU=Staff", 512);
    let world = World {
        current: vec![
            stored(&staying, true, &[USER_CPH]),
            stored(&disabled_now, true, &[USER_CPH]),
            stored(&lost_group, true, &[USER_CPH, VIP]),
            stored(&user(4, "OU=Staff", 512), true, &[USER_CPH]),
            stored(&vanished, true, &[USER_CPH]),
            stored(&already_inactive, false, &[]),
        ],
        users: vec![staying, disabled_now, lost_group, moved_out, already_inactive],
        groups: vec![group(100, &[1, 2, 4]), group(300, &[3])],
        paths: vec!["OU=Staff"],
        links: vec![link(100, USER_CPH), link(300, VIP)],
    };
    let plan = check(
        world,
        counts(0, 0, 4, 2, 2),
        &[
            (1, None, true, &[]),
            (2, Some(Action::Deactivate), false, &[USER_CPH]),
            (3, Some(Action::Deactivate), false, &[]),
            (4, Some(Action::Deactivate), false, &[]),
            (5, Some(Action::Deactivate), false, &[]),
            (6, None, false, &[]),
        ],
    );
    let reasons: Vec<DeactivationReason> = plan
        .changes
        .iter()
        .flat_map(|c| &c.details)
        .filter_map(|d| match d {
            ChangeDetail::Deactivated { reason } => Some(*reason),
            _ => None,
        })
        .collect();
    for expected in [
        DeactivationReason::DisabledInDirectory,
        DeactivationReason::NoBasicAccess,
        DeactivationReason::LeftScope,
        DeactivationReason::GoneFromDirectory,
    ] {
        assert!(reasons.contains(&expected), "{expected:?} missing in {reasons:?}");
    }
    assert!(plan.changes.iter().all(|c| c.existing_id.is_some()));
    // The disabled user keeps its (inactive) access; the other three lose their basic one.
    assert_eq!((plan.counts.lost_basic, plan.counts.reactivated), (3, 0));
    assert_eq!((plan.active_before, plan.users_in_scope), (5, 4), "u4 moved out of scope");
}

#[test]
fn renames_moves_and_returns_keep_the_same_user() {
    let before = user(1, "OU=Staff", 512);
    let mut renamed = user(1, "OU=Copenhagen,OU=Staff", 512);
    renamed.sam_account_name = "u1-new".into();
    renamed.mail = Some("new@example.test".into());
    let returning = user(2, "OU=Staff", 512);
    let world = World {
        current: vec![stored(&before, true, &[USER_CPH]), stored(&returning, false, &[])],
        users: vec![renamed, returning],
        groups: vec![group(100, &[1, 2]), group(200, &[1])],
        paths: vec!["OU=Staff"],
        links: vec![link(100, USER_CPH), link(200, ADMIN_CPH)],
    };
    let plan = check(
        world,
        counts(0, 1, 0, 0, 0),
        &[(1, Some(Action::Update), true, &[USER_CPH, ADMIN_CPH]), (2, Some(Action::Reactivate), true, &[USER_CPH])],
    );
    assert_eq!((plan.counts.reactivated, plan.counts.lost_basic), (1, 0));
    let details = &plan.changes.iter().find(|c| c.target.object_guid == guid(1)).unwrap().details;
    assert!(details.contains(&field("username", Some("u1"), Some("u1-new"))), "username missing in {details:?}");
    assert!(details.contains(&field("email", Some("u1@example.test"), Some("new@example.test"))), "email missing in {details:?}");
    assert!(details.contains(&gained(ADMIN_CPH, AccessKind::Administrator, "Copenhagen")), "access missing in {details:?}");
    assert!(
        details
            .iter()
            .any(|d| matches!(d, ChangeDetail::Field { field, old: Some(old), .. } if field == "dn" && old.starts_with("CN=u1,OU=Staff"))),
        "dn missing in {details:?}"
    );
    let returned = &plan.changes.iter().find(|c| c.target.object_guid == guid(2)).unwrap();
    assert_eq!(returned.existing_id, Some(stored(&user(2, "OU=Staff", 512), false, &[]).id));
    assert!(returned.details.contains(&ChangeDetail::Reactivated));
}

#[test]
fn a_user_listed_twice_is_planned_once() {
    let world = World {
        users: vec![user(1, "OU=Staff", 512), user(1, "OU=Staff", 512)],
        groups: vec![group(100, &[1])],
        paths: vec!["*"],
        links: vec![link(100, USER_CPH)],
        current: vec![],
    };
    check(world, counts(1, 0, 0, 0, 0), &[(1, Some(Action::Create), true, &[USER_CPH])]);
}

#[test]
fn a_link_to_an_access_removed_from_the_catalogue_grants_nothing() {
    let world = World {
        users: vec![user(1, "OU=Staff", 512)],
        groups: vec![group(100, &[1])],
        paths: vec!["*"],
        links: vec![link(100, USER_CPH), link(100, 77)],
        current: vec![],
    };
    let plan = check(world, counts(1, 0, 0, 0, 0), &[(1, Some(Action::Create), true, &[USER_CPH])]);
    assert!(plan.notes.iter().any(|n| n.contains("not in the catalogue")));
}

#[test]
fn the_same_input_gives_the_same_plan() {
    let world = World {
        users: (1..50).map(|n| user(n, "OU=Staff", if n % 7 == 0 { 514 } else { 512 })).collect(),
        groups: vec![group(100, &(1..50).collect::<Vec<_>>()), group(101, &[100, 3, 4])],
        paths: vec!["OU=Staff"],
        links: vec![link(100, USER_CPH), link(101, VIP)],
        current: vec![],
    };
    assert_eq!(run(&world), run(&world));
}

#[test]
fn expired_accounts_are_inactive_and_locked_out_ones_are_not() {
    let mut expired = user(1, "OU=Staff", 512);
    expired.account_expires = Some(filetime(-60));
    let mut expiring_later = user(2, "OU=Staff", 512);
    expiring_later.account_expires = Some(filetime(3600));
    let mut never = user(3, "OU=Staff", 512);
    never.account_expires = Some(i64::MAX);
    // 0x10 is LOCKOUT: a locked-out account stays active.
    let locked_out = user(4, "OU=Staff", 512 | 0x10);
    let was_active = user(5, "OU=Staff", 512);
    let mut now_expired = was_active.clone();
    now_expired.account_expires = Some(filetime(0));
    let world = World {
        current: vec![stored(&was_active, true, &[USER_CPH])],
        users: vec![expired, expiring_later, never, locked_out, now_expired],
        groups: vec![group(100, &[1, 2, 3, 4, 5])],
        paths: vec!["*"],
        links: vec![link(100, USER_CPH)],
    };
    let plan = check(
        world,
        counts(4, 0, 1, 0, 0),
        &[
            (1, Some(Action::Create), false, &[USER_CPH]),
            (2, Some(Action::Create), true, &[USER_CPH]),
            (3, Some(Action::Create), true, &[USER_CPH]),
            (4, Some(Action::Create), true, &[USER_CPH]),
            (5, Some(Action::Deactivate), false, &[USER_CPH]),
        ],
    );
    let details = &plan.changes.iter().find(|c| c.target.object_guid == guid(5)).unwrap().details;
    assert!(details.contains(&ChangeDetail::Deactivated { reason: DeactivationReason::AccountExpired }), "{details:?}");
}

#[test]
fn the_consistency_guid_anchors_a_recreated_account_to_the_same_user() {
    let mut before = user(1, "OU=Staff", 512);
    before.consistency_guid = Some(guid(77));
    // Deleted and re-created in AD: a new objectGUID, the same consistency GUID.
    let mut recreated = user(2, "OU=Staff", 512);
    recreated.consistency_guid = Some(guid(77));
    recreated.sam_account_name = "u1".into();
    recreated.mail = before.mail.clone();
    recreated.display_name = before.display_name.clone();
    recreated.dn = before.dn.clone();
    let stored_before = stored(&before, true, &[USER_CPH]);
    let world = World {
        current: vec![stored_before.clone()],
        users: vec![recreated],
        groups: vec![group(100, &[2])],
        paths: vec!["*"],
        links: vec![link(100, USER_CPH)],
    };
    let plan = check(world, counts(0, 1, 0, 0, 0), &[(2, Some(Action::Update), true, &[USER_CPH])]);
    let change = &plan.changes[0];
    assert_eq!(change.existing_id, Some(stored_before.id));
    assert_eq!(change.target.anchor, guid(77));
    assert!(
        change.details.iter().any(|d| matches!(d, ChangeDetail::Field { field, .. } if field == "object_guid")),
        "{:?}",
        change.details
    );
}

#[test]
fn a_user_that_no_longer_matches_the_job_filter_leaves_scope() {
    let staying = user(1, "OU=Staff", 512);
    let mut filtered = user(2, "OU=Staff", 512);
    filtered.outside_filter = true;
    let world = World {
        current: vec![stored(&staying, true, &[USER_CPH]), stored(&user(2, "OU=Staff", 512), true, &[USER_CPH])],
        users: vec![staying, filtered],
        groups: vec![group(100, &[1, 2])],
        paths: vec!["*"],
        links: vec![link(100, USER_CPH)],
    };
    let plan = check(world, counts(0, 0, 1, 1, 0), &[(2, Some(Action::Deactivate), false, &[])]);
    assert!(
        plan.changes[0].details.contains(&ChangeDetail::Deactivated { reason: DeactivationReason::LeftScope }),
        "{:?}",
        plan.changes[0].details
    );
}

#[test]
fn losing_one_of_two_basic_accesses_counts_for_the_safeguard() {
    let both = user(1, "OU=Staff", 512);
    let admin_only_loss = user(2, "OU=Staff", 512);
    let world = World {
        current: vec![stored(&both, true, &[USER_CPH, USER_AAR]), stored(&admin_only_loss, true, &[USER_CPH, ADMIN_CPH])],
        users: vec![both, admin_only_loss],
        groups: vec![group(100, &[1, 2])],
        paths: vec!["OU=Staff"],
        links: vec![link(100, USER_CPH)],
    };
    let plan =
        check(world, counts(0, 2, 0, 0, 0), &[(1, Some(Action::Update), true, &[USER_CPH]), (2, Some(Action::Update), true, &[USER_CPH])]);
    assert_eq!(plan.counts.lost_basic, 1, "losing Aarhus is a lost basic access; losing an administrator right is not");
    let details = &plan.changes.iter().find(|c| c.target.object_guid == guid(1)).unwrap().details;
    assert!(details.contains(&lost(USER_AAR, AccessKind::User, "Aarhus")), "{details:?}");
}

#[test]
fn a_link_by_guid_follows_its_group_through_a_rename() {
    let member = user(1, "OU=Staff", 512);
    let mut renamed = group(100, &[1]);
    renamed.dn = "CN=Renamed,OU=Groups,DC=corp,DC=test".into();
    renamed.name = "Renamed".into();
    let by_guid = LinkRule {
        group_text: "CN=G100,OU=Groups,DC=corp,DC=test".into(),
        group: GroupRef::Guid(guid(100)),
        access_id: AccessId::from(Uuid::from_u128(USER_CPH)),
    };
    let world = World { current: vec![], users: vec![member], groups: vec![renamed], paths: vec!["OU=Staff"], links: vec![by_guid] };
    let plan = check(world, counts(1, 0, 0, 0, 0), &[(1, Some(Action::Create), true, &[USER_CPH])]);
    assert_eq!(plan.resolved_links, vec![Some(guid(100))]);
}

/// A re-import first compares fingerprints ([`Planner::is_unchanged`]) and
/// reads a stored user whole only when they differ; both ways give the same
/// changes and the same counts.
#[test]
fn the_fingerprint_path_agrees_with_the_full_comparison() {
    let same = user(1, "OU=Staff", 512);
    let mut renamed = user(2, "OU=Staff", 512);
    renamed.sam_account_name = "u2-new".into();
    let regrouped = user(3, "OU=Staff", 512);
    let disabled_now = user(4, "OU=Staff", 514);
    let still_disabled = user(5, "OU=Staff", 514);
    let unlinked = user(6, "OU=Staff", 512);
    let moved_out = user(7, "OU=External", 512);
    let mut retitled = user(8, "OU=Staff", 512);
    retitled.title = Some("Manager".into());
    let current = [
        stored(&same, true, &[USER_CPH]),
        stored(&user(2, "OU=Staff", 512), true, &[USER_CPH]),
        stored(&regrouped, true, &[USER_CPH]),
        stored(&disabled_now, true, &[USER_CPH]),
        stored(&still_disabled, false, &[USER_CPH]),
        stored(&unlinked, false, &[]),
        stored(&user(7, "OU=Staff", 512), true, &[USER_CPH]),
        stored(&user(8, "OU=Staff", 512), true, &[USER_CPH]),
    ];
    let users = vec![same, renamed, regrouped, disabled_now, still_disabled, unlinked, moved_out, retitled, user(9, "OU=Staff", 512)];
    let groups = vec![group(100, &[1, 2, 3, 4, 5, 7, 8, 9]), group(200, &[3])];
    let links = vec![link(100, USER_CPH), link(200, ADMIN_CPH)];
    let scope = JobScope { relative_paths: vec!["OU=Staff".into()], group_paths: vec![], user_filter: None }.resolve(BASE).unwrap();
    let accesses = catalogue();

    let mut slow = Planner::new(&groups, &scope, &links, &accesses, NOW);
    let mut fast = Planner::new(&groups, &scope, &links, &accesses, NOW);
    let mut fast_paths = 0;
    for record in &users {
        let existing = current.iter().find(|u| u.state.anchor == record.anchor());
        let expected = slow.user(record, existing);
        let actual = match existing {
            Some(existing) => {
                let summary = StoredUser {
                    id: existing.id,
                    anchor: existing.state.anchor,
                    active: existing.state.active,
                    fingerprint: existing.state.fingerprint(),
                };
                if fast.is_unchanged(record, &summary) {
                    fast_paths += 1;
                    None
                } else {
                    fast.user(record, Some(existing))
                }
            }
            None => fast.user(record, None),
        };
        assert_eq!(actual, expected, "{}", record.sam_account_name);
    }
    assert_eq!(fast.finish(), slow.finish());
    // u1 and u5 (disabled before and after, same access) take the fast path.
    assert_eq!(fast_paths, 2);
}

#[test]
fn fingerprints_tell_every_field_apart() {
    let base = stored(&user(1, "OU=Staff", 512), true, &[USER_CPH]).state;
    let print = base.fingerprint();
    assert_eq!(print.len(), 64);
    assert_eq!(print, base.clone().fingerprint(), "stable");
    let variants: Vec<UserState> = vec![
        UserState { anchor: guid(9), ..base.clone() },
        UserState { object_guid: guid(9), ..base.clone() },
        UserState { username: "u1x".into(), ..base.clone() },
        UserState { user_principal_name: Some(String::new()), ..base.clone() },
        UserState { email: None, ..base.clone() },
        UserState { display_name: Some("User 1 ".into()), ..base.clone() },
        UserState { given_name: Some("A".into()), ..base.clone() },
        UserState { surname: Some("A".into()), ..base.clone() },
        UserState { telephone_number: Some("1".into()), ..base.clone() },
        UserState { department: Some("D".into()), ..base.clone() },
        UserState { title: Some("T".into()), ..base.clone() },
        UserState { dn: format!("CN=u1,OU=Other,{BASE}"), ..base.clone() },
        UserState { active: false, ..base.clone() },
        UserState { accesses: BTreeSet::new(), ..base.clone() },
        // Moving text between neighbouring fields is a different state.
        UserState { given_name: Some("ab".into()), surname: Some("c".into()), ..base.clone() },
        UserState { given_name: Some("a".into()), surname: Some("bc".into()), ..base.clone() },
    ];
    let mut seen = std::collections::HashSet::from([print]);
    for variant in &variants {
        assert!(seen.insert(variant.fingerprint()), "{variant:?}");
    }
}

#[test]
fn a_fingerprint_keeps_its_value_across_versions() {
    // Stored rows carry their fingerprint: a release that computed another
    // value for the same state would read every user whole once.
    let state = UserState {
        anchor: guid(77),
        object_guid: guid(1),
        username: "u1".into(),
        user_principal_name: Some("u1@corp.test".into()),
        email: Some("u1@example.test".into()),
        display_name: Some("User 1".into()),
        given_name: Some("Ulla".into()),
        surname: None,
        telephone_number: Some("+45 1234".into()),
        department: Some("Sales".into()),
        title: Some(String::new()),
        dn: format!("CN=u1,OU=Staff,{BASE}"),
        active: true,
        accesses: [USER_CPH, VIP].iter().map(|a| AccessId::from(Uuid::from_u128(*a))).collect(),
    };
    assert_eq!(state.fingerprint(), "1205ea19e9cfbe606e2d14bda5dd2d1b01e258f3c782c9c74af964770ed84fcc");
}
