//! A local, stateful Cloudflare Stream MP4 downloads server for tests and CI: the five
//! operations of the downloads API with Cloudflare's shapes, progress over time, public download
//! files, signed URLs (the token endpoint, signing keys, videos that require a token), Cloudflare's
//! auth and rate limit, fault injection and optional persistence.
//!
//! # Example
//!
//! ```
//! use cfstream_emulator::{Emulator, Progress, DEMO_TOKEN};
//! use cfstream_types::{decode, DownloadsEnvelope, Endpoint};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let emulator = Emulator::builder().progress(Progress::Instant).start().await?;
//! let video = emulator.videos()[0].id.clone(); // the demo seed's first video is ready to stream
//!
//! let url = Endpoint::create(&emulator.account(), &video).url(emulator.base_url().as_str());
//! let res = reqwest::Client::new().post(url).bearer_auth(DEMO_TOKEN).send().await?;
//! assert_eq!(res.status(), 200);
//! let downloads = decode::<DownloadsEnvelope>(&res.bytes().await?)?.into_result()?;
//! let file_url = downloads.default.unwrap().url.unwrap();
//! assert!(file_url.as_str().ends_with("/downloads/default.mp4"));
//!
//! let file = reqwest::get(file_url).await?.bytes().await?;
//! assert_eq!(file.len() as u64, cfstream_emulator::DEFAULT_FILE_SIZE);
//! emulator.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Routes
//!
//! | method | path | answer |
//! | --- | --- | --- |
//! | GET | `[/client/v4]/accounts/{account_id}/stream/{identifier}/downloads` | the video's downloads |
//! | POST | same | creates the `default` download (or answers the current state) |
//! | DELETE | same | deletes the `default` download: `result: "ok"` |
//! | POST | `[/client/v4]/accounts/{account_id}/stream/{identifier}/downloads/{download_type}` | creates a `default` or `audio` download |
//! | DELETE | same | deletes it: `result: "ok"` |
//! | POST | `[/client/v4]/accounts/{account_id}/stream/{identifier}/token` | a signed URL token for the video: `result: {token}` |
//! | POST | `[/client/v4]/accounts/{account_id}/stream/keys` | creates a signing key: `result: {id, pem, jwk, created}` |
//! | GET | same | the signing keys: `result: [{id, created}]` |
//! | DELETE | `[/client/v4]/accounts/{account_id}/stream/keys/{identifier}` | deletes it: `result: "ok"` |
//! | GET, HEAD | `/{uid}/downloads/default.mp4`, `/{uid}/downloads/audio.m4a` | the file (no credentials) |
//! | GET, HEAD | `/{token}/downloads/default.mp4`, `/{token}/downloads/audio.m4a` | the file of the token's video (a signed URL) |
//! | GET | `/__emulator/state` | every account, video and download, the faults, counters |
//! | GET | `/__emulator/requests` | the latest answered requests (method, path, status) |
//! | POST | `/__emulator/videos` | adds a video: `{"account"?, "id"?, "ready_to_stream"?: true, "duration_secs"?: 30, "require_signed_urls"?: false}` |
//! | PUT | `/__emulator/readiness` | `{"account"?, "video", "ready_to_stream": bool}` |
//! | PUT | `/__emulator/signed` | `{"account"?, "video", "require_signed_urls": bool}` |
//! | PUT | `/__emulator/download-status` | `{"account"?, "video", "download_type"?: "default", "status": "error"}` |
//! | GET, PUT | `/__emulator/faults` | the [`Faults`] JSON (see [`faults`]) |
//! | POST | `/__emulator/reset` | back to the seed (see [`Admin::reset`]) |
//!
//! API operations are routed with the path templates of [`cfstream_types::endpoint`] and of
//! [`cfstream_types::signed::SigningOperation`], with and without the `/client/v4` prefix; the
//! signing operations go through the same rate limit, credentials and faults (routes
//! `create_token`, `create_key`, `list_keys`, `delete_key`) as the downloads ones. Admin routes need the same credentials as the API; an
//! omitted `account` is the first one. They answer in the same envelope and are never rate
//! limited or faulted.
//!
//! # Behaviour
//!
//! - Every answer is `application/json` in Cloudflare's envelope (`errors` and `messages`
//!   always arrays). Every failure is `{"success":false,"errors":[{"code","message"}],
//!   "messages":[],"result":null}` with a code of at least 1000; internal causes go to the
//!   tracing log, not to the client.
//! - Checks, in order: path and headers bounded (414, 431; 413 for a body over 64 KiB, and
//!   hyper's own answers to unparsable requests are rewritten into the envelope); unknown
//!   route: 404, code 7003 "No route for the URI"; wrong method: 405 with `Allow`, code 10405;
//!   the rate limit (429); credentials: none 401 code 9106, wrong 403 code 10000 (checked
//!   before faults, so a 2XX never comes without valid credentials); injected faults;
//!   `account_id` or `identifier` over 32
//!   characters (counted after percent-decoding, in characters): 400 code 10400 naming the parameter in the message and `source.pointer`;
//!   a `download_type` other than `default` or `audio`: 400 naming it; a POST body that is
//!   neither empty nor JSON: 400.
//! - An account the emulator does not hold answers 403 code 10000, which is what Cloudflare
//!   answers a token without access to an account. A video id of valid length that names no
//!   video (non-hex included): 404 code 10404.
//! - Create on a video not ready to stream: 409 code 10409. Create starts the download
//!   `inprogress` at 0 %, rising (floored to a tenth, so never going down) to `ready` at 100 %
//!   over the [`Progress`] duration, measured with `tokio::time::Instant`. Create again answers
//!   the current state. `url` is always present and points back at the emulator.
//! - Delete removes the download; deleting one that does not exist is harmless and also
//!   answers `result: "ok"` (a repeated DELETE must be idempotent, and Cloudflare's legacy
//!   `DELETE .../downloads` is documented as a plain "turn off"). Delete of an unknown video
//!   is still 404. `DELETE .../downloads` deletes the `default` download only, as the spec says.
//! - The file route serves [`expected_file_bytes`] of [`EmulatorBuilder::file_size`] bytes
//!   (up to 16 MiB generated once and kept, larger ones streamed in 64 KiB chunks), with
//!   `Content-Length`, `Accept-Ranges: bytes`, `ETag`, a single
//!   `Range` (206 + `Content-Range`; 416 + `Content-Range: bytes */size` when unsatisfiable;
//!   other forms are ignored), `?filename=NAME` (1 to 120 of `[A-Za-z0-9_-]`, else 400) as
//!   `Content-Disposition: attachment; filename="NAME.mp4"`, 404 until the download is `ready`.
//! - Signed URLs. A video with `require_signed_urls` (in the seed, `PUT /__emulator/signed`,
//!   [`Admin::set_require_signed_urls`]; the demo seed's [`DEMO_SIGNED_VIDEO`]) answers 401
//!   code 10401 at its plain file URL. A token in place of the video id is checked against the
//!   system clock: an RS256 signature by the emulator's own key or by a signing key of the
//!   video's account that was not deleted, `kid` in the header (and the same in the claims if
//!   there), `sub` a video, `exp` after now, `nbf` (if any) not after now, `downloadable: true`;
//!   anything else is 403 code 10403 saying which rule failed (never echoing the token). A
//!   valid token serves exactly what the plain URL of an unsigned video serves (`Range`, `HEAD`,
//!   `?filename=`), for signed and unsigned videos alike. `accessRules` are enforced first to
//!   last (the first matching rule's `allow` or `block` decides, 403 when blocked; none matching
//!   serves): `any`, and `ip.src` against the client's address; the client's country is never
//!   known, so an `ip.geoip.country` rule never matches; rules the emulator cannot read (an
//!   unknown type or action, a bad address, more than 5) are 403 at the file and 400 at the
//!   token endpoint. In the request log and the tracing span the token is `[token]`.
//! - The token endpoint takes no body or a JSON [`cfstream_types::TokenRequest`]: `downloadable`
//!   defaults to `false`, `exp` to one hour from now, `nbf` to now; `exp` more than 24 hours
//!   ahead, or `id` without `pem` (or the reverse), or a `pem` that is not base64 of an RSA PEM
//!   private key, is 400 naming the field. With `id` and `pem` it signs with that key (header
//!   and claim `kid` = `id`); otherwise with the emulator's own RSA 2048 key, made on first use
//!   and kept (with its `kid`) for the life of the process, never saved. An unknown video is 404.
//! - Signing keys are real RSA 2048 keys (aws-lc-rs, on the blocking pool): `pem` is base64 of
//!   a PKCS#8 PEM private key, `jwk` base64 of the public JWK (`kty`, `n`, `e`, `kid`, `alg:
//!   RS256`, `use: sig`), `created` RFC 3339. Only the public part is kept (and saved in the
//!   state file, per account); deleting an unknown key is 404 code 10404. A reset drops them.
//! - Rate limit ([`RateLimit`]), in fixed windows, one per accepted credential (however it is
//!   written: `bearer  TOKEN ` is `Bearer TOKEN`) and one per client address for requests
//!   without valid credentials (made-up tokens buy no fresh windows), in a table of at most
//!   4096 (past it, new keys share one window): every API answer carries `x-ratelimit-limit`,
//!   `x-ratelimit-remaining` and `x-ratelimit-reset` (seconds); past the limit, 429 code 10429
//!   with `retry-after` until the window ends.
//! - Error codes: 7003, 9106 and 10000 are Cloudflare's; the others follow the emulator's
//!   pattern `10000 + HTTP status` (10400, 10404, 10405, 10409, 10429 named in
//!   [`cfstream_types::ErrorCode`]; 10401 and 10403 for the signed file route, 10416 for 416,
//!   and 10500, 10502, 10503... for injected 5XX faults, and for a change the state file cannot
//!   take, are emulator-only too).
//! - Connections: a client has [`HEADER_READ_TIMEOUT`] (30 s) to send a request's head, from
//!   its first byte or from the connect, and a connection idle for [`IDLE_TIMEOUT`] (60 s)
//!   between requests is closed. At most [`EmulatorBuilder::max_connections`] are open (1024 by
//!   default, or 64 below the open-file limit): at the cap a new connection closes the one idle
//!   the longest; if every connection is answering a request, it is refused with 503 code
//!   10503, `retry-after: 1`.
//! - Each request is logged on a `request` span (`method`, `path`) with an `answered` event
//!   (`status`, `latency_ms`) at INFO; credentials are never logged.
//! - State file ([`EmulatorBuilder::state_file`]): locked for the emulator's life (a second
//!   emulator on the same file refuses to start: [`ErrorKind::StateInUse`]); loaded at start if
//!   it exists (the seed is then only what [`Admin::reset`] returns to; a file with an account,
//!   or a video in an account, twice is refused; temporary files of an interrupted save are
//!   removed); rewritten atomically after every change, before the change is answered, and at
//!   shutdown. A change that cannot be saved (disk full, permissions) is undone and answered
//!   503 code 10503: with a connection refused over the cap, the only 5XX that is not an
//!   injected fault. In-progress downloads resume
//!   where they were plus the time the emulator was down (the file records when it was
//!   written), so progress never goes down across a restart, even after a `kill -9`.
//!
//! # Crate features
//!
//! None.
#![deny(missing_docs)]

