//! Both credential schemes on the wire, the user agent, and build errors.

use cfstream_http::{Client, ErrorKind, Operation};
use cfstream_types::Credentials;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::support::*;

#[tokio::test(start_paused = true)]
async fn token_is_sent_as_bearer() {
    let server = mock_server().await;
    Mock::given(method("GET"))
        .and(path(op_path(Operation::List)))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(header("user-agent", concat!("cfstream/", env!("CARGO_PKG_VERSION"))))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(LIST_NEWEST.as_bytes().to_vec(), "application/json"),
        )
        .mount(&server)
        .await;
    let client = builder(&base(&server)).build().unwrap();
    call(&client, Operation::List).await.unwrap();
    let req = &server.received_requests().await.unwrap()[0];
    assert!(req.headers.get("x-auth-key").is_none());
    assert!(req.headers.get("x-auth-email").is_none());
}

#[tokio::test(start_paused = true)]
async fn global_key_is_sent_as_email_and_key() {
    let server = mock_server().await;
    Mock::given(method("GET"))
        .and(path(op_path(Operation::List)))
        .and(header("x-auth-email", EMAIL))
        .and(header("x-auth-key", KEY))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(LIST_NEWEST.as_bytes().to_vec(), "application/json"),
        )
        .mount(&server)
        .await;
    let client = builder(&base(&server))
        .credentials(Credentials::key(EMAIL, KEY))
        .user_agent("probe/1")
        .build()
        .unwrap();
    call(&client, Operation::List).await.unwrap();
    let req = &server.received_requests().await.unwrap()[0];
    assert!(req.headers.get("authorization").is_none());
    assert_eq!(req.headers["user-agent"], "probe/1");
}

#[test]
fn bad_settings_fail_the_build_naming_the_value() {
    let base = || Client::builder().credentials(Credentials::token(TOKEN));
    for (b, needle) in [
        (base().base_url("127.0.0.1:8080"), "invalid base url '127.0.0.1:8080'"),
        (base().base_url("file:///etc/passwd"), "scheme"),
        (base().base_url("http://user:pw@h/"), "credentials"),
        (base().user_agent("bad\nagent"), "invalid user agent"),
        (
            base().rate_limit(cfstream_http::RateLimit::per(0, std::time::Duration::from_secs(1))),
            "invalid rate limit",
        ),
        (Client::builder(), "no credentials"),
    ] {
        let e = b.build().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Build);
        assert!(e.to_string().contains(needle), "{e}");
    }
    let e = Client::builder().credentials(Credentials::token("SECRET\nTOKEN")).build().unwrap_err();
    assert!(e.to_string().contains("invalid api token credentials"), "{e}");
    assert!(!format!("{e} {e:?}").contains("SECRET"), "{e:?}");
}

#[test]
fn default_base_url_is_cloudflare() {
    let c = Client::builder().credentials(Credentials::token(TOKEN)).build().unwrap();
    assert_eq!(c.base_url().as_str(), "https://api.cloudflare.com/client/v4");
}

#[test]
fn ids_are_checked_before_any_request() {
    assert!("../../etc".parse::<cfstream_types::VideoId>().is_err());
    assert!("x".repeat(33).parse::<cfstream_types::AccountId>().is_err());
}
