//! The agent's Ed25519 key pair. The private half never leaves the agent's
//! machine; the server keeps only the 32-byte public key the agent
//! registered, validated here: 32 bytes, a curve point, and not of small
//! order (a weak key, for which signatures can be made without any private
//! key).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use roster_proto::Sha256Hex;

/// Why a key could not be made, read or accepted.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the operating system's random source failed: {0}")]
    Random(String),
    #[error("private key is not a PKCS#8 Ed25519 key")]
    BadPrivateKey,
    #[error("public key must be 32 bytes of base64, got {0}")]
    BadPublicKey(String),
    #[error("public key is a small-order (weak) Ed25519 point, such as the identity: signatures for it need no private key")]
    WeakPublicKey,
}

/// The agent's signing key. Its `Debug` never shows the key.
pub struct AgentKey {
    signing: SigningKey,
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
        Ok(AgentKey { signing: SigningKey::from_bytes(&seed) })
    }

    /// Reads a key stored by [`AgentKey::to_pkcs8_pem`].
    pub fn from_pkcs8_pem(pem: &str) -> Result<AgentKey, KeyError> {
        let signing = SigningKey::from_pkcs8_pem(pem).map_err(|_| KeyError::BadPrivateKey)?;
        Ok(AgentKey { signing })
    }

    /// The key as PKCS#8 PEM, for the agent's state directory.
    pub fn to_pkcs8_pem(&self) -> Result<String, KeyError> {
        let pem = self.signing.to_pkcs8_pem(Default::default()).map_err(|_| KeyError::BadPrivateKey)?;
        Ok(pem.as_str().to_owned())
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.signing.verifying_key())
    }

    /// The Ed25519 signature of `message`.
    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }
}

/// A registered agent's public key: a valid Ed25519 point of large order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Parses the base64 form an agent registers, refusing anything but 32
    /// bytes that decode to a curve point of large order.
    pub fn from_base64(text: &str) -> Result<PublicKey, KeyError> {
        let bad = || KeyError::BadPublicKey(format!("{} characters", text.len()));
        let bytes = STANDARD.decode(text.trim()).map_err(|_| bad())?;
        let raw: [u8; 32] = bytes.as_slice().try_into().map_err(|_| KeyError::BadPublicKey(format!("{} bytes", bytes.len())))?;
        let key = VerifyingKey::from_bytes(&raw).map_err(|_| bad())?;
        if key.is_weak() {
            return Err(KeyError::WeakPublicKey);
        }
        Ok(PublicKey(key))
    }

    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0.as_bytes())
    }

    /// sha256 of the key's 32 raw bytes: how a rotation proof names the key
    /// it replaces.
    pub fn sha256(&self) -> Sha256Hex {
        crate::sha256_hex(self.0.as_bytes())
    }

    /// Strict RFC 8032 verification (`verify_strict`): also refuses weak
    /// keys, small-order `R` and a non-canonical `s`, which plain
    /// verification lets through.
    pub(crate) fn verify_strict(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        self.0.verify_strict(message, &Signature::from_bytes(signature)).is_ok()
    }

    /// A key [`PublicKey::from_base64`] would refuse, to show that
    /// verification refuses it too.
    #[cfg(test)]
    pub(crate) fn weak_for_tests(raw: [u8; 32]) -> PublicKey {
        #[allow(clippy::expect_used)] // test data: a point the test names
        PublicKey(VerifyingKey::from_bytes(&raw).expect("a curve point"))
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

    /// The eight small-order points of Ed25519 (the torsion subgroup), in
    /// their canonical encodings and with the sign bit set where that is a
    /// different point: each decodes, and each is refused as weak.
    #[test]
    fn small_order_public_keys_are_refused() {
        let hex = |text: &str| -> [u8; 32] {
            let bytes: Vec<u8> = (0..64).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect();
            bytes.try_into().unwrap()
        };
        let small_order = [
            // The identity (order 1).
            "0100000000000000000000000000000000000000000000000000000000000000",
            // (0, -1), order 2.
            "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            // (±sqrt(-1), 0), order 4.
            "0000000000000000000000000000000000000000000000000000000000000000",
            "0000000000000000000000000000000000000000000000000000000000000080",
            // Order 8.
            "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
            "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
            "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
            "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
        ];
        for point in small_order {
            let raw = hex(point);
            assert!(VerifyingKey::from_bytes(&raw).is_ok(), "{point} is a curve point");
            let refused = PublicKey::from_base64(&STANDARD.encode(raw));
            assert!(matches!(refused, Err(KeyError::WeakPublicKey)), "{point}: {refused:?}");
        }
    }
}
