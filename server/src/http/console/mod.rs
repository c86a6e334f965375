//! The admin console: server-rendered HTML pages (askama templates in
//! `server/templates/`, escaped by default) for a tenant's admins, with a
//! little progressive JavaScript (htmx, vendored in `server/static/`).
//! Every page works without JavaScript; forms post plainly and redirect.
//! Handlers call the same `service` and `store` functions as the JSON API,
//! so every status shown is read from the records the runs write.
//!
//! Safety, in [`guard`]: every response carries a Content-Security-Policy
//! without inline scripts or styles and `frame-ancestors 'none'`; every
//! state-changing request is refused unless the browser says it comes from
//! the console's own origin (`Sec-Fetch-Site: same-origin`, or else an
//! `Origin` equal to the request's own), on top of `SameSite=Strict` cookies.

mod jobs;
mod linking;
pub mod paths;
mod sessions;
mod sign_in;
mod signed_in;
mod tenant;
mod users;
mod view;

use askama::Template;
use axum::Router;
use axum::extract::{Path, Request};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

pub use self::signed_in::SignedIn;
use crate::error::{AppError, Denied, ErrorCause};
use crate::state::AppState;

/// The console's routes, behind [`guard`].
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to(paths::DASHBOARD) }))
        .route(paths::SIGN_IN, get(sign_in::page).post(sign_in::submit))
        .route(paths::SETUP, get(sign_in::setup_page).post(sign_in::setup_submit))
        .route(paths::SIGN_OUT, post(sign_in::sign_out))
        .route(paths::SIGN_OUT_EVERYWHERE, post(sign_in::sign_out_everywhere))
        .route(paths::STATIC, get(static_file))
        .route(paths::DASHBOARD, get(tenant::dashboard))
        .route(paths::JOBS, get(jobs::list))
        .route(paths::NEW_JOB, get(jobs::new_page).post(jobs::create))
        .route(paths::JOB, get(jobs::general).post(jobs::save_general))
        .route(paths::JOB_SESSIONS, get(sessions::list))
        .route(paths::JOB_IMPORTS, post(sessions::perform_import))
        .route(paths::JOB_LINKING, get(linking::page))
        .route(paths::JOB_STRUCTURE_REFRESH, post(linking::refresh_structure))
        .route(paths::JOB_LINKS, post(linking::save))
        .route(paths::JOB_GROUP_SUGGESTIONS, get(linking::group_suggestions))
        .route(paths::JOB_AGENTS, get(jobs::agents))
        .route(paths::JOB_REGISTRATION_TOKEN, post(jobs::issue_registration_token))
        .route(paths::SESSION, get(sessions::detail))
        .route(paths::SESSION_PROGRESS, get(sessions::progress))
        .route(paths::SESSION_CHANGES_CSV, get(sessions::changes_csv))
        .route(paths::SESSION_DECISION, post(sessions::decide))
        .route(paths::AGENT_REVOKE, post(jobs::revoke_agent))
        .route(paths::USERS, get(users::list))
        .route(paths::USER, get(users::detail))
        .route(paths::ACCESSES, get(tenant::accesses).post(tenant::create_access))
        .route(paths::ACCESS, post(tenant::change_access))
        .route(paths::SETTINGS, get(tenant::settings).post(tenant::save_settings))
        .route(paths::ADMINS, post(tenant::invite_admin))
        .route(paths::ADMIN_REMOVE, post(tenant::remove_admin))
        .route(paths::AUDIT, get(tenant::audit))
        // Any other console address: the console's own "not found" page, with its headers.
        .route(paths::CONSOLE_ANYTHING, axum::routing::any(|| async { Failure(AppError::NotFound(crate::error::Missing::Route)) }))
        .layer(axum::middleware::from_fn(guard))
}

/// The Content-Security-Policy of every console response: scripts, styles
/// and everything else from the console itself, nothing inline, no frames.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// Refuses cross-site state changes and adds the security headers.
async fn guard(request: Request, next: Next) -> Response {
    let safe = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    // HTTP/1.1 names the authority in `Host`, HTTP/2 in the request's URI (`:authority`).
    let authority = request.uri().authority().map(|a| a.as_str().to_owned());
    let mut response = match (safe, cross_site(request.headers(), authority.as_deref())) {
        (false, Some(from)) => Failure(Denied::CrossSite(from).into()).into_response(),
        _ => next.run(request).await,
    };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Set-up links carry their secret in the query: never send it onwards.
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    response
}

/// Where a state-changing request came from, when that is not the
/// console's own origin: `Sec-Fetch-Site` when the browser sends it, else
/// `Origin` compared with the request's `Host` (or, in HTTP/2, the URI's
/// `authority`); a request with neither (not a browser's form or fetch) is
/// refused too.
fn cross_site(headers: &HeaderMap, authority: Option<&str>) -> Option<String> {
    if let Some(site) = headers.get("sec-fetch-site") {
        return match site.to_str() {
            Ok("same-origin") => None,
            Ok(other) => Some(format!("Sec-Fetch-Site: {}", other.escape_debug())),
            Err(_) => Some("an unreadable Sec-Fetch-Site".into()),
        };
    }
    let origin = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok());
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).or(authority);
    match (origin, host) {
        (Some(origin), Some(host)) if origin.split_once("://").is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host)) => None,
        (Some(origin), _) => Some(format!("Origin: {}", origin.escape_debug())),
        (None, _) => Some("neither Sec-Fetch-Site nor Origin".into()),
    }
}

