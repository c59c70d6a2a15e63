//! The download file route's answers header by header: the exact `ETag` a resuming client
//! saves, one-byte and last-byte ranges, HEAD with a range, and the API credentials' edge
//! cases seen over HTTP (issue #16, mutation testing of auth.rs, content.rs and files.rs).

use cfstream_emulator::{DEMO_TOKEN, Emulator, Progress, expected_file_bytes};
use cfstream_types::{Credentials, DownloadType, ErrorCode, VideoId};

use crate::common::*;

/// The demo's first ready video (`ea95132c...`), its default and audio downloads ready, in
/// files of 10 000 bytes. Returns the emulator, the video and the two file URLs.
async fn both_files() -> (cfstream_emulator::RunningEmulator, VideoId, String, String) {
    let emu = start().await;
    let video: VideoId = ready_video(&emu).parse().unwrap();
    for suffix in ["", "/audio"] {
        let (s, _, _) = authed(client().post(downloads_url(&emu, video.as_str(), suffix))).await;
        assert_eq!(s, 200);
    }
    let default = format!("http://{}/{video}/downloads/default.mp4", emu.addr());
    let audio = format!("http://{}/{video}/downloads/audio.m4a", emu.addr());
    (emu, video, default, audio)
}

/// The `ETag` is a strong validator that names the content and the size: a client saves it
/// and sends it back in `If-Range`, so it must be the same on every answer for a file (200,
/// 206, HEAD) and differ between files. Pinned: users may have saved it.
#[tokio::test]
async fn etags_are_exact_and_the_same_on_every_answer_for_a_file() {
    let (_emu, video, default, audio) = both_files().await;
    assert_eq!(video.as_str(), "ea95132c15732412d22c1476fa83f27a");
    let c = client();
    for (url, etag) in
        [(&default, "\"44eb670e21745e04-2710\""), (&audio, "\"4756fcf898e904ff-2710\"")]
    {
        let whole = c.get(url.as_str()).send().await.unwrap();
        assert_eq!(whole.status(), 200);
        assert_eq!(whole.headers()["etag"], etag, "{url}");
        let part = c.get(url.as_str()).header("range", "bytes=10-19").send().await.unwrap();
        assert_eq!(part.status(), 206);
        assert_eq!(part.headers()["etag"], etag, "{url}");
        let head = c.head(url.as_str()).send().await.unwrap();
        assert_eq!(head.headers()["etag"], etag, "{url}");
    }
}

/// One byte, the first byte and the last byte are ranges like any other: 206 with the exact
/// `Content-Range` and that byte.
#[tokio::test]
async fn single_byte_ranges_are_served_exactly() {
    let (_emu, video, default, audio) = both_files().await;
    let c = client();
    for (url, t) in [(&default, DownloadType::Default), (&audio, DownloadType::Audio)] {
        for (range, at) in [
            ("bytes=0-0", 0),
            ("bytes=4999-4999", 4999),
            ("bytes=9999-9999", 9999),
            ("bytes=-1", 9999),
        ] {
            let res = c.get(url.as_str()).header("range", range).send().await.unwrap();
            assert_eq!(res.status(), 206, "{range}");
            assert_eq!(res.headers()["content-range"], format!("bytes {at}-{at}/10000"));
            assert_eq!(res.headers()["content-length"], "1");
            let body = res.bytes().await.unwrap();
            assert_eq!(body[..], expected_file_bytes(&video, &t, at, 1)[..], "{t} {range}");
        }
    }
}

/// HEAD answers what GET would, without the body: the same status, `Content-Length` and
/// `Content-Range` for a range, and the 416 of a range past the end.
#[tokio::test]
async fn head_with_a_range_answers_as_get_would_without_the_body() {
    let (_emu, _video, default, audio) = both_files().await;
    let c = client();
    let res = c.head(&default).header("range", "bytes=100-199").send().await.unwrap();
    assert_eq!(res.status(), 206);
    assert_eq!(res.headers()["content-range"], "bytes 100-199/10000");
    assert_eq!(res.headers()["content-length"], "100");
    assert_eq!(res.headers()["content-type"], "video/mp4");
    assert_eq!(res.headers()["accept-ranges"], "bytes");
    assert!(res.bytes().await.unwrap().is_empty());
    let res = c.head(&audio).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "audio/mp4");
    assert_eq!(res.headers()["content-length"], "10000");
    assert!(res.headers().get("content-range").is_none());
    let res = c.head(&default).header("range", "bytes=10000-").send().await.unwrap();
    assert_eq!(res.status(), 416);
    assert_eq!(res.headers()["content-range"], "bytes */10000");
    // A whole-file answer has no `Content-Range`.
    let res = c.get(&default).header("range", "bytes=+5-10").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("content-range").is_none());
    assert_eq!(res.bytes().await.unwrap().len(), 10_000);
}

/// Over HTTP as in the unit tests: only `Bearer <token>` byte for byte, and a key pair only
/// with its own email, are credentials; anything else is 403 (10000), never a 2XX.
#[tokio::test]
async fn near_miss_credentials_are_403() {
    let emu = Emulator::builder()
        .progress(Progress::Instant)
        .file_size(10_000)
        .credentials(Credentials::token("t0ken"))
        .credentials(Credentials::key("me@example.com", "s3cret"))
        .start()
        .await
        .unwrap();
    let c = client();
    let url = downloads_url(&emu, &ready_video(&emu), "");
    for auth in ["Bearer 0tken", "Bearer t0kem", "Bearer:t0ken", "Basic  t0ken", "bearer_t0ken"] {
        let got = send(c.get(&url).header("authorization", auth)).await;
        let msg = assert_failure(&got, 403, ErrorCode::Authentication.code());
        assert_eq!(msg, "Authentication error", "{auth}");
    }
    for (email, key) in
        [("you@example.com", "s3cret"), ("me@example.com", "3scret"), ("me@example.com", "t0ken")]
    {
        let got = send(c.get(&url).header("x-auth-email", email).header("x-auth-key", key)).await;
        assert_failure(&got, 403, ErrorCode::Authentication.code());
    }
    // The demo token is not accepted once credentials are configured, and the right ones are.
    assert_failure(&send(c.get(&url).bearer_auth(DEMO_TOKEN)).await, 403, 10000);
    let (s, _, _) = send(c.get(&url).header("authorization", "BEARER t0ken")).await;
    assert_eq!(s, 200);
    let (s, _, _) =
        send(c.get(&url).header("x-auth-email", "ME@example.com").header("x-auth-key", "s3cret"))
            .await;
    assert_eq!(s, 200);
}
