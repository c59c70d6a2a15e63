//! cfstream-http calls/s against a raw hyper loop, both sending `GET .../downloads` (the list
//! route) one call at a time to the same emulator on loopback; a plain reqwest loop is
//! measured too, to tell reqwest's share of the cost from cfstream-http's.
//!
//! The client does everything a real call does (rate limiter check, request building,
//! credentials, retry bookkeeping, status and envelope decoding); the raw loops send the same
//! request and read the body. Two placements, each its own row:
//! - one thread: the emulator and the loops share one current-thread runtime, so calls/s
//!   measure CPU cost per call (stable from run to run);
//! - two threads: the emulator has its own worker thread, so every call also pays two
//!   cross-thread wake-ups, which on an idle VM dominate and hide most of the client's cost.

use std::time::Instant;

use anyhow::{Context as _, bail};
use cfstream_emulator::{DEMO_TOKEN, Emulator, Progress, RateLimit};
use cfstream_http::{Client, RateLimit as ClientRateLimit, reqwest};
use cfstream_types::{AccountId, Credentials, Endpoint, VideoId};
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
    let video = emulator
        .videos()
        .into_iter()
        .find(|v| v.ready_to_stream)
        .context("the demo seed has no video ready to stream")?
        .id;
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
    for shared_thread in [true, false] {
        let Measured { rates: [hyper, reqwest, client], ratio } = measure(shared_thread, calls)?;
        rows.push(Row {
            bench: format!(
                "client: sequential `list` calls on 1 connection, {} ({} calls per side in {ROUNDS} interleaved rounds; medians)",
                if shared_thread {
                    "client and emulator on one thread (CPU cost)"
                } else {
                    "emulator on its own thread (latency)"
                },
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
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn medians() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(vec![f64::NAN, 1.0, 2.0]), 2.0);
    }
}
