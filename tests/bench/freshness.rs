//! The freshness benchmark (`scripts/bench-freshness.sh` builds and runs
//! it against a throw-away Samba DC): how soon a change made in AD is
//! visible through the admin API with continuous sync, and what an idle
//! agent and a one-user change cost. Everything is real: the release
//! `roster-server` (SQLite) and `roster-agent run`, the DC, `ldapmodify`.
//!
//! Two counting TCP proxies sit on the agent's two connections, to the
//! server (HTTP) and to the DC (LDAPS, on the DC's own address, so its
//! certificate still matches), and count the bytes each way.
//!
//! Per mode (change notifications, then `--no-notifications` polling
//! `highestCommittedUSN` every 15 s, the defaults):
//! - idle: `BENCH_IDLE_SECS` (60) with nothing changing: snapshots
//!   uploaded (target 0) and LDAP bytes per USN poll (one rootDSE read);
//! - `BENCH_SAMPLES` (20) changes, one after another: a user disabled (or
//!   enabled again) with `ldapmodify`, timed from just before `ldapmodify`
//!   starts until `GET /api/v1/users` shows it; p50 and p95 (targets: p95
//!   ≤ 10 s with notifications, ≤ 60 s polling), and the median bytes the
//!   agent sent the server per change (target < 4 KiB).
//!
//! It prints PASS or FAIL per target and exits 0 unless something broke.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use roster_e2e::{Admin, Agent, Engine, LdapTransport, RunningAgent, Server, TestOu, env, job_over, ldap_modify_at, set_up_via};
use roster_proto::JobId;
use roster_proto::admin::{AccessKind, Job, Page, Session, SessionStatus, SessionTrigger, SyncMode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Bytes through a proxy: `up` from the agent, `down` to it.
#[derive(Debug, Default)]
struct Counted {
    up: AtomicU64,
    down: AtomicU64,
}

impl Counted {
    fn now(&self) -> (u64, u64) {
        (self.up.load(Ordering::Relaxed), self.down.load(Ordering::Relaxed))
    }
}

/// A TCP proxy on `listen_ip` (any port) to `target`, counting bytes.
async fn counting_proxy(listen_ip: &str, target: SocketAddr) -> (SocketAddr, Arc<Counted>) {
    let listener = TcpListener::bind((listen_ip, 0)).await.expect("bind the proxy");
    let address = listener.local_addr().unwrap();
    let counted = Arc::new(Counted::default());
    let shared = Arc::clone(&counted);
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let counted = Arc::clone(&shared);
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(target).await else { return };
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                let up = Arc::clone(&counted);
                let upwards = tokio::spawn(async move { pipe(&mut client_read, &mut server_write, &up.up).await });
                pipe(&mut server_read, &mut client_write, &counted.down).await;
                upwards.abort();
            });
        }
    });
    (address, counted)
}

async fn pipe(from: &mut (impl AsyncReadExt + Unpin), to: &mut (impl AsyncWriteExt + Unpin), count: &AtomicU64) {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                count.fetch_add(n as u64, Ordering::Relaxed);
                if to.write_all(&buffer[..n]).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown().await;
}

fn number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The `q` quantile (nearest rank) of `values`.
fn quantile(values: &[Duration], q: f64) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn verdict(pass: bool) -> &'static str {
    if pass { "PASS" } else { "FAIL" }
}

async fn change_sessions(admin: &Admin, job: JobId) -> Vec<Session> {
    let page: Page<Session> = admin.get(&format!("/api/v1/jobs/{job}/sessions?limit=100")).await;
    page.items.into_iter().filter(|s| s.trigger == SessionTrigger::Change).collect()
}

struct Bench {
    admin: Admin,
    job: Job,
    ou: TestOu,
    agent: Agent,
    http: Arc<Counted>,
    ldap: Arc<Counted>,
    samples: u64,
    idle: Duration,
    /// Whether each sample user is disabled now.
    disabled: Vec<bool>,
}

