//! AD's extended DNs, as returned under the extended-DN control
//! (`1.2.840.113556.1.4.529`): `<GUID=...>;<SID=...>;CN=x,DC=corp`.
//!
//! With that control every DN-valued attribute (notably `member`) carries
//! the referenced object's objectGUID, so group members are resolved to
//! GUIDs in the same search instead of one lookup per member.

use std::str::FromStr;

use roster_proto::ObjectGuid;

use super::sid::{decode_hex, hex_sid_to_string};

/// OID of the extended-DN control.
pub const EXTENDED_DN_OID: &str = "1.2.840.113556.1.4.529";
/// Control value asking for the string forms (`<GUID=xxxxxxxx-xxxx-...>`,
/// `<SID=S-1-5-...>`): BER `SEQUENCE { INTEGER 1 }`.
pub const EXTENDED_DN_STRING_FORM: [u8; 5] = [0x30, 0x03, 0x02, 0x01, 0x01];

/// An extended DN taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtendedDn<'a> {
    /// The object's GUID, when the value carried one.
    pub guid: Option<ObjectGuid>,
    /// The object's SID as `S-1-...`; absent for non-security principals.
    pub sid: Option<String>,
    /// The plain DN after the `<...>;` parts.
    pub dn: &'a str,
}

/// Why a value is not an extended DN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtendedDnError {
    #[error("unterminated `<` in extended DN `{0}`")]
    Unterminated(String),
    #[error("`{part}` in extended DN is not `<NAME=value>`")]
    BadPart { part: String },
    #[error("extended DN `{0}` lacks the `;` after a `<...>` part")]
    MissingSeparator(String),
    #[error("bad GUID `{0}` in extended DN")]
    BadGuid(String),
    #[error("bad SID `{0}` in extended DN")]
    BadSid(String),
}

/// Parses `<GUID=...>;<SID=...>;DN`. The GUID may be AD's string form or
/// 32 hex digits in raw byte order (the control's hex form); the SID may be
/// `S-1-...` or hex. Other `<NAME=...>` parts are skipped. A plain DN
/// parses with no GUID.
pub fn parse_extended_dn(value: &str) -> Result<ExtendedDn<'_>, ExtendedDnError> {
    let mut guid = None;
    let mut sid = None;
    let mut rest = value;
    while let Some(after_open) = rest.strip_prefix('<') {
        let close = after_open.find('>').ok_or_else(|| ExtendedDnError::Unterminated(value.to_owned()))?;
        let part = &after_open[..close];
        let (name, text) = part.split_once('=').ok_or_else(|| ExtendedDnError::BadPart { part: format!("<{part}>") })?;
        if name.eq_ignore_ascii_case("GUID") {
            guid.get_or_insert(parse_guid(text)?);
        } else if name.eq_ignore_ascii_case("SID") && sid.is_none() {
            sid = Some(parse_sid(text)?);
        }
        rest = &after_open[close + 1..];
        if let Some(after_separator) = rest.strip_prefix(';') {
            rest = after_separator;
        } else if !rest.is_empty() {
            return Err(ExtendedDnError::MissingSeparator(value.to_owned()));
        }
    }
    Ok(ExtendedDn { guid, sid, dn: rest })
}

fn parse_guid(text: &str) -> Result<ObjectGuid, ExtendedDnError> {
    let bad = || ExtendedDnError::BadGuid(text.to_owned());
    if text.len() == 32 && !text.contains('-') {
        let raw = decode_hex(text).ok_or_else(bad)?;
        return ObjectGuid::from_ldap_bytes(&raw).map_err(|_| bad());
    }
    ObjectGuid::from_str(text).map_err(|_| bad())
}

