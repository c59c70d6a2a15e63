//! The optional state file: loaded at start, rewritten after every change, atomically (a
//! temporary file in the same directory, synced, then renamed over the old one), so a crash or
//! `kill -9` mid-write leaves the previous complete state.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Error, ErrorKind};
use crate::state::StateFile;

#[derive(Debug)]
pub(crate) struct Persister {
    path: PathBuf,
    /// The version last written: an older snapshot that arrives late is skipped.
    written: Mutex<Option<u64>>,
}

impl Persister {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self { path, written: Mutex::new(None) }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The saved state, or `None` if the file does not exist yet.
    pub(crate) fn load(&self) -> Result<Option<StateFile<'static>>, Error> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(Error::with_source(
                    ErrorKind::Io,
                    format!("cannot read state file '{}': {e}", self.path.display()),
                    e,
                ));
            }
        };
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
        let mut written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        if written.is_some_and(|w| w >= version) {
            return Ok(());
        }
        write_atomically(&self.path, bytes).map_err(|e| {
            Error::with_source(
                ErrorKind::Io,
                format!("cannot write state file '{}': {e}", self.path.display()),
                e,
            )
        })?;
        *written = Some(version);
        Ok(())
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state".into());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        // Make the rename itself durable (best effort: not every platform can sync a directory).
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
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
        let p = Persister::new(path.clone());
        assert!(p.load().unwrap().is_none());
        p.write(2, b"two").unwrap();
        p.write(1, b"one").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left");
        let e = p.load().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidState);
        assert!(e.to_string().contains("state.json"), "{e}");
        let bad = Persister::new(dir.path().join("missing-dir/state.json"));
        assert_eq!(bad.write(1, b"x").unwrap_err().kind(), ErrorKind::Io);
    }
}
