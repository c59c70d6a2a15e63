//! `kill -9`: the emulator's state file and a `fetch` in progress survive a SIGKILL at any
//! moment with nothing lost or corrupted, and the next run resumes.
//! (`std::process::Child::kill` sends SIGKILL on unix.)

use std::io::BufRead as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use cfstream_emulator::expected_file_bytes;
use cfstream_http::reqwest;
use cfstream_types::{DownloadStatus, DownloadType, VideoId};
use serde_json::Value;

use crate::common::{Emu, KillOnDrop, MiniServer, emulator_file_etag, ready_list, respond, texts};

/// A tiny deterministic generator, so each run kills at the same moments.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// Polls `cond` every 10 ms, at most `tries` times.
fn wait_for(tries: u32, mut cond: impl FnMut() -> bool) -> bool {
    for _ in 0..tries {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}

/// `cfstream serve` on a free port with this state file; its base URL, account and token.
fn serve(state: &Path) -> (KillOnDrop, String, String, String) {
    let child = Command::new(env!("CARGO_BIN_EXE_cfstream"))
        .args(["--json", "serve", "--port", "0", "--progress", "instant", "--file-size", "1000"])
        .arg("--state")
        .arg(state)
        .env_remove("CLOUDFLARE_API_TOKEN")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        // Every request is logged on stderr: a pipe nobody reads would fill and block it.
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut guard = KillOnDrop(child);
    let mut line = String::new();
    std::io::BufReader::new(guard.0.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let v: Value = serde_json::from_str(&line)
        .unwrap_or_else(|e| panic!("serve did not start ({e}): {line:?}"));
    let base = v["base_url"].as_str().unwrap().to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "serve binds loopback: {base}");
    (guard, base, v["account"].as_str().unwrap().to_owned(), cfstream_emulator::DEMO_TOKEN.into())
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap()
}

/// Adds a video and creates its default download until `stop`, counting acknowledgements in
/// `acks`; returns what was acknowledged: (video, download created too).
async fn write_until(
    stop: Arc<AtomicBool>,
    acks: Arc<AtomicUsize>,
    base: String,
    account: String,
    token: String,
) -> Vec<(String, bool)> {
    let origin = base.trim_end_matches("/client/v4").to_owned();
    let h = http();
    let mut acked = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let Ok(r) = h
            .post(format!("{origin}/__emulator/videos"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"ready_to_stream": true}))
            .send()
            .await
        else {
            break;
        };
        if r.status() != 200 {
            break;
        }
        let Ok(v) = r.json::<Value>().await else { break };
        let id = v["result"]["id"].as_str().unwrap().to_owned();
        acked.push((id.clone(), false));
        acks.fetch_add(1, Ordering::SeqCst);
        let url = format!("{base}/accounts/{account}/stream/{id}/downloads/default");
        let Ok(r) = h.post(url).bearer_auth(&token).send().await else { break };
        if r.status() != 200 {
            break;
        }
        // The answer is sent after the state is saved: once it is read, the create is durable.
        if r.bytes().await.is_err() {
            break;
        }
        acked.last_mut().unwrap().1 = true;
    }
    acked
}

