//! EdDSA JWTs, signed with the agent's key and checked by the server
//! against the key the agent registered.
//!
//! Two kinds, both with `iss` = agent id, `aud` = the server's audience,
//! `iat`, `exp` (at most [`MAX_LIFETIME`] after `iat`) and a unique `jti`:
//!
//! - a **request token** authenticates one agent request; it also names the
//!   HTTP method and path (`htm`, `htu`) so it cannot be replayed elsewhere;
//! - a **manifest token** carries the snapshot manifest as its `manifest`
//!   claim, with `jti` = the snapshot id. The manifest's sha256 is the hash
//!   of the token's decoded payload: exactly the bytes that were signed.
//!
//! The algorithm is pinned to EdDSA: `alg: none` and HMAC tokens are refused.
//! Time is passed in, so the rules are tested without a clock.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Header, Validation};
use roster_proto::manifest::Manifest;
use roster_proto::{AgentId, Sha256Hex};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::keys::{AgentKey, PublicKey};
use crate::sha256_hex;

/// Longest a token may live.
pub const MAX_LIFETIME: i64 = 300;
/// Lifetime the agent gives its tokens.
pub const DEFAULT_LIFETIME: i64 = 120;
/// Clock skew tolerated between agent and server.
pub const LEEWAY: i64 = 60;

/// Why a token was refused. The variants are for logs and tests; the HTTP
/// layer answers every one of them with the same 401.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("token is malformed: {0}")]
    Malformed(String),
    #[error("token signature or header is invalid: {0}")]
    Invalid(jsonwebtoken::errors::Error),
    #[error("token audience `{0}` is not this server")]
    WrongAudience(String),
    #[error("token issuer `{0}` does not match the signing agent")]
    WrongIssuer(String),
    #[error("token expired at {exp} (now {now})")]
    Expired { exp: i64, now: i64 },
    #[error("token issued in the future ({iat}, now {now})")]
    NotYetValid { iat: i64, now: i64 },
    #[error("token lifetime {0} s exceeds {MAX_LIFETIME} s")]
    TooLongLived(i64),
    #[error("token is for `{expected}`, not `{actual}`")]
    WrongRequest { expected: String, actual: String },
    #[error("could not sign token: {0}")]
    Sign(jsonwebtoken::errors::Error),
}

// The claims are wire types: roster-proto holds them, with their schemas.
pub use roster_proto::claims::{ManifestClaims, RequestClaims};

/// A manifest whose signature, audience and times were checked.
#[derive(Debug, Clone)]
pub struct VerifiedManifest {
    pub claims: ManifestClaims,
    /// sha256 of the signed payload.
    pub sha256: Sha256Hex,
}

/// Signs a request token for `method` `path`.
pub fn sign_request(key: &AgentKey, agent_id: AgentId, audience: &str, method: &str, path: &str, now: i64) -> Result<String, TokenError> {
    let claims = RequestClaims {
        iss: agent_id,
        aud: audience.to_owned(),
        iat: now,
        exp: now + DEFAULT_LIFETIME,
        jti: Uuid::new_v4(),
        htm: method.to_ascii_uppercase(),
        htu: path.to_owned(),
    };
    sign(key, &claims)
}

/// Signs a manifest; `jti` is the snapshot id and `iss` the manifest's agent.
pub fn sign_manifest(key: &AgentKey, manifest: &Manifest, audience: &str, now: i64) -> Result<String, TokenError> {
    let claims = ManifestClaims {
        iss: manifest.agent_id,
        aud: audience.to_owned(),
        iat: now,
        exp: now + DEFAULT_LIFETIME,
        jti: manifest.snapshot_id,
        manifest: manifest.clone(),
    };
    sign(key, &claims)
}

fn sign<T: Serialize>(key: &AgentKey, claims: &T) -> Result<String, TokenError> {
    jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), claims, &key.encoding_key()).map_err(TokenError::Sign)
}

/// Reads `iss` without checking anything, to find whose key to verify with.
/// Never trust anything else from an unverified token.
pub fn unverified_issuer(token: &str) -> Result<AgentId, TokenError> {
    #[derive(Deserialize)]
    struct Issuer {
        iss: AgentId,
    }
    let payload = payload_bytes(token)?;
    let issuer: Issuer = serde_json::from_slice(&payload).map_err(|e| TokenError::Malformed(e.to_string()))?;
    Ok(issuer.iss)
}

