//! The live store: accounts, their videos and each video's downloads (the shapes of
//! [`crate::model`]), with progress computed from `tokio::time::Instant`; and the state file
//! form of it.

use std::borrow::Cow;
use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use cfstream_types::{
    AccountId, Download, DownloadStatus, DownloadType, Downloads, PercentComplete, SigningKeyId,
    Url, VideoId,
};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::content::splitmix64;
use crate::error::{Error, ErrorKind};
use crate::model::{Account, DownloadState, SavedKey, Video, VideoInfo};

/// The version of the state file format.
const STATE_VERSION: u32 = 1;

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

/// Where each account sits in `accounts`, and each of its videos in the account's `videos`.
type Index = HashMap<AccountId, (usize, HashMap<VideoId, usize>)>;

fn index_of(accounts: &[Account]) -> Index {
    accounts
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let videos = a.videos.iter().enumerate().map(|(j, v)| (v.id.clone(), j)).collect();
            (a.id.clone(), (i, videos))
        })
        .collect()
}

/// Every account, video and download, plus what turns them into API bodies.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    accounts: Vec<Account>,
    index: Index,
    /// Counter behind generated video ids.
    next_video: u64,
    /// Bumped on every change; the state file writer skips stale snapshots.
    pub(crate) version: u64,
    /// How long a download takes to get ready.
    pub(crate) total: Duration,
    /// `http://host:port`, the origin of download URLs.
    pub(crate) origin: String,
    /// Each video's download URLs (default, audio), parsed once rather than on every list.
    urls: HashMap<VideoId, [Option<Url>; 2]>,
    /// List answers that cannot change until the store does (see [`Store::listed`]).
    listed: Listed,
}

/// The most list bodies kept (past it the cache starts over).
const LISTED_MAX: usize = 1024;

/// The serialized list answer of videos whose downloads have all settled (ready, error, or
/// forced to a fixed status), by the video's position, valid for one store version.
#[derive(Debug, Clone, Default)]
struct Listed {
    version: u64,
    bodies: HashMap<(usize, usize), Bytes>,
}

impl Store {
    /// A store holding `accounts` (a seed's, or a state file's).
    pub(crate) fn new(accounts: Vec<Account>, total: Duration, origin: String) -> Self {
        let index = index_of(&accounts);
        let mut store = Store {
            accounts,
            index,
            next_video: 0,
            version: 0,
            total,
            origin,
            urls: HashMap::new(),
            listed: Listed::default(),
        };
        store.remember_urls();
        store
    }

    /// Fills the URL cache for every video.
    fn remember_urls(&mut self) {
        let ids: Vec<VideoId> =
            self.accounts.iter().flat_map(|a| a.videos.iter().map(|v| v.id.clone())).collect();
        self.urls.clear();
        for id in ids {
            self.remember_url(id);
        }
    }

    fn remember_url(&mut self, id: VideoId) {
        let urls = [
            self.parse_file_url(&id, &DownloadType::Default),
            self.parse_file_url(&id, &DownloadType::Audio),
        ];
        self.urls.insert(id, urls);
    }

    /// Back to `accounts` (the seed's): no downloads, fresh generated ids.
    pub(crate) fn reset(&mut self, accounts: &[Account]) {
        self.accounts = accounts.to_vec();
        self.index = index_of(&self.accounts);
        self.remember_urls();
        self.next_video = 0;
        self.version += 1;
    }

    /// The accounts, in order.
    pub(crate) fn accounts(&self) -> &[Account] {
        &self.accounts
    }

    /// Whether the store holds this account.
    pub(crate) fn has_account(&self, id: &AccountId) -> bool {
        self.index.contains_key(id)
    }

    fn position(&self, account: &AccountId, video: &VideoId) -> Result<(usize, usize), Missing> {
        let (a, videos) = self.index.get(account).ok_or(Missing::Account)?;
        let v = videos.get(video).ok_or(Missing::Video)?;
        Ok((*a, *v))
    }

    pub(crate) fn video(&self, account: &AccountId, video: &VideoId) -> Result<&Video, Missing> {
        let (a, v) = self.position(account, video)?;
        Ok(&self.accounts[a].videos[v])
    }

    fn video_mut(&mut self, account: &AccountId, video: &VideoId) -> Result<&mut Video, Missing> {
        let (a, v) = self.position(account, video)?;
        // Every change bumps the version too; this keeps a change that forgot to from serving
        // a stale list body.
        self.listed.bodies.clear();
        Ok(&mut self.accounts[a].videos[v])
    }

    /// The URL a download is served at.
    pub(crate) fn file_url(&self, video: &VideoId, t: &DownloadType) -> Option<Url> {
        let slot = match t {
            DownloadType::Default => 0,
            DownloadType::Audio => 1,
            _ => return self.parse_file_url(video, t),
        };
        match self.urls.get(video) {
            Some(urls) => urls[slot].clone(),
            None => self.parse_file_url(video, t),
        }
    }

