//! `wait_ready`: the progress sequence, failure, deadline, and a download that does not exist.

use std::time::Duration;

use cfstream_http::{ErrorKind, Operation, WaitOptions};
use cfstream_types::{DownloadStatus, DownloadType};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

fn listing(t: &str, status: &str, pct: f64) -> ResponseTemplate {
    let mut d = json!({"status": status, "percentComplete": pct});
    if status == "ready" {
        d["url"] =
            json!(format!("https://customer-x.cloudflarestream.com/{}/downloads/{t}.m4a", video()));
    }
    ResponseTemplate::new(200)
        .set_body_json(json!({"success": true, "errors": [], "messages": [], "result": {t: d}}))
}

async fn script(server: &MockServer, steps: &[ResponseTemplate]) {
    for (i, s) in steps.iter().enumerate() {
        let m =
            Mock::given(method("GET")).and(path(op_path(Operation::List))).respond_with(s.clone());
        let m = if i + 1 < steps.len() { m.up_to_n_times(1) } else { m };
        m.mount(server).await;
    }
}

#[tokio::test(start_paused = true)]
async fn reports_each_poll_until_ready() {
    let server = mock_server().await;
    script(
        &server,
        &[
            listing("audio", "inprogress", 0.0),
            listing("audio", "inprogress", 40.0),
            listing("audio", "inprogress", 80.5),
            listing("audio", "ready", 100.0),
        ],
    )
    .await;
    let client = builder(&base(&server)).build().unwrap();
    let rec = Recorder::new();
    let t0 = tokio::time::Instant::now();
    let (a, v) = (account(), video());
    let d = client
        .downloads(&a)
        .wait_ready(&v, DownloadType::Audio, WaitOptions::default().reporter(rec.clone()))
        .await
        .unwrap();
    assert!(d.is_ready() && d.url.is_some());
    assert_eq!(
        rec.events(),
        [
            Event::Wait(DownloadStatus::InProgress, 0.0),
            Event::Wait(DownloadStatus::InProgress, 40.0),
            Event::Wait(DownloadStatus::InProgress, 80.5),
            Event::Wait(DownloadStatus::Ready, 100.0),
        ]
    );
    // Polls at 0, 1, 3 and 7 s: the interval doubles from 1 s.
    assert_eq!(t0.elapsed(), Duration::from_secs(7));
}

#[tokio::test(start_paused = true)]
async fn an_error_status_is_download_failed() {
    let server = mock_server().await;
    script(&server, &[listing("default", "inprogress", 10.0), listing("default", "error", 55.0)])
        .await;
    let client = builder(&base(&server)).build().unwrap();
    let (a, v) = (account(), video());
    let e = client
        .downloads(&a)
        .wait_ready(&v, DownloadType::Default, WaitOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DownloadFailed, "{e}");
    assert_eq!(e.percent_complete().unwrap().get(), 55.0);
}

#[tokio::test(start_paused = true)]
async fn the_deadline_answers_not_ready_with_the_last_percent() {
    let server = mock_server().await;
    script(&server, &[listing("default", "inprogress", 42.0)]).await;
    let client = builder(&base(&server)).build().unwrap();
    let (a, v) = (account(), video());
    let opts = WaitOptions::default()
        .timeout(Duration::from_secs(30))
        .poll_interval(Duration::from_secs(2))
        .max_poll_interval(Duration::from_secs(8));
    let t0 = tokio::time::Instant::now();
    let e = client.downloads(&a).wait_ready(&v, DownloadType::Default, opts).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotReady, "{e}");
    assert_eq!(e.percent_complete().unwrap().get(), 42.0);
    assert!(e.to_string().contains("last seen inprogress at 42%"), "{e}");
    assert_eq!(t0.elapsed(), Duration::from_secs(30));
    // Polls at 0, 2, 6, 14, 22 and the deadline, 30.
    assert_eq!(server.received_requests().await.unwrap().len(), 6);
}

#[tokio::test(start_paused = true)]
async fn a_download_never_created_is_not_found_at_once() {
    let server = mock_server().await;
    script(&server, &[listing("default", "inprogress", 42.0)]).await;
    let client = builder(&base(&server)).build().unwrap();
    let (a, v) = (account(), video());
    let e = client
        .downloads(&a)
        .wait_ready(&v, DownloadType::Audio, WaitOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.to_string().contains("create it before waiting"), "{e}");
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn an_api_error_while_waiting_is_returned() {
    let server = mock_server().await;
    script(
        &server,
        &[ResponseTemplate::new(403)
            .set_body_raw(FAILURE_10000.as_bytes().to_vec(), "application/json")],
    )
    .await;
    let client = builder(&base(&server)).build().unwrap();
    let (a, v) = (account(), video());
    let e = client
        .downloads(&a)
        .wait_ready(&v, DownloadType::Audio, WaitOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Api);
    assert!(e.has_code(cfstream_types::ErrorCode::Authentication));
}

/// `WaitOptions`' `Debug` shows each setting, and only whether a reporter is set.
#[test]
fn wait_options_debug_shows_every_setting() {
    assert_eq!(
        format!("{:?}", WaitOptions::default()),
        "WaitOptions { timeout: 600s, poll_interval: 1s, max_poll_interval: 10s, reporter: false }"
    );
    let set = WaitOptions::default().timeout(Duration::from_secs(7)).reporter(Recorder::new());
    assert_eq!(
        format!("{set:?}"),
        "WaitOptions { timeout: 7s, poll_interval: 1s, max_poll_interval: 10s, reporter: true }"
    );
}
