//! cfstream-http calls/s against a raw hyper loop, both sending `GET .../downloads` (the list
//! route) one call at a time to the same emulator on loopback.
//!
//! The client does everything a real call does (rate limiter check, request building,
//! credentials, retry bookkeeping, status and envelope decoding); the raw loop sends the same
//! request with a pooled hyper client and reads the body. The emulator serves on its own
//! one-worker runtime; each loop runs on a current-thread runtime on the calling thread.

use std::time::Instant;

use anyhow::{Context as _, bail};
use cfstream_emulator::{DEMO_TOKEN, Emulator, Progress, RateLimit};
use cfstream_http::{Client, RateLimit as ClientRateLimit};
use cfstream_types::{AccountId, Credentials, Endpoint, VideoId};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::raw::{body_len, runtime};
use super::{Row, note, thousands};

const ROUNDS: usize = 3;
const WARM_UP: u32 = 200;

struct Loops {
    client: Client,
    raw: HyperClient<HttpConnector, String>,
    uri: hyper::Uri,
    account: AccountId,
    video: VideoId,
}

impl Loops {
    async fn client_call(&self) -> anyhow::Result<()> {
        let d = self.client.downloads(&self.account).list(&self.video).await?;
        if d.default.is_none() {
            bail!("the list answer has no default download");
        }
        Ok(())
    }

    async fn raw_call(&self) -> anyhow::Result<()> {
        let req = hyper::Request::get(self.uri.clone())
            .header("authorization", format!("Bearer {DEMO_TOKEN}"))
            .body(String::new())?;
        let resp = self.raw.request(req).await?;
        if resp.status() != 200 {
            bail!("raw call answered {}", resp.status());
        }
        body_len(resp.into_body()).await?;
        Ok(())
    }

    /// Calls per second of `calls` sequential calls.
    async fn rate(&self, client: bool, calls: u32) -> anyhow::Result<f64> {
        let t = Instant::now();
        for _ in 0..calls {
            if client { self.client_call().await? } else { self.raw_call().await? }
        }
        Ok(f64::from(calls) / t.elapsed().as_secs_f64())
    }
}

pub(crate) fn run(calls: u32) -> anyhow::Result<Row> {
    let server = runtime(1)?;
    let emulator = server.block_on(
        Emulator::builder().progress(Progress::Instant).rate_limit(RateLimit::disabled()).start(),
    )?;
    let account = emulator.account();
    let video = emulator
        .videos()
        .into_iter()
        .find(|v| v.ready_to_stream)
        .context("the demo seed has no video ready to stream")?
        .id;
    let base = emulator.base_url();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let result = rt.block_on(async {
        let client = Client::builder()
            .credentials(Credentials::token(DEMO_TOKEN))
            .base_url(base.as_str())
            .rate_limit(ClientRateLimit::unlimited())
            .build()?;
        // A ready default download, so each list answer carries a typical body.
        client.downloads(&account).create(&video).await?;
        let uri: hyper::Uri = Endpoint::list(&account, &video).url(base.as_str()).parse()?;
        let raw = HyperClient::builder(TokioExecutor::new()).build_http();
        let loops = Loops { client, raw, uri, account, video };
        for _ in 0..WARM_UP {
            loops.client_call().await?;
            loops.raw_call().await?;
        }
        // Interleaved rounds spread the noise of a shared machine over both sides.
        let (mut c, mut r) = (0.0, 0.0);
        for round in 1..=ROUNDS {
            let raw = loops.rate(false, calls).await?;
            let cl = loops.rate(true, calls).await?;
            note(format_args!("client: round {round}: client {cl:.0}/s, raw hyper {raw:.0}/s"));
            r += raw;
            c += cl;
        }
        anyhow::Ok((c / ROUNDS as f64, r / ROUNDS as f64))
    });
    server.block_on(emulator.shutdown());
    let (c, r) = result?;
    let ratio = c / r;
    Ok(Row {
        bench: format!(
            "client: sequential `list` calls, 1 connection ({ROUNDS} x {} calls per side)",
            thousands(u64::from(calls))
        ),
        measured: format!("cfstream-http: {} calls/s", thousands(c as u64)),
        baseline: format!("raw hyper loop: {} calls/s", thousands(r as u64)),
        ratio: format!("{ratio:.2}x"),
        target: ">= 0.7x".to_owned(),
        met: Some(ratio >= 0.7),
    })
}
