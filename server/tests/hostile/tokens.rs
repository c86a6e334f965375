//! Part T of issue 10: tokens, keys, logs and chunks. An agent of its own
//! (a legitimately registered key) or someone who saw a token in transit
//! tries times that overflow, weak keys, swapped bodies, rotations without
//! the new key, non-canonical chunk URLs, gzip members after the first,
//! counts that wrap, and text that would forge a log line.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::pkcs8::DecodePrivateKey;
use ed25519_dalek::{Signer, SigningKey};
use reqwest::Method;
use roster_proto::AgentId;
use roster_proto::admin::{RegistrationToken, Session, SessionStatus};
use roster_proto::agent::{RegisterRequest, RotateKey};
use roster_proto::problem::ProblemKind;
use roster_proto::records::Record;
use roster_server::settings::Limits;
use roster_snapshot::keys::AgentKey;
use roster_snapshot::token::{self, EMPTY_BODY_SHA256, HEADER};
use serde_json::{Value, json};

use crate::on_both_engines;
use crate::support::world::*;
use crate::support::{Answer, Engine, session_succeeded};

const JOB: &str = "/agent/v1/job";

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A compact JWS over `claims` as given, with `header`, signed by `key`:
/// what a client that does not follow the rules can send.
fn jws(key: &AgentKey, header: &str, claims: &Value) -> String {
    let signing = SigningKey::from_pkcs8_pem(&key.to_pkcs8_pem().unwrap()).unwrap();
    let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap()));
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signing.sign(input.as_bytes()).to_bytes()))
}

/// Request-token claims of `agent` for `GET /agent/v1/job` with these times.
fn job_claims(agent: &Agent, iat: i64, exp: i64) -> Value {
    json!({"iss": agent.id, "aud": agent.audience, "iat": iat, "exp": exp, "jti": uuid::Uuid::new_v4(), "htm": "GET", "htu": JOB, "bsh": EMPTY_BODY_SHA256})
}

async fn get_job_with(w: &World, token: &str) -> Answer {
    w.app.send(Method::GET, JOB, Some(token), None, false).await
}

/// Item 5. `iat = i64::MIN` made `exp - iat` wrap below the 5-minute cap,
/// and an `exp` near `i64::MAX / 1000` wrapped the stored expiry, so the
/// `jti` was forgotten at once and the token replayed. (A debug build
/// panicked on the overflow instead, dropping the connection.) Now every
/// such token is refused, and refused again when replayed.
async fn tokens_whose_times_overflow_are_refused(engine: Engine) {
    let w = world(engine).await;
    let now = now();
    let extremes = [
        (i64::MIN, now),
        (i64::MIN, now + 60),
        (i64::MIN, i64::MAX / 1000),
        (i64::MIN, i64::MAX - 10),
        (i64::MIN + 1, i64::MAX),
        (now, i64::MAX),
        (now, now - 1),
        (i64::MAX - 100, i64::MAX),
    ];
    for (iat, exp) in extremes {
        let token = jws(&w.agent.key, HEADER, &job_claims(&w.agent, iat, exp));
        get_job_with(&w, &token).await.assert_problem(401).assert_kind(ProblemKind::Unauthorized);
        get_job_with(&w, &token).await.assert_problem(401);
    }
    // The same claims with sane times pass: only the times were wrong.
    let token = jws(&w.agent.key, HEADER, &job_claims(&w.agent, now, now + 60));
    assert_eq!(get_job_with(&w, &token).await.status, 200);
    get_job_with(&w, &token).await.assert_problem(401);
}

