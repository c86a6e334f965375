//! Roster's agent: reads Active Directory over LDAP, cuts a full or delta
//! snapshot into signed chunks and pushes them to the Roster server. It
//! only ever connects out.
//!
//! - [`config`]: settings, layered from the TOML file and `ROSTER_*` variables (pure).
//! - [`ldap`]: connect, bind, rootDSE and watermark, and the paged read of
//!   users, groups, OUs and (for deltas) tombstones.
//! - [`sync`]: full or delta, from the server's advice and the DC's watermark (pure).
//! - [`spool`]: records → chunk files on disk as pages arrive.
//! - [`snapshot`]: one read into the spool, and its manifest.
//! - [`http`]: the signed, retrying client of the agent API.
//! - [`state`]: the state directory (identity, key, spool).
//! - [`commands`]: `register`, `check`, `push`, `read` as functions returning reports.
//! - [`cli`]: the command line around them.

mod chain;
pub mod cli;
pub mod commands;
pub mod config;
pub mod error;
pub mod http;
pub mod ldap;
pub mod logging;
pub mod platform;
pub mod secret;
pub mod snapshot;
pub mod spool;
pub mod state;
pub mod sync;
pub mod watch;

use std::sync::Arc;

use rustls::crypto::CryptoProvider;

pub use crate::error::{AgentError, Cause, Stage};
pub use crate::secret::Secret;

/// The agent's version, sent to the server at registration.
pub const AGENT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Makes ring the process's rustls provider (reqwest is built without one).
/// Safe to call more than once.
pub fn install_crypto_provider() {
    if rustls::crypto::ring::default_provider().install_default().is_err() {
        // Already installed (by an earlier call or by the host program).
    }
}

/// The runtime the agent runs on: one thread. The agent mostly waits on
/// the DC and the server, and on one thread its allocations stay in one
/// malloc arena: over a tokio thread per core, each thread's arena kept
/// pages of its own, and the peak RSS of a read grew with the directory's
/// size though the live heap did not (a 4,000-user read: 14.6 MiB on two
/// threads, 11.8 MiB in one arena).
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()
}

/// The process's rustls provider, installing ring if none is.
pub(crate) fn crypto_provider() -> Arc<CryptoProvider> {
    install_crypto_provider();
    CryptoProvider::get_default().cloned().unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()))
}
