//! Shared test helpers: ids, fixtures, clients set up for virtual time, a recording reporter,
//! the catch-all mock, and a scripted raw HTTP file server for fetch tests.

pub(crate) mod server;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cfstream_http::{Client, ClientBuilder, Error, Operation, RateLimit, Reporter, RetryConfig};
use cfstream_types::{
    AccountId, DownloadStatus, DownloadType, Downloads, PercentComplete, VideoId,
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub(crate) const TOKEN: &str = "SECRET-TOKEN-7f3a9c";
pub(crate) const KEY: &str = "SECRET-GLOBAL-KEY-41d8";
pub(crate) const EMAIL: &str = "ops@example.com";

pub(crate) const LIST_NEWEST: &str = include_str!("../../fixtures/list-newest.json");
pub(crate) const LIST_LEGACY: &str = include_str!("../../fixtures/list-legacy.json");
pub(crate) const DELETED_NEWEST: &str = include_str!("../../fixtures/deleted-newest.json");
pub(crate) const DELETED_LEGACY: &str = include_str!("../../fixtures/deleted-legacy.json");
pub(crate) const FAILURE_10000: &str = include_str!("../../fixtures/failure-10000.json");
pub(crate) const FAILURE_7003: &str = include_str!("../../fixtures/failure-7003.json");
pub(crate) const FAILURE_429: &str = include_str!("../../fixtures/failure-429.json");
pub(crate) const PROXY_502: &str = include_str!("../../fixtures/proxy-502.html");

pub(crate) fn account() -> AccountId {
    "023e105f4ecef8ad9ca31a8372d0c353".parse().unwrap()
}

pub(crate) fn video() -> VideoId {
    "ea95132c15732412d22c1476fa83f27a".parse().unwrap()
}

/// A reqwest client with no timers of its own (no idle-pool sweeper), so that a paused tokio
/// clock does not jump while a response is on its way.
pub(crate) fn quiet_reqwest() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_idle_timeout(None)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A builder for tests in virtual time: token credentials, no timeouts, no jitter (backoff is
/// the ceiling: 1 s, 2 s, 4 s), 3 attempts, no rate limit.
pub(crate) fn builder(base: &str) -> ClientBuilder {
    Client::builder()
        .credentials(cfstream_types::Credentials::token(TOKEN))
        .base_url(base)
        .reqwest_client(quiet_reqwest())
        .without_timeouts()
        .retry(RetryConfig::default().max_attempts(3).jitter(|c| c))
        .rate_limit(RateLimit::unlimited())
}

pub(crate) async fn mock_server() -> MockServer {
    // A server of its own, never one of wiremock's pooled servers: a pooled server is handed
    // to the next test on the same port, where a request still in flight from the test before
    // (a client being dropped mid-retry) would count as this test's.
    let server = MockServer::builder().start().await;
    // Anything no test expects answers 500 and fails loudly.
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(500).set_body_string("unexpected request"))
        .with_priority(u8::MAX)
        .mount(&server)
        .await;
    server
}

pub(crate) fn base(server: &MockServer) -> String {
    format!("{}/client/v4", server.uri())
}

/// The path of an operation on the test ids, under `/client/v4`.
pub(crate) fn op_path(op: Operation) -> String {
    let (a, v) = (account(), video());
    let t = DownloadType::Audio;
    let e = match op {
        Operation::List => cfstream_types::Endpoint::list(&a, &v),
        Operation::Create => cfstream_types::Endpoint::create(&a, &v),
        Operation::Delete => cfstream_types::Endpoint::delete(&a, &v),
        Operation::CreateType => cfstream_types::Endpoint::create_type(&a, &v, t).unwrap(),
        _ => cfstream_types::Endpoint::delete_type(&a, &v, t).unwrap(),
    };
    format!("/client/v4{}", e.path())
}

pub(crate) fn op_method(op: Operation) -> &'static str {
    op.method().as_str()
}

/// Runs `op` on the test ids; list and create answer `Some(downloads)`, deletes `None`.
pub(crate) async fn call(client: &Client, op: Operation) -> Result<Option<Downloads>, Error> {
    let (a, v) = (account(), video());
    let api = client.downloads(&a);
    match op {
        Operation::List => api.list(&v).await.map(Some),
        Operation::Create => api.create(&v).await.map(Some),
        Operation::Delete => api.delete(&v).await.map(|()| None),
        Operation::CreateType => api.create_type(&v, DownloadType::Audio).await.map(Some),
        _ => api.delete_type(&v, DownloadType::Audio).await.map(|()| None),
    }
}

