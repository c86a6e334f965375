//! The import engine through the admin API, on SQLite and PostgreSQL: dry
//! runs, the safeguard (held, approved, re-planned, rejected), re-activation
//! within the grace period and purge after it, session retention, user
//! history, the links preview, links that follow renamed groups, and the
//! structure and explain answers.

// A failed unwrap is a failed test, which is what we want here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use roster_proto::admin::{
    AccessKind, Budget, ChangeAction, ChangeDetail, DeactivationReason, HistoryEntry, Link, LinkInput, LinksSaved, Page, PlanPreview,
    SafeguardPolicy, Session, SessionChange, SessionStatus, SessionTrigger, TenantSettings, User,
};
use roster_proto::insight::{Explanation, ReasonCode, Structure};
use roster_proto::manifest::SnapshotKind;
use roster_proto::problem::ProblemKind;
use roster_proto::records::{OuRecord, Record};
use roster_proto::{JobId, SessionId, SnapshotId, TenantId};
use roster_server::settings::Limits;
use support::world::*;
use support::{Engine, session_succeeded, urlencode};
use uuid::Uuid;

const DAY_MS: i64 = roster_server::store::UnixMillis::DAY_MS;

/// Users `ids` in OU=Staff, all in the Sales group (GUID 200).
fn staff(ids: impl IntoIterator<Item = u32>) -> Vec<Record> {
    let ids: Vec<u32> = ids.into_iter().collect();
    let mut records: Vec<Record> = ids.iter().map(|n| user(*n, "OU=Staff", 512)).collect();
    // Large groups continue in `group_members` records, as the agent sends them.
    let Record::Group(sales) = group(200, "Sales", &ids) else { unreachable!() };
    let (head, more) = sales.split(150);
    records.push(Record::Group(head));
    records.extend(more.into_iter().map(Record::GroupMembers));
    records
}

impl World {
    /// Pushes a full snapshot (not imported unless it is the job's first).
    async fn push_full(&self, records: &[Record], usn: u64) {
        let answer = self.agent.push_as(&self.app, records, SnapshotKind::Full, None, watermark(usn)).await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
    }

    /// "Perform import", waited for.
    async fn import(&self) -> Session {
        let answer = self.app.post(&format!("/api/v1/jobs/{}/imports", self.job.id), Some(&self.admin), &serde_json::json!({})).await;
        assert_eq!(answer.status, 202, "{:?}", answer.body);
        self.app.wait_for_session(&self.admin, answer.json::<Session>().id).await
    }

    async fn first_import(&self, records: &[Record]) -> Session {
        let session = self.agent.push(&self.app, records).await.session.expect("the first push imports");
        let session = self.app.wait_for_session(&self.admin, session.id).await;
        session_succeeded(&session);
        session
    }

    async fn users(&self) -> Vec<User> {
        all_users(&self.app, &self.admin, self.job.id, 1000).await
    }

    async fn user(&self, n: u32) -> Option<User> {
        self.users().await.into_iter().find(|u| u.username == format!("user{n}"))
    }

    async fn changes(&self, session: SessionId) -> Vec<SessionChange> {
        let page: Page<SessionChange> = self.app.get(&format!("/api/v1/sessions/{session}/changes?limit=1000"), &self.admin).await.json();
        page.items
    }

    async fn sessions(&self) -> Vec<Session> {
        let page: Page<Session> = self.app.get(&format!("/api/v1/jobs/{}/sessions", self.job.id), &self.admin).await.json();
        page.items
    }

    /// Deletes object `n` from the job's directory state behind the server's back.
    async fn delete_directory_object(&self, n: u32) {
        sqlx::query("DELETE FROM directory_objects WHERE job_id = $1 AND object_guid = $2")
            .bind(self.job.id.to_string())
            .bind(guid(n).to_string())
            .execute(&self.app.db.pool)
            .await
            .unwrap();
    }

    /// Deletes the structure count the server keeps of the job's state.
    async fn forget_structure_count(&self) {
        sqlx::query("DELETE FROM directory_summaries WHERE job_id = $1")
            .bind(self.job.id.to_string())
            .execute(&self.app.db.pool)
            .await
            .unwrap();
    }

    async fn housekeeping_at(&self, now_ms: i64) {
        let db = roster_server::db::Db::connect(&self.app.database_url).await.unwrap();
        roster_server::import::housekeeping_at(&db, &Limits::default(), roster_server::store::UnixMillis(now_ms)).await.unwrap();
    }
}

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

async fn a_dry_run_plans_and_applies_nothing(engine: Engine) {
    let w = world(engine).await;
    let plan_path = format!("/api/v1/jobs/{}/plan", w.job.id);
    w.app.post(&plan_path, Some(&w.admin), &()).await.assert_problem(409).assert_kind(ProblemKind::NoDirectoryState);
    w.link_sales_to_basic_access().await;
    w.first_import(&staff(1..=5)).await;

    // In AD: user1 is disabled, user6 joins Sales, user5 leaves the directory.
    let mut records = staff([1, 2, 3, 4, 6]);
    records[0] = user(1, "OU=Staff", 514);
    w.push_full(&records, 1001).await;
    let preview: PlanPreview = w.app.post(&plan_path, Some(&w.admin), &()).await.json();
    assert_eq!((preview.counts.created, preview.counts.deactivated, preview.counts.unchanged), (1, 2, 3), "{preview:?}");
    assert_eq!(preview.total_changes, 3);
    assert!(preview.held_reasons.is_empty(), "5 users are below the safeguard's floor");
    let created = preview.changes.iter().find(|c| c.action == ChangeAction::Created).unwrap();
    assert_eq!((created.username.as_str(), created.user_id), ("user6", None), "a planned creation has no user yet");
    let limited: PlanPreview = w.app.post(&format!("{plan_path}?limit=1"), Some(&w.admin), &()).await.json();
    assert_eq!((limited.changes.len(), limited.total_changes), (1, 3));
    w.app.post(&format!("{plan_path}?limit=10001"), Some(&w.admin), &()).await.assert_problem(400).assert_kind(ProblemKind::InvalidLimit);

    // Nothing was applied or recorded.
    assert_eq!(w.users().await.len(), 5);
    assert!(w.user(1).await.unwrap().active);
    assert_eq!(w.sessions().await.len(), 1);

    // Perform import applies exactly the plan.
    let session = w.import().await;
    session_succeeded(&session);
    assert_eq!(session.counts, preview.counts);
    assert_eq!(w.users().await.len(), 6);
    assert!(!w.user(1).await.unwrap().active && !w.user(5).await.unwrap().active && w.user(6).await.unwrap().active);
}

async fn the_safeguard_holds_a_mass_deactivation_until_approved(engine: Engine) {
    let w = world(engine).await;
    w.link_sales_to_basic_access().await;
    w.first_import(&staff(1..=30)).await;

    // Ten of thirty leave: beyond 10 % of 30 (3).
    w.push_full(&staff(11..=30), 1001).await;
    let held = w.import().await;
    assert_eq!(held.status, SessionStatus::Held, "{held:?}");
    assert_eq!((held.counts.deactivated, held.counts.lost_basic), (10, 10));
    assert!(held.held_reasons.iter().any(|r| r.contains("deactivates 10 of 30 active users")), "{:?}", held.held_reasons);
    assert!(held.finished_at.is_some());
    assert_eq!(w.users().await.iter().filter(|u| u.active).count(), 30, "a held plan applies nothing");
    // The held plan is itemised, with the users it would change.
    let planned = w.changes(held.id).await;
    assert_eq!(planned.len(), 10);
    assert!(planned.iter().all(|c| c.action == ChangeAction::Deactivated && c.user_id.is_some()));

    let answer =
        w.app.post(&format!("/api/v1/sessions/{}/approve", held.id), Some(&w.admin), &serde_json::json!({"by": "alice@corp"})).await;
    assert_eq!(answer.status, 202, "{:?}", answer.body);
    let approved = w.app.wait_for_session(&w.admin, held.id).await;
    session_succeeded(&approved);
    assert_eq!(approved.decided_by.as_deref(), Some("alice@corp"));
    assert!(approved.decided_at.is_some());
    assert_eq!(approved.counts.deactivated, 10);
    assert_eq!(w.users().await.iter().filter(|u| u.active).count(), 20);
    assert_eq!(w.changes(held.id).await.len(), 10, "the applied changes replace the planned ones");
    // Deciding twice is refused.
    w.app
        .post(&format!("/api/v1/sessions/{}/approve", held.id), Some(&w.admin), &())
        .await
        .assert_problem(409)
        .assert_kind(ProblemKind::SessionNotHeld);
    w.app.post(&format!("/api/v1/sessions/{}/reject", held.id), Some(&w.admin), &()).await.assert_problem(409);
}

