//! `cfstream downloads list|create|delete|wait|fetch`: the batch runner. Videos run
//! concurrently (`--jobs`, within the client's rate limit); one video's failure does not stop
//! the others, except that rejected credentials stop new work (every other video would fail
//! the same way). Ctrl-C stops at once and keeps partial files for the next run.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use cfstream_http::{Client, FetchOptions, Reporter, Signing, WaitOptions};
use cfstream_types::{AccountId, Download, DownloadType, VideoId};
use futures::StreamExt as _;

use crate::cli::{Downloads, Global};
use crate::errors::{ExitStatus, Failure, FailureKind, FileHostContext, Hint, Setting};
use crate::input::{self, Selection};
use crate::output::{self, Outcome, Summary, VideoResult};
use crate::progress::{Progress, VideoBar};

/// What to do to each video.
#[derive(Debug, Clone)]
enum Op {
    List,
    Create(DownloadType),
    Delete(DownloadType),
    Wait(DownloadType, Duration),
    Fetch(FetchPlan),
}

#[derive(Debug, Clone)]
struct FetchPlan {
    download_type: DownloadType,
    timeout: Duration,
    target: Target,
    filename: Option<String>,
    overwrite: bool,
    /// Whether a video that requires signed URLs is fetched with a token (`--no-sign`: no).
    sign: bool,
}

/// Where fetched files go.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// Into a directory, as `NAME.ext` (NAME: `--filename` for one video, else the video id).
    Dir(PathBuf),
    /// To exactly this file (one video only).
    File(PathBuf),
}

impl Target {
    /// `-o` names a directory when several videos are fetched, when it is an existing
    /// directory, or when it ends with a path separator; otherwise it is the file.
    fn resolve(output: &Path, videos: usize) -> anyhow::Result<Target> {
        let text = output.as_os_str().to_string_lossy();
        let looks_like_dir = output.is_dir()
            || text.ends_with(std::path::MAIN_SEPARATOR)
            || text.ends_with('/')
            || output == Path::new(".")
            || output == Path::new("..");
        if looks_like_dir || videos > 1 {
            if output.exists() && !output.is_dir() {
                return Err(anyhow::Error::new(Hint(
                    "give a directory to -o when fetching several videos".into(),
                ))
                .context(format!(
                    "-o {} is a file, but {videos} videos are to be fetched",
                    output.display()
                )));
            }
            std::fs::create_dir_all(output).with_context(|| {
                format!("could not create the output directory {}", output.display())
            })?;
            Ok(Target::Dir(output.to_owned()))
        } else {
            if let Some(parent) = output.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).with_context(|| {
                    format!("could not create the output directory {}", parent.display())
                })?;
            }
            Ok(Target::File(output.to_owned()))
        }
    }

    fn path_for(&self, video: &VideoId, t: &DownloadType, filename: Option<&str>) -> PathBuf {
        match self {
            Target::File(p) => p.clone(),
            Target::Dir(dir) => {
                let ext = t.extension().unwrap_or(t.as_str());
                let stem = filename.unwrap_or(video.as_str());
                let name = match t {
                    // Two types of one video must not land on the same name.
                    DownloadType::Other(_) => format!("{stem}.{}.bin", t.as_str()),
                    _ => format!("{stem}.{ext}"),
                };
                if dir == Path::new(".") { PathBuf::from(name) } else { dir.join(name) }
            }
        }
    }
}

/// Everything a video's task needs, shared by all of them.
#[derive(Debug)]
struct Ctx {
    client: Client,
    account: AccountId,
    op: Op,
    setting: Setting,
    /// Set when the server rejected the credentials: no new video is started.
    auth_failed: AtomicBool,
}

impl Ctx {
    fn download_type(&self) -> Option<&DownloadType> {
        match &self.op {
            Op::List => None,
            Op::Create(t) | Op::Delete(t) | Op::Wait(t, _) => Some(t),
            Op::Fetch(p) => Some(&p.download_type),
        }
    }
}

