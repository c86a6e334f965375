//! End-to-end harness: starts the real `roster-server` binary on port 0
//! (stopped on drop), runs the real `roster-agent` binary against the Samba
//! AD DC that `scripts/test.sh` started, and talks to the admin API;
//! [`browser`] drives a real headless Chromium for the admin console.
//!
//! The services' coordinates come from `ROSTER_TEST_*` variables; a test
//! run without them fails with a message saying how to run it, never passes
//! silently.

// A failed unwrap is a failed test, which is what we want here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod browser;
pub mod contract;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use roster_proto::admin::{
    Access, AccessKind, CreateAccess, CreateJob, CreatedTenant, Job, LinkInput, Page, RegistrationToken, Schedule, Session, User,
};
use roster_proto::{JobId, SessionId};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

pub use roster_testkit::TempDir;
pub use roster_testkit::database::Engine;
use roster_testkit::database::TestDatabase;
/// A required test variable, or a failure naming it.
pub use roster_testkit::env;

/// Where cargo put the workspace's binaries (next to this test's `deps/`).
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let path = dir.join(name);
    assert!(path.exists(), "{} is missing: build the workspace first (`cargo build --workspace`, as scripts/test.sh does)", path.display());
    path
}

/// A running `roster-server serve`, killed on drop.
#[derive(Debug)]
pub struct Server {
    pub url: String,
    pub database_url: String,
    tls: bool,
    /// Extra environment, kept for a restart.
    vars: Vec<(String, String)>,
    child: Child,
    /// Keeps an SQLite file alive while the server runs.
    _database: TestDatabase,
}

impl Server {
    /// Starts the server on a fresh database and waits until it listens;
    /// with `tls`, it serves HTTPS with the test CA's certificate for
    /// 127.0.0.1 (the one `scripts/samba-dc.sh` made for the DC).
    pub async fn start(engine: Engine, tls: bool) -> Server {
        Server::start_with_fault(engine, tls, None).await
    }

    /// Like [`Server::start`], with `ROSTER_FAULT` set to `fault`: the
    /// server aborts itself at that point (see `server/src/fault.rs`).
    pub async fn start_with_fault(engine: Engine, tls: bool, fault: Option<&str>) -> Server {
        let fault: Vec<(&str, &str)> = fault.map(|fault| ("ROSTER_FAULT", fault)).into_iter().collect();
        Server::start_with(engine, tls, &fault).await
    }

    /// Like [`Server::start`] over plain HTTP, with extra environment
    /// variables (settings such as `ROSTER_TENANT_REQUESTS_PER_SECOND`).
    pub async fn start_with_env(engine: Engine, vars: &[(&str, &str)]) -> Server {
        Server::start_with(engine, false, vars).await
    }

    /// Starts the server on a fresh database with `vars` in its environment.
    async fn start_with(engine: Engine, tls: bool, vars: &[(&str, &str)]) -> Server {
        let database = TestDatabase::create(engine).await;
        let database_url = database.url.clone();
        let (child, url) = spawn_server(&database_url, "127.0.0.1:0", tls, vars).await;
        let vars = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Server { url, database_url, tls, vars, child, _database: database }
    }

