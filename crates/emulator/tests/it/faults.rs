//! Fault injection by script and by probability (seeded: reproducible), on API routes and the
//! file route, set in-process and through the admin route.

use cfstream_emulator::{Fault, FaultRoute, FaultRule, Faults, RunningEmulator};
use cfstream_types::{ErrorCode, Operation};

use crate::common::*;

#[tokio::test]
async fn a_script_answers_each_fault_in_order_then_normally() {
    let emu = start().await;
    let list = FaultRoute::Api(Operation::List);
    emu.admin().set_faults(Faults::none().rule(FaultRule::script(
        list,
        [
            Fault::Status { status: 503 },
            Fault::RateLimited { retry_after_secs: 7 },
            Fault::HtmlError { status: 502 },
            Fault::MalformedJson,
            Fault::WrongContentType,
            Fault::TruncatedBody,
            Fault::Delay { millis: 20 },
            Fault::ConnectionReset,
            Fault::Pass,
        ],
    )));
    let url = downloads_url(&emu, &ready_video(&emu), "");
    let c = client();

    let got = authed(c.get(&url)).await;
    let msg = assert_failure(&got, 503, 10503);
    assert!(msg.contains("injected"), "{msg}");

    let got = authed(c.get(&url)).await;
    assert_failure(&got, 429, ErrorCode::RateLimited.code());
    assert_eq!(got.1["retry-after"], "7");

    let res = c.get(&url).bearer_auth(cfstream_emulator::DEMO_TOKEN).send().await.unwrap();
    assert_eq!(res.status(), 502);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(res.text().await.unwrap().contains("<title>502 Bad Gateway</title>"));

    let res = c.get(&url).bearer_auth(cfstream_emulator::DEMO_TOKEN).send().await.unwrap();
    assert_eq!(
        (res.status().as_u16(), res.headers()["content-type"].to_str().unwrap()),
        (200, "application/json")
    );
    let text = res.text().await.unwrap();
    assert!(serde_json::from_str::<serde_json::Value>(&text).is_err(), "{text}");

    let res = c.get(&url).bearer_auth(cfstream_emulator::DEMO_TOKEN).send().await.unwrap();
    assert_eq!(res.headers()["content-type"], "text/plain; charset=utf-8");
    let body: serde_json::Value = res.json().await.unwrap();
    check_downloads_shape(&body);

    let res = c.get(&url).bearer_auth(cfstream_emulator::DEMO_TOKEN).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let announced: usize = res.headers()["content-length"].to_str().unwrap().parse().unwrap();
    assert!(announced > 0);
    assert!(res.bytes().await.is_err(), "the body must end early");

    let (s, _, body) = authed(c.get(&url)).await;
    assert_eq!(s, 200, "a delay answers normally");
    check_downloads_shape(&body);

    let err = c.get(&url).bearer_auth(cfstream_emulator::DEMO_TOKEN).send().await.unwrap_err();
    assert!(!err.is_status(), "{err}");

    for _ in 0..2 {
        let (s, _, _) = authed(c.get(&url)).await;
        assert_eq!(s, 200);
    }
    // Other routes were never affected.
    assert_eq!(emu.admin().faults().rules.len(), 1);
}

async fn statuses(emu: &RunningEmulator, n: usize) -> Vec<u16> {
    let c = client();
    let url = downloads_url(emu, &ready_video(emu), "/audio");
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(authed(c.post(&url)).await.0);
    }
    out
}

#[tokio::test]
async fn probabilities_are_reproducible_with_a_seed() {
    let faults = |seed| {
        Faults::none().seed(seed).rule(FaultRule::probability(
            FaultRoute::Api(Operation::CreateType),
            0.5,
            Fault::Status { status: 500 },
        ))
    };
    let a = statuses(&builder().faults(faults(9)).start().await.unwrap(), 40).await;
    let b = statuses(&builder().faults(faults(9)).start().await.unwrap(), 40).await;
    let other = statuses(&builder().faults(faults(10)).start().await.unwrap(), 40).await;
    assert_eq!(a, b);
    assert_ne!(a, other);
    let failed = a.iter().filter(|s| **s == 500).count();
    assert!((5..35).contains(&failed), "{a:?}");
    assert!(a.iter().all(|s| *s == 500 || *s == 200), "{a:?}");
}

#[tokio::test]
async fn faults_on_the_file_route_and_through_the_admin_route() {
    let emu = start().await;
    let c = client();
    let video = ready_video(&emu);
    authed(c.post(downloads_url(&emu, &video, ""))).await;
    let faults = serde_json::json!({"rules": [{"trigger": "script", "route": "file",
        "answers": [{"kind": "truncated_body"}, {"kind": "status", "status": 502}]}]});
    let (s, _, body) =
        authed(c.put(format!("http://{}/__emulator/faults", emu.addr())).json(&faults)).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["result"]["rules"], faults["rules"]);
    assert_eq!(body["result"]["seed"], 0);
    let file = format!("http://{}/{video}/downloads/default.mp4", emu.addr());
    let res = c.get(&file).send().await.unwrap();
    assert_eq!(res.headers()["content-length"], "10000");
    assert!(res.bytes().await.is_err());
    assert_failure(&send(c.get(&file)).await, 502, 10502);
    assert_eq!(c.get(&file).send().await.unwrap().bytes().await.unwrap().len(), 10_000);
    // API routes were not affected, and neither are admin routes by an "any" rule.
    emu.admin().set_faults(Faults::none().rule(FaultRule::probability(
        FaultRoute::Any,
        1.0,
        Fault::Status { status: 503 },
    )));
    assert_eq!(authed(c.get(downloads_url(&emu, &video, ""))).await.0, 503);
    assert_eq!(authed(c.get(format!("http://{}/__emulator/state", emu.addr()))).await.0, 200);
    // Invalid faults are refused with the reason.
    let bad = serde_json::json!({"rules": [{"trigger": "probability", "route": "list", "probability": 2, "fault": {"kind": "pass"}}]});
    let got = authed(c.put(format!("http://{}/__emulator/faults", emu.addr())).json(&bad)).await;
    let msg = assert_failure(&got, 400, ErrorCode::InvalidRequest.code());
    assert!(msg.contains("probability 2"), "{msg}");
    // Reset restores the builder's faults (none).
    emu.admin().reset();
    assert_eq!(authed(c.get(downloads_url(&emu, &video, ""))).await.0, 200);
}
