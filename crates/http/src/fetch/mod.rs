//! `fetch`: streaming a download's file to disk through a `.part` file, resuming it with
//! `Range` and `If-Range` (the validator is kept in `NAME.part.meta`), then an atomic rename. [`FetchOptions`] and [`FetchOutcome`] are in `options`, the
//! paths in `destination`, one attempt of the transfer in `transfer`; the retry decisions are
//! the client's ([`crate::policy::Retries`]).
//!
//! The file is served from another host than the API (`customer-<code>.cloudflarestream.com`),
//! so these requests carry no API credentials, ever. A video that requires signed URLs is
//! handled by `Signer`: on a 401 or 403 it puts a token in the URL (`crate::signing`).

mod destination;
mod options;
mod transfer;
mod validator;

use std::path::Path;
use std::sync::Arc;

use cfstream_types::{Download, VideoId};
use tracing::Instrument as _;

use crate::downloads::DownloadsApi;
use crate::error::{Error, ErrorKind};
use crate::policy::{Deadline, Retries};
use crate::reporter::Reporter;
use crate::signing::{Signing, obtain, signed_url};
use destination::{final_path, part_path, regular_or_absent, url_parts};
use options::validate_filename;
pub use options::{FetchOptions, FetchOutcome};
use transfer::Transfer;
use validator::{Validator, meta_path};

pub(crate) async fn fetch(
    api: &DownloadsApi<'_>,
    download: &Download,
    dest: &Path,
    opts: FetchOptions,
) -> Result<FetchOutcome, Error> {
    let (client, deadline) = (api.client, api.deadline);
    if let Some(f) = &opts.filename {
        validate_filename(f)?;
    }
    if !download.is_ready() {
        return Err(Error::new(
            ErrorKind::NotReady,
            format!(
                "the download is not ready (status {}, {})",
                download.status, download.percent_complete
            ),
        )
        .with_percent(download.percent_complete));
    }
    let Some(url) = download.url.clone() else {
        return Err(Error::build("the download has no url to fetch"));
    };
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::build(format!(
            "cannot fetch '{}': the scheme must be http or https",
            url.scheme()
        )));
    }
    let parts = url_parts(&url);
    let path = final_path(dest, &parts, opts.filename.as_deref())?;
    let part = part_path(&path);
    let meta = meta_path(&part);
    // Only regular files are ever written: whatever else sits at either path is refused,
    // overwrite or not, before any request is made.
    let exists = regular_or_absent(&path).await?;
    regular_or_absent(&part).await?;
    regular_or_absent(&meta).await?;
    if exists && !opts.overwrite {
        return Err(Error::new(
            ErrorKind::DestinationExists,
            format!("'{}' exists: pass overwrite to replace it", path.display()),
        ));
    }
    if !opts.resume {
        Validator::remove(&meta).await?;
        match tokio::fs::remove_file(&part).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(format!("cannot remove '{}'", part.display()), e)),
        }
    }
    let mut url = url;
    if let Some(f) = &opts.filename {
        url.query_pairs_mut().append_pair("filename", f);
    }
    let reporter: Arc<dyn Reporter> =
        opts.reporter.clone().unwrap_or_else(|| client.inner.reporter.clone());
    let host = url.host_str().unwrap_or("").to_owned();
    let span = tracing::info_span!("cfstream_http.fetch", host = %host, video = ?parts.video.as_ref().map(VideoId::as_str), attempts = tracing::field::Empty);
    let mut signer =
        Signer { api, signing: opts.signing.clone(), plain: url.clone(), state: State::Plain };
    if let Some(signed) = signer.cached(parts.video.as_ref()) {
        url = signed;
    }
    let mut transfer = Transfer {
        client,
        url,
        host: &host,
        part: &part,
        meta: &meta,
        parts: &parts,
        reporter: reporter.as_ref(),
        deadline: deadline.map(Deadline::caller),
    };
    fetch_loop(&mut transfer, &mut signer, &path).instrument(span).await
}

/// Whether the URL in use carries a token, and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// The download's own URL.
    Plain,
    /// A token kept on the client from an earlier fetch.
    Cached,
    /// A token obtained by this fetch.
    Fresh,
}

/// Puts a token in the URL when the file host refuses it, as [`FetchOptions::signing`] allows.
struct Signer<'a, 'b> {
    api: &'a DownloadsApi<'b>,
    signing: Signing,
    /// The download's URL (with `?filename=`), before any token.
    plain: reqwest::Url,
    state: State,
}

impl Signer<'_, '_> {
    /// The signed URL of a token the client already holds for `video`, if signing is allowed.
    fn cached(&mut self, video: Option<&VideoId>) -> Option<reqwest::Url> {
        if matches!(self.signing, Signing::Never) {
            return None;
        }
        let token = self.api.client.inner.tokens.get(self.api.account, video?)?;
        let url = signed_url(&self.plain, &token).ok()?;
        self.state = State::Cached;
        Some(url)
    }

