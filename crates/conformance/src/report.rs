//! The result of a run ([`Report`], [`CheckResult`], [`Outcome`]) and its renderings: text,
//! JSON, JUnit XML and Markdown.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};
use serde::Serialize;

use crate::error::{Error, ErrorKind};
use crate::validate::{Violation, truncate};

/// How many violations the text and Markdown renderings show per check (JSON and JUnit keep
/// them all).
const SHOWN: usize = 10;

/// A rendering of a [`Report`]: what `--report FORMAT=PATH` and [`Report::render`] take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReportFormat {
    /// The human-readable text (`text`).
    Text,
    /// Pretty JSON (`json`).
    Json,
    /// JUnit XML (`junit`, or `xml`).
    Junit,
    /// A Markdown table (`md`, or `markdown`).
    Markdown,
}

impl FromStr for ReportFormat {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "text" | "txt" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            "junit" | "xml" => Ok(Self::Junit),
            "md" | "markdown" => Ok(Self::Markdown),
            other => Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "unknown report format '{}' (expected text, json, junit or md)",
                    truncate(other)
                ),
            )),
        }
    }
}

/// A report to write: `FORMAT=PATH` (for example `junit=report.xml`), as `--report` takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReportFile {
    /// The rendering.
    pub format: ReportFormat,
    /// Where to write it.
    pub path: PathBuf,
}

impl FromStr for ReportFile {
    type Err = Error;

    fn from_str(spec: &str) -> Result<Self, Error> {
        let invalid = |why: &str| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!("invalid report '{}': {why}", truncate(spec)),
            )
        };
        let (format, path) = spec
            .split_once('=')
            .ok_or_else(|| invalid("expected FORMAT=PATH (junit, json or md)"))?;
        if path.is_empty() {
            return Err(invalid("the path is empty"));
        }
        Ok(Self { format: format.parse()?, path: PathBuf::from(path) })
    }
}

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// Every assertion held (and at least one was made).
    Pass,
    /// At least one assertion broke; see [`CheckResult::violations`].
    Fail,
    /// The check could not be exercised; see [`CheckResult::reason`]. Never counts as a pass.
    Skip,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Fail => "FAIL",
            Outcome::Skip => "SKIP",
        }
    }
}

/// The result of one check.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct CheckResult {
    /// The check's stable name.
    pub name: String,
    /// What the check asserts.
    pub description: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Why it was skipped, or a summary of why it failed.
    pub reason: Option<String>,
    /// How long it took (for response checks: the time spent validating).
    #[serde(rename = "duration_ms", serialize_with = "millis")]
    pub duration: Duration,
    /// Every broken rule, in the order found.
    pub violations: Vec<Violation>,
}

impl CheckResult {
    /// A result (for reports built by hand, e.g. by a custom runner).
    pub fn new(
        name: impl Into<String>,
        description: impl Into<String>,
        outcome: Outcome,
        reason: Option<String>,
        duration: Duration,
        violations: Vec<Violation>,
    ) -> Self {
        Self {
            name: name.into(),
            description: description.into(),
            outcome,
            reason,
            duration,
            violations,
        }
    }
}

/// How many checks passed, failed and were skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[non_exhaustive]
pub struct Counts {
    /// Checks that passed.
    pub passed: usize,
    /// Checks that failed.
    pub failed: usize,
    /// Checks that were skipped.
    pub skipped: usize,
}

/// The result of a run: one [`CheckResult`] per selected check, in catalogue order.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Report {
    /// The base URL that was checked (without any user info).
    pub target: String,
    /// The results, in catalogue order.
    pub checks: Vec<CheckResult>,
    /// How many HTTP requests the run made.
    pub requests: usize,
    /// How long the whole run took.
    #[serde(rename = "duration_ms", serialize_with = "millis")]
    pub duration: Duration,
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn seconds(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64())
}

impl Report {
    /// A report over `checks`.
    pub fn new(
        target: impl Into<String>,
        checks: Vec<CheckResult>,
        requests: usize,
        duration: Duration,
    ) -> Self {
        Self { target: target.into(), checks, requests, duration }
    }

