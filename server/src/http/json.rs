//! JSON body and query-string extractors whose rejections answer in the
//! API's problem+json shape, with serde's explanation of what was wrong.
//!
//! JSON has one number type: `637.0` is the integer 637 to JSON Schema (and
//! so to the contract), while serde refuses it for a `u32`. Bodies are
//! therefore read as JSON values first, numbers with no fractional part are
//! made integers, and only then is the typed body deserialized.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};

use crate::error::{AppError, RequestError};

/// Like `axum::Json`, but bad input becomes an [`AppError`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let value = match axum::Json::<serde_json::Value>::from_request(request, state).await {
            Ok(axum::Json(value)) => value,
            Err(JsonRejection::JsonDataError(e)) => return Err(RequestError::InvalidBody(e.body_text()).into()),
            Err(rejection) => {
                return Err(body_rejected(rejection.status(), rejection.body_text(), || {
                    RequestError::JsonBodyTooLarge(rejection.body_text())
                }));
            }
        };
        from_value(value).map(ApiJson)
    }
}

/// A body read as a JSON value, as its typed form: whole numbers count as
/// integers, and a refusal names the member that was wrong. Every JSON body
/// goes through here.
pub fn from_value<T: serde::de::DeserializeOwned>(mut value: serde_json::Value) -> Result<T, AppError> {
    integral_numbers_as_integers(&mut value);
    serde_path_to_error::deserialize(value)
        .map_err(|e| RequestError::InvalidBody(format!("Failed to deserialize the JSON body into the target type: {e}")).into())
}

/// Turns every number in `value` that is a whole number written with a
/// fraction or exponent (`637.0`, `6.37e2`) into that integer, where it
/// fits an `i64` or `u64`; other numbers stay as they are.
fn integral_numbers_as_integers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(number) if number.is_f64() => {
            if let Some(float) = number.as_f64()
                && float.fract() == 0.0
            {
                // The casts saturate; the range checks keep only exact ones.
                let whole = if float >= 0.0 && float < u64::MAX as f64 {
                    Some(serde_json::Number::from(float as u64))
                } else if float < 0.0 && float >= i64::MIN as f64 {
                    Some(serde_json::Number::from(float as i64))
                } else {
                    None
                };
                if let Some(whole) = whole {
                    *number = whole;
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_numbers_as_integers),
        Value::Object(members) => members.values_mut().for_each(integral_numbers_as_integers),
        _ => {}
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

#[cfg(test)]
mod tests {
    use super::integral_numbers_as_integers;
    use serde_json::{Value, json};

    #[test]
    fn whole_numbers_become_integers_and_nothing_else_changes() {
        let cases: &[(Value, Value)] = &[
            (json!(637.0), json!(637)),
            (json!(6.37e2), json!(637)),
            (json!(-3.0), json!(-3)),
            (json!(0.0), json!(0)),
            (json!(-0.0), json!(0)),
            (json!(1.5), json!(1.5)),
            (json!(1e300), json!(1e300)),
            (json!(-1e300), json!(-1e300)),
            (json!(18446744073709551615u64), json!(18446744073709551615u64)),
            (json!({"a": [1.0, {"b": 2.0}], "c": "3.0"}), json!({"a": [1, {"b": 2}], "c": "3.0"})),
        ];
        for (input, expected) in cases {
            let mut value = input.clone();
            integral_numbers_as_integers(&mut value);
            assert_eq!(&value, expected, "from {input}");
            assert_eq!(value.is_u64() || value.is_i64(), expected.is_u64() || expected.is_i64(), "from {input}");
        }
    }
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
