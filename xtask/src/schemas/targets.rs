//! The derived schema files ([`TARGETS`]): which OpenAPI copy and which body or parameter each
//! comes from, and how one is derived ([`derive_target`]).

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, bail, ensure};
use cfstream_types::{Operation, SigningOperation};
use serde_json::{Map, Value};

use super::convert::{self, Nullable, convert};

/// One of the OpenAPI copies in `schemas/openapi/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Spec {
    /// The newest shape (2026-08).
    Current,
    /// The founding document's shape (2024-01-04).
    Legacy,
    /// Not a Cloudflare copy: the project's transcription of the signed-URL facts
    /// (`shared/spec/signed-urls.md`), for the token and signing-key answers that the copies
    /// lack.
    SigningFacts,
}

impl Spec {
    /// Every source document.
    pub(crate) const ALL: [Spec; 3] = [Spec::Current, Spec::Legacy, Spec::SigningFacts];

    /// The file name under `schemas/openapi/`.
    pub(crate) fn file_name(self) -> &'static str {
        match self {
            Spec::Current => "stream-downloads.openapi.json",
            Spec::Legacy => "stream-downloads.2024-01-04.openapi.json",
            Spec::SigningFacts => "stream-signing.facts.openapi.json",
        }
    }
}

/// Where the root of a derived schema sits in the OpenAPI document.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Root {
    /// The `application/json` body of response `status` of exactly these operations: the
    /// derivation fails if they disagree, or if another operation answers with the same body.
    Response { status: &'static str, operations: &'static [&'static str] },
    /// The schema of these path parameters (the first one's component is the root; the others
    /// must be the same schema up to annotations).
    PathParams(&'static [&'static str]),
    /// A named component.
    Component(&'static str),
}

/// One derived file, `schemas/<name>.json`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target {
    /// The file stem; other crates rely on these names.
    pub(crate) name: &'static str,
    /// What the schema describes.
    pub(crate) title: &'static str,
    /// Which OpenAPI copy it comes from.
    pub(crate) spec: Spec,
    /// Where in it.
    pub(crate) root: Root,
}

// The operation ids come from the types' table of the five operations (the API described once).
const LIST: &str = Operation::List.operation_id();
const CREATE: &str = Operation::Create.operation_id();
const DELETE: &str = Operation::Delete.operation_id();
const CREATE_TYPE: &str = Operation::CreateType.operation_id();
const DELETE_TYPE: &str = Operation::DeleteType.operation_id();
// The signed-URL ones from the types' table of the four signing operations.
const CREATE_TOKEN: &str = SigningOperation::CreateToken.operation_id();
const CREATE_KEY: &str = SigningOperation::CreateKey.operation_id();
const LIST_KEYS: &str = SigningOperation::ListKeys.operation_id();
const DELETE_KEY: &str = SigningOperation::DeleteKey.operation_id();

/// Every derived file, in output order.
pub(crate) const TARGETS: &[Target] = &[
    Target {
        name: "downloads-response",
        title: "Success body (200) of list, create and create_type",
        spec: Spec::Current,
        root: Root::Response { status: "200", operations: &[LIST, CREATE, CREATE_TYPE] },
    },
    Target {
        name: "deleted-response",
        title: "Success body (200) of delete and delete_type",
        spec: Spec::Current,
        root: Root::Response { status: "200", operations: &[DELETE, DELETE_TYPE] },
    },
    Target {
        name: "failure-response",
        title: "Failure body (every 4XX) of the five operations",
        spec: Spec::Current,
        root: Root::Response {
            status: "4XX",
            operations: &[LIST, CREATE, DELETE, CREATE_TYPE, DELETE_TYPE],
        },
    },
    Target {
        name: "downloads",
        title: "One download (a value of result.default or result.audio)",
        spec: Spec::Current,
        root: Root::Component("stream_downloads"),
    },
    Target {
        name: "messages",
        title: "The errors or messages list of an envelope",
        spec: Spec::Current,
        root: Root::Component("stream_messages"),
    },
    Target {
        name: "identifier",
        title: "Path parameters identifier (video id) and account_id",
        spec: Spec::Current,
        root: Root::PathParams(&["identifier", "account_id"]),
    },
    Target {
        name: "download-type",
        title: "Path parameter download_type",
        spec: Spec::Current,
        root: Root::PathParams(&["download_type"]),
    },
    Target {
        name: "legacy-downloads-response",
        title: "Success body (200) of list and create, older shape (result: any object)",
        spec: Spec::Legacy,
        root: Root::Response { status: "200", operations: &[LIST, CREATE] },
    },
    Target {
        name: "legacy-deleted-response",
        title: "Success body (200) of delete, older shape (result: a string)",
        spec: Spec::Legacy,
        root: Root::Response { status: "200", operations: &[DELETE] },
    },
    Target {
        name: "token-response",
        title: "Success body (200) of create_token",
        spec: Spec::SigningFacts,
        root: Root::Response { status: "200", operations: &[CREATE_TOKEN] },
    },
    Target {
        name: "signing-key-response",
        title: "Success body (200) of create_key (the key with its private parts)",
        spec: Spec::SigningFacts,
        root: Root::Response { status: "200", operations: &[CREATE_KEY] },
    },
    Target {
        name: "signing-keys-response",
        title: "Success body (200) of list_keys (ids and creation times)",
        spec: Spec::SigningFacts,
        root: Root::Response { status: "200", operations: &[LIST_KEYS] },
    },
    Target {
        name: "signing-key-deleted-response",
        title: "Success body (200) of delete_key",
        spec: Spec::SigningFacts,
        root: Root::Response { status: "200", operations: &[DELETE_KEY] },
    },
];

