//! Table tests of the explainer: each case is a small directory, a scope
//! and links, and what the explanation of one user must say: its grants
//! and their chains of membership, its reasons, and that it agrees with
//! the planner about who is imported and who is active.

// A failed unwrap is a failed test, which is what we want here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeSet, HashMap};

use roster_import::{AccessCatalogue, Action, ExplainInput, Explainer, GroupRef, LinkRule, PlanInput, plan};
use roster_proto::AccessId;
use roster_proto::admin::AccessKind;
use roster_proto::insight::{Explanation, ReasonCode};
use roster_proto::records::{GroupRecord, UserRecord};
use roster_proto::scope::{JobScope, ResolvedScope};
use uuid::Uuid;

use common::{BASE, NOW, filetime, guid, link_to, named_group, user};

const USER_CPH: u128 = 1;
const ADMIN_CPH: u128 = 2;
const VIP: u128 = 3;
const USER_AAR: u128 = 4;
const DEPT_SALES: u128 = 5;
/// An access no longer in the catalogue.
const REMOVED: u128 = 77;
fn staff(n: u32) -> UserRecord {
    user(n, "OU=Staff", 512)
}

fn group(n: u32, name: &str, members: &[u32]) -> GroupRecord {
    named_group(n, name, members)
}

/// A link by the group's DN.
fn link(name: &str, access: u128) -> LinkRule {
    link_to(&format!("CN={name},OU=Groups,{BASE}"), access)
}

/// A link by the group's objectGUID.
fn link_guid(n: u32, access: u128) -> LinkRule {
    link_to(&guid(n).to_string(), access)
}

fn catalogue() -> AccessCatalogue {
    HashMap::from([
        (AccessId::from(Uuid::from_u128(USER_CPH)), (AccessKind::User, "Copenhagen".to_owned())),
        (AccessId::from(Uuid::from_u128(ADMIN_CPH)), (AccessKind::Administrator, "Copenhagen".to_owned())),
        (AccessId::from(Uuid::from_u128(VIP)), (AccessKind::Vip, "VIP".to_owned())),
        (AccessId::from(Uuid::from_u128(USER_AAR)), (AccessKind::User, "Aarhus".to_owned())),
        (AccessId::from(Uuid::from_u128(DEPT_SALES)), (AccessKind::Department, "Sales".to_owned())),
    ])
    .into()
}

fn scope() -> ResolvedScope {
    JobScope { relative_paths: vec!["OU=Staff".into()], group_paths: vec![], user_filter: Some("(employeeType=staff)".into()) }
        .resolve(BASE)
        .unwrap()
}

fn explain_all(groups: &[GroupRecord], links: &[LinkRule], users: &[UserRecord]) -> Vec<Explanation> {
    let scope = scope();
    let accesses = catalogue();
    let explainer = Explainer::new(ExplainInput { groups, scope: &scope, links, accesses: &accesses, now_unix: NOW });
    users.iter().map(|u| explainer.explain(u)).collect()
}

fn explain_one(groups: &[GroupRecord], links: &[LinkRule], user: &UserRecord) -> Explanation {
    explain_all(groups, links, std::slice::from_ref(user)).remove(0)
}

/// Every grant as (access, chain texts).
fn chains(explanation: &Explanation) -> Vec<(u128, Vec<String>)> {
    explanation.grants.iter().map(|g| (g.access_id.as_uuid().as_u128(), g.chains.iter().map(|c| c.text.clone()).collect())).collect()
}

fn codes(explanation: &Explanation) -> Vec<ReasonCode> {
    explanation.reasons.iter().map(|r| r.code).collect()
}

/// The nesting of the chain tests: u1 ∈ Sales-DK ⊂ Staff-DK ⊂ All-Staff; u2 ∈ All-Staff directly.
fn three_levels() -> Vec<GroupRecord> {
    vec![group(100, "All-Staff", &[101, 2]), group(101, "Staff-DK", &[102]), group(102, "Sales-DK", &[1])]
}

