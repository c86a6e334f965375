//! The admin and agent APIs against the real server on port 0, each test
//! on a fresh SQLite file and a fresh PostgreSQL database. The agent side is
//! played in-process with the same signing code the agent uses.

// A failed unwrap is a failed test, which is what we want here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use reqwest::Method;
use roster_proto::AccessId;
use roster_proto::SnapshotId;
use roster_proto::admin::{
    Access, AccessKind, ChangeDetail, CreateAccess, CreateJob, DeactivationReason, Job, Link, LinkInput, LinksSaved, Page,
    RegistrationToken, Schedule, Session, SessionChange, User,
};
use roster_proto::agent::{AgentJob, CommitResponse, OfferResponse, OfferSnapshot, RegisterRequest, SnapshotState, SnapshotStatus};
use roster_proto::insight::Explanation;
use roster_proto::manifest::SnapshotKind;
use roster_proto::problem::ProblemKind;
use roster_proto::records::{DeletedRecord, GroupMembersRecord, Record};
use roster_server::settings::Limits;
use roster_snapshot::keys::AgentKey;
use support::world::*;
use support::{Engine, session_succeeded, spawn_app, spawn_app_with};
use uuid::Uuid;

async fn admin_api_requires_a_valid_token(engine: Engine) {
    let app = spawn_app(engine).await;
    app.send(Method::GET, "/api/v1/jobs", None, None, false).await.assert_problem(401);
    app.get("/api/v1/jobs", "rst_admin_not-a-token").await.assert_problem(401);
    app.send(Method::GET, "/api/v1/jobs", Some(""), None, false).await.assert_problem(401);
    app.get("/no/such/route", "x").await.assert_problem(404);
    let tenant = app.create_tenant("Acme").await;
    app.get("/api/v1/users?limit=abc", &tenant.admin_token).await.assert_problem(400);
    app.get("/api/v1/users?limit=0", &tenant.admin_token).await.assert_problem(400);
    app.get("/api/v1/users?cursor=nonsense", &tenant.admin_token).await.assert_problem(400);
}

async fn jobs_validate_their_input(engine: Engine) {
    let app = spawn_app(engine).await;
    let admin = app.create_tenant("Acme").await.admin_token;
    let job = |name: &str, paths: &[&str], daily_at: Option<&str>| CreateJob {
        name: name.into(),
        relative_paths: paths.iter().map(|s| s.to_string()).collect(),
        group_paths: vec![],
        schedule: daily_at.map(|at| Schedule { daily_at: at.parse().unwrap(), ..Schedule::default() }),
        full_sync_interval_days: None,
        user_filter: None,
        policy: None,
        sync_mode: None,
    };
    app.post("/api/v1/jobs", Some(&admin), &job("", &["*"], None)).await.assert_problem(422);
    app.post("/api/v1/jobs", Some(&admin), &job("a", &[], None)).await.assert_problem(422);
    app.post("/api/v1/jobs", Some(&admin), &job("a", &["Staff"], None)).await.assert_problem(422);
    let bad_time = serde_json::json!({"name": "a", "relative_paths": ["*"], "schedule": {"daily_at": "25:00", "time_zone": "UTC"}});
    app.post("/api/v1/jobs", Some(&admin), &bad_time).await.assert_problem(422);
    let bad_filter = CreateJob { user_filter: Some("department=Sales".into()), ..job("a", &["*"], None) };
    let problem = app.post("/api/v1/jobs", Some(&admin), &bad_filter).await;
    problem.assert_problem(422);
    assert!(problem.body["detail"].as_str().unwrap().contains("parentheses"), "{}", problem.body);
    let bad_interval = CreateJob { full_sync_interval_days: Some(0), ..job("a", &["*"], None) };
    app.post("/api/v1/jobs", Some(&admin), &bad_interval).await.assert_problem(422);
    app.post("/api/v1/jobs", Some(&admin), &serde_json::json!({"name": "a"})).await.assert_problem(422);
    app.send(Method::POST, "/api/v1/jobs", Some(&admin), Some("{not json".into()), true).await.assert_problem(400);
    let created = app.post("/api/v1/jobs", Some(&admin), &job("corp", &["OU=Staff", "*"], Some("03:15"))).await;
    assert_eq!(created.status, 201);
    let created: Job = created.json();
    assert_eq!(created.schedule, Schedule { daily_at: "03:15".parse().unwrap(), ..Schedule::default() });
    app.post("/api/v1/jobs", Some(&admin), &job("corp", &["*"], None)).await.assert_problem(409).assert_kind(ProblemKind::JobNameTaken);
    let listed: Page<Job> = app.get("/api/v1/jobs", &admin).await.json();
    assert_eq!(listed.items, vec![created.clone()]);
    // Jobs page like every list, in creation order.
    let mut names = vec!["corp".to_owned()];
    for n in 0..4 {
        let name = format!("domain-{n}");
        app.post("/api/v1/jobs", Some(&admin), &job(&name, &["*"], None)).await;
        names.push(name);
    }
    let first: Page<Job> = app.get("/api/v1/jobs?limit=3", &admin).await.json();
    let rest: Page<Job> = app.get(&format!("/api/v1/jobs?limit=3&cursor={}", first.next_cursor.unwrap()), &admin).await.json();
    assert!(rest.next_cursor.is_none());
    assert_eq!(first.items.iter().chain(&rest.items).map(|j| j.name.clone()).collect::<Vec<_>>(), names);
    app.get(&format!("/api/v1/jobs/{}", Uuid::new_v4()), &admin).await.assert_problem(404);
    app.get("/api/v1/jobs/not-a-uuid", &admin).await.assert_problem(404);
}

