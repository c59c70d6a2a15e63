//! Hostile servers: the referee is never fooled by the server it judges. Each server here
//! answers in one hostile way (every answer an HTML 502, ...) and the report must say so
//! without a PASS it has no evidence for.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use cfstream_conformance::{Outcome, Report, Target, run};
use cfstream_types::Credentials;
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};

pub(crate) const ACC: &str = "023e105f4ecef8ad9ca31a8372d0c353";
pub(crate) const VID: &str = "ea95132c15732412d22c1476fa83f27a";
pub(crate) const TOKEN: &str = "hostile-test-token";

type Handler = dyn Fn(&Method, &Uri, &HeaderMap) -> Response + Send + Sync;

/// Starts a server answering every request with `handler`; answers its target (a token,
/// an account and a video) and its address.
pub(crate) async fn serve(
    handler: impl Fn(&Method, &Uri, &HeaderMap) -> Response + Send + Sync + 'static,
) -> (Target, SocketAddr) {
    let handler: Arc<Handler> = Arc::new(handler);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap| {
        let handler = Arc::clone(&handler);
        async move { handler(&method, &uri, &headers) }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut t = Target::new(format!("http://{addr}/client/v4").parse().unwrap());
    t.credentials = Some(Credentials::token(TOKEN));
    t.account = Some(ACC.parse().unwrap());
    t.videos = vec![VID.parse().unwrap()];
    (t, addr)
}

fn html(status: u16, text: &'static str) -> Response {
    let mut r = Response::new(Body::from(text));
    *r.status_mut() = StatusCode::from_u16(status).unwrap();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    r
}

fn outcome(report: &Report, name: &str) -> (Outcome, Option<String>) {
    let c = report.check(name).unwrap_or_else(|| panic!("{name} not in the report"));
    (c.outcome, c.reason.clone())
}

#[tokio::test]
async fn an_html_502_server_gets_no_pass_and_the_body_checks_say_why() {
    let (target, _) = serve(|_, _, _| html(502, "<html><body>Bad gateway</body></html>")).await;
    let report = run(&target, &crate::fast_options()).await.unwrap();
    let text = report.render_text();
    // Exit 1: the run failed, and nothing passed.
    assert!(!report.passed(), "{text}");
    assert_eq!(report.counts().passed, 0, "{text}");
    for (name, reason) in [
        ("success_matches_status", "no JSON body with a boolean `success` was seen"),
        ("failure_has_errors", "no JSON failure body was seen"),
        ("failure_result_null", "no JSON failure body was seen"),
        ("error_code_range", "no error or message code was seen"),
        ("client_model_decodes", "no 2XX answer was seen"),
        ("retry_after_on_429", "no 429 was seen"),
    ] {
        assert_eq!(outcome(&report, name), (Outcome::Skip, Some(reason.to_owned())), "{text}");
    }
    for name in ["status_documented", "content_type_json", "body_schema", "auth_missing_rejected"] {
        assert_eq!(outcome(&report, name).0, Outcome::Fail, "{name}: {text}");
    }
}

/// A 200 JSON answer whose body is `body`, with `length` declared if given.
fn json_stream(body: Body, length: Option<u64>) -> Response {
    let mut r = Response::new(body);
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(n) = length {
        r.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(n));
    }
    r
}

/// An endless JSON-looking body, counting the bytes it has produced into `produced`.
fn endless(produced: Arc<std::sync::atomic::AtomicUsize>) -> Body {
    let chunk = bytes::Bytes::from(vec![b'a'; 64 * 1024]);
    let head = futures::stream::once(async {
        Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"{\"result\":\""))
    });
    let tail = futures::stream::repeat_with(move || {
        produced.fetch_add(chunk.len(), std::sync::atomic::Ordering::Relaxed);
        Ok(chunk.clone())
    });
    Body::from_stream(futures::StreamExt::chain(head, tail))
}

const CAP: usize = 8 * 1024 * 1024;

