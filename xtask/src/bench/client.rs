//! cfstream-http calls/s against a raw hyper loop, both sending `GET .../downloads` (the list
//! route) one call at a time to the same emulator on loopback; a plain reqwest loop is
//! measured too, to tell reqwest's share of the cost from cfstream-http's.
//!
//! The client does everything a real call does (rate limiter check, request building,
//! credentials, retry bookkeeping, status and envelope decoding); the raw loops send the same
//! request and read the body. Two placements, each its own row:
//! - the target row: the client on one core (a current-thread runtime), the emulator on its
//!   own worker thread, as a client and its server always are. Each call also pays two
//!   cross-thread wake-ups, as every real call pays a network round trip.
//! - the diagnostic row: emulator and loops share one current-thread runtime, so calls/s
//!   measure the CPU each side spends per call, the server's included. Plain reqwest alone is
//!   about 0.7x of the raw loop there, so the row carries no target: it shows where the time
//!   goes (reqwest's stack, then cfstream-http's own work).
//!
//! A third row times what is cfstream-http's own on every call: the typed envelope decode.

use std::hint::black_box;
use std::time::Instant;

use anyhow::{Context as _, bail};
use cfstream_emulator::{DEMO_TOKEN, Emulator, Progress, RateLimit};
use cfstream_http::{Client, RateLimit as ClientRateLimit, reqwest};
use cfstream_types::{AccountId, Credentials, DownloadsEnvelope, Endpoint, VideoId};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::raw::{body_len, runtime};
use super::{Row, note, thousands};

/// Rounds per side: many short rounds, so a slow spell of the shared machine hits a few
/// rounds of every side rather than all of one side.
const ROUNDS: u32 = 30;
const WARM_UP: u32 = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Client,
    Reqwest,
    Hyper,
}

const SIDES: [Side; 3] = [Side::Hyper, Side::Reqwest, Side::Client];

struct Loops {
    client: Client,
    reqwest: reqwest::Client,
    hyper: HyperClient<HttpConnector, String>,
    url: String,
    uri: hyper::Uri,
    account: AccountId,
    video: VideoId,
}

impl Loops {
    async fn call(&self, side: Side) -> anyhow::Result<()> {
        match side {
            Side::Client => {
                let d = self.client.downloads(&self.account).list(&self.video).await?;
                if d.default.is_none() {
                    bail!("the list answer has no default download");
                }
            }
            Side::Reqwest => {
                let resp = self.reqwest.get(&self.url).bearer_auth(DEMO_TOKEN).send().await?;
                if resp.status() != 200 {
                    bail!("reqwest call answered {}", resp.status());
                }
                resp.bytes().await?;
            }
            Side::Hyper => {
                let req = hyper::Request::get(self.uri.clone())
                    .header("authorization", format!("Bearer {DEMO_TOKEN}"))
                    .body(String::new())?;
                let resp = self.hyper.request(req).await?;
                if resp.status() != 200 {
                    bail!("raw call answered {}", resp.status());
                }
                body_len(resp.into_body()).await?;
            }
        }
        Ok(())
    }

    /// Calls per second of `calls` sequential calls.
    async fn rate(&self, side: Side, calls: u32) -> anyhow::Result<f64> {
        let t = Instant::now();
        for _ in 0..calls {
            self.call(side).await?;
        }
        Ok(f64::from(calls) / t.elapsed().as_secs_f64())
    }
}

/// What one placement measured: the median calls/s of each side (in `SIDES` order) and the
/// median of the per-round ratios cfstream-http / hyper.
struct Measured {
    rates: [f64; 3],
    ratio: f64,
}

/// The median of `v` (not empty).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

/// Runs `ROUNDS` rounds of `calls / ROUNDS` calls per side. Each round measures the three sides
/// back to back (in a rotating order), so a round's ratio compares calls made within the same
/// fraction of a second; the median ratio over rounds is what the table reports.
fn measure(shared_thread: bool, calls: u32) -> anyhow::Result<Measured> {
    let per_round = (calls / ROUNDS).max(1);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let server = if shared_thread { None } else { Some(runtime(1)?) };
    let start =
        Emulator::builder().progress(Progress::Instant).rate_limit(RateLimit::disabled()).start();
    let emulator = match &server {
        Some(server) => server.block_on(start)?,
        None => rt.block_on(start)?,
    };
    let account = emulator.account();
    let video = emulator.ready_video().context("the demo seed has no video ready to stream")?;
    let base = emulator.base_url();
    let result = rt.block_on(async {
        let client = Client::builder()
            .credentials(Credentials::token(DEMO_TOKEN))
            .base_url(base.as_str())
            .rate_limit(ClientRateLimit::unlimited())
            .build()?;
        // A ready default download, so each list answer carries a typical body.
        client.downloads(&account).create(&video).await?;
        let url = Endpoint::list(&account, &video).url(base.as_str());
        let uri: hyper::Uri = url.parse()?;
        let hyper = HyperClient::builder(TokioExecutor::new()).build_http();
        let reqwest = reqwest::Client::new();
        let loops = Loops { client, reqwest, hyper, url, uri, account, video };
        for side in SIDES {
            for _ in 0..WARM_UP {
                loops.call(side).await?;
            }
        }
        let mut rates: [Vec<f64>; 3] = Default::default();
        let mut ratios = Vec::new();
        for round in 0..ROUNDS as usize {
            let mut this = [0.0; 3];
            for k in 0..SIDES.len() {
                let i = (round + k) % SIDES.len();
                this[i] = loops.rate(SIDES[i], per_round).await?;
                rates[i].push(this[i]);
            }
            ratios.push(this[2] / this[0]);
        }
        let [hyper, reqwest, client] = rates.map(median);
        let ratio = median(ratios);
        note(format_args!(
            "client ({}): medians of {ROUNDS} rounds: hyper {hyper:.0}/s, reqwest {reqwest:.0}/s, \
             cfstream-http {client:.0}/s, ratio {ratio:.2}",
            if shared_thread { "one thread" } else { "two threads" },
        ));
        anyhow::Ok(Measured { rates: [hyper, reqwest, client], ratio })
    });
    match &server {
        Some(server) => server.block_on(emulator.shutdown()),
        None => rt.block_on(emulator.shutdown()),
    }
    result
}

