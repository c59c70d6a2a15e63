//! What `cfstream downloads ...` prints on stdout: a human table (default) or JSON Lines
//! (`--json`).
//!
//! # JSON Lines (`--json`)
//!
//! One JSON object per line on stdout, written as soon as it is known (results arrive in
//! completion order, not input order: match them by `video`). Every object has an `event`
//! field first. Fields are only ever added, never renamed or removed; a reader must ignore
//! fields it does not know. Progress, logs and errors of the command itself stay on stderr.
//! Every string has the run's credentials (token, key, email) replaced by `[redacted]`, should
//! a server echo them; control characters are JSON-escaped (DEL and C1 too, as `\u00XX`).
//!
//! ## `"event": "result"`: one per video
//!
//! | field | type | when | meaning |
//! | --- | --- | --- | --- |
//! | `command` | string | always | `list`, `create`, `delete`, `wait` or `fetch` |
//! | `video` | string | always | the video id |
//! | `ok` | bool | always | whether the command succeeded for this video |
//! | `type` | string | all but `list` | the download type (`default`, `audio`) |
//! | `downloads` | object | `list`, ok | the API's `result`: download type -> download |
//! | `download` | object | `create`, `wait`, `fetch`, ok | `{status, percentComplete, url?}` as the API sends it (absent for a fetch that found the file already there) |
//! | `deleted` | bool | `delete`, ok | always `true` |
//! | `path` | string | `fetch`, ok | the file written |
//! | `bytes` | number | `fetch`, ok | its size in bytes |
//! | `resumed_from` | number | `fetch`, ok | bytes already on disk from an interrupted run (0 if none) |
//! | `existing` | bool | `fetch`, ok | the file was already there, so nothing was fetched (see `--overwrite`) |
//! | `error` | object | not ok | see below |
//!
//! `error` is `{kind, message, causes, hint?, status?, codes?}`: `kind` is one of
//! `auth`, `not_found`, `not_ready` (the video cannot be downloaded yet), `timeout` (not
//! ready in time), `download_failed` (the download's status is `error`), `rate_limited`,
//! `api` (another failure envelope), `network`, `invalid_response`, `io`, `other`; `message` is the top-level message and `causes` the chain below it; `hint`
//! says what to do; `status` is the HTTP status and `codes` the envelope's error codes,
//! when the server answered.
//!
//! ## `"event": "invalid_input"`: one per input that is not a video id
//!
//! `{"event":"invalid_input","source":"stdin","line":3,"input":"zz","error":"invalid video id 'zz': ..."}`
//! where `source` is `argument`, `stdin` or the `--from` file's path, and `line` the
//! argument position or line number (from 1). The other ids still run.
//!
//! ## `downloads url`: `"event": "url"`, one per video, in input order
//!
//! | field | type | when | meaning |
//! | --- | --- | --- | --- |
//! | `video` | string | always | the video id |
//! | `ok` | bool | always | whether a URL was made for this video |
//! | `type` | string | always | the download type |
//! | `url` | string | ok | the download's URL (with `?filename=` if asked); with `--signed`, a token in place of the video id: a bearer credential, printed because it was asked for |
//! | `signed` | bool | ok | whether `url` carries a token |
//! | `error` | object | not ok | as for `result` |
//!
//! `downloads url` prints no `summary` line.
//!
//! ## `signing-keys`: `"event": "signing_key"` and `"event": "deleted"`
//!
//! `create`: `{"event":"signing_key","id":ID,"created":TIME,"pem":BASE64_PEM}` (the private key,
//! shown once, on request); `list`: one `{"event":"signing_key","id":ID,"created":TIME}` per key;
//! `delete`: `{"event":"deleted","id":ID,"ok":true}`. A failure is
//! `{"event":"error","ok":false,"error":{...}}`.
//!
//! ## `"event": "summary"`: the last line
//!
//! `{"event":"summary","command":"fetch","succeeded":199,"failed":1,"invalid_input":0,"interrupted":false}`
//!
//! ## Example
//!
//! ```text
//! {"event":"result","command":"create","video":"ea95132c15732412d22c1476fa83f27a","ok":true,"type":"default","download":{"status":"inprogress","percentComplete":0}}
//! {"event":"result","command":"create","video":"0000000000000000000000000000dead","ok":false,"type":"default","error":{"kind":"not_found","message":"video 0000000000000000000000000000dead: create default download failed","causes":["..."],"hint":"check the video id and --account","status":404,"codes":[10404]}}
//! {"event":"summary","command":"create","succeeded":1,"failed":1,"invalid_input":0,"interrupted":false}
//! ```

