//! The command tree, declared with clap's derive API: global options, `downloads`, `serve`,
//! `conformance` and `completions`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use cfstream_types::{AccountId, DownloadType};
use clap::{Args, Parser, Subcommand, ValueEnum};

/// Create, wait for, fetch and verify Cloudflare Stream MP4 and audio downloads.
///
/// Credentials are read from the environment only, never from a flag: CLOUDFLARE_API_TOKEN,
/// or CLOUDFLARE_EMAIL and CLOUDFLARE_API_KEY (the legacy global key).
#[derive(Debug, Parser)]
#[command(name = "cfstream", version, about, long_about, max_term_width = 100)]
#[command(after_help = "Exit status: 0 every video succeeded, 1 some videos failed or were not \
ready in time, 2 usage or setup error, 130 interrupted.")]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,

    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub(crate) struct Global {
    /// The Cloudflare account id
    #[arg(long, global = true, env = "CLOUDFLARE_ACCOUNT_ID", hide_env_values = true)]
    pub(crate) account: Option<String>,

    /// The API's base URL [default: https://api.cloudflare.com/client/v4]
    #[arg(long, global = true, env = "CLOUDFLARE_BASE_URL", hide_env_values = true)]
    pub(crate) base_url: Option<String>,

    /// Print results as JSON Lines on stdout: one object per result or event
    #[arg(long, global = true)]
    pub(crate) json: bool,

    /// Print nothing but errors (and --json output when asked for)
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub(crate) quiet: bool,

    /// Log more on stderr (-v requests and retries, -vv debug, -vvv trace)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,

    /// Draw no progress bars (they are never drawn when stderr is not a terminal)
    #[arg(long, global = true)]
    pub(crate) no_progress: bool,
}

impl Global {
    /// The account id from `--account` / `CLOUDFLARE_ACCOUNT_ID`, validated.
    pub(crate) fn account(&self) -> anyhow::Result<AccountId> {
        let Some(raw) = self.account.as_deref() else {
            anyhow::bail!(
                "no account id: pass --account ID or set CLOUDFLARE_ACCOUNT_ID \
                 (the id is on the Stream page of the Cloudflare dashboard)"
            );
        };
        raw.trim()
            .parse::<AccountId>()
            .map_err(|e| anyhow::Error::new(e).context("bad --account / CLOUDFLARE_ACCOUNT_ID"))
    }
}

/// The top-level commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// List, create, delete, wait for and fetch the downloads of videos
    #[command(subcommand)]
    Downloads(Downloads),

    /// Run the local emulator of the Stream downloads API (until Ctrl-C)
    Serve(ServeArgs),

    /// Check that a server answers as the Stream downloads API must (by default an emulator
    /// started in this process; --base-url or --live to check another server)
    Conformance(ConformanceArgs),

    /// Print a shell completion script (e.g. `cfstream completions bash > cfstream.bash`)
    Completions(CompletionsArgs),
}

/// `cfstream downloads ...`
#[derive(Debug, Subcommand)]
pub(crate) enum Downloads {
    /// Show the downloads of each video
    List(ListArgs),
    /// Create a download of each video (returns the existing one if already created)
    Create(TypedArgs),
    /// Delete a download of each video
    Delete(TypedArgs),
    /// Wait until a download of each video is ready
    Wait(WaitArgs),
    /// Create if needed, wait until ready, then download the file of each video
    Fetch(FetchArgs),
}

impl Downloads {
    /// The video selection and batch options of the command.
    pub(crate) fn batch(&self) -> &BatchArgs {
        match self {
            Downloads::List(a) => &a.batch,
            Downloads::Create(a) | Downloads::Delete(a) => &a.batch,
            Downloads::Wait(a) => &a.batch,
            Downloads::Fetch(a) => &a.wait.batch,
        }
    }

    /// The command's name, as in JSON Lines' `command` field.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Downloads::List(_) => "list",
            Downloads::Create(_) => "create",
            Downloads::Delete(_) => "delete",
            Downloads::Wait(_) => "wait",
            Downloads::Fetch(_) => "fetch",
        }
    }
}

/// Which videos, and how many at once.
#[derive(Debug, Args)]
pub(crate) struct BatchArgs {
    /// Video ids (32 hex digits); `-` reads ids from stdin, one per line
    #[arg(value_name = "VIDEO")]
    pub(crate) videos: Vec<String>,

    /// Read video ids from FILE, one per line (blank lines and `#` comments are skipped)
    #[arg(long, value_name = "FILE")]
    pub(crate) from: Vec<PathBuf>,

    /// How many videos to work on at once (requests stay within --rate-limit)
    #[arg(short, long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub(crate) jobs: u16,

    /// Client-side request rate limit, as COUNT/PERIOD (Cloudflare's is 1200/5m), or `off`
    #[arg(long, value_name = "COUNT/PERIOD", default_value = "1200/5m", value_parser = parse_rate)]
    pub(crate) rate_limit: RateSetting,

