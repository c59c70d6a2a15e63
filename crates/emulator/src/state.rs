//! The emulator's state: accounts, their videos and each video's downloads, with progress
//! computed from `tokio::time::Instant`; and its JSON form for the state file.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use cfstream_types::{
    AccountId, Download, DownloadStatus, DownloadType, Downloads, PercentComplete, Url, VideoId,
};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::content::splitmix64;
use crate::error::{Error, ErrorKind};
use crate::seed::{Seed, VideoInfo};

/// The version of the state file format.
const STATE_VERSION: u32 = 1;

/// Where one download stands.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum DownloadState {
    /// Generating: `offset` of progress was made before `started` (after a restart).
    Running { started: Instant, offset: Duration },
    /// Set by the admin: a fixed status and percentage.
    Fixed { status: DownloadStatus, percent: PercentComplete },
}

impl DownloadState {
    /// The status and progress at `now`, for a download that takes `total` to generate.
    pub(crate) fn view(&self, now: Instant, total: Duration) -> (DownloadStatus, PercentComplete) {
        match self {
            DownloadState::Running { started, offset } => {
                let elapsed = offset.saturating_add(now.saturating_duration_since(*started));
                running_view(elapsed, total)
            }
            DownloadState::Fixed { status, percent } => (status.clone(), *percent),
        }
    }

    fn elapsed(&self, now: Instant) -> Duration {
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

#[derive(Debug, Clone)]
pub(crate) struct Video {
    pub(crate) id: VideoId,
    pub(crate) ready_to_stream: bool,
    pub(crate) duration_secs: f64,
    pub(crate) downloads: BTreeMap<DownloadType, DownloadState>,
}

#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub(crate) id: AccountId,
    pub(crate) videos: Vec<Video>,
    index: HashMap<VideoId, usize>,
}

impl Account {
    fn new(id: AccountId) -> Self {
        Self { id, videos: Vec::new(), index: HashMap::new() }
    }

    fn push(&mut self, video: Video) {
        if let Some(&i) = self.index.get(&video.id) {
            self.videos[i] = video;
        } else {
            self.index.insert(video.id.clone(), self.videos.len());
            self.videos.push(video);
        }
    }

    pub(crate) fn video(&self, id: &VideoId) -> Option<&Video> {
        self.index.get(id).map(|&i| &self.videos[i])
    }

    pub(crate) fn video_mut(&mut self, id: &VideoId) -> Option<&mut Video> {
        self.index.get(id).map(|&i| &mut self.videos[i])
    }
}

/// Why a lookup failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Missing {
    Account,
    Video,
}

impl Missing {
    pub(crate) fn into_error(self, account: &AccountId, video: &VideoId) -> Error {
        match self {
            Missing::Account => {
                Error::new(ErrorKind::UnknownAccount, format!("unknown account '{account}'"))
            }
            Missing::Video => Error::new(
                ErrorKind::UnknownVideo,
                format!("unknown video '{video}' in account '{account}'"),
            ),
        }
    }
}

/// Every account, video and download, plus what turns them into API bodies.
#[derive(Debug)]
pub(crate) struct Store {
    pub(crate) accounts: Vec<Account>,
    /// Counter behind generated video ids.
    next_video: u64,
    /// Bumped on every change; the state file writer skips stale snapshots.
    pub(crate) version: u64,
    /// How long a download takes to get ready.
    pub(crate) total: Duration,
    /// `http://host:port`, the origin of download URLs.
    pub(crate) origin: String,
}

impl Store {
    pub(crate) fn from_seed(seed: &Seed, total: Duration, origin: String) -> Self {
        let mut store = Store { accounts: Vec::new(), next_video: 0, version: 0, total, origin };
        store.load_seed(seed);
        store
    }

    fn load_seed(&mut self, seed: &Seed) {
        self.accounts.clear();
        for a in seed.raw_accounts() {
            let mut account = Account::new(a.id.clone());
            for v in &a.videos {
                account.push(Video {
                    id: v.id.clone(),
                    ready_to_stream: v.ready_to_stream,
                    duration_secs: v.duration_secs,
                    downloads: BTreeMap::new(),
                });
            }
            self.accounts.push(account);
        }
    }

