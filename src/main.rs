//! `cfstream`: the command line for Cloudflare Stream downloads.
//!
//! `main` parses the command line (clap), sets up logging, runs the command on a tokio
//! runtime and maps the outcome to an exit status: 0 success, 1 some videos failed or were
//! not ready in time, 2 a usage or setup error, 130 interrupted. A closed stdout (`| head`)
//! ends the process quietly.
// Doc comments here are clap's help text, read in a terminal: URLs stay bare.
#![allow(rustdoc::bare_urls)]

mod cli;
mod commands;
mod env;
mod errors;
mod input;
mod output;
mod progress;
mod sanitize;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::errors::ExitStatus;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            errors::print_error(
                &anyhow::Error::new(e).context("could not start the async runtime"),
            );
            return ExitStatus::Error.into();
        }
    };
    let result = runtime.block_on(run(cli));
    // Do not wait for tasks still blocked on stdin or a slow socket after an interrupt.
    runtime.shutdown_background();
    match result {
        Ok(status) => status.into(),
        Err(e) if is_broken_pipe(&e) => ExitStatus::Success.into(),
        Err(e) => {
            errors::print_error(&e);
            ExitStatus::Error.into()
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitStatus> {
    match cli.command {
        Command::Downloads(crate::cli::Downloads::Url(args)) => {
            commands::url::run(&cli.global, args).await
        }
        Command::Downloads(cmd) => commands::downloads::run(&cli.global, cmd).await,
        Command::SigningKeys(cmd) => commands::signing_keys::run(&cli.global, cmd).await,
        Command::Serve(args) => commands::serve::run(&cli.global, args).await,
        Command::Conformance(args) => commands::conformance::run(&cli.global, args).await,
        Command::Completions(args) => commands::completions::run(&args),
    }
}

/// Whether the error comes from writing to a closed pipe (`cfstream ... | head -1`).
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Logs go to stderr (through the progress bars). `RUST_LOG` wins; otherwise `-v` raises the
/// level of cfstream's own crates, and `serve` logs each request at `info`.
fn init_tracing(cli: &Cli) {
    use tracing_subscriber::EnvFilter;
    let level = match (cli.global.quiet, cli.global.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        (false, _) => "trace",
    };
    let serving = matches!(cli.command, Command::Serve(_) | Command::Conformance(_));
    let default = if serving && cli.global.verbose == 0 && !cli.global.quiet {
        "warn,cfstream=info,cfstream_emulator=info,cfstream_conformance=info,tower_http=info"
            .to_owned()
    } else {
        format!(
            "warn,cfstream={level},cfstream_http={level},cfstream_emulator={level},cfstream_conformance={level}"
        )
    };
    let filter = EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    // No colours: the writer escapes every control character of a log line (a server's text
    // may carry ANSI sequences), and it cannot tell colours from injected escapes.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(progress::StderrWriter)
        .with_target(cli.global.verbose > 0)
        .try_init();
}
