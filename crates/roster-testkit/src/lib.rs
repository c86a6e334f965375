//! What Roster's test suites share, so each is written once: temporary
//! directories removed on drop ([`TempDir`]), the test services' required
//! variables ([`env`]), a fresh database per engine ([`database`], with the
//! `database` feature) and record builders ([`records`]).
//!
//! A dev-dependency only. It does not depend on `roster-server` (the
//! server's own tests use it), and what is specific to one suite stays in
//! that suite. Its helpers panic: in a test, a panic is the failure report.

// A failed unwrap is a failed test, which is what we want here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[cfg(feature = "database")]
pub mod database;
pub mod records;

use std::path::{Path, PathBuf};

/// A new directory under the system's temporary directory, removed (with
/// whatever is in it) when dropped.
#[derive(Debug)]
pub struct TempDir(
    /// The directory.
    pub PathBuf,
);

impl TempDir {
    /// Creates `<tmp>/roster-<label>-<uuid>`.
    pub fn new(label: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("roster-{label}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A required test variable (`ROSTER_TEST_*`, naming a shared service), or
/// a failure naming it: a test run without the services fails, it never
/// passes silently.
pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run the tests with scripts/test.sh, which starts the Samba AD DCs and PostgreSQL and sets the ROSTER_TEST_* variables"
        )
    })
}
