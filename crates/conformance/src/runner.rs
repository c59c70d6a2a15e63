//! The runner: what to check ([`Target`]), how ([`RunOptions`]), and [`run`], which drives
//! every selected check against the target and returns a [`Report`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use cfstream_types::{AccountId, Credentials, DownloadType, Endpoint, Operation, Url, VideoId};
use http::HeaderMap;
use reqwest::Method;
use serde_json::Value;

use crate::catalogue::{self as c, CATALOGUE, CheckInfo, CheckKind};
use crate::error::{Error, ErrorKind};
use crate::report::{CheckResult, Outcome, Report};
use crate::validate::{Validator, Violation, is_json_media_type, truncate};

/// Used in paths when the target names no account: checks that need a real one are skipped.
const PLACEHOLDER_ACCOUNT: &str = "023e105f4ecef8ad9ca31a8372d0c353";
/// Used in paths when the target names no video.
const PLACEHOLDER_VIDEO: &str = "ea95132c15732412d22c1476fa83f27a";
/// A well-formed video id that no server should hold.
const UNKNOWN_VIDEO: &str = "0000000000000000000000000000f00d";
/// A download type the spec does not list.
const UNKNOWN_TYPE: &str = "hdr";
/// How many 429s in a row one request waits out before its answer is taken as it is.
const MAX_429_WAITS: u32 = 3;
/// The wait after a 429 without a usable `retry-after`.
const DEFAULT_429_WAIT: Duration = Duration::from_secs(1);
/// The longest wait a `retry-after` can ask of a run.
const MAX_429_WAIT: Duration = Duration::from_secs(60);

/// `retry-after` in seconds, if the header holds a whole number.
fn retry_after_secs(headers: &HeaderMap) -> Option<u64> {
    headers.get("retry-after")?.to_str().ok()?.trim().parse().ok()
}

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

    fn writes_allowed(&self) -> bool {
        !self.live || self.allow_writes
    }
}

/// Receives each check's result as soon as it is known (for progress bars and live output).
pub trait Reporter: Send + Sync {
    /// Called once per check, in the order checks finish.
    fn check_finished(&self, result: &CheckResult);
}

/// How to run: which checks, and the time limits.
#[derive(Clone)]
#[non_exhaustive]
pub struct RunOptions {
    /// Run only these checks (by name); empty means all.
    pub only: Vec<String>,
    /// Do not run these checks (by name).
    pub skip: Vec<String>,
    /// How long a download may take to end `ready` or `error` (the progress scenarios).
    pub deadline: Duration,
    /// How long to wait between two polls of the list operation.
    pub poll_interval: Duration,
    /// How long one API request may take.
    pub request_timeout: Duration,
    /// Told about each result as it is known.
    pub reporter: Option<Arc<dyn Reporter>>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            only: vec![],
            skip: vec![],
            deadline: Duration::from_secs(120),
            poll_interval: Duration::from_secs(1),
            request_timeout: Duration::from_secs(30),
            reporter: None,
        }
    }
}

impl RunOptions {
    /// Options for a server on this machine (the emulator, a local mock): the default checks,
    /// a 30 s deadline and 25 ms polling, so a run takes about as long as the server's
    /// downloads take to turn ready.
    pub fn local() -> Self {
        Self {
            deadline: Duration::from_secs(30),
            poll_interval: Duration::from_millis(25),
            ..Self::default()
        }
    }
}

impl fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunOptions")
            .field("only", &self.only)
            .field("skip", &self.skip)
            .field("deadline", &self.deadline)
            .field("poll_interval", &self.poll_interval)
            .field("request_timeout", &self.request_timeout)
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
    let validator = Validator::new()?;
    let http = Http::new(target, options)?;
    let started = Instant::now();
    let mut ctx = Ctx {
        target,
        options,
        http,
        validator,
        selected: selected.iter().map(|c| c.name).collect(),
        results: HashMap::new(),
        exchanges: vec![],
        history: vec![],
    };
    ctx.baseline().await?;
    ctx.skip_unmet(&selected);
    ctx.refusal_checks().await;
    ctx.video_flow().await;
    ctx.response_checks();
    let checks = selected.iter().filter_map(|info| ctx.results.remove(info.name)).collect();
    let target_url = redact_url(&target.base_url);
    Ok(Report::new(target_url, checks, ctx.http.requests, started.elapsed()))
}

