//! Credentials ([`Credentials`]) and the [`Secret`] wrapper that keeps them out of `Debug`,
//! `Display`, logs and error messages.
//!
//! The client sends these headers, the emulator checks them and the conformance harness sends
//! good, bad and missing ones, so the header names live here once; and
//! [`Credentials::from_lookup`] is the one reader of the `CLOUDFLARE_*` credential variables.

use std::fmt;

/// `Authorization`: carries `Bearer <API token>`.
pub const AUTHORIZATION: &str = "authorization";
/// `X-Auth-Email`: the account email of the legacy global-key scheme.
pub const X_AUTH_EMAIL: &str = "x-auth-email";
/// `X-Auth-Key`: the legacy global API key.
pub const X_AUTH_KEY: &str = "x-auth-key";

/// The environment variable that holds an API token.
pub const ENV_API_TOKEN: &str = "CLOUDFLARE_API_TOKEN";
/// The environment variable that holds the account email of the legacy global-key scheme.
pub const ENV_EMAIL: &str = "CLOUDFLARE_EMAIL";
/// The environment variable that holds the legacy global API key.
pub const ENV_API_KEY: &str = "CLOUDFLARE_API_KEY";

/// A secret string (an API token or key). Its `Debug` and `Display` print `[redacted]`; the
/// value is reached only through [`Secret::expose`], which is greppable.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value. Call only where it is put on the wire or compared.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

/// How a request authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Credentials {
    /// An API token, sent as `Authorization: Bearer <token>` (preferred by Cloudflare).
    Token(Secret),
    /// The legacy global API key, sent as `X-Auth-Email` and `X-Auth-Key`.
    Key {
        /// The account's email (not secret).
        email: String,
        /// The global API key.
        key: Secret,
    },
}

impl Credentials {
    /// Token credentials.
    pub fn token(token: impl Into<String>) -> Self {
        Credentials::Token(Secret::new(token))
    }

    /// Email + global key credentials.
    pub fn key(email: impl Into<String>, key: impl Into<String>) -> Self {
        Credentials::Key { email: email.into(), key: Secret::new(key) }
    }

    /// The headers that carry these credentials, as (lower-case name, value) pairs. The values
    /// hold the secret: put them on the wire, never in a log.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        match self {
            Credentials::Token(t) => vec![(AUTHORIZATION, format!("Bearer {}", t.expose()))],
            Credentials::Key { email, key } => {
                vec![(X_AUTH_EMAIL, email.clone()), (X_AUTH_KEY, key.expose().to_owned())]
            }
        }
    }

    /// The secret part (the token or the key), for redaction and checks.
    pub fn secret(&self) -> &Secret {
        match self {
            Credentials::Token(t) => t,
            Credentials::Key { key, .. } => key,
        }
    }

    /// `"api token"` or `"email + global api key"`: what kind of credentials these are, safe
    /// to print.
    pub fn scheme(&self) -> &'static str {
        match self {
            Credentials::Token(_) => "api token",
            Credentials::Key { .. } => "email + global api key",
        }
    }
}

/// Credentials read from the environment, and which variables they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EnvCredentials {
    /// The credentials.
    pub credentials: Credentials,
    /// The variables read: `CLOUDFLARE_API_TOKEN`, or `CLOUDFLARE_EMAIL and
    /// CLOUDFLARE_API_KEY`. Safe to print.
    pub vars: &'static str,
}

/// Why no credentials could be read from the environment. Names variables, never values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsError {
    /// None of the variables is set.
    #[error("no credentials: none of {ENV_API_TOKEN}, {ENV_EMAIL}, {ENV_API_KEY} is set")]
    Missing,
    /// The email is set but the global key is not.
    #[error("{ENV_EMAIL} is set but {ENV_API_KEY} is not")]
    EmailWithoutKey,
    /// The global key is set but the email is not.
    #[error("{ENV_API_KEY} is set but {ENV_EMAIL} is not")]
    KeyWithoutEmail,
}

