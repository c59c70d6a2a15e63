//! [`FetchOptions`], [`FetchOutcome`] and `fetch`: streaming a download's file to disk through
//! a `.part` file, resuming it with `Range`, then an atomic rename.
//!
//! The file is served from another host than the API (`customer-<code>.cloudflarestream.com`),
//! so these requests carry no API credentials, ever.

use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cfstream_types::{Download, DownloadType, VideoId};
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};
use tokio::io::{AsyncSeekExt as _, AsyncWriteExt as _};
use tracing::Instrument as _;

use crate::client::{Client, body_error, dispatch_error};
use crate::error::{BODY_SNIPPET, Error, ErrorKind};
use crate::reporter::{NoopReporter, Reporter};

/// Bytes gathered in memory before they are written out: the most `fetch` ever holds.
const WRITE_BUFFER: usize = 256 * 1024;
/// The most redirects `fetch` follows.
const MAX_REDIRECTS: usize = 10;
/// The longest `filename` Cloudflare accepts.
const MAX_FILENAME: usize = 120;

/// How [`crate::DownloadsApi::fetch`] saves a file.
#[derive(Clone)]
pub struct FetchOptions {
    pub(crate) filename: Option<String>,
    pub(crate) resume: bool,
    pub(crate) overwrite: bool,
    pub(crate) reporter: Option<Arc<dyn Reporter>>,
}

impl Default for FetchOptions {
    /// No `filename`, resume a `.part` file left by an earlier run, do not overwrite.
    fn default() -> Self {
        Self { filename: None, resume: true, overwrite: false, reporter: None }
    }
}

impl fmt::Debug for FetchOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FetchOptions")
            .field("filename", &self.filename)
            .field("resume", &self.resume)
            .field("overwrite", &self.overwrite)
            .field("reporter", &self.reporter.is_some())
            .finish()
    }
}

impl FetchOptions {
    /// Asks the server to name the file `name` (sent as `?filename=`), and, when `dest` is a
    /// directory, saves it as `<name>.<ext>` there. `name` must be 1 to 120 of
    /// `[A-Za-z0-9_-]`; anything else fails the fetch with [`ErrorKind::Build`].
    #[must_use]
    pub fn filename(mut self, name: impl Into<String>) -> Self {
        self.filename = Some(name.into());
        self
    }

    /// Whether to continue a `.part` file left by an earlier attempt (default `true`), with a
    /// `Range` request; a server that answers the whole file restarts it cleanly.
    #[must_use]
    pub fn resume(mut self, yes: bool) -> Self {
        self.resume = yes;
        self
    }

    /// Whether to replace an existing file at the destination (default `false`: fail with
    /// [`ErrorKind::DestinationExists`]).
    #[must_use]
    pub fn overwrite(mut self, yes: bool) -> Self {
        self.overwrite = yes;
        self
    }

