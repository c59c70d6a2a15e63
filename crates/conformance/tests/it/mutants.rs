//! Proof that the harness catches what it must: deliberately broken servers, each breaking one
//! rule, and for each the harness must fail with the right check named. A small axum server
//! ([`Mini`]) implements the API faithfully unless told to break one rule ([`M`]); more
//! mutants are the emulator with faults. The faithful mini server passes every check, so each
//! mutant's failure is its own rule's. It also has a video that requires signed URLs
//! ([`SIGNED_VID`]): a token endpoint signing RS256 tokens with the test key of `signed.rs`,
//! and a file route that answers 401 without a token and 403 for a bad one; the runs of the
//! faithful server and of the signed mutants name it in `RunOptions::signed_videos`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::Response;
use cfstream_conformance::{Outcome, Report, RunOptions, Target, run};
use cfstream_emulator::{Fault, FaultRoute, FaultRule, Faults, Progress};
use cfstream_types::{Credentials, Operation};
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use serde_json::{Value, json};

const ACC: &str = "023e105f4ecef8ad9ca31a8372d0c353";
const VID: &str = "ea95132c15732412d22c1476fa83f27a";
/// The mini server's video that requires signed URLs.
pub(crate) const SIGNED_VID: &str = "5d5bc37ffcf54c9b82e996823bffbb81";
/// The signed-URL checks.
pub(crate) const SIGNED_CHECKS: [&str; 6] = [
    "signed_token_schema",
    "signed_unsigned_refused",
    "signed_not_downloadable_refused",
    "signed_expired_refused",
    "signed_other_video_refused",
    "signed_url_serves",
];
const TOKEN: &str = "good-token";
const FILE_LEN: usize = 1000;

/// One broken rule (or none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum M {
    Faithful,
    PercentAsString,
    StatusMissing,
    PercentOver100,
    StatusUnknown,
    UrlNotUri,
    SuccessFalseOn200,
    SuccessTrueOn4xx,
    HtmlOn4xx,
    TextPlainOn200,
    ErrorsEmptyOnFailure,
    CodeBelow1000,
    ResultNotNullOnFailure,
    ResultMissingOnFailure,
    Created201,
    LongId500,
    NonHexAccepted,
    UnknownType500,
    NoAuthRequired,
    WrongTokenAccepted,
    UnknownRouteHtml,
    PutAccepted,
    UnknownVideo200,
    CreateNotListed,
    CreateTypeIgnored,
    ProgressGoesBack,
    ReadyStatusFlips,
    DownloadsVanish,
    NeverReady,
    ReadyWithoutUrl,
    Url404,
    NoContentLength,
    ContentLengthTooLong,
    RangeIgnored,
    RangeWrongContentRange,
    DeleteNotEffective,
    DeleteTwice404,
    DeleteResultObject,
    RateLimitNoRetryAfter,
    CreateRestarts,
    LegacyDeleteRemovesAll,
    RangeWrongBytes,
    AudioIsMp4,
    FilenameIgnored,
    LongFilenameAccepted,
    UnknownVideoDelete200,
    /// The token answer has no `result.token`.
    TokenMissing,
    /// The token answer echoes the token in a message without a `code`.
    TokenEchoed,
    /// The signed video's plain URL serves the file.
    SignedPlainServes,
    /// A token without `downloadable: true` serves the file.
    SignedIgnoresDownloadable,
    /// An expired token serves the file.
    SignedIgnoresExp,
    /// A token for another video serves the file.
    SignedIgnoresSub,
    /// Every token is refused, valid ones too.
    SignedTokenRefused,
    /// The signed file route ignores `Range` (answers 200 with the whole file).
    SignedRangeIgnored,
    /// Faithful, but the token endpoint refuses an `exp` in the past (400).
    PastExpRefused,
}

impl M {
    /// Whether the run names the signed video: the faithful server and the signed mutants.
    fn signed(self) -> bool {
        matches!(
            self,
            M::Faithful
                | M::TokenMissing
                | M::TokenEchoed
                | M::SignedPlainServes
                | M::SignedIgnoresDownloadable
                | M::SignedIgnoresExp
                | M::SignedIgnoresSub
                | M::SignedTokenRefused
                | M::SignedRangeIgnored
                | M::PastExpRefused
        )
    }
}

