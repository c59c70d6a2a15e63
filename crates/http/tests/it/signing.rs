//! Signed URLs: tokens from the API and signed locally (verified with the key's public part),
//! the signing-key operations, and `fetch` of a video that requires signed URLs (a 401 on the
//! plain URL, one token per video reused across a resume, `Signing::Never`, a refused token),
//! with the token kept out of errors and traces.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine as _;
use cfstream_http::{
    ErrorKind, FetchOptions, LocalSigningKey, RetryConfig, Signing, TokenOptions, sign_locally,
};
use cfstream_types::{Download, DownloadStatus, PercentComplete, Secret, SigningKeyId};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

const KEY_ID: &str = "8f926b2b2b2e4b1db2ad6f9e4b1d6b8e";

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// A fresh RSA key: (base64 of its PKCS#8 PEM, as the API's `pem` holds it; its public PEM).
fn rsa_key() -> (String, String) {
    let kp = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let private = pem("PRIVATE KEY", kp.as_der().unwrap().as_ref());
    let public = pem("PUBLIC KEY", kp.public_key().as_der().unwrap().as_ref());
    (base64::engine::general_purpose::STANDARD.encode(private), public)
}

fn key_id() -> SigningKeyId {
    KEY_ID.parse().unwrap()
}

fn decode(token: &str, public_pem: &str) -> jsonwebtoken::errors::Result<serde_json::Value> {
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(public_pem.as_bytes()).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.validate_nbf = true;
    v.set_required_spec_claims(&["exp", "nbf", "sub"]);
    jsonwebtoken::decode::<serde_json::Value>(token, &key, &v).map(|d| d.claims)
}

#[test]
fn a_locally_signed_token_verifies_with_the_public_key_and_carries_exactly_the_claims() {
    let (b64_pem, public) = rsa_key();
    let key = LocalSigningKey::new(key_id(), &Secret::new(b64_pem)).unwrap();
    let before = now();
    let token =
        sign_locally(&video(), &key, &TokenOptions::default().expires_in(Duration::from_secs(600)))
            .unwrap();
    let after = now();
    let header = jsonwebtoken::decode_header(token.expose()).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    assert_eq!(header.kid.as_deref(), Some(KEY_ID));
    let claims = decode(token.expose(), &public).unwrap();
    let exp = claims["exp"].as_i64().unwrap();
    assert!((before + 600..=after + 600).contains(&exp), "{claims}");
    assert_eq!(
        claims,
        serde_json::json!({
            "sub": video().as_str(), "kid": KEY_ID, "exp": exp, "nbf": exp - 600 - 60,
            "downloadable": true,
        })
    );
    // Another key's public part does not verify it.
    let (_, other) = rsa_key();
    assert!(decode(token.expose(), &other).is_err());
    // A PEM text is accepted as well as its base64, and `accessRules` are carried.
    let (b64_pem, public) = rsa_key();
    let pem_text =
        String::from_utf8(base64::engine::general_purpose::STANDARD.decode(&b64_pem).unwrap())
            .unwrap();
    let key = LocalSigningKey::new(key_id(), &Secret::new(pem_text.clone())).unwrap();
    let rule = cfstream_types::signed::AccessRule::new(
        cfstream_types::signed::AccessRuleType::Any,
        cfstream_types::signed::AccessAction::Block,
    );
    let token = key
        .sign(&video(), &TokenOptions::default().downloadable(false).access_rules(vec![rule]))
        .unwrap();
    let claims = decode(token.expose(), &public).unwrap();
    assert_eq!(claims["downloadable"], false);
    assert_eq!(claims["accessRules"], serde_json::json!([{"type": "any", "action": "block"}]));
    let shown = format!("{key:?}");
    assert!(shown.contains(KEY_ID) && shown.contains("[redacted]"), "{shown}");
    assert!(!shown.contains("PRIVATE") && !shown.contains(&pem_text[40..80]), "{shown}");
}

#[test]
fn a_local_token_past_24_hours_is_refused() {
    let key = LocalSigningKey::new(key_id(), &Secret::new(rsa_key().0)).unwrap();
    let e = key
        .sign(&video(), &TokenOptions::default().expires_in(Duration::from_secs(86_401)))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidTokenRequest);
    assert!(e.to_string().starts_with("invalid token request: exp "), "{e}");
    assert!(e.to_string().contains(" is more than 24 hours after "), "{e}");
}

