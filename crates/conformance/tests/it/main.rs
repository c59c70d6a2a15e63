//! Integration tests of cfstream-conformance: one binary, one module per concern.

// clippy.toml allows unwrap in #[test] functions; the helpers of this test binary may too.
#![allow(clippy::unwrap_used)]

mod emulator;
mod examples;
mod fast_path;
mod generated;
mod hostile;
mod mutants;
mod proxy;
mod reports;
mod signed;

use std::time::Duration;

use cfstream_conformance::{RunOptions, Target};
use cfstream_emulator::{Emulator, Faults, Progress, RateLimit, RunningEmulator};

/// A faithful emulator (or one with `faults`), quick progress, no rate limit, small files.
pub(crate) async fn emulator_with(faults: Faults, progress: Progress) -> RunningEmulator {
    Emulator::builder()
        .progress(progress)
        .faults(faults)
        .rate_limit(RateLimit::disabled())
        .file_size(64 * 1024)
        .start()
        .await
        .unwrap()
}

pub(crate) async fn emulator() -> RunningEmulator {
    emulator_with(Faults::none(), Progress::Over(Duration::from_millis(150))).await
}

/// The target of a running emulator: its account, credentials and first ready video.
pub(crate) fn target_of(emu: &RunningEmulator) -> Target {
    let video =
        emu.videos().into_iter().find(|v| v.ready_to_stream && !v.require_signed_urls).unwrap().id;
    let mut t = Target::new(emu.base_url());
    t.credentials = Some(emu.credentials());
    t.account = Some(emu.account());
    t.videos = vec![video];
    t
}

/// Short deadlines and quick polls, so a whole run takes well under a second.
pub(crate) fn fast_options() -> RunOptions {
    let mut o = RunOptions::default();
    o.deadline = Duration::from_secs(10);
    o.poll_interval = Duration::from_millis(20);
    o.request_timeout = Duration::from_secs(10);
    o
}
