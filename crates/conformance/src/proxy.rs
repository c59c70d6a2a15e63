//! The validating proxy: forwards real traffic to an upstream API and validates every answer
//! of the five operations on the fly, logging each violation ([`proxy`], [`RunningProxy`]).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use cfstream_types::{Operation, Url};
use http::{HeaderMap, HeaderName, StatusCode, header};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::error::{Error, ErrorKind};
use crate::redact::Redactor;
use crate::validate::{Validator, Violation};

/// The largest request body the proxy forwards.
const MAX_BODY: usize = 16 * 1024 * 1024;
/// How many violations a proxy keeps for [`RunningProxy::violations`] (all are logged).
const KEPT: usize = 10_000;

/// Where the proxy listens and what it forwards to.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProxyOptions {
    /// The API to forward to, e.g. `https://api.cloudflare.com/client/v4`.
    pub upstream: Url,
    /// Where to listen; port 0 picks a free port.
    pub bind: SocketAddr,
    /// How long one upstream call may take.
    pub timeout: Duration,
}

impl ProxyOptions {
    /// Forward to `upstream`, listen on `bind`, 60 s per upstream call.
    pub fn new(upstream: Url, bind: SocketAddr) -> Self {
        Self { upstream, bind, timeout: Duration::from_secs(60) }
    }
}

/// What a proxy saw, once it stopped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProxySummary {
    /// How many answers of the five operations it validated.
    pub answers: usize,
    /// The violations found (the first 10 000; every one is logged).
    pub violations: Vec<Violation>,
}

#[derive(Default)]
struct Seen {
    answers: usize,
    violations: Vec<Violation>,
}

struct Shared {
    upstream: Url,
    client: reqwest::Client,
    validator: Validator,
    seen: Mutex<Seen>,
}

/// A proxy serving in the background.
#[derive(Debug)]
pub struct RunningProxy {
    addr: SocketAddr,
    base_url: Url,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("upstream", &self.upstream.as_str()).finish_non_exhaustive()
    }
}

impl RunningProxy {
    /// Binds and starts serving in the background.
    pub async fn start(options: ProxyOptions) -> Result<Self, Error> {
        let client = reqwest::Client::builder()
            .timeout(options.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::with_source(ErrorKind::Setup, "cannot build the http client", e))?;
        let validator = Validator::new()?;
        let listener = tokio::net::TcpListener::bind(options.bind).await.map_err(|e| {
            Error::with_source(ErrorKind::Setup, format!("cannot listen on {}", options.bind), e)
        })?;
        let addr = listener.local_addr().map_err(|e| {
            Error::with_source(ErrorKind::Setup, "cannot read the bound address", e)
        })?;
        let mut base_url = options.upstream.clone();
        base_url
            .set_scheme("http")
            .and_then(|()| base_url.set_host(Some(&addr.ip().to_string())).map_err(|_| ()))
            .and_then(|()| base_url.set_port(Some(addr.port())))
            .map_err(|()| {
                Error::new(
                    ErrorKind::Setup,
                    format!("cannot derive the proxy url from '{}'", options.upstream),
                )
            })?;
        let shared = Arc::new(Shared {
            upstream: options.upstream,
            client,
            validator,
            seen: Mutex::default(),
        });
        let app = axum::Router::new().fallback(forward).with_state(Arc::clone(&shared));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
        });
        tracing::info!(%addr, upstream = %shared.upstream, "validating proxy listening");
        Ok(Self { addr, base_url, shared, stop: Some(stop), task })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL clients should use instead of the upstream's (same path, proxy's host).
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// What it has seen so far.
    pub fn summary(&self) -> ProxySummary {
        let seen = self.shared.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        ProxySummary { answers: seen.answers, violations: seen.violations.clone() }
    }

    /// Stops serving (finishing requests in flight) and tells what it saw.
    pub async fn shutdown(mut self) -> Result<ProxySummary, Error> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(Ok(())) => Ok(self.summary()),
            Ok(Err(e)) => {
                Err(Error::with_source(ErrorKind::Proxy, "the proxy failed while serving", e))
            }
            Err(e) => Err(Error::with_source(ErrorKind::Proxy, "the proxy task failed", e)),
        }
    }
}

/// Runs a validating proxy from `bind` to `upstream` until `shutdown` completes, logging every
/// violation (tracing, target `cfstream_conformance::proxy`), then tells what it saw.
pub async fn proxy(
    upstream: Url,
    bind: SocketAddr,
    shutdown: impl Future<Output = ()>,
) -> Result<ProxySummary, Error> {
    let running = RunningProxy::start(ProxyOptions::new(upstream, bind)).await?;
    shutdown.await;
    running.shutdown().await
}

