//! EdDSA JWTs, signed with the agent's key and checked by the server
//! against the key the agent registered.
//!
//! Three kinds, all with `iss` = agent id, `aud` = the server's audience,
//! `iat`, `exp` (at most [`MAX_LIFETIME`] after `iat`) and a unique `jti`:
//!
//! - a **request token** authenticates one agent request; it also names the
//!   HTTP method and path (`htm`, `htu`) and the sha256 of the body (`bsh`)
//!   so it cannot be replayed elsewhere or carry another body;
//! - a **manifest token** carries the snapshot manifest as its `manifest`
//!   claim, with `jti` = the snapshot id. The manifest's sha256 is the hash
//!   of the token's decoded payload: exactly the bytes that were signed;
//! - a **rotation proof** is signed by an agent's *new* key and names the
//!   key it replaces (`replaces`), so a rotation proves the new key.
//!
//! Compact JWS written here on `ed25519-dalek`, not a general JWT library:
//! the header must be exactly [`HEADER`] (so the algorithm is pinned:
//! `alg: none` and HMAC are refused), every part is base64url without
//! padding, and signatures are verified strictly (no small-order keys or
//! `R`, canonical `s`). Times are passed in and compared with checked
//! arithmetic, so the rules are tested without a clock and at the extremes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
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
/// The one JOSE header Roster writes and accepts, byte for byte.
pub const HEADER: &str = r#"{"alg":"EdDSA","typ":"JWT"}"#;

/// Why a token was refused. The variants are for logs and tests; the HTTP
/// layer answers every one of them with the same 401.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("token is malformed: {0}")]
    Malformed(String),
    #[error("token signature or header is invalid: {0}")]
    Invalid(&'static str),
    #[error("token audience {0:?} is not this server")]
    WrongAudience(String),
    #[error("token issuer `{0}` does not match the signing agent")]
    WrongIssuer(String),
    #[error("token expired at {exp} (now {now})")]
    Expired { exp: i64, now: i64 },
    #[error("token issued in the future ({iat}, now {now})")]
    NotYetValid { iat: i64, now: i64 },
    #[error("token lifetime from {iat} to {exp} is not within 0..={MAX_LIFETIME} s")]
    TooLongLived { iat: i64, exp: i64 },
    #[error("token is for {expected:?}, not {actual:?}")]
    WrongRequest { expected: String, actual: String },
    #[error("token is for a body with sha256 {signed}, not this one ({actual})")]
    WrongBody { signed: Sha256Hex, actual: Sha256Hex },
    #[error("rotation proof replaces key {named}, not the current key {current}")]
    WrongKey { named: Sha256Hex, current: Sha256Hex },
    #[error("could not sign token: {0}")]
    Sign(serde_json::Error),
}

// The claims are wire types: roster-proto holds them, with their schemas.
pub use roster_proto::claims::{EMPTY_BODY_SHA256, ManifestClaims, RequestClaims, RotationClaims};

/// A manifest whose signature, audience and times were checked.
#[derive(Debug, Clone)]
pub struct VerifiedManifest {
    pub claims: ManifestClaims,
    /// sha256 of the signed payload.
    pub sha256: Sha256Hex,
}

/// Signs a request token for `method` `path` with exactly `body`.
pub fn sign_request(
    key: &AgentKey,
    agent_id: AgentId,
    audience: &str,
    method: &str,
    path: &str,
    body: &[u8],
    now: i64,
) -> Result<String, TokenError> {
    let claims = RequestClaims {
        iss: agent_id,
        aud: audience.to_owned(),
        iat: now,
        exp: expiry(now)?,
        jti: Uuid::new_v4(),
        htm: method.to_ascii_uppercase(),
        htu: path.to_owned(),
        bsh: sha256_hex(body),
    };
    sign(key, &claims)
}

/// Signs a manifest; `jti` is the snapshot id and `iss` the manifest's agent.
pub fn sign_manifest(key: &AgentKey, manifest: &Manifest, audience: &str, now: i64) -> Result<String, TokenError> {
    let claims = ManifestClaims {
        iss: manifest.agent_id,
        aud: audience.to_owned(),
        iat: now,
        exp: expiry(now)?,
        jti: manifest.snapshot_id,
        manifest: manifest.clone(),
    };
    sign(key, &claims)
}