/// Base of every `$id`.
pub(crate) const ID_BASE: &str = "https://cfstream.dev/schemas/";

const HTTP_METHODS: &[&str] =
    &["get", "put", "post", "delete", "patch", "head", "options", "trace"];

/// Every operation of `doc`, as (operationId, operation object).
fn operations(doc: &Value) -> anyhow::Result<Vec<(String, &Value)>> {
    let paths =
        doc.get("paths").and_then(Value::as_object).context("the OpenAPI document has no paths")?;
    let mut out = Vec::new();
    for (path, item) in paths {
        for method in HTTP_METHODS {
            if let Some(op) = item.get(*method) {
                let id = op
                    .get("operationId")
                    .and_then(Value::as_str)
                    .with_context(|| format!("{method} {path} has no operationId"))?;
                out.push((id.to_owned(), op));
            }
        }
    }
    Ok(out)
}

fn component_name(schema: Option<&Value>, what: &str) -> anyhow::Result<String> {
    let reference = schema
        .and_then(|s| s.get("$ref"))
        .and_then(Value::as_str)
        .with_context(|| format!("{what} is not a $ref to a component"))?;
    let name = reference
        .strip_prefix("#/components/schemas/")
        .with_context(|| format!("{what} refers to '{reference}', not to a component"))?;
    Ok(name.to_owned())
}

/// The root component(s) of `root` in `doc`: the first is the root, the rest must be equal to
/// it up to annotations. Also returns a sentence saying where the root was found.
fn resolve_root(doc: &Value, root: &Root) -> anyhow::Result<(Vec<String>, String)> {
    match root {
        Root::Component(name) => Ok((vec![(*name).to_owned()], format!("component {name}"))),
        Root::Response { status, operations: wanted } => {
            let mut by_component: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for (id, op) in operations(doc)? {
                let schema =
                    op.pointer(&format!("/responses/{status}/content/application~1json/schema"));
                if schema.is_none() {
                    continue;
                }
                let name = component_name(schema, &format!("the {status} body of {id}"))?;
                by_component.entry(name).or_default().insert(id);
            }
            let wanted_set: BTreeSet<String> = wanted.iter().map(|s| (*s).to_owned()).collect();
            let holders: Vec<&String> = by_component
                .iter()
                .filter(|(_, ops)| ops.iter().any(|o| wanted_set.contains(o)))
                .map(|(c, _)| c)
                .collect();
            let [component] = holders.as_slice() else {
                bail!("the {status} bodies of {wanted:?} are not one component: {holders:?}");
            };
            let answered_by = &by_component[*component];
            ensure!(
                *answered_by == wanted_set,
                "{component} is the {status} body of {answered_by:?}, expected exactly {wanted:?}: update the target table"
            );
            Ok((vec![(*component).clone()], format!("the {status} body of {}", wanted.join(", "))))
        }
        Root::PathParams(names) => {
            let mut components = Vec::new();
            for name in *names {
                let mut found: BTreeSet<String> = BTreeSet::new();
                for (id, op) in operations(doc)? {
                    for param in
                        op.get("parameters").and_then(Value::as_array).into_iter().flatten()
                    {
                        if param.get("in").and_then(Value::as_str) == Some("path")
                            && param.get("name").and_then(Value::as_str) == Some(*name)
                        {
                            found.insert(component_name(
                                param.get("schema"),
                                &format!("path parameter {name} of {id}"),
                            )?);
                        }
                    }
                }
                let mut found = found.into_iter();
                let (Some(component), None) = (found.next(), found.next()) else {
                    bail!(
                        "path parameter {name} does not have exactly one schema across operations"
                    );
                };
                components.push(component);
            }
            let params = names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
            let noun = if names.len() > 1 { "path parameters" } else { "path parameter" };
            Ok((components, format!("the {noun} {params}")))
        }
    }
}

/// Annotation keywords: ignored when two parameter schemas are compared.
const ANNOTATIONS: &[&str] =
    &["description", "title", "examples", "default", "readOnly", "writeOnly", "deprecated"];

