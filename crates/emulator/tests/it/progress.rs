//! Progress under paused time: `inprogress` from 0, percentComplete never going down, `ready`
//! at 100 after the configured time; the file is 404 until then.

use std::time::Duration;

use cfstream_emulator::{Emulator, Progress};
use cfstream_types::DownloadStatus;

use crate::common::*;

#[tokio::test(start_paused = true)]
async fn downloads_progress_with_virtual_time() {
    let emu = Emulator::builder()
        .progress(Progress::Over(Duration::from_secs(10)))
        .start()
        .await
        .unwrap();
    let c = client();
    let video = ready_video(&emu);
    let url = downloads_url(&emu, &video, "");
    let (s, _, body) = authed(c.post(&url)).await;
    assert_eq!(s, 200);
    let d = check_downloads_shape(&body).default.unwrap();
    assert_eq!(d.status, DownloadStatus::InProgress);
    assert_eq!(d.percent_complete.get(), 0.0);
    let file = format!("http://{}/{video}/downloads/default.mp4", emu.addr());
    assert_eq!(c.get(&file).send().await.unwrap().status(), 404);

    let mut seen = vec![0.0];
    for _ in 0..9 {
        tokio::time::advance(Duration::from_millis(1050)).await;
        let (_, _, body) = authed(c.get(&url)).await;
        let d = check_downloads_shape(&body).default.unwrap();
        let p = d.percent_complete.get();
        assert!(p >= *seen.last().unwrap(), "percentComplete went down: {seen:?} then {p}");
        if d.status == DownloadStatus::InProgress {
            assert!(p < 100.0);
        }
        seen.push(p);
    }
    assert!(seen.iter().any(|p| *p > 0.0 && *p < 100.0), "{seen:?}");
    tokio::time::advance(Duration::from_secs(1)).await;
    let (_, _, body) = authed(c.get(&url)).await;
    let d = check_downloads_shape(&body).default.unwrap();
    assert_eq!((d.status, d.percent_complete.get()), (DownloadStatus::Ready, 100.0));
    assert_eq!(c.get(&file).send().await.unwrap().status(), 200);
    // A create after ready answers the same state; it does not restart.
    let (_, _, again) = authed(c.post(&url)).await;
    assert_eq!(again, body);
}

#[tokio::test]
async fn forced_error_status_sticks() {
    let emu = Emulator::builder()
        .progress(Progress::Over(Duration::from_secs(3600)))
        .start()
        .await
        .unwrap();
    let c = client();
    let video = ready_video(&emu);
    authed(c.post(downloads_url(&emu, &video, "/audio"))).await;
    emu.admin()
        .set_download_status(
            &emu.account(),
            &video.parse().unwrap(),
            cfstream_types::DownloadType::Audio,
            DownloadStatus::Error,
        )
        .unwrap();
    let (_, _, body) = authed(c.get(downloads_url(&emu, &video, ""))).await;
    let d = check_downloads_shape(&body);
    assert_eq!(d.audio.unwrap().status, DownloadStatus::Error);
    let file = format!("http://{}/{video}/downloads/audio.m4a", emu.addr());
    assert_eq!(c.get(file).send().await.unwrap().status(), 404);
}