async fn an_approval_of_a_stale_plan_plans_again(engine: Engine) {
    let w = world(engine).await;
    w.link_sales_to_basic_access().await;
    w.first_import(&staff(1..=30)).await;
    w.push_full(&staff(11..=30), 1001).await;
    let held = w.import().await;
    assert_eq!(held.status, SessionStatus::Held);

    // Before anyone approves, the directory recovers: only two leave now.
    w.push_full(&staff(3..=30), 1002).await;
    let answer = w.app.post(&format!("/api/v1/sessions/{}/approve", held.id), Some(&w.admin), &()).await;
    assert_eq!(answer.status, 202, "{:?}", answer.body);
    let rerun = w.app.wait_for_session(&w.admin, held.id).await;
    session_succeeded(&rerun);
    assert_eq!(rerun.counts.deactivated, 2, "the approval did not apply the stale plan");
    assert!(rerun.notes.iter().any(|n| n.contains("planned again")), "{:?}", rerun.notes);
    assert_eq!(rerun.decided_by.as_deref(), Some("admin"));
    assert_eq!(w.users().await.iter().filter(|u| u.active).count(), 28);

    // A stale approval that is still beyond the budget is held again.
    w.push_full(&staff(13..=30), 1003).await;
    let held = w.import().await;
    assert_eq!(held.status, SessionStatus::Held);
    w.push_full(&staff(16..=30), 1004).await;
    w.app.post(&format!("/api/v1/sessions/{}/approve", held.id), Some(&w.admin), &()).await;
    let again = w.app.wait_for_session(&w.admin, held.id).await;
    assert_eq!(again.status, SessionStatus::Held, "{again:?}");
    assert_eq!(again.counts.deactivated, 13);
    assert_eq!(w.users().await.iter().filter(|u| u.active).count(), 28);
}

