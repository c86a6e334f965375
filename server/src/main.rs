//! `roster-server`: parses the command line and calls the library.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use roster_server::app::Application;
use roster_server::settings::{DEFAULT_DATABASE_URL, DEFAULT_LISTEN, Limits, ProxyNet, Settings, TlsFiles};

/// Roster's cloud API: receives signed directory snapshots from agents and
/// imports users into the booking service.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// Database: `sqlite:PATH` (embedded, the default) or `postgres://...`.
    #[arg(long, env = "ROSTER_DATABASE_URL", default_value = DEFAULT_DATABASE_URL, global = true, hide_env_values = true)]
    database_url: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the API server (migrations run first).
    Serve {
        /// Address to listen on; port 0 picks a free port.
        #[arg(long, env = "ROSTER_LISTEN", default_value = DEFAULT_LISTEN)]
        listen: SocketAddr,
        /// PEM certificate chain; with --tls-key, serve HTTPS.
        #[arg(long, env = "ROSTER_TLS_CERT_FILE", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// PEM private key for --tls-cert.
        #[arg(long, env = "ROSTER_TLS_KEY_FILE", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Create a demo tenant, job, access and registration token, and a
        /// demo console admin, and print them (with the admin's set-up link).
        #[arg(long)]
        demo: bool,
        /// The address admins reach the console at, for the set-up links it
        /// shows (default: this server's own address). An `https://` address
        /// makes the session cookie `Secure`, as TLS here does.
        #[arg(long, env = "ROSTER_PUBLIC_URL")]
        public_url: Option<String>,
        // Boxed: the limits are most of the command's size.
        #[command(flatten)]
        limits: Box<LimitArgs>,
    },
    /// Manage tenants.
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// Manage a tenant's console admins.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Add a console admin (or give an existing one a new set-up link) and
    /// print the one-time set-up link, valid 24 hours, where they set a password.
    Add {
        /// The tenant's id (`tenant create` prints it).
        #[arg(long)]
        tenant: roster_proto::TenantId,
        /// The admin's email address: what they sign in with.
        #[arg(long)]
        email: String,
        /// `viewer` sees everything and changes nothing; `admin` changes jobs,
        /// links, accesses and approvals; `owner` also manages admins.
        #[arg(long, default_value = "owner", value_parser = parse_role)]
        role: roster_proto::admin::AdminRole,
        /// The address admins reach the console at (the link starts with it).
        #[arg(long, env = "ROSTER_PUBLIC_URL", default_value = concat!("http://", "127.0.0.1:8080"))]
        public_url: String,
    },
}

fn parse_role(text: &str) -> Result<roster_proto::admin::AdminRole, String> {
    roster_proto::admin::AdminRole::parse(text).ok_or_else(|| format!("`{text}` is not a role: owner, admin or viewer"))
}

