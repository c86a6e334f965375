//! JSON body and query-string extractors whose rejections answer in the
//! API's problem+json shape, with serde's explanation of what was wrong.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};

use crate::error::{AppError, RequestError};

/// Like `axum::Json`, but bad input becomes an [`AppError`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    axum::Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(JsonRejection::JsonDataError(e)) => Err(RequestError::InvalidBody(e.body_text()).into()),
            Err(rejection) => {
                Err(body_rejected(rejection.status(), rejection.body_text(), || RequestError::JsonBodyTooLarge(rejection.body_text())))
            }
        }
    }
}

impl<T: serde::Serialize> axum::response::IntoResponse for ApiJson<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

/// A request body the framework refused: `too_large` (a 413) when it was
/// over the limit, else a malformed body (400) with the framework's `detail`.
pub fn body_rejected(status: axum::http::StatusCode, detail: String, too_large: impl FnOnce() -> RequestError) -> AppError {
    if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE { too_large().into() } else { RequestError::MalformedBody(detail).into() }
}

/// Like `axum::extract::Query`, but a bad query string becomes an [`AppError`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(RequestError::MalformedQuery(rejection.body_text()).into()),
        }
    }
}