/// Each mutant and the check that must name it.
const MUTANTS: &[(M, &str)] = &[
    (M::PercentAsString, "body_schema"),
    (M::StatusMissing, "body_schema"),
    (M::PercentOver100, "body_schema"),
    (M::StatusUnknown, "body_schema"),
    (M::UrlNotUri, "body_schema"),
    (M::SuccessFalseOn200, "success_matches_status"),
    (M::SuccessTrueOn4xx, "success_matches_status"),
    (M::HtmlOn4xx, "content_type_json"),
    (M::TextPlainOn200, "content_type_json"),
    (M::ErrorsEmptyOnFailure, "failure_has_errors"),
    (M::CodeBelow1000, "error_code_range"),
    (M::ResultNotNullOnFailure, "failure_result_null"),
    (M::ResultMissingOnFailure, "failure_result_null"),
    (M::Created201, "status_documented"),
    (M::LongId500, "id_too_long_rejected"),
    (M::NonHexAccepted, "id_not_hex_rejected"),
    (M::UnknownType500, "download_type_unknown_rejected"),
    (M::NoAuthRequired, "auth_missing_rejected"),
    (M::WrongTokenAccepted, "auth_wrong_rejected"),
    (M::UnknownRouteHtml, "unknown_route_failure"),
    (M::PutAccepted, "method_not_allowed_failure"),
    (M::UnknownVideo200, "unknown_video_failure"),
    (M::CreateNotListed, "create_then_list"),
    (M::CreateTypeIgnored, "create_type_then_list"),
    (M::ProgressGoesBack, "progress_monotone"),
    (M::ReadyStatusFlips, "progress_monotone"),
    (M::DownloadsVanish, "progress_monotone"),
    (M::NeverReady, "progress_terminates"),
    (M::ReadyWithoutUrl, "download_url_serves"),
    (M::Url404, "download_url_serves"),
    (M::NoContentLength, "download_url_serves"),
    (M::ContentLengthTooLong, "download_url_serves"),
    (M::RangeIgnored, "download_url_range"),
    (M::RangeWrongContentRange, "download_url_range"),
    (M::DeleteNotEffective, "delete_then_list"),
    (M::DeleteTwice404, "delete_repeatable"),
    (M::DeleteResultObject, "body_schema"),
    (M::RateLimitNoRetryAfter, "retry_after_on_429"),
    (M::CreateRestarts, "create_idempotent"),
    (M::LegacyDeleteRemovesAll, "delete_scoped"),
    (M::RangeWrongBytes, "download_file_consistent"),
    (M::AudioIsMp4, "download_file_consistent"),
    (M::FilenameIgnored, "download_url_filename"),
    (M::LongFilenameAccepted, "download_url_filename"),
    (M::UnknownVideoDelete200, "unknown_video_failure"),
    (M::TokenMissing, "signed_token_schema"),
    (M::TokenEchoed, "signed_token_schema"),
    (M::SignedPlainServes, "signed_unsigned_refused"),
    (M::SignedIgnoresDownloadable, "signed_not_downloadable_refused"),
    (M::SignedIgnoresExp, "signed_expired_refused"),
    (M::SignedIgnoresSub, "signed_other_video_refused"),
    (M::SignedTokenRefused, "signed_url_serves"),
    (M::SignedRangeIgnored, "signed_url_serves"),
];

struct Mini {
    m: M,
    addr: SocketAddr,
    /// Download type -> how many times a list has shown it.
    downloads: Mutex<BTreeMap<String, u32>>,
    /// Whether the signed video's `default` download was created (it is ready at once).
    signed_created: Mutex<bool>,
}

