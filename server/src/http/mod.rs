//! The HTTP surface: the admin API (`/api/v1`, bearer admin token), the
//! agent API (`/agent/v1`, EdDSA request tokens) and a health check.
//! Handlers are thin: parse, authorise, call `store` or `service`, answer.
//! Every request is logged here, once, with the cause of an error answer.

pub mod admin;
pub mod agent;
pub mod auth;
pub mod client;
pub mod console;
pub mod cursor;
pub mod deadline;
pub mod insight;
pub mod json;
pub mod openapi;

use axum::Router;
use tracing::Level;
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{AppError, ErrorCause, Missing};
use crate::state::AppState;

/// Every route, each registered with its documentation: the one list that both
/// [`router`] serves and [`openapi`] documents.
fn documented_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::Document::openapi())
        .routes(routes!(health))
        .nest("/api/v1", admin::routes())
        .nest("/agent/v1", agent::routes())
}

pub fn router(state: AppState) -> Router {
    let max_json_body = state.limits.max_json_body_bytes;
    let body_timeout = std::time::Duration::from_millis(state.limits.body_read_timeout_ms);
    let (routes, _) = documented_routes().split_for_parts();
    routes
        .merge(console::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // The chunk route sets its own, larger limit.
        .layer(axum::extract::DefaultBodyLimit::max(max_json_body))
        .layer(axum::middleware::from_fn(move |request: axum::extract::Request, next: axum::middleware::Next| {
            deadline::body_deadline(body_timeout, request, next)
        }))
        .layer(axum::middleware::from_fn(log_request))
        .with_state(state)
}

/// The OpenAPI document of exactly the routes [`router`] serves (`proto-schemas/openapi.json`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, mut document) = documented_routes().split_for_parts();
    openapi::Operations.modify(&mut document);
    document
}

#[utoipa::path(
    get,
    path = "/health",
    operation_id = "health",
    tag = "health",
    summary = "Liveness check",
    security(),
    responses(
        (status = 200, description = "The server is up (it does not check the database).", body = inline(openapi::HealthText), content_type = "text/plain"),
    ),
)]
async fn health() -> &'static str {
    "ok"
}

async fn not_found() -> AppError {
    AppError::NotFound(Missing::Route)
}

async fn method_not_allowed() -> AppError {
    AppError::MethodNotAllowed
}

/// Logs each request with its method, path, status and latency, and for an
/// error answer its problem kind and cause (attached by `AppError`'s
/// conversion), at the cause's level: 500 as an error, 503 as a warning.
/// The path and the cause may quote what the client sent (a token's `htu`
/// or `aud`, a name), so both are written escaped (`escape_debug`): a
/// newline or an ANSI escape in them cannot start a forged log line.
async fn log_request(request: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    let method = request.method().clone();
    let path = request.uri().path().escape_debug().to_string();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let elapsed_ms = started.elapsed().as_millis() as u64;
    match response.extensions().get::<ErrorCause>() {
        None => tracing::info!(%method, %path, status, elapsed_ms, "request"),
        Some(ErrorCause { kind, level, cause }) => {
            // Written through `Display`, so it is escaped once, by us.
            let cause = cause.escape_debug();
            match *level {
                Level::ERROR => tracing::error!(%method, %path, status, elapsed_ms, problem = %kind, cause = %cause, "request failed"),
                Level::WARN => tracing::warn!(%method, %path, status, elapsed_ms, problem = %kind, cause = %cause, "request failed"),
                _ => tracing::info!(%method, %path, status, elapsed_ms, problem = %kind, cause = %cause, "request refused"),
            }
        }
    }
    response
}