    /// Receives `fetch_started`, `fetch_progress` and `fetch_finished`.
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

/// What the file URL says: `.../<video>/downloads/<type>.<ext>`.
#[derive(Debug, PartialEq)]
pub(crate) struct UrlParts {
    pub(crate) video: Option<VideoId>,
    pub(crate) download_type: Option<DownloadType>,
    pub(crate) ext: String,
}

pub(crate) fn url_parts(url: &reqwest::Url) -> UrlParts {
    let segs: Vec<&str> =
        url.path_segments().map(|s| s.filter(|s| !s.is_empty()).collect()).unwrap_or_default();
    let last = segs.last().copied().unwrap_or("");
    let (stem, ext) = last.rsplit_once('.').unwrap_or((last, ""));
    let download_type = stem.parse::<DownloadType>().ok();
    let video = segs.iter().rev().nth(2).and_then(|s| s.parse::<VideoId>().ok());
    let ext = if (1..=8).contains(&ext.len()) && ext.bytes().all(|b| b.is_ascii_alphanumeric()) {
        ext.to_ascii_lowercase()
    } else {
        download_type.as_ref().and_then(DownloadType::extension).unwrap_or("bin").to_owned()
    };
    UrlParts { video, download_type, ext }
}

/// The final path: `dest` itself, or a name made of validated parts inside the directory
/// `dest`. The name is one plain component, so the file never lands outside that directory.
pub(crate) fn final_path(
    dest: &Path,
    parts: &UrlParts,
    filename: Option<&str>,
) -> Result<PathBuf, Error> {
    if !dest.is_dir() {
        if dest.file_name().is_none() {
            return Err(Error::build(format!(
                "invalid destination '{}': it names no file",
                dest.display()
            )));
        }
        return Ok(dest.to_path_buf());
    }
    let name = match filename {
        Some(f) => format!("{f}.{}", parts.ext),
        None => {
            let video = parts.video.as_ref().map_or("download", VideoId::as_str);
            let t = parts.download_type.as_ref().map_or("file", DownloadType::as_str);
            format!("{video}-{t}.{}", parts.ext)
        }
    };
    let mut comps = Path::new(&name).components();
    match (comps.next(), comps.next()) {
        (Some(Component::Normal(_)), None) => Ok(dest.join(name)),
        _ => Err(Error::build(format!("invalid file name '{name}'"))),
    }
}

fn part_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".part");
    path.with_file_name(name)
}

/// `Content-Range: bytes <start>-<end>/<total|*>` as (start, total).
fn content_range(headers: &HeaderMap) -> Option<(Option<u64>, Option<u64>)> {
    let v = headers.get(header::CONTENT_RANGE)?.to_str().ok()?.trim();
    let rest = v.strip_prefix("bytes")?.trim_start();
    let (range, total) = rest.split_once('/')?;
    let total = total.trim().parse::<u64>().ok();
    let start = range.split_once('-').and_then(|(s, _)| s.trim().parse::<u64>().ok());
    Some((start, total))
}