impl Bench {
    /// Runs the agent with `extra`, measures idle and `samples` changes; the report lines.
    async fn mode(&mut self, name: &str, extra: &[&str], target: Duration, poll_every: Duration) -> Vec<String> {
        let mut args = vec!["run", "--heartbeat-every", "300"];
        args.extend_from_slice(extra);
        let mut running = self.agent.spawn(&args, 3);
        running.wait_for_log("watching the DC for changes", Duration::from_secs(60));
        // Whatever the start pushed has settled.
        self.until_quiet(&mut running).await;

        let before_sessions = change_sessions(&self.admin, self.job.id).await.len();
        let pushed_before = running.log_so_far().matches("change pushed").count();
        let (ldap_before, _) = self.ldap.now();
        let ldap_down_before = self.ldap.now().1;
        let (http_before, _) = self.http.now();
        tokio::time::sleep(self.idle).await;
        let uploads = change_sessions(&self.admin, self.job.id).await.len() - before_sessions;
        let pushed = running.log_so_far().matches("change pushed").count() - pushed_before;
        let ldap_bytes = (self.ldap.now().0 - ldap_before) + (self.ldap.now().1 - ldap_down_before);
        let polls = (self.idle.as_secs_f64() / poll_every.as_secs_f64()).floor().max(1.0);
        let http_idle = self.http.now().0 - http_before;

        let mut latencies = Vec::new();
        let mut sent = Vec::new();
        let mut chunks = Vec::new();
        for i in 0..self.samples as usize {
            let index = i % self.disabled.len();
            let disable = !self.disabled[index];
            let name = format!("u{index:02}");
            let (up_before, _) = self.http.now();
            let started = Instant::now();
            let uac = if disable { 514 } else { 512 };
            ldap_modify_at(
                &self.ou.url,
                &format!(
                    "dn: CN={name},OU=In,{}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: {uac}\n-\n",
                    self.ou.dn
                ),
            );
            let sam = self.ou.sam(&name);
            loop {
                let users = self.admin.all_users(self.job.id).await;
                if users.iter().any(|u| u.username == sam && u.active != disable) {
                    break;
                }
                assert!(started.elapsed() < Duration::from_secs(300), "{name} never changed; the agent's log:\n{}", running.log_so_far());
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            latencies.push(started.elapsed());
            self.disabled[index] = disable;
            self.until_quiet(&mut running).await;
            sent.push(self.http.now().0 - up_before);
            let pushed = running.log_so_far().lines().rev().find(|line| line.contains("change pushed")).map(str::to_owned);
            let chunk_bytes = pushed.as_deref().and_then(|line| line.split(" bytes=").nth(1)).and_then(|rest| rest.split(' ').next());
            chunks.extend(chunk_bytes.and_then(|b| b.parse::<u64>().ok()));
        }
        running.terminate();
        let output = running.finish(Duration::from_secs(30));
        assert!(output.status.success(), "the agent failed: {}", String::from_utf8_lossy(&output.stderr));
        let failed: Vec<_> =
            change_sessions(&self.admin, self.job.id).await.into_iter().filter(|s| s.status != SessionStatus::Succeeded).collect();
        assert!(failed.is_empty(), "imports that did not succeed: {failed:?}");

        let (p50, p95) = (quantile(&latencies, 0.5), quantile(&latencies, 0.95));
        sent.sort();
        let median_sent = sent[sent.len() / 2];
        chunks.sort();
        let median_chunks = chunks.get(chunks.len() / 2).copied().unwrap_or(0);
        vec![
            format!(
                "{name}: change visible through the API in p50 {:.2} s, p95 {:.2} s over {} changes (target p95 <= {} s): {}",
                p50.as_secs_f64(),
                p95.as_secs_f64(),
                latencies.len(),
                target.as_secs(),
                verdict(p95 <= target)
            ),
            format!(
                "{name}: idle {} s: {uploads} snapshots imported, {pushed} pushed (target 0): {}; LDAP {:.0} bytes per USN poll every {} s ({ldap_bytes} bytes both ways in all); {http_idle} bytes to the server (heartbeat, lease, command polls)",
                self.idle.as_secs(),
                verdict(uploads == 0 && pushed == 0),
                ldap_bytes as f64 / polls,
                poll_every.as_secs(),
            ),
            format!(
                "{name}: one user's change sends the server {median_sent} bytes (median; HTTP and all, of which {median_chunks} bytes of compressed records; target < 4096): {}",
                verdict(median_sent < 4096)
            ),
        ]
    }

    /// Waits until the agent has been quiet for 3 s (its push done).
    async fn until_quiet(&self, running: &mut RunningAgent) {
        let mut last = self.http.now();
        let mut quiet_since = Instant::now();
        while quiet_since.elapsed() < Duration::from_secs(3) {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let now = self.http.now();
            if now != last {
                last = now;
                quiet_since = Instant::now();
            }
            let _ = running.log_so_far();
        }
    }
}

#[tokio::main]
async fn main() {
    let samples = number("BENCH_SAMPLES", 20);
    let idle = Duration::from_secs(number("BENCH_IDLE_SECS", 60));
    let users = 20;

    let server = Server::start(Engine::Sqlite, false).await;
    let server_address: SocketAddr = server.url.trim_start_matches("http://").trim_end_matches('/').parse().expect("the server's address");
    let (http_proxy, http) = counting_proxy("127.0.0.1", server_address).await;
    let dc_host = env("ROSTER_TEST_LDAPS_URL").trim_start_matches("ldaps://").trim_end_matches('/').to_owned();
    let dc_address: SocketAddr = format!("{dc_host}:636").parse().expect("the DC's address");
    let (ldap_proxy, ldap) = counting_proxy(&dc_host, dc_address).await;

    let ou = TestOu::create();
    let names: Vec<String> = (0..users).map(|i| format!("u{i:02}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    ou.add_users(&names);
    let group = ou.add_group("Staff", &names);
    let mut agent = Agent::new(LdapTransport::Ldaps, 1000);
    agent.dc = Some((format!("ldaps://{ldap_proxy}"), env("ROSTER_TEST_LDAP_CA_FILE")));
    let scope = job_over("freshness", &[&format!("OU=In,{}", ou.relative)], &[&ou.relative]);
    let (admin, job, _) = set_up_via(&server, &format!("http://{http_proxy}"), &agent, scope, &[(group, AccessKind::User, "HQ")]).await;
    let job: Job = admin.patch(&format!("/api/v1/jobs/{}", job.id), &serde_json::json!({"sync_mode": "continuous"})).await;
    assert_eq!(job.sync_mode, SyncMode::Continuous);

    let mut bench = Bench { admin, job, ou, agent, http, ldap, samples, idle, disabled: vec![false; users] };
    let mut report = bench.mode("notifications", &[], Duration::from_secs(10), Duration::from_secs(60)).await;
    report.extend(bench.mode("polling", &["--no-notifications"], Duration::from_secs(60), Duration::from_secs(15)).await);
    println!("bench-freshness: {users} users in scope, SQLite, release binaries, DC {dc_host}");
    for line in report {
        println!("  {line}");
    }
}