/// `PATCH` changes the members given and keeps the others, checks the
/// result as a new job is checked, and refuses another job's name; a
/// changed scope makes the agent's next snapshot full.
async fn jobs_can_be_changed(engine: Engine) {
    let w = world(engine).await;
    let path = format!("/api/v1/jobs/{}", w.job.id);
    create_staff_job(&w.app, &w.admin, "other").await;
    let answer = w.app.patch(&path, &w.admin, &serde_json::json!({})).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json::<Job>(), w.job, "an empty change changes nothing");
    assert_eq!(w.app.get(&path, &w.admin).await.json::<Job>(), w.job);

    let too_generous = serde_json::json!({"max_deactivations": {"count": 1, "percent": 101}, "max_lost_basic": {"count": 1, "percent": 1}, "min_active_users": 0});
    for (body, status, kind) in [
        (serde_json::json!({"name": " "}), 422, ProblemKind::InvalidJob),
        (serde_json::json!({"name": " other"}), 409, ProblemKind::JobNameTaken),
        (serde_json::json!({"relative_paths": []}), 422, ProblemKind::InvalidJob),
        (serde_json::json!({"relative_paths": ["Staff"]}), 422, ProblemKind::InvalidJob),
        (serde_json::json!({"schedule": {"daily_at": "24:00", "time_zone": "UTC"}}), 422, ProblemKind::InvalidBody),
        (serde_json::json!({"schedule": {"daily_at": "02:00", "time_zone": "Mars/Olympus"}}), 422, ProblemKind::InvalidJob),
        (serde_json::json!({"schedule": {"daily_at": "02:00", "time_zone": "UTC", "interval_minutes": 4}}), 422, ProblemKind::InvalidJob),
        (
            serde_json::json!({"schedule": {"daily_at": "02:00", "time_zone": "UTC", "interval_minutes": 1441}}),
            422,
            ProblemKind::InvalidJob,
        ),
        (serde_json::json!({"schedule": {"daily_at": "02:00"}}), 422, ProblemKind::InvalidBody),
        (serde_json::json!({"full_sync_interval_days": 0}), 422, ProblemKind::InvalidJob),
        (serde_json::json!({"user_filter": "department=Sales"}), 422, ProblemKind::InvalidJob),
        (serde_json::json!({"user_filter": " ".repeat(5000)}), 422, ProblemKind::InvalidJob),
        (serde_json::json!({"policy": too_generous}), 422, ProblemKind::InvalidPolicy),
        (serde_json::json!({"name": null}), 422, ProblemKind::InvalidBody),
        (serde_json::json!({"nickname": "corp"}), 422, ProblemKind::InvalidBody),
    ] {
        let answer = w.app.patch(&path, &w.admin, &body).await;
        answer.assert_problem(status).assert_kind(kind);
        assert!(answer.body["detail"].as_str().is_some_and(|d| !d.is_empty()), "{body}: {}", answer.body);
    }
    assert_eq!(w.app.get(&path, &w.admin).await.json::<Job>(), w.job, "a refused change changes nothing");

    let changed: Job = w
        .app
        .patch(
            &path,
            &w.admin,
            &serde_json::json!({"name": " Staff (DK) ", "schedule": {"daily_at": "04:30", "time_zone": "europe/copenhagen", "interval_minutes": 60}, "full_sync_interval_days": 3, "user_filter": "(department=Sales)", "group_paths": ["OU=Groups"]}),
        )
        .await
        .json();
    assert_eq!(changed.name, "Staff (DK)");
    let copenhagen =
        Schedule { enabled: true, daily_at: "04:30".parse().unwrap(), time_zone: "Europe/Copenhagen".into(), interval_minutes: Some(60) };
    assert_eq!(changed.schedule, copenhagen, "the zone as the time zone database spells it");
    assert_eq!((changed.full_sync_interval_days, changed.user_filter.as_deref()), (3, Some("(department=Sales)")));
    assert_eq!(
        (changed.group_paths.clone(), changed.relative_paths.clone(), changed.policy),
        (vec!["OU=Groups".to_owned()], w.job.relative_paths.clone(), w.job.policy)
    );
    assert_eq!((changed.id, changed.created_at), (w.job.id, w.job.created_at));
    assert_eq!(w.app.get(&path, &w.admin).await.json::<Job>(), changed);
    let cleared: Job = w.app.patch(&path, &w.admin, &serde_json::json!({"user_filter": "  "})).await.json();
    assert_eq!(cleared.user_filter, None, "a blank filter removes it");
    // The old name is free again.
    create_staff_job(&w.app, &w.admin, "corp").await;

    // A changed scope makes the next snapshot full (on a job whose scope
    // has not changed yet).
    let scoped = create_staff_job(&w.app, &w.admin, "scoped").await;
    let agent = register(&w.app, &w.admin, scoped.id).await;
    agent.push(&w.app, &[user(1, "OU=Staff", 512)]).await;
    let job: AgentJob = agent.get(&w.app, "/agent/v1/job").await.json();
    assert_eq!(job.sync.full_required, None, "{job:?}");
    let scoped_path = format!("/api/v1/jobs/{}", scoped.id);
    w.app.patch(&scoped_path, &w.admin, &serde_json::json!({"relative_paths": ["OU=Staff", "OU=Contractors"]})).await;
    let job: AgentJob = agent.get(&w.app, "/agent/v1/job").await.json();
    assert!(job.sync.full_required.is_some(), "{job:?}");
    assert_eq!(job.scope.relative_paths, ["OU=Staff", "OU=Contractors"]);
    // A full snapshot whose read began before the change (within the agents'
    // clock margin, as this one's did) was read with the old scope: the next
    // one must still be full.
    agent.push_as(&w.app, &[user(1, "OU=Staff", 512)], SnapshotKind::Full, None, watermark(2000)).await;
    let job: AgentJob = agent.get(&w.app, "/agent/v1/job").await.json();
    assert!(job.sync.full_required.is_some(), "a snapshot read with the old scope stands for the new: {job:?}");

    // A member left alone is not checked again: a name stored before today's
    // rules (decomposed, NFD) survives a change of the policy.
    let db = roster_server::db::Db::connect(&w.app.database_url).await.unwrap();
    sqlx::query("UPDATE jobs SET name = $1 WHERE id = $2")
        .bind("Cafe\u{301}")
        .bind(w.job.id.to_string())
        .execute(&mut *db.writer().await.unwrap())
        .await
        .unwrap();
    let kept: Job = w.app.patch(&path, &w.admin, &serde_json::json!({"policy": w.job.policy})).await.json();
    assert_eq!(kept.name, "Cafe\u{301}");
    let unknown = format!("/api/v1/jobs/{}", Uuid::new_v4());
    w.app.patch(&unknown, &w.admin, &serde_json::json!({})).await.assert_problem(404);
}

/// A job with active users cannot be deleted. Once none is active it can:
/// its agents are refused, it is no longer found or listed, its sessions
/// and inactive users stay readable, its registration tokens no longer
/// register, and its name is free.
async fn jobs_are_deleted_once_no_user_is_active(engine: Engine) {
    let w = world(engine).await;
    w.link_sales_to_basic_access().await;
    let path = format!("/api/v1/jobs/{}", w.job.id);
    let first = w.agent.push(&w.app, &[user(1, "OU=Staff", 512), group(200, "Sales", &[1])]).await.session.unwrap();
    let first = w.app.wait_for_session(&w.admin, first.id).await;
    session_succeeded(&first);
    let refused = w.app.delete(&path, &w.admin).await;
    refused.assert_problem(409).assert_kind(ProblemKind::JobHasActiveUsers);
    assert!(refused.body["detail"].as_str().unwrap().contains("active users (1)"), "{}", refused.body);
    assert_eq!(w.app.get(&path, &w.admin).await.status, 200, "a refused delete deletes nothing");

    // Unlinked and imported: nobody is active.
    w.app.put(&format!("{path}/links"), &w.admin, &Vec::<LinkInput>::new()).await;
    let answer = w.app.post(&format!("{path}/imports"), Some(&w.admin), &serde_json::json!({})).await;
    let unlinked = w.app.wait_for_session(&w.admin, answer.json::<Session>().id).await;
    session_succeeded(&unlinked);
    assert_eq!(unlinked.counts.deactivated, 1, "{unlinked:?}");
    let token: RegistrationToken = w.app.post(&format!("{path}/registration-tokens"), Some(&w.admin), &()).await.json();
    // A held plan waiting for an admin (made by hand: the worker takes only queued sessions).
    let db = roster_server::db::Db::connect(&w.app.database_url).await.unwrap();
    let tenant = roster_server::store::tenants::tenant_for_admin_token(&db, &w.admin).await.unwrap().unwrap();
    let held = {
        let mut tx = db.begin_write().await.unwrap();
        let id = roster_server::store::sessions::insert_session(
            &mut tx,
            tenant,
            w.job.id,
            first.snapshot_id.unwrap(),
            first.manifest_sha256.as_ref().unwrap(),
            roster_proto::admin::SessionTrigger::Manual,
        )
        .await
        .unwrap();
        sqlx::query("UPDATE sessions SET status = 'held' WHERE id = $1").bind(id.to_string()).execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
        id
    };
    let deleted = w.app.delete(&path, &w.admin).await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);

    w.app.get(&path, &w.admin).await.assert_problem(404);
    w.app.patch(&path, &w.admin, &serde_json::json!({})).await.assert_problem(404);
    w.app.delete(&path, &w.admin).await.assert_problem(404);
    let listed: Page<Job> = w.app.get("/api/v1/jobs", &w.admin).await.json();
    assert!(listed.items.is_empty(), "{listed:?}");
    w.agent.get(&w.app, "/agent/v1/job").await.assert_problem(401);
    let agents: Page<roster_proto::admin::Agent> = w.app.get("/api/v1/agents", &w.admin).await.json();
    assert!(!agents.items.is_empty() && agents.items.iter().all(|a| a.revoked_at.is_some()), "{agents:?}");
    let key = AgentKey::generate().unwrap();
    let register = RegisterRequest { token: token.token, public_key: key.public_key().to_base64(), hostname: None, agent_version: None };
    w.app.post("/agent/v1/register", None, &register).await.assert_problem(401);
    for session in [first.id, unlinked.id] {
        assert_eq!(w.app.get(&format!("/api/v1/sessions/{session}"), &w.admin).await.status, 200, "sessions stay readable");
    }
    let held: Session = w.app.get(&format!("/api/v1/sessions/{held}"), &w.admin).await.json();
    assert_eq!((held.status, held.error.as_deref()), (roster_proto::admin::SessionStatus::Failed, Some("the job was deleted")), "{held:?}");
    let users: Page<User> = w.app.get("/api/v1/users", &w.admin).await.json();
    assert_eq!(users.items.len(), 1);
    assert!(!users.items[0].active, "the inactive user stays until the grace period ends");
    let again = create_staff_job(&w.app, &w.admin, "corp").await;
    assert_ne!(again.id, w.job.id);

    // What the directory held goes with it: its chunks at once, its objects at the next housekeeping.
    let db = roster_server::db::Db::connect(&w.app.database_url).await.unwrap();
    roster_server::import::housekeeping(&db, &Limits::default()).await.unwrap();
    for table in ["snapshot_chunks", "directory_objects", "directory_members", "directory_state", "links", "registration_tokens"] {
        let rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table} WHERE job_id = $1")))
            .bind(w.job.id.to_string())
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert_eq!(rows, 0, "{table} still holds the deleted job's rows");
    }
}

