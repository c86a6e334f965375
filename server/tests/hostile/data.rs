//! Part P: personal data and storage. Chunks outliving their snapshot's
//! use, a purge that leaves a user's attributes behind, bad commits that
//! hold a job's pending slots, deltas that move the watermark sideways or
//! back or turn a group into a user, and one job filling the disk with
//! unfinished snapshots.

use std::io::Read;

use roster_proto::admin::Session;
use roster_proto::manifest::{ChunkRef, Manifest, SnapshotKind, Watermark};
use roster_proto::problem::ProblemKind;
use roster_proto::records::{DeletedRecord, Record, UserRecord};
use roster_server::db::Db;
use roster_server::settings::Limits;
use roster_server::store::UnixMillis;
use sqlx::Row;

use crate::on_both_engines;
use crate::support::world::*;
use crate::support::{Answer, Engine, TestApp, session_succeeded};

const DAY_MS: i64 = UnixMillis::DAY_MS;

/// One query's single integer answer, `$1` bound to `id` (a job's or a snapshot's).
async fn count(app: &TestApp, sql: &str, id: impl std::fmt::Display) -> i64 {
    let db = Db::connect(&app.database_url).await.unwrap();
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.to_string()).fetch_one(&db.pool).await.unwrap();
    row.try_get::<i64, _>(0).unwrap()
}

/// Chunks the job's snapshots hold, receiving ones included.
async fn chunks(w: &World) -> i64 {
    count(&w.app, "SELECT COUNT(*) FROM snapshot_chunks WHERE job_id = $1", w.job.id).await
}

async fn housekeeping_at(app: &TestApp, limits: &Limits, at: i64) {
    let db = Db::connect(&app.database_url).await.unwrap();
    roster_server::import::housekeeping_at(&db, limits, UnixMillis(at)).await.unwrap();
}

fn now_ms() -> i64 {
    UnixMillis::now().0
}

/// Offers, uploads and commits `manifest` (built for `records`), answering
/// the commit (or the first refusal).
async fn push_manifest(w: &World, manifest: &Manifest, chunks: &[roster_snapshot::chunk::Chunk]) -> Answer {
    let offered = w.agent.post(&w.app, "/agent/v1/snapshots", &w.agent.sign(manifest)).await;
    if offered.status != 200 {
        return offered;
    }
    for chunk in chunks {
        assert_eq!(w.agent.put_chunk(&w.app, manifest.snapshot_id, chunk.index, chunk.bytes.clone()).await.status, 204);
    }
    w.agent.post(&w.app, &format!("/agent/v1/snapshots/{}/commit", manifest.snapshot_id), &()).await
}

fn staff(n: u32) -> Vec<Record> {
    let mut records: Vec<Record> = (1..=n).map(|i| user(i, "OU=Staff", 512)).collect();
    records.push(group(200, "Sales", &(1..=n).collect::<Vec<_>>()));
    records
}

/// Chunks are deleted once their snapshot is applied: a delta's at once,
/// a full snapshot's when a newer full one replaces it or its retention
/// ends (housekeeping), and at once with a retention of 0 days. Before the
/// fix every chunk of every snapshot stayed forever.
async fn applied_snapshots_lose_their_chunks(engine: Engine) {
    let w = world(engine).await;
    w.link_sales_to_basic_access().await;
    let first = w.agent.push(&w.app, &staff(30)).await;
    session_succeeded(&w.app.wait_for_session(&w.admin, first.session.unwrap().id).await);
    let kept = chunks(&w).await;
    assert!(kept > 0, "the newest full snapshot keeps its chunks for the retention");

    w.agent.push(&w.app, &staff(31)).await;
    let newest = chunks(&w).await;
    let both = count(&w.app, "SELECT COUNT(*) FROM snapshots WHERE job_id = $1 AND status = 'committed'", w.job.id).await;
    assert_eq!(both, 2);
    let replaced = count(&w.app, "SELECT COUNT(*) FROM snapshot_chunks WHERE snapshot_id = $1", first.snapshot_id).await;
    assert_eq!(replaced, 0, "a full snapshot replaced by a newer one keeps no chunk");
    assert!(newest > 0);

    let delta = w.agent.push_as(&w.app, &[user(40, "OU=Staff", 512)], SnapshotKind::Delta, Some(watermark(1000)), watermark(1001)).await;
    assert_eq!(delta.status, 200, "{:?}", delta.body);
    assert_eq!(chunks(&w).await, newest, "a delta's chunks go at once");
    // Committed snapshots still answer, with nothing missing.
    let state = w.agent.get(&w.app, &format!("/agent/v1/snapshots/{}", first.snapshot_id)).await;
    assert_eq!((state.status, state.body["missing_chunks"].clone()), (200, serde_json::json!([])), "{:?}", state.body);

    // Housekeeping: kept within the retention, gone after it.
    housekeeping_at(&w.app, &Limits::default(), now_ms() + 6 * DAY_MS).await;
    assert_eq!(chunks(&w).await, newest);
    housekeeping_at(&w.app, &Limits::default(), now_ms() + 8 * DAY_MS).await;
    assert_eq!(chunks(&w).await, 0, "the retention ended");

    // Not kept at all: nothing stays after the commit.
    let w = world_with(engine, Limits { full_snapshot_chunk_retention_days: 0, ..Limits::default() }).await;
    w.agent.push(&w.app, &staff(5)).await;
    assert_eq!(chunks(&w).await, 0);
}

