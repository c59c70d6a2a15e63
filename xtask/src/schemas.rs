//! `cargo xtask schemas`: derive `schemas/*.json` and `schemas/ERRATA.md` from the OpenAPI
//! copies in `schemas/openapi/`, and copy the schemas into `crates/conformance/schemas/` (the
//! conformance crate embeds them, and a published crate can only embed its own files); with
//! `--check`, fail (exit 1) when the checked-in files drift.

mod convert;
mod errata;
mod targets;

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use serde_json::{Map, Value};

use self::convert::Nullable;
use self::targets::{Spec, TARGETS, Target};

/// Arguments of `cargo xtask schemas`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Fail (exit 1) if the checked-in schemas differ from a fresh derivation.
    #[arg(long)]
    check: bool,
    /// The schemas folder (holding `openapi/`); by default the workspace's `schemas/`.
    #[arg(long, value_name = "DIR", env = "CFSTREAM_SCHEMAS_DIR")]
    dir: Option<PathBuf>,
}

/// The workspace's `schemas/` folder.
fn default_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("schemas")
}

/// The copy of the schemas inside the conformance crate's package.
fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("crates/conformance/schemas")
}

/// One folder that receives generated files: where it is, and how messages name it.
struct Out {
    dir: PathBuf,
    label: &'static str,
}

/// Knobs of the derivation; the default is the real one. The others exist to show, in tests,
/// what an erratum changes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    /// Leave out the erratum with this id.
    pub(crate) skip_erratum: Option<&'static str>,
    /// How to read `nullable`.
    pub(crate) nullable: Nullable,
}

impl Default for Options {
    fn default() -> Self {
        Self { skip_erratum: None, nullable: Nullable::OpenApi }
    }
}

/// Derives every target's schema from the OpenAPI copies in `openapi_dir`.
pub(crate) fn derive_schemas(
    openapi_dir: &Path,
    options: Options,
) -> anyhow::Result<Vec<(&'static Target, Value)>> {
    let mut out = Vec::new();
    for spec in Spec::ALL {
        let path = openapi_dir.join(spec.file_name());
        let text =
            fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let doc: Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        let mut components: Map<String, Value> = doc
            .pointer("/components/schemas")
            .and_then(Value::as_object)
            .cloned()
            .with_context(|| format!("{} has no components.schemas", path.display()))?;
        errata::apply(spec, &mut components, options.skip_erratum)?;
        for target in TARGETS.iter().filter(|t| t.spec == spec) {
            let schema = targets::derive_target(target, &doc, &components, options.nullable)?;
            out.push((target, schema));
        }
    }
    // Output order is the table's order, whatever the spec order.
    out.sort_by_key(|(t, _)| TARGETS.iter().position(|x| x.name == t.name));
    Ok(out)
}

/// Every generated file: (path relative to the schemas folder, contents).
fn derive_files(dir: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let mut files = Vec::new();
    for (target, schema) in derive_schemas(&dir.join("openapi"), Options::default())? {
        let mut text = serde_json::to_string_pretty(&schema)?;
        text.push('\n');
        files.push((format!("{}.json", target.name), text));
    }
    files.push(("ERRATA.md".to_owned(), errata::render()?));
    Ok(files)
}

/// `*.json` files at the top of `dir` that the derivation does not produce.
fn extra_files(dir: &Path, files: &[(String, String)]) -> anyhow::Result<Vec<String>> {
    let mut extra = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type()?.is_file()
            && name.ends_with(".json")
            && !files.iter().any(|(f, _)| *f == name)
        {
            extra.push(name);
        }
    }
    extra.sort();
    Ok(extra)
}