/// Accesses are renamed (their kind stays; a name another access of the
/// kind has is refused) and deleted once no link grants and no user holds them.
async fn accesses_are_renamed_and_unused_ones_deleted(engine: Engine) {
    let w = world(engine).await;
    w.link_sales_to_basic_access().await;
    let path = |id: AccessId| format!("/api/v1/accesses/{id}");
    let renamed: Access = w.app.patch(&path(w.vip_access.id), &w.admin, &serde_json::json!({"name": " VIP lounge "})).await.json();
    assert_eq!(renamed, Access { name: "VIP lounge".into(), ..w.vip_access.clone() });
    let spare: Access =
        w.app.post("/api/v1/accesses", Some(&w.admin), &CreateAccess { kind: AccessKind::Vip, name: "Spare".into() }).await.json();
    w.app
        .patch(&path(spare.id), &w.admin, &serde_json::json!({"name": "VIP lounge"}))
        .await
        .assert_problem(409)
        .assert_kind(ProblemKind::AccessNameTaken);
    for body in [serde_json::json!({"name": ""}), serde_json::json!({"name": null}), serde_json::json!({"kind": "user", "name": "x"})] {
        w.app.patch(&path(spare.id), &w.admin, &body).await.assert_problem(422);
    }
    // Another kind may have the name.
    let user_named: Access = w.app.patch(&path(w.user_access.id), &w.admin, &serde_json::json!({"name": "VIP lounge"})).await.json();
    assert_eq!((user_named.kind, user_named.name.as_str()), (AccessKind::User, "VIP lounge"));
    for unknown in [path(AccessId::from(Uuid::new_v4())), "/api/v1/accesses/not-a-uuid".to_owned()] {
        w.app.patch(&unknown, &w.admin, &serde_json::json!({"name": "x"})).await.assert_problem(404);
        w.app.delete(&unknown, &w.admin).await.assert_problem(404);
    }
    let stranger = w.app.create_tenant("Globex").await.admin_token;
    w.app.patch(&path(spare.id), &stranger, &serde_json::json!({"name": "mine"})).await.assert_problem(404);
    w.app.delete(&path(spare.id), &stranger).await.assert_problem(404);

    // Linked: refused. Unlinked but still held by a user: refused too.
    let linked = w.app.delete(&path(w.user_access.id), &w.admin).await;
    linked.assert_problem(409).assert_kind(ProblemKind::AccessInUse);
    assert!(linked.body["detail"].as_str().unwrap().contains("links granting it: 1"), "{}", linked.body);
    let session = w.agent.push(&w.app, &[user(1, "OU=Staff", 512), group(200, "Sales", &[1])]).await.session.unwrap();
    session_succeeded(&w.app.wait_for_session(&w.admin, session.id).await);
    w.app.put(&format!("/api/v1/jobs/{}/links", w.job.id), &w.admin, &Vec::<LinkInput>::new()).await;
    let held = w.app.delete(&path(w.user_access.id), &w.admin).await;
    held.assert_problem(409).assert_kind(ProblemKind::AccessInUse);
    assert!(held.body["detail"].as_str().unwrap().contains("users holding it: 1"), "{}", held.body);

    assert_eq!(w.app.delete(&path(spare.id), &w.admin).await.status, 204);
    w.app.delete(&path(spare.id), &w.admin).await.assert_problem(404);
    let listed: Page<Access> = w.app.get("/api/v1/accesses", &w.admin).await.json();
    assert_eq!(listed.items.len(), 2);
    assert!(listed.items.iter().all(|a| a.id != spare.id));
}

async fn links_are_checked_and_kept_in_order(engine: Engine) {
    let w = world(engine).await;
    let links_path = format!("/api/v1/jobs/{}/links", w.job.id);
    let bad = vec![
        LinkInput { group: "CN=Sales,corp".into(), access_id: w.user_access.id },
        LinkInput { group: format!("CN=Sales,{BASE}"), access_id: AccessId::new() },
    ];
    let problem = w.app.put(&links_path, &w.admin, &bad).await;
    problem.assert_problem(422);
    let detail = problem.body["detail"].as_str().unwrap();
    assert!(detail.contains("links[0].group") && detail.contains("links[1].access_id"), "{detail}");
    let good = vec![
        LinkInput { group: format!("CN=All-Staff,OU=Groups,{BASE}"), access_id: w.user_access.id },
        LinkInput { group: guid(300).to_string(), access_id: w.vip_access.id },
    ];
    let answer: LinksSaved = w.app.put(&links_path, &w.admin, &good).await.json();
    assert!(answer.preview.gains.is_empty() && answer.preview.losses.is_empty());
    assert!(answer.preview.notes.iter().any(|n| n.contains("no snapshot yet")), "{:?}", answer.preview.notes);
    let saved = answer.links;
    assert_eq!(
        saved.iter().map(|l| (&l.group, l.access_id)).collect::<Vec<_>>(),
        good.iter().map(|l| (&l.group, l.access_id)).collect::<Vec<_>>()
    );
    assert_eq!(saved[1].group_guid, Some(guid(300)));
    let read: Vec<Link> = w.app.get(&links_path, &w.admin).await.json();
    assert_eq!(read, saved);
    // Accesses are idempotent by kind and name.
    let again = w.app.post("/api/v1/accesses", Some(&w.admin), &CreateAccess { kind: AccessKind::User, name: "Copenhagen".into() }).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json::<Access>(), w.user_access);
    // A body is an object: serde alone would read `[kind, name]` as one.
    let array = serde_json::json!(["user", "Zealand"]);
    w.app.post("/api/v1/accesses", Some(&w.admin), &array).await.assert_problem(422);
    // Accesses page in (kind, name) order.
    for name in ["Aarhus", "Odense", "Zealand"] {
        w.app.post("/api/v1/accesses", Some(&w.admin), &CreateAccess { kind: AccessKind::User, name: name.into() }).await;
    }
    let mut seen = Vec::new();
    let mut path = "/api/v1/accesses?limit=2".to_owned();
    loop {
        let page: Page<Access> = w.app.get(&path, &w.admin).await.json();
        seen.extend(page.items.iter().map(|a| (a.kind, a.name.clone())));
        match page.next_cursor {
            Some(c) => path = format!("/api/v1/accesses?limit=2&cursor={c}"),
            None => break,
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted);
    assert_eq!(seen.len(), 5);
    w.app.get("/api/v1/accesses?cursor=AAAA", &w.admin).await.assert_problem(400);
}

