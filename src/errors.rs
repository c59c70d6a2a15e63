//! Turning errors into what a person (or a script) needs: a [`Failure`] per video with a kind,
//! the cause chain and a hint of what to do, the `error:` / `  caused by:` / `  hint:`
//! lines on stderr, and the [`ExitStatus`].

use std::io::{self, Write};
use std::process::ExitCode;

use cfstream_types::{ApiFailure, ErrorCode};
use serde_json::{Value, json};

use crate::sanitize;

/// How the process ends. Codes follow ripgrep: 0 success, 1 a clean negative answer,
/// 2 an error; 130 when interrupted by Ctrl-C.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ExitStatus {
    /// Every video succeeded.
    Success,
    /// Some videos failed or were not ready in time.
    Failure,
    /// A usage or setup error (bad flags, no credentials, credentials rejected).
    Error,
    /// Interrupted by Ctrl-C.
    Interrupted,
}

impl From<ExitStatus> for ExitCode {
    fn from(s: ExitStatus) -> ExitCode {
        ExitCode::from(match s {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::Error => 2,
            ExitStatus::Interrupted => 130,
        })
    }
}

/// What kind of failure a video met, as in JSON Lines' `error.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailureKind {
    Auth,
    NotFound,
    NotReady,
    Timeout,
    DownloadFailed,
    RateLimited,
    Api,
    Network,
    InvalidResponse,
    Io,
    Other,
}

impl FailureKind {
    /// A few words for the table's last column (the `error:` lines tell the rest).
    pub(crate) fn describe(self) -> &'static str {
        match self {
            FailureKind::Auth => "credentials rejected",
            FailureKind::NotFound => "not found",
            FailureKind::NotReady => "video not ready to stream",
            FailureKind::Timeout => "not ready in time",
            FailureKind::DownloadFailed => "download failed on the server",
            FailureKind::RateLimited => "rate limited",
            FailureKind::Api => "api error",
            FailureKind::Network => "network error",
            FailureKind::InvalidResponse => "invalid response",
            FailureKind::Io => "file error",
            FailureKind::Other => "error",
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            FailureKind::Auth => "auth",
            FailureKind::NotFound => "not_found",
            FailureKind::NotReady => "not_ready",
            FailureKind::Timeout => "timeout",
            FailureKind::DownloadFailed => "download_failed",
            FailureKind::RateLimited => "rate_limited",
            FailureKind::Api => "api",
            FailureKind::Network => "network",
            FailureKind::InvalidResponse => "invalid_response",
            FailureKind::Io => "io",
            FailureKind::Other => "other",
        }
    }
}

/// Facts an error message may name (never secret values).
#[derive(Debug, Clone)]
pub(crate) struct Setting {
    pub(crate) account: String,
    pub(crate) base_url: String,
    /// The environment variables the credentials were read from.
    pub(crate) credential_vars: &'static str,
}

/// Why one video failed, ready to print or to serialize.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub(crate) kind: FailureKind,
    pub(crate) message: String,
    pub(crate) causes: Vec<String>,
    pub(crate) hint: Option<String>,
    pub(crate) status: Option<u16>,
    pub(crate) codes: Vec<u64>,
}

impl Failure {
    /// Classifies `err` (whose top context names the video and the step).
    pub(crate) fn from_error(err: &anyhow::Error, setting: &Setting) -> Failure {
        let message = err.to_string();
        let causes = err.chain().skip(1).map(ToString::to_string).collect();
        let mut f = Failure {
            kind: FailureKind::Other,
            message,
            causes,
            hint: None,
            status: None,
            codes: vec![],
        };
        let file_host = err.downcast_ref::<FileHostContext>();
        if let Some(http) = err.chain().find_map(|e| e.downcast_ref::<cfstream_http::Error>()) {
            // The file host is not the API: its failures get hints that name it, and its 403
            // says nothing about the API credentials (none are sent to it).
            let on_file_host = file_host.filter(|_| http.operation().is_none());
            if let Some(kind) =
                on_file_host.and_then(|h| classify_file_host(&mut f, http, h, setting))
            {
                f.kind = kind;
            } else {
                classify_http(&mut f, http, setting);
            }
        } else if err.chain().any(|e| e.downcast_ref::<io::Error>().is_some()) {
            f.kind = FailureKind::Io;
        }
        f
    }

