//! The admin HTTP routes and the in-process `Admin` handle.

use cfstream_emulator::{DEMO_ACCOUNT, DEMO_VIDEOS, Seed};
use cfstream_types::{AccountId, ErrorCode};

use crate::common::*;

#[tokio::test]
async fn admin_routes_add_videos_flip_readiness_and_reset() {
    let emu = start().await;
    let c = client();
    let admin_url = |p: &str| format!("http://{}/__emulator/{p}", emu.addr());

    let (s, _, body) = authed(
        c.post(admin_url("videos"))
            .json(&serde_json::json!({"ready_to_stream": false, "duration_secs": 12.5})),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let id = body["result"]["id"].as_str().unwrap().to_owned();
    assert_eq!(body["result"]["account"], DEMO_ACCOUNT);
    assert_eq!(body["result"]["duration_secs"], 12.5);
    let got = authed(c.post(downloads_url(&emu, &id, ""))).await;
    assert_failure(&got, 409, ErrorCode::VideoNotReady.code());

    let (s, _, body) = authed(
        c.put(admin_url("readiness"))
            .json(&serde_json::json!({"video": id, "ready_to_stream": true})),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(authed(c.post(downloads_url(&emu, &id, ""))).await.0, 200);

    let (s, _, body) = authed(
        c.put(admin_url("download-status"))
            .json(&serde_json::json!({"video": id, "status": "error"})),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["result"]["default"]["status"], "error");

    let (s, _, state) = authed(c.get(admin_url("state"))).await;
    assert_eq!(s, 200);
    let videos = state["result"]["accounts"][0]["videos"].as_array().unwrap();
    assert_eq!(
        videos.len(),
        DEMO_VIDEOS.len() + 2,
        "the demo videos, the signed one, the added one"
    );
    assert_eq!(videos.last().unwrap()["downloads"]["default"]["status"], "error");
    assert!(state["result"]["request_count"].as_u64().unwrap() >= 5);

    let (s, _, log) = authed(c.get(admin_url("requests"))).await;
    assert_eq!(s, 200);
    assert_eq!(log["result"][0]["path"], "/__emulator/videos");

    // Bad bodies and unknown videos.
    let got = authed(c.put(admin_url("readiness")).body("{")).await;
    assert_failure(&got, 400, ErrorCode::InvalidRequest.code());
    let got = authed(
        c.put(admin_url("readiness"))
            .json(&serde_json::json!({"video": "abc", "ready_to_stream": true})),
    )
    .await;
    assert_failure(&got, 404, ErrorCode::VideoNotFound.code());
    let got = authed(
        c.put(admin_url("download-status"))
            .json(&serde_json::json!({"video": id, "download_type": "hdr", "status": "ready"})),
    )
    .await;
    assert_failure(&got, 400, ErrorCode::InvalidRequest.code());

    let (s, _, body) = authed(c.post(admin_url("reset"))).await;
    assert_eq!((s, &body["result"]), (200, &serde_json::json!("ok")));
    assert_eq!(emu.videos().len(), DEMO_VIDEOS.len() + 1);
    assert_eq!(emu.admin().request_count(), 1, "the reset request itself");
}

#[tokio::test]
async fn seeds_from_files_and_in_process_admin() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seed.json");
    std::fs::write(&path, r#"{"accounts":[{"id":"abc","videos":[{"id":"0123","ready_to_stream":false}]},{"id":"def"}]}"#).unwrap();
    let emu = builder().seed(Seed::from_file(&path).unwrap()).start().await.unwrap();
    assert_eq!(emu.account().as_str(), "abc");
    assert_eq!(emu.videos().len(), 1);
    let admin = emu.admin();
    let other: AccountId = "def".parse().unwrap();
    let v = admin.add_video(&other, true);
    assert_eq!(v.as_str().len(), 32);
    let url = format!("{}/accounts/def/stream/{v}/downloads", emu.base_url());
    assert_eq!(authed(client().post(&url)).await.0, 200);
    admin.set_ready_to_stream(&emu.account(), &"0123".parse().unwrap(), true).unwrap();
    let e = admin.set_ready_to_stream(&emu.account(), &"4567".parse().unwrap(), true).unwrap_err();
    assert_eq!(e.kind(), cfstream_emulator::ErrorKind::UnknownVideo);
    assert!(e.to_string().contains("4567"), "{e}");
    let empty = builder().seed(Seed::empty_account("fff".parse().unwrap())).start().await.unwrap();
    assert!(empty.videos().is_empty());
    assert_eq!(empty.base_url().as_str(), format!("http://{}/client/v4", empty.addr()));
}
