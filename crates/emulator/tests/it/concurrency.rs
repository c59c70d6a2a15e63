//! 64 concurrent clients creating, listing and deleting: every answer is well formed and the
//! final state is what the operations imply.

use cfstream_emulator::RateLimit;
use cfstream_types::DownloadStatus;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_clients_leave_a_consistent_state() {
    let emu = builder().rate_limit(RateLimit::disabled()).start().await.unwrap();
    let shared_video = ready_video(&emu);
    let own: Vec<String> =
        (0..64).map(|_| emu.admin().add_video(&emu.account(), true).to_string()).collect();
    let base = downloads_url(&emu, "VIDEO", "");
    // One client, cloned: it opens a connection per concurrent task (building 64 TLS-capable
    // clients would dominate the test's time).
    let client = client();
    let mut tasks = Vec::new();
    for (i, video) in own.iter().cloned().enumerate() {
        let c = client.clone();
        let base = base.clone();
        let shared_video = shared_video.clone();
        tasks.push(tokio::spawn(async move {
            let url = base.replace("VIDEO", &video);
            let shared = base.replace("VIDEO", &shared_video);
            let mut requests = 0;
            for round in 0..3 {
                for (m, u) in [
                    ("POST", format!("{url}/audio")),
                    ("POST", url.clone()),
                    ("GET", url.clone()),
                    ("DELETE", format!("{url}/audio")),
                    ("GET", shared.clone()),
                    (
                        if (i + round) % 2 == 0 { "POST" } else { "DELETE" },
                        format!("{shared}/audio"),
                    ),
                ] {
                    let (s, _, body) = authed(c.request(m.parse().unwrap(), &u)).await;
                    assert_eq!(s, 200, "{m} {u}: {body}");
                    if m == "DELETE" {
                        check_deleted_shape(&body);
                    } else {
                        check_downloads_shape(&body);
                    }
                    requests += 1;
                }
            }
            let (_, _, body) = authed(c.post(format!("{shared}/default"))).await;
            check_downloads_shape(&body);
            requests + 1
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    let admin = emu.admin();
    for video in &own {
        let d = admin.downloads(&emu.account(), &video.parse().unwrap()).unwrap();
        assert_eq!(d.default.unwrap().status, DownloadStatus::Ready);
        assert!(d.audio.is_none(), "{video}");
    }
    let d = admin.downloads(&emu.account(), &shared_video.parse().unwrap()).unwrap();
    assert!(d.default.is_some());
    assert_eq!(admin.request_count(), total);
    assert!(admin.requests().iter().all(|r| r.status == 200));
}
