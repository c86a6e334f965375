//! The one place where errors become HTTP answers: every handler returns
//! [`AppError`], and its `IntoResponse` writes `application/problem+json`.
//! Client errors keep a useful `detail`; server errors are logged here with
//! their cause and answered with an opaque 500 (or 503 when the database is
//! out of reach, so agents back off and retry).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use roster_proto::problem::{CONTENT_TYPE, Problem};

/// An error a handler can return.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    /// Missing, malformed, expired or revoked credentials. The detail is
    /// deliberately vague; the cause is logged.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// Also used for other tenants' objects: their existence is not leaked.
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unprocessable(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The tenant's request rate is spent; retry after this many seconds.
    #[error("too many requests: retry after {0} s")]
    TooManyRequests(u64),
    /// A delta that does not build on the state the server holds; the
    /// agent answers it with a full snapshot.
    #[error("{0}")]
    DeltaBaseMismatch(String),
    #[error("database unavailable: {0}")]
    Unavailable(sqlx::Error),
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) | AppError::DeltaBaseMismatch(_) => StatusCode::CONFLICT,
            AppError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(error: sqlx::Error) -> AppError {
        if database_unavailable(&error) { AppError::Unavailable(error) } else { AppError::Internal(format!("database: {error}")) }
    }
}

/// True for errors that say the database is out of reach for now, so the
/// client should retry later (503), rather than that the request failed.
fn database_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(e) => {
            if let Some(pg) = e.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                // Connection exceptions (08), operator intervention — shutdown,
                // cannot connect now (57P) —, insufficient resources (53), and
                // 55000, which a database refusing connections answers.
                let code = pg.code();
                code.starts_with("08") || code.starts_with("57P") || code.starts_with("53") || code == "55000"
            } else if e.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // Busy (5) and locked (6), with their extended codes.
                e.code().and_then(|c| c.parse::<i32>().ok()).is_some_and(|c| matches!(c & 0xff, 5 | 6))
            } else {
                false
            }
        }
        _ => false,
    }
}

impl From<crate::store::StoreError> for AppError {
    fn from(error: crate::store::StoreError) -> AppError {
        match error {
            crate::store::StoreError::Sql(e) => e.into(),
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<crate::import::ImportError> for AppError {
    fn from(error: crate::import::ImportError) -> AppError {
        use crate::import::ImportError;
        match error {
            ImportError::Store(e) => e.into(),
            ImportError::JobGone => AppError::NotFound("job"),
            ImportError::NoState => {
                AppError::Conflict("the job has no directory state yet: register an agent and run `roster-agent push` first".into())
            }
            other => AppError::Conflict(other.to_string()),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let retry_after = match &self {
            AppError::TooManyRequests(seconds) => *seconds,
            _ => 0,
        };
        let detail = match &self {
            AppError::Unauthorized(cause) => {
                tracing::info!(%cause, "refused credentials");
                "missing, invalid, expired or revoked credentials".to_owned()
            }
            AppError::Unavailable(cause) => {
                tracing::warn!(%cause, "database unavailable");
                "the service is temporarily unavailable; retry later".to_owned()
            }
            AppError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                "internal error".to_owned()
            }
            other => other.to_string(),
        };
        let kind = match &self {
            AppError::DeltaBaseMismatch(_) => DELTA_BASE_MISMATCH,
            _ => "about:blank",
        };
        let mut response = problem_of_kind(status, kind, detail).into_response();
        match status {
            StatusCode::SERVICE_UNAVAILABLE => {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            StatusCode::UNAUTHORIZED => {
                response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            StatusCode::TOO_MANY_REQUESTS => {
                if let Ok(value) = HeaderValue::from_str(&retry_after.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
            }
            _ => {}
        }
        response
    }
}

/// The problem `type` of [`AppError::DeltaBaseMismatch`].
pub const DELTA_BASE_MISMATCH: &str = "urn:roster:problem:delta-base-mismatch";

/// A problem+json response with `status` and `detail`.
pub fn problem(status: StatusCode, detail: String) -> impl IntoResponse {
    problem_of_kind(status, "about:blank", detail)
}

fn problem_of_kind(status: StatusCode, kind: &str, detail: String) -> impl IntoResponse {
    let body = Problem {
        kind: kind.to_owned(),
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        status: status.as_u16(),
        detail: Some(detail),
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))], bytes)
}
