//! Crash injection for the fault tests. `ROSTER_FAULT` names one point at
//! which the server process aborts — the effect of `kill -9` or a power cut,
//! but at a moment a test can rely on:
//!
//! - `abort-after-chunks=N`: right after the N-th chunk this process stored;
//! - `abort-before-snapshot-commit`: a snapshot's directory state is written
//!   but its transaction not committed;
//! - `abort-before-import-commit`: an import's users and session are written
//!   but its transaction not committed.
//!
//! Unset (always, outside tests), every hook is one relaxed load and a
//! branch. The variable is read once, at start, and a value that is not one
//! of the above stops the server from starting.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The environment variable naming the fault.
pub const ENV: &str = "ROSTER_FAULT";

/// One crash point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    AfterChunks(u64),
    BeforeSnapshotCommit,
    BeforeImportCommit,
}

#[derive(Debug, thiserror::Error)]
#[error("{ENV} must be `abort-after-chunks=N` (N >= 1), `abort-before-snapshot-commit` or `abort-before-import-commit`, got `{0}`")]
pub struct UnknownFault(String);

impl std::str::FromStr for Fault {
    type Err = UnknownFault;

    fn from_str(text: &str) -> Result<Fault, UnknownFault> {
        let unknown = || UnknownFault(text.to_owned());
        match text {
            "abort-before-snapshot-commit" => Ok(Fault::BeforeSnapshotCommit),
            "abort-before-import-commit" => Ok(Fault::BeforeImportCommit),
            _ => {
                let n = text.strip_prefix("abort-after-chunks=").ok_or_else(unknown)?;
                match n.parse() {
                    Ok(n) if n >= 1 => Ok(Fault::AfterChunks(n)),
                    _ => Err(unknown()),
                }
            }
        }
    }
}

static FAULT: OnceLock<Fault> = OnceLock::new();
static CHUNKS_STORED: AtomicU64 = AtomicU64::new(0);

/// Arms the fault `ROSTER_FAULT` names, if any. Call once, at start.
pub fn arm_from_env() -> Result<Option<Fault>, UnknownFault> {
    let Ok(text) = std::env::var(ENV) else { return Ok(None) };
    let fault: Fault = text.parse()?;
    let _ = FAULT.set(fault);
    tracing::warn!(?fault, "{ENV} is set: this server will abort itself on purpose");
    Ok(Some(fault))
}

fn abort(point: &str) -> ! {
    eprintln!("roster-server: {ENV}: aborting {point}");
    std::process::abort()
}

/// A chunk has been stored (its transaction committed).
pub fn chunk_stored() {
    let stored = CHUNKS_STORED.fetch_add(1, Ordering::Relaxed) + 1;
    if let Some(Fault::AfterChunks(n)) = FAULT.get()
        && stored >= *n
    {
        abort("after storing a chunk");
    }
}

/// A snapshot's commit is written and about to be committed.
pub fn before_snapshot_commit() {
    if FAULT.get() == Some(&Fault::BeforeSnapshotCommit) {
        abort("before committing a snapshot");
    }
}

/// An import is written and about to be committed.
pub fn before_import_commit() {
    if FAULT.get() == Some(&Fault::BeforeImportCommit) {
        abort("before committing an import");
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_the_documented_points_and_nothing_else() {
        assert_eq!("abort-after-chunks=3".parse::<Fault>().unwrap(), Fault::AfterChunks(3));
        assert_eq!("abort-before-snapshot-commit".parse::<Fault>().unwrap(), Fault::BeforeSnapshotCommit);
        assert_eq!("abort-before-import-commit".parse::<Fault>().unwrap(), Fault::BeforeImportCommit);
        for bad in ["", "abort", "abort-after-chunks=", "abort-after-chunks=0", "abort-after-chunks=-1", "Abort-before-import-commit"] {
            assert!(bad.parse::<Fault>().is_err(), "{bad:?} parsed");
        }
    }
}
