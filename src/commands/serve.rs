//! `cfstream serve`: runs the emulator on 127.0.0.1 until Ctrl-C, prints what a newcomer
//! needs (base URL, account, videos, the `export` lines to paste) and logs each request on
//! stderr.

use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr};

use anyhow::Context as _;
use cfstream_emulator::{DEMO_TOKEN, Emulator, Progress, Seed};
use cfstream_types::Credentials;
use serde_json::json;

use crate::cli::{Global, ProgressSetting, ServeArgs};
use crate::env;
use crate::errors::ExitStatus;

/// Starts the emulator and serves until Ctrl-C.
pub(crate) async fn run(global: &Global, args: ServeArgs) -> anyhow::Result<ExitStatus> {
    let from_env = env::process(env::TOKEN).filter(|t| !t.trim().is_empty());
    let token_from_env = from_env.is_some();
    let token = from_env.unwrap_or_else(|| DEMO_TOKEN.to_owned());
    let seed = match &args.seed {
        Some(path) => Seed::from_file(path)
            .map_err(anyhow::Error::new)
            .with_context(|| format!("could not load the seed file {}", path.display()))?,
        None => Seed::demo(),
    };
    let progress = match args.progress {
        ProgressSetting::Instant => Progress::Instant,
        ProgressSetting::Over(d) => Progress::Over(d),
    };
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port));
    let mut builder = Emulator::builder()
        .credentials(Credentials::token(token.trim()))
        .seed(seed)
        .progress(progress)
        .file_size(args.file_size)
        .bind(addr);
    if let Some(state) = &args.state {
        builder = builder.state_file(state);
    }
    let emulator = builder
        .start()
        .await
        .map_err(anyhow::Error::new)
        .with_context(|| format!("could not start the emulator on {addr}"))?;

    let base_url = emulator.base_url().to_string();
    let account = emulator.account().to_string();
    let videos = emulator.videos();
    let token_line = if token_from_env {
        format!(
            "# {}: the emulator accepts the token already in this shell's environment",
            env::TOKEN
        )
    } else {
        format!("export {}={DEMO_TOKEN}", env::TOKEN)
    };
    let mut out = std::io::stdout().lock();
    if global.json {
        let v = json!({
            "event": "listening",
            "base_url": base_url,
            "account": account,
            "token_from_env": token_from_env,
            "videos": videos.iter().map(|v| json!({
                "id": v.id.as_str(),
                "ready_to_stream": v.ready_to_stream,
                "duration_secs": v.duration_secs,
            })).collect::<Vec<_>>(),
        });
        serde_json::to_writer(&mut out, &v)?;
        writeln!(out)?;
    } else {
        writeln!(out, "cfstream emulator listening on {base_url}")?;
        writeln!(out)?;
        writeln!(out, "account {account}, videos:")?;
        for v in &videos {
            let state = if v.ready_to_stream { "ready to stream" } else { "not ready to stream" };
            writeln!(out, "  {}  {state:<19}  {}s", v.id, v.duration_secs)?;
        }
        writeln!(out)?;
        writeln!(out, "In another terminal, paste:")?;
        writeln!(out)?;
        writeln!(out, "  export CLOUDFLARE_BASE_URL={base_url}")?;
        writeln!(out, "  export CLOUDFLARE_ACCOUNT_ID={account}")?;
        writeln!(out, "  {token_line}")?;
        if let Some(v) = videos.iter().find(|v| v.ready_to_stream) {
            writeln!(out)?;
            writeln!(out, "then try:  cfstream downloads fetch {} -o downloads/", v.id)?;
        }
        writeln!(out)?;
        writeln!(out, "Requests are logged below. Press Ctrl-C to stop.")?;
    }
    out.flush()?;
    drop(out);

    tokio::signal::ctrl_c().await.context("could not listen for Ctrl-C")?;
    tracing::info!("shutting down");
    emulator.shutdown().await;
    Ok(ExitStatus::Success)
}
