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

impl fmt::Display for ObjectGuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        write!(
            f,
            "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
            b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]
        )
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
        let groups: Vec<&str> = t.split('-').collect();
        let lengths = [8, 4, 4, 4, 12];
        let well_formed =
            groups.len() == 5 && groups.iter().zip(lengths).all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()));
        if !well_formed {
            return Err(syntax());
        }
        let hex: String = groups.concat();
        let mut text = [0u8; 16];
        for (i, byte) in text.iter_mut().enumerate() {
            let pair = hex.get(2 * i..2 * i + 2).ok_or_else(syntax)?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| syntax())?;
        }
        // Undo the byte swap of the first three fields.
        let order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
        let mut raw = [0u8; 16];
        for (dst, src) in order.iter().enumerate() {
            raw[dst] = text[*src];
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
        ] {
            assert!(bad.parse::<ObjectGuid>().is_err(), "{bad:?} parsed");
        }
        assert_eq!(ObjectGuid::from_ldap_bytes(&[0; 15]), Err(GuidError::Length(15)));
    }

    #[test]
    fn serde_round_trip() {
        let guid: ObjectGuid = "00112233-4455-6677-8899-aabbccddeeff".parse().unwrap();
        let json = serde_json::to_string(&guid).unwrap();
        assert_eq!(json, "\"00112233-4455-6677-8899-aabbccddeeff\"");
        assert_eq!(serde_json::from_str::<ObjectGuid>(&json).unwrap(), guid);
    }
}
