//! Arbitrary bytes sent as one HTTP/1.1 connection to a running emulator on loopback.
//!
//! The emulator exposes no in-process router, so this target drives its real accept loop
//! (hyper, the bounds on path, headers and body, the rewrite of hyper's bare answers) over
//! TCP. Invariants: no panic anywhere in the emulator (libFuzzer's panic hook aborts the
//! process, whichever thread panics); every answer starts with an HTTP/1.x status line;
//! no 5XX unless the input itself turned faults on through the admin route; the emulator
//! still answers a well-formed request afterwards.
#![no_main]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::OnceLock;
use std::time::Duration;

use cfstream_emulator::{Admin, Emulator, Faults, Progress, RateLimit, RunningEmulator};
use libfuzzer_sys::fuzz_target;

/// Generous: a hang shows as a failure, a slow shared machine does not.
const ANSWER_WITHIN: Duration = Duration::from_secs(30);

struct Running {
    addr: SocketAddr,
    admin: Admin,
    // Serving for the life of the process (held, not leaked, so LeakSanitizer stays quiet).
    _emulator: RunningEmulator,
    _rt: tokio::runtime::Runtime,
}

fn emulator() -> &'static Running {
    static RUNNING: OnceLock<Running> = OnceLock::new();
    RUNNING.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let emulator = rt
            .block_on(
                Emulator::builder()
                    .progress(Progress::Instant)
                    .rate_limit(RateLimit::disabled())
                    .file_size(4096)
                    .start(),
            )
            .expect("the emulator starts");
        Running { addr: emulator.addr(), admin: emulator.admin(), _emulator: emulator, _rt: rt }
    })
}

/// Sends `request` on a fresh connection, half-closes it if asked, and reads every answer.
///
/// Half-closing ends an incomplete request at once instead of leaving the emulator waiting
/// for more; but hyper (without `half_close`) may then drop the connection before it has
/// answered a complete request, so an empty answer is expected in that case.
fn exchange(addr: SocketAddr, request: &[u8], half_close: bool) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).expect("connect to the emulator");
    stream.set_read_timeout(Some(ANSWER_WITHIN)).expect("set a read timeout");
    stream.set_write_timeout(Some(ANSWER_WITHIN)).expect("set a write timeout");
    // The emulator may answer (e.g. 413, 431) and close before reading everything: a failed
    // write is then expected, not a bug.
    let _ = stream.write_all(request);
    if half_close {
        let _ = stream.shutdown(Shutdown::Write);
    }
    let mut answer = Vec::new();
    match stream.read_to_end(&mut answer) {
        Ok(_) => {}
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            panic!("the emulator did not finish answering within {ANSWER_WITHIN:?}")
        }
        // Reset by the emulator after an early answer: what was read so far stands.
        Err(_) => {}
    }
    answer
}

/// The statuses of every answer in `answer` (pipelined answers included).
fn statuses(answer: &[u8]) -> Vec<u16> {
    let mut out = Vec::new();
    let mut rest = answer;
    while !rest.is_empty() {
        assert!(
            rest.starts_with(b"HTTP/1.1 ") || rest.starts_with(b"HTTP/1.0 "),
            "not a status line: {:?}",
            String::from_utf8_lossy(&rest[..rest.len().min(64)])
        );
        let code = std::str::from_utf8(&rest[9..rest.len().min(12)])
            .ok()
            .and_then(|s| s.parse::<u16>().ok())
            .expect("a three-digit status");
        out.push(code);
        // Skip this answer: headers, then Content-Length bytes of body (the emulator always
        // sends a length or chunks; chunked bodies are not followed, one answer is enough).
        let Some(end) = rest.windows(4).position(|w| w == b"\r\n\r\n") else { break };
        let head = String::from_utf8_lossy(&rest[..end]).to_ascii_lowercase();
        let len = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok());
        match len {
            Some(len) if !head.contains("transfer-encoding") => {
                rest = rest.get(end + 4 + len..).unwrap_or_default();
            }
            _ => break,
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let running = emulator();
    running.admin.set_faults(Faults::none());
    let answer = exchange(running.addr, data, true);
    let statuses = statuses(&answer);
    if running.admin.faults() == Faults::none() {
        assert!(statuses.iter().all(|s| *s < 500), "unasked-for 5XX: {statuses:?}");
    }
    // Still alive and well.
    let probe = exchange(
        running.addr,
        b"GET /__emulator/nothing-here HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        false,
    );
    assert!(
        probe.starts_with(b"HTTP/1.1 4"),
        "the emulator did not answer a probe after the input: {:?}",
        String::from_utf8_lossy(&probe[..probe.len().min(300)])
    );
});
