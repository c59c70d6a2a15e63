//! The runner: what to check ([`Target`]), how ([`RunOptions`]), and [`run`], which drives
//! every selected check against the target and returns a [`Report`]. The checks themselves
//! live in [`crate::scenarios`]; the HTTP side in [`crate::transport`].

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cfstream_types::{AccountId, Credentials, Url, VideoId};

use crate::catalogue::{self as c, Check};
use crate::error::{Error, ErrorKind};
use crate::report::{CheckResult, Report};
use crate::scenarios;
use crate::validate::truncate;

/// What to check: a server claiming to be the Stream downloads API.
#[derive(Debug, Clone)]
pub struct Target {
    /// The API base URL, e.g. `https://api.cloudflare.com/client/v4`.
    pub base_url: Url,
    /// Credentials; without them the checks that need them are skipped.
    pub credentials: Option<Credentials>,
    /// The account; without it the checks that need one are skipped.
    pub account: Option<AccountId>,
    /// Videos that are ready to stream; the first one is used by the scenarios. Without one,
    /// the checks that need a video are skipped.
    pub videos: Vec<VideoId>,
    /// Whether this is the real Cloudflare API (destructive checks then need `allow_writes`).
    pub live: bool,
    /// Whether destructive checks (create, delete) may run on a live account.
    pub allow_writes: bool,
}

impl Target {
    /// A target at `base_url` with nothing else known.
    pub fn new(base_url: Url) -> Self {
        Self {
            base_url,
            credentials: None,
            account: None,
            videos: vec![],
            live: false,
            allow_writes: false,
        }
    }

    pub(crate) fn writes_allowed(&self) -> bool {
        !self.live || self.allow_writes
    }
}

/// Receives each check's result as soon as it is known (for progress bars and live output).
pub trait Reporter: Send + Sync {
    /// Called once per check, in the order checks finish.
    fn check_finished(&self, result: &CheckResult);

    /// Called at each poll while downloads are waited for (nothing by default).
    fn wait_progress(&self, _progress: &WaitProgress) {}
}

/// Where a wait for downloads stands: the video, each download not yet final with its
/// progress, and the time waited of the deadline.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct WaitProgress {
    /// The video whose downloads are waited for.
    pub video: String,
    /// Each download not yet final: its type and `percentComplete`, if given.
    pub downloads: Vec<(String, Option<f64>)>,
    /// How long the wait has lasted.
    pub waited: Duration,
    /// How long it may last.
    pub deadline: Duration,
}

impl fmt::Display for WaitProgress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "waiting for {}:", self.video)?;
        for (t, percent) in &self.downloads {
            match percent {
                Some(p) => write!(f, " {t} {p}%")?,
                None => write!(f, " {t} ?%")?,
            }
        }
        write!(f, " ({:.1} s of {} s)", self.waited.as_secs_f64(), self.deadline.as_secs_f64())
    }
}

/// How to run: which checks, and the time limits.
#[derive(Clone)]
#[non_exhaustive]
pub struct RunOptions {
    /// Run only these checks (by name); empty means all.
    pub only: Vec<String>,
    /// Do not run these checks (by name).
    pub skip: Vec<String>,
    /// Videos of the target's account that require signed URLs, each ready to stream: the
    /// signed-URL checks run on each. Without one, they are skipped.
    pub signed_videos: Vec<VideoId>,
    /// How long a download may take to end `ready` or `error` (the progress scenarios).
    pub deadline: Duration,
    /// How long to wait between two polls of the list operation.
    pub poll_interval: Duration,
    /// How long one API request may take.
    pub request_timeout: Duration,
    /// How long a download's body may go without a byte before its read ends: a body that
    /// stops short of its `Content-Length` on a connection kept open is a violation, judged
    /// at once rather than at the request's timeout.
    pub stall_timeout: Duration,
    /// The run's budget for waiting out 429s (each wait is at most 60 s): past it, the checks
    /// still to run are skipped as "rate limited".
    pub max_wait: Duration,
    /// Told about each result as it is known.
    pub reporter: Option<Arc<dyn Reporter>>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            only: vec![],
            skip: vec![],
            signed_videos: vec![],
            deadline: Duration::from_secs(120),
            poll_interval: Duration::from_secs(1),
            request_timeout: Duration::from_secs(30),
            stall_timeout: Duration::from_secs(5),
            max_wait: Duration::from_secs(300),
            reporter: None,
        }
    }
}

impl RunOptions {
    /// Options for a server on this machine (the emulator, a local mock): the default checks,
    /// a 30 s deadline, 25 ms polling and a 2 s stall timeout, so a run takes about as long
    /// as the server's downloads take to turn ready.
    pub fn local() -> Self {
        Self {
            deadline: Duration::from_secs(30),
            poll_interval: Duration::from_millis(25),
            stall_timeout: Duration::from_secs(2),
            ..Self::default()
        }
    }
}

impl fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunOptions")
            .field("only", &self.only)
            .field("skip", &self.skip)
            .field("signed_videos", &self.signed_videos)
            .field("deadline", &self.deadline)
            .field("poll_interval", &self.poll_interval)
            .field("request_timeout", &self.request_timeout)
            .field("stall_timeout", &self.stall_timeout)
            .field("max_wait", &self.max_wait)
            .field("reporter", &self.reporter.as_ref().map(|_| "..."))
            .finish()
    }
}

/// Runs every selected check against `target` and reports each one's outcome.
///
/// Fails only when the run cannot happen at all: an unknown check name, or a target that
/// cannot be reached. A target that answers wrongly gives an `Ok` report with failures.
pub async fn run(target: &Target, options: &RunOptions) -> Result<Report, Error> {
    let selected = select(options)?;
    let started = Instant::now();
    let (checks, requests, redactor) = scenarios::run(target, options, &selected).await?;
    let target_url = redact_url(&target.base_url);
    let mut report = Report::new(target_url, checks, requests, started.elapsed());
    // Answers were redacted as they were read; this catches what came another way (an
    // error's text, a value cut before it could be matched whole).
    redactor.report(&mut report);
    Ok(report)
}

/// The base URL without any user info, for reports and errors.
pub(crate) fn redact_url(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string().trim_end_matches('/').to_owned()
}

fn select(options: &RunOptions) -> Result<Vec<Check>, Error> {
    for name in options.only.iter().chain(&options.skip) {
        if c::find(name).is_none() {
            return Err(Error::new(
                ErrorKind::UnknownCheck,
                format!("unknown check '{}' (see --list for the names)", truncate(name)),
            ));
        }
    }
    Ok(Check::ALL
        .iter()
        .copied()
        .filter(|c| options.only.is_empty() || options.only.iter().any(|n| n == c.name()))
        .filter(|c| !options.skip.iter().any(|n| n == c.name()))
        .collect())
}