fn without_annotations(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !ANNOTATIONS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), without_annotations(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Derives the JSON Schema of `target` from `components` (the OpenAPI document's
/// `components.schemas`, errata already applied) and `doc` (for the operations).
pub(crate) fn derive_target(
    target: &Target,
    doc: &Value,
    components: &Map<String, Value>,
    nullable: Nullable,
) -> anyhow::Result<Value> {
    let (roots, role) =
        resolve_root(doc, &target.root).with_context(|| format!("target {}", target.name))?;
    let at = |name: &str| format!("#/components/schemas/{}", convert::escape(name));
    let get =
        |name: &str| components.get(name).with_context(|| format!("{} does not exist", at(name)));

    let root_name = &roots[0];
    let mut refs = BTreeSet::new();
    let root = convert(get(root_name)?, &at(root_name), nullable, &mut refs)?;
    for other in &roots[1..] {
        let converted = convert(get(other)?, &at(other), nullable, &mut BTreeSet::new())?;
        ensure!(
            without_annotations(&converted) == without_annotations(&root),
            "{} and {} differ beyond annotations: {} needs one schema per parameter",
            at(root_name),
            at(other),
            target.name
        );
    }

    let mut defs = Map::new();
    let mut queue: Vec<String> = refs.iter().cloned().collect();
    while let Some(name) = queue.pop() {
        if defs.contains_key(&name) {
            continue;
        }
        let mut more = BTreeSet::new();
        let converted = convert(get(&name)?, &at(&name), nullable, &mut more)?;
        defs.insert(name, converted);
        queue.extend(more.into_iter().filter(|n| !defs.contains_key(n)));
    }
    ensure!(!defs.contains_key(root_name), "{} refers to itself: not supported", at(root_name));

    let sources = roots.iter().map(|r| at(r)).collect::<Vec<_>>().join(" and ");
    let comment = format!(
        "Generated by `cargo xtask schemas` from schemas/openapi/{} ({sources}, {role}), with the errata of \
         schemas/ERRATA.md applied. Do not edit: change xtask/src/schemas/ and regenerate.",
        target.spec.file_name()
    );
    let Value::Object(root) = convert::sorted(root) else {
        bail!("{} is not a schema object", at(root_name));
    };
    let mut out = Map::new();
    out.insert("$schema".into(), "https://json-schema.org/draft/2020-12/schema".into());
    out.insert("$id".into(), format!("{ID_BASE}{}.json", target.name).into());
    out.insert("$comment".into(), comment.into());
    out.insert("title".into(), target.title.into());
    for (k, v) in root {
        ensure!(
            k != "title" && !k.starts_with('$'),
            "{} has a top-level {k}: not supported",
            at(root_name)
        );
        out.insert(k, v);
    }
    if !defs.is_empty() {
        out.insert("$defs".into(), convert::sorted(Value::Object(defs)));
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({
            "paths": {
                "/a/{id}": {
                    "get": {"operationId": "get-a", "parameters": [{"in": "path", "name": "id", "schema": {"$ref": "#/components/schemas/Id"}}],
                        "responses": {"200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Ok"}}}}}},
                    "delete": {"operationId": "del-a", "responses": {"200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Ok"}}}}}}
                }
            }
        })
    }

    #[test]
    fn a_response_root_must_be_answered_by_exactly_the_listed_operations() {
        let d = doc();
        let (roots, role) =
            resolve_root(&d, &Root::Response { status: "200", operations: &["get-a", "del-a"] })
                .unwrap();
        assert_eq!(roots, ["Ok"]);
        assert_eq!(role, "the 200 body of get-a, del-a");
        let e = resolve_root(&d, &Root::Response { status: "200", operations: &["get-a"] })
            .unwrap_err();
        assert!(e.to_string().contains("expected exactly"), "{e}");
    }

    #[test]
    fn path_params_are_found_across_operations() {
        let (roots, _) = resolve_root(&doc(), &Root::PathParams(&["id"])).unwrap();
        assert_eq!(roots, ["Id"]);
        assert!(resolve_root(&doc(), &Root::PathParams(&["nope"])).is_err());
    }

    #[test]
    fn derivation_inlines_components_and_writes_the_header_first() {
        let components = json!({
            "Ok": {"type": "object", "properties": {"m": {"$ref": "#/components/schemas/M"}}},
            "M": {"type": "array", "items": {"$ref": "#/components/schemas/N"}},
            "N": {"type": "integer", "x-auditable": true}
        });
        let t = Target { name: "ok", title: "T", spec: Spec::Current, root: Root::Component("Ok") };
        let out =
            derive_target(&t, &doc(), components.as_object().unwrap(), Nullable::OpenApi).unwrap();
        let keys: Vec<&String> = out.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["$schema", "$id", "$comment", "title", "properties", "type", "$defs"]);
        assert_eq!(out["$id"], "https://cfstream.dev/schemas/ok.json");
        assert_eq!(
            out["$defs"],
            json!({"M": {"items": {"$ref": "#/$defs/N"}, "type": "array"}, "N": {"type": "integer"}})
        );
    }
}