mod admin;
mod api;
mod auth;
mod config;
mod conn;
mod content;
mod error;
pub mod faults;
mod files;
mod input;
mod model;
mod persist;
mod ratelimit;
mod reqlog;
mod respond;
mod router;
pub mod seed;
mod server;
mod shared;
mod signing;
mod state;

use crate::reqlog::RequestLog;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cfstream_types::{AccountId, Credentials, Url};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::{Progress, RateLimit};
pub use content::expected_file_bytes;
pub use error::{Error, ErrorKind};
pub use faults::{Fault, FaultRoute, FaultRule, Faults};
pub use reqlog::RequestRecord;
pub use seed::{DEMO_ACCOUNT, DEMO_SIGNED_VIDEO, DEMO_VIDEOS, Seed, VideoInfo};
pub use shared::Admin;

use crate::conn::{Registry, Timeouts};
use crate::faults::{FaultCell, FaultPlan};
use crate::persist::Persister;
use crate::ratelimit::Limiter;
use crate::shared::Shared;
use crate::state::Store;

/// The API token accepted when no credentials are configured.
pub const DEMO_TOKEN: &str = "cfstream-demo-token";

/// The size of each generated download file unless [`EmulatorBuilder::file_size`] says
/// otherwise: 1 MiB.
pub const DEFAULT_FILE_SIZE: u64 = 1024 * 1024;

