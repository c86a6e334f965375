//! Distinguished names as AD compares them: case-insensitively, ignoring
//! spaces around separators, and with escapes decoded.
//!
//! Scope checks ("is this user under `OU=Staff`?") and links given by DN
//! both depend on comparing DNs that were typed by a person with DNs that
//! came from the directory, so they go through [`Dn::parse`] rather than
//! string equality.

use std::fmt::{self, Write as _};

/// A parsed DN: its RDNs from the leaf up, each `(attribute, value)` folded
/// for comparison. Multi-valued RDNs (`CN=a+UID=b`) keep their `+` parts
/// together in one component.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Dn {
    rdns: Vec<String>,
}

/// Why a string is not a DN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnError {
    #[error("`{0}` is not a distinguished name (expected attribute=value pairs separated by commas)")]
    Syntax(String),
}

impl Dn {
    /// Parses and folds `text`. The empty string is the root DN.
    pub fn parse(text: &str) -> Result<Dn, DnError> {
        let syntax = || DnError::Syntax(text.to_owned());
        let mut rdns = Vec::new();
        if text.trim().is_empty() {
            return Ok(Dn { rdns });
        }
        // Every user's DN is parsed on every import: the usual RDN, one
        // attribute and no escape, is folded into one string and nothing else.
        for raw in split_unescaped(text, ',') {
            if find_unescaped(raw, '+').is_none() {
                rdns.push(fold_ava(raw).ok_or_else(syntax)?);
                continue;
            }
            let mut parts = split_unescaped(raw, '+').map(fold_ava).collect::<Option<Vec<String>>>().ok_or_else(syntax)?;
            parts.sort();
            rdns.push(parts.join("+"));
        }
        Ok(Dn { rdns })
    }

    /// True when `self` is `ancestor` or lies below it.
    pub fn is_within(&self, ancestor: &Dn) -> bool {
        self.rdns.len() >= ancestor.rdns.len() && self.rdns.ends_with(&ancestor.rdns)
    }

    /// Number of RDNs; the root DN has none.
    pub fn depth(&self) -> usize {
        self.rdns.len()
    }

    /// The DN one level up, or `None` for the root.
    pub fn parent(&self) -> Option<Dn> {
        (!self.rdns.is_empty()).then(|| Dn { rdns: self.rdns[1..].to_vec() })
    }
}

/// The folded form, for logs and keys; not meant to be sent back to LDAP.
impl fmt::Display for Dn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rdns.join(","))
    }
}

impl fmt::Debug for Dn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Dn({self})")
    }
}

/// Joins a DN relative to a base, e.g. `OU=Copenhagen,OU=Staff` and
/// `DC=corp,DC=example` into `OU=Copenhagen,OU=Staff,DC=corp,DC=example`.
pub fn join(relative: &str, base: &str) -> String {
    match (relative.trim(), base.trim()) {
        ("", base) => base.to_owned(),
        (relative, "") => relative.to_owned(),
        (relative, base) => format!("{relative},{base}"),
    }
}

/// True for a character a DN shows escaped: a control, an ANSI escape, a
/// bidi override ([`crate::name::is_forbidden`]) or one with no visible form
/// ([`crate::name::is_default_ignorable`]), except the joiners and selectors
/// that shape the text around them ([`shapes_text`]). AD writes the escaped
/// ones in a DN as `\0A`, so one that arrives raw was put there by its
/// sender.
pub fn is_shown_escaped(c: char) -> bool {
    crate::name::is_forbidden(c) || (crate::name::is_default_ignorable(c) && !shapes_text(c))
}

/// Default-ignorable characters that are part of how a word is written:
/// the zero-width non-joiner and joiner (Persian and Indic words, emoji
/// sequences), variation selectors (emoji and CJK forms, Mongolian's free
/// variation selectors) and the combining grapheme joiner. A DN shows them
/// as they are; a name's key still drops them (`crate::name`).
pub fn shapes_text(c: char) -> bool {
    matches!(c, '\u{034F}' | '\u{180B}'..='\u{180D}' | '\u{180F}' | '\u{200C}' | '\u{200D}' | '\u{FE00}'..='\u{FE0F}')
}

/// `dn` with every character [`is_shown_escaped`] written as RFC 4514 hex
/// pairs of its UTF-8 bytes (a line feed as `\0A`), as AD writes them;
/// `None` when there is none. Lossless: [`Dn::parse`] reads the escape and
/// the raw character as the same value, so scope and look-ups by DN are
/// unchanged, while the text shown and logged holds no control character.
pub fn escape_invisible(dn: &str) -> Option<String> {
    if !dn.chars().any(is_shown_escaped) {
        return None;
    }
    let mut out = String::with_capacity(dn.len() + 8);
    let hex = |out: &mut String, c: char| {
        let mut buf = [0u8; 4];
        for byte in c.encode_utf8(&mut buf).bytes() {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\{byte:02X}");
        }
    };
    let mut chars = dn.chars();
    while let Some(c) = chars.next() {
        match c {
            // `\` and a raw character is that character escaped: the same as its hex pairs.
            '\\' => match chars.next() {
                Some(next) if is_shown_escaped(next) => hex(&mut out, next),
                Some(next) => {
                    out.push('\\');
                    out.push(next);
                }
                None => out.push('\\'),
            },
            c if is_shown_escaped(c) => hex(&mut out, c),
            c => out.push(c),
        }
    }
    Some(out)
}

