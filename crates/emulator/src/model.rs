//! The one shape of an account and its videos, shared by the seed, the live store and the state
//! file, and [`VideoInfo`], the public view of a video.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cfstream_types::{
    AccountId, DownloadStatus, DownloadType, PercentComplete, SigningKeyId, VideoId,
};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// The duration a video gets when none is given, in seconds.
pub const DEFAULT_DURATION_SECS: f64 = 30.0;

/// A video as the emulator knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct VideoInfo {
    /// The account that holds the video.
    pub account: AccountId,
    /// The video's id.
    pub id: VideoId,
    /// Whether the video is ready to stream (only then can downloads be created).
    pub ready_to_stream: bool,
    /// The video's duration, in seconds.
    pub duration_secs: f64,
    /// Whether the video's files are served only to a signed URL (a token with
    /// `downloadable: true` in place of the video id); its plain file URL answers 401.
    pub require_signed_urls: bool,
}

/// An account holding videos (in the seed, the store and the state file alike).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Account {
    pub(crate) id: AccountId,
    #[serde(default)]
    pub(crate) videos: Vec<Video>,
    /// The signing keys created through the API (public parts only; a seed holds none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) keys: Vec<SavedKey>,
}

impl Account {
    pub(crate) fn new(id: AccountId) -> Self {
        Self { id, videos: Vec::new(), keys: Vec::new() }
    }
}

/// A signing key created through the API, as the emulator keeps it: the public key only (the
/// private key is answered once, at creation, and never kept), as JWK components.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SavedKey {
    pub(crate) id: SigningKeyId,
    /// When it was created, RFC 3339.
    pub(crate) created: String,
    /// The modulus, base64url without padding (the JWK's `n`).
    pub(crate) n: String,
    /// The public exponent, base64url without padding (the JWK's `e`).
    pub(crate) e: String,
}

/// One video and its downloads (a seed's videos have none).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Video {
    pub(crate) id: VideoId,
    #[serde(default = "yes")]
    pub(crate) ready_to_stream: bool,
    #[serde(default = "default_duration")]
    pub(crate) duration_secs: f64,
    /// Absent in seeds and state files of older emulators: `false`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub(crate) require_signed_urls: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) downloads: BTreeMap<DownloadType, DownloadState>,
}

fn yes() -> bool {
    true
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn default_duration() -> f64 {
    DEFAULT_DURATION_SECS
}

impl Video {
    /// A video without downloads; a duration that is not a finite, non-negative number becomes
    /// [`DEFAULT_DURATION_SECS`].
    pub(crate) fn new(id: VideoId, ready_to_stream: bool, duration_secs: f64) -> Self {
        let duration_secs = if duration_secs.is_finite() && duration_secs >= 0.0 {
            duration_secs
        } else {
            DEFAULT_DURATION_SECS
        };
        Self {
            id,
            ready_to_stream,
            duration_secs,
            require_signed_urls: false,
            downloads: BTreeMap::new(),
        }
    }

    pub(crate) fn info(&self, account: &AccountId) -> VideoInfo {
        VideoInfo {
            account: account.clone(),
            id: self.id.clone(),
            ready_to_stream: self.ready_to_stream,
            duration_secs: self.duration_secs,
            require_signed_urls: self.require_signed_urls,
        }
    }
}

/// Every video, account by account.
pub(crate) fn videos(accounts: &[Account]) -> Vec<VideoInfo> {
    accounts.iter().flat_map(|a| a.videos.iter().map(|v| v.info(&a.id))).collect()
}

/// Where one download stands. In the state file it is a [`SavedDownload`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "SavedDownload", from = "SavedDownload")]
pub(crate) enum DownloadState {
    /// Generating: `offset` of progress was made before `started` (after a restart).
    Running { started: Instant, offset: Duration },
    /// Set by the admin: a fixed status and percentage.
    Fixed { status: DownloadStatus, percent: PercentComplete },
}

impl DownloadState {
    /// A download that starts generating at `now`.
    pub(crate) fn start(now: Instant) -> Self {
        DownloadState::Running { started: now, offset: Duration::ZERO }
    }

    /// The status and progress at `now`, for a download that takes `total` to generate.
    pub(crate) fn view(&self, now: Instant, total: Duration) -> (DownloadStatus, PercentComplete) {
        match self {
            DownloadState::Running { .. } => running_view(self.elapsed(now), total),
            DownloadState::Fixed { status, percent } => (status.clone(), *percent),
        }
    }

    /// How long it has been generating at `now` (zero for a fixed one).
    pub(crate) fn elapsed(&self, now: Instant) -> Duration {
        match self {
            DownloadState::Running { started, offset } => {
                offset.saturating_add(now.saturating_duration_since(*started))
            }
            DownloadState::Fixed { .. } => Duration::ZERO,
        }
    }
}

/// Progress after `elapsed` of `total`: `inprogress` with the percentage floored to a tenth
/// (so successive views never go down), then `ready` at 100.
pub(crate) fn running_view(
    elapsed: Duration,
    total: Duration,
) -> (DownloadStatus, PercentComplete) {
    if elapsed >= total {
        return (DownloadStatus::Ready, PercentComplete::FULL);
    }
    // elapsed < total, so tenths < 1000 and the conversions are exact.
    let tenths = elapsed.as_nanos().saturating_mul(1000) / total.as_nanos().max(1);
    let percent = PercentComplete::new(tenths as f64 / 10.0).unwrap_or(PercentComplete::ZERO);
    (DownloadStatus::InProgress, percent)
}

/// A download as the state file holds it. A running one is the time it had been generating
/// when the snapshot was taken, and when that was by the wall clock: a restarted emulator adds
/// the time it was down, so progress never goes down across a restart, not even after a
/// `kill -9` long after the last save.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum SavedDownload {
    Running {
        elapsed_ms: u64,
        /// Milliseconds since the Unix epoch when `elapsed_ms` was measured (absent in files of
        /// older emulators, which then resume from `elapsed_ms`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at_unix_ms: Option<u64>,
    },
    Fixed {
        status: DownloadStatus,
        percent: PercentComplete,
    },
}

