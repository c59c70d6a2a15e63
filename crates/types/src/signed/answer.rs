//! The answers: the token endpoint's [`TokenResult`] and the [`SigningKey`] resource.

use serde::de::{Deserializer, MapAccess};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{SignedToken, expose_secret};
use crate::auth::Secret;
use crate::de::{FromMap, from_map, required, visit_fields};
use crate::envelope::Envelope;
use crate::ids::SigningKeyId;

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
