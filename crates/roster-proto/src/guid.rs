//! AD `objectGUID`: 16 raw bytes on the wire from LDAP, a braces-free
//! lower-case string in every Roster message.
//!
//! AD's standard string form is *not* the bytes in order: the first three
//! fields are little-endian, so bytes `a1 b2 c3 d4 e5 f6 ...` render as
//! `d4c3b2a1-f6e5-...`. Getting this wrong makes every GUID a stranger to
//! the tools admins use, so both directions live here and are tested.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An AD object's GUID: the identity that survives renames and moves.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectGuid([u8; 16]);

/// Why a string or byte slice is not an object GUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuidError {
    #[error("an objectGUID is 16 bytes, got {0}")]
    Length(usize),
    #[error("`{0}` is not a GUID of the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx")]
    Syntax(String),
}

impl ObjectGuid {
    /// The GUID from the 16 bytes LDAP returns for `objectGUID`.
    pub fn from_ldap_bytes(bytes: &[u8]) -> Result<Self, GuidError> {
        let raw: [u8; 16] = bytes.try_into().map_err(|_| GuidError::Length(bytes.len()))?;
        Ok(ObjectGuid(raw))
    }

    /// The 16 bytes as LDAP stores them (for filters such as `(objectGUID=\a1\b2...)`).
    pub fn ldap_bytes(&self) -> [u8; 16] {
        self.0
    }

    /// True when `s` has the shape of a GUID string (with or without braces).
    pub fn looks_like_guid(s: &str) -> bool {
        s.parse::<ObjectGuid>().is_ok()
    }
}

/// Where each byte of the raw GUID stands in its string form: the first
/// three fields byte-swapped.
const TEXT_ORDER: [usize; 16] = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];

/// Where the dashes of the string form stand.
const DASHES: [usize; 4] = [8, 13, 18, 23];

impl ObjectGuid {
    /// The string form, lower case, on the stack: what `Display` writes
    /// (an import hashes and writes many of them).
    pub fn text(&self) -> GuidText {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut text = [b'-'; 36];
        let mut at = 0;
        for &src in &TEXT_ORDER {
            if DASHES.contains(&at) {
                at += 1;
            }
            let byte = self.0[src];
            text[at] = DIGITS[usize::from(byte >> 4)];
            text[at + 1] = DIGITS[usize::from(byte & 0x0f)];
            at += 2;
        }
        GuidText(text)
    }
}

/// A GUID's string form (36 ASCII characters), from [`ObjectGuid::text`].
#[derive(Clone, Copy)]
pub struct GuidText([u8; 36]);

impl fmt::Debug for GuidText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GuidText({})", self.as_str())
    }
}

impl GuidText {
    pub fn as_str(&self) -> &str {
        // Hex digits and dashes only.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Display for ObjectGuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text().as_str())
    }
}

impl fmt::Debug for ObjectGuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectGuid({self})")
    }
}

impl FromStr for ObjectGuid {
    type Err = GuidError;

    /// Parses AD's string form, `{...}` braces and upper case allowed.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let syntax = || GuidError::Syntax(s.to_owned());
        let t = s.trim();
        let t = t.strip_prefix('{').and_then(|t| t.strip_suffix('}')).unwrap_or(t);
        // Five groups of 8, 4, 4, 4 and 12 hex digits between dashes.
        let text = t.as_bytes();
        if text.len() != 36 || DASHES.iter().any(|&at| text[at] != b'-') {
            return Err(syntax());
        }
        let mut digits = text.iter().enumerate().filter(|(at, _)| !DASHES.contains(at)).map(|(_, &b)| (b as char).to_digit(16));
        let mut raw = [0u8; 16];
        for &dst in &TEXT_ORDER {
            let (Some(Some(hi)), Some(Some(lo))) = (digits.next(), digits.next()) else { return Err(syntax()) };
            raw[dst] = (hi * 16 + lo) as u8;
        }
        Ok(ObjectGuid(raw))
    }
}

/// What Roster writes; readers accept more (see `objectGuidInput` in
/// `common.schema.json`, [`crate::schema::common::ObjectGuidInput`]).
impl schemars::JsonSchema for ObjectGuid {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "objectGuid".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "title": "ObjectGuid",
            "description": "An Active Directory objectGUID in AD's string form (first three fields byte-swapped from the raw LDAP bytes), lower case, without braces: exactly what Roster writes. Readers (Rust `ObjectGuid::from_str`) also accept upper or mixed case, surrounding `{}` and surrounding white space; see `objectGuidInput`. Senders should use this form.",
            "type": "string",
            "pattern": crate::schema::common::CANONICAL_GUID_PATTERN,
            "examples": ["d4c3b2a1-f6e5-1807-293a-4b5c6d7e8f90"]
        })
    }
}

impl Serialize for ObjectGuid {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ObjectGuid {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_with_the_first_three_fields_byte_swapped() {
        let raw = [0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6, 0x07, 0x18, 0x29, 0x3a, 0x4b, 0x5c, 0x6d, 0x7e, 0x8f, 0x90];
        let guid = ObjectGuid::from_ldap_bytes(&raw).unwrap();
        assert_eq!(guid.to_string(), "d4c3b2a1-f6e5-1807-293a-4b5c6d7e8f90");
        assert_eq!("{D4C3B2A1-F6E5-1807-293A-4B5C6D7E8F90}".parse::<ObjectGuid>().unwrap(), guid);
        assert_eq!(guid.ldap_bytes(), raw);
    }

    #[test]
    fn rejects_malformed_input() {
        for bad in [
            "",
            "d4c3b2a1f6e51807293a4b5c6d7e8f90",
            "d4c3b2a1-f6e5-1807-293a-4b5c6d7e8f9",
            "g4c3b2a1-f6e5-1807-293a-4b5c6d7e8f90",
            "+4c3b2a1-f6e5-1807-293a-4b5c6d7e8f90",
            "CN=Sales,DC=corp",
            "d4c3b2a1-f6e5-1807-293a-4b5c6d7e8f900",
            "d4c3b2a1f-6e5-1807-293a-4b5c6d7e8f90",
            "d4c3b2a1-f6e5-1807-293a-4b5c6d7e8fé",
            "d4c3b2a1-f6e5-1807-293a-4b5c6d7e8-90",
            "{d4c3b2a1-f6e5-1807-293a-4b5c6d7e8f90",
        ] {
            assert!(bad.parse::<ObjectGuid>().is_err(), "{bad:?} parsed");
        }
        assert_eq!(ObjectGuid::from_ldap_bytes(&[0; 15]), Err(GuidError::Length(15)));
    }

    #[test]
    fn every_byte_value_in_every_position_reads_back_as_written() {
        for position in 0..16 {
            for value in 0..=255u8 {
                let mut raw = [0x5a; 16];
                raw[position] = value;
                let guid = ObjectGuid(raw);
                let text = guid.to_string();
                assert_eq!(text.len(), 36);
                assert_eq!(text.parse::<ObjectGuid>(), Ok(guid), "{text}");
                assert_eq!(format!(" {{{}}} ", text.to_uppercase()).parse::<ObjectGuid>(), Ok(guid), "{text}");
            }
        }
    }

    #[test]
    fn serde_round_trip() {
        let guid: ObjectGuid = "00112233-4455-6677-8899-aabbccddeeff".parse().unwrap();
        let json = serde_json::to_string(&guid).unwrap();
        assert_eq!(json, "\"00112233-4455-6677-8899-aabbccddeeff\"");
        assert_eq!(serde_json::from_str::<ObjectGuid>(&json).unwrap(), guid);
    }
}
