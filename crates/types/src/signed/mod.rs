//! Signed URLs as data: the token request ([`TokenRequest`]) and answer ([`TokenResult`]), the
//! signing-key resource ([`SigningKey`]), the [`SignedToken`] secret, and the four operations
//! ([`SigningOperation`], [`SigningEndpoint`]) beside the five downloads ones.
//!
//! A video that requires signed URLs serves its downloads only to a URL whose path holds a
//! token with `downloadable: true` in place of the video id. The token comes from the token
//! endpoint, or is signed locally (RS256) with a signing key. The operations live in their own
//! table, not in [`crate::Operation::ALL`]: code that loops over the downloads operations (the
//! emulator's router, the conformance checks) must not meet them unawares.
//!
//! Decoding is loss-free as for downloads: unknown fields land in `extra`, unknown access-rule
//! types and actions in `Other`. Private keys (`pem`, `jwk`) are [`Secret`]s and tokens are
//! [`SignedToken`]s: neither prints in `Debug` or `Display`.
mod answer;
mod operation;
mod request;

use std::borrow::Cow;
use std::fmt;

use serde::de::Deserializer;
use serde::{Deserialize, Serialize, Serializer};

use crate::auth::Secret;

pub use answer::{SigningKey, SigningKeyEnvelope, SigningKeysEnvelope, TokenEnvelope, TokenResult};
pub use operation::{
    KEY_PATH, KEYS_PATH, SigningEndpoint, SigningOperation, SigningResponseKind, TOKEN_PATH,
};
pub use request::{
    AccessAction, AccessRule, AccessRuleType, TokenFlags, TokenRequest, TokenRequestError,
};

/// The longest a token may live: `exp` at most 24 hours after it is issued.
pub const MAX_TOKEN_LIFETIME_SECS: i64 = 24 * 60 * 60;

/// A signed URL token (a JWT): a bearer credential for a video's files. Its `Debug` and
/// `Display` print `[redacted]`; the value is reached only through [`SignedToken::expose`].
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SignedToken(String);

impl SignedToken {
    /// Wraps `token`.
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// The token. Call only where it is put in a URL.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SignedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SignedToken([redacted])")
    }
}

impl fmt::Display for SignedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Serialize for SignedToken {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SignedToken {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(SignedToken)
    }
}

/// Serializes an optional secret's value (the wire needs it; `Debug` never shows it).
pub(super) fn expose_secret<S: Serializer>(
    secret: &Option<Secret>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match secret {
        Some(v) => s.serialize_some(v.expose()),
        None => s.serialize_none(),
    }
}

fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// Whether `seg` looks like a JWT (a signed URL token): three non-empty base64url parts joined
/// by dots.
fn is_jwt(seg: &str) -> bool {
    let parts: Vec<&str> = seg.split('.').collect();
    parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.bytes().all(is_base64url))
}

