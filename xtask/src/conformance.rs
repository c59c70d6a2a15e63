//! `cargo xtask conformance`: run the conformance suite against the embedded emulator (no
//! arguments), any server (`--base-url`), or the real API (`--live`).

use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use cfstream_conformance::{
    Report, ReportFile, Reporter, RunOptions, Target, TextStream, catalogue,
};
use cfstream_emulator::Emulator;
use cfstream_types::{AccountId, Credentials, DEFAULT_BASE_URL, Url, VideoId};

/// Arguments of `cargo xtask conformance`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Check this server instead of the embedded emulator.
    #[arg(long, value_name = "URL", conflicts_with = "live")]
    base_url: Option<Url>,
    /// Check the real Cloudflare API (https://api.cloudflare.com/client/v4).
    #[arg(long)]
    live: bool,
    /// Allow destructive checks (create, delete) on a live account.
    #[arg(long)]
    allow_writes: bool,
    /// The account id.
    #[arg(long, env = "CLOUDFLARE_ACCOUNT_ID", value_name = "ID")]
    account: Option<AccountId>,
    /// A video that is ready to stream, used by the scenarios (repeatable).
    #[arg(long = "video", value_name = "ID")]
    videos: Vec<VideoId>,
    /// A video that requires signed URLs and is ready to stream, used by the signed-URL
    /// checks (repeatable).
    #[arg(long = "signed-video", value_name = "ID")]
    signed_videos: Vec<VideoId>,
    /// Also write reports: `junit=PATH,json=PATH,md=PATH,text=PATH` (any subset).
    #[arg(long, value_name = "FORMAT=PATH,...", value_delimiter = ',')]
    report: Vec<ReportFile>,
    /// Run only these checks (comma-separated names; see --list).
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    checks: Vec<String>,
    /// Do not run these checks (comma-separated names).
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    skip: Vec<String>,
    /// How long, in seconds, a download may take to end ready or error.
    #[arg(long, value_name = "SECS")]
    deadline: Option<u64>,
    /// The run's budget, in seconds, for waiting out 429s; past it, the checks still to run
    /// are skipped as rate limited [default: 300].
    #[arg(long, value_name = "SECS")]
    max_wait: Option<u64>,
    /// List the checks, one line each, and exit.
    #[arg(long)]
    list: bool,
}

fn write_stdout(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        // A closed pipe (`| head`) is not an error worth reporting.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(e).context("cannot write to stdout"),
    }
}

// `main` dispatches every subcommand with its `Args` by value.
#[allow(clippy::needless_pass_by_value)]
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.list {
        write_stdout(&catalogue::render_list())?;
        return Ok(ExitCode::SUCCESS);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let (report, stream) = runtime.block_on(run_async(&args))?;
    stream.finish(&report);
    for file in &args.report {
        std::fs::write(&file.path, report.render(file.format))
            .with_context(|| format!("cannot write the report '{}'", file.path.display()))?;
    }
    Ok(if report.passed() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// The text report, streamed to stdout as checks are decided (with a progress line when
/// stderr is a terminal), as `cfstream conformance` prints it.
fn stream_to_stdout(target: &Target, options: &mut RunOptions) -> Arc<TextStream> {
    let mut s = TextStream::new(target, std::io::stdout());
    if std::io::stderr().is_terminal() {
        s = s.with_progress(std::io::stderr());
    }
    let s = Arc::new(s);
    options.reporter = Some(Arc::clone(&s) as Arc<dyn Reporter>);
    s
}

async fn run_async(args: &Args) -> anyhow::Result<(Report, Arc<TextStream>)> {
    let mut options = RunOptions::default();
    options.only.clone_from(&args.checks);
    options.skip.clone_from(&args.skip);
    options.signed_videos.clone_from(&args.signed_videos);
    if let Some(secs) = args.max_wait {
        options.max_wait = Duration::from_secs(secs);
    }
    let remote = if args.live {
        Some(Url::parse(DEFAULT_BASE_URL).context("invalid default base url")?)
    } else {
        args.base_url.clone()
    };
    if let Some(base_url) = remote {
        let mut target = Target::new(base_url);
        target.credentials = match Credentials::from_env() {
            Ok(read) => Some(read.credentials),
            Err(e) => {
                tracing::warn!("{e}: the checks that need credentials are skipped");
                None
            }
        };
        target.account.clone_from(&args.account);
        target.videos.clone_from(&args.videos);
        target.live = args.live;
        target.allow_writes = args.allow_writes;
        if let Some(secs) = args.deadline {
            options.deadline = Duration::from_secs(secs);
        }
        let stream = stream_to_stdout(&target, &mut options);
        let report =
            cfstream_conformance::run(&target, &options).await.context("conformance run failed")?;
        return Ok((report, stream));
    }
    // No target given: the embedded emulator, set up for a quick and complete run.
    let emulator = Emulator::builder()
        .conformance_preset()
        .start()
        .await
        .context("cannot start the embedded emulator")?;
    let mut target = Target::new(emulator.base_url());
    target.credentials = Some(emulator.credentials());
    target.account = Some(args.account.clone().unwrap_or_else(|| emulator.account()));
    target.videos = if args.videos.is_empty() {
        emulator.ready_video().into_iter().collect()
    } else {
        args.videos.clone()
    };
    // The emulator's video that requires signed URLs, unless --signed-video names one.
    if options.signed_videos.is_empty() {
        options.signed_videos = emulator.signed_video().into_iter().collect();
    }
    let local = RunOptions::local();
    options.poll_interval = local.poll_interval;
    options.deadline = args.deadline.map_or(local.deadline, Duration::from_secs);
    let stream = stream_to_stdout(&target, &mut options);
    let result = cfstream_conformance::run(&target, &options).await;
    emulator.shutdown().await;
    let report = result.context("conformance run against the embedded emulator failed")?;
    Ok((report, stream))
}
