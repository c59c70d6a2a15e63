//! Opt-in checks against the real Cloudflare API. They run only when the environment names a
//! live account: `CLOUDFLARE_API_TOKEN` (or `CLOUDFLARE_EMAIL` + `CLOUDFLARE_API_KEY`),
//! `CLOUDFLARE_ACCOUNT_ID` and `CFSTREAM_LIVE_VIDEO` (a video that is ready to stream);
//! `CFSTREAM_LIVE_WRITES=1` also runs the checks that create and delete its downloads.
//! Without them each test says it is skipped and why, and passes: nothing here may fail
//! for want of credentials, and nothing else in the suite leaves loopback.

use std::time::Duration;

use cfstream_conformance::{RunOptions, Target};
use cfstream_types::{AccountId, Credentials, DEFAULT_BASE_URL, VideoId};

struct Live {
    credentials: Credentials,
    account: AccountId,
    video: VideoId,
    writes: bool,
}

/// The live account from the environment, or why there is none.
fn live() -> Result<Live, String> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let credentials =
        match (var("CLOUDFLARE_API_TOKEN"), var("CLOUDFLARE_EMAIL"), var("CLOUDFLARE_API_KEY")) {
            (Some(token), _, _) => Credentials::token(token),
            (None, Some(email), Some(key)) => Credentials::key(email, key),
            _ => {
                return Err(
                    "no CLOUDFLARE_API_TOKEN (or CLOUDFLARE_EMAIL + CLOUDFLARE_API_KEY)".into()
                );
            }
        };
    let account = var("CLOUDFLARE_ACCOUNT_ID").ok_or("no CLOUDFLARE_ACCOUNT_ID")?;
    let video = var("CFSTREAM_LIVE_VIDEO").ok_or("no CFSTREAM_LIVE_VIDEO")?;
    Ok(Live {
        credentials,
        account: account.parse().map_err(|e| format!("CLOUDFLARE_ACCOUNT_ID: {e}"))?,
        video: video.parse().map_err(|e| format!("CFSTREAM_LIVE_VIDEO: {e}"))?,
        writes: var("CFSTREAM_LIVE_WRITES").as_deref() == Some("1"),
    })
}

#[tokio::test]
async fn live_cloudflare_conforms() {
    let live = match live() {
        Ok(live) => live,
        Err(why) => {
            eprintln!("live: skipped ({why}); set them to judge a real account");
            return;
        }
    };
    let mut target = Target::new(DEFAULT_BASE_URL.parse().unwrap());
    target.credentials = Some(live.credentials);
    target.account = Some(live.account);
    target.videos = vec![live.video];
    target.live = true;
    target.allow_writes = live.writes;
    let mut options = RunOptions::default();
    options.deadline = Duration::from_secs(600);
    let report = cfstream_conformance::run(&target, &options).await.unwrap();
    eprintln!("{}", report.render_text());
    assert!(report.passed(), "the live API broke a check: {:?}", report.failed_names());
}
