//! Shared helpers of every test module: the binary with a clean environment, an emulator
//! running in this test process (its own tokio runtime, so it serves while the test blocks on
//! the child process), [`MiniServer`] for answers the emulator never gives, and [`walk`].

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cfstream_emulator::{Emulator, EmulatorBuilder, Progress, RunningEmulator};
use cfstream_types::VideoId;
use serde_json::json;

/// Every variable the binary reads, removed so that the developer's shell cannot leak in.
const VARS: [&str; 8] = [
    "CLOUDFLARE_API_TOKEN",
    "CLOUDFLARE_EMAIL",
    "CLOUDFLARE_API_KEY",
    "CLOUDFLARE_ACCOUNT_ID",
    "CLOUDFLARE_BASE_URL",
    "RUST_LOG",
    "CFSTREAM_SIGNING_KEY_ID",
    "CFSTREAM_SIGNING_KEY_PEM",
];

/// The `cfstream` binary, with no `CLOUDFLARE_*` variable set.
pub(crate) fn cfstream() -> assert_cmd::Command {
    let mut c = assert_cmd::Command::new(env!("CARGO_BIN_EXE_cfstream"));
    for v in VARS {
        c.env_remove(v);
    }
    c.env("NO_COLOR", "1");
    c.timeout(Duration::from_secs(120));
    c
}

/// An emulator serving on 127.0.0.1:0 for the length of a test.
pub(crate) struct Emu {
    rt: tokio::runtime::Runtime,
    pub(crate) emu: Option<RunningEmulator>,
}

impl Emu {
    /// The demo seed, downloads ready at once, 4 KiB files.
    pub(crate) fn start() -> Emu {
        Emu::with(|b| b)
    }

    /// Like [`Emu::start`], with the builder adjusted by `f`.
    pub(crate) fn with(f: impl FnOnce(EmulatorBuilder) -> EmulatorBuilder) -> Emu {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let builder = Emulator::builder().progress(Progress::Instant).file_size(4096);
        let emu = rt.block_on(f(builder).start()).unwrap();
        Emu { rt, emu: Some(emu) }
    }

    pub(crate) fn running(&self) -> &RunningEmulator {
        self.emu.as_ref().unwrap()
    }

    /// The base URL as the binary gets it.
    pub(crate) fn base_url(&self) -> String {
        self.running().base_url().to_string()
    }

    /// The binary, pointed at this emulator with its token.
    pub(crate) fn cmd(&self) -> assert_cmd::Command {
        let e = self.running();
        let mut c = cfstream();
        c.env("CLOUDFLARE_BASE_URL", self.base_url());
        c.env("CLOUDFLARE_ACCOUNT_ID", e.account().to_string());
        c.env("CLOUDFLARE_API_TOKEN", token(e));
        c
    }

    /// Video ids of the seed that are ready (or not ready) to stream, without the ones that
    /// require signed URLs.
    pub(crate) fn videos(&self, ready: bool) -> Vec<VideoId> {
        self.running()
            .videos()
            .into_iter()
            .filter(|v| v.ready_to_stream == ready && !v.require_signed_urls)
            .map(|v| v.id)
            .collect()
    }

    /// `text` with the emulator's port (and the given directory) replaced by placeholders.
    pub(crate) fn redact(&self, text: &str, dir: Option<&Path>) -> String {
        let port = self.running().addr().port().to_string();
        let mut t = text.replace(&format!("127.0.0.1:{port}"), "127.0.0.1:[PORT]");
        if let Some(d) = dir {
            t = t.replace(&d.display().to_string(), "[DIR]");
        }
        t
    }
}

impl Drop for Emu {
    fn drop(&mut self) {
        if let Some(e) = self.emu.take() {
            self.rt.block_on(e.shutdown());
        }
    }
}

/// The token the emulator accepts.
pub(crate) fn token(e: &RunningEmulator) -> String {
    e.credentials().secret().expose().to_owned()
}

/// Stdout and stderr of a finished command, as text.
pub(crate) fn texts(out: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A child process killed when dropped, so that a failed assertion leaves no server running.
pub(crate) struct KillOnDrop(pub(crate) std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A request as [`MiniServer`] hands it to its handler.
#[derive(Debug, Clone)]
pub(crate) struct MiniRequest {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) headers: Vec<(String, String)>,
}

type Handler = dyn Fn(&MiniRequest, &mut TcpStream, &AtomicBool) + Send + Sync;

/// A tiny HTTP/1.1 server on 127.0.0.1 for answers the emulator never gives (hostile names,
/// a stalled body). One request per connection; the handler writes the whole answer and may
/// stall until the server is dropped (the flag turns true).
pub(crate) struct MiniServer {
    pub(crate) addr: SocketAddr,
    pub(crate) requests: Arc<Mutex<Vec<MiniRequest>>>,
    stop: Arc<AtomicBool>,
}

impl MiniServer {
    pub(crate) fn start(
        handler: impl Fn(&MiniRequest, &mut TcpStream, &AtomicBool) + Send + Sync + 'static,
    ) -> MiniServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let (reqs, flag) = (requests.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut conn) = conn else { continue };
                let (handler, reqs, flag) = (handler.clone(), reqs.clone(), flag.clone());
                std::thread::spawn(move || {
                    let Some(req) = read_request(&mut conn) else { return };
                    reqs.lock().unwrap().push(req.clone());
                    handler(&req, &mut conn, &flag);
                });
            }
        });
        MiniServer { addr, requests, stop }
    }

    pub(crate) fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for MiniServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

fn read_request(conn: &mut TcpStream) -> Option<MiniRequest> {
    conn.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut buf = Vec::new();
    let mut byte = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = conn.read(&mut byte).ok()?;
        if n == 0 || buf.len() > 64 * 1024 {
            return None;
        }
        buf.extend_from_slice(&byte[..n]);
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    let mut lines = text.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, path) = (first.next()?.to_owned(), first.next()?.to_owned());
    let headers = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Some(MiniRequest { method, path, headers })
}

/// Writes a whole answer with `Connection: close`.
pub(crate) fn respond(conn: &mut TcpStream, status: u16, headers: &[(&str, String)], body: &[u8]) {
    let mut head =
        format!("HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(body);
    let _ = conn.flush();
}

/// A list answer with one ready `default` download at `url`.
pub(crate) fn ready_list(url: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "success": true, "errors": [], "messages": [],
        "result": {"default": {"status": "ready", "percentComplete": 100, "url": url}}
    }))
    .unwrap()
}

/// Every file under `dir`, recursively.
pub(crate) fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The `ETag` the emulator serves for `video`'s `default` file (a raw `HEAD`, so that a test
/// server can present itself as the same file host).
pub(crate) fn emulator_file_etag(e: &RunningEmulator, video: &VideoId) -> String {
    let mut conn = TcpStream::connect(e.addr()).expect("connect to the emulator");
    let head = format!(
        "HEAD /{video}/downloads/default.mp4 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
    );
    conn.write_all(head.as_bytes()).expect("send HEAD");
    let mut answer = String::new();
    conn.read_to_string(&mut answer).expect("read HEAD answer");
    answer
        .lines()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("etag")))
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_else(|| panic!("no ETag in {answer:?}"))
}

/// A loopback port that refuses connections for as long as the returned socket lives: bound,
/// never listening, so no other test's server can take it (a dropped listener's port could).
pub(crate) fn refusing_port() -> (tokio::net::TcpSocket, u16) {
    let held = tokio::net::TcpSocket::new_v4().unwrap();
    held.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = held.local_addr().unwrap().port();
    (held, port)
}
