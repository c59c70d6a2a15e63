//! Credentials from the environment only (`CLOUDFLARE_API_TOKEN`, or `CLOUDFLARE_EMAIL` +
//! `CLOUDFLARE_API_KEY`), so that a secret never lands in shell history through a flag.
//!
//! The variables are read by [`Credentials::from_lookup`], the one reader of them in the
//! workspace; this module only adds the CLI's hint of what to do. Errors name the variables
//! read, never their values.

use cfstream_types::Credentials;
use cfstream_types::auth::{
    CredentialsError, ENV_API_KEY as KEY, ENV_API_TOKEN, ENV_EMAIL as EMAIL, EnvCredentials,
};

use crate::errors::Hint;

/// The token variable.
pub(crate) const TOKEN: &str = ENV_API_TOKEN;

/// Reads credentials through `get` (the process environment in `main`, a map in tests), with
/// [`Credentials::from_lookup`]'s rules (token first, values trimmed, empty is unset); an
/// error carries a [`Hint`].
pub(crate) fn credentials(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<EnvCredentials> {
    Credentials::from_lookup(get).map_err(|e| {
        let hint = match e {
            CredentialsError::EmailWithoutKey => format!(
                "set {KEY} to the account's global API key, or use an API token in {TOKEN} instead"
            ),
            CredentialsError::KeyWithoutEmail => format!(
                "set {EMAIL} to the account's email, or use an API token in {TOKEN} instead"
            ),
            _ => format!(
                "create an API token with Stream permissions in the Cloudflare dashboard and `export {TOKEN}=...` \
                 (or, for the local emulator, run `cfstream serve` and paste the lines it prints)"
            ),
        };
        anyhow::Error::new(Hint(hint)).context(e.to_string())
    })
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

    #[test]
    fn each_error_has_its_hint() {
        let hint = |pairs: &[(&str, &str)]| {
            let e = from(pairs).unwrap_err();
            e.chain().find_map(|c| c.downcast_ref::<Hint>()).map(|h| h.0.clone()).unwrap()
        };
        assert_eq!(
            hint(&[(EMAIL, "a@b.c")]),
            "set CLOUDFLARE_API_KEY to the account's global API key, or use an API token in CLOUDFLARE_API_TOKEN instead"
        );
        assert_eq!(
            hint(&[(KEY, "k")]),
            "set CLOUDFLARE_EMAIL to the account's email, or use an API token in CLOUDFLARE_API_TOKEN instead"
        );
        assert!(hint(&[]).starts_with("create an API token with Stream permissions"));
    }
}
