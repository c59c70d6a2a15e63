//! Credentials ([`Credentials`]) and the [`Secret`] wrapper that keeps them out of `Debug`,
//! `Display`, logs and error messages.
//!
//! The client sends these headers, the emulator checks them and the conformance harness sends
//! good, bad and missing ones, so the header names live here once.

use std::fmt;

/// `Authorization`: carries `Bearer <API token>`.
pub const AUTHORIZATION: &str = "authorization";
/// `X-Auth-Email`: the account email of the legacy global-key scheme.
pub const X_AUTH_EMAIL: &str = "x-auth-email";
/// `X-Auth-Key`: the legacy global API key.
pub const X_AUTH_KEY: &str = "x-auth-key";

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
}