    /// Back to the seed: seeded videos only, no downloads.
    pub(crate) fn reset(&mut self, seed: &Seed) {
        self.load_seed(seed);
        self.next_video = 0;
        self.version += 1;
    }

    pub(crate) fn account(&self, id: &AccountId) -> Option<&Account> {
        self.accounts.iter().find(|a| &a.id == id)
    }

    fn account_mut(&mut self, id: &AccountId) -> Option<&mut Account> {
        self.accounts.iter_mut().find(|a| &a.id == id)
    }

    pub(crate) fn video(&self, account: &AccountId, video: &VideoId) -> Result<&Video, Missing> {
        self.account(account).ok_or(Missing::Account)?.video(video).ok_or(Missing::Video)
    }

    fn video_mut(&mut self, account: &AccountId, video: &VideoId) -> Result<&mut Video, Missing> {
        self.account_mut(account).ok_or(Missing::Account)?.video_mut(video).ok_or(Missing::Video)
    }

    /// The URL a download is served at.
    pub(crate) fn file_url(&self, video: &VideoId, t: &DownloadType) -> Option<Url> {
        let name = t.file_name()?;
        Url::parse(&format!("{}/{video}/downloads/{name}", self.origin)).ok()
    }

    /// The `result` of list and create for a video.
    pub(crate) fn downloads_of(&self, video: &Video, now: Instant) -> Downloads {
        let mut out = Downloads::default();
        for (t, state) in &video.downloads {
            let (status, percent) = state.view(now, self.total);
            let mut download = Download::new(status, percent);
            download.url = self.file_url(&video.id, t);
            out.set(t, Some(download));
        }
        out
    }

    pub(crate) fn list(
        &self,
        account: &AccountId,
        video: &VideoId,
        now: Instant,
    ) -> Result<Downloads, Missing> {
        let v = self.video(account, video)?;
        Ok(self.downloads_of(v, now))
    }

    /// Creates the download of type `t` if missing. `Ok(None)`: the video is not ready to
    /// stream. Returns whether something changed, and the downloads.
    pub(crate) fn create(
        &mut self,
        account: &AccountId,
        video: &VideoId,
        t: &DownloadType,
        now: Instant,
    ) -> Result<Option<(bool, Downloads)>, Missing> {
        let v = self.video_mut(account, video)?;
        if !v.ready_to_stream {
            return Ok(None);
        }
        let mut changed = false;
        if !v.downloads.contains_key(t) {
            v.downloads
                .insert(t.clone(), DownloadState::Running { started: now, offset: Duration::ZERO });
            changed = true;
        }
        if changed {
            self.version += 1;
        }
        let v = self.video(account, video)?;
        Ok(Some((changed, self.downloads_of(v, now))))
    }

    /// Removes the download of type `t`; `Ok(false)` if there was none.
    pub(crate) fn delete(
        &mut self,
        account: &AccountId,
        video: &VideoId,
        t: &DownloadType,
    ) -> Result<bool, Missing> {
        let removed = self.video_mut(account, video)?.downloads.remove(t).is_some();
        if removed {
            self.version += 1;
        }
        Ok(removed)
    }

    /// The status of a download, wherever its video is (the file route knows only the uid).
    pub(crate) fn file_status(
        &self,
        video: &VideoId,
        t: &DownloadType,
        now: Instant,
    ) -> Option<DownloadStatus> {
        self.accounts
            .iter()
            .filter_map(|a| a.video(video))
            .find_map(|v| v.downloads.get(t))
            .map(|d| d.view(now, self.total).0)
    }

    /// Adds a video with a fresh id (creating the account if needed).
    pub(crate) fn add_video(
        &mut self,
        account: &AccountId,
        ready_to_stream: bool,
        duration_secs: f64,
    ) -> VideoInfo {
        let id = loop {
            self.next_video += 1;
            let n = self.next_video;
            let hex = format!(
                "{:016x}{:016x}",
                splitmix64(n.wrapping_mul(2)),
                splitmix64(n.wrapping_mul(2) + 1)
            );
            let Ok(id) = VideoId::new(hex) else { continue };
            if self.accounts.iter().all(|a| a.video(&id).is_none()) {
                break id;
            }
        };
        self.insert_video(account, id, ready_to_stream, duration_secs)
    }