/// Signs, with the agent's `new_key`, the proof that it may replace `old_key`.
pub fn sign_rotation(new_key: &AgentKey, agent_id: AgentId, audience: &str, old_key: &PublicKey, now: i64) -> Result<String, TokenError> {
    let claims = RotationClaims {
        iss: agent_id,
        aud: audience.to_owned(),
        iat: now,
        exp: expiry(now)?,
        jti: Uuid::new_v4(),
        replaces: old_key.sha256(),
    };
    sign(new_key, &claims)
}

fn expiry(now: i64) -> Result<i64, TokenError> {
    now.checked_add(DEFAULT_LIFETIME).ok_or_else(|| TokenError::Malformed(format!("no expiry after {now}")))
}

fn sign<T: Serialize>(key: &AgentKey, claims: &T) -> Result<String, TokenError> {
    let payload = serde_json::to_vec(claims).map_err(TokenError::Sign)?;
    let signing_input = format!("{}.{}", URL_SAFE_NO_PAD.encode(HEADER), URL_SAFE_NO_PAD.encode(payload));
    let signature = key.sign(signing_input.as_bytes());
    Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

/// Reads `iss` without checking anything, to find whose key to verify with.
/// Never trust anything else from an unverified token.
pub fn unverified_issuer(token: &str) -> Result<AgentId, TokenError> {
    #[derive(Deserialize)]
    struct Issuer {
        iss: AgentId,
    }
    let payload = decode_part(split(token)?.payload)?;
    let issuer: Issuer = serde_json::from_slice(&payload).map_err(|e| TokenError::Malformed(e.to_string()))?;
    Ok(issuer.iss)
}

/// Verifies a request token for `method` `path`. Its body binding is
/// checked by [`check_body`] once the body is read.
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

/// Checks that `body` is exactly the body the verified token was signed for.
pub fn check_body(claims: &RequestClaims, body: &[u8]) -> Result<(), TokenError> {
    let actual = sha256_hex(body);
    if actual == claims.bsh { Ok(()) } else { Err(TokenError::WrongBody { signed: claims.bsh.clone(), actual }) }
}

/// Verifies a manifest token and hashes its signed payload.
pub fn verify_manifest(token: &str, key: &PublicKey, agent_id: AgentId, audience: &str, now: i64) -> Result<VerifiedManifest, TokenError> {
    let claims: ManifestClaims = verify(token, key)?;
    check_common(claims.iss, &claims.aud, claims.iat, claims.exp, agent_id, audience, now)?;
    if claims.manifest.agent_id != agent_id || claims.manifest.snapshot_id != claims.jti {
        return Err(TokenError::Malformed("manifest agent or snapshot id differs from the token's".into()));
    }
    let sha256 = sha256_hex(&decode_part(split(token)?.payload)?);
    Ok(VerifiedManifest { claims, sha256 })
}

/// Verifies a rotation proof: signed by `new_key`, for `agent_id` and
/// `audience`, in time, and replacing exactly `current_key`.
pub fn verify_rotation(
    proof: &str,
    new_key: &PublicKey,
    agent_id: AgentId,
    audience: &str,
    current_key: &PublicKey,
    now: i64,
) -> Result<RotationClaims, TokenError> {
    let claims: RotationClaims = verify(proof, new_key)?;
    check_common(claims.iss, &claims.aud, claims.iat, claims.exp, agent_id, audience, now)?;
    let current = current_key.sha256();
    if claims.replaces != current {
        return Err(TokenError::WrongKey { named: claims.replaces, current });
    }
    Ok(claims)
}

/// The three parts of a compact JWS, still encoded.
struct Parts<'a> {
    header: &'a str,
    payload: &'a str,
    signature: &'a str,
    /// `header.payload`: what the signature covers.
    signing_input: &'a str,
}

fn split(token: &str) -> Result<Parts<'_>, TokenError> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(TokenError::Malformed("a JWT has three dot-separated parts".into()));
    };
    let signing_input = &token[..header.len() + 1 + payload.len()];
    Ok(Parts { header, payload, signature, signing_input })
}

/// base64url without padding, canonical (no padding, no stray bits).
fn decode_part(part: &str) -> Result<Vec<u8>, TokenError> {
    URL_SAFE_NO_PAD.decode(part).map_err(|e| TokenError::Malformed(e.to_string()))
}

fn verify<T: serde::de::DeserializeOwned>(token: &str, key: &PublicKey) -> Result<T, TokenError> {
    let parts = split(token)?;
    if decode_part(parts.header)? != HEADER.as_bytes() {
        return Err(TokenError::Invalid("the header is not exactly {\"alg\":\"EdDSA\",\"typ\":\"JWT\"}"));
    }
    let signature: [u8; 64] =
        decode_part(parts.signature)?.try_into().map_err(|_| TokenError::Invalid("an Ed25519 signature is 64 bytes"))?;
    if !key.verify_strict(parts.signing_input.as_bytes(), &signature) {
        return Err(TokenError::Invalid("the signature does not verify with the agent's key"));
    }
    serde_json::from_slice(&decode_part(parts.payload)?).map_err(|e| TokenError::Malformed(e.to_string()))
}

