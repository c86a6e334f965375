//! Why credentials were refused. Every one answers the same vague 401;
//! the cause is only logged, and names ids, never a secret.

use roster_proto::AgentId;
use roster_snapshot::token::TokenError;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no Authorization header")]
    NoHeader,
    #[error("Authorization header is not text")]
    NotText,
    #[error("Authorization is not `Bearer <token>`")]
    NotBearer,
    #[error("unknown admin token")]
    UnknownAdminToken,
    /// A known admin token past its `expires_at` (answered like an unknown one).
    #[error("admin token {0} expired")]
    ExpiredAdminToken(roster_proto::AdminTokenId),
    /// An agent token whose issuer cannot even be read.
    #[error("{0}")]
    Unreadable(TokenError),
    #[error("unknown agent {0}")]
    UnknownAgent(AgentId),
    #[error("agent {0} is revoked")]
    Revoked(AgentId),
    /// The agent's stored key is one registration now refuses (a weak key
    /// stored before weak keys were refused): no token verifies with it.
    #[error("agent {agent}: its stored public key is refused, so no token of it verifies (register the agent again): {source}")]
    StoredKey { agent: AgentId, source: roster_snapshot::keys::KeyError },
    /// A request token that does not verify for this agent, method and path.
    #[error("agent {agent}: {source}")]
    Token { agent: AgentId, source: TokenError },
    #[error("agent {agent}: token {jti} was already used")]
    Replayed { agent: AgentId, jti: Uuid },
    /// A manifest token that does not verify for the calling agent.
    #[error("manifest: {0}")]
    Manifest(TokenError),
    #[error("registration token unknown, used or expired")]
    RegistrationToken,
}

/// Why a known caller may not do what it asked (403). The detail says
/// which role it takes, so the console can say whom to ask.
#[derive(Debug, thiserror::Error)]
pub enum Denied {
    #[error("this takes the {needed} role; you are a {had}: ask one of the tenant's owners")]
    Role { needed: &'static str, had: &'static str },
    /// A state-changing console request that did not come from the console's
    /// own pages (`Sec-Fetch-Site` or `Origin` says another site).
    #[error("this request came from another site ({0}), so it was refused: use the console's own pages")]
    CrossSite(String),
}
