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

use std::fmt;

use serde::de::{Deserializer, MapAccess};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::auth::Secret;
use crate::de::{FromMap, from_map, required, visit_fields};
use crate::endpoint::{Method, segment};
use crate::envelope::Envelope;
use crate::ids::{AccountId, SigningKeyId, VideoId};

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
fn expose_secret<S: Serializer>(secret: &Option<Secret>, s: S) -> Result<S::Ok, S::Error> {
    match secret {
        Some(v) => s.serialize_some(v.expose()),
        None => s.serialize_none(),
    }
}

/// An enum of wire names with a lossless `Other`.
macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $wire:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
            /// A name this crate does not know, as it was sent.
            Other(String),
        }

        impl $name {
            /// The name used on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $wire,)*
                    $name::Other(s) => s,
                }
            }

            /// The value of a wire name (an unknown one as `Other`).
            pub fn from_wire(s: &str) -> Self {
                match s {
                    $($wire => $name::$variant,)*
                    other => $name::Other(other.to_owned()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            /// Lossless: whatever name is sent is kept.
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                String::deserialize(d).map(|s| $name::from_wire(&s))
            }
        }
    };
}

wire_enum!(
    /// What an access rule matches.
    AccessRuleType {
        /// Every request.
        Any = "any",
        /// Requests from the addresses in [`AccessRule::ip`].
        IpSrc = "ip.src",
        /// Requests from the countries in [`AccessRule::country`].
        IpGeoipCountry = "ip.geoip.country",
    }
);

wire_enum!(
    /// What an access rule does with the requests it matches.
    AccessAction {
        /// Let them through.
        Allow = "allow",
        /// Refuse them.
        Block = "block",
    }
);

/// One entry of a token's `accessRules`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct AccessRule {
    /// What the rule matches.
    #[serde(rename = "type")]
    pub rule_type: AccessRuleType,
    /// What it does.
    pub action: AccessAction,
    /// The addresses or ranges, for [`AccessRuleType::IpSrc`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<Vec<String>>,
    /// The country codes, for [`AccessRuleType::IpGeoipCountry`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<Vec<String>>,
    /// Fields this crate does not model, kept as they were sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl AccessRule {
    /// A rule of `rule_type` with `action`, no lists and no extra fields.
    pub fn new(rule_type: AccessRuleType, action: AccessAction) -> Self {
        Self { rule_type, action, ip: None, country: None, extra: Map::new() }
    }
}

impl<'de> Deserialize<'de> for AccessRule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_map(d)
    }
}

impl<'de> FromMap<'de> for AccessRule {
    const EXPECTING: &'static str = "an access rule object";

    fn from_map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        let (mut rule_type, mut action, mut ip, mut country) = (None, None, None, None);
        let mut extra = Map::new();
        visit_fields(map, &["type", "action", "ip", "country"], &mut extra, |i, map| {
            match i {
                0 => rule_type = Some(map.next_value()?),
                1 => action = Some(map.next_value()?),
                2 => ip = map.next_value()?,
                _ => country = map.next_value()?,
            }
            Ok(())
        })?;
        Ok(AccessRule {
            rule_type: required(rule_type, "type")?,
            action: required(action, "action")?,
            ip,
            country,
            extra,
        })
    }
}

/// A token's `flags`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct TokenFlags {
    /// Whether the token reaches the original upload (default `false`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original: Option<bool>,
    /// Fields this crate does not model, kept as they were sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl<'de> Deserialize<'de> for TokenFlags {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_map(d)
    }
}

impl<'de> FromMap<'de> for TokenFlags {
    const EXPECTING: &'static str = "a flags object";

    fn from_map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        let mut original = None;
        let mut extra = Map::new();
        visit_fields(map, &["original"], &mut extra, |_, map| {
            original = map.next_value()?;
            Ok(())
        })?;
        Ok(TokenFlags { original, extra })
    }
}

