//! What a person sees when something is wrong: `error:` / `caused by:` / `hint:` lines on
//! stderr and the exit status (2 for usage and setup errors, 1 for failed videos).

use crate::common::{Emu, cfstream, texts};

const VIDEO: &str = "ea95132c15732412d22c1476fa83f27a";

#[test]
fn bad_ids_only_is_a_usage_error() {
    let emu = Emu::start();
    let out = emu.cmd().args(["downloads", "list", "../../etc/passwd", "xyz"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let (stdout, stderr) = texts(&out);
    assert_eq!(stdout, "");
    insta::assert_snapshot!("bad_ids", stderr);
}

#[test]
fn missing_credentials_name_the_variables() {
    let out = cfstream()
        .env("CLOUDFLARE_ACCOUNT_ID", "023e105f4ecef8ad9ca31a8372d0c353")
        .args(["downloads", "list", VIDEO])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    insta::assert_snapshot!("missing_credentials", texts(&out).1);

    let out = cfstream()
        .env("CLOUDFLARE_ACCOUNT_ID", "023e105f4ecef8ad9ca31a8372d0c353")
        .env("CLOUDFLARE_EMAIL", "me@example.com")
        .args(["downloads", "list", VIDEO])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        texts(&out).1.starts_with("error: CLOUDFLARE_EMAIL is set but CLOUDFLARE_API_KEY is not\n")
    );
}

#[test]
fn missing_account_is_a_setup_error() {
    let out = cfstream()
        .env("CLOUDFLARE_API_TOKEN", "x")
        .args(["downloads", "list", VIDEO])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let (_, stderr) = texts(&out);
    assert!(
        stderr.starts_with("error: no account id: pass --account ID or set CLOUDFLARE_ACCOUNT_ID"),
        "{stderr}"
    );
}

#[test]
fn wrong_token_names_the_variable_never_the_value() {
    let emu = Emu::start();
    let ready = emu.videos(true);
    let secret = "wr0ng-t0ken-s3cret";
    let out = emu
        .cmd()
        .env("CLOUDFLARE_API_TOKEN", secret)
        .args(["downloads", "create", "--jobs", "1"])
        .args(ready.iter().map(|v| v.as_str()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "rejected credentials are a setup error");
    let (stdout, stderr) = texts(&out);
    assert!(!stdout.contains(secret) && !stderr.contains(secret));
    insta::assert_snapshot!("wrong_token", emu.redact(&stderr, None));
    // The first rejection stops new work: one request, not one per video.
    assert_eq!(emu.running().admin().request_count(), 1);
}

#[test]
fn unreachable_server_is_a_failed_video_with_a_hint() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out = cfstream()
        .env("CLOUDFLARE_API_TOKEN", "x")
        .env("CLOUDFLARE_ACCOUNT_ID", "023e105f4ecef8ad9ca31a8372d0c353")
        .env("CLOUDFLARE_BASE_URL", format!("http://127.0.0.1:{port}/client/v4"))
        .args(["downloads", "list", VIDEO])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let (_, stderr) = texts(&out);
    assert!(stderr.contains("hint: could not reach"), "{stderr}");
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let emu = Emu::start();
    let ids: Vec<String> = (0..50)
        .map(|_| emu.running().admin().add_video(&emu.running().account(), true).to_string())
        .collect();
    // `head -c 1` closes the pipe after one byte; cfstream must neither panic nor complain.
    let bin = env!("CARGO_BIN_EXE_cfstream");
    let script = format!(
        "'{bin}' --json downloads list --jobs 1 {} | head -c 1 >/dev/null; echo \"${{PIPESTATUS[0]}}\"",
        ids.join(" ")
    );
    let out = std::process::Command::new("bash")
        .args(["-c", &script])
        .env("CLOUDFLARE_BASE_URL", emu.base_url())
        .env("CLOUDFLARE_ACCOUNT_ID", emu.running().account().to_string())
        .env("CLOUDFLARE_API_TOKEN", crate::common::token(emu.running()))
        .output()
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(stdout.trim(), "0", "{stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("error"), "{stderr}");
}
