//! The signed-URL checks: the test signing key the mini server of
//! `cfstream_conformance::mutants` signs and verifies its tokens with (RS256 through
//! jsonwebtoken directly, never the client's code), and the checks' verdicts where a mutant
//! cannot show them: SKIP with the reason when a signed video, another video or a ready
//! download is missing, and tokens out of every report.

use cfstream_conformance::mutants::{KID, now, sign, verify};
use cfstream_conformance::{Outcome, ReportFormat, run};
use jsonwebtoken::Algorithm;

use crate::mutants::{M, SIGNED_CHECKS, start};

#[test]
fn the_test_key_signs_what_it_verifies_and_nothing_else() {
    let t = now();
    let good = sign(&serde_json::json!({"sub": "a", "kid": KID, "exp": t + 60, "nbf": t})).unwrap();
    assert_eq!(verify(&good, true).unwrap()["sub"], "a");
    let header = jsonwebtoken::decode_header(&good).unwrap();
    assert_eq!((header.alg, header.kid.as_deref()), (Algorithm::RS256, Some(KID)));
    let expired = sign(&serde_json::json!({"sub": "a", "exp": t - 10, "nbf": t - 20})).unwrap();
    assert_eq!(verify(&expired, true), None);
    assert!(verify(&expired, false).is_some());
    let mut forged = good.clone();
    forged.pop();
    forged.push(if good.ends_with('A') { 'B' } else { 'A' });
    assert_eq!(verify(&forged, true), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_signed_video_the_signed_checks_are_skipped_with_the_reason() {
    let (target, mut options) = start(M::Faithful).await;
    options.signed_videos.clear();
    let report = run(&target, &options).await.unwrap();
    for name in SIGNED_CHECKS {
        let c = report.check(name).unwrap();
        assert_eq!(c.outcome, Outcome::Skip, "{name}");
        assert_eq!(
            c.reason.as_deref(),
            Some(
                "no signed video given (--signed-video): needs a video that requires signed URLs and is ready to stream"
            ),
            "{name}"
        );
    }
    assert!(report.passed(), "{}", report.render_text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_another_video_the_other_video_check_is_skipped_and_the_rest_judged() {
    let (mut target, options) = start(M::Faithful).await;
    // The signed video alone: no other video of the account to ask a token for.
    target.videos.clear();
    let report = run(&target, &options).await.unwrap();
    let text = report.render_text();
    let c = report.check("signed_other_video_refused").unwrap();
    assert_eq!(c.outcome, Outcome::Skip, "{text}");
    assert_eq!(
        c.reason.as_deref(),
        Some("no other video given (--video, or a second --signed-video) to ask a token for")
    );
    for name in SIGNED_CHECKS.iter().filter(|n| **n != "signed_other_video_refused") {
        assert_eq!(report.check(name).unwrap().outcome, Outcome::Pass, "{name}: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_ready_download_and_no_writes_the_file_checks_are_skipped() {
    let (mut target, options) = start(M::Faithful).await;
    // A live account without --allow-writes: the signed video's download is not created.
    target.live = true;
    let report = run(&target, &options).await.unwrap();
    let text = report.render_text();
    assert_eq!(report.check("signed_token_schema").unwrap().outcome, Outcome::Pass, "{text}");
    for name in SIGNED_CHECKS.iter().filter(|n| **n != "signed_token_schema") {
        let c = report.check(name).unwrap();
        assert_eq!(c.outcome, Outcome::Skip, "{name}: {text}");
        assert_eq!(
            c.reason.as_deref(),
            Some(
                "the signed video has no ready default download, and writes are not allowed (--allow-writes) to create one"
            ),
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_will_not_issue_a_past_exp_leaves_the_expired_check_unjudged() {
    let (target, options) = start(M::PastExpRefused).await;
    let report = run(&target, &options).await.unwrap();
    let text = report.render_text();
    let c = report.check("signed_expired_refused").unwrap();
    assert_eq!(c.outcome, Outcome::Skip, "{text}");
    let reason = c.reason.as_deref().unwrap();
    assert!(
        reason.starts_with("the token endpoint would not issue a token with a past exp (400 {"),
        "{reason}"
    );
    assert!(
        reason.ends_with("): an expired token cannot be had without the signing key"),
        "{reason}"
    );
    assert!(report.passed(), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_never_reach_a_report() {
    // Every signed check fails here, each with the signed URL (the token in its path) in what
    // it saw: the 200 of a refused token's URL, a transport error naming the URL.
    for m in [M::SignedTokenRefused, M::SignedIgnoresDownloadable, M::TokenEchoed] {
        let (target, options) = start(m).await;
        let report = run(&target, &options).await.unwrap();
        assert!(!report.passed(), "{m:?}");
        for format in
            [ReportFormat::Text, ReportFormat::Json, ReportFormat::Junit, ReportFormat::Markdown]
        {
            let text = report.render(format);
            // A JWT's header starts `eyJ` (`{"` in base64url).
            assert!(!text.contains("eyJ"), "{m:?} {format:?}: {text}");
        }
    }
    // A token answer that echoes the token where the schema breaks: the violation shows the
    // answer, cut at 200 characters in the middle of the token, and what is left of it is
    // replaced.
    let (target, options) = start(M::TokenEchoed).await;
    let report = run(&target, &options).await.unwrap();
    let c = report.check("signed_token_schema").unwrap();
    assert_eq!(c.outcome, Outcome::Fail, "{}", report.render_text());
    assert_eq!(c.violations.len(), 1, "{:?}", c.violations);
    assert_eq!(c.violations[0].pointer, "/messages/0");
    assert_eq!(c.violations[0].value, r#"{"message":"issued [redacted]…"#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_a_valid_token_is_refused_too_no_token_refusal_passes() {
    let (target, options) = start(M::SignedTokenRefused).await;
    let report = run(&target, &options).await.unwrap();
    let text = report.render_text();
    assert_eq!(report.failed_names(), ["signed_url_serves"], "{text}");
    for name in
        ["signed_not_downloadable_refused", "signed_expired_refused", "signed_other_video_refused"]
    {
        let c = report.check(name).unwrap();
        assert_eq!(c.outcome, Outcome::Skip, "{name}: {text}");
        assert_eq!(
            c.reason.as_deref(),
            Some(
                "a valid token was not served either, so a refusal proves nothing: see signed_url_serves"
            )
        );
    }
    // The plain URL's refusal does not depend on tokens: judged.
    assert_eq!(report.check("signed_unsigned_refused").unwrap().outcome, Outcome::Pass, "{text}");
}
