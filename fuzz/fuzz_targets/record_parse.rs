//! Fuzzes parsing one snapshot record (an NDJSON line) from arbitrary bytes:
//! never a panic, and what parses survives a serialize/parse round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster_proto::records::Record;

fuzz_target!(|data: &[u8]| {
    let Ok(record) = serde_json::from_slice::<Record>(data) else { return };
    let text = serde_json::to_vec(&record).expect("a parsed record serializes");
    let again: Record = serde_json::from_slice(&text).expect("a serialized record parses");
    assert_eq!(again, record);
});
