//! `cargo xtask schemas`: derive `schemas/*.json` from the OpenAPI fragment.

use std::process::ExitCode;

/// Arguments of `cargo xtask schemas`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Fail (exit 1) if the checked-in schemas differ from a fresh derivation.
    #[arg(long)]
    check: bool,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not supported yet: schema derivation (check = {})", args.check)
}
