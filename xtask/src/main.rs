//! Project automation: `cargo xtask schemas [--check]`, `cargo xtask conformance [...]`,
//! `cargo xtask soak [...]`, `cargo xtask bench [...]`, `cargo xtask mutants [...]`.
// Doc comments here are clap's help text, read in a terminal: URLs stay bare.
#![allow(rustdoc::bare_urls)]

mod bench;
mod conformance;
mod mutants;
mod schemas;
mod soak;
mod tidy;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "cfstream project automation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Derive schemas/*.json from the OpenAPI fragment (with --check: fail if they drift).
    Schemas(schemas::Args),
    /// Run the conformance suite (by default against the embedded emulator).
    Conformance(conformance::Args),
    /// Measure the README's performance table (release build; prints Markdown).
    Bench(bench::Args),
    /// Mutation testing (cargo-mutants, pinned): the changed lines, or the README's places.
    Mutants(mutants::Args),
    /// Soak the client and emulator: many clients, random faults, invariants checked at the end.
    Soak(soak::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Schemas(args) => schemas::run(&args),
        Command::Conformance(args) => conformance::run(args),
        Command::Bench(args) => bench::run(&args),
        Command::Soak(args) => soak::run(&args),
        Command::Mutants(args) => mutants::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("error: {e}");
                for cause in e.chain().skip(1) {
                    eprintln!("  caused by: {cause}");
                }
            }
            ExitCode::from(2)
        }
    }
}
