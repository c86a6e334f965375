//! Optional members of request bodies: they may be left out, never `null`.
//!
//! serde lets `null` stand for `None` in an `Option` member; the contract
//! does not (an optional member is absent or has a value of its type), so
//! request types read their optional members through [`present`]:
//!
//! ```
//! #[derive(serde::Deserialize)]
//! struct Body {
//!     #[serde(default, deserialize_with = "roster_proto::optional::present")]
//!     note: Option<String>,
//! }
//! assert!(serde_json::from_str::<Body>(r#"{}"#).unwrap().note.is_none());
//! assert!(serde_json::from_str::<Body>(r#"{"note": "hi"}"#).unwrap().note.is_some());
//! assert!(serde_json::from_str::<Body>(r#"{"note": null}"#).is_err());
//! ```

use serde::{Deserialize, Deserializer};

/// Reads a member that is there (`default` covers its absence): `null` is
/// refused like any other value of the wrong type.
pub fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}
