//! Helpers shared by the integration tests: starting an emulator, building URLs, raw HTTP,
//! and checking every body against the spec (exact key sets, cfstream-types, JSON Schema).

use std::collections::HashMap;
use std::sync::OnceLock;

use cfstream_emulator::{DEMO_TOKEN, Emulator, EmulatorBuilder, Progress, RunningEmulator};
use cfstream_types::{DeletedEnvelope, DownloadsEnvelope, Envelope, decode};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A builder for tests: instant progress, small files.
pub(crate) fn builder() -> EmulatorBuilder {
    Emulator::builder().progress(Progress::Instant).file_size(10_000)
}

pub(crate) async fn start() -> RunningEmulator {
    builder().start().await.unwrap()
}

/// A client without pool timers (they would make paused time jump).
pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder().pool_idle_timeout(None).build().unwrap()
}

/// The id of the demo seed's first video (ready to stream).
pub(crate) fn ready_video(emu: &RunningEmulator) -> String {
    emu.videos().iter().find(|v| v.ready_to_stream).unwrap().id.to_string()
}

/// The id of the demo seed's video that is not ready to stream.
pub(crate) fn unready_video(emu: &RunningEmulator) -> String {
    emu.videos().iter().find(|v| !v.ready_to_stream).unwrap().id.to_string()
}

/// `base/accounts/{account}/stream/{video}/downloads` plus `suffix`.
pub(crate) fn downloads_url(emu: &RunningEmulator, video: &str, suffix: &str) -> String {
    format!("{}/accounts/{}/stream/{video}/downloads{suffix}", emu.base_url(), emu.account())
}

pub(crate) async fn send(req: reqwest::RequestBuilder) -> (u16, reqwest::header::HeaderMap, Value) {
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let bytes = res.bytes().await.unwrap();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!("status {status}: body is not JSON ({e}): {}", String::from_utf8_lossy(&bytes))
    });
    (status, headers, body)
}

pub(crate) async fn authed(
    req: reqwest::RequestBuilder,
) -> (u16, reqwest::header::HeaderMap, Value) {
    send(req.bearer_auth(DEMO_TOKEN)).await
}

/// Checks a failure: status, `application/json`, the exact envelope keys and one error with
/// `code`. Returns the error message.
pub(crate) fn assert_failure(
    got: &(u16, reqwest::header::HeaderMap, Value),
    status: u16,
    code: u64,
) -> String {
    let (s, headers, body) = got;
    assert_eq!(*s, status, "{body}");
    assert_eq!(headers["content-type"], "application/json", "{body}");
    check_failure_shape(body);
    assert_eq!(body["errors"][0]["code"], code, "{body}");
    body["errors"][0]["message"].as_str().unwrap().to_owned()
}

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort_unstable();
    k
}

/// The failure envelope, exactly.
pub(crate) fn check_failure_shape(body: &Value) {
    assert_eq!(keys(body), ["errors", "messages", "result", "success"], "{body}");
    assert_eq!(body["success"], false);
    assert_eq!(body["result"], Value::Null);
    assert_eq!(body["messages"], serde_json::json!([]));
    let errors = body["errors"].as_array().unwrap();
    assert!(!errors.is_empty());
    for e in errors {
        let mut k = keys(e);
        k.retain(|k| *k != "source");
        assert_eq!(k, ["code", "message"], "{body}");
        assert!(e["code"].as_u64().unwrap() >= 1000);
    }
    let env: Envelope<Value> = decode(body.to_string().as_bytes()).unwrap();
    assert!(env.into_result().is_err());
    validate("stream_api-response-common-failure", body);
}

