//! The crate's one [`Error`] type and its [`ErrorKind`]s, which follow the stages of a call.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use cfstream_types::{ApiFailure, ErrorCode, Operation, PercentComplete, SigningOperation};

/// How many bytes of a response body an error keeps.
pub(crate) const BODY_SNIPPET: usize = 1024;

/// What went wrong, by the stage of the call where it happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request could not be built: bad configuration, base URL, header value, file name.
    Build,
    /// An attempt or the whole operation ran past its time limit, or the client's rate limit
    /// allows no request before the operation's deadline.
    Timeout,
    /// The request could not be sent or the response could not be read (connect refused,
    /// connection reset, body cut short).
    Dispatch,
    /// The server answered something that is not a valid answer: HTML from a proxy, truncated or
    /// malformed JSON, a body that does not match the declared length.
    InvalidResponse,
    /// The server answered with Cloudflare's failure envelope (`success: false`).
    Api,
    /// The download's status became `error`.
    DownloadFailed,
    /// The download was not ready before the deadline.
    NotReady,
    /// The download of that type does not exist (it was never created, or it was deleted).
    NotFound,
    /// The destination file exists and overwriting was not asked for.
    DestinationExists,
    /// A path `fetch` would write (the destination or its `.part` file) exists but is not a
    /// regular file: a symbolic link, a directory, a FIFO, a device or a socket. `fetch` never
    /// follows or replaces it, with or without overwrite.
    NotRegularFile,
    /// A local file operation failed.
    Io,
    /// A token request breaks a documented rule (`exp` more than 24 hours ahead, a signing
    /// key `id` without its `pem`); found before any request is sent.
    InvalidTokenRequest,
    /// The file host refused the plain URL (401 or 403): the video requires signed URLs, and
    /// signing was turned off ([`crate::Signing::Never`]).
    SignedUrlRequired,
}

