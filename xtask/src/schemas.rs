//! `cargo xtask schemas`: derive `schemas/*.json` and `schemas/ERRATA.md` from the OpenAPI
//! copies in `schemas/openapi/`; with `--check`, fail (exit 1) when the checked-in files drift.

mod convert;
mod errata;
mod targets;

use std::fs;
use std::io::{self, Write as _};
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
    let extra = extra_files(&dir, &files)?;
    let stdout = io::stdout();
    let mut out = stdout.lock();
    if args.check {
        let mut problems = Vec::new();
        for (name, expected) in &files {
            let path = dir.join(name);
            match fs::read_to_string(&path) {
                Ok(found) if found == *expected => {}
                Ok(found) => problems.push(format!(
                    "schemas/{name} differs from a fresh derivation\n{}",
                    first_difference(&found, expected)
                )),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    problems.push(format!("schemas/{name} is missing"));
                }
                Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
            }
        }
        for name in &extra {
            problems.push(format!(
                "schemas/{name} is not produced by the derivation (remove it, or add a target)"
            ));
        }
        if problems.is_empty() {
            writeln!(out, "schemas: {} files up to date", files.len())?;
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
    for (name, contents) in &files {
        let path = dir.join(name);
        if fs::read_to_string(&path).ok().as_deref() == Some(contents.as_str()) {
            writeln!(out, "unchanged schemas/{name}")?;
        } else {
            fs::write(&path, contents)
                .with_context(|| format!("cannot write {}", path.display()))?;
            writeln!(out, "wrote     schemas/{name}")?;
        }
    }
    for name in &extra {
        let path = dir.join(name);
        let text = fs::read_to_string(&path).unwrap_or_default();
        if text.contains("Generated by `cargo xtask schemas`") {
            fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
            writeln!(out, "removed   schemas/{name} (no longer a target)")?;
        } else {
            writeln!(
                out,
                "warning: schemas/{name} is not a derived file; `--check` will fail until it is removed"
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
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
}
