//! Transport: raw HTTP to the target through reqwest (never cfstream-http), the credentials a
//! request carries ([`Auth`]), waiting out 429s, and the log of every answer of the five
//! operations for the response checks.

use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use cfstream_types::{Credentials, Operation};
use futures::{Stream, StreamExt as _};
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

/// How many 429s in a row one request waits out, as their `retry-after` asks, before its
/// answer is taken as it is.
const MAX_429_WAITS: u32 = 3;
/// The one short backoff after a 429 without a usable `retry-after` (none, malformed,
/// negative): the server said nothing of when to come back, so one guess, then the answer is
/// taken as it is and the checks decide.
const GUESSED_429_WAIT: Duration = Duration::from_secs(1);
/// The longest wait one `retry-after` can ask of a run.
const MAX_429_WAIT: Duration = Duration::from_secs(60);

/// How long a 429 with these headers asks to wait: its `retry-after` (seconds or an HTTP
/// date), never more than a minute (which an absurd one gets); `None` when it has none or one
/// that is not usable.
fn wait_after_429(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(http::header::RETRY_AFTER).and_then(|v| v.to_str().ok())?;
    match parse_retry_after(value, SystemTime::now()) {
        Ok(delay) => Some(delay.min(MAX_429_WAIT)),
        Err("absurd") => Some(MAX_429_WAIT),
        Err(_) => None,
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
    /// Whether the server has answered anything but a 429.
    answered: bool,
    /// Whether a guessed backoff (after a 429 without a usable `retry-after`) was followed by
    /// another such 429: waiting on this server's word-less 429s is pointless, so from then
    /// on they are taken as they are.
    guess_failed: bool,
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
            answered: false,
            guess_failed: false,
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
        let mut guessed = false;
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
            if r.status != 429 {
                self.answered = true;
                return Ok(r);
            }
            // A rate-limited answer is judged like any other (`retry_after_on_429`), then waited
            // out, so that a live account's limit does not fail the scenarios; but never past
            // the run's budget.
            if self.rate_limited {
                return Ok(r);
            }
            let delay = match wait_after_429(&r.headers) {
                Some(_) if waits >= MAX_429_WAITS => return Ok(r),
                Some(asked) => {
                    waits += 1;
                    asked
                }
                None if guessed => {
                    // The guess did not help: the checks judge this answer as it is.
                    self.guess_failed = true;
                    if !self.answered {
                        // Nothing but word-less 429s so far: the server throttles everything.
                        self.stop_waiting(&r.what);
                    }
                    return Ok(r);
                }
                None if self.guess_failed => return Ok(r),
                None => {
                    guessed = true;
                    GUESSED_429_WAIT
                }
            };
            if self.waited + delay > self.max_wait {
                self.stop_waiting(&r.what);
                return Ok(r);
            }
            self.waited += delay;
            tracing::info!(what = %r.what, delay_ms = delay.as_millis() as u64, "rate limited: waiting");
            tokio::time::sleep(delay).await;
        }
    }

    /// No 429 is waited out from now on, and the checks still to run are skipped.
    fn stop_waiting(&mut self, what: &str) {
        tracing::warn!(
            what,
            waited_ms = self.waited.as_millis() as u64,
            "rate limited past the wait budget: the checks still to run are skipped"
        );
        self.rate_limited = true;
    }
}

/// Reads at most `cap` bytes of `resp`'s body: the body, and what made it too large, if it
/// is (a declared length over the cap is not read at all).
pub(crate) async fn read_capped(
    resp: reqwest::Response,
    cap: usize,
) -> Result<(Bytes, Option<String>), reqwest::Error> {
    let declared = resp.content_length();
    read_body(resp.bytes_stream(), declared, cap, None).await
}

/// [`read_capped`] for a download's body, which must also keep coming: a read that waits
/// `stall` for a byte ends there, with what was served against what was declared in the
/// second value (see [`stalled`]).
pub(crate) async fn read_file_capped(
    resp: reqwest::Response,
    cap: usize,
    stall: Duration,
) -> Result<(Bytes, Option<String>), reqwest::Error> {
    let declared = resp.content_length();
    read_body(resp.bytes_stream(), declared, cap, Some(stall)).await
}

