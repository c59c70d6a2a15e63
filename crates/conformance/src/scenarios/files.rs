//! The file checks: a ready download's URL serves its whole body, as long as its
//! `Content-Length` (`download_url_serves`), honours `Range` (`download_url_range`), is the
//! same file whichever way it is read (`download_file_consistent`), and names itself after
//! `?filename=` (`download_url_filename`).

use cfstream_types::Operation;
use reqwest::Method;

use super::{Ctx, Snapshot};
use crate::catalogue::Check;
use crate::record::Rec;
use crate::transport::{BODY_CAP, Chunk, error_chain, next_chunk, read_file_capped, stalled};

/// How many bytes each sampled window of a file holds.
const WINDOW: u64 = 16;
/// The name asked for with `?filename=`.
const FILENAME: &str = "conformance";

/// What a full GET of a file showed: its length, three windows of its bytes (first, middle,
/// last) and a digest of the whole.
pub(super) struct Whole {
    len: u64,
    windows: [(u64, Vec<u8>); 3],
    digest: u64,
}

impl Whole {
    /// The file's first bytes (up to one window).
    pub(super) fn head(&self) -> &[u8] {
        &self.windows[0].1
    }

    fn new(len: u64) -> Self {
        let w = WINDOW.min(len);
        let starts = [0, (len / 2).min(len - w), len - w];
        Self {
            len,
            windows: starts.map(|s| (s, Vec::with_capacity(w as usize))),
            digest: FNV_OFFSET,
        }
    }

