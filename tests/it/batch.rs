//! A 200-video batch `fetch` against an emulator that injects faults (5xx, 429, truncated
//! bodies, by seeded probability): every video still ends ready and fetched, byte-exact.

use std::collections::HashSet;

use cfstream_emulator::{Fault, FaultRoute, FaultRule, Faults, RateLimit, expected_file_bytes};
use cfstream_types::{DownloadType, VideoId};

use crate::common::{Emu, texts};

#[test]
fn two_hundred_videos_survive_injected_faults() {
    let faults = Faults::none()
        .seed(20_260_801)
        .rule(FaultRule::probability(FaultRoute::Any, 0.04, Fault::Status { status: 500 }))
        .rule(FaultRule::probability(
            FaultRoute::Any,
            0.03,
            Fault::RateLimited { retry_after_secs: 0 },
        ))
        .rule(FaultRule::probability(FaultRoute::Any, 0.03, Fault::TruncatedBody));
    let emu = Emu::with(|b| b.faults(faults).rate_limit(RateLimit::disabled()));
    let admin = emu.running().admin();
    let account = emu.running().account();
    let videos: Vec<VideoId> = (0..200).map(|_| admin.add_video(&account, true)).collect();
    let dir = tempfile::tempdir().unwrap();
    let stdin: String = videos.iter().map(|v| format!("{v}\n")).collect();

    let out = emu
        .cmd()
        .current_dir(dir.path())
        .args(["--json", "downloads", "fetch", "-", "-o", "lib", "--jobs", "16"])
        .args(["--rate-limit", "off", "--max-attempts", "10"])
        .write_stdin(stdin)
        .output()
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}\n{stdout}");

    let lines: Vec<serde_json::Value> =
        stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let summary = lines.last().unwrap();
    assert_eq!(summary["event"], "summary");
    assert_eq!(summary["succeeded"], 200, "{summary}");
    assert_eq!(summary["failed"], 0);
    let fetched: HashSet<&str> = lines
        .iter()
        .filter(|l| l["event"] == "result" && l["ok"] == true)
        .map(|l| l["video"].as_str().unwrap())
        .collect();
    assert_eq!(fetched.len(), 200);

    for v in &videos {
        let d = admin.downloads(&account, v).unwrap();
        assert!(d.default.as_ref().is_some_and(|d| d.is_ready()), "{v} not ready: {d:?}");
        let path = dir.path().join("lib").join(format!("{v}.mp4"));
        let got = std::fs::read(&path).unwrap();
        assert!(
            got == expected_file_bytes(v, &DownloadType::Default, 0, 4096),
            "{v}: content differs"
        );
        assert!(!dir.path().join("lib").join(format!("{v}.mp4.part")).exists());
    }
    // The faults did fire: more requests than the 3 per video a clean run needs.
    assert!(admin.request_count() > 600, "{} requests", admin.request_count());
}