/// The small-order points of Ed25519 (the identity, the point of order 2,
/// those of order 4 and 8), as an agent would register them.
fn small_order_keys() -> Vec<String> {
    [
        "0100000000000000000000000000000000000000000000000000000000000000",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0000000000000000000000000000000000000000000000000000000000000080",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    ]
    .iter()
    .map(|hex| {
        let bytes: Vec<u8> = (0..64).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
        STANDARD.encode(bytes)
    })
    .collect()
}

/// A "signature" that needs no private key: `R` = the identity, `s` = 0.
/// It satisfies the plain Ed25519 equation for the identity key and any
/// message, so with a weak key registered anyone could sign as the agent.
fn forged_for_identity(claims: &Value) -> String {
    let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(HEADER), URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap()));
    let mut signature = [0u8; 64];
    signature[0] = 1;
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// Item 6. Registration and rotation took the identity point and the other
/// small-order points; with the identity registered, the forged signature
/// above verified. Now both refuse them with a clear 422, and the agent's
/// own key keeps working.
async fn small_order_keys_are_refused_at_registration_and_rotation(engine: Engine) {
    let w = world(engine).await;
    for weak in small_order_keys() {
        let token: RegistrationToken =
            w.app.post(&format!("/api/v1/jobs/{}/registration-tokens", w.job.id), Some(&w.admin), &()).await.json();
        let request = RegisterRequest { token: token.token, public_key: weak.clone(), hostname: None, agent_version: None };
        let refused = w.app.post("/agent/v1/register", None, &request).await;
        refused.assert_problem(422).assert_kind(ProblemKind::InvalidPublicKey);
        assert!(refused.body["detail"].as_str().unwrap().contains("small-order"), "{weak}: {}", refused.body);

        // Rotation onto the weak key, its "proof" forged as above.
        let proof = forged_for_identity(&json!({
            "iss": w.agent.id, "aud": w.agent.audience, "iat": now(), "exp": now() + 60,
            "jti": uuid::Uuid::new_v4(), "replaces": w.agent.key.public_key().sha256(),
        }));
        let rotation = RotateKey { public_key: weak.clone(), proof };
        w.agent.post(&w.app, "/agent/v1/key", &rotation).await.assert_problem(422).assert_kind(ProblemKind::InvalidPublicKey);
        assert_eq!(w.agent.get(&w.app, JOB).await.status, 200, "{weak}: the agent's key still works");
    }
    // The forgery itself, for the agent's real key, is just a bad signature.
    let forged = forged_for_identity(&job_claims(&w.agent, now(), now() + 60));
    get_job_with(&w, &forged).await.assert_problem(401);
}

/// Item 7. A token's claims named the method and path but not the body, so
/// whoever saw a token before it was used could send it with a body of
/// their own: rotate the agent onto their key, offer another manifest, put
/// other bytes. Now `bsh` binds the exact body, checked before the handler
/// acts on it.
async fn a_token_cannot_carry_another_body(engine: Engine) {
    let w = world(engine).await;
    let post_with = |token: String, body: Vec<u8>, path: &'static str| {
        let app = &w.app;
        async move { app.send(Method::POST, path, Some(&token), Some(body.into()), true).await }
    };

    // The agent's own rotation, seen in transit, with the attacker's body:
    // their key, and a proof they can make, since they hold that key.
    let honest = serde_json::to_vec(&w.agent.rotation(&AgentKey::generate().unwrap())).unwrap();
    let token = w.agent.token_for("POST", "/agent/v1/key", &honest);
    let attacker = AgentKey::generate().unwrap();
    let swapped = serde_json::to_vec(&w.agent.rotation(&attacker)).unwrap();
    post_with(token, swapped, "/agent/v1/key").await.assert_problem(401);
    assert_eq!(w.agent.get(&w.app, JOB).await.status, 200, "the agent's key is still the one");
    let as_attacker = Agent { key: attacker, id: w.agent.id, audience: w.agent.audience.clone(), job_id: w.agent.job_id, fence: None };
    as_attacker.get(&w.app, JOB).await.assert_problem(401);

    // An offer with another manifest.
    let records = vec![user(1, "OU=Staff", 512)];
    let chunks = chunk(&records, 8192);
    let offer = |manifest: &roster_proto::manifest::Manifest| serde_json::to_vec(&w.agent.sign(manifest)).unwrap();
    let first = w.agent.manifest(&chunks, &records);
    let token = w.agent.token_for("POST", "/agent/v1/snapshots", &offer(&first));
    let other = w.agent.manifest(&chunks, &records);
    post_with(token, offer(&other), "/agent/v1/snapshots").await.assert_problem(401);

    // A chunk with other bytes (of the right size, even).
    assert_eq!(w.agent.post(&w.app, "/agent/v1/snapshots", &w.agent.sign(&first)).await.status, 200);
    let path = format!("/agent/v1/snapshots/{}/chunks/0", first.snapshot_id);
    let token = w.agent.token_for("PUT", &path, &chunks[0].bytes);
    let mut other_bytes = chunks[0].bytes.clone();
    other_bytes[20] ^= 1;
    w.app.send(Method::PUT, &path, Some(&token), Some(other_bytes.into()), false).await.assert_problem(401);
    assert_eq!(w.agent.put_chunk(&w.app, first.snapshot_id, 0, chunks[0].bytes.clone()).await.status, 204);

    // A body added to a request signed without one; a token with no `bsh`.
    let token = w.agent.token("GET", JOB);
    w.app.send(Method::GET, JOB, Some(&token), Some("{}".into()), true).await.assert_problem(401);
    let mut unbound = job_claims(&w.agent, now(), now() + 60);
    unbound.as_object_mut().unwrap().remove("bsh");
    get_job_with(&w, &jws(&w.agent.key, HEADER, &unbound)).await.assert_problem(401);
}

