//! [`DownloadsApi`]: the five operations of the downloads API, typed, plus [`DownloadsApi::raw`].

use std::path::Path;

use cfstream_types::{
    AccountId, DecodeError, DeletedEnvelope, Download, DownloadType, Downloads, DownloadsEnvelope,
    Endpoint, Envelope, VideoId, decode,
};
use reqwest::header;

use crate::client::{Client, RawResponse};
use crate::error::{Error, ErrorKind};
use crate::fetch::{FetchOptions, FetchOutcome};
use crate::policy::Deadline;
use crate::wait::WaitOptions;

/// The downloads of one account's videos. Made by [`Client::downloads`].
///
/// Every call goes through the client's rate limiter and retries (create and delete too: a
/// second create answers the existing download and a second delete is harmless).
#[derive(Debug, Clone, Copy)]
pub struct DownloadsApi<'a> {
    pub(crate) client: &'a Client,
    pub(crate) account: &'a AccountId,
    pub(crate) deadline: Option<tokio::time::Instant>,
}

impl<'a> DownloadsApi<'a> {
    pub(crate) fn new(client: &'a Client, account: &'a AccountId) -> Self {
        Self { client, account, deadline: None }
    }

    /// The same API, with every call bounded by `at` (a `tokio::time::Instant`): list, create,
    /// delete and `raw` (on top of the client's operation timeout), `wait_ready` (its polls
    /// included, on top of its own timeout) and `fetch` (the transfer and its retries). So a
    /// caller can bound a whole sequence, such as list, wait and fetch, by one time. A call that
    /// runs into it fails with [`ErrorKind::Timeout`], or, while waiting with progress seen,
    /// [`ErrorKind::NotReady`]; a fetch keeps its `.part` file for the next run.
    #[must_use]
    pub fn deadline(mut self, at: tokio::time::Instant) -> Self {
        self.deadline = Some(self.deadline.map_or(at, |d| d.min(at)));
        self
    }

    /// Lists the downloads of `video` (`GET .../downloads`).
    pub async fn list(&self, video: &VideoId) -> Result<Downloads, Error> {
        self.downloads(&Endpoint::list(self.account, video)).await
    }

    /// Creates the `default` download with the legacy route (`POST .../downloads`).
    pub async fn create(&self, video: &VideoId) -> Result<Downloads, Error> {
        self.downloads(&Endpoint::create(self.account, video)).await
    }

    /// Creates a download of type `t` (`POST .../downloads/{t}`).
    pub async fn create_type(&self, video: &VideoId, t: DownloadType) -> Result<Downloads, Error> {
        let endpoint = Endpoint::create_type(self.account, video, t)
            .map_err(|e| Error::build(e.to_string()))?;
        self.downloads(&endpoint).await
    }

    /// Deletes the `default` download with the legacy route (`DELETE .../downloads`).
    pub async fn delete(&self, video: &VideoId) -> Result<(), Error> {
        self.deleted(&Endpoint::delete(self.account, video)).await
    }

    /// Deletes the download of type `t` (`DELETE .../downloads/{t}`).
    pub async fn delete_type(&self, video: &VideoId, t: DownloadType) -> Result<(), Error> {
        let endpoint = Endpoint::delete_type(self.account, video, t)
            .map_err(|e| Error::build(e.to_string()))?;
        self.deleted(&endpoint).await
    }

    /// Polls the list until the download of type `t` is `ready` (answered), `error`
    /// ([`ErrorKind::DownloadFailed`]), missing ([`ErrorKind::NotFound`]: create it first), or
    /// the deadline passes ([`ErrorKind::NotReady`], with the last progress seen).
    pub async fn wait_ready(
        &self,
        video: &VideoId,
        t: DownloadType,
        opts: WaitOptions,
    ) -> Result<Download, Error> {
        crate::wait::wait_ready(self, video, t, opts).await
    }

    /// Streams the file of `download` to `dest` (a directory, or a file path) through a
    /// `.part` file beside it, then renames it into place. The API credentials are never sent
    /// to the file's host. Only regular files are written: a symbolic link, FIFO, device or
    /// directory at the destination or at its `.part` file fails the fetch with
    /// [`ErrorKind::NotRegularFile`] before any request. See [`FetchOptions`].
    pub async fn fetch(
        &self,
        download: &Download,
        dest: &Path,
        opts: FetchOptions,
    ) -> Result<FetchOutcome, Error> {
        crate::fetch::fetch(self, download, dest, opts).await
    }

    /// Sends `endpoint` once (rate limited, credentials, attempt timeout, this handle's deadline;
    /// no retries, no parsing) and returns whatever the server answered, for conformance checks.
    pub async fn raw(&self, endpoint: &Endpoint) -> Result<RawResponse, Error> {
        let c = self.client;
        let deadline = self.deadline.map(Deadline::caller);
        c.attempt(endpoint, deadline).await.map_err(|e| e.with_operation(endpoint.operation()))
    }

    async fn downloads(&self, endpoint: &Endpoint) -> Result<Downloads, Error> {
        self.client.execute(endpoint, self.deadline, parse_downloads).await
    }

    async fn deleted(&self, endpoint: &Endpoint) -> Result<(), Error> {
        self.client.execute(endpoint, self.deadline, parse_deleted).await
    }
}

/// Parses a list or create answer ([`DownloadsEnvelope`]).
pub(crate) fn parse_downloads(raw: &RawResponse) -> Result<Downloads, Error> {
    finish(raw, decode::<DownloadsEnvelope>(&raw.body))
}

/// Parses a delete answer ([`DeletedEnvelope`]; `result` is `"ok"`, or anything in older shapes).
pub(crate) fn parse_deleted(raw: &RawResponse) -> Result<(), Error> {
    finish(raw, decode::<DeletedEnvelope>(&raw.body)).map(drop)
}

/// The envelope's result on success, else an `Api` error with every `{code, message}`, or an
/// `InvalidResponse` error with the status, content type, first KiB of the body and the JSON
/// path at fault.
pub(crate) fn finish<T: Default>(
    raw: &RawResponse,
    decoded: Result<Envelope<T>, DecodeError>,
) -> Result<T, Error> {
    let status = raw.status;
    let content_type =
        raw.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let shown_type = content_type.as_deref().unwrap_or("no content type").to_owned();
    let env = match decoded {
        Ok(env) => env,
        Err(e) => {
            let what = if raw.body.iter().all(u8::is_ascii_whitespace) {
                "empty body".to_owned()
            } else if !looks_like_json(&raw.body) {
                "body is not JSON".to_owned()
            } else {
                format!("body does not match the envelope: {}", e.message())
            };
            return Err(Error::new(
                ErrorKind::InvalidResponse,
                format!("http {status} ({shown_type}): {what}"),
            )
            .with_response(status, content_type, &raw.body)
            .with_json_path(e.path()));
        }
    };
    match env.into_result() {
        Ok(v) if (200..300).contains(&status) => Ok(v),
        Ok(_) => Err(Error::new(
            ErrorKind::InvalidResponse,
            format!(
                "http {status} ({shown_type}): the envelope says success but the status is an error"
            ),
        )
        .with_response(status, content_type, &raw.body)),
        Err(failure) => Err(Error::new(ErrorKind::Api, format!("http {status}: api error"))
            .with_response(status, content_type, &raw.body)
            .with_api(failure)),
    }
}

fn looks_like_json(body: &[u8]) -> bool {
    matches!(body.iter().find(|b| !b.is_ascii_whitespace()), Some(b'{' | b'['))
}
