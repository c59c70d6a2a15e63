//! Emulator requests/s and latency at N keep-alive connections: an in-process hyper load loop
//! sends `GET .../downloads` (authenticated, rate limit off) as fast as each connection
//! allows, for a fixed time after a one-second warm-up.
//!
//! The emulator and the load loop each get a runtime with one worker per core, in the same
//! process, on the same cores: the load loop's own cost is inside the figure, so it is a
//! lower bound for the emulator alone.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context as _, bail};
use cfstream_emulator::{DEMO_TOKEN, Emulator, Progress, RateLimit};
use cfstream_types::Endpoint;
use hyper_util::rt::TokioIo;
use tokio::time::Instant;

use super::raw::{body_len, percentile, runtime};
use super::{Row, note, thousands};

const WARM_UP: Duration = Duration::from_secs(1);

/// One connection's loop: latencies (µs) of the requests started after `measure_from`.
async fn connection(
    addr: SocketAddr,
    path: String,
    measure_from: Instant,
    end: Instant,
) -> anyhow::Result<Vec<u32>> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake::<_, String>(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let auth = format!("Bearer {DEMO_TOKEN}");
    let mut latencies = Vec::with_capacity(1 << 16);
    loop {
        let t0 = Instant::now();
        if t0 >= end {
            break;
        }
        sender.ready().await?;
        let req = hyper::Request::get(path.as_str())
            .header("host", addr.to_string())
            .header("authorization", auth.as_str())
            .body(String::new())?;
        let resp = sender.send_request(req).await?;
        let status = resp.status();
        body_len(resp.into_body()).await?;
        if status != 200 {
            bail!("the emulator answered {status}");
        }
        if t0 >= measure_from {
            let us = t0.elapsed().as_micros();
            latencies.push(u32::try_from(us).unwrap_or(u32::MAX));
        }
    }
    Ok(latencies)
}

pub(crate) fn run(connections: usize, measure: Duration) -> anyhow::Result<Row> {
    let server = runtime(0)?;
    let emulator = server.block_on(
        Emulator::builder().progress(Progress::Instant).rate_limit(RateLimit::disabled()).start(),
    )?;
    let account = emulator.account();
    let video = emulator.ready_video().context("the demo seed has no video ready to stream")?;
    let path = format!("/client/v4{}", Endpoint::list(&account, &video).path());
    let addr = emulator.addr();
    note(format_args!(
        "emulator: {connections} connections, {:?} warm-up + {measure:?} measured",
        WARM_UP
    ));
    let load = runtime(0)?;
    let result = load.block_on(async {
        let measure_from = Instant::now() + WARM_UP;
        let end = measure_from + measure;
        let tasks: Vec<_> = (0..connections)
            .map(|_| tokio::spawn(connection(addr, path.clone(), measure_from, end)))
            .collect();
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await??);
        }
        anyhow::Ok(all)
    });
    server.block_on(emulator.shutdown());
    let mut lat = result?;
    lat.sort_unstable();
    let rate = lat.len() as f64 / measure.as_secs_f64();
    let ms = |us: u32| f64::from(us) / 1000.0;
    let (p50, p99, max) =
        (percentile(&lat, 50.0), percentile(&lat, 99.0), lat.last().copied().unwrap_or(0));
    note(format_args!(
        "emulator: {} requests, {rate:.0}/s, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        lat.len(),
        ms(p50),
        ms(p99),
        ms(max)
    ));
    Ok(Row {
        bench: format!(
            "emulator: `list` at {connections} keep-alive connections, {}s, load loop in the same process",
            measure.as_secs()
        ),
        measured: format!(
            "{} requests/s; p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms",
            thousands(rate as u64),
            ms(p50),
            ms(p99),
            ms(max)
        ),
        baseline: String::new(),
        ratio: String::new(),
        target: ">= 50,000/s, p99 < 5 ms".to_owned(),
        met: Some(rate >= 50_000.0 && ms(p99) < 5.0),
    })
}