async fn a_rejected_plan_applies_nothing_and_newer_runs_supersede_held_ones(engine: Engine) {
    let w = world(engine).await;
    w.link_sales_to_basic_access().await;
    w.first_import(&staff(1..=30)).await;
    w.push_full(&staff(11..=30), 1001).await;
    let first = w.import().await;
    let second = w.import().await;
    assert_eq!((first.status, second.status), (SessionStatus::Held, SessionStatus::Held));
    let first = w.app.get(&format!("/api/v1/sessions/{}", first.id), &w.admin).await.json::<Session>();
    assert_eq!(first.status, SessionStatus::Rejected, "a newer plan supersedes an older held one");
    assert!(first.decided_by.as_deref().unwrap().contains(&second.id.to_string()));

    let answer = w.app.post(&format!("/api/v1/sessions/{}/reject", second.id), Some(&w.admin), &serde_json::json!({"by": "bob"})).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let rejected: Session = answer.json();
    assert_eq!((rejected.status, rejected.decided_by.as_deref()), (SessionStatus::Rejected, Some("bob")));
    assert_eq!(w.users().await.iter().filter(|u| u.active).count(), 30);
    w.app.post(&format!("/api/v1/sessions/{}/approve", second.id), Some(&w.admin), &()).await.assert_problem(409);
    let approve = format!("/api/v1/sessions/{}/approve", second.id);
    w.app.send(reqwest::Method::POST, &approve, Some(&w.admin), Some("{".into()), true).await.assert_problem(422);
    // JSON that is not a Decision is refused like any other body, naming the member.
    for (body, named) in [(r#"{"by": 5}"#, "by"), (r#"{"by": null}"#, "by"), (r#"{"by": "bob", "role": "owner"}"#, "role"), ("[]", "")] {
        let answer = w.app.send(reqwest::Method::POST, &approve, Some(&w.admin), Some(body.into()), true).await;
        assert_eq!(answer.status, 422, "{body}: {}", answer.body);
        answer.assert_problem(422);
        assert!(answer.body["detail"].as_str().unwrap().contains(named), "{body}: {}", answer.body);
    }
    // Another tenant's admin cannot decide.
    let other = w.app.create_tenant("Other").await.admin_token;
    w.app.post(&format!("/api/v1/sessions/{}/reject", second.id), Some(&other), &()).await.assert_problem(404);
}

async fn an_empty_directory_is_always_held(engine: Engine) {
    let w = world(engine).await;
    w.link_sales_to_basic_access().await;
    w.first_import(&staff(1..=3)).await;
    // Three users are far below the budgets' floor, yet nobody in scope is held.
    w.push_full(&[group(200, "Sales", &[])], 1001).await;
    let held = w.import().await;
    assert_eq!(held.status, SessionStatus::Held, "{held:?}");
    assert!(held.held_reasons[0].contains("no user in the job's scope"), "{:?}", held.held_reasons);
    assert_eq!(w.users().await.iter().filter(|u| u.active).count(), 3);
}

async fn the_policy_is_per_job_and_checked(engine: Engine) {
    let w = world(engine).await;
    let path = format!("/api/v1/jobs/{}/policy", w.job.id);
    let policy: SafeguardPolicy = w.app.get(&path, &w.admin).await.json();
    assert_eq!(policy, SafeguardPolicy::default());
    let strict = SafeguardPolicy { max_deactivations: Budget { count: 0, percent: 100 }, min_active_users: 0, ..policy };
    let saved: SafeguardPolicy = w.app.put(&path, &w.admin, &strict).await.json();
    assert_eq!(saved, strict);
    let too_much = SafeguardPolicy { max_lost_basic: Budget { count: 5, percent: 101 }, ..strict };
    w.app.put(&path, &w.admin, &too_much).await.assert_problem(422);

    // Under the strict policy, one departure among two users is held.
    w.link_sales_to_basic_access().await;
    w.first_import(&staff(1..=2)).await;
    w.push_full(&staff([2]), 1001).await;
    let held = w.import().await;
    assert_eq!(held.status, SessionStatus::Held, "{held:?}");
}

async fn deactivated_users_return_within_the_grace_period_and_are_purged_after_it(engine: Engine) {
    let w = world(engine).await;
    w.link_sales_to_basic_access().await;
    w.first_import(&staff(1..=3)).await;
    let original = w.user(1).await.unwrap();

    w.push_full(&staff(2..=3), 1001).await;
    session_succeeded(&w.import().await);
    assert!(!w.user(1).await.unwrap().active);
    // Still there after 29 days: the default grace period is 30.
    w.housekeeping_at(now_ms() + 29 * DAY_MS).await;
    assert!(w.user(1).await.is_some());

    // user1 comes back: the same user, re-activated.
    w.push_full(&staff(1..=3), 1002).await;
    let back = w.import().await;
    session_succeeded(&back);
    assert_eq!(back.counts.reactivated, 1, "{back:?}");
    let returned = w.user(1).await.unwrap();
    assert_eq!((returned.id, returned.active), (original.id, true));
    // A re-activated user is not purged with the old deactivation date.
    w.housekeeping_at(now_ms() + 31 * DAY_MS).await;
    assert!(w.user(1).await.is_some());

    // The timeline shows each step, oldest first.
    let history: Page<HistoryEntry> = w.app.get(&format!("/api/v1/users/{}/history", original.id), &w.admin).await.json();
    let actions: Vec<ChangeAction> = history.items.iter().map(|e| e.action).collect();
    assert_eq!(actions, [ChangeAction::Created, ChangeAction::Deactivated, ChangeAction::Reactivated]);
    assert!(
        history.items[1].details.contains(&ChangeDetail::Deactivated { reason: DeactivationReason::GoneFromDirectory }),
        "{:?}",
        history.items[1]
    );
    let first: Page<HistoryEntry> = w.app.get(&format!("/api/v1/users/{}/history?limit=2", original.id), &w.admin).await.json();
    assert_eq!(first.items.len(), 2);
    let rest: Page<HistoryEntry> =
        w.app.get(&format!("/api/v1/users/{}/history?limit=2&cursor={}", original.id, first.next_cursor.unwrap()), &w.admin).await.json();
    assert_eq!(rest.items.iter().map(|e| e.action).collect::<Vec<_>>(), [ChangeAction::Reactivated]);
    assert!(rest.next_cursor.is_none());

    // A longer grace period, then user1 leaves for good.
    let settings = TenantSettings { purge_after_days: 60, session_retention_days: None };
    let saved: TenantSettings = w.app.put("/api/v1/settings", &w.admin, &settings).await.json();
    assert_eq!(saved, settings);
    assert_eq!(w.app.get("/api/v1/settings", &w.admin).await.json::<TenantSettings>(), settings);
    w.push_full(&staff(2..=3), 1003).await;
    session_succeeded(&w.import().await);
    w.housekeeping_at(now_ms() + 59 * DAY_MS).await;
    assert!(w.user(1).await.is_some());
    w.housekeeping_at(now_ms() + 61 * DAY_MS).await;
    assert!(w.user(1).await.is_none(), "purged after the grace period");
    assert_eq!(w.users().await.len(), 2, "active users are never purged");
    w.app.get(&format!("/api/v1/users/{}/history", original.id), &w.admin).await.assert_problem(404);

    for bad in [serde_json::json!({"purge_after_days": 0}), serde_json::json!({"purge_after_days": 30, "session_retention_days": 0})] {
        w.app.put("/api/v1/settings", &w.admin, &bad).await.assert_problem(422);
    }
}

async fn sessions_are_kept_until_their_retention(engine: Engine) {
    let w = world(engine).await;
    w.link_sales_to_basic_access().await;
    w.first_import(&staff(1..=2)).await;
    session_succeeded(&w.import().await);
    w.housekeeping_at(now_ms() + 3650 * DAY_MS).await;
    assert_eq!(w.sessions().await.len(), 2, "kept forever by default");
    let settings = TenantSettings { purge_after_days: 30, session_retention_days: Some(7) };
    let _: TenantSettings = w.app.put("/api/v1/settings", &w.admin, &settings).await.json();
    w.housekeeping_at(now_ms() + 6 * DAY_MS).await;
    assert_eq!(w.sessions().await.len(), 2);
    w.housekeeping_at(now_ms() + 8 * DAY_MS).await;
    assert!(w.sessions().await.is_empty());
    assert_eq!(w.users().await.len(), 2, "retention removes sessions, not users");
}

async fn saving_links_previews_who_gains_and_loses(engine: Engine) {
    let w = world(engine).await;
    w.link_sales_to_basic_access().await;
    let mut records = staff(1..=4);
    records.push(group(300, "VIP", &[1, 2]));
    w.first_import(&records).await;

    let links_path = format!("/api/v1/jobs/{}/links", w.job.id);
    let links = vec![
        LinkInput { group: format!("CN=Sales,OU=Groups,{BASE}"), access_id: w.user_access.id },
        LinkInput { group: format!("CN=VIP,OU=Groups,{BASE}"), access_id: w.vip_access.id },
    ];
    let saved: LinksSaved = w.app.put(&links_path, &w.admin, &links).await.json();
    assert_eq!(saved.preview.gains.len(), 1, "{:?}", saved.preview);
    let vip = &saved.preview.gains[0];
    assert_eq!((vip.access.id, vip.users, vip.usernames.clone()), (w.vip_access.id, 2, vec!["user1".to_owned(), "user2".to_owned()]));
    assert!(saved.preview.losses.is_empty());
    assert_eq!(saved.links[1].group_guid, Some(guid(300)), "resolved against the stored state at once");

    // Dropping the Sales link takes the basic access from everyone.
    let only_vip = vec![links[1].clone()];
    let saved: LinksSaved = w.app.put(&links_path, &w.admin, &only_vip).await.json();
    assert_eq!(saved.preview.losses.len(), 1, "{:?}", saved.preview);
    assert_eq!((saved.preview.losses[0].access.id, saved.preview.losses[0].users), (w.user_access.id, 4));
    assert_eq!(saved.preview.counts.deactivated, 4);
    // Saving links changes no user: the preview is what the next import would do.
    assert!(w.users().await.iter().all(|u| u.active));
}

async fn a_link_follows_its_group_through_a_rename(engine: Engine) {
    let w = world(engine).await;
    w.link_sales_to_basic_access().await;
    w.first_import(&staff(1..=3)).await;
    let links: Vec<Link> = w.app.get(&format!("/api/v1/jobs/{}/links", w.job.id), &w.admin).await.json();
    assert_eq!(links[0].group_guid, Some(guid(200)), "the first import resolved the DN to the group's GUID");

    // In AD, Sales is renamed Sales-DK (same objectGUID).
    let mut records: Vec<Record> = (1..=3).map(|n| user(n, "OU=Staff", 512)).collect();
    records.push(group(200, "Sales-DK", &[1, 2, 3]));
    w.push_full(&records, 1001).await;
    let session = w.import().await;
    session_succeeded(&session);
    assert_eq!((session.counts.deactivated, session.counts.unchanged), (0, 3), "{session:?}");
    assert!(w.users().await.iter().all(|u| u.active));
    // Saving the same links again keeps the resolution.
    let same = vec![LinkInput { group: format!("CN=Sales,OU=Groups,{BASE}"), access_id: w.user_access.id }];
    let saved: LinksSaved = w.app.put(&format!("/api/v1/jobs/{}/links", w.job.id), &w.admin, &same).await.json();
    assert_eq!(saved.links[0].group_guid, Some(guid(200)));
    assert!(saved.preview.losses.is_empty(), "{:?}", saved.preview);
}

/// A link may name its group; the name must match one group, and once
/// resolved the link follows the group's GUID.
async fn a_link_by_name_resolves_to_one_group(engine: Engine) {
    let w = world(engine).await;
    let links_path = format!("/api/v1/jobs/{}/links", w.job.id);
    let by_name = vec![LinkInput { group: "sales".into(), access_id: w.user_access.id }];
    let _: LinksSaved = w.app.put(&links_path, &w.admin, &by_name).await.json();
    w.first_import(&staff(1..=2)).await;
    assert_eq!(w.users().await.len(), 2);
    let links: Vec<Link> = w.app.get(&links_path, &w.admin).await.json();
    assert_eq!((links[0].group.as_str(), links[0].group_guid), ("sales", Some(guid(200))));

    // Renamed in AD, and another group takes the old name: the link stays with its group.
    let mut records: Vec<Record> = (1..=3).map(|n| user(n, "OU=Staff", 512)).collect();
    records.push(group(200, "Sales-DK", &[1, 2]));
    records.push(group(201, "Sales", &[3]));
    w.push_full(&records, 1001).await;
    let session = w.import().await;
    session_succeeded(&session);
    assert_eq!((session.counts.created, session.counts.deactivated), (0, 0), "{session:?}");

    // A name two groups share resolves to neither, and says so.
    let mut records: Vec<Record> = (1..=3).map(|n| user(n, "OU=Staff", 512)).collect();
    records.push(group(300, "Team", &[1]));
    records.push(Record::Group(roster_proto::records::GroupRecord {
        dn: format!("CN=Team,OU=Other,{BASE}"),
        ..match group(301, "Team", &[2]) {
            Record::Group(g) => g,
            _ => unreachable!(),
        }
    }));
    w.push_full(&records, 1002).await;
    let ambiguous = LinkInput { group: "Team".into(), access_id: w.vip_access.id };
    let saved: LinksSaved = w.app.put(&links_path, &w.admin, &[by_name[0].clone(), ambiguous]).await.json();
    assert_eq!(saved.links[1].group_guid, None);
    assert!(saved.preview.notes.iter().any(|n| n.contains("`Team` names 2 groups")), "{:?}", saved.preview.notes);
}

async fn structure_and_explain_read_the_stored_directory(engine: Engine) {
    let w = world(engine).await;
    w.app
        .get(&format!("/api/v1/jobs/{}/structure", w.job.id), &w.admin)
        .await
        .assert_problem(409)
        .assert_kind(ProblemKind::NoDirectoryState);
    w.link_sales_to_basic_access().await;
    let ou = |n: u32, dn: &str, name: &str| Record::Ou(OuRecord { object_guid: guid(n), dn: format!("{dn},{BASE}"), name: name.into() });
    let records = vec![
        ou(500, "OU=Staff", "Staff"),
        ou(501, "OU=Copenhagen,OU=Staff", "Copenhagen"),
        ou(502, "OU=Groups", "Groups"),
        user(1, "OU=Copenhagen,OU=Staff", 512),
        user(2, "OU=Staff", 512),
        user(3, "OU=Staff", 514),
        user(4, "OU=Staff", 512),
        // Sales ⊃ Sales-DK ⊃ user1; Sales ⊃ user2, user3; VIP ⊃ user4.
        group(200, "Sales", &[201, 2, 3]),
        group(201, "Sales-DK", &[1]),
        group(300, "VIP", &[4]),
    ];
    w.first_import(&records).await;

    let structure: Structure = w.app.get(&format!("/api/v1/jobs/{}/structure", w.job.id), &w.admin).await.json();
    assert_eq!(structure.users, 4);
    let staff = structure.ous.iter().find(|o| o.name == "Staff").unwrap();
    assert_eq!((staff.users, staff.users_below, staff.children.len()), (3, 4, 1));
    let sales = structure.groups.iter().find(|g| g.name == "Sales").unwrap();
    assert_eq!((sales.direct_members, sales.direct_users, sales.nested_users), (3, 2, 3));
    assert_eq!(sales.linked_accesses, vec![w.user_access.id]);
    let found: Structure = w.app.get(&format!("/api/v1/jobs/{}/structure?search=sales-dk", w.job.id), &w.admin).await.json();
    assert_eq!(found.groups.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(), ["Sales-DK"]);
    // The counts are kept per state: asked again, the structure is not
    // counted again (a row deleted behind the server's back is not seen),
    // yet links are applied as they are now.
    w.delete_directory_object(4).await;
    let links_path = format!("/api/v1/jobs/{}/links", w.job.id);
    let both = [
        LinkInput { group: format!("CN=Sales,OU=Groups,{BASE}"), access_id: w.user_access.id },
        LinkInput { group: "VIP".into(), access_id: w.vip_access.id },
    ];
    let _: LinksSaved = w.app.put(&links_path, &w.admin, &both).await.json();
    let kept: Structure = w.app.get(&format!("/api/v1/jobs/{}/structure", w.job.id), &w.admin).await.json();
    assert_eq!(kept.users, 4, "the kept counts");
    let vip = kept.groups.iter().find(|g| g.name == "VIP").unwrap();
    assert_eq!(vip.linked_accesses, vec![w.vip_access.id], "the links as they are now");
    w.push_full(&records, 1001).await;
    let _: LinksSaved = w.app.put(&links_path, &w.admin, &both[..1].to_vec()).await.json();

    // An imported user: the chain of groups that grants its access.
    let user1 = w.user(1).await.unwrap();
    let why: Explanation = w.app.get(&format!("/api/v1/users/{}/explain", user1.id), &w.admin).await.json();
    assert!(why.imported && why.active && why.reasons.is_empty(), "{why:?}");
    assert_eq!(why.grants.len(), 1);
    assert_eq!(why.grants[0].chains[0].text, "Sales-DK → Sales (linked: user @ Copenhagen)");
    // A disabled user is imported inactive, and says why.
    let user3 = w.user(3).await.unwrap();
    let why: Explanation = w.app.get(&format!("/api/v1/users/{}/explain", user3.id), &w.admin).await.json();
    assert!(why.imported && !why.active);
    assert_eq!(why.reasons.iter().map(|r| r.code).collect::<Vec<_>>(), [ReasonCode::Disabled]);
    // An AD user who is not imported, by name, GUID or DN.
    let explain_path = format!("/api/v1/jobs/{}/explain", w.job.id);
    for who in ["USER4".to_owned(), guid(4).to_string(), format!("CN=user4,OU=Staff,{BASE}")] {
        let why: Explanation = w.app.get(&format!("{explain_path}?user={}", urlencode(&who)), &w.admin).await.json();
        assert!(!why.imported, "{why:?}");
        assert_eq!(why.reasons.iter().map(|r| r.code).collect::<Vec<_>>(), [ReasonCode::NoLinkedGroup], "{who}");
    }
    w.app.get(&format!("{explain_path}?user=nobody"), &w.admin).await.assert_problem(404);
    w.app.get(&format!("{explain_path}?user="), &w.admin).await.assert_problem(400);
    // By name and DN a user is found by an indexed key and explained with
    // only the groups above it; rows staged before the keys existed
    // (migration 0017: none) are still found, by reading every user.
    let nested = |why: &Explanation| why.grants.first().map(|g| g.chains[0].text.clone());
    let by = [("User1".to_owned(), 1), (format!("cn=USER1, ou=Copenhagen,ou=Staff,{BASE}"), 1), ("user2".to_owned(), 2)];
    for unkeyed in [false, true] {
        if unkeyed {
            sqlx::query("UPDATE directory_objects SET account_key = NULL, dn_key = NULL WHERE job_id = $1")
                .bind(w.job.id.to_string())
                .execute(&w.app.db.pool)
                .await
                .unwrap();
        }
        for (who, n) in &by {
            let why: Explanation = w.app.get(&format!("{explain_path}?user={}", urlencode(who)), &w.admin).await.json();
            assert_eq!((why.object_guid, why.imported), (guid(*n), true), "{who} (unkeyed: {unkeyed})");
            let expected = if *n == 1 { "Sales-DK → Sales (linked: user @ Copenhagen)" } else { "Sales (linked: user @ Copenhagen)" };
            assert_eq!(nested(&why).as_deref(), Some(expected), "{who} (unkeyed: {unkeyed})");
        }
        w.app.get(&format!("{explain_path}?user=nobody"), &w.admin).await.assert_problem(404);
    }

    // A stored user no longer in AD.
    w.push_full(
        &records.iter().filter(|r| !matches!(r, Record::User(u) if u.sam_account_name == "user2")).cloned().collect::<Vec<_>>(),
        1002,
    )
    .await;
    let user2 = w.user(2).await.unwrap();
    let why: Explanation = w.app.get(&format!("/api/v1/users/{}/explain", user2.id), &w.admin).await.json();
    assert_eq!(why.reasons.iter().map(|r| r.code).collect::<Vec<_>>(), [ReasonCode::GoneFromDirectory]);
    // A new state is counted again; so is a kept count that no longer reads.
    let recounted: Structure = w.app.get(&format!("/api/v1/jobs/{}/structure", w.job.id), &w.admin).await.json();
    assert_eq!(recounted.users, 3);
    sqlx::query("UPDATE directory_summaries SET summary = '{\"users\": \"many\"}' WHERE job_id = $1")
        .bind(w.job.id.to_string())
        .execute(&w.app.db.pool)
        .await
        .unwrap();
    let recounted: Structure = w.app.get(&format!("/api/v1/jobs/{}/structure", w.job.id), &w.admin).await.json();
    assert_eq!(recounted.users, 3);

    // A user whose anchor is its consistency GUID, not its objectGUID, is
    // found by either (an indexed look-up, not a read of every user).
    let Record::User(mut twin) = user(6, "OU=Staff", 512) else { unreachable!() };
    twin.consistency_guid = Some(guid(906));
    let mut with_twin: Vec<Record> = records
        .iter()
        .map(|r| match r {
            Record::Group(g) if g.name == "Sales" => group(200, "Sales", &[201, 2, 3, 6]),
            other => other.clone(),
        })
        .collect();
    with_twin.push(Record::User(twin));
    w.push_full(&with_twin, 1003).await;
    for who in [guid(906), guid(6)] {
        let why: Explanation = w.app.get(&format!("{explain_path}?user={who}"), &w.admin).await.json();
        assert_eq!((why.object_guid, why.anchor, why.username.as_str()), (guid(6), guid(906), "user6"), "{who}");
        assert!(why.imported && why.reasons.is_empty(), "{who}: {why:?}");
    }
    w.app.get(&format!("{explain_path}?user={}", guid(907)), &w.admin).await.assert_problem(404);

    // Nothing of it for another tenant.
    let other = w.app.create_tenant("Other").await.admin_token;
    w.app.get(&format!("/api/v1/users/{}/explain", user1.id), &other).await.assert_problem(404);
    w.app.get(&format!("/api/v1/jobs/{}/structure", w.job.id), &other).await.assert_problem(404);
    w.app.get(&format!("{explain_path}?user=user1"), &other).await.assert_problem(404);
}

/// An import reads, plans and writes a batch of users at a time; cut into
/// batches of three — with an anchor shared across a cut, departures inside
/// and after the last batch — it plans exactly what one pass plans.
/// A full snapshot's structure is counted while it is staged, so "Load AD
/// structure" reads nothing of a new state back, and the count is the one
/// the stored state gives: on records that repeat objects more than a
/// staging transaction later, change an object's kind, continue groups and
/// spell an OU twice.
async fn a_full_snapshot_is_counted_as_it_is_staged(engine: Engine) {
    let w = world(engine).await;
    w.link_sales_to_basic_access().await;
    let ou = |n: u32, dn: &str, name: &str| Record::Ou(OuRecord { object_guid: guid(n), dn: format!("{dn},{BASE}"), name: name.into() });
    let mut records = vec![
        ou(5000, "OU=Staff", "Staff"),
        ou(5001, "OU=Copenhagen,OU=Staff", "Copenhagen"),
        ou(5002, "OU=Groups", "Groups"),
        ou(5003, "ou=STAFF", "STAFF"),
    ];
    records.extend((1..=1200).map(|n| user(n, if n % 3 == 0 { "OU=Copenhagen,OU=Staff" } else { "OU=Staff" }, 512)));
    let Record::Group(sales) = group(2000, "Sales", &(1..=1000).chain([2001]).collect::<Vec<_>>()) else { unreachable!() };
    let (head, more) = sales.split(150);
    records.push(Record::Group(head));
    records.extend(more.into_iter().map(Record::GroupMembers));
    records.push(group(2001, "Nested", &[1100, 1101]));
    records.push(group(2002, "Becomes-a-user", &[5]));
    // Again, after more than a staging transaction's rows: user 1 moved,
    // user 2 now a group, group 2002 now a user, Nested with another member.
    records.push(user(1, "OU=Copenhagen,OU=Staff", 512));
    records.push(group(2, "Was-a-user", &[3]));
    records.push(user(2002, "OU=Staff", 512));
    records.push(group(2001, "Nested", &[1102]));
    assert!(records.len() > roster_server::ingest::STAGE_ROWS_PER_TRANSACTION * 2);
    w.first_import(&records).await;

    let path = format!("/api/v1/jobs/{}/structure", w.job.id);
    let counted: Structure = w.app.get(&path, &w.admin).await.json();
    w.forget_structure_count().await;
    let recounted: Structure = w.app.get(&path, &w.admin).await.json();
    assert_eq!(counted, recounted, "counted while staged, and from the stored state");
    assert_eq!(counted.users, 1200, "1..=1200 without user 2, with user 2002");
    let group = |name: &str| counted.groups.iter().find(|g| g.name == name).unwrap_or_else(|| panic!("{name}"));
    assert_eq!((group("Nested").direct_users, group("Sales").direct_users, group("Sales").nested_users), (3, 999, 1002));
    assert_eq!(group("Was-a-user").direct_users, 1);
    assert!(counted.groups.iter().all(|g| g.name != "Becomes-a-user"));
    let staff = counted.ous.iter().find(|o| o.name.eq_ignore_ascii_case("staff")).unwrap();
    assert_eq!((staff.users, staff.users_below), (799, 1200));

    // A new full snapshot is counted as it is staged, not when it is first
    // asked for: a user deleted behind the server's back in between is
    // still counted.
    w.push_full(&records[..records.len() - 4], 1001).await;
    w.delete_directory_object(7).await;
    let counted: Structure = w.app.get(&path, &w.admin).await.json();
    assert_eq!(counted.users, 1200, "the snapshot's own users, counted at staging");
    assert!(counted.groups.iter().all(|g| g.name != "Was-a-user"), "the new snapshot's groups");
}

/// A delta of users alone moves the kept structure count with it at
/// commit (the new state is not read back); a delta that adds a user a
/// group already names, or changes a group, leaves its state to be
/// counted when asked. Either way the answer is the stored state's.
async fn a_delta_of_users_moves_the_kept_count(engine: Engine) {
    let w = world(engine).await;
    w.link_sales_to_basic_access().await;
    let ou = |n: u32, dn: &str, name: &str| Record::Ou(OuRecord { object_guid: guid(n), dn: format!("{dn},{BASE}"), name: name.into() });
    let mut records = vec![ou(5000, "OU=Staff", "Staff"), ou(5001, "OU=Copenhagen,OU=Staff", "Copenhagen")];
    records.extend((1..=20).map(|n| user(n, "OU=Staff", 512)));
    // Sales names user 30, whom the state does not hold yet.
    records.push(group(2000, "Sales", &[1, 2, 3, 30]));
    w.first_import(&records).await;
    let path = format!("/api/v1/jobs/{}/structure", w.job.id);
    let state_at = async || -> String {
        sqlx::query_scalar::<_, String>("SELECT snapshot_id FROM directory_state WHERE job_id = $1")
            .bind(w.job.id.to_string())
            .fetch_one(&w.app.db.pool)
            .await
            .unwrap()
    };
    let kept_at = async || -> Option<String> {
        sqlx::query_scalar::<_, String>("SELECT snapshot_id FROM directory_summaries WHERE job_id = $1")
            .bind(w.job.id.to_string())
            .fetch_optional(&w.app.db.pool)
            .await
            .unwrap()
    };
    // The answer, and the stored state's own count of it.
    let answer_and_recount = async || -> (Structure, Structure) {
        let answer: Structure = w.app.get(&path, &w.admin).await.json();
        w.forget_structure_count().await;
        (answer, w.app.get(&path, &w.admin).await.json())
    };
    let staff = |s: &Structure| {
        let staff = s.ous.iter().find(|o| o.name == "Staff").unwrap();
        (s.users, staff.users, staff.users_below)
    };
    let sales = |s: &Structure| s.groups.iter().find(|g| g.name == "Sales").map(|g| (g.direct_users, g.nested_users)).unwrap();
    let _: Structure = w.app.get(&path, &w.admin).await.json();

    // Users alone: user 3 moves to Copenhagen, user 4 is renamed, user 21
    // joins, and a user out of the job's scope, whom the state does not hold, is not kept.
    let delta = [
        user(3, "OU=Copenhagen,OU=Staff", 512),
        user(4, "OU=Staff", 514),
        user(21, "OU=Copenhagen,OU=Staff", 512),
        user(22, "OU=Elsewhere", 512),
    ];
    let committed = w.agent.push_as(&w.app, &delta, SnapshotKind::Delta, Some(watermark(1000)), watermark(1010)).await;
    assert_eq!(committed.status, 200, "{:?}", committed.body);
    assert_eq!(kept_at().await, Some(state_at().await), "the count followed the delta at commit");
    let (answer, recount) = answer_and_recount().await;
    assert_eq!(answer, recount, "the followed count is the stored state's");
    assert_eq!((staff(&answer), sales(&answer)), ((21, 19, 21), (3, 3)));

    // User 30 joins: Sales names it, so its counts change and the state is counted when asked.
    let committed =
        w.agent.push_as(&w.app, &[user(30, "OU=Staff", 512)], SnapshotKind::Delta, Some(watermark(1010)), watermark(1020)).await;
    assert_eq!(committed.status, 200, "{:?}", committed.body);
    assert_ne!(kept_at().await, Some(state_at().await), "no count kept of a state whose groups' counts changed");
    let (answer, recount) = answer_and_recount().await;
    assert_eq!(answer, recount);
    assert_eq!((staff(&answer), sales(&answer)), ((22, 20, 22), (4, 4)));

    // A group changes: counted when asked.
    let committed =
        w.agent.push_as(&w.app, &[group(2000, "Sales", &[1, 2])], SnapshotKind::Delta, Some(watermark(1020)), watermark(1030)).await;
    assert_eq!(committed.status, 200, "{:?}", committed.body);
    assert_ne!(kept_at().await, Some(state_at().await), "the count kept is an older state's");
    let (answer, recount) = answer_and_recount().await;
    assert_eq!(answer, recount);
    assert_eq!(sales(&answer), (2, 2));
}

async fn small_batches_plan_what_one_batch_plans(engine: Engine) {
    let w = world_with(engine, Limits { import_batch_users: 3, ..Limits::default() }).await;
    w.link_sales_to_basic_access().await;
    let lax = SafeguardPolicy { min_active_users: 1000, ..SafeguardPolicy::default() };
    let _: SafeguardPolicy = w.app.put(&format!("/api/v1/jobs/{}/policy", w.job.id), &w.admin, &lax).await.json();
    let first = w.first_import(&staff(1..=20)).await;
    assert_eq!(first.counts.created, 20);

    // 5, 6, 19 and 20 leave AD, 7 moves out of scope, 8 is disabled, 21..24
    // join, and another account carries user3's consistency GUID.
    let mut ids: Vec<u32> = (1..=18).filter(|n| ![5, 6].contains(n)).collect();
    ids.extend(21..=24);
    let mut records: Vec<Record> = ids
        .iter()
        .map(|n| match n {
            7 => user(7, "OU=External", 512),
            8 => user(8, "OU=Staff", 514),
            n => user(*n, "OU=Staff", 512),
        })
        .collect();
    let Record::User(mut twin) = user(103, "OU=Staff", 512) else { unreachable!() };
    twin.consistency_guid = Some(guid(3));
    records.push(Record::User(twin));
    ids.push(103);
    records.push(group(200, "Sales", &ids));
    w.push_full(&records, 1001).await;

    // The dry run reads in one batch; the import in batches of three.
    let preview: PlanPreview = w.app.post(&format!("/api/v1/jobs/{}/plan", w.job.id), Some(&w.admin), &()).await.json();
    let session = w.import().await;
    session_succeeded(&session);
    assert_eq!(session.counts, preview.counts);
    let counts = session.counts;
    assert_eq!((counts.created, counts.deactivated, counts.unchanged, counts.updated), (4, 6, 14, 0), "{session:?}");
    assert!(session.notes.iter().any(|n| n.contains("1 user records share an anchor")), "{:?}", session.notes);
    let users = w.users().await;
    assert_eq!((users.len(), users.iter().filter(|u| u.active).count()), (24, 18));
    // The structure counts the state's users three at a time too.
    let structure: Structure = w.app.get(&format!("/api/v1/jobs/{}/structure", w.job.id), &w.admin).await.json();
    let sales = structure.groups.iter().find(|g| g.name == "Sales").unwrap();
    assert_eq!((structure.users, sales.direct_users), (ids.len() as u64, ids.len() as u64));
    let changes = w.changes(session.id).await;
    assert_eq!(changes.len() as u64, preview.total_changes);
    let inactive: Vec<&str> = users.iter().filter(|u| !u.active).map(|u| u.username.as_str()).collect();
    for gone in ["user5", "user6", "user7", "user8", "user19", "user20"] {
        assert!(inactive.contains(&gone), "{gone} should be inactive: {inactive:?}");
    }
}

/// Two replicas on one database, many imports of one job queued at once:
/// every import runs, and never two of the job at the same time.
async fn replicas_run_one_import_of_a_job_at_a_time(engine: Engine) {
    let w = world(engine).await;
    let replica = support::spawn_replica(&w.app).await;
    w.link_sales_to_basic_access().await;
    // Users 1001..2000: clear of the Sales group's own GUID (200).
    w.first_import(&staff(1001..=2000)).await;
    // Asked of both replicas in turn, so both workers wake and compete.
    let mut queued = Vec::new();
    for n in 0..8 {
        let url = if n % 2 == 0 { &w.app.url } else { &replica };
        let response = w.app.http.post(format!("{url}/api/v1/jobs/{}/imports", w.job.id)).bearer_auth(&w.admin).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 202);
        queued.push(response.json::<Session>().await.unwrap().id);
    }
    let mut windows = Vec::new();
    for id in queued {
        let session = w.app.wait_for_session(&w.admin, id).await;
        session_succeeded(&session);
        assert_eq!(session.counts.unchanged, 1000);
        let finished = session.finished_at.unwrap();
        let started = finished - time::Duration::milliseconds(session.duration_ms.unwrap() as i64);
        windows.push((started, finished));
    }
    windows.sort();
    for pair in windows.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "two imports of the job overlapped: {pair:?}");
    }
}

