//! `fetch`: streaming to a `.part` file, resume after a cut, atomic rename, no credentials sent
//! to the file host, file names, length checks. Real time: nothing here sleeps.

use std::path::Path;
use std::sync::Arc;

use cfstream_http::{Client, ErrorKind, FetchOptions, RetryConfig};
use cfstream_types::{Credentials, Download, DownloadStatus, PercentComplete};

use crate::support::*;

fn client(creds: Credentials) -> Client {
    // The API base is never used by fetch; point it nowhere useful.
    builder("http://127.0.0.1:9/client/v4")
        .credentials(creds)
        .retry(RetryConfig::default().max_attempts(3).jitter(|_| std::time::Duration::ZERO))
        .build()
        .unwrap()
}

fn ready(url: url::Url) -> Download {
    Download::new(DownloadStatus::Ready, PercentComplete::FULL).with_url(url)
}

/// What an earlier run left beside its `.part` file: the validator of `file` (the format
/// `FetchOptions::resume` documents).
fn save_validator(meta: &Path, file: &[u8]) {
    let json = serde_json::json!({"etag": etag(file), "total": file.len()});
    std::fs::write(meta, json.to_string()).unwrap();
}

fn no_credentials_in(heads: &[String]) {
    for h in heads {
        let lower = h.to_ascii_lowercase();
        assert!(!lower.contains("authorization"), "{h}");
        assert!(!lower.contains("x-auth-key") && !lower.contains("x-auth-email"), "{h}");
        assert!(!h.contains(TOKEN) && !h.contains(KEY), "{h}");
    }
}

#[tokio::test]
async fn fetches_into_a_directory_by_video_and_type() {
    let file = file_of(700_000);
    let srv = FileServer::start(file.clone(), vec![Script::Full]).await;
    let dir = tempfile::tempdir().unwrap();
    let out = client(Credentials::token(TOKEN))
        .downloads(&account())
        .fetch(&ready(srv.url(&video())), dir.path(), FetchOptions::default())
        .await
        .unwrap();
    assert_eq!(out.path, dir.path().join(format!("{}-default.mp4", video())));
    assert_eq!(out.bytes, 700_000);
    assert_eq!(out.resumed_from, 0);
    assert_eq!(std::fs::read(&out.path).unwrap(), *file);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no .part left behind");
    no_credentials_in(&srv.heads());
}

#[tokio::test]
async fn never_sends_either_credential_scheme_to_the_file_host() {
    for creds in [Credentials::token(TOKEN), Credentials::key(EMAIL, KEY)] {
        let srv = FileServer::start(file_of(10), vec![Script::Full]).await;
        let dir = tempfile::tempdir().unwrap();
        client(creds)
            .downloads(&account())
            .fetch(&ready(srv.url(&video())), dir.path(), FetchOptions::default())
            .await
            .unwrap();
        let heads = srv.heads();
        assert_eq!(heads.len(), 1);
        no_credentials_in(&heads);
    }
}

#[tokio::test]
async fn resumes_after_a_cut_with_range() {
    let file = file_of(1_000_000);
    let srv = FileServer::start(file.clone(), vec![Script::CutAt(300_000), Script::Ranged]).await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("clip.mp4");
    let out = client(Credentials::token(TOKEN))
        .downloads(&account())
        .fetch(&ready(srv.url(&video())), &dest, FetchOptions::default())
        .await
        .unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), *file);
    assert_eq!(out.bytes, 1_000_000);
    let heads = srv.heads();
    assert_eq!(heads.len(), 2);
    assert!(!heads[0].to_ascii_lowercase().contains("range:"), "{}", heads[0]);
    assert!(heads[1].to_ascii_lowercase().contains("range: bytes=300000-"), "{}", heads[1]);
    assert!(!dir.path().join("clip.mp4.part").exists());
}