/// What is distinctive about the user the purge test erases: display
/// name, email, sAMAccountName and UPN (and the objectGUID, [`zelda_guid`]).
const ZELDA: [&str; 4] = ["Zelda Quixote-Vantablack", "zelda.quixote@vantablack.test", "zquixote7", "zquixote7@corp.example.test"];

fn zelda_guid() -> roster_proto::ObjectGuid {
    "2ea71d5e-9c41-773b-8e51-c0de2f600d5a".parse().unwrap()
}

/// Every text or bytes column of every table (read from the database's own
/// catalogue, so a future table is covered): the `table.column`s whose
/// values contain one of `needles`, case-insensitively; gzip blobs (chunks)
/// are searched decompressed too.
async fn scan_for(app: &TestApp, needles: &[String]) -> Vec<String> {
    let db = Db::connect(&app.database_url).await.unwrap();
    let columns: Vec<(String, String, bool)> = match db.dialect {
        roster_server::db::Dialect::Sqlite => {
            let tables = sqlx::query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
                .fetch_all(&db.pool)
                .await
                .unwrap();
            let mut columns = Vec::new();
            for table in tables {
                let table: String = table.try_get("name").unwrap();
                let info = sqlx::query("SELECT name, type FROM pragma_table_info($1)").bind(&table).fetch_all(&db.pool).await.unwrap();
                for column in info {
                    let kind: String = column.try_get("type").unwrap();
                    let kind = kind.to_ascii_uppercase();
                    if kind.contains("TEXT") || kind.contains("CHAR") || kind.contains("BLOB") || kind.contains("CLOB") {
                        columns.push((table.clone(), column.try_get("name").unwrap(), kind.contains("BLOB")));
                    }
                }
            }
            columns
        }
        roster_server::db::Dialect::Postgres => sqlx::query(
            "SELECT table_name::text AS t, column_name::text AS c, data_type::text AS d FROM information_schema.columns
             WHERE table_schema = current_schema() AND data_type IN ('text', 'character varying', 'character', 'bytea', 'json', 'jsonb')",
        )
        .fetch_all(&db.pool)
        .await
        .unwrap()
        .iter()
        .map(|row| {
            let kind: String = row.try_get("d").unwrap();
            (row.try_get("t").unwrap(), row.try_get("c").unwrap(), kind == "bytea")
        })
        .collect(),
    };
    assert!(columns.iter().any(|(t, c, _)| t == "snapshot_chunks" && c == "data"), "the scan sees the chunks: {columns:?}");
    let needles: Vec<String> = needles.iter().map(|n| n.to_lowercase()).collect();
    let mut hits = Vec::new();
    for (table, column, bytes) in columns {
        let cast = match (db.dialect, bytes) {
            (roster_server::db::Dialect::Postgres, false) => format!("\"{column}\"::text"),
            _ => format!("\"{column}\""),
        };
        let sql = format!("SELECT {cast} AS v FROM \"{table}\" WHERE \"{column}\" IS NOT NULL");
        for row in sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&db.pool).await.unwrap() {
            let mut texts = Vec::new();
            if bytes {
                let raw: Vec<u8> = row.try_get("v").unwrap();
                let mut inflated = Vec::new();
                if flate2::read::MultiGzDecoder::new(raw.as_slice()).read_to_end(&mut inflated).is_ok() {
                    texts.push(String::from_utf8_lossy(&inflated).into_owned());
                }
                texts.push(String::from_utf8_lossy(&raw).into_owned());
            } else {
                texts.push(row.try_get::<String, _>("v").unwrap());
            }
            let found = texts.iter().any(|text| {
                let text = text.to_lowercase();
                needles.iter().any(|needle| text.contains(needle.as_str()))
            });
            if found {
                hits.push(format!("{table}.{column}"));
            }
        }
    }
    hits.sort();
    hits.dedup();
    hits
}