    fn parse_file_url(&self, video: &VideoId, t: &DownloadType) -> Option<Url> {
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

    /// The list answer's body kept for this video by [`Store::keep_listed`], if the store has
    /// not changed since.
    pub(crate) fn listed(&self, account: &AccountId, video: &VideoId) -> Option<Bytes> {
        if self.listed.version != self.version {
            return None;
        }
        self.listed.bodies.get(&self.position(account, video).ok()?).cloned()
    }

    /// Keeps `body`, the list answer for this video at `now`, if it cannot change until the
    /// store does: every download of the video has settled (fixed, or generated to the end).
    pub(crate) fn keep_listed(
        &mut self,
        account: &AccountId,
        video: &VideoId,
        now: Instant,
        body: Bytes,
    ) {
        let Ok(pos) = self.position(account, video) else { return };
        let settled = self.accounts[pos.0].videos[pos.1].downloads.values().all(|d| {
            matches!(d, DownloadState::Fixed { .. })
                || d.view(now, self.total).0 != DownloadStatus::InProgress
        });
        if !settled {
            return;
        }
        if self.listed.version != self.version || self.listed.bodies.len() >= LISTED_MAX {
            self.listed = Listed { version: self.version, bodies: HashMap::new() };
        }
        self.listed.bodies.insert(pos, body);
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
            v.downloads.insert(t.clone(), DownloadState::start(now));
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
            .filter_map(|a| self.position(&a.id, video).ok())
            .find_map(|(a, v)| self.accounts[a].videos[v].downloads.get(t))
            .map(|d| d.view(now, self.total).0)
    }

    /// The first account holding `video`, and whether the video requires signed URLs.
    pub(crate) fn find_video(&self, video: &VideoId) -> Option<(&AccountId, bool)> {
        self.accounts.iter().find_map(|a| {
            let (i, j) = self.position(&a.id, video).ok()?;
            Some((&a.id, self.accounts[i].videos[j].require_signed_urls))
        })
    }

    /// Makes a video require signed URLs, or not.
    pub(crate) fn set_signed(
        &mut self,
        account: &AccountId,
        video: &VideoId,
        require: bool,
    ) -> Result<VideoInfo, Missing> {
        let v = self.video_mut(account, video)?;
        v.require_signed_urls = require;
        let info = v.info(account);
        self.version += 1;
        Ok(info)
    }

    fn account_mut(&mut self, account: &AccountId) -> Result<&mut Account, Missing> {
        let (a, _) = self.index.get(account).ok_or(Missing::Account)?;
        Ok(&mut self.accounts[*a])
    }

    /// The signing keys of an account, oldest first.
    pub(crate) fn keys(&self, account: &AccountId) -> Result<&[SavedKey], Missing> {
        let (a, _) = self.index.get(account).ok_or(Missing::Account)?;
        Ok(&self.accounts[*a].keys)
    }

    /// Keeps a new signing key of an account.
    pub(crate) fn add_key(&mut self, account: &AccountId, key: SavedKey) -> Result<(), Missing> {
        self.account_mut(account)?.keys.push(key);
        self.version += 1;
        Ok(())
    }

    /// Deletes a signing key; `Ok(false)` if the account has no such key.
    pub(crate) fn delete_key(
        &mut self,
        account: &AccountId,
        id: &SigningKeyId,
    ) -> Result<bool, Missing> {
        let keys = &mut self.account_mut(account)?.keys;
        let before = keys.len();
        keys.retain(|k| &k.id != id);
        let removed = keys.len() != before;
        if removed {
            self.version += 1;
        }
        Ok(removed)
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
            if self.index.values().all(|(_, videos)| !videos.contains_key(&id)) {
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
        let video = Video::new(id, ready_to_stream, duration_secs);
        let info = video.info(account);
        self.remember_url(video.id.clone());
        if !self.index.contains_key(account) {
            self.index.insert(account.clone(), (self.accounts.len(), HashMap::new()));
            self.accounts.push(Account::new(account.clone()));
        }
        // Inserted just above if it was missing.
        let Some((a, videos)) = self.index.get_mut(account) else { return info };
        let list = &mut self.accounts[*a].videos;
        match videos.get(&video.id) {
            Some(&v) => list[v] = video,
            None => {
                videos.insert(video.id.clone(), list.len());
                list.push(video);
            }
        }
        self.version += 1;
        info
    }

    pub(crate) fn set_ready(
        &mut self,
        account: &AccountId,
        video: &VideoId,
        ready: bool,
    ) -> Result<VideoInfo, Missing> {
        let v = self.video_mut(account, video)?;
        v.ready_to_stream = ready;
        let info = v.info(account);
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
            DownloadStatus::InProgress => DownloadState::start(now),
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

    /// Every video, account by account.
    pub(crate) fn videos(&self) -> Vec<VideoInfo> {
        crate::model::videos(&self.accounts)
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
                            "require_signed_urls": v.require_signed_urls,
                            "downloads": self.downloads_of(v, now),
                        })
                    })
                    .collect();
                let keys: Vec<_> = a
                    .keys
                    .iter()
                    .map(|k| serde_json::json!({ "id": k.id, "created": k.created }))
                    .collect();
                serde_json::json!({ "id": a.id, "videos": videos, "signing_keys": keys })
            })
            .collect();
        serde_json::json!({ "accounts": accounts })
    }

    /// The state file form (running downloads measured now).
    pub(crate) fn to_file(&self) -> StateFile<'_> {
        StateFile {
            version: STATE_VERSION,
            next_video: self.next_video,
            accounts: Cow::Borrowed(&self.accounts),
        }
    }

    /// Rebuilds a store from its state file form; in-progress downloads resume where they were.
    pub(crate) fn from_file(
        file: StateFile<'_>,
        total: Duration,
        origin: String,
    ) -> Result<Self, Error> {
        let invalid = |msg: String| Error::new(ErrorKind::InvalidState, msg);
        if file.version != STATE_VERSION {
            return Err(invalid(format!(
                "unsupported state file version {}: expected {STATE_VERSION}",
                file.version
            )));
        }
        let accounts = file.accounts.into_owned();
        crate::model::check_unique(&accounts, "the state file").map_err(invalid)?;
        for v in accounts.iter().flat_map(|a| &a.videos) {
            if let Some(t) = v.downloads.keys().find(|t| t.file_name().is_none()) {
                return Err(invalid(format!("invalid download type '{t}' in the state file")));
            }
        }
        if accounts.is_empty() {
            return Err(invalid("the state file has no account".to_owned()));
        }
        let mut store = Store::new(accounts, total, origin);
        store.next_video = file.next_video;
        Ok(store)
    }
}