/// Gives `to` a committed snapshot of the same id as `from`'s `snapshot`
/// (a copy of its row), for a fabricated session of `to` to name: a
/// session names its own job's snapshot (snapshot ids are per job).
async fn copy_snapshot(db: &roster_server::db::Db, from: JobId, snapshot: SnapshotId, to: JobId) {
    sqlx::query(
        "INSERT INTO snapshots (id, tenant_id, job_id, agent_id, kind, status, manifest_json, manifest_sha256, chunk_count, chunk_bytes,
                                created_at, committed_at)
         SELECT id, tenant_id, $1, agent_id, kind, status, manifest_json, manifest_sha256, chunk_count, chunk_bytes, created_at, committed_at
         FROM snapshots WHERE job_id = $2 AND id = $3",
    )
    .bind(to.to_string())
    .bind(from.to_string())
    .bind(snapshot.to_string())
    .execute(&mut *db.writer().await.unwrap())
    .await
    .unwrap();
}

/// Inserts a session of `job` already `running` under `token`, claimed
/// `age_ms` ago — as a server that claimed it and then died (or still runs
/// it) leaves it — without it ever being visible as queued.
async fn running_session(
    db: &roster_server::db::Db,
    tenant: TenantId,
    job: JobId,
    snapshot: SnapshotId,
    token: Uuid,
    age_ms: i64,
) -> SessionId {
    let mut tx = db.begin_write().await.unwrap();
    let id = roster_server::store::sessions::insert_session(
        &mut tx,
        tenant,
        job,
        snapshot,
        &"0".repeat(64).parse().unwrap(),
        SessionTrigger::Manual,
    )
    .await
    .unwrap();
    sqlx::query("UPDATE sessions SET status = 'running', started_at = $1, claim_token = $2 WHERE id = $3")
        .bind(now_ms() - age_ms)
        .bind(token.to_string())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    id
}