/// Milliseconds since the Unix epoch now (0 for a clock before it).
fn unix_ms_now() -> u64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

impl From<DownloadState> for SavedDownload {
    fn from(d: DownloadState) -> Self {
        match d {
            DownloadState::Running { .. } => SavedDownload::Running {
                elapsed_ms: u64::try_from(d.elapsed(Instant::now()).as_millis())
                    .unwrap_or(u64::MAX),
                at_unix_ms: Some(unix_ms_now()),
            },
            DownloadState::Fixed { status, percent } => SavedDownload::Fixed { status, percent },
        }
    }
}

impl From<SavedDownload> for DownloadState {
    fn from(d: SavedDownload) -> Self {
        match d {
            SavedDownload::Running { elapsed_ms, at_unix_ms } => {
                // A wall clock set back since the save adds nothing (never a negative time).
                let down = at_unix_ms.map_or(0, |at| unix_ms_now().saturating_sub(at));
                DownloadState::Running {
                    started: Instant::now(),
                    offset: Duration::from_millis(elapsed_ms.saturating_add(down)),
                }
            }
            SavedDownload::Fixed { status, percent } => DownloadState::Fixed { status, percent },
        }
    }
}

/// Refuses an account that appears twice, or a video twice in one account, naming it and
/// `place` ("the seed", "the state file").
pub(crate) fn check_unique(accounts: &[Account], place: &str) -> Result<(), String> {
    let mut seen = HashSet::new();
    for account in accounts {
        if !seen.insert(&account.id) {
            return Err(format!("account '{}' appears twice in {place}", account.id));
        }
        let mut videos = HashSet::new();
        for video in &account.videos {
            if !videos.insert(&video.id) {
                return Err(format!(
                    "video '{}' appears twice in account '{}'",
                    video.id, account.id
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_is_monotone_and_ends_ready() {
        let total = Duration::from_secs(3);
        let mut last = -1.0;
        for ms in (0..=3100).step_by(7) {
            let (status, p) = running_view(Duration::from_millis(ms), total);
            assert!(p.get() >= last, "{ms}");
            last = p.get();
            assert_eq!(status == DownloadStatus::Ready, ms >= 3000, "{ms}");
            assert!(status == DownloadStatus::Ready || p.get() < 100.0);
        }
        assert_eq!(running_view(Duration::from_millis(1500), total).1.get(), 50.0);
        assert_eq!(running_view(Duration::from_millis(1), total).1.get(), 0.0);
        assert_eq!(running_view(Duration::ZERO, Duration::ZERO).0, DownloadStatus::Ready);
    }

    #[tokio::test(start_paused = true)]
    async fn a_saved_running_download_resumes_with_the_time_it_was_down() {
        let saved: SavedDownload = serde_json::from_value(serde_json::json!({
            "state": "running", "elapsed_ms": 1000, "at_unix_ms": unix_ms_now() - 60_000
        }))
        .unwrap();
        let elapsed = DownloadState::from(saved).elapsed(Instant::now());
        // 1 s before the save, 60 s down (plus the few ms this test takes).
        assert!(elapsed >= Duration::from_secs(61), "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(70), "{elapsed:?}");
        // A file of an older emulator resumes from elapsed_ms; a clock set back adds nothing.
        for at in [None, Some(unix_ms_now() + 3_600_000)] {
            let saved = SavedDownload::Running { elapsed_ms: 1000, at_unix_ms: at };
            assert_eq!(DownloadState::from(saved).elapsed(Instant::now()), Duration::from_secs(1));
        }
    }
}