/// The state file: what survives a restart.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StateFile<'a> {
    version: u32,
    next_video: u64,
    accounts: Cow<'a, [Account]>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::Seed;

    #[tokio::test(start_paused = true)]
    async fn state_file_round_trip_resumes_progress() {
        let seed = Seed::demo();
        let total = Duration::from_secs(10);
        let mut store =
            Store::new(seed.raw_accounts().to_vec(), total, "http://127.0.0.1:1".into());
        let a = seed.accounts()[0].clone();
        let v = seed.videos()[0].id.clone();
        let t0 = Instant::now();
        store.create(&a, &v, &DownloadType::Default, t0).unwrap().unwrap();
        store.set_download_status(&a, &v, DownloadType::Audio, DownloadStatus::Error, t0).unwrap();
        let added = store.add_video(&a, false, 5.0);
        tokio::time::advance(Duration::from_secs(4)).await;
        let text = serde_json::to_string(&store.to_file()).unwrap();
        let back = Store::from_file(
            serde_json::from_str(&text).unwrap(),
            total,
            "http://127.0.0.1:1".into(),
        )
        .unwrap();
        tokio::time::advance(Duration::from_secs(1)).await;
        let d = back.list(&a, &v, Instant::now()).unwrap();
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

    #[tokio::test(start_paused = true)]
    async fn list_bodies_are_kept_only_while_nothing_can_change_them() {
        let seed = Seed::demo();
        let total = Duration::from_secs(10);
        let mut store =
            Store::new(seed.raw_accounts().to_vec(), total, "http://127.0.0.1:1".into());
        let a = seed.accounts()[0].clone();
        let v = seed.videos()[0].id.clone();
        let body = Bytes::from_static(b"kept");
        let t0 = Instant::now();
        // No downloads: settled.
        store.keep_listed(&a, &v, t0, body.clone());
        assert_eq!(store.listed(&a, &v), Some(body.clone()));
        // A change (a download that runs) drops it, and a running download is not kept.
        store.create(&a, &v, &DownloadType::Default, t0).unwrap().unwrap();
        assert_eq!(store.listed(&a, &v), None);
        store.keep_listed(&a, &v, t0, body.clone());
        assert_eq!(store.listed(&a, &v), None, "in progress: its percentage moves");
        // Generated to the end: ready for good.
        let later = t0 + total;
        store.keep_listed(&a, &v, later, body.clone());
        assert_eq!(store.listed(&a, &v), Some(body.clone()));
        // A forced status is a change too; a fixed error is kept.
        store
            .set_download_status(&a, &v, DownloadType::Audio, DownloadStatus::Error, later)
            .unwrap();
        assert_eq!(store.listed(&a, &v), None);
        store.keep_listed(&a, &v, later, body.clone());
        assert_eq!(store.listed(&a, &v), Some(body.clone()));
        // Other videos and unknown ones have none.
        let other = seed.videos()[1].id.clone();
        assert_eq!(store.listed(&a, &other), None);
        let unknown: VideoId = "abc".parse().unwrap();
        store.keep_listed(&a, &unknown, later, body);
        assert_eq!(store.listed(&a, &unknown), None);
        store.delete(&a, &v, &DownloadType::Audio).unwrap();
        assert_eq!(store.listed(&a, &v), None);
    }
}
