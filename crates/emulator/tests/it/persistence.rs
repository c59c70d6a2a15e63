//! The state file: a restarted emulator has the same videos and downloads; a bad file is
//! refused, never overwritten.

use std::time::Duration;

use cfstream_emulator::{DEMO_VIDEOS, ErrorKind, Progress};
use cfstream_types::{DownloadStatus, DownloadType};

use crate::common::*;

fn emu_path(dir: &tempfile::TempDir) -> std::path::PathBuf {
    dir.path().join("state.json")
}

#[tokio::test]
async fn state_survives_a_restart() {
    let emu_dir = tempfile::tempdir().unwrap();
    let path = emu_path(&emu_dir);
    let emu = builder()
        .progress(Progress::Over(Duration::from_secs(3600)))
        .state_file(&path)
        .start()
        .await
        .unwrap();
    assert!(path.exists(), "written at start");
    let c = client();
    let video = ready_video(&emu);
    authed(c.post(downloads_url(&emu, &video, "/audio"))).await;
    authed(c.post(downloads_url(&emu, &video, ""))).await;
    let added = emu.admin().add_video(&emu.account(), true);
    emu.admin().set_ready_to_stream(&emu.account(), &video.parse().unwrap(), false).unwrap();
    emu.admin()
        .set_download_status(
            &emu.account(),
            &video.parse().unwrap(),
            DownloadType::Default,
            DownloadStatus::Error,
        )
        .unwrap();
    // Written before the answer: a kill -9 now would keep this (no shutdown needed).
    let on_disk: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert!(on_disk.to_string().contains(added.as_str()));
    let videos = emu.videos();
    // Like a crash: what the restart sees is what was on disk now, without the final save of
    // a graceful shutdown (a copy, since this process keeps the original's lock until the
    // emulator is gone).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    std::fs::copy(emu_path(&emu_dir), &path).unwrap();
    drop(emu);

    let emu = builder()
        .progress(Progress::Over(Duration::from_secs(3600)))
        .state_file(&path)
        .start()
        .await
        .unwrap();
    assert_eq!(emu.videos(), videos);
    let (_, _, body) = authed(c.get(downloads_url(&emu, &video, ""))).await;
    let d = check_downloads_shape(&body);
    assert_eq!(d.audio.unwrap().status, DownloadStatus::InProgress);
    assert_eq!(d.default.unwrap().status, DownloadStatus::Error);
    // The URLs point at the new port.
    assert_eq!(
        body["result"]["audio"]["url"].as_str().unwrap(),
        format!("http://{}/{video}/downloads/audio.m4a", emu.addr())
    );
    // A graceful shutdown saves too; a reset goes back to the seed and is saved.
    emu.admin().reset();
    emu.shutdown().await;
    let emu = builder().state_file(&path).start().await.unwrap();
    assert_eq!(
        emu.videos().len(),
        DEMO_VIDEOS.len() + 1,
        "the seed: the demo videos and the signed one"
    );
    assert!(emu.videos().iter().all(|v| v.id != added));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary files left");
}

#[tokio::test]
async fn a_corrupt_state_file_is_refused_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    std::fs::write(&path, b"{\"version\": 1, \"accounts\": [tru").unwrap();
    let e = builder().state_file(&path).start().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidState);
    assert!(e.to_string().contains("state.json"), "{e}");
    assert_eq!(std::fs::read(&path).unwrap(), b"{\"version\": 1, \"accounts\": [tru");
}

#[tokio::test]
async fn a_second_emulator_on_the_same_state_file_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let first = builder().state_file(&path).start().await.unwrap();
    let video = ready_video(&first);
    assert_eq!(authed(client().post(downloads_url(&first, &video, ""))).await.0, 200);
    let e = builder().state_file(&path).start().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::StateInUse);
    assert_eq!(
        e.to_string(),
        format!(
            "state file '{}' is in use by another emulator (it holds the file's lock)",
            path.display()
        )
    );
    // The refused one wrote nothing: the first one's change is still on disk and served.
    assert!(std::fs::read_to_string(&path).unwrap().contains("\"default\""));
    assert_eq!(authed(client().get(downloads_url(&first, &video, ""))).await.0, 200);
    first.shutdown().await;
    let second = builder().state_file(&path).start().await.unwrap();
    let (_, _, body) = authed(client().get(downloads_url(&second, &video, ""))).await;
    assert!(check_downloads_shape(&body).default.is_some());
}