/// Item 7. Rotation took any key the request named: a request signed with
/// the old key was the only proof. Now the body carries a proof signed by
/// the new key, for this agent, this server and the current key; each
/// wrong proof is refused and the old key keeps working.
async fn a_rotation_must_prove_the_new_key(engine: Engine) {
    let mut w = world(engine).await;
    let new = AgentKey::generate().unwrap();
    let third = AgentKey::generate().unwrap();
    let (id, audience, old) = (w.agent.id, w.agent.audience.clone(), w.agent.key.public_key());
    let now = now();
    let rotation = |proof: String| RotateKey { public_key: new.public_key().to_base64(), proof };
    let cases = [
        ("signed by the old key", token::sign_rotation(&w.agent.key, id, &audience, &old, now).unwrap()),
        ("signed by another key", token::sign_rotation(&third, id, &audience, &old, now).unwrap()),
        ("replacing another key", token::sign_rotation(&new, id, &audience, &third.public_key(), now).unwrap()),
        ("for another server", token::sign_rotation(&new, id, "urn:roster:server:other", &old, now).unwrap()),
        ("for another agent", token::sign_rotation(&new, AgentId::new(), &audience, &old, now).unwrap()),
        ("expired", token::sign_rotation(&new, id, &audience, &old, now - 1000).unwrap()),
        ("a request token of the new key", token::sign_request(&new, id, &audience, "POST", "/agent/v1/key", b"", now).unwrap()),
        ("not a JWS", "a.b.c".into()),
    ];
    for (name, proof) in cases {
        let answer = w.agent.post(&w.app, "/agent/v1/key", &rotation(proof)).await;
        assert_eq!(answer.status, 422, "{name}: {}", answer.body);
        answer.assert_kind(ProblemKind::InvalidPublicKey);
        assert_eq!(w.agent.get(&w.app, JOB).await.status, 200, "{name}: the old key still works");
    }
    // A proof without the `replaces` claim is no proof.
    let bare = json!({"iss": id, "aud": audience, "iat": now, "exp": now + 60, "jti": uuid::Uuid::new_v4()});
    w.agent.post(&w.app, "/agent/v1/key", &rotation(jws(&new, HEADER, &bare))).await.assert_problem(422);

    // The real proof: the key changes, once.
    let proof = w.agent.rotation(&new);
    assert_eq!(w.agent.post(&w.app, "/agent/v1/key", &proof).await.status, 204);
    w.agent.get(&w.app, JOB).await.assert_problem(401);
    w.agent.key = new;
    assert_eq!(w.agent.get(&w.app, JOB).await.status, 200);
    // Replayed (with a fresh request token of the new key), it names a key that is gone.
    w.agent.post(&w.app, "/agent/v1/key", &RotateKey { public_key: third.public_key().to_base64(), ..proof }).await.assert_problem(422);
}

/// Item 10. The chunk index in the URL went through Rust's integer parser,
/// which also reads `01` and `+0`: one chunk had many URLs. Now only the
/// canonical decimal form names a chunk.
async fn chunk_indexes_must_be_canonical(engine: Engine) {
    let w = world(engine).await;
    let records = vec![user(1, "OU=Staff", 512)];
    let chunks = chunk(&records, 8192);
    let manifest = w.agent.manifest(&chunks, &records);
    assert_eq!(w.agent.post(&w.app, "/agent/v1/snapshots", &w.agent.sign(&manifest)).await.status, 200);
    let put_at = |index: &str| {
        let path = format!("/agent/v1/snapshots/{}/chunks/{index}", manifest.snapshot_id);
        let token = w.agent.token_for("PUT", &path, &chunks[0].bytes);
        let app = &w.app;
        let bytes = chunks[0].bytes.clone();
        async move { app.send(Method::PUT, &path, Some(&token), Some(bytes.into()), false).await }
    };
    for index in ["00", "01", "+0", "-0", "%200", "0%20", "0x0", "%2B0"] {
        let answer = put_at(index).await;
        assert_eq!(answer.status, 404, "chunk {index:?}: {}", answer.body);
    }
    let state: roster_proto::agent::SnapshotState =
        w.agent.get(&w.app, &format!("/agent/v1/snapshots/{}", manifest.snapshot_id)).await.json();
    assert_eq!(state.missing_chunks, vec![0], "nothing was stored");
    assert_eq!(put_at("0").await.status, 204);
}

