//! Transport: raw HTTP to the target through reqwest (never cfstream-http), the credentials a
//! request carries ([`Auth`]), waiting out 429s, and the log of every answer of the five
//! operations for the response checks.

use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use cfstream_types::{Credentials, Operation};
use http::HeaderMap;
use reqwest::Method;
use serde_json::Value;

use crate::error::{Error, ErrorKind};
use crate::redact::Redactor;
use crate::runner::{RunOptions, Target};
use crate::validate::parse_retry_after;

/// The most of an API answer's body that is read (as the client reads at most 8 MiB): a
/// larger body is a violation, and the rest is never read, so memory stays bounded whatever
/// the server sends.
pub(crate) const BODY_CAP: usize = 8 * 1024 * 1024;

/// How many 429s in a row one request waits out before its answer is taken as it is.
const MAX_429_WAITS: u32 = 3;
/// The wait after a 429 without a usable `retry-after`.
const DEFAULT_429_WAIT: Duration = Duration::from_secs(1);
/// The longest wait one `retry-after` can ask of a run.
const MAX_429_WAIT: Duration = Duration::from_secs(60);

/// How long to wait after a 429 with these headers: its `retry-after` (seconds or an HTTP
/// date), else a second when it has none or one that is not usable; never more than a minute
/// (which an absurd one gets).
fn wait_after_429(headers: &HeaderMap) -> Duration {
    let value = headers.get(http::header::RETRY_AFTER).and_then(|v| v.to_str().ok());
    match value.map(|v| parse_retry_after(v, SystemTime::now())) {
        Some(Ok(delay)) => delay.min(MAX_429_WAIT),
        Some(Err("absurd")) => MAX_429_WAIT,
        _ => DEFAULT_429_WAIT,
    }
}

/// Which credentials a request carries.
#[derive(Clone, Copy)]
pub(crate) enum Auth {
    Given,
    Missing,
    WrongToken,
    WrongKey,
}

/// One answer, as the checks see it.
pub(crate) struct Resp {
    pub(crate) op: Option<Operation>,
    pub(crate) what: String,
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    /// The body, or its first [`BODY_CAP`] bytes.
    pub(crate) body: Bytes,
    /// Set when the body is larger than [`BODY_CAP`]: what was seen (the declared length, or
    /// that the body went on past the cap).
    pub(crate) oversize: Option<String>,
}

impl Resp {
    /// The body as JSON; never for a body cut at the cap (it cannot be whole JSON).
    pub(crate) fn json(&self) -> Option<Value> {
        if self.oversize.is_some() {
            return None;
        }
        serde_json::from_slice(&self.body).ok()
    }
}

/// One answer of the five operations, kept for the response checks.
pub(crate) struct Exchange {
    pub(crate) op: Operation,
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) oversize: Option<String>,
}

/// The HTTP side of a run: the API client (no redirects), the file client (never carries the
/// API credentials), and what was seen.
pub(crate) struct Http {
    api: reqwest::Client,
    pub(crate) files: reqwest::Client,
    base: String,
    credentials: Option<Credentials>,
    /// How many requests the run made.
    pub(crate) requests: usize,
    /// Every answer of the five operations, in order (drained by the response checks).
    pub(crate) exchanges: Vec<Exchange>,
    /// The run's budget for waiting out 429s.
    max_wait: Duration,
    /// How long 429s have been waited out so far.
    waited: Duration,
    /// Whether a 429 asked for more than the budget had left: from then on, no 429 is
    /// waited out and the checks still to run are skipped as rate limited.
    rate_limited: bool,
    /// Replaces the credentials a server echoes, in every answer, before anything sees it.
    pub(crate) redactor: Redactor,
}