/// A run whose session was re-queued and claimed again by another run
/// (a new claim token) records nothing; the run holding the claim applies it.
async fn a_run_that_lost_its_claim_records_nothing(engine: Engine) {
    let w = world(engine).await;
    w.link_sales_to_basic_access().await;
    let first = w.first_import(&staff(1..=3)).await;
    w.push_full(&staff(1..=5), 1001).await;
    let db = roster_server::db::Db::connect(&w.app.database_url).await.unwrap();
    let tenant = roster_server::store::tenants::tenant_for_admin_token(&db, &w.admin).await.unwrap().unwrap();
    let (stale, current) = (Uuid::new_v4(), Uuid::new_v4());
    let id = running_session(&db, tenant, w.job.id, first.snapshot_id.unwrap(), current, 0).await;

    let stale_work = roster_server::store::sessions::work(&db, id, stale).await.unwrap().unwrap();
    let outcome = roster_server::import::run_session(&db, &stale_work).await.unwrap();
    assert_eq!(outcome, roster_server::import::RunOutcome::Lost);
    assert_eq!(w.users().await.len(), 3, "the stale run applied nothing");
    assert!(w.changes(id).await.is_empty());

    let work = roster_server::store::sessions::work(&db, id, current).await.unwrap().unwrap();
    assert_eq!(roster_server::import::run_session(&db, &work).await.unwrap(), roster_server::import::RunOutcome::Applied);
    let session = w.app.wait_for_session(&w.admin, id).await;
    session_succeeded(&session);
    assert_eq!(session.counts.created, 2);
    assert_eq!(w.users().await.len(), 5);
}

