//! `roster-agent register`: trade a one-time token for an identity. The
//! key is made here and never leaves the machine; the server learns only
//! its public half.

use roster_proto::agent::RegisterRequest;
use roster_proto::{AgentId, JobId, TenantId};
use roster_snapshot::keys::AgentKey;
use serde::Serialize;
use tracing::{info, warn};

use super::Context;
use crate::error::{AgentError, Stage};
use crate::http::{ServerClient, parse_base_url};
use crate::platform;
use crate::secret::Secret;
use crate::state::Registration;

/// What `register` is asked to do.
#[derive(Debug, Clone)]
pub struct RegisterOptions {
    /// The Roster server, e.g. `https://roster.example.com`.
    pub server_url: String,
    /// The one-time registration token an admin created for the job.
    pub token: Secret,
    /// Replace an existing registration.
    pub force: bool,
}

/// What `register` did (printed; holds no secret).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RegisterReport {
    /// The identity the server gave this agent.
    pub agent_id: AgentId,
    /// The tenant the job belongs to.
    pub tenant_id: TenantId,
    /// The job this agent reads for.
    pub job_id: JobId,
    /// The server registered with, as stored.
    pub server_url: String,
    /// Where `agent.json` and `agent.key` were stored.
    pub state_dir: String,
}

/// Registers with the server and stores the identity in the state directory.
/// Nothing is stored unless the server accepted the registration.
pub async fn register(ctx: &Context, options: &RegisterOptions) -> Result<RegisterReport, AgentError> {
    let state = &ctx.state;
    if state.is_registered() && !options.force {
        let who = match state.registration() {
            Ok(Some(r)) => format!(" as agent {} for job {}", r.agent_id, r.job_id),
            _ => String::new(),
        };
        return Err(
            Stage::Register.err(format!("`{}` already holds a registration{who}; pass --force to replace it", state.root().display()))
        );
    }
    if options.token.expose().trim().is_empty() {
        return Err(Stage::Config.err("the registration token is empty".to_owned()));
    }
    let server_url = parse_base_url(&options.server_url).map_err(|e| Stage::Config.err(e))?.to_string();
    let client = ServerClient::new(&server_url, &ctx.config.server).map_err(|e| Stage::Config.err(e))?;

    state.create()?;
    let key = AgentKey::generate().map_err(|e| Stage::Register.err(e))?;
    let staged_key = state.stage_key(&key, Stage::Register)?;
    let request = RegisterRequest {
        token: options.token.expose().trim().to_owned(),
        public_key: key.public_key().to_base64(),
        hostname: platform::hostname(),
        agent_version: Some(crate::AGENT_VERSION.to_owned()),
    };
    let response = match client.register(&request).await {
        Ok(response) => response,
        Err(error) => {
            if let Err(e) = std::fs::remove_file(&staged_key) {
                warn!(path = %staged_key.display(), error = %e, "could not remove the unused key");
            }
            return Err(Stage::Register.err(error));
        }
    };
    let registration = Registration {
        agent_id: response.agent_id,
        tenant_id: response.tenant_id,
        job_id: response.job_id,
        server_url: server_url.clone(),
        audience: response.audience,
    };
    state.commit_registration(&staged_key, &registration)?;
    info!(agent_id = %registration.agent_id, tenant_id = %registration.tenant_id, job_id = %registration.job_id, "registered");
    Ok(RegisterReport {
        agent_id: registration.agent_id,
        tenant_id: registration.tenant_id,
        job_id: registration.job_id,
        server_url,
        state_dir: state.root().display().to_string(),
    })
}
