//! Proof that the harness catches what it must: deliberately broken servers, each breaking one
//! rule, and for each the harness must fail with the right check named. The servers live in
//! `cfstream_conformance::mutants` (feature `mutants`, so that `cargo xtask bench conformance`
//! can time them too): a small axum server implements the API faithfully unless told to break
//! one rule ([`M`]); more mutants are the emulator with faults. The faithful mini server passes
//! every check, so each mutant's failure is its own rule's. It also has a video that requires
//! signed URLs (`mutants::SIGNED_VID`): the runs of the faithful server and of the signed
//! mutants name it in `RunOptions::signed_videos`.

use std::time::Duration;

use cfstream_conformance::mutants::{self, MUTANTS};
use cfstream_conformance::{Outcome, Report, RunOptions, Target, run};
use cfstream_emulator::{FaultRule, Faults, Progress};
use cfstream_types::Operation;

pub(crate) use cfstream_conformance::mutants::Mutant as M;

/// The signed-URL checks.
pub(crate) const SIGNED_CHECKS: [&str; 6] = [
    "signed_token_schema",
    "signed_unsigned_refused",
    "signed_not_downloadable_refused",
    "signed_expired_refused",
    "signed_other_video_refused",
    "signed_url_serves",
];

/// Starts the mini server breaking `m`; answers its target and the options of a run (which
/// name the signed video for the faithful server and the signed mutants).
pub(crate) async fn start(m: M) -> (Target, RunOptions) {
    let target = mutants::start(m).await.unwrap();
    let mut o = options();
    o.signed_videos = m.signed_videos();
    (target, o)
}

fn options() -> RunOptions {
    let mut o = crate::fast_options();
    // NeverReady must hit the deadline; everything else is ready after two polls.
    o.deadline = Duration::from_millis(400);
    o.poll_interval = Duration::from_millis(10);
    o
}

/// `None` when the report fails with `check`, else why not.
fn judge(label: &str, report: &Report, check: &str) -> Option<String> {
    match report.check(check) {
        Some(c) if c.outcome == Outcome::Fail => {
            // Every violation of a failed check names that check.
            assert!(c.violations.iter().all(|v| v.check == check), "{label}: {:?}", c.violations);
            None
        }
        _ => Some(format!(
            "{label}: expected {check} to fail; failed: {:?}\n{}",
            report.failed_names(),
            report.render_text()
        )),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_faithful_mini_server_passes_every_check() {
    let (target, options) = start(M::Faithful).await;
    let report = run(&target, &options).await.unwrap();
    assert!(report.passed(), "{}", report.render_text());
    let skipped: Vec<_> = report
        .checks
        .iter()
        .filter(|c| c.outcome == Outcome::Skip)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(skipped, ["retry_after_on_429"]);
}

/// The mutants of the rules across requests: each is caught by its own check and no other.
const SOLE: &[M] = &[
    M::TokenMissing,
    M::TokenEchoed,
    M::SignedPlainServes,
    M::SignedIgnoresDownloadable,
    M::SignedIgnoresExp,
    M::SignedIgnoresSub,
    M::SignedTokenRefused,
    M::SignedRangeIgnored,
    M::DownloadsVanish,
    M::CreateRestarts,
    M::LegacyDeleteRemovesAll,
    M::RangeWrongBytes,
    M::AudioIsMp4,
    M::FilenameIgnored,
    M::LongFilenameAccepted,
    M::UnknownVideoDelete200,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_rule_across_requests_is_caught_by_its_check_alone() {
    let runs = MUTANTS.iter().filter(|(m, _)| SOLE.contains(m)).map(|&(m, check)| async move {
        let (target, options) = start(m).await;
        let report = run(&target, &options).await.unwrap();
        (m, check, report)
    });
    for (m, check, report) in futures::future::join_all(runs).await {
        assert_eq!(report.failed_names(), [check], "{m:?}\n{}", report.render_text());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mini_mutant_fails_with_its_check_named() {
    let runs = MUTANTS.iter().map(|&(m, check)| async move {
        let (target, options) = start(m).await;
        let report = run(&target, &options).await.unwrap();
        judge(&format!("{m:?}"), &report, check)
    });
    let misses: Vec<String> = futures::future::join_all(runs).await.into_iter().flatten().collect();
    assert!(
        misses.is_empty(),
        "{} of {} mutants escaped:\n{}",
        misses.len(),
        MUTANTS.len(),
        misses.join("\n")
    );
}

/// The emulator with one fault each.
fn emulator_mutants() -> Vec<(&'static str, FaultRule, &'static str)> {
    mutants::emulator_faults()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_emulator_fault_fails_with_its_check_named() {
    let runs = emulator_mutants().into_iter().map(|(label, rule, check)| async move {
        let emu = crate::emulator_with(
            Faults::none().rule(rule),
            Progress::Over(Duration::from_millis(50)),
        )
        .await;
        let report = run(&crate::target_of(&emu), &options()).await.unwrap();
        emu.shutdown().await;
        judge(label, &report, check)
    });
    let misses: Vec<String> = futures::future::join_all(runs).await.into_iter().flatten().collect();
    assert!(misses.is_empty(), "{} emulator mutants escaped:\n{}", misses.len(), misses.join("\n"));
}

#[test]
fn there_are_at_least_30_mutants() {
    assert!(MUTANTS.len() + emulator_mutants().len() >= 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_answer_ends_the_wait_at_once_and_identical_violations_fold() {
    let mut o = options();
    // Far past the test's length: only a prompt verdict ends this run in time.
    o.deadline = Duration::from_secs(600);
    let report = run(&start(M::StatusUnknown).await.0, &o).await.unwrap();
    let text = report.render_text();
    let term = report.check("progress_terminates").unwrap();
    assert_eq!(term.outcome, Outcome::Skip, "{text}");
    assert_eq!(
        term.reason.as_deref(),
        Some("stopped waiting at an answer that breaks body_schema: see that check")
    );
    // Every list answer that showed `default` broke the same rule at the same place (after each
    // create, the one poll, before the deletes, after deleting audio and after creating it
    // again): one line, with its count.
    let schema = report.check("body_schema").unwrap();
    let same: Vec<_> = schema
        .violations
        .iter()
        .filter(|v| v.operation == Some(Operation::List) && v.pointer == "/result/default/status")
        .collect();
    assert_eq!(same.len(), 1, "{text}");
    assert_eq!(same[0].count, 6, "{text}");
    assert_eq!(same[0].value, "\"queued\"");
    assert!(text.contains("(got \"queued\") [6 times]"), "{text}");

    let report = run(&start(M::ProgressGoesBack).await.0, &o).await.unwrap();
    let term = report.check("progress_terminates").unwrap();
    assert_eq!(
        term.reason.as_deref(),
        Some("stopped waiting: progress broke progress_monotone"),
        "{}",
        report.render_text()
    );
}