/// Verifies a request token for `method` `path`.
pub fn verify_request(
    token: &str,
    key: &PublicKey,
    agent_id: AgentId,
    audience: &str,
    method: &str,
    path: &str,
    now: i64,
) -> Result<RequestClaims, TokenError> {
    let claims: RequestClaims = verify(token, key)?;
    check_common(claims.iss, &claims.aud, claims.iat, claims.exp, agent_id, audience, now)?;
    let expected = format!("{} {}", method.to_ascii_uppercase(), path);
    let actual = format!("{} {}", claims.htm, claims.htu);
    if expected != actual {
        return Err(TokenError::WrongRequest { expected, actual });
    }
    Ok(claims)
}

/// Verifies a manifest token and hashes its signed payload.
pub fn verify_manifest(token: &str, key: &PublicKey, agent_id: AgentId, audience: &str, now: i64) -> Result<VerifiedManifest, TokenError> {
    let claims: ManifestClaims = verify(token, key)?;
    check_common(claims.iss, &claims.aud, claims.iat, claims.exp, agent_id, audience, now)?;
    if claims.manifest.agent_id != agent_id || claims.manifest.snapshot_id != claims.jti {
        return Err(TokenError::Malformed("manifest agent or snapshot id differs from the token's".into()));
    }
    let sha256 = sha256_hex(&payload_bytes(token)?);
    Ok(VerifiedManifest { claims, sha256 })
}

fn verify<T: serde::de::DeserializeOwned>(token: &str, key: &PublicKey) -> Result<T, TokenError> {
    let mut validation = Validation::new(Algorithm::EdDSA);
    // Times and audience are checked by `check_common` against the caller's clock.
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<T>(token, &key.decoding_key(), &validation).map_err(TokenError::Invalid)?;
    Ok(data.claims)
}

fn check_common(iss: AgentId, aud: &str, iat: i64, exp: i64, agent_id: AgentId, audience: &str, now: i64) -> Result<(), TokenError> {
    if iss != agent_id {
        return Err(TokenError::WrongIssuer(iss.to_string()));
    }
    if aud != audience {
        return Err(TokenError::WrongAudience(aud.to_owned()));
    }
    if exp - iat > MAX_LIFETIME {
        return Err(TokenError::TooLongLived(exp - iat));
    }
    if iat > now + LEEWAY {
        return Err(TokenError::NotYetValid { iat, now });
    }
    if exp + LEEWAY < now {
        return Err(TokenError::Expired { exp, now });
    }
    Ok(())
}