fn json_response(status: u16, body: &Value) -> Response {
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

impl Mini {
    fn fail(&self, status: u16, code: u64, message: &str) -> Response {
        if self.m == M::HtmlOn4xx {
            let mut r = Response::new(Body::from("<html><body>Forbidden</body></html>"));
            *r.status_mut() = StatusCode::from_u16(status).unwrap();
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
            return r;
        }
        let code = if self.m == M::CodeBelow1000 { 999 } else { code };
        let errors = if self.m == M::ErrorsEmptyOnFailure {
            json!([])
        } else {
            json!([{"code": code, "message": message}])
        };
        let mut body = json!({"success": self.m == M::SuccessTrueOn4xx, "errors": errors, "messages": [], "result": null});
        match self.m {
            M::ResultNotNullOnFailure => body["result"] = json!({}),
            M::ResultMissingOnFailure => {
                body.as_object_mut().unwrap().remove("result");
            }
            _ => {}
        }
        json_response(status, &body)
    }

    fn ok(&self, status: u16, result: &Value) -> Response {
        let body = json!({"success": self.m != M::SuccessFalseOn200, "errors": [], "messages": [], "result": result});
        let mut r = json_response(status, &body);
        if self.m == M::TextPlainOn200 {
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        }
        r
    }

    /// A download after `polls` lists.
    fn download(&self, t: &str, polls: u32) -> Value {
        let percent: Value = match (self.m, polls) {
            (M::NeverReady, _) => json!(50),
            (M::ProgressGoesBack, 1) => json!(60),
            (M::ProgressGoesBack, 2) => json!(20),
            (M::PercentOver100, _) => json!(150),
            (M::PercentAsString, _) => json!("50"),
            (_, p) => json!((p * 50).min(100)),
        };
        let ready = percent == json!(100) || (self.m == M::PercentAsString && polls >= 2);
        let mut status = if ready { "ready" } else { "inprogress" };
        if self.m == M::StatusUnknown {
            status = "queued";
        }
        if self.m == M::ReadyStatusFlips && polls == 3 {
            status = "inprogress";
        }
        let mut d = json!({"status": status, "percentComplete": percent});
        if self.m == M::StatusMissing {
            d.as_object_mut().unwrap().remove("status");
        }
        if ready && self.m != M::ReadyWithoutUrl {
            d["url"] = if self.m == M::UrlNotUri {
                json!("not a uri")
            } else {
                json!(format!("http://{}/files/{VID}/{t}", self.addr))
            };
        }
        d
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        match self.m {
            M::NoAuthRequired => true,
            M::WrongTokenAccepted => auth.is_some() || headers.contains_key("x-auth-key"),
            _ => auth == Some(&format!("Bearer {TOKEN}")),
        }
    }

    fn file(&self, t: &str, query: Option<&str>, headers: &HeaderMap) -> Response {
        // Each type its own bytes (unless AudioIsMp4).
        let shift = if t == "audio" && self.m != M::AudioIsMp4 { 13 } else { 0 };
        let bytes: Vec<u8> = (0..FILE_LEN).map(|i| b'a' + ((i + shift) % 26) as u8).collect();
        if self.m == M::Url404 {
            let mut r = Response::new(Body::from("not found"));
            *r.status_mut() = StatusCode::NOT_FOUND;
            return r;
        }
        let filename = query
            .into_iter()
            .flat_map(|q| q.split('&'))
            .find_map(|kv| kv.strip_prefix("filename="));
        if let Some(name) = filename {
            let max = if self.m == M::LongFilenameAccepted { 1000 } else { 120 };
            let valid = !name.is_empty()
                && name.len() <= max
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !valid {
                return self.fail(400, 10400, "invalid filename");
            }
        }
        let range = headers
            .get(header::RANGE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("bytes="));
        if let (Some(range), false) = (range, self.m == M::RangeIgnored) {
            let (a, b) = range.split_once('-').unwrap();
            let (a, b): (usize, usize) = match (a.parse(), b.parse()) {
                (Ok(a), Ok(b)) => (a, b),
                (Ok(a), Err(_)) => (a, FILE_LEN - 1),
                (Err(_), Ok(n)) => (FILE_LEN - n, FILE_LEN - 1),
                _ => panic!("bad range {range}"),
            };
            let total = if self.m == M::RangeWrongContentRange { FILE_LEN - 1 } else { FILE_LEN };
            // RangeWrongBytes: off by one past the first byte.
            let from = if self.m == M::RangeWrongBytes && a > 0 { a - 1 } else { a };
            let mut r = Response::new(Body::from(bytes[from..=from + (b - a)].to_vec()));
            *r.status_mut() = StatusCode::PARTIAL_CONTENT;
            r.headers_mut()
                .insert(header::CONTENT_RANGE, format!("bytes {a}-{b}/{total}").parse().unwrap());
            return r;
        }
        let mut r = match self.m {
            M::NoContentLength => {
                let chunks = bytes
                    .chunks(100)
                    .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
                    .collect::<Vec<_>>();
                Response::new(Body::from_stream(futures::stream::iter(chunks)))
            }
            M::ContentLengthTooLong => {
                let mut r = Response::new(Body::from(bytes));
                r.headers_mut()
                    .insert(header::CONTENT_LENGTH, HeaderValue::from(FILE_LEN as u64 + 500));
                r
            }
            _ => Response::new(Body::from(bytes)),
        };
        if let Some(name) = filename.filter(|_| self.m != M::FilenameIgnored) {
            let ext = if t == "audio" { "m4a" } else { "mp4" };
            let cd = format!("attachment; filename=\"{name}.{ext}\"");
            r.headers_mut().insert(header::CONTENT_DISPOSITION, cd.parse().unwrap());
        }
        r
    }

    /// `POST .../stream/{v}/token`: an RS256 token for `v` with the body's `downloadable`
    /// (default false) and `exp` (default an hour; at most 24 hours ahead).
    fn token(&self, method: &Method, v: &str, body: &[u8]) -> Response {
        if method != Method::POST {
            return self.fail(405, 10405, "method not allowed");
        }
        if v != VID && v != SIGNED_VID {
            return self.fail(404, 10404, "video not found");
        }
        let asked: Value = if body.is_empty() {
            json!({})
        } else {
            match serde_json::from_slice(body) {
                Ok(v) => v,
                Err(_) => return self.fail(400, 10400, "the body is not JSON"),
            }
        };
        let now = crate::signed::now();
        let exp = asked["exp"].as_i64().unwrap_or(now + 3600);
        if exp > now + 24 * 3600 || (self.m == M::PastExpRefused && exp < now) {
            return self.fail(400, 10400, "invalid exp");
        }
        let downloadable = asked["downloadable"].as_bool().unwrap_or(false);
        let token = crate::signed::sign(&json!({
            "sub": v, "kid": crate::signed::KID, "exp": exp, "nbf": now - 60,
            "downloadable": downloadable,
        }));
        match self.m {
            M::TokenMissing => self.ok(200, &json!({})),
            M::TokenEchoed => json_response(
                200,
                &json!({"success": true, "errors": [], "messages": [{"message": format!("issued {token}")}], "result": {"token": token}}),
            ),
            _ => self.ok(200, &json!({ "token": token })),
        }
    }

    /// The downloads of the signed video: `default` only, ready as soon as it is created.
    fn signed_downloads(&self, method: &Method, t: Option<&str>) -> Response {
        let mut created = self.signed_created.lock().unwrap();
        let ready = json!({"default": {
            "status": "ready", "percentComplete": 100,
            "url": format!("http://{}/files/{SIGNED_VID}/default", self.addr),
        }});
        match (method.as_str(), t) {
            ("GET", None) if *created => self.ok(200, &ready),
            ("GET", None) => self.ok(200, &json!({})),
            ("POST", None | Some("default")) => {
                *created = true;
                self.ok(200, &ready)
            }
            _ => self.fail(405, 10405, "method not allowed"),
        }
    }

    /// The signed video's file at a URL whose path holds `token` in place of the video id.
    fn signed_file(
        &self,
        token: &str,
        t: &str,
        query: Option<&str>,
        headers: &HeaderMap,
    ) -> Response {
        let claims = crate::signed::verify(token, self.m != M::SignedIgnoresExp);
        let good = claims.is_some_and(|c| {
            (c["sub"] == SIGNED_VID || self.m == M::SignedIgnoresSub)
                && (c["downloadable"] == true || self.m == M::SignedIgnoresDownloadable)
        });
        if !good || self.m == M::SignedTokenRefused {
            return self.fail(403, 10403, "the signed URL token is not valid");
        }
        if self.m == M::SignedRangeIgnored {
            let mut h = headers.clone();
            h.remove(header::RANGE);
            return self.file(t, query, &h);
        }
        self.file(t, query, headers)
    }

    fn api(&self, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Response {
        let path = uri.path();
        if let Some(rest) = path.strip_prefix("/files/") {
            return match rest.split_once('/') {
                Some((VID, t)) => self.file(t, uri.query(), headers),
                Some((SIGNED_VID, t)) if self.m == M::SignedPlainServes => {
                    self.file(t, uri.query(), headers)
                }
                Some((SIGNED_VID, _)) => self.fail(401, 10401, "a signed URL token is required"),
                Some((token, t)) => self.signed_file(token, t, uri.query(), headers),
                _ => self.fail(404, 7003, "no file"),
            };
        }
        let Some(rest) = path.strip_prefix("/client/v4/") else {
            return self.fail(404, 7003, "No route for the URI");
        };
        let segs: Vec<&str> = rest.split('/').collect();
        if let ["accounts", ACC, "stream", v, "token"] = segs.as_slice() {
            if !self.authorized(headers) {
                return self.fail(403, 10000, "Authentication error");
            }
            return self.token(method, v, body);
        }
        let (a, v, t) = match segs.as_slice() {
            ["accounts", a, "stream", v, "downloads"] => (*a, *v, None),
            ["accounts", a, "stream", v, "downloads", t] => (*a, *v, Some(*t)),
            _ => {
                if !self.authorized(headers) {
                    return self.fail(403, 10000, "Authentication error");
                }
                if self.m == M::UnknownRouteHtml {
                    let mut r = Response::new(Body::from("<h1>Not Found</h1>"));
                    *r.status_mut() = StatusCode::NOT_FOUND;
                    r.headers_mut()
                        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
                    return r;
                }
                return self.fail(404, 7003, "No route for the URI");
            }
        };
        if !self.authorized(headers) {
            return self.fail(403, 10000, "Authentication error");
        }
        for id in [a, v] {
            let hex = id.chars().all(|c| c.is_ascii_hexdigit());
            if id.len() > 32 && self.m == M::LongId500 {
                return self.fail(500, 10500, "internal error");
            }
            if !hex && self.m == M::NonHexAccepted {
                return self.ok(200, &json!({}));
            }
            if id.is_empty() || id.len() > 32 || !hex {
                return self.fail(400, 10400, "invalid id");
            }
        }
        if a != ACC {
            return self.fail(403, 10000, "Authentication error");
        }
        if v == SIGNED_VID {
            return self.signed_downloads(method, t);
        }
        if v != VID {
            return match self.m {
                M::UnknownVideo200 => self.ok(200, &json!({})),
                M::UnknownVideoDelete200 if method == Method::DELETE => self.ok(200, &json!("ok")),
                M::RateLimitNoRetryAfter => self.fail(429, 10429, "rate limited"),
                _ => self.fail(404, 10404, "video not found"),
            };
        }
        if let Some(t) = t
            && t != "default"
            && t != "audio"
        {
            return if self.m == M::UnknownType500 {
                self.fail(500, 10500, "boom")
            } else {
                self.fail(400, 10400, "invalid download type")
            };
        }
        let mut downloads = self.downloads.lock().unwrap();
        match (method.as_str(), t) {
            ("GET", None) => {
                // Once both downloads have been listed, they vanish (before either is ready).
                if self.m == M::DownloadsVanish
                    && downloads.len() == 2
                    && downloads.values().all(|polls| *polls >= 1)
                {
                    downloads.clear();
                }
                let mut result = serde_json::Map::new();
                for (t, polls) in downloads.iter_mut() {
                    *polls += 1;
                    result.insert(t.clone(), self.download(t, *polls));
                }
                self.ok(200, &Value::Object(result))
            }
            ("POST", t) => {
                let t = t.unwrap_or("default");
                if self.m == M::CreateTypeIgnored && t == "audio" {
                    return self.ok(200, &json!({}));
                }
                if self.m == M::CreateRestarts {
                    downloads.insert(t.to_owned(), 0);
                } else if !(self.m == M::CreateNotListed && t == "default") {
                    downloads.entry(t.to_owned()).or_insert(0);
                }
                let status = if self.m == M::Created201 { 201 } else { 200 };
                // The download as it is now (a second create answers the same download).
                let polls = downloads.get(t).copied().unwrap_or(0);
                self.ok(status, &json!({ t: self.download(t, polls) }))
            }
            ("DELETE", t) => {
                let t = t.unwrap_or("default");
                if self.m == M::DeleteTwice404 && !downloads.contains_key(t) {
                    return self.fail(404, 10404, "no such download");
                }
                if self.m == M::LegacyDeleteRemovesAll && t == "default" {
                    downloads.clear();
                } else if self.m != M::DeleteNotEffective {
                    downloads.remove(t);
                }
                self.ok(200, &if self.m == M::DeleteResultObject { json!({}) } else { json!("ok") })
            }
            ("PUT", None) if self.m == M::PutAccepted => self.ok(200, &json!({})),
            _ => self.fail(405, 10405, "method not allowed"),
        }
    }
}

async fn handle(
    State(mini): State<Arc<Mini>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    mini.api(&method, &uri, &headers, &body)
}

/// Starts the mini server breaking `m`; answers its target and the options of a run (which
/// name the signed video for the faithful server and the signed mutants).
pub(crate) async fn start(m: M) -> (Target, RunOptions) {
    crate::signed::make_key().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mini =
        Arc::new(Mini { m, addr, downloads: Mutex::default(), signed_created: Mutex::default() });
    let app = axum::Router::new().fallback(handle).with_state(mini);
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut t = Target::new(format!("http://{addr}/client/v4").parse().unwrap());
    t.credentials = Some(Credentials::token(TOKEN));
    t.account = Some(ACC.parse().unwrap());
    t.videos = vec![VID.parse().unwrap()];
    let mut o = options();
    if m.signed() {
        o.signed_videos = vec![SIGNED_VID.parse().unwrap()];
    }
    (t, o)
}

fn options() -> RunOptions {
    let mut o = crate::fast_options();
    // NeverReady must hit the deadline; everything else is ready after two polls.
    o.deadline = Duration::from_millis(400);
    o.poll_interval = Duration::from_millis(10);
    o
}

/// `None` when the report fails with `check`, else why not.
fn judge(label: &str, report: &Report, check: &str) -> Option<String> {
    match report.check(check) {
        Some(c) if c.outcome == Outcome::Fail => {
            // Every violation of a failed check names that check.
            assert!(c.violations.iter().all(|v| v.check == check), "{label}: {:?}", c.violations);
            None
        }
        _ => Some(format!(
            "{label}: expected {check} to fail; failed: {:?}\n{}",
            report.failed_names(),
            report.render_text()
        )),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_faithful_mini_server_passes_every_check() {
    let (target, options) = start(M::Faithful).await;
    let report = run(&target, &options).await.unwrap();
    assert!(report.passed(), "{}", report.render_text());
    let skipped: Vec<_> = report
        .checks
        .iter()
        .filter(|c| c.outcome == Outcome::Skip)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(skipped, ["retry_after_on_429"]);
}

/// The mutants of the rules across requests: each is caught by its own check and no other.
const SOLE: &[M] = &[
    M::TokenMissing,
    M::TokenEchoed,
    M::SignedPlainServes,
    M::SignedIgnoresDownloadable,
    M::SignedIgnoresExp,
    M::SignedIgnoresSub,
    M::SignedTokenRefused,
    M::SignedRangeIgnored,
    M::DownloadsVanish,
    M::CreateRestarts,
    M::LegacyDeleteRemovesAll,
    M::RangeWrongBytes,
    M::AudioIsMp4,
    M::FilenameIgnored,
    M::LongFilenameAccepted,
    M::UnknownVideoDelete200,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_rule_across_requests_is_caught_by_its_check_alone() {
    let runs = MUTANTS.iter().filter(|(m, _)| SOLE.contains(m)).map(|&(m, check)| async move {
        let (target, options) = start(m).await;
        let report = run(&target, &options).await.unwrap();
        (m, check, report)
    });
    for (m, check, report) in futures::future::join_all(runs).await {
        assert_eq!(report.failed_names(), [check], "{m:?}\n{}", report.render_text());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mini_mutant_fails_with_its_check_named() {
    let runs = MUTANTS.iter().map(|&(m, check)| async move {
        let (target, options) = start(m).await;
        let report = run(&target, &options).await.unwrap();
        judge(&format!("{m:?}"), &report, check)
    });
    let misses: Vec<String> = futures::future::join_all(runs).await.into_iter().flatten().collect();
    assert!(
        misses.is_empty(),
        "{} of {} mutants escaped:\n{}",
        misses.len(),
        MUTANTS.len(),
        misses.join("\n")
    );
}

/// The emulator with one fault each.
fn emulator_mutants() -> Vec<(&'static str, FaultRule, &'static str)> {
    let always = |route, fault| FaultRule::probability(route, 1.0, fault);
    vec![
        (
            "list answers 500",
            always(FaultRoute::Api(Operation::List), Fault::Status { status: 500 }),
            "status_documented",
        ),
        (
            "create answers an HTML 502",
            always(FaultRoute::Api(Operation::Create), Fault::HtmlError { status: 502 }),
            "content_type_json",
        ),
        (
            "list answers cut-off JSON",
            always(FaultRoute::Api(Operation::List), Fault::MalformedJson),
            "body_schema",
        ),
        (
            "create_type answers text/plain",
            always(FaultRoute::Api(Operation::CreateType), Fault::WrongContentType),
            "content_type_json",
        ),
        (
            "the file answers 404",
            always(FaultRoute::File, Fault::Status { status: 404 }),
            "download_url_serves",
        ),
        (
            "the file is cut short",
            always(FaultRoute::File, Fault::TruncatedBody),
            "download_url_serves",
        ),
        (
            "delete answers 503",
            always(FaultRoute::Api(Operation::Delete), Fault::Status { status: 503 }),
            "delete_then_list",
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_emulator_fault_fails_with_its_check_named() {
    let runs = emulator_mutants().into_iter().map(|(label, rule, check)| async move {
        let emu = crate::emulator_with(
            Faults::none().rule(rule),
            Progress::Over(Duration::from_millis(50)),
        )
        .await;
        let report = run(&crate::target_of(&emu), &options()).await.unwrap();
        emu.shutdown().await;
        judge(label, &report, check)
    });
    let misses: Vec<String> = futures::future::join_all(runs).await.into_iter().flatten().collect();
    assert!(misses.is_empty(), "{} emulator mutants escaped:\n{}", misses.len(), misses.join("\n"));
}

#[test]
fn there_are_at_least_30_mutants() {
    assert!(MUTANTS.len() + emulator_mutants().len() >= 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_answer_ends_the_wait_at_once_and_identical_violations_fold() {
    let mut o = options();
    // Far past the test's length: only a prompt verdict ends this run in time.
    o.deadline = Duration::from_secs(600);
    let report = run(&start(M::StatusUnknown).await.0, &o).await.unwrap();
    let text = report.render_text();
    let term = report.check("progress_terminates").unwrap();
    assert_eq!(term.outcome, Outcome::Skip, "{text}");
    assert_eq!(
        term.reason.as_deref(),
        Some("stopped waiting at an answer that breaks body_schema: see that check")
    );
    // Every list answer that showed `default` broke the same rule at the same place (after each
    // create, the one poll, before the deletes, after deleting audio and after creating it
    // again): one line, with its count.
    let schema = report.check("body_schema").unwrap();
    let same: Vec<_> = schema
        .violations
        .iter()
        .filter(|v| v.operation == Some(Operation::List) && v.pointer == "/result/default/status")
        .collect();
    assert_eq!(same.len(), 1, "{text}");
    assert_eq!(same[0].count, 6, "{text}");
    assert_eq!(same[0].value, "\"queued\"");
    assert!(text.contains("(got \"queued\") [6 times]"), "{text}");

    let report = run(&start(M::ProgressGoesBack).await.0, &o).await.unwrap();
    let term = report.check("progress_terminates").unwrap();
    assert_eq!(
        term.reason.as_deref(),
        Some("stopped waiting: progress broke progress_monotone"),
        "{}",
        report.render_text()
    );
}
