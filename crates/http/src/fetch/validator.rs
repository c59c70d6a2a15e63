//! What a `.part` file was cut from: the file's validator (a strong `ETag`, else
//! `Last-Modified`) and total length, kept beside it in `NAME.part.meta`, so that a resume asks
//! with `If-Range` and never splices the start of one version onto the rest of another
//! (RFC 9110 section 13.1.5, as curl and rsync do).

use std::path::{Path, PathBuf};

use reqwest::header::{self, HeaderMap};
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// The most bytes read from a `.part.meta` file; a real one is under 1 KiB.
const MAX_META: u64 = 64 * 1024;

/// The validator and total length of the version a `.part` file holds the start of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Validator {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_modified: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    total: Option<u64>,
}

/// `NAME.part.meta` beside `NAME.part`.
pub(super) fn meta_path(part: &Path) -> PathBuf {
    let mut name = part.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".meta");
    part.with_file_name(name)
}

fn text(h: &HeaderMap, name: header::HeaderName) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(Into::into)
}

/// A strong entity tag: a weak one (`W/"..."`) must not be sent in `If-Range`.
fn strong_etag(h: &HeaderMap) -> Option<String> {
    text(h, header::ETAG).filter(|e| e.starts_with('"'))
}

impl Validator {
    /// The validator of a whole-file answer, or `None` when it has none a resume could use.
    pub(super) fn of(h: &HeaderMap, total: Option<u64>) -> Option<Self> {
        let etag = strong_etag(h);
        let last_modified = if etag.is_none() { text(h, header::LAST_MODIFIED) } else { None };
        if etag.is_none() && last_modified.is_none() {
            return None;
        }
        Some(Self { etag, last_modified, total })
    }

    /// The `If-Range` value: the entity tag, else the date.
    pub(super) fn if_range(&self) -> &str {
        self.etag.as_deref().or(self.last_modified.as_deref()).unwrap_or_default()
    }

    /// Whether a partial answer (its headers, and the total its `Content-Range` gives) is of
    /// the version this validator describes. A server that ignored `If-Range` may send the
    /// rest of another version: a different validator or total length gives it away.
    pub(super) fn matches(&self, h: &HeaderMap, total: Option<u64>) -> bool {
        let same = |saved: &Option<String>, got: Option<String>| match (saved, got) {
            (Some(s), Some(g)) => *s == g,
            _ => true,
        };
        let same_total = match (self.total, total) {
            (Some(s), Some(g)) => s == g,
            _ => true,
        };
        same(&self.etag, text(h, header::ETAG))
            && same(&self.last_modified, text(h, header::LAST_MODIFIED))
            && same_total
    }

    /// The saved validator, or `None` when there is none (or it cannot be read or parsed:
    /// then the `.part` file cannot be trusted, and the fetch starts over).
    pub(super) async fn load(meta: &Path) -> Option<Self> {
        let m = tokio::fs::symlink_metadata(meta).await.ok()?;
        if !m.file_type().is_file() || m.len() > MAX_META {
            return None;
        }
        let bytes = tokio::fs::read(meta).await.ok()?;
        serde_json::from_slice::<Self>(&bytes).ok().filter(|v| !v.if_range().is_empty())
    }

