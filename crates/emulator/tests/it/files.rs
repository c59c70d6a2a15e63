//! The download file route: deterministic bytes, Content-Length, Range (206, 416), HEAD,
//! `?filename=`, 404 until ready.

use cfstream_emulator::{Progress, expected_file_bytes};
use cfstream_types::{DownloadType, ErrorCode, VideoId};

use crate::common::*;

async fn ready_file(size: u64) -> (cfstream_emulator::RunningEmulator, VideoId, String) {
    let emu = builder().file_size(size).progress(Progress::Instant).start().await.unwrap();
    let video: VideoId = ready_video(&emu).parse().unwrap();
    let (s, _, _) = authed(client().post(downloads_url(&emu, video.as_str(), ""))).await;
    assert_eq!(s, 200);
    let url = format!("http://{}/{video}/downloads/default.mp4", emu.addr());
    (emu, video, url)
}

#[tokio::test]
async fn whole_file_is_exact_and_streamed() {
    let size = 3 * 1024 * 1024 + 17;
    let (emu, video, url) = ready_file(size).await;
    let res = client().get(&url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-length"], size.to_string());
    assert_eq!(res.headers()["accept-ranges"], "bytes");
    assert_eq!(res.headers()["content-type"], "video/mp4");
    assert!(res.headers().get("content-disposition").is_none());
    let etag = res.headers()["etag"].clone();
    let body = res.bytes().await.unwrap();
    assert_eq!(body.len() as u64, size);
    assert!(body[..] == expected_file_bytes(&video, &DownloadType::Default, 0, size as usize)[..]);
    // Same again (deterministic), and the URL the API gave is this one.
    let res = client().get(&url).send().await.unwrap();
    assert_eq!(res.headers()["etag"], etag);
    let (_, _, list) = authed(client().get(downloads_url(&emu, video.as_str(), ""))).await;
    assert_eq!(list["result"]["default"]["url"], url);
}

#[tokio::test]
async fn ranges_and_head() {
    let (_emu, video, url) = ready_file(10_000).await;
    let c = client();
    let expect =
        |start: u64, len: usize| expected_file_bytes(&video, &DownloadType::Default, start, len);
    for (range, start, end) in [
        ("bytes=0-99", 0, 99),
        ("bytes=9990-", 9990, 9999),
        ("bytes=-10", 9990, 9999),
        ("bytes=5000-20000", 5000, 9999),
    ] {
        let res = c.get(&url).header("range", range).send().await.unwrap();
        assert_eq!(res.status(), 206, "{range}");
        assert_eq!(res.headers()["content-range"], format!("bytes {start}-{end}/10000"));
        assert_eq!(res.headers()["content-length"], (end - start + 1).to_string());
        let body = res.bytes().await.unwrap();
        assert_eq!(body[..], expect(start, (end - start + 1) as usize)[..], "{range}");
    }
    for range in ["bytes=10000-", "bytes=-0", "bytes=20000-30000"] {
        let got = send(c.get(&url).header("range", range)).await;
        assert_failure(&got, 416, 10416);
        assert_eq!(got.1["content-range"], "bytes */10000");
    }
    // Malformed or multiple ranges are ignored: the whole file.
    for range in ["bytes=5-1", "bytes=0-1,5-6", "lines=1-2"] {
        let res = c.get(&url).header("range", range).send().await.unwrap();
        assert_eq!(res.status(), 200, "{range}");
        assert_eq!(res.bytes().await.unwrap().len(), 10_000);
    }
    let res = c.head(&url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-length"], "10000");
    assert!(res.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn filename_becomes_content_disposition() {
    let (emu, video, url) = ready_file(100).await;
    let c = client();
    let res = c.get(format!("{url}?filename=My-Video_2")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-disposition"], "attachment; filename=\"My-Video_2.mp4\"");
    authed(c.post(downloads_url(&emu, video.as_str(), "/audio"))).await;
    let audio = format!("http://{}/{video}/downloads/audio.m4a?filename=track", emu.addr());
    let res = c.get(audio).send().await.unwrap();
    assert_eq!(res.headers()["content-disposition"], "attachment; filename=\"track.m4a\"");
    assert_eq!(res.headers()["content-type"], "audio/mp4");
    let long = "a".repeat(121);
    for bad in ["a.b", "", "x%20y", "..%2Fetc", long.as_str()] {
        let got = send(c.get(format!("{url}?filename={bad}"))).await;
        let msg = assert_failure(&got, 400, ErrorCode::InvalidRequest.code());
        assert!(msg.starts_with("invalid filename"), "{msg}");
    }
}

#[tokio::test]
async fn not_found_until_ready_and_after_delete() {
    let emu = builder()
        .progress(Progress::Over(std::time::Duration::from_secs(3600)))
        .start()
        .await
        .unwrap();
    let c = client();
    let video = ready_video(&emu);
    let url = format!("http://{}/{video}/downloads/default.mp4", emu.addr());
    for u in [
        url.clone(),
        format!("http://{}/{video}/downloads/other.mp4", emu.addr()),
        format!("http://{}/zzz/downloads/default.mp4", emu.addr()),
        format!("http://{}/{}/downloads/default.mp4", emu.addr(), "f".repeat(40)),
    ] {
        assert_failure(&send(c.get(&u)).await, 404, ErrorCode::VideoNotFound.code());
    }
    authed(c.post(downloads_url(&emu, &video, ""))).await;
    assert_failure(&send(c.get(&url)).await, 404, ErrorCode::VideoNotFound.code());
    emu.admin()
        .set_download_status(
            &emu.account(),
            &video.parse().unwrap(),
            DownloadType::Default,
            cfstream_types::DownloadStatus::Ready,
        )
        .unwrap();
    assert_eq!(c.get(&url).send().await.unwrap().status(), 200);
    authed(c.delete(downloads_url(&emu, &video, ""))).await;
    assert_failure(&send(c.get(&url)).await, 404, ErrorCode::VideoNotFound.code());
}

/// Files up to 16 MiB are generated once and served as slices of one buffer; larger ones are
/// generated as they stream. Both give the same bytes, and each file its own.
#[tokio::test]
async fn cached_and_streamed_files_serve_the_same_exact_bytes() {
    let big = 16 * 1024 * 1024 + 5;
    for size in [big, 200_000] {
        let (emu, video, url) = ready_file(size).await;
        let (s, _, _) = authed(client().post(downloads_url(&emu, video.as_str(), "/audio"))).await;
        assert_eq!(s, 200);
        let audio_url = url.replace("default.mp4", "audio.m4a");
        for (url, t) in [(&url, DownloadType::Default), (&audio_url, DownloadType::Audio)] {
            for (start, end) in [(0, 99), (size - 70_000, size - 1), (100_000, 165_535)] {
                // Twice: the first may fill the cache, the second reads it.
                for _ in 0..2 {
                    let res = client()
                        .get(url.as_str())
                        .header("range", format!("bytes={start}-{end}"))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(res.status(), 206, "{size} {t} {start}");
                    let body = res.bytes().await.unwrap();
                    let want = expected_file_bytes(&video, &t, start, (end - start + 1) as usize);
                    assert!(body[..] == want[..], "{size} {t} bytes {start}-{end}");
                }
            }
        }
        let head = client().head(url.as_str()).send().await.unwrap();
        assert_eq!(head.headers()["content-length"], size.to_string());
    }
}
