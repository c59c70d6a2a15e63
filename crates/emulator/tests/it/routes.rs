//! Every API route, with and without the `/client/v4` prefix: successes and each failure.

use cfstream_types::{DownloadStatus, ErrorCode};

use crate::common::*;

#[tokio::test]
async fn create_list_delete_round_trip_on_both_prefixes() {
    let emu = start().await;
    let c = client();
    let video = ready_video(&emu);
    for base in [emu.base_url().to_string(), format!("http://{}", emu.addr())] {
        let url = format!("{base}/accounts/{}/stream/{video}/downloads", emu.account());
        let (s, _, body) = authed(c.get(&url)).await;
        assert_eq!(s, 200);
        assert!(check_downloads_shape(&body).is_empty());

        let (s, _, body) = authed(c.post(&url)).await;
        assert_eq!(s, 200);
        let d = check_downloads_shape(&body);
        assert_eq!(d.default.as_ref().unwrap().status, DownloadStatus::Ready);
        assert!(d.audio.is_none());

        let (s, _, body) = authed(c.post(format!("{url}/audio"))).await;
        assert_eq!(s, 200);
        let d = check_downloads_shape(&body);
        assert!(
            d.default.is_some() && d.audio.is_some(),
            "create answers every download of the video"
        );
        assert!(
            d.audio
                .unwrap()
                .url
                .unwrap()
                .as_str()
                .ends_with(&format!("/{video}/downloads/audio.m4a"))
        );

        // POST again answers the current state.
        let (s, _, again) = authed(c.post(format!("{url}/audio"))).await;
        assert_eq!((s, &again), (200, &body));

        let (s, _, body) = authed(c.delete(format!("{url}/audio"))).await;
        assert_eq!(s, 200);
        check_deleted_shape(&body);
        let (_, _, body) = authed(c.get(&url)).await;
        let d = check_downloads_shape(&body);
        assert!(d.default.is_some() && d.audio.is_none());

        // The legacy DELETE removes the default download.
        let (s, _, body) = authed(c.delete(&url)).await;
        assert_eq!(s, 200);
        check_deleted_shape(&body);
        let (_, _, body) = authed(c.get(&url)).await;
        assert!(check_downloads_shape(&body).is_empty());

        // Deleting what is not there is harmless (idempotent).
        for path in [url.clone(), format!("{url}/default"), format!("{url}/audio")] {
            let (s, _, body) = authed(c.delete(&path)).await;
            assert_eq!(s, 200, "{path}");
            check_deleted_shape(&body);
        }

        // Typed create of default, then legacy list sees it.
        let (s, _, _) = authed(c.post(format!("{url}/default"))).await;
        assert_eq!(s, 200);
        let (_, _, body) = authed(c.get(&url)).await;
        assert!(check_downloads_shape(&body).default.is_some());
        authed(c.delete(&url)).await;
    }
}

#[tokio::test]
async fn create_accepts_empty_or_json_bodies_only() {
    let emu = start().await;
    let c = client();
    let url = downloads_url(&emu, &ready_video(&emu), "");
    for ok in ["", "{}", "  ", r#"{"anything": [1, 2]}"#] {
        let (s, _, body) = authed(c.post(&url).body(ok)).await;
        assert_eq!(s, 200, "{ok:?}: {body}");
    }
    let got =
        authed(c.post(&url).header("content-type", "application/json").body("not json {")).await;
    let msg = assert_failure(&got, 400, ErrorCode::InvalidRequest.code());
    assert!(msg.starts_with("request body must be empty or JSON"), "{msg}");
    assert_eq!(got.2["errors"][0]["source"]["pointer"], "body");
}

#[tokio::test]
async fn video_not_ready_is_409_and_unknown_video_404() {
    let emu = start().await;
    let c = client();
    let unready = unready_video(&emu);
    for suffix in ["", "/default", "/audio"] {
        let got = authed(c.post(downloads_url(&emu, &unready, suffix))).await;
        let msg = assert_failure(&got, 409, ErrorCode::VideoNotReady.code());
        assert!(msg.contains(&unready) && msg.contains("not ready"), "{msg}");
    }
    // Listing a video that is not ready is fine: it has no downloads.
    let (s, _, body) = authed(c.get(downloads_url(&emu, &unready, ""))).await;
    assert_eq!(s, 200);
    assert!(check_downloads_shape(&body).is_empty());

    // Valid length, unknown or not even hex: 404, on every operation.
    for video in ["ffffffffffffffffffffffffffffffff", "not-a-hex-id", "x"] {
        for (method, suffix) in
            [("GET", ""), ("POST", ""), ("DELETE", ""), ("POST", "/audio"), ("DELETE", "/audio")]
        {
            let req = c.request(method.parse().unwrap(), downloads_url(&emu, video, suffix));
            let got = authed(req).await;
            let msg = assert_failure(&got, 404, ErrorCode::VideoNotFound.code());
            assert!(msg.contains(video), "{msg}");
        }
    }
}

