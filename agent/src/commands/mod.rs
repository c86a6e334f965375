//! The agent's commands as library functions: each takes a [`Context`]
//! (state directory + layered settings) and options, and returns a typed
//! report; the CLI only prints them.

pub mod check;
pub mod push;
pub mod read;
pub mod register;
pub mod rotate;
pub mod run;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tracing::warn;

use crate::config::{self, AgentConfig, ConfigFile, EnvMap};
use crate::error::{AgentError, Stage};
use crate::http::ServerClient;
use crate::ldap::LdapSettings;
use crate::state::{Identity, StateDir};

/// Where the agent keeps its state and what it was configured with.
#[derive(Debug, Clone)]
pub struct Context {
    /// Identity, default config and spool live here.
    pub state: StateDir,
    /// The config file in effect, if one was read (for messages).
    pub config_file: Option<PathBuf>,
    /// Settings after layering file and environment.
    pub config: AgentConfig,
}

impl Context {
    /// Reads the config file (`config`, or `<state-dir>/roster-agent.toml`
    /// if it exists) and layers `env` over it.
    pub fn load(state_dir: &Path, config: Option<&Path>, env: &EnvMap) -> Result<Context, AgentError> {
        let state = StateDir::new(state_dir);
        let (path, explicit) = match config {
            Some(path) => (path.to_owned(), true),
            None => (state.config_path(), false),
        };
        let text = config::read_config_file(&path, explicit).map_err(|e| Stage::Config.err(e))?;
        let file = text.as_deref().map(|text| ConfigFile { path: &path, text });
        let config = config::parse(file, env).map_err(|e| Stage::Config.err(e))?;
        for warning in &config.warnings {
            warn!(config = %path.display(), "{warning}");
        }
        Ok(Context { state, config_file: text.map(|_| path), config })
    }

    /// LDAP settings, checked, with the password read.
    pub fn ldap_settings(&self) -> Result<LdapSettings, AgentError> {
        self.config.ldap.clone().into_settings().map_err(|e| Stage::Config.err(e))
    }

    /// A signing client for the registered server.
    pub fn client(&self, identity: &Identity) -> Result<ServerClient, AgentError> {
        let registration = &identity.registration;
        let client = ServerClient::new(&registration.server_url, &self.config.server).map_err(|e| Stage::Config.err(e))?;
        Ok(client
            .with_identity(Arc::clone(&identity.key), registration.agent_id, &registration.audience)
            .with_fencing_token_file(self.state.fencing_token_file()))
    }
}
