//! Validated identifiers: [`AccountId`] and [`VideoId`].
//!
//! Both are what Cloudflare calls an identifier: at most 32 characters. Cloudflare's ids are 32
//! hex digits, so we accept 1 to 32 ASCII hex digits and nothing else. That is what makes it
//! impossible for `../`, `/`, `?`, `%` or whitespace to reach a URL path built from an id.

use std::fmt;
use std::str::FromStr;

/// The longest identifier the API accepts (`maxLength: 32` in the spec).
pub const MAX_ID_LEN: usize = 32;

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} '{value}': {reason}")]
pub struct IdError {
    what: &'static str,
    value: String,
    reason: IdRule,
}

impl IdError {
    /// Which kind of id was being parsed (`"account id"`, `"video id"`).
    pub fn what(&self) -> &'static str {
        self.what
    }

    /// The rejected input, cut to 64 characters so that a huge input does not flood a log.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The rule the input broke.
    pub fn rule(&self) -> IdRule {
        self.reason
    }
}

/// The rule an identifier broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdRule {
    /// The id is the empty string.
    Empty,
    /// The id is longer than [`MAX_ID_LEN`] characters.
    TooLong {
        /// The length of the rejected id, in characters.
        len: usize,
    },
    /// The id holds a character that is not an ASCII hex digit.
    NotHex {
        /// The first offending character.
        found: char,
        /// Its position (in characters, from 0).
        at: usize,
    },
}

impl fmt::Display for IdRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdRule::Empty => f.write_str("must not be empty"),
            IdRule::TooLong { len } => {
                write!(f, "must be at most {MAX_ID_LEN} characters, found {len}")
            }
            IdRule::NotHex { found, at } => {
                write!(f, "must be hex digits [0-9a-fA-F], found {found:?} at position {at}")
            }
        }
    }
}

fn validate(what: &'static str, s: &str) -> Result<(), IdError> {
    let fail = |reason| {
        // Keep errors bounded: a 1 MB "id" must not become a 1 MB error message.
        let value: String = s.chars().take(64).collect();
        Err(IdError { what, value, reason })
    };
    if s.is_empty() {
        return fail(IdRule::Empty);
    }
    let len = s.chars().count();
    if len > MAX_ID_LEN {
        return fail(IdRule::TooLong { len });
    }
    if let Some((at, found)) = s.chars().enumerate().find(|(_, c)| !c.is_ascii_hexdigit()) {
        return fail(IdRule::NotHex { found, at });
    }
    Ok(())
}

macro_rules! id_newtype {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates `s` (1 to 32 ASCII hex digits) and wraps it.
            pub fn new(s: impl Into<String>) -> Result<Self, IdError> {
                let s = s.into();
                validate($what, &s)?;
                Ok(Self(s))
            }

            /// The id as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = IdError;
            fn try_from(s: &str) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }
    };
}

id_newtype!(
    /// A Cloudflare account id (`account_id` in the path), e.g. `023e105f4ecef8ad9ca31a8372d0c353`.
    AccountId,
    "account id"
);

id_newtype!(
    /// A Stream video id (`identifier` in the path), e.g. `ea95132c15732412d22c1476fa83f27a`.
    VideoId,
    "video id"
);

id_newtype!(
    /// A Stream signing key id (`identifier` in `.../stream/keys/{identifier}`), e.g.
    /// `8f926b2b2b2e4b1db2ad6f9e4b1d6b8e`.
    SigningKeyId,
    "signing key id"
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_the_spec_examples() {
        assert_eq!(
            VideoId::new("ea95132c15732412d22c1476fa83f27a").unwrap().as_str(),
            "ea95132c15732412d22c1476fa83f27a"
        );
        assert!(AccountId::new("023e105f4ecef8ad9ca31a8372d0c353").is_ok());
        assert!(AccountId::new("ABCDEF").is_ok());
    }

    #[test]
    fn rejects_with_the_rule_and_the_value() {
        let e = VideoId::new("../etc").unwrap_err();
        assert_eq!(e.rule(), IdRule::NotHex { found: '.', at: 0 });
        assert_eq!(
            e.to_string(),
            "invalid video id '../etc': must be hex digits [0-9a-fA-F], found '.' at position 0"
        );
        let e = AccountId::new("a".repeat(33)).unwrap_err();
        assert_eq!(e.rule(), IdRule::TooLong { len: 33 });
        assert!(e.to_string().starts_with("invalid account id 'aaaa"));
        assert_eq!(VideoId::new("").unwrap_err().rule(), IdRule::Empty);
        let huge = "z".repeat(1_000_000);
        assert_eq!(VideoId::new(huge).unwrap_err().value().len(), 64);
    }

    #[test]
    fn deserialize_validates() {
        let e = serde_json::from_str::<VideoId>("\"a b\"").unwrap_err();
        assert!(e.to_string().contains("invalid video id 'a b'"), "{e}");
        let id: VideoId = serde_json::from_str("\"abc123\"").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"abc123\"");
    }

    proptest! {
        #[test]
        fn valid_ids_round_trip(s in "[0-9a-fA-F]{1,32}") {
            let id: VideoId = s.parse().unwrap();
            prop_assert_eq!(id.to_string(), s);
            let back: VideoId = serde_json::from_value(serde_json::to_value(&id).unwrap()).unwrap();
            prop_assert_eq!(back, id);
        }

        #[test]
        fn nothing_outside_hex_is_accepted(s in "\\PC{0,40}") {
            let ok = !s.is_empty() && s.chars().count() <= 32 && s.chars().all(|c| c.is_ascii_hexdigit());
            prop_assert_eq!(AccountId::new(s.as_str()).is_ok(), ok);
        }
    }
}