#[tokio::test]
async fn resumes_a_part_file_left_by_an_earlier_run() {
    let file = file_of(500_000);
    let srv = FileServer::start(file.clone(), vec![Script::Ranged]).await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("clip.mp4");
    std::fs::write(dir.path().join("clip.mp4.part"), &file[..123_456]).unwrap();
    save_validator(&dir.path().join("clip.mp4.part.meta"), &file);
    let rec = Recorder::new();
    let out = client(Credentials::token(TOKEN))
        .downloads(&account())
        .fetch(&ready(srv.url(&video())), &dest, FetchOptions::default().reporter(rec.clone()))
        .await
        .unwrap();
    assert_eq!(out.resumed_from, 123_456);
    assert_eq!(std::fs::read(&dest).unwrap(), *file);
    assert!(srv.heads()[0].to_ascii_lowercase().contains("range: bytes=123456-"));
    assert!(srv.heads()[0].contains(&format!("if-range: {}", etag(&file))), "{}", srv.heads()[0]);
    assert!(!dir.path().join("clip.mp4.part.meta").exists(), "the validator goes with the part");
    let ev = rec.events();
    assert_eq!(ev[0], Event::Started(Some(video().to_string()), Some(500_000), 123_456));
    assert_eq!(ev.last(), Some(&Event::Finished(500_000)));
}

#[tokio::test]
async fn restarts_cleanly_when_the_server_ignores_range() {
    let file = file_of(50_000);
    let srv = FileServer::start(file.clone(), vec![Script::Full]).await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("clip.mp4");
    std::fs::write(dir.path().join("clip.mp4.part"), vec![0xEE; 30_000]).unwrap();
    let out = client(Credentials::token(TOKEN))
        .downloads(&account())
        .fetch(&ready(srv.url(&video())), &dest, FetchOptions::default())
        .await
        .unwrap();
    assert_eq!(out.resumed_from, 0);
    assert_eq!(std::fs::read(&dest).unwrap(), *file, "the stale part was discarded");
}

#[tokio::test]
async fn resume_false_starts_over_without_range() {
    let file = file_of(20_000);
    let srv = FileServer::start(file.clone(), vec![Script::Ranged]).await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("clip.mp4");
    std::fs::write(dir.path().join("clip.mp4.part"), &file[..10_000]).unwrap();
    client(Credentials::token(TOKEN))
        .downloads(&account())
        .fetch(&ready(srv.url(&video())), &dest, FetchOptions::default().resume(false))
        .await
        .unwrap();
    assert!(!srv.heads()[0].to_ascii_lowercase().contains("range:"));
    assert_eq!(std::fs::read(&dest).unwrap(), *file);

    // With no .part to drop, there is nothing to remove and nothing to fail on.
    let fresh = dir.path().join("fresh.mp4");
    client(Credentials::token(TOKEN))
        .downloads(&account())
        .fetch(&ready(srv.url(&video())), &fresh, FetchOptions::default().resume(false))
        .await
        .unwrap();
    assert_eq!(std::fs::read(&fresh).unwrap(), *file);
}

#[tokio::test]
async fn streams_to_disk_and_renames_only_at_the_end() {
    let file = file_of(3 * 1024 * 1024);
    let srv = FileServer::start(file.clone(), vec![Script::Full]).await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("big.mp4");
    let part = dir.path().join("big.mp4.part");
    let (d2, p2) = (dest.clone(), part.clone());
    let rec = Arc::new(Recorder {
        on_progress: Some(Box::new(move |bytes| {
            // Every reported byte is already on disk, and the final name does not exist yet:
            // the body is streamed to the .part file, not held in memory.
            if !d2.exists() {
                assert_eq!(std::fs::metadata(&p2).unwrap().len(), bytes);
            }
        })),
        ..Recorder::default()
    });
    client(Credentials::token(TOKEN))
        .downloads(&account())
        .fetch(&ready(srv.url(&video())), &dest, FetchOptions::default().reporter(rec.clone()))
        .await
        .unwrap();
    let progress: Vec<u64> = rec
        .events()
        .into_iter()
        .filter_map(|e| if let Event::Progress(n) = e { Some(n) } else { None })
        .collect();
    // Written as it arrives: a 256 KiB buffer plus at most one chunk from the connection.
    assert!(progress.len() >= 4, "written in bounded pieces: {progress:?}");
    assert!(progress.windows(2).all(|w| w[1] - w[0] <= 1024 * 1024), "{progress:?}");
    assert_eq!(std::fs::read(&dest).unwrap(), *file);
    assert!(!part.exists());
}

