//! The state every request handler and the [`Admin`] handle share, and the [`Admin`] handle
//! itself.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use cfstream_types::{AccountId, Credentials, DownloadStatus, DownloadType, Downloads, VideoId};
use serde::Serialize;
use tokio::time::Instant;

use crate::config::Progress;
use crate::error::{Error, ErrorKind};
use crate::faults::{FaultPlan, Faults};
use crate::persist::Persister;
use crate::ratelimit::Limiter;
use crate::seed::{DEFAULT_DURATION_SECS, Seed, VideoInfo};
use crate::state::Store;

/// How many requests the log keeps (the oldest go first).
const LOG_CAPACITY: usize = 4096;

/// One answered request, as [`Admin::requests`] lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RequestRecord {
    /// The method (`-` when the request could not be parsed).
    pub method: String,
    /// The path and query, cut to 256 characters (`-` when the request could not be parsed).
    pub path: String,
    /// The status answered.
    pub status: u16,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A snapshot of the store for the state file: (version, JSON bytes).
pub(crate) type Snapshot = (u64, Vec<u8>);

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) store: Mutex<Store>,
    pub(crate) seed: Seed,
    pub(crate) credentials: Vec<Credentials>,
    pub(crate) faults: Mutex<FaultPlan>,
    pub(crate) initial_faults: Faults,
    pub(crate) limiter: Limiter,
    pub(crate) file_size: u64,
    pub(crate) progress: Progress,
    pub(crate) persist: Option<Arc<Persister>>,
    pub(crate) requests: AtomicU64,
    pub(crate) log: Mutex<VecDeque<RequestRecord>>,
}

impl Shared {
    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    /// A snapshot to persist, if there is a state file. Call with the store locked, right after
    /// a change, so versions and contents agree.
    pub(crate) fn snapshot(&self, store: &Store) -> Option<Snapshot> {
        self.persist.as_ref()?;
        match serde_json::to_vec_pretty(&store.to_file()) {
            Ok(bytes) => Some((store.version, bytes)),
            Err(e) => {
                tracing::error!(error = %e, "cannot serialize the state");
                None
            }
        }
    }

    /// Writes a snapshot on the blocking pool and waits for it, so an answered change is on
    /// disk. A failure is logged, not answered: the change did happen in memory.
    pub(crate) async fn save(&self, snapshot: Option<Snapshot>) {
        let (Some((version, bytes)), Some(p)) = (snapshot, self.persist.clone()) else { return };
        match tokio::task::spawn_blocking(move || p.write(version, &bytes)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "state not saved"),
            Err(e) => tracing::error!(error = %e, "state writer failed"),
        }
    }

    /// Writes a snapshot on this thread.
    pub(crate) fn save_blocking(&self, snapshot: Option<Snapshot>) {
        let (Some((version, bytes)), Some(p)) = (snapshot, self.persist.as_ref()) else { return };
        if let Err(e) = p.write(version, &bytes) {
            tracing::error!(error = %e, "state not saved");
        }
    }

    pub(crate) fn record(&self, method: &str, path: &str, status: u16) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut log = lock(&self.log);
        if log.len() >= LOG_CAPACITY {
            log.pop_front();
        }
        log.push_back(RequestRecord { method: method.to_owned(), path: path.to_owned(), status });
    }
}

/// In-process control of a running emulator: add videos, flip readiness, force download
/// statuses, set faults, reset, and read what was requested. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Admin {
    pub(crate) shared: Arc<Shared>,
}

impl Admin {
    /// Adds a video with a fresh id to `account` (created if missing), with the default
    /// duration ([`DEFAULT_DURATION_SECS`]).
    pub fn add_video(&self, account: &AccountId, ready_to_stream: bool) -> VideoId {
        self.add_video_with(account, ready_to_stream, DEFAULT_DURATION_SECS).id
    }

