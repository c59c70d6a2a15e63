//! Credentials from the environment only (`CLOUDFLARE_API_TOKEN`, or `CLOUDFLARE_EMAIL` +
//! `CLOUDFLARE_API_KEY`), so that a secret never lands in shell history through a flag.
//! Errors name the variables read, never their values.

use cfstream_types::Credentials;

use crate::errors::Hint;

/// The token variable.
pub(crate) const TOKEN: &str = "CLOUDFLARE_API_TOKEN";
/// The legacy email variable.
pub(crate) const EMAIL: &str = "CLOUDFLARE_EMAIL";
/// The legacy global key variable.
pub(crate) const KEY: &str = "CLOUDFLARE_API_KEY";

/// Credentials read from the environment, and which variables they came from.
#[derive(Debug, Clone)]
pub(crate) struct EnvCredentials {
    pub(crate) credentials: Credentials,
    /// `CLOUDFLARE_API_TOKEN` or `CLOUDFLARE_EMAIL and CLOUDFLARE_API_KEY`.
    pub(crate) vars: &'static str,
}

/// Reads credentials through `get` (the process environment in `main`, a map in tests).
/// An API token wins over the legacy email + key; empty values count as unset.
pub(crate) fn credentials(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<EnvCredentials> {
    let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
    if let Some(token) = get(TOKEN) {
        return Ok(EnvCredentials { credentials: Credentials::token(token.trim()), vars: TOKEN });
    }
    match (get(EMAIL), get(KEY)) {
        (Some(email), Some(key)) => Ok(EnvCredentials {
            credentials: Credentials::key(email.trim(), key.trim()),
            vars: "CLOUDFLARE_EMAIL and CLOUDFLARE_API_KEY",
        }),
        (Some(_), None) => Err(anyhow::Error::new(Hint(format!(
            "set {KEY} to the account's global API key, or use an API token in {TOKEN} instead"
        )))
        .context(format!("{EMAIL} is set but {KEY} is not"))),
        (None, Some(_)) => Err(anyhow::Error::new(Hint(format!(
            "set {EMAIL} to the account's email, or use an API token in {TOKEN} instead"
        )))
        .context(format!("{KEY} is set but {EMAIL} is not"))),
        (None, None) => Err(anyhow::Error::new(Hint(format!(
            "create an API token with Stream permissions in the Cloudflare dashboard and `export {TOKEN}=...` \
             (or, for the local emulator, run `cfstream serve` and paste the lines it prints)"
        )))
        .context(format!("no credentials: none of {TOKEN}, {EMAIL}, {KEY} is set"))),
    }
}

/// The process environment.
pub(crate) fn process(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> anyhow::Result<EnvCredentials> {
        let map: HashMap<String, String> =
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        credentials(|n| map.get(n).cloned())
    }

    #[test]
    fn token_wins_and_key_needs_both() {
        let c = from(&[(TOKEN, "t0k"), (EMAIL, "a@b.c"), (KEY, "k")]).unwrap();
        assert_eq!(c.credentials, Credentials::token("t0k"));
        assert_eq!(c.vars, TOKEN);
        let c = from(&[(EMAIL, "a@b.c"), (KEY, "k3y")]).unwrap();
        assert_eq!(c.credentials.scheme(), "email + global api key");
        let e = from(&[(EMAIL, "a@b.c")]).unwrap_err();
        assert_eq!(e.to_string(), "CLOUDFLARE_EMAIL is set but CLOUDFLARE_API_KEY is not");
        let e = from(&[(TOKEN, "  ")]).unwrap_err();
        assert!(e.to_string().starts_with("no credentials"), "{e}");
    }

    #[test]
    fn errors_never_hold_values() {
        let e = from(&[(KEY, "s3cr3t")]).unwrap_err();
        assert!(!format!("{e:?}").contains("s3cr3t"));
    }
}