/// Item 10. A chunk's second gzip member (or any trailing byte) was never
/// read: the stored, hashed bytes held more than was decoded and counted.
/// Now a chunk is exactly one member, refused at commit otherwise.
async fn a_chunk_is_exactly_one_gzip_member(engine: Engine) {
    let w = world(engine).await;
    let counted = vec![user(1, "OU=Staff", 512)];
    let hidden = chunk(&[user(2, "OU=Staff", 512)], 8192).remove(0);
    for tail in [hidden.bytes.clone(), vec![0], b"\n".to_vec()] {
        let mut chunks = chunk(&counted, 8192);
        chunks[0].bytes.extend_from_slice(&tail);
        chunks[0].sha256 = roster_snapshot::sha256_hex(&chunks[0].bytes);
        let manifest = w.agent.manifest(&chunks, &counted);
        assert_eq!(w.agent.post(&w.app, "/agent/v1/snapshots", &w.agent.sign(&manifest)).await.status, 200);
        assert_eq!(w.agent.put_chunk(&w.app, manifest.snapshot_id, 0, chunks[0].bytes.clone()).await.status, 204);
        let commit = w.agent.post(&w.app, &format!("/agent/v1/snapshots/{}/commit", manifest.snapshot_id), &()).await;
        commit.assert_problem(422).assert_kind(ProblemKind::InvalidSnapshot);
        assert!(commit.body["detail"].as_str().unwrap().contains("after its gzip member"), "{}", commit.body);
    }
    // Nothing was committed: the job still has no directory state.
    let job: roster_proto::agent::AgentJob = w.agent.get(&w.app, JOB).await.json();
    assert!(job.sync.base.is_none(), "{job:?}");
}

/// Item 10. The chunks' record counts were summed unchecked: `u64::MAX`
/// and 2 wrapped to 1, under any limit (a debug build panicked instead).
/// Now the sums are checked, and a sum past `u64::MAX` is over the limit.
async fn record_counts_cannot_wrap_past_the_limit(engine: Engine) {
    let w = world(engine).await;
    let records: Vec<Record> = (1..=40).map(|n| user(n, "OU=Staff", 512)).collect();
    let chunks = chunk(&records, 1024);
    assert!(chunks.len() >= 2);
    let mut per_chunk = w.agent.manifest(&chunks, &records);
    per_chunk.chunks[0].records = u64::MAX;
    per_chunk.chunks[1].records = 2;
    let mut counts = w.agent.manifest(&chunks, &records);
    counts.counts.users = u64::MAX;
    counts.counts.groups = 2;
    for manifest in [per_chunk, counts] {
        let answer = w.agent.post(&w.app, "/agent/v1/snapshots", &w.agent.sign(&manifest)).await;
        answer.assert_problem(413).assert_kind(ProblemKind::SnapshotTooLarge);
        let state = w.agent.get(&w.app, &format!("/agent/v1/snapshots/{}", manifest.snapshot_id)).await;
        state.assert_problem(404);
    }
}

/// What the server logged, as its binary would write it (the fmt layer,
/// no colours), for the test's own thread only: the test runtime runs the
/// server's tasks on this thread, and other tests keep their own.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }

    /// The log holds no raw control character and exactly one line naming
    /// `marker`, which is also the line that says `real`.
    fn assert_one_escaped_line(&self, marker: &str, real: &str) {
        let text = self.text();
        assert!(!text.contains('\x1b') && !text.contains('\r'), "a raw escape reached the log:\n{text}");
        let lines: Vec<&str> = text.lines().filter(|line| line.contains(marker)).collect();
        assert_eq!(lines.len(), 1, "{marker} is on {} lines:\n{text}", lines.len());
        assert!(lines[0].contains(real), "{marker} is not inside the {real:?} line:\n{text}");
        assert!(lines[0].contains("\\n"), "the newline is written escaped:\n{}", lines[0]);
    }
}