#[tokio::test]
async fn a_short_body_fails_and_keeps_only_the_part_file() {
    let file = file_of(40_000);
    let srv = FileServer::start(file.clone(), vec![Script::ShortBody(100)]).await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("clip.mp4");
    let e = client(Credentials::token(TOKEN))
        .downloads(&account())
        .fetch(&ready(srv.url(&video())), &dest, FetchOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Dispatch, "{e}");
    assert!(e.is_retryable());
    assert_eq!(e.attempts(), 3);
    assert!(!dest.exists(), "a half file never has the final name");
    assert!(dir.path().join("clip.mp4.part").exists());
}

#[tokio::test]
async fn transfer_retries_follow_the_clients_policy_and_are_reported() {
    let file = file_of(40_000);
    let srv = FileServer::start(file.clone(), vec![Script::ShortBody(100)]).await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("clip.mp4");
    // A bucket with tokens for one retry: the transfer pays for its retries like API calls do.
    let c = builder("http://127.0.0.1:9/client/v4")
        .retry(
            RetryConfig::default()
                .max_attempts(5)
                .token_bucket(9)
                .jitter(|_| std::time::Duration::ZERO),
        )
        .build()
        .unwrap();
    let rec = Recorder::new();
    let e = c
        .downloads(&account())
        .fetch(&ready(srv.url(&video())), &dest, FetchOptions::default().reporter(rec.clone()))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Dispatch, "{e}");
    assert_eq!(e.attempts(), 2, "the bucket paid for one retry only");
    assert_eq!(srv.heads().len(), 2);
    let retries: Vec<Event> =
        rec.events().into_iter().filter(|e| matches!(e, Event::FetchRetrying(..))).collect();
    assert_eq!(retries, [Event::FetchRetrying(2, std::time::Duration::ZERO)]);
}

#[tokio::test]
async fn filename_is_validated_sent_and_used() {
    let srv = FileServer::start(file_of(10), vec![Script::Full]).await;
    let dir = tempfile::tempdir().unwrap();
    let c = client(Credentials::token(TOKEN));
    let acct = account();
    let api = c.downloads(&acct);
    for bad in ["../../etc/passwd", "a b", "", "x.mp4"] {
        let e = api
            .fetch(&ready(srv.url(&video())), dir.path(), FetchOptions::default().filename(bad))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Build);
        assert!(e.to_string().contains("invalid filename"), "{e}");
    }
    assert!(srv.heads().is_empty(), "nothing is sent for a bad filename");
    let out = api
        .fetch(&ready(srv.url(&video())), dir.path(), FetchOptions::default().filename("my-clip_1"))
        .await
        .unwrap();
    assert_eq!(out.path, dir.path().join("my-clip_1.mp4"));
    assert!(srv.heads()[0].starts_with("GET /"), "{}", srv.heads()[0]);
    assert!(
        srv.heads()[0].contains("/downloads/default.mp4?filename=my-clip_1 "),
        "{}",
        srv.heads()[0]
    );
}

#[tokio::test]
async fn an_existing_file_is_kept_unless_overwrite() {
    let srv = FileServer::start(file_of(10), vec![Script::Full]).await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("clip.mp4");
    std::fs::write(&dest, b"mine").unwrap();
    let c = client(Credentials::token(TOKEN));
    let acct = account();
    let api = c.downloads(&acct);
    let e = api.fetch(&ready(srv.url(&video())), &dest, FetchOptions::default()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DestinationExists);
    assert_eq!(std::fs::read(&dest).unwrap(), b"mine");
    api.fetch(&ready(srv.url(&video())), &dest, FetchOptions::default().overwrite(true))
        .await
        .unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), *file_of(10));
}

