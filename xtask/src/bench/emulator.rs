//! Emulator requests/s and latency at N keep-alive connections, each beside a bare hyper
//! server that answers the same bytes (same status, headers and body, captured from the
//! emulator first), measured in the same run on the same machine: `list`, `create`, a GET of
//! a 1 MiB file and a 64 KiB `Range` of it.
//!
//! Two load generators: an in-process hyper load loop (as fast as each connection allows, for
//! a fixed time after a one-second warm-up), and `wrk` when it is installed. The servers and
//! the in-process loop each get a runtime with one worker per core, in the same process, on
//! the same cores: the loop's own cost is inside the figure, so it is a lower bound for the
//! server alone; `wrk` is a separate process with one thread per core (two on a 2-core
//! machine), on the same cores too, with the same settings for both sides.
//!
//! The sides are interleaved, emulator, bare, bare, emulator (each half of the measured
//! time), so that a slow spell of a shared machine weighs on both alike. A side's rate is its
//! requests over both halves; with the loop its percentiles are over every request of both,
//! with `wrk` the p50 is the mean of the halves' and the p99 and max the worse half's. Latency
//! is measured by the load generator, so it includes the generator's own waits for a core:
//! with four busy threads on two cores, a p99 of a few milliseconds is mostly scheduling (the
//! bare server's own p99 shows how much).

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use cfstream_emulator::{DEMO_TOKEN, Emulator, Progress, RateLimit};
use cfstream_types::Endpoint;
use http_body_util::{BodyExt as _, Full};
use hyper::http::{HeaderMap, Method, StatusCode, header};
use hyper_util::rt::TokioIo;
use tokio::time::Instant;

use super::raw::{body_len, percentile, runtime};
use super::{Row, note, thousands};

const WARM_UP: Duration = Duration::from_secs(1);
const FILE_SIZE: u64 = 1024 * 1024;
const RANGE: &str = "bytes=0-65535";

/// One request, sent again and again.
#[derive(Debug, Clone)]
struct Route {
    name: &'static str,
    method: Method,
    /// Path and query.
    path: String,
    headers: Vec<(header::HeaderName, String)>,
    expect: StatusCode,
    target: Option<Target>,
}

/// A target: at least `ratio` of the bare server's requests/s, p99 under `p99_ms`.
#[derive(Debug, Clone, Copy)]
struct Target {
    ratio: f64,
    p99_ms: f64,
}

/// One side's figures.
#[derive(Debug, Clone, Copy)]
struct Stats {
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    /// The servers' CPU time per request (µs), user and system: with `wrk`, whose load runs
    /// in its own process, this process's CPU time is the servers' alone. A figure the
    /// machine's noise moves less than the rate, as it does not count the waits.
    cpu_us: Option<f64>,
}

impl Stats {
    fn show(&self) -> String {
        format!(
            "{}/s; p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms",
            thousands(self.rate as u64),
            self.p50_ms,
            self.p99_ms,
            self.max_ms
        ) + &self.cpu_us.map(|c| format!("; server CPU {c:.2} µs/request")).unwrap_or_default()
    }
}

/// This process's CPU time so far (user and system, every thread).
fn process_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(u64::try_from(t.tv_sec).unwrap_or(0), u32::try_from(t.tv_nsec).unwrap_or(0))
}

type Sender = hyper::client::conn::http1::SendRequest<String>;

