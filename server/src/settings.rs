//! Server settings. `roster-server` fills them from flags and `ROSTER_`
//! environment variables (clap does the layering); tests fill them directly.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;

/// Everything `Application::build` needs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `sqlite:path` or `postgres://...`.
    pub database_url: String,
    /// Where to listen; port 0 picks a free port (tests).
    pub listen: SocketAddr,
    /// Serve HTTPS with this certificate chain and key (PEM), if both set.
    pub tls: Option<TlsFiles>,
    /// What clients may send.
    pub limits: Limits,
    /// The address admins reach the console at (`https://roster.example.com`),
    /// for set-up links; `None`: the listener's own address.
    pub public_url: Option<String>,
}

/// What the console needs to know of how it is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSettings {
    /// The console's address as admins reach it, without a trailing `/`.
    pub public_url: String,
    /// Session cookies are `Secure` (and `__Host-` prefixed): the console is
    /// served over TLS, here or by a proxy in front (an `https` public URL).
    pub secure_cookies: bool,
}

impl ConsoleSettings {
    /// The console reached at `public_url`, or else at the listener's
    /// `address` (over TLS when `tls`).
    pub fn new(public_url: Option<&str>, address: SocketAddr, tls: bool) -> ConsoleSettings {
        let public_url = match public_url {
            Some(url) => url.trim().trim_end_matches('/').to_owned(),
            None => format!("{}://{address}", if tls { "https" } else { "http" }),
        };
        let secure_cookies = tls || public_url.starts_with("https://");
        ConsoleSettings { public_url, secure_cookies }
    }
}

/// PEM files for HTTPS.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The embedded default: an SQLite file under `./roster-data/`.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://roster-data/roster.db";
/// Loopback only unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Directory users an import reads per batch, unless told otherwise.
pub const DEFAULT_IMPORT_BATCH_USERS: u32 = 1000;

