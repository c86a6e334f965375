//! The agent's state directory: its identity (`agent.json`, `agent.key`),
//! its default config file, and the spool where snapshots are cut into
//! chunks before upload.
//!
//! ```text
//! <state-dir>/roster-agent.toml     settings (optional)
//! <state-dir>/agent.json            agent, tenant and job ids, server URL, audience
//! <state-dir>/agent.key             Ed25519 private key, PKCS#8 PEM, mode 0600
//! <state-dir>/spool/<snapshot-id>/  NNNNNN.chunk files of the snapshot being pushed
//! <state-dir>/fencing-token         the fencing token of the job's lease, while this agent holds it
//! ```

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use roster_proto::{AgentId, JobId, SnapshotId, TenantId};
use roster_snapshot::keys::AgentKey;
use serde::{Deserialize, Serialize};

use crate::error::{AgentError, Cause, Stage};
use crate::platform;

pub const CONFIG_FILE: &str = "roster-agent.toml";
pub const REGISTRATION_FILE: &str = "agent.json";
pub const KEY_FILE: &str = "agent.key";
pub const SPOOL_DIR: &str = "spool";
/// Held by `roster-agent run` while it runs.
pub const RUN_LOCK_FILE: &str = "run.lock";
/// A command result `run` could not report yet.
pub const UNREPORTED_RESULT_FILE: &str = "unreported-result.json";
/// The fencing token of the job's lease while this agent holds it.
pub const FENCING_TOKEN_FILE: &str = "fencing-token";

/// What the server told the agent when it registered (`agent.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    /// The agent's identity: the `iss` of every token it signs.
    pub agent_id: AgentId,
    /// The tenant the job belongs to, for logs.
    pub tenant_id: TenantId,
    /// The one job this agent reads for.
    pub job_id: JobId,
    /// Where to push, as given to `register` (may carry a path prefix).
    pub server_url: String,
    /// The `aud` claim the server expects in this agent's tokens.
    pub audience: String,
}

/// A registered agent: its registration and its signing key.
#[derive(Debug)]
pub struct Identity {
    /// Who the agent is and where it pushes.
    pub registration: Registration,
    /// Never printed; its `Debug` shows the public half only. Shared by the
    /// request signer and the manifest signer.
    pub key: Arc<AgentKey>,
}

/// The state directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDir {
    /// Its path, as configured.
    root: PathBuf,
}