/// A user imported, then deleted in AD (a delta's tombstone) and so
/// deactivated, is purged after the grace period: afterwards no table holds
/// their name, email, sAMAccountName, UPN or objectGUID — the kept full
/// snapshot's chunks, the sessions' itemised changes and the users table
/// all did before the fix — while the sessions still read with their counts.
async fn purge_erases_personal_data_everywhere(engine: Engine) {
    let limits = Limits { full_snapshot_chunk_retention_days: 365, ..Limits::default() };
    let w = world_with(engine, limits.clone()).await;
    w.link_sales_to_basic_access().await;
    let zelda = Record::User(UserRecord {
        user_principal_name: Some(ZELDA[3].into()),
        mail: Some(ZELDA[1].into()),
        display_name: Some(ZELDA[0].into()),
        ..roster_testkit::records::user(zelda_guid(), format!("CN={},OU=Staff,{BASE}", ZELDA[0]), ZELDA[2].into())
    });
    let mut sales = group(200, "Sales", &[1, 2]);
    if let Record::Group(g) = &mut sales {
        g.members.push(zelda_guid());
    }
    let first = w.agent.push(&w.app, &[user(1, "OU=Staff", 512), user(2, "OU=Staff", 512), zelda, sales]).await;
    let first = w.app.wait_for_session(&w.admin, first.session.unwrap().id).await;
    assert_eq!(first.counts.created, 3, "{first:?}");

    let tombstone = Record::Deleted(DeletedRecord { object_guid: zelda_guid(), last_known_parent: Some(format!("OU=Staff,{BASE}")) });
    let delta = w
        .agent
        .push_as(&w.app, &[tombstone, group(200, "Sales", &[1, 2])], SnapshotKind::Delta, Some(watermark(1000)), watermark(1001))
        .await;
    assert_eq!(delta.status, 200, "{:?}", delta.body);
    let second: Session = w.app.post(&format!("/api/v1/jobs/{}/imports", w.job.id), Some(&w.admin), &serde_json::json!({})).await.json();
    let second = w.app.wait_for_session(&w.admin, second.id).await;
    session_succeeded(&second);
    assert_eq!(second.counts.deactivated, 1, "{second:?}");

    // The applied delta's generation (its tombstone names Zelda) is deleted
    // in the background; housekeeping finishes that now, so the scans below
    // compare settled stores.
    housekeeping_at(&w.app, &limits, now_ms()).await;
    let mut needles: Vec<String> = ZELDA.iter().map(|v| v.to_string()).collect();
    needles.push(zelda_guid().to_string());
    let before = scan_for(&w.app, &needles).await;
    for place in ["users.username", "session_changes.username", "snapshot_chunks.data"] {
        assert!(before.contains(&place.to_string()), "the scan finds {place} before the purge: {before:?}");
    }

    // Within the grace period nothing goes; after it, everything.
    housekeeping_at(&w.app, &limits, now_ms() + 29 * DAY_MS).await;
    assert_eq!(scan_for(&w.app, &needles).await, before);
    housekeeping_at(&w.app, &limits, now_ms() + 31 * DAY_MS).await;
    let after = scan_for(&w.app, &needles).await;
    assert!(after.is_empty(), "the purged user's data is still in {after:?}");

    // The sessions still read: counts, and the changes (now anonymous).
    let first_again: Session = w.app.get(&format!("/api/v1/sessions/{}", first.id), &w.admin).await.json();
    assert_eq!(first_again.counts, first.counts);
    let changes = w.app.get(&format!("/api/v1/sessions/{}/changes?limit=100", second.id), &w.admin).await;
    assert_eq!(changes.status, 200, "{:?}", changes.body);
    let changes: roster_proto::admin::Page<roster_proto::admin::SessionChange> = changes.json();
    let deactivated: Vec<_> = changes.items.iter().filter(|c| c.action == roster_proto::admin::ChangeAction::Deactivated).collect();
    assert_eq!(deactivated.len(), 1, "{changes:?}");
    assert_eq!(deactivated[0].username, roster_server::store::purge::PURGED);
    assert!(deactivated[0].user_id.is_some(), "our own id stays, so the change still reads as the schema says");
    // The other users are untouched.
    assert_eq!(all_users(&w.app, &w.admin, w.job.id, 100).await.len(), 2);
}

