//! The committed OpenAPI document is the router's own: `proto-schemas/openapi.json` is
//! regenerated from `roster_server::http::openapi()` (a stale copy is rewritten and the test
//! fails, rust-analyzer's habit), and every operation it documents is routed.

// A failed unwrap, expect or panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::PathBuf;

use reqwest::Method;
use support::{Engine, spawn_app};

fn committed_openapi() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../proto-schemas/openapi.json")
}

/// Regenerates `proto-schemas/openapi.json`; if the committed copy differed, it is rewritten
/// and the test fails, so the change is reviewed and committed.
#[test]
fn committed_openapi_json_is_the_generated_one() {
    let generated = roster_server::http::openapi().to_pretty_json().expect("serialize the document") + "\n";
    let path = committed_openapi();
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        std::fs::write(&path, &generated).expect("write proto-schemas/openapi.json");
        panic!("proto-schemas/openapi.json was stale and has been regenerated from the router: review and commit it");
    }
}

/// Every documented (method, path) reaches a handler: a request to it, with its path
/// parameters filled with well-formed ids, never meets the router's fallbacks (404 for an
/// unknown route, 405 for a method the route does not take).
#[tokio::test]
async fn every_documented_operation_is_routed() {
    let app = spawn_app(Engine::Sqlite).await;
    let document = serde_json::to_value(roster_server::http::openapi()).unwrap();
    let mut operations = 0;
    for (template, item) in document["paths"].as_object().unwrap() {
        let path = template
            .replace("{job}", &uuid::Uuid::nil().to_string())
            .replace("{id}", &uuid::Uuid::nil().to_string())
            .replace("{index}", "0");
        assert!(!path.contains('{'), "{template}: a path parameter this test does not fill");
        for method in item.as_object().unwrap().keys().filter(|key| *key != "parameters") {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let answer = app.send(method.clone(), &path, None, None, false).await;
            assert_ne!(answer.status, 405, "{method} {template} is documented but the route does not take it: {}", answer.body);
            let route_missing = answer.status == 404 && answer.body["detail"] == "route not found";
            assert!(!route_missing, "{method} {template} is documented but not routed: {}", answer.body);
            operations += 1;
        }
    }
    assert!(operations >= 30, "only {operations} operations are documented");
}