/// Limits on what clients may send (defaults fit a large directory).
#[derive(Debug, clap::Args)]
struct LimitArgs {
    /// Chunks one snapshot may have (each at most 1 MiB uncompressed).
    #[arg(long, env = "ROSTER_MAX_CHUNKS_PER_SNAPSHOT", default_value_t = Limits::default().max_chunks_per_snapshot)]
    max_chunks_per_snapshot: usize,
    /// Records one snapshot may hold.
    #[arg(long, env = "ROSTER_MAX_RECORDS_PER_SNAPSHOT", default_value_t = Limits::default().max_records_per_snapshot)]
    max_records_per_snapshot: u64,
    /// Snapshots of one job that may be receiving chunks at once.
    #[arg(long, env = "ROSTER_MAX_PENDING_SNAPSHOTS_PER_JOB", default_value_t = Limits::default().max_pending_snapshots_per_job)]
    max_pending_snapshots_per_job: u64,
    /// Seconds after which an unfinished snapshot is deleted.
    #[arg(long, env = "ROSTER_UNFINISHED_SNAPSHOT_TTL", default_value_t = Limits::default().unfinished_snapshot_ttl_secs)]
    unfinished_snapshot_ttl: i64,
    /// Bytes one job's unfinished snapshots may hold (stored chunks plus those their manifests still announce).
    #[arg(long, env = "ROSTER_MAX_UNFINISHED_SNAPSHOT_BYTES_PER_JOB", default_value_t = Limits::default().max_unfinished_snapshot_bytes_per_job)]
    max_unfinished_snapshot_bytes_per_job: u64,
    /// Days the chunks of a job's newest full snapshot are kept after its commit (0: not kept).
    #[arg(long, env = "ROSTER_FULL_SNAPSHOT_CHUNK_RETENTION_DAYS", default_value_t = Limits::default().full_snapshot_chunk_retention_days)]
    full_snapshot_chunk_retention_days: u32,
    /// Sustained authenticated requests per second per tenant (answered 429 beyond).
    #[arg(long, env = "ROSTER_TENANT_REQUESTS_PER_SECOND", default_value_t = Limits::default().tenant_requests_per_second)]
    tenant_requests_per_second: f64,
    /// Requests a tenant may send in a burst.
    #[arg(long, env = "ROSTER_TENANT_REQUEST_BURST", default_value_t = Limits::default().tenant_request_burst)]
    tenant_request_burst: f64,
    /// Sustained agent registration attempts per minute from one client address.
    #[arg(long, env = "ROSTER_REGISTER_REQUESTS_PER_MINUTE", default_value_t = Limits::default().register_requests_per_minute)]
    register_requests_per_minute: f64,
    /// Registration attempts one client address may send in a burst.
    #[arg(long, env = "ROSTER_REGISTER_REQUEST_BURST", default_value_t = Limits::default().register_request_burst)]
    register_request_burst: f64,
    /// Directory users an import reads, plans and writes at a time.
    #[arg(long, env = "ROSTER_IMPORT_BATCH_USERS", default_value_t = Limits::default().import_batch_users)]
    import_batch_users: u32,
    /// Largest JSON request body in bytes (chunk uploads have their own limit).
    #[arg(long, env = "ROSTER_MAX_JSON_BODY_BYTES", default_value_t = Limits::default().max_json_body_bytes)]
    max_json_body_bytes: usize,
    /// Milliseconds a new connection has for its TLS handshake and first request head.
    #[arg(long, env = "ROSTER_HEADER_READ_TIMEOUT_MS", default_value_t = Limits::default().header_read_timeout_ms)]
    header_read_timeout_ms: u64,
    /// Milliseconds a request's body has to arrive whole (answered 408 beyond).
    #[arg(long, env = "ROSTER_BODY_READ_TIMEOUT_MS", default_value_t = Limits::default().body_read_timeout_ms)]
    body_read_timeout_ms: u64,
    /// Milliseconds a kept-alive connection may wait for its next request head (HTTP/2: with no stream open).
    #[arg(long, env = "ROSTER_IDLE_TIMEOUT_MS", default_value_t = Limits::default().idle_timeout_ms)]
    idle_timeout_ms: u64,
    /// Connections open at once (a new one past it is closed).
    #[arg(long, env = "ROSTER_MAX_CONNECTIONS", default_value_t = Limits::default().max_connections)]
    max_connections: usize,
    /// Seconds up to which each job's scheduled runs start after their time (a fixed amount per job; 0: none).
    #[arg(long, env = "ROSTER_SCHEDULE_JITTER_SECS", default_value_t = Limits::default().schedule_jitter_secs)]
    schedule_jitter_secs: u32,
    /// Seconds an import waits for the agent's fresh snapshot before it fails.
    #[arg(long, env = "ROSTER_FRESH_SNAPSHOT_DEADLINE_SECS", default_value_t = Limits::default().fresh_snapshot_deadline_secs)]
    fresh_snapshot_deadline_secs: u32,
    /// Seconds a job's lease lasts unless its holding agent renews it (it
    /// does every 30 s): how long a silent agent keeps the job from its standbys.
    #[arg(long, env = "ROSTER_LEASE_TTL_SECS", default_value_t = Limits::default().lease_ttl_secs)]
    lease_ttl_secs: u32,
    /// Milliseconds between an open agent poll's looks for commands issued by other replicas.
    #[arg(long, env = "ROSTER_COMMAND_POLL_MS", default_value_t = Limits::default().command_poll_ms)]
    command_poll_ms: u64,
    /// Reverse proxies (addresses or CIDR blocks, comma-separated) whose
    /// X-Forwarded-For gives the client address; none by default.
    #[arg(long, env = "ROSTER_TRUSTED_PROXIES", value_delimiter = ',')]
    trusted_proxies: Vec<ProxyNet>,
}

