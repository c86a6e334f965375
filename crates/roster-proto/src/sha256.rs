//! A SHA-256 digest as Roster writes it: 64 lower-case hex digits. Manifest
//! hashes and the chunks Roster computes are named by it; `roster-snapshot`
//! computes them (this crate has no hashing).

use std::fmt;
use std::ops::Deref;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// 64 lower-case hex digits; the only way in is [`FromStr`] (or
/// deserialization, which uses it), so every value holds that form.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sha256Hex(String);

/// A text that is not 64 lower-case hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a sha256 is 64 lower-case hex digits, not {0:?}")]
pub struct Sha256HexError(pub String);

impl Sha256Hex {
    /// The digest of `bytes` as 32 raw bytes, written out.
    pub fn from_digest(bytes: [u8; 32]) -> Sha256Hex {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(64);
        for byte in bytes {
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
        Sha256Hex(out)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl FromStr for Sha256Hex {
    type Err = Sha256HexError;

    fn from_str(text: &str) -> Result<Sha256Hex, Sha256HexError> {
        if text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(Sha256Hex(text.to_owned()))
        } else {
            Err(Sha256HexError(text.to_owned()))
        }
    }
}

/// Read as the text it is, so it goes wherever a `&str` does.
impl Deref for Sha256Hex {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for Sha256Hex {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Sha256Hex {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl fmt::Display for Sha256Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Sha256Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Hex({})", self.0)
    }
}

impl Serialize for Sha256Hex {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Sha256Hex {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Sha256Hex, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The common `sha256Hex`, which says what [`FromStr`] accepts.
impl schemars::JsonSchema for Sha256Hex {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("Sha256Hex")
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        generator.subschema_for::<crate::schema::common::Sha256Hex>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_64_lower_case_hex_digits_parse() {
        let good = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(good.parse::<Sha256Hex>().unwrap().as_str(), good);
        for bad in ["", &good[1..], &good.to_uppercase(), &format!("{}g", &good[1..]), &format!("{good}0")] {
            assert!(bad.parse::<Sha256Hex>().is_err(), "{bad:?}");
        }
        assert_eq!(serde_json::to_string(&good.parse::<Sha256Hex>().unwrap()).unwrap(), format!("\"{good}\""));
        assert!(serde_json::from_str::<Sha256Hex>("\"ABC\"").is_err());
    }

    #[test]
    fn digests_are_written_lower_case() {
        let mut bytes = [0u8; 32];
        bytes[0] = 0xab;
        bytes[31] = 0x0f;
        let hex = Sha256Hex::from_digest(bytes);
        assert!(hex.starts_with("ab00") && hex.ends_with("000f"), "{hex}");
    }
}
