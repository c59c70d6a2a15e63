//! Checking a request's credentials against the configured ones, as Cloudflare does: no
//! credentials at all is 401 (code 9106), wrong ones 403 (code 10000).

use std::net::IpAddr;

use axum::response::Response;
use cfstream_types::auth::{AUTHORIZATION, X_AUTH_EMAIL, X_AUTH_KEY};
use cfstream_types::{Credentials, ErrorCode};
use http::{HeaderMap, StatusCode};

use crate::ratelimit::RateKey;
use crate::respond::failure;

/// Why a request is not authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Denied {
    /// Neither `Authorization` nor both of `X-Auth-Email` and `X-Auth-Key`.
    Missing,
    /// Credentials that match none of the configured ones.
    Wrong,
}

impl Denied {
    pub(crate) fn response(self) -> Response {
        match self {
            Denied::Missing => failure(
                StatusCode::UNAUTHORIZED,
                ErrorCode::MissingAuthHeaders,
                "Missing X-Auth-Key, X-Auth-Email or Authorization headers",
            ),
            Denied::Wrong => {
                failure(StatusCode::FORBIDDEN, ErrorCode::Authentication, "Authentication error")
            }
        }
    }
}

/// Compares without an early exit, so timing does not tell how much of a secret matched.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks `headers` against `accepted`. `Authorization` decides when present; otherwise the
/// email + key pair.
pub(crate) fn check(headers: &HeaderMap, accepted: &[Credentials]) -> Result<(), Denied> {
    matching(headers, accepted).map(|_| ())
}

/// The rate limiter's key for a request: the accepted credentials it presents (however they
/// are written), or else its client address, so that made-up credentials cannot buy fresh
/// buckets.
pub(crate) fn rate_key(headers: &HeaderMap, accepted: &[Credentials], client: IpAddr) -> RateKey {
    match matching(headers, accepted) {
        Ok(i) => RateKey::Credential(i),
        Err(_) => RateKey::Address(client),
    }
}