use std::io::{self, Write};
use std::path::PathBuf;

use cfstream_types::{Download, DownloadType, Downloads, VideoId};
use serde_json::{Map, Value, json};

use crate::errors::Failure;
use crate::input::BadInput;
use crate::sanitize;

/// What a command did for one video.
#[derive(Debug)]
pub(crate) enum Outcome {
    Listed(Box<Downloads>),
    Created(DownloadType, Download),
    Deleted(DownloadType),
    Ready(DownloadType, Download),
    Fetched {
        download_type: DownloadType,
        /// `None` when the file existed already and nothing was asked of the server.
        download: Option<Download>,
        path: PathBuf,
        bytes: u64,
        resumed_from: u64,
        existing: bool,
    },
}

/// The result for one video.
#[derive(Debug)]
pub(crate) struct VideoResult {
    pub(crate) video: VideoId,
    /// The type the command was about (`None` for list).
    pub(crate) download_type: Option<DownloadType>,
    pub(crate) outcome: Result<Outcome, Failure>,
}

impl VideoResult {
    /// The JSON Lines object.
    pub(crate) fn to_json(&self, command: &str) -> Value {
        let mut m = Map::new();
        m.insert("event".into(), "result".into());
        m.insert("command".into(), command.into());
        m.insert("video".into(), self.video.as_str().into());
        m.insert("ok".into(), self.outcome.is_ok().into());
        if let Some(t) = &self.download_type {
            m.insert("type".into(), t.as_str().into());
        }
        match &self.outcome {
            Ok(Outcome::Listed(d)) => {
                m.insert("downloads".into(), to_value(d));
            }
            Ok(Outcome::Created(_, d) | Outcome::Ready(_, d)) => {
                m.insert("download".into(), to_value(d));
            }
            Ok(Outcome::Deleted(_)) => {
                m.insert("deleted".into(), true.into());
            }
            Ok(Outcome::Fetched { download, path, bytes, resumed_from, existing, .. }) => {
                if let Some(d) = download {
                    m.insert("download".into(), to_value(d));
                }
                m.insert("path".into(), path.display().to_string().into());
                m.insert("bytes".into(), (*bytes).into());
                m.insert("resumed_from".into(), (*resumed_from).into());
                m.insert("existing".into(), (*existing).into());
            }
            Err(f) => {
                m.insert("error".into(), f.to_json());
            }
        }
        Value::Object(m)
    }

    /// The table rows for this video (list may give one per download type), for a table of
    /// `columns` columns.
    fn rows(&self, columns: usize) -> Vec<Vec<String>> {
        let video = self.video.to_string();
        let t = |t: &DownloadType| t.as_str().to_owned();
        let dash = || "-".to_owned();
        match &self.outcome {
            Ok(Outcome::Listed(d)) if d.is_empty() => {
                vec![vec![video, dash(), "none".into(), dash(), dash()]]
            }
            Ok(Outcome::Listed(d)) => {
                d.iter().map(|(ty, dl)| download_row(&video, &t(&ty), dl)).collect()
            }
            Ok(Outcome::Created(ty, dl) | Outcome::Ready(ty, dl)) => {
                vec![download_row(&video, &t(ty), dl)]
            }
            Ok(Outcome::Deleted(ty)) => vec![vec![video, t(ty), "deleted".into()]],
            Ok(Outcome::Fetched { download_type, path, bytes, resumed_from, existing, .. }) => {
                let note = if *existing {
                    " (existed already)".to_owned()
                } else if *resumed_from > 0 {
                    format!(" (resumed from byte {resumed_from})")
                } else {
                    String::new()
                };
                let file = format!("{}{note}", path.display());
                vec![vec![video, t(download_type), bytes.to_string(), file]]
            }
            Err(f) => {
                // `failed` under STATUS/RESULT/BYTES, the reason in the last column.
                let ty = self.download_type.as_ref().map_or_else(dash, t);
                let reason = f.kind.describe().to_owned();
                let mut row = vec![video, ty];
                if columns <= 3 {
                    row.push(format!("failed: {reason}"));
                } else {
                    row.push("failed".into());
                    row.resize(columns - 1, dash());
                    row.push(reason);
                }
                vec![row]
            }
        }
    }
}

