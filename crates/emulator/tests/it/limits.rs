//! Oversized and malformed input: a failure envelope with 4XX, never a 5XX, a panic or a hang;
//! the server keeps serving afterwards.

use cfstream_types::ErrorCode;
use serde_json::Value;

use crate::common::*;

fn envelope(body: &[u8]) -> Value {
    let v: Value = serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(body)));
    check_failure_shape(&v);
    v
}

#[tokio::test]
async fn a_one_megabyte_path_is_414() {
    let emu = start().await;
    let path = format!("/client/v4/accounts/{}", "a".repeat(1024 * 1024));
    let req = format!(
        "GET {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer cfstream-demo-token\r\n\r\n"
    );
    let (status, head, body) = raw(emu.addr(), req.as_bytes()).await;
    assert_eq!(status, 414, "{head}");
    assert!(head.to_ascii_lowercase().contains("content-type: application/json"), "{head}");
    assert_eq!(envelope(&body)["errors"][0]["code"], ErrorCode::InvalidRequest.code());

    // A path over the emulator's own bound but within hyper's: 414 from the emulator.
    let url = format!("{}/accounts/{}", emu.base_url(), "b".repeat(20_000));
    let got = authed(client().get(url)).await;
    assert_failure(&got, 414, ErrorCode::InvalidRequest.code());
    assert_eq!(authed(client().get(downloads_url(&emu, &ready_video(&emu), ""))).await.0, 200);
}

#[tokio::test]
async fn huge_headers_are_431() {
    let emu = start().await;
    let url = downloads_url(&emu, &ready_video(&emu), "");
    let got = authed(client().get(&url).header("x-big", "v".repeat(100_000))).await;
    assert_failure(&got, 431, ErrorCode::InvalidRequest.code());

    // Past what hyper buffers, or too many headers: hyper's own answer, rewritten.
    let huge = format!(
        "GET /client/v4 HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
        "v".repeat(5 * 1024 * 1024)
    );
    let (status, head, body) = raw(emu.addr(), huge.as_bytes()).await;
    assert_eq!(status, 431);
    assert!(head.contains("connection: close"), "{head}");
    envelope(&body);
    let many: String = (0..200).map(|i| format!("x-h{i}: v\r\n")).collect();
    let (status, _, body) =
        raw(emu.addr(), format!("GET / HTTP/1.1\r\nhost: x\r\n{many}\r\n").as_bytes()).await;
    assert_eq!(status, 431);
    envelope(&body);
    assert_eq!(authed(client().get(&url)).await.0, 200);
}

#[tokio::test]
async fn garbage_and_oversized_bodies_are_4xx_envelopes() {
    let emu = start().await;
    let (status, _, body) = raw(emu.addr(), b"THIS IS NOT HTTP\r\n\r\n").await;
    assert_eq!(status, 400);
    envelope(&body);
    let (status, _, body) = raw(emu.addr(), b"GET /\x01 HTTP/1.1\r\nhost: x\r\n\r\n").await;
    assert_eq!(status, 400);
    envelope(&body);

    let url = downloads_url(&emu, &ready_video(&emu), "/audio");
    let got = authed(client().post(&url).body(vec![b'{'; 100_000])).await;
    let msg = assert_failure(&got, 413, ErrorCode::InvalidRequest.code());
    assert!(msg.contains("65536"), "{msg}");
    let got = authed(client().post(&url).body(vec![0xff, 0xfe, 0x00])).await;
    assert_failure(&got, 400, ErrorCode::InvalidRequest.code());
    // Nothing was created by the refused requests.
    assert!(
        emu.admin()
            .downloads(&emu.account(), &ready_video(&emu).parse().unwrap())
            .unwrap()
            .is_empty()
    );
    let log = emu.admin().requests();
    assert!(log.iter().all(|r| r.status < 500), "{log:?}");
}

#[tokio::test]
async fn a_request_hyper_cannot_parse_is_counted_and_logged_as_dashes() {
    let emu = start().await;
    let (status, _, _) = raw(emu.addr(), b"NOT HTTP AT ALL\r\n\r\n").await;
    assert_eq!(status, 400);
    assert_eq!(emu.admin().request_count(), 1);
    let log = emu.admin().requests();
    let shown: Vec<_> =
        log.iter().map(|r| (r.method.as_str(), r.path.as_str(), r.status)).collect();
    assert_eq!(shown, [("-", "-", 400)]);
}