impl ErrorKind {
    /// A short lowercase name (`"timeout"`, `"api"`, ...), stable for scripts and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Build => "build",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Dispatch => "dispatch",
            ErrorKind::InvalidResponse => "invalid_response",
            ErrorKind::Api => "api",
            ErrorKind::DownloadFailed => "download_failed",
            ErrorKind::NotReady => "not_ready",
            ErrorKind::NotFound => "not_found",
            ErrorKind::DestinationExists => "destination_exists",
            ErrorKind::NotRegularFile => "not_regular_file",
            ErrorKind::Io => "io",
            ErrorKind::InvalidTokenRequest => "invalid_token_request",
            ErrorKind::SignedUrlRequired => "signed_url_required",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error of a cfstream-http call: its [`ErrorKind`], a message naming the value at fault,
/// and what is known of the response (status, content type, the first KiB of the body, the
/// JSON path at fault, the envelope's errors).
///
/// Neither `Display` nor `Debug` ever holds a credential.
pub struct Error {
    pub(crate) inner: Box<Inner>,
}

#[derive(Debug, Default)]
pub(crate) struct Inner {
    pub(crate) kind: Option<ErrorKind>,
    pub(crate) message: String,
    pub(crate) operation: Option<Operation>,
    pub(crate) signing: Option<SigningOperation>,
    pub(crate) status: Option<u16>,
    pub(crate) content_type: Option<String>,
    pub(crate) body: Option<Bytes>,
    pub(crate) json_path: Option<String>,
    pub(crate) api: Option<ApiFailure>,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) percent: Option<PercentComplete>,
    pub(crate) attempts: u32,
    pub(crate) source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            inner: Box::new(Inner {
                kind: Some(kind),
                message: message.into(),
                ..Inner::default()
            }),
        }
    }

    pub(crate) fn build(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Build, message)
    }

    pub(crate) fn io(message: impl Into<String>, source: std::io::Error) -> Self {
        Self::new(ErrorKind::Io, message).with_source(source)
    }

    pub(crate) fn with_source(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        self.inner.source = Some(Box::new(source));
        self
    }

    pub(crate) fn with_operation(mut self, op: Operation) -> Self {
        self.inner.operation = Some(op);
        self
    }

    pub(crate) fn with_signing_operation(mut self, op: SigningOperation) -> Self {
        self.inner.signing = Some(op);
        self
    }

    pub(crate) fn with_status(mut self, status: u16) -> Self {
        self.inner.status = Some(status);
        self
    }

    pub(crate) fn with_response(
        mut self,
        status: u16,
        content_type: Option<String>,
        body: &[u8],
    ) -> Self {
        self.inner.status = Some(status);
        self.inner.content_type = content_type;
        let n = body.len().min(BODY_SNIPPET);
        self.inner.body = Some(Bytes::copy_from_slice(&body[..n]));
        self
    }

    pub(crate) fn with_json_path(mut self, path: impl Into<String>) -> Self {
        self.inner.json_path = Some(path.into());
        self
    }

    pub(crate) fn with_api(mut self, api: ApiFailure) -> Self {
        self.inner.api = Some(api);
        self
    }

    pub(crate) fn with_retry_after(mut self, d: Option<Duration>) -> Self {
        self.inner.retry_after = d;
        self
    }

    pub(crate) fn with_percent(mut self, p: PercentComplete) -> Self {
        self.inner.percent = Some(p);
        self
    }

    pub(crate) fn with_attempts(mut self, attempts: u32) -> Self {
        self.inner.attempts = attempts;
        self
    }

    /// The stage at which the call failed.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind.unwrap_or(ErrorKind::Build)
    }

    /// Whether trying again later may succeed: timeouts, connect and I/O failures, HTTP 408,
    /// 429 and 5xx. Other 4xx, bad input and malformed 2xx answers are not retryable.
    pub fn is_retryable(&self) -> bool {
        match self.kind() {
            ErrorKind::Timeout | ErrorKind::Dispatch => true,
            ErrorKind::Api | ErrorKind::InvalidResponse => {
                self.inner.status.is_some_and(status_is_retryable)
            }
            _ => false,
        }
    }

    /// The HTTP status of the response at fault, if one was received.
    pub fn status(&self) -> Option<u16> {
        self.inner.status
    }

    /// The failure envelope's errors and messages, for [`ErrorKind::Api`].
    pub fn api_failure(&self) -> Option<&ApiFailure> {
        self.inner.api.as_ref()
    }

    /// Whether the failure envelope carries `code` (for example
    /// [`ErrorCode::Authentication`] or [`ErrorCode::NoRoute`]).
    pub fn has_code(&self, code: ErrorCode) -> bool {
        self.inner.api.as_ref().is_some_and(|a| a.has_code(code))
    }

    /// Whether the server said the client is rate limited (HTTP 429).
    pub fn is_rate_limited(&self) -> bool {
        self.inner.status == Some(429)
    }

    /// The operation that failed, for API calls.
    pub fn operation(&self) -> Option<Operation> {
        self.inner.operation
    }

    /// The signed-URL operation that failed (create a token, or a signing-key call).
    pub fn signing_operation(&self) -> Option<SigningOperation> {
        self.inner.signing
    }

    /// The `Content-Type` of the response at fault.
    pub fn content_type(&self) -> Option<&str> {
        self.inner.content_type.as_deref()
    }

    /// The first KiB of the body of the response at fault.
    pub fn body_snippet(&self) -> Option<&[u8]> {
        self.inner.body.as_deref()
    }

    /// The JSON path of the field at fault, for bodies that did not decode (`.` for the whole
    /// body).
    pub fn json_path(&self) -> Option<&str> {
        self.inner.json_path.as_deref()
    }

    /// How long to wait before trying again: what the server asked for (`Retry-After` or
    /// `x-ratelimit-reset`), or, for a [`ErrorKind::Timeout`] the client's own rate limit
    /// caused, when it allows the next request.
    pub fn retry_after(&self) -> Option<Duration> {
        self.inner.retry_after
    }

    /// The last progress seen, for [`ErrorKind::NotReady`] and [`ErrorKind::DownloadFailed`].
    pub fn percent_complete(&self) -> Option<PercentComplete> {
        self.inner.percent
    }

    /// How many attempts were made before giving up (0 when no request was sent).
    pub fn attempts(&self) -> u32 {
        self.inner.attempts
    }
}

