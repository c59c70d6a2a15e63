//! The four operations of signed URLs as data ([`SigningOperation`], [`SigningEndpoint`]).

use std::fmt;

use crate::endpoint::{Method, segment};
use crate::ids::{AccountId, SigningKeyId, VideoId};

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
    /// `result` is a [`TokenResult`](super::TokenResult).
    Token,
    /// `result` is a [`SigningKey`](super::SigningKey) with its private parts.
    Key,
    /// `result` is a list of [`SigningKey`](super::SigningKey)s (ids and creation times).
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
