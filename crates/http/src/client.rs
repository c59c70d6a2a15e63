//! [`Client`] and [`ClientBuilder`]: configuration, credentials, and the one place an API
//! request is sent (rate limit, attempt and operation timeouts, retries, tracing).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use cfstream_types::auth::{ENV_API_KEY, ENV_API_TOKEN, ENV_EMAIL};
use cfstream_types::{AccountId, Endpoint, Method, Operation, SigningOperation, Url};
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use tracing::Instrument as _;

use crate::builder::ClientBuilder;
use crate::downloads::DownloadsApi;
use crate::error::{Error, ErrorKind};
use crate::policy::{
    Deadline, Limiter, MAX_SERVER_DELAY, Retries, RetryConfig, TokenBucket, server_delay,
};
use crate::redact::without_secrets;
use crate::reporter::Reporter;
use crate::signing::TokenCache;

/// The largest API response body read into memory; anything larger is not a downloads answer.
const MAX_API_BODY: usize = 8 * 1024 * 1024;

/// The environment variables [`Client::from_env`] reads.
pub const ENV_VARS: [&str; 4] = [ENV_API_TOKEN, ENV_EMAIL, ENV_API_KEY, "CLOUDFLARE_BASE_URL"];

/// An async client for Cloudflare Stream's downloads API.
///
/// Cheap to clone: clones share the connection pool, the rate limiter and the retry token
/// bucket. Its `Debug` output never holds the credentials.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    pub(crate) base: Url,
    /// The credential headers, marked sensitive.
    pub(crate) auth: Vec<(HeaderName, HeaderValue)>,
    pub(crate) scheme: &'static str,
    pub(crate) user_agent: HeaderValue,
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) attempt_timeout: Option<Duration>,
    pub(crate) operation_timeout: Option<Duration>,
    pub(crate) retry: RetryConfig,
    pub(crate) bucket: TokenBucket,
    pub(crate) limiter: Limiter,
    pub(crate) reporter: Arc<dyn Reporter>,
    /// The tokens `fetch` obtained for signed videos, reused until shortly before they expire.
    pub(crate) tokens: TokenCache,
    /// The token or key, kept out of every error (a server may echo them).
    pub(crate) secrets: Vec<String>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("Client")
            .field("base_url", &i.base.as_str())
            .field("credentials", &i.scheme)
            .field("user_agent", &i.user_agent)
            .field("connect_timeout", &i.connect_timeout)
            .field("attempt_timeout", &i.attempt_timeout)
            .field("operation_timeout", &i.operation_timeout)
            .field("retry", &i.retry)
            .field("limiter", &i.limiter)
            .finish_non_exhaustive()
    }
}

/// A received response, unparsed: what [`DownloadsApi::raw`] returns.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RawResponse {
    /// The HTTP status.
    pub status: u16,
    /// The response headers (`http::HeaderMap`).
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
}

impl RawResponse {
    /// The `Content-Type` header, if it is text.
    pub fn content_type(&self) -> Option<&str> {
        self.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok())
    }
}

/// One API request as sent: the operation it is, its method, URL and JSON body (`None`: the
/// empty `{}` every POST carries).
pub(crate) struct Call {
    pub(crate) tag: Tag,
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) body: Option<Bytes>,
}

/// Which operation a [`Call`] is, to name it in errors, spans and reports.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Tag {
    /// One of the five downloads operations.
    Downloads(Operation),
    /// One of the signed-URL operations.
    Signing(SigningOperation),
}

impl Tag {
    fn name(self) -> &'static str {
        match self {
            Tag::Downloads(op) => op.name(),
            Tag::Signing(op) => op.name(),
        }
    }

    /// `e`, naming this operation.
    pub(crate) fn mark(self, e: Error) -> Error {
        match self {
            Tag::Downloads(op) => e.with_operation(op),
            Tag::Signing(op) => e.with_signing_operation(op),
        }
    }
}

impl Call {
    /// `endpoint` under `base`.
    pub(crate) fn of(endpoint: &Endpoint, base: &Url) -> Self {
        Call {
            tag: Tag::Downloads(endpoint.operation()),
            method: endpoint.method(),
            url: endpoint.url_under(base),
            body: None,
        }
    }
}

