//! `cargo xtask mutants`: mutation testing with cargo-mutants (pinned, installed on first use),
//! over the lines a change touched (`--changed`) or over the places whose score the README
//! reports (`--place`). Exclusions, each with its reason, live in `.cargo/mutants.toml`.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, bail};

/// The cargo-mutants release this project's scores were measured with.
pub(crate) const CARGO_MUTANTS_VERSION: &str = "27.1.0";

/// Arguments of `cargo xtask mutants`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Mutate only the lines changed since BASE (the branch's diff plus uncommitted changes):
    /// the cheap habit before every commit.
    #[arg(long, conflicts_with = "place")]
    changed: bool,
    /// With --changed: the revision to diff against (default: where HEAD left `main`).
    #[arg(long, value_name = "REV", requires = "changed")]
    base: Option<String>,
    /// A place whose score the README reports (repeatable; default with neither flag: all).
    #[arg(long, value_enum)]
    place: Vec<Place>,
    /// Run one shard of the mutants, as K/N (cargo-mutants' --shard), to split a long run.
    #[arg(long, value_name = "K/N")]
    shard: Option<String>,
    /// Print the cargo-mutants commands instead of running them.
    #[arg(long)]
    dry_run: bool,
    /// More options for cargo-mutants itself, after `--` (for example `-- --jobs 2`).
    #[arg(last = true)]
    extra: Vec<OsString>,
}

/// The places of issue #16's mutation score table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Place {
    /// The whole of cfstream-types.
    Types,
    /// The whole of cfstream-http.
    Http,
    /// cfstream-conformance's `validate.rs` and `validate/*.rs`.
    Validate,
    /// cfstream-emulator's `auth.rs`, `content.rs` and `files.rs`.
    Emulator,
}

impl Place {
    const ALL: [Place; 4] = [Place::Types, Place::Http, Place::Validate, Place::Emulator];

