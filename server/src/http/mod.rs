//! The HTTP surface: the admin API (`/api/v1`, bearer admin token), the
//! agent API (`/agent/v1`, EdDSA request tokens) and a health check.
//! Handlers are thin: parse, check, call `store`, answer.

pub mod admin;
pub mod agent;
pub mod auth;
pub mod cursor;
pub mod insight;
pub mod json;

use axum::Router;
use axum::routing::get;

use crate::app::AppState;

pub fn router(state: AppState) -> Router {
    let max_json_body = state.limits.max_json_body_bytes;
    Router::new()
        .route("/health", get(health))
        .nest("/api/v1", admin::routes())
        .nest("/agent/v1", agent::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // The chunk route sets its own, larger limit.
        .layer(axum::extract::DefaultBodyLimit::max(max_json_body))
        .layer(axum::middleware::from_fn(log_request))
        .with_state(state)
}

async fn health() -> &'static str {
    "ok"
}

async fn not_found() -> crate::error::AppError {
    crate::error::AppError::NotFound("route")
}

async fn method_not_allowed() -> impl axum::response::IntoResponse {
    crate::error::problem(axum::http::StatusCode::METHOD_NOT_ALLOWED, "this route does not accept that method".to_owned())
}

/// Logs each request with its method, path, status and latency.
async fn log_request(request: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    tracing::info!(%method, %path, status = response.status().as_u16(), elapsed_ms = started.elapsed().as_millis() as u64, "request");
    response
}
