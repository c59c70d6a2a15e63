//! The whole stack in one process, at the library level: the client (`cfstream-http`) against
//! the emulator, and the referee (`cfstream-conformance`) judging the emulator and the client's
//! view of the same server. Where `downloads.rs` drives the binary, this drives the libraries
//! as a Rust service would.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cfstream_conformance::{RunOptions, Target};
use cfstream_emulator::{
    Emulator, Fault, FaultRoute, FaultRule, Faults, Progress, expected_file_bytes,
};
use cfstream_http::{
    Client, ErrorKind, FetchOptions, LocalSigningKey, RateLimit, Reporter, RetryConfig, Signing,
    WaitOptions,
};
use cfstream_types::{
    DownloadStatus, DownloadType, ErrorCode, Operation, PercentComplete, VideoId,
};

fn client(emu: &cfstream_emulator::RunningEmulator) -> Client {
    Client::builder()
        .credentials(emu.credentials())
        .base_url(emu.base_url())
        .rate_limit(RateLimit::unlimited())
        .retry(RetryConfig::default().max_attempts(6).initial_backoff(Duration::from_millis(5)))
        .build()
        .unwrap()
}

#[derive(Default)]
struct Seen {
    percents: Mutex<Vec<f64>>,
    retries: Mutex<Vec<Operation>>,
}

impl Reporter for Seen {
    fn wait_progress(&self, _: &VideoId, _: &DownloadType, _: &DownloadStatus, p: PercentComplete) {
        self.percents.lock().unwrap().push(p.get());
    }
    fn retrying(&self, op: Operation, _: u32, _: Duration, _: &str) {
        self.retries.lock().unwrap().push(op);
    }
}

/// The README's library example, step for step: create, wait (progress reported, monotone),
/// fetch (byte-exact), then delete and see it gone.
#[tokio::test]
async fn create_wait_fetch_delete_through_the_client() {
    let emu = Emulator::builder()
        .progress(Progress::Over(Duration::from_millis(400)))
        .file_size(300_000)
        .start()
        .await
        .unwrap();
    let client = client(&emu);
    let account = emu.account();
    let video = emu.ready_video().unwrap();
    let downloads = client.downloads(&account);

    for t in DownloadType::KNOWN {
        let created = downloads.create_type(&video, t.clone()).await.unwrap();
        assert_eq!(created.get(&t).unwrap().status, DownloadStatus::InProgress);

        let seen = Arc::new(Seen::default());
        let opts = WaitOptions::default()
            .timeout(Duration::from_secs(30))
            .poll_interval(Duration::from_millis(50))
            .reporter(seen.clone());
        let ready = downloads.wait_ready(&video, t.clone(), opts).await.unwrap();
        assert!(ready.is_ready());
        let percents = seen.percents.lock().unwrap().clone();
        assert!(percents.windows(2).all(|w| w[0] <= w[1]), "progress went back: {percents:?}");
        assert_eq!(percents.last(), Some(&100.0));

        let dir = tempfile::tempdir().unwrap();
        let file = downloads.fetch(&ready, dir.path(), FetchOptions::default()).await.unwrap();
        assert_eq!(file.bytes, 300_000);
        let ext = t.extension().unwrap();
        assert_eq!(file.path.extension().unwrap(), ext);
        assert_eq!(std::fs::read(&file.path).unwrap(), expected_file_bytes(&video, &t, 0, 300_000));
    }

    // The legacy routes act on `default` only.
    downloads.delete(&video).await.unwrap();
    let left = downloads.list(&video).await.unwrap();
    assert!(left.default.is_none());
    assert!(left.audio.is_some());
    downloads.delete_type(&video, DownloadType::Audio).await.unwrap();
    assert!(downloads.list(&video).await.unwrap().is_empty());
    // Delete is idempotent, as the client's retry policy assumes.
    downloads.delete_type(&video, DownloadType::Audio).await.unwrap();
}

/// The emulator's failures reach the client as typed API errors with the right codes, and bad
/// credentials are never retried.
#[tokio::test]
async fn emulator_failures_are_typed_client_errors() {
    let emu = Emulator::builder().progress(Progress::Instant).start().await.unwrap();
    let client = client(&emu);
    let account = emu.account();
    let downloads = client.downloads(&account);

    let unready = emu.videos().into_iter().find(|v| !v.ready_to_stream).unwrap().id;
    let e = downloads.create(&unready).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Api);
    assert!(e.has_code(ErrorCode::VideoNotReady), "{e}");
    assert_eq!(e.status(), Some(409));

    let unknown: VideoId = "0000000000000000000000000000dead".parse().unwrap();
    let e = downloads.list(&unknown).await.unwrap_err();
    assert!(e.has_code(ErrorCode::VideoNotFound), "{e}");

    let before = emu.admin().request_count();
    let wrong = Client::builder()
        .credentials(cfstream_types::Credentials::token("not-the-token"))
        .base_url(emu.base_url())
        .build()
        .unwrap();
    let e = wrong.downloads(&account).list(&unknown).await.unwrap_err();
    assert!(e.has_code(ErrorCode::Authentication), "{e}");
    assert!(!e.is_retryable());
    assert_eq!(emu.admin().request_count(), before + 1, "a 403 is not retried");
}

