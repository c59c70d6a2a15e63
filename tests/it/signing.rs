//! Signed URLs from the command line, against a [`MiniServer`] that behaves as the facts say:
//! the plain file URL of the signed video answers 401, the token endpoint answers a token, and
//! only that token in place of the video id serves the file. `downloads fetch` (with and
//! without `--no-sign`), `downloads url` (plain, signed, JSON Lines) and `signing-keys`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;

use crate::common::{MiniServer, cfstream, ready_list, respond, texts};

const API_TOKEN: &str = "sEcReT-api-t0ken-31c9";
const ACCOUNT: &str = "023e105f4ecef8ad9ca31a8372d0c353";
const VIDEO: &str = "ea95132c15732412d22c1476fa83f27a";
/// The token the server hands out (three base64url parts, like a JWT).
const SIGNED: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJTSUdORUQifQ.c2lnLVNFQ1JFVA";
const KEY_ID: &str = "8f926b2b2b2e4b1db2ad6f9e4b1d6b8e";
const KEY_PEM: &str = "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCnNlY3JldAo=";
const FILE: &[u8] = b"the bytes of a signed video";

/// The API and the file host of one signed video, counting token requests.
fn signed_server() -> (MiniServer, Arc<AtomicUsize>) {
    let tokens = Arc::new(AtomicUsize::new(0));
    let count = tokens.clone();
    let server = MiniServer::start(move |req, conn, _| {
        let host = req.headers.iter().find(|(k, _)| k == "host").map(|(_, v)| v.clone());
        let origin = format!("http://{}", host.unwrap_or_default());
        let json = [("content-type", "application/json".to_owned())];
        let ok = |result: serde_json::Value| {
            serde_json::to_vec(
                &json!({"success": true, "errors": [], "messages": [], "result": result}),
            )
            .unwrap()
        };
        let api = format!("/client/v4/accounts/{ACCOUNT}/stream");
        let p = req.path.as_str();
        if p == format!("{api}/{VIDEO}/downloads") {
            let url = format!("{origin}/{VIDEO}/downloads/default.mp4");
            respond(conn, 200, &json, &ready_list(&url));
        } else if p == format!("{api}/{VIDEO}/token") && req.method == "POST" {
            count.fetch_add(1, Ordering::SeqCst);
            respond(conn, 200, &json, &ok(json!({"token": SIGNED})));
        } else if p == format!("{api}/keys") && req.method == "POST" {
            let key = json!({"id": KEY_ID, "pem": KEY_PEM, "jwk": "e30=", "created": "2026-12-02T10:00:00Z"});
            respond(conn, 200, &json, &ok(key));
        } else if p == format!("{api}/keys") {
            respond(
                conn,
                200,
                &json,
                &ok(json!([{"id": KEY_ID, "created": "2026-12-02T10:00:00Z"}])),
            );
        } else if p == format!("{api}/keys/{KEY_ID}") && req.method == "DELETE" {
            respond(conn, 200, &json, &ok(json!("ok")));
        } else if p.starts_with(&format!("/{SIGNED}/downloads/default.mp4")) {
            respond(conn, 200, &[("content-type", "video/mp4".into())], FILE);
        } else if p.starts_with(&format!("/{VIDEO}/downloads/")) {
            respond(conn, 401, &[("content-type", "text/plain".into())], b"unauthorized");
        } else {
            respond(conn, 500, &[], b"unexpected request");
        }
    });
    (server, tokens)
}

/// `GET target` on `server` with nothing but a `Host` header; the whole answer.
fn plain_get(server: &MiniServer, target: &str) -> Vec<u8> {
    use std::io::{Read as _, Write as _};
    let mut conn = std::net::TcpStream::connect(server.addr).unwrap();
    write!(conn, "GET {target} HTTP/1.1\r\nhost: {}\r\nconnection: close\r\n\r\n", server.addr)
        .unwrap();
    let mut answer = Vec::new();
    conn.read_to_end(&mut answer).unwrap();
    answer
}

fn run(server: &MiniServer, args: &[&str]) -> std::process::Output {
    let mut c = cfstream();
    c.env("CLOUDFLARE_BASE_URL", format!("{}/client/v4", server.origin()))
        .env("CLOUDFLARE_ACCOUNT_ID", ACCOUNT)
        .env("CLOUDFLARE_API_TOKEN", API_TOKEN)
        .args(args);
    c.output().unwrap()
}

#[test]
fn fetch_gets_a_signed_video_with_no_extra_flag() {
    let (server, tokens) = signed_server();
    let dir = tempfile::tempdir().unwrap();
    let out_dir = format!("{}/", dir.path().display());
    let res = run(&server, &["-vv", "--no-progress", "downloads", "fetch", VIDEO, "-o", &out_dir]);
    let (stdout, stderr) = texts(&res);
    assert_eq!(res.status.code(), Some(0), "{stdout}{stderr}");
    assert_eq!(std::fs::read(dir.path().join(format!("{VIDEO}.mp4"))).unwrap(), FILE);
    assert_eq!(tokens.load(Ordering::SeqCst), 1);
    assert!(stderr.contains("retrying with a signed url"), "debug logs were on: {stderr}");
    for text in [&stdout, &stderr] {
        assert!(!text.contains(SIGNED) && !text.contains("c2lnLVNFQ1JFVA"), "{text}");
    }
}

#[test]
fn fetch_no_sign_fails_with_a_hint_and_asks_for_no_token() {
    let (server, tokens) = signed_server();
    let dir = tempfile::tempdir().unwrap();
    let out_dir = format!("{}/", dir.path().display());
    let res =
        run(&server, &["--no-progress", "downloads", "fetch", VIDEO, "-o", &out_dir, "--no-sign"]);
    let (_, stderr) = texts(&res);
    assert_eq!(res.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("http 401: the video requires signed URLs, and signing is turned off"),
        "{stderr}"
    );
    assert!(
        stderr.contains("requires a signed URL for this video: run without --no-sign"),
        "{stderr}"
    );
    assert_eq!(tokens.load(Ordering::SeqCst), 0);
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none(), "nothing written");
}