pub(crate) fn run(calls: u32) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    // The target row: the client on one core (its own current-thread runtime), the server
    // elsewhere, as a client and the API always are.
    let Measured { rates: [hyper, reqwest, client], ratio } = measure(false, calls)?;
    rows.push(Row {
        bench: format!(
            "client: sequential `list` calls on 1 connection, client on one core (current-thread \
             runtime), emulator on its own thread ({} calls per side in {ROUNDS} interleaved \
             rounds; medians)",
            thousands(u64::from(calls))
        ),
        measured: format!(
            "cfstream-http: {} calls/s (plain reqwest: {} calls/s)",
            thousands(client as u64),
            thousands(reqwest as u64)
        ),
        baseline: format!("raw hyper loop: {} calls/s", thousands(hyper as u64)),
        ratio: format!("{ratio:.2}x"),
        target: ">= 0.7x".to_owned(),
        met: Some(ratio >= 0.7),
    });
    // The diagnostic row: client and server share one thread, so calls/s measure the CPU
    // each side spends per call. No target: plain reqwest alone is about 0.7x here.
    let Measured { rates: [hyper, reqwest, client], ratio } = measure(true, calls)?;
    rows.push(Row {
        bench: format!(
            "client CPU cost: the same calls with client and emulator sharing one thread ({} \
             calls per side in {ROUNDS} rounds; medians)",
            thousands(u64::from(calls))
        ),
        measured: format!(
            "cfstream-http: {} calls/s (plain reqwest: {} calls/s, {:.2}x)",
            thousands(client as u64),
            thousands(reqwest as u64),
            reqwest / hyper
        ),
        baseline: format!("raw hyper loop: {} calls/s", thousands(hyper as u64)),
        ratio: format!("{ratio:.2}x ({:.2}x of plain reqwest)", client / reqwest),
        target: "none (diagnostic)".to_owned(),
        met: None,
    });
    rows.push(decode_row());
    Ok(rows)
}

/// A list answer as the emulator sends it: both downloads, one ready with its URL.
const LIST_BODY: &[u8] = br#"{"success":true,"errors":[],"messages":[],"result":{"default":{"status":"ready","url":"https://customer-f33zs165nr7gyfy4.cloudflarestream.com/ea95132c15732412d22c1476fa83f27a/downloads/default.mp4","percentComplete":100},"audio":{"status":"inprogress","percentComplete":75.5}}}"#;

/// The client's share of a call that is its own: decoding the envelope into the typed model,
/// against parsing the same body into an untyped `serde_json::Value` (which any client would
/// do at least). Guards the hot path against costly serde patterns (`flatten` cost 2.2x).
fn decode_row() -> Row {
    const N: u32 = 20_000;
    let typed = || {
        for _ in 0..N {
            let d = cfstream_types::decode::<DownloadsEnvelope>(black_box(LIST_BODY));
            black_box(d.is_ok());
        }
    };
    let untyped = || {
        for _ in 0..N {
            let v = serde_json::from_slice::<serde_json::Value>(black_box(LIST_BODY));
            black_box(v.is_ok());
        }
    };
    let time = |f: &dyn Fn()| {
        let t = Instant::now();
        f();
        t.elapsed().as_secs_f64() * 1e6 / f64::from(N)
    };
    typed();
    untyped();
    let (mut t, mut u, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let (a, b) = (time(&typed), time(&untyped));
        ratios.push(a / b);
        t.push(a);
        u.push(b);
    }
    let (t, u, ratio) = (median(t), median(u), median(ratios));
    note(format_args!("decode: typed {t:.2} µs, untyped {u:.2} µs, ratio {ratio:.2}"));
    Row {
        bench: format!(
            "decode: a {}-byte list answer into `DownloadsEnvelope` ({ROUNDS} rounds of {} \
             decodes; medians)",
            LIST_BODY.len(),
            thousands(u64::from(N))
        ),
        measured: format!("typed: {t:.2} µs/body"),
        baseline: format!("`serde_json::Value`: {u:.2} µs/body"),
        ratio: format!("{ratio:.2}x the cost"),
        target: "<= 1.5x".to_owned(),
        met: Some(ratio <= 1.5),
    }
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn the_decode_body_is_a_list_answer() {
        let d = cfstream_types::decode::<cfstream_types::DownloadsEnvelope>(super::LIST_BODY)
            .unwrap()
            .into_result()
            .unwrap();
        assert!(d.default.is_some_and(|d| d.url.is_some()) && d.audio.is_some());
    }

    #[test]
    fn medians() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(vec![f64::NAN, 1.0, 2.0]), 2.0);
    }
}