fn ok(result: &serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(
        serde_json::json!({"success": true, "errors": [], "messages": [], "result": result}),
    )
}

fn token_path() -> String {
    format!("/client/v4/accounts/{}/stream/{}/token", account(), video())
}

#[tokio::test]
async fn create_token_posts_the_request_and_answers_the_token() {
    let server = mock_server().await;
    let exp = now() + 600;
    Mock::given(method("POST"))
        .and(path(token_path()))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(body_json(serde_json::json!({"downloadable": true, "exp": exp})))
        .respond_with(ok(&serde_json::json!({"token": "hdr.claims.sig"})))
        .expect(1)
        .mount(&server)
        .await;
    let client = builder(&base(&server)).build().unwrap();
    let t = client
        .downloads(&account())
        .create_token(&video(), TokenOptions::default().expires_at(exp))
        .await
        .unwrap();
    assert_eq!(t.expose(), "hdr.claims.sig");
}

/// A token request may name a signing key by `id` and `pem`: both are sent, exactly, and the
/// private key never shows in the options' `Debug`.
#[tokio::test]
async fn create_token_with_a_signing_key_sends_its_id_and_pem() {
    let server = mock_server().await;
    let exp = now() + 600;
    let pem = "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JSUV2UUlCQURBTkJna3Foa2lHOXcwQkFRRUZBQVND";
    Mock::given(method("POST"))
        .and(path(token_path()))
        .and(body_json(serde_json::json!({
            "downloadable": true, "exp": exp, "id": KEY_ID, "pem": pem,
        })))
        .respond_with(ok(&serde_json::json!({"token": "hdr.claims.sig"})))
        .expect(1)
        .mount(&server)
        .await;
    let opts = TokenOptions::default().expires_at(exp).signing_key(key_id(), Secret::new(pem));
    let shown = format!("{opts:?}");
    assert!(!shown.contains(pem) && !shown.contains(&pem[..16]), "{shown}");
    assert!(shown.contains(KEY_ID) && shown.contains("Secret([redacted])"), "{shown}");
    let client = builder(&base(&server)).build().unwrap();
    let t = client.downloads(&account()).create_token(&video(), opts).await.unwrap();
    assert_eq!(t.expose(), "hdr.claims.sig");
    // Exactly these keys, no others (body_json matched the values).
    let sent = &server.received_requests().await.unwrap()[0];
    let body: serde_json::Value = serde_json::from_slice(&sent.body).unwrap();
    let mut keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["downloadable", "exp", "id", "pem"]);
}

#[tokio::test]
async fn a_token_past_24_hours_is_refused_before_any_request() {
    let server = mock_server().await;
    let client = builder(&base(&server)).build().unwrap();
    let e = client
        .downloads(&account())
        .create_token(&video(), TokenOptions::default().expires_in(Duration::from_secs(86_401)))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidTokenRequest);
    assert_eq!(e.signing_operation(), Some(cfstream_types::SigningOperation::CreateToken));
    assert!(e.to_string().starts_with("create_token: invalid token request: exp "), "{e}");
    assert_eq!(e.attempts(), 0);
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_api_failure_of_the_token_endpoint_is_an_api_error() {
    let server = mock_server().await;
    Mock::given(method("POST"))
        .and(path(token_path()))
        .respond_with(ResponseTemplate::new(404).set_body_string(
            r#"{"success":false,"errors":[{"code":10005,"message":"video not found"}],"messages":[],"result":null}"#,
        ))
        .mount(&server)
        .await;
    let client = builder(&base(&server)).build().unwrap();
    let e = client
        .downloads(&account())
        .create_token(&video(), TokenOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Api);
    assert_eq!(e.status(), Some(404));
    assert_eq!(e.to_string(), "create_token: http 404: api error: 10005: video not found");
}

