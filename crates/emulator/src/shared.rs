//! The state every request handler and the [`Admin`] handle share, and the [`Admin`] handle
//! itself.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use cfstream_types::{AccountId, Credentials, DownloadStatus, DownloadType, Downloads, VideoId};
use tokio::time::Instant;

use crate::config::Progress;
use crate::conn::{Registry, Timeouts};
use crate::content::FileContent;
use crate::error::{Error, ErrorKind};
use crate::faults::{FaultCell, FaultPlan, Faults};
use crate::persist::Persister;
use crate::ratelimit::Limiter;
use crate::reqlog::{RequestLog, RequestRecord};
use crate::seed::{DEFAULT_DURATION_SECS, Seed, VideoInfo};
use crate::state::Store;

/// The largest file kept in memory once generated; larger ones are generated as they stream.
pub(crate) const CACHED_FILE_MAX: u64 = 16 * 1024 * 1024;

/// How many generated files are kept (past it the cache starts over).
pub(crate) const CACHED_FILES: usize = 8;

/// The store, locked. Any mutable access counts as a change: the store's generation moves on
/// when the guard drops, while the lock is still held, so a reader that sees the old
/// generation (without the lock) read before the change was acknowledged.
pub(crate) struct StoreGuard<'a> {
    store: MutexGuard<'a, Store>,
    generation: &'a AtomicU64,
    changed: bool,
}

impl std::ops::Deref for StoreGuard<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.store
    }
}

impl std::ops::DerefMut for StoreGuard<'_> {
    fn deref_mut(&mut self) -> &mut Store {
        self.changed = true;
        &mut self.store
    }
}

impl Drop for StoreGuard<'_> {
    fn drop(&mut self) {
        if self.changed {
            // Before the fields drop: the lock is still held.
            self.generation.fetch_add(1, Ordering::Release);
        }
    }
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
    pub(crate) faults: FaultCell,
    pub(crate) initial_faults: Faults,
    pub(crate) limiter: Limiter,
    pub(crate) file_size: u64,
    pub(crate) progress: Progress,
    pub(crate) persist: Option<Arc<Persister>>,
    /// The open connections, capped.
    pub(crate) conns: Registry,
    /// When idle and slow connections are closed.
    pub(crate) timeouts: Timeouts,
    /// Held while a change is made and saved, so saves happen one at a time, in order.
    pub(crate) writer: Mutex<()>,
    /// See [`Shared::generation`].
    pub(crate) generation: AtomicU64,
    /// Every answered request, counted and logged.
    pub(crate) log: RequestLog,
    /// Generated files of at most [`CACHED_FILE_MAX`] bytes, by content key, generated once
    /// and then served as slices of one shared buffer (at most [`CACHED_FILES`] of them).
    pub(crate) files: Mutex<HashMap<u64, Bytes>>,
    /// The emulator's own signing key (see [`crate::signing`]), made on first use.
    pub(crate) own_key: tokio::sync::OnceCell<crate::signing::OwnKey>,
}