/// PostgreSQL, several replicas: housekeeping re-queues a running session
/// silent for long whose row no import holds (its server died), and leaves
/// one a live import holds, one claimed a moment ago and one whose import
/// showed a sign of life recently (it plans outside any transaction).
#[tokio::test]
async fn postgres_abandoned_imports_are_requeued_and_live_ones_are_not() {
    let w = world(Engine::Postgres).await;
    w.link_sales_to_basic_access().await;
    let first = w.first_import(&staff(1..=3)).await;
    w.push_full(&staff(1..=4), 1001).await;
    let db = roster_server::db::Db::connect(&w.app.database_url).await.unwrap();
    let tenant = roster_server::store::tenants::tenant_for_admin_token(&db, &w.admin).await.unwrap().unwrap();
    let other = create_staff_job(&w.app, &w.admin, "other").await;

    let abandoned = running_session(&db, tenant, w.job.id, first.snapshot_id.unwrap(), Uuid::new_v4(), 10 * 60 * 1000).await;
    copy_snapshot(&db, w.job.id, first.snapshot_id.unwrap(), other.id).await;
    let live = running_session(&db, tenant, other.id, first.snapshot_id.unwrap(), Uuid::new_v4(), 10 * 60 * 1000).await;
    let recent = {
        // A third job's session claimed a moment ago, before its first sign of life.
        let third = create_staff_job(&w.app, &w.admin, "third").await;
        copy_snapshot(&db, w.job.id, first.snapshot_id.unwrap(), third.id).await;
        running_session(&db, tenant, third.id, first.snapshot_id.unwrap(), Uuid::new_v4(), 1000).await
    };
    let beating = {
        // A fourth job's session claimed long ago whose import still plans, beating as it stages.
        let fourth = create_staff_job(&w.app, &w.admin, "fourth").await;
        copy_snapshot(&db, w.job.id, first.snapshot_id.unwrap(), fourth.id).await;
        let id = running_session(&db, tenant, fourth.id, first.snapshot_id.unwrap(), Uuid::new_v4(), 10 * 60 * 1000).await;
        sqlx::query("UPDATE sessions SET alive_at = $1 WHERE id = $2")
            .bind(now_ms() - 30_000)
            .bind(id.to_string())
            .execute(&mut *db.writer().await.unwrap())
            .await
            .unwrap();
        id
    };
    // The live import holds its session's row, as a running import does while it applies.
    let mut holder = db.pool.begin().await.unwrap();
    sqlx::query("SELECT id FROM sessions WHERE id = $1 FOR UPDATE").bind(live.to_string()).fetch_one(&mut *holder).await.unwrap();

    w.housekeeping_at(now_ms()).await;
    let status = |id: SessionId| {
        let app = &w.app;
        let admin = &w.admin;
        async move { app.get(&format!("/api/v1/sessions/{id}"), admin).await.json::<Session>().status }
    };
    assert_eq!(status(live).await, SessionStatus::Running, "a session an import holds is left alone");
    assert_eq!(status(recent).await, SessionStatus::Running, "a session claimed a moment ago is left alone");
    assert_eq!(status(beating).await, SessionStatus::Running, "a session whose import showed a sign of life recently is left alone");
    // The abandoned one is queued again, and the worker runs it.
    let rerun = w.app.wait_for_session(&w.admin, abandoned).await;
    session_succeeded(&rerun);
    assert_eq!(rerun.counts.created, 1);

    holder.rollback().await.unwrap();
    w.housekeeping_at(now_ms()).await;
    // Released, it is re-queued and runs: this job has no snapshot yet, so it fails, and says why.
    let released = w.app.wait_for_session(&w.admin, live).await;
    assert_eq!(released.status, SessionStatus::Failed, "{released:?}");
    assert!(released.error.as_deref().unwrap_or("").contains("no directory state"), "{released:?}");
}