/// Reads at most `cap` bytes of `body` whose declared length is `declared`: the bytes, and
/// why they are not the whole body (too large, or it stopped for `stall`), if they are not.
async fn read_body<S, E>(
    body: S,
    declared: Option<u64>,
    cap: usize,
    stall: Option<Duration>,
) -> Result<(Bytes, Option<String>), E>
where
    S: Stream<Item = Result<Bytes, E>>,
{
    if let Some(n) = declared
        && n > cap as u64
    {
        return Ok((Bytes::new(), Some(format!("Content-Length {n}"))));
    }
    let mut body = std::pin::pin!(body);
    let mut buf = BytesMut::new();
    loop {
        let chunk = match stall {
            Some(stall) => match next_chunk(&mut body, stall).await {
                Chunk::Data(c) => c,
                Chunk::End => break,
                Chunk::Failed(e) => return Err(e),
                Chunk::Stalled => {
                    let why = stalled(declared, buf.len() as u64, stall);
                    return Ok((buf.freeze(), Some(why)));
                }
            },
            None => match body.next().await {
                Some(c) => c?,
                None => break,
            },
        };
        if buf.len() + chunk.len() > cap {
            let room = cap - buf.len();
            buf.extend_from_slice(&chunk[..room]);
            return Ok((buf.freeze(), Some(format!("more than {cap} bytes"))));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok((buf.freeze(), None))
}

/// The next piece of a body, or what ended it.
pub(crate) enum Chunk<E> {
    /// Bytes.
    Data(Bytes),
    /// The body's end.
    End,
    /// The read failed (the connection closed early, a transport error).
    Failed(E),
    /// No byte came within the stall timeout (the server keeps the connection open and
    /// sends nothing).
    Stalled,
}

/// The next chunk of `body`, waiting at most `stall` for it.
pub(crate) async fn next_chunk<S, E>(body: &mut S, stall: Duration) -> Chunk<E>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    match tokio::time::timeout(stall, body.next()).await {
        Err(_) => Chunk::Stalled,
        Ok(None) => Chunk::End,
        Ok(Some(Ok(bytes))) => Chunk::Data(bytes),
        Ok(Some(Err(e))) => Chunk::Failed(e),
    }
}

/// What a body that stopped coming showed: its declared length, the bytes served, and for
/// how long nothing came (`Content-Length 1500, 1000 bytes served, then no byte for 2 s`).
pub(crate) fn stalled(declared: Option<u64>, got: u64, stall: Duration) -> String {
    let declared =
        declared.map_or_else(|| "no Content-Length".to_owned(), |n| format!("Content-Length {n}"));
    format!("{declared}, {got} bytes served, then no byte for {} s", stall.as_secs_f64())
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

#[cfg(test)]
mod tests {
    use futures::stream;

    use super::*;

    const STALL: Duration = Duration::from_secs(2);

    #[tokio::test(start_paused = true)]
    async fn a_body_that_stops_short_ends_at_the_stall_with_what_was_served() {
        // 1,000 bytes of the 1,500 declared, then a connection kept open that sends nothing.
        let body = stream::iter([Ok::<_, std::io::Error>(Bytes::from(vec![b'a'; 1000]))])
            .chain(stream::pending());
        let t0 = tokio::time::Instant::now();
        let (bytes, why) = read_body(body, Some(1500), BODY_CAP, Some(STALL)).await.unwrap();
        assert_eq!(t0.elapsed(), STALL);
        assert_eq!(bytes.len(), 1000);
        assert_eq!(
            why.as_deref(),
            Some("Content-Length 1500, 1000 bytes served, then no byte for 2 s")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_stall_is_per_read_so_a_slow_body_that_keeps_coming_is_read_whole() {
        // A byte every 1.5 s: 6 s in all, never 2 s without a byte.
        let body = stream::iter(0..4u8).then(|i| async move {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            Ok::<_, std::io::Error>(Bytes::from(vec![i]))
        });
        let t0 = tokio::time::Instant::now();
        let (bytes, why) = read_body(body, Some(4), BODY_CAP, Some(STALL)).await.unwrap();
        assert_eq!(t0.elapsed(), Duration::from_secs(6));
        assert_eq!((&bytes[..], why), (&[0, 1, 2, 3][..], None));
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_body_without_a_length_says_so_and_a_read_error_is_an_error() {
        let body = stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(b"abc"))])
            .chain(stream::pending());
        let (_, why) = read_body(body, None, BODY_CAP, Some(STALL)).await.unwrap();
        assert_eq!(why.as_deref(), Some("no Content-Length, 3 bytes served, then no byte for 2 s"));
        let body = stream::iter([
            Ok(Bytes::from_static(b"abc")),
            Err(std::io::Error::other("connection reset")),
        ]);
        let e = read_body(body, Some(10), BODY_CAP, Some(STALL)).await.unwrap_err();
        assert_eq!(e.to_string(), "connection reset");
    }

    #[test]
    fn only_a_usable_retry_after_says_how_long_to_wait() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(http::header::RETRY_AFTER, http::HeaderValue::from_str(v).unwrap());
            wait_after_429(&h)
        };
        assert_eq!(with("3"), Some(Duration::from_secs(3)));
        assert_eq!(with("86400"), Some(MAX_429_WAIT));
        assert_eq!(with("-1"), None);
        assert_eq!(with("soon"), None);
        assert_eq!(wait_after_429(&HeaderMap::new()), None);
    }
}
