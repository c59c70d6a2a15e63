//! The errata list: where Cloudflare's spec is wrong in JSON Schema terms, what it says, what we
//! enforce instead and why, as data ([`ERRATA`]), applied by the derivation ([`apply`]) and
//! rendered to `schemas/ERRATA.md` ([`render`]).
//!
//! Each erratum is a small patch with a test of the spec's text (like JSON Patch's `test` op): if
//! a newer spec no longer says what the erratum expects, the derivation fails instead of
//! silently patching something else. Each erratum carries witness bodies whose verdict it flips;
//! the unit tests below prove that flip on the derived schemas.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, ensure};
use serde_json::{Map, Value};

use super::convert::{Nullable, RULES, escape};
use super::targets::Spec;
use super::{Options, derive_schemas};

/// A component of one OpenAPI copy.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Location {
    /// Which copy.
    pub(crate) spec: Spec,
    /// The component's name under `components.schemas`.
    pub(crate) component: &'static str,
}

/// One step of an erratum's patch; paths are JSON pointers inside the component, values JSON
/// text.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Op {
    /// Remove the keyword at `path`, which must hold `was`.
    Remove { path: &'static str, was: &'static str },
    /// Add `value` at `path`, which must not exist yet.
    Add { path: &'static str, value: &'static str },
    /// Replace `was` at `path` with `value`.
    Replace { path: &'static str, was: &'static str, value: &'static str },
}

/// Against what an erratum's effect is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reading {
    /// The derivation with every conversion rule and every other erratum, but not this one.
    DerivedWithout,
    /// As [`Reading::DerivedWithout`], and with `nullable` ignored: the spec's keywords as a
    /// JSON Schema validator reads them.
    AsWritten,
}

/// A body whose verdict the erratum flips.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Witness {
    /// The derived schema (target name) it is checked against.
    pub(crate) schema: &'static str,
    /// The body, JSON text.
    pub(crate) body: &'static str,
    /// Whether the spec (read as [`Erratum::reading`] says) accepts it; we decide the opposite.
    pub(crate) spec_accepts: bool,
}

/// One departure from the spec's text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Erratum {
    /// Stable id, `E<n>`.
    pub(crate) id: &'static str,
    /// One line.
    pub(crate) title: &'static str,
    /// Where the patch applies.
    pub(crate) locations: &'static [Location],
    /// The patch.
    pub(crate) patch: &'static [Op],
    /// What the spec says.
    pub(crate) spec_says: &'static str,
    /// What we enforce instead.
    pub(crate) we_enforce: &'static str,
    /// Why.
    pub(crate) why: &'static str,
    /// Against what the witnesses are judged.
    pub(crate) reading: Reading,
    /// Bodies whose verdict the erratum flips.
    pub(crate) witnesses: &'static [Witness],
}

const FAILURE: &str = "stream_api-response-common-failure";

