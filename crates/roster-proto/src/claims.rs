//! The claims of the agent's two JWTs, the request token and the manifest
//! token. `roster-snapshot` signs and verifies them; they live here because
//! they are wire types like any other, with a schema of their own
//! (`request-token-claims.schema.json`, `manifest-claims.schema.json`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::id::{AgentId, SnapshotId};
use crate::manifest::Manifest;
use crate::schema::common;

/// Claims of a request token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RequestClaims {
    /// The agent id (`RegisterResponse.agent_id`).
    pub iss: AgentId,
    /// The server's audience (`RegisterResponse.audience`).
    pub aud: String,
    #[schemars(with = "common::UnixTime")]
    pub iat: i64,
    /// At most 300 seconds after `iat` (the agent uses 120).
    #[schemars(with = "common::UnixTime")]
    pub exp: i64,
    /// Unique per token.
    #[schemars(with = "common::Uuid")]
    pub jti: Uuid,
    /// HTTP method, upper case; the agent API uses `GET`, `POST` and `PUT`.
    #[schemars(regex(pattern = r"^[A-Z]+$"), example = &"GET", example = &"POST", example = &"PUT")]
    pub htm: String,
    /// Request path as the server receives it, without query or fragment,
    /// e.g. `/agent/v1/snapshots/<id>/chunks/0`.
    #[schemars(regex(pattern = r"^/[^?#]*$"), example = &"/agent/v1/job")]
    pub htu: String,
}

/// Claims of a manifest token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ManifestClaims {
    /// The agent id.
    pub iss: AgentId,
    /// The server's audience, as `RegisterResponse.audience` gave it (e.g. `urn:roster:server:<uuid>`).
    pub aud: String,
    #[schemars(with = "common::UnixTime")]
    pub iat: i64,
    /// At most 300 seconds after `iat`.
    #[schemars(with = "common::UnixTime")]
    pub exp: i64,
    /// The snapshot id.
    pub jti: SnapshotId,
    pub manifest: Manifest,
}
