//! Every example under `schemas/examples/<schema>/{valid,invalid}/` is judged by the `jsonschema`
//! crate (formats asserted) as its folder says.

use std::fs;
use std::path::PathBuf;

use crate::{read_json, schemas_dir, validator};

/// Examples whose verdict is known to differ from their folder, with the reason. Empty: every
/// example is judged as named. Add an entry here (never `#[ignore]`) if a validator bug forces it.
const EXPECTED_FAILURES: &[(&str, &str)] = &[];

struct Example {
    schema: String,
    valid: bool,
    name: String,
    path: PathBuf,
}

impl Example {
    fn id(&self) -> String {
        format!("{}/{}/{}", self.schema, if self.valid { "valid" } else { "invalid" }, self.name)
    }
}

fn sorted_entries(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    entries
}

fn examples() -> Vec<Example> {
    let mut out = Vec::new();
    for schema_dir in sorted_entries(&schemas_dir().join("examples")) {
        if !schema_dir.is_dir() {
            continue;
        }
        let schema = schema_dir.file_name().unwrap().to_string_lossy().into_owned();
        for kind in sorted_entries(&schema_dir) {
            let kind_name = kind.file_name().unwrap().to_string_lossy().into_owned();
            let valid = match kind_name.as_str() {
                "valid" => true,
                "invalid" => false,
                other => panic!("examples/{schema}/{other}: expected only valid/ and invalid/"),
            };
            for path in sorted_entries(&kind) {
                let file = path.file_name().unwrap().to_string_lossy().into_owned();
                let name = file.strip_suffix(".json").unwrap_or_else(|| {
                    panic!("examples/{schema}/{kind_name}/{file}: not a .json file")
                });
                out.push(Example {
                    schema: schema.clone(),
                    valid,
                    name: name.to_owned(),
                    path: path.clone(),
                });
            }
        }
    }
    out
}

#[test]
fn every_example_is_judged_as_its_folder_says() {
    let all = examples();
    let mut wrong = Vec::new();
    for ex in &all {
        let v = validator(&ex.schema);
        let body = read_json(&ex.path);
        let errors: Vec<String> =
            v.iter_errors(&body).map(|e| format!("{}: {e}", e.instance_path())).collect();
        if errors.is_empty() != ex.valid {
            wrong.push((ex.id(), errors));
        }
    }
    let wrong_ids: Vec<&str> = wrong.iter().map(|(id, _)| id.as_str()).collect();
    let expected: Vec<&str> = EXPECTED_FAILURES.iter().map(|(id, _)| *id).collect();
    assert_eq!(wrong_ids, expected, "examples judged against their folder: {wrong:#?}");
}

#[test]
fn every_schema_has_valid_and_invalid_examples_and_every_folder_a_schema() {
    let all = examples();
    for entry in sorted_entries(&schemas_dir()) {
        let name = entry.file_name().unwrap().to_string_lossy().into_owned();
        if let Some(schema) = name.strip_suffix(".json") {
            for valid in [true, false] {
                assert!(
                    all.iter().any(|e| e.schema == schema && e.valid == valid),
                    "{schema} lacks a {} example",
                    if valid { "valid" } else { "invalid" }
                );
            }
        }
    }
    for ex in &all {
        assert!(
            schemas_dir().join(format!("{}.json", ex.schema)).is_file(),
            "examples/{} has no schema",
            ex.schema
        );
    }
    let invalid = all.iter().filter(|e| !e.valid).count();
    assert!(invalid >= 25, "only {invalid} invalid examples");
}

fn at(pointer: &str) -> &str {
    if pointer.is_empty() { "(root)" } else { pointer }
}

/// Each invalid example fails for the reason its name gives: the first error of each, reviewed
/// once in the snapshot.
#[test]
fn invalid_examples_fail_for_the_named_reason() {
    let mut report = String::new();
    for ex in examples().iter().filter(|e| !e.valid) {
        let v = validator(&ex.schema);
        let body = read_json(&ex.path);
        let mut errors: Vec<String> = v
            .iter_errors(&body)
            .map(|e| format!("{} [{}] {e}", at(&e.instance_path().to_string()), e.kind().keyword()))
            .collect();
        errors.sort();
        report.push_str(&format!("{}\n", ex.id()));
        for e in errors {
            report.push_str(&format!("    {e}\n"));
        }
    }
    insta::assert_snapshot!(report);
}

/// `format: uri` is asserted only with the right options: without them the non-URI example
/// would slip through, which is why every check here enables them.
#[test]
fn uri_format_needs_format_assertion() {
    let schema = read_json(&schemas_dir().join("downloads.json"));
    let body = read_json(&schemas_dir().join("examples/downloads/invalid/non-uri-url.json"));
    let lax = jsonschema::options().build(&schema).unwrap();
    assert!(lax.is_valid(&body), "2020-12 treats format as an annotation by default");
    assert!(!validator("downloads").is_valid(&body));
}