/// A manifest for `records` whose counts say one user more than the chunks hold.
fn lying_manifest(w: &World, records: &[Record]) -> (Manifest, Vec<roster_snapshot::chunk::Chunk>) {
    let chunks = chunk(records, 8192);
    let mut manifest = w.agent.manifest(&chunks, records);
    manifest.counts.users += 1;
    (manifest, chunks)
}

/// Five commits that fail verification, then a good push: before the fix
/// the fifth offer was refused (four failed snapshots held the job's four
/// pending slots for 24 h); now each failed snapshot is marked failed at
/// once, its chunks deleted, and it answers 422 if tried again.
async fn failed_commits_free_their_pending_slot(engine: Engine) {
    let w = world(engine).await;
    let mut failed = Vec::new();
    for _ in 0..5 {
        let (manifest, chunks) = lying_manifest(&w, &staff(3));
        push_manifest(&w, &manifest, &chunks).await.assert_problem(422).assert_kind(ProblemKind::InvalidSnapshot);
        failed.push(manifest);
    }
    assert_eq!(chunks(&w).await, 0, "a failed snapshot keeps no chunk");
    let good = w.agent.push_as(&w.app, &staff(3), SnapshotKind::Full, None, watermark(1000)).await;
    assert_eq!(good.status, 200, "{:?}", good.body);
    // A failed snapshot stays failed: offered, put or committed again it says so.
    let again = &failed[0];
    w.agent.post(&w.app, "/agent/v1/snapshots", &w.agent.sign(again)).await.assert_problem(422).assert_kind(ProblemKind::InvalidSnapshot);
    w.agent
        .post(&w.app, &format!("/agent/v1/snapshots/{}/commit", again.snapshot_id), &())
        .await
        .assert_problem(422)
        .assert_kind(ProblemKind::InvalidSnapshot);
}

fn other_dc(usn: u64) -> Watermark {
    Watermark { dns_host_name: "dc2.corp.example.test".into(), ..watermark(usn) }
}

fn restored_dc(usn: u64) -> Watermark {
    Watermark { invocation_id: guid(998), ..watermark(usn) }
}

/// Deltas are checked at their "to" side: a watermark moved to another DC
/// (host name or invocation id) or backwards is refused at offer, and a
/// delta user with a group's objectGUID is refused at commit, the state
/// untouched. Before the fix all three were applied.
async fn deltas_are_checked_at_their_to_side(engine: Engine) {
    let w = world(engine).await;
    w.link_sales_to_basic_access().await;
    let first = w.agent.push(&w.app, &staff(3)).await;
    session_succeeded(&w.app.wait_for_session(&w.admin, first.session.unwrap().id).await);
    let change = [user(4, "OU=Staff", 512)];
    for to in [other_dc(2000), restored_dc(2000), watermark(999)] {
        w.agent
            .push_as(&w.app, &change, SnapshotKind::Delta, Some(watermark(1000)), to.clone())
            .await
            .assert_problem(409)
            .assert_kind(ProblemKind::DeltaBaseMismatch);
    }
    let advice: roster_proto::agent::AgentJob = w.agent.get(&w.app, "/agent/v1/job").await.json();
    assert_eq!(advice.sync.base, Some(watermark(1000)), "the watermark did not move");

    // A user that takes the Sales group's objectGUID.
    let impostor = Record::User(UserRecord {
        object_guid: guid(200),
        ..roster_testkit::records::user(guid(200), format!("CN=Sales,OU=Staff,{BASE}"), "sales".into())
    });
    w.agent
        .push_as(&w.app, &[impostor], SnapshotKind::Delta, Some(watermark(1000)), watermark(1001))
        .await
        .assert_problem(409)
        .assert_kind(ProblemKind::DeltaBaseMismatch);
    let kind = count(&w.app, "SELECT COUNT(*) FROM directory_objects WHERE job_id = $1 AND kind = 'group'", w.job.id).await;
    assert_eq!(kind, 1, "the group is still a group");
    let advice: roster_proto::agent::AgentJob = w.agent.get(&w.app, "/agent/v1/job").await.json();
    assert_eq!(advice.sync.base, Some(watermark(1000)));
    // A delta that moves forward on the same DC still applies.
    let forward = w.agent.push_as(&w.app, &change, SnapshotKind::Delta, Some(watermark(1000)), watermark(1002)).await;
    assert_eq!(forward.status, 200, "{:?}", forward.body);
}