#[test]
fn chains_follow_nesting_from_the_users_own_group_up() {
    type Case = (&'static str, Vec<LinkRule>, u32, Vec<(u128, Vec<&'static str>)>);
    let cases: Vec<Case> = vec![
        (
            "three levels",
            vec![link("All-Staff", USER_CPH)],
            1,
            vec![(USER_CPH, vec!["Sales-DK → Staff-DK → All-Staff (linked: user @ Copenhagen)"])],
        ),
        (
            "directly in the linked group",
            vec![link("All-Staff", USER_CPH)],
            2,
            vec![(USER_CPH, vec!["All-Staff (linked: user @ Copenhagen)"])],
        ),
        (
            "linked by GUID, halfway up",
            vec![link_guid(101, ADMIN_CPH)],
            1,
            vec![(ADMIN_CPH, vec!["Sales-DK → Staff-DK (linked: administrator @ Copenhagen)"])],
        ),
        (
            "a DN typed differently",
            vec![LinkRule {
                group_text: "cn=sales-dk, ou=groups, dc=CORP, dc=test".into(),
                group: GroupRef::parse("cn=sales-dk, ou=groups, dc=CORP, dc=test").unwrap(),
                access_id: AccessId::from(Uuid::from_u128(VIP)),
            }],
            1,
            vec![(VIP, vec!["Sales-DK (linked: vip @ VIP)"])],
        ),
        ("linked below the user's group: nothing", vec![link("Sales-DK", USER_CPH)], 2, vec![]),
        (
            "grants sort by kind, then name",
            vec![link("Sales-DK", VIP), link("Staff-DK", DEPT_SALES), link("All-Staff", USER_CPH), link("Sales-DK", USER_AAR)],
            1,
            vec![
                (USER_AAR, vec!["Sales-DK (linked: user @ Aarhus)"]),
                (USER_CPH, vec!["Sales-DK → Staff-DK → All-Staff (linked: user @ Copenhagen)"]),
                (DEPT_SALES, vec!["Sales-DK → Staff-DK (linked: department @ Sales)"]),
                (VIP, vec!["Sales-DK (linked: vip @ VIP)"]),
            ],
        ),
    ];
    for (name, links, n, expected) in cases {
        let users = [staff(1), staff(2)];
        let explanation = explain_one(&three_levels(), &links, &users[(n - 1) as usize]);
        let expected: Vec<(u128, Vec<String>)> =
            expected.into_iter().map(|(a, texts)| (a, texts.into_iter().map(str::to_owned).collect())).collect();
        assert_eq!(chains(&explanation), expected, "{name}");
    }

    // The chain's groups are the records', in order.
    let explanation = explain_one(&three_levels(), &[link("All-Staff", USER_CPH)], &staff(1));
    let chain = &explanation.grants[0].chains[0];
    assert_eq!(chain.groups.iter().map(|g| g.object_guid).collect::<Vec<_>>(), vec![guid(102), guid(101), guid(100)]);
    assert_eq!(chain.groups[0].dn, format!("CN=Sales-DK,OU=Groups,{BASE}"));
    assert_eq!(chain.groups[2].name, "All-Staff");
    let grant = &explanation.grants[0];
    assert_eq!((grant.kind, grant.name.as_str()), (AccessKind::User, "Copenhagen"));
}

#[test]
fn cycles_and_self_membership_end_the_walk() {
    // A ⊃ B ⊃ A (a cycle), B ⊃ u1; C ⊃ C (itself), C ⊃ u1.
    let groups = vec![group(100, "A", &[101]), group(101, "B", &[100, 1]), group(102, "C", &[102, 1])];
    let cases: Vec<(LinkRule, Vec<&str>)> = vec![
        (link("A", USER_CPH), vec!["B → A (linked: user @ Copenhagen)"]),
        (link("B", USER_CPH), vec!["B (linked: user @ Copenhagen)"]),
        (link("C", USER_CPH), vec!["C (linked: user @ Copenhagen)"]),
    ];
    for (link, expected) in cases {
        let explanation = explain_one(&groups, std::slice::from_ref(&link), &staff(1));
        assert_eq!(chains(&explanation), vec![(USER_CPH, expected.iter().map(|s| s.to_string()).collect())], "{}", link.group_text);
        assert!(explanation.imported && explanation.active);
    }
}

