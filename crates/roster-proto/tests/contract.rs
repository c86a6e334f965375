//! The committed `proto-schemas/json/*.schema.json` are exactly what
//! `roster_proto::schema::files()` generates from the wire types
//! (rust-analyzer's habit: generated code is checked by `cargo test`).
//!
//! When a file is stale this test writes the fresh content and fails,
//! naming the files: run it once more and commit the result.

// A failed unwrap, expect or panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::Path;

#[test]
fn schema_files_are_fresh() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto-schemas/json");
    let files = roster_proto::schema::files().unwrap_or_else(|e| panic!("the schemas cannot be generated: {e}"));
    let mut stale = Vec::new();
    for (name, document) in &files {
        let path = dir.join(name);
        let fresh = roster_proto::schema::render(document);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(fresh.as_str()) {
            std::fs::write(&path, fresh).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
            stale.push(*name);
        }
    }
    let mut strays = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if !files.contains_key(name.as_str()) {
            strays.push(name);
        }
    }
    assert!(strays.is_empty(), "proto-schemas/json/ holds files the registry does not generate: {strays:?}");
    assert!(stale.is_empty(), "proto-schemas/json/ was stale and is now regenerated; commit these files: {stale:?}");
}

/// The registry's components are exactly openapi.json's `components.schemas`,
/// with the same `$ref`s.
#[test]
fn components_are_openapi_json_s() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto-schemas/openapi.json");
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let documented: BTreeMap<String, String> = doc["components"]["schemas"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, schema)| (name.clone(), schema["$ref"].as_str().unwrap_or_default().to_owned()))
        .collect();
    let registered: BTreeMap<String, String> =
        roster_proto::schema::ENTRIES.iter().filter_map(|entry| Some((entry.component?.to_owned(), entry.openapi_target()))).collect();
    assert_eq!(registered, documented);
}

/// The OpenAPI face of a body is the registry's name and `$ref`.
#[cfg(feature = "openapi")]
#[test]
fn openapi_components_point_into_the_schema_files() {
    use utoipa::ToSchema;
    use utoipa::openapi::RefOr;

    fn check<T: ToSchema>(name: &str, target: &str) {
        assert_eq!(T::name(), name);
        match T::schema() {
            RefOr::Ref(reference) => assert_eq!(reference.ref_location, target, "{name}"),
            RefOr::T(_) => panic!("{name} is a copy, not a $ref"),
        }
    }
    check::<roster_proto::admin::Job>("Job", "json/admin-api.schema.json#/$defs/job");
    check::<roster_proto::admin::Page<roster_proto::admin::Job>>("JobPage", "json/admin-api.schema.json#/$defs/jobPage");
    check::<roster_proto::schema::LinkInputs>("LinkInputs", "json/admin-api.schema.json#/$defs/linkInputs");
    check::<roster_proto::records::Record>("Record", "json/record.schema.json");
    check::<roster_proto::claims::RequestClaims>("RequestTokenClaims", "json/request-token-claims.schema.json");
}
