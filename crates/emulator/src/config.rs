//! Behaviour settings of the builder: [`Progress`] and [`RateLimit`].

use std::time::Duration;

/// How fast a created download gets ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Progress {
    /// A download is `ready` (100 %) as soon as it is created.
    Instant,
    /// A download is `inprogress` from 0 % and turns `ready` once this much time has passed
    /// (measured with `tokio::time::Instant`, so `tokio::time::pause` and `advance` drive it).
    Over(Duration),
}

impl Default for Progress {
    /// Three seconds: long enough to see progress, short enough for a demo.
    fn default() -> Self {
        Progress::Over(Duration::from_secs(3))
    }
}

impl Progress {
    /// The time from creation to `ready`.
    pub fn duration(self) -> Duration {
        match self {
            Progress::Instant => Duration::ZERO,
            Progress::Over(d) => d,
        }
    }
}

/// A rate limit on the API routes, per accepted credential (and per client address without
/// valid credentials), in fixed windows as Cloudflare does: once
/// over the limit, every call is answered 429 until the window ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    limit: Option<(u32, Duration)>,
}

impl Default for RateLimit {
    /// Cloudflare's: 1200 requests per 5 minutes.
    fn default() -> Self {
        RateLimit::per(1200, Duration::from_secs(300))
    }
}

impl RateLimit {
    /// At most `requests` per `window`. A zero `window` disables the limit.
    pub fn per(requests: u32, window: Duration) -> Self {
        if window.is_zero() {
            RateLimit::disabled()
        } else {
            RateLimit { limit: Some((requests, window)) }
        }
    }

    /// No limit, and no `x-ratelimit-*` headers.
    pub fn disabled() -> Self {
        RateLimit { limit: None }
    }

    /// The requests allowed per window, if limited.
    pub fn requests(&self) -> Option<u32> {
        self.limit.map(|(n, _)| n)
    }

    /// The window, if limited.
    pub fn window(&self) -> Option<Duration> {
        self.limit.map(|(_, w)| w)
    }
}
