//! Tidy tests: project-wide invariants that no compiler checks (run by `cargo test`).
//!
//! Every Rust module opens with a `//!` doc; no `todo!`, `unimplemented!` or `dbg!` is left in;
//! the crate graph keeps its one-way shape (types knows nothing about HTTP; the emulator and
//! the conformance harness never depend on the client); the workspace README's Rust examples
//! are the doctested ones of `crates/http/README.md`; every library crate can be packaged on
//! its own (a README of its own, no file outside its folder).

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::{Path, PathBuf};

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("xtask lives in the workspace root")
            .to_owned()
    }

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if path.is_dir() {
                if !matches!(name.as_ref(), "target" | "snapshots" | "fuzz" | ".git") {
                    rust_files(&path, out);
                }
            } else if name.ends_with(".rs") {
                out.push(path);
            }
        }
    }

    fn sources() -> Vec<PathBuf> {
        let root = root();
        let mut files = Vec::new();
        for dir in ["src", "crates", "xtask/src"] {
            rust_files(&root.join(dir), &mut files);
        }
        files.retain(|p| p.components().any(|c| c.as_os_str() == "src"));
        assert!(files.len() > 10, "tidy found too few sources: {files:?}");
        files
    }

    #[test]
    fn every_module_opens_with_a_doc_comment() {
        let missing: Vec<_> = sources()
            .into_iter()
            .filter(|p| {
                let text = fs::read_to_string(p).unwrap_or_default();
                !text.trim_start().starts_with("//!")
            })
            .collect();
        assert!(missing.is_empty(), "modules without a leading //! doc: {missing:#?}");
    }

    #[test]
    fn no_unfinished_or_debug_code() {
        let needles = [concat!("todo", "!("), concat!("unimplemented", "!("), concat!("dbg", "!(")];
        let mut found = Vec::new();
        for p in sources() {
            let text = fs::read_to_string(&p).unwrap_or_default();
            for (i, line) in text.lines().enumerate() {
                if needles.iter().any(|n| line.contains(n)) {
                    found.push(format!("{}:{}: {}", p.display(), i + 1, line.trim()));
                }
            }
        }
        assert!(found.is_empty(), "unfinished or debug code: {found:#?}");
    }

    fn normal_deps(crate_dir: &str) -> Vec<String> {
        let text = fs::read_to_string(root().join(crate_dir).join("Cargo.toml")).expect("manifest");
        let mut deps = Vec::new();
        let mut in_deps = false;
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('[') {
                in_deps = line == "[dependencies]";
                continue;
            }
            if in_deps
                && let Some((name, _)) = line.split_once(['.', '=', ' '])
                && !name.is_empty()
                && !name.starts_with('#')
            {
                deps.push(name.to_owned());
            }
        }
        deps
    }

    #[test]
    fn dependencies_point_one_way() {
        let types = normal_deps("crates/types");
        for io in ["reqwest", "tokio", "hyper", "axum", "cfstream-http", "cfstream-emulator"] {
            assert!(
                !types.iter().any(|d| d == io),
                "cfstream-types must not depend on {io}: {types:?}"
            );
        }
        for krate in ["crates/emulator", "crates/conformance"] {
            let deps = normal_deps(krate);
            assert!(
                deps.iter().any(|d| d == "cfstream-types"),
                "{krate} should use cfstream-types: {deps:?}"
            );
            assert!(
                !deps.iter().any(|d| d == "cfstream-http"),
                "{krate} must not depend on the client"
            );
        }
        let emulator = normal_deps("crates/emulator");
        assert!(
            !emulator.iter().any(|d| d == "cfstream-conformance"),
            "the emulator must not depend on the referee"
        );
        let http = normal_deps("crates/http");
        for other in ["cfstream-emulator", "cfstream-conformance"] {
            assert!(!http.iter().any(|d| d == other), "cfstream-http must not depend on {other}");
        }
    }

    /// The ```` ```rust ```` blocks of a Markdown text.
    fn rust_blocks(markdown: &str) -> Vec<String> {
        let mut blocks = Vec::new();
        let mut current: Option<String> = None;
        for line in markdown.lines() {
            match &mut current {
                None if line.starts_with("```rust") => current = Some(format!("{line}\n")),
                None => {}
                Some(block) => {
                    block.push_str(line);
                    block.push('\n');
                    if line == "```" {
                        blocks.extend(current.take());
                    }
                }
            }
        }
        blocks
    }

    #[test]
    fn the_readme_examples_are_the_doctested_ones() {
        let read = |p: &str| fs::read_to_string(root().join(p)).expect(p);
        let workspace = rust_blocks(&read("README.md"));
        let http = read("crates/http/README.md");
        assert!(!workspace.is_empty(), "the README shows the library in Rust");
        for block in &workspace {
            assert!(
                http.contains(block.as_str()),
                "README.md's example is not in crates/http/README.md (whose examples are \
                 doctests): copy it there too\n{block}"
            );
        }
        assert_eq!(rust_blocks("x\n```rust,no_run\nfn a() {}\n```\n```sh\nls\n```\n").len(), 1);
    }

    #[test]
    fn library_crates_package_on_their_own() {
        for krate in ["types", "http", "emulator", "conformance"] {
            let dir = root().join("crates").join(krate);
            let manifest = fs::read_to_string(dir.join("Cargo.toml")).expect("manifest");
            assert!(manifest.contains("readme = \"README.md\""), "crates/{krate}: no readme");
            assert!(dir.join("README.md").is_file(), "crates/{krate}/README.md is missing");
            let mut files = Vec::new();
            rust_files(&dir.join("src"), &mut files);
            for file in files {
                let text = fs::read_to_string(&file).expect("source");
                let outside = text.lines().find(|l| {
                    (l.contains("include_str!") || l.contains("include_bytes!"))
                        && l.contains("../..")
                });
                assert!(
                    outside.is_none(),
                    "{} reaches outside its crate: a packaged crate has only its own files\n{outside:?}",
                    file.display()
                );
            }
        }
    }
}