#[test]
fn the_state_file_survives_kill_9_at_any_moment() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut rng = Lcg(0x5eed);
    let mut acked: Vec<(String, bool)> = Vec::new();
    for round in 0..5 {
        let (mut server, base, account, token) = serve(&state);
        // Everything acknowledged before earlier kills is still there.
        check_acked(&rt, &base, &account, &token, &acked, round);
        let stop = Arc::new(AtomicBool::new(false));
        let acks = Arc::new(AtomicUsize::new(0));
        let writer = rt.spawn(write_until(
            stop.clone(),
            acks.clone(),
            base.clone(),
            account.clone(),
            token.clone(),
        ));
        // Kill while writes are happening, at a different moment each round.
        assert!(wait_for(1000, || acks.load(Ordering::SeqCst) > 0), "round {round}: no write");
        std::thread::sleep(Duration::from_millis(rng.below(200)));
        server.0.kill().unwrap();
        server.0.wait().unwrap();
        stop.store(true, Ordering::SeqCst);
        let round_acked = rt.block_on(writer).unwrap();
        assert!(!round_acked.is_empty(), "round {round}: no write happened before the kill");
        acked.extend(round_acked);
        // The file is whole JSON (an atomic rename, never a torn write).
        let bytes = std::fs::read(&state).unwrap();
        let v: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "round {round}: the state file is corrupt ({e}): {}",
                String::from_utf8_lossy(&bytes)
            )
        });
        assert!(v.is_object(), "{v}");
    }
    let (_server, base, account, token) = serve(&state);
    check_acked(&rt, &base, &account, &token, &acked, 99);
    // Only the state file and, at worst, a temporary file of an interrupted write are left.
    for f in std::fs::read_dir(dir.path()).unwrap() {
        let name = f.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            name == "state.json" || (name.starts_with(".state.json.") && name.ends_with(".tmp")),
            "{name}"
        );
    }
}

fn check_acked(
    rt: &tokio::runtime::Runtime,
    base: &str,
    account: &str,
    token: &str,
    acked: &[(String, bool)],
    round: usize,
) {
    rt.block_on(async {
        let h = http();
        for (video, created) in acked {
            let url = format!("{base}/accounts/{account}/stream/{video}/downloads");
            let r = h.get(url).bearer_auth(token).send().await.unwrap();
            let status = r.status();
            let v: Value = r.json().await.unwrap();
            assert_eq!(status, 200, "round {round}: video {video} lost: {v}");
            if *created {
                assert_eq!(
                    v["result"]["default"]["status"], "ready",
                    "round {round}: {video}: {v}"
                );
            }
        }
    });
}

const SIZE: u64 = 64 << 20;

/// Checks that `path` holds the first bytes of `video`'s default file, exactly.
fn assert_prefix(path: &Path, video: &VideoId) -> u64 {
    let bytes = std::fs::read(path).unwrap();
    let expected = expected_file_bytes(video, &DownloadType::Default, 0, bytes.len());
    if let Some(at) = bytes.iter().zip(&expected).position(|(a, b)| a != b) {
        panic!("{}: wrong byte at offset {at} of {}", path.display(), bytes.len());
    }
    bytes.len() as u64
}

