//! Retry policy ([`RetryConfig`], backoff with full jitter, the retry token bucket, server
//! hints such as `Retry-After`, and [`Retries`], the one decision every retry loop asks) and the
//! client-side rate limiter ([`RateLimit`]).
//!
//! Time comes from `tokio::time`, so everything here runs in virtual time under
//! `tokio::time::pause`: the limiter's clock is a [`governor`] clock backed by
//! `tokio::time::Instant` (governor's own clocks read the real time and would not pause).

use std::fmt;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use reqwest::header::HeaderMap;

use crate::error::{Error, ErrorKind};

type JitterFn = Arc<dyn Fn(Duration) -> Duration + Send + Sync>;

/// How failed attempts are retried: exponential backoff with full jitter, a bounded number of
/// attempts, and a retry token bucket shared by the clones of a client.
///
/// Retried: HTTP 408, 429 and 5xx, connect failures and timeouts. Never retried: other 4xx,
/// and 2xx answers that do not parse. Create and delete are retried too: a second create
/// answers the existing download and a second delete is harmless, so repeating them is safe.
#[derive(Clone)]
pub struct RetryConfig {
    pub(crate) max_attempts: u32,
    pub(crate) initial_backoff: Duration,
    pub(crate) max_backoff: Duration,
    pub(crate) bucket_capacity: u32,
    pub(crate) jitter: Option<JitterFn>,
}

impl Default for RetryConfig {
    /// 4 attempts, backoff from 1 s doubling up to 20 s with full jitter, a bucket of 500
    /// tokens (a retry costs 5, a retry after a timeout 10, a first-try success gives 1 back).
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(20),
            bucket_capacity: 500,
            jitter: None,
        }
    }
}

impl fmt::Debug for RetryConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryConfig")
            .field("max_attempts", &self.max_attempts)
            .field("initial_backoff", &self.initial_backoff)
            .field("max_backoff", &self.max_backoff)
            .field("bucket_capacity", &self.bucket_capacity)
            .field("jitter", &if self.jitter.is_some() { "custom" } else { "full" })
            .finish()
    }
}

/// A retry costs this many tokens of the bucket.
const RETRY_COST: u32 = 5;
/// A retry after a timeout costs this many (a timing-out service is likely overloaded).
const TIMEOUT_RETRY_COST: u32 = 10;
/// A success at the first attempt puts this many back.
const SUCCESS_REWARD: u32 = 1;
/// The longest wait a server hint (`Retry-After`) can impose.
pub(crate) const MAX_SERVER_DELAY: Duration = Duration::from_secs(3600);
/// The shortest limiter wait, so that a zero wait reported by governor still makes progress.
const MIN_WAIT: Duration = Duration::from_nanos(1);

impl RetryConfig {
    /// No retries: every call makes exactly one attempt.
    pub fn disabled() -> Self {
        Self { max_attempts: 1, ..Self::default() }
    }

    /// The most attempts per call, the first one included (at least 1).
    #[must_use]
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// The backoff ceiling before the first retry; it doubles on each retry.
    #[must_use]
    pub fn initial_backoff(mut self, d: Duration) -> Self {
        self.initial_backoff = d;
        self
    }

    /// The largest backoff ceiling.
    #[must_use]
    pub fn max_backoff(mut self, d: Duration) -> Self {
        self.max_backoff = d;
        self
    }

    /// The size of the retry token bucket (0 turns retries off once the bucket is empty, which
    /// it is from the start).
    #[must_use]
    pub fn token_bucket(mut self, capacity: u32) -> Self {
        self.bucket_capacity = capacity;
        self
    }

    /// Replaces full jitter (a uniform pick in `[0, ceiling]`) with `f(ceiling)`, for example
    /// `|c| c` for no jitter in tests. The result is capped at the ceiling.
    #[must_use]
    pub fn jitter(mut self, f: impl Fn(Duration) -> Duration + Send + Sync + 'static) -> Self {
        self.jitter = Some(Arc::new(f));
        self
    }