    fn name(self) -> &'static str {
        match self {
            Place::Types => "types",
            Place::Http => "http",
            Place::Validate => "validate",
            Place::Emulator => "emulator",
        }
    }

    /// The cargo-mutants arguments that select the place.
    fn selection(self) -> Vec<&'static str> {
        match self {
            Place::Types => vec!["--package", "cfstream-types"],
            Place::Http => vec!["--package", "cfstream-http"],
            Place::Validate => {
                vec![
                    "--package",
                    "cfstream-conformance",
                    "--file",
                    "crates/conformance/src/validate.rs",
                    "--file",
                    "crates/conformance/src/validate/*.rs",
                ]
            }
            Place::Emulator => vec![
                "--package",
                "cfstream-emulator",
                "--file",
                "crates/emulator/src/auth.rs",
                "--file",
                "crates/emulator/src/content.rs",
                "--file",
                "crates/emulator/src/files.rs",
            ],
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn git(args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(root())
        .output()
        .with_context(|| format!("cannot run git {}", args.join(" ")))?;
    if !out.status.success() {
        bail!("git {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Where HEAD left the main line: `origin/main` where there is one, else `main`.
fn default_base() -> anyhow::Result<String> {
    for main in ["origin/main", "main"] {
        if let Ok(base) = git(&["merge-base", "HEAD", main]) {
            return Ok(base.trim().to_owned());
        }
    }
    bail!("no `main` branch to diff against: pass --base REV")
}

/// The Rust lines changed since `base`, committed or not, as a unified diff.
fn changed_diff(base: &str) -> anyhow::Result<String> {
    git(&["diff", "--no-ext-diff", "--unified=0", base, "--", "*.rs"])
}

/// Installs the pinned cargo-mutants unless it is already there.
fn ensure_installed(cargo: &OsString) -> anyhow::Result<()> {
    let installed = Command::new(cargo)
        .args(["mutants", "--version"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    if installed.as_deref() == Some(&format!("cargo-mutants {CARGO_MUTANTS_VERSION}")) {
        return Ok(());
    }
    writeln!(
        io::stderr(),
        "installing cargo-mutants {CARGO_MUTANTS_VERSION} (found: {})",
        installed.as_deref().unwrap_or("none")
    )?;
    let status = Command::new(cargo)
        .args(["install", "cargo-mutants", "--locked", "--version", CARGO_MUTANTS_VERSION])
        .status()
        .context("cannot run cargo install")?;
    if !status.success() {
        bail!("cargo install cargo-mutants {CARGO_MUTANTS_VERSION} failed");
    }
    Ok(())
}

/// The cargo-mutants runs `args` asks for, each as its argument list.
fn plan(args: &Args, diff_file: &Path) -> Vec<Vec<OsString>> {
    let common = |out: &str| -> Vec<OsString> {
        let mut v: Vec<OsString> = vec!["mutants".into(), "--output".into()];
        v.push(root().join("target").join("mutants").join(out).into());
        if let Some(shard) = &args.shard {
            v.extend(["--shard".into(), shard.into()]);
        }
        v
    };
    // Options of cargo-mutants itself (`--jobs 2`, `--re REGEX`, ...), not of `cargo test`.
    let with_extra = |mut v: Vec<OsString>| {
        v.extend(args.extra.iter().cloned());
        v
    };
    if args.changed {
        let mut v = common("changed");
        v.extend(["--in-diff".into(), diff_file.into()]);
        return vec![with_extra(v)];
    }
    let places = if args.place.is_empty() { Place::ALL.to_vec() } else { args.place.clone() };
    places
        .into_iter()
        .map(|p| {
            let mut v = common(p.name());
            v.extend(p.selection().into_iter().map(OsString::from));
            with_extra(v)
        })
        .collect()
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let diff_file = root().join("target").join("mutants-changed.diff");
    if args.changed {
        let base = match &args.base {
            Some(b) => b.clone(),
            None => default_base()?,
        };
        let diff = changed_diff(&base)?;
        if diff.trim().is_empty() {
            writeln!(io::stdout(), "no Rust line changed since {base}: no mutant to run")?;
            return Ok(ExitCode::SUCCESS);
        }
        fs::create_dir_all(root().join("target")).context("cannot create target/")?;
        fs::write(&diff_file, diff).context("cannot write the diff for cargo-mutants")?;
    }
    let runs = plan(args, &diff_file);
    if args.dry_run {
        for run in &runs {
            let shown: Vec<_> = run.iter().map(|a| a.to_string_lossy()).collect();
            writeln!(io::stdout(), "cargo {}", shown.join(" "))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    ensure_installed(&cargo)?;
    for place in Place::ALL.iter().map(|p| p.name()).chain(["changed"]) {
        let dir = root().join("target").join("mutants").join(place);
        fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut worst = ExitCode::SUCCESS;
    for run in runs {
        // cargo-mutants exits 2 when a mutant survived, 3 on a timeout: pass its verdict on.
        // One build directory kept across runs (and shards): the scratch copy starts without
        // target/ (`copy_target = false`), and rebuilding every dependency cost about 10
        // minutes a run. Mutants build one at a time (`--jobs 1`, the default), so one
        // directory is safe; cargo's lock serializes anything else.
        let status = Command::new(&cargo)
            .args(&run)
            .env("CARGO_TARGET_DIR", root().join("target").join("mutants-build"))
            .current_dir(root())
            .status()
            .context("cannot run cargo mutants")?;
        if !status.success() {
            worst = ExitCode::from(u8::try_from(status.code().unwrap_or(1)).unwrap_or(1));
        }
    }
    Ok(worst)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn planned(argv: &[&str]) -> Vec<String> {
        let cli = Cli::try_parse_from(std::iter::once("mutants").chain(argv.iter().copied()))
            .expect("arguments parse");
        plan(&cli.args, Path::new("/d.diff"))
            .into_iter()
            .map(|run| {
                let words: Vec<_> = run.iter().map(|a| a.to_string_lossy().into_owned()).collect();
                words.join(" ").replace(&root().join("target").display().to_string(), "T")
            })
            .collect()
    }

    #[test]
    fn changed_mutates_the_diff_and_places_select_their_files() {
        assert_eq!(
            planned(&["--changed", "--", "--jobs", "1"]),
            ["mutants --output T/mutants/changed --in-diff /d.diff --jobs 1"]
        );
        assert_eq!(
            planned(&["--place", "validate", "--shard", "1/4"]),
            [
                "mutants --output T/mutants/validate --shard 1/4 --package cfstream-conformance --file crates/conformance/src/validate.rs --file crates/conformance/src/validate/*.rs"
            ]
        );
        let all = planned(&[]);
        assert_eq!(all.len(), 4);
        assert!(all[3].ends_with("--file crates/emulator/src/files.rs"), "{all:?}");
        assert!(Cli::try_parse_from(["mutants", "--changed", "--place", "http"]).is_err());
        assert!(Cli::try_parse_from(["mutants", "--base", "HEAD~1"]).is_err());
    }
}
