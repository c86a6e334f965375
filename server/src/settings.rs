//! Server settings. `roster-server` fills them from flags and `ROSTER_`
//! environment variables (clap does the layering); tests fill them directly.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything `Application::build` needs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `sqlite:path` or `postgres://...`.
    pub database_url: String,
    /// Where to listen; port 0 picks a free port (tests).
    pub listen: SocketAddr,
    /// Serve HTTPS with this certificate chain and key (PEM), if both set.
    pub tls: Option<TlsFiles>,
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
