//! The faithful emulator passes every check; missing inputs skip (never pass) what needs them.

use cfstream_conformance::{Outcome, catalogue, run};

use crate::{emulator, fast_options, target_of};

#[tokio::test]
async fn the_faithful_emulator_passes_every_check() {
    let emu = emulator().await;
    let mut options = fast_options();
    options.signed_videos = emu.signed_video().into_iter().collect();
    assert_eq!(options.signed_videos.len(), 1, "the demo seed has a video that requires signing");
    let report = run(&target_of(&emu), &options).await.unwrap();
    let text = report.render_text();
    assert!(report.passed(), "{text}");
    // Every check ran; only the 429 check has nothing to judge without a rate limit.
    assert_eq!(report.checks.len(), catalogue().len(), "{text}");
    for c in &report.checks {
        let expected = if c.name == "retry_after_on_429" { Outcome::Skip } else { Outcome::Pass };
        assert_eq!(c.outcome, expected, "{}: {text}", c.name);
    }
    emu.shutdown().await;
}

#[tokio::test]
async fn without_a_video_the_video_checks_are_skipped_with_the_reason() {
    let emu = emulator().await;
    let mut target = target_of(&emu);
    target.videos.clear();
    let report = run(&target, &fast_options()).await.unwrap();
    for name in ["create_then_list", "progress_monotone", "download_url_range", "delete_repeatable"]
    {
        let c = report.check(name).unwrap();
        assert_eq!(c.outcome, Outcome::Skip, "{name}");
        assert!(c.reason.as_deref().unwrap().contains("no video"), "{:?}", c.reason);
    }
    assert_eq!(report.check("auth_missing_rejected").unwrap().outcome, Outcome::Pass);
    assert!(report.passed(), "{}", report.render_text());
    emu.shutdown().await;
}

#[tokio::test]
async fn live_without_allow_writes_skips_destructive_checks() {
    let emu = emulator().await;
    let mut target = target_of(&emu);
    target.live = true;
    let report = run(&target, &fast_options()).await.unwrap();
    for name in [
        "create_then_list",
        "create_type_then_list",
        "delete_then_list",
        "delete_repeatable",
        "download_type_unknown_rejected",
    ] {
        let c = report.check(name).unwrap();
        assert_eq!(c.outcome, Outcome::Skip, "{name}");
        assert!(c.reason.as_deref().unwrap().contains("--allow-writes"), "{:?}", c.reason);
    }
    // Nothing was created, so there is nothing to follow: skipped, not passed.
    assert_eq!(report.check("progress_monotone").unwrap().outcome, Outcome::Skip);
    let requests = emu.admin().requests();
    assert!(requests.iter().all(|r| r.method != "DELETE"), "a delete was sent: {requests:?}");
    emu.shutdown().await;
}

#[tokio::test]
async fn without_credentials_only_what_needs_none_runs() {
    let emu = emulator().await;
    let mut target = target_of(&emu);
    target.credentials = None;
    let report = run(&target, &fast_options()).await.unwrap();
    assert_eq!(report.check("auth_missing_rejected").unwrap().outcome, Outcome::Pass);
    assert_eq!(report.check("unknown_route_failure").unwrap().outcome, Outcome::Pass);
    let c = report.check("id_too_long_rejected").unwrap();
    assert_eq!(c.outcome, Outcome::Skip);
    assert!(c.reason.as_deref().unwrap().contains("no credentials"));
    emu.shutdown().await;
}

#[tokio::test]
async fn only_and_skip_select_checks_and_unknown_names_are_errors() {
    let emu = emulator().await;
    let target = target_of(&emu);
    let mut o = fast_options();
    o.only = vec!["body_schema".into(), "progress_terminates".into()];
    let report = run(&target, &o).await.unwrap();
    let names: Vec<_> = report.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["body_schema", "progress_terminates"]);
    assert!(report.passed(), "{}", report.render_text());

    let mut o = fast_options();
    o.skip = vec!["body_schema".into()];
    let report = run(&target, &o).await.unwrap();
    assert!(report.check("body_schema").is_none());
    assert_eq!(report.checks.len(), catalogue().len() - 1);

    let mut o = fast_options();
    o.only = vec!["no_such_check".into()];
    let e = run(&target, &o).await.unwrap_err();
    assert_eq!(e.kind(), cfstream_conformance::ErrorKind::UnknownCheck);
    assert!(e.to_string().contains("no_such_check"), "{e}");
    emu.shutdown().await;
}

#[tokio::test]
async fn an_unreachable_target_is_an_error() {
    // A socket bound but never listening holds the port, so no other test's server can take
    // it, and a connection to it is refused.
    let held = tokio::net::TcpSocket::new_v4().unwrap();
    held.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = held.local_addr().unwrap().port();
    let target = cfstream_conformance::Target::new(
        format!("http://127.0.0.1:{port}/client/v4").parse().unwrap(),
    );
    let e = run(&target, &fast_options()).await.unwrap_err();
    assert_eq!(e.kind(), cfstream_conformance::ErrorKind::Unreachable);
    assert!(e.to_string().contains("cannot reach"), "{e}");
}

/// A writer into a shared buffer.
#[derive(Clone, Default)]
struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Shared {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

#[tokio::test]
async fn the_text_report_streams_each_check_as_decided_and_the_wait_shows_progress() {
    let emu = emulator().await;
    let target = target_of(&emu);
    let (out, progress) = (Shared::default(), Shared::default());
    let stream = std::sync::Arc::new(
        cfstream_conformance::TextStream::new(&target, out.clone()).with_progress(progress.clone()),
    );
    let mut o = fast_options();
    o.reporter = Some(stream.clone());
    let report = run(&target, &o).await.unwrap();
    stream.finish(&report);
    // The same lines as the whole report, each once (in the order decided, not the catalogue's).
    let sorted = |s: &str| {
        let mut lines: Vec<String> = s.lines().map(str::to_owned).collect();
        lines.sort();
        lines
    };
    let streamed = out.text();
    assert!(streamed.starts_with("cfstream conformance against http://127.0.0.1:"), "{streamed}");
    assert_eq!(sorted(&streamed), sorted(&report.render_text()));
    let progress = progress.text();
    assert!(progress.contains("waiting for "), "{progress:?}");
    assert!(progress.contains(" s of 10 s)"), "{progress:?}");
    emu.shutdown().await;
}