    /// Whether no check failed (skipped checks do not fail a run, nor do they pass it: they
    /// are listed as skipped).
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.outcome != Outcome::Fail)
    }

    /// How many checks passed, failed and were skipped.
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for r in &self.checks {
            match r.outcome {
                Outcome::Pass => c.passed += 1,
                Outcome::Fail => c.failed += 1,
                Outcome::Skip => c.skipped += 1,
            }
        }
        c
    }

    /// The result of the check named `name`, if it was run.
    pub fn check(&self, name: &str) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// The names of the failed checks.
    pub fn failed_names(&self) -> Vec<&str> {
        self.checks.iter().filter(|c| c.outcome == Outcome::Fail).map(|c| c.name.as_str()).collect()
    }

    /// Sets every duration to zero, so that a rendering is stable (for snapshots and diffs).
    pub fn zero_timings(&mut self) {
        self.duration = Duration::ZERO;
        for c in &mut self.checks {
            c.duration = Duration::ZERO;
        }
    }

    /// The report rendered as `format`.
    pub fn render(&self, format: ReportFormat) -> String {
        match format {
            ReportFormat::Text => self.render_text(),
            ReportFormat::Json => self.to_json(),
            ReportFormat::Junit => self.to_junit(),
            ReportFormat::Markdown => self.to_markdown(),
        }
    }

    /// The human-readable report (the default output).
    pub fn render_text(&self) -> String {
        let mut s = String::new();
        let width = self.checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
        s.push_str(&text_header(&self.target));
        for c in &self.checks {
            s.push_str(&text_check(c, width));
        }
        s.push_str(&self.render_text_summary());
        s
    }

    /// The end of the text report: a blank line, the requests and time, the counts.
    pub fn render_text_summary(&self) -> String {
        let n = self.counts();
        format!(
            "\n{} requests in {} s\nconformance: {} passed, {} failed, {} skipped\n",
            self.requests,
            seconds(self.duration),
            n.passed,
            n.failed,
            n.skipped
        )
    }

    /// The report as pretty JSON: target, passed, counts, duration, and every check with its
    /// violations.
    pub fn to_json(&self) -> String {
        #[derive(Serialize)]
        struct View<'a> {
            target: &'a str,
            passed: bool,
            counts: Counts,
            requests: usize,
            duration_ms: u64,
            checks: &'a [CheckResult],
        }
        let view = View {
            target: &self.target,
            passed: self.passed(),
            counts: self.counts(),
            requests: self.requests,
            duration_ms: u64::try_from(self.duration.as_millis()).unwrap_or(u64::MAX),
            checks: &self.checks,
        };
        // Serializing plain strings, numbers and enums into a String cannot fail.
        serde_json::to_string_pretty(&view).unwrap_or_default()
    }

    /// The report as JUnit XML: one `testsuite`, one `testcase` per check, `failure` with every
    /// violation, `skipped` with the reason.
    pub fn to_junit(&self) -> String {
        // Writing into a Vec cannot fail; a failure would only cut the output short.
        self.write_junit().unwrap_or_default()
    }

    fn write_junit(&self) -> std::io::Result<String> {
        let n = self.counts();
        let total = self.checks.len().to_string();
        let failures = n.failed.to_string();
        let skipped = n.skipped.to_string();
        let time = seconds(self.duration);
        // One suite: `testsuites` and `testsuite` carry the same totals.
        let totals = [
            ("name", "cfstream conformance"),
            ("tests", total.as_str()),
            ("failures", failures.as_str()),
            ("errors", "0"),
            ("skipped", skipped.as_str()),
            ("time", time.as_str()),
        ];
        let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        w.create_element("testsuites").with_attributes(totals).write_inner_content(|w| {
            w.create_element("testsuite").with_attributes(totals).write_inner_content(|w| {
                w.create_element("properties").write_inner_content(|w| {
                    w.create_element("property")
                        .with_attributes([("name", "target"), ("value", self.target.as_str())])
                        .write_empty()?;
                    Ok(())
                })?;
                for c in &self.checks {
                    self.junit_case(w, c)?;
                }
                Ok(())
            })?;
            Ok(())
        })?;
        let mut out = String::from_utf8_lossy(&w.into_inner()).into_owned();
        out.push('\n');
        Ok(out)
    }

    fn junit_case(&self, w: &mut Writer<Vec<u8>>, c: &CheckResult) -> std::io::Result<()> {
        let time = seconds(c.duration);
        let case = w.create_element("testcase").with_attributes([
            ("name", c.name.as_str()),
            ("classname", "cfstream.conformance"),
            ("time", time.as_str()),
        ]);
        match c.outcome {
            Outcome::Pass => {
                case.write_empty()?;
            }
            Outcome::Skip => {
                let reason = c.reason.as_deref().unwrap_or("skipped");
                case.write_inner_content(|w| {
                    w.create_element("skipped")
                        .with_attribute(("message", reason))
                        .write_empty()?;
                    Ok(())
                })?;
            }
            Outcome::Fail => {
                let message = c
                    .reason
                    .clone()
                    .unwrap_or_else(|| format!("{} violation(s)", c.violations.len()));
                let body: String =
                    c.violations.iter().map(|v| format!("{}\n", one_line(v))).collect();
                case.write_inner_content(|w| {
                    w.create_element("failure")
                        .with_attributes([("message", message.as_str()), ("type", c.name.as_str())])
                        .write_text_content(BytesText::new(&body))?;
                    Ok(())
                })?;
            }
        }
        Ok(())
    }

    /// The report as a Markdown table (for PR comments and job summaries), then the failures.
    pub fn to_markdown(&self) -> String {
        let n = self.counts();
        let mut s = String::new();
        let _ = writeln!(s, "## cfstream conformance: `{}`\n", md_code(&self.target));
        let verdict = if self.passed() { "passed" } else { "failed" };
        let _ = writeln!(
            s,
            "**{verdict}**: {} passed, {} failed, {} skipped ({} requests, {} s)\n",
            n.passed,
            n.failed,
            n.skipped,
            self.requests,
            seconds(self.duration)
        );
        s.push_str("| check | outcome | time (ms) | detail |\n| --- | --- | ---: | --- |\n");
        for c in &self.checks {
            let detail = match c.outcome {
                Outcome::Pass => String::new(),
                Outcome::Skip => md_cell(c.reason.as_deref().unwrap_or("")),
                Outcome::Fail => format!("{} violation(s)", c.violations.len()),
            };
            let _ = writeln!(
                s,
                "| `{}` | {} | {} | {detail} |",
                c.name,
                c.outcome.label(),
                c.duration.as_millis()
            );
        }
        for c in self.checks.iter().filter(|c| c.outcome == Outcome::Fail) {
            let _ = writeln!(s, "\n### `{}`\n", c.name);
            if let Some(r) = &c.reason {
                let _ = writeln!(s, "{}\n", md_cell(r));
            }
            s.push_str("| operation | pointer | rule | value |\n| --- | --- | --- | --- |\n");
            for v in c.violations.iter().take(SHOWN) {
                let _ = writeln!(
                    s,
                    "| {} | `{}` | {} | `{}` |",
                    v.operation.map_or("", |o| o.name()),
                    md_code(&v.pointer),
                    md_cell(&v.rule),
                    md_code(&v.value)
                );
            }
            if c.violations.len() > SHOWN {
                let _ = writeln!(s, "\n... and {} more", c.violations.len() - SHOWN);
            }
        }
        s
    }
}

/// The first line of the text report.
pub(crate) fn text_header(target: &str) -> String {
    format!("cfstream conformance against {target}\n")
}

/// One check's lines of the text report, its name padded to `width`.
pub(crate) fn text_check(c: &CheckResult, width: usize) -> String {
    let mut s = String::new();
    let ms = c.duration.as_millis();
    let _ = write!(s, "{}  {:width$}  {ms:>6} ms", c.outcome.label(), c.name);
    if let Some(r) = &c.reason {
        let _ = write!(s, "  {r}");
    }
    s.push('\n');
    for v in c.violations.iter().take(SHOWN) {
        let _ = writeln!(s, "      {}", one_line(v));
    }
    if c.violations.len() > SHOWN {
        let _ = writeln!(s, "      ... and {} more", c.violations.len() - SHOWN);
    }
    s
}

fn one_line(v: &Violation) -> String {
    v.to_string().replace(['\n', '\r'], " ")
}

/// Text safe inside a Markdown table cell (no raw HTML, no cell breaks).
fn md_cell(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

/// Text safe inside a Markdown code span within a table cell.
fn md_code(s: &str) -> String {
    s.replace('`', "'").replace('|', "\\|").replace(['\n', '\r'], " ")
}
