//! The validating proxy: forwards real traffic to an upstream API and validates every answer
//! of the five downloads operations and of the four signed-URL ones on the fly, logging each
//! violation ([`proxy`], [`RunningProxy`]).
//!
//! A signed-URL answer ([`SigningOperation`]) is judged by the same envelope rules (status,
//! content type, the failure envelope, `success` against the status, codes, `retry-after`) and,
//! on success, by its own derived schema and typed model. Its violations carry no
//! [`Violation::operation`] (which names one of the five); their `rule` starts with the
//! operation's name (`create_token: ...`). The token, the private keys (`pem`, `jwk`) and a
//! token request's `pem` are redacted before anything is judged or logged.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use cfstream_types::signed::{SigningKeyEnvelope, SigningKeysEnvelope, TokenEnvelope};
use cfstream_types::{DeletedEnvelope, Operation, SigningOperation, Url};
use http::{HeaderMap, HeaderName, StatusCode, header};
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::catalogue::Check;
use crate::error::{Error, ErrorKind};
use crate::redact::Redactor;
use crate::validate::{
    SIGNING_KEY_DELETED_RESPONSE, SIGNING_KEY_RESPONSE, SIGNING_KEYS_RESPONSE, TOKEN_RESPONSE,
    Validator, Violation, compile,
};

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
    /// How many answers it validated (of the five downloads operations and the four signed-URL
    /// ones).
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
    signing: &'static SigningSchemas,
    seen: Mutex<Seen>,
}

/// The derived schemas of the signed-URL operations' 200 bodies, compiled once per process.
struct SigningSchemas {
    token: jsonschema::Validator,
    key: jsonschema::Validator,
    keys: jsonschema::Validator,
    deleted: jsonschema::Validator,
}

static SIGNING: LazyLock<Result<SigningSchemas, String>> = LazyLock::new(|| {
    Ok(SigningSchemas {
        token: compile("token-response.json", TOKEN_RESPONSE)?,
        key: compile("signing-key-response.json", SIGNING_KEY_RESPONSE)?,
        keys: compile("signing-keys-response.json", SIGNING_KEYS_RESPONSE)?,
        deleted: compile("signing-key-deleted-response.json", SIGNING_KEY_DELETED_RESPONSE)?,
    })
});

impl SigningSchemas {
    /// The compiled schemas; fails only if the embedded ones do not compile (a build defect).
    fn get() -> Result<&'static Self, Error> {
        SIGNING.as_ref().map_err(|e| Error::new(ErrorKind::Schema, e.clone()))
    }

    fn of(&self, op: SigningOperation) -> &jsonschema::Validator {
        match op {
            SigningOperation::CreateToken => &self.token,
            SigningOperation::CreateKey => &self.key,
            SigningOperation::ListKeys => &self.keys,
            // `SigningOperation` is non-exhaustive: a new one is judged as a delete (`"ok"`)
            // only until it gets a schema of its own; today `DeleteKey` is the last.
            _ => &self.deleted,
        }
    }
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
        let signing = SigningSchemas::get()?;
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
            signing,
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

/// Which signed-URL operation `method` on `path` (relative to the API base path) is, by the
/// types' table of their path templates (a `{...}` segment matches any non-empty segment). A
/// trailing slash is tolerated, as for the five.
pub(crate) fn classify_signing(method: &http::Method, path: &str) -> Option<SigningOperation> {
    let path = path.strip_suffix('/').unwrap_or(path);
    SigningOperation::ALL.into_iter().find(|op| {
        op.method().as_str() == method.as_str() && {
            let (mut want, mut got) = (op.path_template().split('/'), path.split('/'));
            loop {
                match (want.next(), got.next()) {
                    (None, None) => break true,
                    (Some(w), Some(g))
                        if if w.starts_with('{') { !g.is_empty() } else { w == g } => {}
                    _ => break false,
                }
            }
        }
    })
}

/// What the proxy judges an answer as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Judged {
    Downloads(Operation),
    Signing(SigningOperation),
}

/// The secrets a signed-URL exchange may carry: the token and a key's `pem` and `jwk` in the
/// answer's `result` (or in each listed key), and the `pem` of a token request. Nothing else
/// of either body is looked at.
fn signing_secrets(request: &[u8], answer: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut collect = |v: &Value| {
        for field in ["token", "pem", "jwk"] {
            if let Some(s) = v.get(field).and_then(Value::as_str) {
                out.push(s.to_owned());
            }
        }
    };
    if let Ok(v) = serde_json::from_slice::<Value>(request) {
        collect(&v);
    }
    if let Ok(v) = serde_json::from_slice::<Value>(answer) {
        match v.get("result") {
            Some(Value::Array(items)) => items.iter().for_each(&mut collect),
            Some(r) => collect(r),
            None => {}
        }
    }
    out
}

