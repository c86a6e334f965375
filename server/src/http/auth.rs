//! Who is calling: [`Admin`] (a tenant's bearer admin token) and
//! [`Signed`] (a registered, unrevoked agent whose EdDSA request token
//! verifies for this exact method, path and body).

use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, OriginalUri, Request};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use roster_proto::admin::{ActorKind, AdminRole};
use roster_proto::{AdminTokenId, TenantId};
use roster_snapshot::token::RequestClaims;

use crate::error::{AppError, AuthError, LimitError, RequestError};
use crate::http::json::{ApiJson, body_rejected};
use crate::service::audit::Caller;
use crate::state::AppState;
use crate::store;
use crate::store::agents::AgentRecord;

/// A tenant's admin, by an admin token in force (known, not expired). An
/// admin token acts as the tenant's owner.
#[derive(Debug, Clone)]
pub struct Admin {
    pub tenant_id: TenantId,
    /// The token the request came with (revoking it is allowed).
    pub token_id: AdminTokenId,
    /// The token as the operations it calls know it.
    pub caller: Caller,
}

/// A verified agent. Only [`Signed`] makes one, so no handler sees an
/// agent whose request body was not checked against its token.
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
        let token = store::tenants::admin_token(&state.db, token).await?.ok_or(AuthError::UnknownAdminToken)?;
        let now = store::UnixMillis::now();
        if token.expired(now) {
            return Err(AuthError::ExpiredAdminToken(token.id).into());
        }
        state.rate.check(token.tenant_id, Instant::now()).map_err(LimitError::rate)?;
        store::tenants::touch_admin_token(&state.db, &token, now).await?;
        let caller = Caller {
            tenant: token.tenant_id,
            role: AdminRole::Owner,
            kind: ActorKind::Token,
            id: Some(token.id.to_string()),
            name: token.label.clone().map_or_else(|| format!("admin token {}", token.id), |label| format!("admin token \"{label}\"")),
        };
        Ok(Admin { tenant_id: token.tenant_id, token_id: token.id, caller })
    }
}

impl AgentCaller {
    /// Verifies the request token for this method and path; the claims are
    /// kept for the body check that must follow ([`Signed`]).
    async fn verify(parts: &mut Parts, state: &AppState) -> Result<(AgentCaller, RequestClaims), AppError> {
        let token = bearer(parts)?;
        let agent_id = roster_snapshot::token::unverified_issuer(token).map_err(AuthError::Unreadable)?;
        let agent = store::agents::get_agent(&state.db, agent_id)
            .await?
            .ok_or(AuthError::UnknownAgent(agent_id))?
            .map_err(|source| AuthError::StoredKey { agent: agent_id, source })?;
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
        let until = roster_snapshot::token::remember_until(claims.exp).map_err(|source| AuthError::Token { agent: agent_id, source })?;
        let expires = store::UnixMillis::from_unix_secs(until);
        if !store::agents::remember_token(&state.db, claims.jti, expires).await? {
            return Err(AuthError::Replayed { agent: agent_id, jti: claims.jti }.into());
        }
        state.rate.check(agent.tenant_id, Instant::now()).map_err(LimitError::rate)?;
        store::agents::touch(&state.db, &agent, store::UnixMillis::now()).await?;
        Ok((AgentCaller { agent }, claims))
    }
}

/// An agent request whose body is bound to its token: the caller, verified
/// as [`AgentCaller`], and the body as `B`, read within the route's limit
/// and accepted only if its sha256 is the token's `bsh`, before `B` parses
/// it and before the handler runs. The token is checked (and spent) before
/// the body is read, so no one without a key makes the server read one.
#[derive(Debug)]
pub struct Signed<B> {
    pub caller: AgentCaller,
    pub body: B,
}

/// What an agent route takes as its body, once the bytes match the token.
pub trait SignedBody: Sized {
    /// The refusal of a body over the route's limit (413).
    fn too_large(detail: String) -> RequestError;
    /// The body, parsed from the checked bytes (`request` holds them).
    fn parse(request: Request, state: &AppState) -> impl Future<Output = Result<Self, AppError>> + Send;
}

/// No body: only the empty body (or one the token names) passes the check,
/// and it is not looked at.
impl SignedBody for () {
    fn too_large(_: String) -> RequestError {
        RequestError::BodyTooLarge
    }

    async fn parse(_: Request, _: &AppState) -> Result<(), AppError> {
        Ok(())
    }
}

/// A JSON body, with [`ApiJson`]'s checks and refusals.
impl<T: serde::de::DeserializeOwned + serde::Serialize + Send> SignedBody for ApiJson<T> {
    fn too_large(detail: String) -> RequestError {
        RequestError::JsonBodyTooLarge(detail)
    }

    async fn parse(request: Request, state: &AppState) -> Result<ApiJson<T>, AppError> {
        ApiJson::from_request(request, state).await
    }
}

impl<B: SignedBody + Send> FromRequest<AppState> for Signed<B> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let (caller, claims) = AgentCaller::verify(&mut parts, state).await?;
        let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(|rejection| body_rejected(rejection.status(), rejection.body_text(), || B::too_large(rejection.body_text())))?;
        roster_snapshot::token::check_body(&claims, &bytes).map_err(|source| AuthError::Token { agent: caller.agent.id, source })?;
        let body = B::parse(Request::from_parts(parts, Body::from(bytes)), state).await?;
        Ok(Signed { caller, body })
    }
}
