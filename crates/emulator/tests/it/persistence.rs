//! The state file: a restarted emulator has the same videos and downloads; a bad file is
//! refused, never overwritten.

use std::time::Duration;

use cfstream_emulator::{ErrorKind, Progress};
use cfstream_types::{DownloadStatus, DownloadType};

use crate::common::*;

#[tokio::test]
async fn state_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
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
    std::mem::forget(emu); // like a crash: no graceful shutdown, no final save

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
    assert_eq!(emu.videos().len(), 4);
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