fn payload_bytes(token: &str) -> Result<Vec<u8>, TokenError> {
    let mut parts = token.split('.');
    let (Some(_), Some(payload), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(TokenError::Malformed("a JWT has three dot-separated parts".into()));
    };
    URL_SAFE_NO_PAD.decode(payload).map_err(|e| TokenError::Malformed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use roster_proto::SnapshotId;
    use roster_proto::manifest::{DirectoryIdentity, FORMAT_VERSION, RecordCounts, SnapshotKind, Watermark};

    use super::*;

    const AUD: &str = "urn:roster:test";
    const NOW: i64 = 1_800_000_000;

    fn manifest(agent_id: AgentId) -> Manifest {
        Manifest {
            version: FORMAT_VERSION,
            snapshot_id: SnapshotId::new(),
            agent_id,
            job_id: roster_proto::JobId::new(),
            kind: SnapshotKind::Full,
            read_started_at: time::OffsetDateTime::from_unix_timestamp(NOW).unwrap(),
            directory: DirectoryIdentity { domain_dn: "DC=corp".into(), domain_sid: None, dns_host_name: None, base_dn: "DC=corp".into() },
            watermark: Watermark {
                dns_host_name: "dc1".into(),
                invocation_id: "00000000-0000-0000-0000-000000000001".parse().unwrap(),
                usn: 7,
            },
            base: None,
            counts: RecordCounts::default(),
            chunks: vec![],
        }
    }

    fn b64(value: &serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
    }

    #[test]
    fn request_tokens_verify_only_for_their_request_and_time() {
        let key = AgentKey::generate().unwrap();
        let id = AgentId::new();
        let token = sign_request(&key, id, AUD, "put", "/agent/v1/snapshots/x/chunks/0", NOW).unwrap();
        let pk = key.public_key();
        let ok = |method: &str, path: &str, aud: &str, agent: AgentId, now: i64| verify_request(&token, &pk, agent, aud, method, path, now);
        ok("PUT", "/agent/v1/snapshots/x/chunks/0", AUD, id, NOW).unwrap();
        ok("PUT", "/agent/v1/snapshots/x/chunks/0", AUD, id, NOW + DEFAULT_LIFETIME + LEEWAY).unwrap();
        let cases: Vec<(&str, Result<RequestClaims, TokenError>)> = vec![
            ("other path", ok("PUT", "/agent/v1/snapshots/x/chunks/1", AUD, id, NOW)),
            ("other method", ok("POST", "/agent/v1/snapshots/x/chunks/0", AUD, id, NOW)),
            ("other audience", ok("PUT", "/agent/v1/snapshots/x/chunks/0", "urn:other", id, NOW)),
            ("other agent", ok("PUT", "/agent/v1/snapshots/x/chunks/0", AUD, AgentId::new(), NOW)),
            ("expired", ok("PUT", "/agent/v1/snapshots/x/chunks/0", AUD, id, NOW + DEFAULT_LIFETIME + LEEWAY + 1)),
            ("from the future", ok("PUT", "/agent/v1/snapshots/x/chunks/0", AUD, id, NOW - LEEWAY - 1)),
        ];
        for (name, result) in cases {
            assert!(result.is_err(), "{name} verified");
        }
        assert_eq!(unverified_issuer(&token).unwrap(), id);
    }

    #[test]
    fn another_key_is_refused() {
        let key = AgentKey::generate().unwrap();
        let other = AgentKey::generate().unwrap();
        let id = AgentId::new();
        let token = sign_request(&key, id, AUD, "GET", "/agent/v1/job", NOW).unwrap();
        assert!(matches!(verify_request(&token, &other.public_key(), id, AUD, "GET", "/agent/v1/job", NOW), Err(TokenError::Invalid(_))));
    }

    #[test]
    fn alg_none_hmac_and_long_lived_tokens_are_refused() {
        let key = AgentKey::generate().unwrap();
        let id = AgentId::new();
        let claims = serde_json::json!({"iss": id, "aud": AUD, "iat": NOW, "exp": NOW + 60, "jti": Uuid::new_v4(), "htm": "GET", "htu": "/agent/v1/job"});
        let none = format!("{}.{}.", b64(&serde_json::json!({"alg": "none", "typ": "JWT"})), b64(&claims));
        assert!(verify_request(&none, &key.public_key(), id, AUD, "GET", "/agent/v1/job", NOW).is_err());
        // HMAC keyed with the public key: the classic algorithm confusion.
        let hmac = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(key.public_key().to_base64().as_bytes()),
        )
        .unwrap();
        assert!(verify_request(&hmac, &key.public_key(), id, AUD, "GET", "/agent/v1/job", NOW).is_err());
        let mut long = claims.clone();
        long["exp"] = serde_json::json!(NOW + MAX_LIFETIME + 1);
        let long = sign(&key, &long).unwrap();
        assert!(matches!(verify_request(&long, &key.public_key(), id, AUD, "GET", "/agent/v1/job", NOW), Err(TokenError::TooLongLived(_))));
        assert!(verify_request("a.b", &key.public_key(), id, AUD, "GET", "/agent/v1/job", NOW).is_err());
    }

    #[test]
    fn manifests_round_trip_with_a_stable_hash() {
        let key = AgentKey::generate().unwrap();
        let id = AgentId::new();
        let manifest = manifest(id);
        let token = sign_manifest(&key, &manifest, AUD, NOW).unwrap();
        let verified = verify_manifest(&token, &key.public_key(), id, AUD, NOW).unwrap();
        assert_eq!(verified.claims.manifest, manifest);
        assert_eq!(verified.claims.jti, manifest.snapshot_id);
        assert_eq!(verified.sha256, sha256_hex(&payload_bytes(&token).unwrap()));
        assert!(verify_manifest(&token, &key.public_key(), AgentId::new(), AUD, NOW).is_err());
    }

    #[test]
    fn a_manifest_for_another_agent_is_refused() {
        let key = AgentKey::generate().unwrap();
        let id = AgentId::new();
        let mut claims = ManifestClaims {
            iss: id,
            aud: AUD.into(),
            iat: NOW,
            exp: NOW + 60,
            jti: SnapshotId::from(Uuid::nil()),
            manifest: manifest(AgentId::new()),
        };
        claims.jti = claims.manifest.snapshot_id;
        let token = sign(&key, &claims).unwrap();
        assert!(matches!(verify_manifest(&token, &key.public_key(), id, AUD, NOW), Err(TokenError::Malformed(_))));
    }
}
