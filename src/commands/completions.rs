//! `cfstream completions SHELL`: a completion script on stdout (clap_complete).

use std::io::Write as _;

use clap::CommandFactory as _;
use clap_complete::Shell as Target;

use crate::cli::{Cli, CompletionsArgs, Shell};
use crate::errors::ExitStatus;

/// Writes the completion script for the chosen shell.
pub(crate) fn run(args: &CompletionsArgs) -> anyhow::Result<ExitStatus> {
    let shell = match args.shell {
        Shell::Bash => Target::Bash,
        Shell::Elvish => Target::Elvish,
        Shell::Fish => Target::Fish,
        Shell::Powershell => Target::PowerShell,
        Shell::Zsh => Target::Zsh,
    };
    let mut cmd = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "cfstream", &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script)?;
    out.flush()?;
    Ok(ExitStatus::Success)
}