async fn first_snapshot_is_imported_at_once_with_nested_links(engine: Engine) {
    let w = world(engine).await;
    // Links set by DN before any snapshot exists.
    let links = vec![
        LinkInput { group: format!("CN=All-Staff,OU=Groups,{BASE}"), access_id: w.user_access.id },
        LinkInput { group: format!("cn=vip, ou=groups, {BASE}"), access_id: w.vip_access.id },
    ];
    w.app.put(&format!("/api/v1/jobs/{}/links", w.job.id), &w.admin, &links).await;
    let job: AgentJob = w.agent.get(&w.app, "/agent/v1/job").await.json();
    assert_eq!(job.scope.relative_paths, vec!["OU=Staff".to_owned()]);

    // 1..=60 in OU=Staff (every 10th disabled), 61 outside scope; All-Staff ⊃ Sales ⊃ users.
    let mut records: Vec<Record> = (1..=60).map(|n| user(n, "OU=Staff", if n % 10 == 0 { 514 } else { 512 })).collect();
    records.push(user(61, "OU=External", 512));
    records.push(group(200, "Sales", &(1..=50).collect::<Vec<_>>()));
    records.push(group(201, "All-Staff", &[200, 61, 202]));
    records.push(group(202, "Loop", &[201]));
    records.push(group(203, "VIP", &[2, 55]));
    let commit = w.agent.push(&w.app, &records).await;
    let session = commit.session.expect("the first snapshot starts an import");
    let session = w.app.wait_for_session(&w.admin, session.id).await;
    session_succeeded(&session);
    assert_eq!((session.counts.created, session.counts.not_linked), (50, 10), "{session:?}");

    let users = all_users(&w.app, &w.admin, w.job.id, 7).await;
    assert_eq!(users.len(), 50);
    let by_name = |name: &str| users.iter().find(|u| u.username == name);
    let u2 = by_name("user2").unwrap();
    let mut kinds: Vec<AccessKind> = u2.accesses.iter().map(|a| a.kind).collect();
    kinds.sort();
    assert_eq!(kinds, vec![AccessKind::User, AccessKind::Vip]);
    assert!(u2.active);
    assert!(!by_name("user10").unwrap().active, "disabled in AD");
    assert!(by_name("user55").is_none(), "VIP alone is no basic access");
    assert!(by_name("user61").is_none(), "out of scope, whatever its groups");
    let read: Vec<Link> = w.app.get(&format!("/api/v1/jobs/{}/links", w.job.id), &w.admin).await.json();
    assert_eq!(read[0].group_guid, Some(guid(201)));

    let changes: Page<SessionChange> = w.app.get(&format!("/api/v1/sessions/{}/changes?limit=20", session.id), &w.admin).await.json();
    assert_eq!(changes.items.len(), 20);
    assert!(changes.next_cursor.is_some());

    // A second snapshot is stored, not imported; a manual import then changes nothing.
    let commit = w.agent.push(&w.app, &records).await;
    assert!(commit.session.is_none(), "{}", commit.message);
    let manual = w.app.post(&format!("/api/v1/jobs/{}/imports", w.job.id), Some(&w.admin), &serde_json::json!({})).await;
    assert_eq!(manual.status, 202);
    let manual = w.app.wait_for_session(&w.admin, manual.json::<Session>().id).await;
    session_succeeded(&manual);
    assert_eq!((manual.counts.created, manual.counts.unchanged, manual.counts.updated), (0, 50, 0));
    let sessions: Page<Session> = w.app.get(&format!("/api/v1/jobs/{}/sessions?limit=1", w.job.id), &w.admin).await.json();
    assert_eq!(sessions.items[0].id, manual.id);
    let older: Page<Session> =
        w.app.get(&format!("/api/v1/jobs/{}/sessions?limit=1&cursor={}", w.job.id, sessions.next_cursor.unwrap()), &w.admin).await.json();
    assert_eq!(older.items[0].id, session.id);
    assert!(older.next_cursor.is_none());
}

async fn without_links_nobody_is_imported_and_the_session_says_why(engine: Engine) {
    let w = world(engine).await;
    let records = vec![user(1, "OU=Staff", 512), group(200, "Sales", &[1])];
    let session = w.agent.push(&w.app, &records).await.session.unwrap();
    let session = w.app.wait_for_session(&w.admin, session.id).await;
    session_succeeded(&session);
    assert_eq!(session.counts.not_linked, 1);
    assert!(session.notes.iter().any(|n| n.contains("no links")), "{:?}", session.notes);
    assert!(all_users(&w.app, &w.admin, w.job.id, 100).await.is_empty());
}

async fn uploads_are_checked_against_the_signed_manifest(engine: Engine) {
    let w = world(engine).await;
    let records: Vec<Record> = (1..=40).map(|n| user(n, "OU=Staff", 512)).collect();
    let chunks = chunk(&records, 1024);
    assert!(chunks.len() >= 3);
    let manifest = w.agent.manifest(&chunks, &records);
    let snapshot = manifest.snapshot_id;
    let state: SnapshotState = w.agent.post(&w.app, "/agent/v1/snapshots", &w.agent.sign(&manifest)).await.json();
    assert_eq!(state.missing_chunks.len(), chunks.len());

    // Wrong bytes, wrong size, unknown index: refused, nothing stored.
    let mut tampered = chunks[0].bytes.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    w.agent.put_chunk(&w.app, snapshot, 0, tampered).await.assert_problem(422);
    w.agent.put_chunk(&w.app, snapshot, 0, chunks[1].bytes.clone()).await.assert_problem(422);
    w.agent.put_chunk(&w.app, snapshot, chunks.len() as u32, chunks[0].bytes.clone()).await.assert_problem(404);
    w.agent.put_chunk(&w.app, snapshot, 1, vec![0; 2 * 1024 * 1024]).await.assert_problem(413);
    // Committing with chunks missing is refused.
    w.agent
        .post(&w.app, &format!("/agent/v1/snapshots/{snapshot}/commit"), &())
        .await
        .assert_problem(409)
        .assert_kind(ProblemKind::ChunksMissing);

    // Resume: upload some, re-offer, the server asks only for the rest.
    w.agent.put_chunk(&w.app, snapshot, 0, chunks[0].bytes.clone()).await;
    w.agent.put_chunk(&w.app, snapshot, 0, chunks[0].bytes.clone()).await; // idempotent
    let state: SnapshotState = w.agent.post(&w.app, "/agent/v1/snapshots", &w.agent.sign(&manifest)).await.json();
    assert_eq!(state.missing_chunks, (1..chunks.len() as u32).collect::<Vec<_>>());
    for chunk in &chunks[1..] {
        assert_eq!(w.agent.put_chunk(&w.app, snapshot, chunk.index, chunk.bytes.clone()).await.status, 204);
    }
    let first: CommitResponse = w.agent.post(&w.app, &format!("/agent/v1/snapshots/{snapshot}/commit"), &()).await.json();
    let again: CommitResponse = w.agent.post(&w.app, &format!("/agent/v1/snapshots/{snapshot}/commit"), &()).await.json();
    assert_eq!(first.session.as_ref().map(|s| s.id), again.session.as_ref().map(|s| s.id), "a second commit answers the same session");

    // A manifest whose counts lie is refused at commit.
    let mut lying = w.agent.manifest(&chunks, &records);
    lying.counts.users += 1;
    w.agent.post(&w.app, "/agent/v1/snapshots", &w.agent.sign(&lying)).await;
    for chunk in &chunks {
        w.agent.put_chunk(&w.app, lying.snapshot_id, chunk.index, chunk.bytes.clone()).await;
    }
    w.agent.post(&w.app, &format!("/agent/v1/snapshots/{}/commit", lying.snapshot_id), &()).await.assert_problem(422);
}

