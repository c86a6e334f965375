//! Table tests of the batched walk that pairs directory users with stored
//! users: where each batch cuts both sides, that duplicates and departures
//! are found across cuts, and that at every batch size the walk plans
//! exactly what the whole-slice `plan()` plans.

// A failed unwrap is a failed test, which is what we want here.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;

use roster_import::{AccessCatalogue, Batches, CurrentUser, Plan, PlanInput, Planner, StoredUser, UserChange, UserKey, UserState, plan};
use roster_proto::admin::AccessKind;
use roster_proto::records::{GroupRecord, UserRecord};
use roster_proto::scope::{JobScope, ResolvedScope};
use roster_proto::{AccessId, UserId};
use uuid::Uuid;

use common::{BASE, NOW, guid, link_to, named_group, user};

const USER_CPH: u128 = 1;

/// A directory and the users stored for it, as a store would hand them out.
struct World {
    users: Vec<UserRecord>,
    current: Vec<CurrentUser>,
    groups: Vec<GroupRecord>,
    scope: ResolvedScope,
    catalogue: AccessCatalogue,
}

impl World {
    /// Directory users `directory` (by GUID number; an `(n, anchor)` pair
    /// shares anchor `anchor` through the consistency GUID) and stored
    /// users `stored` (by anchor number), all linked and active.
    fn new(directory: &[(u32, u32)], stored: &[u32]) -> World {
        let users: Vec<UserRecord> = directory
            .iter()
            .map(|&(n, anchor)| {
                let mut record = user(n, "OU=Staff", 512);
                if anchor != n {
                    record.consistency_guid = Some(guid(anchor));
                }
                record
            })
            .collect();
        let current = stored
            .iter()
            .map(|&n| {
                let mut state = UserState::from_record(&user(n, "OU=Staff", 512));
                state.active = true;
                state.accesses.insert(AccessId::from(Uuid::from_u128(USER_CPH)));
                CurrentUser { id: UserId::from(Uuid::from_u128(u128::from(n) + 1000)), state }
            })
            .collect();
        let members: Vec<u32> = directory.iter().map(|&(n, _)| n).collect();
        World {
            users,
            current,
            groups: vec![named_group(500, "G", &members)],
            scope: JobScope { relative_paths: vec!["OU=Staff".into()], group_paths: vec![], user_filter: None }.resolve(BASE).unwrap(),
            catalogue: HashMap::from([(AccessId::from(Uuid::from_u128(USER_CPH)), (AccessKind::User, "Copenhagen".to_owned()))]).into(),
        }
    }

    fn planner(&self) -> Planner<'_> {
        let links = [link_to("CN=G,OU=Groups,DC=corp,DC=test", USER_CPH)];
        Planner::new(&self.groups, &self.scope, &links, &self.catalogue, NOW)
    }
}

/// What one batch read: directory users (GUID numbers) and stored users (anchor numbers).
type Cut = (Vec<u32>, Vec<u32>);

/// The walk as the server runs it, over the world in memory: the batches'
/// cuts, the changes, the summary and the duplicates skipped.
fn walk(world: &World, size: u32) -> (Vec<Cut>, Vec<UserChange>, Plan, u64) {
    let number = |text: &str| u32::from_str_radix(&text[..8], 16).unwrap();
    let mut directory: Vec<(UserKey, UserRecord)> =
        world.users.iter().map(|u| ((u.anchor().to_string(), u.object_guid.to_string()), u.clone())).collect();
    directory.sort_by(|a, b| a.0.cmp(&b.0));
    let mut stored: Vec<(String, StoredUser)> = world
        .current
        .iter()
        .map(|u| {
            let summary = StoredUser { id: u.id, anchor: u.state.anchor, active: u.state.active, fingerprint: u.state.fingerprint() };
            (u.state.anchor.to_string(), summary)
        })
        .collect();
    stored.sort_by(|a, b| a.0.cmp(&b.0));
    let whole: HashMap<UserId, CurrentUser> = world.current.iter().map(|u| (u.id, u.clone())).collect();

    let mut planner = world.planner();
    let mut batches = Batches::new(size);
    let (mut cuts, mut changes) = (Vec::new(), Vec::new());
    let mut previous: Option<Vec<(UserKey, UserRecord)>> = None;
    while !batches.is_done() {
        let batch: Vec<(UserKey, UserRecord)> =
            directory.iter().filter(|(key, _)| batches.after().is_none_or(|after| key > after)).take(size as usize).cloned().collect();
        let range = batches.stored_range(&batch);
        // A reader that reads ahead, while the batch before is paired, reads the same stored users.
        if let Some(previous) = &previous {
            assert_eq!(Batches::stored_range_after(size, previous, &batch), range, "read ahead at a batch size of {size}");
        }
        let read: Vec<StoredUser> = stored
            .iter()
            .filter(|(anchor, _)| {
                range.after.is_none_or(|after| anchor.as_str() > after) && range.upto.is_none_or(|upto| anchor.as_str() <= upto)
            })
            .map(|(_, u)| u.clone())
            .collect();
        cuts.push((
            batch.iter().map(|(_, r)| number(&r.object_guid.to_string())).collect(),
            read.iter().map(|u| number(&u.anchor.to_string())).collect(),
        ));
        let paired = batches.pair(&mut planner, &batch, &read);
        let wanted: HashMap<UserId, CurrentUser> = paired.wanted().into_iter().map(|id| (id, whole[&id].clone())).collect();
        changes.extend(paired.plan(&mut planner, &wanted));
        previous = Some(batch);
    }
    (cuts, changes, planner.finish(), batches.duplicates())
}