#[tokio::test]
async fn signing_key_operations_use_their_routes() {
    let server = mock_server().await;
    let keys = format!("/client/v4/accounts/{}/stream/keys", account());
    Mock::given(method("POST"))
        .and(path(keys.as_str()))
        .respond_with(ok(&serde_json::json!({
            "id": KEY_ID, "pem": "UEVN", "jwk": "SldL", "created": "2026-12-02T10:00:00Z",
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(keys.as_str()))
        .respond_with(ok(&serde_json::json!([{"id": KEY_ID, "created": "2026-12-02T10:00:00Z"}])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("{keys}/{KEY_ID}")))
        .respond_with(ok(&serde_json::json!("ok")))
        .expect(1)
        .mount(&server)
        .await;
    let client = builder(&base(&server)).build().unwrap();
    let account = account();
    let api = client.downloads(&account);
    let created = api.create_signing_key().await.unwrap();
    assert_eq!(created.id, key_id());
    assert_eq!(created.pem.as_ref().map(Secret::expose), Some("UEVN"));
    assert_eq!(created.jwk.as_ref().map(Secret::expose), Some("SldL"));
    let listed = api.list_signing_keys().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].id.as_str(), listed[0].pem.is_none()), (KEY_ID, true));
    api.delete_signing_key(&key_id()).await.unwrap();
    // A listed key has no private part: it cannot sign.
    let e = LocalSigningKey::try_from(&listed[0]).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("signing key '{KEY_ID}' has no pem: only the answer that created it holds one")
    );
}

fn ready(url: url::Url) -> Download {
    Download::new(DownloadStatus::Ready, PercentComplete::FULL).with_url(url)
}

/// The token endpoint, answering `token` and counting requests.
async fn token_endpoint(server: &MockServer, token: &str) {
    Mock::given(method("POST"))
        .and(path(token_path()))
        .respond_with(ok(&serde_json::json!({"token": token})))
        .mount(server)
        .await;
}

async fn token_requests(server: &MockServer) -> usize {
    let p = token_path();
    server.received_requests().await.unwrap().iter().filter(|r| r.url.path() == p).count()
}

fn request_path(head: &str) -> &str {
    head.split_whitespace().nth(1).unwrap()
}

const SIGNED: &str = "hdr.SIGNED-TOKEN-5e1f.sig";

#[tokio::test]
async fn a_refused_plain_url_is_signed_once_and_the_token_serves_a_resume_in_a_later_fetch() {
    let api_server = mock_server().await;
    token_endpoint(&api_server, SIGNED).await;
    let file = file_of(700_000);
    let srv = FileServer::start(
        file.clone(),
        vec![Script::Status(401), Script::CutAt(300_000), Script::Ranged],
    )
    .await;
    // One attempt per fetch: the cut ends the first fetch, the next run resumes.
    let client =
        builder(&base(&api_server)).retry(RetryConfig::default().max_attempts(1)).build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let opts = || FetchOptions::default().signing(Signing::TokenEndpoint);
    let account = account();
    let api = client.downloads(&account);
    let e = api.fetch(&ready(srv.url(&video())), dir.path(), opts()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Dispatch, "{e}");
    assert!(!e.to_string().contains(SIGNED) && !format!("{e:?}").contains(SIGNED));
    let out = api.fetch(&ready(srv.url(&video())), dir.path(), opts()).await.unwrap();
    assert_eq!((out.bytes, out.resumed_from), (700_000, 300_000));
    assert_eq!(out.path, dir.path().join(format!("{}-default.mp4", video())));
    assert_eq!(std::fs::read(&out.path).unwrap(), *file);
    assert_eq!(token_requests(&api_server).await, 1, "the resume reused the token");
    let heads = srv.heads();
    let paths: Vec<&str> = heads.iter().map(|h| request_path(h)).collect();
    let signed = format!("/{SIGNED}/downloads/default.mp4");
    assert_eq!(paths, [format!("/{}/downloads/default.mp4", video()), signed.clone(), signed]);
    assert!(heads[2].to_ascii_lowercase().contains("range: bytes=300000-"), "{}", heads[2]);
}

#[tokio::test]
async fn a_local_key_signs_without_the_token_endpoint_and_filename_is_kept() {
    let api_server = mock_server().await;
    let (b64_pem, public) = rsa_key();
    let key = LocalSigningKey::new(key_id(), &Secret::new(b64_pem)).unwrap();
    let file = file_of(10_000);
    let srv = FileServer::start(file.clone(), vec![Script::Status(401), Script::Full]).await;
    let client = builder(&base(&api_server)).build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = client
        .downloads(&account())
        .fetch(
            &ready(srv.url(&video())),
            dir.path(),
            FetchOptions::default().filename("clip").signing(Signing::Key(key)),
        )
        .await
        .unwrap();
    assert_eq!(out.path, dir.path().join("clip.mp4"));
    assert_eq!(token_requests(&api_server).await, 0);
    let heads = srv.heads();
    let target = request_path(&heads[1]);
    let (token, rest) = target.trim_start_matches('/').split_once('/').unwrap();
    assert_eq!(rest, "downloads/default.mp4?filename=clip");
    let claims = decode(token, &public).unwrap();
    assert_eq!(
        (claims["sub"].as_str(), claims["downloadable"].as_bool()),
        (Some(video().as_str()), Some(true))
    );
}

