//! `cargo xtask schemas [--check]` run as a process, on the real tree and on temporary copies
//! (so that no test touches the checked-in files).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::schemas_dir;

/// A copy of `schemas/` (without the examples) in cargo's per-target temporary folder,
/// removed on drop.
struct TempSchemas(PathBuf);

impl TempSchemas {
    fn new(test: &str) -> Self {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("schemas-{test}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("openapi")).unwrap();
        let src = schemas_dir();
        for sub in ["", "openapi"] {
            for entry in fs::read_dir(src.join(sub)).unwrap() {
                let entry = entry.unwrap();
                if entry.file_type().unwrap().is_file() {
                    fs::copy(entry.path(), dir.join(sub).join(entry.file_name())).unwrap();
                }
            }
        }
        Self(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn edit(&self, name: &str, from: &str, to: &str) {
        let path = self.path(name);
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{name} does not contain {from:?}");
        fs::write(&path, text.replacen(from, to, 1)).unwrap();
    }
}

impl Drop for TempSchemas {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn xtask(args: &[&str], dir: Option<&Path>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.arg("schemas").args(args).env_remove("CFSTREAM_SCHEMAS_DIR");
    if let Some(dir) = dir {
        cmd.arg("--dir").arg(dir);
    }
    cmd.output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn check_passes_on_the_checked_in_tree() {
    let out = xtask(&["--check"], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("files up to date"));
}

#[test]
fn check_fails_after_a_hand_edit_and_regeneration_repairs_it() {
    let tmp = TempSchemas::new("edit");
    assert_eq!(xtask(&["--check"], Some(&tmp.0)).status.code(), Some(0));

    tmp.edit("downloads-response.json", "\"maximum\": 100", "\"maximum\": 101");
    let out = xtask(&["--check"], Some(&tmp.0));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("schemas/downloads-response.json differs from a fresh derivation"),
        "{err}"
    );
    assert!(err.contains("- checked in:") && err.contains("\"maximum\": 101"), "{err}");
    assert!(err.contains("+ derived:") && err.contains("\"maximum\": 100"), "{err}");

    let out = xtask(&[], Some(&tmp.0));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("wrote     schemas/downloads-response.json")
    );
    assert_eq!(xtask(&["--check"], Some(&tmp.0)).status.code(), Some(0));
    assert_eq!(
        fs::read_to_string(tmp.path("downloads-response.json")).unwrap(),
        fs::read_to_string(schemas_dir().join("downloads-response.json")).unwrap()
    );
}

#[test]
fn check_fails_on_an_edited_errata_page() {
    let tmp = TempSchemas::new("errata-md");
    tmp.edit("ERRATA.md", "### E1", "### E1 (edited)");
    let out = xtask(&["--check"], Some(&tmp.0));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("schemas/ERRATA.md differs"), "{}", stderr(&out));
}

#[test]
fn check_fails_on_a_missing_or_an_extra_file() {
    let tmp = TempSchemas::new("missing");
    fs::remove_file(tmp.path("messages.json")).unwrap();
    fs::write(tmp.path("stray.json"), "{}\n").unwrap();
    let out = xtask(&["--check"], Some(&tmp.0));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("schemas/messages.json is missing"), "{err}");
    assert!(err.contains("schemas/stray.json is not produced by the derivation"), "{err}");
}

#[test]
fn the_folder_can_come_from_the_environment() {
    let tmp = TempSchemas::new("env");
    tmp.edit("identifier.json", "\"minLength\": 1", "\"minLength\": 0");
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["schemas", "--check"])
        .env("CFSTREAM_SCHEMAS_DIR", &tmp.0)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("schemas/identifier.json differs"), "{}", stderr(&out));
}

/// A spec that no longer says what an erratum patches stops the derivation (exit 2), naming
/// the erratum, instead of patching something else.
#[test]
fn a_stale_erratum_is_an_error() {
    let tmp = TempSchemas::new("stale");
    tmp.edit("openapi/stream-downloads.openapi.json", "\"minLength\": 1", "\"minItems\": 1");
    let out = xtask(&["--check"], Some(&tmp.0));
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("erratum E1"), "{err}");
    assert!(err.contains("the spec no longer says 1 at stream-downloads.openapi.json#/components/schemas/stream_api-response-common-failure/properties/errors/minLength"), "{err}");
}