/// The body of `POST .../stream/{identifier}/token` (optional as a whole: an empty request
/// asks for a token with the server's defaults). Absent fields are not serialized.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct TokenRequest {
    /// Whether the token reaches the download links (default `false`; a signed video's
    /// download needs `true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub downloadable: Option<bool>,
    /// Unix seconds after which the token is refused (at most [`MAX_TOKEN_LIFETIME_SECS`] after
    /// it is issued; default one hour).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Unix seconds before which the token is refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Who may use the token.
    #[serde(rename = "accessRules", skip_serializing_if = "Option::is_none")]
    pub access_rules: Option<Vec<AccessRule>>,
    /// Flags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flags: Option<TokenFlags>,
    /// The signing key to sign with (requires [`TokenRequest::pem`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<SigningKeyId>,
    /// The signing key's base64-encoded PEM private key (requires [`TokenRequest::id`]).
    #[serde(serialize_with = "expose_secret", skip_serializing_if = "Option::is_none")]
    pub pem: Option<Secret>,
    /// Fields this crate does not model, kept as they were sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl TokenRequest {
    /// A request for a token that reaches the download links, with the server's other
    /// defaults.
    pub fn downloadable() -> Self {
        Self { downloadable: Some(true), ..Self::default() }
    }

    /// The same request with an expiry time (unix seconds).
    #[must_use]
    pub fn expires_at(mut self, exp: i64) -> Self {
        self.exp = Some(exp);
        self
    }

    /// The same request, signed with the key `id` whose private key is `pem` (the two
    /// always go together).
    #[must_use]
    pub fn signed_with(mut self, id: SigningKeyId, pem: Secret) -> Self {
        self.id = Some(id);
        self.pem = Some(pem);
        self
    }
}

/// Why a [`TokenRequest`] breaks a documented rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenRequestError {
    /// `id` is set but `pem` is not.
    #[error("invalid token request: a signing key `id` without its `pem` (the two go together)")]
    IdWithoutPem,
    /// `pem` is set but `id` is not.
    #[error("invalid token request: a signing key `pem` without its `id` (the two go together)")]
    PemWithoutId,
    /// `exp` is more than [`MAX_TOKEN_LIFETIME_SECS`] after the time of issue.
    #[error("invalid token request: exp {exp} is more than 24 hours after {now}")]
    ExpiresTooLate {
        /// The requested expiry (unix seconds).
        exp: i64,
        /// The time of issue (unix seconds).
        now: i64,
    },
}

impl TokenRequest {
    /// Checks the documented rules for a token issued at `now` (unix seconds): `id` and `pem`
    /// go together, and `exp` is at most [`MAX_TOKEN_LIFETIME_SECS`] ahead. The client checks
    /// before sending; a server answers 400.
    pub fn check(&self, now: i64) -> Result<(), TokenRequestError> {
        match (&self.id, &self.pem) {
            (Some(_), None) => return Err(TokenRequestError::IdWithoutPem),
            (None, Some(_)) => return Err(TokenRequestError::PemWithoutId),
            _ => {}
        }
        match self.exp {
            Some(exp) if exp > now.saturating_add(MAX_TOKEN_LIFETIME_SECS) => {
                Err(TokenRequestError::ExpiresTooLate { exp, now })
            }
            _ => Ok(()),
        }
    }
}

impl<'de> Deserialize<'de> for TokenRequest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_map(d)
    }
}

impl<'de> FromMap<'de> for TokenRequest {
    const EXPECTING: &'static str = "a token request object";

    fn from_map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        const FIELDS: &[&str] =
            &["downloadable", "exp", "nbf", "accessRules", "flags", "id", "pem"];
        let mut r = TokenRequest::default();
        visit_fields(map, FIELDS, &mut r.extra, |i, map| {
            match i {
                0 => r.downloadable = map.next_value()?,
                1 => r.exp = map.next_value()?,
                2 => r.nbf = map.next_value()?,
                3 => r.access_rules = map.next_value()?,
                4 => r.flags = map.next_value()?,
                5 => r.id = map.next_value()?,
                _ => r.pem = map.next_value::<Option<String>>()?.map(Secret::new),
            }
            Ok(())
        })?;
        Ok(r)
    }
}

/// The `result` of the token endpoint.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct TokenResult {
    /// The signed token.
    pub token: SignedToken,
    /// Fields this crate does not model, kept as the server sent them.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl TokenResult {
    /// A result holding `token` and no extra fields.
    pub fn new(token: SignedToken) -> Self {
        Self { token, extra: Map::new() }
    }
}

impl<'de> Deserialize<'de> for TokenResult {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_map(d)
    }
}

impl<'de> FromMap<'de> for TokenResult {
    const EXPECTING: &'static str = "a token result object";