/// One job cannot make the server hold more than its quota of unfinished
/// snapshots: one offer larger than the quota is 413, one that does not
/// fit beside the others is 409, and committing frees the room. Before the
/// fix a job could hold four snapshots of 10,000 chunks (~40 GiB) a day.
async fn unfinished_snapshots_are_held_to_a_quota(engine: Engine) {
    let records = staff(20);
    let chunks = chunk(&records, 1024 * 1024);
    let size: u64 = chunks.iter().map(|c| c.bytes.len() as u64).sum();
    let w = world_with(engine, Limits { max_unfinished_snapshot_bytes_per_job: size * 3 / 2, ..Limits::default() }).await;

    // Far more than the quota, announced by the signed manifest alone.
    let mut huge = w.agent.manifest(&chunks, &records);
    huge.chunks = (0..100u32).map(|index| ChunkRef { index, size: 1024 * 1024, sha256: "ab".repeat(32), records: 1 }).collect();
    w.agent.post(&w.app, "/agent/v1/snapshots", &w.agent.sign(&huge)).await.assert_problem(413).assert_kind(ProblemKind::SnapshotOverQuota);

    let a = w.agent.manifest(&chunks, &records);
    assert_eq!(w.agent.post(&w.app, "/agent/v1/snapshots", &w.agent.sign(&a)).await.status, 200);
    let b = w.agent.manifest(&chunks, &records);
    w.agent.post(&w.app, "/agent/v1/snapshots", &w.agent.sign(&b)).await.assert_problem(409).assert_kind(ProblemKind::StorageQuotaInUse);
    assert_eq!(w.agent.post(&w.app, "/agent/v1/snapshots", &w.agent.sign(&a)).await.status, 200, "resuming does not count against itself");
    assert_eq!(push_manifest(&w, &a, &chunks).await.status, 200);
    assert_eq!(push_manifest(&w, &b, &chunks).await.status, 200, "the committed snapshot no longer counts");
}

