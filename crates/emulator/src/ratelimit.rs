//! The fixed-window rate limiter behind [`crate::RateLimit`], with one bucket per accepted
//! credential and one per client address for requests without valid credentials, in a bounded
//! table.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::config::RateLimit;

/// The most buckets kept. Past it, finished windows are forgotten; if every window is still
/// running, new keys share one overflow bucket, so the table never grows past this.
pub(crate) const MAX_BUCKETS: usize = 4096;

/// Whose bucket a request counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum RateKey {
    /// Valid credentials: the index of the accepted credentials they match, so the same token
    /// written differently (case of the scheme, spaces) is one bucket.
    Credential(usize),
    /// No valid credentials: one bucket per client address, whatever they present.
    Address(IpAddr),
    /// A key that found the table full.
    Overflow,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    count: u32,
}

/// What the limiter decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// No limit configured.
    Off,
    /// Allowed; `remaining` calls are left in a window that resets in `reset_secs`.
    Allowed { limit: u32, remaining: u32, reset_secs: u64 },
    /// Over the limit until the window resets in `reset_secs`.
    Blocked { limit: u32, reset_secs: u64 },
}

#[derive(Debug)]
pub(crate) struct Limiter {
    config: RateLimit,
    windows: Mutex<HashMap<RateKey, Window>>,
}

impl Limiter {
    pub(crate) fn new(config: RateLimit) -> Self {
        Self { config, windows: Mutex::new(HashMap::new()) }
    }

    pub(crate) fn config(&self) -> RateLimit {
        self.config
    }

    /// Whether a limit is configured (otherwise every [`Limiter::check`] is [`Verdict::Off`]).
    pub(crate) fn is_on(&self) -> bool {
        self.config.requests().is_some() && self.config.window().is_some()
    }

    /// Counts one request of `key` at `now`.
    pub(crate) fn check(&self, key: RateKey, now: Instant) -> Verdict {
        let (Some(limit), Some(window)) = (self.config.requests(), self.config.window()) else {
            return Verdict::Off;
        };
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let mut key = key;
        // One slot is kept for the overflow bucket.
        if windows.len() >= MAX_BUCKETS - 1 && !windows.contains_key(&key) {
            windows.retain(|_, w| now.saturating_duration_since(w.start) < window);
            if windows.len() >= MAX_BUCKETS - 1 {
                key = RateKey::Overflow;
            }
        }
        let w = windows.entry(key).or_insert(Window { start: now, count: 0 });
        if now.saturating_duration_since(w.start) >= window {
            *w = Window { start: now, count: 0 };
        }
        let left = window.saturating_sub(now.saturating_duration_since(w.start));
        let reset_secs = ceil_secs(left).max(1);
        if w.count >= limit {
            return Verdict::Blocked { limit, reset_secs };
        }
        w.count += 1;
        Verdict::Allowed { limit, remaining: limit - w.count, reset_secs }
    }

    /// How many buckets are kept.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.windows.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub(crate) fn reset(&self) {
        self.windows.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn blocks_for_the_rest_of_the_window() {
        let l = Limiter::new(RateLimit::per(2, Duration::from_secs(10)));
        let t0 = Instant::now();
        let (k1, k2) = (RateKey::Credential(0), RateKey::Credential(1));
        assert_eq!(l.check(k1, t0), Verdict::Allowed { limit: 2, remaining: 1, reset_secs: 10 });
        assert_eq!(l.check(k1, t0), Verdict::Allowed { limit: 2, remaining: 0, reset_secs: 10 });
        assert_eq!(
            l.check(k1, t0 + Duration::from_millis(2500)),
            Verdict::Blocked { limit: 2, reset_secs: 8 }
        );
        // Another key has its own window.
        assert!(matches!(l.check(k2, t0), Verdict::Allowed { remaining: 1, .. }));
        assert!(matches!(
            l.check(k1, t0 + Duration::from_secs(10)),
            Verdict::Allowed { remaining: 1, .. }
        ));
        l.reset();
        assert!(matches!(
            l.check(k1, t0 + Duration::from_secs(11)),
            Verdict::Allowed { remaining: 1, .. }
        ));
        assert_eq!(Limiter::new(RateLimit::disabled()).check(k1, t0), Verdict::Off);
        assert!(!Limiter::new(RateLimit::disabled()).is_on());
        assert!(Limiter::new(RateLimit::per(3, Duration::from_secs(60))).is_on());
        assert_eq!(RateLimit::per(5, Duration::ZERO), RateLimit::disabled());
    }

    #[tokio::test(start_paused = true)]
    async fn the_table_stays_bounded_and_full_keys_share_the_overflow_bucket() {
        let l = Limiter::new(RateLimit::per(3, Duration::from_secs(60)));
        let t0 = Instant::now();
        let addr = |i: u32| RateKey::Address(IpAddr::from(i.to_be_bytes()));
        for i in 0..10_000 {
            let v = l.check(addr(i), t0);
            // The first keys get their own buckets; the rest share the overflow one.
            assert!(matches!(v, Verdict::Allowed { remaining: 2, .. }) || i >= 4095, "{i}: {v:?}");
        }
        assert_eq!(l.len(), MAX_BUCKETS);
        // Keys that found the table full share one bucket (3 requests in all, then blocked).
        assert!(matches!(l.check(addr(20_000), t0), Verdict::Blocked { .. }));
        // A key already kept keeps its own bucket.
        assert_eq!(
            l.check(addr(7), t0),
            Verdict::Allowed { limit: 3, remaining: 1, reset_secs: 60 }
        );
        // Once windows end, new keys get their own buckets again.
        let later = t0 + Duration::from_secs(61);
        assert_eq!(
            l.check(addr(30_000), later),
            Verdict::Allowed { limit: 3, remaining: 2, reset_secs: 60 }
        );
        assert_eq!(l.len(), 1);
    }
}