    /// The backoff ceiling before retry number `retry` (1 for the first retry).
    pub(crate) fn ceiling(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1));
        self.initial_backoff.saturating_mul(factor).min(self.max_backoff)
    }

    /// The delay before retry number `retry`: full jitter under the ceiling.
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self.ceiling(retry);
        match &self.jitter {
            Some(f) => f(ceiling).min(ceiling),
            None => {
                use rand::Rng as _;
                let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
                Duration::from_nanos(rand::rng().random_range(0..=nanos))
            }
        }
    }
}

/// The retry token bucket: retries take tokens, first-try successes put one back, so a service
/// that keeps failing is not hammered by every call's retries.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    capacity: u32,
    tokens: Mutex<u32>,
}

impl TokenBucket {
    pub(crate) fn new(capacity: u32) -> Self {
        Self { capacity, tokens: Mutex::new(capacity) }
    }

    /// Takes `cost` tokens if there are that many.
    pub(crate) fn try_acquire(&self, cost: u32) -> bool {
        let mut t = self.tokens.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if *t >= cost {
            *t -= cost;
            true
        } else {
            false
        }
    }

    /// Gives back `n` tokens (a retried call that succeeded returns what it took).
    pub(crate) fn release(&self, n: u32) {
        let mut t = self.tokens.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *t = (*t).saturating_add(n).min(self.capacity);
    }

    pub(crate) fn reward_success(&self) {
        self.release(SUCCESS_REWARD);
    }

    #[cfg(test)]
    pub(crate) fn available(&self) -> u32 {
        *self.tokens.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// When a call must be over, and what set that time (for error messages): the client's
/// operation timeout, or a deadline the caller gave ([`crate::DownloadsApi::deadline`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Deadline {
    pub(crate) at: tokio::time::Instant,
    /// The operation timeout that set it, or `None` for the caller's deadline.
    operation_timeout: Option<Duration>,
}

impl Deadline {
    /// The deadline of an operation timeout `t` started `at - t`.
    pub(crate) fn operation(started: tokio::time::Instant, t: Duration) -> Self {
        Self { at: started + t, operation_timeout: Some(t) }
    }

    /// A deadline the caller set.
    pub(crate) fn caller(at: tokio::time::Instant) -> Self {
        Self { at, operation_timeout: None }
    }

    /// The sooner of two optional deadlines.
    pub(crate) fn sooner(a: Option<Self>, b: Option<Self>) -> Option<Self> {
        match (a, b) {
            (Some(a), Some(b)) => Some(if b.at < a.at { b } else { a }),
            (a, b) => a.or(b),
        }
    }

    /// What is left of it from now (zero once it has passed).
    pub(crate) fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(tokio::time::Instant::now())
    }

    /// What it is, for a message: "the operation timeout of 5s" or "the deadline".
    pub(crate) fn describe(&self) -> String {
        match self.operation_timeout {
            Some(t) => format!("the operation timeout of {t:?}"),
            None => "the deadline".to_owned(),
        }
    }

    /// The error of a call that ran into it.
    pub(crate) fn expired(&self) -> Error {
        let msg = match self.operation_timeout {
            Some(t) => format!("operation timed out after {t:?}"),
            None => "the deadline passed before the call finished".to_owned(),
        };
        Error::new(ErrorKind::Timeout, msg)
    }
}

/// The retry decision of one call, shared by the API call loop and the file transfer loop (one
/// standard strategy, as smithy-rs has): a bounded number of attempts, the server's hint
/// (capped at [`MAX_SERVER_DELAY`]) or full-jitter backoff, no wait that would end past the
/// deadline, and a token from the shared bucket for every retry.
#[derive(Debug)]
pub(crate) struct Retries<'a> {
    config: &'a RetryConfig,
    bucket: &'a TokenBucket,
    deadline: Option<tokio::time::Instant>,
    attempt: u32,
    taken: u32,
}

impl<'a> Retries<'a> {
    pub(crate) fn new(
        config: &'a RetryConfig,
        bucket: &'a TokenBucket,
        deadline: Option<tokio::time::Instant>,
    ) -> Self {
        Self { config, bucket, deadline, attempt: 0, taken: 0 }
    }