/// Issuer, audience and times. Every sum and difference is checked: a
/// token's times are the sender's numbers, and `i64::MIN` or `i64::MAX`
/// must not wrap past the lifetime cap or the expiry.
fn check_common(iss: AgentId, aud: &str, iat: i64, exp: i64, agent_id: AgentId, audience: &str, now: i64) -> Result<(), TokenError> {
    if iss != agent_id {
        return Err(TokenError::WrongIssuer(iss.to_string()));
    }
    if aud != audience {
        return Err(TokenError::WrongAudience(aud.to_owned()));
    }
    if !exp.checked_sub(iat).is_some_and(|lifetime| (0..=MAX_LIFETIME).contains(&lifetime)) {
        return Err(TokenError::TooLongLived { iat, exp });
    }
    if now.checked_add(LEEWAY).is_none_or(|latest| iat > latest) {
        return Err(TokenError::NotYetValid { iat, now });
    }
    if exp.checked_add(LEEWAY).is_none_or(|last| last < now) {
        return Err(TokenError::Expired { exp, now });
    }
    Ok(())
}

/// Until when a verified token's `jti` must be remembered: its `exp` plus
/// the leeway, checked (a verified `exp` is near `now`, so this only fails
/// for a token that did not pass [`check_common`]).
pub fn remember_until(exp: i64) -> Result<i64, TokenError> {
    exp.checked_add(LEEWAY).ok_or(TokenError::Expired { exp, now: i64::MAX })
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

    const JOB: &str = "/agent/v1/job";

    /// A token over `claims` as-is, signed with `key` and `header`.
    fn token_with(key: &AgentKey, header: &str, claims: &serde_json::Value) -> String {
        let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), b64(claims));
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(key.sign(input.as_bytes())))
    }

    fn request_claims(id: AgentId, iat: i64, exp: i64) -> serde_json::Value {
        serde_json::json!({"iss": id, "aud": AUD, "iat": iat, "exp": exp, "jti": Uuid::new_v4(), "htm": "GET", "htu": JOB, "bsh": EMPTY_BODY_SHA256})
    }

    #[test]
    fn request_tokens_verify_only_for_their_request_and_time() {
        let key = AgentKey::generate().unwrap();
        let id = AgentId::new();
        let token = sign_request(&key, id, AUD, "put", "/agent/v1/snapshots/x/chunks/0", b"chunk", NOW).unwrap();
        let pk = key.public_key();
        let ok = |method: &str, path: &str, aud: &str, agent: AgentId, now: i64| verify_request(&token, &pk, agent, aud, method, path, now);
        let claims = ok("PUT", "/agent/v1/snapshots/x/chunks/0", AUD, id, NOW).unwrap();
        check_body(&claims, b"chunk").unwrap();
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
    fn request_tokens_bind_their_exact_body() {
        let key = AgentKey::generate().unwrap();
        let id = AgentId::new();
        let verified = |body: &[u8]| {
            let token = sign_request(&key, id, AUD, "POST", "/agent/v1/key", body, NOW).unwrap();
            verify_request(&token, &key.public_key(), id, AUD, "POST", "/agent/v1/key", NOW).unwrap()
        };
        let claims = verified(br#"{"public_key":"a"}"#);
        check_body(&claims, br#"{"public_key":"a"}"#).unwrap();
        for other in [&br#"{"public_key":"b"}"#[..], br#"{"public_key":"a"} "#, b"", b"\0"] {
            assert!(matches!(check_body(&claims, other), Err(TokenError::WrongBody { .. })), "{other:?} passed");
        }
        // No body: the sha256 of no bytes, and nothing else passes.
        let empty = verified(b"");
        assert_eq!(empty.bsh, EMPTY_BODY_SHA256);
        check_body(&empty, b"").unwrap();
        assert!(check_body(&empty, b"null").is_err());
        // A token without `bsh` is no request token at all.
        let mut unbound = request_claims(id, NOW, NOW + 60);
        unbound.as_object_mut().unwrap().remove("bsh");
        let unbound = token_with(&key, HEADER, &unbound);
        assert!(matches!(verify_request(&unbound, &key.public_key(), id, AUD, "GET", JOB, NOW), Err(TokenError::Malformed(_))));
    }

    /// Times at the extremes of `i64` are refused, never wrapped: a
    /// lifetime that overflows is not short, an expiry that overflows is
    /// not in the future.
    #[test]
    fn times_at_the_extremes_are_refused_without_overflow() {
        let key = AgentKey::generate().unwrap();
        let id = AgentId::new();
        let verify_at = |iat: i64, exp: i64, now: i64| {
            verify_request(&token_with(&key, HEADER, &request_claims(id, iat, exp)), &key.public_key(), id, AUD, "GET", JOB, now)
        };
        let refused: &[(&str, i64, i64, i64)] = &[
            ("iat i64::MIN, exp now", i64::MIN, NOW, NOW),
            ("iat i64::MIN, exp i64::MAX", i64::MIN, i64::MAX, NOW),
            ("iat i64::MIN, exp near i64::MAX / 1000", i64::MIN, i64::MAX / 1000, NOW),
            ("iat i64::MIN + 1, exp i64::MAX - 10", i64::MIN + 1, i64::MAX - 10, NOW),
            ("exp before iat", NOW, NOW - 1, NOW),
            ("exp i64::MIN", NOW, i64::MIN, NOW),
            ("iat and exp i64::MAX", i64::MAX, i64::MAX, NOW),
            ("iat and exp i64::MIN", i64::MIN, i64::MIN, NOW),
            ("iat i64::MAX - 100, exp i64::MAX", i64::MAX - 100, i64::MAX, NOW),
            ("lifetime one over the cap", NOW, NOW + MAX_LIFETIME + 1, NOW),
            ("exp i64::MAX - 10 at now i64::MAX", i64::MAX - 20, i64::MAX - 10, i64::MAX),
            ("now i64::MIN", NOW, NOW + 60, i64::MIN),
        ];
        for (name, iat, exp, now) in refused {
            assert!(verify_at(*iat, *exp, *now).is_err(), "{name} verified");
        }
        let accepted: &[(&str, i64, i64, i64)] = &[
            ("a normal token", NOW, NOW + DEFAULT_LIFETIME, NOW),
            ("the longest lifetime", NOW, NOW + MAX_LIFETIME, NOW),
            ("a zero lifetime", NOW, NOW, NOW),
            ("the last second of the leeway", NOW, NOW + 60, NOW + 120),
        ];
        for (name, iat, exp, now) in accepted {
            assert!(verify_at(*iat, *exp, *now).is_ok(), "{name} refused");
        }
        assert!(remember_until(i64::MAX).is_err());
        assert_eq!(remember_until(NOW).unwrap(), NOW + LEEWAY);
        // Signing at the end of time fails instead of wrapping.
        assert!(sign_request(&key, id, AUD, "GET", JOB, b"", i64::MAX,).is_err());
    }

    #[test]
    fn another_key_is_refused() {
        let key = AgentKey::generate().unwrap();
        let other = AgentKey::generate().unwrap();
        let id = AgentId::new();
        let token = sign_request(&key, id, AUD, "GET", JOB, b"", NOW).unwrap();
        assert!(matches!(verify_request(&token, &other.public_key(), id, AUD, "GET", JOB, NOW), Err(TokenError::Invalid(_))));
    }

    #[test]
    fn alg_none_hmac_other_headers_and_long_lived_tokens_are_refused() {
        let key = AgentKey::generate().unwrap();
        let id = AgentId::new();
        let pk = key.public_key();
        let claims = request_claims(id, NOW, NOW + 60);
        let verify = |token: &str| verify_request(token, &pk, id, AUD, "GET", JOB, NOW);
        verify(&token_with(&key, HEADER, &claims)).unwrap();
        let none = format!("{}.{}.", b64(&serde_json::json!({"alg": "none", "typ": "JWT"})), b64(&claims));
        assert!(verify(&none).is_err());
        // HMAC keyed with the public key, the classic algorithm confusion: the
        // header alone refuses it, whatever the MAC.
        let hmac =
            format!("{}.{}.{}", URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#), b64(&claims), URL_SAFE_NO_PAD.encode([7u8; 32]));
        assert!(matches!(verify(&hmac), Err(TokenError::Invalid(_))));
        // Properly signed, but any header other than the one, byte for byte.
        for header in [
            r#"{"typ":"JWT","alg":"EdDSA"}"#,
            r#"{"alg":"EdDSA"}"#,
            r#"{"alg":"EdDSA","typ":"JWT","kid":"x"}"#,
            r#"{"alg":"EdDSA","typ":"JWT","crit":["b64"],"b64":false}"#,
            r#"{"alg": "EdDSA", "typ": "JWT"}"#,
            r#"{"alg":"Ed25519","typ":"JWT"}"#,
        ] {
            assert!(matches!(verify(&token_with(&key, header, &claims)), Err(TokenError::Invalid(_))), "{header} accepted");
        }
        // base64url without padding only, and canonical.
        let good = token_with(&key, HEADER, &claims);
        let (input, signature) = good.rsplit_once('.').unwrap();
        // The last character of 64 bytes carries 4 spare bits, which must be zero.
        let (kept, last) = signature.split_at(signature.len() - 1);
        let stray = match last {
            "A" => "B",
            "Q" => "R",
            "g" => "h",
            "w" => "x",
            other => panic!("{other} cannot end 64 bytes of base64"),
        };
        for bad in [format!("{input}.{signature}=="), format!("{input}.{kept}{stray}"), format!("{input}.{kept}+"), format!("{good}.")] {
            assert!(verify(&bad).is_err(), "{bad} accepted");
        }
        let mut long = claims.clone();
        long["exp"] = serde_json::json!(NOW + MAX_LIFETIME + 1);
        let long = sign(&key, &long).unwrap();
        assert!(matches!(verify(&long), Err(TokenError::TooLongLived { .. })));
        assert!(verify("a.b").is_err());
    }

    /// With the identity point as public key, `R` = identity and `s` = 0
    /// satisfy the plain Ed25519 equation for every message: a signature
    /// made with no private key. Strict verification refuses it.
    #[test]
    fn a_forged_signature_for_a_weak_key_is_refused() {
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let weak = crate::keys::PublicKey::weak_for_tests(identity);
        let id = AgentId::new();
        let claims = request_claims(id, NOW, NOW + 60);
        let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(HEADER), b64(&claims));
        let mut forged = [0u8; 64];
        forged[..32].copy_from_slice(&identity);
        use ed25519_dalek::Verifier;
        let vk = ed25519_dalek::VerifyingKey::from_bytes(&identity).unwrap();
        let signature = ed25519_dalek::Signature::from_bytes(&forged);
        assert!(vk.verify(input.as_bytes(), &signature).is_ok(), "the forgery passes non-strict verification");
        let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(forged));
        assert!(matches!(verify_request(&token, &weak, id, AUD, "GET", JOB, NOW), Err(TokenError::Invalid(_))));
    }

    #[test]
    fn rotation_proofs_verify_only_for_the_new_key_and_the_key_they_replace() {
        let old = AgentKey::generate().unwrap();
        let new = AgentKey::generate().unwrap();
        let id = AgentId::new();
        let proof = sign_rotation(&new, id, AUD, &old.public_key(), NOW).unwrap();
        let claims = verify_rotation(&proof, &new.public_key(), id, AUD, &old.public_key(), NOW).unwrap();
        assert_eq!(claims.replaces, old.public_key().sha256());
        let cases: Vec<(&str, Result<RotationClaims, TokenError>)> = vec![
            (
                "signed by the old key",
                verify_rotation(
                    &sign_rotation(&old, id, AUD, &old.public_key(), NOW).unwrap(),
                    &new.public_key(),
                    id,
                    AUD,
                    &old.public_key(),
                    NOW,
                ),
            ),
            ("another new key", verify_rotation(&proof, &AgentKey::generate().unwrap().public_key(), id, AUD, &old.public_key(), NOW)),
            ("another current key", verify_rotation(&proof, &new.public_key(), id, AUD, &new.public_key(), NOW)),
            ("another agent", verify_rotation(&proof, &new.public_key(), AgentId::new(), AUD, &old.public_key(), NOW)),
            ("another audience", verify_rotation(&proof, &new.public_key(), id, "urn:other", &old.public_key(), NOW)),
            ("expired", verify_rotation(&proof, &new.public_key(), id, AUD, &old.public_key(), NOW + DEFAULT_LIFETIME + LEEWAY + 1)),
            (
                "a request token",
                verify_rotation(
                    &sign_request(&new, id, AUD, "POST", "/agent/v1/key", b"", NOW).unwrap(),
                    &new.public_key(),
                    id,
                    AUD,
                    &old.public_key(),
                    NOW,
                ),
            ),
        ];
        for (name, result) in cases {
            assert!(result.is_err(), "{name} verified");
        }
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
        assert_eq!(verified.sha256, sha256_hex(&decode_part(split(&token).unwrap().payload).unwrap()));
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