async fn small_snapshots_travel_in_one_request(engine: Engine) {
    let w = world(engine).await;
    w.link_sales_to_basic_access().await;
    let state_of = |id: SnapshotId| format!("/agent/v1/snapshots/{id}");

    // The first snapshot: manifest, chunks and commit in one request, imported at once.
    let mut full: Vec<Record> = (1..=8).map(|n| user(n, "OU=Staff", 512)).collect();
    full.push(group(200, "Sales", &[1, 2, 3, 4, 5, 6, 7, 8]));
    let chunks = chunk(&full, 1024);
    assert!(chunks.len() >= 2, "several chunks, all inline");
    let manifest = w.agent.manifest(&chunks, &full);
    let answer: OfferResponse = w.agent.post(&w.app, "/agent/v1/snapshots", &w.agent.sign_inline(&manifest, &chunks, true)).await.json();
    assert_eq!((answer.state.status, answer.state.missing_chunks.len()), (SnapshotStatus::Committed, 0));
    let session = answer.commit.and_then(|c| c.session).expect("the first snapshot's import");
    session_succeeded(&w.app.wait_for_session(&w.admin, session.id).await);
    let users: Page<User> = w.app.get("/api/v1/users", &w.admin).await.json();
    assert_eq!(users.items.len(), 8);
    let advice = |job: AgentJob| job.sync;
    assert_eq!(advice(w.agent.get(&w.app, "/agent/v1/job").await.json()).base, Some(watermark(1000)));

    // A delta the same way moves the watermark; offered again (its answer lost, say) it is refused
    // for its base, and committing it again answers what its commit did.
    let change = vec![user(9, "OU=Staff", 512), group(200, "Sales", &[1, 2, 3, 4, 5, 6, 7, 8, 9])];
    let chunks = chunk(&change, 8192);
    let mut delta = w.agent.manifest(&chunks, &change);
    (delta.kind, delta.base, delta.watermark) = (SnapshotKind::Delta, Some(watermark(1000)), watermark(1010));
    let offer = w.agent.sign_inline(&delta, &chunks, true);
    let answer: OfferResponse = w.agent.post(&w.app, "/agent/v1/snapshots", &offer).await.json();
    let committed = answer.commit.expect("the commit's answer");
    assert_eq!(advice(w.agent.get(&w.app, "/agent/v1/job").await.json()).base, Some(watermark(1010)));
    w.agent.post(&w.app, "/agent/v1/snapshots", &offer).await.assert_problem(409).assert_kind(ProblemKind::DeltaBaseMismatch);
    let again: CommitResponse = w.agent.post(&w.app, &format!("/agent/v1/snapshots/{}/commit", delta.snapshot_id), &()).await.json();
    assert_eq!(again.session.map(|s| s.id), committed.session.map(|s| s.id));

    // Chunks that do not fit the manifest are refused before anything is stored.
    let records: Vec<Record> = (10..=30).map(|n| user(n, "OU=Staff", 512)).collect();
    let chunks = chunk(&records, 1024);
    assert!(chunks.len() >= 2);
    let manifest = w.agent.manifest(&chunks, &records);
    let refused = |offer: OfferSnapshot, why: &'static str| {
        let (w, manifest) = (&w, &manifest);
        async move {
            let answer = w.agent.post(&w.app, "/agent/v1/snapshots", &offer).await;
            assert_eq!(answer.status, 422, "{why}: {:?}", answer.body);
            answer.assert_kind(ProblemKind::ChunkMismatch);
            w.agent.get(&w.app, &state_of(manifest.snapshot_id)).await.assert_problem(404);
        }
    };
    let mut tampered = chunks[0].clone();
    let last = tampered.bytes.len() - 1;
    tampered.bytes[last] ^= 1;
    refused(w.agent.sign_inline(&manifest, &[tampered], true), "bytes that are not the manifest's").await;
    let mut elsewhere = chunks[0].clone();
    elsewhere.index = chunks.len() as u32;
    refused(w.agent.sign_inline(&manifest, &[elsewhere], false), "an index the manifest does not name").await;
    refused(w.agent.sign_inline(&manifest, &[chunks[0].clone(), chunks[0].clone()], false), "a chunk twice").await;
    let mut unpadded = w.agent.sign_inline(&manifest, &chunks[..1], false);
    unpadded.chunks[0].bytes = unpadded.chunks[0].bytes.trim_end_matches('=').to_owned() + "A";
    refused(unpadded, "bytes that are not canonical base64").await;
    let mut large = manifest.clone();
    for chunk in &mut large.chunks {
        chunk.size = 40_000;
    }
    let offer = w.agent.sign_inline(&large, &chunks, true);
    let answer = w.agent.post(&w.app, "/agent/v1/snapshots", &offer).await;
    answer.assert_problem(422).assert_kind(ProblemKind::ChunkMismatch);
    assert!(answer.body["detail"].as_str().unwrap().contains("at most 65536"), "{:?}", answer.body);

    // Asked to commit with a chunk neither inline nor uploaded: the commit's refusal, the rest kept.
    let answer = w.agent.post(&w.app, "/agent/v1/snapshots", &w.agent.sign_inline(&manifest, &chunks[..1], true)).await;
    answer.assert_problem(409).assert_kind(ProblemKind::ChunksMissing);
    let state: SnapshotState = w.agent.get(&w.app, &state_of(manifest.snapshot_id)).await.json();
    assert_eq!(state.missing_chunks, (1..chunks.len() as u32).collect::<Vec<_>>());
    let answer: OfferResponse =
        w.agent.post(&w.app, "/agent/v1/snapshots", &w.agent.sign_inline(&manifest, &chunks[1..], true)).await.json();
    assert_eq!(answer.state.status, SnapshotStatus::Committed);
    assert!(answer.commit.is_some());
}

async fn agent_tokens_are_bound_to_agent_request_and_key(engine: Engine) {
    let w = world(engine).await;
    let job_token = w.agent.token("GET", "/agent/v1/job");
    assert_eq!(w.app.send(Method::GET, "/agent/v1/job", Some(&job_token), None, false).await.status, 200);
    // The same token on another route, or with another method.
    w.app.send(Method::GET, "/agent/v1/sessions/x", Some(&job_token), None, false).await.assert_problem(401);
    w.app.send(Method::POST, "/agent/v1/snapshots", Some(&job_token), Some("{}".into()), true).await.assert_problem(401);
    w.app.send(Method::DELETE, "/agent/v1/job", Some(&job_token), None, false).await.assert_problem(405);
    // Signed by a key the server does not know for this agent.
    let impostor = Agent {
        key: AgentKey::generate().unwrap(),
        id: w.agent.id,
        audience: w.agent.audience.clone(),
        job_id: w.agent.job_id,
        fence: None,
    };
    impostor.get(&w.app, "/agent/v1/job").await.assert_problem(401);
    // For another server.
    let elsewhere =
        Agent { key: w.agent.key, id: w.agent.id, audience: "urn:roster:server:other".into(), job_id: w.agent.job_id, fence: None };
    elsewhere.get(&w.app, "/agent/v1/job").await.assert_problem(401);
    // No token, or an admin token, on the agent API.
    w.app.send(Method::GET, "/agent/v1/job", None, None, false).await.assert_problem(401);
    w.app.get("/agent/v1/job", &w.admin).await.assert_problem(401);
    // A public key that is not 32 bytes never reaches the verifier.
    let token: RegistrationToken = w.app.post(&format!("/api/v1/jobs/{}/registration-tokens", w.job.id), Some(&w.admin), &()).await.json();
    let bad = RegisterRequest { token: token.token, public_key: "AAAA".into(), hostname: None, agent_version: None };
    w.app.post("/agent/v1/register", None, &bad).await.assert_problem(422);
}

async fn tenants_cannot_see_each_other(engine: Engine) {
    let w = world(engine).await;
    let records = vec![user(1, "OU=Staff", 512), group(200, "Sales", &[1])];
    w.link_sales_to_basic_access().await;
    let session = w.agent.push(&w.app, &records).await.session.unwrap();
    w.app.wait_for_session(&w.admin, session.id).await;

    let other = w.app.create_tenant("Other").await.admin_token;
    let job = w.job.id;
    for path in [
        format!("/api/v1/jobs/{job}"),
        format!("/api/v1/jobs/{job}/links"),
        format!("/api/v1/jobs/{job}/sessions"),
        format!("/api/v1/sessions/{}", session.id),
        format!("/api/v1/sessions/{}/changes", session.id),
        format!("/api/v1/users?job={job}"),
    ] {
        w.app.get(&path, &other).await.assert_problem(404);
    }
    w.app.post(&format!("/api/v1/jobs/{job}/registration-tokens"), Some(&other), &()).await.assert_problem(404);
    w.app.post(&format!("/api/v1/jobs/{job}/imports"), Some(&other), &serde_json::json!({})).await.assert_problem(404);
    w.app.post(&format!("/api/v1/jobs/{job}/full-sync"), Some(&other), &()).await.assert_problem(404);
    w.app.get(&format!("/api/v1/agents?job={job}"), &other).await.assert_problem(404);
    w.app.post(&format!("/api/v1/agents/{}/revoke", w.agent.id), Some(&other), &()).await.assert_problem(404);
    w.app.put(&format!("/api/v1/jobs/{job}/links"), &other, &Vec::<LinkInput>::new()).await.assert_problem(404);
    let users: Page<User> = w.app.get("/api/v1/users", &other).await.json();
    assert!(users.items.is_empty());
    let accesses: Page<Access> = w.app.get("/api/v1/accesses", &other).await.json();
    assert!(accesses.items.is_empty());

    // An agent of another tenant's job sees neither this job's snapshots nor its sessions.
    let other_job: Job = w
        .app
        .post(
            "/api/v1/jobs",
            Some(&other),
            &CreateJob {
                name: "x".into(),
                relative_paths: vec!["*".into()],
                group_paths: vec![],
                schedule: None,
                full_sync_interval_days: None,
                user_filter: None,
                policy: None,
                sync_mode: None,
            },
        )
        .await
        .json();
    let stranger = register(&w.app, &other, other_job.id).await;
    stranger.get(&w.app, &format!("/agent/v1/sessions/{}", session.id)).await.assert_problem(404);
    let snapshot = session.snapshot_id.unwrap();
    stranger.get(&w.app, &format!("/agent/v1/snapshots/{snapshot}")).await.assert_problem(404);
    stranger.put_chunk(&w.app, snapshot, 0, vec![1, 2, 3]).await.assert_problem(404);
    stranger.post(&w.app, &format!("/agent/v1/snapshots/{snapshot}/commit"), &()).await.assert_problem(404);
    // Nor can it offer a manifest for the other job.
    let mut manifest = stranger.manifest(&chunk(&records, 4096), &records);
    manifest.job_id = job;
    stranger.post(&w.app, "/agent/v1/snapshots", &stranger.sign(&manifest)).await.assert_problem(404);
}

