//! Who is signed in: the session cookie, read into [`SignedIn`] (a
//! request without a sign-in in force is sent to the sign-in page), and
//! written by [`session_cookie`] (`HttpOnly`, `SameSite=Strict`, `Path=/`;
//! over TLS also `Secure` with the `__Host-` name prefix).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::Failure;
use super::paths;
use crate::service;
use crate::service::audit::Caller;
use crate::state::AppState;
use crate::store::console::ConsoleAdmin;

/// The cookie's name: with the `__Host-` prefix when it is `Secure`, so a
/// sibling domain cannot set or shadow it.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure { "__Host-roster_session" } else { "roster_session" }
}

/// The `Set-Cookie` value that signs this browser in with `secret` for
/// `max_age_secs`.
pub fn session_cookie(secret: &str, secure: bool, max_age_secs: i64) -> String {
    let secure_flag = if secure { "; Secure" } else { "" };
    format!("{}={secret}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure_flag}", cookie_name(secure))
}

/// The `Set-Cookie` value that forgets the session cookie.
pub fn cleared_cookie(secure: bool) -> String {
    session_cookie("", secure, 0)
}

/// The session secret the request's cookies carry, if any.
pub fn session_secret(headers: &HeaderMap, secure: bool) -> Option<String> {
    let name = cookie_name(secure);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, value)| *key == name && !value.is_empty())
        .map(|(_, value)| value.to_owned())
}

/// A signed-in console admin.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub admin: ConsoleAdmin,
    /// The admin as the operations it calls know it (role, audit name).
    pub caller: Caller,
    /// The session's secret (signing out ends it).
    pub secret: String,
}

impl SignedIn {
    /// Whether the admin may change jobs, links and the like.
    pub fn can_change(&self) -> bool {
        self.caller.may(roster_proto::admin::AdminRole::Admin).is_ok()
    }

    /// Whether the admin may manage admins and tokens.
    pub fn is_owner(&self) -> bool {
        self.caller.may(roster_proto::admin::AdminRole::Owner).is_ok()
    }
}

/// Why a request has no [`SignedIn`]: not signed in (sent to sign in), or
/// the database could not say.
#[derive(Debug)]
pub enum NotSignedIn {
    /// `htmx`: the request is htmx's (a poll or a fragment), which must not
    /// swap the sign-in page into the page it updates.
    SignIn {
        htmx: bool,
    },
    Failed(Failure),
}

impl IntoResponse for NotSignedIn {
    fn into_response(self) -> Response {
        match self {
            // 401 is never swapped in; `HX-Redirect` sends the whole page to sign in.
            NotSignedIn::SignIn { htmx: true } => {
                (axum::http::StatusCode::UNAUTHORIZED, [("hx-redirect", paths::SIGN_IN)], "Sign in again.").into_response()
            }
            NotSignedIn::SignIn { htmx: false } => Redirect::to(paths::SIGN_IN).into_response(),
            NotSignedIn::Failed(failure) => failure.into_response(),
        }
    }
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = NotSignedIn;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let sign_in = NotSignedIn::SignIn { htmx: parts.headers.get("hx-request").is_some_and(|v| v == "true") };
        let Some(secret) = session_secret(&parts.headers, state.console.secure_cookies) else { return Err(sign_in) };
        let session = service::admins::session(&state.db, &secret).await.map_err(|e| NotSignedIn::Failed(e.into()))?;
        let Some(session) = session else { return Err(sign_in) };
        // The tenant's request rate counts console requests as it counts the API's.
        state
            .rate
            .check(session.admin.tenant_id, std::time::Instant::now())
            .map_err(|secs| NotSignedIn::Failed(crate::error::AppError::from(crate::error::LimitError::rate(secs)).into()))?;
        let caller = service::admins::caller_of(&session.admin);
        Ok(SignedIn { admin: session.admin, caller, secret })
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("theme=dark; roster_session=abc; other=1"));
        assert_eq!(session_secret(&headers, false).as_deref(), Some("abc"));
        assert_eq!(session_secret(&headers, true), None, "over TLS only the __Host- cookie counts");
        headers.append(header::COOKIE, HeaderValue::from_static("__Host-roster_session=xyz"));
        assert_eq!(session_secret(&headers, true).as_deref(), Some("xyz"));
        let empty: HeaderMap = [(header::COOKIE, HeaderValue::from_static("roster_session="))].into_iter().collect();
        assert_eq!(session_secret(&empty, false), None);
    }

    #[test]
    fn the_cookie_is_strict_and_http_only() {
        assert_eq!(session_cookie("s", false, 60), "roster_session=s; Path=/; HttpOnly; SameSite=Strict; Max-Age=60");
        assert_eq!(session_cookie("s", true, 60), "__Host-roster_session=s; Path=/; HttpOnly; SameSite=Strict; Max-Age=60; Secure");
    }
}