/// `attr=value` folded: the attribute type in ASCII lower case, the value
/// unescaped and lower-cased; `None` when it is no attribute value assertion.
fn fold_ava(ava: &str) -> Option<String> {
    let equals = find_unescaped(ava, '=')?;
    let (attr, value) = (ava[..equals].trim_matches(' '), &ava[equals + 1..]);
    if attr.is_empty() || !attr.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') {
        return None;
    }
    // Only spaces around separators are insignificant (RFC 4514): a raw
    // line feed is part of the value, as its escape `\0A` is.
    let value = value.trim_matches(' ');
    let value = if value.contains('\\') { std::borrow::Cow::Owned(unescape(value)?) } else { std::borrow::Cow::Borrowed(value) };
    let mut folded = String::with_capacity(attr.len() + 1 + value.len());
    folded.extend(attr.chars().map(|c| c.to_ascii_lowercase()));
    folded.push('=');
    if value.is_ascii() {
        folded.extend(value.chars().map(|c| c.to_ascii_lowercase()));
    } else {
        folded.push_str(&value.to_lowercase());
    }
    Some(folded)
}

/// The parts of `text` between unescaped `separator`s.
fn split_unescaped(text: &str, separator: char) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let text = rest?;
        match find_unescaped(text, separator) {
            Some(at) => {
                rest = Some(&text[at + separator.len_utf8()..]);
                Some(&text[..at])
            }
            None => rest.take(),
        }
    })
}

/// Where the first `separator` not escaped by a `\` stands in `text`.
fn find_unescaped(text: &str, separator: char) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            c if c == separator => return Some(i),
            _ => {}
        }
    }
    None
}