async fn departures_are_deactivated_on_the_next_import(engine: Engine) {
    let w = world(engine).await;
    w.link_sales_to_basic_access().await;
    let first = vec![user(1, "OU=Staff", 512), user(2, "OU=Staff", 512), user(3, "OU=Staff", 512), group(200, "Sales", &[1, 2, 3])];
    let session = w.agent.push(&w.app, &first).await.session.unwrap();
    session_succeeded(&w.app.wait_for_session(&w.admin, session.id).await);
    // user1 moves out of scope, user2 is disabled, user3 vanishes.
    let second = vec![user(1, "OU=External", 512), user(2, "OU=Staff", 514), group(200, "Sales", &[1, 2, 3])];
    assert!(w.agent.push(&w.app, &second).await.session.is_none());
    let manual: Session = w.app.post(&format!("/api/v1/jobs/{}/imports", w.job.id), Some(&w.admin), &serde_json::json!({})).await.json();
    let manual = w.app.wait_for_session(&w.admin, manual.id).await;
    session_succeeded(&manual);
    assert_eq!(manual.counts.deactivated, 3, "{manual:?}");
    let users = all_users(&w.app, &w.admin, w.job.id, 100).await;
    assert_eq!(users.len(), 3, "deactivated, never deleted");
    assert!(users.iter().all(|u| !u.active));
}

async fn manual_import_needs_a_snapshot(engine: Engine) {
    let w = world(engine).await;
    w.app
        .post(&format!("/api/v1/jobs/{}/imports", w.job.id), Some(&w.admin), &serde_json::json!({}))
        .await
        .assert_problem(409)
        .assert_kind(ProblemKind::NoDirectoryState);
}

async fn deltas_change_the_state_only_on_the_watermark_it_holds(engine: Engine) {
    let w = world(engine).await;
    w.link_sales_to_basic_access().await;
    let sync = |job: AgentJob| job.sync;
    let advice = sync(w.agent.get(&w.app, "/agent/v1/job").await.json());
    assert!(advice.base.is_none() && advice.full_required.is_some(), "{advice:?}");
    // A delta before any full snapshot is refused, with the type the agent knows.
    let refused = w.agent.push_as(&w.app, &[user(1, "OU=Staff", 512)], SnapshotKind::Delta, Some(watermark(10)), watermark(20)).await;
    refused.assert_problem(409);
    assert_eq!(refused.body["type"], "urn:roster:problem:delta-base-mismatch");

    let full = vec![user(1, "OU=Staff", 512), user(2, "OU=Staff", 512), user(3, "OU=Staff", 512), group(200, "Sales", &[1, 2, 3])];
    let session = w.agent.push(&w.app, &full).await.session.unwrap();
    session_succeeded(&w.app.wait_for_session(&w.admin, session.id).await);
    let advice = sync(w.agent.get(&w.app, "/agent/v1/job").await.json());
    assert_eq!(advice.base, Some(watermark(1000)));
    assert_eq!(advice.full_required, None);

    // The delta: user2 renamed, user3 deleted (a tombstone), user1 untouched
    // (not sent), user9 changed outside the job's scope (not kept), user4 new.
    let mut renamed = user(2, "OU=Staff", 512);
    if let Record::User(u) = &mut renamed {
        u.sam_account_name = "user2-renamed".into();
    }
    let delta = vec![
        renamed,
        Record::Deleted(DeletedRecord { object_guid: guid(3), last_known_parent: Some(format!("OU=Staff,{BASE}")) }),
        user(9, "OU=External", 512),
        user(4, "OU=Staff", 512),
        group(200, "Sales", &[1, 2, 3, 4, 9]),
    ];
    // On the wrong base: refused at offer, nothing changes.
    w.agent.push_as(&w.app, &delta, SnapshotKind::Delta, Some(watermark(999)), watermark(1010)).await.assert_problem(409);
    // A delta that carries no base is refused too.
    w.agent
        .push_as(&w.app, &delta, SnapshotKind::Delta, None, watermark(1010))
        .await
        .assert_problem(409)
        .assert_kind(ProblemKind::DeltaBaseMismatch);
    let committed = w.agent.push_as(&w.app, &delta, SnapshotKind::Delta, Some(watermark(1000)), watermark(1010)).await;
    assert_eq!(committed.status, 200, "{:?}", committed.body);
    let advice = sync(w.agent.get(&w.app, "/agent/v1/job").await.json());
    assert_eq!(advice.base, Some(watermark(1010)), "the state moved on to the delta's watermark");
    // An empty delta still moves the watermark on (here: to the same USN).
    let empty = w.agent.push_as(&w.app, &[], SnapshotKind::Delta, Some(watermark(1010)), watermark(1010)).await;
    assert_eq!(empty.status, 200, "{:?}", empty.body);
    // Replaying the same delta now fails: its base is no longer the state.
    w.agent.push_as(&w.app, &delta, SnapshotKind::Delta, Some(watermark(1000)), watermark(1010)).await.assert_problem(409);

    let manual: Session = w.app.post(&format!("/api/v1/jobs/{}/imports", w.job.id), Some(&w.admin), &serde_json::json!({})).await.json();
    let manual = w.app.wait_for_session(&w.admin, manual.id).await;
    session_succeeded(&manual);
    assert_eq!(
        (manual.counts.created, manual.counts.updated, manual.counts.deactivated, manual.counts.unchanged),
        (1, 1, 1, 1),
        "{manual:?}"
    );
    let users = all_users(&w.app, &w.admin, w.job.id, 100).await;
    let active_before_filter: usize = users.iter().filter(|u| u.active).count();
    let names: std::collections::BTreeMap<String, bool> = users.iter().map(|u| (u.username.clone(), u.active)).collect();
    let expected: std::collections::BTreeMap<String, bool> =
        [("user1", true), ("user2-renamed", true), ("user3", false), ("user4", true)].iter().map(|(n, a)| (n.to_string(), *a)).collect();
    assert_eq!(names, expected);
    // Users a delta brings keep their lookup keys in the state, so explain finds them by name without reading every user.
    let unkeyed: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM directory_objects o JOIN directory_state s ON s.job_id = o.job_id AND s.generation = o.generation
         WHERE o.job_id = $1 AND o.kind = 'user' AND (o.account_key IS NULL OR o.dn_key IS NULL)",
    )
    .bind(w.job.id.to_string())
    .fetch_one(&w.app.db.pool)
    .await
    .unwrap();
    assert_eq!(unkeyed, 0);
    for who in ["USER2-renamed", "user4"] {
        let why: Explanation = w.app.get(&format!("/api/v1/jobs/{}/explain?user={who}", w.job.id), &w.admin).await.json();
        assert_eq!(why.username, who.to_lowercase());
    }

    // A changed user flagged as no longer matching the job's filter leaves scope.
    let mut filtered = user(4, "OU=Staff", 512);
    if let Record::User(u) = &mut filtered {
        u.outside_filter = true;
    }
    let committed = w.agent.push_as(&w.app, &[filtered], SnapshotKind::Delta, Some(watermark(1010)), watermark(1011)).await;
    assert_eq!(committed.status, 200, "{:?}", committed.body);
    let manual: Session = w.app.post(&format!("/api/v1/jobs/{}/imports", w.job.id), Some(&w.admin), &serde_json::json!({})).await.json();
    let manual = w.app.wait_for_session(&w.admin, manual.id).await;
    assert_eq!(manual.counts.deactivated, 1, "{manual:?}");
    let changes: Page<SessionChange> = w.app.get(&format!("/api/v1/sessions/{}/changes", manual.id), &w.admin).await.json();
    assert!(changes.items[0].details.contains(&ChangeDetail::Deactivated { reason: DeactivationReason::LeftScope }), "{:?}", changes.items);
    let users = all_users(&w.app, &w.admin, w.job.id, 100).await;
    assert_eq!(users.iter().filter(|u| u.active).count(), active_before_filter - 1);

    // A scope change or an admin's request asks for a full snapshot; a full one answers it.
    assert_eq!(w.app.send(Method::POST, &format!("/api/v1/jobs/{}/full-sync", w.job.id), Some(&w.admin), None, false).await.status, 202);
    let advice = sync(w.agent.get(&w.app, "/agent/v1/job").await.json());
    assert!(advice.full_required.as_deref().is_some_and(|r| r.contains("asked")), "{advice:?}");
    // What the agent is advised is enforced: a delta on the right base is now refused.
    let base = advice.base.clone().unwrap();
    let refused = w.agent.push_as(&w.app, &[], SnapshotKind::Delta, Some(base.clone()), watermark(base.usn + 1)).await;
    refused.assert_problem(409);
    assert_eq!(refused.body["type"], "urn:roster:problem:delta-base-mismatch");
    w.agent.push(&w.app, &full).await;
    let advice = sync(w.agent.get(&w.app, "/agent/v1/job").await.json());
    assert_eq!(advice.full_required, None);
    // A full snapshot may not carry deletions.
    let bad = vec![Record::Deleted(DeletedRecord { object_guid: guid(1), last_known_parent: None })];
    w.agent.push_as(&w.app, &bad, SnapshotKind::Full, None, watermark(1020)).await.assert_problem(422);
}