/// How long a connection may sit idle between requests, unless
/// [`EmulatorBuilder::idle_timeout`] says otherwise: 60 s.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a client may take to send a request's head, unless
/// [`EmulatorBuilder::header_read_timeout`] says otherwise: 30 s.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The default cap on open connections: 1024, or 64 below the process's open-file limit if
/// that is lower (the rest is left for the state file, the listener and the like).
fn default_max_connections() -> usize {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
    let below =
        limit.map_or(usize::MAX, |l| usize::try_from(l.saturating_sub(64)).unwrap_or(usize::MAX));
    below.clamp(16, 1024)
}

/// The entry point: [`Emulator::builder`].
#[derive(Debug)]
pub struct Emulator;

impl Emulator {
    /// A builder with the defaults: the [`DEMO_TOKEN`], the demo [`Seed`], progress over 3 s,
    /// no faults, Cloudflare's rate limit, 1 MiB files, `127.0.0.1` on an ephemeral port, no
    /// state file.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder {
            credentials: Vec::new(),
            seed: Seed::demo(),
            progress: Progress::default(),
            faults: Faults::none(),
            rate_limit: RateLimit::default(),
            file_size: DEFAULT_FILE_SIZE,
            bind: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            state_file: None,
            max_connections: None,
            timeouts: Timeouts { header_read: HEADER_READ_TIMEOUT, idle: IDLE_TIMEOUT },
        }
    }
}

