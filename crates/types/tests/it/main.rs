//! Integration tests of cfstream-types against the project's JSON Schemas and their examples
//! (`schemas/`): generated values validate and round-trip, every valid example parses, invalid
//! ones are rejected naming the field (or listed in `schemas/examples/types-lenient.md`).

// Test helpers may unwrap like the tests they serve: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod contracts;
mod examples;
mod roundtrip;
mod signed;

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use serde_json::Value;

/// The workspace's `schemas/` folder.
pub(crate) fn schemas_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas")
}

/// Reads a file, naming it on failure.
pub(crate) fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// A validator for `schemas/<name>.json`, asserting formats (`format: uri`).
pub(crate) fn validator(name: &str) -> jsonschema::Validator {
    let schema: Value =
        serde_json::from_str(&read(&schemas_dir().join(format!("{name}.json")))).unwrap();
    jsonschema::options().should_validate_formats(true).build(&schema).unwrap()
}

/// Validators built once per test binary.
pub(crate) struct Validators {
    pub(crate) downloads_response: jsonschema::Validator,
    pub(crate) failure_response: jsonschema::Validator,
    pub(crate) downloads: jsonschema::Validator,
}

pub(crate) static VALIDATORS: LazyLock<Validators> = LazyLock::new(|| Validators {
    downloads_response: validator("downloads-response"),
    failure_response: validator("failure-response"),
    downloads: validator("downloads"),
});