/// Tenant A's agent offers the id of tenant B's committed snapshot. Before
/// the fix the offer answered 404 (a fresh id answers 200): an existence
/// oracle for other tenants' snapshot ids, and A could never use the id.
/// Now the answer is a fresh id's, A pushes and commits it, and B's
/// snapshot and directory state are unchanged.
async fn another_tenants_snapshot_id_answers_like_a_fresh_one(engine: Engine) {
    let a = world(engine).await;
    let tenant_b = a.app.create_tenant("Other").await;
    let job_b = crate::support::world::create_staff_job(&a.app, &tenant_b.admin_token, "other").await;
    let agent_b = register(&a.app, &tenant_b.admin_token, job_b.id).await;
    let b_commit = agent_b.push(&a.app, &staff(3)).await;
    let b_snapshot = b_commit.snapshot_id;
    let b_before = agent_b.get(&a.app, &format!("/agent/v1/snapshots/{b_snapshot}")).await;
    let b_state = "SELECT COUNT(*) FROM directory_state WHERE job_id = $1";
    assert_eq!(count(&a.app, b_state, job_b.id).await, 1);
    let b_objects = count(&a.app, "SELECT COUNT(*) FROM directory_objects WHERE job_id = $1", job_b.id).await;
    // B's job has this one snapshot; its id names only B's chunks so far.
    let b_kept_chunks = count(&a.app, "SELECT COUNT(*) FROM snapshot_chunks WHERE snapshot_id = $1", b_snapshot).await;
    assert!(b_kept_chunks > 0, "B's newest full snapshot keeps its chunks for the retention");

    let records = staff(2);
    let chunks = chunk(&records, 8192);

    // Before A offers it, B's id answers A's GET, chunk PUT and commit as
    // an unknown id of A's own does.
    let unknown = roster_proto::SnapshotId::new();
    let answer = |a: Answer| (a.status, a.content_type, a.body);
    let get = |id: roster_proto::SnapshotId| format!("/agent/v1/snapshots/{id}");
    let commit = |id: roster_proto::SnapshotId| format!("/agent/v1/snapshots/{id}/commit");
    let (taken_get, unknown_get) = (a.agent.get(&a.app, &get(b_snapshot)).await, a.agent.get(&a.app, &get(unknown)).await);
    assert_eq!(answer(taken_get), answer(unknown_get), "GET of another tenant's id");
    let put = |id| a.agent.put_chunk(&a.app, id, 0, chunks[0].bytes.clone());
    assert_eq!(answer(put(b_snapshot).await), answer(put(unknown).await), "chunk PUT of another tenant's id");
    let (taken_commit, unknown_commit) =
        (a.agent.post(&a.app, &commit(b_snapshot), &()).await, a.agent.post(&a.app, &commit(unknown), &()).await);
    assert_eq!(answer(taken_commit), answer(unknown_commit), "commit of another tenant's id");

    let fresh = a.agent.manifest(&chunks, &records);
    let fresh_answer = a.agent.post(&a.app, "/agent/v1/snapshots", &a.agent.sign(&fresh)).await;
    let taken = Manifest { snapshot_id: b_snapshot, ..a.agent.manifest(&chunks, &records) };
    let taken_answer = a.agent.post(&a.app, "/agent/v1/snapshots", &a.agent.sign(&taken)).await;
    assert_eq!(fresh_answer.status, 200, "{:?}", fresh_answer.body);
    let mut expected = fresh_answer.body.clone();
    expected["snapshot_id"] = serde_json::json!(b_snapshot.to_string());
    assert_eq!((taken_answer.status, taken_answer.body.clone()), (200, expected), "another tenant's id answers like a fresh one");

    let committed = push_manifest(&a, &taken, &chunks).await;
    assert_eq!(committed.status, 200, "{:?}", committed.body);
    let a_state = a.agent.get(&a.app, &format!("/agent/v1/snapshots/{b_snapshot}")).await;
    assert_eq!((a_state.status, a_state.body["status"].clone()), (200, serde_json::json!("committed")), "{:?}", a_state.body);

    let b_after = agent_b.get(&a.app, &format!("/agent/v1/snapshots/{b_snapshot}")).await;
    assert_eq!((b_after.status, b_after.body), (b_before.status, b_before.body), "B's snapshot is untouched");
    assert_eq!(count(&a.app, b_state, job_b.id).await, 1);
    assert_eq!(count(&a.app, "SELECT COUNT(*) FROM directory_objects WHERE job_id = $1", job_b.id).await, b_objects);
    let b_chunks = "SELECT COUNT(*) FROM snapshot_chunks WHERE job_id = $1";
    assert_eq!(count(&a.app, b_chunks, job_b.id).await, b_kept_chunks, "B's chunks are untouched");
    assert_eq!(count(&a.app, "SELECT COUNT(*) FROM sessions WHERE job_id = $1", job_b.id).await, 1);
    // Each job's commit of the id names its own session.
    let b_again = agent_b.post(&a.app, &format!("/agent/v1/snapshots/{b_snapshot}/commit"), &()).await;
    assert_eq!(b_again.status, 200, "{:?}", b_again.body);
    let b_again: roster_proto::agent::CommitResponse = b_again.json();
    assert_eq!(b_again.session.map(|s| s.id), b_commit.session.map(|s| s.id), "B's commit still names B's session");
    let a_commit: roster_proto::agent::CommitResponse = committed.json();
    let a_session = a_commit.session.expect("A's first snapshot queues an import");
    assert_eq!(a_session.job_id, a.job.id);
    session_succeeded(&a.app.wait_for_session(&a.admin, a_session.id).await);
}

/// Offers `offers` (signed manifests) all at once; answers in offer order.
async fn offer_at_once(w: &std::sync::Arc<World>, offers: Vec<roster_proto::agent::OfferSnapshot>) -> Vec<Answer> {
    let mut running = tokio::task::JoinSet::new();
    for (position, offer) in offers.into_iter().enumerate() {
        let w = std::sync::Arc::clone(w);
        running.spawn(async move { (position, w.agent.post(&w.app, "/agent/v1/snapshots", &offer).await) });
    }
    let mut answers: Vec<(usize, Answer)> = running.join_all().await;
    answers.sort_by_key(|(position, _)| *position);
    answers.into_iter().map(|(_, answer)| answer).collect()
}