#[tokio::test]
async fn a_download_not_ready_or_a_404_is_an_error() {
    let srv = FileServer::start(file_of(10), vec![Script::Status(404)]).await;
    let dir = tempfile::tempdir().unwrap();
    let c = client(Credentials::token(TOKEN));
    let acct = account();
    let api = c.downloads(&acct);
    let pending = Download::new(DownloadStatus::InProgress, PercentComplete::new(5.0).unwrap())
        .with_url(srv.url(&video()));
    let e = api.fetch(&pending, dir.path(), FetchOptions::default()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotReady);
    let e = api
        .fetch(&ready(srv.url(&video())), dir.path(), FetchOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidResponse);
    assert_eq!(e.status(), Some(404));
    assert_eq!(e.attempts(), 1);
    assert!(!Path::new(&dir.path().join(format!("{}-default.mp4", video()))).exists());
}

#[tokio::test]
async fn a_json_or_html_answer_is_never_saved_as_the_file() {
    use wiremock::{Mock, MockServer, ResponseTemplate, matchers::any};
    for (ct, body) in [
        ("application/json", r#"{"success":true,"errors":[],"messages":[],"result":{}}"#),
        ("text/html; charset=utf-8", "<html><body>502 Bad Gateway</body></html>"),
    ] {
        let server = MockServer::builder().start().await;
        Mock::given(any())
            .respond_with(
                ResponseTemplate::new(200).insert_header("content-type", ct).set_body_string(body),
            )
            .mount(&server)
            .await;
        let url: url::Url =
            format!("{}/{}/downloads/default.mp4", server.uri(), video()).parse().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let e = client(Credentials::token(TOKEN))
            .downloads(&account())
            .fetch(&ready(url), dir.path(), FetchOptions::default())
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{ct}");
        assert!(e.to_string().contains("not a media file"), "{e}");
        assert_eq!(e.body_snippet(), Some(body.as_bytes()), "the error quotes the page");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing written for {ct}");
    }
}

/// A file outside the download directory that a hostile link points at.
fn precious() -> (tempfile::TempDir, std::path::PathBuf) {
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("precious.txt");
    std::fs::write(&target, b"precious").unwrap();
    (outside, target)
}

fn is_symlink(p: &Path) -> bool {
    std::fs::symlink_metadata(p).unwrap().file_type().is_symlink()
}

#[cfg(unix)]
#[tokio::test]
async fn a_symlink_at_the_destination_is_never_followed_or_replaced() {
    let srv = FileServer::start(file_of(10), vec![Script::Full]).await;
    let (_outside, target) = precious();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("clip.mp4");
    std::os::unix::fs::symlink(&target, &dest).unwrap();
    let c = client(Credentials::token(TOKEN));
    let acct = account();
    for overwrite in [false, true] {
        let e = c
            .downloads(&acct)
            .fetch(&ready(srv.url(&video())), &dest, FetchOptions::default().overwrite(overwrite))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotRegularFile, "{e}");
        assert_eq!(
            e.to_string(),
            format!(
                "'{}' is a symbolic link, not a regular file: fetch never follows or replaces it",
                dest.display()
            )
        );
        assert!(!e.is_retryable());
    }
    assert!(is_symlink(&dest), "the link is still there");
    assert_eq!(std::fs::read(&target).unwrap(), b"precious");
    assert!(!dir.path().join("clip.mp4.part").exists());
    assert!(srv.heads().is_empty(), "refused before any request");
}

#[cfg(unix)]
#[tokio::test]
async fn a_fifo_at_the_destination_is_refused_even_with_overwrite() {
    let srv = FileServer::start(file_of(10), vec![Script::Full]).await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("clip.mp4");
    let made = std::process::Command::new("mkfifo").arg(&dest).status().unwrap();
    assert!(made.success());
    let e = client(Credentials::token(TOKEN))
        .downloads(&account())
        .fetch(&ready(srv.url(&video())), &dest, FetchOptions::default().overwrite(true))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotRegularFile, "{e}");
    assert_eq!(
        e.to_string(),
        format!(
            "'{}' is a FIFO, not a regular file: fetch never follows or replaces it",
            dest.display()
        )
    );
    use std::os::unix::fs::FileTypeExt as _;
    assert!(std::fs::symlink_metadata(&dest).unwrap().file_type().is_fifo(), "still a FIFO");
    assert!(srv.heads().is_empty());
}

