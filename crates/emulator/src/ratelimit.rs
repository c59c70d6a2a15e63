//! The fixed-window rate limiter behind [`crate::RateLimit`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::config::RateLimit;

/// The limiter forgets finished windows once it tracks this many keys.
const PRUNE_AT: usize = 4096;

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
    windows: Mutex<HashMap<u64, Window>>,
}

impl Limiter {
    pub(crate) fn new(config: RateLimit) -> Self {
        Self { config, windows: Mutex::new(HashMap::new()) }
    }

    pub(crate) fn config(&self) -> RateLimit {
        self.config
    }

    /// Counts one request of `key` at `now`.
    pub(crate) fn check(&self, key: u64, now: Instant) -> Verdict {
        let (Some(limit), Some(window)) = (self.config.requests(), self.config.window()) else {
            return Verdict::Off;
        };
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() >= PRUNE_AT {
            windows.retain(|_, w| now.saturating_duration_since(w.start) < window);
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
        assert_eq!(l.check(1, t0), Verdict::Allowed { limit: 2, remaining: 1, reset_secs: 10 });
        assert_eq!(l.check(1, t0), Verdict::Allowed { limit: 2, remaining: 0, reset_secs: 10 });
        assert_eq!(
            l.check(1, t0 + Duration::from_millis(2500)),
            Verdict::Blocked { limit: 2, reset_secs: 8 }
        );
        // Another key has its own window.
        assert!(matches!(l.check(2, t0), Verdict::Allowed { remaining: 1, .. }));
        assert!(matches!(
            l.check(1, t0 + Duration::from_secs(10)),
            Verdict::Allowed { remaining: 1, .. }
        ));
        l.reset();
        assert!(matches!(
            l.check(1, t0 + Duration::from_secs(11)),
            Verdict::Allowed { remaining: 1, .. }
        ));
        assert_eq!(Limiter::new(RateLimit::disabled()).check(1, t0), Verdict::Off);
        assert_eq!(RateLimit::per(5, Duration::ZERO), RateLimit::disabled());
    }
}