/// Transient faults injected by the emulator are absorbed by the client's retries, and the
/// client reports each retry.
#[tokio::test]
async fn the_client_rides_out_the_emulators_faults() {
    let emu =
        Emulator::builder().progress(Progress::Instant).file_size(64 * 1024).start().await.unwrap();
    emu.admin().set_faults(
        Faults::none()
            .rule(FaultRule::script(
                FaultRoute::Api(Operation::CreateType),
                vec![Fault::Status { status: 503 }, Fault::RateLimited { retry_after_secs: 0 }],
            ))
            .rule(FaultRule::script(
                FaultRoute::File,
                vec![Fault::TruncatedBody, Fault::ConnectionReset],
            )),
    );
    let seen = Arc::new(Seen::default());
    let client = Client::builder()
        .credentials(emu.credentials())
        .base_url(emu.base_url())
        .retry(RetryConfig::default().max_attempts(6).initial_backoff(Duration::from_millis(5)))
        .reporter(seen.clone())
        .build()
        .unwrap();
    let account = emu.account();
    let video = emu.ready_video().unwrap();
    let downloads = client.downloads(&account);
    downloads.create_type(&video, DownloadType::Default).await.unwrap();
    assert_eq!(*seen.retries.lock().unwrap(), vec![Operation::CreateType, Operation::CreateType]);
    let ready =
        downloads.wait_ready(&video, DownloadType::Default, WaitOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = downloads.fetch(&ready, dir.path(), FetchOptions::default()).await.unwrap();
    assert_eq!(
        std::fs::read(&file.path).unwrap(),
        expected_file_bytes(&video, &DownloadType::Default, 0, 64 * 1024)
    );
}

/// The referee, called as a library, passes the faithful emulator and fails it, naming the
/// check, once a fault breaks a rule.
#[tokio::test]
async fn conformance_as_a_library_judges_the_emulator() {
    let emu = Emulator::builder()
        .progress(Progress::Over(Duration::from_millis(200)))
        .file_size(8192)
        .start()
        .await
        .unwrap();
    let mut target = Target::new(emu.base_url());
    target.credentials = Some(emu.credentials());
    target.account = Some(emu.account());
    target.videos = emu
        .videos()
        .into_iter()
        .filter(|v| v.ready_to_stream && !v.require_signed_urls)
        .map(|v| v.id)
        .collect();
    let mut options = RunOptions::default();
    options.deadline = Duration::from_secs(30);
    options.poll_interval = Duration::from_millis(50);

    let report = cfstream_conformance::run(&target, &options).await.unwrap();
    assert!(report.passed(), "{}", report.render_text());

    emu.admin().set_faults(Faults::none().rule(FaultRule::probability(
        FaultRoute::Api(Operation::List),
        1.0,
        Fault::WrongContentType,
    )));
    let report = cfstream_conformance::run(&target, &options).await.unwrap();
    assert!(!report.passed());
    assert!(report.failed_names().contains(&"content_type_json"), "{}", report.render_text());
}

/// A video that requires signed URLs, end to end: the client creates, waits for and fetches its
/// download with each token source (the token endpoint, and a key created through the API and
/// used offline), a client that may not sign gets the typed refusal and no file, and the
/// referee passes the emulator's signed-URL checks on the same video.
#[tokio::test]
async fn a_signed_video_is_fetched_with_each_token_source_and_judged() {
    let emu =
        Emulator::builder().progress(Progress::Instant).file_size(200_000).start().await.unwrap();
    let client = client(&emu);
    let account = emu.account();
    let video = emu.signed_video().expect("the demo seed has a video that requires signed URLs");
    let downloads = client.downloads(&account);
    downloads.create(&video).await.unwrap();
    let wait = WaitOptions::default().timeout(Duration::from_secs(30));
    let ready = downloads.wait_ready(&video, DownloadType::Default, wait).await.unwrap();
    let expected = expected_file_bytes(&video, &DownloadType::Default, 0, 200_000);

    let dir = tempfile::tempdir().unwrap();
    let never = FetchOptions::default().signing(Signing::Never);
    let e = downloads.fetch(&ready, dir.path(), never).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::SignedUrlRequired, "{e}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "a refused fetch left a file");

    let key = downloads.create_signing_key().await.unwrap();
    let local = LocalSigningKey::try_from(&key).unwrap();
    for (source, signing) in
        [("token endpoint", Signing::TokenEndpoint), ("local key", Signing::Key(local))]
    {
        let dir = tempfile::tempdir().unwrap();
        let opts = FetchOptions::default().signing(signing);
        let file = downloads.fetch(&ready, dir.path(), opts).await.unwrap();
        assert_eq!(std::fs::read(&file.path).unwrap(), expected, "{source}");
    }

    let mut target = Target::new(emu.base_url());
    target.credentials = Some(emu.credentials());
    target.account = Some(account);
    target.videos = emu.ready_video().into_iter().collect();
    let mut options = RunOptions::default();
    options.deadline = Duration::from_secs(30);
    options.poll_interval = Duration::from_millis(50);
    options.signed_videos = vec![video];
    let report = cfstream_conformance::run(&target, &options).await.unwrap();
    assert!(report.passed(), "{}", report.render_text());
    for check in [
        "signed_token_schema",
        "signed_unsigned_refused",
        "signed_not_downloadable_refused",
        "signed_expired_refused",
        "signed_other_video_refused",
        "signed_url_serves",
    ] {
        let c = report.check(check).unwrap();
        assert_eq!(c.outcome, cfstream_conformance::Outcome::Pass, "{check}: {:?}", c.reason);
    }
}