#[test]
fn each_batch_reads_the_stored_users_up_to_its_last_anchor() {
    // (directory users as (GUID, anchor), stored anchors, batch size) -> what each batch read.
    type Case = (&'static [(u32, u32)], &'static [u32], u32, &'static [(&'static [u32], &'static [u32])]);
    let cases: &[Case] = &[
        // A short batch is the last and takes all the rest.
        (&[(1, 1), (2, 2), (3, 3)], &[1, 2, 3, 9], 5, &[(&[1, 2, 3], &[1, 2, 3, 9])]),
        // Stored users before the first anchor and after the last.
        (&[(2, 2), (3, 3), (4, 4), (5, 5)], &[1, 3, 6], 2, &[(&[2, 3], &[1, 3]), (&[4, 5], &[]), (&[], &[6])]),
        // A batch of one at a time.
        (&[(1, 1), (3, 3)], &[2, 3], 1, &[(&[1], &[]), (&[3], &[2, 3]), (&[], &[])]),
        // An empty directory: every stored user is gone, in the one batch.
        (&[], &[1, 2], 3, &[(&[], &[1, 2])]),
        // Two records of anchor 7 cut apart: the stored user comes with the first.
        (&[(1, 1), (2, 7), (8, 7), (9, 9)], &[7, 9], 2, &[(&[1, 2], &[7]), (&[8, 9], &[9]), (&[], &[])]),
    ];
    for (directory, stored, size, expected) in cases {
        let world = World::new(directory, stored);
        let (cuts, ..) = walk(&world, *size);
        let expected: Vec<Cut> = expected.iter().map(|(d, s)| (d.to_vec(), s.to_vec())).collect();
        assert_eq!(cuts, expected, "{directory:?} / {stored:?} by {size}");
    }
}

#[test]
fn the_walk_plans_what_the_whole_plan_plans_at_every_batch_size() {
    // Unchanged, new, gone (before, between and after the directory's
    // anchors), duplicates sharing an anchor (adjacent, so a cut can fall
    // between them), and a stored user who moved.
    let directory = [(2, 2), (3, 3), (4, 11), (5, 11), (6, 6), (7, 7), (12, 12)];
    let stored = [1, 2, 3, 8, 11, 12, 13];
    let mut world = World::new(&directory, &stored);
    world.current[5].state.dn = format!("CN=u12,OU=Old,OU=Staff,{BASE}");
    let links = [link_to("CN=G,OU=Groups,DC=corp,DC=test", USER_CPH)];
    let whole = plan(PlanInput {
        users: &world.users,
        groups: &world.groups,
        scope: &world.scope,
        links: &links,
        accesses: &world.catalogue,
        current: &world.current,
        now_unix: NOW,
    });
    let sorted = |changes: &[UserChange]| {
        let mut changes = changes.to_vec();
        changes.sort_by_key(|c| c.target.anchor);
        changes
    };
    // Created 6, 7; updated 11 (a new objectGUID) and 12 (moved); deactivated 1, 8, 13.
    assert_eq!((whole.counts.created, whole.counts.updated, whole.counts.deactivated, whole.counts.unchanged), (2, 2, 3, 2));
    for size in 1..=directory.len() as u32 + 1 {
        let (cuts, changes, summary, duplicates) = walk(&world, size);
        assert_eq!(sorted(&changes), sorted(&whole.changes), "by {size}");
        assert_eq!(
            (summary.counts, summary.users_in_scope, summary.active_before),
            (whole.counts, whole.users_in_scope, whole.active_before),
            "by {size}"
        );
        assert_eq!(duplicates, 1, "u5 shares u4's anchor, by {size}");
        let mut read: Vec<u32> = cuts.iter().flat_map(|(_, s)| s.iter().copied()).collect();
        read.sort_unstable();
        assert_eq!(read, stored, "every stored user is read in exactly one batch, by {size}");
    }
}
