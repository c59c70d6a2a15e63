//! Keeping secrets out of errors: a server may echo the caller's API token or key, or a
//! signing answer may carry a token or private key, in the very body an error quotes.

use bytes::Bytes;
use cfstream_types::Credentials;

use crate::error::Error;

/// Credentials shorter than this are not redacted from errors: replacing every `t` of a
/// message would hide nothing and make it unreadable (no real token or key is that short).
const MIN_CREDENTIAL_LEN: usize = 4;

/// The values of `credentials` to keep out of errors: the token, or the global API key (the
/// email is not a secret and names the account in messages a user needs to read).
pub(crate) fn credential_secrets(credentials: &Credentials) -> Vec<String> {
    let secret = credentials.secret().expose();
    if secret.chars().count() < MIN_CREDENTIAL_LEN {
        return Vec::new();
    }
    vec![secret.to_owned()]
}

/// What a secret is replaced with in an error.
const REDACTED: &str = "[redacted]";
/// The shortest start of a secret replaced where the body snippet cut it.
const CUT_MIN: usize = 8;

/// `text` with every one of `secrets` replaced, and a secret's start (at least [`CUT_MIN`]
/// characters) at the very end, where a snippet may have cut it.
pub(crate) fn redact_text(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_owned();
    for s in secrets {
        out = out.replace(s.as_str(), REDACTED);
    }
    for s in secrets {
        let cut = (CUT_MIN.min(s.len())..s.len())
            .rev()
            .filter(|&at| s.is_char_boundary(at))
            .find(|&at| out.ends_with(&s[..at]));
        if let Some(at) = cut {
            out.truncate(out.len() - at);
            out.push_str(REDACTED);
            break;
        }
    }
    out
}

/// `e` without `secrets` in its message, body snippet or the envelope's messages: an error is
/// shown, logged and kept, and a server that echoes the caller's token or key, or a signed
/// URL's token or private key, must not get it printed.
pub(crate) fn without_secrets(mut e: Error, secrets: &[String]) -> Error {
    if secrets.is_empty() {
        return e;
    }
    let inner = &mut e.inner;
    inner.message = redact_text(&inner.message, secrets);
    if let Some(body) = &inner.body {
        let text = String::from_utf8_lossy(body);
        let redacted = redact_text(&text, secrets);
        if redacted != text {
            inner.body = Some(Bytes::from(redacted));
        }
    }
    if let Some(api) = &mut inner.api {
        for m in api.errors.iter_mut().chain(api.messages.iter_mut()) {
            m.message = redact_text(&m.message, secrets);
        }
    }
    e
}
