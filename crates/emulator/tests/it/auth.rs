//! Credentials: none is 401 (9106), wrong is 403 (10000), on every operation and the admin
//! routes; never a 2XX without valid credentials; key credentials and several accepted ones.

use cfstream_emulator::{DEMO_TOKEN, Emulator, Progress};
use cfstream_types::{Credentials, ErrorCode};

use crate::common::*;

const OPS: [(&str, &str); 5] =
    [("GET", ""), ("POST", ""), ("DELETE", ""), ("POST", "/audio"), ("DELETE", "/default")];

#[tokio::test]
async fn missing_credentials_are_401_and_wrong_ones_403_on_every_operation() {
    let emu = start().await;
    let c = client();
    let video = ready_video(&emu);
    for (method, suffix) in OPS {
        let url = downloads_url(&emu, &video, suffix);
        let m: reqwest::Method = method.parse().unwrap();
        let got = send(c.request(m.clone(), &url)).await;
        let msg = assert_failure(&got, 401, ErrorCode::MissingAuthHeaders.code());
        assert_eq!(msg, "Missing X-Auth-Key, X-Auth-Email or Authorization headers");
        for bad in [
            c.request(m.clone(), &url).bearer_auth("wrong-token"),
            c.request(m.clone(), &url).header("authorization", "Basic abc"),
            c.request(m.clone(), &url)
                .header("x-auth-email", "me@example.com")
                .header("x-auth-key", "nope"),
        ] {
            let got = send(bad).await;
            let msg = assert_failure(&got, 403, ErrorCode::Authentication.code());
            assert_eq!(msg, "Authentication error");
        }
        // Half of the key pair is missing credentials.
        let got = send(c.request(m.clone(), &url).header("x-auth-key", "k")).await;
        assert_failure(&got, 401, ErrorCode::MissingAuthHeaders.code());
    }
    // Nothing changed.
    assert!(emu.admin().downloads(&emu.account(), &video.parse().unwrap()).unwrap().is_empty());
    for path in ["/__emulator/state", "/__emulator/faults"] {
        let got = send(c.get(format!("http://{}{path}", emu.addr()))).await;
        assert_failure(&got, 401, ErrorCode::MissingAuthHeaders.code());
        let got = send(c.get(format!("http://{}{path}", emu.addr())).bearer_auth("nope")).await;
        assert_failure(&got, 403, ErrorCode::Authentication.code());
    }
}

#[tokio::test]
async fn configured_credentials_replace_the_demo_token() {
    let emu = Emulator::builder()
        .progress(Progress::Instant)
        .credentials(Credentials::token("t0ken"))
        .credentials(Credentials::key("me@example.com", "s3cret"))
        .start()
        .await
        .unwrap();
    assert_eq!(emu.credentials(), Credentials::token("t0ken"));
    let c = client();
    let url = downloads_url(&emu, &ready_video(&emu), "");
    let (s, _, _) = send(c.get(&url).bearer_auth("t0ken")).await;
    assert_eq!(s, 200);
    let (s, _, _) =
        send(c.get(&url).header("x-auth-email", "me@example.com").header("x-auth-key", "s3cret"))
            .await;
    assert_eq!(s, 200);
    let got = send(c.get(&url).bearer_auth(DEMO_TOKEN)).await;
    assert_failure(&got, 403, ErrorCode::Authentication.code());
    // The file route is public, like Cloudflare's unsigned download URLs.
    let (s, _, _) = send(c.post(&url).bearer_auth("t0ken")).await;
    assert_eq!(s, 200);
    let file = format!("http://{}/{}/downloads/default.mp4", emu.addr(), ready_video(&emu));
    assert_eq!(c.get(file).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn faults_never_let_a_request_without_credentials_through() {
    use cfstream_emulator::{Fault, FaultRoute, FaultRule, Faults};
    let emu = start().await;
    let c = client();
    let video = ready_video(&emu);
    // Every API request would get a 200 with a garbled body if the fault came first.
    let garbling = [Fault::MalformedJson, Fault::WrongContentType, Fault::TruncatedBody];
    for fault in garbling {
        emu.admin().set_faults(Faults::none().rule(FaultRule::probability(
            FaultRoute::Any,
            1.0,
            fault,
        )));
        for (method, suffix) in OPS {
            let url = downloads_url(&emu, &video, suffix);
            let m: reqwest::Method = method.parse().unwrap();
            let got = send(c.request(m.clone(), &url)).await;
            assert_failure(&got, 401, ErrorCode::MissingAuthHeaders.code());
            let got = send(c.request(m, &url).bearer_auth("wrong-token")).await;
            assert_failure(&got, 403, ErrorCode::Authentication.code());
        }
    }
}