const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    header::HOST,
    header::CONTENT_LENGTH,
    header::TRANSFER_ENCODING,
    header::TE,
    header::TRAILER,
    header::UPGRADE,
    header::PROXY_AUTHORIZATION,
];

fn copy_headers(from: &HeaderMap, to: &mut HeaderMap) {
    for (name, value) in from {
        if !HOP_BY_HOP.contains(name) && name.as_str() != "keep-alive" {
            to.append(name.clone(), value.clone());
        }
    }
}

/// Which of the five operations `method` on `path` (relative to the API base path) is, by the
/// types' route table. A trailing slash is tolerated, as servers commonly do.
pub(crate) fn classify(method: &http::Method, path: &str) -> Option<Operation> {
    // A HEAD answer has no body to judge (the types' table reads it as a list).
    if method == http::Method::HEAD {
        return None;
    }
    let path = path.strip_suffix('/').unwrap_or(path);
    Operation::match_request(method.as_str(), path).map(|(op, _)| op)
}

/// A redactor of the credentials `headers` carry (a bearer token, an email and a key).
fn request_credentials(headers: &HeaderMap) -> Redactor {
    let value = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let token = value("authorization").map(|v| v.strip_prefix("Bearer ").unwrap_or(&v).to_owned());
    Redactor::of([token, value("x-auth-key"), value("x-auth-email")].into_iter().flatten())
}

fn envelope(status: StatusCode, code: u64, message: &str) -> Response {
    let body = serde_json::json!({
        "success": false,
        "errors": [{"code": code, "message": message}],
        "messages": [],
        "result": null
    });
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    r
}

async fn forward(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return envelope(
                StatusCode::PAYLOAD_TOO_LARGE,
                1413,
                "request body too large for the proxy",
            );
        }
    };
    let path = parts.uri.path();
    let mut url = shared.upstream.clone();
    url.set_path(path);
    url.set_query(parts.uri.query());
    let base = shared.upstream.path().trim_end_matches('/');
    let op = path.strip_prefix(base).and_then(|rest| classify(&parts.method, rest));
    let mut headers = HeaderMap::new();
    copy_headers(&parts.headers, &mut headers);
    let sent =
        shared.client.request(parts.method.clone(), url).headers(headers).body(body).send().await;
    let upstream = match sent {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(method = %parts.method, path, error = %e, "upstream call failed");
            return envelope(
                StatusCode::BAD_GATEWAY,
                1502,
                "the validating proxy could not reach the upstream",
            );
        }
    };
    let status = upstream.status();
    let mut out_headers = HeaderMap::new();
    copy_headers(upstream.headers(), &mut out_headers);
    let answer = match upstream.bytes().await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(method = %parts.method, path, error = %e, "upstream body failed");
            return envelope(StatusCode::BAD_GATEWAY, 1502, "the upstream answer was cut short");
        }
    };
    if let Some(op) = op {
        // Judge (and log) a copy without the credentials the request carried, should the
        // upstream echo them; the client still gets the answer as it is.
        let redactor = request_credentials(&parts.headers);
        let mut judged_headers = out_headers.clone();
        redactor.headers(&mut judged_headers);
        let judged = redactor.body(answer.clone());
        let violations = shared.validator.check_http(op, status.as_u16(), &judged_headers, &judged);
        for v in &violations {
            tracing::warn!(
                operation = op.name(),
                status = status.as_u16(),
                check = %v.check,
                pointer = %v.pointer,
                rule = %v.rule,
                value = %v.value,
                "conformance violation"
            );
        }
        let mut seen = shared.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        seen.answers += 1;
        let room = KEPT.saturating_sub(seen.violations.len());
        seen.violations.extend(violations.into_iter().take(room));
    }
    let mut r = Response::new(Body::from(answer));
    *r.status_mut() = status;
    *r.headers_mut() = out_headers;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_the_five_operations() {
        let p = "/accounts/023e/stream/ea95/downloads";
        assert_eq!(classify(&http::Method::GET, p), Some(Operation::List));
        assert_eq!(classify(&http::Method::POST, p), Some(Operation::Create));
        assert_eq!(classify(&http::Method::DELETE, p), Some(Operation::Delete));
        assert_eq!(
            classify(&http::Method::POST, &format!("{p}/audio")),
            Some(Operation::CreateType)
        );
        assert_eq!(
            classify(&http::Method::DELETE, &format!("{p}/audio/")),
            Some(Operation::DeleteType)
        );
        assert_eq!(classify(&http::Method::GET, &format!("{p}/audio")), None);
        assert_eq!(classify(&http::Method::PUT, p), None);
        assert_eq!(classify(&http::Method::HEAD, p), None);
        assert_eq!(classify(&http::Method::GET, "/accounts/023e/stream/ea95"), None);
    }
}