    /// Starts the next attempt and returns its number (1 for the first).
    pub(crate) fn next_attempt(&mut self) -> u32 {
        self.attempt += 1;
        self.attempt
    }

    /// The call succeeded: a first-try success puts a token back, a retried one returns what
    /// its retries took.
    pub(crate) fn succeeded(&self) {
        if self.taken == 0 {
            self.bucket.reward_success();
        } else {
            self.bucket.release(self.taken);
        }
    }

    /// The current attempt failed with `err`: the delay before the next one, or `None` when the
    /// call must answer `err` (not retryable, out of attempts, a wait past the deadline, or an
    /// empty bucket). Tokens are taken only for a retry that will happen.
    pub(crate) fn delay_before_retry(&mut self, err: &Error) -> Option<Duration> {
        if !err.is_retryable() || self.attempt >= self.config.max_attempts {
            return None;
        }
        let delay = match err.retry_after() {
            Some(hint) => hint.min(MAX_SERVER_DELAY),
            None => self.config.backoff(self.attempt),
        };
        if let Some(d) = self.deadline
            && tokio::time::Instant::now() + delay >= d
        {
            // Waiting would only run into the deadline: answer now.
            return None;
        }
        let cost = if err.kind() == ErrorKind::Timeout { TIMEOUT_RETRY_COST } else { RETRY_COST };
        if !self.bucket.try_acquire(cost) {
            tracing::debug!("retry token bucket is empty: not retrying");
            return None;
        }
        self.taken += cost;
        Some(delay)
    }
}

/// How long the server asked the client to wait: `Retry-After` (seconds or an HTTP date), else,
/// on a 429 only (`rate_limited`), `x-ratelimit-reset` (seconds from now, or a Unix time when it
/// is that large). Cloudflare sends `x-ratelimit-reset` on every answer, where it only says when
/// the window resets: on a 503 it is no reason to wait minutes.
pub(crate) fn server_delay(
    headers: &HeaderMap,
    now: SystemTime,
    rate_limited: bool,
) -> Option<Duration> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(v) = text("retry-after") {
        if let Ok(secs) = v.parse::<u64>() {
            return Some(Duration::from_secs(secs));
        }
        if let Ok(at) = httpdate::parse_http_date(v) {
            return Some(at.duration_since(now).unwrap_or(Duration::ZERO));
        }
    }
    if let Some(v) = text("x-ratelimit-reset").filter(|_| rate_limited)
        && let Ok(n) = v.parse::<u64>()
    {
        // A value this large is a Unix time, not a number of seconds to wait.
        if n > 1_000_000_000 {
            let at = SystemTime::UNIX_EPOCH + Duration::from_secs(n);
            return Some(at.duration_since(now).unwrap_or(Duration::ZERO));
        }
        return Some(Duration::from_secs(n));
    }
    None
}

/// A client-side limit on API requests, shared by every clone of a client, so bulk jobs stay
/// under the server's limit instead of being blocked by it.
///
/// `RateLimit::per(n, window)` lets at most `n` requests start in any window of that length: a
/// burst of `n / 40` (at least 1, at most `n - 1`) then a steady pace of
/// `(n - burst) / window`. The default is Cloudflare's documented limit, 1200 per 5 minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub(crate) limit: Option<(u32, Duration, Option<u32>)>,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self::per(1200, Duration::from_secs(300))
    }
}

impl RateLimit {
    /// At most `requests` per `window` (both must be non-zero; checked by
    /// [`crate::ClientBuilder::build`]).
    pub fn per(requests: u32, window: Duration) -> Self {
        Self { limit: Some((requests, window, None)) }
    }

    /// No client-side limit.
    pub fn unlimited() -> Self {
        Self { limit: None }
    }

    /// Sets the burst (requests that may start at once), capped at `requests - 1` so the window
    /// is still respected. The larger the burst, the slower the steady pace.
    #[must_use]
    pub fn burst(mut self, burst: u32) -> Self {
        if let Some((n, w, _)) = self.limit {
            self.limit = Some((n, w, Some(burst)));
        }
        self
    }

