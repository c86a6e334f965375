//! The agent's Ed25519 key pair. The private half never leaves the agent's
//! machine; the server keeps only the 32-byte public key the agent
//! registered, validated here before it reaches `jsonwebtoken` (which
//! misreads or panics on keys of the wrong length).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::{SigningKey, VerifyingKey};

/// Why a key could not be made, read or accepted.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the operating system's random source failed: {0}")]
    Random(String),
    #[error("private key is not a PKCS#8 Ed25519 key")]
    BadPrivateKey,
    #[error("public key must be 32 bytes of base64, got {0}")]
    BadPublicKey(String),
}

/// The agent's signing key. Its `Debug` never shows the key.
pub struct AgentKey {
    signing: SigningKey,
    /// PKCS#8 DER, as `jsonwebtoken` wants it for signing.
    pkcs8_der: Vec<u8>,
}

impl std::fmt::Debug for AgentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentKey").field("public_key", &self.public_key().to_base64()).finish_non_exhaustive()
    }
}

impl AgentKey {
    /// A new key from the operating system's random source.
    pub fn generate() -> Result<AgentKey, KeyError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
        AgentKey::from_signing_key(SigningKey::from_bytes(&seed))
    }

    fn from_signing_key(signing: SigningKey) -> Result<AgentKey, KeyError> {
        let pkcs8_der = signing.to_pkcs8_der().map_err(|_| KeyError::BadPrivateKey)?.as_bytes().to_vec();
        Ok(AgentKey { signing, pkcs8_der })
    }

    /// Reads a key stored by [`AgentKey::to_pkcs8_pem`].
    pub fn from_pkcs8_pem(pem: &str) -> Result<AgentKey, KeyError> {
        let signing = SigningKey::from_pkcs8_pem(pem).map_err(|_| KeyError::BadPrivateKey)?;
        AgentKey::from_signing_key(signing)
    }

    /// The key as PKCS#8 PEM, for the agent's state directory.
    pub fn to_pkcs8_pem(&self) -> Result<String, KeyError> {
        let pem = self.signing.to_pkcs8_pem(Default::default()).map_err(|_| KeyError::BadPrivateKey)?;
        Ok(pem.as_str().to_owned())
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.signing.verifying_key())
    }

    pub(crate) fn encoding_key(&self) -> jsonwebtoken::EncodingKey {
        jsonwebtoken::EncodingKey::from_ed_der(&self.pkcs8_der)
    }
}

/// A registered agent's public key: a valid Ed25519 point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Parses the base64 form an agent registers, refusing anything but 32
    /// bytes that decode to a curve point.
    pub fn from_base64(text: &str) -> Result<PublicKey, KeyError> {
        let bad = || KeyError::BadPublicKey(format!("{} characters", text.len()));
        let bytes = STANDARD.decode(text.trim()).map_err(|_| bad())?;
        let raw: [u8; 32] = bytes.as_slice().try_into().map_err(|_| KeyError::BadPublicKey(format!("{} bytes", bytes.len())))?;
        VerifyingKey::from_bytes(&raw).map(PublicKey).map_err(|_| bad())
    }

    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0.as_bytes())
    }

    pub(crate) fn decoding_key(&self) -> jsonwebtoken::DecodingKey {
        // Raw 32 bytes, which is what `from_ed_der` expects for a public key.
        jsonwebtoken::DecodingKey::from_ed_der(self.0.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_survive_pem_storage() {
        let key = AgentKey::generate().unwrap();
        let pem = key.to_pkcs8_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let again = AgentKey::from_pkcs8_pem(&pem).unwrap();
        assert_eq!(again.public_key(), key.public_key());
        assert!(!format!("{key:?}").contains(&pem[30..60]));
    }

    #[test]
    fn public_keys_must_be_32_valid_bytes() {
        let key = AgentKey::generate().unwrap();
        let text = key.public_key().to_base64();
        assert_eq!(PublicKey::from_base64(&text).unwrap(), key.public_key());
        for bad in ["", "not base64!", &STANDARD.encode([1u8; 31]), &STANDARD.encode([1u8; 44])] {
            assert!(PublicKey::from_base64(bad).is_err(), "{bad:?} accepted");
        }
        assert!(AgentKey::from_pkcs8_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").is_err());
    }
}
