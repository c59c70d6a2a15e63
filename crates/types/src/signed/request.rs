//! The token request: access rules, flags and [`TokenRequest`] with its documented checks.

use std::fmt;

use serde::de::{Deserializer, MapAccess};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use super::{MAX_TOKEN_LIFETIME_SECS, expose_secret};
use crate::auth::Secret;
use crate::de::{FromMap, from_map, required, visit_fields};
use crate::ids::SigningKeyId;

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
