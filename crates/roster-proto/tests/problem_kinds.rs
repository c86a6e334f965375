//! The contract lists every problem kind: the `type` enum of
//! `proto-schemas/json/problem.schema.json` is exactly `ProblemKind::ALL`, so
//! a kind added in code without the schema (or the reverse) fails here.

use std::collections::BTreeSet;

use roster_proto::problem::ProblemKind;

#[test]
fn the_schema_lists_exactly_the_problem_kinds() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto-schemas/json/problem.schema.json");
    let schema: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let listed: BTreeSet<&str> =
        schema["properties"]["type"]["enum"].as_array().expect("`type` is an enum").iter().map(|v| v.as_str().unwrap()).collect();
    let kinds: BTreeSet<&str> = ProblemKind::ALL.iter().map(|kind| kind.uri()).collect();
    assert_eq!(listed, kinds, "problem.schema.json's `type` enum must list exactly ProblemKind::ALL");
    assert_eq!(kinds.len(), ProblemKind::ALL.len(), "a kind is listed twice");
}