    /// After the file host refused the URL in use with `e` (401 or 403): a new URL to try at
    /// once, or the error that ends the fetch.
    async fn on_refusal(
        &mut self,
        e: Error,
        video: Option<&VideoId>,
        host: &str,
    ) -> Result<reqwest::Url, Error> {
        let status = e.status().unwrap_or_default();
        if self.state == State::Fresh {
            return Err(Error::new(
                ErrorKind::InvalidResponse,
                format!(
                    "fetching from '{host}': http {status}: the signed url was refused too (the token's signature, video, key or lifetime does not hold)"
                ),
            )
            .with_status(status));
        }
        if matches!(self.signing, Signing::Never) {
            return Err(Error::new(
                ErrorKind::SignedUrlRequired,
                format!(
                    "fetching from '{host}': http {status}: the video requires signed URLs, and signing is turned off; allow signing (FetchOptions::signing, Signing::Auto) to fetch it with a token"
                ),
            )
            .with_status(status));
        }
        let Some(video) = video else { return Err(e) };
        let tokens = &self.api.client.inner.tokens;
        tokens.forget(self.api.account, video);
        let (token, exp) = obtain(self.api, &self.signing, video).await?;
        let url = signed_url(&self.plain, &token)?;
        tokens.put(self.api.account, video, token, exp);
        self.state = State::Fresh;
        tracing::debug!(status, "the file host refused the url: retrying with a signed url");
        Ok(url)
    }
}

/// Whether `e` is the file host refusing the URL (what a video that requires signed URLs
/// answers to a plain URL, or to a bad token).
fn is_refusal(e: &Error) -> bool {
    e.kind() == ErrorKind::InvalidResponse && matches!(e.status(), Some(401 | 403))
}

/// Runs attempts of the transfer, each resuming after what the `.part` file holds when its
/// validator was saved, until one succeeds or the client's retry policy stops it; then renames the file into place.
async fn fetch_loop(
    t: &mut Transfer<'_>,
    signer: &mut Signer<'_, '_>,
    path: &Path,
) -> Result<FetchOutcome, Error> {
    let span = tracing::Span::current();
    let inner = &t.client.inner;
    let mut retries = Retries::new(&inner.retry, &inner.bucket, t.deadline.map(|d| d.at));
    let mut first_offset = None;
    loop {
        let attempt = retries.next_attempt();
        span.record("attempts", attempt);
        // A refusal is answered at once with a signed URL (no backoff, no retry token); each
        // step makes the token fresher, so this ends.
        let result = loop {
            match t.attempt().await {
                Err((e, _)) if is_refusal(&e) => {
                    match signer.on_refusal(e, t.parts.video.as_ref(), t.host).await {
                        Ok(url) => t.url = url,
                        Err(e) => return Err(e.with_attempts(attempt)),
                    }
                }
                other => break other,
            }
        };
        match result {
            Ok((bytes, resumed)) => {
                retries.succeeded();
                let resumed_from = *first_offset.get_or_insert(resumed);
                finish(t.part, path).await?;
                if let Err(e) = Validator::remove(t.meta).await {
                    // The file is in place; a stale validator without its .part is harmless.
                    tracing::debug!(error = %e, "cannot remove the resume validator");
                }
                t.reporter.fetch_finished(bytes);
                tracing::debug!(bytes, resumed_from, path = %path.display(), "fetched");
                return Ok(FetchOutcome { path: path.to_path_buf(), bytes, resumed_from });
            }
            Err((e, resumed)) => {
                first_offset.get_or_insert(resumed);
                let e = e.with_attempts(attempt);
                let Some(delay) = retries.delay_before_retry(&e) else { return Err(e) };
                let reason = e.to_string();
                tracing::debug!(attempt = attempt + 1, delay_ms = delay.as_millis() as u64, reason = %reason, "fetch retrying");
                t.reporter.fetch_retrying(attempt + 1, delay, &reason);
                tokio::time::sleep(delay).await;
            }
        }
    }
}

/// Fsyncs the `.part` file's data (done by the writer), renames it into place and fsyncs the
/// directory so the rename survives a crash.
async fn finish(part: &Path, path: &Path) -> Result<(), Error> {
    // Checked again: something may have been put there during the transfer.
    regular_or_absent(path).await?;
    tokio::fs::rename(part, path).await.map_err(|e| {
        Error::io(format!("cannot rename '{}' to '{}'", part.display(), path.display()), e)
    })?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let dir = dir.to_path_buf();
        // Best effort: some filesystems cannot fsync a directory.
        let _ = tokio::task::spawn_blocking(move || {
            std::fs::File::open(dir).and_then(|d| d.sync_all())
        })
        .await;
    }
    Ok(())
}