    /// Writes the validator beside the `.part` file atomically: a temporary file in the same
    /// directory, fsynced, then renamed over `meta` (a rename replaces a link, never follows it).
    pub(super) async fn save(&self, meta: &Path) -> Result<(), Error> {
        let json = serde_json::to_vec(self)
            .map_err(|e| Error::build("cannot encode the resume validator").with_source(e))?;
        let meta = meta.to_path_buf();
        let shown = meta.display().to_string();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            use std::io::Write as _;
            let dir = meta.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
            tmp.write_all(&json)?;
            tmp.as_file().sync_all()?;
            tmp.persist(&meta).map_err(|e| e.error)?;
            Ok(())
        })
        .await
        .map_err(|e| Error::build(format!("cannot write '{shown}'")).with_source(e))?
        .map_err(|e| Error::io(format!("cannot write '{shown}'"), e))
    }

    /// Removes a saved validator, if any.
    pub(super) async fn remove(meta: &Path) -> Result<(), Error> {
        match tokio::fs::remove_file(meta).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(format!("cannot remove '{}'", meta.display()), e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(header::HeaderName, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (k.clone(), HeaderValue::from_static(v))).collect()
    }

    #[test]
    fn a_strong_etag_wins_then_the_date_then_nothing() {
        let lm = "Wed, 02 Dec 2026 10:00:00 GMT";
        let both = headers(&[(header::ETAG, "\"v1\""), (header::LAST_MODIFIED, lm)]);
        let v = Validator::of(&both, Some(10)).unwrap();
        assert_eq!(v.if_range(), "\"v1\"");
        let weak = headers(&[(header::ETAG, "W/\"v1\""), (header::LAST_MODIFIED, lm)]);
        assert_eq!(Validator::of(&weak, Some(10)).unwrap().if_range(), lm);
        assert_eq!(Validator::of(&headers(&[(header::ETAG, "W/\"v1\"")]), Some(10)), None);
        assert_eq!(Validator::of(&HeaderMap::new(), Some(10)), None);
    }

    #[test]
    fn a_changed_validator_or_total_does_not_match() {
        let v = Validator::of(&headers(&[(header::ETAG, "\"v1\"")]), Some(10)).unwrap();
        assert!(v.matches(&headers(&[(header::ETAG, "\"v1\"")]), Some(10)));
        assert!(
            v.matches(&HeaderMap::new(), Some(10)),
            "no validator in the answer: the total decides"
        );
        assert!(!v.matches(&headers(&[(header::ETAG, "\"v2\"")]), Some(10)));
        assert!(!v.matches(&headers(&[(header::ETAG, "\"v1\"")]), Some(11)));
        let lm = Validator::of(&headers(&[(header::LAST_MODIFIED, "a")]), None).unwrap();
        assert!(!lm.matches(&headers(&[(header::LAST_MODIFIED, "b")]), Some(3)));
        assert!(lm.matches(&headers(&[(header::LAST_MODIFIED, "a")]), Some(3)));
    }

    #[tokio::test]
    async fn saved_atomically_loaded_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let meta = meta_path(&dir.path().join("clip.mp4.part"));
        assert_eq!(meta, dir.path().join("clip.mp4.part.meta"));
        assert_eq!(Validator::load(&meta).await, None);
        let v = Validator::of(&headers(&[(header::ETAG, "\"v1\"")]), Some(42)).unwrap();
        v.save(&meta).await.unwrap();
        assert_eq!(
            std::fs::read_to_string(&meta).unwrap(),
            r#"{"etag":"\"v1\"","total":42}"#,
            "the documented format"
        );
        assert_eq!(Validator::load(&meta).await, Some(v));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left");
        std::fs::write(&meta, b"{not json").unwrap();
        assert_eq!(Validator::load(&meta).await, None, "a bad file is no validator");
        std::fs::write(&meta, br#"{"total":42}"#).unwrap();
        assert_eq!(Validator::load(&meta).await, None, "a total alone is no validator");
        Validator::remove(&meta).await.unwrap();
        assert!(!meta.exists());
        Validator::remove(&meta).await.unwrap();
    }

    /// A meta file is read only up to [`MAX_META`] bytes, only if regular, and removing one
    /// fails loudly on anything but its absence.
    #[tokio::test]
    async fn oversized_or_odd_meta_files_are_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let meta = dir.path().join("clip.mp4.part.meta");
        // Valid JSON of exactly `len` bytes.
        let of_len = |len: usize| {
            let pad = len - r#"{"etag":"\"\""}"#.len();
            format!(r#"{{"etag":"\"{}\""}}"#, "a".repeat(pad))
        };
        std::fs::write(&meta, of_len(2048)).unwrap();
        assert!(Validator::load(&meta).await.is_some(), "a few KiB is fine");
        std::fs::write(&meta, of_len(MAX_META as usize)).unwrap();
        assert!(Validator::load(&meta).await.is_some(), "up to the limit");
        std::fs::write(&meta, of_len(MAX_META as usize + 1)).unwrap();
        assert_eq!(Validator::load(&meta).await, None, "past the limit");
        std::fs::remove_file(&meta).unwrap();
        #[cfg(unix)]
        {
            let target = dir.path().join("elsewhere");
            std::fs::write(&target, of_len(100)).unwrap();
            std::os::unix::fs::symlink(&target, &meta).unwrap();
            assert_eq!(Validator::load(&meta).await, None, "a link is not followed");
            std::fs::remove_file(&meta).unwrap();
        }
        std::fs::create_dir(&meta).unwrap();
        let e = Validator::remove(&meta).await.unwrap_err();
        assert_eq!(e.kind(), crate::error::ErrorKind::Io, "{e}");
        assert_eq!(e.to_string(), format!("cannot remove '{}'", meta.display()));
    }
}
