//! Fuzzes chunk decoding (gzip + NDJSON) with arbitrary bytes: it must never
//! panic or expand beyond its bound, and what decodes re-encodes to the same
//! records.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster_snapshot::chunk::{ChunkWriter, decode};

fuzz_target!(|data: &[u8]| {
    let Ok(records) = decode(data) else { return };
    let mut writer = ChunkWriter::new();
    let mut chunks = Vec::new();
    for record in &records {
        if let Ok(Some(chunk)) = writer.push(record) {
            chunks.push(chunk);
        }
    }
    if let Ok(Some(chunk)) = writer.finish() {
        chunks.push(chunk);
    }
    let again: Vec<_> = chunks.iter().flat_map(|c| decode(&c.bytes).unwrap_or_default()).collect();
    assert_eq!(again, records, "decode -> encode -> decode changed the records");
});