    /// Attempts per request before a video fails (429, 5xx and network errors are retried
    /// with exponential backoff)
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub(crate) max_attempts: u32,
}

/// `--rate-limit`: a rate, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RateSetting {
    Off,
    Per(Rate),
}

/// A request rate: `count` requests per `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rate {
    pub(crate) count: u32,
    pub(crate) period: Duration,
}

fn parse_rate(s: &str) -> Result<RateSetting, String> {
    if s == "off" {
        return Ok(RateSetting::Off);
    }
    let (count, period) =
        s.split_once('/').ok_or_else(|| format!("'{s}' is not COUNT/PERIOD, e.g. 1200/5m"))?;
    let count: u32 = count
        .trim()
        .parse()
        .map_err(|_| format!("'{count}' is not a request count (a whole number above 0)"))?;
    if count == 0 {
        return Err("the request count must be above 0".into());
    }
    let period = parse_duration(period.trim())?;
    Ok(RateSetting::Per(Rate { count, period }))
}

/// Parses a positive human duration (`10m`, `3s`, `1h 30m`).
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("'{s}' is not a duration: {e}"))?;
    if d.is_zero() {
        return Err(format!("'{s}' must be longer than zero"));
    }
    Ok(d)
}

/// The download type options.
#[derive(Debug, Args)]
pub(crate) struct TypeArg {
    /// The download type: default (MP4) or audio (M4A)
    #[arg(short = 't', long = "type", value_name = "TYPE", default_value = "default")]
    pub(crate) download_type: DownloadType,
}

/// `downloads list`
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    #[command(flatten)]
    pub(crate) batch: BatchArgs,
}

/// `downloads create` and `downloads delete`: videos and a type.
#[derive(Debug, Args)]
pub(crate) struct TypedArgs {
    #[command(flatten)]
    pub(crate) batch: BatchArgs,
    #[command(flatten)]
    pub(crate) kind: TypeArg,
}

/// `downloads wait`
#[derive(Debug, Args)]
pub(crate) struct WaitArgs {
    #[command(flatten)]
    pub(crate) batch: BatchArgs,
    #[command(flatten)]
    pub(crate) kind: TypeArg,
    /// Give up on a video after this long, its API calls, waiting and any transfer included
    /// (e.g. 90s, 10m, 1h)
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
    pub(crate) timeout: Duration,
}

/// `downloads fetch`: what `wait` takes, then where to write.
#[derive(Debug, Args)]
pub(crate) struct FetchArgs {
    #[command(flatten)]
    pub(crate) wait: WaitArgs,
    /// Where to write: a directory (files are named VIDEO.mp4 / VIDEO.m4a) or, for one
    /// video, a file path
    #[arg(short, long, value_name = "DIR|FILE", default_value = ".")]
    pub(crate) output: PathBuf,
    /// Ask the server to name the file NAME (`?filename=`, at most 120 of [A-Za-z0-9-_]);
    /// with one video and an output directory, also the local name (NAME.mp4)
    #[arg(long, value_name = "NAME", value_parser = parse_filename)]
    pub(crate) filename: Option<String>,
    /// Fetch again videos whose file exists already (by default they are left alone: a file
    /// under its final name is always complete)
    #[arg(long)]
    pub(crate) overwrite: bool,
}

fn parse_filename(s: &str) -> Result<String, String> {
    let ok = (1..=120).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(s.to_owned())
    } else {
        Err(format!("'{s}' must be 1 to 120 of [A-Za-z0-9-_] (no extension: it is added for you)"))
    }
}

/// `serve`
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Port to listen on, on 127.0.0.1 (0 picks a free one)
    #[arg(short, long, default_value_t = 8790)]
    pub(crate) port: u16,
    /// Load the account's videos from a JSON seed file instead of the demo set
    #[arg(long, value_name = "FILE")]
    pub(crate) seed: Option<PathBuf>,
    /// How long a new download takes to turn ready: a duration (3s) or `instant`
    #[arg(long, value_name = "DURATION|instant", default_value = "3s", value_parser = parse_progress)]
    pub(crate) progress: ProgressSetting,
    /// Size in bytes of every generated download file
    #[arg(long, value_name = "BYTES", default_value_t = 1_048_576)]
    pub(crate) file_size: u64,
    /// Keep the state (videos, downloads) in this JSON file across restarts
    #[arg(long, value_name = "FILE")]
    pub(crate) state: Option<PathBuf>,
    /// The API rate limit per credential, as COUNT/PERIOD (Cloudflare's is 1200/5m), or `off`
    /// (for load tests)
    #[arg(long, value_name = "COUNT/PERIOD|off", default_value = "1200/5m", value_parser = parse_rate)]
    pub(crate) rate_limit: RateSetting,
    /// Inject faults from this JSON file (the JSON of `PUT /__emulator/faults`)
    #[arg(long, value_name = "FILE")]
    pub(crate) faults: Option<PathBuf>,
    /// Close a connection idle this long between requests
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub(crate) idle_timeout: Duration,
    /// The most connections open at once (default: 1024, or 64 below the open-file limit); at
    /// the cap the longest-idle one is closed to make room
    #[arg(long, value_name = "N")]
    pub(crate) max_connections: Option<std::num::NonZeroUsize>,
}