/// Many offers at once whose chunks together exceed the job's quota (and
/// then, many more than its pending slots). Before the fix the room was
/// read, then the offer stored, in two steps: simultaneous offers all saw
/// the same room and all were accepted. Now the room is judged in the
/// write transaction that stores the offer, holding the job's offers: the
/// accepted ones never sum above the quota, and never outnumber the slots.
async fn simultaneous_offers_stay_within_the_quota(engine: Engine) {
    const OFFERS: usize = 16;
    /// Snapshots the quota (then the pending slots) makes room for.
    const ROOM: usize = 3;
    let records = staff(20);
    let chunks = chunk(&records, 1024 * 1024);
    let size: u64 = chunks.iter().map(|c| c.bytes.len() as u64).sum();
    let quota = size * ROOM as u64;
    let limits = Limits { max_unfinished_snapshot_bytes_per_job: quota, max_pending_snapshots_per_job: OFFERS as u64, ..Limits::default() };
    let w = std::sync::Arc::new(world_with(engine, limits).await);
    let receiving = "SELECT COUNT(*) FROM snapshots WHERE job_id = $1 AND status = 'receiving'";

    let offers = (0..OFFERS).map(|_| w.agent.sign(&w.agent.manifest(&chunks, &records))).collect();
    let answers = offer_at_once(&w, offers).await;
    let accepted = answers.iter().filter(|a| a.status == 200).count();
    assert!(accepted as u64 * size <= quota, "{accepted} offers of {size} bytes accepted within a quota of {quota}");
    assert_eq!(accepted, ROOM, "offers that fit are accepted");
    for refused in answers.into_iter().filter(|a| a.status != 200) {
        refused.assert_problem(409).assert_kind(ProblemKind::StorageQuotaInUse);
    }
    assert_eq!(count(&w.app, receiving, w.job.id).await, ROOM as i64);

    // The same for the pending slots, on a job with room for bytes.
    let limits = Limits { max_pending_snapshots_per_job: ROOM as u64, ..Limits::default() };
    let w = std::sync::Arc::new(world_with(engine, limits).await);
    let offers = (0..OFFERS).map(|_| w.agent.sign(&w.agent.manifest(&chunks, &records))).collect();
    let answers = offer_at_once(&w, offers).await;
    assert_eq!(answers.iter().filter(|a| a.status == 200).count(), ROOM, "accepted beside {ROOM} pending slots");
    for refused in answers.into_iter().filter(|a| a.status != 200) {
        refused.assert_problem(409).assert_kind(ProblemKind::TooManyPendingSnapshots);
    }
    assert_eq!(count(&w.app, receiving, w.job.id).await, ROOM as i64);
}

