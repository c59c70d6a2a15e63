//! `DownloadsApi::deadline`: one time bounds the API calls, `wait_ready` and `fetch`'s transfer,
//! against servers that go silent, in virtual time.

use std::time::Duration;

use cfstream_http::{Client, ErrorKind, FetchOptions, WaitOptions};
use cfstream_types::{Download, DownloadStatus, DownloadType, PercentComplete};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::time::Instant;

use crate::support::*;

const FIVE: Duration = Duration::from_secs(5);

/// The client's own timeouts as a user has them: 30 s per attempt, 120 s per call.
fn client(base: &str) -> Client {
    builder(base)
        .attempt_timeout(Duration::from_secs(30))
        .operation_timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_deadline_bounds_an_api_call_to_a_silent_server() {
    let addr = silent_server().await;
    let c = client(&format!("http://{addr}/client/v4"));
    let (a, v) = (account(), video());
    let t0 = Instant::now();
    let e = c.downloads(&a).deadline(t0 + FIVE).list(&v).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert_eq!(e.to_string(), "list: the deadline passed before the call finished");
    assert_eq!(t0.elapsed(), FIVE);
    // Without one, the attempts run their course: 3 of 30 s, backoff 1 s and 2 s.
    let t0 = Instant::now();
    let e = c.downloads(&a).list(&v).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert_eq!(t0.elapsed(), Duration::from_secs(93));
}

#[tokio::test(start_paused = true)]
async fn a_deadline_bounds_the_polls_of_wait_ready() {
    let addr = silent_server().await;
    let c = client(&format!("http://{addr}/client/v4"));
    let (a, v) = (account(), video());
    let t0 = Instant::now();
    let e = c
        .downloads(&a)
        .deadline(t0 + FIVE)
        .wait_ready(&v, DownloadType::Default, WaitOptions::default())
        .await
        .unwrap_err();
    // Nothing was ever seen: the API did not answer.
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert_eq!(t0.elapsed(), FIVE);
}

/// Answers the first connection with an `inprogress` listing, then holds every later one
/// silent.
async fn answers_once_then_silent() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        let mut first = true;
        while let Ok((mut s, _)) = listener.accept().await {
            if !first {
                held.push(s);
                continue;
            }
            first = false;
            let mut head = Vec::new();
            let mut b = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && s.read(&mut b).await.unwrap_or(0) == 1 {
                head.push(b[0]);
            }
            let body = r#"{"success":true,"errors":[],"messages":[],"result":{"default":{"status":"inprogress","percentComplete":40}}}"#;
            let msg = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            let _ = s.write_all(msg.as_bytes()).await;
            let _ = s.shutdown().await;
        }
    });
    format!("http://{addr}/client/v4")
}

#[tokio::test(start_paused = true)]
async fn a_wait_cut_short_by_the_deadline_after_progress_is_not_ready() {
    let c = client(&answers_once_then_silent().await);
    let (a, v) = (account(), video());
    let t0 = Instant::now();
    let e = c
        .downloads(&a)
        .deadline(t0 + FIVE)
        .wait_ready(&v, DownloadType::Default, WaitOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotReady, "{e}");
    assert_eq!(
        e.to_string(),
        format!(
            "download 'default' of video {v} not ready by the deadline: last seen inprogress at 40%"
        )
    );
    assert_eq!(e.percent_complete().map(PercentComplete::get), Some(40.0));
    assert_eq!(t0.elapsed(), FIVE);
}

#[tokio::test(start_paused = true)]
async fn a_deadline_bounds_the_transfer_and_keeps_the_part_file() {
    let file = file_of(1_000_000);
    let srv = FileServer::start(file.clone(), vec![Script::StallAfter(100_000)]).await;
    let c = client("http://127.0.0.1:9/client/v4");
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("clip.mp4");
    let ready =
        Download::new(DownloadStatus::Ready, PercentComplete::FULL).with_url(srv.url(&video()));
    let t0 = Instant::now();
    let acct = account();
    let e = c
        .downloads(&acct)
        .deadline(t0 + FIVE)
        .fetch(&ready, &dest, FetchOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert_eq!(e.to_string(), "no data from '127.0.0.1' before the deadline");
    assert_eq!(e.attempts(), 1, "no retry starts past the deadline");
    assert_eq!(t0.elapsed(), FIVE);
    assert!(!dest.exists());
    let part = dir.path().join("clip.mp4.part");
    assert_eq!(std::fs::metadata(&part).unwrap().len(), 100_000, "kept for the next run");
    assert!(dir.path().join("clip.mp4.part.meta").exists(), "with its validator");
}

#[tokio::test(start_paused = true)]
async fn without_a_deadline_a_poll_that_times_out_after_progress_is_a_timeout() {
    // Only the caller's deadline turns a cut poll into "not ready": the client's own attempt
    // timeout is the API not answering.
    let c = builder(&answers_once_then_silent().await)
        .attempt_timeout(Duration::from_secs(2))
        .retry(cfstream_http::RetryConfig::disabled())
        .build()
        .unwrap();
    let (a, v) = (account(), video());
    let t0 = Instant::now();
    let e = c
        .downloads(&a)
        .wait_ready(&v, DownloadType::Default, WaitOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert_eq!(e.to_string(), "list: no complete response within the attempt timeout of 2s");
    // The first poll at 0 s was answered; the second, at 1 s, timed out 2 s later.
    assert_eq!(t0.elapsed(), Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn under_a_far_deadline_the_attempt_timeout_still_bounds_each_gap() {
    let file = file_of(1_000_000);
    let srv = FileServer::start(file.clone(), vec![Script::StallAfter(100_000)]).await;
    let c = builder("http://127.0.0.1:9/client/v4")
        .attempt_timeout(Duration::from_secs(2))
        .retry(cfstream_http::RetryConfig::disabled())
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ready =
        Download::new(DownloadStatus::Ready, PercentComplete::FULL).with_url(srv.url(&video()));
    let t0 = Instant::now();
    let acct = account();
    let e = c
        .downloads(&acct)
        .deadline(t0 + Duration::from_secs(60))
        .fetch(&ready, &dir.path().join("clip.mp4"), FetchOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert_eq!(e.to_string(), "no data from '127.0.0.1' within the attempt timeout");
    assert_eq!(t0.elapsed(), Duration::from_secs(2));
}