/// Runs a `downloads` command.
pub(crate) async fn run(global: &Global, cmd: Downloads) -> anyhow::Result<ExitStatus> {
    let command = cmd.name();
    let batch = cmd.batch();
    // From here on, a server that echoes the credentials back cannot get them printed.
    let (client, account, setting) =
        super::url::client(global, batch.rate_limit, batch.max_attempts)?;
    let selection = input::read(&batch.videos, &batch.from, || Box::new(std::io::stdin().lock()))?;
    report_bad_inputs(global, &selection)?;
    if selection.videos.is_empty() {
        let what =
            if selection.bad.is_empty() { "no video ids given" } else { "no valid video ids" };
        return Err(anyhow::Error::new(Hint(
            "pass ids as arguments, `-` to read them from stdin, or --from FILE (one per line)"
                .into(),
        ))
        .context(what));
    }
    let op = match &cmd {
        Downloads::List(_) => Op::List,
        Downloads::Create(a) => Op::Create(a.kind.download_type.clone()),
        Downloads::Delete(a) => Op::Delete(a.kind.download_type.clone()),
        Downloads::Wait(a) => Op::Wait(a.kind.download_type.clone(), a.timeout),
        Downloads::Fetch(a) => Op::Fetch(FetchPlan {
            download_type: a.wait.kind.download_type.clone(),
            timeout: a.wait.timeout,
            target: Target::resolve(&a.output, selection.videos.len())?,
            filename: a.filename.clone(),
            overwrite: a.overwrite,
            sign: !a.no_sign,
        }),
        Downloads::Url(_) => anyhow::bail!("`downloads url` is run by commands::url"),
    };
    let ctx = Arc::new(Ctx { client, account, op, setting, auth_failed: AtomicBool::new(false) });
    let total = selection.videos.len();
    let progress = Progress::new(!global.no_progress && !global.quiet, command, total);
    let jobs = usize::from(batch.jobs);

    let mut results: Vec<(usize, VideoResult)> = Vec::with_capacity(total);
    let mut work = futures::stream::iter(selection.videos.into_iter().enumerate())
        .map(|(i, video)| {
            let ctx = Arc::clone(&ctx);
            let progress = progress.clone();
            async move { (i, one(&ctx, &progress, video).await) }
        })
        .buffer_unordered(jobs);
    let consume = async {
        while let Some((i, result)) = work.next().await {
            progress.inc(result.outcome.is_err());
            if global.json {
                progress.suspend(|| output::write_json_line(&result.to_json(command)))?;
            }
            results.push((i, result));
        }
        Ok::<_, std::io::Error>(())
    };
    let interrupted = tokio::select! {
        r = consume => { r?; false }
        _ = tokio::signal::ctrl_c() => true,
    };
    drop(work);
    progress.finish();

    results.sort_by_key(|(i, _)| *i);
    let results: Vec<VideoResult> = results.into_iter().map(|(_, r)| r).collect();
    let failed = results.iter().filter(|r| r.outcome.is_err()).count();
    let summary = Summary {
        succeeded: results.len() - failed,
        failed,
        invalid_input: selection.bad.len(),
        interrupted,
    };
    if global.json {
        output::write_json_line(&summary.to_json(command))?;
    } else if !global.quiet {
        output::write_stdout(&output::render_table(command, &results))?;
    }
    print_failures(global, &results)?;
    if interrupted {
        let unfinished = total - results.len();
        let mut err = std::io::stderr().lock();
        use std::io::Write as _;
        writeln!(err, "error: interrupted: {unfinished} of {total} videos unfinished")?;
        if command == "fetch" {
            writeln!(
                err,
                "  hint: partial files are kept as *.part beside their final names; run the same command again to resume"
            )?;
        }
        return Ok(ExitStatus::Interrupted);
    }
    if !global.quiet && !global.json {
        let mut err = std::io::stderr().lock();
        use std::io::Write as _;
        write!(err, "{command}: {} of {total} videos succeeded", summary.succeeded)?;
        if failed > 0 {
            write!(err, ", {failed} failed")?;
        }
        match summary.invalid_input {
            0 => {}
            1 => write!(err, "; 1 input was not a video id")?,
            n => write!(err, "; {n} inputs were not video ids")?,
        }
        writeln!(err)?;
    }
    Ok(if results.iter().any(|r| r.outcome.as_ref().is_err_and(Failure::is_setup_error)) {
        ExitStatus::Error
    } else if failed > 0 || summary.invalid_input > 0 {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}

/// Inputs that are not video ids: an `invalid_input` line with `--json`, an error on stderr
/// otherwise.
fn report_bad_inputs(global: &Global, sel: &Selection) -> std::io::Result<()> {
    for bad in &sel.bad {
        if global.json {
            output::write_json_line(&output::invalid_input_json(bad))?;
        } else {
            let f = Failure::skipped(
                FailureKind::Other,
                format!("{}: {}", bad.origin, bad.error),
                Some("a video id is 1 to 32 hex digits (Cloudflare's are 32), as in the video's dashboard URL".into()),
            );
            f.write(&mut std::io::stderr().lock())?;
        }
    }
    Ok(())
}

/// The `error:` lines of failed videos on stderr (in human mode; `--json` carries them on
/// stdout). Rejected credentials are told once, with a count of the videos they stopped.
fn print_failures(global: &Global, results: &[VideoResult]) -> std::io::Result<()> {
    if global.json {
        return Ok(());
    }
    let mut err = std::io::stderr().lock();
    let mut setup_told = 0usize;
    for r in results {
        let Err(f) = &r.outcome else { continue };
        if f.is_setup_error() {
            setup_told += 1;
            if setup_told > 1 {
                continue;
            }
        }
        f.write(&mut err)?;
    }
    if setup_told > 1 {
        use std::io::Write as _;
        writeln!(
            err,
            "error: {} more videos failed or were not attempted for the same reason",
            setup_told - 1
        )?;
    }
    Ok(())
}

/// The work for one video.
async fn one(ctx: &Ctx, progress: &Progress, video: VideoId) -> VideoResult {
    let download_type = ctx.download_type().cloned();
    if ctx.auth_failed.load(Ordering::Relaxed) {
        let f = Failure::skipped(
            FailureKind::Auth,
            format!("video {video}: not attempted"),
            Some("the server rejected the credentials for an earlier video".into()),
        );
        return VideoResult { video, download_type, outcome: Err(f) };
    }
    let bar = progress.video(&video, download_type.as_ref());
    let outcome = step(ctx, &bar, &video).await.map_err(|e| Failure::from_error(&e, &ctx.setting));
    if outcome.as_ref().is_err_and(Failure::is_setup_error) {
        ctx.auth_failed.store(true, Ordering::Relaxed);
    }
    VideoResult { video, download_type, outcome }
}

fn pick(downloads: &cfstream_types::Downloads, t: &DownloadType) -> anyhow::Result<Download> {
    downloads.get(t).cloned().ok_or_else(|| anyhow!("the server's answer has no {t} download"))
}

async fn step(ctx: &Ctx, bar: &Arc<VideoBar>, video: &VideoId) -> anyhow::Result<Outcome> {
    let mut api = ctx.client.downloads(&ctx.account);
    // `--timeout` bounds all the work for one video: every API call, the wait, the transfer.
    if let Op::Wait(_, timeout) | Op::Fetch(FetchPlan { timeout, .. }) = &ctx.op {
        api = api.deadline(tokio::time::Instant::now() + *timeout);
    }
    let reporter = || -> Arc<dyn Reporter> { bar.clone() };
    match &ctx.op {
        Op::List => {
            bar.step("listing");
            let d = api
                .list(video)
                .await
                .with_context(|| format!("video {video}: could not list its downloads"))?;
            Ok(Outcome::Listed(Box::new(d)))
        }
        Op::Create(t) => {
            bar.step("creating");
            let ctx_msg = || format!("video {video}: could not create the {t} download");
            let d = api.create_type(video, t.clone()).await.with_context(ctx_msg)?;
            Ok(Outcome::Created(t.clone(), pick(&d, t).with_context(ctx_msg)?))
        }
        Op::Delete(t) => {
            bar.step("deleting");
            api.delete_type(video, t.clone())
                .await
                .with_context(|| format!("video {video}: could not delete the {t} download"))?;
            Ok(Outcome::Deleted(t.clone()))
        }
        Op::Wait(t, timeout) => {
            bar.step("waiting");
            let opts = WaitOptions::default().timeout(*timeout).reporter(reporter());
            let d = api
                .wait_ready(video, t.clone(), opts)
                .await
                .with_context(|| format!("video {video}: the {t} download is not ready"))?;
            Ok(Outcome::Ready(t.clone(), d))
        }
        Op::Fetch(plan) => {
            let t = &plan.download_type;
            let dest = plan.target.path_for(video, t, plan.filename.as_deref());
            if !plan.overwrite {
                // A file under its final name is whole: fetch writes a `.part` and renames it.
                // A link is not followed: fetch refuses it with an error.
                if let Ok(meta) = tokio::fs::symlink_metadata(&dest).await
                    && meta.is_file()
                {
                    return Ok(Outcome::Fetched {
                        download_type: t.clone(),
                        download: None,
                        path: dest,
                        bytes: meta.len(),
                        resumed_from: 0,
                        existing: true,
                    });
                }
            }
            bar.step("listing");
            let listed = api
                .list(video)
                .await
                .with_context(|| format!("video {video}: could not list its downloads"))?;
            let current = match listed.get(t) {
                Some(d) => d.clone(),
                None => {
                    bar.step("creating");
                    let ctx_msg = || format!("video {video}: could not create the {t} download");
                    let created = api.create_type(video, t.clone()).await.with_context(ctx_msg)?;
                    pick(&created, t).with_context(ctx_msg)?
                }
            };
            let ready = if current.is_ready() {
                current
            } else {
                bar.step("waiting");
                let opts = WaitOptions::default().timeout(plan.timeout).reporter(reporter());
                api.wait_ready(video, t.clone(), opts)
                    .await
                    .with_context(|| format!("video {video}: the {t} download is not ready"))?
            };
            bar.step("fetching");
            let mut opts = FetchOptions::default().overwrite(plan.overwrite).reporter(reporter());
            if let Some(name) = &plan.filename {
                opts = opts.filename(name.clone());
            }
            if !plan.sign {
                opts = opts.signing(Signing::Never);
            }
            let origin = ready.url.as_ref().map(|u| u.origin().ascii_serialization());
            // A signed token in the URL's path is redacted from log lines (see sanitize.rs).
            if let Some(url) = &ready.url {
                tracing::debug!(%video, %url, dest = %dest.display(), "fetching");
            }
            let out = api.fetch(&ready, &dest, opts).await.map_err(|e| {
                let message = format!(
                    "video {video}: could not fetch the {t} download to {}",
                    dest.display()
                );
                match origin {
                    Some(origin) => {
                        anyhow::Error::new(e).context(FileHostContext { message, origin })
                    }
                    None => anyhow::Error::new(e).context(message),
                }
            })?;
            Ok(Outcome::Fetched {
                download_type: t.clone(),
                download: Some(ready),
                path: out.path,
                bytes: out.bytes,
                resumed_from: out.resumed_from,
                existing: false,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_resolve_by_count_and_shape() {
        let dir = tempfile::tempdir().unwrap();
        let v: VideoId = "ab".parse().unwrap();
        let file = dir.path().join("one.mp4");
        assert_eq!(Target::resolve(&file, 1).unwrap(), Target::File(file.clone()));
        let sub = dir.path().join("many");
        let t = Target::resolve(&sub, 2).unwrap();
        assert!(sub.is_dir());
        assert_eq!(t.path_for(&v, &DownloadType::Audio, None), sub.join("ab.m4a"));
        assert_eq!(t.path_for(&v, &DownloadType::Default, Some("clip")), sub.join("clip.mp4"));
        std::fs::write(&file, b"x").unwrap();
        let e = Target::resolve(&file, 3).unwrap_err();
        assert!(e.to_string().contains("is a file"), "{e}");
    }
}
