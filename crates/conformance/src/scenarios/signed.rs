//! The signed-URL checks, on each video that requires signed URLs (`RunOptions::signed_videos`):
//! the token endpoint's answer (`signed_token_schema`), the refusals of the plain URL and of
//! bad tokens (without `downloadable`, expired, for another video), and a valid token serving
//! the file and its ranges (`signed_url_serves`). Every token the run is given is a credential:
//! it joins the redactor at once, so no report, streamed result or log line shows it.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use cfstream_types::{AccountId, Endpoint, Operation, SigningEndpoint, VideoId};
use reqwest::Method;
use serde_json::{Value, json};

use super::files::Whole;
use super::{Ctx, downloads_of, terminal};
use crate::catalogue::Check;
use crate::record::Rec;
use crate::transport::{Auth, error_chain};
use crate::validate::truncate;

/// Every signed-URL check.
const SIGNED: [Check; 6] = [
    Check::SignedTokenSchema,
    Check::SignedUnsignedRefused,
    Check::SignedNotDownloadableRefused,
    Check::SignedExpiredRefused,
    Check::SignedOtherVideoRefused,
    Check::SignedUrlServes,
];

/// How long before the run the expired token's `exp` lies: far past any clock skew between
/// the referee and the server, and any leeway a verifier allows (jsonwebtoken's default is a
/// minute), so the token is expired whoever judges it. No waiting is needed.
const EXPIRED_FOR_SECS: i64 = 3600;

/// Where in a report a signed video's file answers are (the MP4 download).
const AT: &str = "url:default";

/// Whether a file answer refuses the request: 401 (what users see for a missing token) or 403
/// (the answer to a bad one); both are accepted for every refusal.
fn refused(status: u16) -> bool {
    status == 401 || status == 403
}

/// `url` with the path segment that is `video` replaced by `token`: the documented signed URL
/// form (`https://HOST/<TOKEN>/downloads/default.mp4`), the query kept. `None` when no
/// segment is the video id.
pub(crate) fn signed_url(url: &str, video: &str, token: &str) -> Option<String> {
    let mut u = url::Url::parse(url).ok()?;
    let mut segments: Vec<String> = u.path_segments()?.map(str::to_owned).collect();
    let at = segments.iter().position(|s| s == video)?;
    token.clone_into(&mut segments[at]);
    u.path_segments_mut().ok()?.clear().extend(&segments);
    Some(u.into())
}

/// The time now, in unix seconds.
fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// The running state of the six checks, over every signed video.
struct Recs {
    token: Rec,
    unsigned: Rec,
    not_downloadable: Rec,
    expired: Rec,
    other_video: Rec,
    serves: Rec,
}

impl Recs {
    fn new() -> Self {
        Self {
            token: Rec::new(Check::SignedTokenSchema),
            unsigned: Rec::new(Check::SignedUnsignedRefused),
            not_downloadable: Rec::new(Check::SignedNotDownloadableRefused),
            expired: Rec::new(Check::SignedExpiredRefused),
            other_video: Rec::new(Check::SignedOtherVideoRefused),
            serves: Rec::new(Check::SignedUrlServes),
        }
    }

    /// The checks that use a valid token on the file.
    fn with_token(&mut self) -> [&mut Rec; 4] {
        [&mut self.not_downloadable, &mut self.expired, &mut self.other_video, &mut self.serves]
    }

    fn into_array(self) -> [Rec; 6] {
        [
            self.token,
            self.unsigned,
            self.not_downloadable,
            self.expired,
            self.other_video,
            self.serves,
        ]
    }
}

