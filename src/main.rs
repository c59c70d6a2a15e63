//! `cfstream`: the command line for Cloudflare Stream downloads.

use clap::Parser;

/// Create, wait for, fetch and verify Cloudflare Stream MP4 and audio downloads.
#[derive(Debug, Parser)]
#[command(name = "cfstream", version, about)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
}