async fn a_group_split_across_records_grants_every_member(engine: Engine) {
    let w = world(engine).await;
    w.link_sales_to_basic_access().await;
    let Record::Group(sales) = group(200, "Sales", &(1..=7).collect::<Vec<_>>()) else { unreachable!() };
    let (head, more) = sales.split(3);
    assert_eq!(more.len(), 2);
    let mut records: Vec<Record> = (1..=7).map(|n| user(n, "OU=Staff", 512)).collect();
    records.push(Record::Group(head));
    records.extend(more.into_iter().map(Record::GroupMembers));
    let session = w.agent.push(&w.app, &records).await.session.unwrap();
    let session = w.app.wait_for_session(&w.admin, session.id).await;
    session_succeeded(&session);
    assert_eq!(session.counts.created, 7, "members in the continuations count too: {session:?}");

    // Members that continue no group are refused in a full snapshot.
    let orphan = vec![Record::GroupMembers(GroupMembersRecord { object_guid: guid(404), members: vec![guid(1)] })];
    let refused = w.agent.push_as(&w.app, &orphan, SnapshotKind::Full, None, watermark(1001)).await;
    refused.assert_problem(422);
}

async fn replayed_tokens_and_revoked_agents_are_refused(engine: Engine) {
    let w = world(engine).await;
    let token = w.agent.token("GET", "/agent/v1/job");
    assert_eq!(w.app.send(Method::GET, "/agent/v1/job", Some(&token), None, false).await.status, 200);
    // The same token again, even for the same request, is a replay.
    w.app.send(Method::GET, "/agent/v1/job", Some(&token), None, false).await.assert_problem(401);
    assert_eq!(w.agent.get(&w.app, "/agent/v1/job").await.status, 200, "a fresh token works");

    // The console sees the agent and when it was last heard from.
    let agents: Page<roster_proto::admin::Agent> = w.app.get(&format!("/api/v1/agents?job={}", w.job.id), &w.admin).await.json();
    assert_eq!(agents.items.len(), 1);
    assert_eq!((agents.items[0].id, agents.items[0].hostname.as_deref()), (w.agent.id, Some("dc-host")));
    assert!(agents.items[0].last_seen_at.is_some() && agents.items[0].revoked_at.is_none());

    // Another tenant can neither see nor revoke it.
    let other = w.app.create_tenant("Other").await.admin_token;
    let theirs: Page<roster_proto::admin::Agent> = w.app.get("/api/v1/agents", &other).await.json();
    assert!(theirs.items.is_empty());
    w.app.post(&format!("/api/v1/agents/{}/revoke", w.agent.id), Some(&other), &()).await.assert_problem(404);
    assert_eq!(w.agent.get(&w.app, "/agent/v1/job").await.status, 200);

    // Revoked: every request of the agent is refused, whatever it signs.
    assert_eq!(w.app.post(&format!("/api/v1/agents/{}/revoke", w.agent.id), Some(&w.admin), &()).await.status, 204);
    w.agent.get(&w.app, "/agent/v1/job").await.assert_problem(401);
    w.agent.post(&w.app, "/agent/v1/snapshots", &serde_json::json!({"manifest_token": "x"})).await.assert_problem(401);
    let agents: Page<roster_proto::admin::Agent> = w.app.get("/api/v1/agents", &w.admin).await.json();
    assert!(agents.items[0].revoked_at.is_some());
    w.app.post(&format!("/api/v1/agents/{}/revoke", uuid::Uuid::new_v4()), Some(&w.admin), &()).await.assert_problem(404);
}

async fn agents_rotate_their_key_with_the_old_one(engine: Engine) {
    let mut w = world(engine).await;
    let new_key = AgentKey::generate().unwrap();
    let rotate = |agent: &Agent, key: &AgentKey| agent.rotation(key);
    // Not a key, or the same key: refused, nothing changes.
    let not_a_key = roster_proto::agent::RotateKey { public_key: "AAAA".into(), proof: rotate(&w.agent, &new_key).proof };
    w.agent.post(&w.app, "/agent/v1/key", &not_a_key).await.assert_problem(422);
    w.agent.post(&w.app, "/agent/v1/key", &rotate(&w.agent, &w.agent.key)).await.assert_problem(422);
    assert_eq!(w.agent.get(&w.app, "/agent/v1/job").await.status, 200);

    assert_eq!(w.agent.post(&w.app, "/agent/v1/key", &rotate(&w.agent, &new_key)).await.status, 204);
    w.agent.get(&w.app, "/agent/v1/job").await.assert_problem(401);
    w.agent.key = new_key;
    assert_eq!(w.agent.get(&w.app, "/agent/v1/job").await.status, 200, "the new key works");

    // A revoked agent cannot come back by rotating.
    assert_eq!(w.app.post(&format!("/api/v1/agents/{}/revoke", w.agent.id), Some(&w.admin), &()).await.status, 204);
    w.agent.post(&w.app, "/agent/v1/key", &rotate(&w.agent, &AgentKey::generate().unwrap())).await.assert_problem(401);
}