fn fetch_result(out: &std::process::Output) -> Value {
    let (stdout, stderr) = texts(out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let line = stdout.lines().find(|l| l.contains(r#""event":"result""#)).unwrap();
    serde_json::from_str(line).unwrap()
}

#[test]
fn a_fetch_killed_mid_transfer_resumes_byte_exact() {
    let emu = Emu::with(|b| b.file_size(SIZE));
    let e = emu.running();
    let video = emu.videos(true)[0].clone();
    e.admin()
        .set_download_status(&e.account(), &video, DownloadType::Default, DownloadStatus::Ready)
        .unwrap();
    // A file host that sends the first 3 MiB of the file (with the emulator's validator: it is
    // the same file), then stalls until the test ends.
    let sent = 3 << 20;
    let stall_video = video.clone();
    let etag = emulator_file_etag(e, &video);
    let server = MiniServer::start(move |req, conn, stop| {
        let host = req.headers.iter().find(|(k, _)| k == "host").map(|(_, v)| v.clone());
        if req.path.contains("/stream/") {
            let url =
                format!("http://{}/{stall_video}/downloads/default.mp4", host.unwrap_or_default());
            respond(conn, 200, &[("content-type", "application/json".into())], &ready_list(&url));
            return;
        }
        use std::io::Write as _;
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: video/mp4\r\ncontent-length: {SIZE}\r\netag: {etag}\r\n\r\n"
        );
        let _ = conn.write_all(head.as_bytes());
        let _ = conn.write_all(&expected_file_bytes(&stall_video, &DownloadType::Default, 0, sent));
        let _ = conn.flush();
        while !stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join(format!("{video}.mp4"));
    let part = out.path().join(format!("{video}.mp4.part"));
    let child = Command::new(env!("CARGO_BIN_EXE_cfstream"))
        .args(["--json", "downloads", "fetch", video.as_str(), "-o"])
        .arg(format!("{}/", out.path().display()))
        .env("CLOUDFLARE_BASE_URL", format!("{}/client/v4", server.origin()))
        .env("CLOUDFLARE_ACCOUNT_ID", e.account().to_string())
        .env("CLOUDFLARE_API_TOKEN", "t")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = KillOnDrop(child);
    // The client writes in 256 KiB blocks: most of what was sent reaches the .part file.
    let written = || std::fs::metadata(&part).map_or(0, |m| m.len());
    assert!(
        wait_for(1000, || written() >= 2 << 20),
        "the .part file grew to {} bytes only",
        written()
    );
    kill(&mut child.0);
    assert!(!dest.exists(), "a file under the final name after a kill");
    let kept = assert_prefix(&part, &video);
    assert!(kept >= 2 << 20 && kept <= sent as u64, "{kept}");

    // The next run, against the emulator, resumes from the .part file.
    let res = emu
        .cmd()
        .args(["--json", "downloads", "fetch", video.as_str(), "-o"])
        .arg(format!("{}/", out.path().display()))
        .output()
        .unwrap();
    let v = fetch_result(&res);
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["resumed_from"], kept, "{v}");
    assert_eq!(v["bytes"], SIZE, "{v}");
    assert!(!part.exists());
    assert_eq!(assert_prefix(&dest, &video), SIZE);
    drop(server);
}

fn kill(child: &mut Child) {
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), None, "killed by a signal: {status:?}");
}

#[test]
fn fetches_killed_at_random_moments_leave_only_exact_prefixes() {
    let emu = Emu::with(|b| b.file_size(SIZE));
    let e = emu.running();
    let video = emu.videos(true)[0].clone();
    e.admin()
        .set_download_status(&e.account(), &video, DownloadType::Default, DownloadStatus::Ready)
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let dir_arg = format!("{}/", out.path().display());
    let dest = out.path().join(format!("{video}.mp4"));
    let part = out.path().join(format!("{video}.mp4.part"));
    let mut rng = Lcg(0xf37c);
    let mut killed_mid_transfer = 0;
    for round in 0..4 {
        if dest.exists() {
            std::fs::remove_file(&dest).unwrap();
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_cfstream"))
            .args(["--json", "downloads", "fetch", video.as_str(), "-o", &dir_arg])
            .env("CLOUDFLARE_BASE_URL", emu.base_url())
            .env("CLOUDFLARE_ACCOUNT_ID", e.account().to_string())
            .env("CLOUDFLARE_API_TOKEN", crate::common::token(e))
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Once new bytes flow, kill at a random moment.
        let before = std::fs::metadata(&part).map_or(0, |m| m.len());
        let started = wait_for(1000, || {
            std::fs::metadata(&part).is_ok_and(|m| m.len() > before) || dest.exists()
        });
        assert!(started, "round {round}: the fetch never started");
        std::thread::sleep(Duration::from_millis(rng.below(40)));
        child.kill().unwrap();
        child.wait().unwrap();
        if dest.exists() {
            // It finished first: then the file is whole.
            assert_eq!(assert_prefix(&dest, &video), SIZE, "round {round}");
        } else {
            killed_mid_transfer += 1;
            if part.exists() {
                let kept = assert_prefix(&part, &video);
                assert!(kept <= SIZE, "round {round}");
            }
        }
    }
    // Then an uninterrupted run completes whatever is left, byte for byte.
    if dest.exists() {
        std::fs::remove_file(&dest).unwrap();
    }
    let had = std::fs::metadata(&part).map_or(0, |m| m.len());
    let res = emu
        .cmd()
        .args(["--json", "downloads", "fetch", video.as_str(), "-o", &dir_arg])
        .output()
        .unwrap();
    let v = fetch_result(&res);
    assert_eq!(v["resumed_from"], had, "{v}");
    assert_eq!(assert_prefix(&dest, &video), SIZE);
    assert!(!part.exists());
    assert!(killed_mid_transfer > 0, "no round was killed mid-transfer");
}
