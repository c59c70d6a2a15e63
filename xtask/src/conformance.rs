//! `cargo xtask conformance`: run the conformance suite.

use std::process::ExitCode;

/// Arguments of `cargo xtask conformance`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {}

pub(crate) fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not supported yet: the conformance runner")
}