/// One reported event.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Event {
    Wait(DownloadStatus, f64),
    Started(Option<String>, Option<u64>, u64),
    Progress(u64),
    Finished(u64),
    Retrying(Operation, u32, Duration),
    FetchRetrying(u32, Duration),
}

/// A reporter that records every event, with an optional hook on progress.
#[derive(Default)]
pub(crate) struct Recorder {
    pub events: Mutex<Vec<Event>>,
    #[allow(clippy::type_complexity)]
    pub on_progress: Option<Box<dyn Fn(u64) + Send + Sync>>,
}

impl Recorder {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }
    pub(crate) fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap().clone()
    }
    pub(crate) fn retries(&self) -> Vec<Duration> {
        self.events()
            .into_iter()
            .filter_map(|e| if let Event::Retrying(_, _, d) = e { Some(d) } else { None })
            .collect()
    }
}

impl Reporter for Recorder {
    fn wait_progress(
        &self,
        _: &VideoId,
        _: &DownloadType,
        status: &DownloadStatus,
        percent: PercentComplete,
    ) {
        self.events.lock().unwrap().push(Event::Wait(status.clone(), percent.get()));
    }
    fn fetch_started(&self, video: Option<&VideoId>, total: Option<u64>, resumed_from: u64) {
        self.events.lock().unwrap().push(Event::Started(
            video.map(|v| v.to_string()),
            total,
            resumed_from,
        ));
    }
    fn fetch_progress(&self, bytes: u64) {
        if let Some(f) = &self.on_progress {
            f(bytes);
        }
        self.events.lock().unwrap().push(Event::Progress(bytes));
    }
    fn fetch_finished(&self, bytes: u64) {
        self.events.lock().unwrap().push(Event::Finished(bytes));
    }
    fn retrying(&self, operation: Operation, attempt: u32, delay: Duration, _reason: &str) {
        self.events.lock().unwrap().push(Event::Retrying(operation, attempt, delay));
    }
    fn fetch_retrying(&self, attempt: u32, delay: Duration, _reason: &str) {
        self.events.lock().unwrap().push(Event::FetchRetrying(attempt, delay));
    }
}

/// How the scripted file server answers one connection.
#[derive(Debug, Clone)]
pub(crate) enum Script {
    /// `200` with the whole file.
    Full,
    /// `200` announcing the whole file, but only the first `n` bytes are sent, then close.
    CutAt(usize),
    /// Honours `Range: bytes=N-` with `206` (or `416` with `bytes */LEN` past the end), and
    /// `If-Range`: a validator other than the file's gets `200` and the whole file. Without
    /// `Range`, `200`.
    Ranged,
    /// `Ranged`, but ignoring `If-Range`: the rest of whatever file it has now.
    RangedIgnoringIfRange,
    /// `200` announcing `n` bytes more than it sends, every time.
    ShortBody(usize),
    /// A canned status with a small body.
    Status(u16),
    /// The inner script, for this other file (another version, with its own `ETag`).
    Other(Arc<Vec<u8>>, Box<Script>),
    /// The inner script, without an `ETag`.
    NoEtag(Box<Script>),
    /// This status line and these header lines (no `Content-Length`: add it), then `body`.
    Raw(&'static str, Vec<String>, Vec<u8>),
    /// `Full`'s head and the first `n` bytes, then silence with the connection open.
    StallAfter(usize),
}

/// The strong `ETag` the file server sends for `file`.
pub(crate) fn etag(file: &[u8]) -> String {
    use std::hash::{DefaultHasher, Hash as _, Hasher as _};
    let mut h = DefaultHasher::new();
    file.hash(&mut h);
    format!("\"{:016x}\"", h.finish())
}

/// (status line, header lines, body) of `script` for `file`, given the request head.
fn answer(script: &Script, file: &Arc<Vec<u8>>, head: &str) -> (String, Vec<String>, Vec<u8>) {
    let header = |name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    };
    let range = header("range")
        .and_then(|r| r.strip_prefix("bytes=").map(str::to_owned))
        .and_then(|r| r.trim_end_matches('-').parse::<usize>().ok());
    let n = file.len();
    let tag = format!("ETag: {}", etag(file));
    let len = |k: usize| format!("Content-Length: {k}");
    let ranged = |range: Option<usize>| match range {
        Some(r) if r < n => (
            "206 Partial Content".to_owned(),
            vec![tag.clone(), len(n - r), format!("Content-Range: bytes {r}-{}/{n}", n - 1)],
            file[r..].to_vec(),
        ),
        Some(_) => (
            "416 Range Not Satisfiable".to_owned(),
            vec![len(0), format!("Content-Range: bytes */{n}")],
            Vec::new(),
        ),
        None => ("200 OK".to_owned(), vec![tag.clone(), len(n)], file.to_vec()),
    };
    match script {
        Script::Full => ("200 OK".into(), vec![tag.clone(), len(n)], file.to_vec()),
        Script::CutAt(k) | Script::StallAfter(k) => {
            ("200 OK".into(), vec![tag.clone(), len(n)], file[..*k].to_vec())
        }
        Script::ShortBody(k) => ("200 OK".into(), vec![tag.clone(), len(n + k)], file.to_vec()),
        Script::Ranged => {
            let stale = header("if-range").is_some_and(|v| v != etag(file));
            ranged(if stale { None } else { range })
        }
        Script::RangedIgnoringIfRange => ranged(range),
        Script::Status(code) => (format!("{code} Oops"), vec![len(4)], b"oops".to_vec()),
        Script::Other(other, inner) => answer(inner, other, head),
        Script::NoEtag(inner) => {
            let (status, headers, body) = answer(inner, file, head);
            (status, headers.into_iter().filter(|h| !h.starts_with("ETag:")).collect(), body)
        }
        Script::Raw(status, headers, body) => {
            let mut headers = headers.clone();
            headers.push(len(body.len()));
            ((*status).to_owned(), headers, body.clone())
        }
    }
}