impl StateDir {
    pub fn new(root: impl Into<PathBuf>) -> StateDir {
        StateDir { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn config_path(&self) -> PathBuf {
        self.root.join(CONFIG_FILE)
    }

    pub fn registration_path(&self) -> PathBuf {
        self.root.join(REGISTRATION_FILE)
    }

    pub fn key_path(&self) -> PathBuf {
        self.root.join(KEY_FILE)
    }

    pub fn spool_root(&self) -> PathBuf {
        self.root.join(SPOOL_DIR)
    }

    /// The lock `roster-agent run` holds while it runs (one per state directory).
    pub fn run_lock_path(&self) -> PathBuf {
        self.root.join(RUN_LOCK_FILE)
    }

    /// A command's result `run` has not yet reported (see `commands::run`).
    pub fn unreported_result_path(&self) -> PathBuf {
        self.root.join(UNREPORTED_RESULT_FILE)
    }

    /// The file that keeps the fencing token of the job's lease while this
    /// agent holds it, across restarts.
    pub fn fencing_token_file(&self) -> FencingTokenFile {
        FencingTokenFile(self.root.join(FENCING_TOKEN_FILE))
    }

    /// Where a snapshot's chunks are spooled.
    pub fn spool_dir(&self, snapshot_id: SnapshotId) -> PathBuf {
        self.spool_root().join(snapshot_id.to_string())
    }

    /// True when an identity (or half of one) is stored.
    pub fn is_registered(&self) -> bool {
        self.registration_path().exists() || self.key_path().exists()
    }

    /// The stored registration, if any.
    pub fn registration(&self) -> Result<Option<Registration>, AgentError> {
        let path = self.registration_path();
        match fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| Stage::Config.err(format!("`{}` is not a valid registration: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Stage::Config.err(Cause::io("cannot read", path, e))),
        }
    }

    /// The stored identity; an error telling how to register when absent.
    pub fn identity(&self) -> Result<Identity, AgentError> {
        let registration = self.registration()?.ok_or_else(|| {
            Stage::Config.err(format!(
                "this agent is not registered (no {} in `{}`); run `roster-agent register --server URL --token TOKEN` first",
                REGISTRATION_FILE,
                self.root.display()
            ))
        })?;
        let path = self.key_path();
        let pem = fs::read_to_string(&path).map_err(|e| Stage::Config.err(Cause::io("cannot read the agent key", &path, e)))?;
        let key = AgentKey::from_pkcs8_pem(&pem).map_err(|e| Stage::Config.err(format!("`{}`: {e}", path.display())))?;
        Ok(Identity { registration, key: Arc::new(key) })
    }

    /// Creates the directory, private to the agent's account.
    pub fn create(&self) -> Result<(), AgentError> {
        platform::create_private_dir(&self.root)
            .map_err(|e| Stage::Config.err(Cause::io("cannot create the state directory", &self.root, e)))
    }

    /// Writes the key to `agent.key.new` (mode 0600 from creation), to be
    /// moved in place by [`StateDir::commit_registration`] once the server
    /// accepted it.
    /// `stage` names the command, for errors.
    pub fn stage_key(&self, key: &AgentKey, stage: Stage) -> Result<PathBuf, AgentError> {
        let pem = key.to_pkcs8_pem().map_err(|e| stage.err(e))?;
        let path = self.root.join(format!("{KEY_FILE}.new"));
        write_new_private(&path, pem.as_bytes(), stage)?;
        Ok(path)
    }

    /// A key staged by a key rotation that did not finish, if any.
    pub fn staged_key(&self) -> Result<Option<(PathBuf, AgentKey)>, AgentError> {
        let path = self.root.join(format!("{KEY_FILE}.new"));
        match fs::read_to_string(&path) {
            Ok(pem) => {
                let key = AgentKey::from_pkcs8_pem(&pem).map_err(|e| Stage::RotateKey.err(format!("`{}`: {e}", path.display())))?;
                Ok(Some((path, key)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Stage::RotateKey.err(Cause::io("cannot read the staged key", &path, e))),
        }
    }

    /// Moves a staged key in place of the agent's key (an atomic rename).
    pub fn commit_key(&self, staged_key: &Path) -> Result<(), AgentError> {
        let key_path = self.key_path();
        fs::rename(staged_key, &key_path).map_err(|e| Stage::RotateKey.err(Cause::io("cannot store the new key", &key_path, e)))
    }

    /// Stores the registration and moves the staged key in place.
    pub fn commit_registration(&self, staged_key: &Path, registration: &Registration) -> Result<(), AgentError> {
        let json = serde_json::to_vec_pretty(registration).map_err(|e| Stage::Register.err(e.to_string()))?;
        let staged_json = self.root.join(format!("{REGISTRATION_FILE}.new"));
        write_new_private(&staged_json, &json, Stage::Register)?;
        let key_path = self.key_path();
        fs::rename(staged_key, &key_path).map_err(|e| Stage::Register.err(Cause::io("cannot store the agent key", &key_path, e)))?;
        let json_path = self.registration_path();
        fs::rename(&staged_json, &json_path).map_err(|e| Stage::Register.err(Cause::io("cannot store the registration", &json_path, e)))
    }
}

/// The fencing token of the job's lease as the agent keeps it: a decimal
/// number and a newline, the file absent while the agent holds no lease.
/// Kept so that an agent restarted after another took its job over sends
/// its old token and is told it lost the lease, instead of guessing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FencingTokenFile(PathBuf);

impl FencingTokenFile {
    /// The token kept, if any; an error names a file that is not a token.
    pub fn load(&self) -> Result<Option<u64>, String> {
        match fs::read_to_string(&self.0) {
            Ok(text) => match text.trim().parse::<u64>() {
                Ok(token) if token > 0 => Ok(Some(token)),
                _ => Err(format!("`{}` does not hold a fencing token (a positive number)", self.0.display())),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Cause::io("cannot read", &self.0, e).to_string()),
        }
    }

    /// Keeps `token` (`None`: removes the file), replacing the file whole.
    pub fn store(&self, token: Option<u64>) -> Result<(), String> {
        let result = match token {
            Some(token) => {
                let staged = self.0.with_extension("new");
                fs::write(&staged, format!("{token}\n")).and_then(|()| fs::rename(&staged, &self.0))
            }
            None => match fs::remove_file(&self.0) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                other => other,
            },
        };
        result.map_err(|e| Cause::io("cannot write", &self.0, e).to_string())
    }
}

/// Writes a fresh private file, replacing a stale one from an interrupted run.
fn write_new_private(path: &Path, bytes: &[u8], stage: Stage) -> Result<(), AgentError> {
    let fail = |e| stage.err(Cause::io("cannot write", path, e));
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(fail(e)),
    }
    let mut file = platform::create_private_file(path).map_err(fail)?;
    file.write_all(bytes).map_err(fail)?;
    file.sync_all().map_err(fail)
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    #[test]
    fn registration_round_trip() {
        let root = std::env::temp_dir().join(format!("roster-agent-state-{}", Uuid::new_v4()));
        let state = StateDir::new(&root);
        assert!(!state.is_registered());
        let message = state.identity().unwrap_err().to_string();
        assert!(message.starts_with("config failed: this agent is not registered"), "{message}");
        state.create().unwrap();
        let key = AgentKey::generate().unwrap();
        let staged = state.stage_key(&key, Stage::Register).unwrap();
        let registration = Registration {
            agent_id: AgentId::new(),
            tenant_id: TenantId::new(),
            job_id: JobId::new(),
            server_url: "https://roster.example/roster".into(),
            audience: "urn:roster:test".into(),
        };
        state.commit_registration(&staged, &registration).unwrap();
        assert!(!staged.exists());
        let identity = state.identity().unwrap();
        assert_eq!(identity.registration, registration);
        assert_eq!(identity.key.public_key(), key.public_key());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(state.key_path()).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert_eq!(state.spool_dir(SnapshotId::new()).parent().unwrap(), state.spool_root());
        fs::remove_dir_all(&root).unwrap();
    }
}