#[cfg(unix)]
#[tokio::test]
async fn a_symlinked_part_file_is_never_followed_or_removed() {
    let srv = FileServer::start(file_of(10), vec![Script::Full]).await;
    let (_outside, target) = precious();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("clip.mp4");
    let part = dir.path().join("clip.mp4.part");
    std::os::unix::fs::symlink(&target, &part).unwrap();
    let c = client(Credentials::token(TOKEN));
    let acct = account();
    for resume in [true, false] {
        let e = c
            .downloads(&acct)
            .fetch(&ready(srv.url(&video())), &dest, FetchOptions::default().resume(resume))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotRegularFile, "resume {resume}: {e}");
        assert_eq!(
            e.to_string(),
            format!(
                "'{}' is a symbolic link, not a regular file: fetch never follows or replaces it",
                part.display()
            )
        );
    }
    assert!(is_symlink(&part), "the link is still there");
    assert_eq!(std::fs::read(&target).unwrap(), b"precious", "nothing written through it");
    assert!(!dest.exists());
    assert!(srv.heads().is_empty());
}

/// Another version of a file of `n` bytes: same length, other bytes.
fn other_version(n: usize) -> Arc<Vec<u8>> {
    Arc::new((0..n).map(|i| (i * 31 % 253) as u8 ^ 0x5a).collect())
}

#[tokio::test]
async fn a_resume_after_the_file_changed_starts_over_and_never_splices() {
    let (old, new) = (file_of(1_000_000), other_version(1_000_000));
    assert_ne!(old, new);
    // The first answer is cut; then the file changes. Three servers: one that honours If-Range
    // (200 with the new file), one that ignores it but sends the new ETag, and one that ignores
    // it, sends no ETag, and has a new length.
    let longer = other_version(1_200_000);
    for (next, expected, requests) in [
        (Script::Other(new.clone(), Box::new(Script::Ranged)), &new, 2),
        (Script::Other(new.clone(), Box::new(Script::RangedIgnoringIfRange)), &new, 3),
        (
            Script::Other(
                longer.clone(),
                Box::new(Script::NoEtag(Box::new(Script::RangedIgnoringIfRange))),
            ),
            &longer,
            3,
        ),
    ] {
        let srv = FileServer::start(old.clone(), vec![Script::CutAt(300_000), next.clone()]).await;
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("clip.mp4");
        let out = client(Credentials::token(TOKEN))
            .downloads(&account())
            .fetch(&ready(srv.url(&video())), &dest, FetchOptions::default())
            .await
            .unwrap();
        // Not assert_eq: a megabyte of bytes is no message.
        let got = std::fs::read(&dest).unwrap();
        assert!(got == **expected, "the new file, whole, from {}", etag(expected));
        assert_eq!(out.bytes, expected.len() as u64);
        let heads: Vec<String> = srv.heads().iter().map(|h| h.to_ascii_lowercase()).collect();
        assert_eq!(heads.len(), requests, "{heads:?}");
        assert!(heads[1].contains("range: bytes=300000-"), "{}", heads[1]);
        assert!(heads[1].contains(&format!("if-range: {}", etag(&old))), "{}", heads[1]);
        if requests == 3 {
            assert!(!heads[2].contains("range:"), "started over: {}", heads[2]);
        }
        assert!(!dir.path().join("clip.mp4.part").exists());
        assert!(!dir.path().join("clip.mp4.part.meta").exists());
    }
}

#[tokio::test]
async fn a_content_range_elsewhere_than_asked_starts_over() {
    let file = file_of(10_000);
    let wrong = Script::Raw(
        "206 Partial Content",
        vec![format!("ETag: {}", etag(&file)), "Content-Range: bytes 0-9999/10000".into()],
        file.to_vec(),
    );
    let srv =
        FileServer::start(file.clone(), vec![Script::CutAt(4_000), wrong, Script::Full]).await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("clip.mp4");
    client(Credentials::token(TOKEN))
        .downloads(&account())
        .fetch(&ready(srv.url(&video())), &dest, FetchOptions::default())
        .await
        .unwrap();
    // The 206 from byte 0 was not appended after the 4000 bytes on disk.
    assert_eq!(std::fs::read(&dest).unwrap(), *file);
    let heads = srv.heads();
    assert_eq!(heads.len(), 3);
    assert!(heads[1].to_ascii_lowercase().contains("range: bytes=4000-"), "{}", heads[1]);
    assert!(!heads[2].to_ascii_lowercase().contains("range:"), "{}", heads[2]);
}

