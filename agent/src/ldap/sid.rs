//! Security identifiers: AD's binary `objectSid` rendered in the
//! `S-1-5-21-...` form admins know (MS-DTYP 2.4.2).

/// Why bytes are not a SID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SidError {
    #[error("a SID is at least 8 bytes, got {0}")]
    TooShort(usize),
    #[error("SID revision {0} is not 1")]
    Revision(u8),
    #[error("SID says {count} sub-authorities, which needs {expected} bytes, got {actual}")]
    Length { count: u8, expected: usize, actual: usize },
    #[error("`{0}` is not a hex-encoded SID")]
    Hex(String),
}

/// Renders a binary SID: revision (1 byte), sub-authority count (1 byte),
/// identifier authority (6 bytes, big-endian), then the sub-authorities
/// (4 bytes each, little-endian).
pub fn sid_to_string(bytes: &[u8]) -> Result<String, SidError> {
    let [revision, count, authority @ ..] = bytes else {
        return Err(SidError::TooShort(bytes.len()));
    };
    if bytes.len() < 8 {
        return Err(SidError::TooShort(bytes.len()));
    }
    if *revision != 1 {
        return Err(SidError::Revision(*revision));
    }
    let expected = 8 + 4 * usize::from(*count);
    if bytes.len() != expected {
        return Err(SidError::Length { count: *count, expected, actual: bytes.len() });
    }
    let authority = authority.iter().take(6).fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    let mut text = format!("S-1-{authority}");
    for sub in bytes[8..].chunks_exact(4) {
        let value = u32::from_le_bytes([sub[0], sub[1], sub[2], sub[3]]);
        text.push_str(&format!("-{value}"));
    }
    Ok(text)
}

/// Renders a SID given as hex (the extended-DN control's hex form).
pub fn hex_sid_to_string(hex: &str) -> Result<String, SidError> {
    let bytes = decode_hex(hex).ok_or_else(|| SidError::Hex(hex.to_owned()))?;
    sid_to_string(&bytes)
}

/// Decodes an even-length string of hex digits.
pub(crate) fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    // Digits only: `from_str_radix` alone would take a sign (`+f`).
    if !hex.len().is_multiple_of(2) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_domain_and_account_sids() {
        // S-1-5-21-1207391797-52562976-2314692250 (the fixture DC's domain).
        let mut domain = vec![1, 4, 0, 0, 0, 0, 0, 5];
        for sub in [21u32, 1_207_391_797, 52_562_976, 2_314_692_250] {
            domain.extend_from_slice(&sub.to_le_bytes());
        }
        assert_eq!(sid_to_string(&domain).unwrap(), "S-1-5-21-1207391797-52562976-2314692250");
        let mut account = domain.clone();
        account[1] = 5;
        account.extend_from_slice(&1163u32.to_le_bytes());
        assert_eq!(sid_to_string(&account).unwrap(), "S-1-5-21-1207391797-52562976-2314692250-1163");
        // Well-known: Everyone, S-1-1-0.
        assert_eq!(sid_to_string(&[1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]).unwrap(), "S-1-1-0");
        let hex: String = account.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex_sid_to_string(&hex).unwrap(), "S-1-5-21-1207391797-52562976-2314692250-1163");
    }

    #[test]
    fn refuses_malformed_sids() {
        assert_eq!(sid_to_string(&[]), Err(SidError::TooShort(0)));
        assert_eq!(sid_to_string(&[1, 0, 0]), Err(SidError::TooShort(3)));
        assert_eq!(sid_to_string(&[2, 0, 0, 0, 0, 0, 0, 5]), Err(SidError::Revision(2)));
        assert!(matches!(sid_to_string(&[1, 2, 0, 0, 0, 0, 0, 5, 1, 0, 0, 0]), Err(SidError::Length { .. })));
        assert!(hex_sid_to_string("01zz").is_err());
        assert!(hex_sid_to_string("010").is_err());
        assert_eq!(decode_hex("+f0a"), None);
        assert_eq!(decode_hex("0aFF"), Some(vec![0x0a, 0xff]));
    }
}