#[test]
fn several_linked_groups_granting_one_access_give_one_chain_each() {
    // u1 ∈ Zeta, Alpha, Mid; Mid ⊂ Top; Mid ⊂ Other ⊂ Top (a longer way to Top).
    let groups = vec![
        group(100, "Zeta", &[1]),
        group(101, "Alpha", &[1]),
        group(102, "Mid", &[1]),
        group(103, "Other", &[102]),
        group(104, "Top", &[102, 103]),
    ];
    let links = vec![link("Top", USER_CPH), link("Zeta", USER_CPH), link("Alpha", USER_CPH), link("Zeta", USER_CPH), link("Other", VIP)];
    let explanation = explain_one(&groups, &links, &staff(1));
    assert_eq!(
        chains(&explanation),
        vec![
            (
                USER_CPH,
                // Shortest first, then by the linked group's name; Zeta linked twice is one chain.
                vec![
                    "Alpha (linked: user @ Copenhagen)".to_owned(),
                    "Zeta (linked: user @ Copenhagen)".to_owned(),
                    "Mid → Top (linked: user @ Copenhagen)".to_owned(),
                ]
            ),
            (VIP, vec!["Mid → Other (linked: vip @ VIP)".to_owned()]),
        ]
    );

    // Seven linked groups grant the same access: five chains, the shortest.
    let mut groups: Vec<GroupRecord> = (0..6).map(|i| group(200 + i, &format!("Direct-{i}"), &[1])).collect();
    groups.push(group(300, "Nested", &[1]));
    groups.push(group(301, "Above", &[300]));
    let links: Vec<LinkRule> = groups.iter().filter(|g| g.name != "Nested").map(|g| link(&g.name, USER_CPH)).collect();
    let explanation = explain_one(&groups, &links, &staff(1));
    let texts = &chains(&explanation)[0].1;
    assert_eq!(texts.len(), 5);
    assert_eq!(texts[0], "Direct-0 (linked: user @ Copenhagen)");
    assert_eq!(texts[4], "Direct-4 (linked: user @ Copenhagen)");
}

#[test]
fn an_access_linked_to_a_group_the_user_is_not_in_is_absent() {
    let groups = vec![group(100, "Staff", &[1]), group(101, "Admins", &[2]), group(102, "Empty", &[])];
    let links = vec![link("Staff", USER_CPH), link("Admins", ADMIN_CPH), link("Empty", VIP), link("Gone", DEPT_SALES)];
    let explanation = explain_one(&groups, &links, &staff(1));
    assert_eq!(chains(&explanation), vec![(USER_CPH, vec!["Staff (linked: user @ Copenhagen)".to_owned()])]);
}

