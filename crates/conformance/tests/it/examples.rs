//! The schemas' own examples (`schemas/examples/<schema>/{valid,invalid}/*.json`): the
//! validator accepts every valid one and rejects every invalid one.

use std::path::Path;

use cfstream_conformance::Validator;
use cfstream_types::Operation;
use serde_json::Value;

fn examples(schema: &str, kind: &str) -> Vec<(String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../schemas/examples")
        .join(schema)
        .join(kind);
    let mut out: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                serde_json::from_str(&text).unwrap(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn the_validator_agrees_with_every_schema_example() {
    let v = Validator::new().unwrap();
    let cases = [
        ("downloads-response", Operation::List, 200),
        ("deleted-response", Operation::Delete, 200),
        ("failure-response", Operation::CreateType, 404),
    ];
    for (schema, op, status) in cases {
        let valid = examples(schema, "valid");
        let invalid = examples(schema, "invalid");
        assert!(!valid.is_empty() && !invalid.is_empty(), "{schema} has no examples");
        for (name, body) in valid {
            assert!(v.schema_accepts(op, status, &body), "{schema}/valid/{name} rejected");
        }
        for (name, body) in invalid {
            assert!(!v.schema_accepts(op, status, &body), "{schema}/invalid/{name} accepted");
        }
    }
}
