//! Credentials never appear in any `Debug`, `Display`, error or tracing output.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use cfstream_http::{Client, Operation};
use cfstream_types::Credentials;
use tracing_subscriber::fmt::MakeWriter;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::support::*;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = format!("{e} {e:?}");
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(&format!(" | {c} {c:?}"));
        cur = c.source();
    }
    s
}

#[tokio::test(start_paused = true)]
async fn no_secret_in_debug_display_errors_or_traces() {
    // A global subscriber: a thread-local one misses callsites whose interest other tests,
    // running in parallel without a subscriber, cached first. Every test's traces land here,
    // which only widens the search for a leaked secret.
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    let capture = CAPTURE
        .get_or_init(|| {
            let capture = Capture::default();
            let subscriber = tracing_subscriber::fmt()
                .with_writer(capture.clone())
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .finish();
            tracing::subscriber::set_global_default(subscriber).unwrap();
            capture
        })
        .clone();

    let server = mock_server().await;
    let answers = [
        ResponseTemplate::new(403)
            .set_body_raw(FAILURE_10000.as_bytes().to_vec(), "application/json"),
        ResponseTemplate::new(502).set_body_raw(PROXY_502.as_bytes().to_vec(), "text/html"),
        ResponseTemplate::new(200).set_body_string("{\"success\":tr"),
        ResponseTemplate::new(200)
            .set_body_raw(LIST_NEWEST.as_bytes().to_vec(), "application/json"),
    ];
    let mut seen = String::new();
    for creds in [Credentials::token(TOKEN), Credentials::key(EMAIL, KEY)] {
        let b = builder(&base(&server)).credentials(creds.clone());
        seen.push_str(&format!("{b:?}"));
        let client = b.build().unwrap();
        seen.push_str(&format!("{client:?}"));
        for a in &answers {
            server.reset().await;
            Mock::given(method("GET"))
                .and(path(op_path(Operation::List)))
                .respond_with(a.clone())
                .mount(&server)
                .await;
            match call(&client, Operation::List).await {
                Ok(v) => seen.push_str(&format!("{v:?}")),
                Err(e) => seen.push_str(&chain(&e)),
            }
        }
    }
    // A signing call's span names its operation too (the mock answers it 404).
    let signing = builder(&base(&server)).build().unwrap();
    let e = signing.downloads(&account()).list_signing_keys().await.unwrap_err();
    seen.push_str(&chain(&e));
    let refused = builder("http://127.0.0.1:1/client/v4").build().unwrap();
    seen.push_str(&chain(&call(&refused, Operation::List).await.unwrap_err()));
    seen.push_str(&chain(
        &Client::from_lookup(|k| {
            (k == "CLOUDFLARE_API_TOKEN").then(|| "SECRET-TOKEN-\u{7f}".into())
        })
        .unwrap_err(),
    ));

    let traces = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(traces.contains("cfstream_http.call"), "spans are emitted:\n{traces}");
    for field in [
        "operation=\"list\"",
        "operation=\"list_keys\"",
        "account=023e105f4ecef8ad9ca31a8372d0c353",
        "attempts=",
        "status=403",
        "elapsed_ms=",
    ] {
        assert!(traces.contains(field), "{field} missing in:\n{traces}");
    }
    // The call's own span records the last status (not only the attempt's span).
    assert!(
        traces.lines().any(|l| l.contains("call failed")
            && l.split(": ").next().is_some_and(|spans| spans.contains("status=403"))),
        "the call span records status=403:\n{traces}"
    );
    for secret in [TOKEN, KEY, "SECRET-TOKEN", "SECRET-GLOBAL"] {
        assert!(!seen.contains(secret), "{secret} leaked in:\n{seen}");
        assert!(!traces.contains(secret), "{secret} leaked in traces");
    }
}

/// A server that echoes the caller's token or key (in the envelope's errors and messages, in a
/// plain-text body, or cut at the end of the body snippet) gets it redacted from every part of
/// the error: its `Display`, `Debug`, the API failure's messages and the body snippet.
#[tokio::test(start_paused = true)]
async fn a_server_echoing_the_credentials_never_gets_them_printed() {
    for (creds, secret) in [(Credentials::token(TOKEN), TOKEN), (Credentials::key(EMAIL, KEY), KEY)]
    {
        let envelope = format!(
            r#"{{"success":false,"errors":[{{"code":10000,"message":"Authentication error: {secret} is not valid"}}],"messages":[{{"code":1,"message":"you sent {secret}"}}],"result":null}}"#
        );
        let plain = format!("bad credential header {secret}");
        let cut = format!("header ended with {}", &secret[..10]);
        let answers = [
            (403, envelope.as_str(), "application/json"),
            (400, plain.as_str(), "text/plain"),
            (400, cut.as_str(), "text/plain"),
        ];
        for (status, body, content_type) in answers {
            let server = mock_server().await;
            Mock::given(method("GET"))
                .and(path(op_path(Operation::List)))
                .respond_with(
                    ResponseTemplate::new(status)
                        .set_body_raw(body.as_bytes().to_vec(), content_type),
                )
                .mount(&server)
                .await;
            let client = builder(&base(&server)).credentials(creds.clone()).build().unwrap();
            let e = call(&client, Operation::List).await.unwrap_err();
            assert_eq!(e.status(), Some(status));
            let mut seen = chain(&e);
            let snippet = String::from_utf8_lossy(e.body_snippet().unwrap()).into_owned();
            assert!(snippet.contains("[redacted]"), "{snippet}");
            seen.push_str(&snippet);
            if let Some(api) = e.api_failure() {
                assert_eq!(api.errors[0].message, "Authentication error: [redacted] is not valid");
                assert_eq!(api.messages[0].message, "you sent [redacted]");
                assert_eq!(api.errors[0].code, 10000, "the code is kept");
            }
            assert!(!seen.contains(&secret[..10]), "{secret} leaked in:\n{seen}");
        }
    }
}
