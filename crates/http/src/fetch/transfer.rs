//! One attempt of a file transfer: the request (without credentials, redirects followed by
//! hand; `Range` with `If-Range` only when a validator was saved), what the answer allows (the
//! whole file, the rest of the same version, starting over, or nothing), and streaming the body
//! into the `.part` file.

use std::path::Path;

use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};
use tokio::io::{AsyncSeekExt as _, AsyncWriteExt as _};

use super::destination::{UrlParts, open_regular};
use super::validator::Validator;
use crate::client::{Client, body_error, dispatch_error};
use crate::error::{BODY_SNIPPET, Error, ErrorKind};
use crate::policy::Deadline;
use crate::reporter::Reporter;

/// Bytes gathered in memory before they are written out: the most `fetch` ever holds.
const WRITE_BUFFER: usize = 256 * 1024;
/// The most redirects `fetch` follows.
const MAX_REDIRECTS: usize = 10;

/// What every attempt of one fetch shares.
pub(super) struct Transfer<'a> {
    pub(super) client: &'a Client,
    /// The file's URL: the download's, or its signed form.
    pub(super) url: reqwest::Url,
    pub(super) host: &'a str,
    pub(super) part: &'a Path,
    /// `NAME.part.meta`: the validator of the version the `.part` file holds.
    pub(super) meta: &'a Path,
    pub(super) parts: &'a UrlParts,
    pub(super) reporter: &'a dyn Reporter,
    /// The caller's deadline for the whole fetch, retries included.
    pub(super) deadline: Option<Deadline>,
}

/// (file size, bytes resumed), or the error and the bytes resumed.
pub(super) type AttemptResult = Result<(u64, u64), (Error, u64)>;

/// What an answer lets the attempt do.
enum Plan {
    /// Write the body into the `.part` file from byte `start`; the file has `total` bytes.
    Write { start: u64, total: Option<u64> },
    /// The `.part` file already holds all `total` bytes (a 416 that says so).
    Whole { total: u64 },
    /// Drop the `.part` file and ask again for the whole file, for this reason.
    StartOver(String),
}