/// Replaces every URL path segment that looks like a JWT, a signed URL's token (after a `/`,
/// up to the next character that cannot be part of one), with `[redacted]`: for logs and
/// messages that show a URL or path.
///
/// ```
/// use cfstream_types::signed::redact_token_segments;
/// let url = "https://h.example/eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln/downloads/default.mp4";
/// assert_eq!(redact_token_segments(url), "https://h.example/[redacted]/downloads/default.mp4");
/// ```
pub fn redact_token_segments(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'/' {
            i += 1;
            continue;
        }
        let start = i + 1;
        let mut end = start;
        while end < bytes.len() && (is_base64url(bytes[end]) || bytes[end] == b'.') {
            end += 1;
        }
        // `start..end` holds ASCII only, so both ends are char boundaries.
        if is_jwt(&text[start..end]) {
            let o = out.get_or_insert_with(String::new);
            o.push_str(&text[copied..start]);
            o.push_str("[redacted]");
            copied = end;
        }
        i = end.max(start);
    }
    match out {
        None => Cow::Borrowed(text),
        Some(mut o) => {
            o.push_str(&text[copied..]);
            Cow::Owned(o)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Operation;
    use crate::ids::{AccountId, SigningKeyId, VideoId};

    fn account() -> AccountId {
        "023e105f4ecef8ad9ca31a8372d0c353".parse().unwrap()
    }

    #[test]
    fn token_segments_are_redacted_and_nothing_else() {
        for kept in ["/downloads/default.mp4", "/a..b/c", "/a.b.c.d/", "/.b.c", "/a.b.", "x.y.z"] {
            assert!(matches!(redact_token_segments(kept), Cow::Borrowed(k) if k == kept));
        }
        assert_eq!(redact_token_segments("/a.b.c"), "/[redacted]");
        assert_eq!(redact_token_segments("'/a.b.c'/x.y.z/é"), "'/[redacted]'/[redacted]/é");
        assert_eq!(redact_token_segments("/a-_.b.c9?x=/d.e.f"), "/[redacted]?x=/[redacted]");
    }

    #[test]
    fn tokens_and_keys_never_print() {
        let t = SignedToken::new("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln");
        assert_eq!(format!("{t:?}"), "SignedToken([redacted])");
        assert_eq!(t.to_string(), "[redacted]");
        let r = TokenResult::new(t.clone());
        assert_eq!(format!("{r:?}"), "TokenResult { token: SignedToken([redacted]), extra: {} }");
        assert_eq!(serde_json::to_value(&r).unwrap(), serde_json::json!({"token": t.expose()}));
        let key: SigningKey = serde_json::from_value(serde_json::json!({
            "id": "8f926b2b2b2e4b1db2ad6f9e4b1d6b8e", "pem": "LS0tLS1CRUdJTi1wZW0=",
            "jwk": "eyJrdHkiOiJSU0EifQ==", "created": "2026-12-02T10:00:00Z",
        }))
        .unwrap();
        let shown = format!("{key:?}");
        assert!(!shown.contains("LS0t") && !shown.contains("eyJrdHk"), "{shown}");
        assert!(shown.contains("pem: Some(Secret([redacted])), jwk: Some(Secret([redacted]))"));
        // On the wire the values are there.
        assert_eq!(serde_json::to_value(&key).unwrap()["pem"], "LS0tLS1CRUdJTi1wZW0=");
    }

    #[test]
    fn requests_keep_unknown_fields_and_names() {
        let body = serde_json::json!({
            "downloadable": true, "exp": 1_700_000_000, "x-new": [1],
            "accessRules": [
                {"type": "ip.geoip.country", "action": "block", "country": ["US"]},
                {"type": "ip.asn", "action": "log", "asn": 13335},
            ],
            "flags": {"original": false, "other": true},
        });
        let r: TokenRequest = serde_json::from_value(body.clone()).unwrap();
        let rules = r.access_rules.as_ref().unwrap();
        assert_eq!(rules[0].rule_type, AccessRuleType::IpGeoipCountry);
        assert_eq!(rules[1].rule_type, AccessRuleType::Other("ip.asn".into()));
        assert_eq!(rules[1].action, AccessAction::Other("log".into()));
        assert_eq!(rules[1].extra["asn"], 13335);
        assert_eq!(r.extra["x-new"], serde_json::json!([1]));
        assert_eq!(serde_json::to_value(&r).unwrap(), body);
        // An empty body is the defaults; the defaults serialize to an empty body.
        let empty: TokenRequest = serde_json::from_str("{}").unwrap();
        assert_eq!(empty, TokenRequest::default());
        assert_eq!(serde_json::to_string(&empty).unwrap(), "{}");
        let e = serde_json::from_str::<TokenRequest>(r#"{"id":"../x"}"#).unwrap_err();
        assert!(e.to_string().contains("invalid signing key id '../x'"), "{e}");
        let key: SigningKeyId = "ab".parse().unwrap();
        let signed = TokenRequest::downloadable().expires_at(5).signed_with(key, "cGVt".into());
        assert_eq!(
            serde_json::to_string(&signed).unwrap(),
            r#"{"downloadable":true,"exp":5,"id":"ab","pem":"cGVt"}"#
        );
    }

    #[test]
    fn requests_are_checked_against_the_documented_rules() {
        let now = 1_700_000_000;
        let key: SigningKeyId = "ab".parse().unwrap();
        assert_eq!(TokenRequest::default().check(now), Ok(()));
        let day = TokenRequest::downloadable().expires_at(now + MAX_TOKEN_LIFETIME_SECS);
        assert_eq!(day.check(now), Ok(()));
        let late = TokenRequest::downloadable().expires_at(now + MAX_TOKEN_LIFETIME_SECS + 1);
        let e = late.check(now).unwrap_err();
        assert_eq!(e, TokenRequestError::ExpiresTooLate { exp: now + 86_401, now });
        assert_eq!(
            e.to_string(),
            "invalid token request: exp 1700086401 is more than 24 hours after 1700000000"
        );
        let mut half = TokenRequest::default().signed_with(key, "cGVt".into());
        assert_eq!(half.check(now), Ok(()));
        half.pem = None;
        assert_eq!(half.check(now), Err(TokenRequestError::IdWithoutPem));
        half.id = None;
        half.pem = Some("cGVt".into());
        assert_eq!(half.check(now), Err(TokenRequestError::PemWithoutId));
        assert_eq!(TokenRequest::default().expires_at(i64::MAX).check(i64::MAX), Ok(()));
    }

    #[test]
    fn operation_ids_and_names_are_exact() {
        let got: Vec<(&str, &str, String)> = SigningOperation::ALL
            .iter()
            .map(|o| (o.operation_id(), o.name(), o.to_string()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "stream-videos-create-signed-url-tokens-for-videos",
                    "create_token",
                    "create_token"
                ),
                ("stream-signing-keys-create-signing-keys", "create_key", "create_key"),
                ("stream-signing-keys-list-signing-keys", "list_keys", "list_keys"),
                ("stream-signing-keys-delete-signing-keys", "delete_key", "delete_key"),
            ]
            .map(|(id, name, shown)| (id, name, shown.to_owned()))
        );
    }

    #[test]
    fn operations_are_apart_from_the_downloads_ones() {
        let a = account();
        let v: VideoId = "ea95132c15732412d22c1476fa83f27a".parse().unwrap();
        let k: SigningKeyId = "8f926b2b2b2e4b1db2ad6f9e4b1d6b8e".parse().unwrap();
        let cases = [
            (SigningEndpoint::create_token(&a, &v), "POST", Some(v.as_str())),
            (SigningEndpoint::create_key(&a), "POST", None),
            (SigningEndpoint::list_keys(&a), "GET", None),
            (SigningEndpoint::delete_key(&a, &k), "DELETE", Some(k.as_str())),
        ];
        for (e, method, id) in cases {
            let op = e.operation();
            assert_eq!(e.method().as_str(), method);
            assert_eq!(op.takes_identifier(), id.is_some());
            let expected = op
                .path_template()
                .replace("{account_id}", a.as_str())
                .replace("{identifier}", id.unwrap_or_default());
            assert_eq!(e.path(), expected);
            assert_eq!(op.render(a.as_str(), id), expected);
            assert!(!Operation::ALL.iter().any(|o| o.operation_id() == op.operation_id()));
        }
        assert_eq!(
            SigningEndpoint::create_token(&a, &v).path(),
            format!("/accounts/{a}/stream/{v}/token")
        );
        assert_eq!(
            SigningOperation::DeleteKey.render("a/b", Some("%2e/x")),
            "/accounts/a%2Fb/stream/keys/%252e%2Fx"
        );
        assert_eq!(
            SigningEndpoint::list_keys(&a).url("http://127.0.0.1:1/client/v4/"),
            format!("http://127.0.0.1:1/client/v4/accounts/{a}/stream/keys")
        );
    }
}