#[tokio::test]
async fn never_turns_a_refusal_into_a_clear_error_without_asking_for_a_token() {
    let api_server = mock_server().await;
    token_endpoint(&api_server, SIGNED).await;
    let srv = FileServer::start(file_of(10), vec![Script::Status(401)]).await;
    let client = builder(&base(&api_server)).build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let e = client
        .downloads(&account())
        .fetch(
            &ready(srv.url(&video())),
            dir.path(),
            FetchOptions::default().signing(Signing::Never),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::SignedUrlRequired);
    assert_eq!(e.status(), Some(401));
    assert_eq!(
        e.to_string(),
        "fetching from '127.0.0.1': http 401: the video requires signed URLs, and signing is turned off; allow signing (FetchOptions::signing, Signing::Auto) to fetch it with a token"
    );
    assert_eq!(token_requests(&api_server).await, 0);
    assert_eq!(srv.heads().len(), 1);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing written");
}

/// A tracing writer that keeps everything written to it.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_refused_token_fails_once_and_never_shows_in_errors_or_traces() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let api_server = mock_server().await;
    token_endpoint(&api_server, SIGNED).await;
    let srv = FileServer::start(file_of(10), vec![Script::Status(401), Script::Status(403)]).await;
    let client = builder(&base(&api_server)).build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let e = client
        .downloads(&account())
        .fetch(
            &ready(srv.url(&video())),
            dir.path(),
            FetchOptions::default().signing(Signing::TokenEndpoint),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidResponse);
    assert_eq!(e.status(), Some(403));
    assert_eq!(
        e.to_string(),
        "fetching from '127.0.0.1': http 403: the signed url was refused too (the token's signature, video, key or lifetime does not hold)"
    );
    assert_eq!(token_requests(&api_server).await, 1);
    let heads = srv.heads();
    assert_eq!(heads.len(), 2, "one retry with the signed url, no more");
    assert!(request_path(&heads[1]).contains(SIGNED));
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains("SIGNED-TOKEN"), "{shown}");
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("retrying with a signed url"), "the trace was captured: {log}");
    assert!(!log.contains("SIGNED-TOKEN"), "{log}");
}

#[tokio::test]
async fn a_cached_token_that_is_refused_is_replaced_once() {
    let api_server = mock_server().await;
    token_endpoint(&api_server, SIGNED).await;
    let file = file_of(5_000);
    // First fetch: 401 then the file. Second fetch starts signed: 403 (the key was deleted,
    // say), then a new token serves the file.
    let srv = FileServer::start(
        file.clone(),
        vec![Script::Status(401), Script::Full, Script::Status(403), Script::Full],
    )
    .await;
    let client = builder(&base(&api_server)).build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let account = account();
    let api = client.downloads(&account);
    let opts = || FetchOptions::default().signing(Signing::TokenEndpoint).overwrite(true);
    api.fetch(&ready(srv.url(&video())), dir.path(), opts()).await.unwrap();
    let out = api.fetch(&ready(srv.url(&video())), dir.path(), opts()).await.unwrap();
    assert_eq!(std::fs::read(&out.path).unwrap(), *file);
    assert_eq!(token_requests(&api_server).await, 2);
    let heads = srv.heads();
    let paths: Vec<&str> = heads.iter().map(|h| request_path(h)).collect();
    let signed = format!("/{SIGNED}/downloads/default.mp4");
    assert_eq!(paths[1..], [signed.clone(), signed.clone(), signed]);
}

