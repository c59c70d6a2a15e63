//! Transport: raw HTTP to the target through reqwest (never cfstream-http), the credentials a
//! request carries ([`Auth`]), waiting out 429s, and the log of every answer of the five
//! operations for the response checks.

use std::time::Duration;

use bytes::Bytes;
use cfstream_types::{Credentials, Operation};
use http::HeaderMap;
use reqwest::Method;
use serde_json::Value;

use crate::error::{Error, ErrorKind};
use crate::runner::{RunOptions, Target};

/// How many 429s in a row one request waits out before its answer is taken as it is.
const MAX_429_WAITS: u32 = 3;
/// The wait after a 429 without a usable `retry-after`.
const DEFAULT_429_WAIT: Duration = Duration::from_secs(1);
/// The longest wait a `retry-after` can ask of a run.
const MAX_429_WAIT: Duration = Duration::from_secs(60);

/// `retry-after` in seconds, if the header holds a whole number.
fn retry_after_secs(headers: &HeaderMap) -> Option<u64> {
    headers.get("retry-after")?.to_str().ok()?.trim().parse().ok()
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
    pub(crate) body: Bytes,
}

impl Resp {
    pub(crate) fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// One answer of the five operations, kept for the response checks.
pub(crate) struct Exchange {
    pub(crate) op: Operation,
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
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
    /// Every answer of the five operations, in order.
    pub(crate) exchanges: Vec<Exchange>,
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
        })
    }

    /// One request, answered as it is.
    async fn send_once(
        &mut self,
        method: Method,
        path: &str,
        op: Option<Operation>,
        auth: Auth,
    ) -> Result<Resp, reqwest::Error> {
        let what = format!("{method} {path}");
        let mut req = self.api.request(method, format!("{}{path}", self.base));
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
        let headers = resp.headers().clone();
        let body = resp.bytes().await?;
        tracing::debug!(%what, status, "answer");
        Ok(Resp { op, what, status, headers, body })
    }

    /// Sends a request to `path` (relative to the base URL), keeps the answer for the response
    /// checks, and waits out a 429.
    pub(crate) async fn send(
        &mut self,
        method: Method,
        path: &str,
        op: Option<Operation>,
        auth: Auth,
    ) -> Result<Resp, reqwest::Error> {
        let mut waits = 0;
        loop {
            let r = self.send_once(method.clone(), path, op, auth).await?;
            if let Some(op) = r.op {
                self.exchanges.push(Exchange {
                    op,
                    status: r.status,
                    headers: r.headers.clone(),
                    body: r.body.clone(),
                });
            }
            // A rate-limited answer is judged like any other (`retry_after_on_429`), then waited
            // out, so that a live account's limit does not fail the scenarios.
            if r.status == 429 && waits < MAX_429_WAITS {
                waits += 1;
                let delay = retry_after_secs(&r.headers)
                    .map_or(DEFAULT_429_WAIT, Duration::from_secs)
                    .min(MAX_429_WAIT);
                tracing::info!(what = %r.what, delay_ms = delay.as_millis() as u64, "rate limited: waiting");
                tokio::time::sleep(delay).await;
                continue;
            }
            return Ok(r);
        }
    }
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
