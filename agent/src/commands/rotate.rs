//! `roster-agent rotate-key`: replace the agent's key pair without a new
//! registration. The new key is staged on disk first, the server is told
//! with a request signed by the old key carrying a proof signed by the new
//! one, and only then does the new key take the old one's place. If the answer is lost, the staged key is
//! tried: the server took it exactly when it works.

use std::sync::Arc;

use roster_proto::AgentId;
use roster_snapshot::keys::AgentKey;
use serde::Serialize;
use tracing::{info, warn};

use super::Context;
use crate::error::{AgentError, Stage};
use crate::state::Identity;

/// What `rotate-key` did.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RotateReport {
    pub agent_id: AgentId,
    /// The public key now in use (base64).
    pub public_key: String,
    /// True when this run finished a rotation an earlier run left halfway.
    pub finished_earlier_rotation: bool,
}

/// Rotates the key (or finishes an interrupted rotation).
pub async fn rotate_key(ctx: &Context) -> Result<RotateReport, AgentError> {
    let identity = ctx.state.identity()?;
    let agent_id = identity.registration.agent_id;
    if let Some((staged, key)) = ctx.state.staged_key()? {
        let key = Arc::new(key);
        if server_accepts(ctx, &identity, Arc::clone(&key)).await {
            ctx.state.commit_key(&staged)?;
            info!(%agent_id, "an earlier rotation had reached the server: its key is now in use");
            return Ok(RotateReport { agent_id, public_key: key.public_key().to_base64(), finished_earlier_rotation: true });
        }
        warn!(%agent_id, path = %staged.display(), "discarding a key staged by an earlier rotation the server never took");
        discard(&staged);
    }

    let new_key = Arc::new(AgentKey::generate().map_err(|e| Stage::RotateKey.err(e))?);
    let staged = ctx.state.stage_key(&new_key, Stage::RotateKey)?;
    let client = ctx.client(&identity)?;
    if let Err(error) = client.rotate_key(&new_key).await {
        // The server may have taken the key and the answer got lost (a retry
        // signed with the old key is then refused): ask with the new one.
        if server_accepts(ctx, &identity, Arc::clone(&new_key)).await {
            warn!(%agent_id, %error, "the rotation's answer was lost, but the server took the new key");
        } else {
            discard(&staged);
            return Err(Stage::RotateKey.err(error));
        }
    }
    ctx.state.commit_key(&staged)?;
    info!(%agent_id, "key rotated");
    Ok(RotateReport { agent_id, public_key: new_key.public_key().to_base64(), finished_earlier_rotation: false })
}

/// True when the server accepts requests signed with `key`.
async fn server_accepts(ctx: &Context, identity: &Identity, key: Arc<AgentKey>) -> bool {
    let candidate = Identity { registration: identity.registration.clone(), key };
    match ctx.client(&candidate) {
        Ok(client) => client.job().await.is_ok(),
        Err(_) => false,
    }
}

/// Removes a staged key the server never took, logging rather than failing.
fn discard(staged: &std::path::Path) {
    if let Err(error) = std::fs::remove_file(staged) {
        warn!(path = %staged.display(), %error, "cannot remove the staged key");
    }
}