    fn from_map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        let mut token = None;
        let mut extra = Map::new();
        visit_fields(map, &["token"], &mut extra, |_, map| {
            token = Some(map.next_value()?);
            Ok(())
        })?;
        Ok(TokenResult { token: required(token, "token")?, extra })
    }
}

/// A signing key, as created (`id`, `pem`, `jwk`, `created`) or listed (`id`, `created`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct SigningKey {
    /// The key id (the `kid` of the tokens it signs).
    pub id: SigningKeyId,
    /// The base64-encoded PEM RSA private key (only in the create answer).
    #[serde(serialize_with = "expose_secret", skip_serializing_if = "Option::is_none")]
    pub pem: Option<Secret>,
    /// The base64-encoded JWK of the key (only in the create answer).
    #[serde(serialize_with = "expose_secret", skip_serializing_if = "Option::is_none")]
    pub jwk: Option<Secret>,
    /// When the key was created (RFC 3339, as the server sent it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Fields this crate does not model, kept as the server sent them.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl SigningKey {
    /// A key with only its id.
    pub fn new(id: SigningKeyId) -> Self {
        Self { id, pem: None, jwk: None, created: None, extra: Map::new() }
    }
}

impl<'de> Deserialize<'de> for SigningKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_map(d)
    }
}

impl<'de> FromMap<'de> for SigningKey {
    const EXPECTING: &'static str = "a signing key object";

    fn from_map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        let (mut id, mut pem, mut jwk, mut created) = (None, None, None, None);
        let mut extra = Map::new();
        visit_fields(map, &["id", "pem", "jwk", "created"], &mut extra, |i, map| {
            match i {
                0 => id = Some(map.next_value()?),
                1 => pem = map.next_value::<Option<String>>()?.map(Secret::new),
                2 => jwk = map.next_value::<Option<String>>()?.map(Secret::new),
                _ => created = map.next_value()?,
            }
            Ok(())
        })?;
        Ok(SigningKey { id: required(id, "id")?, pem, jwk, created, extra })
    }
}

/// The envelope of the token endpoint.
pub type TokenEnvelope = Envelope<TokenResult>;
/// The envelope of creating a signing key.
pub type SigningKeyEnvelope = Envelope<SigningKey>;
/// The envelope of listing the signing keys.
pub type SigningKeysEnvelope = Envelope<Vec<SigningKey>>;

/// The path template of the token endpoint.
pub const TOKEN_PATH: &str = "/accounts/{account_id}/stream/{identifier}/token";
/// The path template of the signing keys (create, list).
pub const KEYS_PATH: &str = "/accounts/{account_id}/stream/keys";
/// The path template of one signing key (delete).
pub const KEY_PATH: &str = "/accounts/{account_id}/stream/keys/{identifier}";

/// What the 200 body of a signing operation holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SigningResponseKind {
    /// `result` is a [`TokenResult`].
    Token,
    /// `result` is a [`SigningKey`] with its private parts.
    Key,
    /// `result` is a list of [`SigningKey`]s (ids and creation times).
    Keys,
    /// `result` is `"ok"`.
    Deleted,
}

/// One of the operations of signed URLs. Kept apart from [`crate::Operation`], whose
/// `ALL` is the five downloads operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum SigningOperation {
    /// `POST .../stream/{identifier}/token`: create a signed URL token for a video.
    CreateToken,
    /// `POST .../stream/keys`: create a signing key.
    CreateKey,
    /// `GET .../stream/keys`: list the signing keys.
    ListKeys,
    /// `DELETE .../stream/keys/{identifier}`: delete a signing key.
    DeleteKey,
}

impl SigningOperation {
    /// Every signing operation.
    pub const ALL: [SigningOperation; 4] = [
        SigningOperation::CreateToken,
        SigningOperation::CreateKey,
        SigningOperation::ListKeys,
        SigningOperation::DeleteKey,
    ];

