//! Progress bars on stderr (indicatif), fed through cfstream-http's [`Reporter`] trait: one
//! overall bar for the batch and one bar per video being worked on. Nothing is drawn when
//! stderr is not a terminal, with `--no-progress` or with `-q`.

use std::io::{self, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use cfstream_http::Reporter;
use cfstream_types::{DownloadStatus, DownloadType, Operation, PercentComplete, VideoId};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The bars being drawn, if any: log lines go through [`MultiProgress::suspend`] so that they
/// do not tear a bar.
static ACTIVE: OnceLock<MultiProgress> = OnceLock::new();

/// A `tracing-subscriber` writer for stderr that hides the bars while it writes.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct StderrWriter;

impl Write for StderrWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // tracing-subscriber writes each event whole: redact and escape it as one line.
        let line = crate::sanitize::log_line(&String::from_utf8_lossy(buf));
        match ACTIVE.get() {
            Some(m) => {
                m.suspend(|| io::stderr().lock().write_all(line.as_bytes())).map(|()| buf.len())
            }
            None => io::stderr().lock().write_all(line.as_bytes()).map(|()| buf.len()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for StderrWriter {
    type Writer = StderrWriter;
    fn make_writer(&'a self) -> Self::Writer {
        *self
    }
}

/// The bars of one batch.
#[derive(Debug, Clone)]
pub(crate) struct Progress {
    multi: Option<MultiProgress>,
    overall: Option<ProgressBar>,
    failed: Arc<AtomicUsize>,
}

fn style(template: &str) -> ProgressStyle {
    // The templates are constants of this file, checked by the tests below.
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

const OVERALL: &str = "{prefix:>6} [{bar:30}] {pos}/{len} videos ({elapsed}) {msg}";
const SPINNER: &str = "{spinner} {prefix} {msg}";
const WAITING: &str = "  {prefix} [{bar:30}] {pos:>3}% {msg}";
const BYTES: &str = "  {prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {msg}";
const BYTES_UNKNOWN: &str = "{spinner} {prefix} {bytes} {bytes_per_sec} {msg}";

impl Progress {
    /// Bars for `total` videos of `command`, drawn on stderr when `enabled` and stderr is a
    /// terminal.
    pub(crate) fn new(enabled: bool, command: &str, total: usize) -> Progress {
        use std::io::IsTerminal as _;
        if !enabled || !io::stderr().is_terminal() {
            return Progress { multi: None, overall: None, failed: Arc::default() };
        }
        Self::with_target(ProgressDrawTarget::stderr(), command, total)
    }

    /// Bars drawn on `target` (tests draw in memory).
    pub(crate) fn with_target(target: ProgressDrawTarget, command: &str, total: usize) -> Progress {
        let multi = MultiProgress::with_draw_target(target);
        let overall = multi.add(ProgressBar::new(total as u64));
        overall.set_style(style(OVERALL));
        overall.set_prefix(command.to_owned());
        overall.enable_steady_tick(Duration::from_millis(250));
        // Only the first batch of the process registers (there is one per process).
        let _ = ACTIVE.set(multi.clone());
        Progress { multi: Some(multi), overall: Some(overall), failed: Arc::default() }
    }

    /// A reporter (and bar) for one video; the bar goes away when the reporter is dropped.
    pub(crate) fn video(
        &self,
        video: &VideoId,
        download_type: Option<&DownloadType>,
    ) -> Arc<VideoBar> {
        let label = match download_type {
            Some(t) => format!("{video} {t}"),
            None => video.to_string(),
        };
        let bar = self.multi.as_ref().map(|m| {
            let bar = m.insert_from_back(1, ProgressBar::new_spinner());
            bar.set_style(style(SPINNER));
            bar.set_prefix(label);
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Arc::new(VideoBar { bar, multi: self.multi.clone() })
    }

    /// One more video is done.
    pub(crate) fn inc(&self, failed: bool) {
        if let Some(o) = &self.overall {
            o.inc(1);
            if failed {
                let n = self.failed.fetch_add(1, Ordering::Relaxed) + 1;
                o.set_message(format!("{n} failed"));
            }
        }
    }

    /// Runs `f` (which writes to stdout or stderr) with the bars hidden.
    pub(crate) fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.multi {
            Some(m) => m.suspend(f),
            None => f(),
        }
    }

    /// Removes every bar from the terminal.
    pub(crate) fn finish(&self) {
        if let Some(o) = &self.overall {
            o.finish_and_clear();
        }
        if let Some(m) = &self.multi {
            let _ = m.clear();
        }
    }
}

/// The bar of one video, and the [`Reporter`] that moves it.
#[derive(Debug)]
pub(crate) struct VideoBar {
    bar: Option<ProgressBar>,
    multi: Option<MultiProgress>,
}

impl VideoBar {
    /// Shows what the video's task is doing (`listing`, `creating`, ...).
    pub(crate) fn step(&self, what: &str) {
        if let Some(b) = &self.bar {
            b.set_message(what.to_owned());
        }
    }
}

impl Drop for VideoBar {
    fn drop(&mut self) {
        if let (Some(b), Some(m)) = (&self.bar, &self.multi) {
            b.finish_and_clear();
            m.remove(b);
        }
    }
}

impl Reporter for VideoBar {
    fn wait_progress(
        &self,
        _video: &VideoId,
        _t: &DownloadType,
        status: &DownloadStatus,
        percent: PercentComplete,
    ) {
        if let Some(b) = &self.bar {
            if b.length() != Some(100) {
                b.disable_steady_tick();
                b.set_style(style(WAITING));
                b.set_length(100);
            }
            // In 0..=100, so the cast is exact enough for a bar.
            b.set_position(percent.get().floor() as u64);
            b.set_message(crate::sanitize::text(&status.to_string()));
        }
    }

    fn fetch_started(&self, _video: Option<&VideoId>, total: Option<u64>, resumed_from: u64) {
        if let Some(b) = &self.bar {
            match total {
                Some(total) => {
                    b.disable_steady_tick();
                    b.set_style(style(BYTES));
                    b.set_length(total);
                }
                None => {
                    b.set_style(style(BYTES_UNKNOWN));
                    b.enable_steady_tick(Duration::from_millis(120));
                }
            }
            b.reset_eta();
            b.set_position(resumed_from);
            b.set_message(if resumed_from > 0 { "resumed" } else { "" });
        }
    }

    fn fetch_progress(&self, bytes_so_far: u64) {
        if let Some(b) = &self.bar {
            b.set_position(bytes_so_far);
        }
    }

    fn fetch_finished(&self, bytes: u64) {
        if let Some(b) = &self.bar {
            b.set_position(bytes);
        }
    }

    fn retrying(&self, op: Operation, attempt: u32, delay: Duration, reason: &str) {
        if let Some(b) = &self.bar {
            b.set_message(retry_message(op.name(), attempt, delay, reason));
        }
    }

    fn fetch_retrying(&self, attempt: u32, delay: Duration, reason: &str) {
        if let Some(b) = &self.bar {
            b.set_message(retry_message("the transfer", attempt, delay, reason));
        }
    }
}

/// A bar's message for a retry: `reason` may hold a server's words, so it is sanitized.
fn retry_message(what: &str, attempt: u32, delay: Duration, reason: &str) -> String {
    format!(
        "retrying {what} (attempt {attempt}) in {}: {}",
        humantime::format_duration(Duration::from_millis(delay.as_millis() as u64)),
        crate::sanitize::text(reason)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_valid() {
        for t in [OVERALL, SPINNER, WAITING, BYTES, BYTES_UNKNOWN] {
            assert!(ProgressStyle::with_template(t).is_ok(), "{t}");
        }
    }

    #[test]
    fn retry_messages_name_the_step_and_escape_the_servers_words() {
        assert_eq!(
            retry_message("list", 2, Duration::from_millis(1500), "http 503"),
            "retrying list (attempt 2) in 1s 500ms: http 503"
        );
        let m = retry_message("the transfer", 3, Duration::from_secs(2), "cut\u{1b}[2J\r");
        assert_eq!(m, "retrying the transfer (attempt 3) in 2s: cut\\u{1b}[2J\\r");
    }

    #[test]
    fn hidden_progress_is_a_no_op() {
        let p = Progress { multi: None, overall: None, failed: Arc::default() };
        let v = p.video(&"aa".parse().unwrap(), None);
        v.fetch_started(None, Some(10), 0);
        v.fetch_progress(5);
        v.fetch_retrying(2, Duration::from_secs(1), "cut");
        v.fetch_finished(10);
        p.inc(true);
        assert_eq!(p.suspend(|| 7), 7);
        p.finish();
    }
}
