//! Per-call overhead of the client (rate limiter, request building, credentials, envelope
//! parsing) against a raw hyper loop, both calling the same loopback server: the calls on one
//! core (a current-thread runtime), the server on a thread of its own.
//!
//! Prints calls/s of each and the ratio (target: the client reaches at least 70 % of the raw
//! loop). `cargo bench -p cfstream-http` runs a short measurement; set `CFSTREAM_BENCH_CALLS`
//! to change how many calls the ratio is measured over (default 3000). `cargo xtask bench
//! client` is the reference measurement (against the emulator, with medians of many rounds).
// A bench is a test: a panic is a failed run.
#![allow(clippy::print_stdout, clippy::unwrap_used, missing_docs, unreachable_pub)]

#[path = "../tests/it/support/server.rs"]
mod server;

use std::sync::Arc;
use std::time::{Duration, Instant};

use cfstream_http::{Client, RateLimit, RetryConfig};
use cfstream_types::{AccountId, Credentials, VideoId};
use criterion::{Criterion, criterion_group};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

const BODY: &str = r#"{"success":true,"errors":[],"messages":[],"result":{"default":{"status":"ready","url":"https://customer-f33zs165nr7gyfy4.cloudflarestream.com/ea95132c15732412d22c1476fa83f27a/downloads/default.mp4","percentComplete":100},"audio":{"status":"inprogress","percentComplete":75.5}}}"#;

struct Setup {
    rt: tokio::runtime::Runtime,
    /// Runs the server; kept alive for as long as the setup.
    _server: tokio::runtime::Runtime,
    client: Client,
    raw: HyperClient<HttpConnector, server::Full>,
    reqwest: reqwest::Client,
    url: String,
    uri: hyper::Uri,
    account: AccountId,
    video: VideoId,
}

fn setup() -> Setup {
    // The calls on one core; the server on a worker thread of its own.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let server_rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let addr = server_rt.block_on(server::serve(Arc::new(|_| server::Answer::json(200, BODY))));
    let base = format!("http://{addr}/client/v4");
    let client = Client::builder()
        .credentials(Credentials::token("bench-token"))
        .base_url(&base)
        .rate_limit(RateLimit::unlimited())
        .retry(RetryConfig::disabled())
        .build()
        .unwrap();
    let account: AccountId = "023e105f4ecef8ad9ca31a8372d0c353".parse().unwrap();
    let video: VideoId = "ea95132c15732412d22c1476fa83f27a".parse().unwrap();
    let url = cfstream_types::Endpoint::list(&account, &video).url(&base);
    let uri: hyper::Uri = url.parse().unwrap();
    let raw = HyperClient::builder(TokioExecutor::new()).build_http();
    Setup {
        rt,
        _server: server_rt,
        client,
        raw,
        reqwest: reqwest::Client::new(),
        url,
        uri,
        account,
        video,
    }
}

impl Setup {
    async fn client_call(&self) {
        let d = self.client.downloads(&self.account).list(&self.video).await.unwrap();
        assert!(d.default.is_some());
    }

    /// A bare reqwest GET: shows how much of the gap is the HTTP stack the client sits on.
    async fn reqwest_call(&self) {
        let resp = self.reqwest.get(&self.url).bearer_auth("bench-token").send().await.unwrap();
        assert_eq!(resp.bytes().await.unwrap().len(), BODY.len());
    }

    async fn raw_call(&self) {
        let req = hyper::Request::get(self.uri.clone())
            .header("authorization", "Bearer bench-token")
            .body(server::Full::default())
            .unwrap();
        let resp = self.raw.request(req).await.unwrap();
        assert_eq!(resp.status(), 200);
        let body = server::collect(resp.into_body()).await;
        assert_eq!(body.len(), BODY.len());
    }
}

fn bench(c: &mut Criterion) {
    let s = setup();
    let mut g = c.benchmark_group("list");
    g.bench_function("cfstream_client", |b| b.iter(|| s.rt.block_on(s.client_call())));
    g.bench_function("raw_hyper", |b| b.iter(|| s.rt.block_on(s.raw_call())));
    g.finish();
}

fn ratio() {
    let s = setup();
    let n: u32 =
        std::env::var("CFSTREAM_BENCH_CALLS").ok().and_then(|v| v.parse().ok()).unwrap_or(3000);
    let rate = |which: u8| {
        s.rt.block_on(async {
            let one = || async {
                match which {
                    0 => s.raw_call().await,
                    1 => s.reqwest_call().await,
                    _ => s.client_call().await,
                }
            };
            // Warm the connection pools first.
            for _ in 0..50 {
                one().await;
            }
            let t0 = Instant::now();
            for _ in 0..n {
                one().await;
            }
            f64::from(n) / t0.elapsed().as_secs_f64()
        })
    };
    // Interleave to spread out noise from the shared machine.
    let (mut r, mut q, mut c) = (0.0, 0.0, 0.0);
    for _ in 0..3 {
        r += rate(0);
        q += rate(1);
        c += rate(2);
    }
    let (r, q, c) = (r / 3.0, q / 3.0, c / 3.0);
    println!("cfstream client: {c:.0} calls/s");
    println!("bare reqwest:    {q:.0} calls/s ({:.1} % of the raw loop)", 100.0 * q / r);
    println!("raw hyper loop:  {r:.0} calls/s");
    println!("ratio: {:.1} % of the raw loop (target >= 70 %)", 100.0 * c / r);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = bench
}

fn main() {
    benches();
    ratio();
    Criterion::default().configure_from_args().final_summary();
}