/// Configures and starts an emulator (see [`Emulator::builder`]).
#[derive(Debug, Clone)]
pub struct EmulatorBuilder {
    credentials: Vec<Credentials>,
    seed: Seed,
    progress: Progress,
    faults: Faults,
    rate_limit: RateLimit,
    file_size: u64,
    bind: SocketAddr,
    state_file: Option<PathBuf>,
    max_connections: Option<usize>,
    timeouts: Timeouts,
}

impl EmulatorBuilder {
    /// The settings of a quick, complete conformance run (`cargo xtask conformance` and
    /// `cfstream conformance` with no target): downloads ready after 300 ms, 256 KiB files, no
    /// rate limit, and one scripted 429 (`retry-after: 1`) on the second list, so that the
    /// harness sees, judges and waits out a rate-limited answer as it would on a live account.
    #[must_use]
    pub fn conformance_preset(self) -> Self {
        self.progress(Progress::Over(std::time::Duration::from_millis(300)))
            .rate_limit(RateLimit::disabled())
            .file_size(256 * 1024)
            .faults(Faults::none().rule(FaultRule::script(
                FaultRoute::Api(cfstream_types::Operation::List),
                [Fault::Pass, Fault::RateLimited { retry_after_secs: 1 }],
            )))
    }

    /// Accepts these credentials (call again to accept several). Without any, the emulator
    /// accepts the token [`DEMO_TOKEN`].
    #[must_use]
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials.push(credentials);
        self
    }

    /// Starts from this seed instead of [`Seed::demo`].
    #[must_use]
    pub fn seed(mut self, seed: Seed) -> Self {
        self.seed = seed;
        self
    }

    /// How fast downloads get ready (default: over 3 seconds).
    #[must_use]
    pub fn progress(mut self, progress: Progress) -> Self {
        self.progress = progress;
        self
    }

    /// Faults to inject from the start (default: none).
    #[must_use]
    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// The API rate limit (default: 1200 requests per 5 minutes).
    #[must_use]
    pub fn rate_limit(mut self, rate_limit: RateLimit) -> Self {
        self.rate_limit = rate_limit;
        self
    }

    /// The size in bytes of every generated download file (default [`DEFAULT_FILE_SIZE`]).
    #[must_use]
    pub fn file_size(mut self, bytes: u64) -> Self {
        self.file_size = bytes;
        self
    }

    /// The address to listen on (default `127.0.0.1:0`, an ephemeral port).
    #[must_use]
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }

    /// Keeps the state in this JSON file, so that it survives a restart (see the crate docs).
    #[must_use]
    pub fn state_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.state_file = Some(path.into());
        self
    }

    /// The most connections open at once (default: 1024, or fewer when the process's open-file
    /// limit is lower: 64 below it). At the cap, a new connection closes the one idle the
    /// longest; if every connection is answering a request, the new one is refused with 503
    /// (code 10503) and `retry-after: 1`.
    #[must_use]
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = Some(max);
        self
    }

    /// How long a connection may sit idle between requests before it is closed (default
    /// [`IDLE_TIMEOUT`], 60 s).
    #[must_use]
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.idle = timeout;
        self
    }

    /// How long a client may take to send a request's head, from its first byte (or from the
    /// connection's start) before the connection is closed (default [`HEADER_READ_TIMEOUT`],
    /// 30 s).
    #[must_use]
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.header_read = timeout;
        self
    }

    /// Binds, loads the state and starts serving on the current tokio runtime.
    pub async fn start(self) -> Result<RunningEmulator, Error> {
        self.seed.validate()?;
        self.faults.validate()?;
        let credentials = if self.credentials.is_empty() {
            vec![Credentials::token(DEMO_TOKEN)]
        } else {
            self.credentials
        };
        let listener = tokio::net::TcpListener::bind(self.bind).await.map_err(|e| {
            Error::with_source(ErrorKind::Bind, format!("cannot listen on {}: {e}", self.bind), e)
        })?;
        let local = listener.local_addr().map_err(|e| {
            Error::with_source(
                ErrorKind::Bind,
                format!("cannot read the address bound for {}: {e}", self.bind),
                e,
            )
        })?;
        let host = match local.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        let addr = SocketAddr::new(host, local.port());
        let origin = format!("http://{addr}");
        let total = self.progress.duration();
        let persist = self.state_file.map(Persister::open).transpose()?.map(Arc::new);
        let store = match persist.as_ref().map(|p| p.load()).transpose()?.flatten() {
            Some(file) => Store::from_file(file, total, origin.clone()).map_err(|e| {
                let path =
                    persist.as_ref().map(|p| p.path().display().to_string()).unwrap_or_default();
                Error::new(e.kind(), format!("invalid state file '{path}': {e}"))
            })?,
            None => Store::new(self.seed.raw_accounts().to_vec(), total, origin.clone()),
        };
        let shared = Arc::new(Shared {
            store: Mutex::new(store),
            seed: self.seed,
            credentials,
            faults: FaultCell::new(FaultPlan::new(self.faults.clone())),
            initial_faults: self.faults,
            limiter: Limiter::new(self.rate_limit),
            file_size: self.file_size,
            progress: self.progress,
            persist,
            writer: Mutex::new(()),
            conns: Registry::new(self.max_connections.unwrap_or_else(default_max_connections)),
            timeouts: self.timeouts,
            generation: std::sync::atomic::AtomicU64::new(0),
            log: RequestLog::default(),
            files: Mutex::new(Default::default()),
            own_key: tokio::sync::OnceCell::new(),
        });
        if let Some(p) = shared.persist.clone() {
            // Write the state file now, so a bad path fails the start rather than every change.
            let snap = {
                let store = shared.store();
                shared.snapshot(&store)
            };
            if let Some((version, bytes)) = snap {
                tokio::task::spawn_blocking(move || p.write(version, &bytes)).await.map_err(
                    |e| Error::with_source(ErrorKind::Io, format!("state writer failed: {e}"), e),
                )??;
            }
        }
        let (shutdown, rx) = watch::channel(false);
        let app = router::admin_app(shared.clone());
        let task = tokio::spawn(server::serve(listener, app, shared.clone(), rx));
        tracing::info!(%origin, "cfstream emulator listening");
        Ok(RunningEmulator { addr, origin, shared, shutdown, task: Some(task) })
    }
}