/// An import plans from a read snapshot and applies in a short transaction
/// after: links replaced in between make it plan again; on its last
/// attempt it applies its plan as made (consistent, only older), says so,
/// and writes no resolution onto the new links. Users written in between
/// (a purge) always make it plan again: it never applies onto users it did
/// not plan from.
async fn what_changes_between_plan_and_apply_is_planned_again(engine: Engine) {
    use roster_server::import::{Finished, finish_staged, plan_staged};
    let w = world(engine).await;
    w.link_sales_to_basic_access().await;
    let with_vip = |ids: std::ops::RangeInclusive<u32>, vip: &[u32]| {
        let mut records = staff(ids);
        records.push(group(300, "VIP", vip));
        records
    };
    let first = w.first_import(&with_vip(1..=3, &[1])).await;
    w.push_full(&with_vip(1..=5, &[1, 4]), 1001).await;
    let db = roster_server::db::Db::connect(&w.app.database_url).await.unwrap();
    let tenant = roster_server::store::tenants::tenant_for_admin_token(&db, &w.admin).await.unwrap().unwrap();
    let links_path = format!("/api/v1/jobs/{}/links", w.job.id);
    let sales = LinkInput { group: format!("CN=Sales,OU=Groups,{BASE}"), access_id: w.user_access.id };
    let vip = LinkInput { group: format!("CN=VIP,OU=Groups,{BASE}"), access_id: w.vip_access.id };
    let put_links = |links: Vec<LinkInput>| {
        let (app, admin, path) = (&w.app, &w.admin, &links_path);
        async move {
            let saved: LinksSaved = app.put(path, admin, &links).await.json();
            saved.links
        }
    };
    let vip_holders = || async {
        let users = w.users().await;
        let mut names: Vec<String> =
            users.iter().filter(|u| u.accesses.iter().any(|a| a.id == w.vip_access.id)).map(|u| u.username.clone()).collect();
        names.sort();
        names
    };
    let running = |token: Uuid| running_session(&db, tenant, w.job.id, first.snapshot_id.unwrap(), token, 0);

    // Planned with [Sales]; [VIP, Sales] saved before it applies: planned again.
    let token = Uuid::new_v4();
    let id = running(token).await;
    let work = roster_server::store::sessions::work(&db, id, token).await.unwrap().unwrap();
    let planned = plan_staged(&db, &work, 2).await.unwrap().expect("the run holds its session");
    // While it runs, the session says how far its plan has got: every user
    // of the state's five, batch by batch (users 4 and 5 are new: each batch staged something).
    let during: roster_proto::admin::Session = w.app.get(&format!("/api/v1/sessions/{id}"), &w.admin).await.json();
    assert_eq!(during.progress, Some(roster_proto::admin::ImportProgress { done: 5, total: 5 }), "{during:?}");
    put_links(vec![vip.clone(), sales.clone()]).await;
    let finished = finish_staged(&db, &work, planned, false).await.unwrap();
    assert!(matches!(finished, Finished::Replan(_)), "{finished:?}");
    assert_eq!(w.users().await.len(), 3, "nothing was applied");
    assert!(w.changes(id).await.is_empty());

    // Planned with [VIP, Sales]; [Sales] saved before its last attempt applies:
    // applied as planned, with a note, and VIP's resolution is not written onto Sales.
    let planned = plan_staged(&db, &work, 2).await.unwrap().expect("the run holds its session");
    let saved = put_links(vec![sales.clone()]).await;
    assert_eq!(saved[0].group_guid, Some(guid(200)));
    let finished = finish_staged(&db, &work, planned, true).await.unwrap();
    assert!(matches!(finished, Finished::Outcome(roster_server::import::RunOutcome::Applied)), "{finished:?}");
    let session = w.app.wait_for_session(&w.admin, id).await;
    session_succeeded(&session);
    assert_eq!((session.counts.created, session.counts.updated), (2, 1), "user4 and user5 created, user1 gains VIP: {session:?}");
    assert!(session.notes.iter().any(|n| n.contains("kept changing while this import was planned")), "{:?}", session.notes);
    assert_eq!(session.progress, None, "a finished session shows no progress");
    assert_eq!(vip_holders().await, ["user1", "user4"], "the plan's links (VIP linked) were applied");
    let links: Vec<Link> = w.app.get(&links_path, &w.admin).await.json();
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].group_guid, Some(guid(200)), "the Sales link still follows Sales, not the plan's first link (VIP)");
    let changes = w.changes(id).await;
    let mut actions: Vec<(&str, ChangeAction)> = changes.iter().map(|c| (c.username.as_str(), c.action)).collect();
    actions.sort_by_key(|(name, _)| *name);
    assert_eq!(actions, [("user1", ChangeAction::Updated), ("user4", ChangeAction::Created), ("user5", ChangeAction::Created)]);
    let users = w.users().await;
    for change in &changes {
        let user = users.iter().find(|u| Some(u.id) == change.user_id).expect("an applied change names its user");
        assert_eq!(user.username, change.username);
    }

    // Planned with [Sales]; the job's users written before it applies (as a
    // purge does): planned again even on the last attempt.
    let token = Uuid::new_v4();
    let id = running(token).await;
    let work = roster_server::store::sessions::work(&db, id, token).await.unwrap().unwrap();
    let planned = plan_staged(&db, &work, 2).await.unwrap().expect("the run holds its session");
    roster_server::store::users::bump_revision(&mut db.writer().await.unwrap(), w.job.id).await.unwrap();
    let finished = finish_staged(&db, &work, planned, true).await.unwrap();
    assert!(matches!(finished, Finished::Replan(_)), "{finished:?}");
    assert_eq!(vip_holders().await, ["user1", "user4"], "nothing was applied");
    // The whole run plans again and applies [Sales] alone.
    assert_eq!(roster_server::import::run_session(&db, &work).await.unwrap(), roster_server::import::RunOutcome::Applied);
    let session = w.app.wait_for_session(&w.admin, id).await;
    session_succeeded(&session);
    assert_eq!(session.counts.updated, 2, "{session:?}");
    assert!(vip_holders().await.is_empty());
    assert_eq!(w.changes(id).await.len(), 2);
    assert_eq!(staged_rows(&db, token).await, 0, "a run clears its staged plan when it ends");
}

