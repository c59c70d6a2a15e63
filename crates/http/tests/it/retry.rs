//! Retry counts and delays, server hints, the token bucket, in virtual time.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use cfstream_http::{ErrorKind, Operation, RetryConfig};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::support::server::{Answer, serve};
use crate::support::*;

fn list_mock(resp: ResponseTemplate) -> Mock {
    Mock::given(method("GET")).and(path(op_path(Operation::List))).respond_with(resp)
}

fn ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(LIST_NEWEST.as_bytes().to_vec(), "application/json")
}

fn throttled() -> ResponseTemplate {
    ResponseTemplate::new(429).set_body_raw(FAILURE_429.as_bytes().to_vec(), "application/json")
}

#[tokio::test(start_paused = true)]
async fn backoff_doubles_up_to_the_cap_and_attempts_are_bounded() {
    let server = mock_server().await;
    list_mock(ResponseTemplate::new(503)).mount(&server).await;
    let rec = Recorder::new();
    let client = builder(&base(&server))
        .retry(
            RetryConfig::default()
                .max_attempts(5)
                .initial_backoff(Duration::from_secs(1))
                .max_backoff(Duration::from_secs(3))
                .jitter(|c| c),
        )
        .reporter(rec.clone())
        .build()
        .unwrap();
    let t0 = tokio::time::Instant::now();
    let e = call(&client, Operation::List).await.unwrap_err();
    assert_eq!(e.attempts(), 5);
    assert_eq!(e.status(), Some(503));
    let secs = |s: &[u64]| s.iter().map(|&n| Duration::from_secs(n)).collect::<Vec<_>>();
    assert_eq!(rec.retries(), secs(&[1, 2, 3, 3]));
    assert_eq!(t0.elapsed(), Duration::from_secs(9));
    assert_eq!(server.received_requests().await.unwrap().len(), 5);
}

#[tokio::test(start_paused = true)]
async fn full_jitter_stays_under_the_ceiling() {
    let server = mock_server().await;
    list_mock(ResponseTemplate::new(500)).mount(&server).await;
    let rec = Recorder::new();
    let client = builder(&base(&server))
        .retry(
            RetryConfig::default()
                .max_attempts(6)
                .initial_backoff(Duration::from_secs(2))
                .max_backoff(Duration::from_secs(8)),
        )
        .reporter(rec.clone())
        .build()
        .unwrap();
    call(&client, Operation::List).await.unwrap_err();
    let ceilings = [2, 4, 8, 8, 8];
    let got = rec.retries();
    assert_eq!(got.len(), 5);
    for (d, c) in got.iter().zip(ceilings) {
        assert!(*d <= Duration::from_secs(c), "{d:?} > {c}s");
    }
}

#[tokio::test(start_paused = true)]
async fn retry_disabled_means_one_attempt() {
    let server = mock_server().await;
    list_mock(ResponseTemplate::new(500)).mount(&server).await;
    let client = builder(&base(&server)).retry(RetryConfig::disabled()).build().unwrap();
    let e = call(&client, Operation::List).await.unwrap_err();
    assert_eq!(e.attempts(), 1);
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn retry_after_as_an_http_date() {
    let server = mock_server().await;
    let at = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(20));
    list_mock(throttled().insert_header("retry-after", at.as_str()))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    list_mock(ok()).mount(&server).await;
    let rec = Recorder::new();
    let client = builder(&base(&server)).reporter(rec.clone()).build().unwrap();
    call(&client, Operation::List).await.unwrap();
    let d = rec.retries()[0];
    // An HTTP date has whole seconds; the wall clock moved a little since it was made.
    assert!(d > Duration::from_secs(17) && d <= Duration::from_secs(20), "{d:?}");
}

