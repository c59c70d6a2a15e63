//! Every operation against every kind of answer: newest and legacy 200s, 4XX envelopes, 429 and
//! 500 then 200, an HTML 502, malformed JSON, a slow answer, a refused connection.

use std::time::Duration;

use cfstream_http::{ErrorKind, Operation, RetryConfig};
use cfstream_types::{DownloadStatus, ErrorCode};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

fn ok_body(op: Operation, legacy: bool) -> &'static str {
    match (op.method().as_str(), legacy) {
        ("DELETE", false) => DELETED_NEWEST,
        ("DELETE", true) => DELETED_LEGACY,
        (_, false) => LIST_NEWEST,
        (_, true) => LIST_LEGACY,
    }
}

fn json(status: u16, body: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.as_bytes().to_vec(), "application/json")
}

async fn mount(server: &MockServer, op: Operation, resp: ResponseTemplate, times: Option<u64>) {
    let m = Mock::given(method(op_method(op))).and(path(op_path(op))).respond_with(resp);
    let m = match times {
        Some(n) => m.up_to_n_times(n),
        None => m,
    };
    m.mount(server).await;
}

async fn requests(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

#[tokio::test(start_paused = true)]
async fn newest_200_parses_for_every_operation() {
    for op in Operation::ALL {
        let server = mock_server().await;
        mount(&server, op, json(200, ok_body(op, false)), None).await;
        let client = builder(&base(&server)).build().unwrap();
        let out = call(&client, op).await.unwrap_or_else(|e| panic!("{op}: {e}"));
        if let Some(d) = out {
            assert!(d.default.as_ref().unwrap().is_ready(), "{op}");
            assert_eq!(d.audio.as_ref().unwrap().percent_complete.get(), 75.5, "{op}");
        }
        assert_eq!(requests(&server).await, 1, "{op}");
    }
}

#[tokio::test(start_paused = true)]
async fn legacy_200_parses_for_every_operation() {
    for op in Operation::ALL {
        let server = mock_server().await;
        mount(&server, op, json(200, ok_body(op, true)), None).await;
        let client = builder(&base(&server)).build().unwrap();
        let out = call(&client, op).await.unwrap_or_else(|e| panic!("{op}: {e}"));
        if let Some(d) = out {
            assert_eq!(d.default.unwrap().status, DownloadStatus::InProgress, "{op}");
            assert!(d.audio.is_none(), "{op}");
        }
        // The 2024-01-04 OpenAPI shape's POST carries an (empty) JSON body.
        let reqs = server.received_requests().await.unwrap();
        if op.method().as_str() == "POST" {
            assert_eq!(reqs[0].body, b"{}", "{op}");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn failure_envelopes_are_api_errors_and_not_retried() {
    for (status, body, code) in
        [(403, FAILURE_10000, ErrorCode::Authentication), (404, FAILURE_7003, ErrorCode::NoRoute)]
    {
        for op in Operation::ALL {
            let server = mock_server().await;
            mount(&server, op, json(status, body), None).await;
            let client = builder(&base(&server)).build().unwrap();
            let e = call(&client, op).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Api, "{op}: {e}");
            assert_eq!(e.status(), Some(status));
            assert!(e.has_code(code), "{op}: {e}");
            assert!(!e.has_code(ErrorCode::RateLimited), "{op}: only the codes sent");
            assert!(!e.is_rate_limited(), "{op}: a {status} is no rate limit");
            assert_eq!(e.api_failure().unwrap().errors.len(), 1);
            assert!(!e.is_retryable());
            assert_eq!(e.operation(), Some(op));
            assert!(e.to_string().contains(&code.code().to_string()), "{e}");
            assert_eq!(requests(&server).await, 1, "{op}: 4xx must not be retried");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn throttled_then_ok_waits_as_told() {
    for op in Operation::ALL {
        let server = mock_server().await;
        mount(&server, op, json(429, FAILURE_429).insert_header("retry-after", "7"), Some(1)).await;
        mount(&server, op, json(200, ok_body(op, false)), None).await;
        let rec = Recorder::new();
        let client = builder(&base(&server)).reporter(rec.clone()).build().unwrap();
        let t0 = tokio::time::Instant::now();
        call(&client, op).await.unwrap_or_else(|e| panic!("{op}: {e}"));
        assert_eq!(t0.elapsed(), Duration::from_secs(7), "{op}: honours Retry-After");
        assert_eq!(rec.retries(), [Duration::from_secs(7)]);
        assert_eq!(requests(&server).await, 2);
    }
}

#[tokio::test(start_paused = true)]
async fn server_error_then_ok_backs_off() {
    for op in Operation::ALL {
        let server = mock_server().await;
        mount(&server, op, ResponseTemplate::new(500).set_body_string("boom"), Some(1)).await;
        mount(&server, op, json(200, ok_body(op, false)), None).await;
        let rec = Recorder::new();
        let client = builder(&base(&server)).reporter(rec.clone()).build().unwrap();
        let t0 = tokio::time::Instant::now();
        call(&client, op).await.unwrap_or_else(|e| panic!("{op}: {e}"));
        assert_eq!(t0.elapsed(), Duration::from_secs(1), "{op}");
        assert_eq!(rec.events(), [Event::Retrying(op, 2, Duration::from_secs(1))]);
        assert_eq!(requests(&server).await, 2);
    }
}

#[tokio::test(start_paused = true)]
async fn html_502_is_an_invalid_response_with_the_page() {
    for op in Operation::ALL {
        let server = mock_server().await;
        mount(
            &server,
            op,
            ResponseTemplate::new(502).set_body_raw(PROXY_502.as_bytes().to_vec(), "text/html"),
            None,
        )
        .await;
        let client = builder(&base(&server)).build().unwrap();
        let e = call(&client, op).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{op}: {e}");
        assert_eq!(e.status(), Some(502));
        assert_eq!(e.content_type(), Some("text/html"));
        assert!(e.body_snippet().unwrap().starts_with(b"<html>"));
        assert!(e.to_string().contains("http 502 (text/html): body is not JSON"), "{e}");
        assert!(e.is_retryable());
        assert_eq!(e.attempts(), 3);
        assert_eq!(requests(&server).await, 3, "{op}: a 502 is retried up to max_attempts");
    }
}

#[tokio::test(start_paused = true)]
async fn malformed_json_names_the_path_and_is_not_retried() {
    let cases = [
        (
            r#"{"success":true,"errors":[],"messages":[],"result":{"default":{"status":"ready","percentComplete":"x"}}}"#,
            "result",
        ),
        // Truncated: serde_path_to_error names the position it reached (`?` for a key cut short).
        (r#"{"success":true,"errors":[],"mess"#, ""),
    ];
    for op in Operation::ALL {
        for (body, at) in cases {
            let server = mock_server().await;
            mount(&server, op, json(200, body), None).await;
            let client = builder(&base(&server)).build().unwrap();
            match call(&client, op).await {
                // A delete's result is free-form in older shapes: a bad `result` is accepted.
                Ok(None) if at == "result" => continue,
                Ok(v) => panic!("{op}: {v:?}"),
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{op}: {e}");
                    assert!(e.json_path().unwrap().starts_with(at), "{op}: {:?}", e.json_path());
                    // JSON that breaks the envelope is told apart from a body that is no JSON.
                    assert!(
                        e.to_string().contains(
                            "http 200 (application/json): body does not match the envelope"
                        ),
                        "{op}: {e}"
                    );
                    assert!(e.body_snippet().is_some_and(|b| b == body.as_bytes()));
                    assert_eq!(e.status(), Some(200));
                    assert!(!e.is_retryable());
                    assert_eq!(requests(&server).await, 1);
                }
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_slow_answer_times_out_every_attempt() {
    for op in Operation::ALL {
        let server = mock_server().await;
        mount(&server, op, json(200, ok_body(op, false)).set_delay(Duration::from_secs(120)), None)
            .await;
        let client = builder(&base(&server))
            .attempt_timeout(Duration::from_secs(2))
            .operation_timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let t0 = tokio::time::Instant::now();
        let e = call(&client, op).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Timeout, "{op}: {e}");
        assert!(e.is_retryable());
        assert_eq!(e.attempts(), 3);
        // 3 attempts of 2 s, backoff 1 s + 2 s.
        assert_eq!(t0.elapsed(), Duration::from_secs(9), "{op}");
    }
}

#[tokio::test(start_paused = true)]
async fn the_operation_timeout_bounds_everything() {
    let server = mock_server().await;
    mount(
        &server,
        Operation::List,
        json(200, LIST_NEWEST).set_delay(Duration::from_secs(120)),
        None,
    )
    .await;
    let client = builder(&base(&server))
        .attempt_timeout(Duration::from_secs(30))
        .operation_timeout(Duration::from_secs(5))
        .retry(RetryConfig::default().max_attempts(10))
        .build()
        .unwrap();
    let t0 = tokio::time::Instant::now();
    let e = call(&client, Operation::List).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert_eq!(t0.elapsed(), Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn connection_refused_is_a_retried_dispatch_error() {
    // Bound, never listening: connections are refused and no other test can take the port.
    let held = tokio::net::TcpSocket::new_v4().unwrap();
    held.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = held.local_addr().unwrap().port();
    for op in Operation::ALL {
        let rec = Recorder::new();
        let client = builder(&format!("http://127.0.0.1:{port}/client/v4"))
            .reporter(rec.clone())
            .build()
            .unwrap();
        let e = call(&client, op).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Dispatch, "{op}: {e}");
        assert!(e.to_string().contains("cannot connect to '127.0.0.1'"), "{e}");
        assert!(e.is_retryable());
        assert_eq!(e.status(), None);
        assert_eq!(rec.retries(), [Duration::from_secs(1), Duration::from_secs(2)]);
    }
}

#[tokio::test(start_paused = true)]
async fn raw_returns_any_answer_unparsed() {
    let server = mock_server().await;
    mount(
        &server,
        Operation::List,
        json(418, "{\"teapot\":true}").insert_header("x-extra", "1"),
        None,
    )
    .await;
    let client = builder(&base(&server)).build().unwrap();
    let (a, v) = (account(), video());
    let raw = client.downloads(&a).raw(&cfstream_types::Endpoint::list(&a, &v)).await.unwrap();
    assert_eq!(raw.status, 418);
    assert_eq!(raw.headers["x-extra"], "1");
    assert_eq!(raw.content_type(), Some("application/json"));
    assert_eq!(&raw.body[..], b"{\"teapot\":true}");
    assert_eq!(requests(&server).await, 1);
}

#[tokio::test(start_paused = true)]
async fn download_types_that_could_leave_their_segment_never_reach_the_wire() {
    let server = mock_server().await;
    let (a, v) = (account(), video());
    let client = builder(&base(&server)).build().unwrap();
    for bad in ["..", "../x?y", "%2e%2e", "a/b", ""] {
        let t = cfstream_types::DownloadType::Other(bad.into());
        let e = client.downloads(&a).create_type(&v, t.clone()).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Build, "{bad}");
        assert!(e.to_string().contains("invalid download type"), "{e}");
        let e = client.downloads(&a).delete_type(&v, t).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Build, "{bad}");
    }
    assert_eq!(requests(&server).await, 0);
}

#[tokio::test(start_paused = true)]
async fn success_true_on_a_4xx_is_an_invalid_response_not_a_result() {
    for op in Operation::ALL {
        let server = mock_server().await;
        mount(&server, op, json(404, ok_body(op, false)), None).await;
        let client = builder(&base(&server)).build().unwrap();
        let e = call(&client, op).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{op}: {e}");
        assert_eq!(
            e.to_string(),
            format!(
                "{op}: http 404 (application/json): the envelope says success but the status is an error"
            )
        );
        assert_eq!(e.status(), Some(404));
        assert!(!e.is_retryable());
        assert_eq!(requests(&server).await, 1, "{op}");
    }
}

/// An API answer is read whole up to 8 MiB (JSON padded with whitespace to exactly that size
/// parses), and one byte more is refused as an invalid response, without being parsed.
#[tokio::test(start_paused = true)]
async fn api_answers_are_read_up_to_8_mib_and_refused_beyond() {
    const LIMIT: usize = 8 * 1024 * 1024;
    for (size, accepted) in [(LIMIT, true), (LIMIT + 1, false)] {
        let mut body = LIST_NEWEST.to_owned();
        body.push_str(&" ".repeat(size - body.len()));
        assert_eq!(body.len(), size);
        let server = mock_server().await;
        mount(&server, Operation::List, json(200, &body), None).await;
        let client = builder(&base(&server)).build().unwrap();
        let out = call(&client, Operation::List).await;
        if accepted {
            let d = out.unwrap_or_else(|e| panic!("{size} bytes: {e}")).unwrap();
            assert!(d.default.unwrap().is_ready());
        } else {
            let e = out.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{e}");
            assert!(e.to_string().contains("response body larger than 8388608 bytes"), "{e}");
        }
        assert_eq!(requests(&server).await, 1, "{size} bytes: never retried");
    }
}

/// A declared length over the limit is refused from the headers, before any of the body is
/// read (this server sends none and closes: reading would fail as a cut body instead).
#[tokio::test(start_paused = true)]
async fn a_declared_length_over_8_mib_is_refused_before_reading() {
    let base = raw_server(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 8388609\r\n\r\n",
        vec![],
    )
    .await;
    let client = builder(&format!("{base}/client/v4")).build().unwrap();
    let e = call(&client, Operation::List).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{e}");
    assert!(e.to_string().contains("response body larger than 8388608 bytes"), "{e}");
    assert_eq!(e.attempts(), 1, "not retried");
}

/// A chunked answer (no declared length) is counted as it arrives and refused once it passes
/// 8 MiB, whatever the sizes of its chunks.
#[tokio::test(start_paused = true)]
async fn a_chunked_answer_over_8_mib_is_refused_as_it_arrives() {
    let mut body = LIST_NEWEST.as_bytes().to_vec();
    body.resize(8 * 1024 * 1024 + 1, b' ');
    let mut chunks = Vec::new();
    for part in body.chunks(3_000_017) {
        let mut c = format!("{:x}\r\n", part.len()).into_bytes();
        c.extend_from_slice(part);
        c.extend_from_slice(b"\r\n");
        chunks.push(c);
    }
    chunks.push(b"0\r\n\r\n".to_vec());
    let base = raw_server(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
        chunks,
    )
    .await;
    let client = builder(&format!("{base}/client/v4")).build().unwrap();
    let e = call(&client, Operation::List).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{e}");
    assert!(e.to_string().contains("response body larger than 8388608 bytes"), "{e}");
}
