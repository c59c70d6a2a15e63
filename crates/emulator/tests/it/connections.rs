//! Idle and slow clients cannot starve the emulator: header-read and idle timeouts, a cap on
//! open connections that closes the longest-idle one to make room, and a clean 503 when every
//! connection is busy.

use std::io::{BufRead, BufReader};
use std::time::Duration;

use cfstream_emulator::{Emulator, Fault, FaultRoute, FaultRule, Faults};
use cfstream_types::Operation;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::common::*;

/// Reads until the server closes the connection; returns what it sent.
async fn read_to_close(stream: &mut (impl tokio::io::AsyncRead + Unpin)) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out).await;
    out
}

/// Sends one list request on `stream` and reads its answer's head.
async fn one_request(emu: &cfstream_emulator::RunningEmulator, stream: &mut TcpStream) {
    let req = format!(
        "GET {} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer cfstream-demo-token\r\n\r\n",
        url::Url::parse(&downloads_url(emu, &ready_video(emu), "")).unwrap().path()
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut buf = vec![0; 4096];
    let n = stream.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200 "), "{}", String::from_utf8_lossy(&buf[..n]));
}

// Virtual time: the test sleeps, and the clock jumps to the next timer (the server's or the
// test's) whenever everything waits, so each close is seen at its exact virtual moment.
#[tokio::test(start_paused = true)]
async fn idle_and_slow_connections_are_closed_on_time() {
    let emu = start().await;
    // Sends nothing: closed when the first head is 30 s late.
    let t0 = Instant::now();
    let mut silent = TcpStream::connect(emu.addr()).await.unwrap();
    assert!(read_to_close(&mut silent).await.is_empty());
    assert_eq!(t0.elapsed().as_secs(), 30);

    // Sends a head a byte every 10 s (slowloris): still closed 30 s after the connect.
    let t1 = Instant::now();
    let (mut slow, mut trickle) = TcpStream::connect(emu.addr()).await.unwrap().into_split();
    trickle.write_all(b"GET /client/v4 HTTP/1.1\r\n").await.unwrap();
    let writer = tokio::spawn(async move {
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_secs(10)).await;
            if trickle.write_all(b"x").await.is_err() {
                break;
            }
        }
    });
    read_to_close(&mut slow).await;
    assert_eq!(t1.elapsed().as_secs(), 30);
    writer.abort();

    // Keep-alive after an answer: closed after 60 s idle.
    let mut kept = TcpStream::connect(emu.addr()).await.unwrap();
    one_request(&emu, &mut kept).await;
    let t2 = Instant::now();
    read_to_close(&mut kept).await;
    assert_eq!(t2.elapsed().as_secs(), 60);

    // Keep-alive, then half a head after 50 s idle: closed 30 s after its first byte.
    let mut half = TcpStream::connect(emu.addr()).await.unwrap();
    one_request(&emu, &mut half).await;
    tokio::time::sleep(Duration::from_secs(50)).await;
    let t3 = Instant::now();
    half.write_all(b"GET /client/v4 HTTP/1.1\r\n").await.unwrap();
    read_to_close(&mut half).await;
    assert_eq!(t3.elapsed().as_secs(), 30, "the head's timeout, not the idle one");

    // Both are settings.
    let emu = builder()
        .idle_timeout(Duration::from_secs(5))
        .header_read_timeout(Duration::from_secs(2))
        .start()
        .await
        .unwrap();
    let t4 = Instant::now();
    read_to_close(&mut TcpStream::connect(emu.addr()).await.unwrap()).await;
    assert_eq!(t4.elapsed().as_secs(), 2);
    let mut kept = TcpStream::connect(emu.addr()).await.unwrap();
    one_request(&emu, &mut kept).await;
    let t5 = Instant::now();
    read_to_close(&mut kept).await;
    assert_eq!(t5.elapsed().as_secs(), 5);
}

#[tokio::test]
async fn every_connection_busy_means_a_clean_503() {
    let emu = builder()
        .max_connections(1)
        .faults(Faults::none().rule(FaultRule::script(
            FaultRoute::Api(Operation::List),
            [Fault::Delay { millis: 3000 }],
        )))
        .start()
        .await
        .unwrap();
    let url = downloads_url(&emu, &ready_video(&emu), "");
    let busy = tokio::spawn(authed(client().get(url)));
    // Let the delayed request reach the server (real time: it holds the only slot for 3 s).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, head, body) = raw(emu.addr(), b"").await;
    assert_eq!(status, 503, "{head}");
    assert!(head.contains("retry-after: 1") && head.contains("connection: close"), "{head}");
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    check_failure_shape(&body);
    assert_eq!(body["errors"][0]["code"], 10503);
    assert_eq!(body["errors"][0]["message"], "too many open connections (at most 1): retry later");
    assert_eq!(busy.await.unwrap().0, 200, "the busy request is answered all the same");
}

/// The environment variable that makes [`capped_server_child`] serve instead of returning.
const CHILD: &str = "CFSTREAM_EMULATOR_CAPPED_CHILD";

/// Not a test on its own: the server of [`a_capped_server_still_answers_under_1100_idle_connections`],
/// run in a child process whose open-file limit is 1024. Without the variable it returns.
#[tokio::test]
async fn capped_server_child() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let nofile = rustix::process::Resource::Nofile;
    let hard = rustix::process::getrlimit(nofile).maximum;
    rustix::process::setrlimit(
        nofile,
        rustix::process::Rlimit { current: Some(1024), maximum: hard },
    )
    .unwrap();
    // The default cap, derived from the limit.
    let emu = Emulator::builder().start().await.unwrap();
    println!("PORT {}", emu.addr().port());
    // Serve until the parent kills this process.
    std::future::pending::<()>().await;
}

#[tokio::test]
async fn a_capped_server_still_answers_under_1100_idle_connections() {
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "connections::capped_server_child", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let port: u16 = loop {
        let line = lines.next().expect("the child printed its port").unwrap();
        // The test harness prints the test's name on the same line.
        if let Some((_, p)) = line.split_once("PORT ") {
            break p.parse().unwrap();
        }
    };
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut idle = Vec::new();
    for _ in 0..1100 {
        idle.push(TcpStream::connect(addr).await.unwrap());
    }
    let emu_base = format!("http://{addr}/client/v4");
    let url = format!(
        "{emu_base}/accounts/{}/stream/{}/downloads",
        cfstream_emulator::DEMO_ACCOUNT,
        cfstream_emulator::DEMO_VIDEOS[0].0
    );
    let answered = tokio::time::timeout(Duration::from_secs(1), authed(client().get(&url))).await;
    let _ = child.kill();
    let _ = child.wait();
    let (status, _, body) = answered.expect("a legitimate client is answered within 1 s");
    assert_eq!(status, 200, "{body}");
    drop(idle);
}