/// `result[0].id` (a typed decoder's path) -> `/result/0/id`; `.` -> ``.
fn decoder_path_to_pointer(path: &str) -> String {
    if path == "." || path.is_empty() {
        return String::new();
    }
    path.replace('[', ".")
        .replace(']', "")
        .split('.')
        .filter(|s| !s.is_empty())
        .map(|s| format!("/{}", s.replace('~', "~0").replace('/', "~1")))
        .collect()
}

/// Every rule an answer of the signed-URL operation `op` breaks (see the module docs). The
/// envelope rules that do not depend on the operation are the downloads' own, applied through
/// [`Validator::check_http`] as for any of the five, without its verdicts on a success body
/// (the downloads' schema and model), which are replaced by `op`'s.
fn check_signing(
    validator: &Validator,
    schemas: &SigningSchemas,
    op: SigningOperation,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
) -> Vec<Violation> {
    let success = (200..=299).contains(&status);
    let downloads_only = [Check::BodySchema.name(), Check::ClientModelDecodes.name()];
    let mut out: Vec<Violation> = validator
        .check_http(Operation::List, status, headers, body)
        .into_iter()
        .filter(|v| !(success && downloads_only.contains(&v.check.as_str())))
        .collect();
    if success {
        out.extend(signing_success_body(schemas.of(op), op, body));
    }
    for v in &mut out {
        v.operation = None;
        v.rule = format!("{}: {}", op.name(), v.rule);
    }
    out
}

