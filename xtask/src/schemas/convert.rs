//! OpenAPI 3.0 Schema Object -> JSON Schema draft 2020-12, one keyword at a time.
//!
//! The rules (also rendered into `schemas/ERRATA.md` from [`RULES`]):
//! `nullable: true` adds a `null` type alternative, `example` becomes `examples: [..]`,
//! `x-*` extensions are dropped, boolean `exclusiveMinimum`/`exclusiveMaximum` become numeric,
//! `$ref: #/components/schemas/X` becomes `$ref: #/$defs/X`. Any keyword this module does not
//! know is an error, so that a new construct in a newer spec is looked at rather than copied.

use std::collections::BTreeSet;

use anyhow::{Context, bail};
use serde_json::{Map, Value};

/// How to read the OpenAPI-only keywords.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nullable {
    /// OpenAPI 3.0.3 semantics: `nullable: true` adds `null` to `type`.
    OpenApi,
    /// Ignore `nullable`, as a JSON Schema validator reading the spec text would. Only used to
    /// show what an erratum changes against the text as written.
    Ignore,
}

/// The conversion rules, as documented in `schemas/ERRATA.md`.
pub(crate) const RULES: &[&str] = &[
    "`nullable: true` (OpenAPI 3.0) adds a `\"null\"` alternative to `type`; `nullable: false` is dropped. \
     `enum` is kept as is, so a nullable enum admits `null` only if it lists it (OpenAPI 3.0.3).",
    "`example: v` becomes the annotation `examples: [v]`.",
    "`x-*` extensions (`x-auditable`, ...) are dropped: they are not JSON Schema and carry no constraint.",
    "Boolean `exclusiveMinimum`/`exclusiveMaximum` (OpenAPI 3.0) become the numeric 2020-12 form.",
    "`$ref: #/components/schemas/X` becomes `$ref: #/$defs/X`, and `X` is inlined under `$defs` \
     (the root component itself is inlined at the top level), so every file compiles alone.",
    "Siblings of `$ref` are kept. OpenAPI 3.0 ignores them, JSON Schema 2020-12 applies them; \
     in this spec they are annotations (`description`, `example`) except the failure envelope's \
     `minLength`, which erratum E1 replaces.",
    "Any keyword the converter does not know (`discriminator`, `xml`, a `$ref` outside \
     `#/components/schemas/`, ...) stops the derivation with an error naming its location.",
    "Object keys are written sorted (after `$schema`, `$id`, `$comment`, `title`; `$defs` last), \
     two-space indented, with a trailing newline.",
];

/// Keywords copied unchanged (their meaning is the same in OpenAPI 3.0 and 2020-12).
const KEPT: &[&str] = &[
    "type",
    "enum",
    "const",
    "format",
    "minimum",
    "maximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "required",
    "minProperties",
    "maxProperties",
    "description",
    "title",
    "default",
    "readOnly",
    "writeOnly",
    "deprecated",
];

/// Keywords whose value is one schema.
const ONE_SCHEMA: &[&str] = &["items", "not", "additionalProperties"];
/// Keywords whose value is a list of schemas.
const SCHEMA_LIST: &[&str] = &["allOf", "anyOf", "oneOf"];
/// Keywords whose value maps names to schemas.
const SCHEMA_MAP: &[&str] = &["properties"];

const COMPONENT_PREFIX: &str = "#/components/schemas/";