fn redact_url(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string().trim_end_matches('/').to_owned()
}

fn select(options: &RunOptions) -> Result<Vec<&'static CheckInfo>, Error> {
    for name in options.only.iter().chain(&options.skip) {
        if c::find(name).is_none() {
            return Err(Error::new(
                ErrorKind::UnknownCheck,
                format!("unknown check '{}' (see --list for the names)", truncate(name)),
            ));
        }
    }
    Ok(CATALOGUE
        .iter()
        .filter(|c| options.only.is_empty() || options.only.iter().any(|n| n == c.name))
        .filter(|c| !options.skip.iter().any(|n| n == c.name))
        .collect())
}

/// A request that must be refused with a 4XX failure envelope.
struct Probe {
    method: Method,
    path: String,
    op: Option<Operation>,
    auth: Auth,
    why: &'static str,
}

/// Which credentials a request carries.
#[derive(Clone, Copy)]
enum Auth {
    Given,
    Missing,
    WrongToken,
    WrongKey,
}

/// One answer, as the checks see it.
struct Resp {
    op: Option<Operation>,
    what: String,
    status: u16,
    headers: HeaderMap,
    body: Bytes,
}

impl Resp {
    fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

struct Http {
    api: reqwest::Client,
    files: reqwest::Client,
    base: String,
    credentials: Option<Credentials>,
    requests: usize,
}

impl Http {
    fn new(target: &Target, options: &RunOptions) -> Result<Self, Error> {
        let api = reqwest::Client::builder()
            .timeout(options.request_timeout)
            // A redirect is not a documented answer: the checks must see it, not follow it.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("cfstream-conformance/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::with_source(ErrorKind::Setup, "cannot build the http client", e))?;
        let files = reqwest::Client::builder()
            .user_agent(concat!("cfstream-conformance/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::with_source(ErrorKind::Setup, "cannot build the http client", e))?;
        Ok(Self {
            api,
            files,
            base: target.base_url.as_str().trim_end_matches('/').to_owned(),
            credentials: target.credentials.clone(),
            requests: 0,
        })
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        op: Option<Operation>,
        auth: Auth,
    ) -> Result<Resp, reqwest::Error> {
        let what = format!("{method} {path}");
        let mut req = self.api.request(method, format!("{}{path}", self.base));
        let headers = match auth {
            Auth::Given => self.credentials.as_ref().map(Credentials::headers).unwrap_or_default(),
            Auth::Missing => vec![],
            Auth::WrongToken => Credentials::token("cfstream-conformance-wrong-token").headers(),
            Auth::WrongKey => {
                Credentials::key("nobody@example.com", "cfstream-conformance-wrong-key").headers()
            }
        };
        for (name, value) in headers {
            req = req.header(name, value);
        }
        self.requests += 1;
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().await?;
        tracing::debug!(%what, status, "answer");
        Ok(Resp { op, what, status, headers, body })
    }
}

/// The running state of one check.
struct Rec {
    name: &'static str,
    started: Instant,
    violations: Vec<Violation>,
    asserted: bool,
    skip: Option<String>,
}

impl Rec {
    fn new(name: &'static str) -> Self {
        Self { name, started: Instant::now(), violations: vec![], asserted: false, skip: None }
    }

    fn fail(
        &mut self,
        op: Option<Operation>,
        pointer: impl Into<String>,
        rule: impl Into<String>,
        value: impl AsRef<str>,
    ) {
        self.asserted = true;
        self.violations.push(Violation::new(op, self.name, pointer, rule, value));
    }

    fn transport(&mut self, what: &str, e: &reqwest::Error) {
        self.fail(None, "request", format!("{what} failed"), error_chain(e));
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        cur = inner.source();
    }
    s
}

/// One download as read (loosely, from JSON) from a list answer.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    status: String,
    percent: Option<f64>,
    url: Option<String>,
}

fn downloads_of(body: &Value) -> Option<BTreeMap<String, Seen>> {
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

fn terminal(status: &str) -> bool {
    status == "ready" || status == "error"
}

struct Ctx<'a> {
    target: &'a Target,
    options: &'a RunOptions,
    http: Http,
    validator: Validator,
    selected: HashSet<&'static str>,
    results: HashMap<&'static str, CheckResult>,
    exchanges: Vec<(Option<Operation>, u16, HeaderMap, Bytes)>,
    /// Every successful list of the scenario video, in order: progress is judged over all of
    /// them, not only the polls.
    history: Vec<BTreeMap<String, Seen>>,
}

impl Ctx<'_> {
    fn account(&self) -> String {
        self.target.account.as_ref().map_or(PLACEHOLDER_ACCOUNT, AccountId::as_str).to_owned()
    }