async fn snapshots_are_held_to_the_limits_and_unfinished_ones_expire(engine: Engine) {
    let limits = Limits { max_chunks_per_snapshot: 3, max_records_per_snapshot: 50, max_pending_snapshots_per_job: 1, ..Limits::default() };
    let w = world_with(engine, limits).await;
    let offer = |records: &[Record], limit: usize| {
        let chunks = chunk(records, limit);
        let manifest = w.agent.manifest(&chunks, records);
        (manifest.snapshot_id, w.agent.sign(&manifest))
    };
    let users = |n: u32| (1..=n).map(|i| user(i, "OU=Staff", 512)).collect::<Vec<_>>();
    // Too many chunks, too many records: refused before anything is stored.
    let (_, many_chunks) = offer(&users(20), 1024);
    w.agent.post(&w.app, "/agent/v1/snapshots", &many_chunks).await.assert_problem(413).assert_kind(ProblemKind::SnapshotTooLarge);
    let (_, many_records) = offer(&users(60), 1024 * 1024);
    w.agent.post(&w.app, "/agent/v1/snapshots", &many_records).await.assert_problem(413);

    // One unfinished snapshot per job: a second is refused, the first may be offered again.
    let (first, first_offer) = offer(&users(5), 1024 * 1024);
    assert_eq!(w.agent.post(&w.app, "/agent/v1/snapshots", &first_offer).await.status, 200);
    let (_, second_offer) = offer(&users(6), 1024 * 1024);
    w.agent.post(&w.app, "/agent/v1/snapshots", &second_offer).await.assert_problem(409).assert_kind(ProblemKind::TooManyPendingSnapshots);
    assert_eq!(w.agent.post(&w.app, "/agent/v1/snapshots", &first_offer).await.status, 200, "resuming is not a new snapshot");

    // Housekeeping deletes unfinished snapshots past their time; the job may offer again.
    let db = roster_server::db::Db::connect(&w.app.database_url).await.unwrap();
    roster_server::import::housekeeping(&db, &Limits { unfinished_snapshot_ttl_secs: 3600, ..Limits::default() }).await.unwrap();
    assert_eq!(w.agent.get(&w.app, &format!("/agent/v1/snapshots/{first}")).await.status, 200, "not yet expired");
    roster_server::import::housekeeping(&db, &Limits { unfinished_snapshot_ttl_secs: -1, ..Limits::default() }).await.unwrap();
    w.agent.get(&w.app, &format!("/agent/v1/snapshots/{first}")).await.assert_problem(404);
    assert_eq!(w.agent.post(&w.app, "/agent/v1/snapshots", &second_offer).await.status, 200);
}

async fn tenants_are_held_to_their_request_rate(engine: Engine) {
    let limits = Limits { tenant_requests_per_second: 0.2, tenant_request_burst: 3.0, ..Limits::default() };
    let app = spawn_app_with(engine, limits).await;
    let busy = app.create_tenant("Busy").await.admin_token;
    let quiet = app.create_tenant("Quiet").await.admin_token;
    for _ in 0..3 {
        assert_eq!(app.get("/api/v1/jobs", &busy).await.status, 200);
    }
    let refused = app.get("/api/v1/jobs", &busy).await;
    refused.assert_problem(429);
    assert_eq!(app.get("/api/v1/jobs", &quiet).await.status, 200, "one tenant's rate is not another's");
    let response = app.http.get(format!("{}/api/v1/jobs", app.url)).bearer_auth(&busy).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 429);
    let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=5).contains(&retry_after), "{retry_after}");
}

/// Registration, the one route without credentials, is limited per client
/// address; a JSON body over the limit is refused with 413 on any route.
async fn registration_is_rate_limited_and_json_bodies_are_bounded(engine: Engine) {
    let limits = Limits { register_requests_per_minute: 1.0, register_request_burst: 2.0, max_json_body_bytes: 4096, ..Limits::default() };
    let app = spawn_app_with(engine, limits).await;
    let admin = app.create_tenant("Acme").await.admin_token;
    let guess = RegisterRequest {
        token: "not-a-token".into(),
        public_key: AgentKey::generate().unwrap().public_key().to_base64(),
        hostname: None,
        agent_version: None,
    };
    for _ in 0..2 {
        app.post("/agent/v1/register", None, &guess).await.assert_problem(401);
    }
    app.post("/agent/v1/register", None, &guess).await.assert_problem(429);
    let response = app.http.post(format!("{}/agent/v1/register", app.url)).json(&guess).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 429);
    let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(app.get("/api/v1/jobs", &admin).await.status, 200, "authenticated routes have their own limit");

    let job = |name: String| CreateJob {
        name,
        relative_paths: vec!["*".into()],
        group_paths: Vec::new(),
        schedule: None,
        full_sync_interval_days: None,
        user_filter: None,
        policy: None,
        sync_mode: None,
    };
    app.post("/api/v1/jobs", Some(&admin), &job("x".repeat(5000))).await.assert_problem(413);
    let job: Job = app.post("/api/v1/jobs", Some(&admin), &job("small".into())).await.json();
    let links: Vec<LinkInput> = (0..100)
        .map(|i| LinkInput { group: format!("CN=Group {i},OU=Groups,DC=example,DC=test"), access_id: AccessId::from(uuid::Uuid::nil()) })
        .collect();
    app.put(&format!("/api/v1/jobs/{}/links", job.id), &admin, &links).await.assert_problem(413);
    let saved: Vec<Link> = app.get(&format!("/api/v1/jobs/{}/links", job.id), &admin).await.json();
    assert!(saved.is_empty(), "nothing was saved");
}

/// A registration token is valid for 24 hours; past its expiry it is
/// refused like an unknown one, and stays unused.
async fn registration_tokens_expire(engine: Engine) {
    let w = world(engine).await;
    let fresh: RegistrationToken = w.app.post(&format!("/api/v1/jobs/{}/registration-tokens", w.job.id), Some(&w.admin), &()).await.json();
    let ttl = fresh.expires_at - time::OffsetDateTime::now_utc();
    assert!(ttl > time::Duration::hours(23) && ttl <= time::Duration::hours(24), "{ttl}");

    let db = roster_server::db::Db::connect(&w.app.database_url).await.unwrap();
    let tenant = roster_server::store::tenants::tenant_for_admin_token(&db, &w.admin).await.unwrap().unwrap();
    let expired =
        roster_server::store::jobs::create_registration_token(&mut db.writer().await.unwrap(), tenant, w.job.id, -1).await.unwrap();
    let request = |token: &str| RegisterRequest {
        token: token.to_owned(),
        public_key: AgentKey::generate().unwrap().public_key().to_base64(),
        hostname: None,
        agent_version: None,
    };
    w.app.post("/agent/v1/register", None, &request(&expired.token)).await.assert_problem(401);
    assert_eq!(w.app.post("/agent/v1/register", None, &request(&fresh.token)).await.status, 201, "an unexpired token still works");
}

/// PostgreSQL only: the database goes away under a running server, which
/// answers 503 with Retry-After, and comes back.
#[tokio::test]
async fn postgres_database_unavailable_is_a_503_and_recovers() {
    use sqlx::Connection;
    let app = spawn_app(Engine::Postgres).await;
    let admin = app.create_tenant("Acme").await.admin_token;
    assert_eq!(app.get("/api/v1/jobs", &admin).await.status, 200);
    let database = app.database_url.rsplit('/').next().unwrap().to_owned();
    let mut superuser = sqlx::PgConnection::connect(&roster_testkit::database::postgres_url()).await.unwrap();
    let run = |sql: String| sqlx::raw_sql(sqlx::AssertSqlSafe(sql));
    run(format!("ALTER DATABASE {database} WITH ALLOW_CONNECTIONS false")).execute(&mut superuser).await.unwrap();
    run(format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'"))
        .execute(&mut superuser)
        .await
        .unwrap();
    let down = app.get("/api/v1/jobs", &admin).await;
    down.assert_problem(503);
    run(format!("ALTER DATABASE {database} WITH ALLOW_CONNECTIONS true")).execute(&mut superuser).await.unwrap();
    assert_eq!(app.get("/api/v1/jobs", &admin).await.status, 200, "the server recovers once the database is back");
}

on_both_engines!(
    jobs_can_be_changed,
    jobs_are_deleted_once_no_user_is_active,
    accesses_are_renamed_and_unused_ones_deleted,
    snapshots_are_held_to_the_limits_and_unfinished_ones_expire,
    tenants_are_held_to_their_request_rate,
    registration_is_rate_limited_and_json_bodies_are_bounded,
    registration_tokens_expire,
    agents_rotate_their_key_with_the_old_one,
    replayed_tokens_and_revoked_agents_are_refused,
    a_group_split_across_records_grants_every_member,
    deltas_change_the_state_only_on_the_watermark_it_holds,
    admin_api_requires_a_valid_token,
    jobs_validate_their_input,
    links_are_checked_and_kept_in_order,
    first_snapshot_is_imported_at_once_with_nested_links,
    without_links_nobody_is_imported_and_the_session_says_why,
    uploads_are_checked_against_the_signed_manifest,
    small_snapshots_travel_in_one_request,
    agent_tokens_are_bound_to_agent_request_and_key,
    tenants_cannot_see_each_other,
    departures_are_deactivated_on_the_next_import,
    manual_import_needs_a_snapshot,
);