impl LimitArgs {
    fn into_limits(self) -> anyhow::Result<Limits> {
        if self.max_chunks_per_snapshot == 0
            || self.max_records_per_snapshot == 0
            || self.max_pending_snapshots_per_job == 0
            || self.max_unfinished_snapshot_bytes_per_job == 0
        {
            anyhow::bail!("snapshot limits must be at least 1");
        }
        if self.unfinished_snapshot_ttl < 60 {
            anyhow::bail!("--unfinished-snapshot-ttl must be at least 60 seconds");
        }
        if !(self.tenant_requests_per_second > 0.0 && self.tenant_request_burst >= 1.0) {
            anyhow::bail!("the tenant request rate must be positive and the burst at least 1");
        }
        if !(self.register_requests_per_minute > 0.0 && self.register_request_burst >= 1.0) {
            anyhow::bail!("the registration rate must be positive and the burst at least 1");
        }
        if !(1..=100_000).contains(&self.import_batch_users) {
            anyhow::bail!("--import-batch-users must be between 1 and 100000");
        }
        if self.max_json_body_bytes < 1024 {
            anyhow::bail!("--max-json-body-bytes must be at least 1024");
        }
        if self.header_read_timeout_ms == 0 || self.body_read_timeout_ms == 0 || self.idle_timeout_ms == 0 {
            anyhow::bail!("the header, body and idle timeouts must be at least 1 ms");
        }
        if self.max_connections == 0 {
            anyhow::bail!("--max-connections must be at least 1");
        }
        if self.schedule_jitter_secs > 3600 {
            anyhow::bail!("--schedule-jitter-secs must be at most 3600");
        }
        if !(10..=86_400).contains(&self.fresh_snapshot_deadline_secs) {
            anyhow::bail!("--fresh-snapshot-deadline-secs must be between 10 and 86400");
        }
        if !(2..=3600).contains(&self.lease_ttl_secs) {
            anyhow::bail!("--lease-ttl-secs must be between 2 and 3600");
        }
        if !(100..=30_000).contains(&self.command_poll_ms) {
            anyhow::bail!("--command-poll-ms must be between 100 and 30000");
        }
        Ok(Limits {
            max_chunks_per_snapshot: self.max_chunks_per_snapshot,
            max_records_per_snapshot: self.max_records_per_snapshot,
            max_pending_snapshots_per_job: self.max_pending_snapshots_per_job,
            unfinished_snapshot_ttl_secs: self.unfinished_snapshot_ttl,
            max_unfinished_snapshot_bytes_per_job: self.max_unfinished_snapshot_bytes_per_job,
            full_snapshot_chunk_retention_days: self.full_snapshot_chunk_retention_days,
            tenant_requests_per_second: self.tenant_requests_per_second,
            tenant_request_burst: self.tenant_request_burst,
            register_requests_per_minute: self.register_requests_per_minute,
            register_request_burst: self.register_request_burst,
            max_json_body_bytes: self.max_json_body_bytes,
            import_batch_users: self.import_batch_users,
            header_read_timeout_ms: self.header_read_timeout_ms,
            body_read_timeout_ms: self.body_read_timeout_ms,
            idle_timeout_ms: self.idle_timeout_ms,
            max_connections: self.max_connections,
            schedule_jitter_secs: self.schedule_jitter_secs,
            fresh_snapshot_deadline_secs: self.fresh_snapshot_deadline_secs,
            command_poll_ms: self.command_poll_ms,
            lease_ttl_secs: self.lease_ttl_secs,
            trusted_proxies: self.trusted_proxies,
        })
    }
}