/// A line the attacker would like to see in the log, after a newline and
/// around ANSI escapes (erase the line, red).
fn forged(marker: &str) -> String {
    format!("x\n2026-12-01T00:00:00.000000Z  INFO roster_server::http: {marker} request status=200\x1b[2K\x1b[31m\r")
}

/// Item 8. Client text (a token's `htu`, a name an admin gives) went into
/// the log, and a newline or an ANSI escape in it could forge a log line.
/// Now such fields are written escaped: one request, one line.
/// Captures what the server logs on this thread until the guard drops.
fn capture_log() -> (Captured, tracing::subscriber::DefaultGuard) {
    // tracing caches each callsite's interest. While exactly one scoped
    // dispatcher is alive it asks only the registering thread's, so a
    // callsite first reached by another test's thread would stay disabled
    // here. A second dispatcher alive for the whole run makes it ask each.
    static SECOND: std::sync::OnceLock<tracing::Dispatch> = std::sync::OnceLock::new();
    SECOND.get_or_init(|| tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default()));
    let log = Captured::default();
    let writer = log.clone();
    let subscriber =
        tracing_subscriber::fmt().with_max_level(tracing::Level::INFO).with_ansi(false).with_writer(move || writer.clone()).finish();
    (log, tracing::subscriber::set_default(subscriber))
}

async fn client_text_cannot_forge_a_log_line(engine: Engine) {
    let (log, _guard) = capture_log();
    let w = world(engine).await;
    // A token whose `htu` carries the forged line, on the route it does not name.
    let mut claims = job_claims(&w.agent, now(), now() + 60);
    claims["htu"] = json!(format!("{JOB}{}", forged("FORGED-HTU")));
    get_job_with(&w, &jws(&w.agent.key, HEADER, &claims)).await.assert_problem(401);
    log.assert_one_escaped_line("FORGED-HTU", "request refused");

    // An admin's name for who decided a held session.
    w.link_sales_to_basic_access().await;
    let staff = |ids: std::ops::RangeInclusive<u32>| {
        let ids: Vec<u32> = ids.collect();
        let mut records: Vec<Record> = ids.iter().map(|n| user(*n, "OU=Staff", 512)).collect();
        records.push(group(200, "Sales", &ids));
        records
    };
    let first = w.agent.push(&w.app, &staff(1..=30)).await.session.unwrap();
    session_succeeded(&w.app.wait_for_session(&w.admin, first.id).await);
    let pushed = w.agent.push_as(&w.app, &staff(11..=30), roster_proto::manifest::SnapshotKind::Full, None, watermark(1001)).await;
    assert_eq!(pushed.status, 200, "{}", pushed.body);
    let queued: Session = w.app.post(&format!("/api/v1/jobs/{}/imports", w.job.id), Some(&w.admin), &serde_json::json!({})).await.json();
    let held = w.app.wait_for_session(&w.admin, queued.id).await;
    assert_eq!(held.status, SessionStatus::Held, "{held:?}");
    let by = json!({"by": format!("alice{}", forged("FORGED-NAME"))});
    let approved = w.app.post(&format!("/api/v1/sessions/{}/approve", held.id), Some(&w.admin), &by).await;
    assert_eq!(approved.status, 202, "{}", approved.body);
    log.assert_one_escaped_line("FORGED-NAME", "held session decided");
}

