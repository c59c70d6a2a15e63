//! The streamed text report ([`TextStream`]): each check's lines written as soon as the check
//! is decided, and, on a terminal, one progress line while downloads are waited for.

use std::io::Write;
use std::sync::Mutex;

use crate::catalogue::CATALOGUE;
use crate::redact::Redactor;
use crate::report::{CheckResult, Report, text_check, text_header};
use crate::runner::{Reporter, Target, WaitProgress, redact_url};

type Sink = Mutex<Box<dyn Write + Send>>;

/// A [`Reporter`] that writes the text report as the run goes: the header at once, each
/// check's lines when it is decided (in the order checks are decided), and
/// [`TextStream::finish`] the summary. Write errors (a closed pipe) are ignored.
pub struct TextStream {
    out: Sink,
    progress: Option<Sink>,
    width: usize,
    redactor: Redactor,
}

impl std::fmt::Debug for TextStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextStream").field("progress", &self.progress.is_some()).finish()
    }
}

fn lock(sink: &Sink) -> std::sync::MutexGuard<'_, Box<dyn Write + Send>> {
    sink.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl TextStream {
    /// Streams the report of a run against `target` into `out`, starting with its header.
    pub fn new(target: &Target, out: impl Write + Send + 'static) -> Self {
        let width = CATALOGUE.iter().map(|c| c.name.len()).max().unwrap_or(0);
        let stream = Self {
            out: Mutex::new(Box::new(out)),
            progress: None,
            width,
            redactor: Redactor::new(target.credentials.as_ref()),
        };
        stream.write(&text_header(&redact_url(&target.base_url)));
        stream
    }

    /// Also draws one progress line, rewritten in place, into `terminal` (stderr when it is a
    /// terminal) while downloads are waited for.
    #[must_use]
    pub fn with_progress(mut self, terminal: impl Write + Send + 'static) -> Self {
        self.progress = Some(Mutex::new(Box::new(terminal)));
        self
    }

    /// Writes the end of the report (requests, time, counts).
    pub fn finish(&self, report: &Report) {
        self.clear_progress();
        self.write(&report.render_text_summary());
    }

    fn write(&self, text: &str) {
        let mut out = lock(&self.out);
        let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    }

    fn clear_progress(&self) {
        if let Some(p) = &self.progress {
            let mut p = lock(p);
            let _ = p.write_all(b"\r\x1b[2K").and_then(|()| p.flush());
        }
    }
}

impl Reporter for TextStream {
    fn check_finished(&self, result: &CheckResult) {
        self.clear_progress();
        // The run's report is redacted once it is whole; a streamed line is redacted now.
        self.write(&self.redactor.text(&text_check(result, self.width)));
    }

    fn wait_progress(&self, progress: &WaitProgress) {
        if let Some(p) = &self.progress {
            let line = self.redactor.text(&progress.to_string()).into_owned();
            let mut p = lock(p);
            let _ = write!(p, "\r\x1b[2K{line}").and_then(|()| p.flush());
        }
    }
}
