//! Fetch throughput against curl on the same emulator file, and peak RSS of the fetch.
//!
//! Each side runs as a child process writing into the same scratch directory: curl with
//! `--output FILE`, and this xtask's hidden `bench --child-fetch URL DIR`, which calls
//! `DownloadsApi::fetch` (`.part` file, then rename) on a multi-thread runtime as the CLI does.
//! Peak RSS is the child's `VmHWM` from `/proc/<pid>/status`, polled until it exits. The
//! emulator serves the file from this process; it generates the bytes as it streams them,
//! which costs both sides the same.
//!
//! cfstream-http fsyncs the file before its atomic rename (a crash never leaves a half file
//! under the final name); curl does not, so its file may still sit in the page cache when it
//! exits. The judged baseline is therefore curl followed by `sync FILE` (both sides end with
//! the bytes on disk); curl alone is shown beside it.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use cfstream_emulator::{DEMO_ACCOUNT, DEMO_TOKEN, Emulator, Progress, RateLimit};
use cfstream_http::{Client, FetchOptions, RateLimit as ClientRateLimit};
use cfstream_types::{AccountId, Credentials, Download, DownloadStatus, PercentComplete, Url};

use super::raw::runtime;
use super::{Row, note};

const MIB: u64 = 1024 * 1024;

