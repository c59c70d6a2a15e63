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