    /// Waits until the server process ends by itself (an injected fault),
    /// and returns how it ended.
    pub async fn wait_for_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for roster-server") {
                return status;
            }
            assert!(Instant::now() < deadline, "roster-server did not exit within {timeout:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Starts the server again on the same database and port, with the
    /// same settings but without a fault (after [`Server::wait_for_exit`],
    /// or killing it first).
    pub async fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let listen = self.url.rsplit_once("//").map(|(_, address)| address.to_owned()).expect("server url");
        let vars: Vec<(&str, &str)> =
            self.vars.iter().filter(|(k, _)| k != "ROSTER_FAULT").map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let (child, url) = spawn_server(&self.database_url, &listen, self.tls, &vars).await;
        assert_eq!(url, self.url, "the restarted server listens where the first one did");
        self.child = child;
    }

    /// `roster-server tenant create --name NAME`, against this server's database.
    pub fn create_tenant(&self, name: &str) -> CreatedTenant {
        let output = Command::new(binary("roster-server"))
            .args(["tenant", "create", "--name", name])
            .env("ROSTER_DATABASE_URL", &self.database_url)
            .output()
            .expect("run roster-server tenant create");
        assert!(output.status.success(), "tenant create failed: {}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice(&output.stdout).expect("tenant create prints JSON")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawns `roster-server serve` and waits for the line saying where it listens.
/// `vars` are set in its environment.
pub async fn spawn_server(database_url: &str, listen: &str, tls: bool, vars: &[(&str, &str)]) -> (Child, String) {
    let mut command = Command::new(binary("roster-server"));
    command.args(["serve", "--listen", listen]);
    if tls {
        let dir = PathBuf::from(env("ROSTER_TEST_SAMBA_DIR")).join("tls");
        command.arg("--tls-cert").arg(dir.join("cert.pem")).arg("--tls-key").arg(dir.join("key.pem"));
    }
    command.envs(vars.iter().copied());
    let mut child = command
        .env("ROSTER_DATABASE_URL", database_url)
        // The server's request log is noise in test output; warnings still show.
        .env("ROSTER_LOG", std::env::var("ROSTER_TEST_SERVER_LOG").unwrap_or_else(|_| "warn".into()))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start roster-server");
    let stdout = child.stdout.take().expect("stdout");
    // The server prints one line with its address once it listens.
    let url = tokio::task::spawn_blocking(move || {
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref() {
            let line = line.expect("read server output");
            if let Some(url) = line.strip_prefix("roster-server listening on ") {
                return Some(url.to_owned());
            }
        }
        None
    });
    let url = tokio::time::timeout(Duration::from_secs(60), url)
        .await
        .expect("roster-server did not start listening within 60 s")
        .expect("join")
        .expect("roster-server exited before listening");
    (child, url)
}

/// The admin API, as one tenant's admin.
#[derive(Debug, Clone)]
pub struct Admin {
    pub url: String,
    pub token: String,
    http: reqwest::Client,
}

impl Admin {
    pub fn new(url: &str, token: &str) -> Admin {
        let _ = rustls::crypto::ring::default_provider().install_default();
        // Below the server's idle timeout (60 s), so a kept-alive connection
        // is never reused just as the server closes it.
        let mut http = reqwest::Client::builder().pool_idle_timeout(Duration::from_secs(30));
        if url.starts_with("https://") {
            let pem = std::fs::read(env("ROSTER_TEST_LDAP_CA_FILE")).expect("read the test CA");
            http = http.add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("test CA"));
        }
        Admin { url: url.to_owned(), token: token.to_owned(), http: http.build().expect("HTTP client") }
    }

    async fn answer<T: DeserializeOwned>(response: reqwest::Response) -> T {
        let status = response.status();
        let text = response.text().await.expect("body");
        assert!(status.is_success(), "{status}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("unexpected body {text}: {e}"))
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> T {
        Self::answer(self.http.get(format!("{}{path}", self.url)).bearer_auth(&self.token).send().await.expect("GET")).await
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> T {
        Self::answer(self.http.post(format!("{}{path}", self.url)).bearer_auth(&self.token).json(body).send().await.expect("POST")).await
    }

    pub async fn patch<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> T {
        Self::answer(self.http.patch(format!("{}{path}", self.url)).bearer_auth(&self.token).json(body).send().await.expect("PATCH")).await
    }

    pub async fn put<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> T {
        Self::answer(self.http.put(format!("{}{path}", self.url)).bearer_auth(&self.token).json(body).send().await.expect("PUT")).await
    }

    /// Every user of a job, following cursors.
    pub async fn all_users(&self, job: JobId) -> Vec<User> {
        let mut users = Vec::new();
        let mut cursor = String::new();
        loop {
            let page: Page<User> = self.get(&format!("/api/v1/users?job={job}&limit=500{cursor}")).await;
            users.extend(page.items);
            match page.next_cursor {
                Some(next) => cursor = format!("&cursor={next}"),
                None => return users,
            }
        }
    }

    /// Polls a session until it finishes, with a deadline.
    pub async fn wait_for_session(&self, id: SessionId) -> Session {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let session: Session = self.get(&format!("/api/v1/sessions/{id}")).await;
            if session.status.is_settled() {
                return session;
            }
            assert!(Instant::now() < deadline, "session {id} is still {:?}", session.status);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// How the agent reaches the test DC.
#[derive(Debug, Clone, Copy)]
pub enum LdapTransport {
    /// `ldaps://` verified with the test CA.
    Ldaps,
    /// `ldap://` upgraded with StartTLS, verified with the test CA.
    StartTls,
    /// Plain `ldap://`, with or without the explicit opt-in.
    Plain { allow_insecure: bool },
}

/// The real `roster-agent` binary with its own state directory.
#[derive(Debug)]
pub struct Agent {
    pub state: TempDir,
    pub transport: LdapTransport,
    pub page_size: u32,
    /// Another DC than the shared one: its LDAPS URL and CA file.
    pub dc: Option<(String, String)>,
}

impl Agent {
    pub fn new(transport: LdapTransport, page_size: u32) -> Agent {
        Agent { state: TempDir::new("e2e-agent"), transport, page_size, dc: None }
    }

    /// `roster-agent ARGS --state-dir DIR` with the DC's settings in the environment.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(binary("roster-agent"));
        command.args(args).arg("--state-dir").arg(&self.state.0);
        command
            .env("ROSTER_LDAP_BIND_DN", env("ROSTER_TEST_LDAP_BIND_DN"))
            .env("ROSTER_LDAP_PASSWORD", env("ROSTER_TEST_LDAP_PASSWORD"))
            .env("ROSTER_LDAP_PAGE_SIZE", self.page_size.to_string())
            .env("ROSTER_HTTP_MAX_RETRIES", "2")
            // Trusts the test CA, which also signed the HTTPS server's certificate.
            .env("ROSTER_SERVER_CA_FILE", env("ROSTER_TEST_LDAP_CA_FILE"))
            .env("ROSTER_LOG", "info");
        match (&self.dc, self.transport) {
            (Some((url, ca)), _) => {
                command.env("ROSTER_LDAP_URL", url).env("ROSTER_LDAP_CA_FILE", ca);
            }
            (None, LdapTransport::Ldaps) => {
                command.env("ROSTER_LDAP_URL", env("ROSTER_TEST_LDAPS_URL")).env("ROSTER_LDAP_CA_FILE", env("ROSTER_TEST_LDAP_CA_FILE"));
            }
            (None, LdapTransport::StartTls) => {
                command
                    .env("ROSTER_LDAP_URL", env("ROSTER_TEST_LDAP_URL"))
                    .env("ROSTER_LDAP_STARTTLS", "true")
                    .env("ROSTER_LDAP_CA_FILE", env("ROSTER_TEST_LDAP_CA_FILE"));
            }
            (None, LdapTransport::Plain { allow_insecure }) => {
                command.env("ROSTER_LDAP_URL", env("ROSTER_TEST_LDAP_URL")).env("ROSTER_LDAP_ALLOW_INSECURE", allow_insecure.to_string());
            }
        }
        command
    }

    /// Runs `roster-agent ARGS` and waits for it.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run roster-agent")
    }

    /// Starts `roster-agent ARGS` in the background, allowed `retries`
    /// retries of each request, with its log readable while it runs.
    pub fn spawn(&self, args: &[&str], retries: u32) -> RunningAgent {
        let mut child = self
            .command(args)
            .env("ROSTER_HTTP_MAX_RETRIES", retries.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start roster-agent");
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let stdout = std::thread::spawn(move || std::io::read_to_string(stdout).expect("read agent stdout"));
        let (send, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        RunningAgent { child, stdout, lines, log: String::new() }
    }

    /// Runs the agent and asserts it succeeded.
    pub fn run_ok(&self, args: &[&str]) -> Output {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "roster-agent {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }
}

/// A `roster-agent` started by [`Agent::spawn`].
#[derive(Debug)]
pub struct RunningAgent {
    child: Child,
    stdout: std::thread::JoinHandle<String>,
    lines: std::sync::mpsc::Receiver<String>,
    /// Its log so far.
    pub log: String,
}

impl RunningAgent {
    /// The agent's next log line (kept in `log` too) before `deadline`.
    fn next_line(&mut self, deadline: Instant) -> Result<String, std::sync::mpsc::RecvTimeoutError> {
        let line = self.lines.recv_timeout(deadline.saturating_duration_since(Instant::now()))?;
        self.log.push_str(&line);
        self.log.push('\n');
        Ok(line)
    }

    /// Reads the agent's log until a line contains `needle`; fails after `timeout`.
    pub fn wait_for_log(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            match self.next_line(deadline) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(error) => panic!("no agent log line with {needle:?} ({error}); the log so far:\n{}", self.log),
            }
        }
    }

    /// Its log up to now, without waiting for more.
    pub fn log_so_far(&mut self) -> &str {
        while let Ok(line) = self.lines.try_recv() {
            self.log.push_str(&line);
            self.log.push('\n');
        }
        &self.log
    }

    /// Sends the agent SIGTERM, as systemd's stop does.
    pub fn terminate(&mut self) {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("run kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Kills the agent outright (SIGKILL), as a crash or a pulled plug
    /// would: nothing of it runs after, not even its stop handling.
    pub fn kill(mut self) {
        self.child.kill().expect("kill roster-agent");
        self.child.wait().expect("wait for roster-agent");
    }

    /// Waits for the agent to end (its log closes) and returns its output.
    pub fn finish(mut self, timeout: Duration) -> Output {
        let deadline = Instant::now() + timeout;
        loop {
            match self.next_line(deadline) {
                Ok(_) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    panic!("roster-agent did not finish within {timeout:?}; its log:\n{}", self.log);
                }
            }
        }
        let status = self.child.wait().expect("wait for roster-agent");
        let stdout = self.stdout.join().expect("agent stdout reader");
        Output { status, stdout: stdout.into_bytes(), stderr: self.log.into_bytes() }
    }
}

/// Applies an LDIF change set to the shared test DC with `ldapmodify`, as
/// an admin would with their own tools.
pub fn ldap_modify(ldif: &str) {
    ldap_modify_at(&env("ROSTER_TEST_LDAP_URL"), ldif);
}

/// Applies an LDIF change set to the DC at `url`.
pub fn ldap_modify_at(url: &str, ldif: &str) {
    use std::io::Write;
    let mut child = Command::new("ldapmodify")
        .args(["-x", "-H", url, "-D", &env("ROSTER_TEST_LDAP_BIND_DN"), "-w", &env("ROSTER_TEST_LDAP_PASSWORD")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ldapmodify (package ldap-utils)");
    child.stdin.take().expect("stdin").write_all(ldif.as_bytes()).expect("write LDIF");
    let output = child.wait_with_output().expect("ldapmodify");
    assert!(output.status.success(), "ldapmodify failed: {}\n{ldif}", String::from_utf8_lossy(&output.stderr));
}

/// An OU of this test's own under the domain root, so tests that change
/// the directory never see each other's objects.
#[derive(Debug)]
pub struct TestOu {
    /// `OU=e2e-...` relative to the base DN.
    pub relative: String,
    /// The full DN.
    pub dn: String,
    /// Makes account names unique across test runs on the same DC.
    pub tag: String,
    /// The DC it lives on (`ldap://`).
    pub url: String,
}

impl TestOu {
    /// Creates `OU=e2e-<random>` with sub-OUs `In` and `Out` on the shared DC.
    pub fn create() -> TestOu {
        TestOu::create_on(&env("ROSTER_TEST_LDAP_URL"))
    }

    /// The same on the DC at `url` (`ldap://`).
    pub fn create_on(url: &str) -> TestOu {
        let tag = Uuid::new_v4().simple().to_string()[..8].to_owned();
        let relative = format!("OU=e2e-{tag}");
        let dn = format!("{relative},{}", env("ROSTER_TEST_LDAP_BASE_DN"));
        let mut ldif = String::new();
        for ou in [dn.clone(), format!("OU=In,{dn}"), format!("OU=Out,{dn}")] {
            ldif += &format!("dn: {ou}\nchangetype: add\nobjectClass: organizationalUnit\n\n");
        }
        ldap_modify_at(url, &ldif);
        TestOu { relative, dn, tag, url: url.to_owned() }
    }

    /// The `sAMAccountName` this OU gives `name` (unique in the domain).
    pub fn sam(&self, name: &str) -> String {
        format!("{name}-{}", self.tag)
    }

    /// Adds enabled users `names` under `OU=In`.
    pub fn add_users(&self, names: &[&str]) {
        let mut ldif = String::new();
        for name in names {
            ldif += &format!(
                "dn: CN={name},OU=In,{dn}\nchangetype: add\nobjectClass: user\nsAMAccountName: {sam}\n\
                 userPrincipalName: {sam}@corp.example.test\nmail: {sam}@example.test\ntitle: Engineer\nuserAccountControl: 512\n\n",
                dn = self.dn,
                sam = self.sam(name),
            );
        }
        ldap_modify_at(&self.url, &ldif);
    }

    /// Adds a group with the given users (from `OU=In`) as members.
    pub fn add_group(&self, name: &str, members: &[&str]) -> String {
        let group = format!("CN={name},{}", self.dn);
        let mut ldif = format!("dn: {group}\nchangetype: add\nobjectClass: group\nsAMAccountName: {}\n", self.sam(name));
        for member in members {
            ldif += &format!("member: CN={member},OU=In,{}\n", self.dn);
        }
        ldap_modify_at(&self.url, &(ldif + "\n"));
        group
    }
}

/// Waits until the object at `dn` can be read from the DC at `url` (e.g.
/// once replication brought it there).
pub async fn wait_for_entry(url: &str, dn: &str) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let found = Command::new("ldapsearch")
            .args(["-x", "-H", url, "-D", &env("ROSTER_TEST_LDAP_BIND_DN"), "-w", &env("ROSTER_TEST_LDAP_PASSWORD")])
            .args(["-s", "base", "-b", dn, "-LLL", "dn"])
            .output()
            .expect("run ldapsearch (package ldap-utils)")
            .status
            .success();
        if found {
            return;
        }
        assert!(Instant::now() < deadline, "{dn} did not reach {url} within 90 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A job over `paths` reading groups under `group_paths`, with defaults.
pub fn job_over(name: &str, paths: &[&str], group_paths: &[&str]) -> CreateJob {
    CreateJob {
        name: name.into(),
        relative_paths: paths.iter().map(|p| p.to_string()).collect(),
        group_paths: group_paths.iter().map(|p| p.to_string()).collect(),
        // Off: a test's imports are its own, whatever the hour it runs at.
        schedule: Some(Schedule { enabled: false, ..Schedule::default() }),
        full_sync_interval_days: None,
        user_filter: None,
        policy: None,
        sync_mode: None,
    }
}

/// Sets up a tenant with `job`, an access per link and the links (by group
/// DN, before any snapshot exists), and registers `agent` to the job.
/// Returns the accesses in the order of `links`.
pub async fn set_up(server: &Server, agent: &Agent, job: CreateJob, links: &[(String, AccessKind, &str)]) -> (Admin, Job, Vec<Access>) {
    set_up_via(server, &server.url, agent, job, links).await
}

/// [`set_up`], the agent registering with (and so talking to) the server
/// at `agent_url`: a proxy in front of `server`, say.
pub async fn set_up_via(
    server: &Server,
    agent_url: &str,
    agent: &Agent,
    job: CreateJob,
    links: &[(String, AccessKind, &str)],
) -> (Admin, Job, Vec<Access>) {
    let tenant = server.create_tenant(&format!("{} Corp", job.name));
    let admin = Admin::new(&server.url, &tenant.admin_token);
    let job: Job = admin.post("/api/v1/jobs", &job).await;
    let mut accesses = Vec::new();
    let mut inputs = Vec::new();
    for (group, kind, name) in links {
        let access: Access = admin.post("/api/v1/accesses", &CreateAccess { kind: *kind, name: name.to_string() }).await;
        inputs.push(LinkInput { group: group.clone(), access_id: access.id });
        accesses.push(access);
    }
    let _: serde_json::Value = admin.put(&format!("/api/v1/jobs/{}/links", job.id), &inputs).await;
    let token: RegistrationToken = admin.post(&format!("/api/v1/jobs/{}/registration-tokens", job.id), &()).await;
    agent.run_ok(&["register", "--server", agent_url, "--token", &token.token]);
    (admin, job, accesses)
}