impl Shared {
    pub(crate) fn store(&self) -> StoreGuard<'_> {
        StoreGuard { store: lock(&self.store), generation: &self.generation, changed: false }
    }

    /// The store's generation: it moves on whenever the store may have changed (see
    /// [`StoreGuard`]), so an answer read from the store at one generation is still the answer
    /// while the generation is the same. Read without the lock.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
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

    /// Applies `f` to the store and, with a state file, saves the result before returning, so
    /// that an acknowledged change is on disk. If the save fails, the change is undone and the
    /// error returned. Changes are saved one at a time, in order. Blocking: async code calls
    /// [`Shared::change_async`].
    pub(crate) fn change<T>(&self, f: impl FnOnce(&mut Store) -> T) -> Result<T, Error> {
        match self.commit(true, f) {
            (result, None) => Ok(result),
            (_, Some(e)) => Err(e),
        }
    }

    /// [`Shared::change`] for the in-process calls that cannot report a failed save: the
    /// change is kept in memory and the failure logged.
    pub(crate) fn change_keeping<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        let (result, error) = self.commit(false, f);
        if let Some(e) = error {
            tracing::error!(error = %e, "state not saved: the change is kept in memory only");
        }
        result
    }

    fn commit<T>(&self, undo: bool, f: impl FnOnce(&mut Store) -> T) -> (T, Option<Error>) {
        let Some(p) = self.persist.as_ref() else { return (f(&mut self.store()), None) };
        let _writer = lock(&self.writer);
        let (before, result, snap) = {
            let mut store = self.store();
            let before = store.clone();
            let result = f(&mut store);
            if store.version == before.version {
                return (result, None);
            }
            let snap = self.snapshot(&store);
            (before, result, snap)
        };
        let Some((version, bytes)) = snap else { return (result, None) };
        let Err(e) = p.write(version, &bytes) else { return (result, None) };
        if undo {
            let mut store = self.store();
            let version = store.version;
            *store = before;
            // Versions only go up, so a later snapshot is never skipped as stale.
            store.version = version + 1;
        }
        (result, Some(e))
    }

    /// [`Shared::change`] (undoing on error) from async code: on the blocking pool when there
    /// is a state file to write, inline otherwise.
    pub(crate) async fn change_async<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Store) -> T + Send + 'static,
    ) -> Result<T, Error> {
        if self.persist.is_none() {
            return Ok(f(&mut self.store()));
        }
        let shared = self.clone();
        tokio::task::spawn_blocking(move || shared.change(f)).await.map_err(|e| {
            Error::with_source(ErrorKind::Io, format!("state writer failed: {e}"), e)
        })?
    }

    /// Writes a snapshot on this thread.
    pub(crate) fn save_blocking(&self, snapshot: Option<Snapshot>) {
        let (Some((version, bytes)), Some(p)) = (snapshot, self.persist.as_ref()) else { return };
        if let Err(e) = p.write(version, &bytes) {
            tracing::error!(error = %e, "state not saved");
        }
    }

    /// The whole generated file of `content` (`size` bytes), from the cache or generated now,
    /// if it is small enough to keep ([`CACHED_FILE_MAX`]).
    pub(crate) fn cached_file(&self, content: &FileContent, size: u64) -> Option<Bytes> {
        if size > CACHED_FILE_MAX {
            return None;
        }
        if let Some(bytes) = lock(&self.files).get(&content.key()) {
            return Some(bytes.clone());
        }
        // Generated outside the lock: two requests racing both generate the same bytes.
        let mut buf = vec![0; usize::try_from(size).ok()?];
        content.fill(0, &mut buf);
        let bytes = Bytes::from(buf);
        let mut files = lock(&self.files);
        if files.len() >= CACHED_FILES {
            files.clear();
        }
        files.insert(content.key(), bytes.clone());
        Some(bytes)
    }

    /// Counts and logs one answered request.
    pub(crate) fn record(&self, method: http::Method, path: &str, status: u16) {
        self.log.record(Some(method), path, status);
    }

    /// Counts and logs a request that could not be parsed (or was refused before it was).
    pub(crate) fn record_unparsed(&self, status: u16) {
        self.log.record(None, "-", status);
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
        self.shared.change_keeping(|store| store.add_video(account, ready_to_stream, duration_secs))
    }

    /// Marks a video ready to stream (downloads can be created) or not. With a state file
    /// that cannot be saved: an [`ErrorKind::Io`] error, and the change is undone.
    pub fn set_ready_to_stream(
        &self,
        account: &AccountId,
        video: &VideoId,
        ready: bool,
    ) -> Result<(), Error> {
        self.shared
            .change(|store| store.set_ready(account, video, ready))?
            .map_err(|m| m.into_error(account, video))?;
        Ok(())
    }

    /// Makes a video require signed URLs (its plain file URL answers 401; a signed URL serves
    /// it), or not. With a state file that cannot be saved: an [`ErrorKind::Io`] error, and the
    /// change is undone.
    pub fn set_require_signed_urls(
        &self,
        account: &AccountId,
        video: &VideoId,
        require: bool,
    ) -> Result<(), Error> {
        self.shared
            .change(|store| store.set_signed(account, video, require))?
            .map_err(|m| m.into_error(account, video))?;
        Ok(())
    }

    /// Forces the status of a video's download of type `t` (creating the download if needed):
    /// `error` keeps its progress, `ready` makes it 100 %, `inprogress` restarts it from 0.
    /// With a state file that cannot be saved: an [`ErrorKind::Io`] error, and the change is
    /// undone.
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
        let now = Instant::now();
        self.shared
            .change(|store| store.set_download_status(account, video, t, status, now))?
            .map_err(|m| m.into_error(account, video))
    }

    /// Replaces the faults (and restarts their scripts and generator).
    pub fn set_faults(&self, faults: Faults) {
        self.shared.faults.set(FaultPlan::new(faults));
    }

    /// The faults in force.
    pub fn faults(&self) -> Faults {
        self.shared.faults.faults()
    }

    /// Back to the start: the seed's videos without downloads, the builder's faults, fresh
    /// rate-limit windows and an empty request log.
    pub fn reset(&self) {
        self.shared.change_keeping(|store| store.reset(self.shared.seed.raw_accounts()));
        self.set_faults(self.shared.initial_faults.clone());
        self.shared.limiter.reset();
        self.shared.log.clear();
    }

    /// How many requests were answered since the start (or the last reset).
    pub fn request_count(&self) -> u64 {
        self.shared.log.count()
    }

    /// The latest answered requests, oldest first (at most 4096).
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.log.records()
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

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn only_a_mutable_access_to_the_store_moves_its_generation_on() {
        let emu = crate::Emulator::builder().start().await.unwrap();
        let admin = emu.admin();
        let shared = &admin.shared;
        let g = shared.generation();
        assert_eq!(shared.store().accounts().len(), 1);
        let (account, video) = (emu.account(), emu.ready_video().unwrap());
        let _ = shared.store().listed(&account, &video);
        assert_eq!(shared.generation(), g, "reads leave it");
        {
            let mut store = shared.store();
            let _: &mut crate::state::Store = &mut store;
            assert_eq!(shared.generation(), g, "moved on only when the guard drops");
        }
        assert_eq!(shared.generation(), g + 1);
        admin.add_video(&account, true);
        assert_eq!(shared.generation(), g + 2, "a change through the admin");
        emu.shutdown().await;
    }
}
