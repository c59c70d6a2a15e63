//! The referee's time to a verdict: the whole suite against the faithful emulator (as
//! `cargo xtask conformance` runs it), then against every broken server of
//! `cfstream_conformance::mutants` (the mini server's mutants and the emulator with one
//! fault each), one run at a time, each timed from `run` to its report. A mutant counts only
//! if its own check failed.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use cfstream_conformance::mutants::{self, MUTANTS, Mutant};
use cfstream_conformance::{Outcome, Report, RunOptions, Target, run as referee};
use cfstream_emulator::{Emulator, Faults, RunningEmulator};

use super::raw::runtime;
use super::{Row, note};

/// The deadline a download gets to end ready. It bounds only the one mutant whose downloads
/// never end (`NeverReady`, whose verdict is the deadline by definition); every other run
/// ends on its own.
const DEADLINE: Duration = Duration::from_secs(5);
/// Targets: every broken server failed within this...
const MUTANT_TARGET: Duration = Duration::from_secs(10);
/// ...and the faithful emulator judged within this.
const FAITHFUL_TARGET: Duration = Duration::from_secs(3);

fn options() -> RunOptions {
    let mut o = RunOptions::local();
    o.deadline = DEADLINE;
    o
}

fn target_of(emu: &RunningEmulator) -> anyhow::Result<Target> {
    let mut t = Target::new(emu.base_url());
    t.credentials = Some(emu.credentials());
    t.account = Some(emu.account());
    t.videos = vec![emu.ready_video().context("the emulator has no video ready to stream")?];
    Ok(t)
}

async fn timed(target: &Target) -> anyhow::Result<(Duration, Report)> {
    let t0 = Instant::now();
    let report = referee(target, &options()).await.context("the conformance run failed")?;
    Ok((t0.elapsed(), report))
}

/// Whether `check` failed in `report`.
fn caught(report: &Report, check: &str) -> bool {
    report.check(check).is_some_and(|c| c.outcome == Outcome::Fail)
}

/// The emulator as `cargo xtask conformance` starts it, with `faults` in place of its
/// scripted 429 when given.
async fn emulator(faults: Option<Faults>) -> anyhow::Result<RunningEmulator> {
    let mut b = Emulator::builder().conformance_preset();
    if let Some(f) = faults {
        b = b.faults(f);
    }
    b.start().await.context("cannot start the emulator")
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

pub(crate) fn run() -> anyhow::Result<Row> {
    let rt = runtime(0)?;
    rt.block_on(async {
        let emu = emulator(None).await?;
        let result = timed(&target_of(&emu)?).await;
        emu.shutdown().await;
        let (faithful, report) = result?;
        if !report.passed() {
            bail!("the faithful emulator did not pass:\n{}", report.render_text());
        }
        note(format_args!("conformance: faithful emulator PASS in {}", secs(faithful)));
        let (mini, report) = timed(&mutants::start(Mutant::Faithful).await?).await?;
        if !report.passed() {
            bail!("the faithful mini server did not pass:\n{}", report.render_text());
        }
        note(format_args!("conformance: faithful mini server PASS in {}", secs(mini)));

        let mut times: Vec<(String, Duration)> = Vec::new();
        let mut escaped = Vec::new();
        for &(m, check) in MUTANTS {
            let (d, report) = timed(&mutants::start(m).await?).await?;
            note(format_args!("conformance: {m:?} -> {check} in {}", secs(d)));
            if !caught(&report, check) {
                escaped.push(format!("{m:?}"));
            }
            times.push((format!("{m:?}"), d));
        }
        for (label, rule, check) in mutants::emulator_faults() {
            let emu = emulator(Some(Faults::none().rule(rule))).await?;
            let result = timed(&target_of(&emu)?).await;
            emu.shutdown().await;
            let (d, report) = result?;
            note(format_args!("conformance: emulator, {label} -> {check} in {}", secs(d)));
            if !caught(&report, check) {
                escaped.push(label.to_owned());
            }
            times.push((format!("emulator, {label}"), d));
        }
        times.sort_by_key(|(_, d)| std::cmp::Reverse(*d));
        let n = times.len();
        let slowest = times.first().map_or(Duration::ZERO, |(_, d)| *d);
        let median = times.get(n / 2).map_or(Duration::ZERO, |(_, d)| *d);
        let next: Vec<String> =
            times.iter().skip(1).take(3).map(|(l, d)| format!("{l} {}", secs(*d))).collect();
        let mut measured = format!(
            "slowest broken server failed in {} ({}); then {}; median {}; {}/{n} caught by their check",
            secs(slowest),
            times.first().map_or("-", |(l, _)| l.as_str()),
            next.join(", "),
            secs(median),
            n - escaped.len(),
        );
        if !escaped.is_empty() {
            measured.push_str(&format!(" (escaped: {})", escaped.join(", ")));
        }
        Ok(Row {
            bench: format!(
                "conformance: time to verdict, whole suite, one run at a time ({} mini-server mutants, {} emulator faults; `RunOptions::local()`, {} s deadline)",
                MUTANTS.len(),
                n - MUTANTS.len(),
                DEADLINE.as_secs()
            ),
            measured,
            baseline: format!(
                "faithful emulator (`conformance_preset`, with its one 429 waited out): PASS in {} (faithful mini server: {})",
                secs(faithful),
                secs(mini)
            ),
            ratio: format!("{:.1}x", slowest.as_secs_f64() / faithful.as_secs_f64()),
            target: format!(
                "every broken server failed < {} s; faithful emulator < {} s",
                MUTANT_TARGET.as_secs(),
                FAITHFUL_TARGET.as_secs()
            ),
            met: Some(escaped.is_empty() && slowest < MUTANT_TARGET && faithful < FAITHFUL_TARGET),
        })
    })
}