    fn video(&self) -> String {
        self.target.videos.first().map_or(PLACEHOLDER_VIDEO, VideoId::as_str).to_owned()
    }

    fn downloads_path(&self, account: &str, video: &str) -> String {
        format!("/accounts/{account}/stream/{video}/downloads")
    }

    /// Whether `name` is selected and has no result yet.
    fn wants(&self, name: &str) -> bool {
        self.selected.contains(name) && !self.results.contains_key(name)
    }

    fn wants_any(&self, names: &[&str]) -> bool {
        names.iter().any(|n| self.wants(n))
    }

    fn record(&mut self, result: CheckResult) {
        if let Some(r) = &self.options.reporter {
            r.check_finished(&result);
        }
        if let Some(info) = c::find(&result.name) {
            self.results.insert(info.name, result);
        }
    }

    fn skip(&mut self, name: &'static str, reason: impl Into<String>) {
        if self.wants(name) {
            let info = c::find(name);
            self.record(CheckResult {
                name: name.to_owned(),
                description: info.map(|i| i.description).unwrap_or_default().to_owned(),
                outcome: Outcome::Skip,
                reason: Some(reason.into()),
                duration: Duration::ZERO,
                violations: vec![],
            });
        }
    }

    /// Ends `rec`: fail with violations, pass if it asserted anything, skip otherwise.
    fn finish(&mut self, rec: Rec) {
        if !self.wants(rec.name) {
            return;
        }
        let (outcome, reason) = if !rec.violations.is_empty() {
            (Outcome::Fail, None)
        } else if let Some(reason) = rec.skip {
            (Outcome::Skip, Some(reason))
        } else if rec.asserted {
            (Outcome::Pass, None)
        } else {
            (Outcome::Skip, Some("nothing to check".to_owned()))
        };
        let description = c::find(rec.name).map(|i| i.description).unwrap_or_default().to_owned();
        self.record(CheckResult {
            name: rec.name.to_owned(),
            description,
            outcome,
            reason,
            duration: rec.started.elapsed(),
            violations: rec.violations,
        });
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        op: Option<Operation>,
        auth: Auth,
    ) -> Result<Resp, reqwest::Error> {
        let mut waits = 0;
        loop {
            let r = self.http.send(method.clone(), path, op, auth).await?;
            if r.op.is_some() {
                self.exchanges.push((r.op, r.status, r.headers.clone(), r.body.clone()));
            }
            // A rate-limited answer is judged like any other (`retry_after_on_429`), then waited
            // out, so that a live account's limit does not fail the scenarios.
            if r.status == 429 && waits < MAX_429_WAITS {
                waits += 1;
                let delay = retry_after_secs(&r.headers)
                    .map_or(DEFAULT_429_WAIT, Duration::from_secs)
                    .min(MAX_429_WAIT);
                tracing::info!(what = %r.what, delay_ms = delay.as_millis() as u64, "rate limited: waiting");
                tokio::time::sleep(delay).await;
                continue;
            }
            return Ok(r);
        }
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

    fn skip_unmet(&mut self, selected: &[&'static CheckInfo]) {
        for info in selected {
            let reason = if info.needs_credentials && self.target.credentials.is_none() {
                Some(
                    "no credentials given (CLOUDFLARE_API_TOKEN, or CLOUDFLARE_EMAIL + CLOUDFLARE_API_KEY)",
                )
            } else if info.needs_account && self.target.account.is_none() {
                Some("no account given (--account or CLOUDFLARE_ACCOUNT_ID)")
            } else if info.needs_video && self.target.videos.is_empty() {
                Some("no video given (--video): needs a video that is ready to stream")
            } else if info.writes && !self.target.writes_allowed() {
                Some("destructive on a live account: pass --allow-writes to run it")
            } else {
                None
            };
            if let Some(reason) = reason {
                self.skip(info.name, reason);
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
        for problem in self.validator.failure_problems(&r.body) {
            rec.fail(r.op, "", format!("{why}: {what} must answer the failure envelope"), problem);
        }
    }

    /// The refusal checks, as data: each check with the requests that must be refused.
    fn refusal_probes(&self) -> Vec<(&'static str, Vec<Probe>)> {
        let (account, video) = (self.account(), self.video());
        let path = self.downloads_path(&account, &video);
        let long = "a".repeat(33);
        let list = Some(Operation::List);
        let get = |path: String, op, auth, why| Probe { method: Method::GET, path, op, auth, why };
        let mut missing = vec![get(path.clone(), list, Auth::Missing, "no credentials")];
        if self.target.writes_allowed() && !self.target.videos.is_empty() {
            missing.push(Probe {
                method: Method::POST,
                path: path.clone(),
                op: Some(Operation::Create),
                auth: Auth::Missing,
                why: "no credentials",
            });
        }
        vec![
            (c::AUTH_MISSING_REJECTED, missing),
            (
                c::AUTH_WRONG_REJECTED,
                vec![
                    get(path.clone(), list, Auth::WrongToken, "wrong api token"),
                    get(path.clone(), list, Auth::WrongKey, "wrong email + key"),
                ],
            ),
            (
                c::ID_TOO_LONG_REJECTED,
                vec![
                    get(
                        self.downloads_path(&account, &long),
                        list,
                        Auth::Given,
                        "33-character video id",
                    ),
                    get(
                        self.downloads_path(&long, &video),
                        list,
                        Auth::Given,
                        "33-character account id",
                    ),
                ],
            ),
            (
                c::ID_NOT_HEX_REJECTED,
                ["zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", "not-a-hex-id"]
                    .map(|bad| {
                        get(
                            self.downloads_path(&account, bad),
                            list,
                            Auth::Given,
                            "non-hex video id",
                        )
                    })
                    .into(),
            ),
            (
                c::UNKNOWN_VIDEO_FAILURE,
                vec![get(
                    self.downloads_path(&account, UNKNOWN_VIDEO),
                    list,
                    Auth::Given,
                    "unknown video",
                )],
            ),
            (
                c::UNKNOWN_ROUTE_FAILURE,
                vec![
                    get(
                        format!("/accounts/{account}/stream/{video}/no-such-route"),
                        None,
                        Auth::Given,
                        "unknown route",
                    ),
                    get("/no/such/route".to_owned(), None, Auth::Given, "unknown route"),
                ],
            ),
            (
                c::METHOD_NOT_ALLOWED_FAILURE,
                vec![Probe {
                    method: Method::PUT,
                    path,
                    op: None,
                    auth: Auth::Given,
                    why: "undocumented method",
                }],
            ),
        ]
    }

    /// Sends every selected refusal check's requests; each must get a 4XX failure envelope.
    async fn refusal_checks(&mut self) {
        for (name, probes) in self.refusal_probes() {
            if !self.wants(name) {
                continue;
            }
            let mut rec = Rec::new(name);
            for p in probes {
                self.expect_failure(&mut rec, p.method, &p.path, p.op, p.auth, p.why).await;
            }
            self.finish(rec);
        }
    }

    /// The scenarios on the first video: create, progress, file, delete.
    async fn video_flow(&mut self) {
        let (Some(account), Some(video)) =
            (self.target.account.clone(), self.target.videos.first().cloned())
        else {
            return;
        };
        if self.target.credentials.is_none() {
            return;
        }
        let writes = self.target.writes_allowed();

        if self.wants(c::DOWNLOAD_TYPE_UNKNOWN_REJECTED) {
            let mut rec = Rec::new(c::DOWNLOAD_TYPE_UNKNOWN_REJECTED);
            let p =
                format!("{}/{UNKNOWN_TYPE}", self.downloads_path(account.as_str(), video.as_str()));
            self.expect_failure(
                &mut rec,
                Method::POST,
                &p,
                Some(Operation::CreateType),
                Auth::Given,
                "unknown download_type",
            )
            .await;
            self.expect_failure(
                &mut rec,
                Method::DELETE,
                &p,
                Some(Operation::DeleteType),
                Auth::Given,
                "unknown download_type",
            )
            .await;
            self.finish(rec);
        }

        let later = [
            c::CREATE_THEN_LIST,
            c::CREATE_TYPE_THEN_LIST,
            c::PROGRESS_MONOTONE,
            c::PROGRESS_TERMINATES,
            c::DOWNLOAD_URL_SERVES,
            c::DOWNLOAD_URL_RANGE,
            c::DELETE_THEN_LIST,
            c::DELETE_REPEATABLE,
        ];
        if writes && self.wants_any(&later) {
            self.create_and_list(
                c::CREATE_THEN_LIST,
                &Endpoint::create(&account, &video),
                DownloadType::Default,
            )
            .await;
            // `audio` is path-safe, so the typed endpoint always builds.
            if let Ok(e) = Endpoint::create_type(&account, &video, DownloadType::Audio) {
                self.create_and_list(c::CREATE_TYPE_THEN_LIST, &e, DownloadType::Audio).await;
            }
        }
        let last = if self.wants_any(&later[2..6]) {
            self.follow_progress(&account, &video).await
        } else {
            None
        };
        if self.wants_any(&[c::DOWNLOAD_URL_SERVES, c::DOWNLOAD_URL_RANGE]) {
            self.fetch_files(last.as_ref()).await;
        }
        if writes && self.wants_any(&[c::DELETE_THEN_LIST, c::DELETE_REPEATABLE]) {
            self.delete_and_list(&account, &video).await;
        }
    }

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

    async fn create_and_list(&mut self, name: &'static str, endpoint: &Endpoint, t: DownloadType) {
        let mut rec = Rec::new(name);
        let key = t.as_str();
        let pointer = format!("/result/{key}");
        match self
            .send(Method::POST, &endpoint.path(), Some(endpoint.operation()), Auth::Given)
            .await
        {
            Ok(r) => {
                if let Some(json) = Self::expect_ok(&mut rec, &r)
                    && json.pointer(&pointer).is_none_or(|d| !d.is_object())
                {
                    rec.fail(
                        r.op,
                        pointer.as_str(),
                        format!("{} must answer the {key} download", r.what),
                        truncate(&json.to_string()),
                    );
                }
            }
            Err(e) => rec.transport("create", &e),
        }
        match self.list(endpoint.account(), endpoint.video()).await {
            Ok(r) => {
                if let Some(json) = Self::expect_ok(&mut rec, &r)
                    && json.pointer(&pointer).is_none_or(|d| !d.is_object())
                {
                    rec.fail(
                        r.op,
                        pointer.as_str(),
                        format!("after create, list must show the {key} download"),
                        truncate(&json.to_string()),
                    );
                }
            }
            Err(e) => rec.transport("list", &e),
        }
        self.finish(rec);
    }

    /// Polls list until every download is final or the deadline passes; judges the progress
    /// checks; returns the last downloads seen.
    async fn follow_progress(
        &mut self,
        account: &AccountId,
        video: &VideoId,
    ) -> Option<BTreeMap<String, Seen>> {
        let mut mono = Rec::new(c::PROGRESS_MONOTONE);
        let mut term = Rec::new(c::PROGRESS_TERMINATES);
        let start = Instant::now();
        let mut last: Option<BTreeMap<String, Seen>> = None;
        let mut first = true;
        let op = Some(Operation::List);
        loop {
            let snapshot = match self.list(account, video).await {
                Ok(r) if r.status == 200 => r.json().as_ref().and_then(downloads_of),
                Ok(r) if r.status == 429 => None,
                Ok(r) => {
                    term.fail(
                        op,
                        "status",
                        "list must answer 200 while polling",
                        r.status.to_string(),
                    );
                    break;
                }
                Err(e) => {
                    term.transport("polling list", &e);
                    break;
                }
            };
            if let Some(now) = snapshot {
                if first && now.is_empty() {
                    let reason = if self.target.writes_allowed() {
                        "no download to follow: creating one failed"
                    } else {
                        "no download to follow and writes are not allowed (--allow-writes)"
                    };
                    mono.skip = Some(reason.to_owned());
                    term.skip = Some(reason.to_owned());
                    last = Some(now);
                    break;
                }
                first = false;
                mono.asserted = true;
                let done = now.values().all(|d| terminal(&d.status));
                last = Some(now);
                if done {
                    term.asserted = true;
                    break;
                }
            }
            if start.elapsed() >= self.options.deadline {
                term.asserted = true;
                for (t, d) in last.iter().flatten().filter(|(_, d)| !terminal(&d.status)) {
                    term.fail(
                        op,
                        format!("/result/{t}/status"),
                        format!("must end ready or error within {:?}", self.options.deadline),
                        format!("{} at {}%", d.status, d.percent.unwrap_or(f64::NAN)),
                    );
                }
                if last.is_none() {
                    term.fail(
                        op,
                        "",
                        format!("no successful list within {:?}", self.options.deadline),
                        "",
                    );
                }
                break;
            }
            tokio::time::sleep(self.options.poll_interval).await;
        }
        if mono.skip.is_none() {
            for pair in self.history.windows(2) {
                judge_progress(&mut mono, &pair[0], &pair[1]);
            }
        }
        self.finish(mono);
        self.finish(term);
        last
    }

    async fn fetch_files(&mut self, last: Option<&BTreeMap<String, Seen>>) {
        let mut serves = Rec::new(c::DOWNLOAD_URL_SERVES);
        let mut range = Rec::new(c::DOWNLOAD_URL_RANGE);
        let ready: Vec<(String, Option<String>)> = last
            .into_iter()
            .flatten()
            .filter(|(_, d)| d.status == "ready")
            .map(|(t, d)| (t.clone(), d.url.clone()))
            .collect();
        if ready.is_empty() {
            let reason = "no download was ready to fetch";
            serves.skip = Some(reason.into());
            range.skip = Some(reason.into());
        }
        for (t, url) in ready {
            let Some(url) = url else {
                serves.fail(
                    Some(Operation::List),
                    format!("/result/{t}/url"),
                    "a ready download must have a url",
                    "(absent)",
                );
                range.skip = Some("a ready download had no url".into());
                continue;
            };
            let total = self.fetch_whole(&mut serves, &t, &url).await;
            self.fetch_range(&mut range, &t, &url, total).await;
        }
        self.finish(serves);
        self.finish(range);
    }

    /// GETs `url` (never with the API credentials: the file host is another host) and checks
    /// the body length against `Content-Length`. Returns the length when it is consistent.
    async fn fetch_whole(&mut self, rec: &mut Rec, t: &str, url: &str) -> Option<u64> {
        self.http.requests += 1;
        let mut resp = match self.http.files.get(url).timeout(self.options.deadline).send().await {
            Ok(r) => r,
            Err(e) => {
                rec.transport(&format!("GET {t} url"), &e);
                return None;
            }
        };
        rec.asserted = true;
        let at = format!("url:{t}");
        if resp.status().as_u16() != 200 {
            rec.fail(
                None,
                at,
                "a ready download's url must answer 200",
                format!("{} for {url}", resp.status().as_u16()),
            );
            return None;
        }
        let declared = resp
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let mut got: u64 = 0;
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => got += chunk.len() as u64,
                Ok(None) => break,
                Err(e) => {
                    rec.fail(None, at.as_str(), "the body must be served whole", error_chain(&e));
                    return None;
                }
            }
        }
        match declared {
            None => {
                rec.fail(
                    None,
                    at,
                    "a download must declare its Content-Length",
                    format!("(none), {got} bytes served"),
                );
                None
            }
            Some(n) if n != got => {
                rec.fail(
                    None,
                    at,
                    "the body must be as long as its Content-Length",
                    format!("Content-Length {n}, {got} bytes served"),
                );
                None
            }
            Some(_) if got == 0 => {
                rec.fail(None, at, "a ready download must not be empty", "0 bytes");
                None
            }
            Some(n) => Some(n),
        }
    }

    async fn fetch_range(&mut self, rec: &mut Rec, t: &str, url: &str, total: Option<u64>) {
        let end = total.map_or(9, |n| n.min(10).saturating_sub(1));
        self.http.requests += 1;
        let resp = self
            .http
            .files
            .get(url)
            .header(http::header::RANGE, format!("bytes=0-{end}"))
            .timeout(self.options.deadline)
            .send()
            .await;
        let resp = match resp {
            Ok(r) => r,
            Err(e) => return rec.transport(&format!("GET {t} url with Range"), &e),
        };
        rec.asserted = true;
        let at = format!("url:{t}");
        let status = resp.status().as_u16();
        let content_range = resp
            .headers()
            .get(http::header::CONTENT_RANGE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => return rec.fail(None, at, "the range must be served whole", error_chain(&e)),
        };
        if status != 206 {
            return rec.fail(
                None,
                at,
                format!("`Range: bytes=0-{end}` must answer 206"),
                status.to_string(),
            );
        }
        let want_len = end + 1;
        if body.len() as u64 != want_len {
            rec.fail(
                None,
                at.as_str(),
                format!("`Range: bytes=0-{end}` must serve {want_len} bytes"),
                body.len().to_string(),
            );
        }
        let expected = total.map(|n| format!("bytes 0-{end}/{n}"));
        match (content_range, expected) {
            (None, _) => rec.fail(None, at, "a 206 must carry Content-Range", "(none)"),
            (Some(cr), Some(exp)) if cr != exp => {
                rec.fail(None, at, format!("Content-Range must be '{exp}'"), cr);
            }
            (Some(cr), None) if !cr.starts_with(&format!("bytes 0-{end}/")) => {
                rec.fail(None, at, format!("Content-Range must start 'bytes 0-{end}/'"), cr);
            }
            _ => {}
        }
    }

    async fn delete_and_list(&mut self, account: &AccountId, video: &VideoId) {
        let mut then_list = Rec::new(c::DELETE_THEN_LIST);
        let mut again = Rec::new(c::DELETE_REPEATABLE);
        // `audio` is path-safe, so the typed endpoint always builds.
        let steps: Vec<_> = Endpoint::delete_type(account, video, DownloadType::Audio)
            .map(|e| (e, "audio"))
            .into_iter()
            .chain([(Endpoint::delete(account, video), "default")])
            .collect();
        for (endpoint, key) in &steps {
            self.delete_expecting_ok(&mut then_list, endpoint, "delete").await;
            match self.list(account, video).await {
                Ok(r) => {
                    if let Some(json) = Self::expect_ok(&mut then_list, &r) {
                        let pointer = format!("/result/{key}");
                        if let Some(d) = json.pointer(&pointer) {
                            then_list.fail(
                                r.op,
                                pointer,
                                format!("after delete, list must not show the {key} download"),
                                d.to_string(),
                            );
                        }
                    }
                }
                Err(e) => then_list.transport("list", &e),
            }
        }
        for (endpoint, _) in &steps {
            self.delete_expecting_ok(&mut again, endpoint, "second delete").await;
        }
        self.finish(then_list);
        self.finish(again);
    }

    /// Sends `endpoint` (a delete) and records into `rec` whether it answered a success.
    async fn delete_expecting_ok(&mut self, rec: &mut Rec, endpoint: &Endpoint, what: &str) {
        let path = endpoint.path();
        match self.send(Method::DELETE, &path, Some(endpoint.operation()), Auth::Given).await {
            Ok(r) => {
                Self::expect_ok(rec, &r);
            }
            Err(e) => rec.transport(what, &e),
        }
    }

    /// Judges every answer of the five operations seen during the run.
    fn response_checks(&mut self) {
        let started = Instant::now();
        let mut found: HashMap<String, Vec<Violation>> = HashMap::new();
        let mut answers: HashMap<String, usize> = HashMap::new();
        let mut saw_200 = false;
        let mut saw_429 = false;
        for (op, status, headers, body) in &self.exchanges {
            let Some(op) = *op else { continue };
            saw_200 |= (200..=299).contains(status);
            saw_429 |= *status == 429;
            let mut broke: HashSet<String> = HashSet::new();
            for v in self.validator.check_http(op, *status, headers, body) {
                broke.insert(v.check.clone());
                found.entry(v.check.clone()).or_default().push(v);
            }
            for name in broke {
                *answers.entry(name).or_default() += 1;
            }
        }
        let elapsed = started.elapsed();
        let seen = self.exchanges.iter().filter(|e| e.0.is_some()).count();
        for info in CATALOGUE.iter().filter(|i| i.kind == CheckKind::Response) {
            if !self.wants(info.name) {
                continue;
            }
            let violations = found.remove(info.name).unwrap_or_default();
            let skip = if !violations.is_empty() {
                None
            } else if seen == 0 {
                Some("no answer of the five operations was seen")
            } else if info.name == c::RETRY_AFTER_ON_429 && !saw_429 {
                Some("no 429 was seen")
            } else if info.name == c::CLIENT_MODEL_DECODES && !saw_200 {
                Some("no 2XX answer was seen")
            } else {
                None
            };
            let (outcome, reason) = match (violations.is_empty(), skip) {
                (false, _) => {
                    let n = answers.get(info.name).copied().unwrap_or_default();
                    (Outcome::Fail, Some(format!("{n} of {seen} answers broke it")))
                }
                (true, Some(reason)) => (Outcome::Skip, Some(reason.to_owned())),
                (true, None) => (Outcome::Pass, None),
            };
            self.record(CheckResult {
                name: info.name.to_owned(),
                description: info.description.to_owned(),
                outcome,
                reason,
                duration: elapsed,
                violations,
            });
        }
    }
}

fn judge_progress(rec: &mut Rec, prev: &BTreeMap<String, Seen>, now: &BTreeMap<String, Seen>) {
    let op = Some(Operation::List);
    for (t, before) in prev {
        let Some(after) = now.get(t) else {
            rec.fail(
                op,
                format!("/result/{t}"),
                "a download must not vanish while polled",
                "(absent)",
            );
            continue;
        };
        if terminal(&before.status) && after.status != before.status {
            rec.fail(
                op,
                format!("/result/{t}/status"),
                format!("a final status must not change (was {})", before.status),
                &after.status,
            );
        }
        if let (Some(a), Some(b)) = (before.percent, after.percent)
            && b < a
        {
            rec.fail(
                op,
                format!("/result/{t}/percentComplete"),
                format!("percentComplete must never decrease (was {a})"),
                b.to_string(),
            );
        }
    }
}
