//! Hostile input and secrets: tokens and keys never in any output, ids that try path
//! traversal or URL injection never reach the wire, the emulator binds loopback and refuses
//! every API and admin request without valid credentials, oversized requests get a bounded
//! 4XX answer, and `fetch` never writes outside the chosen directory whatever the server says.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use cfstream_emulator::{Emulator, Progress};
use cfstream_http::{Client, FetchOptions, reqwest};
use cfstream_types::{AccountId, Credentials, Download, DownloadStatus, Endpoint};
use serde_json::{Value, json};

use crate::common::{Emu, MiniServer, cfstream, ready_list, respond, texts, walk};

const TOKEN: &str = "sEcReT-t0ken-8d1f2e9a";
const EMAIL: &str = "me@example.com";
const KEY: &str = "sEcReT-gl0bal-key-77aa0c";
const WRONG_TOKEN: &str = "wr0ng-sEcReT-t0ken-5c3b";
const WRONG_KEY: &str = "wr0ng-sEcReT-key-19fe";
const SECRETS: [&str; 4] = [TOKEN, KEY, WRONG_TOKEN, WRONG_KEY];

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn assert_no_secret(what: &str, text: &str) {
    for s in SECRETS {
        assert!(!text.contains(s), "{what} shows the secret {s:?}:\n{text}");
    }
}

/// The emulator accepting both [`TOKEN`] and [`EMAIL`] + [`KEY`].
fn secret_emu() -> Emu {
    Emu::with(|b| {
        b.credentials(Credentials::token(TOKEN)).credentials(Credentials::key(EMAIL, KEY))
    })
}

#[test]
fn secrets_never_appear_in_any_output() {
    let emu = secret_emu();
    let video = emu.videos(true)[0].to_string();
    let out = tempfile::tempdir().unwrap();
    let creds: [(&str, Vec<(&str, &str)>); 4] = [
        ("right token", vec![("CLOUDFLARE_API_TOKEN", TOKEN)]),
        ("wrong token", vec![("CLOUDFLARE_API_TOKEN", WRONG_TOKEN)]),
        ("right key", vec![("CLOUDFLARE_EMAIL", EMAIL), ("CLOUDFLARE_API_KEY", KEY)]),
        ("wrong key", vec![("CLOUDFLARE_EMAIL", EMAIL), ("CLOUDFLARE_API_KEY", WRONG_KEY)]),
    ];
    let flags: [&[&str]; 4] = [&[], &["-v", "-v"], &["--json"], &["--json", "-vvv"]];
    let mut verbose_bytes = 0;
    for (name, vars) in &creds {
        for (i, cmd) in ["list", "create", "wait", "fetch", "delete"].into_iter().enumerate() {
            for (j, flag) in flags.iter().enumerate() {
                let mut c = emu.cmd();
                c.env_remove("CLOUDFLARE_API_TOKEN").envs(vars.iter().copied());
                // Everything every crate logs, the HTTP stack included.
                if j == 3 {
                    c.env("RUST_LOG", "trace");
                }
                c.args(*flag).args(["downloads", cmd, &video]);
                match cmd {
                    "wait" => {
                        c.args(["--timeout", "5s"]);
                    }
                    "fetch" => {
                        let dir = out.path().join(format!("{}-{i}-{j}", name.replace(' ', "-")));
                        c.arg("-o").arg(dir).arg("--overwrite");
                    }
                    _ => {}
                }
                let res = c.output().unwrap();
                let (stdout, stderr) = texts(&res);
                let what = format!("{name}, {cmd}, {flag:?}");
                assert_no_secret(&format!("stdout of {what}"), &stdout);
                assert_no_secret(&format!("stderr of {what}"), &stderr);
                let expected = if name.starts_with("right") { 0 } else { 2 };
                assert_eq!(res.status.code(), Some(expected), "{what}: {stderr}");
                if j == 1 || j == 3 {
                    verbose_bytes += stderr.len();
                }
            }
        }
    }
    // The verbose runs did log (so the check above had something to look at).
    assert!(verbose_bytes > 10_000, "verbose runs logged only {verbose_bytes} bytes");
    // Nothing written to disk holds them either.
    for f in walk(out.path()) {
        let bytes = std::fs::read(&f).unwrap();
        assert_no_secret(&f.display().to_string(), &String::from_utf8_lossy(&bytes));
    }
}