/// The vendored static files, compiled in.
async fn static_file(Path(file): Path<String>) -> Response {
    let (body, kind): (&'static [u8], &str) = match file.as_str() {
        "console.css" => (include_bytes!("../../../static/console.css"), "text/css; charset=utf-8"),
        "console.js" => (include_bytes!("../../../static/console.js"), "text/javascript; charset=utf-8"),
        "htmx.min.js" => (include_bytes!("../../../static/htmx.min.js"), "text/javascript; charset=utf-8"),
        _ => return Failure(AppError::NotFound(crate::error::Missing::Route)).into_response(),
    };
    ([(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "public, max-age=3600")], body).into_response()
}

/// A page, rendered; a template that fails to render is a 500.
pub(crate) fn render(page: &impl Template) -> Result<Response, Failure> {
    let html = page.render().map_err(|e| AppError::Template(e.to_string()))?;
    Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response())
}

/// A console request that failed: answered with an HTML page that says
/// why and what to do, with the status and logged cause the API would give.
#[derive(Debug)]
pub struct Failure(pub AppError);

impl<E: Into<AppError>> From<E> for Failure {
    fn from(error: E) -> Failure {
        Failure(error.into())
    }
}

/// The error page.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    status: u16,
    title: String,
    detail: String,
    next: &'static str,
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let detail = self.0.detail();
        let next = match (&self.0, self.0.problem().0) {
            (AppError::Console(crate::error::ConsoleError::SetupLink), _) => {
                "Ask an owner of your tenant to invite you again: the new link works once, for 24 hours."
            }
            (_, StatusCode::UNAUTHORIZED) => "Sign in again and retry.",
            (_, StatusCode::FORBIDDEN) => {
                "Go back and use the console's own pages; if you need to change this, ask an owner of your tenant."
            }
            (_, StatusCode::NOT_FOUND) => "It may have been deleted, or the link is wrong: start again from the dashboard.",
            (_, StatusCode::CONFLICT | StatusCode::UNPROCESSABLE_ENTITY) => "Go back, correct what the message names, and submit again.",
            (_, StatusCode::TOO_MANY_REQUESTS) => "Wait a little and try again.",
            (_, StatusCode::SERVICE_UNAVAILABLE) => "The service is busy or restarting: retry in a minute.",
            _ => "Retry; if it keeps failing, tell your operator the time it happened.",
        };
        let api = self.0.into_response();
        let status = api.status();
        let cause = api.extensions().get::<ErrorCause>().cloned();
        let retry_after = api.headers().get(header::RETRY_AFTER).cloned();
        let page = ErrorPage { status: status.as_u16(), title: status.canonical_reason().unwrap_or("Error").to_owned(), detail, next };
        let html = page.render().unwrap_or_else(|_| "An error occurred.".to_owned());
        let mut response = (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
        if let Some(cause) = cause {
            response.extensions_mut().insert(cause);
        }
        if let Some(retry_after) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, retry_after);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(name, value)| (header::HeaderName::from_static(name), HeaderValue::from_static(value))).collect()
    }

    #[test]
    fn only_the_consoles_own_pages_may_change_things() {
        let cases: &[(&[(&str, &str)], bool)] = &[
            (&[("sec-fetch-site", "same-origin")], true),
            (&[("sec-fetch-site", "same-site")], false),
            (&[("sec-fetch-site", "cross-site")], false),
            (&[("sec-fetch-site", "none")], false),
            // Sec-Fetch-Site decides when present, whatever Origin says.
            (&[("sec-fetch-site", "cross-site"), ("origin", "http://roster.test"), ("host", "roster.test")], false),
            (&[("origin", "http://roster.test:8080"), ("host", "roster.test:8080")], true),
            (&[("origin", "https://ROSTER.test"), ("host", "roster.test")], true),
            (&[("origin", "https://evil.test"), ("host", "roster.test")], false),
            (&[("origin", "https://roster.test.evil.test"), ("host", "roster.test")], false),
            (&[("origin", "null"), ("host", "roster.test")], false),
            (&[("host", "roster.test")], false),
            (&[], false),
        ];
        for (pairs, allowed) in cases {
            assert_eq!(cross_site(&headers(pairs), None).is_none(), *allowed, "{pairs:?}");
        }
        // HTTP/2: no Host header, the authority is the URI's.
        let origin = headers(&[("origin", "https://roster.test")]);
        assert_eq!(cross_site(&origin, Some("roster.test")), None);
        assert!(cross_site(&origin, Some("evil.test")).is_some());
        assert!(cross_site(&origin, None).is_some());
    }
}