/// Whether an HTTP status is worth retrying: 408, 429 and 5xx.
pub(crate) fn status_is_retryable(status: u16) -> bool {
    status == 408 || status == 429 || (500..=599).contains(&status)
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(op) = self.inner.operation {
            write!(f, "{op}: ")?;
        }
        if let Some(op) = self.inner.signing {
            write!(f, "{op}: ")?;
        }
        f.write_str(&self.inner.message)?;
        if let Some(api) = &self.inner.api {
            write!(f, ": {api}")?;
        }
        if let Some(path) = &self.inner.json_path {
            write!(f, " (json path {path})")?;
        }
        if self.inner.attempts > 1 {
            write!(f, " (after {} attempts)", self.inner.attempts)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.kind()).field("message", &i.message);
        if let Some(op) = i.operation {
            d.field("operation", &op);
        }
        if let Some(op) = i.signing {
            d.field("signing_operation", &op);
        }
        if let Some(s) = i.status {
            d.field("status", &s);
        }
        if let Some(ct) = &i.content_type {
            d.field("content_type", ct);
        }
        if let Some(b) = &i.body {
            d.field("body", &String::from_utf8_lossy(b));
        }
        if let Some(p) = &i.json_path {
            d.field("json_path", p);
        }
        if let Some(a) = &i.api {
            d.field("api", a);
        }
        if let Some(r) = i.retry_after {
            d.field("retry_after", &r);
        }
        if let Some(p) = i.percent {
            d.field("percent", &p);
        }
        if i.attempts > 0 {
            d.field("attempts", &i.attempts);
        }
        if let Some(s) = &i.source {
            d.field("source", s);
        }
        d.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.source.as_deref().map(|s| s as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_follows_the_status() {
        let e = Error::new(ErrorKind::Api, "http 429").with_status(429);
        assert!(e.is_retryable() && e.is_rate_limited());
        assert!(!Error::new(ErrorKind::Api, "http 403").with_status(403).is_retryable());
        assert!(Error::new(ErrorKind::InvalidResponse, "html").with_status(502).is_retryable());
        assert!(
            !Error::new(ErrorKind::InvalidResponse, "bad json").with_status(200).is_retryable()
        );
        assert!(Error::new(ErrorKind::Timeout, "slow").is_retryable());
        assert!(!Error::build("bad").is_retryable());
    }

    #[test]
    fn debug_shows_what_is_known_and_source_chains() {
        let plain = Error::new(ErrorKind::Timeout, "slow");
        assert_eq!(format!("{plain:?}"), r#"Error { kind: Timeout, message: "slow" }"#);
        assert!(std::error::Error::source(&plain).is_none());
        let once = Error::new(ErrorKind::Timeout, "slow").with_attempts(1);
        assert_eq!(format!("{once:?}"), r#"Error { kind: Timeout, message: "slow", attempts: 1 }"#);
        let io = Error::io("cannot write 'x'", std::io::Error::other("disk full"))
            .with_status(503)
            .with_attempts(3);
        assert_eq!(
            format!("{io:?}"),
            r#"Error { kind: Io, message: "cannot write 'x'", status: 503, attempts: 3, source: Custom { kind: Other, error: "disk full" } }"#
        );
        let source = std::error::Error::source(&io).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("disk full"));
    }

    #[test]
    fn kinds_display_as_their_stable_names() {
        assert_eq!(ErrorKind::Timeout.to_string(), "timeout");
        assert_eq!(ErrorKind::NotRegularFile.to_string(), "not_regular_file");
        assert_eq!(
            format!("{}", ErrorKind::SignedUrlRequired),
            ErrorKind::SignedUrlRequired.as_str()
        );
    }

    #[test]
    fn body_is_cut_to_a_kib() {
        let e = Error::new(ErrorKind::InvalidResponse, "x").with_response(502, None, &[b'a'; 5000]);
        assert_eq!(e.body_snippet().map(<[u8]>::len), Some(BODY_SNIPPET));
    }
}