#[test]
fn serve_never_logs_the_secrets_it_is_sent() {
    let bin = env!("CARGO_BIN_EXE_cfstream");
    let child = std::process::Command::new(bin)
        .args(["-vv", "--json", "serve", "--port", "0", "--progress", "instant"])
        .env("CLOUDFLARE_API_TOKEN", TOKEN)
        .env("RUST_LOG", "trace")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut guard = crate::common::KillOnDrop(child);
    let child = &mut guard.0;
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    let listening: Value = serde_json::from_str(&line).unwrap();
    let base = listening["base_url"].as_str().unwrap().to_owned();
    let account = listening["account"].as_str().unwrap().to_owned();
    let video = listening["videos"][0]["id"].as_str().unwrap().to_owned();
    // Drain stderr while requests run, so a full pipe never blocks the server.
    let mut stderr = child.stderr.take().unwrap();
    let log = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let url = format!("{base}/accounts/{account}/stream/{video}/downloads");
    runtime().block_on(async {
        let h = http();
        for auth in [
            format!("Bearer {TOKEN}"),
            format!("Bearer {WRONG_TOKEN}"),
            format!("Basic {KEY}"),
            WRONG_KEY.to_owned(),
        ] {
            let r = h.post(&url).header("authorization", auth).send().await.unwrap();
            let body = r.text().await.unwrap();
            assert_no_secret("an answer", &body);
        }
        let r = h
            .get(&url)
            .header("x-auth-email", EMAIL)
            .header("x-auth-key", WRONG_KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
    });
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let log = log.join().unwrap();
    assert!(log.contains("status=403") || log.contains("403"), "requests are logged: {log}");
    assert_no_secret("the serve log", &log);
    assert_no_secret("the banner", &line);
}

/// Inputs that are not video ids, each trying to change the request's path or query.
fn hostile_ids() -> Vec<String> {
    [
        "../..",
        "..",
        "%2e%2e",
        "%2F..%2Fx",
        "a/b",
        "ab/../../cd",
        "a?x=1",
        "a#b",
        "a&b=c",
        "a b",
        "ab\tcd",
        "é",
        "ａｂ",
        "\u{202e}abc",
        "ab\u{0}cd",
        "ab%00",
        "0123456789abcdef0123456789abcdef0",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

#[test]
fn hostile_ids_never_reach_the_wire() {
    let emu = Emu::start();
    let admin = emu.running().admin();
    let ids = hostile_ids();
    for cmd in ["list", "create", "delete", "wait", "fetch"] {
        let dir = tempfile::tempdir().unwrap();
        let mut c = emu.cmd();
        c.args(["downloads", cmd]).args(ids.iter().filter(|s| !s.contains('\0')));
        if cmd == "fetch" {
            c.arg("-o").arg(dir.path());
        }
        let res = c.output().unwrap();
        let (stdout, stderr) = texts(&res);
        assert_eq!(res.status.code(), Some(2), "{cmd}: {stderr}");
        assert_eq!(stdout, "", "{cmd}");
        for id in ids.iter().filter(|s| !s.contains('\0')) {
            let shown: String = id.chars().take(64).collect();
            assert!(
                stderr.contains(&format!("invalid video id '{shown}'"))
                    || stderr.contains(&format!("invalid video id '{}'", shown.trim())),
                "{cmd} names {id:?}: {stderr}"
            );
        }
        assert!(walk(dir.path()).is_empty(), "{cmd} wrote a file");
    }
    // A 1 MB id (longer than one argument may be) and a NUL byte, through stdin.
    let mega = "a/".repeat(512 * 1024);
    let res = emu
        .cmd()
        .args(["downloads", "list", "-"])
        .write_stdin(format!("{mega}\nab\u{0}cd\n"))
        .output()
        .unwrap();
    let (_, stderr) = texts(&res);
    assert_eq!(res.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("stdin line 1: invalid video id 'a/a/a/"), "{stderr}");
    assert!(stderr.contains("stdin line 2: invalid video id 'ab"), "{stderr}");
    assert!(stderr.len() < 10_000, "the error does not echo the whole megabyte");

    // Hostile download types, file names and account ids are refused before any request.
    let video = emu.videos(true)[0].to_string();
    for args in [
        vec!["downloads", "create", "--type", "../x", &video],
        vec!["downloads", "create", "--type", "audio?x=1", &video],
        vec!["downloads", "delete", "--type", "a/b", &video],
        vec!["downloads", "fetch", "--filename", "../../evil", &video],
        vec!["downloads", "fetch", "--filename", "a.mp4", &video],
    ] {
        let res = emu.cmd().args(&args).output().unwrap();
        let (_, stderr) = texts(&res);
        assert_eq!(res.status.code(), Some(2), "{args:?}: {stderr}");
        let value = args[3];
        assert!(stderr.contains(value), "{args:?} names {value}: {stderr}");
    }
    for account in ["../..", "a/b", "a?x=1", "%2e%2e", "é"] {
        let res = emu
            .cmd()
            .env("CLOUDFLARE_ACCOUNT_ID", account)
            .args(["downloads", "list", &video])
            .output()
            .unwrap();
        let (_, stderr) = texts(&res);
        assert_eq!(res.status.code(), Some(2), "{account}: {stderr}");
        assert!(stderr.contains(&format!("'{account}'")), "names {account}: {stderr}");
    }
    assert_eq!(admin.request_count(), 0, "requests: {:?}", admin.requests());

    // Mixed with a good id: only the good one is sent.
    let res = emu.cmd().args(["downloads", "list", &video, "../..", "a?x=1"]).output().unwrap();
    assert_eq!(res.status.code(), Some(1), "{}", texts(&res).1);
    let sent = admin.requests();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].path.ends_with(&format!("/stream/{video}/downloads")), "{sent:?}");
}

/// Every API and admin route, as (method, path under the origin, body).
fn routes(account: &str, video: &str) -> Vec<(&'static str, String, String)> {
    let mut out = Vec::new();
    for prefix in ["/client/v4", ""] {
        let base = format!("{prefix}/accounts/{account}/stream/{video}/downloads");
        out.push(("GET", base.clone(), String::new()));
        out.push(("POST", base.clone(), String::new()));
        out.push(("DELETE", base.clone(), String::new()));
        for t in ["default", "audio"] {
            out.push(("POST", format!("{base}/{t}"), String::new()));
            out.push(("DELETE", format!("{base}/{t}"), String::new()));
        }
    }
    let admin = [
        ("GET", "state", String::new()),
        ("GET", "requests", String::new()),
        ("POST", "videos", "{}".to_owned()),
        ("PUT", "readiness", format!(r#"{{"video":"{video}","ready_to_stream":false}}"#)),
        ("PUT", "download-status", format!(r#"{{"video":"{video}","status":"ready"}}"#)),
        ("GET", "faults", String::new()),
        ("PUT", "faults", r#"{"rules":[{"trigger":"script","route":"any","answers":[{"kind":"status","status":500}]}]}"#.to_owned()),
        ("POST", "reset", String::new()),
    ];
    out.extend(admin.into_iter().map(|(m, p, b)| (m, format!("/__emulator/{p}"), b)));
    out
}

fn assert_failure_envelope(what: &str, body: &[u8]) {
    let v: Value = serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {}", String::from_utf8_lossy(body)));
    assert_eq!(v["success"], false, "{what}: {v}");
    assert_eq!(v["result"], Value::Null, "{what}: {v}");
    let code = v["errors"][0]["code"].as_u64().unwrap_or(0);
    assert!(code >= 1000, "{what}: {v}");
    assert!(v["errors"][0]["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}: {v}");
}

#[test]
fn the_emulator_binds_loopback_and_refuses_every_request_without_credentials() {
    let emu = secret_emu();
    let e = emu.running();
    assert!(e.addr().ip().is_loopback(), "{}", e.addr());
    assert_eq!(e.addr().ip().to_string(), "127.0.0.1");
    assert_eq!(e.base_url().host_str(), Some("127.0.0.1"));
    let admin = e.admin();
    let account = e.account().to_string();
    let video = emu.videos(true)[0].to_string();
    let origin = format!("http://{}", e.addr());
    let state = || {
        let mut s = admin.state();
        s.as_object_mut().unwrap().remove("request_count");
        s
    };
    let before = state();
    type Auth = &'static [(&'static str, &'static str)];
    let denials: [(&str, Auth, u16); 9] = [
        ("no credentials", &[], 401),
        ("only an email", &[("x-auth-email", EMAIL)], 401),
        ("only a key", &[("x-auth-key", KEY)], 401),
        ("wrong token", &[("authorization", "Bearer wr0ng-sEcReT-t0ken-5c3b")], 403),
        ("empty bearer", &[("authorization", "Bearer ")], 403),
        ("key as a token", &[("authorization", "Bearer sEcReT-gl0bal-key-77aa0c")], 403),
        ("token, basic scheme", &[("authorization", "Basic sEcReT-t0ken-8d1f2e9a")], 403),
        ("wrong key", &[("x-auth-email", EMAIL), ("x-auth-key", "wr0ng-sEcReT-key-19fe")], 403),
        ("wrong email", &[("x-auth-email", "x@example.com"), ("x-auth-key", KEY)], 403),
    ];
    runtime().block_on(async {
        let h = http();
        for (method, path, body) in routes(&account, &video) {
            for (name, headers, status) in &denials {
                let mut req = h
                    .request(method.parse().unwrap(), format!("{origin}{path}"))
                    .header("content-type", "application/json")
                    .body(body.clone());
                for (k, v) in *headers {
                    req = req.header(*k, *v);
                }
                let res = req.send().await.unwrap();
                let got = res.status().as_u16();
                let bytes = res.bytes().await.unwrap();
                let what = format!("{method} {path} with {name}");
                assert_eq!(got, *status, "{what}: {}", String::from_utf8_lossy(&bytes));
                assert_failure_envelope(&what, &bytes);
            }
            // Nothing the refused requests asked for happened.
            assert_eq!(state(), before, "{method} {path}");
            // The right credentials do get through (so the denials above are about them).
            let res = h
                .request(method.parse().unwrap(), format!("{origin}{path}"))
                .bearer_auth(TOKEN)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            assert!(res.status().is_success(), "{method} {path}: {}", res.status());
            admin.reset();
        }
    });
}

/// Sends `head` then `body_len` bytes of body (or `chunked` chunks) over a raw connection, and
/// reads the answer: (status, body). Fails if no complete answer comes within 10 s.
fn raw(addr: SocketAddr, head: String, body_len: usize, chunked: bool) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut writer = stream.try_clone().unwrap();
    // Write on another thread: the server may answer (and stop reading) before the end.
    let w = std::thread::spawn(move || {
        let _ = writer.write_all(head.as_bytes());
        let block = vec![b'{'; 64 * 1024];
        let mut left = body_len;
        while left > 0 {
            let n = left.min(block.len());
            let ok = if chunked {
                writer.write_all(format!("{n:x}\r\n").as_bytes()).is_ok()
                    && writer.write_all(&block[..n]).is_ok()
                    && writer.write_all(b"\r\n").is_ok()
            } else {
                writer.write_all(&block[..n]).is_ok()
            };
            if !ok {
                return;
            }
            left -= n;
        }
        if chunked {
            let _ = writer.write_all(b"0\r\n\r\n");
        }
    });
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let answer = loop {
        match stream.read(&mut chunk) {
            Ok(0) => break None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break None,
            Err(e) => {
                panic!("no complete answer within 10 s ({e}): {}", String::from_utf8_lossy(&buf))
            }
        }
        if let Some(a) = parse_answer(&buf) {
            break Some(a);
        }
    };
    let _ = stream.shutdown(std::net::Shutdown::Both);
    let _ = w.join();
    answer.or_else(|| parse_answer(&buf)).unwrap_or_else(|| {
        panic!("the connection closed without a complete answer: {}", String::from_utf8_lossy(&buf))
    })
}

/// A complete HTTP answer with a `content-length` in `buf`, if there is one.
fn parse_answer(buf: &[u8]) -> Option<(u16, Vec<u8>)> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    let status = head.get(9..12)?.parse().ok()?;
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())?;
    let body = buf.get(end + 4..end + 4 + len)?;
    Some((status, body.to_vec()))
}

#[test]
fn oversized_requests_get_a_bounded_4xx() {
    let emu = Emu::start();
    let e = emu.running();
    let addr = e.addr();
    let token = crate::common::token(e);
    let path = Endpoint::create(&e.account(), &emu.videos(true)[0]).path();
    let auth = format!("authorization: Bearer {token}\r\n");
    let host = format!("host: {addr}\r\n");
    let cases: Vec<(&str, String, usize, bool, u16)> = vec![
        (
            "a 8 MiB body",
            format!(
                "POST {path} HTTP/1.1\r\n{host}{auth}content-type: application/json\r\ncontent-length: {}\r\n\r\n",
                8 << 20
            ),
            8 << 20,
            false,
            413,
        ),
        (
            "a 8 MiB chunked body",
            format!(
                "POST {path} HTTP/1.1\r\n{host}{auth}content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
            ),
            8 << 20,
            true,
            413,
        ),
        (
            "a 2 MiB admin body",
            format!(
                "PUT /__emulator/faults HTTP/1.1\r\n{host}{auth}content-type: application/json\r\ncontent-length: {}\r\n\r\n",
                2 << 20
            ),
            2 << 20,
            false,
            413,
        ),
        (
            "a 64 KiB header",
            format!("GET {path} HTTP/1.1\r\n{host}{auth}x-big: {}\r\n\r\n", "a".repeat(64 * 1024)),
            0,
            false,
            431,
        ),
        (
            "500 headers",
            format!(
                "GET {path} HTTP/1.1\r\n{host}{auth}{}\r\n",
                (0..500).map(|i| format!("x-h{i}: v\r\n")).collect::<String>()
            ),
            0,
            false,
            431,
        ),
        (
            "a 1 MB path",
            format!("GET {path}/{} HTTP/1.1\r\n{host}{auth}\r\n", "a".repeat(1 << 20)),
            0,
            false,
            414,
        ),
        (
            "an 8 MB header that never ends",
            format!("GET {path} HTTP/1.1\r\n{host}{auth}x-endless: {}", "a".repeat(8 << 20)),
            0,
            false,
            431,
        ),
    ];
    for (name, head, body_len, chunked, expected) in cases {
        let (status, body) = raw(addr, head, body_len, chunked);
        assert!((400..500).contains(&status), "{name}: status {status}");
        assert_eq!(status, expected, "{name}: {}", String::from_utf8_lossy(&body));
        assert_failure_envelope(name, &body);
    }
    // Without credentials, an oversized request is still a 4XX, never a 5XX.
    let (status, body) = raw(
        addr,
        format!("POST {path} HTTP/1.1\r\n{host}content-length: {}\r\n\r\n", 8 << 20),
        8 << 20,
        false,
    );
    assert!((400..500).contains(&status), "status {status}");
    assert_failure_envelope("an 8 MiB body without credentials", &body);
    // And the emulator still serves.
    let (status, _) = raw(addr, format!("GET {path} HTTP/1.1\r\n{host}{auth}\r\n"), 0, false);
    assert_eq!(status, 200);
}

const EVIL_DISPOSITION: [&str; 3] = [
    r#"attachment; filename="../../evil.mp4""#,
    r#"attachment; filename*=UTF-8''..%2F..%2Fevil.mp4"#,
    r#"attachment; filename="/tmp/evil-abs.mp4""#,
];

#[test]
fn fetch_never_writes_outside_the_chosen_directory() {
    let videos: Vec<String> = (1..=4).map(|i| format!("{i:032x}")).collect();
    let server = MiniServer::start(move |req, conn, _| {
        let host = req.headers.iter().find(|(k, _)| k == "host").map(|(_, v)| v.clone());
        let origin = format!("http://{}", host.unwrap_or_default());
        if req.path.contains("/stream/") {
            let video = req.path.split("/stream/").nth(1).unwrap_or("").split('/').next();
            // Each video's file URL tries another way to name a path outside.
            let url = match video.unwrap_or("").trim_start_matches('0') {
                "1" => format!("{origin}/{}/downloads/default.mp4", video.unwrap_or("")),
                "2" => format!("{origin}/..%2F..%2Fevil/downloads/..%2F..%2Fevil.mp4"),
                "3" => format!("{origin}/a/b/../../../../evil/downloads/%2e%2e%2fevil.mp4"),
                _ => format!("{origin}/x/downloads/..%5C..%5Cevil.mp4?filename=..%2F..%2Fevil"),
            };
            respond(conn, 200, &[("content-type", "application/json".into())], &ready_list(&url));
        } else {
            let n = req.path.len() % EVIL_DISPOSITION.len();
            respond(
                conn,
                200,
                &[
                    ("content-type", "video/mp4".into()),
                    ("content-disposition", EVIL_DISPOSITION[n].into()),
                ],
                b"not really an mp4",
            );
        }
    });
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("a/b/out");
    let run = |args: &[&str]| {
        let mut c = cfstream();
        c.env("CLOUDFLARE_BASE_URL", format!("{}/client/v4", server.origin()))
            .env("CLOUDFLARE_ACCOUNT_ID", "023e105f4ecef8ad9ca31a8372d0c353")
            .env("CLOUDFLARE_API_TOKEN", TOKEN)
            .args(["--json", "downloads", "fetch", "--overwrite"])
            .args(args);
        c.output().unwrap()
    };
    let out_s = format!("{}/", out.display());
    let res = run(&[&videos[0], &videos[1], &videos[2], &videos[3], "-o", &out_s]);
    assert_eq!(res.status.code(), Some(0), "{}", texts(&res).1);
    let res = run(&[&videos[0], "-o", &out_s, "--filename", "clip"]);
    assert_eq!(res.status.code(), Some(0), "{}", texts(&res).1);
    // A hostile --filename never reaches the server.
    let before = server.requests.lock().unwrap().len();
    for bad in ["../../evil", "/tmp/evil", "a/b", "..", "a.b", ""] {
        let res = run(&[&videos[0], "-o", &out_s, "--filename", bad]);
        assert_eq!(res.status.code(), Some(2), "{bad}: {}", texts(&res).1);
    }
    assert_eq!(server.requests.lock().unwrap().len(), before);
    assert!(server.requests.lock().unwrap().iter().all(|r| r.method == "GET"));

    // The library, given a directory, names the file from validated parts only.
    let lib_out = root.path().join("c/d/lib");
    std::fs::create_dir_all(&lib_out).unwrap();
    runtime().block_on(async {
        let client = Client::builder()
            .credentials(Credentials::token(TOKEN))
            .base_url(format!("{}/client/v4", server.origin()))
            .build()
            .unwrap();
        let account: AccountId = "023e105f4ecef8ad9ca31a8372d0c353".parse().unwrap();
        let api = client.downloads(&account);
        let o = server.origin();
        for (i, url) in [
            format!("{o}/..%2F..%2Fevil/downloads/..%2F..%2Fevil.mp4"),
            format!("{o}/a/b/../../../../evil/downloads/%2e%2e%2fevil.m4a"),
            format!("{o}/x/downloads/..%5C..%5Cevil.mp4"),
            format!("{o}/%2e%2e/downloads/default.mp4%2F..%2F..%2Fevil"),
            format!("{o}/x/downloads/.."),
        ]
        .into_iter()
        .enumerate()
        {
            let d: Download = serde_json::from_value(json!({
                "status": "ready", "percentComplete": 100, "url": url
            }))
            .unwrap();
            assert_eq!(d.status, DownloadStatus::Ready);
            let opts = FetchOptions::default().overwrite(true);
            match api.fetch(&d, &lib_out, opts).await {
                Ok(o) => assert_eq!(o.path.parent(), Some(lib_out.as_path()), "{url}: {o:?}"),
                Err(e) => assert_eq!(e.kind(), cfstream_http::ErrorKind::Build, "{i} {url}: {e}"),
            }
            let e = api
                .fetch(&d, &lib_out, FetchOptions::default().filename("../../evil"))
                .await
                .unwrap_err();
            assert_eq!(e.kind(), cfstream_http::ErrorKind::Build, "{e}");
            assert!(e.to_string().contains("../../evil"), "{e}");
        }
    });

    let files = walk(root.path());
    assert!(!files.is_empty());
    for f in &files {
        let parent = f.parent().unwrap();
        assert!(
            parent == out || parent == lib_out,
            "a file outside the chosen directory: {}",
            f.display()
        );
        let name = f.file_name().unwrap().to_string_lossy();
        assert!(!name.contains("evil") && !name.ends_with(".part"), "{}", f.display());
    }
    assert!(out.join("clip.mp4").is_file() && out.join(format!("{}.mp4", videos[3])).is_file());
    assert!(!Path::new("/tmp/evil-abs.mp4").exists());
}

#[test]
fn the_emulator_builder_defaults_to_loopback() {
    runtime().block_on(async {
        let e = Emulator::builder().progress(Progress::Instant).start().await.unwrap();
        assert!(e.addr().ip().is_loopback(), "{}", e.addr());
        e.shutdown().await;
    });
}

/// What a hostile server puts in its text: a screen clear, a window title (OSC), a carriage
/// return that overwrites the line, and a C1 CSI.
const ESCAPES: &str = "\u{1b}[2J\u{1b}]0;pwned\u{7}\rX\u{9b}31m";
/// A signed URL token: three base64url parts joined by dots.
const JWT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ2aWRlbyJ9.c2lnbmF0dXJlLXNpZw";

/// Whether `text` holds a control character a terminal would obey (all but newline and tab).
fn raw_controls(text: &str) -> Vec<char> {
    text.chars()
        .filter(|c| (c.is_control() && !matches!(c, '\n' | '\t')) || *c == '\u{9b}')
        .collect()
}

/// A server that echoes the credentials it is sent and sends control characters: video 1 has
/// a ready default download with an `echo` field and a signed file URL on this server, and a
/// download of a hostile type and status; video 2 is a failure envelope whose message echoes
/// the credentials.
fn echoing_server() -> MiniServer {
    MiniServer::start(move |req, conn, _| {
        let header = |name: &str| {
            req.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default()
        };
        let echo = format!(
            "{} {} {}",
            header("authorization"),
            header("x-auth-email"),
            header("x-auth-key")
        );
        let origin = format!("http://{}", header("host"));
        let json = [("content-type", "application/json".to_owned())];
        if req.path.contains(&format!("/stream/{:032x}/", 1)) {
            let body = json!({
                "success": true, "errors": [], "messages": [],
                "result": {
                    "default": {
                        "status": "ready", "percentComplete": 100,
                        "url": format!("{origin}/{JWT}/downloads/default.mp4"),
                        "echo": echo,
                    },
                    format!("x{ESCAPES}"): {"status": format!("ready{ESCAPES}"), "percentComplete": 5},
                }
            });
            respond(conn, 200, &json, &serde_json::to_vec(&body).unwrap());
        } else if req.path.contains("/stream/") {
            let body = json!({
                "success": false, "messages": [], "result": null,
                "errors": [{"code": 10011, "message": format!("bad request from {echo}{ESCAPES}")}],
            });
            respond(conn, 400, &json, &serde_json::to_vec(&body).unwrap());
        } else {
            respond(conn, 200, &[("content-type", "video/mp4".into())], b"not really an mp4");
        }
    })
}

/// [`ESCAPES`] as the CLI prints it.
const ESCAPED: &str = r"\u{1b}[2J\u{1b}]0;pwned\u{7}\rX\u{9b}31m";

#[test]
fn echoed_credentials_and_control_characters_are_never_printed() {
    let server = echoing_server();
    let port = server.addr.port();
    let v1 = format!("{:032x}", 1);
    let v2 = format!("{:032x}", 2);
    let out = tempfile::tempdir().unwrap();
    let run = |envs: &[(&str, &str)], args: &[&str]| {
        let mut c = cfstream();
        c.env("CLOUDFLARE_BASE_URL", format!("{}/client/v4", server.origin()))
            .env("CLOUDFLARE_ACCOUNT_ID", "023e105f4ecef8ad9ca31a8372d0c353")
            .envs(envs.iter().copied())
            .args(args);
        let res = c.output().unwrap();
        let (stdout, stderr) = texts(&res);
        let what = format!("{args:?}");
        assert_no_secret(&format!("stdout of {what}"), &stdout);
        assert_no_secret(&format!("stderr of {what}"), &stderr);
        assert!(!stdout.contains(EMAIL) && !stderr.contains(EMAIL), "{what}: the email");
        assert_eq!(raw_controls(&stdout), Vec::<char>::new(), "{what}: {stdout}");
        assert_eq!(raw_controls(&stderr), Vec::<char>::new(), "{what}: {stderr}");
        (res.status.code(), stdout, stderr)
    };
    let token = [("CLOUDFLARE_API_TOKEN", TOKEN)];

    // The table escapes the server's type and status; the error lines redact the token.
    let (code, stdout, stderr) = run(&token, &["downloads", "list", "--jobs", "1", &v1, &v2]);
    assert_eq!(code, Some(1), "{stderr}");
    let row = format!("{v1}  x{ESCAPED}  ready{ESCAPED}  5%        -");
    assert!(stdout.lines().any(|l| l == row), "{stdout}");
    assert_eq!(
        stderr,
        format!(
            "error: video {v2}: could not list its downloads\n  \
             caused by: list: http 400: api error: 10011: bad request from Bearer [redacted]  {ESCAPED}\n\
             list: 1 of 2 videos succeeded, 1 failed\n"
        )
    );

    // JSON Lines redact the email and key in every string; the logs too.
    let key = [("CLOUDFLARE_EMAIL", EMAIL), ("CLOUDFLARE_API_KEY", KEY)];
    let (code, stdout, stderr) =
        run(&key, &["--json", "-vv", "downloads", "list", "--jobs", "1", &v1, &v2]);
    assert_eq!(code, Some(1), "{stderr}");
    let lines: Vec<Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines[0]["downloads"]["default"]["echo"], " [redacted] [redacted]", "{stdout}");
    // JSON keeps the server's text exactly, escaped (C1 included) on the wire.
    assert_eq!(
        lines[0]["downloads"][format!("x{ESCAPES}")]["status"],
        format!("ready{ESCAPES}"),
        "{stdout}"
    );
    assert!(stdout.contains(r#""ready\u001b[2J\u001b]0;pwned\u0007\rX\u009b31m""#), "{stdout}");
    let cause = "list: http 400: api error: 10011: bad request from  [redacted] [redacted]";
    assert_eq!(lines[1]["error"]["causes"][0], format!("{cause}{ESCAPES}"), "{stdout}");
    let logged = format!(
        "call failed error=http 400: api error: 10011: bad request from  [redacted] [redacted]{ESCAPED}\n"
    );
    assert!(stderr.contains(&logged), "{stderr}");

    // A fetch at trace level: the signed token in the file's URL is not logged, and the
    // result still gives the URL.
    let dir = format!("{}/", out.path().display());
    let trace = [("CLOUDFLARE_API_TOKEN", TOKEN), ("RUST_LOG", "trace")];
    let (code, stdout, stderr) =
        run(&trace, &["--json", "-vvv", "downloads", "fetch", &v1, "-o", &dir]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains(JWT), "{stderr}");
    let logged = format!(" url=http://127.0.0.1:{port}/[redacted]/downloads/default.mp4 ");
    assert!(stderr.contains(&logged), "{stderr}");
    let result: Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(
        result["download"]["url"],
        format!("http://127.0.0.1:{port}/{JWT}/downloads/default.mp4")
    );
    assert_eq!(result["download"]["echo"], "Bearer [redacted]  ");
}