impl Transfer<'_> {
    /// One attempt: it resumes after the bytes of the `.part` file when a validator of their
    /// version was saved beside it, and asks for the whole file otherwise.
    pub(super) async fn attempt(&self) -> AttemptResult {
        let have = match tokio::fs::symlink_metadata(self.part).await {
            Ok(m) => m.len(),
            Err(_) => 0,
        };
        let saved = if have > 0 { Validator::load(self.meta).await } else { None };
        match saved {
            Some(v) => self.attempt_from(have, Some(v)).await,
            None => self.attempt_from(0, None).await,
        }
    }

    /// One attempt from byte `offset` (with the validator of the bytes before it when
    /// `offset > 0`).
    async fn attempt_from(&self, offset: u64, saved: Option<Validator>) -> AttemptResult {
        let if_range = saved.as_ref().map(Validator::if_range);
        let resp = self.send(offset, if_range).await.map_err(|e| (e, 0))?;
        let plan = match self.plan(&resp, offset, saved.as_ref()) {
            Ok(Some(plan)) => plan,
            Ok(None) => return Err((self.refused(resp).await, offset)),
            Err(e) => return Err((e, offset)),
        };
        let (start, total) = match plan {
            Plan::Write { start, total } => (start, total),
            Plan::Whole { total } => {
                self.reporter.fetch_started(self.parts.video.as_ref(), Some(total), total);
                return sync_part(self.part).await.map(|()| (total, total)).map_err(|e| (e, total));
            }
            Plan::StartOver(why) => {
                tracing::debug!(offset, why, "starting over from byte 0");
                drop(resp);
                if let Err(e) = self.discard().await {
                    return Err((e, offset));
                }
                return Box::pin(self.attempt_from(0, None)).await;
            }
        };
        // A JSON or HTML document is an error page (a proxy's, or an API answer on the wrong
        // route), never the media file: saving it would pass garbage off as the video.
        if let Some(ct) = content_type(resp.headers()).filter(|ct| is_document(ct)) {
            let status = resp.status().as_u16();
            let snippet = body_snippet(resp).await;
            let e = Error::new(
                ErrorKind::InvalidResponse,
                format!(
                    "fetching from '{}': http {status} answered a {ct} document, not a media file",
                    self.host
                ),
            )
            .with_response(status, Some(ct), &snippet);
            return Err((e, offset));
        }
        let validator = if start == 0 { Validator::of(resp.headers(), total) } else { None };
        self.write_body(resp, start, total, validator)
            .await
            .map(|n| (n, start))
            .map_err(|e| (e, start))
    }

    /// Removes the `.part` file and its validator.
    async fn discard(&self) -> Result<(), Error> {
        Validator::remove(self.meta).await?;
        match tokio::fs::remove_file(self.part).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(format!("cannot remove '{}'", self.part.display()), e)),
        }
    }

    /// Sends the request without any credentials, following redirects by hand so none is ever
    /// added.
    async fn send(&self, offset: u64, if_range: Option<&str>) -> Result<reqwest::Response, Error> {
        let inner = &self.client.inner;
        let mut target = self.url.clone();
        let mut redirects = 0;
        loop {
            let mut req = inner
                .http
                .get(target.clone())
                .header(header::USER_AGENT, format!("cfstream/{}", env!("CARGO_PKG_VERSION")));
            if offset > 0 {
                req = req.header(header::RANGE, format!("bytes={offset}-"));
                if let Some(v) = if_range {
                    req = req.header(header::IF_RANGE, v);
                }
            }
            let resp = self
                .timed("response", req.send())
                .await?
                .map_err(|e| dispatch_error(e, self.host))?;
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
            return Ok(resp);
        }
    }

    /// Runs `fut` under one timer: the attempt timeout (for the response, or for each gap
    /// between body chunks) or what is left of the deadline, whichever is sooner.
    async fn timed<T>(&self, what: &str, fut: impl Future<Output = T>) -> Result<T, Error> {
        let attempt = self.client.inner.attempt_timeout;
        let left = self.deadline.map(|d| d.remaining());
        let (limit, by_deadline) = match (attempt, left) {
            (Some(a), Some(l)) if l < a => (Some(l), true),
            (Some(a), _) => (Some(a), false),
            (None, l) => (l, l.is_some()),
        };
        let Some(limit) = limit else { return Ok(fut.await) };
        tokio::time::timeout(limit, fut).await.map_err(|_| {
            let within = if by_deadline {
                "before the deadline".to_owned()
            } else {
                "within the attempt timeout".to_owned()
            };
            Error::new(ErrorKind::Timeout, format!("no {what} from '{}' {within}", self.host))
        })
    }

    /// What the answer to a request from `offset` allows; `None` for a status that is no file.
    fn plan(
        &self,
        resp: &reqwest::Response,
        offset: u64,
        saved: Option<&Validator>,
    ) -> Result<Option<Plan>, Error> {
        let headers = resp.headers();
        let same_version = |total| saved.is_none_or(|v| v.matches(headers, total));
        Ok(Some(match resp.status() {
            StatusCode::PARTIAL_CONTENT if offset > 0 => {
                let Some((Some(start), total)) = content_range(headers) else {
                    return Err(Error::new(
                        ErrorKind::InvalidResponse,
                        "http 206 without a valid Content-Range",
                    )
                    .with_response(206, content_type(headers), b""));
                };
                let total = total.or_else(|| resp.content_length().map(|n| n + offset));
                if start != offset {
                    Plan::StartOver(format!(
                        "asked for bytes from {offset}, the server sent from {start}"
                    ))
                } else if !same_version(total) {
                    Plan::StartOver("the file changed since the .part file was written".into())
                } else {
                    Plan::Write { start: offset, total }
                }
            }
            StatusCode::OK => Plan::Write { start: 0, total: resp.content_length() },
            StatusCode::RANGE_NOT_SATISFIABLE if offset > 0 => {
                // Either the part file is already whole, or it is longer than the file.
                let total = content_range(headers).and_then(|(_, t)| t);
                if total == Some(offset) && same_version(total) {
                    Plan::Whole { total: offset }
                } else {
                    Plan::StartOver(format!("range not satisfiable (file size {total:?})"))
                }
            }
            _ => return Ok(None),
        }))
    }

    /// The error for an answer that is no file, with the first bytes of its body and any
    /// server hint of when to try again.
    async fn refused(&self, resp: reqwest::Response) -> Error {
        let status = resp.status().as_u16();
        let ct = content_type(resp.headers());
        let hint = crate::policy::server_delay(
            resp.headers(),
            std::time::SystemTime::now(),
            status == 429,
        );
        let snippet = body_snippet(resp).await;
        Error::new(
            ErrorKind::InvalidResponse,
            format!(
                "fetching from '{}': http {status} ({})",
                self.host,
                ct.as_deref().unwrap_or("no content type")
            ),
        )
        .with_response(status, ct, &snippet)
        .with_retry_after(hint)
    }

    /// Streams the body into the `.part` file from byte `start`, then checks the length and
    /// fsyncs. Whatever arrived is kept on disk, so a retry resumes after it.
    async fn write_body(
        &self,
        mut resp: reqwest::Response,
        start: u64,
        total: Option<u64>,
        validator: Option<Validator>,
    ) -> Result<u64, Error> {
        let part = self.part;
        let status = resp.status().as_u16();
        // From byte 0, the order keeps the validator true of the bytes at every moment: the old
        // one goes, the file is emptied, and the new one is saved before any byte is written.
        if start == 0 {
            Validator::remove(self.meta).await?;
        }
        let mut file = open_part(part, start).await?;
        if let Some(v) = validator {
            v.save(self.meta).await?;
        }
        self.reporter.fetch_started(self.parts.video.as_ref(), total, start);
        let mut written = start;
        let mut buf: Vec<u8> = Vec::with_capacity(WRITE_BUFFER);
        let outcome: Result<(), Error> = async {
            loop {
                let next = self.timed("data", resp.chunk()).await?;
                let Some(chunk) = next.map_err(body_error)? else { return Ok(()) };
                if let Some(total) = total
                    && written + (buf.len() + chunk.len()) as u64 > total
                {
                    return Err(Error::new(
                        ErrorKind::InvalidResponse,
                        format!("the server sent more than the {total} bytes it announced"),
                    )
                    .with_status(status));
                }
                buf.extend_from_slice(&chunk);
                if buf.len() >= WRITE_BUFFER {
                    written += flush(&mut file, &mut buf, part).await?;
                    self.reporter.fetch_progress(written);
                }
            }
        }
        .await;
        let flushed = flush(&mut file, &mut buf, part).await;
        let outcome = outcome.and(flushed.map(|n| written += n));
        if let Err(e) = outcome {
            let _ = file.sync_all().await;
            return Err(e);
        }
        self.reporter.fetch_progress(written);
        if let Some(total) = total
            && written != total
        {
            return Err(Error::new(
                ErrorKind::Dispatch,
                format!("the body ended after {written} of {total} bytes"),
            )
            .with_status(status));
        }
        file.sync_all()
            .await
            .map_err(|e| Error::io(format!("cannot sync '{}'", part.display()), e))?;
        Ok(written)
    }
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
    let mut opts = tokio::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(start == 0);
    let mut f = open_regular(part, &mut opts).await?;
    if start > 0 {
        let io = |e| Error::io(format!("cannot open '{}'", part.display()), e);
        f.set_len(start).await.map_err(io)?;
        f.seek(std::io::SeekFrom::Start(start)).await.map_err(io)?;
    }
    Ok(f)
}

async fn sync_part(part: &Path) -> Result<(), Error> {
    let f = open_regular(part, tokio::fs::OpenOptions::new().write(true)).await?;
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