/// Runs only `body_schema` (the baseline list is the one request) against a server answering
/// `answer`; answers the check's one violation.
async fn oversize_violation(
    answer: impl Fn() -> Response + Send + Sync + 'static,
) -> cfstream_conformance::Violation {
    let (target, _) = serve(move |_, _, _| answer()).await;
    let mut o = crate::fast_options();
    o.only = vec!["body_schema".into()];
    let report = run(&target, &o).await.unwrap();
    assert_eq!(report.requests, 1, "{}", report.render_text());
    let c = report.check("body_schema").unwrap();
    assert_eq!(c.outcome, Outcome::Fail, "{}", report.render_text());
    assert_eq!(c.violations.len(), 1, "{:#?}", c.violations);
    c.violations[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_are_read_up_to_8_mib_and_a_larger_one_is_a_violation() {
    let rule = "a body must be at most 8 MiB (the client reads no more)";
    // An endless body: the read stops at the cap (the server produced little past it: what
    // the sockets' buffers hold), and the report says so.
    let produced = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = Arc::clone(&produced);
    let v = oversize_violation(move || json_stream(endless(Arc::clone(&counter)), None)).await;
    assert_eq!((v.rule.as_str(), v.value.as_str()), (rule, "more than 8388608 bytes"));
    assert_eq!(v.pointer, "");
    let produced = produced.load(std::sync::atomic::Ordering::Relaxed);
    assert!(produced < CAP + 16 * 1024 * 1024, "the read went on: {produced} bytes");

    // A 50 MB body with its length declared: not read at all.
    let big = bytes::Bytes::from(vec![b' '; 50_000_000]);
    let v = oversize_violation(move || json_stream(Body::from(big.clone()), None)).await;
    assert_eq!((v.rule.as_str(), v.value.as_str()), (rule, "Content-Length 50000000"));

    // A 1 GB Content-Length over an endless body: not read either.
    let produced = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let v = oversize_violation(move || {
        json_stream(endless(Arc::clone(&produced)), Some(1_000_000_000))
    })
    .await;
    assert_eq!((v.rule.as_str(), v.value.as_str()), (rule, "Content-Length 1000000000"));
}

/// A 429 failure envelope with `retry-after: value` (when given).
fn too_many(value: Option<&str>) -> Response {
    let body = r#"{"success":false,"errors":[{"code":10429,"message":"rate limited"}],"messages":[],"result":null}"#;
    let mut r = json_stream(Body::from(body), None);
    *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    if let Some(v) = value {
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_str(v).unwrap());
    }
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_always_429_server_gets_its_verdict_within_the_wait_budget() {
    // (retry-after, whether it is a violation): seconds, an HTTP date, negative, absurd.
    let cases: [(&str, Option<&str>); 4] = [
        ("seconds", None),
        ("date", None),
        ("-1", Some("retry-after must be seconds or an HTTP date (negative)")),
        ("86400", Some("retry-after must not ask for more than 3600 s (absurd)")),
    ];
    let runs = cases.map(|(case, violation)| async move {
        let (target, _) = serve(move |_, _, _| match case {
            "seconds" => too_many(Some("1")),
            "date" => {
                let at = std::time::SystemTime::now() + std::time::Duration::from_secs(1);
                too_many(Some(&httpdate::fmt_http_date(at)))
            }
            other => too_many(Some(other)),
        })
        .await;
        let mut o = crate::fast_options();
        o.max_wait = std::time::Duration::from_secs(2);
        // A signed video too, so that every scenario has what it needs and only the 429s
        // stop it.
        o.signed_videos = vec!["5d5bc37ffcf54c9b82e996823bffbb81".parse().unwrap()];
        let report = run(&target, &o).await.unwrap();
        (case, violation, report)
    });
    for (case, violation, report) in futures::future::join_all(runs).await {
        let text = report.render_text();
        // Every scenario is skipped as rate limited: none was judged on 429s.
        for info in cfstream_conformance::catalogue() {
            if info.kind == cfstream_conformance::CheckKind::Scenario {
                assert_eq!(
                    outcome(&report, info.name),
                    (Outcome::Skip, Some("rate limited".to_owned())),
                    "{case}: {text}"
                );
            }
        }
        // The 429s themselves are judged.
        let retry = report.check("retry_after_on_429").unwrap();
        match violation {
            None => assert_eq!(retry.outcome, Outcome::Pass, "{case}: {text}"),
            Some(rule) => {
                assert_eq!(retry.outcome, Outcome::Fail, "{case}: {text}");
                assert_eq!(retry.violations[0].rule, rule, "{case}");
            }
        }
        assert_eq!(report.check("failure_has_errors").unwrap().outcome, Outcome::Pass, "{case}");
        // Only the baseline and what ran before the budget ran out: a handful of requests.
        assert!(report.requests <= 10, "{case}: {} requests\n{text}", report.requests);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_echoed_by_the_server_are_redacted_in_every_format() {
    use cfstream_conformance::ReportFormat;
    for (credentials, secrets) in [
        (Credentials::token("s3cret-t0ken"), vec!["s3cret-t0ken"]),
        (Credentials::key("me@example.com", "s3cret/key"), vec!["s3cret/key", "me@example.com"]),
    ] {
        // Echoes whatever credentials it got: in a JSON value, in an HTML body, in a header.
        let (mut target, _) = serve(|method, _, headers| {
            let echo: Vec<&str> = ["authorization", "x-auth-key", "x-auth-email"]
                .iter()
                .filter_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()))
                .collect();
            let echo = echo.join(" ");
            if method == Method::GET {
                let body = serde_json::json!({"success": true, "errors": [], "messages": [],
                    "result": {"default": {"status": echo, "percentComplete": 1}}});
                json_stream(Body::from(body.to_string()), None)
            } else {
                let mut r = Response::new(Body::from(format!("<p>refused: {echo}</p>")));
                *r.status_mut() = StatusCode::BAD_REQUEST;
                let ct = format!("text/html; echo={echo}");
                r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_str(&ct).unwrap());
                r
            }
        })
        .await;
        target.credentials = Some(credentials);
        let report = run(&target, &crate::fast_options()).await.unwrap();
        let text = report.render_text();
        // The echo was seen (and judged) ...
        assert_eq!(report.check("body_schema").unwrap().outcome, Outcome::Fail, "{text}");
        assert!(text.contains("[redacted]"), "{text}");
        // ... and no credential is in any rendering.
        for format in
            [ReportFormat::Text, ReportFormat::Json, ReportFormat::Junit, ReportFormat::Markdown]
        {
            let out = report.render(format);
            for secret in &secrets {
                assert!(!out.contains(secret), "{format:?} shows {secret}:\n{out}");
            }
        }
    }
}

/// Where the parent of the RSS test tells its child which servers to judge.
const RSS_URLS: &str = "CFSTREAM_CONFORMANCE_RSS_URLS";

/// The child half of `peak_rss_stays_under_64_mib_against_huge_bodies`: in its own process
/// (so that the servers' memory is not counted), the whole suite against each server, then
/// the process's peak RSS. Does nothing unless the parent runs it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rss_child() {
    let Ok(urls) = std::env::var(RSS_URLS) else { return };
    for url in urls.split(',') {
        let mut target = Target::new(url.parse().unwrap());
        target.credentials = Some(Credentials::token(TOKEN));
        target.account = Some(ACC.parse().unwrap());
        target.videos = vec![VID.parse().unwrap()];
        let report = run(&target, &crate::fast_options()).await.unwrap();
        assert_eq!(report.check("body_schema").unwrap().outcome, Outcome::Fail, "{url}");
        println!("RSS_CHILD {url}: {:?}, {} requests", report.duration, report.requests);
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let hwm = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    println!("RSS_CHILD {hwm}");
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peak_rss_stays_under_64_mib_against_huge_bodies() {
    let endless_server = serve(|_, _, _| {
        json_stream(endless(Arc::new(std::sync::atomic::AtomicUsize::new(0))), None)
    })
    .await;
    let big = bytes::Bytes::from(vec![b' '; 50_000_000]);
    let big_server = serve(move |_, _, _| json_stream(Body::from(big.clone()), None)).await;
    let huge_server = serve(|_, _, _| {
        json_stream(endless(Arc::new(std::sync::atomic::AtomicUsize::new(0))), Some(1_000_000_000))
    })
    .await;
    let urls: Vec<String> = [endless_server, big_server, huge_server]
        .iter()
        .map(|(t, _)| t.base_url.to_string())
        .collect();
    let exe = std::env::current_exe().unwrap();
    // The servers run on this runtime: wait for the child off it.
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(exe)
            .args(["hostile::rss_child", "--exact", "--nocapture", "--test-threads=1"])
            .env(RSS_URLS, urls.join(","))
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let kib: u64 = stdout
        .lines()
        .find_map(|l| l.split_once("RSS_CHILD VmHWM:").map(|(_, v)| v))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM in {stdout}"));
    assert!(kib < 64 * 1024, "peak RSS {kib} KiB");
    println!("peak RSS of the judging process: {kib} KiB");
}
