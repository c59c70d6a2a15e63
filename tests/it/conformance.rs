//! `cfstream conformance` (embedded emulator, reports) and `cfstream conformance proxy`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::common::{Emu, KillOnDrop, cfstream, texts};

#[test]
fn the_embedded_emulator_conforms_and_reports_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let out = cfstream()
        .args(["conformance", "--report"])
        .arg(format!("json={},junit={}", json.display(), dir.path().join("r.xml").display()))
        .output()
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("PASS  create_then_list"), "{stdout}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert!(report["checks"].as_array().is_some_and(|c| !c.is_empty()), "{report}");
    assert!(dir.path().join("r.xml").exists());

    let out = cfstream().args(["conformance", "--list"]).output().unwrap();
    assert!(texts(&out).0.contains("progress_monotone"));
    let out = cfstream().args(["conformance", "--checks", "no_such_check"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "an unknown check is a usage error");
}

#[test]
fn signed_videos_reach_the_run_and_a_bad_one_is_a_usage_error() {
    let out = cfstream().args(["conformance", "--signed-video", "not-hex"]).output().unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("error: bad --signed-video"), "{stderr}");

    // The embedded emulator has no such video: its token answer is not a token, and its
    // downloads cannot be listed.
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let out = cfstream()
        .args(["conformance", "--checks", "signed_token_schema,signed_url_serves"])
        .args(["--signed-video", "0000000000000000000000000000beef", "--report"])
        .arg(format!("json={}", json.display()))
        .output()
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let checks = report["checks"].as_array().unwrap();
    let outcome = |name: &str| {
        let c = checks.iter().find(|c| c["name"] == name).unwrap();
        (c["outcome"].clone(), c["violations"][0]["pointer"].clone(), c["reason"].clone())
    };
    assert_eq!(outcome("signed_token_schema").0, "fail", "{report}");
    assert_eq!(outcome("signed_token_schema").1, "status", "{report}");
    // The file check is SKIP, with the reason.
    assert_eq!(outcome("signed_url_serves").0, "skip", "{report}");
    assert_eq!(outcome("signed_url_serves").2, "listing the signed video answered 404", "{report}");
}

#[test]
fn the_proxy_validates_traffic_and_stops_on_ctrl_c() {
    let emu = Emu::start();
    let bin = env!("CARGO_BIN_EXE_cfstream");
    let child = Command::new(bin)
        .args(["conformance", "proxy", "--listen", "127.0.0.1:0", "--upstream", &emu.base_url()])
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut guard = KillOnDrop(child);
    let child = &mut guard.0;
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut proxied = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(url) =
            line.trim().strip_prefix("point your client at it:  export CLOUDFLARE_BASE_URL=")
        {
            proxied = Some(url.to_owned());
        }
        if line.starts_with("Violations are logged below") {
            break;
        }
    }
    let proxied = proxied.unwrap();
    let video = emu.videos(true)[0].to_string();
    let out = emu
        .cmd()
        .env("CLOUDFLARE_BASE_URL", &proxied)
        .args(["downloads", "create", &video])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    assert_eq!(rest, ["validated 1 answers: 0 violations"]);
}

#[test]
fn a_remote_run_without_credentials_says_what_to_set() {
    // Nothing listens on port 9: the run fails, but first it says why checks will be skipped.
    let out = cfstream()
        .args(["--base-url", "http://127.0.0.1:9/client/v4", "conformance"])
        .args(["--checks", "create_then_list"])
        .output()
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert!(
        stderr.contains("the checks that need credentials are skipped (hint: create an API token"),
        "{stdout}{stderr}"
    );
    assert!(stderr.contains("`export CLOUDFLARE_API_TOKEN=...`"), "{stderr}");
}
