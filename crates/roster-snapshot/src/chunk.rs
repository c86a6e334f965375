//! Chunks: records as NDJSON, gzip-compressed, at most
//! [`MAX_CHUNK_BYTES`] *uncompressed* so that neither side ever holds more
//! than that per chunk, and a decompression bomb stops at the same bound.
//! A chunk is exactly one gzip member: a second member or any byte after
//! the first is refused, so the bytes that were hashed are the bytes read.

use std::io::{Read, Write};

use flate2::Compression;
use flate2::bufread::GzDecoder;
use flate2::write::GzEncoder;
use roster_proto::Sha256Hex;
use roster_proto::manifest::MAX_CHUNK_BYTES;
use roster_proto::records::Record;

use crate::sha256_hex;

/// A finished chunk, ready to be stored and uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub index: u32,
    /// gzip-compressed NDJSON.
    pub bytes: Vec<u8>,
    /// sha256 of `bytes`.
    pub sha256: Sha256Hex,
    pub records: u64,
}

/// Why a chunk could not be built or read.
#[derive(Debug, thiserror::Error)]
pub enum ChunkError {
    #[error("a single record is {0} bytes, more than a chunk may hold ({MAX_CHUNK_BYTES})")]
    RecordTooLarge(usize),
    #[error("chunk sha256 is {actual}, the manifest says {expected}")]
    HashMismatch { expected: String, actual: String },
    #[error("chunk is not valid gzip: {0}")]
    Compression(std::io::Error),
    #[error("chunk expands beyond {MAX_CHUNK_BYTES} bytes")]
    TooLarge,
    #[error("chunk has {0} bytes after its gzip member; a chunk is exactly one member")]
    TrailingBytes(usize),
    #[error("chunk is not UTF-8")]
    NotUtf8,
    #[error("chunk line {line}: {source}")]
    Record { line: usize, source: serde_json::Error },
    #[error("could not encode a record: {0}")]
    Encode(serde_json::Error),
}

/// Packs records into chunks as they arrive, so a reader can hand over
/// pages of a directory without ever holding all of it.
#[derive(Debug, Default)]
pub struct ChunkWriter {
    /// NDJSON of the chunk being filled.
    pending: Vec<u8>,
    /// Records in `pending`.
    pending_records: u64,
    /// Index the next finished chunk gets.
    next_index: u32,
    /// Upper bound on uncompressed bytes per chunk (tests lower it).
    limit: usize,
}

impl ChunkWriter {
    pub fn new() -> ChunkWriter {
        ChunkWriter::with_limit(MAX_CHUNK_BYTES)
    }

    /// A writer whose chunks hold at most `limit` uncompressed bytes
    /// (capped at [`MAX_CHUNK_BYTES`]).
    pub fn with_limit(limit: usize) -> ChunkWriter {
        ChunkWriter { limit: limit.min(MAX_CHUNK_BYTES), ..ChunkWriter::default() }
    }

    /// Adds a record; returns the chunk it completed, if it completed one.
    pub fn push(&mut self, record: &Record) -> Result<Option<Chunk>, ChunkError> {
        let mut line = serde_json::to_vec(record).map_err(ChunkError::Encode)?;
        line.push(b'\n');
        if line.len() > self.limit {
            return Err(ChunkError::RecordTooLarge(line.len()));
        }
        let finished = if self.pending.len() + line.len() > self.limit { self.seal()? } else { None };
        self.pending.extend_from_slice(&line);
        self.pending_records += 1;
        Ok(finished)
    }

    /// Seals the last, partly filled chunk, if any.
    pub fn finish(mut self) -> Result<Option<Chunk>, ChunkError> {
        self.seal()
    }

    fn seal(&mut self) -> Result<Option<Chunk>, ChunkError> {
        if self.pending_records == 0 {
            return Ok(None);
        }
        let mut encoder = GzEncoder::new(Vec::with_capacity(self.pending.len() / 4), Compression::default());
        encoder.write_all(&self.pending).map_err(ChunkError::Compression)?;
        let bytes = encoder.finish().map_err(ChunkError::Compression)?;
        let chunk = Chunk { index: self.next_index, sha256: sha256_hex(&bytes), bytes, records: self.pending_records };
        self.next_index += 1;
        self.pending.clear();
        self.pending_records = 0;
        Ok(Some(chunk))
    }
}

/// Checks a chunk against the sha256 its manifest names.
pub fn verify_hash(bytes: &[u8], expected_sha256: &str) -> Result<(), ChunkError> {
    let actual = sha256_hex(bytes);
    if actual.eq_ignore_ascii_case(expected_sha256) {
        Ok(())
    } else {
        Err(ChunkError::HashMismatch { expected: expected_sha256.to_owned(), actual: actual.into_string() })
    }
}

/// Decompresses and parses a chunk, refusing to expand it beyond
/// [`MAX_CHUNK_BYTES`] and refusing anything after its one gzip member.
pub fn decode(bytes: &[u8]) -> Result<Vec<Record>, ChunkError> {
    let mut text = Vec::new();
    // The `bufread` decoder takes from the slice only what the member
    // holds (header, data, CRC and size trailer), so what is left is trailing.
    let mut decoder = GzDecoder::new(bytes);
    (&mut decoder).take(MAX_CHUNK_BYTES as u64 + 1).read_to_end(&mut text).map_err(ChunkError::Compression)?;
    if text.len() > MAX_CHUNK_BYTES {
        return Err(ChunkError::TooLarge);
    }
    let trailing = decoder.into_inner().len();
    if trailing > 0 {
        return Err(ChunkError::TrailingBytes(trailing));
    }
    let text = std::str::from_utf8(&text).map_err(|_| ChunkError::NotUtf8)?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| serde_json::from_str(line).map_err(|source| ChunkError::Record { line: i + 1, source }))
        .collect()
}