fn download_row(video: &str, t: &str, d: &Download) -> Vec<String> {
    let url = d.url.as_ref().map_or_else(|| "-".to_owned(), ToString::to_string);
    vec![video.to_owned(), t.to_owned(), d.status.to_string(), d.percent_complete.to_string(), url]
}

fn to_value(v: &impl serde::Serialize) -> Value {
    // Serializing our own model types into a Value cannot fail (string keys, finite numbers).
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// The JSON Lines object of a rejected input.
pub(crate) fn invalid_input_json(bad: &BadInput) -> Value {
    json!({
        "event": "invalid_input",
        "source": bad.origin.source(),
        "line": bad.origin.line(),
        "input": bad.error.value(),
        "error": bad.error.to_string(),
    })
}

/// The counts that end a batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Summary {
    pub(crate) succeeded: usize,
    pub(crate) failed: usize,
    pub(crate) invalid_input: usize,
    pub(crate) interrupted: bool,
}

impl Summary {
    pub(crate) fn to_json(self, command: &str) -> Value {
        json!({
            "event": "summary",
            "command": command,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "invalid_input": self.invalid_input,
            "interrupted": self.interrupted,
        })
    }
}

/// The header of the table of `command`.
fn header(command: &str) -> Vec<&'static str> {
    match command {
        "delete" => vec!["VIDEO", "TYPE", "RESULT"],
        "fetch" => vec!["VIDEO", "TYPE", "BYTES", "FILE"],
        _ => vec!["VIDEO", "TYPE", "STATUS", "PROGRESS", "URL"],
    }
}

/// Renders the human table of `results` (in the given order). Columns are padded to their
/// widest cell; the last column is not padded. Failed rows show `failed` and the message.
pub(crate) fn render_table(command: &str, results: &[VideoResult]) -> String {
    let header = header(command);
    let columns = header.len();
    let mut rows: Vec<Vec<String>> = vec![header.into_iter().map(str::to_owned).collect()];
    for r in results {
        // Cells may hold a server's text (an unknown status or type): print them safe.
        rows.extend(
            r.rows(columns).into_iter().map(|row| row.iter().map(|c| sanitize::text(c)).collect()),
        );
    }
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; cols];
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Writes one JSON value and a newline on a locked stdout, flushing so that a consumer sees
/// each line as it happens.
pub(crate) fn write_json_line(value: &Value) -> io::Result<()> {
    // Credentials a server echoed are redacted from every string; serialization of a Value
    // cannot fail (string keys, finite numbers).
    let line = serde_json::to_string(&sanitize::json(value)).map_err(io::Error::other)?;
    let mut out = io::stdout().lock();
    out.write_all(sanitize::json_line(&line).as_bytes())?;
    out.write_all(b"\n")?;
    out.flush()
}

/// Writes `text` on a locked stdout.
pub(crate) fn write_stdout(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cfstream_types::{DownloadStatus, PercentComplete};

    fn video(s: &str) -> VideoId {
        s.parse().unwrap()
    }

    #[test]
    fn table_pads_columns_and_lists_every_type() {
        let mut d = Downloads::default();
        d.set(
            &DownloadType::Default,
            Some(Download::new(DownloadStatus::InProgress, PercentComplete::new(40.0).unwrap())),
        );
        d.set(
            &DownloadType::Audio,
            Some(Download::new(DownloadStatus::Ready, PercentComplete::FULL)),
        );
        let results = vec![
            VideoResult {
                video: video("aa"),
                download_type: None,
                outcome: Ok(Outcome::Listed(Box::new(d))),
            },
            VideoResult {
                video: video("bb"),
                download_type: None,
                outcome: Ok(Outcome::Listed(Box::default())),
            },
        ];
        let table = render_table("list", &results);
        assert_eq!(
            table,
            "VIDEO  TYPE     STATUS      PROGRESS  URL\n\
             aa     default  inprogress  40%       -\n\
             aa     audio    ready       100%      -\n\
             bb     -        none        -         -\n"
        );
    }

    #[test]
    fn json_result_has_stable_fields() {
        let r = VideoResult {
            video: video("aa"),
            download_type: Some(DownloadType::Audio),
            outcome: Ok(Outcome::Deleted(DownloadType::Audio)),
        };
        assert_eq!(
            serde_json::to_string(&r.to_json("delete")).unwrap(),
            r#"{"event":"result","command":"delete","video":"aa","ok":true,"type":"audio","deleted":true}"#
        );
    }
}
