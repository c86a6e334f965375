//! The error body of every API (RFC 9457, `application/problem+json`).

use serde::{Deserialize, Serialize};

/// Media type of [`Problem`] bodies.
pub const CONTENT_TYPE: &str = "application/problem+json";

/// An error as the APIs answer it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// A URI naming the kind of problem (`about:blank` when the status says all).
    #[serde(rename = "type")]
    pub kind: String,
    /// Short, fixed summary of the kind.
    pub title: String,
    pub status: u16,
    /// What went wrong this time, for a person to read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}