/// A short description of where `found` first differs from `expected`.
fn first_difference(found: &str, expected: &str) -> String {
    let (mut f, mut e) = (found.lines(), expected.lines());
    let mut line = 1;
    loop {
        match (f.next(), e.next()) {
            (Some(a), Some(b)) if a == b => line += 1,
            (None, None) => {
                return "  they differ only in line endings or the final newline".to_owned();
            }
            (a, b) => {
                let show = |l: Option<&str>| {
                    l.map_or_else(|| "<end of file>".to_owned(), |l| l.trim_end().to_owned())
                };
                return format!(
                    "  first difference at line {line}:\n  - checked in: {}\n  + derived:    {}",
                    show(a),
                    show(b)
                );
            }
        }
    }
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let dir = args.dir.clone().unwrap_or_else(default_dir);
    let files = derive_files(&dir)?;
    errata::verify_witnesses(&dir.join("openapi"))?;
    // The conformance crate's copy is the workspace's: a `--dir` elsewhere has none.
    let mirror = args.dir.is_none().then(|| {
        let json: Vec<(String, String)> =
            files.iter().filter(|(name, _)| name.ends_with(".json")).cloned().collect();
        (Out { dir: conformance_dir(), label: "crates/conformance/schemas" }, json)
    });
    let outs = std::iter::once((Out { dir, label: "schemas" }, files)).chain(mirror);
    let stdout = io::stdout();
    let mut out = stdout.lock();
    if args.check {
        let mut problems = Vec::new();
        let mut count = 0;
        for (target, files) in outs {
            count += files.len();
            problems.extend(check(&target, &files)?);
        }
        if problems.is_empty() {
            writeln!(out, "schemas: {count} files up to date")?;
            return Ok(ExitCode::SUCCESS);
        }
        let stderr = io::stderr();
        let mut err = stderr.lock();
        for p in &problems {
            writeln!(err, "error: {p}")?;
        }
        writeln!(
            err,
            "hand edits are not allowed: run `cargo xtask schemas` to regenerate, then review the diff"
        )?;
        return Ok(ExitCode::from(1));
    }
    for (target, files) in outs {
        write(&target, &files, &mut out)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// What differs between the checked-in files of `target` and `files`.
fn check(target: &Out, files: &[(String, String)]) -> anyhow::Result<Vec<String>> {
    let Out { dir, label } = target;
    let mut problems = Vec::new();
    for (name, expected) in files {
        let path = dir.join(name);
        match fs::read_to_string(&path) {
            Ok(found) if found == *expected => {}
            Ok(found) => problems.push(format!(
                "{label}/{name} differs from a fresh derivation\n{}",
                first_difference(&found, expected)
            )),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                problems.push(format!("{label}/{name} is missing"));
            }
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }
    for name in extra_files(dir, files)? {
        problems.push(format!(
            "{label}/{name} is not produced by the derivation (remove it, or add a target)"
        ));
    }
    Ok(problems)
}

/// Writes `files` into `target`, and removes the generated files that are no longer targets.
fn write(target: &Out, files: &[(String, String)], out: &mut impl Write) -> anyhow::Result<()> {
    let Out { dir, label } = target;
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for (name, contents) in files {
        let path = dir.join(name);
        if fs::read_to_string(&path).ok().as_deref() == Some(contents.as_str()) {
            writeln!(out, "unchanged {label}/{name}")?;
        } else {
            fs::write(&path, contents)
                .with_context(|| format!("cannot write {}", path.display()))?;
            writeln!(out, "wrote     {label}/{name}")?;
        }
    }
    for name in extra_files(dir, files)? {
        let path = dir.join(&name);
        let text = fs::read_to_string(&path).unwrap_or_default();
        if text.contains("Generated by `cargo xtask schemas`") {
            fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
            writeln!(out, "removed   {label}/{name} (no longer a target)")?;
        } else {
            writeln!(
                out,
                "warning: {label}/{name} is not a derived file; `--check` will fail until it is removed"
            )?;
        }
    }
    Ok(())
}
/// `schemas/openapi/` of the workspace, for unit tests.
#[cfg(test)]
pub(crate) fn openapi_dir_for_tests() -> PathBuf {
    default_dir().join("openapi")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk<'a>(v: &'a Value, at: &str, f: &mut dyn FnMut(&'a Value, &str)) {
        f(v, at);
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    walk(v, &format!("{at}/{k}"), f);
                }
            }
            Value::Array(a) => {
                for (i, v) in a.iter().enumerate() {
                    walk(v, &format!("{at}/{i}"), f);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn every_schema_compiles_alone_with_local_refs_only() {
        for (target, schema) in
            derive_schemas(&openapi_dir_for_tests(), Options::default()).unwrap()
        {
            jsonschema::options()
                .should_validate_formats(true)
                .build(&schema)
                .unwrap_or_else(|e| panic!("{} does not compile: {e}", target.name));
            walk(&schema, "", &mut |v, at| {
                if let Some(r) = v.get("$ref").and_then(Value::as_str) {
                    let local = r
                        .strip_prefix('#')
                        .unwrap_or_else(|| panic!("{}{at}: non-local $ref {r}", target.name));
                    assert!(
                        schema.pointer(local).is_some(),
                        "{}{at}: dangling $ref {r}",
                        target.name
                    );
                }
            });
            assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
        }
    }

    /// The spec's own `example`s (now `examples`) validate against the schema they annotate.
    #[test]
    fn the_spec_examples_validate_where_they_stand() {
        for (target, schema) in
            derive_schemas(&openapi_dir_for_tests(), Options::default()).unwrap()
        {
            let mut seen = 0;
            walk(&schema, "", &mut |v, at| {
                let Some(examples) = v.get("examples").and_then(Value::as_array) else { return };
                let mut sub = v.clone();
                if let Some(defs) = schema.get("$defs") {
                    sub["$defs"] = defs.clone();
                }
                let validator =
                    jsonschema::options().should_validate_formats(true).build(&sub).unwrap();
                for example in examples {
                    assert!(
                        validator.is_valid(example),
                        "{}{at}: spec example {example} is invalid",
                        target.name
                    );
                    seen += 1;
                }
            });
            if target.name != "legacy-downloads-response" {
                assert!(seen > 0, "{} has no spec example", target.name);
            }
        }
    }

    /// The facts transcription restates "the usual envelope" rather than referring to the
    /// Cloudflare copy (a derived file compiles alone): its messages and `success` must stay
    /// those of the derived downloads schemas.
    #[test]
    fn the_signing_envelope_parts_are_the_derived_downloads_ones() {
        let all = derive_schemas(&openapi_dir_for_tests(), Options::default()).unwrap();
        let get = |name: &str| &all.iter().find(|(t, _)| t.name == name).unwrap().1;
        let strip = |v: &Value| {
            let mut v = v.clone();
            for k in ["$schema", "$id", "$comment", "title", "description", "examples"] {
                v.as_object_mut().unwrap().remove(k);
            }
            v
        };
        let messages = strip(get("messages"));
        let downloads_success = strip(&get("deleted-response")["properties"]["success"]);
        for name in [
            "token-response",
            "signing-key-response",
            "signing-keys-response",
            "signing-key-deleted-response",
        ] {
            let schema = get(name);
            assert_eq!(strip(&schema["$defs"]["signing_messages"]), messages, "{name}");
            assert_eq!(strip(&schema["$defs"]["signing_success"]), downloads_success, "{name}");
            assert_eq!(
                schema["required"],
                serde_json::json!(["success", "errors", "messages", "result"]),
                "{name}"
            );
        }
    }

    #[test]
    fn derivation_is_deterministic_and_pretty() {
        let dir = default_dir();
        let a = derive_files(&dir).unwrap();
        let b = derive_files(&dir).unwrap();
        assert_eq!(a, b);
        for (name, text) in &a {
            assert!(text.ends_with('\n') && !text.ends_with("\n\n"), "{name}");
            if name.ends_with(".json") {
                assert!(text.starts_with("{\n  \"$schema\": "), "{name}");
            }
        }
    }

    #[test]
    fn first_difference_names_the_line() {
        assert_eq!(
            first_difference("a\nb\nc\n", "a\nB\nc\n"),
            "  first difference at line 2:\n  - checked in: b\n  + derived:    B"
        );
        assert!(first_difference("a\n", "a\nb\n").contains("- checked in: <end of file>"));
    }

    #[test]
    fn the_conformance_copy_is_written_checked_and_pruned_like_the_schemas() {
        let tmp = tempfile::tempdir().unwrap();
        let target = Out { dir: tmp.path().join("copy"), label: "crates/conformance/schemas" };
        let files = vec![
            ("a.json".to_owned(), "{}\n".to_owned()),
            ("b.json".to_owned(), "[]\n".to_owned()),
        ];
        let mut log = Vec::new();
        write(&target, &files, &mut log).unwrap();
        assert_eq!(check(&target, &files).unwrap(), Vec::<String>::new());
        fs::write(target.dir.join("a.json"), "{\"edited\":1}\n").unwrap();
        fs::remove_file(target.dir.join("b.json")).unwrap();
        fs::write(target.dir.join("stray.json"), "Generated by `cargo xtask schemas`").unwrap();
        let problems = check(&target, &files).unwrap();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(
            problems[0].starts_with("crates/conformance/schemas/a.json differs"),
            "{problems:?}"
        );
        assert_eq!(problems[1], "crates/conformance/schemas/b.json is missing");
        assert_eq!(
            problems[2],
            "crates/conformance/schemas/stray.json is not produced by the derivation (remove it, or add a target)"
        );
        log.clear();
        write(&target, &files, &mut log).unwrap();
        let log = String::from_utf8(log).unwrap();
        assert!(log.contains("removed   crates/conformance/schemas/stray.json"), "{log}");
        assert_eq!(check(&target, &files).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn the_checked_in_conformance_copy_is_current() {
        let files = derive_files(&default_dir()).unwrap();
        let json: Vec<_> = files.into_iter().filter(|(n, _)| n.ends_with(".json")).collect();
        let target = Out { dir: conformance_dir(), label: "crates/conformance/schemas" };
        assert_eq!(check(&target, &json).unwrap(), Vec::<String>::new());
    }
}
