//! `cfstream conformance`: the conformance runner (the same flags as `cargo xtask
//! conformance`), by default against an emulator started in this process; and
//! `cfstream conformance proxy`, a validating proxy.

use std::io::{IsTerminal as _, Write as _};
use std::sync::Arc;

use anyhow::Context as _;
use cfstream_conformance::{
    ProxyOptions, ReportFormat, RunOptions, RunningProxy, Target, TextStream, catalogue,
};
use std::time::Duration;

use cfstream_emulator::Emulator;
use cfstream_types::{AccountId, DEFAULT_BASE_URL, Url, VideoId};

use crate::cli::{ConformanceArgs, ConformanceCommand, ConformanceRunArgs, Global, ProxyArgs};
use crate::errors::ExitStatus;

/// Runs `conformance` or `conformance proxy`.
pub(crate) async fn run(global: &Global, args: ConformanceArgs) -> anyhow::Result<ExitStatus> {
    match args.proxy {
        Some(ConformanceCommand::Proxy(p)) => proxy(global, p).await,
        None => run_checks(global, args.run).await,
    }
}

async fn run_checks(global: &Global, args: ConformanceRunArgs) -> anyhow::Result<ExitStatus> {
    if args.list {
        let mut out = std::io::stdout().lock();
        out.write_all(catalogue::render_list().as_bytes())?;
        return Ok(ExitStatus::Success);
    }
    let videos = args
        .videos
        .iter()
        .map(|v| v.parse::<VideoId>().context("bad --video"))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let signed_videos = args
        .signed_videos
        .iter()
        .map(|v| v.parse::<VideoId>().context("bad --signed-video"))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut options = RunOptions::default();
    options.signed_videos = signed_videos;
    options.only.clone_from(&args.checks);
    options.skip.clone_from(&args.skip);
    if let Some(secs) = args.max_wait {
        options.max_wait = Duration::from_secs(secs);
    }

    // --live is the real API; else --base-url (or CLOUDFLARE_BASE_URL); else an emulator of
    // our own, torn down afterwards (as `cargo xtask conformance` does).
    let account = match &global.account {
        Some(a) => {
            Some(a.trim().parse::<AccountId>().context("bad --account / CLOUDFLARE_ACCOUNT_ID")?)
        }
        None => None,
    };
    let remote = if args.live {
        Some(Url::parse(DEFAULT_BASE_URL).context("the default base URL")?)
    } else {
        match &global.base_url {
            Some(url) => Some(Url::parse(url).with_context(|| format!("bad --base-url '{url}'"))?),
            None => None,
        }
    };
    let mut emulator = None;
    let target = match remote {
        Some(base_url) => {
            let credentials = match crate::env::credentials(crate::env::process) {
                Ok(c) => Some(c.credentials),
                Err(e) => {
                    let hint = e
                        .chain()
                        .find_map(|c| c.downcast_ref::<crate::errors::Hint>())
                        .map_or_else(String::new, |h| format!(" (hint: {})", h.0));
                    tracing::warn!("{e}: the checks that need credentials are skipped{hint}");
                    None
                }
            };
            if let Some(secs) = args.deadline {
                options.deadline = Duration::from_secs(secs);
            }
            let mut t = Target::new(base_url);
            t.credentials = credentials;
            t.account = account;
            t.videos = videos;
            t.live = args.live;
            t.allow_writes = args.allow_writes;
            t
        }
        None => {
            let emu = Emulator::builder()
                .conformance_preset()
                .start()
                .await
                .map_err(anyhow::Error::new)
                .context("could not start the embedded emulator")?;
            let mut t = Target::new(emu.base_url());
            t.credentials = Some(emu.credentials());
            t.account = Some(account.unwrap_or_else(|| emu.account()));
            t.videos =
                if videos.is_empty() { emu.ready_video().into_iter().collect() } else { videos };
            // The emulator's video that requires signed URLs, unless --signed-video names one.
            if options.signed_videos.is_empty() {
                options.signed_videos = emu.signed_video().into_iter().collect();
            }
            let local = RunOptions::local();
            options.poll_interval = local.poll_interval;
            options.deadline = args.deadline.map_or(local.deadline, Duration::from_secs);
            emulator = Some(emu);
            t
        }
    };

    // The text report streams: each check's lines as soon as it is decided, and a progress
    // line on a terminal while downloads are waited for.
    let stream = (!global.json && !global.quiet).then(|| {
        let mut s = TextStream::new(&target, std::io::stdout());
        if !global.no_progress && std::io::stderr().is_terminal() {
            s = s.with_progress(std::io::stderr());
        }
        Arc::new(s)
    });
    if let Some(s) = &stream {
        options.reporter = Some(Arc::clone(s) as Arc<dyn cfstream_conformance::Reporter>);
    }
    let result = cfstream_conformance::run(&target, &options).await;
    if let Some(emu) = emulator {
        emu.shutdown().await;
    }
    let report = result.map_err(anyhow::Error::new).with_context(|| {
        format!("could not run the conformance checks against {}", target.base_url)
    })?;

    for file in &args.report {
        std::fs::write(&file.path, report.render(file.format))
            .with_context(|| format!("could not write the report {}", file.path.display()))?;
    }
    if let Some(s) = &stream {
        s.finish(&report);
    } else if global.json {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", report.render(ReportFormat::Json))?;
        out.flush()?;
    }
    Ok(if report.passed() { ExitStatus::Success } else { ExitStatus::Failure })
}

async fn proxy(global: &Global, args: ProxyArgs) -> anyhow::Result<ExitStatus> {
    let upstream = Url::parse(&args.upstream)
        .with_context(|| format!("bad --upstream '{}'", args.upstream))?;
    let running = RunningProxy::start(ProxyOptions::new(upstream.clone(), args.listen))
        .await
        .map_err(anyhow::Error::new)
        .with_context(|| format!("could not start the proxy on {}", args.listen))?;
    let base = running.base_url().to_string();
    let mut out = std::io::stdout().lock();
    writeln!(out, "validating proxy listening on {base} (forwarding to {upstream})")?;
    writeln!(out, "point your client at it:  export CLOUDFLARE_BASE_URL={base}")?;
    writeln!(out, "Violations are logged below. Press Ctrl-C to stop.")?;
    out.flush()?;
    drop(out);
    tokio::signal::ctrl_c().await.context("could not listen for Ctrl-C")?;
    let summary =
        running.shutdown().await.map_err(anyhow::Error::new).context("the proxy failed")?;
    let mut out = std::io::stdout().lock();
    if global.json {
        let v = serde_json::json!({
            "event": "proxy_summary",
            "answers": summary.answers,
            "violations": summary.violations.len(),
        });
        writeln!(out, "{v}")?;
    } else {
        writeln!(
            out,
            "validated {} answers: {} violations",
            summary.answers,
            summary.violations.len()
        )?;
    }
    Ok(if summary.violations.is_empty() { ExitStatus::Success } else { ExitStatus::Failure })
}