/// One child run: wall time and peak resident memory.
#[derive(Debug, Clone, Copy)]
struct Run {
    secs: f64,
    peak_kib: u64,
    /// For curl: the time before the `sync FILE` that makes its bytes durable.
    before_sync_secs: f64,
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Runs `cmd`, polling its peak RSS, and checks that it wrote `size` bytes into `dir`. With
/// `sync_after`, then runs `sync` on that file and counts its time too.
fn measure(
    mut cmd: Command,
    dir: &Path,
    size: u64,
    sync_after: Option<&Path>,
) -> anyhow::Result<Run> {
    clear(dir)?;
    let t = Instant::now();
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    let mut peak_kib = 0;
    let status = loop {
        if let Some(kib) = vm_hwm_kib(child.id()) {
            peak_kib = peak_kib.max(kib);
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let before_sync_secs = t.elapsed().as_secs_f64();
    if status.success()
        && let Some(file) = sync_after
    {
        let synced = Command::new("sync").arg(file).status()?;
        if !synced.success() {
            bail!("sync {} failed: {synced}", file.display());
        }
    }
    let secs = t.elapsed().as_secs_f64();
    if !status.success() {
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            use std::io::Read as _;
            let _ = e.read_to_string(&mut err);
        }
        bail!("{cmd:?} failed ({status}): {}", err.trim());
    }
    let written: u64 = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    if written != size {
        bail!("{cmd:?} wrote {written} bytes, expected {size}");
    }
    clear(dir)?;
    Ok(Run { secs, peak_kib, before_sync_secs })
}

fn clear(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot clear {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}

fn curl_available() -> bool {
    Command::new("curl")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

pub(crate) fn run(mib: u64, runs: u32) -> anyhow::Result<Row> {
    let size = mib * MIB;
    let rt = runtime(0)?;
    let emulator = rt.block_on(
        Emulator::builder()
            .progress(Progress::Instant)
            .rate_limit(RateLimit::disabled())
            .file_size(size)
            .start(),
    )?;
    let dir: PathBuf =
        std::env::temp_dir().join(format!("cfstream-bench-fetch-{}", std::process::id()));
    let result = measure_both(&rt, &emulator, &dir, size, runs.max(1));
    let _ = std::fs::remove_dir_all(&dir);
    rt.block_on(emulator.shutdown());
    let (ours, curl) = result?;
    let mibps = |r: Run| size as f64 / MIB as f64 / r.secs;
    let rss_mib = |r: Run| r.peak_kib as f64 / 1024.0;
    let rss_ok = rss_mib(ours) < 32.0;
    let bench =
        format!("fetch: one {mib} MiB file from the emulator, best of {runs} runs per side");
    Ok(match curl {
        Some(curl) => {
            let ratio = mibps(ours) / mibps(curl);
            Row {
                bench,
                measured: format!(
                    "cfstream-http fetch: {:.0} MiB/s, peak RSS {:.1} MiB",
                    mibps(ours),
                    rss_mib(ours)
                ),
                baseline: format!(
                    "curl then `sync FILE`: {:.0} MiB/s (curl alone, bytes not yet on disk: {:.0} MiB/s), peak RSS {:.1} MiB",
                    mibps(curl),
                    size as f64 / MIB as f64 / curl.before_sync_secs,
                    rss_mib(curl)
                ),
                ratio: format!("{ratio:.2}x"),
                target: ">= 0.8x curl, RSS < 32 MiB".to_owned(),
                met: Some(ratio >= 0.8 && rss_ok),
            }
        }
        None => Row {
            bench,
            measured: format!(
                "cfstream-http fetch: {:.0} MiB/s, peak RSS {:.1} MiB",
                mibps(ours),
                rss_mib(ours)
            ),
            baseline: "curl not on PATH: not compared".to_owned(),
            ratio: String::new(),
            target: "RSS < 32 MiB".to_owned(),
            met: Some(rss_ok),
        },
    })
}

fn measure_both(
    rt: &tokio::runtime::Runtime,
    emulator: &cfstream_emulator::RunningEmulator,
    dir: &Path,
    size: u64,
    runs: u32,
) -> anyhow::Result<(Run, Option<Run>)> {
    let account = emulator.account();
    let video = emulator.ready_video().context("the demo seed has no video ready to stream")?;
    let url = rt.block_on(async {
        let client = Client::builder()
            .credentials(Credentials::token(DEMO_TOKEN))
            .base_url(emulator.base_url().as_str())
            .rate_limit(ClientRateLimit::unlimited())
            .build()?;
        let d = client.downloads(&account).create(&video).await?;
        d.default.and_then(|d| d.url).context("the created download has no url")
    })?;
    let exe = std::env::current_exe().context("cannot find the xtask binary")?;
    let curl = curl_available();
    if !curl {
        note("fetch: curl is not on PATH, measuring cfstream-http alone");
    }
    let best = |a: Option<Run>, b: Run| match a {
        Some(a) if a.secs <= b.secs => a,
        _ => b,
    };
    let (mut ours, mut theirs) = (None, None);
    for round in 1..=runs {
        if curl {
            let mut cmd = Command::new("curl");
            cmd.args(["--silent", "--show-error", "--fail", "--output"])
                .arg(dir.join("curl.mp4"))
                .arg(url.as_str());
            let r = measure(cmd, dir, size, Some(&dir.join("curl.mp4")))?;
            note(format_args!(
                "fetch: round {round}: curl {:.2}s, then sync {:.2}s, {} KiB peak",
                r.before_sync_secs, r.secs, r.peak_kib
            ));
            theirs = Some(best(theirs, r));
        }
        let mut cmd = Command::new(&exe);
        cmd.args(["bench", "--child-fetch", url.as_str()]).arg(dir);
        let r = measure(cmd, dir, size, None)?;
        note(format_args!(
            "fetch: round {round}: cfstream-http {:.2}s, {} KiB peak",
            r.secs, r.peak_kib
        ));
        ours = Some(best(ours, r));
    }
    Ok((ours.context("no fetch run")?, theirs))
}

/// The child process: fetch `url` into `dir` with cfstream-http and print the bytes written.
pub(crate) fn child(url: &str, dir: &str) -> anyhow::Result<ExitCode> {
    let url = Url::parse(url).with_context(|| format!("invalid url '{url}'"))?;
    // As the CLI runs: a multi-thread runtime, one worker per core.
    let rt = runtime(0)?;
    // The file host never sees API credentials; these are only there to build a client.
    let client =
        Client::builder().credentials(Credentials::token("not-sent-to-file-hosts")).build()?;
    let account: AccountId = DEMO_ACCOUNT.parse()?;
    let download = Download::new(DownloadStatus::Ready, PercentComplete::new(100.0)?).with_url(url);
    let outcome = rt.block_on(client.downloads(&account).fetch(
        &download,
        Path::new(dir),
        FetchOptions::default().overwrite(true).resume(false),
    ))?;
    writeln!(std::io::stdout().lock(), "{} {}", outcome.bytes, outcome.path.display())?;
    Ok(ExitCode::SUCCESS)
}