    /// Adds a video with a fresh id and the given duration in seconds to `account` (created
    /// if missing).
    pub fn add_video_with(
        &self,
        account: &AccountId,
        ready_to_stream: bool,
        duration_secs: f64,
    ) -> VideoInfo {
        let (info, snap) = {
            let mut store = self.shared.store();
            let info = store.add_video(account, ready_to_stream, duration_secs);
            (info, self.shared.snapshot(&store))
        };
        self.shared.save_blocking(snap);
        info
    }

    /// Marks a video ready to stream (downloads can be created) or not.
    pub fn set_ready_to_stream(
        &self,
        account: &AccountId,
        video: &VideoId,
        ready: bool,
    ) -> Result<(), Error> {
        let snap = {
            let mut store = self.shared.store();
            store.set_ready(account, video, ready).map_err(|m| m.into_error(account, video))?;
            self.shared.snapshot(&store)
        };
        self.shared.save_blocking(snap);
        Ok(())
    }

    /// Forces the status of a video's download of type `t` (creating the download if needed):
    /// `error` keeps its progress, `ready` makes it 100 %, `inprogress` restarts it from 0.
    pub fn set_download_status(
        &self,
        account: &AccountId,
        video: &VideoId,
        t: DownloadType,
        status: DownloadStatus,
    ) -> Result<(), Error> {
        if t.file_name().is_none() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("invalid download type '{t}': the emulator serves default and audio"),
            ));
        }
        if matches!(status, DownloadStatus::Other(_)) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("invalid download status '{status}': must be inprogress, ready or error"),
            ));
        }
        let snap = {
            let mut store = self.shared.store();
            store
                .set_download_status(account, video, t, status, Instant::now())
                .map_err(|m| m.into_error(account, video))?;
            self.shared.snapshot(&store)
        };
        self.shared.save_blocking(snap);
        Ok(())
    }

    /// Replaces the faults (and restarts their scripts and generator).
    pub fn set_faults(&self, faults: Faults) {
        *lock(&self.shared.faults) = FaultPlan::new(faults);
    }

    /// The faults in force.
    pub fn faults(&self) -> Faults {
        lock(&self.shared.faults).faults().clone()
    }

    /// Back to the start: the seed's videos without downloads, the builder's faults, fresh
    /// rate-limit windows and an empty request log.
    pub fn reset(&self) {
        let snap = {
            let mut store = self.shared.store();
            store.reset(self.shared.seed.raw_accounts());
            self.shared.snapshot(&store)
        };
        self.shared.save_blocking(snap);
        self.set_faults(self.shared.initial_faults.clone());
        self.shared.limiter.reset();
        lock(&self.shared.log).clear();
        self.shared.requests.store(0, std::sync::atomic::Ordering::Relaxed);
    }

    /// How many requests were answered since the start (or the last reset).
    pub fn request_count(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// The latest answered requests, oldest first (at most 4096).
    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.shared.log).iter().cloned().collect()
    }

    /// Every video, account by account.
    pub fn videos(&self) -> Vec<VideoInfo> {
        self.shared.store().videos()
    }

    /// The downloads of a video now, as the list operation would answer.
    pub fn downloads(&self, account: &AccountId, video: &VideoId) -> Result<Downloads, Error> {
        self.shared
            .store()
            .list(account, video, Instant::now())
            .map_err(|m| m.into_error(account, video))
    }

    /// The whole state as the admin route `GET /__emulator/state` shows it.
    pub fn state(&self) -> serde_json::Value {
        let mut view = self.shared.store().view(Instant::now());
        if let Some(obj) = view.as_object_mut() {
            obj.insert("faults".into(), serde_json::to_value(self.faults()).unwrap_or_default());
            obj.insert("request_count".into(), self.request_count().into());
            obj.insert("file_size".into(), self.shared.file_size.into());
            obj.insert(
                "progress_secs".into(),
                self.shared.progress.duration().as_secs_f64().into(),
            );
            let rl = self.shared.limiter.config();
            obj.insert(
                "rate_limit".into(),
                match (rl.requests(), rl.window()) {
                    (Some(n), Some(w)) => {
                        serde_json::json!({ "requests": n, "window_secs": w.as_secs_f64() })
                    }
                    _ => serde_json::Value::Null,
                },
            );
        }
        view
    }
}
