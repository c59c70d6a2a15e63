//! Test support: deliberately broken servers, each breaking one rule of the spec, that prove
//! the referee catches what it must (`tests/it/mutants.rs`) and time its verdicts
//! (`cargo xtask bench conformance`). Behind the non-default `mutants` feature: users never
//! build them, and nothing here is part of the referee.
//!
//! A small axum server ([`start`]) implements the API faithfully unless told to break one
//! rule ([`Mutant`]); [`MUTANTS`] names the check that must fail for each. It also has a video
//! that requires signed URLs ([`SIGNED_VID`]): a token endpoint signing RS256 tokens with a
//! key made once per process ([`sign`], [`verify`]: jsonwebtoken directly, never the client's
//! code), and a file route that answers 401 without a token and 403 for a bad one; a run of
//! the faithful server or of a signed mutant names it in `RunOptions::signed_videos`
//! ([`Mutant::signed_videos`]). [`emulator_faults`] are more mutants: the emulator with one
//! fault each.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::Response;
use base64::Engine as _;
use cfstream_emulator::{Fault, FaultRoute, FaultRule};
use cfstream_types::{Credentials, Operation, VideoId};
use futures::StreamExt as _;
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Value, json};

use crate::Target;

use self::Mutant as M;

/// The account the mini server knows.
pub const ACC: &str = "023e105f4ecef8ad9ca31a8372d0c353";
/// The video the mini server knows (ready to stream).
pub const VID: &str = "ea95132c15732412d22c1476fa83f27a";
/// The mini server's video that requires signed URLs.
pub const SIGNED_VID: &str = "5d5bc37ffcf54c9b82e996823bffbb81";
/// The token the mini server accepts.
pub const TOKEN: &str = "good-token";
/// The length of every file the mini server serves.
pub const FILE_LEN: usize = 1000;
/// The key id of the mini server's signing key.
pub const KID: &str = "8f926b2b2b2e4b1db2ad6f9e4b1d6b8e";

/// One broken rule (or none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutant {
    /// Breaks nothing: passes every check (only `retry_after_on_429` is SKIP).
    Faithful,
    /// `percentComplete` is a string.
    PercentAsString,
    /// A download has no `status`.
    StatusMissing,
    /// `percentComplete` is 150.
    PercentOver100,
    /// `status` is `queued`, not a documented value.
    StatusUnknown,
    /// A ready download's `url` is not a URI.
    UrlNotUri,
    /// `success` is false on a 200.
    SuccessFalseOn200,
    /// `success` is true on a 4XX.
    SuccessTrueOn4xx,
    /// Failures are HTML pages.
    HtmlOn4xx,
    /// Successes are `text/plain`.
    TextPlainOn200,
    /// A failure carries no error.
    ErrorsEmptyOnFailure,
    /// Error codes are 999.
    CodeBelow1000,
    /// A failure's `result` is `{}`.
    ResultNotNullOnFailure,
    /// A failure has no `result`.
    ResultMissingOnFailure,
    /// Create answers 201.
    Created201,
    /// A 33-character id answers 500.
    LongId500,
    /// A non-hex id answers 200.
    NonHexAccepted,
    /// An unknown download type answers 500.
    UnknownType500,
    /// No credentials needed.
    NoAuthRequired,
    /// Any token is accepted.
    WrongTokenAccepted,
    /// An unknown route answers an HTML 404.
    UnknownRouteHtml,
    /// `PUT .../downloads` answers 200.
    PutAccepted,
    /// An unknown video answers 200.
    UnknownVideo200,
    /// A created `default` download is never listed.
    CreateNotListed,
    /// Creating `audio` creates nothing.
    CreateTypeIgnored,
    /// `percentComplete` goes from 60 to 20.
    ProgressGoesBack,
    /// A `ready` download turns `inprogress` again.
    ReadyStatusFlips,
    /// Listed downloads vanish before they are ready.
    DownloadsVanish,
    /// Downloads stay at 50 % forever (the verdict is the deadline).
    NeverReady,
    /// A ready download has no `url`.
    ReadyWithoutUrl,
    /// The file URL answers 404.
    Url404,
    /// The file has no `Content-Length`.
    NoContentLength,
    /// The file's `Content-Length` is 500 bytes too long (and the connection stays open).
    ContentLengthTooLong,
    /// A `Range` request answers the whole file.
    RangeIgnored,
    /// `Content-Range` names a wrong total length.
    RangeWrongContentRange,
    /// Delete removes nothing.
    DeleteNotEffective,
    /// A second delete answers 404.
    DeleteTwice404,
    /// Delete's `result` is `{}`, not `"ok"`.
    DeleteResultObject,
    /// An unknown video answers a 429 without `retry-after`.
    RateLimitNoRetryAfter,
    /// A second create restarts the download at 0 %.
    CreateRestarts,
    /// `DELETE .../downloads` removes `audio` too.
    LegacyDeleteRemovesAll,
    /// A range past the first byte is off by one.
    RangeWrongBytes,
    /// The audio file is the MP4 file.
    AudioIsMp4,
    /// `?filename=` sets no `Content-Disposition`.
    FilenameIgnored,
    /// A `filename` over 120 characters is accepted.
    LongFilenameAccepted,
    /// Deleting an unknown video's download answers 200.
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