/// Rows of run `run`'s staged plan still in the database.
/// A first import (the job holds no user) is written batch by batch as
/// it is planned, inside the session's one transaction, nothing staged:
/// every user with its fields, activity and accesses, the session's
/// changes in order, and a re-import (which compares what was written)
/// finds nothing to change.
async fn a_first_import_is_written_as_it_is_planned(engine: Engine) {
    let w = world_with(engine, Limits { import_batch_users: 3, ..Limits::default() }).await;
    w.link_sales_to_basic_access().await;
    // Ten users over four batches; user4 is disabled; user10 is in no linked group (not imported).
    let mut records: Vec<Record> = (1..=10).map(|n| user(n, "OU=Staff", if n == 4 { 514 } else { 512 })).collect();
    records.push(group(200, "Sales", &(1..=9).collect::<Vec<_>>()));
    let session = w.first_import(&records).await;
    assert_eq!((session.counts.created, session.counts.not_linked), (9, 1), "{session:?}");

    let users = w.users().await;
    let mut names: Vec<&str> = users.iter().map(|u| u.username.as_str()).collect();
    names.sort();
    assert_eq!(names, ["user1", "user2", "user3", "user4", "user5", "user6", "user7", "user8", "user9"]);
    for u in &users {
        let n: u32 = u.username.trim_start_matches("user").parse().unwrap();
        assert_eq!(u.active, n != 4, "{u:?}");
        assert_eq!(u.accesses.iter().map(|a| a.id).collect::<Vec<_>>(), [w.user_access.id], "{u:?}");
        assert_eq!(u.object_guid, guid(n), "{u:?}");
    }
    let changes = w.changes(session.id).await;
    assert_eq!(changes.len(), 9);
    for change in &changes {
        assert_eq!(change.action, ChangeAction::Created, "{change:?}");
        let user = users.iter().find(|u| Some(u.id) == change.user_id).expect("each change names the user it created");
        assert_eq!(change.username, user.username);
    }

    let again = w.import().await;
    session_succeeded(&again);
    assert_eq!((again.counts.created, again.counts.updated, again.counts.unchanged), (0, 0, 9), "{again:?}");
}

/// A first import whose write fails part-way leaves nothing (no user, no
/// change: it is one transaction), its session names the cause, and the
/// next import creates every user.
async fn a_first_import_that_fails_part_way_leaves_nothing(engine: Engine) {
    let w = world_with(engine, Limits { import_batch_users: 3, ..Limits::default() }).await;
    w.link_sales_to_basic_access().await;
    // The database refuses user7, in the third batch.
    let (refuse, allow) = match engine {
        Engine::Sqlite => (
            "CREATE TRIGGER refuse_user7 BEFORE INSERT ON users WHEN NEW.username = 'user7'
             BEGIN SELECT RAISE(ABORT, 'user7 is refused'); END",
            "DROP TRIGGER refuse_user7",
        ),
        Engine::Postgres => (
            "CREATE FUNCTION refuse_user7() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN IF NEW.username = 'user7' THEN RAISE EXCEPTION 'user7 is refused'; END IF; RETURN NEW; END $$;
             CREATE TRIGGER refuse_user7 BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION refuse_user7()",
            "DROP TRIGGER refuse_user7 ON users",
        ),
    };
    sqlx::raw_sql(refuse).execute(&w.app.db.pool).await.unwrap();
    let session = w.agent.push(&w.app, &staff(1..=10)).await.session.expect("the first push imports");
    let failed = w.app.wait_for_session(&w.admin, session.id).await;
    assert_eq!(failed.status, SessionStatus::Failed, "{failed:?}");
    assert!(failed.error.as_deref().is_some_and(|e| e.contains("user7 is refused")), "{failed:?}");
    assert!(w.users().await.is_empty(), "nothing of the failed import stays");
    assert!(w.changes(session.id).await.is_empty());

    sqlx::raw_sql(allow).execute(&w.app.db.pool).await.unwrap();
    let next = w.import().await;
    session_succeeded(&next);
    assert_eq!(next.counts.created, 10);
    assert_eq!(w.users().await.len(), 10);
}

async fn staged_rows(db: &roster_server::db::Db, run: Uuid) -> i64 {
    let mut rows = 0;
    for table in ["staged_changes", "staged_accesses"] {
        let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table} WHERE run_id = $1")))
            .bind(run.to_string())
            .fetch_one(&db.pool)
            .await
            .unwrap();
        rows += count;
    }
    rows
}

/// Housekeeping never purges the users of a job whose import is running
/// (the import would have to plan again: here it brings one of them back),
/// and it sweeps the staged plan of a run that ended without clearing it.
async fn housekeeping_leaves_a_running_import_alone_and_sweeps_after_it(engine: Engine) {
    use roster_server::import::{Finished, RunOutcome, finish_staged, plan_staged};
    let w = world(engine).await;
    w.link_sales_to_basic_access().await;
    let first = w.first_import(&staff(1..=3)).await;
    w.push_full(&staff(1..=2), 1001).await;
    assert_eq!(w.import().await.counts.deactivated, 1, "user3 left");
    w.push_full(&staff(1..=3), 1002).await;
    let db = roster_server::db::Db::connect(&w.app.database_url).await.unwrap();
    let tenant = roster_server::store::tenants::tenant_for_admin_token(&db, &w.admin).await.unwrap().unwrap();
    let token = Uuid::new_v4();
    let id = running_session(&db, tenant, w.job.id, first.snapshot_id.unwrap(), token, 0).await;
    let work = roster_server::store::sessions::work(&db, id, token).await.unwrap().unwrap();
    let planned = plan_staged(&db, &work, 2).await.unwrap().expect("the run holds its session");
    assert!(staged_rows(&db, token).await > 0);

    // A purge of everyone inactive since before tomorrow (user3), while the
    // import that brings user3 back runs. (Housekeeping a month ahead would
    // also find the session silent, on PostgreSQL, and re-queue it.)
    let tomorrow = roster_server::store::UnixMillis(now_ms() + DAY_MS);
    assert_eq!(roster_server::store::purge::purge_inactive(&db, tenant, tomorrow).await.unwrap(), 0);
    let finished = finish_staged(&db, &work, planned, false).await.unwrap();
    assert!(matches!(finished, Finished::Outcome(RunOutcome::Applied)), "{finished:?}");
    let session = w.app.wait_for_session(&w.admin, id).await;
    session_succeeded(&session);
    assert_eq!(session.counts.reactivated, 1, "{session:?}");
    assert!(w.user(3).await.expect("user3 was not purged").active);

    // `finish_staged` alone leaves the run's staged rows; housekeeping sweeps them.
    assert!(staged_rows(&db, token).await > 0);
    w.housekeeping_at(now_ms()).await;
    assert_eq!(staged_rows(&db, token).await, 0);
}

/// Access kinds other than `user` never make a user.
async fn vip_only_users_stay_out(engine: Engine) {
    let w = world(engine).await;
    let links = vec![LinkInput { group: format!("CN=VIP,OU=Groups,{BASE}"), access_id: w.vip_access.id }];
    let _: LinksSaved = w.app.put(&format!("/api/v1/jobs/{}/links", w.job.id), &w.admin, &links).await.json();
    let session = w.agent.push(&w.app, &[user(1, "OU=Staff", 512), group(300, "VIP", &[1])]).await.session.unwrap();
    let session = w.app.wait_for_session(&w.admin, session.id).await;
    session_succeeded(&session);
    assert_eq!((session.counts.created, session.counts.not_linked), (0, 1));
    assert_eq!(w.vip_access.kind, AccessKind::Vip);
}

on_both_engines!(
    a_dry_run_plans_and_applies_nothing,
    the_safeguard_holds_a_mass_deactivation_until_approved,
    an_approval_of_a_stale_plan_plans_again,
    a_rejected_plan_applies_nothing_and_newer_runs_supersede_held_ones,
    an_empty_directory_is_always_held,
    the_policy_is_per_job_and_checked,
    deactivated_users_return_within_the_grace_period_and_are_purged_after_it,
    sessions_are_kept_until_their_retention,
    saving_links_previews_who_gains_and_loses,
    a_link_follows_its_group_through_a_rename,
    structure_and_explain_read_the_stored_directory,
    a_full_snapshot_is_counted_as_it_is_staged,
    a_delta_of_users_moves_the_kept_count,
    vip_only_users_stay_out,
    small_batches_plan_what_one_batch_plans,
    a_link_by_name_resolves_to_one_group,
    replicas_run_one_import_of_a_job_at_a_time,
    a_run_that_lost_its_claim_records_nothing,
    what_changes_between_plan_and_apply_is_planned_again,
    housekeeping_leaves_a_running_import_alone_and_sweeps_after_it,
    a_first_import_is_written_as_it_is_planned,
    a_first_import_that_fails_part_way_leaves_nothing,
);
