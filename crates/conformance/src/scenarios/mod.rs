//! The checks of a run, by concern: [`refusals`] (requests that must be refused),
//! [`lifecycle`] (create, progress, delete), [`files`] (the download URLs), and
//! [`responses`] (every answer of the five operations, judged on its own). [`Ctx`] is what
//! they share: the target, the transport, the validator and the results so far.

mod files;
mod lifecycle;
mod refusals;
mod responses;
mod signed;

pub(crate) use responses::ResponseLog;

use std::collections::BTreeMap;

use cfstream_types::{AccountId, Endpoint, Operation, VideoId};
use reqwest::Method;
use serde_json::Value;

use crate::catalogue::{Check, CheckKind};
use crate::error::{Error, ErrorKind};
use crate::record::{Rec, Results};
use crate::redact::Redactor;
use crate::report::CheckResult;
use crate::runner::{RunOptions, Target, redact_url};
use crate::transport::{Auth, Http, Resp, error_chain};
use crate::validate::{Validator, is_json_media_type, truncate};

/// Used in paths when the target names no account: checks that need a real one are skipped.
const PLACEHOLDER_ACCOUNT: &str = "023e105f4ecef8ad9ca31a8372d0c353";
/// Why a check is skipped once the run's 429 wait budget ran out.
const RATE_LIMITED: &str = "rate limited";
/// Used in paths when the target names no video.
const PLACEHOLDER_VIDEO: &str = "ea95132c15732412d22c1476fa83f27a";

/// Runs the `selected` checks against `target`: the results in catalogue order, how many
/// requests were made, and the redactor of the target's credentials.
pub(crate) async fn run(
    target: &Target,
    options: &RunOptions,
    selected: &[Check],
) -> Result<(Vec<CheckResult>, usize, Redactor), Error> {
    let mut ctx = Ctx {
        target,
        options,
        http: Http::new(target, options)?,
        validator: Validator::new()?,
        results: Results::new(selected, options.reporter.clone()),
        responses: ResponseLog::default(),
        history: vec![],
    };
    ctx.baseline().await?;
    ctx.skip_unmet(selected);
    ctx.skip_rate_limited();
    ctx.refusal_checks().await;
    ctx.video_flow().await;
    ctx.signed_flow().await;
    ctx.response_checks();
    let requests = ctx.http.requests;
    Ok((ctx.results.into_ordered(selected), requests, ctx.http.redactor))
}

/// One download as read (loosely, from JSON) from a list answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Seen {
    pub(crate) status: String,
    pub(crate) percent: Option<f64>,
    pub(crate) url: Option<String>,
}

/// The downloads of a list answer, by type.
pub(crate) type Snapshot = BTreeMap<String, Seen>;

fn downloads_of(body: &Value) -> Option<Snapshot> {
    let result = body.get("result")?.as_object()?;
    Some(
        result
            .iter()
            .filter_map(|(k, v)| {
                let o = v.as_object()?;
                Some((
                    k.clone(),
                    Seen {
                        status: o.get("status")?.as_str()?.to_owned(),
                        percent: o.get("percentComplete").and_then(Value::as_f64),
                        url: o.get("url").and_then(Value::as_str).map(str::to_owned),
                    },
                ))
            })
            .collect(),
    )
}

pub(crate) fn terminal(status: &str) -> bool {
    status == "ready" || status == "error"
}

/// What the checks of one run share.
pub(crate) struct Ctx<'a> {
    pub(crate) target: &'a Target,
    pub(crate) options: &'a RunOptions,
    pub(crate) http: Http,
    pub(crate) validator: Validator,
    pub(crate) results: Results,
    /// The response checks' verdicts so far.
    pub(crate) responses: ResponseLog,
    /// Every successful list of the scenario video, in order: progress is judged over all of
    /// them, not only the polls.
    pub(crate) history: Vec<Snapshot>,
}