impl Mutant {
    /// Whether a run names the signed video: the faithful server and the signed mutants.
    pub fn signed(self) -> bool {
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

    /// The `RunOptions::signed_videos` of a run against this mutant: [`SIGNED_VID`] when
    /// [`Mutant::signed`], else none.
    pub fn signed_videos(self) -> Vec<VideoId> {
        if self.signed() { known(SIGNED_VID).into_iter().collect() } else { vec![] }
    }
}

/// Each mutant and the check that must name it.
pub const MUTANTS: &[(Mutant, &str)] = &[
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

/// `status` (every status here is a valid constant; 500 if one were not).
fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

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
    *r.status_mut() = status_code(status);
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

impl Mini {
    fn fail(&self, status: u16, code: u64, message: &str) -> Response {
        if self.m == M::HtmlOn4xx {
            let mut r = Response::new(Body::from("<html><body>Forbidden</body></html>"));
            *r.status_mut() = status_code(status);
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
                if let Some(o) = body.as_object_mut() {
                    o.remove("result");
                }
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
        if self.m == M::StatusMissing
            && let Some(o) = d.as_object_mut()
        {
            o.remove("status");
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
            let (a, b) = range.split_once('-').unwrap_or((range, ""));
            let (a, b): (usize, usize) = match (a.parse(), b.parse::<usize>()) {
                (Ok(a), Ok(b)) => (a, b.min(FILE_LEN - 1)),
                (Ok(a), Err(_)) => (a, FILE_LEN - 1),
                (Err(_), Ok(n)) => (FILE_LEN - n.min(FILE_LEN), FILE_LEN - 1),
                _ => return self.fail(416, 10416, "bad range"),
            };
            if a > b || a >= FILE_LEN {
                return self.fail(416, 10416, "bad range");
            }
            let total = if self.m == M::RangeWrongContentRange { FILE_LEN - 1 } else { FILE_LEN };
            // RangeWrongBytes: off by one past the first byte.
            let from = if self.m == M::RangeWrongBytes && a > 0 { a - 1 } else { a };
            let mut r = Response::new(Body::from(bytes[from..=from + (b - a)].to_vec()));
            *r.status_mut() = StatusCode::PARTIAL_CONTENT;
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {a}-{b}/{total}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
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
                // The bytes, then nothing more on a connection kept open (a body of known
                // length would not do: hyper asserts, in debug builds, that it matches).
                let body = futures::stream::iter([Ok::<_, std::io::Error>(bytes)])
                    .chain(futures::stream::pending());
                let mut r = Response::new(Body::from_stream(body));
                r.headers_mut()
                    .insert(header::CONTENT_LENGTH, HeaderValue::from(FILE_LEN as u64 + 500));
                r
            }
            _ => Response::new(Body::from(bytes)),
        };
        if let Some(name) = filename.filter(|_| self.m != M::FilenameIgnored) {
            let ext = if t == "audio" { "m4a" } else { "mp4" };
            let cd = format!("attachment; filename=\"{name}.{ext}\"");
            if let Ok(v) = HeaderValue::from_str(&cd) {
                r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
            }
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
        let now = now();
        let exp = asked["exp"].as_i64().unwrap_or(now + 3600);
        if exp > now + 24 * 3600 || (self.m == M::PastExpRefused && exp < now) {
            return self.fail(400, 10400, "invalid exp");
        }
        let downloadable = asked["downloadable"].as_bool().unwrap_or(false);
        let claims = json!({
            "sub": v, "kid": KID, "exp": exp, "nbf": now - 60,
            "downloadable": downloadable,
        });
        let Ok(token) = sign(&claims) else {
            return self.fail(500, 10500, "cannot sign the token");
        };
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
        let mut created = self.signed_created.lock().unwrap_or_else(PoisonError::into_inner);
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
        let claims = verify(token, self.m != M::SignedIgnoresExp);
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
        let mut downloads = self.downloads.lock().unwrap_or_else(PoisonError::into_inner);
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

/// Starts the mini server breaking `m` on `127.0.0.1` (on the current tokio runtime, for as
/// long as the runtime lives) and answers its target: its base URL, [`TOKEN`], [`ACC`] and
/// [`VID`]. A run against it names [`Mutant::signed_videos`] in `RunOptions::signed_videos`.
///
/// Fails when it cannot listen, or when the signing key cannot be made.
pub async fn start(m: Mutant) -> std::io::Result<Target> {
    make_key().await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let mini =
        Arc::new(Mini { m, addr, downloads: Mutex::default(), signed_created: Mutex::default() });
    let app = axum::Router::new().fallback(handle).with_state(mini);
    tokio::spawn(async move { axum::serve(listener, app).await });
    let base = format!("http://{addr}/client/v4");
    let mut t =
        Target::new(base.parse().map_err(|e| std::io::Error::other(format!("{base}: {e}")))?);
    t.credentials = Some(Credentials::token(TOKEN));
    t.account = Some(known(ACC)?);
    t.videos = vec![known::<VideoId>(VID)?];
    Ok(t)
}

fn known<T: std::str::FromStr>(id: &str) -> std::io::Result<T>
where
    T::Err: std::fmt::Display,
{
    id.parse().map_err(|e| std::io::Error::other(format!("'{id}': {e}")))
}

/// One emulator mutant: a label, the one fault (on every answer of its route) and the check
/// that must fail.
pub type EmulatorFault = (&'static str, FaultRule, &'static str);

/// The emulator with one fault each (start it with `Faults::none().rule(rule)`).
pub fn emulator_faults() -> Vec<EmulatorFault> {
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

/// The mini server's signing key: RSA 2048, made once per process (no private key is
/// committed).
struct TestKey {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

/// Makes the signing key, off the async workers: a server's handler that met the key still
/// being made would block a worker (and the runs sharing it) until it is.
async fn make_key() -> std::io::Result<()> {
    tokio::task::spawn_blocking(|| key().map(|_| ())).await.map_err(std::io::Error::other)?
}

fn key() -> std::io::Result<&'static TestKey> {
    static KEY: OnceLock<Result<TestKey, String>> = OnceLock::new();
    KEY.get_or_init(new_key).as_ref().map_err(|e| std::io::Error::other(e.clone()))
}

fn new_key() -> Result<TestKey, String> {
    let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|e| format!("rsa key: {e}"))?;
    let der = pair.as_der().map_err(|e| format!("rsa key as der: {e}"))?;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    Ok(TestKey {
        encoding: EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| format!("pem: {e}"))?,
        decoding: DecodingKey::from_rsa_der(pair.public_key().as_ref()),
    })
}

/// Now, in seconds since the Unix epoch (0 before it).
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// An RS256 token with header `{"alg":"RS256","kid":KID}` and `claims`, signed with the mini
/// server's key.
pub fn sign(claims: &Value) -> std::io::Result<String> {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(KID.to_owned());
    jsonwebtoken::encode(&header, claims, &key()?.encoding).map_err(std::io::Error::other)
}

/// The claims of `token` when its signature (by the mini server's key) holds, and its `exp`
/// and `nbf` with no leeway (`exp` unless `check_exp` is false).
pub fn verify(token: &str, check_exp: bool) -> Option<Value> {
    let mut v = Validation::new(Algorithm::RS256);
    v.leeway = 0;
    v.validate_exp = check_exp;
    v.validate_nbf = true;
    v.validate_aud = false;
    v.set_required_spec_claims(&["exp", "sub"]);
    jsonwebtoken::decode::<Value>(token, &key().ok()?.decoding, &v).ok().map(|d| d.claims)
}