    /// Adds or replaces a video (creating the account if needed).
    pub(crate) fn insert_video(
        &mut self,
        account: &AccountId,
        id: VideoId,
        ready_to_stream: bool,
        duration_secs: f64,
    ) -> VideoInfo {
        if self.account(account).is_none() {
            self.accounts.push(Account::new(account.clone()));
        }
        let duration_secs = if duration_secs.is_finite() && duration_secs >= 0.0 {
            duration_secs
        } else {
            crate::seed::DEFAULT_DURATION_SECS
        };
        if let Some(a) = self.account_mut(account) {
            a.push(Video {
                id: id.clone(),
                ready_to_stream,
                duration_secs,
                downloads: BTreeMap::new(),
            });
        }
        self.version += 1;
        VideoInfo { account: account.clone(), id, ready_to_stream, duration_secs }
    }

    pub(crate) fn set_ready(
        &mut self,
        account: &AccountId,
        video: &VideoId,
        ready: bool,
    ) -> Result<VideoInfo, Missing> {
        let v = self.video_mut(account, video)?;
        v.ready_to_stream = ready;
        let info = VideoInfo {
            account: account.clone(),
            id: v.id.clone(),
            ready_to_stream: ready,
            duration_secs: v.duration_secs,
        };
        self.version += 1;
        Ok(info)
    }

    /// Forces a download's status: `inprogress` restarts it from 0, `ready` is 100 %, `error`
    /// keeps the progress it had.
    pub(crate) fn set_download_status(
        &mut self,
        account: &AccountId,
        video: &VideoId,
        t: DownloadType,
        status: DownloadStatus,
        now: Instant,
    ) -> Result<(), Missing> {
        let total = self.total;
        let v = self.video_mut(account, video)?;
        let current =
            v.downloads.get(&t).map(|d| d.view(now, total).1).unwrap_or(PercentComplete::ZERO);
        let state = match status {
            DownloadStatus::InProgress => {
                DownloadState::Running { started: now, offset: Duration::ZERO }
            }
            DownloadStatus::Ready => DownloadState::Fixed {
                status: DownloadStatus::Ready,
                percent: PercentComplete::FULL,
            },
            _ => DownloadState::Fixed { status, percent: current },
        };
        v.downloads.insert(t, state);
        self.version += 1;
        Ok(())
    }

    pub(crate) fn videos(&self) -> Vec<VideoInfo> {
        self.accounts
            .iter()
            .flat_map(|a| {
                a.videos.iter().map(|v| VideoInfo {
                    account: a.id.clone(),
                    id: v.id.clone(),
                    ready_to_stream: v.ready_to_stream,
                    duration_secs: v.duration_secs,
                })
            })
            .collect()
    }

    /// The state as the admin route shows it: every video with its current downloads.
    pub(crate) fn view(&self, now: Instant) -> serde_json::Value {
        let accounts: Vec<_> = self
            .accounts
            .iter()
            .map(|a| {
                let videos: Vec<_> = a
                    .videos
                    .iter()
                    .map(|v| {
                        serde_json::json!({
                            "id": v.id,
                            "ready_to_stream": v.ready_to_stream,
                            "duration_secs": v.duration_secs,
                            "downloads": self.downloads_of(v, now),
                        })
                    })
                    .collect();
                serde_json::json!({ "id": a.id, "videos": videos })
            })
            .collect();
        serde_json::json!({ "accounts": accounts })
    }