    /// A failure of a video that was never attempted.
    pub(crate) fn skipped(kind: FailureKind, message: String, hint: Option<String>) -> Failure {
        Failure { kind, message, causes: vec![], hint, status: None, codes: vec![] }
    }

    /// Whether this failure means the whole setup is wrong (so exit 2, not 1).
    pub(crate) fn is_setup_error(&self) -> bool {
        self.kind == FailureKind::Auth
    }

    /// The `error` object of JSON Lines.
    pub(crate) fn to_json(&self) -> Value {
        let mut v = json!({
            "kind": self.kind.as_str(),
            "message": self.message,
            "causes": self.causes,
        });
        if let Some(h) = &self.hint {
            v["hint"] = h.as_str().into();
        }
        if let Some(s) = self.status {
            v["status"] = s.into();
        }
        if !self.codes.is_empty() {
            v["codes"] = self.codes.clone().into();
        }
        v
    }

    /// Writes `error: ...`, `  caused by: ...` and `  hint: ...` lines.
    pub(crate) fn write(&self, w: &mut impl Write) -> io::Result<()> {
        write_error_lines(w, &self.message, &self.causes, self.hint.as_deref())
    }
}

fn write_error_lines(
    w: &mut impl Write,
    message: &str,
    causes: &[String],
    hint: Option<&str>,
) -> io::Result<()> {
    // Messages and causes may quote a server or an input: print them safe.
    writeln!(w, "error: {}", sanitize::text(message))?;
    for c in causes {
        writeln!(w, "  caused by: {}", sanitize::text(c))?;
    }
    if let Some(h) = hint {
        writeln!(w, "  hint: {}", sanitize::text(h))?;
    }
    Ok(())
}

/// Prints a setup error (exit 2) on stderr, with a hint when one is known.
pub(crate) fn print_error(err: &anyhow::Error) {
    let causes: Vec<String> =
        err.chain().skip(1).filter(|e| !e.is::<Hint>()).map(ToString::to_string).collect();
    let hint = err.chain().find_map(|e| e.downcast_ref::<Hint>()).map(|h| h.0.as_str());
    let mut stderr = io::stderr().lock();
    // Nothing sensible is left to do if stderr itself is gone.
    let _ = write_error_lines(&mut stderr, &err.to_string(), &causes, hint);
}

/// A hint attached to a setup error (as the outermost context is the message).
#[derive(Debug)]
pub(crate) struct Hint(pub(crate) String);

impl std::fmt::Display for Hint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Hint {}

/// The top context of an error from the file host (fetching a download's `url`): the message,
/// and the file host's origin for the hint (never the URL's path, which may hold a signed
/// token).
#[derive(Debug)]
pub(crate) struct FileHostContext {
    pub(crate) message: String,
    /// `scheme://host[:port]` of the download's URL.
    pub(crate) origin: String,
}

impl std::fmt::Display for FileHostContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The kind and hint of a failure on the file host, or `None` when the host does not matter
/// (a local file error, a bad file name).
fn classify_file_host(
    f: &mut Failure,
    e: &cfstream_http::Error,
    host: &FileHostContext,
    s: &Setting,
) -> Option<FailureKind> {
    use cfstream_http::ErrorKind as K;
    let origin = &host.origin;
    let again = "run the same command again: it resumes from the .part file";
    f.status = e.status();
    let (kind, hint) = match e.kind() {
        K::Dispatch => (
            FailureKind::Network,
            format!(
                "the transfer from the file host {origin} failed (the API at {} had answered); {again}",
                s.base_url
            ),
        ),
        K::Timeout => (
            FailureKind::Network,
            format!("the file host {origin} did not answer in time; {again}"),
        ),
        K::SignedUrlRequired => (
            FailureKind::InvalidResponse,
            format!(
                "the file host {origin} requires a signed URL for this video: run without --no-sign to fetch it with a token \
                 (signed with CFSTREAM_SIGNING_KEY_ID/_PEM when set, else from the API's token endpoint)"
            ),
        ),
        K::InvalidResponse => match f.status {
            Some(401 | 403) => (
                FailureKind::InvalidResponse,
                format!(
                    "the file host {origin} refused the file (the API credentials are not sent there): \
                     the download's url may have expired or need a signed token; run the command again for a fresh url"
                ),
            ),
            Some(429) => (
                FailureKind::RateLimited,
                format!("the file host {origin} rate limited the transfer; {again} later"),
            ),
            _ => (
                FailureKind::InvalidResponse,
                format!("the file host {origin} did not send the file; {again} later"),
            ),
        },
        _ => return None,
    };
    f.hint = Some(hint);
    Some(kind)
}

