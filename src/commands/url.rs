//! `cfstream downloads url`: each video's download URL, signed on request (`--signed`), one
//! per line in input order, or as JSON Lines. Also the client set-up `signing-keys` shares.

use std::io::Write as _;

use anyhow::Context as _;
use cfstream_http::{
    Client, DownloadsApi, LocalSigningKey, RateLimit, RetryConfig, TokenOptions, signed_url,
};
use cfstream_types::{AccountId, DEFAULT_BASE_URL, DownloadType, SignedToken, VideoId};
use futures::StreamExt as _;
use serde_json::json;

use crate::cli::{Global, RateSetting, UrlArgs};
use crate::env;
use crate::errors::{ExitStatus, Failure, FailureKind, Hint, Setting};
use crate::input;
use crate::output;
use crate::sanitize;

/// The API client from the environment's credentials, and what error messages may name.
pub(crate) fn client(
    global: &Global,
    rate: RateSetting,
    max_attempts: u32,
) -> anyhow::Result<(Client, AccountId, Setting)> {
    let account = global.account()?;
    let creds = env::credentials(env::process)?;
    sanitize::register(&creds.credentials);
    let base_url = global.base_url.clone().unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
    let rate_limit = match rate {
        RateSetting::Per(r) => RateLimit::per(r.count, r.period),
        RateSetting::Off => RateLimit::unlimited(),
    };
    let client = Client::builder()
        .credentials(creds.credentials.clone())
        .base_url(&base_url)
        .rate_limit(rate_limit)
        .retry(RetryConfig::default().max_attempts(max_attempts))
        .build()
        .map_err(|e| anyhow::Error::new(e).context("could not set up the API client"))?;
    let setting = Setting {
        account: account.to_string(),
        base_url: client.base_url().to_string(),
        credential_vars: creds.vars,
    };
    Ok((client, account, setting))
}

/// Where `--signed` tokens come from.
enum Source {
    Unsigned,
    Key(Box<LocalSigningKey>),
    Endpoint,
}

/// Runs `downloads url`: videos one after the other (each is one or two quick API calls).
pub(crate) async fn run(global: &Global, args: UrlArgs) -> anyhow::Result<ExitStatus> {
    let (client, account, setting) =
        client(global, args.batch.rate_limit, args.batch.max_attempts)?;
    let source = if !args.signed {
        Source::Unsigned
    } else {
        match LocalSigningKey::from_env().context("could not read the signing key")? {
            Some(k) => Source::Key(Box::new(k)),
            None => Source::Endpoint,
        }
    };
    let selection =
        input::read(&args.batch.videos, &args.batch.from, || Box::new(std::io::stdin().lock()))?;
    for bad in &selection.bad {
        if global.json {
            output::write_json_line(&output::invalid_input_json(bad))?;
        } else {
            Failure::skipped(FailureKind::Other, format!("{}: {}", bad.origin, bad.error), None)
                .write(&mut std::io::stderr().lock())?;
        }
    }
    if selection.videos.is_empty() {
        return Err(anyhow::Error::new(Hint(
            "pass ids as arguments, `-` to read them from stdin, or --from FILE (one per line)"
                .into(),
        ))
        .context("no video ids given"));
    }
    let t = &args.kind.download_type;
    let opts = TokenOptions::default().expires_in(args.expires);
    let api = client.downloads(&account);
    let mut failed = 0usize;
    let mut setup_error = false;
    // `--jobs` at once; answers are printed in input order.
    let mut work = futures::stream::iter(&selection.videos)
        .map(|video| {
            let (api, source, opts) = (&api, &source, &opts);
            let filename = args.filename.as_deref();
            async move { (video, one(api, source, video, t, opts, filename).await) }
        })
        .buffered(usize::from(args.batch.jobs));
    while let Some((video, result)) = work.next().await {
        match result {
            Ok(url) => {
                if global.json {
                    output::write_json_line(&json!({
                        "event": "url", "video": video.as_str(), "ok": true, "type": t.as_str(),
                        "url": url.as_str(), "signed": args.signed,
                    }))?;
                } else {
                    output::write_stdout(&format!("{url}\n"))?;
                }
            }
            Err(e) => {
                failed += 1;
                let f = Failure::from_error(&e, &setting);
                setup_error |= f.is_setup_error();
                if global.json {
                    output::write_json_line(&json!({
                        "event": "url", "video": video.as_str(), "ok": false, "type": t.as_str(),
                        "error": f.to_json(),
                    }))?;
                } else {
                    f.write(&mut std::io::stderr().lock())?;
                }
                if setup_error {
                    // Every other video would fail the same way.
                    break;
                }
            }
        }
    }
    drop(work);
    if failed > 0 && !global.json && !global.quiet {
        let total = selection.videos.len();
        writeln!(std::io::stderr().lock(), "url: {} of {total} videos succeeded", total - failed)?;
    }
    Ok(if setup_error {
        ExitStatus::Error
    } else if failed > 0 || !selection.bad.is_empty() {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}

/// The URL of `video`'s download of type `t`, signed as `source` says.
async fn one(
    api: &DownloadsApi<'_>,
    source: &Source,
    video: &VideoId,
    t: &DownloadType,
    opts: &TokenOptions,
    filename: Option<&str>,
) -> anyhow::Result<cfstream_types::Url> {
    let listed = api
        .list(video)
        .await
        .with_context(|| format!("video {video}: could not list its downloads"))?;
    let Some(download) = listed.get(t) else {
        return Err(anyhow::Error::new(Hint(format!(
            "create it with `cfstream downloads create --type {t} {video}`"
        )))
        .context(format!("video {video}: it has no {t} download")));
    };
    let Some(url) = download.url.clone() else {
        return Err(anyhow::Error::new(Hint(format!(
            "wait for it with `cfstream downloads wait --type {t} {video}`"
        )))
        .context(format!(
            "video {video}: the {t} download has no url yet (status {})",
            download.status
        )));
    };
    let token: Option<SignedToken> = match source {
        Source::Unsigned => None,
        Source::Key(k) => Some(
            k.sign(video, opts)
                .with_context(|| format!("video {video}: could not sign a token"))?,
        ),
        Source::Endpoint => Some(
            api.create_token(video, opts.clone())
                .await
                .with_context(|| format!("video {video}: could not get a token"))?,
        ),
    };
    let mut url = match &token {
        Some(token) => signed_url(&url, token)
            .with_context(|| format!("video {video}: could not sign the url"))?,
        None => url,
    };
    if let Some(name) = filename {
        url.query_pairs_mut().append_pair("filename", name);
    }
    Ok(url)
}
