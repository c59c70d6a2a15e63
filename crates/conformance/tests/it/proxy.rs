//! The validating proxy is transparent (the whole suite passes through it) and reports the
//! violations of what it forwards.

use std::time::Duration;

use cfstream_conformance::proxy::{ProxyOptions, RunningProxy};
use cfstream_conformance::run;
use cfstream_emulator::{Fault, FaultRoute, FaultRule, Faults, Progress};
use cfstream_types::Operation;

use crate::{emulator, emulator_with, fast_options, target_of};

#[tokio::test]
async fn the_suite_passes_through_the_proxy_and_it_sees_no_violation() {
    let emu = emulator().await;
    let proxy =
        RunningProxy::start(ProxyOptions::new(emu.base_url(), "127.0.0.1:0".parse().unwrap()))
            .await
            .unwrap();
    assert_eq!(proxy.base_url().path(), "/client/v4");
    let mut target = target_of(&emu);
    target.base_url = proxy.base_url().clone();
    let report = run(&target, &fast_options()).await.unwrap();
    assert!(report.passed(), "{}", report.render_text());
    let summary = proxy.shutdown().await.unwrap();
    assert!(summary.answers > 10, "{summary:?}");
    assert!(summary.violations.is_empty(), "{:#?}", summary.violations);
    emu.shutdown().await;
}

#[tokio::test]
async fn the_proxy_reports_what_breaks_a_rule() {
    let faults = Faults::none().rule(FaultRule::probability(
        FaultRoute::Api(Operation::List),
        1.0,
        Fault::WrongContentType,
    ));
    let emu = emulator_with(faults, Progress::Over(Duration::from_millis(50))).await;
    let proxy =
        RunningProxy::start(ProxyOptions::new(emu.base_url(), "127.0.0.1:0".parse().unwrap()))
            .await
            .unwrap();
    let target = target_of(&emu);
    let url = format!(
        "{}/accounts/{}/stream/{}/downloads",
        proxy.base_url().as_str().trim_end_matches('/'),
        target.account.unwrap(),
        target.videos[0]
    );
    let mut req = reqwest::Client::new().get(&url);
    for (k, v) in emu.credentials().headers() {
        req = req.header(k, v);
    }
    let resp = req.send().await.unwrap();
    // Forwarded unchanged.
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let summary = proxy.summary();
    assert_eq!(summary.answers, 1);
    assert_eq!(summary.violations.len(), 1, "{:#?}", summary.violations);
    assert_eq!(summary.violations[0].check, "content_type_json");
    assert_eq!(summary.violations[0].operation, Some(Operation::List));
    proxy.shutdown().await.unwrap();
    emu.shutdown().await;
}

/// A proxy in front of a wiremock upstream that answers `method path` with `status` and
/// `body` (JSON), and 500 to anything else; returns the proxy and the upstream.
async fn proxy_answering(
    method: &str,
    path: &str,
    status: u16,
    body: &str,
) -> (RunningProxy, wiremock::MockServer) {
    use wiremock::matchers;
    let upstream = wiremock::MockServer::start().await;
    wiremock::Mock::given(matchers::method(method))
        .and(matchers::path(format!("/client/v4{path}")))
        .respond_with(
            wiremock::ResponseTemplate::new(status)
                .set_body_raw(body.as_bytes().to_vec(), "application/json"),
        )
        .with_priority(1)
        .mount(&upstream)
        .await;
    wiremock::Mock::given(matchers::any())
        .respond_with(wiremock::ResponseTemplate::new(500))
        .with_priority(10)
        .mount(&upstream)
        .await;
    let base = format!("{}/client/v4", upstream.uri()).parse().unwrap();
    let proxy =
        RunningProxy::start(ProxyOptions::new(base, "127.0.0.1:0".parse().unwrap())).await.unwrap();
    (proxy, upstream)
}

const ACCOUNT: &str = "023e105f4ecef8ad9ca31a8372d0c353";
const VIDEO: &str = "ea95132c15732412d22c1476fa83f27a";

fn token_path() -> String {
    format!("/accounts/{ACCOUNT}/stream/{VIDEO}/token")
}