/// The 2XX body of `op` against its derived schema, then (if the schema accepts it) its typed
/// model.
fn signing_success_body(
    schema: &jsonschema::Validator,
    op: SigningOperation,
    body: &[u8],
) -> Vec<Violation> {
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            return vec![Violation::new(
                None,
                Check::BodySchema.name(),
                "",
                format!("body must be JSON ({e})"),
                String::from_utf8_lossy(body),
            )];
        }
    };
    let out: Vec<Violation> = schema
        .iter_errors(&value)
        .map(|e| {
            let keyword =
                e.schema_path().as_str().rsplit('/').next().unwrap_or_default().to_owned();
            Violation::new(
                None,
                Check::BodySchema.name(),
                e.instance_path().as_str(),
                format!("schema `{keyword}`: {e}"),
                e.instance().to_string(),
            )
        })
        .collect();
    if !out.is_empty() {
        return out;
    }
    let decoded = match op {
        SigningOperation::CreateToken => cfstream_types::decode::<TokenEnvelope>(body).err(),
        SigningOperation::CreateKey => cfstream_types::decode::<SigningKeyEnvelope>(body).err(),
        SigningOperation::ListKeys => cfstream_types::decode::<SigningKeysEnvelope>(body).err(),
        _ => cfstream_types::decode::<DeletedEnvelope>(body).err(),
    };
    decoded
        .map(|e| {
            let pointer = decoder_path_to_pointer(e.path());
            let at = value.pointer(&pointer).unwrap_or(&value).to_string();
            Violation::new(
                None,
                Check::ClientModelDecodes.name(),
                pointer,
                format!("cfstream-types must decode a body the schema accepts ({})", e.message()),
                at,
            )
        })
        .into_iter()
        .collect()
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
    // A file URL through the proxy holds a signed token in its path: never logged.
    let shown_path = cfstream_types::signed::redact_token_segments(path);
    let mut url = shared.upstream.clone();
    url.set_path(path);
    url.set_query(parts.uri.query());
    let base = shared.upstream.path().trim_end_matches('/');
    let judged = path.strip_prefix(base).and_then(|rest| {
        classify(&parts.method, rest)
            .map(Judged::Downloads)
            .or_else(|| classify_signing(&parts.method, rest).map(Judged::Signing))
    });
    // The request body goes upstream; a signing request's secrets are kept to redact.
    let request_secrets = match judged {
        Some(Judged::Signing(_)) => Some(body.clone()),
        _ => None,
    };
    let mut headers = HeaderMap::new();
    copy_headers(&parts.headers, &mut headers);
    let sent =
        shared.client.request(parts.method.clone(), url).headers(headers).body(body).send().await;
    let upstream = match sent {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(method = %parts.method, path = %shown_path, error = %cfstream_types::signed::redact_token_segments(&e.to_string()), "upstream call failed");
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
            tracing::warn!(method = %parts.method, path = %shown_path, error = %cfstream_types::signed::redact_token_segments(&e.to_string()), "upstream body failed");
            return envelope(StatusCode::BAD_GATEWAY, 1502, "the upstream answer was cut short");
        }
    };
    if let Some(judged) = judged {
        // Judge (and log) a copy without the credentials the request carried, should the
        // upstream echo them, nor the signed-URL secrets of the exchange; the client still
        // gets the answer as it is.
        let mut redactor = request_credentials(&parts.headers);
        if let Some(request) = &request_secrets {
            for secret in signing_secrets(request, &answer) {
                redactor.add(&secret);
            }
        }
        let mut judged_headers = out_headers.clone();
        redactor.headers(&mut judged_headers);
        let judged_body = redactor.body(answer.clone());
        let (name, violations) = match judged {
            Judged::Downloads(op) => (
                op.name(),
                shared.validator.check_http(op, status.as_u16(), &judged_headers, &judged_body),
            ),
            Judged::Signing(op) => (
                op.name(),
                check_signing(
                    &shared.validator,
                    shared.signing,
                    op,
                    status.as_u16(),
                    &judged_headers,
                    &judged_body,
                ),
            ),
        };
        for v in &violations {
            tracing::warn!(
                operation = name,
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

    #[test]
    fn classifies_the_four_signing_operations() {
        use http::Method;
        let s = |m: &Method, p: &str| classify_signing(m, p);
        let token = "/accounts/023e/stream/ea95/token";
        assert_eq!(s(&Method::POST, token), Some(SigningOperation::CreateToken));
        assert_eq!(s(&Method::POST, &format!("{token}/")), Some(SigningOperation::CreateToken));
        assert_eq!(s(&Method::GET, token), None);
        let keys = "/accounts/023e/stream/keys";
        assert_eq!(s(&Method::POST, keys), Some(SigningOperation::CreateKey));
        assert_eq!(s(&Method::GET, keys), Some(SigningOperation::ListKeys));
        assert_eq!(s(&Method::DELETE, keys), None);
        assert_eq!(s(&Method::DELETE, &format!("{keys}/8f92")), Some(SigningOperation::DeleteKey));
        assert_eq!(s(&Method::GET, &format!("{keys}/8f92")), None);
        // Empty segments and extra or missing ones are no route.
        assert_eq!(s(&Method::POST, "/accounts//stream/ea95/token"), None);
        assert_eq!(s(&Method::POST, "/accounts/023e/stream//token"), None);
        assert_eq!(s(&Method::DELETE, &format!("{keys}/")), None);
        assert_eq!(s(&Method::POST, "/accounts/023e/stream/ea95/token/x"), None);
        assert_eq!(s(&Method::POST, "/accounts/023e/stream/token"), None);
        assert_eq!(s(&Method::GET, "/accounts/023e/stream/ea95/downloads"), None);
        // The downloads routes are not signing ones, and the reverse.
        assert_eq!(classify(&Method::POST, token), None);
        assert_eq!(classify(&Method::GET, keys), None);
    }

    #[test]
    fn decoder_paths_become_pointers() {
        assert_eq!(decoder_path_to_pointer("result[0].id"), "/result/0/id");
        assert_eq!(decoder_path_to_pointer("result.token"), "/result/token");
        assert_eq!(decoder_path_to_pointer("."), "");
    }

    #[test]
    fn the_secrets_of_a_signing_exchange_are_found_where_they_stand() {
        let request = br#"{"id":"ab","pem":"UEVNLXJlcQ==","downloadable":true}"#;
        let answer = br#"{"result":[{"id":"k","pem":"UEVNLTE=","jwk":"SldLLTE="},{"token":"t.o.k"}],"token":"outside"}"#;
        assert_eq!(
            signing_secrets(request, answer),
            ["UEVNLXJlcQ==", "UEVNLTE=", "SldLLTE=", "t.o.k"]
        );
        assert_eq!(signing_secrets(b"", br#"{"result":{"token":"eyJ.a.b"}}"#), ["eyJ.a.b"]);
        assert_eq!(signing_secrets(b"not json", b"<html>"), Vec::<String>::new());
    }
}
