//! Cloudflare-style rate limiting: headers on every API answer, 429 with `retry-after` once
//! over, blocked for the rest of the window, per credentials.

use std::time::Duration;

use cfstream_emulator::RateLimit;
use cfstream_types::ErrorCode;

use crate::common::*;

#[tokio::test(start_paused = true)]
async fn headers_then_429_for_the_rest_of_the_window() {
    let emu =
        builder().rate_limit(RateLimit::per(3, Duration::from_secs(60))).start().await.unwrap();
    let c = client();
    let url = downloads_url(&emu, &ready_video(&emu), "");
    for remaining in [2, 1, 0] {
        let (s, h, _) = authed(c.get(&url)).await;
        assert_eq!(s, 200);
        assert_eq!(h["x-ratelimit-limit"], "3");
        assert_eq!(h["x-ratelimit-remaining"], remaining.to_string());
        let reset: u64 = h["x-ratelimit-reset"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&reset));
    }
    tokio::time::advance(Duration::from_secs(30)).await;
    for _ in 0..3 {
        let got = authed(c.post(&url)).await;
        assert_failure(&got, 429, ErrorCode::RateLimited.code());
        let retry: u64 = got.1["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=30).contains(&retry), "{retry}");
        assert_eq!(got.1["x-ratelimit-remaining"], "0");
    }
    // Other credentials (here: none) have their own window; failures carry the headers too.
    let got = send(c.get(&url)).await;
    assert_failure(&got, 401, ErrorCode::MissingAuthHeaders.code());
    assert_eq!(got.1["x-ratelimit-remaining"], "2");
    // Unknown routes are API answers too.
    let got = send(c.get(format!("{}/nowhere", emu.base_url()))).await;
    assert_eq!(got.1["x-ratelimit-limit"], "3");
    // The file and admin routes are not limited.
    let (s, h, _) = authed(c.get(format!("http://{}/__emulator/state", emu.addr()))).await;
    assert_eq!(s, 200);
    assert!(h.get("x-ratelimit-limit").is_none());

    tokio::time::advance(Duration::from_secs(31)).await;
    let (s, h, _) = authed(c.get(&url)).await;
    assert_eq!(s, 200);
    assert_eq!(h["x-ratelimit-remaining"], "2");
}

#[tokio::test]
async fn disabled_means_no_headers() {
    let emu = builder().rate_limit(RateLimit::disabled()).start().await.unwrap();
    let (s, h, _) = authed(client().get(downloads_url(&emu, &ready_video(&emu), ""))).await;
    assert_eq!(s, 200);
    assert!(h.get("x-ratelimit-limit").is_none());
    let (_, h, _) = authed(client().get(downloads_url(&start().await, "ab", ""))).await;
    assert_eq!(h["x-ratelimit-limit"], "1200");
}

#[tokio::test(start_paused = true)]
async fn the_same_token_written_differently_is_one_bucket() {
    let emu =
        builder().rate_limit(RateLimit::per(3, Duration::from_secs(60))).start().await.unwrap();
    let c = client();
    let url = downloads_url(&emu, &ready_video(&emu), "");
    let token = cfstream_emulator::DEMO_TOKEN;
    for (auth, remaining) in [
        (format!("Bearer {token}"), "2"),
        (format!("bearer  {token} "), "1"),
        (format!("BEARER {token}"), "0"),
    ] {
        let (s, h, _) = send(c.get(&url).header("authorization", &auth)).await;
        assert_eq!((s, h["x-ratelimit-remaining"].to_str().unwrap()), (200, remaining), "{auth:?}");
    }
    let got = send(c.get(&url).header("authorization", format!("Bearer   {token}"))).await;
    assert_failure(&got, 429, ErrorCode::RateLimited.code());
}

#[tokio::test(start_paused = true)]
async fn made_up_tokens_share_one_bucket_and_cannot_crowd_out_a_real_client() {
    let emu =
        builder().rate_limit(RateLimit::per(50, Duration::from_secs(60))).start().await.unwrap();
    let c = client();
    let url = downloads_url(&emu, &ready_video(&emu), "");
    let mut statuses = Vec::new();
    for i in 0..300 {
        let (s, _, _) = send(c.get(&url).bearer_auth(format!("made-up-{i}"))).await;
        statuses.push(s);
    }
    // One bucket for the address: 50 answers (403), then blocked.
    assert!(statuses[..50].iter().all(|s| *s == 403), "{statuses:?}");
    assert!(statuses[50..].iter().all(|s| *s == 429), "{statuses:?}");
    // The real client has its own bucket, untouched.
    let (s, h, _) = authed(c.get(&url)).await;
    assert_eq!(s, 200);
    assert_eq!(h["x-ratelimit-remaining"], "49");
}