impl Client {
    /// A builder with the defaults: base URL `https://api.cloudflare.com/client/v4`, connect
    /// timeout 10 s, attempt timeout 30 s, operation timeout 2 min, [`RetryConfig::default`],
    /// [`RateLimit::default`](crate::RateLimit::default) (1200 requests per 5 minutes), user agent `cfstream/<version>`.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client configured from the environment: `CLOUDFLARE_API_TOKEN`, or
    /// `CLOUDFLARE_EMAIL` + `CLOUDFLARE_API_KEY`, and optionally `CLOUDFLARE_BASE_URL`.
    pub fn from_env() -> Result<Client, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`Client::from_env`], reading variables through `lookup` (for tests and for layered
    /// configuration). Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Client, Error> {
        Self::builder().env(lookup)?.build()
    }

    /// The API of the downloads of `account`'s videos.
    pub fn downloads<'a>(&'a self, account: &'a AccountId) -> DownloadsApi<'a> {
        DownloadsApi::new(self, account)
    }

    /// The base URL every API path is appended to.
    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    /// One attempt of `endpoint`: rate limit, credentials, and one timer, for the attempt
    /// timeout or what is left before `deadline` (the operation timeout or the caller's),
    /// whichever is sooner. Returns any status.
    pub(crate) async fn attempt(
        &self,
        endpoint: &Endpoint,
        deadline: Option<Deadline>,
    ) -> Result<RawResponse, Error> {
        self.attempt_call(&Call::of(endpoint, &self.inner.base), deadline).await
    }

    /// One attempt of `call` (see [`Client::attempt`]).
    async fn attempt_call(
        &self,
        call: &Call,
        deadline: Option<Deadline>,
    ) -> Result<RawResponse, Error> {
        let i = &self.inner;
        if let Err(wait) = i.limiter.acquire(deadline.map(|d| d.at)).await {
            // The wait as a retry hint: the retry loop sees it ends past the deadline and stops.
            // Only a deadline refuses a wait.
            let past = deadline.map(|d| d.describe()).unwrap_or_default();
            return Err(Error::new(
                ErrorKind::Timeout,
                format!("the rate limit allows the next request in {wait:?}, past {past}"),
            )
            .with_retry_after(Some(wait)));
        }
        if let Some(d) = deadline.filter(|d| d.remaining().is_zero()) {
            // Nothing can be sent and answered in no time.
            return Err(d.expired());
        }
        let url = call.url.clone();
        let method = match call.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Delete => reqwest::Method::DELETE,
            other => return Err(Error::build(format!("method {other} is not supported yet"))),
        };
        let mut req =
            i.http.request(method.clone(), url).header(header::USER_AGENT, i.user_agent.clone());
        for (name, value) in &i.auth {
            req = req.header(name.clone(), value.clone());
        }
        if method == reqwest::Method::POST {
            // The 2024-01-04 OpenAPI shape's POST takes an (empty) JSON body; newer servers ignore it.
            let body = call.body.clone().unwrap_or_else(|| Bytes::from_static(b"{}"));
            req = req.header(header::CONTENT_TYPE, "application/json").body(body);
        }
        let fut = async move {
            let mut resp =
                req.send().await.map_err(|e| dispatch_error(e, i.base.host_str().unwrap_or("")))?;
            let status = resp.status().as_u16();
            let headers = std::mem::take(resp.headers_mut());
            let body = read_limited(resp, MAX_API_BODY).await.map_err(|e| e.with_status(status))?;
            Ok(RawResponse { status, headers, body })
        };
        let remaining = deadline.map(|d| (d.remaining(), d));
        let timeout = match (i.attempt_timeout, remaining) {
            (Some(a), Some((r, d))) if r < a => Some((r, Some(d))),
            (Some(a), _) => Some((a, None)),
            (None, r) => r.map(|(r, d)| (r, Some(d))),
        };
        match timeout {
            Some((t, deadline)) => {
                tokio::time::timeout(t, fut).await.map_err(|_| match deadline {
                    Some(d) => d.expired(),
                    None => Error::new(
                        ErrorKind::Timeout,
                        format!("no complete response within the attempt timeout of {t:?}"),
                    ),
                })?
            }
            None => fut.await,
        }
    }

    /// Runs `endpoint` with retries until `parse` accepts a response or a non-retryable error,
    /// the attempt limit, the token bucket or the operation timeout stops it.
    pub(crate) async fn execute<T>(
        &self,
        endpoint: &Endpoint,
        caller_deadline: Option<tokio::time::Instant>,
        parse: impl Fn(&RawResponse) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let op = endpoint.operation();
        let span = tracing::info_span!(
            "cfstream_http.call",
            operation = op.name(),
            account = %endpoint.account(),
            video = %endpoint.video(),
            download_type = endpoint.download_type().map(|t| t.as_str()),
            attempts = tracing::field::Empty,
            status = tracing::field::Empty,
            elapsed_ms = tracing::field::Empty,
        );
        let started = tokio::time::Instant::now();
        let deadline = self.deadline(started, caller_deadline);
        let call = Call::of(endpoint, &self.inner.base);
        self.run(&call, span, started, deadline, &parse).await
    }

    /// Runs a signed-URL `call` like [`Client::execute`] runs an endpoint.
    pub(crate) async fn execute_call<T>(
        &self,
        call: &Call,
        caller_deadline: Option<tokio::time::Instant>,
        parse: impl Fn(&RawResponse) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let span = tracing::info_span!(
            "cfstream_http.call",
            operation = call.tag.name(),
            attempts = tracing::field::Empty,
            status = tracing::field::Empty,
            elapsed_ms = tracing::field::Empty,
        );
        let started = tokio::time::Instant::now();
        let deadline = self.deadline(started, caller_deadline);
        self.run(call, span, started, deadline, &parse).await
    }

    /// The sooner of the operation timeout (from `started`) and the caller's deadline. It
    /// bounds each attempt's timer, the limiter's waits and the backoff, so the whole
    /// operation needs no timer of its own.
    fn deadline(
        &self,
        started: tokio::time::Instant,
        caller_deadline: Option<tokio::time::Instant>,
    ) -> Option<Deadline> {
        Deadline::sooner(
            self.inner.operation_timeout.map(|t| Deadline::operation(started, t)),
            caller_deadline.map(Deadline::caller),
        )
    }

    /// The retries of `call` inside `span`, which records how they went.
    async fn run<T>(
        &self,
        call: &Call,
        span: tracing::Span,
        started: tokio::time::Instant,
        deadline: Option<Deadline>,
        parse: &impl Fn(&RawResponse) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let stats = Stats::default();
        let out = self.retry_loop(call, deadline, parse, &stats).instrument(span.clone()).await;
        if !span.is_disabled() {
            span.record("attempts", stats.attempts.load(Ordering::Relaxed));
            if let Some(status) = stats.status() {
                span.record("status", status);
            }
            span.record("elapsed_ms", started.elapsed().as_millis() as u64);
            match &out {
                Ok(_) => tracing::debug!(parent: &span, "call finished"),
                Err(e) => tracing::debug!(parent: &span, error = %e, "call failed"),
            }
        }
        out.map_err(|e| call.tag.mark(e))
    }

    async fn retry_loop<T>(
        &self,
        call: &Call,
        deadline: Option<Deadline>,
        parse: &impl Fn(&RawResponse) -> Result<T, Error>,
        stats: &Stats,
    ) -> Result<T, Error> {
        let i = &self.inner;
        let mut retries = Retries::new(&i.retry, &i.bucket, deadline.map(|d| d.at));
        loop {
            let attempt = retries.next_attempt();
            stats.attempts.store(attempt, Ordering::Relaxed);
            let attempt_span =
                tracing::debug_span!("attempt", attempt, status = tracing::field::Empty);
            let result = async {
                let raw = self.attempt_call(call, deadline).await?;
                tracing::Span::current().record("status", raw.status);
                stats.last_status.store(u32::from(raw.status), Ordering::Relaxed);
                parse(&raw).map_err(|e| {
                    let e = without_secrets(e, &i.secrets);
                    let throttled = matches!(e.status(), Some(429 | 503));
                    let hint = || server_delay(&raw.headers, SystemTime::now(), raw.status == 429);
                    e.with_retry_after(if throttled { hint() } else { None })
                })
            }
            .instrument(attempt_span)
            .await;
            let err = match result {
                Ok(v) => {
                    retries.succeeded();
                    return Ok(v);
                }
                Err(e) => e.with_attempts(attempt),
            };
            if let (true, Some(hint)) = (err.is_rate_limited(), err.retry_after()) {
                // The server blocks this client for a while: hold every clone, retrying or not.
                i.limiter.block_for(hint.min(MAX_SERVER_DELAY));
            }
            let Some(delay) = retries.delay_before_retry(&err) else { return Err(err) };
            let reason = err.to_string();
            tracing::debug!(attempt = attempt + 1, delay_ms = delay.as_millis() as u64, reason = %reason, "retrying");
            if let Tag::Downloads(op) = call.tag {
                i.reporter.retrying(op, attempt + 1, delay, &reason);
            }
            tokio::time::sleep(delay).await;
        }
    }
}