    /// The state file form.
    pub(crate) fn to_file(&self, now: Instant) -> StateFile {
        StateFile {
            version: STATE_VERSION,
            next_video: self.next_video,
            accounts: self
                .accounts
                .iter()
                .map(|a| FileAccount {
                    id: a.id.clone(),
                    videos: a
                        .videos
                        .iter()
                        .map(|v| FileVideo {
                            id: v.id.clone(),
                            ready_to_stream: v.ready_to_stream,
                            duration_secs: v.duration_secs,
                            downloads: v
                                .downloads
                                .iter()
                                .map(|(t, d)| {
                                    let saved = match d {
                                        DownloadState::Running { .. } => FileDownload::Running {
                                            elapsed_ms: u64::try_from(d.elapsed(now).as_millis())
                                                .unwrap_or(u64::MAX),
                                        },
                                        DownloadState::Fixed { status, percent } => {
                                            FileDownload::Fixed {
                                                status: status.clone(),
                                                percent: percent.get(),
                                            }
                                        }
                                    };
                                    (t.as_str().to_owned(), saved)
                                })
                                .collect(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    /// Rebuilds a store from its state file form; in-progress downloads resume where they were.
    pub(crate) fn from_file(
        file: StateFile,
        total: Duration,
        origin: String,
        now: Instant,
    ) -> Result<Self, Error> {
        let invalid = |msg: String| Error::new(ErrorKind::InvalidState, msg);
        if file.version != STATE_VERSION {
            return Err(invalid(format!(
                "unsupported state file version {}: expected {STATE_VERSION}",
                file.version
            )));
        }
        let mut store =
            Store { accounts: Vec::new(), next_video: file.next_video, version: 0, total, origin };
        for a in file.accounts {
            let mut account = Account::new(a.id);
            for v in a.videos {
                let mut downloads = BTreeMap::new();
                for (name, d) in v.downloads {
                    let t = match name.as_str() {
                        "default" => DownloadType::Default,
                        "audio" => DownloadType::Audio,
                        other => {
                            return Err(invalid(format!(
                                "invalid download type '{other}' in the state file"
                            )));
                        }
                    };
                    let state = match d {
                        FileDownload::Running { elapsed_ms } => DownloadState::Running {
                            started: now,
                            offset: Duration::from_millis(elapsed_ms),
                        },
                        FileDownload::Fixed { status, percent } => DownloadState::Fixed {
                            status,
                            percent: PercentComplete::new(percent)
                                .map_err(|e| invalid(e.to_string()))?,
                        },
                    };
                    downloads.insert(t, state);
                }
                account.push(Video {
                    id: v.id,
                    ready_to_stream: v.ready_to_stream,
                    duration_secs: v.duration_secs,
                    downloads,
                });
            }
            store.accounts.push(account);
        }
        if store.accounts.is_empty() {
            return Err(invalid("the state file has no account".to_owned()));
        }
        Ok(store)
    }
}

/// The state file: what survives a restart.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StateFile {
    version: u32,
    next_video: u64,
    accounts: Vec<FileAccount>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileAccount {
    id: AccountId,
    videos: Vec<FileVideo>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileVideo {
    id: VideoId,
    ready_to_stream: bool,
    duration_secs: f64,
    #[serde(default)]
    downloads: BTreeMap<String, FileDownload>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case", deny_unknown_fields)]
enum FileDownload {
    Running { elapsed_ms: u64 },
    Fixed { status: DownloadStatus, percent: f64 },
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
    async fn state_file_round_trip_resumes_progress() {
        let seed = Seed::demo();
        let total = Duration::from_secs(10);
        let mut store = Store::from_seed(&seed, total, "http://127.0.0.1:1".into());
        let a = seed.accounts()[0].clone();
        let v = seed.videos()[0].id.clone();
        let t0 = Instant::now();
        store.create(&a, &v, &DownloadType::Default, t0).unwrap().unwrap();
        store.set_download_status(&a, &v, DownloadType::Audio, DownloadStatus::Error, t0).unwrap();
        let added = store.add_video(&a, false, 5.0);
        let file = store.to_file(t0 + Duration::from_secs(4));
        let text = serde_json::to_string(&file).unwrap();
        let back = Store::from_file(
            serde_json::from_str(&text).unwrap(),
            total,
            "http://127.0.0.1:1".into(),
            t0,
        )
        .unwrap();
        let d = back.list(&a, &v, t0 + Duration::from_secs(1)).unwrap();
        assert_eq!(d.default.as_ref().unwrap().percent_complete.get(), 50.0);
        assert_eq!(d.audio.as_ref().unwrap().status, DownloadStatus::Error);
        assert!(!back.video(&a, &added.id).unwrap().ready_to_stream);
        // Generated ids keep being fresh after a restart.
        let mut back = back;
        assert_ne!(back.add_video(&a, true, 1.0).id, added.id);
        assert_eq!(
            d.default.unwrap().url.unwrap().as_str(),
            format!("http://127.0.0.1:1/{v}/downloads/default.mp4")
        );
    }
}