impl Ctx<'_> {
    fn account(&self) -> String {
        self.target.account.as_ref().map_or(PLACEHOLDER_ACCOUNT, AccountId::as_str).to_owned()
    }

    fn video(&self) -> String {
        self.target.videos.first().map_or(PLACEHOLDER_VIDEO, VideoId::as_str).to_owned()
    }

    /// The downloads path of `video`, from raw strings (probes send ids no type would
    /// accept), rendered by the types' one path renderer.
    fn downloads_path(&self, account: &str, video: &str) -> String {
        Operation::List.render(account, video, None)
    }

    fn wants(&self, check: Check) -> bool {
        self.results.wants(check)
    }

    fn wants_any(&self, checks: &[Check]) -> bool {
        self.results.wants_any(checks)
    }

    /// Ends `rec`; once the 429 wait budget ran out, it and every scenario still to run are
    /// skipped as rate limited instead (their answers were 429s, not the server's verdict).
    fn finish(&mut self, mut rec: Rec) {
        // A signed URL token the run was given is a credential: out of what is streamed.
        self.http.redactor.rec(&mut rec);
        if self.http.rate_limited() {
            self.results.skip(rec.check, RATE_LIMITED);
            self.skip_rate_limited();
        } else {
            self.results.finish(rec);
        }
    }

    /// Skips every scenario still to run, if the 429 wait budget ran out.
    fn skip_rate_limited(&mut self) {
        if !self.http.rate_limited() {
            return;
        }
        for &check in Check::ALL {
            if check.info().kind == CheckKind::Scenario {
                self.results.skip(check, RATE_LIMITED);
            }
        }
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        op: Option<Operation>,
        auth: Auth,
    ) -> Result<Resp, reqwest::Error> {
        self.send_json(method, path, op, auth, None).await
    }

    /// [`Ctx::send`] with a JSON body.
    async fn send_json(
        &mut self,
        method: Method,
        path: &str,
        op: Option<Operation>,
        auth: Auth,
        json: Option<&Value>,
    ) -> Result<Resp, reqwest::Error> {
        let r = self.http.send_json(method, path, op, auth, json).await;
        // Judge what was seen (every attempt, 429s too) now, so no body is kept for later.
        for x in self.http.exchanges.drain(..) {
            self.responses.observe(&self.validator, &x);
        }
        r
    }

    /// The first request: proves the target answers at all (else the run is an error), and
    /// lists each given video so the response checks always have answers to judge.
    async fn baseline(&mut self) -> Result<(), Error> {
        let auth = if self.target.credentials.is_some() { Auth::Given } else { Auth::Missing };
        let account = self.account();
        let mut videos: Vec<String> =
            self.target.videos.iter().map(|v| v.as_str().to_owned()).collect();
        if videos.is_empty() {
            videos.push(PLACEHOLDER_VIDEO.to_owned());
        }
        for (i, video) in videos.iter().enumerate() {
            let path = self.downloads_path(&account, video);
            match self.send(Method::GET, &path, Some(Operation::List), auth).await {
                Ok(_) => {}
                Err(e) if i == 0 => {
                    return Err(Error::with_source(
                        ErrorKind::Unreachable,
                        format!("cannot reach the target '{}'", redact_url(&self.target.base_url)),
                        e,
                    ));
                }
                Err(e) => tracing::warn!(error = %error_chain(&e), "listing a video failed"),
            }
        }
        Ok(())
    }

    /// Skips, with the reason, every selected check whose needs the target does not meet.
    fn skip_unmet(&mut self, selected: &[Check]) {
        for &check in selected {
            let info = check.info();
            let reason = if info.needs_credentials && self.target.credentials.is_none() {
                Some(
                    "no credentials given (CLOUDFLARE_API_TOKEN, or CLOUDFLARE_EMAIL + CLOUDFLARE_API_KEY)",
                )
            } else if info.needs_account && self.target.account.is_none() {
                Some("no account given (--account or CLOUDFLARE_ACCOUNT_ID)")
            } else if info.needs_video && self.target.videos.is_empty() {
                Some("no video given (--video): needs a video that is ready to stream")
            } else if info.needs_signed_video && self.options.signed_videos.is_empty() {
                Some(
                    "no signed video given (--signed-video): needs a video that requires signed URLs and is ready to stream",
                )
            } else if info.writes && !self.target.writes_allowed() {
                Some("destructive on a live account: pass --allow-writes to run it")
            } else {
                None
            };
            if let Some(reason) = reason {
                self.results.skip(check, reason);
            }
        }
    }

    /// Sends a request that must be refused with a 4XX failure envelope, and records into
    /// `rec` what is wrong with the answer.
    async fn expect_failure(
        &mut self,
        rec: &mut Rec,
        method: Method,
        path: &str,
        op: Option<Operation>,
        auth: Auth,
        why: &str,
    ) {
        let r = match self.send(method, path, op, auth).await {
            Ok(r) => r,
            Err(e) => return rec.transport(&format!("{why}: request"), &e),
        };
        rec.asserted = true;
        let what = &r.what;
        if !(400..=499).contains(&r.status) {
            let never = match r.status {
                200..=299 => " (never a 2XX)",
                500..=599 => " (never a 5XX)",
                _ => "",
            };
            rec.fail(
                r.op,
                "status",
                format!("{why}: {what} must answer a 4XX{never}"),
                r.status.to_string(),
            );
        }
        let ct = r.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        if !is_json_media_type(ct) {
            rec.fail(
                r.op,
                "header:content-type",
                format!("{why}: {what} must answer application/json"),
                ct.unwrap_or("(none)"),
            );
        }
        let problems = match &r.oversize {
            Some(over) => vec![format!("a body must be at most 8 MiB: {over}")],
            None => self.validator.failure_problems(&r.body),
        };
        for problem in problems {
            rec.fail(r.op, "", format!("{why}: {what} must answer the failure envelope"), problem);
        }
    }

    /// Lists the downloads of `video`, keeping a successful answer in the history.
    async fn list(&mut self, account: &AccountId, video: &VideoId) -> Result<Resp, reqwest::Error> {
        let e = Endpoint::list(account, video);
        let r = self.send(Method::GET, &e.path(), Some(Operation::List), Auth::Given).await?;
        if r.status == 200
            && let Some(now) = r.json().as_ref().and_then(downloads_of)
        {
            self.history.push(now);
        }
        Ok(r)
    }

    /// The names of the response checks that answer `r` breaks (a list polled while waiting),
    /// if it breaks any: waiting on a broken answer is pointless.
    fn broken_rules(&self, r: &Resp) -> Option<String> {
        let op = r.op?;
        if r.oversize.is_some() {
            return Some(Check::BodySchema.name().to_owned());
        }
        let mut names: Vec<String> = self
            .validator
            .check_http(op, r.status, &r.headers, &r.body)
            .into_iter()
            .map(|v| v.check)
            .collect();
        names.dedup();
        (!names.is_empty()).then(|| names.join(", "))
    }

    /// Checks a 200 with `success: true`; returns the JSON body.
    fn expect_ok(rec: &mut Rec, r: &Resp) -> Option<Value> {
        rec.asserted = true;
        if r.status != 200 {
            rec.fail(
                r.op,
                "status",
                format!("{} must answer 200", r.what),
                format!("{} {}", r.status, truncate(&String::from_utf8_lossy(&r.body))),
            );
            return None;
        }
        let Some(json) = r.json() else {
            rec.fail(
                r.op,
                "",
                format!("{} must answer JSON", r.what),
                String::from_utf8_lossy(&r.body),
            );
            return None;
        };
        if json.get("success") != Some(&Value::Bool(true)) {
            rec.fail(
                r.op,
                "/success",
                format!("{} must answer success: true", r.what),
                json.get("success").map(Value::to_string).unwrap_or_default(),
            );
        }
        Some(json)
    }
}