async fn connect(addr: SocketAddr) -> anyhow::Result<Sender> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) =
        hyper::client::conn::http1::handshake::<_, String>(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

fn request(addr: SocketAddr, route: &Route) -> anyhow::Result<hyper::Request<String>> {
    let mut b = hyper::Request::builder()
        .method(route.method.clone())
        .uri(route.path.as_str())
        .header(header::HOST, addr.to_string());
    for (k, v) in &route.headers {
        b = b.header(k, v.as_str());
    }
    Ok(b.body(String::new())?)
}

/// Latencies (µs) of one side's measured requests, and how long they were measured.
#[derive(Debug, Default)]
struct Sample {
    latencies: Vec<u32>,
    secs: f64,
}

impl Sample {
    fn add(&mut self, other: Sample) {
        self.latencies.extend(other.latencies);
        self.secs += other.secs;
    }

    fn stats(mut self) -> Stats {
        let lat = &mut self.latencies;
        lat.sort_unstable();
        let ms = |us: u32| f64::from(us) / 1000.0;
        Stats {
            rate: lat.len() as f64 / self.secs.max(f64::MIN_POSITIVE),
            p50_ms: ms(percentile(lat, 50.0)),
            p99_ms: ms(percentile(lat, 99.0)),
            max_ms: ms(lat.last().copied().unwrap_or(0)),
            cpu_us: None,
        }
    }
}

/// Two halves of one side measured by `wrk`: requests over both, the mean p50, the worse p99
/// and max.
fn combine(a: Stats, b: Stats) -> Stats {
    Stats {
        rate: (a.rate + b.rate) / 2.0,
        p50_ms: (a.p50_ms + b.p50_ms) / 2.0,
        p99_ms: a.p99_ms.max(b.p99_ms),
        max_ms: a.max_ms.max(b.max_ms),
        cpu_us: a.cpu_us.zip(b.cpu_us).map(|(a, b)| (a + b) / 2.0),
    }
}

/// One connection's loop: latencies (µs) of the requests started after `measure_from`.
async fn connection(
    addr: SocketAddr,
    route: Arc<Route>,
    measure_from: Instant,
    end: Instant,
) -> anyhow::Result<Vec<u32>> {
    let mut sender = connect(addr).await?;
    let mut latencies = Vec::with_capacity(1 << 16);
    loop {
        let t0 = Instant::now();
        if t0 >= end {
            break;
        }
        sender.ready().await?;
        let resp = sender.send_request(request(addr, &route)?).await?;
        let status = resp.status();
        body_len(resp.into_body()).await?;
        if status != route.expect {
            bail!("{} answered {status}, not {}", route.name, route.expect);
        }
        if t0 >= measure_from {
            let us = t0.elapsed().as_micros();
            latencies.push(u32::try_from(us).unwrap_or(u32::MAX));
        }
    }
    Ok(latencies)
}

/// The in-process load loop against `addr`.
fn load(
    rt: &tokio::runtime::Runtime,
    addr: SocketAddr,
    route: &Route,
    connections: usize,
    measure: Duration,
) -> anyhow::Result<Sample> {
    let route = Arc::new(route.clone());
    let latencies = rt.block_on(async {
        let measure_from = Instant::now() + WARM_UP;
        let end = measure_from + measure;
        let tasks: Vec<_> = (0..connections)
            .map(|_| tokio::spawn(connection(addr, Arc::clone(&route), measure_from, end)))
            .collect();
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await??);
        }
        anyhow::Ok(all)
    })?;
    Ok(Sample { latencies, secs: measure.as_secs_f64() })
}

/// One answer, as the bare server replays it.
#[derive(Debug, Clone)]
struct Captured {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

/// The emulator's answer to `route`, headers and all.
async fn capture(addr: SocketAddr, route: &Route) -> anyhow::Result<Captured> {
    let mut sender = connect(addr).await?;
    let resp = sender.send_request(request(addr, route)?).await?;
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.context("cannot read the emulator's answer")?.to_bytes();
    if parts.status != route.expect {
        bail!("{} answered {}, not {}", route.name, parts.status, route.expect);
    }
    let mut headers = parts.headers;
    // hyper writes these itself.
    for h in [header::DATE, header::CONNECTION, header::TRANSFER_ENCODING] {
        headers.remove(h);
    }
    Ok(Captured { status: parts.status, headers, body })
}

/// A bare hyper server (HTTP/1.1, keep-alive) answering `answer` to every request.
async fn bare(answer: Captured) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let answer = Arc::clone(&answer);
            let service = hyper::service::service_fn(move |_req| {
                let mut r = hyper::Response::new(Full::new(answer.body.clone()));
                *r.status_mut() = answer.status;
                *r.headers_mut() = answer.headers.clone();
                async move { Ok::<_, std::convert::Infallible>(r) }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    Ok(addr)
}

/// `wrk` against `addr` for `route`, when `wrk` is installed: its requests/s and p99.
fn wrk(
    addr: SocketAddr,
    route: &Route,
    connections: usize,
    measure: Duration,
    dir: &std::path::Path,
) -> anyhow::Result<Option<Stats>> {
    if Command::new("wrk").arg("--version").output().is_err() {
        return Ok(None);
    }
    let script = dir.join(format!("{}.lua", route.name.replace(' ', "_")));
    let mut lua = format!("wrk.method = \"{}\"\n", route.method);
    for (k, v) in &route.headers {
        lua.push_str(&format!("wrk.headers[\"{k}\"] = \"{v}\"\n"));
    }
    std::fs::write(&script, lua)?;
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).min(connections);
    let cpu = process_cpu();
    let out = Command::new("wrk")
        .args(["--latency", "-t", &threads.to_string(), "-c", &connections.to_string()])
        .arg("-d")
        .arg(format!("{}s", measure.as_secs().max(1)))
        .arg("-s")
        .arg(&script)
        .arg(format!("http://{addr}{}", route.path))
        .output()
        .context("cannot run wrk")?;
    let cpu = process_cpu().saturating_sub(cpu);
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || text.contains("Non-2xx") {
        bail!("wrk failed on {}: {text}{}", route.name, String::from_utf8_lossy(&out.stderr));
    }
    let mut stats =
        parse_wrk(&text).with_context(|| format!("cannot read wrk's output:\n{text}"))?;
    stats.cpu_us = wrk_requests(&text).map(|n| cpu.as_secs_f64() * 1e6 / n.max(1) as f64);
    Ok(Some(stats))
}

/// `1.23ms`, `456.00us`, `1.20s` -> milliseconds.
fn wrk_ms(v: &str) -> Option<f64> {
    let (n, unit) = v.find(|c: char| c.is_ascii_alphabetic()).map(|i| v.split_at(i))?;
    let n: f64 = n.parse().ok()?;
    Some(match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => return None,
    })
}

