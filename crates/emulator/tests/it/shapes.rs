//! Representative bodies, checked against the spec (exact key sets, cfstream-types decoding,
//! the spec's JSON Schemas) and snapshotted with the port redacted.

use std::time::Duration;

use cfstream_emulator::{Progress, RateLimit};
use serde_json::{Map, Value};

use crate::common::*;

#[tokio::test(start_paused = true)]
async fn representative_bodies() {
    let emu = builder()
        .progress(Progress::Over(Duration::from_secs(4)))
        .rate_limit(RateLimit::per(11, Duration::from_secs(60)))
        .start()
        .await
        .unwrap();
    let c = client();
    let video = "ea95132c15732412d22c1476fa83f27a";
    let url = downloads_url(&emu, video, "");
    let mut bodies = Map::new();
    let mut put = |name: &str, body: Value| {
        bodies.insert(name.to_owned(), redact_port(&emu, &body));
    };

    let (_, _, b) = authed(c.get(&url)).await;
    check_downloads_shape(&b);
    put("list_empty", b);
    let (_, _, b) = authed(c.post(&url)).await;
    check_downloads_shape(&b);
    put("create_default_inprogress", b);
    tokio::time::advance(Duration::from_secs(1)).await;
    let (_, _, b) = authed(c.post(format!("{url}/audio"))).await;
    check_downloads_shape(&b);
    put("create_audio_with_default_at_25", b);
    tokio::time::advance(Duration::from_secs(4)).await;
    let (_, _, b) = authed(c.get(&url)).await;
    check_downloads_shape(&b);
    put("list_both", b);
    let (_, _, b) = authed(c.delete(format!("{url}/audio"))).await;
    check_deleted_shape(&b);
    put("delete", b);

    let failures: Vec<(&str, reqwest::RequestBuilder, u16)> = vec![
        ("missing_credentials", c.get(&url), 401),
        ("wrong_credentials", c.get(&url).bearer_auth("nope"), 403),
        ("no_route", c.get(format!("{}/accounts", emu.base_url())), 404),
        ("method_not_allowed", c.put(&url), 405),
        ("id_too_long", c.get(downloads_url(&emu, &"a".repeat(40), "")), 400),
        ("unknown_download_type", c.post(format!("{url}/hdr")), 400),
        ("video_not_found", c.get(downloads_url(&emu, "abc", "")), 404),
        (
            "video_not_ready",
            c.post(downloads_url(&emu, "0c1d2e3f405162738495a6b7c8d9eafb", "")),
            409,
        ),
    ];
    for (name, req, status) in failures {
        let req = if name.ends_with("credentials") {
            req
        } else {
            req.bearer_auth(cfstream_emulator::DEMO_TOKEN)
        };
        let got = send(req).await;
        assert_eq!(got.0, status, "{name}");
        check_failure_shape(&got.2);
        put(name, got.2);
    }
    let got = authed(c.get(&url)).await;
    assert_eq!(got.0, 429);
    check_failure_shape(&got.2);
    put("rate_limited", got.2);

    insta::assert_json_snapshot!("representative_bodies", bodies);
}