#[test]
fn url_prints_plain_and_signed_urls() {
    let (server, tokens) = signed_server();
    let origin = server.origin();
    let res = run(&server, &["downloads", "url", VIDEO]);
    assert_eq!(res.status.code(), Some(0), "{}", texts(&res).1);
    assert_eq!(texts(&res).0, format!("{origin}/{VIDEO}/downloads/default.mp4\n"));
    assert_eq!(tokens.load(Ordering::SeqCst), 0);

    let res = run(&server, &["downloads", "url", VIDEO, "--signed", "--filename", "clip"]);
    assert_eq!(res.status.code(), Some(0), "{}", texts(&res).1);
    let url = format!("{origin}/{SIGNED}/downloads/default.mp4?filename=clip");
    assert_eq!(texts(&res).0, format!("{url}\n"));
    assert_eq!(tokens.load(Ordering::SeqCst), 1);
    // The printed URL downloads the file, with no credentials (plain HTTP, as curl would).
    let answer = plain_get(&server, url.strip_prefix(&origin).unwrap());
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answer));
    assert!(answer.ends_with(FILE));

    let res = run(&server, &["--json", "downloads", "url", VIDEO, "--signed"]);
    assert_eq!(res.status.code(), Some(0), "{}", texts(&res).1);
    let line: serde_json::Value = serde_json::from_str(texts(&res).0.trim()).unwrap();
    assert_eq!(
        line,
        json!({
            "event": "url", "video": VIDEO, "ok": true, "type": "default",
            "url": format!("{origin}/{SIGNED}/downloads/default.mp4"), "signed": true,
        })
    );
}

#[test]
fn url_refuses_a_lifetime_past_24_hours_before_asking() {
    let (server, tokens) = signed_server();
    let res = run(&server, &["downloads", "url", VIDEO, "--signed", "--expires", "25h"]);
    let (stdout, stderr) = texts(&res);
    assert_eq!(res.status.code(), Some(1), "{stderr}");
    assert_eq!(stdout, "");
    assert!(stderr.contains(&format!("error: video {VIDEO}: could not get a token")), "{stderr}");
    // Said once: the cause is not repeated by its own source.
    assert_eq!(stderr.matches("is more than 24 hours after").count(), 1, "{stderr}");
    assert_eq!(tokens.load(Ordering::SeqCst), 0);
}

#[test]
fn signing_keys_create_prints_the_export_lines_and_list_and_delete_work() {
    let (server, _) = signed_server();
    let res = run(&server, &["signing-keys", "create"]);
    let (stdout, stderr) = texts(&res);
    assert_eq!(res.status.code(), Some(0), "{stderr}");
    assert_eq!(
        stdout,
        format!(
            "export CFSTREAM_SIGNING_KEY_ID={KEY_ID}\nexport CFSTREAM_SIGNING_KEY_PEM={KEY_PEM}\n"
        )
    );
    assert!(!stderr.contains(KEY_PEM), "the key is printed once, on stdout: {stderr}");

    let res = run(&server, &["signing-keys", "list"]);
    assert_eq!(texts(&res).0, format!("{KEY_ID}  2026-12-02T10:00:00Z\n"));

    let res = run(&server, &["signing-keys", "delete", KEY_ID]);
    assert_eq!(res.status.code(), Some(0), "{}", texts(&res).1);
    assert_eq!(texts(&res).1, format!("signing key {KEY_ID} deleted\n"));
    let deletes = server
        .requests
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.method == "DELETE")
        .map(|r| r.path.clone())
        .collect::<Vec<_>>();
    assert_eq!(deletes, [format!("/client/v4/accounts/{ACCOUNT}/stream/keys/{KEY_ID}")]);
}

/// The promise, against the real emulator: `downloads url --signed` prints a URL that a
/// plain GET (what `curl` sends: no credentials) downloads byte for byte, while the plain URL of
/// the same video is refused.
#[test]
fn a_signed_url_from_the_cli_downloads_from_the_emulator_with_a_plain_get() {
    let emu = crate::common::Emu::start();
    let e = emu.running();
    let video = e.signed_video().unwrap();
    let out = emu.cmd().args(["downloads", "create", video.as_str()]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{:?}", texts(&out));
    let url_of = |signed: bool| {
        let mut c = emu.cmd();
        c.args(["downloads", "url", video.as_str()]);
        if signed {
            c.arg("--signed");
        }
        let out = c.output().unwrap();
        let (stdout, stderr) = texts(&out);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        stdout.trim().to_owned()
    };
    let get = |url: &str| {
        use std::io::{Read as _, Write as _};
        let rest = url.strip_prefix("http://").unwrap();
        let (host, path) = rest.split_at(rest.find('/').unwrap());
        let mut conn = std::net::TcpStream::connect(host).unwrap();
        write!(conn, "GET {path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n").unwrap();
        let mut answer = Vec::new();
        conn.read_to_end(&mut answer).unwrap();
        let split = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        (String::from_utf8_lossy(&answer[..split]).into_owned(), answer[split + 4..].to_vec())
    };
    let (head, _) = get(&url_of(false));
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    let signed = url_of(true);
    assert!(!signed.contains(video.as_str()), "the token takes the video id's place: {signed}");
    let (head, body) = get(&signed);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(
        body,
        cfstream_emulator::expected_file_bytes(
            &video,
            &cfstream_types::DownloadType::Default,
            0,
            4096
        )
    );
}
