//! `cargo xtask bench [validate|client|emulator|fetch|conformance|bulk|all]`: the README's performance
//! table, measured side by side in one release-mode run and printed as Markdown on stdout
//! (progress on stderr). Nothing here asserts on time: a missed target is a "no" in the table.

mod bulk;
mod client;
mod emulator;
mod fetch;
mod machine;
mod raw;
mod validate;
mod verdict;

use std::ffi::OsString;
use std::io::Write as _;
use std::process::{Command, ExitCode};
use std::time::Duration;

use anyhow::Context as _;

/// Set on the release-mode re-run, so it does not re-run itself again.
const RELEASE_ENV: &str = "CFSTREAM_BENCH_RELEASE";

/// Which benchmark to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Which {
    /// Validation + parsing against parsing only, over generated bodies.
    Validate,
    /// cfstream-http calls/s against a raw hyper loop, same emulator route.
    Client,
    /// Emulator requests/s and latency at N connections (list, create, file, range), each
    /// beside a bare hyper server answering the same bytes.
    Emulator,
    /// Fetch throughput against curl, and the fetch's peak RSS.
    Fetch,
    /// The referee's time to a verdict: the faithful emulator, then every mutant server.
    Conformance,
    /// 2,000 creates through the CLI batch mode under a 120 per 6 s limit (~100 s).
    Bulk,
    /// Every benchmark, in the order above.
    All,
}

/// Arguments of `cargo xtask bench`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Which benchmark to run (`all` takes about 3 minutes, most of it `bulk`).
    #[arg(value_enum, default_value = "all")]
    which: Which,
    /// validate: how many generated bodies.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    bodies: usize,
    /// client: sequential calls per side, split into 30 interleaved rounds.
    #[arg(long, value_name = "N", default_value_t = 15_000)]
    calls: u32,
    /// emulator: seconds of measured load per route and side (after one second of warm-up).
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    secs: u64,
    /// emulator: concurrent connections.
    #[arg(long, value_name = "N", default_value_t = 64)]
    connections: usize,
    /// fetch: size of the file, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 1024)]
    fetch_mib: u64,
    /// fetch: runs per side (the best of them is quoted).
    #[arg(long, value_name = "N", default_value_t = 2)]
    fetch_runs: u32,
    /// bulk: how many videos to create a download of.
    #[arg(long, value_name = "N", default_value_t = 2_000)]
    videos: usize,
    /// bulk: videos worked on at once (`--jobs` of the CLI).
    #[arg(long, value_name = "N", default_value_t = 16)]
    jobs: u16,
    /// bulk: drive the client library instead of the `cfstream` binary.
    #[arg(long)]
    library: bool,
    /// Internal: the fetch benchmark's child process (fetch URL into DIR, print the size).
    #[arg(long, hide = true, num_args = 2, value_names = ["URL", "DIR"])]
    child_fetch: Option<Vec<String>>,
}

/// One line of the table.
#[derive(Debug)]
pub(crate) struct Row {
    pub(crate) bench: String,
    pub(crate) measured: String,
    pub(crate) baseline: String,
    pub(crate) ratio: String,
    pub(crate) target: String,
    pub(crate) met: Option<bool>,
}

impl Row {
    fn failed(bench: &str, e: &anyhow::Error) -> Row {
        Row {
            bench: bench.to_owned(),
            measured: format!("failed: {}", format!("{e:#}").replace('|', "/")),
            baseline: String::new(),
            ratio: String::new(),
            target: String::new(),
            met: None,
        }
    }
}

/// Progress on stderr.
pub(crate) fn note(msg: impl std::fmt::Display) {
    let _ = writeln!(std::io::stderr().lock(), "bench: {msg}");
}

/// Runs the benchmarks (in a release build: a debug build re-runs itself with `--release`).
pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    if let Some(child) = &args.child_fetch {
        return fetch::child(&child[0], &child[1]);
    }
    if cfg!(debug_assertions) && std::env::var_os(RELEASE_ENV).is_none() {
        return rerun_in_release();
    }
    let machine = machine::describe();
    let which = |w: Which| args.which == w || args.which == Which::All;
    let mut rows = Vec::new();
    let mut failed = false;
    let mut record = |name: &str, result: anyhow::Result<Vec<Row>>| match result {
        Ok(new) => rows.extend(new),
        Err(e) => {
            note(format_args!("{name} failed: {e:#}"));
            failed = true;
            rows.push(Row::failed(name, &e));
        }
    };
    if which(Which::Validate) {
        record("validate", validate::run(args.bodies).map(|r| vec![r]));
    }
    if which(Which::Client) {
        record("client", client::run(args.calls));
    }
    if which(Which::Emulator) {
        record("emulator", emulator::run(args.connections, Duration::from_secs(args.secs)));
    }
    if which(Which::Fetch) {
        record("fetch", fetch::run(args.fetch_mib, args.fetch_runs).map(|r| vec![r]));
    }
    if which(Which::Conformance) {
        record("conformance", verdict::run());
    }
    if which(Which::Bulk) {
        record("bulk", bulk::run(args.videos, args.jobs, args.library).map(|r| vec![r]));
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", render(&machine, &rows))?;
    Ok(if failed { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

fn render(machine: &str, rows: &[Row]) -> String {
    let mut s = format!("Machine: {machine}\n\n");
    s.push_str("| benchmark | measured | baseline | ratio | target | met |\n");
    s.push_str("| --- | --- | --- | --- | --- | --- |\n");
    for r in rows {
        let met = match r.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "",
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {met} |\n",
            r.bench, r.measured, r.baseline, r.ratio, r.target
        ));
    }
    s
}

/// Benchmarks of a debug build mean nothing: run the same command from a release build.
fn rerun_in_release() -> anyhow::Result<ExitCode> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    note("building xtask in release mode (benchmarks of a debug build mean nothing)");
    let status = Command::new(cargo)
        .args(["run", "--release", "--quiet", "--package", "xtask", "--"])
        .args(std::env::args_os().skip(1))
        .env(RELEASE_ENV, "1")
        .status()
        .context("cannot run cargo to build the release xtask")?;
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(c) => ExitCode::from(u8::try_from(c).unwrap_or(2)),
        None => ExitCode::from(2),
    })
}

/// `n` with thousands separators (`12,345`).
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn render_marks_missed_targets() {
        let rows = [
            Row {
                bench: "a".into(),
                measured: "1".into(),
                baseline: "2".into(),
                ratio: "0.5x".into(),
                target: ">= 0.7x".into(),
                met: Some(false),
            },
            Row::failed("b", &anyhow::anyhow!("x | y")),
        ];
        let table = render("m", &rows);
        assert!(table.contains("| a | 1 | 2 | 0.5x | >= 0.7x | **no** |"), "{table}");
        assert!(table.contains("| b | failed: x / y |"), "{table}");
    }
}
