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
    // ContentLengthTooLong's files stop short on a connection kept open: a second without a
    // byte ends each read (the paused-time tests below show the default's verdict).
    o.stall_timeout = Duration::from_secs(1);
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

/// Runs the judgements 8 at a time: all 53 at once on a loaded 2-core machine starved some
/// runs' first request past its 10 s timeout (a flake, not a verdict).
async fn at_most_8_at_once(
    runs: impl Iterator<Item = impl std::future::Future<Output = Option<String>>>,
) -> Vec<String> {
    use futures::StreamExt as _;
    futures::stream::iter(runs).buffer_unordered(8).filter_map(|m| async move { m }).collect().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mini_mutant_fails_with_its_check_named() {
    let runs = MUTANTS.iter().map(|&(m, check)| async move {
        let (target, options) = start(m).await;
        let report = run(&target, &options).await.unwrap();
        judge(&format!("{m:?}"), &report, check)
    });
    let misses = at_most_8_at_once(runs).await;
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
    let misses = at_most_8_at_once(runs).await;
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

#[tokio::test(start_paused = true)]
async fn a_file_that_stops_short_of_its_length_is_judged_at_the_stall_not_the_timeout() {
    let (target, mut o) = start(M::ContentLengthTooLong).await;
    o.stall_timeout = RunOptions::local().stall_timeout;
    let t0 = tokio::time::Instant::now();
    let report = run(&target, &o).await.unwrap();
    let took = t0.elapsed();
    let text = report.render_text();
    assert_eq!(report.failed_names(), ["download_url_serves"], "{text}");
    let c = report.check("download_url_serves").unwrap();
    let seen: Vec<_> = c
        .violations
        .iter()
        .map(|v| (v.pointer.as_str(), v.rule.as_str(), v.value.as_str()))
        .collect();
    let rule = "the body must be as long as its Content-Length";
    let value = "Content-Length 1500, 1000 bytes served, then no byte for 2 s";
    assert_eq!(seen, [("url:audio", rule, value), ("url:default", rule, value)], "{text}");
    // One 2 s stall per file, in virtual time; the file request's 10 s timeout never came.
    assert!(took >= Duration::from_secs(4) && took < Duration::from_secs(5), "{took:?}");
}

#[tokio::test(start_paused = true)]
async fn a_429_without_retry_after_gets_one_short_backoff_then_the_check_decides() {
    // Every request about an unknown video (five operations) answers a word-less 429.
    let (target, o) = start(M::RateLimitNoRetryAfter).await;
    let t0 = tokio::time::Instant::now();
    let report = run(&target, &o).await.unwrap();
    let took = t0.elapsed();
    let text = report.render_text();
    assert_eq!(report.failed_names(), ["retry_after_on_429"], "{text}");
    // The 429s are 4XX failure envelopes: judged, not skipped.
    assert_eq!(report.check("unknown_video_failure").unwrap().outcome, Outcome::Pass, "{text}");
    // One backoff in the whole run (1 s), not one per request (5 s) nor three (15 s).
    assert!(took >= Duration::from_secs(1) && took < Duration::from_secs(2), "{took:?}");
}

#[tokio::test(start_paused = true)]
async fn a_server_of_word_less_429s_only_is_rate_limited_after_one_backoff() {
    let (target, _) = crate::hostile::serve(|_, _, _| {
        let body = r#"{"success":false,"errors":[{"code":10429,"message":"rate limited"}],"messages":[],"result":null}"#;
        let mut r = axum::response::Response::new(axum::body::Body::from(body));
        *r.status_mut() = http::StatusCode::TOO_MANY_REQUESTS;
        r.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        r
    })
    .await;
    let mut o = options();
    // A signed video too, so that every scenario has what it needs and only the 429s stop it.
    o.signed_videos = vec![mutants::SIGNED_VID.parse().unwrap()];
    let t0 = tokio::time::Instant::now();
    let report = run(&target, &o).await.unwrap();
    let took = t0.elapsed();
    let text = report.render_text();
    // The first request, its one retry after the backoff, and nothing more.
    assert_eq!(report.requests, 2, "{text}");
    assert_eq!(took, Duration::from_secs(1), "{text}");
    for info in cfstream_conformance::catalogue() {
        if info.kind == cfstream_conformance::CheckKind::Scenario {
            let c = report.check(info.name).unwrap();
            assert_eq!(
                (c.outcome, c.reason.as_deref()),
                (Outcome::Skip, Some("rate limited")),
                "{}: {text}",
                info.name
            );
        }
    }
    assert_eq!(report.check("retry_after_on_429").unwrap().outcome, Outcome::Fail, "{text}");
}