fn content_type(headers: &HeaderMap) -> Option<String> {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

pub(crate) async fn fetch(
    client: &Client,
    download: &Download,
    dest: &Path,
    opts: FetchOptions,
) -> Result<FetchOutcome, Error> {
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
    if !opts.overwrite && tokio::fs::try_exists(&path).await.unwrap_or(false) {
        return Err(Error::new(
            ErrorKind::DestinationExists,
            format!("'{}' exists: pass overwrite to replace it", path.display()),
        ));
    }
    if !opts.resume {
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
        opts.reporter.clone().unwrap_or_else(|| Arc::new(NoopReporter));
    let host = url.host_str().unwrap_or("").to_owned();
    let span = tracing::info_span!("cfstream_http.fetch", host = %host, video = ?parts.video.as_ref().map(VideoId::as_str), attempts = tracing::field::Empty);
    fetch_loop(client, &url, &host, &path, &part, &parts, reporter).instrument(span).await
}

async fn fetch_loop(
    client: &Client,
    url: &reqwest::Url,
    host: &str,
    path: &Path,
    part: &Path,
    parts: &UrlParts,
    reporter: Arc<dyn Reporter>,
) -> Result<FetchOutcome, Error> {
    let span = tracing::Span::current();
    let inner = &client.inner;
    let mut first_offset = None;
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        span.record("attempts", attempt);
        let offset = match tokio::fs::metadata(part).await {
            Ok(m) => m.len(),
            Err(_) => 0,
        };
        let result = fetch_once(client, url, host, part, offset, parts, reporter.as_ref()).await;
        match result {
            Ok((bytes, resumed)) => {
                let resumed_from = *first_offset.get_or_insert(resumed);
                finish(part, path).await?;
                reporter.fetch_finished(bytes);
                tracing::debug!(bytes, resumed_from, path = %path.display(), "fetched");
                return Ok(FetchOutcome { path: path.to_path_buf(), bytes, resumed_from });
            }
            Err((e, resumed)) => {
                first_offset.get_or_insert(resumed);
                let e = e.with_attempts(attempt);
                if !e.is_retryable() || attempt >= inner.retry.max_attempts {
                    return Err(e);
                }
                let delay = e
                    .retry_after()
                    .unwrap_or_else(|| inner.retry.backoff(attempt))
                    .min(Duration::from_secs(3600));
                tracing::debug!(attempt = attempt + 1, delay_ms = delay.as_millis() as u64, reason = %e, "fetch retrying");
                tokio::time::sleep(delay).await;
            }
        }
    }
}

/// Fsyncs the `.part` file's data (done by the writer), renames it into place and fsyncs the
/// directory so the rename survives a crash.
async fn finish(part: &Path, path: &Path) -> Result<(), Error> {
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

type AttemptResult = Result<(u64, u64), (Error, u64)>;

/// One attempt: returns (file size, bytes resumed) or the error and the bytes resumed.
async fn fetch_once(
    client: &Client,
    url: &reqwest::Url,
    host: &str,
    part: &Path,
    offset: u64,
    parts: &UrlParts,
    reporter: &dyn Reporter,
) -> AttemptResult {
    let inner = &client.inner;
    let timeout = inner.attempt_timeout;
    let with_timeout = |what: &'static str| {
        move |_| {
            Error::new(
                ErrorKind::Timeout,
                format!("no {what} from '{host}' within the attempt timeout"),
            )
        }
    };
    // Send without any credentials; follow redirects by hand so none is ever added.
    let mut target = url.clone();
    let mut redirects = 0;
    let resp = loop {
        let mut req = inner
            .http
            .get(target.clone())
            .header(header::USER_AGENT, format!("cfstream/{}", env!("CARGO_PKG_VERSION")));
        if offset > 0 {
            req = req.header(header::RANGE, format!("bytes={offset}-"));
        }
        let send = req.send();
        let resp = match timeout {
            Some(t) => tokio::time::timeout(t, send)
                .await
                .map_err(with_timeout("response"))
                .map_err(|e| (e, 0))?,
            None => send.await,
        }
        .map_err(|e| (dispatch_error(e, host), 0))?;
        if resp.status().is_redirection()
            && redirects < MAX_REDIRECTS
            && let Some(next) = resp
                .headers()
                .get(header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| target.join(l).ok())
        {
            redirects += 1;
            target = next;
            continue;
        }
        break resp;
    };
    let status = resp.status();
    let headers = resp.headers().clone();
    let (start, total) = match status {
        StatusCode::PARTIAL_CONTENT if offset > 0 => {
            let Some((Some(start), total)) = content_range(&headers) else {
                return Err((
                    Error::new(
                        ErrorKind::InvalidResponse,
                        "http 206 without a valid Content-Range",
                    )
                    .with_response(206, content_type(&headers), b""),
                    offset,
                ));
            };
            if start != offset {
                return Err((
                    Error::new(
                        ErrorKind::InvalidResponse,
                        format!("asked for bytes from {offset}, the server sent from {start}"),
                    )
                    .with_status(206),
                    offset,
                ));
            }
            let total = total.or_else(|| resp.content_length().map(|n| n + offset));
            (offset, total)
        }
        StatusCode::OK => (0, resp.content_length()),
        StatusCode::RANGE_NOT_SATISFIABLE if offset > 0 => {
            // Either the part file is already whole, or it is longer than the file: restart.
            if content_range(&headers).and_then(|(_, t)| t) == Some(offset) {
                reporter.fetch_started(parts.video.as_ref(), Some(offset), offset);
                return sync_part(part).await.map(|()| (offset, offset)).map_err(|e| (e, offset));
            }
            tracing::debug!(offset, "range not satisfiable: restarting from the start");
            if let Err(e) = tokio::fs::remove_file(part).await {
                return Err((Error::io(format!("cannot remove '{}'", part.display()), e), offset));
            }
            return Box::pin(fetch_once(client, url, host, part, 0, parts, reporter)).await;
        }
        s => {
            let ct = content_type(&headers);
            let snippet = body_snippet(resp).await;
            let e = Error::new(
                ErrorKind::InvalidResponse,
                format!(
                    "fetching from '{host}': http {} ({})",
                    s.as_u16(),
                    ct.as_deref().unwrap_or("no content type")
                ),
            )
            .with_response(s.as_u16(), ct, &snippet)
            .with_retry_after(crate::policy::server_delay(
                &headers,
                std::time::SystemTime::now(),
                s.as_u16() == 429,
            ));
            return Err((e, offset));
        }
    };
    // A JSON or HTML document is an error page (a proxy's, or an API answer on the wrong
    // route), never the media file: saving it would pass garbage off as the video.
    if let Some(ct) = content_type(&headers).filter(|ct| is_document(ct)) {
        let snippet = body_snippet(resp).await;
        let e = Error::new(
            ErrorKind::InvalidResponse,
            format!(
                "fetching from '{host}': http {} answered a {ct} document, not a media file",
                status.as_u16()
            ),
        )
        .with_response(status.as_u16(), Some(ct), &snippet);
        return Err((e, offset));
    }
    let resumed = start;
    let mut file = match open_part(part, start).await {
        Ok(f) => f,
        Err(e) => return Err((e, resumed)),
    };
    reporter.fetch_started(parts.video.as_ref(), total, start);
    let mut written = start;
    let mut buf: Vec<u8> = Vec::with_capacity(WRITE_BUFFER);
    let mut resp = resp;
    let outcome: Result<(), Error> = async {
        loop {
            let next = match timeout {
                Some(t) => {
                    tokio::time::timeout(t, resp.chunk()).await.map_err(with_timeout("data"))?
                }
                None => resp.chunk().await,
            };
            match next.map_err(body_error)? {
                Some(chunk) => {
                    if let Some(total) = total
                        && written + (buf.len() + chunk.len()) as u64 > total
                    {
                        return Err(Error::new(
                            ErrorKind::InvalidResponse,
                            format!("the server sent more than the {total} bytes it announced"),
                        )
                        .with_status(status.as_u16()));
                    }
                    buf.extend_from_slice(&chunk);
                    if buf.len() >= WRITE_BUFFER {
                        written += flush(&mut file, &mut buf, part).await?;
                        reporter.fetch_progress(written);
                    }
                }
                None => return Ok(()),
            }
        }
    }
    .await;
    // Whatever arrived is kept on disk, so a retry resumes after it.
    let flushed = flush(&mut file, &mut buf, part).await;
    let outcome = outcome.and(flushed.map(|n| written += n));
    if let Err(e) = outcome {
        let _ = file.sync_all().await;
        return Err((e, resumed));
    }
    reporter.fetch_progress(written);
    if let Some(total) = total
        && written != total
    {
        return Err((
            Error::new(
                ErrorKind::Dispatch,
                format!("the body ended after {written} of {total} bytes"),
            )
            .with_status(status.as_u16()),
            resumed,
        ));
    }
    file.sync_all()
        .await
        .map_err(|e| (Error::io(format!("cannot sync '{}'", part.display()), e), resumed))?;
    Ok((written, resumed))
}

/// Whether a content type names a document (JSON, HTML, text) rather than media.
fn is_document(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || essence.ends_with("+json") || essence.starts_with("text/")
}

/// The first [`BODY_SNIPPET`] bytes of a body, for an error.
async fn body_snippet(mut resp: reqwest::Response) -> Vec<u8> {
    let mut snippet = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        snippet.extend_from_slice(&chunk);
        if snippet.len() >= BODY_SNIPPET {
            break;
        }
    }
    snippet
}

