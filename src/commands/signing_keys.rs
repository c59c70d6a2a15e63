//! `cfstream signing-keys create|list|delete`: the signing keys that sign URL tokens offline.
//! `create` prints the `export` lines for the new key, the one place a secret is printed: on
//! request, to stdout.

use std::io::Write as _;

use anyhow::Context as _;
use cfstream_http::{ENV_SIGNING_KEY_ID, ENV_SIGNING_KEY_PEM};
use cfstream_types::SigningKeyId;
use serde_json::json;

use crate::cli::{Global, RateSetting, SigningKeys};
use crate::commands::url::client;
use crate::errors::{ExitStatus, Failure};
use crate::output;

/// Runs a `signing-keys` command.
pub(crate) async fn run(global: &Global, cmd: SigningKeys) -> anyhow::Result<ExitStatus> {
    let (client, account, setting) = client(global, RateSetting::Off, 4)?;
    let api = client.downloads(&account);
    let fail = |e: cfstream_http::Error, what: &str| {
        let e = anyhow::Error::new(e).context(what.to_owned());
        let f = Failure::from_error(&e, &setting);
        if global.json {
            output::write_json_line(&json!({"event": "error", "ok": false, "error": f.to_json()}))?;
        } else {
            f.write(&mut std::io::stderr().lock())?;
        }
        Ok::<_, std::io::Error>(if f.is_setup_error() {
            ExitStatus::Error
        } else {
            ExitStatus::Failure
        })
    };
    match cmd {
        SigningKeys::Create => {
            let key = match api.create_signing_key().await {
                Ok(k) => k,
                Err(e) => return Ok(fail(e, "could not create a signing key")?),
            };
            let pem = key.pem.as_ref().context("the server's answer has no pem for the new key")?;
            if global.json {
                output::write_json_line(&json!({
                    "event": "signing_key", "id": key.id.as_str(), "created": key.created,
                    "pem": pem.expose(),
                }))?;
            } else {
                let mut out = std::io::stdout().lock();
                writeln!(out, "export {ENV_SIGNING_KEY_ID}={}", key.id)?;
                writeln!(out, "export {ENV_SIGNING_KEY_PEM}={}", pem.expose())?;
                out.flush()?;
                if !global.quiet {
                    writeln!(
                        std::io::stderr().lock(),
                        "signing key {} created: paste the two lines above into your shell; the private key is not shown again",
                        key.id
                    )?;
                }
            }
            Ok(ExitStatus::Success)
        }
        SigningKeys::List => {
            let keys = match api.list_signing_keys().await {
                Ok(k) => k,
                Err(e) => return Ok(fail(e, "could not list the signing keys")?),
            };
            for k in &keys {
                if global.json {
                    output::write_json_line(&json!({
                        "event": "signing_key", "id": k.id.as_str(), "created": k.created,
                    }))?;
                } else {
                    let created = k.created.as_deref().unwrap_or("-");
                    output::write_stdout(&format!("{}  {created}\n", k.id))?;
                }
            }
            Ok(ExitStatus::Success)
        }
        SigningKeys::Delete(args) => {
            let id: SigningKeyId = args.id.trim().parse().context("bad signing key id")?;
            if let Err(e) = api.delete_signing_key(&id).await {
                return Ok(fail(e, &format!("could not delete signing key {id}"))?);
            }
            if global.json {
                output::write_json_line(
                    &json!({"event": "deleted", "id": id.as_str(), "ok": true}),
                )?;
            } else if !global.quiet {
                writeln!(std::io::stderr().lock(), "signing key {id} deleted")?;
            }
            Ok(ExitStatus::Success)
        }
    }
}
