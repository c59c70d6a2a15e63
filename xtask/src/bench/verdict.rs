//! The referee's time to a verdict: the whole suite against the faithful embedded emulator
//! (as `cargo xtask conformance` starts it), then against every broken server of
//! `cfstream_conformance::mutants` (the mini server's mutants and the emulator with one
//! fault each), one run at a time, each timed from `run` to its report. A row per server,
//! then the summary row. A mutant counts only if its own check failed.

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

fn options(signed_videos: Vec<cfstream_types::VideoId>) -> RunOptions {
    let mut o = RunOptions::local();
    o.deadline = DEADLINE;
    o.signed_videos = signed_videos;
    o
}

/// The emulator's target, and the options naming its signed video.
fn target_of(emu: &RunningEmulator) -> anyhow::Result<(Target, RunOptions)> {
    let mut t = Target::new(emu.base_url());
    t.credentials = Some(emu.credentials());
    t.account = Some(emu.account());
    t.videos = vec![emu.ready_video().context("the emulator has no video ready to stream")?];
    Ok((t, options(emu.signed_video().into_iter().collect())))
}

async fn timed(target: &Target, options: &RunOptions) -> anyhow::Result<(Duration, Report)> {
    let t0 = Instant::now();
    let report = referee(target, options).await.context("the conformance run failed")?;
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

/// A whole emulator run: start, judge, shut down.
async fn emulator_run(faults: Option<Faults>) -> anyhow::Result<(Duration, Report)> {
    let emu = emulator(faults).await?;
    let result = match target_of(&emu) {
        Ok((target, options)) => timed(&target, &options).await,
        Err(e) => Err(e),
    };
    emu.shutdown().await;
    result
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// One server's row.
fn row(server: &str, expected: &str, d: Duration, ok: bool, target: Duration) -> Row {
    Row {
        bench: format!("conformance: {server}"),
        measured: format!("{expected} in {}", secs(d)),
        baseline: String::new(),
        ratio: String::new(),
        target: format!("< {} s", target.as_secs()),
        met: Some(ok && d < target),
    }
}

pub(crate) fn run() -> anyhow::Result<Vec<Row>> {
    let rt = runtime(0)?;
    rt.block_on(async {
        let mut rows = Vec::new();
        let (faithful, report) = emulator_run(None).await?;
        if !report.passed() {
            bail!("the faithful emulator did not pass:\n{}", report.render_text());
        }
        note(format_args!("conformance: faithful emulator PASS in {}", secs(faithful)));
        rows.push(row("faithful emulator", "PASS", faithful, true, FAITHFUL_TARGET));
        let m = Mutant::Faithful;
        let (mini, report) =
            timed(&mutants::start(m).await?, &options(m.signed_videos())).await?;
        if !report.passed() {
            bail!("the faithful mini server did not pass:\n{}", report.render_text());
        }
        note(format_args!("conformance: faithful mini server PASS in {}", secs(mini)));
        rows.push(row("faithful mini server", "PASS", mini, true, FAITHFUL_TARGET));

        // Each broken server: its label, its time to verdict, whether its check caught it.
        let mut broken: Vec<(String, Duration, bool)> = Vec::new();
        for &(m, check) in MUTANTS {
            let (d, report) =
                timed(&mutants::start(m).await?, &options(m.signed_videos())).await?;
            let ok = caught(&report, check);
            note(format_args!("conformance: {m:?} -> {check} in {} (caught: {ok})", secs(d)));
            rows.push(row(&format!("mini server, {m:?}"), &format!("FAIL {check}"), d, ok, MUTANT_TARGET));
            broken.push((format!("{m:?}"), d, ok));
        }
        for (label, rule, check) in mutants::emulator_faults() {
            let (d, report) = emulator_run(Some(Faults::none().rule(rule))).await?;
            let ok = caught(&report, check);
            note(format_args!("conformance: emulator, {label} -> {check} in {} (caught: {ok})", secs(d)));
            rows.push(row(&format!("emulator, {label}"), &format!("FAIL {check}"), d, ok, MUTANT_TARGET));
            broken.push((format!("emulator, {label}"), d, ok));
        }
        let escaped: Vec<&str> =
            broken.iter().filter(|(_, _, ok)| !ok).map(|(l, _, _)| l.as_str()).collect();
        let n = broken.len();
        let (slowest_label, slowest) = broken
            .iter()
            .max_by_key(|(_, d, _)| *d)
            .map_or(("-", Duration::ZERO), |(l, d, _)| (l.as_str(), *d));
        let mut measured = format!(
            "slowest broken-server verdict {} ({slowest_label}); {}/{n} caught by their check",
            secs(slowest),
            n - escaped.len(),
        );
        if !escaped.is_empty() {
            measured.push_str(&format!(" (escaped: {})", escaped.join(", ")));
        }
        rows.push(Row {
            bench: format!(
                "conformance: slowest broken-server verdict / emulator verdict (whole suite, one run at a time; {} mini-server mutants, {} emulator faults; `RunOptions::local()`, {} s deadline)",
                MUTANTS.len(),
                n - MUTANTS.len(),
                DEADLINE.as_secs()
            ),
            measured,
            baseline: format!(
                "faithful emulator (`conformance_preset`, its one scripted 429 waited out): PASS in {}",
                secs(faithful)
            ),
            ratio: format!("{:.1}x", slowest.as_secs_f64() / faithful.as_secs_f64()),
            target: format!(
                "every broken server failed < {} s; faithful emulator < {} s",
                MUTANT_TARGET.as_secs(),
                FAITHFUL_TARGET.as_secs()
            ),
            met: Some(escaped.is_empty() && slowest < MUTANT_TARGET && faithful < FAITHFUL_TARGET),
        });
        Ok(rows)
    })
}