    /// The governor quota: (burst, one token per `period`), such that burst + window / period
    /// never exceeds the limit.
    pub(crate) fn quota(&self) -> Result<Option<Quota>, Error> {
        let Some((n, window, burst)) = self.limit else { return Ok(None) };
        if n == 0 || window.is_zero() {
            return Err(Error::build(format!(
                "invalid rate limit {n} requests per {window:?}: both must be non-zero"
            )));
        }
        let burst = burst.unwrap_or(n.div_ceil(40)).clamp(1, n.saturating_sub(1).max(1));
        let steady = n - burst;
        let period = if steady == 0 {
            // n == 1: one request per window, plus a hair so a closed window never holds two.
            window + Duration::from_millis(1)
        } else {
            window / steady
        };
        let period = period.max(Duration::from_nanos(1));
        let quota = Quota::with_period(period).ok_or_else(|| {
            Error::build(format!("invalid rate limit {n} requests per {window:?}"))
        })?;
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        Ok(Some(quota.allow_burst(burst)))
    }
}

/// A governor clock that reads `tokio::time::Instant`, so the limiter follows virtual time.
#[derive(Debug, Clone)]
pub(crate) struct TokioClock {
    origin: tokio::time::Instant,
}

impl TokioClock {
    pub(crate) fn new() -> Self {
        Self { origin: tokio::time::Instant::now() }
    }
}

impl Clock for TokioClock {
    type Instant = Nanos;
    fn now(&self) -> Nanos {
        let d = self.origin.elapsed();
        Nanos::from(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    }
}

type Governor = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Nanos>>;

/// The shared limiter: governor's quota plus a "blocked until" time set by server hints
/// (a 429's `Retry-After`), so that every clone waits after one of them was told to.
pub(crate) struct Limiter {
    governor: Option<Governor>,
    clock: TokioClock,
    blocked_until: Mutex<Option<tokio::time::Instant>>,
}

impl fmt::Debug for Limiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Limiter").field("limited", &self.governor.is_some()).finish()
    }
}

impl Limiter {
    pub(crate) fn new(rate: &RateLimit) -> Result<Self, Error> {
        let clock = TokioClock::new();
        let governor = rate.quota()?.map(|q| RateLimiter::direct_with_clock(q, clock.clone()));
        Ok(Self { governor, clock, blocked_until: Mutex::new(None) })
    }

