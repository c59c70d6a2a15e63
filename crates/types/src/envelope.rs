//! Cloudflare's response envelope: [`Envelope`], [`ApiMessage`], [`ApiFailure`], and decoding
//! with the JSON path of any field at fault ([`decode`]).

use std::fmt;

use serde::de::{DeserializeOwned, MapAccess};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::codes::ErrorCode;
use crate::de::{FromMap, from_map, required, visit_fields};
use crate::download::Downloads;

/// Every Cloudflare API answer: `{success, errors, messages, result}`.
///
/// Fields the spec does not name (for example `result_info`) are kept in [`Envelope::extra`].
/// Parsing is lenient where the spec is strict but no meaning is lost: missing `errors` or
/// `messages` read as empty, a missing `result` as `None` (the conformance crate is where
/// strictness lives; see `crates/conformance/known-differences.md`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Envelope<T> {
    /// Whether the call succeeded.
    pub success: bool,
    /// Why the call failed (non-empty on failure).
    pub errors: Vec<ApiMessage>,
    /// Informational messages.
    pub messages: Vec<ApiMessage>,
    /// The payload: present on success, `null` on failure.
    pub result: Option<T>,
    /// Fields this crate does not model, kept as the server sent them.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Envelope<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_map(d)
    }
}

impl<'de, T: Deserialize<'de>> FromMap<'de> for Envelope<T> {
    const EXPECTING: &'static str = "a Cloudflare API envelope object";

    fn from_map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        let (mut success, mut errors, mut messages, mut result) = (None, None, None, None);
        let mut extra = Map::new();
        visit_fields(map, &["success", "errors", "messages", "result"], &mut extra, |i, map| {
            match i {
                0 => success = Some(map.next_value()?),
                1 => errors = Some(map.next_value()?),
                2 => messages = Some(map.next_value()?),
                _ => result = map.next_value()?,
            }
            Ok(())
        })?;
        Ok(Self {
            success: required(success, "success")?,
            errors: errors.unwrap_or_default(),
            messages: messages.unwrap_or_default(),
            result,
            extra,
        })
    }
}

impl<T> Envelope<T> {
    /// A success envelope around `result`, with no errors or messages.
    pub fn success(result: T) -> Self {
        Self {
            success: true,
            errors: vec![],
            messages: vec![],
            result: Some(result),
            extra: Map::new(),
        }
    }

    /// A failure envelope (`success: false`, `result: null`) carrying `errors`.
    pub fn failure(errors: Vec<ApiMessage>) -> Self {
        Self { success: false, errors, messages: vec![], result: None, extra: Map::new() }
    }

    /// The result on success, or the errors and messages on failure.
    ///
    /// A success with no `result` (the spec does not require one) yields `T::default()`.
    pub fn into_result(self) -> Result<T, ApiFailure>
    where
        T: Default,
    {
        if self.success {
            Ok(self.result.unwrap_or_default())
        } else {
            Err(ApiFailure { errors: self.errors, messages: self.messages })
        }
    }
}

/// The envelope of the list and create operations.
pub type DownloadsEnvelope = Envelope<Downloads>;

/// The envelope of the delete operations: `result` is `"ok"` in the current shape; older
/// servers may send any JSON, which is kept as is.
pub type DeletedEnvelope = Envelope<Value>;

/// One entry of `errors` or `messages`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ApiMessage {
    /// The numeric code (the spec says at least 1000).
    pub code: u64,
    /// What happened, in words.
    pub message: String,
    /// Where to read more.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub documentation_url: Option<String>,
    /// Which part of the request is at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<MessageSource>,
    /// Fields this crate does not model, kept as the server sent them.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ApiMessage {
    /// A message with a code and text only.
    pub fn new(code: impl Into<u64>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            documentation_url: None,
            source: None,
            extra: Map::new(),
        }
    }

    /// The same message pointing at `pointer` (a JSON pointer or a parameter name).
    #[must_use]
    pub fn with_pointer(mut self, pointer: impl Into<String>) -> Self {
        self.source = Some(MessageSource { pointer: Some(pointer.into()), extra: Map::new() });
        self
    }

    /// The code as a well-known [`ErrorCode`] where it is one.
    pub fn error_code(&self) -> ErrorCode {
        ErrorCode::from(self.code)
    }
}

impl<'de> Deserialize<'de> for ApiMessage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_map(d)
    }
}

impl<'de> FromMap<'de> for ApiMessage {
    const EXPECTING: &'static str = "a {code, message} object";

    fn from_map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        let (mut code, mut message, mut documentation_url, mut source) = (None, None, None, None);
        let mut extra = Map::new();
        let fields = &["code", "message", "documentation_url", "source"];
        visit_fields(map, fields, &mut extra, |i, map| {
            match i {
                0 => code = Some(map.next_value()?),
                1 => message = Some(map.next_value()?),
                2 => documentation_url = map.next_value()?,
                _ => source = map.next_value()?,
            }
            Ok(())
        })?;
        Ok(Self {
            code: required(code, "code")?,
            message: required(message, "message")?,
            documentation_url,
            source,
            extra,
        })
    }
}