fn auth_hint(failure: Option<&ApiFailure>, status: Option<u16>, s: &Setting) -> String {
    let missing = failure.is_some_and(|f| f.has_code(ErrorCode::MissingAuthHeaders));
    if missing || status == Some(401) {
        format!(
            "the server at {} saw no credentials; they were read from {}: check that they are set and exported",
            s.base_url, s.credential_vars
        )
    } else {
        format!(
            "the server at {} rejected the credentials read from {}: check that they are current and allowed to edit Stream on account {}",
            s.base_url, s.credential_vars, s.account
        )
    }
}

fn classify_http(f: &mut Failure, e: &cfstream_http::Error, s: &Setting) {
    use cfstream_http::ErrorKind as K;
    f.status = e.status();
    let api = e.api_failure();
    if let Some(api) = api {
        f.codes = api.errors.iter().map(|m| m.code).collect();
    }
    let has = |c: ErrorCode| api.is_some_and(|a| a.has_code(c));
    let kind = e.kind();
    f.kind = match kind {
        _ if has(ErrorCode::Authentication)
            || has(ErrorCode::MissingAuthHeaders)
            || matches!(f.status, Some(401 | 403)) =>
        {
            f.hint = Some(auth_hint(api, f.status, s));
            FailureKind::Auth
        }
        _ if has(ErrorCode::VideoNotFound) || f.status == Some(404) && kind == K::Api => {
            f.hint = Some(format!(
                "check the video id, and that it belongs to account {} (--account / CLOUDFLARE_ACCOUNT_ID)",
                s.account
            ));
            FailureKind::NotFound
        }
        _ if has(ErrorCode::VideoNotReady) => {
            f.hint = Some(
                "the video has not finished processing; run the command again once it is ready to stream"
                    .into(),
            );
            FailureKind::NotReady
        }
        _ if has(ErrorCode::RateLimited) || f.status == Some(429) => {
            f.hint = Some(
                "the rate limit was hit and retries ran out; lower --jobs or --rate-limit and run again"
                    .into(),
            );
            FailureKind::RateLimited
        }
        K::NotReady => {
            f.hint = Some(
                "not ready in time: run the same command again (work already done is kept) or pass a longer --timeout"
                    .into(),
            );
            FailureKind::Timeout
        }
        K::Timeout => {
            f.hint = Some(format!(
                "the server at {} did not answer in time; run the command again",
                s.base_url
            ));
            FailureKind::Network
        }
        K::NotFound => {
            f.hint = Some(
                "this download does not exist: create it with `cfstream downloads create` (or use `fetch`, which creates it)"
                    .into(),
            );
            FailureKind::NotFound
        }
        K::DestinationExists => {
            f.hint = Some("the file exists already: remove it, or choose another -o".into());
            FailureKind::Io
        }
        K::NotRegularFile => {
            f.hint = Some(
                "the destination or its .part is not a regular file (a link, a directory, a device): fetch never follows or replaces it; remove it, or choose another -o"
                    .into(),
            );
            FailureKind::Io
        }
        K::DownloadFailed => {
            f.hint = Some(
                "the server could not make this download: delete it and create it again".into(),
            );
            FailureKind::DownloadFailed
        }
        K::Api => FailureKind::Api,
        K::Dispatch => {
            f.hint = Some(format!(
                "could not reach {}: check --base-url / CLOUDFLARE_BASE_URL and the network",
                s.base_url
            ));
            FailureKind::Network
        }
        K::InvalidResponse => {
            f.hint = Some(format!(
                "the server at {} did not answer as the API does; `cfstream conformance` can tell what is wrong",
                s.base_url
            ));
            FailureKind::InvalidResponse
        }
        K::Io => FailureKind::Io,
        _ => FailureKind::Other,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_have_the_documented_shape() {
        let err = anyhow::anyhow!("disk full").context("video aa: fetch failed");
        let setting = Setting {
            account: "ab".into(),
            base_url: "http://x".into(),
            credential_vars: "CLOUDFLARE_API_TOKEN",
        };
        let f = Failure::from_error(&err, &setting);
        let mut out = vec![];
        f.write(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "error: video aa: fetch failed\n  caused by: disk full\n"
        );
        assert_eq!(f.to_json()["kind"], "other");
    }
}