#[tokio::test]
async fn long_ids_and_unknown_types_are_400_naming_the_parameter() {
    let emu = start().await;
    let c = client();
    let long = "a".repeat(33);
    let video = ready_video(&emu);
    let got = authed(c.get(downloads_url(&emu, &long, ""))).await;
    let msg = assert_failure(&got, 400, ErrorCode::InvalidRequest.code());
    assert!(msg.contains("identifier") && msg.contains("33"), "{msg}");
    assert_eq!(got.2["errors"][0]["source"]["pointer"], "identifier");

    let url = format!("{}/accounts/{long}/stream/{video}/downloads", emu.base_url());
    let got = authed(c.post(url)).await;
    let msg = assert_failure(&got, 400, ErrorCode::InvalidRequest.code());
    assert!(msg.contains("account_id"), "{msg}");

    for t in ["hdr", "DEFAULT", "audio.m4a", "a%20b"] {
        let got = authed(c.post(downloads_url(&emu, &video, &format!("/{t}")))).await;
        let msg = assert_failure(&got, 400, ErrorCode::InvalidRequest.code());
        assert!(msg.contains("download_type") && msg.contains(t), "{msg}");
    }
}

#[tokio::test]
async fn unknown_account_is_an_authentication_error() {
    let emu = start().await;
    let c = client();
    let url = format!(
        "{}/accounts/{}/stream/{}/downloads",
        emu.base_url(),
        "0".repeat(32),
        ready_video(&emu)
    );
    let got = authed(c.get(url)).await;
    assert_failure(&got, 403, ErrorCode::Authentication.code());
}

#[tokio::test]
async fn unknown_routes_are_7003_and_wrong_methods_405_with_allow() {
    let emu = start().await;
    let c = client();
    let base = emu.base_url();
    let video = ready_video(&emu);
    for path in [
        format!("{base}/accounts/{}/stream/{video}", emu.account()),
        format!("{base}/accounts/{}/stream/{video}/downloads/", emu.account()),
        format!("{base}/accounts/{}/stream/{video}/downloads/audio/x", emu.account()),
        format!("{base}/nothing"),
        format!("{base}"),
        format!("http://{}/", emu.addr()),
        format!("http://{}/__emulator/nothing", emu.addr()),
    ] {
        // With or without credentials.
        let got = send(c.get(&path)).await;
        let msg = assert_failure(&got, 404, ErrorCode::NoRoute.code());
        assert_eq!(msg, "No route for the URI");
        let got = authed(c.post(&path)).await;
        assert_failure(&got, 404, ErrorCode::NoRoute.code());
    }
    let url = downloads_url(&emu, &video, "");
    for method in ["PUT", "PATCH", "OPTIONS"] {
        let got = authed(c.request(method.parse().unwrap(), &url)).await;
        assert_failure(&got, 405, ErrorCode::MethodNotAllowed.code());
        assert_eq!(got.1["allow"], "GET, HEAD, POST, DELETE");
    }
    for method in ["GET", "PUT"] {
        let got = authed(c.request(method.parse().unwrap(), format!("{url}/audio"))).await;
        assert_failure(&got, 405, ErrorCode::MethodNotAllowed.code());
        assert_eq!(got.1["allow"], "POST, DELETE");
    }
    let got =
        authed(c.delete(format!("http://{}/{video}/downloads/default.mp4", emu.addr()))).await;
    assert_failure(&got, 405, ErrorCode::MethodNotAllowed.code());
    assert_eq!(got.1["allow"], "GET, HEAD");
    let got = authed(c.delete(format!("http://{}/__emulator/state", emu.addr()))).await;
    assert_failure(&got, 405, ErrorCode::MethodNotAllowed.code());
    assert_eq!(got.1["allow"], "GET,HEAD");
}

#[tokio::test]
async fn percent_encoded_ids_are_measured_after_decoding() {
    let emu = start().await;
    let c = client();
    let encoded = |n: usize| "%C3%A9".repeat(n); // é, two bytes, six characters encoded
    // 32 characters: schema-valid, but not hex, so no such video: 404, on every operation.
    for (method, suffix) in
        [("GET", ""), ("POST", ""), ("DELETE", ""), ("POST", "/audio"), ("DELETE", "/audio")]
    {
        let req = c.request(method.parse().unwrap(), downloads_url(&emu, &encoded(32), suffix));
        let got = authed(req).await;
        let msg = assert_failure(&got, 404, ErrorCode::VideoNotFound.code());
        assert_eq!(
            msg,
            format!("video '{}' not found in account '{}'", "é".repeat(32), emu.account())
        );
    }
    // 33 characters: too long, counted in characters.
    let got = authed(c.get(downloads_url(&emu, &encoded(33), ""))).await;
    let msg = assert_failure(&got, 400, ErrorCode::InvalidRequest.code());
    assert!(msg.ends_with("must be at most 32 characters, found 33"), "{msg}");
    assert_eq!(got.2["errors"][0]["source"]["pointer"], "identifier");
    // An account id of 32 such characters is an account the emulator does not hold.
    let url = format!(
        "{}/accounts/{}/stream/{}/downloads",
        emu.base_url(),
        encoded(32),
        ready_video(&emu)
    );
    assert_failure(&authed(c.get(url)).await, 403, ErrorCode::Authentication.code());
}