    /// Takes in `chunk`, found at `at` in the file.
    fn feed(&mut self, at: u64, chunk: &[u8]) {
        let w = WINDOW.min(self.len);
        for (start, buf) in &mut self.windows {
            let (from, to) = ((*start).max(at), (*start + w).min(at + chunk.len() as u64));
            if from < to {
                buf.extend_from_slice(&chunk[(from - at) as usize..(to - at) as usize]);
            }
        }
        for b in chunk {
            self.digest = (self.digest ^ u64::from(*b)).wrapping_mul(FNV_PRIME);
        }
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0100_0000_01b3;

/// The extension a download type's file takes (documented for `default` and `audio`).
fn extension(t: &str) -> Option<&'static str> {
    match t {
        "default" => Some("mp4"),
        "audio" => Some("m4a"),
        _ => None,
    }
}

/// `resp`'s `Content-Range`, when it is text.
fn content_range(resp: &reqwest::Response) -> Option<String> {
    resp.headers().get(http::header::CONTENT_RANGE).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// `url` with `?filename=name` (added to any query it has).
fn with_filename(url: &str, name: &str) -> Option<String> {
    let mut u = url::Url::parse(url).ok()?;
    u.query_pairs_mut().append_pair("filename", name);
    Some(u.into())
}

impl Ctx<'_> {
    /// How long one request to a file URL may take: a file can take longer than an API
    /// answer, so the longer of the request timeout and the download deadline.
    pub(super) fn file_timeout(&self) -> std::time::Duration {
        self.options.request_timeout.max(self.options.deadline)
    }

    pub(super) async fn fetch_files(&mut self, last: Option<&Snapshot>) {
        let mut serves = Rec::new(Check::DownloadUrlServes);
        let mut range = Rec::new(Check::DownloadUrlRange);
        let mut same = Rec::new(Check::DownloadFileConsistent);
        let mut named = Rec::new(Check::DownloadUrlFilename);
        let ready: Vec<(String, Option<String>)> = last
            .into_iter()
            .flatten()
            .filter(|(_, d)| d.status == "ready")
            .map(|(t, d)| (t.clone(), d.url.clone()))
            .collect();
        if ready.is_empty() {
            let reason = "no download was ready to fetch";
            for rec in [&mut serves, &mut range, &mut same, &mut named] {
                rec.skip = Some(reason.into());
            }
        }
        let mut digests: Vec<(String, u64, u64)> = vec![];
        for (i, (t, url)) in ready.into_iter().enumerate() {
            let Some(url) = url else {
                serves.fail(
                    Some(Operation::List),
                    format!("/result/{t}/url"),
                    "a ready download must have a url",
                    "(absent)",
                );
                for rec in [&mut range, &mut same, &mut named] {
                    rec.skip = Some("a ready download had no url".into());
                }
                continue;
            };
            let whole = self.fetch_whole(&mut serves, &t, &url).await;
            self.fetch_range(&mut range, &t, &url, whole.as_ref().map(|w| w.len)).await;
            if self.wants(Check::DownloadFileConsistent) {
                match &whole {
                    Some(w) => {
                        self.same_file(&mut same, &t, &url, w).await;
                        digests.push((t.clone(), w.len, w.digest));
                    }
                    None => same.skip = Some("a full GET of the file failed".into()),
                }
            }
            if self.wants(Check::DownloadUrlFilename) {
                // The refusals once: they do not depend on the type.
                self.filename(&mut named, &t, &url, i == 0).await;
            }
        }
        if let (Some(mp4), Some(m4a)) =
            (digests.iter().find(|d| d.0 == "default"), digests.iter().find(|d| d.0 == "audio"))
            && (mp4.1, mp4.2) == (m4a.1, m4a.2)
        {
            same.fail(
                None,
                "url:audio",
                "the audio file must not be the MP4 file",
                format!("same {} bytes as the default download", m4a.1),
            );
        }
        self.finish(serves);
        self.finish(range);
        self.finish(same);
        self.finish(named);
    }

    /// GETs `url` (never with the API credentials: the file host is another host) and checks
    /// the body length against `Content-Length`. Returns what it saw when it is consistent.
    pub(super) async fn fetch_whole(&mut self, rec: &mut Rec, t: &str, url: &str) -> Option<Whole> {
        self.http.requests += 1;
        let resp = match self.http.files.get(url).timeout(self.file_timeout()).send().await {
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
        let mut whole = declared.map(Whole::new);
        let mut got: u64 = 0;
        let stall = self.options.stall_timeout;
        let mut body = std::pin::pin!(resp.bytes_stream());
        loop {
            match next_chunk(&mut body, stall).await {
                Chunk::Data(chunk) => {
                    if let Some(w) = &mut whole {
                        w.feed(got, &chunk);
                    }
                    got += chunk.len() as u64;
                }
                Chunk::End => break,
                Chunk::Failed(e) => {
                    rec.fail(None, at.as_str(), "the body must be served whole", error_chain(&e));
                    return None;
                }
                Chunk::Stalled => {
                    // A connection kept open that sends nothing more: the body ends here.
                    let rule = if declared.is_some() {
                        "the body must be as long as its Content-Length"
                    } else {
                        "the body must be served whole"
                    };
                    rec.fail(None, at.as_str(), rule, stalled(declared, got, stall));
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
            Some(_) => whole,
        }
    }

    /// `download_file_consistent` for one file: every range (first, middle, last, open-ended,
    /// suffix) is the full GET's bytes with its length in Content-Range, and HEAD's length is
    /// GET's.
    pub(super) async fn same_file(&mut self, rec: &mut Rec, t: &str, url: &str, w: &Whole) {
        let n = w.len;
        let [first, middle, last] = &w.windows;
        let span = |(s, b): &(u64, Vec<u8>)| (*s, *s + b.len() as u64 - 1);
        let asks = [
            ("first", format!("bytes={}-{}", span(first).0, span(first).1), first),
            ("middle", format!("bytes={}-{}", span(middle).0, span(middle).1), middle),
            ("last", format!("bytes={}-{}", span(last).0, span(last).1), last),
            ("open-ended", format!("bytes={}-", last.0), last),
            ("suffix", format!("bytes=-{}", last.1.len()), last),
        ];
        let at = format!("url:{t}");
        for (label, ask, (start, want)) in asks {
            self.http.requests += 1;
            let sent = self
                .http
                .files
                .get(url)
                .header(http::header::RANGE, &ask)
                .timeout(self.file_timeout())
                .send()
                .await;
            let resp = match sent {
                Ok(r) => r,
                Err(e) => {
                    rec.transport(&format!("GET {t} url with {label} range"), &e);
                    continue;
                }
            };
            rec.asserted = true;
            let status = resp.status().as_u16();
            let content_range = content_range(&resp);
            let body = match read_file_capped(resp, BODY_CAP, self.options.stall_timeout).await {
                Ok((b, None)) => b,
                Ok((_, Some(over))) => {
                    rec.fail(
                        None,
                        at.as_str(),
                        format!("`Range: {ask}` must serve {} bytes", want.len()),
                        over,
                    );
                    continue;
                }
                Err(e) => {
                    rec.fail(None, at.as_str(), "the range must be served whole", error_chain(&e));
                    continue;
                }
            };
            if status != 206 {
                rec.fail(
                    None,
                    at.as_str(),
                    format!("`Range: {ask}` ({label}) must answer 206"),
                    status.to_string(),
                );
                continue;
            }
            let end = start + want.len() as u64 - 1;
            let expected = format!("bytes {start}-{end}/{n}");
            if content_range.as_deref() != Some(expected.as_str()) {
                rec.fail(
                    None,
                    at.as_str(),
                    format!("`Range: {ask}` ({label}) must answer Content-Range '{expected}' (the full GET's length)"),
                    content_range.as_deref().unwrap_or("(none)"),
                );
            }
            if body[..] != want[..] {
                rec.fail(
                    None,
                    at.as_str(),
                    format!(
                        "`Range: {ask}` ({label}) must serve the full GET's bytes {start}-{end}"
                    ),
                    format!("{:02x?}, full GET had {:02x?}", &body[..body.len().min(16)], want),
                );
            }
        }
        self.http.requests += 1;
        match self.http.files.head(url).timeout(self.file_timeout()).send().await {
            Ok(r) => {
                let len = r
                    .headers()
                    .get(http::header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok());
                if r.status().as_u16() != 200 || len != Some(n) {
                    rec.fail(
                        None,
                        at.as_str(),
                        format!("HEAD must answer 200 with GET's Content-Length {n}"),
                        format!(
                            "{} with Content-Length {}",
                            r.status().as_u16(),
                            len.map_or("(none)".to_owned(), |l| l.to_string())
                        ),
                    );
                }
            }
            Err(e) => rec.transport(&format!("HEAD {t} url"), &e),
        }
    }

    /// `download_url_filename` for one file: `?filename=conformance` names the attachment
    /// with the type's extension; with `refusals`, bad names get a 4XX.
    async fn filename(&mut self, rec: &mut Rec, t: &str, url: &str, refusals: bool) {
        let at = format!("url:{t}");
        let Some(named) = with_filename(url, FILENAME) else {
            return rec.fail(None, at, "a download's url must be a URL", url);
        };
        self.http.requests += 1;
        match self.http.files.request(Method::GET, &named).timeout(self.file_timeout()).send().await
        {
            Ok(r) => {
                rec.asserted = true;
                let cd = r
                    .headers()
                    .get(http::header::CONTENT_DISPOSITION)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let status = r.status().as_u16();
                // Only the headers matter: the body is not read.
                drop(r);
                let name = extension(t)
                    .map_or_else(|| format!("{FILENAME}."), |e| format!("{FILENAME}.{e}"));
                let good = cd.as_deref().is_some_and(|cd| {
                    let cd = cd.trim();
                    cd.get(..10).is_some_and(|a| a.eq_ignore_ascii_case("attachment"))
                        && (cd.contains(&format!("filename=\"{name}"))
                            || cd.contains(&format!("filename={name}")))
                });
                if status != 200 || !good {
                    rec.fail(
                        None,
                        at.as_str(),
                        format!("`?filename={FILENAME}` must answer 200 with `Content-Disposition: attachment; filename=\"{name}\"`"),
                        format!("{status}, {}", cd.as_deref().unwrap_or("no Content-Disposition")),
                    );
                }
            }
            Err(e) => rec.transport(&format!("GET {t} url with ?filename"), &e),
        }
        if !refusals {
            return;
        }
        for (bad, why) in [
            ("a".repeat(121), "over 120 characters"),
            ("bad.name!".to_owned(), "outside [A-Za-z0-9-_]"),
        ] {
            let Some(u) = with_filename(url, &bad) else { continue };
            self.http.requests += 1;
            match self.http.files.get(&u).timeout(self.file_timeout()).send().await {
                Ok(r) => {
                    let status = r.status().as_u16();
                    drop(r);
                    if !(400..=499).contains(&status) {
                        rec.fail(
                            None,
                            at.as_str(),
                            format!("a filename {why} must get a 4XX"),
                            status.to_string(),
                        );
                    }
                }
                Err(e) => rec.transport(&format!("GET {t} url with a bad filename"), &e),
            }
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
            .timeout(self.file_timeout())
            .send()
            .await;
        let resp = match resp {
            Ok(r) => r,
            Err(e) => return rec.transport(&format!("GET {t} url with Range"), &e),
        };
        rec.asserted = true;
        let at = format!("url:{t}");
        let status = resp.status().as_u16();
        let content_range = content_range(&resp);
        // Never more than the cap, whatever the server sends for a 10-byte range.
        let body = match read_file_capped(resp, BODY_CAP, self.options.stall_timeout).await {
            Ok((b, None)) => b,
            Ok((_, Some(oversize))) => {
                return rec.fail(
                    None,
                    at,
                    format!("`Range: bytes=0-{end}` must serve {} bytes", end + 1),
                    oversize,
                );
            }
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
