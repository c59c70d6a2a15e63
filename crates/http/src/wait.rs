//! [`WaitOptions`] and `wait_ready`: polling the list with backoff until a download is ready.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use cfstream_types::{Download, DownloadStatus, DownloadType, PercentComplete, VideoId};

use crate::downloads::DownloadsApi;
use crate::error::{Error, ErrorKind};
use crate::reporter::Reporter;

/// How [`DownloadsApi::wait_ready`] polls: a deadline (default 10 minutes) and a poll interval
/// that starts at 1 s and doubles up to 10 s. Every poll goes through the client's rate limit.
#[derive(Clone)]
pub struct WaitOptions {
    pub(crate) timeout: Duration,
    pub(crate) poll_interval: Duration,
    pub(crate) max_poll_interval: Duration,
    pub(crate) reporter: Option<Arc<dyn Reporter>>,
}

impl Default for WaitOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(600),
            poll_interval: Duration::from_secs(1),
            max_poll_interval: Duration::from_secs(10),
            reporter: None,
        }
    }
}

impl fmt::Debug for WaitOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitOptions")
            .field("timeout", &self.timeout)
            .field("poll_interval", &self.poll_interval)
            .field("max_poll_interval", &self.max_poll_interval)
            .field("reporter", &self.reporter.is_some())
            .finish()
    }
}

impl WaitOptions {
    /// Gives up after `d` with [`ErrorKind::NotReady`].
    #[must_use]
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = d;
        self
    }

    /// The first poll interval; it doubles after each poll up to the maximum.
    #[must_use]
    pub fn poll_interval(mut self, d: Duration) -> Self {
        self.poll_interval = d;
        self
    }

    /// The longest poll interval.
    #[must_use]
    pub fn max_poll_interval(mut self, d: Duration) -> Self {
        self.max_poll_interval = d;
        self
    }

    /// Receives [`Reporter::wait_progress`] after every poll.
    #[must_use]
    pub fn reporter(mut self, r: Arc<dyn Reporter>) -> Self {
        self.reporter = Some(r);
        self
    }
}

pub(crate) async fn wait_ready(
    api: &DownloadsApi<'_>,
    video: &VideoId,
    t: DownloadType,
    opts: WaitOptions,
) -> Result<Download, Error> {
    let started = tokio::time::Instant::now();
    let own = started + opts.timeout;
    // The caller's deadline (DownloadsApi::deadline) also bounds each poll; the wait's own
    // timeout only decides when to stop polling.
    let hard = api.deadline;
    let end = hard.map_or(own, |h| h.min(own));
    let mut interval = opts.poll_interval.max(Duration::from_millis(1));
    let max_interval = opts.max_poll_interval.max(interval);
    let mut last: Option<(DownloadStatus, PercentComplete)> = None;
    let not_ready = |(status, percent): (DownloadStatus, PercentComplete)| {
        let after =
            if end == own { format!("after {:?}", opts.timeout) } else { "by the deadline".into() };
        Error::new(
            ErrorKind::NotReady,
            format!(
                "download '{t}' of video {video} not ready {after}: last seen {status} at {percent}"
            ),
        )
        .with_percent(percent)
    };
    loop {
        let downloads = match api.list(video).await {
            Ok(d) => d,
            // The caller's deadline cut a poll short: with progress seen, not ready in time.
            Err(e)
                if e.kind() == ErrorKind::Timeout
                    && hard.is_some_and(|h| tokio::time::Instant::now() >= h) =>
            {
                return Err(last.map_or(e, not_ready));
            }
            Err(e) => return Err(e),
        };
        let Some(d) = downloads.get(&t) else {
            let msg = if last.is_some() {
                format!(
                    "download '{t}' of video {video} disappeared while waiting (was it deleted?)"
                )
            } else {
                format!("video {video} has no '{t}' download: create it before waiting for it")
            };
            return Err(Error::new(ErrorKind::NotFound, msg));
        };
        if let Some(r) = &opts.reporter {
            r.wait_progress(video, &t, &d.status, d.percent_complete);
        }
        tracing::debug!(%video, download_type = %t, status = %d.status, percent = d.percent_complete.get(), "polled");
        match d.status {
            DownloadStatus::Ready => return Ok(d.clone()),
            DownloadStatus::Error => {
                return Err(Error::new(
                    ErrorKind::DownloadFailed,
                    format!(
                        "download '{t}' of video {video} failed (status error at {})",
                        d.percent_complete
                    ),
                )
                .with_percent(d.percent_complete));
            }
            _ => {}
        }
        let seen = (d.status.clone(), d.percent_complete);
        last = Some(seen.clone());
        let now = tokio::time::Instant::now();
        if now >= end {
            return Err(not_ready(seen));
        }
        // The last sleep is cut to the deadline, so one final poll happens right at it.
        tokio::time::sleep(interval.min(end - now)).await;
        interval = interval.saturating_mul(2).min(max_interval);
    }
}