/// A running emulator. Dropping it stops it (gracefully, in the background);
/// [`RunningEmulator::shutdown`] stops it and waits.
#[derive(Debug)]
pub struct RunningEmulator {
    addr: SocketAddr,
    origin: String,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl RunningEmulator {
    /// The API base URL, like `http://127.0.0.1:PORT/client/v4`.
    pub fn base_url(&self) -> Url {
        // `origin` is `http://` + a socket address: always a valid URL.
        Url::parse(&format!("{}/client/v4", self.origin))
            .expect("the emulator's origin is a valid URL")
    }

    /// The address to connect to (the bound address, with `127.0.0.1` or `::1` for an
    /// unspecified one).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The first account (the demo account with the default seed).
    pub fn account(&self) -> AccountId {
        let store = self.shared.store();
        match store.accounts().first() {
            Some(a) => a.id.clone(),
            // A store always has an account (seeds and state files are checked); the demo
            // account is the least surprising answer if that ever changed.
            None => seed::demo_account(),
        }
    }

    /// The first accepted credentials.
    pub fn credentials(&self) -> Credentials {
        self.shared.credentials.first().cloned().unwrap_or_else(|| Credentials::token(DEMO_TOKEN))
    }

    /// Every video now, account by account.
    pub fn videos(&self) -> Vec<VideoInfo> {
        self.shared.store().videos()
    }

    /// The first video that is ready to stream and does not require signed URLs (the demo
    /// seed has three), if any.
    pub fn ready_video(&self) -> Option<cfstream_types::VideoId> {
        self.videos()
            .into_iter()
            .find(|v| v.ready_to_stream && !v.require_signed_urls)
            .map(|v| v.id)
    }

    /// The first video that requires signed URLs (the demo seed's [`DEMO_SIGNED_VIDEO`], ready
    /// to stream), if any.
    pub fn signed_video(&self) -> Option<cfstream_types::VideoId> {
        self.videos().into_iter().find(|v| v.require_signed_urls).map(|v| v.id)
    }

    /// In-process control.
    pub fn admin(&self) -> Admin {
        Admin { shared: self.shared.clone() }
    }

    /// Stops accepting, lets open requests finish (at most 5 s), saves the state file, and
    /// waits for all of it.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task).await.is_err() {
                abort.abort();
            }
        }
        self.save_now();
    }

    fn save_now(&self) {
        if self.shared.persist.is_some() {
            let snap = {
                let mut store = self.shared.store();
                // A fresh version, so the latest progress is written even if nothing changed.
                store.version += 1;
                self.shared.snapshot(&store)
            };
            self.shared.save_blocking(snap);
        }
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        if self.task.is_some() {
            let _ = self.shutdown.send(true);
            self.save_now();
        }
    }
}