/// Sends `method path` (with `body`) through `proxy`; returns the status and body it forwarded.
async fn send(proxy: &RunningProxy, method: &str, path: &str, body: &str) -> (u16, String) {
    let url = format!("{}{path}", proxy.base_url().as_str().trim_end_matches('/'));
    let resp = reqwest::Client::new()
        .request(method.parse().unwrap(), url)
        .header("authorization", "Bearer proxy-test-token")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// (check, pointer, rule, value) of each violation the proxy saw.
fn seen(proxy: &RunningProxy) -> Vec<(String, String, String, String)> {
    let summary = proxy.summary();
    assert_eq!(summary.answers, 1, "{summary:?}");
    summary
        .violations
        .into_iter()
        .map(|v| {
            assert_eq!(v.operation, None, "{v:?}");
            (v.check, v.pointer, v.rule, v.value)
        })
        .collect()
}

#[tokio::test]
async fn a_token_answer_is_judged_by_the_derived_schema() {
    let good = r#"{"success":true,"errors":[],"messages":[],"result":{"token":"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"}}"#;
    let (proxy, _up) = proxy_answering("POST", &token_path(), 200, good).await;
    let (status, body) = send(&proxy, "POST", &token_path(), r#"{"downloadable":true}"#).await;
    assert_eq!((status, body.as_str()), (200, good), "forwarded unchanged");
    assert_eq!(seen(&proxy), vec![]);
    proxy.shutdown().await.unwrap();

    let bad = r#"{"success":true,"errors":[],"messages":[],"result":{"token":7}}"#;
    let (proxy, _up) = proxy_answering("POST", &token_path(), 200, bad).await;
    assert_eq!(send(&proxy, "POST", &token_path(), "").await, (200, bad.to_owned()));
    assert_eq!(
        seen(&proxy),
        vec![(
            "body_schema".to_owned(),
            "/result/token".to_owned(),
            "create_token: schema `type`: 7 is not of type \"string\"".to_owned(),
            "7".to_owned()
        )]
    );
    proxy.shutdown().await.unwrap();
}

/// The signing operations through the proxy to the emulator: create a key, list the keys,
/// ask for a token, delete the key. Every answer is judged, and the emulator's conform.
#[tokio::test]
async fn the_emulators_signing_answers_pass_through_the_proxy_without_a_violation() {
    let emu = emulator().await;
    let proxy =
        RunningProxy::start(ProxyOptions::new(emu.base_url(), "127.0.0.1:0".parse().unwrap()))
            .await
            .unwrap();
    let base = proxy.base_url().as_str().trim_end_matches('/').to_owned();
    let account = emu.account();
    let video = emu.videos().into_iter().find(|v| v.require_signed_urls).unwrap().id;
    let client = reqwest::Client::new();
    let call = |method: reqwest::Method, path: String, body: &'static str| {
        let mut req = client.request(method, format!("{base}{path}")).body(body);
        for (k, v) in emu.credentials().headers() {
            req = req.header(k, v);
        }
        req.send()
    };
    let created: serde_json::Value =
        call(reqwest::Method::POST, format!("/accounts/{account}/stream/keys"), "")
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let key = created["result"]["id"].as_str().unwrap().to_owned();
    let listed =
        call(reqwest::Method::GET, format!("/accounts/{account}/stream/keys"), "").await.unwrap();
    assert_eq!(listed.status(), 200);
    let token = call(
        reqwest::Method::POST,
        format!("/accounts/{account}/stream/{video}/token"),
        r#"{"downloadable":true}"#,
    )
    .await
    .unwrap();
    assert_eq!(token.status(), 200);
    let deleted =
        call(reqwest::Method::DELETE, format!("/accounts/{account}/stream/keys/{key}"), "")
            .await
            .unwrap();
    assert_eq!(deleted.status(), 200);
    let summary = proxy.shutdown().await.unwrap();
    assert_eq!(summary.answers, 4, "{summary:?}");
    assert!(summary.violations.is_empty(), "{:#?}", summary.violations);
    emu.shutdown().await;
}

/// A violation as expected: check, pointer, rule.
type Expected = (&'static str, &'static str, &'static str);

/// Servers that lie about the signed-URL operations: each answer is forwarded unchanged and
/// judged exactly.
#[tokio::test]
async fn hostile_signing_answers_are_reported_exactly() {
    let keys = format!("/accounts/{ACCOUNT}/stream/keys");
    let cases: Vec<(&str, String, u16, &str, Vec<Expected>)> = vec![
        // A success that carries no token.
        (
            "POST",
            token_path(),
            200,
            r#"{"success":true,"errors":[],"messages":[]}"#,
            vec![(
                "body_schema",
                "",
                "create_token: schema `required`: \"result\" is a required property",
            )],
        ),
        // `result: null` on a success.
        (
            "POST",
            token_path(),
            200,
            r#"{"success":true,"errors":[],"messages":[],"result":null}"#,
            vec![(
                "body_schema",
                "/result",
                "create_token: schema `type`: null is not of type \"object\"",
            )],
        ),
        // An empty token cannot take the video id's place in a path.
        (
            "POST",
            token_path(),
            200,
            r#"{"success":true,"errors":[],"messages":[],"result":{"token":""}}"#,
            vec![(
                "body_schema",
                "/result/token",
                "create_token: schema `minLength`: \"\" is shorter than 1 character",
            )],
        ),
        // A 200 that says it failed.
        (
            "POST",
            token_path(),
            200,
            r#"{"success":false,"errors":[{"code":10000,"message":"no"}],"messages":[],"result":null}"#,
            vec![
                (
                    "body_schema",
                    "/result",
                    "create_token: schema `type`: null is not of type \"object\"",
                ),
                (
                    "body_schema",
                    "/success",
                    "create_token: schema `enum`: false is not one of true",
                ),
                (
                    "success_matches_status",
                    "/success",
                    "create_token: success must be true with status 200",
                ),
            ],
        ),
        // A list whose key id the typed model refuses (the schema only asks for a string).
        (
            "GET",
            keys.clone(),
            200,
            r#"{"success":true,"errors":[],"messages":[],"result":[{"id":"../x","created":"2026-12-02T10:00:00Z"}]}"#,
            vec![(
                "client_model_decodes",
                "/result/0/id",
                "list_keys: cfstream-types must decode a body the schema accepts (invalid signing key id '../x': must be hex digits [0-9a-fA-F], found '.' at position 0 at line 1 column 64)",
            )],
        ),
        // A list answer that is an object.
        (
            "GET",
            keys.clone(),
            200,
            r#"{"success":true,"errors":[],"messages":[],"result":{"id":"8f926b2b2b2e4b1db2ad6f9e4b1d6b8e","created":"x"}}"#,
            vec![(
                "body_schema",
                "/result",
                "list_keys: schema `type`: {\"id\":\"8f926b2b2b2e4b1db2ad6f9e4b1d6b8e\",\"created\":\"x\"} is not of type \"array\"",
            )],
        ),
        // A delete that answers something other than "ok".
        (
            "DELETE",
            format!("{keys}/8f926b2b2b2e4b1db2ad6f9e4b1d6b8e"),
            200,
            r#"{"success":true,"errors":[],"messages":[],"result":"deleted"}"#,
            vec![(
                "body_schema",
                "/result",
                "delete_key: schema `enum`: \"deleted\" is not one of \"ok\"",
            )],
        ),
        // A failure without an error and with a result.
        (
            "DELETE",
            format!("{keys}/8f926b2b2b2e4b1db2ad6f9e4b1d6b8e"),
            404,
            r#"{"success":false,"errors":[],"messages":[],"result":"ok"}"#,
            vec![
                (
                    "body_schema",
                    "/errors",
                    "delete_key: schema `minItems`: [] has less than 1 item",
                ),
                (
                    "body_schema",
                    "/result",
                    "delete_key: schema `type`: \"ok\" is not of type \"null\"",
                ),
                (
                    "failure_has_errors",
                    "/errors",
                    "delete_key: a failure must carry at least one error",
                ),
                (
                    "failure_result_null",
                    "/result",
                    "delete_key: result must be present and null on failure",
                ),
            ],
        ),
        // HTML where JSON was due (under a JSON content type).
        (
            "POST",
            keys.clone(),
            200,
            "<html>",
            vec![(
                "body_schema",
                "",
                "create_key: body must be JSON (expected value at line 1 column 1)",
            )],
        ),
    ];
    let mut wrong = Vec::new();
    for (method, path, status, body, expected) in cases {
        let (proxy, _up) = proxy_answering(method, &path, status, body).await;
        assert_eq!(send(&proxy, method, &path, "").await, (status, body.to_owned()), "{body}");
        let mut got: Vec<(String, String, String)> =
            seen(&proxy).into_iter().map(|(c, p, r, _)| (c, p, r)).collect();
        got.sort();
        let mut want: Vec<(String, String, String)> = expected
            .iter()
            .map(|(c, p, r)| ((*c).to_owned(), (*p).to_owned(), (*r).to_owned()))
            .collect();
        want.sort();
        if got != want {
            wrong.push((method, body, got));
        }
        proxy.shutdown().await.unwrap();
    }
    assert!(wrong.is_empty(), "judged otherwise than expected: {wrong:#?}");
}

/// A key's private parts and a token request's `pem` never reach a violation (nor, through it,
/// the log), even where the answer is judged whole.
#[tokio::test]
async fn signing_secrets_are_redacted_from_what_the_proxy_reports() {
    let keys = format!("/accounts/{ACCOUNT}/stream/keys");
    let pem = "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JSUV2Z0lCQURBTkJna3Foa2lHOXcwQkFRRUZBQVNDQktnd2dnU2tBZ0VBQW9JQkFRQw==";
    let jwk = "eyJrdHkiOiJSU0EiLCJuIjoidGhlLXB1YmxpYy1tb2R1bHVzIiwiZCI6InRoZS1zZWNyZXQifQ==";
    // No `id`: the schema's violation is at `/result`, whose value is the whole key.
    let body = format!(
        r#"{{"success":true,"errors":[],"messages":[],"result":{{"pem":"{pem}","jwk":"{jwk}","created":"2026-12-02T10:00:00Z"}}}}"#
    );
    let (proxy, _up) = proxy_answering("POST", &keys, 200, &body).await;
    assert_eq!(send(&proxy, "POST", &keys, "").await, (200, body.clone()), "forwarded unchanged");
    let got = seen(&proxy);
    assert_eq!(
        got,
        vec![(
            "body_schema".to_owned(),
            "/result".to_owned(),
            "create_key: schema `required`: \"id\" is a required property".to_owned(),
            r#"{"pem":"[redacted]","jwk":"[redacted]","created":"2026-12-02T10:00:00Z"}"#
                .to_owned()
        )]
    );
    proxy.shutdown().await.unwrap();

    // A server that echoes the request's key in its failure's (wrongly non-null) result.
    let request_pem = "UEVNLW9mLXRoZS1yZXF1ZXN0LXRoYXQtbXVzdC1ub3Qtc2hvdw==";
    let failure = format!(
        r#"{{"success":false,"errors":[{{"code":10005,"message":"bad pem"}}],"messages":[],"result":{{"pem":"{request_pem}"}}}}"#
    );
    let (proxy, _up) = proxy_answering("POST", &token_path(), 400, &failure).await;
    let request = format!(r#"{{"id":"8f926b2b2b2e4b1db2ad6f9e4b1d6b8e","pem":"{request_pem}"}}"#);
    assert_eq!(send(&proxy, "POST", &token_path(), &request).await, (400, failure.clone()));
    let got = seen(&proxy);
    assert_eq!(got.len(), 2, "{got:#?}");
    for (check, pointer, rule, value) in &got {
        assert_eq!(pointer, "/result", "{got:#?}");
        assert!(check == "body_schema" || check == "failure_result_null", "{check}");
        assert!(rule.starts_with("create_token: "), "{rule}");
        assert_eq!(value, r#"{"pem":"[redacted]"}"#, "{got:#?}");
    }
    let all = format!("{got:?}");
    assert!(!all.contains(request_pem) && !all.contains(pem) && !all.contains(jwk), "{all}");
    proxy.shutdown().await.unwrap();
}

/// Warnings of every test in this binary, from the first call on (a global subscriber: a
/// thread-local one misses callsites whose interest other tests cached first).
fn warnings() -> std::sync::Arc<std::sync::Mutex<Vec<u8>>> {
    use std::sync::{Arc, Mutex, OnceLock};
    #[derive(Clone)]
    struct Into(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Into {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Arc::new(Mutex::new(Vec::new()));
        let writer = Into(log.clone());
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::WARN)
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        log
    })
    .clone()
}

#[tokio::test]
async fn a_signed_file_url_through_the_proxy_never_logs_its_token() {
    let log = warnings();
    // The upstream refuses connections: the proxy logs the failed call with its path.
    let held = tokio::net::TcpSocket::new_v4().unwrap();
    held.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let upstream = format!("http://{}/client/v4", held.local_addr().unwrap());
    let proxy = RunningProxy::start(ProxyOptions::new(
        upstream.parse().unwrap(),
        "127.0.0.1:0".parse().unwrap(),
    ))
    .await
    .unwrap();
    let token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
    let mut origin = proxy.base_url().clone();
    origin.set_path(&format!("/{token}/downloads/default.mp4"));
    let resp = reqwest::get(origin).await.unwrap();
    assert_eq!(resp.status(), 502);
    let text = String::from_utf8(log.lock().unwrap().clone()).unwrap();
    assert!(text.contains("path=/[redacted]/downloads/default.mp4"), "{text}");
    assert!(!text.contains("c2lnbmF0dXJl"), "{text}");
    proxy.shutdown().await.unwrap();
}