/// A list/create success, exactly; returns it decoded.
pub(crate) fn check_downloads_shape(body: &Value) -> cfstream_types::Downloads {
    assert_eq!(keys(body), ["errors", "messages", "result", "success"], "{body}");
    assert_eq!(body["success"], true);
    assert_eq!(body["errors"], serde_json::json!([]));
    assert_eq!(body["messages"], serde_json::json!([]));
    for (t, d) in body["result"].as_object().unwrap() {
        assert!(t == "default" || t == "audio", "{body}");
        assert_eq!(keys(d), ["percentComplete", "status", "url"], "{body}");
    }
    validate("stream_downloads_response", body);
    decode::<DownloadsEnvelope>(body.to_string().as_bytes()).unwrap().into_result().unwrap()
}

/// A delete success, exactly.
pub(crate) fn check_deleted_shape(body: &Value) {
    assert_eq!(
        body,
        &serde_json::json!({"success": true, "errors": [], "messages": [], "result": "ok"})
    );
    validate("stream_deleted_response", body);
    assert_eq!(
        decode::<DeletedEnvelope>(body.to_string().as_bytes()).unwrap().into_result().unwrap(),
        "ok"
    );
}

/// OpenAPI 3.0 `nullable: true` as JSON Schema: add "null" to `type`.
fn nullable_to_json_schema(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if map.remove("nullable") == Some(Value::Bool(true))
                && let Some(Value::String(t)) = map.get("type").cloned()
            {
                map.insert("type".into(), serde_json::json!([t, "null"]));
            }
            map.values_mut().for_each(nullable_to_json_schema);
        }
        Value::Array(items) => items.iter_mut().for_each(nullable_to_json_schema),
        _ => {}
    }
}

fn components() -> &'static Value {
    static C: OnceLock<Value> = OnceLock::new();
    C.get_or_init(|| {
        let text = include_str!("../fixtures/stream-downloads.openapi.json");
        let mut spec: Value = serde_json::from_str(text).unwrap();
        nullable_to_json_schema(&mut spec);
        spec["components"].clone()
    })
}

/// The spec's response schemas, compiled once.
fn validators() -> &'static HashMap<&'static str, jsonschema::Validator> {
    static V: OnceLock<HashMap<&'static str, jsonschema::Validator>> = OnceLock::new();
    V.get_or_init(|| {
        [
            "stream_api-response-common-failure",
            "stream_downloads_response",
            "stream_deleted_response",
        ]
        .into_iter()
        .map(|name| {
            let schema = serde_json::json!({
                "$ref": format!("#/components/schemas/{name}"),
                "components": components(),
            });
            (name, jsonschema::validator_for(&schema).unwrap())
        })
        .collect()
    })
}

/// Validates `body` against the spec's component schema `name`.
pub(crate) fn validate(name: &str, body: &Value) {
    let errors: Vec<String> = validators()[name].iter_errors(body).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{body} does not match {name}: {errors:?}");
}

/// Sends raw bytes on a fresh connection and reads one answer (to its `content-length`, or
/// until the server closes). Returns (status, head, body).
pub(crate) async fn raw(addr: std::net::SocketAddr, request: &[u8]) -> (u16, String, Vec<u8>) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    // The server may answer before reading everything: ignore write errors.
    let _ = stream.write_all(request).await;
    let mut out = Vec::new();
    let mut buf = vec![0; 64 * 1024];
    loop {
        if let Some(end) = out.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&out[..end]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            if len.is_some_and(|len| out.len() >= end + 4 + len) {
                break;
            }
        }
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    let end = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or_else(|| {
        panic!("no answer head in {:?}", String::from_utf8_lossy(&out[..out.len().min(300)]))
    });
    let head = String::from_utf8_lossy(&out[..end]).into_owned();
    let status = head[9..12].parse().unwrap();
    (status, head, out[end + 4..].to_vec())
}

/// Replaces the emulator's port in a body, for snapshots.
pub(crate) fn redact_port(emu: &RunningEmulator, body: &Value) -> Value {
    let text = body.to_string().replace(&format!(":{}/", emu.addr().port()), ":[port]/");
    serde_json::from_str(&text).unwrap()
}
