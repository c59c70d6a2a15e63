//! Integration tests of `cargo xtask`: the schema examples, `schemas --check`, and the errata as
//! seen in the checked-in schemas.

// Test helpers may unwrap like the tests they serve: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod check;
mod errata;
mod examples;

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The workspace's `schemas/` folder.
pub(crate) fn schemas_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("schemas")
}

/// Reads and parses a JSON file, naming it on failure.
pub(crate) fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// A validator for the checked-in `schemas/<name>.json`, asserting formats.
pub(crate) fn validator(name: &str) -> jsonschema::Validator {
    let schema = read_json(&schemas_dir().join(format!("{name}.json")));
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("schemas/{name}.json does not compile: {e}"))
}
