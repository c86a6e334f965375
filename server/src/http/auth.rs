//! Who is calling: [`Admin`] (a tenant's bearer admin token) and
//! [`AgentCaller`] (a registered, unrevoked agent whose EdDSA request token
//! verifies for this exact method and path).

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::time::Instant;

use axum::extract::{ConnectInfo, FromRequestParts, OriginalUri};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use roster_proto::TenantId;

use crate::error::{AppError, AuthError, LimitError};
use crate::state::AppState;
use crate::store;
use crate::store::agents::AgentRecord;

/// A tenant's admin.
#[derive(Debug, Clone, Copy)]
pub struct Admin {
    pub tenant_id: TenantId,
}

/// The address the request came from (unspecified when the server was not
/// started with connection info, as in router-only tests). Behind a reverse
/// proxy this is the proxy's address.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let address = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip());
        Ok(ClientAddress(address.unwrap_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED))))
    }
}

/// A verified agent.
#[derive(Debug, Clone)]
pub struct AgentCaller {
    pub agent: AgentRecord,
}

fn bearer(parts: &Parts) -> Result<&str, AppError> {
    let value = parts.headers.get(AUTHORIZATION).ok_or(AuthError::NoHeader)?;
    let value = value.to_str().map_err(|_| AuthError::NotText)?;
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::NotBearer)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AuthError::NotBearer.into());
    }
    Ok(token.trim())
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)?;
        match store::tenants::tenant_for_admin_token(&state.db, token).await? {
            Some(tenant_id) => {
                state.rate.check(tenant_id, Instant::now()).map_err(LimitError::rate)?;
                Ok(Admin { tenant_id })
            }
            None => Err(AuthError::UnknownAdminToken.into()),
        }
    }
}

impl FromRequestParts<AppState> for AgentCaller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)?;
        let agent_id = roster_snapshot::token::unverified_issuer(token).map_err(AuthError::Unreadable)?;
        let agent = store::agents::get_agent(&state.db, agent_id).await?.ok_or(AuthError::UnknownAgent(agent_id))?;
        if agent.revoked {
            return Err(AuthError::Revoked(agent_id).into());
        }
        // The path as the client sent it, even when this router is nested.
        let path = match parts.extensions.get::<OriginalUri>() {
            Some(original) => original.path().to_owned(),
            None => parts.uri.path().to_owned(),
        };
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let claims =
            roster_snapshot::token::verify_request(token, &agent.public_key, agent.id, &state.audience, parts.method.as_str(), &path, now)
                .map_err(|source| AuthError::Token { agent: agent_id, source })?;
        // Only a verified token is remembered, so forgeries cannot fill the table.
        let expires = store::UnixMillis::from_unix_secs(claims.exp + roster_snapshot::token::LEEWAY);
        if !store::agents::remember_token(&state.db, claims.jti, expires).await? {
            return Err(AuthError::Replayed { agent: agent_id, jti: claims.jti }.into());
        }
        state.rate.check(agent.tenant_id, Instant::now()).map_err(LimitError::rate)?;
        store::agents::touch(&state.db, &agent, store::UnixMillis::now()).await?;
        Ok(AgentCaller { agent })
    }
}