/// A weak key stored before weak keys were refused (item 6 refuses them at
/// registration and rotation only), as an old row would hold it. Reading
/// the row refused the key as corrupt data, so every request of the agent
/// was answered 500. Now the agent is refused like a bad signature (401,
/// the cause in the request's log line), also for the "signature" that
/// needs no private key, and the admin's list of agents still shows it.
async fn a_stored_weak_key_is_refused_like_a_bad_signature(engine: Engine) {
    let (log, _guard) = capture_log();
    let w = world(engine).await;
    let db = roster_server::db::Db::connect(&w.app.database_url).await.unwrap();
    let weak_keys = small_order_keys();
    for weak in &weak_keys {
        sqlx::query("UPDATE agents SET public_key = $1 WHERE id = $2")
            .bind(weak)
            .bind(w.agent.id.to_string())
            .execute(&db.pool)
            .await
            .unwrap();
        w.agent.get(&w.app, JOB).await.assert_problem(401).assert_kind(ProblemKind::Unauthorized);
        get_job_with(&w, &forged_for_identity(&job_claims(&w.agent, now(), now() + 60))).await.assert_problem(401);
        let records = vec![user(1, "OU=Staff", 512)];
        let manifest = w.agent.manifest(&chunk(&records, 8192), &records);
        w.agent.post(&w.app, "/agent/v1/snapshots", &w.agent.sign(&manifest)).await.assert_problem(401);
        w.agent.post(&w.app, KEY, &w.agent.rotation(&AgentKey::generate().unwrap())).await.assert_problem(401);

        let listed = w.app.get("/api/v1/agents", &w.admin).await;
        assert_eq!(listed.status, 200, "{weak}: {}", listed.body);
        let agents: roster_proto::admin::Page<roster_proto::admin::Agent> = listed.json();
        assert_eq!(agents.items.iter().map(|a| a.id).collect::<Vec<_>>(), vec![w.agent.id]);
    }
    let text = log.text();
    let refused: Vec<&str> = text.lines().filter(|line| line.contains("stored public key is refused")).collect();
    assert_eq!(refused.len(), 4 * weak_keys.len(), "one line per refused request:\n{text}");
    assert!(refused.iter().all(|line| line.contains("request refused") && line.contains(&w.agent.id.to_string())), "{refused:#?}");
    assert!(refused.iter().all(|line| line.contains("small-order")), "{refused:#?}");
}

const KEY: &str = "/agent/v1/key";

/// Two rotations signed with the same current key, each with a new key of
/// its own and its proof, both passed their checks and both wrote the key:
/// the later one won silently, and whoever made the other was answered 204
/// for a key that no longer worked. Now the write is conditional on the
/// key the request was verified with. In every round exactly one rotation
/// succeeds and its key is the one in place; the other is answered 409
/// `key-changed` when both were checked against the same key (the race;
/// nearly every round on loopback, and at least a quarter of them is
/// required, so the test shows the race was run), or 401 when it was
/// checked after the first took effect.
async fn of_two_concurrent_rotations_exactly_one_succeeds(engine: Engine) {
    const ROUNDS: usize = 20;
    // Four requests a round: more than the default rate allows.
    let limits = Limits { tenant_requests_per_second: 1_000.0, tenant_request_burst: 10_000.0, ..Limits::default() };
    let mut w = world_with(engine, limits).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut races = 0;
    for round in 1..=ROUNDS {
        assert!(Instant::now() < deadline, "{round} rounds took over two minutes");
        let keys = [AgentKey::generate().unwrap(), AgentKey::generate().unwrap()];
        let rotations = [w.agent.rotation(&keys[0]), w.agent.rotation(&keys[1])];
        let (first, second) = tokio::join!(w.agent.post(&w.app, KEY, &rotations[0]), w.agent.post(&w.app, KEY, &rotations[1]));
        let statuses = [first.status, second.status];
        let winner = match statuses {
            [204, 204] => panic!("round {round}: both rotations succeeded"),
            [204, _] => 0,
            [_, 204] => 1,
            _ => panic!("round {round}: neither rotation succeeded: {} / {}", first.body, second.body),
        };
        let loser = [&first, &second][1 - winner];
        if loser.status == 409 {
            loser.assert_problem(409).assert_kind(ProblemKind::KeyChanged);
            races += 1;
        } else {
            loser.assert_problem(401);
        }
        let [a, b] = keys;
        let (won, lost) = if winner == 0 { (a, b) } else { (b, a) };
        w.agent.key = won;
        assert_eq!(w.agent.get(&w.app, JOB).await.status, 200, "round {round}: the winner's key is in place");
        let as_loser = Agent { key: lost, id: w.agent.id, audience: w.agent.audience.clone(), job_id: w.agent.job_id, fence: None };
        as_loser.get(&w.app, JOB).await.assert_problem(401);
    }
    assert!(races >= ROUNDS / 4, "only {races} of {ROUNDS} rounds raced: the test did not run the race");
}

on_both_engines!(
    tokens_whose_times_overflow_are_refused,
    small_order_keys_are_refused_at_registration_and_rotation,
    a_token_cannot_carry_another_body,
    a_rotation_must_prove_the_new_key,
    chunk_indexes_must_be_canonical,
    a_chunk_is_exactly_one_gzip_member,
    record_counts_cannot_wrap_past_the_limit,
    client_text_cannot_forge_a_log_line,
    a_stored_weak_key_is_refused_like_a_bad_signature,
    of_two_concurrent_rotations_exactly_one_succeeds,
);