/// What a call's span records once it is over (atomics: the call's future must stay `Send`).
#[derive(Default)]
struct Stats {
    attempts: AtomicU32,
    last_status: AtomicU32,
}

impl Stats {
    fn status(&self) -> Option<u16> {
        u16::try_from(self.last_status.load(Ordering::Relaxed)).ok().filter(|s| *s != 0)
    }
}

/// Reads a response body, refusing more than `limit` bytes.
async fn read_limited(mut resp: reqwest::Response, limit: usize) -> Result<Bytes, Error> {
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(Error::new(
            ErrorKind::InvalidResponse,
            format!("response body larger than {limit} bytes"),
        ));
    }
    let mut buf = bytes::BytesMut::new();
    while let Some(chunk) = resp.chunk().await.map_err(body_error)? {
        if buf.len() + chunk.len() > limit {
            return Err(Error::new(
                ErrorKind::InvalidResponse,
                format!("response body larger than {limit} bytes"),
            ));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

pub(crate) fn body_error(e: reqwest::Error) -> Error {
    let e = e.without_url();
    if e.is_timeout() {
        return Error::new(ErrorKind::Timeout, "timed out reading the response body")
            .with_source(e);
    }
    Error::new(ErrorKind::Dispatch, "response body cut short").with_source(e)
}

/// Classifies a send failure. `host` names the server; the URL is dropped from the source
/// because a download URL may carry a signed token in its query.
pub(crate) fn dispatch_error(e: reqwest::Error, host: &str) -> Error {
    let e = e.without_url();
    if e.is_timeout() {
        return Error::new(
            ErrorKind::Timeout,
            format!("timed out connecting to or waiting for '{host}'"),
        )
        .with_source(e);
    }
    if e.is_connect() {
        return Error::new(ErrorKind::Dispatch, format!("cannot connect to '{host}'"))
            .with_source(e);
    }
    if e.is_builder() {
        return Error::build(format!("cannot build the request to '{host}'")).with_source(e);
    }
    Error::new(ErrorKind::Dispatch, format!("request to '{host}' failed")).with_source(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cfstream_types::Credentials;
    use wiremock::matchers::any;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    /// Real time: in paused time the attempt timer could fire while wiremock's thread answers.
    #[tokio::test]
    async fn waits_past_the_deadline_take_no_retry_tokens() {
        let server = MockServer::builder().start().await;
        let throttled = ResponseTemplate::new(429)
            .insert_header("retry-after", "30")
            .set_body_string(r#"{"success":false,"errors":[{"code":10429,"message":"slow down"}],"messages":[],"result":null}"#);
        Mock::given(any()).respond_with(throttled).mount(&server).await;
        let client = Client::builder()
            .credentials(Credentials::token("t"))
            .base_url(format!("{}/client/v4", server.uri()))
            .operation_timeout(Duration::from_secs(5))
            .retry(RetryConfig::default().token_bucket(10))
            .build()
            .unwrap();
        let account = "023e105f4ecef8ad9ca31a8372d0c353".parse().unwrap();
        let video = "ea95132c15732412d22c1476fa83f27a".parse().unwrap();
        // The server asks for 30 s, past the 5 s deadline: answered at once.
        let e = client.downloads(&account).list(&video).await.unwrap_err();
        assert_eq!(e.status(), Some(429), "{e}");
        // Every clone is now held for 30 s by the limiter: also answered at once.
        let e = client.clone().downloads(&account).list(&video).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
        assert_eq!(server.received_requests().await.unwrap().len(), 1);
        assert_eq!(client.inner.bucket.available(), 10, "no retry happened, none was paid for");
    }
}