/// The index in `accepted` of the credentials `headers` present, as [`check`] decides.
fn matching(headers: &HeaderMap, accepted: &[Credentials]) -> Result<usize, Denied> {
    if let Some(value) = headers.get(AUTHORIZATION) {
        let value = value.as_bytes();
        let token = match value.get(..7) {
            Some(scheme) if scheme.eq_ignore_ascii_case(b"bearer ") => value[7..].trim_ascii(),
            _ => return Err(Denied::Wrong),
        };
        return accepted
            .iter()
            .position(|c| match c {
                Credentials::Token(t) => same(t.expose().as_bytes(), token),
                _ => false,
            })
            .ok_or(Denied::Wrong);
    }
    let (Some(email), Some(key)) = (headers.get(X_AUTH_EMAIL), headers.get(X_AUTH_KEY)) else {
        return Err(Denied::Missing);
    };
    accepted
        .iter()
        .position(|c| match c {
            Credentials::Key { email: e, key: k } => {
                e.as_bytes().eq_ignore_ascii_case(email.as_bytes().trim_ascii())
                    && same(k.expose().as_bytes(), key.as_bytes().trim_ascii())
            }
            _ => false,
        })
        .ok_or(Denied::Wrong)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn checks_tokens_and_keys() {
        let accepted = [Credentials::token("tok"), Credentials::key("me@example.com", "k3y")];
        assert_eq!(check(&headers(&[("authorization", "Bearer tok")]), &accepted), Ok(()));
        assert_eq!(check(&headers(&[("authorization", "bearer  tok ")]), &accepted), Ok(()));
        assert_eq!(
            check(&headers(&[("authorization", "Bearer tok2")]), &accepted),
            Err(Denied::Wrong)
        );
        assert_eq!(
            check(&headers(&[("authorization", "Basic tok")]), &accepted),
            Err(Denied::Wrong)
        );
        assert_eq!(check(&headers(&[("authorization", "")]), &accepted), Err(Denied::Wrong));
        assert_eq!(
            check(
                &headers(&[("x-auth-email", "ME@example.com"), ("x-auth-key", "k3y")]),
                &accepted
            ),
            Ok(())
        );
        assert_eq!(
            check(
                &headers(&[("x-auth-email", "me@example.com"), ("x-auth-key", "nope")]),
                &accepted
            ),
            Err(Denied::Wrong)
        );
        assert_eq!(
            check(&headers(&[("x-auth-email", "me@example.com")]), &accepted),
            Err(Denied::Missing)
        );
        assert_eq!(check(&HeaderMap::new(), &accepted), Err(Denied::Missing));
        // A key is not a token.
        assert_eq!(
            check(&headers(&[("authorization", "Bearer k3y")]), &accepted),
            Err(Denied::Wrong)
        );
        let ip = IpAddr::from([127, 0, 0, 1]);
        let key = |pairs| rate_key(&headers(pairs), &accepted, ip);
        assert_eq!(key(&[("authorization", "bearer  tok ")]), RateKey::Credential(0));
        assert_eq!(
            key(&[("x-auth-email", " ME@example.com"), ("x-auth-key", "k3y ")]),
            RateKey::Credential(1)
        );
        assert_eq!(key(&[("authorization", "Bearer made-up")]), RateKey::Address(ip));
        assert_eq!(key(&[]), RateKey::Address(ip));
    }

    /// A secret of the right length is accepted only byte for byte: a token with two letters
    /// swapped (whose differences cancel out under XOR) or one letter changed is wrong.
    #[test]
    fn a_secret_of_the_right_length_must_match_every_byte() {
        let accepted = [Credentials::token("tok"), Credentials::key("me@example.com", "k3y")];
        for wrong in ["Bearer otk", "Bearer tol", "Bearer Tok"] {
            assert_eq!(check(&headers(&[("authorization", wrong)]), &accepted), Err(Denied::Wrong));
        }
        for wrong_key in ["3ky", "k3z"] {
            assert_eq!(
                check(
                    &headers(&[("x-auth-email", "me@example.com"), ("x-auth-key", wrong_key)]),
                    &accepted
                ),
                Err(Denied::Wrong),
                "{wrong_key}"
            );
        }
        assert!(same(b"", b""));
        assert!(same(b"tok", b"tok"));
        assert!(!same(b"tok", b"otk"));
        assert!(!same(b"tok", b"tok2"));
    }

    /// Only the `Bearer` scheme (any case, then a space) carries a token: another seven
    /// characters before the right token are still wrong credentials.
    #[test]
    fn only_the_bearer_scheme_carries_a_token() {
        let accepted = [Credentials::token("tok")];
        for wrong in ["Bearer:tok", "Basic  tok", "Token: tok", "bearer_tok"] {
            assert_eq!(
                check(&headers(&[("authorization", wrong)]), &accepted),
                Err(Denied::Wrong),
                "{wrong}"
            );
        }
        assert_eq!(check(&headers(&[("authorization", "BEARER tok")]), &accepted), Ok(()));
    }

    /// The key pair needs both halves right: the right key under another email is wrong, and
    /// so is a token's secret sent as a key.
    #[test]
    fn a_key_needs_its_own_email() {
        let accepted = [Credentials::token("tok"), Credentials::key("me@example.com", "k3y")];
        let pair = |email, key| headers(&[("x-auth-email", email), ("x-auth-key", key)]);
        assert_eq!(check(&pair("you@example.com", "k3y"), &accepted), Err(Denied::Wrong));
        assert_eq!(check(&pair("me@example.co", "k3y"), &accepted), Err(Denied::Wrong));
        assert_eq!(check(&pair("me@example.com", "tok"), &accepted), Err(Denied::Wrong));
        assert_eq!(check(&pair("me@example.com", "k3y"), &accepted), Ok(()));
        // Two key pairs: each email with its own key, and the rate key names which one.
        let two =
            [Credentials::key("a@example.com", "one"), Credentials::key("b@example.com", "two")];
        let ip = IpAddr::from([192, 0, 2, 1]);
        assert_eq!(check(&pair("a@example.com", "two"), &two), Err(Denied::Wrong));
        assert_eq!(rate_key(&pair("b@example.com", "two"), &two, ip), RateKey::Credential(1));
        assert_eq!(rate_key(&pair("a@example.com", "one"), &two, ip), RateKey::Credential(0));
        assert_eq!(rate_key(&pair("a@example.com", "two"), &two, ip), RateKey::Address(ip));
    }
}