fn parse_sid(text: &str) -> Result<String, ExtendedDnError> {
    if text.starts_with("S-") || text.starts_with("s-") {
        let valid = text.len() > 4 && text[2..].split('-').all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        return if valid { Ok(text.to_ascii_uppercase()) } else { Err(ExtendedDnError::BadSid(text.to_owned())) };
    }
    hex_sid_to_string(text).map_err(|_| ExtendedDnError::BadSid(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guid(s: &str) -> Option<ObjectGuid> {
        Some(s.parse().unwrap())
    }

    /// Recorded answers: Samba 4.17 (string form) and Windows-style hex form.
    #[test]
    fn parses_recorded_values() {
        let cases: Vec<(&str, Option<ObjectGuid>, Option<&str>, &str)> = vec![
            (
                "<GUID=af85fa00-da42-4c37-a301-8e5c891377a9>;<SID=S-1-5-21-1207391797-52562976-2314692250-1163>;CN=cph-0062,OU=Copenhagen,OU=Staff,OU=Fixture,DC=corp,DC=example,DC=test",
                guid("af85fa00-da42-4c37-a301-8e5c891377a9"),
                Some("S-1-5-21-1207391797-52562976-2314692250-1163"),
                "CN=cph-0062,OU=Copenhagen,OU=Staff,OU=Fixture,DC=corp,DC=example,DC=test",
            ),
            // A non-security principal (contact, OU): no SID.
            (
                "<GUID=c07297ec-a019-4193-9db7-54b90830cd18>;OU=Groups,DC=corp",
                guid("c07297ec-a019-4193-9db7-54b90830cd18"),
                None,
                "OU=Groups,DC=corp",
            ),
            ("CN=Plain,DC=corp", None, None, "CN=Plain,DC=corp"),
            // Upper case and braces are accepted in the GUID.
            ("<GUID={AF85FA00-DA42-4C37-A301-8E5C891377A9}>;CN=x", guid("af85fa00-da42-4c37-a301-8e5c891377a9"), None, "CN=x"),
            // Unknown parts (e.g. WKGUID) are skipped.
            (
                "<WKGUID=aa312825768811d1aded00c04fd8d5cd,DC=corp>;<GUID=af85fa00-da42-4c37-a301-8e5c891377a9>;CN=y",
                guid("af85fa00-da42-4c37-a301-8e5c891377a9"),
                None,
                "CN=y",
            ),
        ];
        for (value, expected_guid, expected_sid, expected_dn) in cases {
            let parsed = parse_extended_dn(value).unwrap_or_else(|e| panic!("{value}: {e}"));
            assert_eq!(parsed.guid, expected_guid, "{value}");
            assert_eq!(parsed.sid.as_deref(), expected_sid, "{value}");
            assert_eq!(parsed.dn, expected_dn, "{value}");
        }
    }

    #[test]
    fn hex_guids_are_raw_bytes() {
        let value = "<GUID=7041a27e50b1f946a0222b8143898113>;<SID=010500000000000515000000357ef747201052039a2cf78a8b040000>;CN=Ann,DC=corp";
        let parsed = parse_extended_dn(value).unwrap();
        let raw = [0x70, 0x41, 0xa2, 0x7e, 0x50, 0xb1, 0xf9, 0x46, 0xa0, 0x22, 0x2b, 0x81, 0x43, 0x89, 0x81, 0x13];
        assert_eq!(parsed.guid, Some(ObjectGuid::from_ldap_bytes(&raw).unwrap()));
        assert_eq!(parsed.guid.unwrap().to_string(), "7ea24170-b150-46f9-a022-2b8143898113");
        assert_eq!(parsed.sid.as_deref(), Some("S-1-5-21-1207402037-55709728-2331454618-1163"));
        assert_eq!(parsed.dn, "CN=Ann,DC=corp");
    }

    #[test]
    fn refuses_broken_values() {
        for bad in [
            "<GUID=af85fa00-da42-4c37-a301-8e5c891377a9",
            "<GUID=nope>;CN=x",
            "<GUID=+041a27e50b1f946a0222b8143898113>;CN=x",
            "<GUID=af85fa00-da42-4c37-a301-8e5c891377a9>CN=x",
            "<GUIDaf85fa00>;CN=x",
            "<SID=S-1-5-x>;CN=x",
            "<SID=zz>;CN=x",
        ] {
            assert!(parse_extended_dn(bad).is_err(), "{bad} parsed");
        }
    }
}
