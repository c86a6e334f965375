//! Roster's snapshot format and its signatures, as plain functions over
//! bytes: no files, no network, no clock (callers pass `now`).
//!
//! - [`chunk`]: records ⇄ gzip-compressed NDJSON chunks addressed by sha256.
//! - [`keys`]: the agent's Ed25519 key pair.
//! - [`token`]: EdDSA JWTs for the manifest and for every agent request.

pub mod chunk;
pub mod keys;
pub mod token;

use roster_proto::Sha256Hex;
use sha2::{Digest, Sha256};

/// Lower-case hex sha256 of `bytes`: how chunks and manifests are named.
pub fn sha256_hex(bytes: &[u8]) -> Sha256Hex {
    Sha256Hex::from_digest(Sha256::digest(bytes).into())
}

#[cfg(test)]
mod tests {
    #[test]
    fn sha256_of_known_input() {
        assert_eq!(super::sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