/// `  124000 requests in 2.00s, 40.00MB read` -> 124000.
fn wrk_requests(text: &str) -> Option<u64> {
    text.lines().find_map(|l| l.trim().split_once(" requests in ")?.0.parse().ok())
}

fn parse_wrk(text: &str) -> Option<Stats> {
    let field = |prefix: &str| {
        text.lines().find_map(|l| l.trim().strip_prefix(prefix).map(|r| r.trim().to_owned()))
    };
    let rate: f64 = field("Requests/sec:")?.parse().ok()?;
    let p50_ms = wrk_ms(&field("50%")?)?;
    let p99_ms = wrk_ms(&field("99%")?)?;
    // `Latency   1.02ms  322.00us  10.68ms   85.43%`: avg, stdev, max.
    let max_ms = wrk_ms(field("Latency")?.split_whitespace().nth(2)?)?;
    Some(Stats { rate, p50_ms, p99_ms, max_ms, cpu_us: None })
}

fn rows_of(
    route: &Route,
    connections: usize,
    half: Duration,
    emu: Stats,
    bare: Stats,
    tool: &str,
) -> Row {
    let ratio = emu.rate / bare.rate;
    let (target, met) = match route.target {
        Some(t) => (
            format!(">= {:.1}x the bare server, p99 < {} ms", t.ratio, t.p99_ms),
            Some(ratio >= t.ratio && emu.p99_ms < t.p99_ms),
        ),
        None => ("none (diagnostic)".to_owned(), None),
    };
    Row {
        bench: format!(
            "emulator: {} at {connections} keep-alive connections, 2 x {:?} a side, {tool}",
            route.name, half
        ),
        measured: format!("emulator: {}", emu.show()),
        baseline: format!("bare hyper server, same bytes: {}", bare.show()),
        ratio: match emu.cpu_us.zip(bare.cpu_us) {
            Some((e, b)) => format!("{ratio:.2}x (CPU per request {:.2}x)", e / b),
            None => format!("{ratio:.2}x"),
        },
        target,
        met,
    }
}

pub(crate) fn run(connections: usize, measure: Duration) -> anyhow::Result<Vec<Row>> {
    let server = runtime(0)?;
    let emulator = server.block_on(
        Emulator::builder()
            .progress(Progress::Instant)
            .rate_limit(RateLimit::disabled())
            .file_size(FILE_SIZE)
            .start(),
    )?;
    let result = run_against(&server, &emulator, connections, measure);
    server.block_on(emulator.shutdown());
    result
}

