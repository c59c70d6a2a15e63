//! What a person sees when something is wrong: `error:` / `caused by:` / `hint:` lines on
//! stderr and the exit status (2 for usage and setup errors, 1 for failed videos).

use crate::common::{Emu, MiniServer, cfstream, ready_list, respond, texts};

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
    let (_held, port) = crate::common::refusing_port();
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

#[test]
fn failures_on_the_file_host_name_the_file_host() {
    let (_held, closed) = crate::common::refusing_port();
    let server = MiniServer::start(move |req, conn, _| {
        let host = req.headers.iter().find(|(k, _)| k == "host").map(|(_, v)| v.clone());
        let origin = format!("http://{}", host.unwrap_or_default());
        let json = [("content-type", "application/json".to_owned())];
        match req.path.split("/stream/").nth(1).map(|p| &p[..32]) {
            Some(v) if v.ends_with('1') => {
                let url = format!("http://127.0.0.1:{closed}/{v}/downloads/default.mp4");
                respond(conn, 200, &json, &ready_list(&url));
            }
            Some(v) if v.ends_with('2') => {
                respond(conn, 200, &json, &ready_list(&format!("{origin}/cut/default.mp4")));
            }
            Some(_) => {
                respond(conn, 200, &json, &ready_list(&format!("{origin}/denied/default.mp4")));
            }
            None if req.path.starts_with("/cut/") => {
                use std::io::Write as _;
                let head =
                    "HTTP/1.1 200 OK\r\ncontent-type: video/mp4\r\ncontent-length: 1000\r\n\r\n";
                let _ = conn.write_all(head.as_bytes());
                let _ = conn.write_all(&[7u8; 10]);
                let _ = conn.flush();
                let _ = conn.shutdown(std::net::Shutdown::Both);
            }
            None => respond(conn, 403, &[("content-type", "video/mp4".into())], b"expired"),
        }
    });
    let base = format!("{}/client/v4", server.origin());
    let dir = tempfile::tempdir().unwrap();
    let fetch = |video: &str| {
        let out = cfstream()
            .env("CLOUDFLARE_API_TOKEN", "t0ken-for-the-api")
            .env("CLOUDFLARE_ACCOUNT_ID", "023e105f4ecef8ad9ca31a8372d0c353")
            .env("CLOUDFLARE_BASE_URL", &base)
            .args(["downloads", "fetch", "--max-attempts", "1", video, "-o"])
            .arg(dir.path().join(format!("{video}.mp4")))
            .output()
            .unwrap();
        let (_, stderr) = texts(&out);
        // A failed video (1), not a setup error (2): the API's credentials were fine.
        assert_eq!(out.status.code(), Some(1), "{video}: {stderr}");
        assert!(!stderr.contains("could not reach") && !stderr.contains("credentials read from"));
        assert!(!dir.path().join(format!("{video}.mp4")).exists());
        stderr
    };
    let again = "run the same command again: it resumes from the .part file";
    let refused = fetch(&format!("{:032x}", 1));
    assert!(
        refused.contains(&format!(
            "\n  hint: the transfer from the file host http://127.0.0.1:{closed} failed (the API at {base} had answered); {again}\n"
        )),
        "{refused}"
    );
    let cut = fetch(&format!("{:032x}", 2));
    assert!(cut.contains("\n  caused by: response body cut short\n"), "{cut}");
    assert!(
        cut.contains(&format!(
            "\n  hint: the transfer from the file host {} failed (the API at {base} had answered); {again}\n",
            server.origin()
        )),
        "{cut}"
    );
    let denied = fetch(&format!("{:032x}", 3));
    assert!(
        denied.contains(&format!(
            "\n  hint: the file host {} refused the file (the API credentials are not sent there): \
             the download's url may have expired or need a signed token; run the command again for a fresh url\n",
            server.origin()
        )),
        "{denied}"
    );
}

#[test]
fn a_link_at_the_destination_is_refused_with_a_hint() {
    let emu = Emu::start();
    let video = emu.videos(true)[0].to_string();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("elsewhere");
    std::fs::write(&target, b"keep").unwrap();
    let dest = dir.path().join("clip.mp4");
    std::os::unix::fs::symlink(&target, &dest).unwrap();
    let out = emu.cmd().args(["downloads", "fetch", &video, "-o"]).arg(&dest).output().unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "\n  hint: the destination or its .part is not a regular file (a link, a directory, a device): \
             fetch never follows or replaces it; remove it, or choose another -o\n"
        ),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&target).unwrap(), b"keep");
    assert!(std::fs::symlink_metadata(&dest).unwrap().file_type().is_symlink());
}
