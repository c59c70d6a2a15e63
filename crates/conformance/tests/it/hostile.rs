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