/// How fast the emulator's downloads progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProgressSetting {
    Instant,
    Over(Duration),
}

fn parse_progress(s: &str) -> Result<ProgressSetting, String> {
    if s.eq_ignore_ascii_case("instant") || s == "0" || s == "0s" {
        return Ok(ProgressSetting::Instant);
    }
    parse_duration(s).map(ProgressSetting::Over)
}

/// `conformance`: the same flags as `cargo xtask conformance`, or `conformance proxy`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct ConformanceArgs {
    #[command(subcommand)]
    pub(crate) proxy: Option<ConformanceCommand>,

    #[command(flatten)]
    pub(crate) run: ConformanceRunArgs,
}

/// `conformance` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum ConformanceCommand {
    /// Forward traffic to an upstream server and validate every answer on the fly
    Proxy(ProxyArgs),
}

/// Flags of a conformance run (mirrors `cargo xtask conformance`).
#[derive(Debug, Args)]
pub(crate) struct ConformanceRunArgs {
    /// A video that is ready to stream, used by the scenarios (repeatable); without one,
    /// the checks that need it are skipped
    #[arg(long = "video", value_name = "VIDEO")]
    pub(crate) videos: Vec<String>,
    /// Check the real Cloudflare API (https://api.cloudflare.com/client/v4); destructive
    /// checks then need --allow-writes
    #[arg(long)]
    pub(crate) live: bool,
    /// Allow checks that create and delete downloads on a --live account
    #[arg(long)]
    pub(crate) allow_writes: bool,
    /// Run only these checks (comma separated or repeated)
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    pub(crate) checks: Vec<String>,
    /// Skip these checks (comma separated or repeated)
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    pub(crate) skip: Vec<String>,
    /// Write reports: FORMAT=PATH, comma separated; formats junit, json, md
    #[arg(long, value_name = "FORMAT=PATH", value_delimiter = ',')]
    pub(crate) report: Vec<cfstream_conformance::ReportFile>,
    /// How long, in seconds, a download may take to end ready or error
    #[arg(long, value_name = "SECS")]
    pub(crate) deadline: Option<u64>,
    /// The run's budget, in seconds, for waiting out 429s; past it, the checks still to run
    /// are skipped as rate limited [default: 300]
    #[arg(long, value_name = "SECS")]
    pub(crate) max_wait: Option<u64>,
    /// List the checks, one line each, and exit
    #[arg(long)]
    pub(crate) list: bool,
}

/// `conformance proxy`
#[derive(Debug, Args)]
pub(crate) struct ProxyArgs {
    /// The server to forward to, e.g. https://api.cloudflare.com/client/v4
    #[arg(long, value_name = "URL")]
    pub(crate) upstream: String,
    /// The address to listen on
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8791")]
    pub(crate) listen: SocketAddr,
}

/// `completions`
#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell to write a completion script for
    #[arg(value_enum)]
    pub(crate) shell: Shell,
}

/// Shells `completions` can write for.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Shell {
    Bash,
    Elvish,
    Fish,
    Powershell,
    Zsh,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn rates_and_durations_parse() {
        assert_eq!(
            parse_rate("120/6s").unwrap(),
            RateSetting::Per(Rate { count: 120, period: Duration::from_secs(6) })
        );
        assert_eq!(parse_rate("off").unwrap(), RateSetting::Off);
        assert!(parse_rate("0/1s").is_err());
        assert!(parse_rate("12").is_err());
        assert!(parse_duration("0s").is_err());
        assert_eq!(parse_progress("instant").unwrap(), ProgressSetting::Instant);
        assert_eq!(parse_progress("3s").unwrap(), ProgressSetting::Over(Duration::from_secs(3)));
    }

    #[test]
    fn filenames_are_checked_like_the_api() {
        assert!(parse_filename("my-video_1").is_ok());
        for bad in ["", "a.mp4", "../x", "a b", &"x".repeat(121)] {
            assert!(parse_filename(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn secrets_have_no_flag() {
        let cmd = Cli::command();
        let mut names = vec![];
        fn walk(c: &clap::Command, names: &mut Vec<String>) {
            for a in c.get_arguments() {
                if let Some(l) = a.get_long() {
                    names.push(l.to_owned());
                }
            }
            for s in c.get_subcommands() {
                walk(s, names);
            }
        }
        walk(&cmd, &mut names);
        for n in &names {
            assert!(!n.contains("token") && !n.contains("key"), "secret flag --{n}");
        }
    }
}