async fn open_part(part: &Path, start: u64) -> Result<tokio::fs::File, Error> {
    let io = |e| Error::io(format!("cannot open '{}'", part.display()), e);
    let mut f = tokio::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(start == 0)
        .open(part)
        .await
        .map_err(io)?;
    if start > 0 {
        f.set_len(start).await.map_err(io)?;
        f.seek(std::io::SeekFrom::Start(start)).await.map_err(io)?;
    }
    Ok(f)
}

async fn sync_part(part: &Path) -> Result<(), Error> {
    let f = tokio::fs::OpenOptions::new()
        .write(true)
        .open(part)
        .await
        .map_err(|e| Error::io(format!("cannot open '{}'", part.display()), e))?;
    f.sync_all().await.map_err(|e| Error::io(format!("cannot sync '{}'", part.display()), e))
}

/// Writes the buffer out (and waits for it to reach the file), returning how many bytes.
async fn flush(file: &mut tokio::fs::File, buf: &mut Vec<u8>, part: &Path) -> Result<u64, Error> {
    if buf.is_empty() {
        return Ok(0);
    }
    let io = |e| Error::io(format!("cannot write '{}'", part.display()), e);
    file.write_all(buf).await.map_err(io)?;
    file.flush().await.map_err(io)?;
    let n = buf.len() as u64;
    buf.clear();
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// `filename` accepts exactly 1 to 120 of `[A-Za-z0-9_-]`, whatever else it is given.
        #[test]
        fn filename_validation_is_exact(name in prop_oneof!["[A-Za-z0-9_-]{1,130}", "\\PC{0,40}"]) {
            let ok = (1..=MAX_FILENAME).contains(&name.len())
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            prop_assert_eq!(validate_filename(&name).is_ok(), ok);
        }

        /// Whatever the server's URL says and whatever filename passes validation, the file
        /// lands directly inside the chosen directory.
        #[test]
        fn the_file_never_leaves_the_directory(
            path in "(/[^/?#]{0,12}){0,5}",
            filename in prop::option::of("[A-Za-z0-9_-]{1,20}"),
        ) {
            let dir = std::env::temp_dir();
            let Ok(url) = reqwest::Url::parse(&format!("http://files.example{path}")) else {
                return Ok(());
            };
            let parts = url_parts(&url);
            if let Ok(p) = final_path(&dir, &parts, filename.as_deref()) {
                prop_assert_eq!(p.parent(), Some(dir.as_path()), "{:?} from {}", p, url);
                prop_assert!(p.file_name().is_some());
            }
        }
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

    #[test]
    fn url_parts_name_the_file() {
        let u = reqwest::Url::parse(
            "https://customer-x.cloudflarestream.com/ea95132c15732412d22c1476fa83f27a/downloads/default.mp4",
        )
        .unwrap();
        let p = url_parts(&u);
        assert_eq!(p.video.as_ref().map(VideoId::as_str), Some("ea95132c15732412d22c1476fa83f27a"));
        assert_eq!(p.download_type, Some(DownloadType::Default));
        assert_eq!(p.ext, "mp4");
        let dir = std::env::temp_dir();
        assert_eq!(
            final_path(&dir, &p, None).unwrap(),
            dir.join("ea95132c15732412d22c1476fa83f27a-default.mp4")
        );
        assert_eq!(final_path(&dir, &p, Some("clip")).unwrap(), dir.join("clip.mp4"));
        let odd = url_parts(
            &reqwest::Url::parse("http://h/%2E%2E/downloads/..%2F..%2Fx.m4a%2F").unwrap(),
        );
        let path = final_path(&dir, &odd, None).unwrap();
        assert_eq!(path.parent(), Some(dir.as_path()), "{}", path.display());
    }

    #[test]
    fn documents_are_not_media() {
        for ct in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "text/html",
            "text/plain",
            "application/problem+json",
        ] {
            assert!(is_document(ct), "{ct}");
        }
        for ct in ["video/mp4", "audio/mp4", "application/octet-stream", ""] {
            assert!(!is_document(ct), "{ct}");
        }
    }

    #[test]
    fn content_range_parses() {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_RANGE, "bytes 100-199/200".parse().unwrap());
        assert_eq!(content_range(&h), Some((Some(100), Some(200))));
        h.insert(header::CONTENT_RANGE, "bytes */200".parse().unwrap());
        assert_eq!(content_range(&h), Some((None, Some(200))));
    }
}