    /// Cloudflare's `operationId` (a `const fn`, so that tables such as xtask's schema
    /// targets can name it in a constant).
    pub const fn operation_id(self) -> &'static str {
        match self {
            SigningOperation::CreateToken => "stream-videos-create-signed-url-tokens-for-videos",
            SigningOperation::CreateKey => "stream-signing-keys-create-signing-keys",
            SigningOperation::ListKeys => "stream-signing-keys-list-signing-keys",
            SigningOperation::DeleteKey => "stream-signing-keys-delete-signing-keys",
        }
    }

    /// A short name for logs and reports.
    pub fn name(self) -> &'static str {
        match self {
            SigningOperation::CreateToken => "create_token",
            SigningOperation::CreateKey => "create_key",
            SigningOperation::ListKeys => "list_keys",
            SigningOperation::DeleteKey => "delete_key",
        }
    }

    /// The HTTP method.
    pub fn method(self) -> Method {
        match self {
            SigningOperation::CreateToken | SigningOperation::CreateKey => Method::Post,
            SigningOperation::ListKeys => Method::Get,
            SigningOperation::DeleteKey => Method::Delete,
        }
    }

    /// The path template, relative to the base URL.
    pub fn path_template(self) -> &'static str {
        match self {
            SigningOperation::CreateToken => TOKEN_PATH,
            SigningOperation::CreateKey | SigningOperation::ListKeys => KEYS_PATH,
            SigningOperation::DeleteKey => KEY_PATH,
        }
    }

    /// Whether the path has an `{identifier}` segment (the video, or the key).
    pub fn takes_identifier(self) -> bool {
        matches!(self, SigningOperation::CreateToken | SigningOperation::DeleteKey)
    }

    /// What the 200 body holds.
    pub fn response(self) -> SigningResponseKind {
        match self {
            SigningOperation::CreateToken => SigningResponseKind::Token,
            SigningOperation::CreateKey => SigningResponseKind::Key,
            SigningOperation::ListKeys => SigningResponseKind::Keys,
            SigningOperation::DeleteKey => SigningResponseKind::Deleted,
        }
    }

    /// Renders the path template with `account_id` and `identifier`, each percent-encoded
    /// as a path segment (as [`crate::Operation::render`] does). `identifier` is ignored by
    /// the operations without one.
    pub fn render(self, account_id: &str, identifier: Option<&str>) -> String {
        let account = segment(account_id);
        match self {
            SigningOperation::CreateToken => {
                format!("/accounts/{account}/stream/{}/token", segment(identifier.unwrap_or("")))
            }
            SigningOperation::CreateKey | SigningOperation::ListKeys => {
                format!("/accounts/{account}/stream/keys")
            }
            SigningOperation::DeleteKey => {
                format!("/accounts/{account}/stream/keys/{}", segment(identifier.unwrap_or("")))
            }
        }
    }
}

impl fmt::Display for SigningOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One call of a signing operation: its path, from validated ids only.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SigningEndpoint {
    operation: SigningOperation,
    account: AccountId,
    /// The video (create a token) or the key (delete it).
    identifier: Option<String>,
}

impl SigningEndpoint {
    /// `POST` a token request for `video`.
    pub fn create_token(account: &AccountId, video: &VideoId) -> Self {
        Self::new(SigningOperation::CreateToken, account, Some(video.as_str()))
    }

    /// `POST` a new signing key.
    pub fn create_key(account: &AccountId) -> Self {
        Self::new(SigningOperation::CreateKey, account, None)
    }

    /// `GET` the signing keys.
    pub fn list_keys(account: &AccountId) -> Self {
        Self::new(SigningOperation::ListKeys, account, None)
    }

    /// `DELETE` the signing key `key`.
    pub fn delete_key(account: &AccountId, key: &SigningKeyId) -> Self {
        Self::new(SigningOperation::DeleteKey, account, Some(key.as_str()))
    }

    fn new(operation: SigningOperation, account: &AccountId, identifier: Option<&str>) -> Self {
        Self { operation, account: account.clone(), identifier: identifier.map(str::to_owned) }
    }

    /// The operation.
    pub fn operation(&self) -> SigningOperation {
        self.operation
    }

    /// The HTTP method.
    pub fn method(&self) -> Method {
        self.operation.method()
    }

    /// The path relative to the base URL (segments validated, and percent-encoded anyway).
    pub fn path(&self) -> String {
        self.operation.render(self.account.as_str(), self.identifier.as_deref())
    }

    /// The full URL under `base`; a trailing `/` on `base` is ignored.
    pub fn url(&self, base: &str) -> String {
        format!("{}{}", base.trim_end_matches('/'), self.path())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Operation;

    fn account() -> AccountId {
        "023e105f4ecef8ad9ca31a8372d0c353".parse().unwrap()
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
