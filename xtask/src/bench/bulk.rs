//! Bulk creates under the rate limit: `cfstream downloads create --from FILE --jobs N
//! --rate-limit 120/6s` on N videos against an emulator whose limit has Cloudflare's shape
//! scaled 50x faster (120 per 6 s instead of 1200 per 5 min). It takes about
//! `videos / 19.5` seconds (2,000 videos: ~103 s) by construction.
//!
//! Judged on: achieved create rate (whole-process wall time) against the 20 requests/s limit,
//! zero 429s answered by the emulator, every video holding a download at the end.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use cfstream_emulator::{DEMO_ACCOUNT, DEMO_TOKEN, Emulator, Progress, RateLimit, Seed};
use cfstream_http::{Client, RateLimit as ClientRateLimit, RetryConfig};
use cfstream_types::{AccountId, Credentials, VideoId};
use futures::StreamExt as _;

use super::raw::runtime;
use super::{Row, note, thousands};

/// The emulator's limit and the client's: Cloudflare's 1200 per 300 s, 50 times faster.
const LIMIT: u32 = 120;
const WINDOW: Duration = Duration::from_secs(6);
/// The CLI's default attempts per request.
const ATTEMPTS: u32 = 4;

/// Builds the `cfstream` binary in release mode beside this (release) xtask.
fn cli_binary() -> anyhow::Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    note("bulk: building the cfstream CLI (release)");
    let out = Command::new(cargo)
        .args(["build", "--release", "--quiet", "--package", "cfstream", "--bin", "cfstream"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .context("cannot run cargo to build the CLI")?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let first = err.lines().find(|l| l.starts_with("error")).unwrap_or("(no message)");
        bail!("the CLI does not build: {first}");
    }
    let exe = std::env::current_exe().context("cannot find the xtask binary")?;
    let bin = exe.with_file_name(format!("cfstream{}", std::env::consts::EXE_SUFFIX));
    if !bin.exists() {
        bail!("the CLI was built but is not at {}", bin.display());
    }
    Ok(bin)
}

fn through_cli(
    bin: &Path,
    base: &str,
    account: &AccountId,
    ids: &[VideoId],
    jobs: u16,
) -> anyhow::Result<Duration> {
    let list = std::env::temp_dir().join(format!("cfstream-bench-bulk-{}.txt", std::process::id()));
    let mut text = String::from("# cargo xtask bench bulk\n");
    for id in ids {
        text.push_str(id.as_str());
        text.push('\n');
    }
    std::fs::write(&list, text).with_context(|| format!("cannot write {}", list.display()))?;
    let t = Instant::now();
    let out = Command::new(bin)
        .args(["--base-url", base, "--account", account.as_str(), "--quiet", "--no-progress"])
        .args(["downloads", "create", "--from"])
        .arg(&list)
        .args(["--jobs", &jobs.to_string(), "--rate-limit", "120/6s"])
        .args(["--max-attempts", &ATTEMPTS.to_string()])
        .env("CLOUDFLARE_API_TOKEN", DEMO_TOKEN)
        .env_remove("CLOUDFLARE_EMAIL")
        .env_remove("CLOUDFLARE_API_KEY")
        .env_remove("CLOUDFLARE_ACCOUNT_ID")
        .env_remove("CLOUDFLARE_BASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .context("cannot run the CLI")?;
    let elapsed = t.elapsed();
    let _ = std::fs::remove_file(&list);
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(5).collect();
        bail!(
            "the CLI failed ({}): {}",
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
        );
    }
    Ok(elapsed)
}

fn through_library(
    rt: &tokio::runtime::Runtime,
    base: &str,
    account: &AccountId,
    ids: &[VideoId],
    jobs: u16,
) -> anyhow::Result<Duration> {
    rt.block_on(async {
        let client = Client::builder()
            .credentials(Credentials::token(DEMO_TOKEN))
            .base_url(base)
            .rate_limit(ClientRateLimit::per(LIMIT, WINDOW))
            .retry(RetryConfig::default().max_attempts(ATTEMPTS))
            .build()?;
        let api = client.downloads(account);
        let t = Instant::now();
        let failures = futures::stream::iter(ids)
            .map(|id| api.create(id))
            .buffer_unordered(usize::from(jobs))
            .filter(|r| std::future::ready(r.is_err()))
            .count()
            .await;
        if failures > 0 {
            bail!("{failures} creates failed");
        }
        Ok(t.elapsed())
    })
}

pub(crate) fn run(videos: usize, jobs: u16, library: bool) -> anyhow::Result<Row> {
    let rt = runtime(0)?;
    let account: AccountId = DEMO_ACCOUNT.parse()?;
    let emulator = rt.block_on(
        Emulator::builder()
            .seed(Seed::empty_account(account.clone()))
            .progress(Progress::Instant)
            .rate_limit(RateLimit::per(LIMIT, WINDOW))
            .start(),
    )?;
    let admin = emulator.admin();
    let ids: Vec<VideoId> = (0..videos).map(|_| admin.add_video(&account, true)).collect();
    let base = emulator.base_url().to_string();
    let expected =
        Duration::from_secs_f64(videos as f64 / (f64::from(LIMIT) / WINDOW.as_secs_f64()));
    let (driver, elapsed) = if library {
        ("client library (--library)".to_owned(), through_library(&rt, &base, &account, &ids, jobs))
    } else {
        match cli_binary() {
            Ok(bin) => {
                note(format_args!(
                    "bulk: {} creates through the CLI, --jobs {jobs}, 120/6s: about {:.0?}",
                    thousands(videos as u64),
                    expected
                ));
                (
                    "CLI `downloads create --from FILE`".to_owned(),
                    through_cli(&bin, &base, &account, &ids, jobs),
                )
            }
            Err(e) => {
                note(format_args!("bulk: {e:#}; falling back to the client library"));
                (
                    "client library (the CLI did not build)".to_owned(),
                    through_library(&rt, &base, &account, &ids, jobs),
                )
            }
        }
    };
    let log = admin.requests();
    let answered = admin.request_count();
    let created = ids
        .iter()
        .filter(|v| admin.downloads(&account, v).is_ok_and(|d| d.default.is_some()))
        .count();
    rt.block_on(emulator.shutdown());
    let elapsed = elapsed?;
    let complete_log = usize::try_from(answered).is_ok_and(|n| n == log.len());
    let throttled = log.iter().filter(|r| r.status == 429).count();
    let ok = log.iter().filter(|r| r.status == 200).count();
    let rate = ok as f64 / elapsed.as_secs_f64();
    let limit_rate = f64::from(LIMIT) / WINDOW.as_secs_f64();
    let share = rate / limit_rate;
    let throttled_text = if complete_log {
        format!("{throttled} 429s")
    } else {
        format!("at least {throttled} 429s (request log truncated)")
    };
    note(format_args!(
        "bulk: {answered} requests in {elapsed:.1?}: {ok} answered 200, {throttled_text}, {created}/{videos} created"
    ));
    Ok(Row {
        bench: format!(
            "bulk: {} creates via {driver}, --jobs {jobs}, client and emulator limit 120 per 6 s",
            thousands(videos as u64)
        ),
        measured: format!(
            "{rate:.2} creates/s over {:.1} s; {throttled_text}; {created}/{videos} created; {answered} requests",
            elapsed.as_secs_f64()
        ),
        baseline: format!("limit: {limit_rate:.0} requests/s"),
        ratio: format!("{:.1} % of the limit", share * 100.0),
        target: ">= 95 %, zero 429s, every video created".to_owned(),
        met: Some(share >= 0.95 && throttled == 0 && complete_log && created == videos),
    })
}
