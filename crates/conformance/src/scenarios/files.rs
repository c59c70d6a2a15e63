//! The file checks: a ready download's URL serves its whole body, as long as its
//! `Content-Length`, and honours `Range`.

use cfstream_types::Operation;

use super::{Ctx, Snapshot};
use crate::catalogue::Check;
use crate::record::Rec;
use crate::transport::error_chain;

impl Ctx<'_> {
    pub(super) async fn fetch_files(&mut self, last: Option<&Snapshot>) {
        let mut serves = Rec::new(Check::DownloadUrlServes);
        let mut range = Rec::new(Check::DownloadUrlRange);
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
}