impl Http {
    pub(crate) fn new(target: &Target, options: &RunOptions) -> Result<Self, Error> {
        let api = reqwest::Client::builder()
            .timeout(options.request_timeout)
            // A redirect is not a documented answer: the checks must see it, not follow it.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("cfstream-conformance/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::with_source(ErrorKind::Setup, "cannot build the http client", e))?;
        let files = reqwest::Client::builder()
            .user_agent(concat!("cfstream-conformance/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::with_source(ErrorKind::Setup, "cannot build the http client", e))?;
        Ok(Self {
            api,
            files,
            base: target.base_url.as_str().trim_end_matches('/').to_owned(),
            credentials: target.credentials.clone(),
            requests: 0,
            exchanges: vec![],
            max_wait: options.max_wait,
            waited: Duration::ZERO,
            rate_limited: false,
            redactor: Redactor::new(target.credentials.as_ref()),
        })
    }

    /// Whether the 429 wait budget ran out.
    pub(crate) fn rate_limited(&self) -> bool {
        self.rate_limited
    }

    /// One request, answered as it is.
    async fn send_once(
        &mut self,
        method: Method,
        path: &str,
        op: Option<Operation>,
        auth: Auth,
        json: Option<&Value>,
    ) -> Result<Resp, reqwest::Error> {
        let what = format!("{method} {path}");
        let mut req = self.api.request(method, format!("{}{path}", self.base));
        if let Some(body) = json {
            req = req.header(http::header::CONTENT_TYPE, "application/json").body(body.to_string());
        }
        let headers = match auth {
            Auth::Given => self.credentials.as_ref().map(Credentials::headers).unwrap_or_default(),
            Auth::Missing => vec![],
            Auth::WrongToken => Credentials::token("cfstream-conformance-wrong-token").headers(),
            Auth::WrongKey => {
                Credentials::key("nobody@example.com", "cfstream-conformance-wrong-key").headers()
            }
        };
        for (name, value) in headers {
            req = req.header(name, value);
        }
        self.requests += 1;
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let mut headers = resp.headers().clone();
        let (body, oversize) = read_capped(resp, BODY_CAP).await?;
        // A credential the server echoes must not reach a check, a log line or a report.
        let body = self.redactor.body(body);
        self.redactor.headers(&mut headers);
        tracing::debug!(%what, status, "answer");
        Ok(Resp { op, what, status, headers, body, oversize })
    }

    /// Sends a request to `path` (relative to the base URL) with a JSON body (`None`: no
    /// body), keeps the answer for the response checks, and waits out a 429.
    pub(crate) async fn send_json(
        &mut self,
        method: Method,
        path: &str,
        op: Option<Operation>,
        auth: Auth,
        json: Option<&Value>,
    ) -> Result<Resp, reqwest::Error> {
        let mut waits = 0;
        loop {
            let r = self.send_once(method.clone(), path, op, auth, json).await?;
            if let Some(op) = r.op {
                self.exchanges.push(Exchange {
                    op,
                    status: r.status,
                    headers: r.headers.clone(),
                    body: r.body.clone(),
                    oversize: r.oversize.clone(),
                });
            }
            // A rate-limited answer is judged like any other (`retry_after_on_429`), then waited
            // out, so that a live account's limit does not fail the scenarios; but never past
            // the run's budget.
            if r.status == 429 && waits < MAX_429_WAITS && !self.rate_limited {
                let delay = wait_after_429(&r.headers);
                if self.waited + delay > self.max_wait {
                    tracing::warn!(
                        what = %r.what,
                        waited_ms = self.waited.as_millis() as u64,
                        "rate limited past the wait budget: the checks still to run are skipped"
                    );
                    self.rate_limited = true;
                    return Ok(r);
                }
                waits += 1;
                self.waited += delay;
                tracing::info!(what = %r.what, delay_ms = delay.as_millis() as u64, "rate limited: waiting");
                tokio::time::sleep(delay).await;
                continue;
            }
            return Ok(r);
        }
    }
}

/// Reads at most `cap` bytes of `resp`'s body: the body, and what made it too large, if it
/// is (a declared length over the cap is not read at all).
pub(crate) async fn read_capped(
    mut resp: reqwest::Response,
    cap: usize,
) -> Result<(Bytes, Option<String>), reqwest::Error> {
    if let Some(n) = resp.content_length()
        && n > cap as u64
    {
        return Ok((Bytes::new(), Some(format!("Content-Length {n}"))));
    }
    let mut buf = BytesMut::new();
    while let Some(chunk) = resp.chunk().await? {
        if buf.len() + chunk.len() > cap {
            let room = cap - buf.len();
            buf.extend_from_slice(&chunk[..room]);
            return Ok((buf.freeze(), Some(format!("more than {cap} bytes"))));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok((buf.freeze(), None))
}

/// An error and its causes, on one line.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        cur = inner.source();
    }
    s
}
