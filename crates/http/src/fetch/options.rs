//! [`FetchOptions`] (how a file is saved), [`FetchOutcome`] (what was saved) and the check of
//! the `filename` option.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::error::Error;
use crate::reporter::Reporter;
use crate::signing::Signing;

/// The longest `filename` Cloudflare accepts.
const MAX_FILENAME: usize = 120;

/// How [`crate::DownloadsApi::fetch`] saves a file.
#[derive(Clone)]
pub struct FetchOptions {
    pub(crate) filename: Option<String>,
    pub(crate) resume: bool,
    pub(crate) overwrite: bool,
    pub(crate) reporter: Option<Arc<dyn Reporter>>,
    pub(crate) signing: Signing,
}

impl Default for FetchOptions {
    /// No `filename`, resume a `.part` file left by an earlier run, do not overwrite.
    fn default() -> Self {
        Self {
            filename: None,
            resume: true,
            overwrite: false,
            reporter: None,
            signing: Signing::Auto,
        }
    }
}

impl fmt::Debug for FetchOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FetchOptions")
            .field("filename", &self.filename)
            .field("resume", &self.resume)
            .field("overwrite", &self.overwrite)
            .field("reporter", &self.reporter.is_some())
            .field("signing", &self.signing)
            .finish()
    }
}

impl FetchOptions {
    /// Asks the server to name the file `name` (sent as `?filename=`), and, when `dest` is a
    /// directory, saves it as `<name>.<ext>` there. `name` must be 1 to 120 of
    /// `[A-Za-z0-9_-]`; anything else fails the fetch with [`crate::ErrorKind::Build`].
    #[must_use]
    pub fn filename(mut self, name: impl Into<String>) -> Self {
        self.filename = Some(name.into());
        self
    }

    /// Whether to continue a `.part` file left by an earlier attempt or run (default `true`).
    ///
    /// A resume sends `Range` with `If-Range`, carrying the file's validator (a strong `ETag`,
    /// else `Last-Modified`) saved beside the part file as `NAME.part.meta` (JSON:
    /// `{"etag": "\"...\"", "last_modified": "...", "total": N}`, absent fields omitted). The
    /// fetch starts over from byte 0 when no validator was saved (the bytes cannot be trusted),
    /// when the server answers the whole file, when the answer's validator or total length
    /// differ from the saved ones, or when its `Content-Range` does not start at the byte
    /// asked for: two versions of a file are never spliced.
    #[must_use]
    pub fn resume(mut self, yes: bool) -> Self {
        self.resume = yes;
        self
    }

    /// Whether to replace an existing file at the destination (default `false`: fail with
    /// [`crate::ErrorKind::DestinationExists`]).
    #[must_use]
    pub fn overwrite(mut self, yes: bool) -> Self {
        self.overwrite = yes;
        self
    }

    /// What to do when the file host refuses the plain URL with 401 or 403 (a video that
    /// requires signed URLs): by default ([`Signing::Auto`]) get a `downloadable` token (from a
    /// local key in the environment, else the token endpoint), retry once with the signed URL,
    /// and keep the token on the client for that video until five minutes before it expires,
    /// so a resume, in this fetch or a later one, needs no new token. With [`Signing::Never`]
    /// the refusal fails the fetch with [`crate::ErrorKind::SignedUrlRequired`].
    #[must_use]
    pub fn signing(mut self, s: Signing) -> Self {
        self.signing = s;
        self
    }

    /// Receives `fetch_started`, `fetch_progress`, `fetch_retrying` and `fetch_finished`
    /// (default: the client's reporter).
    #[must_use]
    pub fn reporter(mut self, r: Arc<dyn Reporter>) -> Self {
        self.reporter = Some(r);
        self
    }
}

/// What a finished fetch wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FetchOutcome {
    /// The final path of the file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// How many bytes came from a `.part` file of an earlier attempt or run (0 if none).
    pub resumed_from: u64,
}

/// Checks a `filename` option: 1 to 120 of `[A-Za-z0-9_-]`.
pub(crate) fn validate_filename(name: &str) -> Result<(), Error> {
    let shown: String = name.chars().take(64).collect();
    if name.is_empty() || name.len() > MAX_FILENAME {
        return Err(Error::build(format!(
            "invalid filename '{shown}': must be 1 to {MAX_FILENAME} characters, found {}",
            name.chars().count()
        )));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-')) {
        return Err(Error::build(format!(
            "invalid filename '{shown}': only [A-Za-z0-9_-] are allowed, found {c:?}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use proptest::prelude::*;

    proptest! {
        /// `filename` accepts exactly 1 to 120 of `[A-Za-z0-9_-]`, whatever else it is given.
        #[test]
        fn filename_validation_is_exact(name in prop_oneof!["[A-Za-z0-9_-]{1,130}", "\\PC{0,40}"]) {
            let ok = (1..=MAX_FILENAME).contains(&name.len())
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            prop_assert_eq!(validate_filename(&name).is_ok(), ok);
        }
    }

    /// Every setting shows in `Debug` (the reporter only as set or not), and each builder
    /// method changes its own setting only.
    #[test]
    fn debug_shows_every_setting() {
        assert_eq!(
            format!("{:?}", FetchOptions::default()),
            "FetchOptions { filename: None, resume: true, overwrite: false, reporter: false, \
             signing: Auto }"
        );
        let set = FetchOptions::default().filename("clip").overwrite(true).resume(false);
        assert_eq!(
            format!("{set:?}"),
            "FetchOptions { filename: Some(\"clip\"), resume: false, overwrite: true, \
             reporter: false, signing: Auto }"
        );
    }

    #[test]
    fn filenames_are_validated() {
        assert!(validate_filename("my-video_01").is_ok());
        assert!(validate_filename(&"a".repeat(120)).is_ok());
        for bad in ["", "../etc", "a b", "a.mp4", "ü", &"a".repeat(121)] {
            let e = validate_filename(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Build);
            assert!(e.to_string().starts_with("invalid filename"), "{e}");
        }
    }
}