impl Credentials {
    /// Reads credentials through `get` (a variable's value by name): an API token in
    /// `CLOUDFLARE_API_TOKEN` wins over the legacy `CLOUDFLARE_EMAIL` + `CLOUDFLARE_API_KEY`.
    /// Values are trimmed, and an empty or blank value counts as unset. This is the one reader
    /// of those variables (the client builder, the CLI and xtask all call it).
    ///
    /// ```
    /// use cfstream_types::auth::{Credentials, CredentialsError};
    ///
    /// let env = |name: &str| (name == "CLOUDFLARE_API_TOKEN").then(|| " t0k3n\n".to_owned());
    /// let read = Credentials::from_lookup(env)?;
    /// assert_eq!(read.credentials, Credentials::token("t0k3n"));
    /// assert_eq!(read.vars, "CLOUDFLARE_API_TOKEN");
    /// assert_eq!(Credentials::from_lookup(|_| None), Err(CredentialsError::Missing));
    /// # Ok::<(), CredentialsError>(())
    /// ```
    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<EnvCredentials, CredentialsError> {
        let get = |name: &str| get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        if let Some(token) = get(ENV_API_TOKEN) {
            return Ok(EnvCredentials {
                credentials: Credentials::token(token),
                vars: ENV_API_TOKEN,
            });
        }
        match (get(ENV_EMAIL), get(ENV_API_KEY)) {
            (Some(email), Some(key)) => Ok(EnvCredentials {
                credentials: Credentials::key(email, key),
                vars: "CLOUDFLARE_EMAIL and CLOUDFLARE_API_KEY",
            }),
            (Some(_), None) => Err(CredentialsError::EmailWithoutKey),
            (None, Some(_)) => Err(CredentialsError::KeyWithoutEmail),
            (None, None) => Err(CredentialsError::Missing),
        }
    }

    /// [`Credentials::from_lookup`] over the process environment (a variable that is not
    /// valid Unicode counts as unset).
    pub fn from_env() -> Result<EnvCredentials, CredentialsError> {
        Credentials::from_lookup(|name| std::env::var(name).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let c = Credentials::token("s3cr3t-token");
        assert!(!format!("{c:?}").contains("s3cr3t"));
        let k = Credentials::key("me@example.com", "s3cr3t-key");
        assert!(!format!("{k:?}").contains("s3cr3t"));
        assert!(format!("{k:?}").contains("me@example.com"));
        assert_eq!(k.secret().to_string(), "[redacted]");
        assert_eq!(c.headers(), vec![(AUTHORIZATION, "Bearer s3cr3t-token".to_owned())]);
        assert_eq!(k.headers()[1], (X_AUTH_KEY, "s3cr3t-key".to_owned()));
    }

    /// The exact redacted forms: a `Debug` that leaked a prefix of the secret ("s3cr...") would
    /// pass a test that only looks for the whole secret.
    #[test]
    fn the_redacted_forms_are_exact() {
        let s = Secret::new("s3cr3t-token");
        assert_eq!(format!("{s:?}"), "Secret([redacted])");
        assert_eq!(format!("{s:#?}"), "Secret([redacted])");
        assert_eq!(format!("{s}"), "[redacted]");
        assert_eq!(
            format!("{:?}", Credentials::token("s3cr3t-token")),
            "Token(Secret([redacted]))"
        );
        assert_eq!(
            format!("{:?}", Credentials::key("me@example.com", "s3cr3t-key")),
            r#"Key { email: "me@example.com", key: Secret([redacted]) }"#
        );
        assert_eq!(s.expose(), "s3cr3t-token");
    }

    fn lookup(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn from_lookup_trims_prefers_the_token_and_names_what_is_missing() {
        let read = Credentials::from_lookup(lookup(&[
            (ENV_API_TOKEN, "\tt0k\n"),
            (ENV_EMAIL, "a@b.c"),
            (ENV_API_KEY, "k"),
        ]))
        .unwrap();
        assert_eq!(
            read,
            EnvCredentials { credentials: Credentials::token("t0k"), vars: ENV_API_TOKEN }
        );
        let read = Credentials::from_lookup(lookup(&[
            (ENV_API_TOKEN, "  "),
            (ENV_EMAIL, " a@b.c "),
            (ENV_API_KEY, "k3y "),
        ]))
        .unwrap();
        assert_eq!(read.credentials, Credentials::key("a@b.c", "k3y"));
        assert_eq!(read.vars, "CLOUDFLARE_EMAIL and CLOUDFLARE_API_KEY");
        let err = |pairs| Credentials::from_lookup(lookup(pairs)).unwrap_err();
        assert_eq!(err(&[(ENV_EMAIL, "a@b.c")]), CredentialsError::EmailWithoutKey);
        assert_eq!(
            err(&[(ENV_API_KEY, "s3cr3t"), (ENV_EMAIL, "")]),
            CredentialsError::KeyWithoutEmail
        );
        assert_eq!(err(&[(ENV_API_TOKEN, "")]), CredentialsError::Missing);
        assert_eq!(
            err(&[(ENV_API_KEY, "s3cr3t")]).to_string(),
            "CLOUDFLARE_API_KEY is set but CLOUDFLARE_EMAIL is not"
        );
        assert_eq!(
            CredentialsError::Missing.to_string(),
            "no credentials: none of CLOUDFLARE_API_TOKEN, CLOUDFLARE_EMAIL, CLOUDFLARE_API_KEY is set"
        );
    }
}