/// Names stored before migration 0003 kept themselves as their key, so a
/// look-alike of one ("Sales" beside "Sa\u{200B}les", "Café" in NFC beside
/// NFD) could still be created as a second job or access. The database is
/// written as a 0002 server left it; the server re-keys at start-up, in
/// batches, once: then the look-alike is refused. Of two look-alikes
/// already stored, the row holding the key keeps it, else the oldest; the
/// other keeps its old key. Before: every twin below was created.
async fn names_stored_before_migration_0003_are_rekeyed(engine: Engine) {
    use roster_proto::admin::{Access, AccessKind, CreateAccess};
    use roster_server::store::name_keys::{REKEY_BATCH_ROWS, rekey_names};

    let (database, pool) = crate::support::older::database_before_migration(engine, 3).await;
    let admin = "rst_admin_issued-before-0003";
    let tenant = crate::support::old_tenant_with_token(&pool, admin).await;
    let policy = serde_json::to_string(&roster_proto::admin::SafeguardPolicy::default()).unwrap();
    let mut jobs = std::collections::BTreeMap::new();
    // More than a batch of names, each to be re-keyed.
    let many = (0..REKEY_BATCH_ROWS + 50).map(|n| format!("Cafe\u{301} {n}"));
    let named = ["Cafe\u{301}", "Sa\u{200B}les", "Sales\u{200B}", "Ops", "O\u{200B}ps"].into_iter().map(str::to_owned);
    for (at, name) in named.chain(many).enumerate() {
        let id = roster_proto::JobId::new();
        sqlx::query(
            "INSERT INTO jobs (id, tenant_id, name, relative_paths, group_paths, schedule_time, next_import_at,
                 full_sync_interval_days, policy, created_at)
             VALUES ($1, $2, $3, '[\"OU=Staff\"]', '[]', '02:00', 0, 7, $4, $5)",
        )
        .bind(id.to_string())
        .bind(tenant.to_string())
        .bind(&name)
        .bind(&policy)
        .bind(at as i64 + 10)
        .execute(&pool)
        .await
        .unwrap();
        jobs.insert(name, id);
    }
    let mut accesses = std::collections::BTreeMap::new();
    for (at, (kind, name)) in [("user", "Cafe\u{301}"), ("user", "Café"), ("vip", "Cafe\u{301}")].into_iter().enumerate() {
        let id = roster_proto::AccessId::new();
        sqlx::query("INSERT INTO accesses (id, tenant_id, kind, name, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(id.to_string())
            .bind(tenant.to_string())
            .bind(kind)
            .bind(name)
            .bind(at as i64 + 10)
            .execute(&pool)
            .await
            .unwrap();
        accesses.insert((kind, name), id);
    }
    pool.close().await;

    let app = crate::support::spawn_app_on(database, Limits::default()).await;
    let db = Db::connect(&app.database_url).await.unwrap();
    // The attack: a look-alike of a name stored before 0003 is a second job or access.
    for twin in ["Café", "Sales", "Cafe\u{301} 7", "\u{FEFF}Ops"] {
        let answer = app.post("/api/v1/jobs", Some(admin), &staff_job(twin)).await;
        answer.assert_problem(409).assert_kind(ProblemKind::JobNameTaken);
    }
    let vip = app.post("/api/v1/accesses", Some(admin), &CreateAccess { kind: AccessKind::Vip, name: "Café".into() }).await;
    assert_eq!(vip.status, 200, "the same access: {:?}", vip.body);
    assert_eq!(vip.json::<Access>().id, accesses[&("vip", "Cafe\u{301}")]);

    let key_of = async |table: &str, id: String| {
        let sql = format!("SELECT name_key FROM {table} WHERE id = $1");
        sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql)).bind(id).fetch_one(&db.pool).await.unwrap()
    };
    for (name, key) in [
        ("Cafe\u{301}", "Café"),
        ("Sa\u{200B}les", "Sales"),
        ("Sales\u{200B}", "Sales\u{200B}"),
        ("Ops", "Ops"),
        ("O\u{200B}ps", "O\u{200B}ps"),
    ] {
        assert_eq!(key_of("jobs", jobs[name].to_string()).await, key, "job {name:?}");
    }
    for n in [0, REKEY_BATCH_ROWS, REKEY_BATCH_ROWS + 49] {
        assert_eq!(key_of("jobs", jobs[&format!("Cafe\u{301} {n}")].to_string()).await, format!("Café {n}"), "every batch");
    }
    for ((kind, name), key) in [(("user", "Cafe\u{301}"), "Cafe\u{301}"), (("user", "Café"), "Café"), (("vip", "Cafe\u{301}"), "Café")] {
        assert_eq!(key_of("accesses", accesses[&(kind, name)].to_string()).await, key, "{kind} access {name:?}");
    }

    // Once: a second start re-keys nothing, and finds the same three look-alikes.
    let again = rekey_names(&db).await.unwrap();
    assert_eq!(again.rekeyed, 0);
    let mut left: Vec<(&str, String, String)> =
        again.collisions.iter().map(|c| (c.table, c.id.to_string(), c.held_by.to_string())).collect();
    left.sort();
    let mut expected = vec![
        ("accesses", accesses[&("user", "Cafe\u{301}")].to_string(), accesses[&("user", "Café")].to_string()),
        ("jobs", jobs["Sales\u{200B}"].to_string(), jobs["Sa\u{200B}les"].to_string()),
        ("jobs", jobs["O\u{200B}ps"].to_string(), jobs["Ops"].to_string()),
    ];
    expected.sort();
    assert_eq!(left, expected);
}

on_both_engines!(
    applied_snapshots_lose_their_chunks,
    purge_erases_personal_data_everywhere,
    failed_commits_free_their_pending_slot,
    deltas_are_checked_at_their_to_side,
    unfinished_snapshots_are_held_to_a_quota,
    another_tenants_snapshot_id_answers_like_a_fresh_one,
    simultaneous_offers_stay_within_the_quota,
    names_stored_before_migration_0003_are_rekeyed,
);
