//! Generated cases, driven by the schemas: the validator accepts exactly the valid envelopes,
//! cfstream-types decodes every valid one, and every disagreement between the schema and the
//! types is listed in `known-differences.md` (a new one fails; a stale entry fails too).

use std::collections::BTreeSet;

use cfstream_conformance::Validator;
use cfstream_conformance::generate::{EDGES, Mutation, Shape, invalid, mutations_for, valid};
use cfstream_types::{DeletedEnvelope, DownloadsEnvelope, decode};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::Value;

const JSON: Option<&str> = Some("application/json");

fn shape_of(name: &str) -> Shape {
    Shape::ALL
        .into_iter()
        .find(|s| s.name() == name)
        .unwrap_or_else(|| panic!("unknown shape '{name}'"))
}

/// (shape, case, schema verdict, types verdict) rows of `known-differences.md`.
fn known() -> BTreeSet<(String, String, String, String)> {
    let text = include_str!("../../known-differences.md");
    text.lines()
        .filter_map(|l| {
            let cells: Vec<&str> =
                l.trim().trim_matches('|').split('|').map(|c| c.trim().trim_matches('`')).collect();
            (cells.len() == 5 && Shape::ALL.iter().any(|s| s.name() == cells[0])).then(|| {
                (cells[0].to_owned(), cells[1].to_owned(), cells[2].to_owned(), cells[3].to_owned())
            })
        })
        .collect()
}

fn types_accept(shape: Shape, body: &[u8]) -> bool {
    match shape {
        Shape::Deleted => decode::<DeletedEnvelope>(body).is_ok(),
        _ => decode::<DownloadsEnvelope>(body).is_ok(),
    }
}

/// The spec's verdict: every rule but `client_model_decodes` (which is the types' verdict).
fn validator_accepts(shape: Shape, body: &Value) -> bool {
    let (op, status) = shape.answer_of();
    Validator::new()
        .unwrap()
        .check_response(op, status, JSON, body.to_string().as_bytes())
        .iter()
        .all(|v| v.check == "client_model_decodes")
}

fn verdict(ok: bool) -> String {
    if ok { "accepts".into() } else { "rejects".into() }
}

/// A few valid bodies of each shape, the same on every run.
fn bases(shape: Shape) -> Vec<Value> {
    let mut runner = TestRunner::deterministic();
    (0..8).map(|_| valid(shape).new_tree(&mut runner).unwrap().current()).collect()
}

#[test]
fn every_disagreement_is_known_and_every_known_one_occurs() {
    let mut seen = BTreeSet::new();
    let mut unexpected = vec![];
    for shape in Shape::ALL {
        let cases: Vec<(&Mutation, bool)> = mutations_for(shape)
            .map(|m| (m, false))
            .chain(EDGES.iter().filter(|m| m.shapes.contains(&shape)).map(|m| (m, true)))
            .collect();
        for (m, stays_valid) in cases {
            for base in bases(shape) {
                let body = m.apply(&base).unwrap();
                let schema = validator_accepts(shape, &body);
                assert_eq!(
                    schema,
                    stays_valid,
                    "{} {}: validator verdict wrong on {body}",
                    shape.name(),
                    m.name
                );
                let types = types_accept(shape, body.to_string().as_bytes());
                if schema != types {
                    let row = (
                        shape.name().to_owned(),
                        m.name.to_owned(),
                        verdict(schema),
                        verdict(types),
                    );
                    if !known().contains(&row) {
                        unexpected.push(format!("{row:?} on {body}"));
                    }
                    seen.insert(row);
                }
            }
        }
    }
    assert!(
        unexpected.is_empty(),
        "disagreements missing from known-differences.md:\n{}",
        unexpected.join("\n")
    );
    let stale: Vec<_> = known().difference(&seen).cloned().collect();
    assert!(stale.is_empty(), "known-differences.md lists rows that no longer occur: {stale:?}");
}

fn any_valid() -> impl Strategy<Value = (Shape, Value)> {
    prop_oneof![
        valid(Shape::Downloads).prop_map(|b| (Shape::Downloads, b)),
        valid(Shape::Deleted).prop_map(|b| (Shape::Deleted, b)),
        valid(Shape::Failure).prop_map(|b| (Shape::Failure, b)),
    ]
}

fn any_invalid() -> impl Strategy<Value = (Shape, Value, &'static str)> {
    prop_oneof![
        invalid(Shape::Downloads).prop_map(|(b, m)| (Shape::Downloads, b, m)),
        invalid(Shape::Deleted).prop_map(|(b, m)| (Shape::Deleted, b, m)),
        invalid(Shape::Failure).prop_map(|(b, m)| (Shape::Failure, b, m)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn the_validator_accepts_every_valid_envelope_and_types_decode_it((shape, body) in any_valid()) {
        let (op, status) = shape.answer_of();
        let bytes = body.to_string().into_bytes();
        let violations = Validator::new().unwrap().check_response(op, status, JSON, &bytes);
        prop_assert!(violations.is_empty(), "{body}: {violations:#?}");
        prop_assert!(types_accept(shape, &bytes), "types reject {body}");
    }

    #[test]
    fn the_validator_rejects_every_invalid_envelope((shape, body, mutation) in any_invalid()) {
        prop_assert!(!validator_accepts(shape, &body), "{mutation}: accepted {body}");
        // Where the types accept it anyway, the difference must be a known one.
        if types_accept(shape, body.to_string().as_bytes()) {
            let row = (shape.name().to_owned(), mutation.to_owned(), "rejects".to_owned(), "accepts".to_owned());
            prop_assert!(known().contains(&row), "unlisted difference {row:?} on {body}");
        }
    }
}

#[test]
fn known_differences_rows_name_real_cases() {
    for (shape, case, schema, types) in known() {
        shape_of(&shape);
        assert!(
            cfstream_conformance::generate::MUTATIONS.iter().chain(EDGES).any(|m| m.name == case),
            "unknown case '{case}'"
        );
        assert!(
            ["accepts", "rejects"].contains(&schema.as_str()) && schema != types,
            "{shape} {case}"
        );
    }
}