#[cfg(test)]
mod tests {
    use roster_proto::records::{GroupRecord, OuRecord, UserRecord};

    use super::*;

    fn guid(n: u32) -> roster_proto::ObjectGuid {
        format!("{n:08x}-0000-0000-0000-000000000000").parse().unwrap()
    }

    fn user(n: u32) -> Record {
        Record::User(UserRecord {
            object_guid: guid(n),
            dn: format!("CN=user{n},OU=Staff,DC=corp,DC=test"),
            sam_account_name: format!("user{n}"),
            user_principal_name: Some(format!("user{n}@corp.test")),
            mail: Some(format!("user{n}@example.test")),
            given_name: Some("Given".into()),
            surname: Some("Sur".into()),
            display_name: Some("Given Sur".into()),
            telephone_number: None,
            department: Some("Sales".into()),
            title: None,
            user_account_control: 512,
            account_expires: None,
            consistency_guid: None,
            outside_filter: false,
            usn_changed: Some(u64::from(n)),
            when_changed: None,
        })
    }

    fn write_all(records: &[Record], limit: usize) -> Vec<Chunk> {
        let mut writer = ChunkWriter::with_limit(limit);
        let mut chunks: Vec<Chunk> = records.iter().filter_map(|r| writer.push(r).unwrap()).collect();
        chunks.extend(writer.finish().unwrap());
        chunks
    }

    #[test]
    fn round_trips_records_across_chunks_in_order() {
        let mut records: Vec<Record> = (0..500).map(user).collect();
        records.push(Record::Group(GroupRecord {
            object_guid: guid(9999),
            dn: "CN=Sales,DC=corp,DC=test".into(),
            name: "Sales".into(),
            group_type: -2147483646,
            members: (0..100).map(guid).collect(),
        }));
        records.push(Record::Ou(OuRecord { object_guid: guid(10000), dn: "OU=Staff,DC=corp,DC=test".into(), name: "Staff".into() }));
        let chunks = write_all(&records, 16 * 1024);
        assert!(chunks.len() > 5, "expected several chunks, got {}", chunks.len());
        let mut decoded = Vec::new();
        for (i, chunk) in chunks.iter().enumerate() {
            assert_eq!(chunk.index as usize, i);
            verify_hash(&chunk.bytes, &chunk.sha256).unwrap();
            let records = decode(&chunk.bytes).unwrap();
            assert_eq!(records.len() as u64, chunk.records);
            decoded.extend(records);
        }
        assert_eq!(decoded, records);
    }

    #[test]
    fn no_records_no_chunks() {
        assert!(write_all(&[], 1024).is_empty());
    }

    #[test]
    fn a_record_larger_than_a_chunk_is_refused() {
        let mut writer = ChunkWriter::with_limit(64);
        assert!(matches!(writer.push(&user(1)), Err(ChunkError::RecordTooLarge(_))));
    }

    #[test]
    fn default_chunks_stay_within_the_limit() {
        let records: Vec<Record> = (0..8000).map(user).collect();
        let chunks = write_all(&records, MAX_CHUNK_BYTES);
        assert!(chunks.len() >= 2);
        for chunk in &chunks {
            assert!(chunk.bytes.len() <= MAX_CHUNK_BYTES);
            decode(&chunk.bytes).unwrap();
        }
    }

    #[test]
    fn tampering_is_detected() {
        let chunk = write_all(&[user(1)], 1024).remove(0);
        let mut bad = chunk.bytes.clone();
        let last = bad.len() - 10;
        bad[last] ^= 0xff;
        assert!(matches!(verify_hash(&bad, &chunk.sha256), Err(ChunkError::HashMismatch { .. })));
        assert!(decode(&bad).is_err());
        assert!(matches!(decode(b"not gzip"), Err(ChunkError::Compression(_))));
        assert!(decode(&chunk.bytes[..chunk.bytes.len() / 2]).is_err());
    }

    #[test]
    fn decompression_bombs_stop_at_the_limit() {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
        encoder.write_all(&vec![b' '; MAX_CHUNK_BYTES + 10]).unwrap();
        let bomb = encoder.finish().unwrap();
        assert!(bomb.len() < 10_000);
        assert!(matches!(decode(&bomb), Err(ChunkError::TooLarge)));
    }

    /// gzip allows members back to back, and readers differ on whether they
    /// read past the first: a chunk is one member and nothing after it.
    #[test]
    fn exactly_one_gzip_member_and_no_trailing_bytes() {
        let chunk = write_all(&[user(1)], 1024).remove(0);
        let second = write_all(&[user(2)], 1024).remove(0);
        assert_eq!(decode(&chunk.bytes).unwrap(), vec![user(1)]);
        let with = |tail: &[u8]| [chunk.bytes.as_slice(), tail].concat();
        let cases: Vec<(&str, Vec<u8>, usize)> = vec![
            ("a second member", with(&second.bytes), second.bytes.len()),
            ("one zero byte", with(&[0]), 1),
            ("a newline", with(b"\n"), 1),
            ("an empty second member's header", with(&second.bytes[..10]), 10),
        ];
        for (name, bytes, trailing) in cases {
            match decode(&bytes) {
                Err(ChunkError::TrailingBytes(n)) => assert_eq!(n, trailing, "{name}"),
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn malformed_lines_name_their_line() {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        let good = serde_json::to_string(&user(1)).unwrap();
        write!(encoder, "{good}\n{{\"type\":\"printer\"}}\n").unwrap();
        match decode(&encoder.finish().unwrap()) {
            Err(ChunkError::Record { line, .. }) => assert_eq!(line, 2),
            other => panic!("unexpected {other:?}"),
        }
    }
}
