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
    T: serde::de::DeserializeOwned + serde::Serialize,
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
pub fn from_value<T: serde::de::DeserializeOwned + serde::Serialize>(mut value: serde_json::Value) -> Result<T, AppError> {
    let invalid = |why: String| RequestError::InvalidBody(format!("Failed to deserialize the JSON body into the target type: {why}"));
    integral_numbers_as_integers(&mut value);
    let typed: T = serde_path_to_error::deserialize(&value).map_err(|e| invalid(e.to_string()))?;
    let written = serde_json::to_value(&typed).map_err(|e| invalid(e.to_string()))?;
    objects_sent_as_objects(&value, &written, "").map_err(invalid)?;
    Ok(typed)
}

/// Whether an optional body of `null` means no body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Null {
    /// `null` is the same as no body (approve and reject, as documented).
    IsNoBody,
    /// `null` is not the object the route takes (422).
    Refused,
}

/// A route's optional JSON body: none (or only white space) is `None`, and
/// so is `null` where `null` says so; anything else must be JSON that fits
/// `T`. `expected` names `T` in the refusal of a body that is not JSON.
pub fn optional_body<T: serde::de::DeserializeOwned + serde::Serialize>(
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
    expected: &'static str,
    null: Null,
) -> Result<Option<T>, AppError> {
    let body = body.map_err(|rejection| body_rejected(rejection.status(), rejection.body_text(), || RequestError::BodyTooLarge))?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let value: serde_json::Value = serde_json::from_slice(&body).map_err(|source| RequestError::NotJson { expected, source })?;
    match (value, null) {
        (serde_json::Value::Null, Null::IsNoBody) => Ok(None),
        (value, _) => from_value(value).map(Some),
    }
}

/// serde's derived `Deserialize` also reads a struct from an array of its
/// fields in order (`["Room A", "basic"]` as a `CreateAccess`, `[]` as a
/// `Decision`), which the contract does not allow: every member the typed
/// body writes as an object must have been sent as one. `written` is the
/// typed body serialized again; members it has and `sent` lacks were
/// defaulted and are skipped.
fn objects_sent_as_objects(sent: &serde_json::Value, written: &serde_json::Value, path: &str) -> Result<(), String> {
    use serde_json::Value;
    match (sent, written) {
        (Value::Object(sent), Value::Object(written)) => written
            .iter()
            .filter_map(|(name, member)| Some((name, sent.get(name)?, member)))
            .try_for_each(|(name, sent, member)| objects_sent_as_objects(sent, member, &format!("{path}.{name}"))),
        (Value::Array(sent), Value::Array(written)) => sent
            .iter()
            .zip(written)
            .enumerate()
            .try_for_each(|(i, (sent, item))| objects_sent_as_objects(sent, item, &format!("{path}[{i}]"))),
        (sent, Value::Object(_)) if !sent.is_object() => {
            let at = if path.is_empty() { "the body" } else { path.trim_start_matches('.') };
            Err(format!("{at}: invalid type: {}, expected an object", kind(sent)))
        }
        _ => Ok(()),
    }
}

fn kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
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

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Outer {
        name: String,
        #[serde(default)]
        inner: Vec<Inner>,
        #[serde(default)]
        one: Option<Inner>,
    }

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Inner {
        #[serde(default)]
        by: Option<String>,
    }

    #[test]
    fn structs_are_read_from_objects_only() {
        let accepted = [json!({"name": "a"}), json!({"name": "a", "inner": [{}, {"by": "x"}], "one": {"by": "y"}})];
        for body in accepted {
            assert!(super::from_value::<Outer>(body.clone()).is_ok(), "{body}");
        }
        let refused = [
            (json!(["a"]), "the body: invalid type: array"),
            (json!(["a", [], null]), "the body: invalid type: array"),
            (json!({"name": "a", "inner": [[]]}), "inner[0]: invalid type: array"),
            (json!({"name": "a", "one": []}), "one: invalid type: array"),
        ];
        for (body, why) in refused {
            let refusal = super::from_value::<Outer>(body.clone()).expect_err(&body.to_string()).to_string();
            assert!(refusal.contains(why), "{body}: {refusal}");
        }
    }

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
