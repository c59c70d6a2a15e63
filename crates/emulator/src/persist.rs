//! The optional state file: locked for the emulator's life (one writer per file), loaded at
//! start, rewritten after every change, atomically (a temporary file in the same directory,
//! synced, then renamed over the old one, then the directory synced), so a crash or `kill -9`
//! mid-write leaves the previous complete state.
//!
//! The lock is an advisory exclusive lock (`flock`, through `fs4`) on the file the path names.
//! A save replaces that file, so each temporary file is locked before it is renamed into place,
//! and the path always names a locked file while its emulator lives. A second emulator that
//! locks the file it opened checks that the path still names that file, in case a save
//! replaced it in between.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use fs4::{FileExt, TryLockError};

use crate::error::{Error, ErrorKind};
use crate::shared::lock;
use crate::state::StateFile;

#[derive(Debug)]
pub(crate) struct Persister {
    path: PathBuf,
    /// The version last written: an older snapshot that arrives late is skipped.
    written: Mutex<Option<u64>>,
    /// The state file as it is on disk now, locked.
    held: Mutex<File>,
}

impl Persister {
    /// Takes the lock on the state file at `path` (creating an empty one if there is none),
    /// and removes the temporary files an interrupted save left behind.
    pub(crate) fn open(path: PathBuf) -> Result<Self, Error> {
        let io_error = |what: &str, e: std::io::Error| {
            Error::with_source(
                ErrorKind::Io,
                format!("cannot {what} state file '{}': {e}", path.display()),
                e,
            )
        };
        let mut attempts = 0;
        let held = loop {
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(|e| io_error("open", e))?;
            match FileExt::try_lock(&file) {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    return Err(Error::new(
                        ErrorKind::StateInUse,
                        format!(
                            "state file '{}' is in use by another emulator (it holds the file's lock)",
                            path.display()
                        ),
                    ));
                }
                Err(TryLockError::Error(e)) => return Err(io_error("lock", e)),
            }
            // A save of the other emulator may have replaced the file between our open and our
            // lock: then we locked a file nobody will read again. Try again with the new one.
            attempts += 1;
            if same_file(&file, &path) || attempts >= 10 {
                break file;
            }
        };
        remove_stale_temporaries(&path);
        Ok(Self { path, written: Mutex::new(None), held: Mutex::new(held) })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The saved state, or `None` if the file is empty (just created).
    pub(crate) fn load(&self) -> Result<Option<StateFile<'static>>, Error> {
        let mut text = String::new();
        let read = {
            let mut file = lock(&self.held);
            std::io::Seek::rewind(&mut *file).and_then(|()| file.read_to_string(&mut text))
        };
        read.map_err(|e| {
            Error::with_source(
                ErrorKind::Io,
                format!("cannot read state file '{}': {e}", self.path.display()),
                e,
            )
        })?;
        if text.is_empty() {
            return Ok(None);
        }
        serde_json::from_str(&text).map(Some).map_err(|e| {
            Error::with_source(
                ErrorKind::InvalidState,
                format!("invalid state file '{}' (fix or remove it): {e}", self.path.display()),
                e,
            )
        })
    }

    /// Writes snapshot `version` unless a newer one is already on disk. Blocking.
    pub(crate) fn write(&self, version: u64, bytes: &[u8]) -> Result<(), Error> {
        let mut written = lock(&self.written);
        if written.is_some_and(|w| w >= version) {
            return Ok(());
        }
        let file = write_atomically(&self.path, bytes).map_err(|e| {
            Error::with_source(
                ErrorKind::Io,
                format!("cannot write state file '{}': {e}", self.path.display()),
                e,
            )
        })?;
        // The old file (and its lock) goes; the new one is locked already.
        *lock(&self.held) = file;
        *written = Some(version);
        Ok(())
    }
}

/// Whether `path` still names the file `file` has open.
#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_file: &File, _path: &Path) -> bool {
    // Elsewhere a file cannot be replaced while it is open: the path still names it.
    true
}

fn dir_and_name(path: &Path) -> (PathBuf, String) {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state".into());
    (dir, name)
}

/// Removes `.NAME.*.tmp` beside the state file: what a save interrupted by a crash leaves.
/// Only called with the lock held, so no other emulator is writing one.
fn remove_stale_temporaries(path: &Path) {
    let (dir, name) = dir_and_name(path);
    let prefix = format!(".{name}.");
    let Ok(entries) = std::fs::read_dir(&dir) else { return };
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if file_name.starts_with(&prefix) && file_name.ends_with(".tmp") {
            let removed = std::fs::remove_file(entry.path());
            if let Err(e) = removed {
                tracing::warn!(file = %file_name, error = %e, "cannot remove a stale temporary file");
            } else {
                tracing::info!(file = %file_name, "removed a stale temporary state file");
            }
        }
    }
}

/// Writes `bytes` beside `path`, locks, syncs and renames it over `path`, then syncs the
/// directory. Returns the new file, locked.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<File> {
    let (dir, name) = dir_and_name(path);
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        // Readable too: it becomes the held state file, which `load` reads.
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        FileExt::try_lock(&f)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // Make the rename itself durable (best effort: not every platform can sync a directory).
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(f)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_atomically_and_skips_stale_versions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let p = Persister::open(path.clone()).unwrap();
        assert!(p.load().unwrap().is_none());
        p.write(2, b"two").unwrap();
        p.write(1, b"one").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left");
        let e = p.load().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidState);
        assert!(e.to_string().contains("state.json"), "{e}");
        let e = Persister::open(dir.path().join("missing-dir/state.json")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Io);
    }

    #[test]
    fn the_lock_follows_the_file_across_saves() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let p = Persister::open(path.clone()).unwrap();
        p.write(1, b"{}").unwrap();
        p.write(2, b"{ }").unwrap();
        let e = Persister::open(path.clone()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::StateInUse);
        assert_eq!(
            e.to_string(),
            format!(
                "state file '{}' is in use by another emulator (it holds the file's lock)",
                path.display()
            )
        );
        drop(p);
        let again = Persister::open(path).unwrap();
        assert_eq!(std::fs::read(again.path()).unwrap(), b"{ }");
    }

    #[test]
    fn stale_temporaries_are_removed_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, b"{}").unwrap();
        std::fs::write(dir.path().join(".state.json.4242.tmp"), b"{\"half").unwrap();
        std::fs::write(dir.path().join(".other.json.4242.tmp"), b"not ours").unwrap();
        let _p = Persister::open(path).unwrap();
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, [".other.json.4242.tmp", "state.json"]);
    }
}
