//! [`Reporter`]: how the client tells a caller (a progress bar, a log) what it is doing.

use std::time::Duration;

use cfstream_types::{DownloadStatus, DownloadType, Operation, PercentComplete, VideoId};

/// Receives progress events. Every method has a no-op default, so implement only what you show.
///
/// Methods are called from the task that runs the call; keep them quick.
pub trait Reporter: Send + Sync + 'static {
    /// `wait_ready` polled the list: the download's status and progress now.
    fn wait_progress(
        &self,
        video: &VideoId,
        t: &DownloadType,
        status: &DownloadStatus,
        percent: PercentComplete,
    ) {
        let _ = (video, t, status, percent);
    }

    /// `fetch` got a response: `total` is the full size when known, `resumed_from` the bytes
    /// already on disk from an earlier attempt.
    fn fetch_started(&self, video: Option<&VideoId>, total: Option<u64>, resumed_from: u64) {
        let _ = (video, total, resumed_from);
    }

    /// `fetch` has written `bytes_so_far` bytes of the file (counting resumed bytes) to disk.
    fn fetch_progress(&self, bytes_so_far: u64) {
        let _ = bytes_so_far;
    }

    /// `fetch` finished: the file holds `bytes` bytes under its final name.
    fn fetch_finished(&self, bytes: u64) {
        let _ = bytes;
    }

    /// An attempt of an API call failed for `reason` and attempt number `attempt` starts after
    /// `delay`.
    fn retrying(&self, operation: Operation, attempt: u32, delay: Duration, reason: &str) {
        let _ = (operation, attempt, delay, reason);
    }

    /// An attempt of `fetch`'s file transfer failed for `reason` and attempt number `attempt`
    /// starts after `delay` (it resumes from the bytes already on disk when it can).
    fn fetch_retrying(&self, attempt: u32, delay: Duration, reason: &str) {
        let _ = (attempt, delay, reason);
    }
}

/// The reporter that reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopReporter;

impl Reporter for NoopReporter {}