/// Decodes RFC 4514 escapes: `\,` style and `\2C` hex pairs (which may
/// spell out UTF-8 sequences).
fn unescape(value: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let first = chars.next()?;
        match (first.to_digit(16), chars.peek().and_then(|c| c.to_digit(16))) {
            (Some(hi), Some(lo)) => {
                chars.next();
                bytes.push((hi * 16 + lo) as u8);
            }
            _ => {
                let mut buf = [0u8; 4];
                bytes.extend_from_slice(first.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dn(s: &str) -> Dn {
        Dn::parse(s).unwrap()
    }

    #[test]
    fn equality_ignores_case_spaces_and_escape_style() {
        let cases = [
            ("CN=Ann,OU=Staff,DC=corp,DC=example", "cn=ann, ou=staff , dc=CORP,dc=Example"),
            ("CN=Smith\\, Ann,OU=Staff", "cn=smith\\2c ann,ou=staff"),
            ("CN=Ann+UID=7,OU=Staff", "uid=7+cn=ann,ou=staff"),
            ("OU=Zürich,DC=x", "ou=z\\c3\\bcrich,dc=x"),
        ];
        for (a, b) in cases {
            assert_eq!(dn(a), dn(b), "{a} vs {b}");
        }
        assert_ne!(dn("CN=Ann,OU=Staff"), dn("CN=Ann,OU=Sales"));
    }

    #[test]
    fn within_is_a_suffix_match_on_whole_rdns() {
        let base = dn("OU=Staff,DC=corp,DC=example");
        let cases = [
            ("CN=Ann,OU=Staff,DC=corp,DC=example", true),
            ("CN=Ann,OU=Copenhagen,OU=Staff,DC=corp,DC=example", true),
            ("OU=Staff,DC=corp,DC=example", true),
            ("CN=Ann,OU=OldStaff,DC=corp,DC=example", false),
            ("CN=Ann,OU=External,DC=corp,DC=example", false),
            ("DC=corp,DC=example", false),
            ("CN=OU\\=Staff,DC=corp,DC=example", false),
        ];
        for (child, expected) in cases {
            assert_eq!(dn(child).is_within(&base), expected, "{child}");
        }
    }

    #[test]
    fn rejects_non_dns() {
        for bad in ["Sales", "CN=Ann,Staff", "=x", "CN=a\\"] {
            assert!(Dn::parse(bad).is_err(), "{bad:?} parsed");
        }
        assert_eq!(Dn::parse("").unwrap().depth(), 0);
    }

    #[test]
    fn controls_and_invisible_characters_are_escaped_losslessly() {
        for (raw, escaped) in [
            ("CN=Ann,OU=Staff,DC=corp", None),
            ("CN=Ann\\0A,OU=Staff", None),
            ("CN=Ann\nBerg,OU=Staff", Some("CN=Ann\\0ABerg,OU=Staff")),
            ("CN=Ann,OU=Staff\n,DC=corp", Some("CN=Ann,OU=Staff\\0A,DC=corp")),
            ("CN=\u{1b}[31mAnn,OU=Staff", Some("CN=\\1B[31mAnn,OU=Staff")),
            ("CN=Ann\u{202E}gpj.exe,OU=Staff", Some("CN=Ann\\E2\\80\\AEgpj.exe,OU=Staff")),
            ("CN=Sa\u{200B}les,OU=Staff", Some("CN=Sa\\E2\\80\\8Bles,OU=Staff")),
            ("CN=A\\\u{0},OU=Staff", Some("CN=A\\00,OU=Staff")),
            ("CN=A\\\\\t,OU=Staff", Some("CN=A\\\\\\09,OU=Staff")),
            ("CN=Ann,\nOU=Staff", Some("CN=Ann,\\0AOU=Staff")),
            // Joiners and selectors that shape a word are shown as they are.
            ("CN=\u{645}\u{62D}\u{645}\u{62F}\u{200C}\u{631}\u{636}\u{627},OU=Staff", None),
            ("CN=\u{915}\u{94D}\u{200D}\u{937},OU=Staff", None),
            ("CN=Ann \u{1F469}\u{200D}\u{1F4BB}\u{FE0F},OU=Staff", None),
            ("CN=\u{1820}\u{180B},OU=Staff", None),
            ("CN=Ann\u{2060}\u{FEFF},OU=Staff", Some("CN=Ann\\E2\\81\\A0\\EF\\BB\\BF,OU=Staff")),
        ] {
            let got = escape_invisible(raw);
            assert_eq!(got.as_deref(), escaped, "{raw:?}");
            let shown = got.unwrap_or_else(|| raw.to_owned());
            assert!(!shown.chars().any(is_shown_escaped), "{shown:?}");
            assert_eq!(Dn::parse(&shown).ok(), Dn::parse(raw).ok(), "the same DN: {raw:?}");
        }
        assert!(Dn::parse("CN=Ann,\nOU=Staff").is_err(), "a control is no part of an attribute type");
        assert_ne!(dn("CN=Ann,OU=Staff\n"), dn("CN=Ann,OU=Staff"), "only spaces around separators are insignificant");
    }

    /// The parser as first written (one allocation per step): what
    /// [`Dn::parse`] must still agree with, on every input.
    fn reference_parse(text: &str) -> Option<Vec<String>> {
        fn split(text: &str, separator: char) -> Vec<&str> {
            let (mut parts, mut start, mut escaped) = (Vec::new(), 0, false);
            for (i, c) in text.char_indices() {
                match c {
                    _ if escaped => escaped = false,
                    '\\' => escaped = true,
                    c if c == separator => {
                        parts.push(&text[start..i]);
                        start = i + c.len_utf8();
                    }
                    _ => {}
                }
            }
            parts.push(&text[start..]);
            parts
        }
        if text.trim().is_empty() {
            return Some(Vec::new());
        }
        let mut rdns = Vec::new();
        for raw in split(text, ',') {
            let mut parts = Vec::new();
            for ava in split(raw, '+') {
                let first = split(ava, '=')[0];
                let value = ava.get(first.len() + 1..)?;
                let attr = first.trim_matches(' ').to_ascii_lowercase();
                if attr.is_empty() || !attr.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') {
                    return None;
                }
                parts.push(format!("{attr}={}", unescape(value.trim_matches(' '))?.to_lowercase()));
            }
            parts.sort();
            rdns.push(parts.join("+"));
        }
        Some(rdns)
    }

    #[test]
    fn parsing_agrees_with_the_reference_parser_on_every_combination() {
        // Every sequence of up to four fragments: separators, escapes (valid,
        // broken, of a separator, of UTF-8 bytes), spaces, case and letters
        // whose lower case is not ASCII's (Σ folds by position).
        let fragments = ["CN", "=", ",", "+", "\\", "\\,", "\\2C", "\\c3\\bc", "\\zz", " ", "Ann", "ÄΣ", "ΑΣ ", "dc=x", "İ", "\n", "-1."];
        let mut inputs = vec![String::new()];
        for _ in 0..4 {
            inputs = inputs.iter().flat_map(|prefix| fragments.iter().map(move |f| format!("{prefix}{f}"))).collect();
            for input in &inputs {
                assert_eq!(Dn::parse(input).ok().map(|dn| dn.rdns), reference_parse(input), "{input:?}");
                let rdn = format!("{input},OU=Staff,DC=corp");
                assert_eq!(Dn::parse(&rdn).ok().map(|dn| dn.rdns), reference_parse(&rdn), "{rdn:?}");
            }
        }
    }

    #[test]
    fn joins_relative_paths_to_the_base() {
        assert_eq!(join("OU=Copenhagen,OU=Staff", "DC=corp,DC=test"), "OU=Copenhagen,OU=Staff,DC=corp,DC=test");
        assert_eq!(join("", "DC=corp,DC=test"), "DC=corp,DC=test");
        assert_eq!(dn("CN=a,OU=b").parent().unwrap(), dn("ou=b"));
    }
}