#[tokio::test]
async fn without_a_saved_validator_a_part_file_is_not_resumed() {
    let file = file_of(100_000);
    // The first answer has no validator: its bytes cannot be checked against a later answer.
    let srv = FileServer::start(
        file.clone(),
        vec![Script::NoEtag(Box::new(Script::CutAt(40_000))), Script::Ranged],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("clip.mp4");
    client(Credentials::token(TOKEN))
        .downloads(&account())
        .fetch(&ready(srv.url(&video())), &dest, FetchOptions::default())
        .await
        .unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), *file);
    let heads = srv.heads();
    assert_eq!(heads.len(), 2);
    assert!(!heads[1].to_ascii_lowercase().contains("range:"), "{}", heads[1]);
    assert!(!dir.path().join("clip.mp4.part.meta").exists());
}

#[tokio::test]
async fn a_206_that_ends_before_its_content_range_total_is_not_renamed() {
    let file = file_of(1_000);
    // Framed correctly (Content-Length 300), but the file has 1000 bytes: only fetch's own
    // length check can tell.
    let short = Script::Raw(
        "206 Partial Content",
        vec![format!("ETag: {}", etag(&file)), "Content-Range: bytes 300-599/1000".into()],
        file[300..600].to_vec(),
    );
    let srv = FileServer::start(file.clone(), vec![Script::CutAt(300), short]).await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("clip.mp4");
    let c = builder("http://127.0.0.1:9/client/v4")
        .retry(RetryConfig::default().max_attempts(2).jitter(|_| std::time::Duration::ZERO))
        .build()
        .unwrap();
    let e = c
        .downloads(&account())
        .fetch(&ready(srv.url(&video())), &dest, FetchOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Dispatch, "{e}");
    assert_eq!(e.to_string(), "the body ended after 600 of 1000 bytes (after 2 attempts)");
    assert_eq!(e.status(), Some(206));
    assert!(!dest.exists(), "a short file never gets the final name");
    let part = std::fs::read(dir.path().join("clip.mp4.part")).unwrap();
    assert!(part == file[..600], "what arrived is kept for a resume");
}

#[tokio::test]
async fn a_416_for_a_whole_part_file_renames_it_without_a_transfer() {
    let file = file_of(50_000);
    let srv = FileServer::start(file.clone(), vec![Script::Ranged]).await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("clip.mp4");
    std::fs::write(dir.path().join("clip.mp4.part"), &*file).unwrap();
    save_validator(&dir.path().join("clip.mp4.part.meta"), &file);
    let out = client(Credentials::token(TOKEN))
        .downloads(&account())
        .fetch(&ready(srv.url(&video())), &dest, FetchOptions::default())
        .await
        .unwrap();
    assert_eq!((out.bytes, out.resumed_from), (50_000, 50_000));
    assert!(std::fs::read(&dest).unwrap() == *file);
    let heads = srv.heads();
    assert_eq!(heads.len(), 1);
    assert!(heads[0].to_ascii_lowercase().contains("range: bytes=50000-"), "{}", heads[0]);
    assert!(!dir.path().join("clip.mp4.part").exists());
    assert!(!dir.path().join("clip.mp4.part.meta").exists());
}

#[tokio::test]
async fn a_416_for_a_part_file_longer_than_the_file_starts_over() {
    let file = file_of(50_000);
    let srv = FileServer::start(file.clone(), vec![Script::Ranged]).await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("clip.mp4");
    let mut longer = file.to_vec();
    longer.extend_from_slice(&[0xEE; 100]);
    std::fs::write(dir.path().join("clip.mp4.part"), &longer).unwrap();
    save_validator(&dir.path().join("clip.mp4.part.meta"), &file);
    let out = client(Credentials::token(TOKEN))
        .downloads(&account())
        .fetch(&ready(srv.url(&video())), &dest, FetchOptions::default())
        .await
        .unwrap();
    assert_eq!((out.bytes, out.resumed_from), (50_000, 0));
    assert!(std::fs::read(&dest).unwrap() == *file, "the longer part file was never renamed");
    let heads = srv.heads();
    assert_eq!(heads.len(), 2);
    assert!(heads[0].to_ascii_lowercase().contains("range: bytes=50100-"), "{}", heads[0]);
    assert!(!heads[1].to_ascii_lowercase().contains("range:"), "{}", heads[1]);
}