    /// Waits until a request may start; returns how long it waited. When the limiter would
    /// hold the request until `deadline` or later, answers at once with `Err(wait)` instead:
    /// waiting could only end in a timeout.
    pub(crate) async fn acquire(
        &self,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<Duration, Duration> {
        let start = tokio::time::Instant::now();
        loop {
            let now = tokio::time::Instant::now();
            let until =
                *self.blocked_until.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let until = match until {
                Some(until) if until > now => until,
                _ => {
                    let Some(g) = &self.governor else { break };
                    match g.check() {
                        Ok(()) => break,
                        Err(not_until) => {
                            now + not_until.wait_time_from(self.clock.now()).max(MIN_WAIT)
                        }
                    }
                }
            };
            if deadline.is_some_and(|d| until >= d) {
                return Err(until - now);
            }
            tokio::time::sleep_until(until).await;
        }
        Ok(start.elapsed())
    }

    /// Holds every request of every clone until `d` from now (a server asked us to wait).
    pub(crate) fn block_for(&self, d: Duration) {
        let until = tokio::time::Instant::now() + d;
        let mut b = self.blocked_until.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if b.is_none_or(|old| old < until) {
            *b = Some(until);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_config_debug_names_every_setting() {
        let d = RetryConfig::default().max_attempts(4);
        assert_eq!(
            format!("{d:?}"),
            format!(
                "RetryConfig {{ max_attempts: 4, initial_backoff: {:?}, max_backoff: {:?}, bucket_capacity: {}, jitter: \"full\" }}",
                d.initial_backoff, d.max_backoff, d.bucket_capacity
            )
        );
        let custom = RetryConfig::default().jitter(|c| c);
        assert!(format!("{custom:?}").ends_with(r#"jitter: "custom" }"#), "{custom:?}");
    }

    proptest! {
        /// Backoff never exceeds its ceiling, ceilings never shrink as retries go on and never
        /// pass the configured maximum.
        #[test]
        fn backoff_stays_under_a_growing_bounded_ceiling(
            initial_ms in 1u64..10_000,
            max_ms in 1u64..100_000,
            retry in 1u32..64,
        ) {
            let r = RetryConfig::default()
                .initial_backoff(Duration::from_millis(initial_ms))
                .max_backoff(Duration::from_millis(max_ms));
            prop_assert!(r.backoff(retry) <= r.ceiling(retry));
            prop_assert!(r.ceiling(retry) <= Duration::from_millis(max_ms));
            prop_assert!(r.ceiling(retry) <= r.ceiling(retry + 1));
        }

        /// Server hints never panic to parse, whatever the header holds.
        #[test]
        fn server_delay_never_panics(value in "\\PC{0,40}", throttled: bool) {
            let mut h = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_str(&value) {
                h.insert("retry-after", v.clone());
                h.insert("x-ratelimit-reset", v);
            }
            let _ = server_delay(&h, SystemTime::now(), throttled);
        }
    }

    #[test]
    fn ceilings_double_up_to_the_max() {
        let r = RetryConfig::default()
            .initial_backoff(Duration::from_secs(1))
            .max_backoff(Duration::from_secs(5));
        let c: Vec<_> = (1..=5).map(|n| r.ceiling(n).as_secs()).collect();
        assert_eq!(c, [1, 2, 4, 5, 5]);
        for n in 1..=5 {
            assert!(r.backoff(n) <= r.ceiling(n));
        }
        let fixed = r.jitter(|c| c * 2);
        assert_eq!(
            fixed.backoff(2),
            Duration::from_secs(2),
            "custom jitter is capped at the ceiling"
        );
    }

    #[test]
    fn bucket_runs_dry_and_refills() {
        let b = TokenBucket::new(12);
        assert!(b.try_acquire(RETRY_COST));
        assert!(b.try_acquire(RETRY_COST));
        assert!(!b.try_acquire(RETRY_COST));
        b.release(RETRY_COST);
        b.reward_success();
        assert_eq!(b.available(), 8);
        b.release(100);
        assert_eq!(b.available(), 12);
    }

    #[tokio::test(start_paused = true)]
    async fn retries_bound_attempts_pay_tokens_and_respect_the_deadline() {
        let config = RetryConfig::default().max_attempts(3).jitter(|c| c);
        let bucket = TokenBucket::new(100);
        let mut r = Retries::new(&config, &bucket, None);
        let server_error = || Error::new(ErrorKind::Api, "http 500").with_status(500);
        assert_eq!(r.next_attempt(), 1);
        assert_eq!(r.delay_before_retry(&server_error()), Some(Duration::from_secs(1)));
        assert_eq!(r.next_attempt(), 2);
        let slow = Error::new(ErrorKind::Timeout, "slow");
        assert_eq!(r.delay_before_retry(&slow), Some(Duration::from_secs(2)));
        assert_eq!(bucket.available(), 100 - RETRY_COST - TIMEOUT_RETRY_COST);
        assert_eq!(r.next_attempt(), 3);
        assert_eq!(r.delay_before_retry(&server_error()), None, "out of attempts");
        r.succeeded();
        assert_eq!(bucket.available(), 100, "a retried success returns what it took");

        let mut r = Retries::new(&config, &bucket, None);
        r.next_attempt();
        let bad = Error::new(ErrorKind::Api, "http 403").with_status(403);
        assert_eq!(r.delay_before_retry(&bad), None, "a 403 is not retried");
        let hinted = Error::new(ErrorKind::Api, "http 429")
            .with_status(429)
            .with_retry_after(Some(Duration::from_secs(99_999)));
        assert_eq!(r.delay_before_retry(&hinted), Some(MAX_SERVER_DELAY), "hints are capped");

        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let before = bucket.available();
        let mut r = Retries::new(&config, &bucket, Some(deadline));
        r.next_attempt();
        let wait = |s| server_error().with_retry_after(Some(Duration::from_secs(s)));
        assert_eq!(r.delay_before_retry(&wait(10)), None, "a wait up to the deadline is not begun");
        assert_eq!(bucket.available(), before, "and costs nothing");
        assert_eq!(r.delay_before_retry(&wait(9)), Some(Duration::from_secs(9)));

        let dry = TokenBucket::new(RETRY_COST + 1);
        let mut r = Retries::new(&config, &dry, None);
        r.next_attempt();
        assert_eq!(r.delay_before_retry(&slow), None, "a timeout retry costs more than is left");
        assert_eq!(r.delay_before_retry(&server_error()), Some(Duration::from_secs(1)));
        assert_eq!(dry.available(), 1);
        let mut fresh = Retries::new(&config, &dry, None);
        fresh.next_attempt();
        fresh.succeeded();
        assert_eq!(dry.available(), 2, "a first-try success puts one token back");
    }

    #[test]
    fn server_delay_reads_every_form() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(server_delay(&h, now, true), Some(Duration::from_secs(7)));
        let date = httpdate::fmt_http_date(now + Duration::from_secs(30));
        h.insert("retry-after", HeaderValue::from_str(&date).unwrap());
        assert_eq!(server_delay(&h, now, true), Some(Duration::from_secs(30)));
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-reset", HeaderValue::from_static("12"));
        assert_eq!(server_delay(&h, now, true), Some(Duration::from_secs(12)));
        h.insert("x-ratelimit-reset", HeaderValue::from_static("1700000045"));
        assert_eq!(server_delay(&h, now, true), Some(Duration::from_secs(45)));
        // Up to a billion, a number of seconds; beyond it, a Unix time.
        let mut b = HeaderMap::new();
        b.insert("x-ratelimit-reset", HeaderValue::from_static("1000000000"));
        assert_eq!(server_delay(&b, now, true), Some(Duration::from_secs(1_000_000_000)));
        h.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(
            server_delay(&h, now, true),
            Some(Duration::from_secs(45)),
            "a bad retry-after falls back"
        );
        assert_eq!(server_delay(&HeaderMap::new(), now, true), None);
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-reset", HeaderValue::from_static("300"));
        assert_eq!(server_delay(&h, now, false), None, "the window's reset is no hint on a 503");
        h.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(server_delay(&h, now, false), Some(Duration::from_secs(2)));
    }

    #[test]
    fn quotas_respect_the_window() {
        for (n, w) in [(1200u32, 300u64), (100, 10), (2, 1), (1, 1), (40, 60)] {
            let q = RateLimit::per(n, Duration::from_secs(w)).quota().unwrap().unwrap();
            let burst = q.burst_size().get();
            let in_window = burst as u128
                + Duration::from_secs(w).as_nanos() / q.replenish_interval().as_nanos();
            assert!(in_window <= n as u128, "{n}/{w}s allows {in_window}");
        }
        let q = RateLimit::per(100, Duration::from_secs(10)).burst(7).quota().unwrap().unwrap();
        assert_eq!(q.burst_size().get(), 7);
        assert_eq!(q.replenish_interval(), Duration::from_secs(10) / 93);
        assert!(RateLimit::unlimited().burst(7).quota().unwrap().is_none());
        let shown = |r: &RateLimit| format!("{:?}", Limiter::new(r).unwrap());
        assert_eq!(shown(&RateLimit::unlimited()), "Limiter { limited: false }");
        assert_eq!(shown(&RateLimit::default()), "Limiter { limited: true }");
        assert!(RateLimit::per(0, Duration::from_secs(1)).quota().is_err());
        assert!(RateLimit::per(5, Duration::ZERO).quota().is_err());
        assert!(RateLimit::unlimited().quota().unwrap().is_none());
    }
}