#[tokio::test]
async fn a_change_that_cannot_be_saved_is_503_and_undone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let emu = builder().state_file(&path).start().await.unwrap();
    let before = std::fs::read(&path).unwrap();
    // The next save's temporary file cannot be created: a directory holds its name. (Tests run
    // as root here, so file permissions would not stop a write.)
    let blocker = dir.path().join(format!(".state.json.{}.tmp", std::process::id()));
    std::fs::create_dir(&blocker).unwrap();
    let c = client();
    let video = ready_video(&emu);
    let expected = "the change could not be saved to the emulator's state file, so it was not made; retry later";
    for suffix in ["", "/audio"] {
        let got = authed(c.post(downloads_url(&emu, &video, suffix))).await;
        assert_eq!(assert_failure(&got, 503, 10503), expected);
    }
    let (_, _, body) = authed(c.get(downloads_url(&emu, &video, ""))).await;
    assert!(check_downloads_shape(&body).is_empty(), "the creates were undone: {body}");
    let admin = format!("http://{}/__emulator/videos", emu.addr());
    let got = authed(c.post(&admin).json(&serde_json::json!({}))).await;
    assert_eq!(assert_failure(&got, 503, 10503), expected);
    assert_eq!(emu.videos().len(), DEMO_VIDEOS.len() + 1, "the added video was undone");
    let e = emu
        .admin()
        .set_ready_to_stream(&emu.account(), &video.parse().unwrap(), false)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io);
    assert!(emu.videos().iter().any(|v| v.id.as_str() == video && v.ready_to_stream));
    assert_eq!(std::fs::read(&path).unwrap(), before, "nothing reached the disk");

    // Once the disk takes writes again, so does the emulator.
    std::fs::remove_dir(&blocker).unwrap();
    assert_eq!(authed(c.post(downloads_url(&emu, &video, ""))).await.0, 200);
    assert!(std::fs::read_to_string(&path).unwrap().contains("\"default\""));
}

#[tokio::test]
async fn progress_never_goes_down_across_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let progress = Progress::Over(Duration::from_secs(4));
    let emu = builder().progress(progress).state_file(&path).start().await.unwrap();
    let c = client();
    let video = ready_video(&emu);
    assert_eq!(authed(c.post(downloads_url(&emu, &video, ""))).await.0, 200);
    // Real time: the state file is saved at the create, and not again before the crash.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let (_, _, body) = authed(c.get(downloads_url(&emu, &video, ""))).await;
    let before = check_downloads_shape(&body).default.unwrap().percent_complete.get();
    assert!(before >= 20.0, "{before}");
    // The crash: what is on disk now is all the restart gets.
    let crash_dir = tempfile::tempdir().unwrap();
    let crashed = crash_dir.path().join("state.json");
    std::fs::copy(&path, &crashed).unwrap();
    drop(emu);

    let emu = builder().progress(progress).state_file(&crashed).start().await.unwrap();
    let (_, _, body) = authed(c.get(downloads_url(&emu, &video, ""))).await;
    let after = check_downloads_shape(&body).default.unwrap().percent_complete.get();
    assert!(after >= before, "progress went down across the restart: {before} % then {after} %");
}

#[tokio::test]
async fn stale_temporaries_are_removed_and_duplicates_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let stale = dir.path().join(".state.json.99999.tmp");
    std::fs::write(&stale, b"{\"version\": 1, \"acc").unwrap();
    let emu = builder().state_file(&path).start().await.unwrap();
    assert!(!stale.exists(), "the interrupted save's temporary file is removed");
    emu.shutdown().await;

    let account = cfstream_emulator::DEMO_ACCOUNT;
    for (accounts, fault) in [
        (
            serde_json::json!([{"id": account}, {"id": account}]),
            format!("account '{account}' appears twice in the state file"),
        ),
        (
            serde_json::json!([{"id": account, "videos": [{"id": "ab"}, {"id": "ab"}]}]),
            format!("video 'ab' appears twice in account '{account}'"),
        ),
    ] {
        let text =
            serde_json::json!({"version": 1, "next_video": 0, "accounts": accounts}).to_string();
        std::fs::write(&path, &text).unwrap();
        let e = builder().state_file(&path).start().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidState);
        assert_eq!(e.to_string(), format!("invalid state file '{}': {fault}", path.display()));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text, "a refused file is kept");
    }
}
