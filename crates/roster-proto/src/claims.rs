//! The claims of the agent's JWTs: the request token, the manifest token
//! and the proof a key rotation carries. `roster-snapshot` signs and
//! verifies them; they live here because they are wire types like any
//! other, with a schema of their own (`request-token-claims.schema.json`,
//! `manifest-claims.schema.json`, `agent-api.schema.json#/$defs/rotationProofClaims`).
//!
//! **Body binding (`bsh`).** Every request token names the sha256 of the
//! exact body bytes it was signed for, as 64 lower-case hex digits; a
//! request without a body names the sha256 of no bytes
//! ([`EMPTY_BODY_SHA256`]). The claim is required on every request, so
//! there is no "unbound" token: the server reads the body, within the
//! route's limit, and compares its digest before the handler sees it (else
//! 401). A token seen before use therefore cannot carry another body (a
//! rotation onto another key, another chunk).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Sha256Hex;
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
    /// sha256 of the exact body bytes (lower-case hex); without a body, the
    /// sha256 of no bytes, [`EMPTY_BODY_SHA256`].
    #[schemars(example = &EMPTY_BODY_SHA256)]
    pub bsh: Sha256Hex,
}

/// `bsh` of a request without a body: the sha256 of no bytes.
pub const EMPTY_BODY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Claims of the proof of the new key in `RotateKey.proof`: a compact JWS
/// with the same header as every token, signed by the **new** key, so only
/// whoever holds the new private key can rotate onto it, and only away from
/// the key it names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RotationClaims {
    /// The agent id.
    pub iss: AgentId,
    /// The server's audience.
    pub aud: String,
    #[schemars(with = "common::UnixTime")]
    pub iat: i64,
    /// At most 300 seconds after `iat`.
    #[schemars(with = "common::UnixTime")]
    pub exp: i64,
    /// Unique per proof; the server accepts each once.
    #[schemars(with = "common::Uuid")]
    pub jti: Uuid,
    /// sha256 (lower-case hex) of the 32 raw bytes of the key being
    /// replaced: the proof is good for leaving that key only.
    pub replaces: Sha256Hex,
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