#[tokio::test]
async fn a_416_without_content_range_starts_over() {
    let file = file_of(50_000);
    let bare = Script::Raw("416 Range Not Satisfiable", vec![], Vec::new());
    let srv = FileServer::start(file.clone(), vec![bare, Script::Full]).await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("clip.mp4");
    // As long as the file, but nothing vouches for its bytes.
    std::fs::write(dir.path().join("clip.mp4.part"), vec![0xEE; 50_000]).unwrap();
    save_validator(&dir.path().join("clip.mp4.part.meta"), &file);
    let out = client(Credentials::token(TOKEN))
        .downloads(&account())
        .fetch(&ready(srv.url(&video())), &dest, FetchOptions::default())
        .await
        .unwrap();
    assert_eq!((out.bytes, out.resumed_from), (50_000, 0));
    assert!(std::fs::read(&dest).unwrap() == *file, "the unchecked part file was never renamed");
    assert_eq!(srv.heads().len(), 2);
}

#[tokio::test]
async fn a_restart_that_fails_leaves_no_stale_part_or_validator() {
    let file = file_of(10_000);
    // The resume is answered from the wrong byte, so the fetch starts over; that request fails.
    let wrong = Script::Raw(
        "206 Partial Content",
        vec![format!("ETag: {}", etag(&file)), "Content-Range: bytes 0-9999/10000".into()],
        file.to_vec(),
    );
    let srv =
        FileServer::start(file.clone(), vec![Script::CutAt(4_000), wrong, Script::Status(404)])
            .await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("clip.mp4");
    let e = client(Credentials::token(TOKEN))
        .downloads(&account())
        .fetch(&ready(srv.url(&video())), &dest, FetchOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(404), "{e}");
    assert_eq!(srv.heads().len(), 3);
    // Nothing is left that a later run could resume against the old validator.
    assert!(!dir.path().join("clip.mp4.part").exists());
    assert!(!dir.path().join("clip.mp4.part.meta").exists());
}

#[tokio::test]
async fn redirects_are_followed_ten_times_at_most() {
    let srv = FileServer::start(
        file_of(10),
        vec![Script::Raw(
            "302 Found",
            vec!["Location: /again/downloads/default.mp4".into()],
            vec![],
        )],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let e = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        client(Credentials::token(TOKEN)).downloads(&account()).fetch(
            &ready(srv.url(&video())),
            dir.path(),
            FetchOptions::default(),
        ),
    )
    .await
    .expect("redirects are bounded")
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{e}");
    assert_eq!(e.status(), Some(302));
    assert_eq!(srv.heads().len(), 11, "the first request and 10 redirects");
}

#[tokio::test]
async fn a_206_or_416_to_a_request_without_range_is_refused() {
    for (status, headers, body) in [
        ("206 Partial Content", vec!["Content-Range: bytes 0-99/1000".to_owned()], vec![7u8; 100]),
        ("416 Range Not Satisfiable", vec!["Content-Range: bytes */0".to_owned()], vec![]),
    ] {
        let srv = FileServer::start(file_of(10), vec![Script::Raw(status, headers, body)]).await;
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("clip.mp4");
        let e = tokio::time::timeout(
            std::time::Duration::from_secs(20),
            client(Credentials::token(TOKEN)).downloads(&account()).fetch(
                &ready(srv.url(&video())),
                &dest,
                FetchOptions::default(),
            ),
        )
        .await
        .expect("answered once")
        .unwrap_err();
        let code = &status[..3];
        assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{e}");
        assert_eq!(e.to_string(), format!("fetching from '127.0.0.1': http {code} (video/mp4)"));
        assert_eq!(srv.heads().len(), 1, "{status}: not retried");
        assert!(!dest.exists());
    }
}