/// Servers that lie about the signed-URL operations: each is a clear error, and none of the
/// secrets of the exchange (a token, a key's `pem` and `jwk`, the request's `pem`) is in its
/// `Display`, `Debug` or body snippet.
#[tokio::test]
async fn hostile_signing_answers_fail_clearly_without_showing_secrets() {
    const PEM: &str =
        "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JSUV2UUlCQURBTkJna3Foa2lHOXcwQkFRRUZBQVND";
    const JWK: &str = "eyJrdHkiOiJSU0EiLCJuIjoibW9kdWx1cyIsImQiOiJ0aGUtcHJpdmF0ZS1leHBvbmVudCJ9";
    const TOKEN_SECRET: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzZWNyZXQifQ.c2VjcmV0LXNpZw";
    const REQUEST_PEM: &str = "UkVRVUVTVC1QRU0tdGhhdC1tdXN0LW5ldmVyLWJlLXNob3du";
    let keys = format!("/client/v4/accounts/{}/stream/keys", account());
    let key = |created: &str| {
        format!(
            r#"{{"success":true,"errors":[],"messages":[],"result":{{"id":"{KEY_ID}","pem":"{PEM}","jwk":"{JWK}","created":{created}}}}}"#
        )
    };
    struct Case {
        name: &'static str,
        method: &'static str,
        path: String,
        status: u16,
        body: String,
        kind: ErrorKind,
        shown: &'static str,
    }
    let cases = [
        Case {
            name: "a token answer without result",
            method: "POST",
            path: token_path(),
            status: 200,
            body: r#"{"success":true,"errors":[],"messages":[]}"#.into(),
            kind: ErrorKind::InvalidResponse,
            shown: "create_token: http 200: the envelope has no result (json path result)",
        },
        Case {
            name: "a token that is a number",
            method: "POST",
            path: token_path(),
            status: 200,
            body: r#"{"success":true,"errors":[],"messages":[],"result":{"token":7}}"#.into(),
            kind: ErrorKind::InvalidResponse,
            shown: "create_token: http 200 (application/json): body does not match the envelope: invalid type: integer `7`, expected a string at line 1 column 61 (json path result.token)",
        },
        Case {
            name: "a good token in a broken envelope",
            method: "POST",
            path: token_path(),
            status: 200,
            body: format!(
                r#"{{"success":true,"errors":"none","messages":[],"result":{{"token":"{TOKEN_SECRET}"}}}}"#
            ),
            kind: ErrorKind::InvalidResponse,
            shown: "create_token: http 200 (application/json): body does not match the envelope: invalid type: string \"none\", expected a sequence at line 1 column 31 (json path errors)",
        },
        Case {
            name: "a created key whose created is a number",
            method: "POST",
            path: keys.clone(),
            status: 200,
            body: key("7"),
            kind: ErrorKind::InvalidResponse,
            shown: "create_key: http 200 (application/json): body does not match the envelope: invalid type: integer `7`, expected a string at line 1 column 273 (json path result.created)",
        },
        Case {
            name: "a failure that echoes the request's key",
            method: "POST",
            path: token_path(),
            status: 400,
            body: format!(
                r#"{{"success":false,"errors":[{{"code":10005,"message":"bad pem {REQUEST_PEM}"}}],"messages":[],"result":null}}"#
            ),
            kind: ErrorKind::Api,
            shown: "create_token: http 400: api error: 10005: bad pem [redacted]",
        },
    ];
    let mut wrong = Vec::new();
    for case in cases {
        let server = mock_server().await;
        Mock::given(method(case.method))
            .and(path(case.path.as_str()))
            .respond_with(
                ResponseTemplate::new(case.status)
                    .set_body_raw(case.body.clone().into_bytes(), "application/json"),
            )
            .mount(&server)
            .await;
        let client = builder(&base(&server)).build().unwrap();
        let account = account();
        let api = client.downloads(&account);
        let e = if case.path == keys {
            api.create_signing_key().await.map(drop).unwrap_err()
        } else {
            let opts = TokenOptions::default().signing_key(key_id(), Secret::new(REQUEST_PEM));
            api.create_token(&video(), opts).await.map(drop).unwrap_err()
        };
        let snippet = String::from_utf8_lossy(e.body_snippet().unwrap_or_default()).into_owned();
        let everything = format!("{e} {e:?} {snippet}");
        let leaked: Vec<&str> = [PEM, JWK, TOKEN_SECRET, REQUEST_PEM]
            .into_iter()
            .filter(|s| everything.contains(&s[..12]))
            .collect();
        if e.kind() != case.kind || e.to_string() != case.shown || !leaked.is_empty() {
            wrong.push(format!("{}: {:?} {e} leaked {leaked:?}", case.name, e.kind()));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}