#[tokio::test(start_paused = true)]
async fn x_ratelimit_reset_is_honoured_without_retry_after() {
    let server = mock_server().await;
    list_mock(throttled().insert_header("x-ratelimit-reset", "11"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    list_mock(ok()).mount(&server).await;
    let rec = Recorder::new();
    let client = builder(&base(&server)).reporter(rec.clone()).build().unwrap();
    let t0 = tokio::time::Instant::now();
    call(&client, Operation::List).await.unwrap();
    assert_eq!(rec.retries(), [Duration::from_secs(11)]);
    assert_eq!(t0.elapsed(), Duration::from_secs(11));
}

#[tokio::test(start_paused = true)]
async fn a_429_holds_every_clone() {
    let server = mock_server().await;
    list_mock(throttled().insert_header("retry-after", "30")).up_to_n_times(1).mount(&server).await;
    list_mock(ok()).mount(&server).await;
    let client = builder(&base(&server)).build().unwrap();
    let clone = client.clone();
    let t0 = tokio::time::Instant::now();
    call(&client, Operation::List).await.unwrap();
    assert_eq!(t0.elapsed(), Duration::from_secs(30));
    // The pause is over: the clone goes at once.
    call(&clone, Operation::List).await.unwrap();
    assert_eq!(t0.elapsed(), Duration::from_secs(30));

    // While a pause is in force, a clone waits for it too.
    let server = mock_server().await;
    list_mock(throttled().insert_header("retry-after", "30")).up_to_n_times(1).mount(&server).await;
    list_mock(ok()).mount(&server).await;
    let client = builder(&base(&server)).retry(RetryConfig::disabled()).build().unwrap();
    let clone = client.clone();
    let e = call(&client, Operation::List).await.unwrap_err();
    assert_eq!(e.retry_after(), Some(Duration::from_secs(30)));
    assert!(e.is_rate_limited());
    let t0 = tokio::time::Instant::now();
    call(&clone, Operation::List).await.unwrap();
    assert_eq!(t0.elapsed(), Duration::from_secs(30), "the clone waits out the server's pause");
}

// Real time: a pending operation timer in paused time could fire while the answer is on its
// way from wiremock's thread. Had the client waited 300 s, it would have hit the 60 s
// operation timeout (kind Timeout) instead of answering the 429 (kind Api) at once.
#[tokio::test]
async fn a_server_delay_past_the_deadline_answers_at_once() {
    let server = mock_server().await;
    list_mock(throttled().insert_header("retry-after", "300")).mount(&server).await;
    let client =
        builder(&base(&server)).operation_timeout(Duration::from_secs(60)).build().unwrap();
    let e = call(&client, Operation::List).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Api, "{e}");
    assert_eq!(e.retry_after(), Some(Duration::from_secs(300)));
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_token_bucket_stops_retries_across_clones() {
    let server = mock_server().await;
    list_mock(ResponseTemplate::new(500)).mount(&server).await;
    // 12 tokens: two retries of 5 each, then the bucket is dry.
    let client = builder(&base(&server))
        .retry(RetryConfig::default().max_attempts(10).token_bucket(12).jitter(|c| c))
        .build()
        .unwrap();
    let e = call(&client, Operation::List).await.unwrap_err();
    assert_eq!(e.attempts(), 3);
    let e = call(&client.clone(), Operation::List).await.unwrap_err();
    assert_eq!(e.attempts(), 1, "the clone shares the empty bucket");
    assert_eq!(server.received_requests().await.unwrap().len(), 4);
}

#[tokio::test(start_paused = true)]
async fn a_408_is_retried_and_other_4xx_are_not() {
    let server = mock_server().await;
    list_mock(ResponseTemplate::new(408)).up_to_n_times(1).mount(&server).await;
    list_mock(ok()).mount(&server).await;
    let client = builder(&base(&server)).build().unwrap();
    call(&client, Operation::List).await.unwrap();

    let server = mock_server().await;
    list_mock(ResponseTemplate::new(400).set_body_string("bad")).mount(&server).await;
    let client = builder(&base(&server)).build().unwrap();
    let e = call(&client, Operation::List).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidResponse);
    assert_eq!(e.attempts(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_second_longer_429_holds_every_clone_for_longer() {
    let server = mock_server().await;
    list_mock(throttled().insert_header("retry-after", "5")).up_to_n_times(1).mount(&server).await;
    list_mock(throttled().insert_header("retry-after", "30")).up_to_n_times(1).mount(&server).await;
    list_mock(ok()).mount(&server).await;
    let client = builder(&base(&server)).retry(RetryConfig::disabled()).build().unwrap();
    let clone = client.clone();
    let t0 = tokio::time::Instant::now();
    let e = call(&client, Operation::List).await.unwrap_err();
    assert_eq!(e.retry_after(), Some(Duration::from_secs(5)));
    // The next call waits out the first pause, then is told to wait 30 s more.
    let e = call(&client, Operation::List).await.unwrap_err();
    assert_eq!(e.retry_after(), Some(Duration::from_secs(30)));
    assert_eq!(t0.elapsed(), Duration::from_secs(5));
    call(&clone, Operation::List).await.unwrap();
    assert_eq!(t0.elapsed(), Duration::from_secs(35), "the clone waits out the longer pause");
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

// Paused time against a server in the test's own runtime (support::server): the answer never
// races a timer, and the times below are exact.
#[tokio::test(start_paused = true)]
async fn a_limiter_wait_past_the_deadline_answers_at_once() {
    let hits = Arc::new(AtomicUsize::new(0));
    let seen = hits.clone();
    let addr = serve(Arc::new(move |_| {
        seen.fetch_add(1, Ordering::SeqCst);
        Answer::json(200, LIST_NEWEST)
    }))
    .await;
    let base = format!("http://{addr}/client/v4");
    let client = builder(&base)
        .rate_limit(cfstream_http::RateLimit::per(1, Duration::from_secs(60)))
        .operation_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let t0 = tokio::time::Instant::now();
    call(&client, Operation::List).await.unwrap();
    let e = call(&client, Operation::List).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(e.to_string().contains("past the operation timeout of 5s"), "{e}");
    assert_eq!(e.attempts(), 1);
    assert_eq!(t0.elapsed(), Duration::ZERO, "no point waiting 60 s for a 5 s deadline");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    // Within the deadline, the limiter waits as usual: one request per 300 ms window (plus the
    // millisecond that keeps two out of one window).
    let client = builder(&base)
        .rate_limit(cfstream_http::RateLimit::per(1, Duration::from_millis(300)))
        .operation_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let t0 = tokio::time::Instant::now();
    call(&client, Operation::List).await.unwrap();
    assert_eq!(t0.elapsed(), Duration::ZERO);
    call(&client, Operation::List).await.unwrap();
    assert_eq!(t0.elapsed(), Duration::from_millis(301));
    assert_eq!(hits.load(Ordering::SeqCst), 3);
}