#[tokio::test]
async fn a_206_with_an_unknown_total_takes_it_from_content_length() {
    let file = file_of(10_000);
    let rest = Script::Raw(
        "206 Partial Content",
        vec![format!("ETag: {}", etag(&file)), "Content-Range: bytes 4000-9999/*".into()],
        file[4_000..].to_vec(),
    );
    let srv = FileServer::start(file.clone(), vec![Script::CutAt(4_000), rest]).await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("clip.mp4");
    let rec = Recorder::new();
    let out = client(Credentials::token(TOKEN))
        .downloads(&account())
        .fetch(&ready(srv.url(&video())), &dest, FetchOptions::default().reporter(rec.clone()))
        .await
        .unwrap();
    assert_eq!(out.bytes, 10_000);
    assert!(std::fs::read(&dest).unwrap() == *file);
    assert!(rec.events().contains(&Event::Started(Some(video().to_string()), Some(10_000), 4_000)));
}

#[tokio::test]
async fn a_new_version_without_a_validator_drops_the_old_one() {
    let (old, new) = (file_of(10_000), other_version(10_000));
    let srv = FileServer::start(
        old.clone(),
        vec![
            Script::CutAt(4_000),
            Script::Other(new.clone(), Box::new(Script::NoEtag(Box::new(Script::CutAt(3_000))))),
        ],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let c = builder("http://127.0.0.1:9/client/v4")
        .retry(RetryConfig::default().max_attempts(2).jitter(|_| std::time::Duration::ZERO))
        .build()
        .unwrap();
    c.downloads(&account())
        .fetch(&ready(srv.url(&video())), &dir.path().join("clip.mp4"), FetchOptions::default())
        .await
        .unwrap_err();
    // The .part now holds the start of the new version, which has no validator: the old one
    // must not be left to vouch for it.
    let part = std::fs::read(dir.path().join("clip.mp4.part")).unwrap();
    assert!(part == new[..3_000]);
    assert!(!dir.path().join("clip.mp4.part.meta").exists());
}

/// `x-ratelimit-reset` says when the file host's window resets: it is a reason to wait only on a
/// 429 (Cloudflare sends it on every answer), so a 404 carrying it gives no `retry_after`.
#[tokio::test]
async fn the_file_hosts_ratelimit_reset_is_a_delay_only_on_a_429() {
    use wiremock::{Mock, MockServer, ResponseTemplate, matchers::any};
    for (status, expected) in [(429, Some(std::time::Duration::from_secs(9))), (404, None)] {
        let server = MockServer::builder().start().await;
        Mock::given(any())
            .respond_with(ResponseTemplate::new(status).insert_header("x-ratelimit-reset", "9"))
            .mount(&server)
            .await;
        let url: url::Url =
            format!("{}/{}/downloads/default.mp4", server.uri(), video()).parse().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let c = builder("http://127.0.0.1:9/client/v4")
            .credentials(Credentials::token(TOKEN))
            .retry(RetryConfig::disabled())
            .build()
            .unwrap();
        let e = c
            .downloads(&account())
            .fetch(&ready(url), dir.path(), FetchOptions::default())
            .await
            .unwrap_err();
        assert_eq!(e.status(), Some(status));
        assert_eq!(e.retry_after(), expected, "http {status}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing written");
    }
}

/// A refusal's body snippet gathers the answer's chunks up to the snippet's size (here two
/// small chunks: the first alone is not the page).
#[tokio::test]
async fn a_refusal_quotes_its_whole_short_body() {
    let base = raw_server(
        "HTTP/1.1 404 Not Found\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n",
        vec![b"8\r\nno such \r\n".to_vec(), b"4\r\nfile\r\n0\r\n\r\n".to_vec()],
    )
    .await;
    let url: url::Url = format!("{base}/{}/downloads/default.mp4", video()).parse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let e = client(Credentials::token(TOKEN))
        .downloads(&account())
        .fetch(&ready(url), dir.path(), FetchOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{e}");
    assert_eq!(e.status(), Some(404));
    assert_eq!(e.body_snippet(), Some(&b"no such file"[..]));
}
