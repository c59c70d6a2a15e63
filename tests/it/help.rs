//! `--help` of every command, snapshotted: the command tree is part of the interface.

use crate::common::cfstream;

fn help(args: &[&str]) -> String {
    let out = cfstream().args(args).arg("--help").env("COLUMNS", "100").output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn help_of_every_command() {
    for args in [
        &[][..],
        &["downloads"],
        &["downloads", "list"],
        &["downloads", "create"],
        &["downloads", "delete"],
        &["downloads", "wait"],
        &["downloads", "fetch"],
        &["downloads", "url"],
        &["signing-keys"],
        &["serve"],
        &["conformance"],
        &["conformance", "proxy"],
        &["completions"],
    ] {
        let name = if args.is_empty() { "cfstream".to_owned() } else { args.join("_") };
        insta::assert_snapshot!(format!("help_{name}"), help(args));
    }
}

#[test]
fn usage_errors_exit_2() {
    let out = cfstream().args(["downloads", "wait", "--timeout", "soon", "aa"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("'soon' is not a duration"), "{err}");
}

#[test]
fn completions_are_written() {
    let out = cfstream().args(["completions", "bash"]).output().unwrap();
    assert!(out.status.success());
    let script = String::from_utf8(out.stdout).unwrap();
    assert!(script.contains("cfstream") && script.contains("downloads"), "{script}");
}