/// The errata, applied in order.
pub(crate) const ERRATA: &[Erratum] = &[
    Erratum {
        id: "E1",
        title: "failure `errors`: `minLength: 1` on an array means `minItems: 1`",
        locations: &[Location { spec: Spec::Current, component: FAILURE }],
        patch: &[
            Op::Remove { path: "/properties/errors/minLength", was: "1" },
            Op::Add { path: "/properties/errors/minItems", value: "1" },
        ],
        spec_says: "`errors` of the failure envelope is `stream_messages` (an array) with `minLength: 1`.",
        we_enforce: "`minItems: 1`: a failure carries at least one error.",
        why: "`minLength` applies to strings only, so JSON Schema ignores it on an array (and OpenAPI 3.0 \
              ignores every sibling of `$ref` anyway): as written, `errors: []` passes. The intent is plain \
              (a failure exists to say what went wrong, and every documented 4XX carries at least one \
              `{code, message}`); a failure without an error tells a client nothing.",
        reading: Reading::DerivedWithout,
        witnesses: &[Witness {
            schema: "failure-response",
            body: r#"{"success": false, "errors": [], "messages": [], "result": null}"#,
            spec_accepts: true,
        }],
    },
    Erratum {
        id: "E2",
        title: "`stream_messages`: `uniqueItems` belongs on the array, not on its items",
        locations: &[
            Location { spec: Spec::Current, component: "stream_messages" },
            Location { spec: Spec::Legacy, component: "MjUfDobU_messages" },
        ],
        patch: &[
            Op::Remove { path: "/items/uniqueItems", was: "true" },
            Op::Add { path: "/uniqueItems", value: "true" },
        ],
        spec_says: "`items` (an object schema) carries `uniqueItems: true`.",
        we_enforce: "`uniqueItems: true` on the `errors`/`messages` array: no message twice.",
        why: "`uniqueItems` applies to arrays only, so inside `items` (whose instances are objects) it \
              constrains nothing. Its only possible meaning is on the list; the same bug is in both OpenAPI \
              copies and in Cloudflare's common.yaml.",
        reading: Reading::DerivedWithout,
        witnesses: &[
            Witness {
                schema: "messages",
                body: r#"[{"code": 1000, "message": "twice"}, {"code": 1000, "message": "twice"}]"#,
                spec_accepts: true,
            },
            Witness {
                schema: "downloads-response",
                body: r#"{"success": true, "errors": [], "messages": [{"code": 1001, "message": "m"}, {"code": 1001, "message": "m"}], "result": {}}"#,
                spec_accepts: true,
            },
            Witness {
                schema: "legacy-deleted-response",
                body: r#"{"success": true, "errors": [], "messages": [{"code": 1001, "message": "m"}, {"code": 1001, "message": "m"}], "result": "ok"}"#,
                spec_accepts: true,
            },
        ],
    },
    Erratum {
        id: "E3",
        title: "failure `result`: exactly `null`, said in JSON Schema",
        locations: &[Location { spec: Spec::Current, component: FAILURE }],
        patch: &[Op::Replace {
            path: "/properties/result",
            was: r#"{"enum": [null], "nullable": true, "type": "object"}"#,
            value: r#"{"type": "null"}"#,
        }],
        spec_says: "`result` is `{type: object, nullable: true, enum: [null]}`.",
        we_enforce: "`{type: \"null\"}`: `result` is present and `null`.",
        why: "Read as JSON Schema the text is unsatisfiable (an object that equals `null`), so every failure \
              body would be rejected; only OpenAPI 3.0.3's `nullable` makes it mean `null`. Our generic \
              `nullable` rule already gives `type: [object, null], enum: [null]` (the same set of values), \
              but the plain form states the intent without relying on OpenAPI-only semantics that tools \
              read differently.",
        reading: Reading::AsWritten,
        witnesses: &[Witness {
            schema: "failure-response",
            body: r#"{"success": false, "errors": [{"code": 7003, "message": "No route for the URI"}], "messages": [], "result": null}"#,
            spec_accepts: false,
        }],
    },
    Erratum {
        id: "E4",
        title: "path identifiers: at least one character",
        locations: &[
            Location { spec: Spec::Current, component: "stream_identifier" },
            Location { spec: Spec::Current, component: "stream_identifier-2" },
        ],
        patch: &[Op::Add { path: "/minLength", value: "1" }],
        spec_says: "`identifier` and `account_id` are strings with `maxLength: 32` and no lower bound.",
        we_enforce: "`minLength: 1` as well.",
        why: "Both are required path parameters. An empty value expands to an empty segment \
              (`/accounts//stream/...`), which is a different URL that cannot address the operation, so \
              the empty string is never a usable value. We do not add the hex-digits rule that \
              `cfstream-types` applies to ids: that is the project's policy, not a reading of the spec.",
        reading: Reading::DerivedWithout,
        witnesses: &[Witness { schema: "identifier", body: r#""""#, spec_accepts: true }],
    },
];

/// Points we looked at and deliberately did not turn into errata: the spec is loose, not wrong.
pub(crate) const NOT_ERRATA: &[(&str, &str)] = &[
    (
        "`result` is not required on success (`stream_downloads_response`, `stream_deleted_response`)",
        "The 2024-01-04 copy required it (through `api-response-common`); the current one does not, \
         consistently with Cloudflare's common envelope, which leaves `result` optional. A success without \
         `result` is legal as written. `cfstream-types` reads it as an empty result.",
    ),
    (
        "`result` of a success allows keys other than `default`/`audio`",
        "No `additionalProperties: false`: a download type Cloudflare adds later validates. Kept, and \
         `cfstream-types` keeps such keys losslessly.",
    ),
    (
        "`status` and `download_type` are closed enums",
        "As written. `cfstream-types` is deliberately more lenient (`Other(..)`); see \
         `schemas/examples/types-lenient.md`.",
    ),
    (
        "`identifier` allows any characters up to 32",
        "Cloudflare's ids are 32 hex digits and `cfstream-types` enforces hex; the schema keeps the \
         spec's rule (plus E4), since that is a project policy, not a spec error.",
    ),
    (
        "`url` has `format: uri`",
        "Kept. In 2020-12 `format` is an annotation unless the validator asserts formats: validate with \
         format assertion on (the `jsonschema` crate: `should_validate_formats(true)`), as our tests do.",
    ),
    (
        "`percentComplete` is a `number`, not an `integer`",
        "Cloudflare documents fractional progress (`75.0`); kept.",
    ),
];

fn parse(text: &str, what: &str) -> anyhow::Result<Value> {
    serde_json::from_str(text).with_context(|| format!("{what} is not JSON: {text}"))
}

fn split(path: &str) -> anyhow::Result<(&str, String)> {
    let (parent, last) =
        path.rsplit_once('/').with_context(|| format!("'{path}' is not a JSON pointer"))?;
    Ok((parent, last.replace("~1", "/").replace("~0", "~")))
}

fn apply_op(component: &mut Value, op: &Op, at: &str) -> anyhow::Result<()> {
    match *op {
        Op::Remove { path, was } | Op::Replace { path, was, .. } => {
            let found = component.pointer(path);
            let expected = parse(was, "an erratum's `was`")?;
            ensure!(
                found == Some(&expected),
                "the spec no longer says {was} at {at}{path} (found {}): review the erratum",
                found.map_or_else(|| "nothing".to_owned(), Value::to_string)
            );
            if let Op::Replace { value, .. } = *op {
                let slot =
                    component.pointer_mut(path).with_context(|| format!("{at}{path} vanished"))?;
                *slot = parse(value, "an erratum's value")?;
            } else {
                let (parent, key) = split(path)?;
                let parent = component.pointer_mut(parent).and_then(Value::as_object_mut);
                parent
                    .with_context(|| format!("{at}{path}: parent is not an object"))?
                    .remove(&key);
            }
        }
        Op::Add { path, value } => {
            ensure!(
                component.pointer(path).is_none(),
                "the spec now has {at}{path} = {}: review the erratum",
                component.pointer(path).map_or_else(String::new, Value::to_string)
            );
            let (parent, key) = split(path)?;
            let parent = component.pointer_mut(parent).and_then(Value::as_object_mut);
            parent
                .with_context(|| format!("{at}{path}: parent is not an object"))?
                .insert(key, parse(value, "an erratum's value")?);
        }
    }
    Ok(())
}

/// Applies every erratum for `spec` to `components` (the document's `components.schemas`),
/// except the one called `skip`.
pub(crate) fn apply(
    spec: Spec,
    components: &mut Map<String, Value>,
    skip: Option<&str>,
) -> anyhow::Result<()> {
    for erratum in ERRATA.iter().filter(|e| Some(e.id) != skip) {
        for location in erratum.locations.iter().filter(|l| l.spec == spec) {
            let at =
                format!("{}#/components/schemas/{}", spec.file_name(), escape(location.component));
            let component = components
                .get_mut(location.component)
                .with_context(|| format!("erratum {}: {at} does not exist", erratum.id))?;
            for op in erratum.patch {
                apply_op(component, op, &at).with_context(|| format!("erratum {}", erratum.id))?;
            }
        }
    }
    Ok(())
}

fn render_op(op: &Op) -> String {
    match op {
        Op::Remove { path, was } => format!("remove `{path}` (was `{was}`)"),
        Op::Add { path, value } => format!("add `{path}`: `{value}`"),
        Op::Replace { path, was, value } => format!("replace `{path}`: `{was}` with `{value}`"),
    }
}

fn verdict(accepts: bool) -> &'static str {
    if accepts { "accepts" } else { "rejects" }
}

/// `schemas/ERRATA.md`.
pub(crate) fn render() -> anyhow::Result<String> {
    let mut md = String::new();
    writeln!(
        md,
        "<!-- Generated by `cargo xtask schemas` from xtask/src/schemas/errata.rs and convert.rs. Do not edit. -->"
    )?;
    writeln!(md, "# Errata and conversion rules of the derived schemas\n")?;
    writeln!(
        md,
        "`cargo xtask schemas` derives `schemas/*.json` (JSON Schema draft 2020-12) from the OpenAPI 3.0 copies in \
         `schemas/openapi/`. It converts OpenAPI keywords by fixed rules, and where the spec is wrong in JSON Schema \
         terms it applies the errata below instead of copying the bug. Each erratum checks the spec text it \
         replaces (a newer spec that changed there stops the derivation) and has witness bodies whose verdict it \
         flips, tested in `xtask/src/schemas/errata.rs`.\n"
    )?;
    writeln!(
        md,
        "One source there is not a Cloudflare copy: `stream-signing.facts.openapi.json` is the project's \
         transcription of `shared/spec/signed-urls.md` (the facts about signed URLs, field by field), from which \
         `token-response`, `signing-key-response`, `signing-keys-response` and `signing-key-deleted-response` are \
         derived, because the copies hold neither the token nor the signing-key operations. Each of its shapes \
         cites its section of the facts (`x-facts`, dropped by the conversion); it needs no errata, since it is \
         ours to correct (see `schemas/openapi/PROVENANCE.md`).\n"
    )?;
    writeln!(md, "## Conversion rules\n")?;
    for rule in RULES {
        writeln!(md, "- {rule}")?;
    }
    writeln!(md, "\n## Errata\n")?;
    for e in ERRATA {
        writeln!(md, "### {}: {}\n", e.id, e.title)?;
        let locations: Vec<String> = e
            .locations
            .iter()
            .map(|l| {
                format!("`{}` `#/components/schemas/{}`", l.spec.file_name(), escape(l.component))
            })
            .collect();
        writeln!(md, "- **Where**: {}", locations.join(", "))?;
        let patch: Vec<String> = e.patch.iter().map(render_op).collect();
        writeln!(md, "- **Patch**: {}", patch.join("; "))?;
        writeln!(md, "- **The spec says**: {}", e.spec_says)?;
        writeln!(md, "- **We enforce**: {}", e.we_enforce)?;
        writeln!(md, "- **Why**: {}", e.why)?;
        let against = match e.reading {
            Reading::DerivedWithout => "the derivation without this erratum",
            Reading::AsWritten => {
                "the spec's keywords read as JSON Schema (without OpenAPI's `nullable`)"
            }
        };
        writeln!(md, "- **Witnesses** (spec = {against}):")?;
        for w in e.witnesses {
            let body: Value = parse(w.body, "a witness body")?;
            writeln!(
                md,
                "  - `{}`: `{}`: the spec {}, our schema {}",
                w.schema,
                serde_json::to_string(&body)?,
                verdict(w.spec_accepts),
                verdict(!w.spec_accepts)
            )?;
        }
        writeln!(md)?;
    }
    writeln!(md, "## Looked at, not errata\n")?;
    for (point, reason) in NOT_ERRATA {
        writeln!(md, "- **{point}**: {reason}")?;
    }
    Ok(md)
}

/// The verdict of every witness of every erratum under `options`: (erratum id, body, valid).
fn verdicts(
    openapi_dir: &Path,
    options: Options,
) -> anyhow::Result<Vec<(&'static str, &'static str, bool)>> {
    let derived = derive_schemas(openapi_dir, options)?;
    let mut out = Vec::new();
    for e in ERRATA {
        for w in e.witnesses {
            let schema = &derived
                .iter()
                .find(|(t, _)| t.name == w.schema)
                .with_context(|| format!("erratum {}: no schema named {}", e.id, w.schema))?
                .1;
            let validator = jsonschema::options()
                .should_validate_formats(true)
                .build(schema)
                .map_err(|err| anyhow::anyhow!("{} does not compile: {err}", w.schema))?;
            out.push((e.id, w.body, validator.is_valid(&parse(w.body, "a witness body")?)));
        }
    }
    Ok(out)
}

/// Proves that every erratum has an effect: on each of its witnesses, the spec's reading (the
/// derivation without the erratum) and ours disagree, in the direction the erratum states.
pub(crate) fn verify_witnesses(openapi_dir: &Path) -> anyhow::Result<()> {
    let ours = verdicts(openapi_dir, Options::default())?;
    for e in ERRATA {
        ensure!(!e.witnesses.is_empty(), "erratum {} has no witness", e.id);
        let nullable = match e.reading {
            Reading::AsWritten => Nullable::Ignore,
            Reading::DerivedWithout => Nullable::OpenApi,
        };
        let spec = verdicts(openapi_dir, Options { skip_erratum: Some(e.id), nullable })?;
        for w in e.witnesses {
            let find = |list: &[(&str, &str, bool)]| {
                list.iter().find(|(id, body, _)| *id == e.id && *body == w.body).map(|x| x.2)
            };
            ensure!(
                find(&spec) == Some(w.spec_accepts),
                "erratum {}: the spec reading should {} {} on {}, but does not: the erratum is stale",
                e.id,
                if w.spec_accepts { "accept" } else { "reject" },
                w.body,
                w.schema
            );
            ensure!(
                find(&ours) == Some(!w.spec_accepts),
                "erratum {}: our schema should {} {} on {}, but does not",
                e.id,
                if w.spec_accepts { "reject" } else { "accept" },
                w.body,
                w.schema
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schemas::openapi_dir_for_tests;
    use serde_json::json;

    fn validator(schema: &Value) -> jsonschema::Validator {
        jsonschema::options().should_validate_formats(true).build(schema).unwrap()
    }

    /// The point of each erratum: the spec's reading and ours disagree on every witness, in the
    /// direction the erratum states.
    #[test]
    fn every_erratum_flips_its_witnesses() {
        verify_witnesses(&openapi_dir_for_tests()).unwrap();
    }

    #[test]
    fn e3_is_the_same_set_of_values_as_the_nullable_rule() {
        // Documented claim: without E3 but with OpenAPI's nullable, result is still null-only.
        let without = derive_schemas(
            &openapi_dir_for_tests(),
            Options { skip_erratum: Some("E3"), ..Options::default() },
        )
        .unwrap();
        let schema = &without.iter().find(|(t, _)| t.name == "failure-response").unwrap().1;
        assert_eq!(
            schema["properties"]["result"],
            json!({"enum": [null], "type": ["object", "null"]})
        );
        let v = validator(schema);
        let body = |result: Value| json!({"success": false, "errors": [{"code": 7003, "message": "x"}], "messages": [], "result": result});
        assert!(v.is_valid(&body(Value::Null)));
        assert!(!v.is_valid(&body(json!({}))));
    }

    #[test]
    fn an_erratum_that_no_longer_matches_the_spec_fails_loudly() {
        let mut component = json!({"properties": {"errors": {"minLength": 2}}});
        let e = apply_op(&mut component, &ERRATA[0].patch[0], "x").unwrap_err();
        assert!(
            e.to_string()
                .contains("the spec no longer says 1 at x/properties/errors/minLength (found 2)"),
            "{e}"
        );
        let mut component = json!({"minLength": 1});
        let e =
            apply_op(&mut component, &Op::Add { path: "/minLength", value: "1" }, "x").unwrap_err();
        assert!(e.to_string().contains("the spec now has x/minLength = 1"), "{e}");
    }

    #[test]
    fn ids_are_unique_and_sequential() {
        for (i, e) in ERRATA.iter().enumerate() {
            assert_eq!(e.id, format!("E{}", i + 1));
        }
    }

    #[test]
    fn the_rendering_names_every_erratum() {
        let md = render().unwrap();
        for e in ERRATA {
            assert!(md.contains(&format!("### {}: {}", e.id, e.title)));
        }
    }
}