fn run_against(
    server: &tokio::runtime::Runtime,
    emulator: &cfstream_emulator::RunningEmulator,
    connections: usize,
    measure: Duration,
) -> anyhow::Result<Vec<Row>> {
    let account = emulator.account();
    let video = emulator.ready_video().context("the demo seed has no video ready to stream")?;
    let addr = emulator.addr();
    let auth = vec![(header::AUTHORIZATION, format!("Bearer {DEMO_TOKEN}"))];
    let api = |name, method, path: String, target| Route {
        name,
        method,
        path: format!("/client/v4{path}"),
        headers: auth.clone(),
        expect: StatusCode::OK,
        target,
    };
    let list = api(
        "`list`",
        Method::GET,
        Endpoint::list(&account, &video).path(),
        Some(Target { ratio: 0.8, p99_ms: 2.0 }),
    );
    let create = api("`create`", Method::POST, Endpoint::create(&account, &video).path(), None);
    let load_rt = runtime(0)?;
    // The download exists and is ready (progress is instant): its url is the file route.
    let listed = load_rt.block_on(async {
        capture(addr, &create).await?;
        capture(addr, &list).await
    })?;
    let body: serde_json::Value = serde_json::from_slice(&listed.body)?;
    let url = body
        .pointer("/result/default/url")
        .and_then(serde_json::Value::as_str)
        .context("the listed download has no url")?;
    let url = cfstream_types::Url::parse(url)?;
    let file_path = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    let file = Route {
        name: "file GET (1 MiB)",
        method: Method::GET,
        path: file_path,
        headers: vec![],
        expect: StatusCode::OK,
        target: None,
    };
    let range = Route {
        name: "file Range (64 KiB)",
        headers: vec![(header::RANGE, RANGE.to_owned())],
        expect: StatusCode::PARTIAL_CONTENT,
        ..file.clone()
    };
    let dir = tempfile::tempdir()?;
    let half = measure / 2;
    // wrk's durations are whole seconds: the half rounded up.
    let wrk_half = Duration::from_secs(half.as_secs() + u64::from(half.subsec_nanos() > 0))
        .max(Duration::from_secs(1));
    let mut rows = Vec::new();
    for route in [list, create, file, range] {
        let answer = load_rt.block_on(capture(addr, &route))?;
        let bare_addr = server.block_on(bare(answer))?;
        note(format_args!(
            "emulator: {} at {connections} connections, {WARM_UP:?} warm-up + {half:?} per half, emulator, bare, bare, emulator",
            route.name
        ));
        let (mut emu, mut base) = (Sample::default(), Sample::default());
        emu.add(load(&load_rt, addr, &route, connections, half)?);
        base.add(load(&load_rt, bare_addr, &route, connections, half)?);
        base.add(load(&load_rt, bare_addr, &route, connections, half)?);
        emu.add(load(&load_rt, addr, &route, connections, half)?);
        let (emu, base) = (emu.stats(), base.stats());
        note(format_args!(
            "emulator: {} emulator {}, bare {}",
            route.name,
            emu.show(),
            base.show()
        ));
        rows.push(rows_of(&route, connections, half, emu, base, "in-process load loop"));
        let emu1 = wrk(addr, &route, connections, wrk_half, dir.path())?;
        let base1 = wrk(bare_addr, &route, connections, wrk_half, dir.path())?;
        let base2 = wrk(bare_addr, &route, connections, wrk_half, dir.path())?;
        let emu2 = wrk(addr, &route, connections, wrk_half, dir.path())?;
        if let (Some(e1), Some(b1), Some(b2), Some(e2)) = (emu1, base1, base2, emu2) {
            let (emu, base) = (combine(e1, e2), combine(b1, b2));
            note(format_args!(
                "emulator: wrk {} emulator {}, bare {}",
                route.name,
                emu.show(),
                base.show()
            ));
            rows.push(rows_of(&route, connections, wrk_half, emu, base, "`wrk`"));
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wrk_output() {
        let text = "Running 2s test @ http://127.0.0.1:1/x\n  2 threads and 64 connections\n  Thread Stats   Avg      Stdev     Max   +/- Stdev\n    Latency     1.02ms  322.00us  10.68ms   85.43%\n    Req/Sec    31.2k     1.1k   33.0k    70.00%\n  Latency Distribution\n     50%  0.98ms\n     75%    1.10ms\n     90%    1.30ms\n     99%    2.50ms\n  124000 requests in 2.00s, 40.00MB read\nRequests/sec:  61992.38\nTransfer/sec:     20.00MB\n";
        let s = parse_wrk(text).unwrap();
        assert!((s.rate - 61_992.38).abs() < 1e-6);
        assert!((s.p50_ms - 0.98).abs() < 1e-9);
        assert!((s.p99_ms - 2.5).abs() < 1e-9);
        assert!((s.max_ms - 10.68).abs() < 1e-9);
        assert_eq!(wrk_requests(text), Some(124_000));
        assert_eq!(wrk_requests("no figures"), None);
        assert_eq!(wrk_ms("456.00us"), Some(0.456));
        assert_eq!(wrk_ms("1.20s"), Some(1200.0));
        assert_eq!(wrk_ms("fast"), None);
    }

    #[test]
    fn halves_combine() {
        let mut s = Sample { latencies: vec![3000, 1000], secs: 1.0 };
        s.add(Sample { latencies: vec![2000, 4000], secs: 1.0 });
        let st = s.stats();
        assert!((st.rate - 2.0).abs() < 1e-9);
        assert!((st.max_ms - 4.0).abs() < 1e-9);
        let a = Stats { rate: 10.0, p50_ms: 1.0, p99_ms: 3.0, max_ms: 9.0, cpu_us: Some(4.0) };
        let b = Stats { rate: 20.0, p50_ms: 2.0, p99_ms: 5.0, max_ms: 7.0, cpu_us: Some(5.0) };
        let c = combine(a, b);
        assert_eq!(
            (c.rate, c.p50_ms, c.p99_ms, c.max_ms, c.cpu_us),
            (15.0, 1.5, 5.0, 9.0, Some(4.5))
        );
        assert_eq!(combine(a, Stats { cpu_us: None, ..b }).cpu_us, None);
    }
}