impl Ctx<'_> {
    /// The signed-URL checks on each signed video (their needs were checked before: a check
    /// without a signed video, credentials or an account is already skipped).
    pub(super) async fn signed_flow(&mut self) {
        if !self.wants_any(&SIGNED) {
            return;
        }
        let Some(account) = self.target.account.clone() else { return };
        if self.target.credentials.is_none() {
            return;
        }
        let mut recs = Recs::new();
        for video in self.options.signed_videos.clone() {
            self.signed_video(&account, &video, &mut recs).await;
        }
        for rec in recs.into_array() {
            self.finish(rec);
        }
    }

    async fn signed_video(&mut self, account: &AccountId, video: &VideoId, r: &mut Recs) {
        let token = self.downloadable_token(&mut r.token, account, video).await;
        let url = match self.signed_file_url(account, video).await {
            Ok(url) => url,
            Err(reason) => {
                r.unsigned.skip = Some(reason.clone());
                for rec in r.with_token() {
                    rec.skip = Some(reason.clone());
                }
                return;
            }
        };
        self.expect_refused(&mut r.unsigned, &url, "the url without a token").await;
        let Some(token) = token else {
            for rec in r.with_token() {
                rec.skip =
                    Some("the token endpoint gave no token: see signed_token_schema".to_owned());
            }
            return;
        };
        let Some(signed) = signed_url(&url, video.as_str(), &token) else {
            r.serves.fail(
                Some(Operation::List),
                "/result/default/url",
                "a signed video's download url must hold the video id as a path segment (the \
                 token takes its place)",
                &url,
            );
            for rec in [&mut r.not_downloadable, &mut r.expired, &mut r.other_video] {
                rec.skip = Some("the download url has no video id to put a token in".to_owned());
            }
            return;
        };
        let t = "default (signed)";
        let Some(whole) = self.fetch_whole(&mut r.serves, t, &signed).await else {
            // A server that refuses every token would pass every refusal: none is evidence.
            for rec in [&mut r.not_downloadable, &mut r.expired, &mut r.other_video] {
                rec.skip = Some(
                    "a valid token was not served either, so a refusal proves nothing: see \
                     signed_url_serves"
                        .to_owned(),
                );
            }
            return;
        };
        self.same_file(&mut r.serves, t, &signed, &whole).await;

        // Without `downloadable` (the body `{}`: the documented default is false).
        match self.token_for(account, video, &json!({})).await {
            Ok(bad) => {
                self.expect_token_refused(
                    &mut r.not_downloadable,
                    &url,
                    video,
                    &bad,
                    "without downloadable",
                )
                .await;
            }
            Err(why) => r.not_downloadable.fail(
                None,
                "status",
                "the token endpoint must issue a token for the body {} (downloadable defaults to \
                 false)",
                why,
            ),
        }

        // Expired an hour ago. Without the signing key the referee cannot sign one itself, so
        // it asks the token endpoint; a server that will not issue a past `exp` leaves the
        // check unjudged.
        let exp = unix_now() - EXPIRED_FOR_SECS;
        match self.token_for(account, video, &json!({"downloadable": true, "exp": exp})).await {
            Ok(bad) => {
                self.expect_token_refused(&mut r.expired, &url, video, &bad, "expired an hour ago")
                    .await;
            }
            Err(why) => {
                r.expired.skip = Some(format!(
                    "the token endpoint would not issue a token with a past exp ({why}): an \
                     expired token cannot be had without the signing key"
                ));
            }
        }

        // A downloadable token for another video of the account.
        let other = self
            .target
            .videos
            .iter()
            .chain(&self.options.signed_videos)
            .find(|v| *v != video)
            .cloned();
        match other {
            None => {
                r.other_video.skip = Some(
                    "no other video given (--video, or a second --signed-video) to ask a token for"
                        .to_owned(),
                );
            }
            Some(other) => {
                match self.token_for(account, &other, &json!({"downloadable": true})).await {
                    Ok(bad) => {
                        if let Some(signed) = signed_url(&url, video.as_str(), &bad) {
                            self.expect_not_this_file(&mut r.other_video, &signed, &whole).await;
                        }
                    }
                    Err(why) => r.other_video.fail(
                        None,
                        "status",
                        format!("the token endpoint must issue a downloadable token for {other}"),
                        why,
                    ),
                }
            }
        }
    }

    /// `signed_token_schema`: asks for a downloadable token and judges the answer. The token,
    /// when the answer holds one (even if the answer breaks a rule elsewhere).
    async fn downloadable_token(
        &mut self,
        rec: &mut Rec,
        account: &AccountId,
        video: &VideoId,
    ) -> Option<String> {
        let path = SigningEndpoint::create_token(account, video).path();
        let body = json!({"downloadable": true});
        let r = match self.send_json(Method::POST, &path, None, Auth::Given, Some(&body)).await {
            Ok(r) => r,
            Err(e) => {
                rec.transport("POST .../token", &e);
                return None;
            }
        };
        rec.asserted = true;
        let token = self.token_of(&r.body, r.status);
        for v in self.validator.check_token_answer(r.status, &r.headers, &r.body) {
            rec.violations.push(v);
        }
        token
    }

    /// The token in a 200 answer's `result.token`, added to what is redacted from now on.
    fn token_of(&mut self, body: &[u8], status: u16) -> Option<String> {
        if status != 200 {
            return None;
        }
        let json: Value = serde_json::from_slice(body).ok()?;
        let token = json.pointer("/result/token")?.as_str().filter(|t| !t.is_empty())?.to_owned();
        self.http.redactor.add(&token);
        Some(token)
    }

    /// Asks the token endpoint for a token for `video` with `body`: the token, or what the
    /// answer was instead.
    async fn token_for(
        &mut self,
        account: &AccountId,
        video: &VideoId,
        body: &Value,
    ) -> Result<String, String> {
        let path = SigningEndpoint::create_token(account, video).path();
        let r = self
            .send_json(Method::POST, &path, None, Auth::Given, Some(body))
            .await
            .map_err(|e| format!("POST .../token failed: {}", error_chain(&e)))?;
        self.token_of(&r.body, r.status)
            .ok_or_else(|| format!("{} {}", r.status, truncate(&String::from_utf8_lossy(&r.body))))
    }

    /// The url of the signed video's ready `default` download: listed, or created (where
    /// writes are allowed) and waited for within the deadline. Else why the file checks
    /// cannot run.
    async fn signed_file_url(
        &mut self,
        account: &AccountId,
        video: &VideoId,
    ) -> Result<String, String> {
        let start = Instant::now();
        let mut created = false;
        loop {
            let list = Endpoint::list(account, video);
            let r = self
                .send(Method::GET, &list.path(), Some(Operation::List), Auth::Given)
                .await
                .map_err(|e| format!("listing the signed video failed: {}", error_chain(&e)))?;
            if r.status != 200 {
                return Err(format!("listing the signed video answered {}", r.status));
            }
            let default =
                r.json().as_ref().and_then(downloads_of).and_then(|mut d| d.remove("default"));
            match default {
                Some(d) if d.status == "ready" => {
                    return d.url.ok_or_else(|| {
                        "the signed video's ready default download has no url".to_owned()
                    });
                }
                Some(d) if terminal(&d.status) => {
                    return Err(format!("the signed video's default download ended {}", d.status));
                }
                Some(_) => {}
                None if created => {
                    return Err(
                        "the signed video's default download was created but not listed".to_owned()
                    );
                }
                None if !self.target.writes_allowed() => {
                    return Err("the signed video has no ready default download, and writes are \
                                not allowed (--allow-writes) to create one"
                        .to_owned());
                }
                None => {
                    let create = Endpoint::create(account, video);
                    let r = self
                        .send(Method::POST, &create.path(), Some(Operation::Create), Auth::Given)
                        .await
                        .map_err(|e| {
                            format!(
                                "creating the signed video's download failed: {}",
                                error_chain(&e)
                            )
                        })?;
                    if r.status != 200 {
                        return Err(format!(
                            "creating the signed video's download answered {}",
                            r.status
                        ));
                    }
                    created = true;
                    continue;
                }
            }
            if start.elapsed() >= self.options.deadline {
                return Err(
                    "the signed video's default download was not ready within the deadline"
                        .to_owned(),
                );
            }
            tokio::time::sleep(self.options.poll_interval).await;
        }
    }

    /// GETs `url` and records into `rec` unless it is refused (401 or 403).
    async fn expect_refused(&mut self, rec: &mut Rec, url: &str, what: &str) {
        self.http.requests += 1;
        match self.http.files.get(url).timeout(self.file_timeout()).send().await {
            Ok(resp) => {
                rec.asserted = true;
                let status = resp.status().as_u16();
                // Only the status matters: the body is not read.
                drop(resp);
                if !refused(status) {
                    rec.fail(
                        None,
                        AT,
                        format!("{what} must be refused with 401 or 403"),
                        status.to_string(),
                    );
                }
            }
            Err(e) => rec.transport(&format!("GET {what}"), &e),
        }
    }

    /// `signed_other_video_refused`: with the token in place of the id, the url of another
    /// video's token names that video, so a 401, 403 or 404 (it has no such download) is a
    /// refusal; a 2XX may serve that video's own file, but never this one's (`whole`).
    async fn expect_not_this_file(&mut self, rec: &mut Rec, url: &str, whole: &Whole) {
        self.http.requests += 1;
        let mut resp = match self.http.files.get(url).timeout(self.file_timeout()).send().await {
            Ok(resp) => resp,
            Err(e) => return rec.transport("GET a token for another video", &e),
        };
        rec.asserted = true;
        let status = resp.status().as_u16();
        if refused(status) || status == 404 {
            return;
        }
        if !(200..300).contains(&status) {
            return rec.fail(
                None,
                AT,
                "a token for another video must be refused with 401, 403 or 404, or serve that \
                 video's file",
                status.to_string(),
            );
        }
        let head = whole.head();
        let mut got = Vec::with_capacity(head.len());
        while got.len() < head.len() {
            match resp.chunk().await {
                Ok(Some(chunk)) => got.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(e) => return rec.transport("reading a token for another video's answer", &e),
            }
        }
        got.truncate(head.len());
        if !head.is_empty() && got == head {
            rec.fail(
                None,
                AT,
                "a token for another video must never serve this video's file",
                format!("{status} with this video's first {} bytes", head.len()),
            );
        }
    }

    /// [`Ctx::expect_refused`] for the signed url of `video` with the bad token `token`.
    async fn expect_token_refused(
        &mut self,
        rec: &mut Rec,
        url: &str,
        video: &VideoId,
        token: &str,
        what: &str,
    ) {
        // `url` held the video id when the valid token was put in: it still does.
        if let Some(signed) = signed_url(url, video.as_str(), token) {
            self.expect_refused(rec, &signed, &format!("a token {what}")).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_takes_the_place_of_the_video_id_and_the_query_stays() {
        let v = "ea95132c15732412d22c1476fa83f27a";
        assert_eq!(
            signed_url(
                &format!(
                    "https://customer-x.cloudflarestream.com/{v}/downloads/default.mp4?filename=a"
                ),
                v,
                "eyJh.eyJz.c2ln"
            )
            .as_deref(),
            Some(
                "https://customer-x.cloudflarestream.com/eyJh.eyJz.c2ln/downloads/default.mp4?filename=a"
            )
        );
        assert_eq!(signed_url("http://h/files/other/default", v, "t"), None);
        assert_eq!(signed_url("not a url", v, "t"), None);
        assert!(refused(401) && refused(403));
        assert!(!refused(200) && !refused(404) && !refused(400) && !refused(500));
    }
}
