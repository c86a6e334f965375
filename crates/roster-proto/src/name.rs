//! Names an admin gives (jobs, accesses) as the service compares them: two
//! names are the same when their keys are, the key being the name trimmed,
//! without default-ignorable characters (zero-width space, joiners, soft
//! hyphen, variation selectors) and in Unicode NFC. So "Café" typed in NFC
//! or NFD, or "Sales" with a zero-width space, is one name. Comparison stays
//! case-sensitive, as it always was. Characters that change how a name is
//! displayed or logged (controls, ANSI escapes, bidi overrides) are refused.

use unicode_normalization::UnicodeNormalization;

/// Longest name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// Why a name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("the name is blank")]
    Blank,
    #[error("the name is longer than {MAX_NAME_CHARS} characters")]
    TooLong,
    #[error("the name contains the control or bidi-override character U+{0:04X}")]
    Forbidden(u32),
}

/// True for a control character (C0, DEL, C1) or a bidirectional override,
/// embedding or isolate: these reorder or hide what is displayed.
pub fn is_forbidden(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// True for Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties)
/// in the Basic Multilingual Plane: characters with no visible form of
/// their own. The supplementary planes' few (tags, which spell subdivision
/// flags, and ideographic variation selectors) change what a name shows,
/// so they stay in its key; and every character class here is one the
/// name's JSON Schema pattern ([`PATTERN`]) can spell in any regex dialect.
pub fn is_default_ignorable(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}'..='\u{1160}' | '\u{17B4}'..='\u{17B5}' | '\u{180B}'..='\u{180F}'
        | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}'
        | '\u{FEFF}' | '\u{FFA0}' | '\u{FFF0}'..='\u{FFF8}')
}

/// The JSON Schema pattern of a name the server accepts: no character
/// [`is_forbidden`], and at least one that is neither white space (Rust's
/// `char::is_whitespace`, which `trim` uses) nor [`is_default_ignorable`].
/// A test checks it against those functions for every BMP character.
pub const PATTERN: &str = concat!(
    "^[^\\u0000-\\u001F\\u007F-\\u009F\\u202A-\\u202E\\u2066-\\u2069]*",
    "[^\\u0000-\\u0020\\u007F-\\u00A0\\u00AD\\u034F\\u061C\\u115F\\u1160\\u1680\\u17B4\\u17B5\\u180B-\\u180F",
    "\\u2000-\\u200F\\u2028-\\u202F\\u205F-\\u206F\\u3000\\u3164\\uFE00-\\uFE0F\\uFEFF\\uFFA0\\uFFF0-\\uFFF8]",
    "[^\\u0000-\\u001F\\u007F-\\u009F\\u202A-\\u202E\\u2066-\\u2069]*$"
);

/// The name to store (trimmed, in NFC) and its key, or why it is refused.
pub fn checked_name(name: &str) -> Result<(String, String), NameError> {
    // Counted as sent, as the schema's `maxLength` counts.
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(NameError::TooLong);
    }
    // Before trimming too: a tab or newline at either end is refused, not hidden.
    if let Some(c) = name.chars().find(|c| is_forbidden(*c)) {
        return Err(NameError::Forbidden(u32::from(c)));
    }
    let name: String = name.trim().nfc().collect();
    let key = name_key(&name);
    if key.is_empty() {
        return Err(NameError::Blank);
    }
    Ok((name, key))
}

/// The key two names are compared by.
pub fn name_key(name: &str) -> String {
    let visible: String = name.chars().filter(|c| !is_default_ignorable(*c)).collect();
    visible.trim().nfc().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_look_the_same_have_one_key() {
        for (a, b) in [
            ("Café", "Cafe\u{301}"),
            ("Sales", "Sa\u{200B}les"),
            ("Sales", "\u{FEFF}Sales\u{200D}"),
            ("Sales", " Sales "),
            ("Ångström", "A\u{30A}ngstro\u{308}m"),
        ] {
            assert_eq!(checked_name(a).unwrap().1, checked_name(b).unwrap().1, "{a:?} {b:?}");
        }
        assert_ne!(name_key("Sales"), name_key("sales"), "case still counts, as it always did");
        assert_eq!(checked_name("Cafe\u{301}").unwrap().0, "Café", "stored in NFC");
    }

    #[test]
    fn controls_escapes_and_overrides_are_refused() {
        for (name, refused) in [
            ("Sa\0les", NameError::Forbidden(0)),
            ("\u{1b}[31mSales", NameError::Forbidden(0x1B)),
            ("Sa\u{85}les", NameError::Forbidden(0x85)),
            ("Sales\u{202E}gpj", NameError::Forbidden(0x202E)),
            ("\u{2066}Sales", NameError::Forbidden(0x2066)),
            ("Sa\nles", NameError::Forbidden(0x0A)),
            ("\u{200B}", NameError::Blank),
            ("   ", NameError::Blank),
        ] {
            assert_eq!(checked_name(name), Err(refused), "{name:?}");
        }
        assert_eq!(checked_name(&"x".repeat(MAX_NAME_CHARS + 1)), Err(NameError::TooLong));
        assert!(checked_name(&"é".repeat(MAX_NAME_CHARS)).is_ok());
    }

    #[test]
    fn the_pattern_accepts_exactly_the_names_the_server_accepts() {
        let schema = serde_json::json!({"type": "string", "pattern": PATTERN});
        let validator = jsonschema::validator_for(&schema).unwrap();
        let bmp = (0u32..=0xFFFF).filter_map(char::from_u32);
        for c in bmp {
            for name in [c.to_string(), format!("a{c}"), format!("{c}a"), format!("{c}{c}")] {
                let valid = validator.is_valid(&serde_json::Value::String(name.clone()));
                assert_eq!(valid, checked_name(&name).is_ok(), "U+{:04X} in {name:?}", u32::from(c));
            }
        }
    }
}