/// Converts one schema found at `at` (a JSON pointer, for error messages), recording every
/// component it references in `refs`.
pub(crate) fn convert(
    schema: &Value,
    at: &str,
    nullable: Nullable,
    refs: &mut BTreeSet<String>,
) -> anyhow::Result<Value> {
    let Value::Object(obj) = schema else {
        if schema.is_boolean() {
            return Ok(schema.clone());
        }
        bail!("expected a schema object at {at}, found {schema}");
    };
    let mut out = Map::new();
    let mut make_nullable = false;
    for (key, value) in obj {
        let here = format!("{at}/{}", escape(key));
        match key.as_str() {
            k if k.starts_with("x-") => {}
            "$ref" => {
                let target =
                    value.as_str().with_context(|| format!("$ref at {here} is not a string"))?;
                let Some(name) = target.strip_prefix(COMPONENT_PREFIX) else {
                    bail!(
                        "unsupported $ref '{target}' at {here}: only {COMPONENT_PREFIX}* is supported"
                    );
                };
                refs.insert(name.to_owned());
                out.insert(key.clone(), Value::String(format!("#/$defs/{name}")));
            }
            "nullable" => match value {
                Value::Bool(b) => make_nullable = *b && nullable == Nullable::OpenApi,
                other => bail!("nullable at {here} is not a boolean: {other}"),
            },
            "example" => {
                out.insert("examples".to_owned(), Value::Array(vec![value.clone()]));
            }
            "exclusiveMinimum" | "exclusiveMaximum" => match value {
                Value::Bool(false) => {}
                Value::Bool(true) => {
                    let bound = if key == "exclusiveMinimum" { "minimum" } else { "maximum" };
                    let limit = obj
                        .get(bound)
                        .with_context(|| format!("{key}: true at {here} without {bound}"))?;
                    out.insert(key.clone(), limit.clone());
                }
                Value::Number(_) => {
                    out.insert(key.clone(), value.clone());
                }
                other => bail!("{key} at {here} is neither a boolean nor a number: {other}"),
            },
            k if KEPT.contains(&k) => {
                out.insert(key.clone(), value.clone());
            }
            k if ONE_SCHEMA.contains(&k) => {
                out.insert(key.clone(), convert(value, &here, nullable, refs)?);
            }
            k if SCHEMA_LIST.contains(&k) => {
                let list = value.as_array().with_context(|| format!("{here} is not an array"))?;
                let converted = list
                    .iter()
                    .enumerate()
                    .map(|(i, s)| convert(s, &format!("{here}/{i}"), nullable, refs))
                    .collect::<anyhow::Result<Vec<_>>>()?;
                out.insert(key.clone(), Value::Array(converted));
            }
            k if SCHEMA_MAP.contains(&k) => {
                let map = value.as_object().with_context(|| format!("{here} is not an object"))?;
                let mut converted = Map::new();
                for (name, s) in map {
                    converted.insert(
                        name.clone(),
                        convert(s, &format!("{here}/{}", escape(name)), nullable, refs)?,
                    );
                }
                out.insert(key.clone(), Value::Object(converted));
            }
            other => bail!(
                "unsupported keyword '{other}' at {here}: teach xtask/src/schemas/convert.rs about it"
            ),
        }
    }
    // A bound made exclusive replaces the inclusive one.
    for (exclusive, inclusive) in [("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")]
    {
        if obj.get(exclusive) == Some(&Value::Bool(true)) {
            out.remove(inclusive);
        }
    }
    if make_nullable {
        match out.get_mut("type") {
            Some(Value::String(t)) => {
                let t = std::mem::take(t);
                out.insert("type".to_owned(), Value::Array(vec![Value::String(t), "null".into()]));
            }
            Some(Value::Array(types)) => {
                if !types.iter().any(|t| t == "null") {
                    types.push("null".into());
                }
            }
            _ => {
                bail!("nullable: true at {at} without a type: add an erratum saying what is meant")
            }
        }
    }
    Ok(Value::Object(out))
}

/// Escapes a JSON pointer token (RFC 6901).
pub(crate) fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// The value with every object's keys sorted, recursively.
pub(crate) fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn conv(v: &Value) -> anyhow::Result<(Value, BTreeSet<String>)> {
        let mut refs = BTreeSet::new();
        let out = convert(v, "#", Nullable::OpenApi, &mut refs)?;
        Ok((out, refs))
    }

    #[test]
    fn nullable_adds_a_null_type_and_keeps_enum() {
        let (out, _) = conv(&json!({"type": "string", "nullable": true, "enum": ["a"]})).unwrap();
        assert_eq!(out, json!({"type": ["string", "null"], "enum": ["a"]}));
        let (out, _) = conv(&json!({"type": "string", "nullable": false})).unwrap();
        assert_eq!(out, json!({"type": "string"}));
        let mut refs = BTreeSet::new();
        let raw =
            convert(&json!({"type": "object", "nullable": true}), "#", Nullable::Ignore, &mut refs)
                .unwrap();
        assert_eq!(raw, json!({"type": "object"}));
        let e = conv(&json!({"nullable": true})).unwrap_err();
        assert!(e.to_string().contains("without a type"), "{e}");
    }

    #[test]
    fn example_becomes_examples_and_extensions_go() {
        let (out, _) =
            conv(&json!({"type": "string", "example": "x", "x-auditable": true})).unwrap();
        assert_eq!(out, json!({"type": "string", "examples": ["x"]}));
    }

    #[test]
    fn refs_point_into_defs_and_are_collected() {
        let (out, refs) = conv(&json!({
            "type": "object",
            "properties": {"a": {"$ref": "#/components/schemas/A", "description": "kept"}},
            "items": {"allOf": [{"$ref": "#/components/schemas/B"}]}
        }))
        .unwrap();
        assert_eq!(out["properties"]["a"], json!({"$ref": "#/$defs/A", "description": "kept"}));
        assert_eq!(out["items"]["allOf"][0], json!({"$ref": "#/$defs/B"}));
        assert_eq!(refs.into_iter().collect::<Vec<_>>(), ["A", "B"]);
        let e = conv(&json!({"$ref": "other.json#/x"})).unwrap_err();
        assert!(e.to_string().contains("unsupported $ref 'other.json#/x'"), "{e}");
    }

    #[test]
    fn exclusive_bounds_become_numeric() {
        let (out, _) =
            conv(&json!({"type": "number", "minimum": 0, "exclusiveMinimum": true, "maximum": 9}))
                .unwrap();
        assert_eq!(out, json!({"type": "number", "exclusiveMinimum": 0, "maximum": 9}));
    }

    #[test]
    fn unknown_keywords_are_errors_naming_the_location() {
        let e = conv(&json!({"properties": {"a/b": {"discriminator": {}}}})).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unsupported keyword 'discriminator' at #/properties/a~1b/discriminator: teach xtask/src/schemas/convert.rs about it"
        );
    }

    #[test]
    fn sorting_is_recursive() {
        let v = sorted(json!({"b": 1, "a": {"d": [{"z": 1, "y": 2}], "c": 3}}));
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"a":{"c":3,"d":[{"y":2,"z":1}]},"b":1}"#
        );
    }
}
