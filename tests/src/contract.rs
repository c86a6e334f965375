//! The wire contract in `proto-schemas/json/`, loaded for checking real
//! messages: what the real server answered and what the real agent wrote.

use jsonschema::{Draft, Registry};
use serde_json::{Value, json};

/// Every schema's `$id` starts with this.
const BASE: &str = "https://roster.invalid/proto-schemas/json/";

/// The schema files, registered by `$id`.
pub struct Contract {
    registry: Registry<'static>,
}

impl std::fmt::Debug for Contract {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Contract")
    }
}

impl Contract {
    pub fn load() -> Contract {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto-schemas/json");
        let mut resources = Vec::new();
        for entry in std::fs::read_dir(&dir).expect("proto-schemas/json") {
            let path = entry.expect("entry").path();
            let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("schema file")).expect("schema JSON");
            let id = schema["$id"].as_str().expect("every schema has an $id").to_owned();
            resources.push((id, schema));
        }
        let registry = Registry::new().draft(Draft::Draft202012).extend(resources).expect("registry").prepare().expect("registry");
        Contract { registry }
    }

    /// Asserts `document` is valid against `reference` (`file#/$defs/name`).
    pub fn assert_valid(&self, reference: &str, document: &Value) {
        let errors = self.errors(reference, document);
        assert!(errors.is_empty(), "a real message does not match {reference}:\n{}\n{document:#}", errors.join("\n"));
    }

    /// What is wrong with `document` against `reference`; empty when valid.
    pub fn errors(&self, reference: &str, document: &Value) -> Vec<String> {
        let validator = jsonschema::options()
            .with_draft(Draft::Draft202012)
            .should_validate_formats(true)
            .offline()
            .with_registry(&self.registry)
            .build(&json!({ "$ref": format!("{BASE}{reference}") }))
            .unwrap_or_else(|e| panic!("no validator for {reference}: {e}"));
        validator.iter_errors(document).map(|e| format!("{}: {e}", e.instance_path())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_refuses_what_does_not_match() {
        let contract = Contract::load();
        assert!(!contract.errors("admin-api.schema.json#/$defs/session", &json!({})).is_empty());
        assert!(!contract.errors("record.schema.json", &json!({"type": "printer"})).is_empty());
        assert!(contract.errors("admin-api.schema.json#/$defs/nextCursor", &json!(null)).is_empty());
    }
}