/// Limits on what agents and admins may send, each with a default that
/// fits a large directory; exceeding one is answered with problem+json.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Chunks one snapshot may have (at most 1 MiB uncompressed each).
    pub max_chunks_per_snapshot: usize,
    /// Records one snapshot may hold, all chunks together.
    pub max_records_per_snapshot: u64,
    /// Snapshots of one job that may be receiving chunks at once.
    pub max_pending_snapshots_per_job: u64,
    /// An unfinished snapshot is deleted, chunks and all, this long after it
    /// was offered (seconds).
    pub unfinished_snapshot_ttl_secs: i64,
    /// Bytes one job's unfinished snapshots may hold, stored or still to
    /// come (the chunk sizes their signed manifests name): what one agent
    /// can make the server keep before anything is committed.
    pub max_unfinished_snapshot_bytes_per_job: u64,
    /// Days the chunks of a job's newest full snapshot are kept after its
    /// commit (0: deleted at once, like every other applied snapshot's).
    /// Chunks hold the directory's personal data as read, so they are kept
    /// only for diagnosis, and never past a purge of one of the job's users.
    pub full_snapshot_chunk_retention_days: u32,
    /// Sustained authenticated requests per second, per tenant.
    pub tenant_requests_per_second: f64,
    /// Requests a tenant may send in a burst above the sustained rate.
    pub tenant_request_burst: f64,
    /// Sustained registration attempts per minute, per client address
    /// (registration is the one unauthenticated route).
    pub register_requests_per_minute: f64,
    /// Registration attempts a client address may send in a burst.
    pub register_request_burst: f64,
    /// Directory users an import reads, plans and writes at a time: its
    /// memory, whatever the directory's size.
    pub import_batch_users: u32,
    /// Largest JSON request body, in bytes (chunks have their own limit,
    /// a little above `MAX_CHUNK_BYTES`).
    pub max_json_body_bytes: usize,
    /// A new connection must deliver its first request's head (and, for
    /// HTTPS, finish the TLS handshake first) within this (milliseconds):
    /// a client that sends headers slowly holds a connection no longer.
    pub header_read_timeout_ms: u64,
    /// A request's body must arrive whole within this of its head
    /// (milliseconds), else 408 and the connection is closed.
    pub body_read_timeout_ms: u64,
    /// A kept-alive connection is closed when no complete request head
    /// arrives for this long (milliseconds); hyper's header timer starts
    /// when the connection goes idle, so this also bounds a later head.
    /// An HTTP/2 connection is closed when no stream is open for this long
    /// (`listen::IdleClose`).
    pub idle_timeout_ms: u64,
    /// Connections open at once; past it a new connection is closed at
    /// once, so slow clients cannot take every file descriptor.
    pub max_connections: usize,
    /// Each job's scheduled runs start up to this many seconds after their
    /// time, by a fixed amount per job, so jobs due at the same time do not
    /// all start at once; 0 turns it off.
    pub schedule_jitter_secs: u32,
    /// How long an import waiting for fresh data (a scheduled run, or one
    /// started with `fresh`) waits for the job's agent to push, in seconds,
    /// before it fails.
    pub fresh_snapshot_deadline_secs: u32,
    /// How often an agent's open poll for commands looks in the database
    /// (milliseconds): commands another replica issued arrive within this.
    pub command_poll_ms: u64,
    /// Seconds a grant of a job's lease lasts unless its holder renews it.
    pub lease_ttl_secs: u32,
    /// Reverse proxies whose `X-Forwarded-For` the per-address limits
    /// believe (the right-most address that is not one of them is the
    /// client); empty, the peer is the client.
    pub trusted_proxies: Vec<ProxyNet>,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_chunks_per_snapshot: 10_000,
            max_records_per_snapshot: 20_000_000,
            max_pending_snapshots_per_job: 4,
            unfinished_snapshot_ttl_secs: 24 * 3600,
            // A 1M-user directory is some 300 MiB of compressed chunks.
            max_unfinished_snapshot_bytes_per_job: 4 * 1024 * 1024 * 1024,
            // Until the next weekly full reconciliation (the job default).
            full_snapshot_chunk_retention_days: 7,
            tenant_requests_per_second: 50.0,
            tenant_request_burst: 500.0,
            register_requests_per_minute: 30.0,
            register_request_burst: 10.0,
            max_json_body_bytes: 2 * 1024 * 1024,
            import_batch_users: DEFAULT_IMPORT_BATCH_USERS,
            header_read_timeout_ms: 10_000,
            body_read_timeout_ms: 60_000,
            idle_timeout_ms: 60_000,
            max_connections: 1024,
            schedule_jitter_secs: 120,
            fresh_snapshot_deadline_secs: 600,
            command_poll_ms: 2000,
            lease_ttl_secs: roster_proto::agent::LEASE_TTL_SECS,
            trusted_proxies: Vec::new(),
        }
    }
}

/// An address or a CIDR block (`10.0.0.0/8`, `fd00::/8`, `192.0.2.7`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyNet {
    network: IpAddr,
    prefix: u8,
}

/// Why a trusted-proxy entry does not parse.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not an IP address or CIDR block (e.g. 10.0.0.0/8)")]
pub struct BadProxyNet(String);

impl FromStr for ProxyNet {
    type Err = BadProxyNet;

    fn from_str(text: &str) -> Result<ProxyNet, BadProxyNet> {
        let bad = || BadProxyNet(text.to_owned());
        let (address, prefix) = match text.trim().split_once('/') {
            Some((address, prefix)) => (address, Some(prefix.parse::<u8>().map_err(|_| bad())?)),
            None => (text.trim(), None),
        };
        let network = address.parse::<IpAddr>().map_err(|_| bad())?.to_canonical();
        let bits = if network.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(bits);
        if prefix > bits {
            return Err(bad());
        }
        Ok(ProxyNet { network, prefix })
    }
}

impl ProxyNet {
    /// True when `address` lies in this block.
    pub fn contains(&self, address: IpAddr) -> bool {
        let leading = |bits: u32| u32::from(self.prefix).min(bits);
        match (self.network, address.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - leading(32)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - leading(128)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}