#[derive(Debug, Subcommand)]
enum TenantCommand {
    /// Create a tenant; prints its id and admin token (shown once) as JSON.
    Create {
        #[arg(long)]
        name: String,
        /// The admin token expires after this many days (1..=3650); without
        /// it, it never does. Issue further tokens with `POST /api/v1/admin-tokens`.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i64::from(roster_proto::admin::MAX_ADMIN_TOKEN_DAYS)))]
        expires_in_days: Option<u32>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_logging();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { listen, tls_cert, tls_key, demo, public_url, limits } => {
            let limits = (*limits).into_limits()?;
            roster_server::fault::arm_from_env()?;
            let tls = tls_cert.zip(tls_key).map(|(cert, key)| TlsFiles { cert, key });
            let scheme = if tls.is_some() { "https" } else { "http" };
            let app = Application::build(Settings { database_url: cli.database_url, listen, tls, limits, public_url }).await?;
            let url = format!("{scheme}://{}", app.address());
            if demo {
                let demo = roster_server::demo::create(&app.state().db).await.context("creating the demo tenant")?;
                print_demo(&url, &app.state().console.public_url, &demo);
            }
            // Tests read this line to learn the port.
            println!("roster-server listening on {url}");
            app.run_until_stopped().await
        }
        Command::Tenant { command: TenantCommand::Create { name, expires_in_days } } => {
            if name.trim().is_empty() {
                anyhow::bail!("--name must not be empty");
            }
            let db = roster_server::db::Db::connect(&cli.database_url).await?;
            let tenant = roster_server::store::tenants::create_tenant(
                &db,
                name.trim(),
                expires_in_days.map(|days| roster_server::store::UnixMillis::now().plus_days(days)),
            )
            .await?;
            println!("{}", serde_json::to_string_pretty(&tenant)?);
            Ok(())
        }
        Command::Admin { command: AdminCommand::Add { tenant, email, role, public_url } } => {
            let db = roster_server::db::Db::connect(&cli.database_url).await?;
            let link = roster_server::service::admins::add_admin_as_operator(&db, tenant, &email, role)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.detail()))?;
            println!(
                "{} ({}) can set a password at this link, once, until {}:\n\n  {}\n",
                link.admin.email,
                role.as_str(),
                roster_server::store::rfc3339(link.expires_at),
                link.url(&public_url)
            );
            Ok(())
        }
    }
}

/// Structured logs to stderr, filtered by `ROSTER_LOG` (default
/// `info,sqlx=warn`); JSON lines when `ROSTER_LOG_FORMAT=json`.
fn init_logging() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("ROSTER_LOG").unwrap_or_else(|_| "info,sqlx=warn".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(std::io::stderr().is_terminal());
    if std::env::var("ROSTER_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn print_demo(url: &str, console: &str, demo: &roster_server::demo::Demo) {
    println!(
        "Demo tenant {tenant}\n\
         \nOpen the console and set the demo admin's password ({email}), once, within 24 h:\n  {setup}\n\
         \n  admin token:        {admin}\n  job:                {job}\n  registration token: {reg} (valid 24 h, once)\n\
         \nTry the admin API:\n  curl -H 'Authorization: Bearer {admin}' {url}/api/v1/jobs\n\
         \nRegister an agent on a machine that reaches your AD, then push:\n  \
         export ROSTER_REGISTRATION_TOKEN={reg}   # never as an argument: others can list command lines\n  \
         roster-agent register --server {url}\n  \
         ROSTER_LDAP_URL=ldaps://dc.example.com ROSTER_LDAP_BIND_DN='svc-roster@EXAMPLE.COM' ROSTER_LDAP_PASSWORD_FILE=/path/to/secret roster-agent push\n",
        tenant = demo.tenant_id,
        admin = demo.admin_token,
        job = demo.job_id,
        reg = demo.registration_token,
        email = demo.admin.admin.email,
        setup = demo.admin.url(console),
    );
}
