//! The bulk test: 1000 creates against a server that answers 429 past a (scaled-down) limit,
//! in virtual time. The client's limiter must keep every request under the limit while using
//! at least 95 % of it.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cfstream_http::{Client, RateLimit, RetryConfig};
use cfstream_types::{Credentials, DownloadType, VideoId};
use futures::StreamExt as _;

use crate::support::server::{Answer, serve};
use crate::support::*;

/// Cloudflare's 1200 per 300 s, scaled down by 12 in both: 100 per 25 s.
const LIMIT: u32 = 100;
const WINDOW: Duration = Duration::from_secs(25);

#[derive(Default)]
struct Referee {
    /// Virtual times of the requests accepted in the last window.
    recent: VecDeque<tokio::time::Instant>,
    accepted: u32,
    throttled: u32,
    first: Option<tokio::time::Instant>,
    last: Option<tokio::time::Instant>,
}

/// A server in the test's own runtime (so it reads the same virtual clock) that accepts at most
/// LIMIT requests in any window of WINDOW and answers 429 past it.
async fn limited_server() -> (String, Arc<Mutex<Referee>>) {
    let referee = Arc::new(Mutex::new(Referee::default()));
    let r = referee.clone();
    let addr = serve(Arc::new(move |seen| {
        let now = tokio::time::Instant::now();
        let mut r = r.lock().unwrap();
        while r.recent.front().is_some_and(|&t| now.duration_since(t) >= WINDOW) {
            r.recent.pop_front();
        }
        if r.recent.len() >= LIMIT as usize {
            r.throttled += 1;
            let mut a = Answer::json(429, FAILURE_429);
            a.headers.push(("retry-after", "25".into()));
            return a;
        }
        assert_eq!(seen.method, "POST");
        r.recent.push_back(now);
        r.accepted += 1;
        r.first.get_or_insert(now);
        r.last = Some(now);
        Answer::json(200, r#"{"success":true,"errors":[],"messages":[],"result":{"default":{"status":"inprogress","percentComplete":0}}}"#)
    }))
    .await;
    (format!("http://{addr}/client/v4"), referee)
}

fn client(base: &str) -> Client {
    builder(base)
        .credentials(Credentials::token(TOKEN))
        .rate_limit(RateLimit::per(LIMIT, WINDOW))
        .retry(RetryConfig::disabled())
        .build()
        .unwrap()
}

fn videos(n: u32) -> Vec<VideoId> {
    (0..n).map(|i| format!("{i:032x}").parse().unwrap()).collect()
}

#[tokio::test(start_paused = true)]
async fn a_thousand_creates_never_see_a_429_and_use_the_limit() {
    let (base, referee) = limited_server().await;
    let client = client(&base);
    let a = account();
    for v in videos(1000) {
        client.downloads(&a).create_type(&v, DownloadType::Default).await.unwrap();
    }
    let r = referee.lock().unwrap();
    assert_eq!(r.throttled, 0);
    assert_eq!(r.accepted, 1000);
    let span = r.last.unwrap().duration_since(r.first.unwrap());
    // Achieved: requests after the first, over the time they took; the limit is LIMIT / WINDOW.
    let achieved = 999.0 / span.as_secs_f64();
    let limit = f64::from(LIMIT) / WINDOW.as_secs_f64();
    assert!(achieved >= 0.95 * limit, "achieved {achieved:.3}/s of {limit:.3}/s over {span:?}");
    assert!(achieved <= limit * 1.05, "achieved {achieved:.3}/s of {limit:.3}/s over {span:?}");
}

#[tokio::test(start_paused = true)]
async fn clones_share_one_limiter() {
    let (base, referee) = limited_server().await;
    let client = client(&base);
    let a = account();
    let t0 = tokio::time::Instant::now();
    // 8 clones at once, 300 videos between them.
    futures::stream::iter(videos(300))
        .map(|v| {
            let c = client.clone();
            let a = a.clone();
            async move { c.downloads(&a).create_type(&v, DownloadType::Default).await }
        })
        .buffer_unordered(8)
        .for_each(|r| async move {
            r.unwrap();
        })
        .await;
    let r = referee.lock().unwrap();
    assert_eq!(r.throttled, 0);
    // Burst 3, then one per WINDOW / 97: the shared pace, not 8 times it.
    let min = WINDOW.mul_f64(297.0 / 97.0);
    assert!(t0.elapsed() >= min.mul_f64(0.99), "{:?} < {min:?}", t0.elapsed());
}
