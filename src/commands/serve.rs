//! `cfstream serve`: runs the emulator on 127.0.0.1 until Ctrl-C, prints what a newcomer
//! needs (base URL, account, videos, the `export` lines to paste) and logs each request on
//! stderr.

use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr};

use anyhow::Context as _;
use cfstream_emulator::{DEMO_TOKEN, Emulator, EmulatorBuilder, Faults, Progress, RateLimit, Seed};
use cfstream_types::Credentials;
use serde_json::json;

use crate::cli::{Global, ProgressSetting, RateSetting, ServeArgs};
use crate::env;
use crate::errors::ExitStatus;

/// The emulator that `serve` starts, as its arguments describe it (without the address).
fn emulator_builder(args: &ServeArgs, token: &str) -> anyhow::Result<EmulatorBuilder> {
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
    let rate_limit = match args.rate_limit {
        RateSetting::Off => RateLimit::disabled(),
        RateSetting::Per(rate) => RateLimit::per(rate.count, rate.period),
    };
    let mut builder = Emulator::builder()
        .credentials(Credentials::token(token))
        .seed(seed)
        .progress(progress)
        .file_size(args.file_size)
        .rate_limit(rate_limit)
        .idle_timeout(args.idle_timeout);
    if let Some(path) = &args.faults {
        let faults = std::fs::read_to_string(path)
            .map_err(anyhow::Error::new)
            .and_then(|text| Faults::from_json(&text).map_err(anyhow::Error::new))
            .with_context(|| format!("could not load the faults file {}", path.display()))?;
        builder = builder.faults(faults);
    }
    if let Some(max) = args.max_connections {
        builder = builder.max_connections(max.get());
    }
    if let Some(state) = &args.state {
        builder = builder.state_file(state);
    }
    Ok(builder)
}

/// Starts the emulator and serves until Ctrl-C.
pub(crate) async fn run(global: &Global, args: ServeArgs) -> anyhow::Result<ExitStatus> {
    let from_env = env::process(env::TOKEN).filter(|t| !t.trim().is_empty());
    let token_from_env = from_env.is_some();
    let token = from_env.unwrap_or_else(|| DEMO_TOKEN.to_owned());
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port));
    let builder = emulator_builder(&args, token.trim())?.bind(addr);
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
            let signed = if v.require_signed_urls { "  requires signed URLs" } else { "" };
            let secs = format!("{}s", v.duration_secs);
            let line = format!("  {}  {state:<19}  {secs:<6}{signed}", v.id);
            writeln!(out, "{}", line.trim_end())?;
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

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn serve_args(args: &[&str]) -> ServeArgs {
        let cli = Cli::try_parse_from(["cfstream", "serve"].iter().chain(args)).unwrap();
        match cli.command {
            Command::Serve(args) => args,
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn the_rate_limit_defaults_to_cloudflares_and_can_be_turned_off() {
        for (args, expected) in [
            (&[][..], serde_json::json!({"requests": 1200, "window_secs": 300.0})),
            (&["--rate-limit", "off"][..], serde_json::Value::Null),
            (
                &["--rate-limit", "10/1s"][..],
                serde_json::json!({"requests": 10, "window_secs": 1.0}),
            ),
        ] {
            let emulator = emulator_builder(&serve_args(args), "t").unwrap().start().await.unwrap();
            assert_eq!(emulator.admin().state()["rate_limit"], expected, "{args:?}");
            emulator.shutdown().await;
        }
        assert!(Cli::try_parse_from(["cfstream", "serve", "--rate-limit", "fast"]).is_err());
        assert!(Cli::try_parse_from(["cfstream", "serve", "--max-connections", "0"]).is_err());
        let args = serve_args(&["--idle-timeout", "5s", "--max-connections", "10"]);
        assert_eq!(args.idle_timeout, std::time::Duration::from_secs(5));
        assert_eq!(args.max_connections.map(|n| n.get()), Some(10));
    }

    #[tokio::test]
    async fn faults_come_from_a_file_in_the_admin_json() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("faults.json");
        let json = r#"{"rules":[{"trigger":"script","route":"list","answers":[{"kind":"status","status":503}]}]}"#;
        std::fs::write(&path, json).unwrap();
        let args = serve_args(&["--faults", path.to_str().unwrap(), "--rate-limit", "off"]);
        let emulator = emulator_builder(&args, "t").unwrap().start().await.unwrap();
        assert_eq!(emulator.admin().faults(), Faults::from_json(json).unwrap());
        emulator.shutdown().await;

        std::fs::write(&path, r#"{"rules":[{"trigger":"sometimes"}]}"#).unwrap();
        let e =
            emulator_builder(&serve_args(&["--faults", path.to_str().unwrap()]), "t").unwrap_err();
        assert_eq!(e.to_string(), format!("could not load the faults file {}", path.display()));
        assert!(format!("{:#}", e).contains("sometimes"), "{e:#}");
    }
}