impl fmt::Display for ApiMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        if let Some(p) = self.source.as_ref().and_then(|s| s.pointer.as_deref()) {
            write!(f, " (at {p})")?;
        }
        Ok(())
    }
}

/// `source` of an [`ApiMessage`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct MessageSource {
    /// Which part of the request is at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    /// Fields this crate does not model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl<'de> Deserialize<'de> for MessageSource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_map(d)
    }
}

impl<'de> FromMap<'de> for MessageSource {
    const EXPECTING: &'static str = "a {pointer} object";

    fn from_map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        let mut pointer = None;
        let mut extra = Map::new();
        visit_fields(map, &["pointer"], &mut extra, |_, map| {
            pointer = map.next_value()?;
            Ok(())
        })?;
        Ok(Self { pointer, extra })
    }
}

/// What a failure envelope (`success: false`) said.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub struct ApiFailure {
    /// The errors, in the server's order.
    pub errors: Vec<ApiMessage>,
    /// The messages, in the server's order.
    pub messages: Vec<ApiMessage>,
}

impl ApiFailure {
    /// Every error code, in order.
    pub fn codes(&self) -> impl Iterator<Item = ErrorCode> + '_ {
        self.errors.iter().map(ApiMessage::error_code)
    }

    /// Whether any error carries `code`.
    pub fn has_code(&self, code: ErrorCode) -> bool {
        self.codes().any(|c| c == code)
    }
}

impl fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.errors.is_empty() {
            return f.write_str("the API reported failure without any error");
        }
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// Why a body could not be decoded: the JSON path of the field at fault and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSON at {path}: {message}")]
pub struct DecodeError {
    path: String,
    message: String,
}

impl DecodeError {
    /// The JSON path of the field at fault, like `result.default.percentComplete` (`.` for the
    /// whole body).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What was wrong there.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Decodes `bytes` as `T`, naming the JSON path of any field at fault.
///
/// The common case, a good body, takes serde_json's plain path; only a body that fails is
/// decoded again with path tracking, which costs more, to name the field.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    if let Ok(value) = serde_json::from_slice(bytes) {
        return Ok(value);
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(de) {
        Ok(value) => Ok(value),
        Err(e) => Err(DecodeError { path: e.path().to_string(), message: e.inner().to_string() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::download::DownloadStatus;
    use serde_json::json;

    #[test]
    fn failure_into_result_keeps_every_error() {
        let env: DownloadsEnvelope = serde_json::from_value(json!({
            "success": false,
            "errors": [{"code": 10000, "message": "Authentication error"}, {"code": 7003, "message": "No route for the URI", "source": {"pointer": "/x"}}],
            "messages": [],
            "result": null
        }))
        .unwrap();
        let f = env.into_result().unwrap_err();
        assert!(f.has_code(ErrorCode::Authentication));
        assert!(f.has_code(ErrorCode::NoRoute));
        assert_eq!(
            f.to_string(),
            "10000: Authentication error; 7003: No route for the URI (at /x)"
        );
    }

    #[test]
    fn success_without_result_is_default() {
        let env: DeletedEnvelope =
            serde_json::from_value(json!({"success": true, "errors": [], "messages": []})).unwrap();
        assert_eq!(env.into_result().unwrap(), Value::Null);
    }

    #[test]
    fn unknown_fields_survive_a_round_trip() {
        let v = json!({
            "success": true, "errors": [], "messages": [{"code": 1001, "message": "hi", "documentation_url": "https://x", "level": "info"}],
            "result": {"default": {"status": "ready", "percentComplete": 100}},
            "result_info": {"count": 1}
        });
        let env: DownloadsEnvelope = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(env.extra["result_info"]["count"], 1);
        assert_eq!(env.messages[0].extra["level"], "info");
        assert_eq!(serde_json::to_value(&env).unwrap(), v);
    }

    #[test]
    fn decode_names_the_path() {
        let body = br#"{"success":true,"errors":[],"messages":[],"result":{"default":{"status":"ready","percentComplete":"half"}}}"#;
        let e = decode::<DownloadsEnvelope>(body).unwrap_err();
        assert!(e.path().starts_with("result"), "{e}");
        let e = decode::<DownloadsEnvelope>(br#"{"success":tru"#).unwrap_err();
        assert!(e.to_string().starts_with("invalid JSON at"), "{e}");
        let ok = decode::<DownloadsEnvelope>(
            br#"{"success":true,"result":{"status":"inprogress","percentComplete":3}}"#,
        )
        .unwrap();
        assert_eq!(ok.into_result().unwrap().default.unwrap().status, DownloadStatus::InProgress);
    }
}