#[test]
fn each_reason_is_given_when_it_applies() {
    let expired = |mut u: UserRecord| {
        u.account_expires = Some(filetime(-60));
        u
    };
    let filtered = |mut u: UserRecord| {
        u.outside_filter = true;
        u
    };
    let unreadable = |mut u: UserRecord| {
        u.dn = "u1 in Staff".into();
        u
    };
    use ReasonCode::*;
    // (case, user, links, in_scope, imported, active, reasons)
    type Case = (&'static str, UserRecord, Vec<LinkRule>, bool, bool, bool, Vec<ReasonCode>);
    let linked = || vec![link("Staff", USER_CPH)];
    let cases: Vec<Case> = vec![
        ("imported and active", staff(1), linked(), true, true, true, vec![]),
        ("out of scope", user(1, "OU=External", 512), linked(), false, false, false, vec![OutOfScope]),
        ("outside the filter", filtered(staff(1)), linked(), false, false, false, vec![OutsideFilter]),
        ("an unreadable DN", unreadable(staff(1)), linked(), false, false, false, vec![UnreadableDn]),
        ("no linked group", staff(1), vec![link("Other", USER_CPH)], true, false, false, vec![NoLinkedGroup]),
        ("no links at all", staff(1), vec![], true, false, false, vec![NoLinkedGroup]),
        ("vip only", staff(1), vec![link("Staff", VIP)], true, false, false, vec![NoBasicAccess]),
        ("an access gone from the catalogue", staff(1), vec![link("Staff", REMOVED)], true, false, false, vec![NoBasicAccess]),
        ("disabled", user(1, "OU=Staff", 514), linked(), true, true, false, vec![Disabled]),
        ("expired", expired(staff(1)), linked(), true, true, false, vec![Expired]),
        ("disabled and expired", expired(user(1, "OU=Staff", 514)), linked(), true, true, false, vec![Disabled, Expired]),
        ("locked out is no reason", user(1, "OU=Staff", 512 | 0x10), linked(), true, true, true, vec![]),
        (
            "out of scope and outside the filter",
            filtered(user(1, "OU=External", 512)),
            linked(),
            false,
            false,
            false,
            vec![OutOfScope, OutsideFilter],
        ),
        (
            "everything at once",
            expired(filtered(user(1, "OU=External", 514))),
            vec![],
            false,
            false,
            false,
            vec![OutOfScope, OutsideFilter, NoLinkedGroup, Disabled, Expired],
        ),
        (
            "unreadable, vip only, disabled",
            unreadable(user(1, "OU=Staff", 514)),
            vec![link("Staff", VIP)],
            false,
            false,
            false,
            vec![UnreadableDn, NoBasicAccess, Disabled],
        ),
    ];
    let groups = vec![group(100, "Staff", &[1]), group(101, "Other", &[])];
    for (name, user, links, in_scope, imported, active, reasons) in cases {
        let explanation = explain_one(&groups, &links, &user);
        assert_eq!(
            (explanation.in_scope, explanation.imported, explanation.active),
            (in_scope, imported, active),
            "{name}: {explanation:#?}"
        );
        assert_eq!(codes(&explanation), reasons, "{name}");
        assert!(explanation.reasons.iter().all(|r| !r.text.is_empty()), "{name}");
        // An out-of-scope user still shows what the links grant it.
        if links == linked() {
            assert_eq!(explanation.grants.len(), 1, "{name}");
        }
    }

    // The texts say what to look at.
    let text = |user: &UserRecord, links: &[LinkRule], code: ReasonCode| {
        explain_one(&groups, links, user).reasons.into_iter().find(|r| r.code == code).unwrap().text
    };
    assert!(text(&user(1, "OU=External", 512), &linked(), OutOfScope).contains(&format!("OU=Staff,{BASE}")));
    assert!(text(&filtered(staff(1)), &linked(), OutsideFilter).contains("(employeeType=staff)"));
    assert!(
        text(&staff(1), &[link("Staff", VIP), link("Staff", ADMIN_CPH)], NoBasicAccess).contains("administrator @ Copenhagen, vip @ VIP")
    );
    assert!(text(&staff(1), &[link("Staff", REMOVED)], NoBasicAccess).contains("catalogue"));
    assert!(text(&unreadable(staff(1)), &linked(), UnreadableDn).contains("u1 in Staff"));
}

#[test]
fn the_anchor_and_identity_come_from_the_record() {
    let mut ann = staff(1);
    ann.consistency_guid = Some(guid(77));
    let explanation = explain_one(&[group(100, "Staff", &[1])], &[link("Staff", USER_CPH)], &ann);
    assert_eq!((explanation.object_guid, explanation.anchor), (guid(1), guid(77)));
    assert_eq!((explanation.username.as_str(), explanation.dn.as_str()), ("u1", ann.dn.as_str()));
}

/// Explain shows a user as the import stores it: the fields cleaned and
/// the DN escaped by `fields::clean_record`, exactly the planner's target.
#[test]
fn the_identity_is_shown_as_the_import_would_store_it() {
    let groups = [group(100, "Staff", &[1])];
    let links = [link("Staff", USER_CPH)];
    for (sam, dn, shown_sam, shown_dn) in [
        ("u1", format!("CN=u1,OU=Staff,{BASE}"), "u1", format!("CN=u1,OU=Staff,{BASE}")),
        ("u1\u{1b}[2J", format!("CN=u1,OU=Staff,{BASE}"), "u1", format!("CN=u1,OU=Staff,{BASE}")),
        ("u\u{202E}1", format!("CN=u1\n,OU=Staff,{BASE}"), "u1", format!("CN=u1\\0A,OU=Staff,{BASE}")),
        ("u1", format!("CN=\u{1b}]0;pwned\u{7}u1,OU=Staff,{BASE}"), "u1", format!("CN=\\1B]0;pwned\\07u1,OU=Staff,{BASE}")),
        ("u1", format!("CN=u\u{200B}1,OU=Staff,{BASE}"), "u1", format!("CN=u\\E2\\80\\8B1,OU=Staff,{BASE}")),
    ] {
        let record = UserRecord { sam_account_name: sam.into(), dn: dn.clone(), ..staff(1) };
        let explanation = explain_one(&groups, &links, &record);
        assert_eq!((explanation.username.as_str(), explanation.dn.as_str()), (shown_sam, shown_dn.as_str()), "{sam:?} {dn:?}");
        assert!(explanation.imported && explanation.active, "the same DN, so still in scope: {explanation:#?}");
        let accesses = catalogue();
        let planned = plan(PlanInput {
            users: std::slice::from_ref(&record),
            groups: &groups,
            scope: &scope(),
            links: &links,
            accesses: &accesses,
            current: &[],
            now_unix: NOW,
        });
        let stored = &planned.changes[0].target;
        assert_eq!((stored.username.as_str(), stored.dn.as_str()), (shown_sam, shown_dn.as_str()), "what the import stores");
        assert_eq!(planned.notes.iter().any(|n| n.contains("in their DN")), shown_dn != dn, "{:?}", planned.notes);
        assert_eq!(planned.notes.iter().any(|n| n.contains("in their AD fields")), shown_sam != sam, "{:?}", planned.notes);
    }
}

#[test]
fn the_same_input_gives_the_same_explanation_whatever_the_group_order() {
    // Many ties: u1 is in ten groups at the same depth, all under one linked group, and twice under another.
    let in_ou = |mut g: GroupRecord, ou: u32| {
        g.dn = format!("CN={},OU=Site{ou},{BASE}", g.name);
        g
    };
    let mut groups: Vec<GroupRecord> = (0..10).map(|i| in_ou(group(200 + i, &format!("Team-{}", i % 3), &[1, 1]), i)).collect();
    groups.push(in_ou(group(300, "Top", &(200..210).collect::<Vec<_>>()), 1));
    groups.push(in_ou(group(301, "Top", &(200..210).rev().collect::<Vec<_>>()), 2));
    groups.push(group(302, "top", &[300, 301, 302]));
    let links = vec![link_guid(300, USER_CPH), link_guid(301, USER_CPH), link_guid(302, USER_CPH), link_guid(204, VIP)];
    let first = explain_one(&groups, &links, &staff(1));
    assert_eq!(first, explain_one(&groups, &links, &staff(1)));
    let mut reversed = groups.clone();
    reversed.reverse();
    assert_eq!(first, explain_one(&reversed, &links, &staff(1)));
    let mut rotated = groups.clone();
    rotated.rotate_left(5);
    assert_eq!(first, explain_one(&rotated, &links, &staff(1)));
    let texts = &chains(&first)[0].1;
    assert_eq!(texts.len(), 3);
    assert!(texts[0].starts_with("Team-0 → Top"), "{texts:?}");
    assert!(texts[2].starts_with("Team-0 → Top → top"), "{texts:?}");
}

/// A varied directory: nesting, a cycle, disabled, expired, out of scope,
/// outside the filter, VIP only, unlinked users and a user directly in a linked group.
fn varied_world() -> (Vec<UserRecord>, Vec<GroupRecord>, Vec<LinkRule>) {
    let mut users = Vec::new();
    for n in 1..=120u32 {
        let ou = match n % 5 {
            0 => "OU=External",
            1 => "OU=Copenhagen,OU=Staff",
            _ => "OU=Staff",
        };
        let mut u = user(n, ou, if n % 7 == 0 { 514 } else { 512 });
        if n % 11 == 0 {
            u.account_expires = Some(filetime(-3600));
        }
        if n % 13 == 0 {
            u.account_expires = Some(filetime(3600));
        }
        if n % 17 == 0 {
            u.outside_filter = true;
        }
        if n % 19 == 0 {
            u.consistency_guid = Some(guid(10_000 + n));
        }
        if n == 23 {
            u.dn = "not a DN".into();
        }
        users.push(u);
    }
    let members = |pred: &dyn Fn(u32) -> bool, extra: &[u32]| -> Vec<u32> {
        let mut m: Vec<u32> = (1..=120).filter(|n| pred(*n)).collect();
        m.extend_from_slice(extra);
        m
    };
    let groups = vec![
        // All-Staff ⊃ Staff-DK ⊃ Sales-DK ⊃ Staff-DK (a cycle).
        group(1000, "All-Staff", &members(&|n| n % 10 == 3, &[1001, 9999])),
        group(1001, "Staff-DK", &members(&|n| n % 10 == 4, &[1002])),
        group(1002, "Sales-DK", &members(&|n| n % 4 == 1, &[1001, 1002])),
        group(1003, "Admins", &members(&|n| n % 6 == 0, &[1002])),
        group(1004, "VIPs", &members(&|n| n % 8 == 2, &[])),
        group(1005, "Aarhus", &members(&|n| n % 9 == 5, &[1004])),
        group(1006, "Unlinked", &members(&|n| n % 10 == 6, &[])),
    ];
    let links = vec![
        link("All-Staff", USER_CPH),
        link_guid(1003, ADMIN_CPH),
        link("VIPs", VIP),
        link("Aarhus", USER_AAR),
        link("Sales-DK", DEPT_SALES),
        link("Admins", REMOVED),
        link("Not-There", USER_CPH),
    ];
    (users, groups, links)
}

#[test]
fn explanations_agree_with_the_planner() {
    let (users, groups, links) = varied_world();
    let scope = scope();
    let accesses = catalogue();
    let planned =
        plan(PlanInput { users: &users, groups: &groups, scope: &scope, links: &links, accesses: &accesses, current: &[], now_unix: NOW });
    let explainer = Explainer::new(ExplainInput { groups: &groups, scope: &scope, links: &links, accesses: &accesses, now_unix: NOW });

    let mut seen_codes = BTreeSet::new();
    let (mut imported, mut active) = (0, 0);
    for user in &users {
        let explanation = explainer.explain(user);
        let created = planned.changes.iter().find(|c| c.target.object_guid == user.object_guid);
        assert_eq!(created.is_some(), explanation.imported, "u{}: {explanation:#?}", user.sam_account_name);
        if let Some(change) = created {
            assert_eq!(change.action, Action::Create);
            assert_eq!(change.target.active, explanation.active, "{}", user.sam_account_name);
            let granted: BTreeSet<AccessId> = explanation.grants.iter().map(|g| g.access_id).collect();
            assert_eq!(change.target.accesses, granted, "{}", user.sam_account_name);
            imported += 1;
            active += u64::from(explanation.active);
        } else {
            assert!(!explanation.active);
        }
        assert_eq!(explanation.reasons.is_empty(), explanation.imported && explanation.active, "{}", user.sam_account_name);
        assert!(explanation.grants.iter().all(|g| !g.chains.is_empty() && g.chains.len() <= 5));
        seen_codes.extend(codes(&explanation));
    }
    assert_eq!(planned.counts.created, imported);
    assert!(imported > 10 && active > 5 && active < imported, "a varied world: {imported} imported, {active} active");
    // Every reason the planner's rules give; `gone_from_directory` is the
    // server's, for a stored user without a record.
    let expected = ReasonCode::ALL.into_iter().filter(|c| *c != ReasonCode::GoneFromDirectory).collect();
    assert_eq!(seen_codes, expected, "the world exercises every reason");
}

#[test]
fn many_users_and_groups_are_explained_quickly() {
    // 100,000 users in 10,000 groups (ten users each, every user in one), nested
    // 100 to a department group, every department in All-Staff, linked.
    let users: Vec<UserRecord> = (0..100_000u32).map(|n| staff(n + 1)).collect();
    let mut groups: Vec<GroupRecord> =
        (0..10_000u32).map(|g| group(1_000_000 + g, &format!("Team-{g}"), &(g * 10 + 1..=g * 10 + 10).collect::<Vec<_>>())).collect();
    for d in 0..100u32 {
        groups.push(group(2_000_000 + d, &format!("Dept-{d}"), &(1_000_000 + d * 100..1_000_000 + d * 100 + 100).collect::<Vec<_>>()));
    }
    groups.push(group(3_000_000, "All-Staff", &(2_000_000..2_000_100).collect::<Vec<_>>()));
    let links = vec![link("All-Staff", USER_CPH), link("Dept-7", VIP)];
    let explanations = explain_all(&groups, &links, &users);
    assert!(explanations.iter().all(|e| e.imported && e.active && e.grants[0].chains[0].groups.len() == 3));
    assert_eq!(explanations.iter().filter(|e| e.grants.len() == 2).count(), 1_000);
    assert_eq!(chains(&explanations[7_000])[1].1, vec!["Team-700 → Dept-7 (linked: vip @ VIP)".to_owned()]);
}

/// `groups` with each group's members cut to `users` and the groups above
/// them: what a store reads to explain those users without reading every
/// membership (walking up from the users by member, as the server does).
fn groups_above(groups: &[GroupRecord], users: &[UserRecord]) -> Vec<GroupRecord> {
    let mut above: std::collections::HashSet<roster_proto::ObjectGuid> = users.iter().map(|u| u.object_guid).collect();
    loop {
        let before = above.len();
        for group in groups {
            if group.members.iter().any(|m| above.contains(m)) {
                above.insert(group.object_guid);
            }
        }
        if above.len() == before {
            break;
        }
    }
    groups.iter().map(|g| GroupRecord { members: g.members.iter().copied().filter(|m| above.contains(m)).collect(), ..g.clone() }).collect()
}

/// What the explainer's module promises a store: an explanation needs every
/// group's identity but only the memberships above the user. In the varied
/// world (nesting, a cycle, links by name and GUID, unresolved links) each
/// user explained with only the groups above it says exactly what it says
/// with all of them; and with a membership above it taken away, it does not.
#[test]
fn explaining_needs_only_the_groups_above_the_user() {
    let (users, groups, links) = varied_world();
    let full = explain_all(&groups, &links, &users);
    let mut narrower = 0;
    for (user, expected) in users.iter().zip(&full) {
        let above = groups_above(&groups, std::slice::from_ref(user));
        assert_eq!(&explain_one(&above, &links, user), expected, "{}", user.sam_account_name);
        narrower += usize::from(above.iter().map(|g| g.members.len()).sum::<usize>() < 20);
    }
    assert_eq!(narrower, users.len(), "each user's groups above it are a few memberships, not the world's");
    // Several users at once, as a look-up by anchor may find two.
    let pair = [users[2].clone(), users[13].clone()];
    let above = groups_above(&groups, &pair);
    assert_eq!(explain_all(&above, &links, &pair), vec![full[2].clone(), full[13].clone()]);

    // The cut is not too deep: without u3's own membership of All-Staff it loses its grant.
    let u3 = &users[2];
    let mut cut = groups_above(&groups, std::slice::from_ref(u3));
    cut.iter_mut().for_each(|g| g.members.retain(|m| *m != u3.object_guid));
    assert_ne!(explain_one(&cut, &links, u3), full[2]);
}

/// An account name, a DN and a GUID each find exactly the users whose
/// lookup key is theirs: a store finds by key, then checks by `matches`.
#[test]
fn account_names_are_found_by_their_lookup_key() {
    use roster_import::{AccountName, LookupKey, LookupKeys};
    let mut escaped = staff(5);
    escaped.dn = format!("CN=Berg\\, Ann,OU=Staff,{BASE}");
    let mut invisible = staff(6);
    invisible.sam_account_name = "U\u{202E}6".into();
    let mut anchored = staff(7);
    anchored.consistency_guid = Some(guid(907));
    let unreadable = UserRecord { dn: "not a DN".into(), ..staff(8) };
    let long_cn = "Å".repeat(200);
    let long = UserRecord { dn: format!("CN={long_cn},OU=Staff,{BASE}"), ..staff(9) };
    let users = [staff(1), staff(2), escaped, invisible, anchored, unreadable, long];

    let cases: [(String, Option<u32>); 14] = [
        ("u1".into(), Some(1)),
        ("U1".into(), Some(1)),
        (" u1".into(), None),
        ("u6".into(), Some(6)),
        (format!("cn=U2, ou=staff,{}", BASE.to_lowercase()), Some(2)),
        (format!("CN=Berg\\, Ann,OU=Staff,{BASE}"), Some(5)),
        (format!("CN=Berg\\2C Ann,OU=Staff,{BASE}"), Some(5)),
        (format!("CN=Berg,OU=Staff,{BASE}"), None),
        (guid(7).to_string(), Some(7)),
        (guid(907).to_string(), Some(7)),
        ("not a DN".into(), None),
        ("u10".into(), None),
        (format!("cn={long_cn},ou=Staff,{BASE}"), Some(9)),
        (format!("cn={long_cn}x,ou=Staff,{BASE}"), None),
    ];
    for (text, expected) in cases {
        let name = AccountName::parse(&text);
        let number = |u: &UserRecord| u32::from_str_radix(&u.object_guid.to_string()[..8], 16).unwrap();
        let found: Vec<u32> = users.iter().filter(|u| name.matches(u)).map(number).collect();
        assert_eq!(found, expected.into_iter().collect::<Vec<_>>(), "{text:?}");
        for user in &users {
            let keys = LookupKeys::of(user);
            let keyed = match name.key() {
                Some(LookupKey::Account(key)) => keys.account == key,
                Some(LookupKey::Dn(key)) => keys.dn.as_deref() == Some(key.as_str()),
                None => true,
            };
            assert!(keyed || !name.matches(user), "{text:?} matches {} but not by its key", user.sam_account_name);
        }
    }
    assert!(matches!(AccountName::parse(&guid(1).to_string()), AccountName::Guid(_)));
    assert!(matches!(AccountName::parse("OU=Staff"), AccountName::Account(_)), "one RDN is a name");
    assert_eq!(LookupKeys::of(&users[5]).dn, None);
    let long_key = LookupKeys::of(&users[6]).dn.unwrap();
    assert!(long_key.len() <= roster_import::explain::MAX_LOOKUP_KEY_BYTES, "a long DN's key is bounded: {}", long_key.len());
}
