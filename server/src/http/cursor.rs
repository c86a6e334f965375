//! Opaque page cursors: the sort key of the last item of a page, as
//! base64url JSON. Clients pass them back untouched (not even trimmed);
//! anything else answers 400.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::{AppError, RequestError};

/// Encodes a sort key.
pub fn encode(key: &[String]) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(key).unwrap_or_default())
}

/// Decodes a cursor made by [`encode`] with `parts` parts.
pub fn decode(cursor: &str, parts: usize) -> Result<Vec<String>, AppError> {
    let bad = || AppError::from(RequestError::Cursor);
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let key: Vec<String> = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if key.len() == parts { Ok(key) } else { Err(bad()) }
}

/// Decodes and parses each part.
pub fn decode_as<T: std::str::FromStr>(cursor: &str, parts: usize) -> Result<Vec<T>, AppError> {
    decode(cursor, parts)?.iter().map(|part| part.parse::<T>().map_err(|_| RequestError::Cursor.into())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_strangers() {
        let key = vec!["user".to_owned(), "Copenhagen, \"HQ\"".to_owned(), "7".to_owned()];
        let cursor = encode(&key);
        assert!(cursor.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(decode(&cursor, 3).unwrap(), key);
        assert!(decode(&cursor, 2).is_err());
        assert!(decode("not a cursor", 1).is_err());
        assert!(decode(&URL_SAFE_NO_PAD.encode("{}"), 1).is_err());
        assert_eq!(decode_as::<i64>(&encode(&["42".to_owned()]), 1).unwrap(), vec![42]);
        assert!(decode_as::<i64>(&encode(&["x".to_owned()]), 1).is_err());
    }
}