/// A raw HTTP/1.1 file server: each connection is answered by the next script (the last one
/// repeats) and closed. Records every request head.
pub(crate) struct FileServer {
    pub port: u16,
    pub heads: Arc<Mutex<Vec<String>>>,
}

impl FileServer {
    pub(crate) async fn start(file: Arc<Vec<u8>>, scripts: Vec<Script>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let seen = heads.clone();
        tokio::spawn(async move {
            let mut i = 0;
            loop {
                let Ok((mut s, _)) = listener.accept().await else { return };
                let script = scripts[i.min(scripts.len() - 1)].clone();
                i += 1;
                let mut head = Vec::new();
                let mut b = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if s.read(&mut b).await.unwrap_or(0) == 0 {
                        break;
                    }
                    head.push(b[0]);
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                seen.lock().unwrap().push(head.clone());
                let (status_line, headers, body) = answer(&script, &file, &head);
                let mut msg = format!(
                    "HTTP/1.1 {status_line}\r\nContent-Type: video/mp4\r\nConnection: close\r\n"
                );
                for h in headers {
                    msg.push_str(&h);
                    msg.push_str("\r\n");
                }
                msg.push_str("\r\n");
                let _ = s.write_all(msg.as_bytes()).await;
                let _ = s.write_all(&body).await;
                if let Script::StallAfter(_) = script {
                    // Held open and silent until the runtime ends.
                    tokio::spawn(async move {
                        let _s = s;
                        std::future::pending::<()>().await;
                    });
                    continue;
                }
                let _ = s.shutdown().await;
            }
        });
        Self { port, heads }
    }

    pub(crate) fn url(&self, video: &VideoId) -> url::Url {
        url::Url::parse(&format!("http://127.0.0.1:{}/{video}/downloads/default.mp4", self.port))
            .unwrap()
    }

    pub(crate) fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

/// A server in the test's runtime that accepts connections, reads nothing, answers nothing and
/// keeps them open: an API that has gone silent.
pub(crate) async fn silent_server() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    addr
}

/// A file of `n` pseudo-random bytes.
pub(crate) fn file_of(n: usize) -> Arc<Vec<u8>> {
    Arc::new((0..n).map(|i| (i * 7919 % 251) as u8).collect())
}

/// Serves `head` then `chunks` (raw bytes, as written) to every connection, then closes it.
pub(crate) async fn raw_server(head: &'static str, chunks: Vec<Vec<u8>>) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let chunks = chunks.clone();
            tokio::spawn(async move {
                let mut req = [0u8; 4096];
                let _ = s.read(&mut req).await;
                let _ = s.write_all(head.as_bytes()).await;
                for c in chunks {
                    if s.write_all(&c).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}
