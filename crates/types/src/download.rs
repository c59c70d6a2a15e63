//! The downloads model: [`DownloadType`], [`DownloadStatus`], [`PercentComplete`], [`Download`]
//! and [`Downloads`], the `result` of the list and create operations.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::de::{Error as _, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use url::Url;

use crate::de::{FromMap, Key, KeySeed, from_map, required, visit_fields};

/// The kind of a download: an MP4 of the video (`default`) or an M4A of its audio (`audio`).
///
/// Unknown names are kept losslessly in [`DownloadType::Other`], so a type Cloudflare adds
/// later round-trips instead of failing to parse.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum DownloadType {
    /// The MP4 download, served at `.../<uid>/downloads/default.mp4`.
    Default,
    /// The audio-only M4A download, served at `.../<uid>/downloads/audio.m4a`.
    Audio,
    /// A type this crate does not know yet, as the server named it.
    Other(String),
}

impl DownloadType {
    /// The types the spec documents, in the spec's order.
    pub const KNOWN: [DownloadType; 2] = [DownloadType::Default, DownloadType::Audio];

    /// The name used on the wire and in paths.
    pub fn as_str(&self) -> &str {
        match self {
            DownloadType::Default => "default",
            DownloadType::Audio => "audio",
            DownloadType::Other(s) => s,
        }
    }

    /// The file name the download is served under (`default.mp4`, `audio.m4a`); `None` for
    /// types this crate does not know.
    pub fn file_name(&self) -> Option<&'static str> {
        match self {
            DownloadType::Default => Some("default.mp4"),
            DownloadType::Audio => Some("audio.m4a"),
            DownloadType::Other(_) => None,
        }
    }

    /// The file extension of the download (`mp4`, `m4a`); `None` for unknown types.
    pub fn extension(&self) -> Option<&'static str> {
        match self {
            DownloadType::Default => Some("mp4"),
            DownloadType::Audio => Some("m4a"),
            DownloadType::Other(_) => None,
        }
    }

    fn from_wire(s: &str) -> Self {
        match s {
            "default" => DownloadType::Default,
            "audio" => DownloadType::Audio,
            other => DownloadType::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for DownloadType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a string is not a download type name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid download type '{value}': must be 1 to 32 of [a-z0-9_-] (known types: default, audio)"
)]
pub struct DownloadTypeError {
    value: String,
}

impl DownloadTypeError {
    /// The rejected input (cut to 64 characters).
    pub fn value(&self) -> &str {
        &self.value
    }
}

fn is_path_safe_name(s: &str) -> bool {
    (1..=32).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

impl DownloadType {
    /// Checks that the name can stand as a path segment: 1 to 32 of `[a-z0-9_-]`. `default` and
    /// `audio` always pass; an [`DownloadType::Other`] built by hand or read from a server may
    /// not (`..` would climb out of the route, whatever the encoding, since URL parsers fold
    /// `%2E%2E` into `..` too).
    pub fn check_path_safe(&self) -> Result<(), DownloadTypeError> {
        if is_path_safe_name(self.as_str()) {
            Ok(())
        } else {
            Err(DownloadTypeError { value: self.as_str().chars().take(64).collect() })
        }
    }
}

/// Parses `default`, `audio`, or any other name of 1 to 32 characters of `[a-z0-9_-]` as
/// [`DownloadType::Other`] (a type the API may add). Anything else is rejected, so that user
/// input never smuggles `/`, `?`, `%` or `..` into a path.
impl FromStr for DownloadType {
    type Err = DownloadTypeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if is_path_safe_name(s) {
            Ok(Self::from_wire(s))
        } else {
            Err(DownloadTypeError { value: s.chars().take(64).collect() })
        }
    }
}

impl Serialize for DownloadType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for DownloadType {
    /// Lossless: whatever name the server sends is kept.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(Self::from_wire(&s))
    }
}

/// The status of a download: `inprogress`, then `ready` or `error`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DownloadStatus {
    /// The file is being generated; see [`Download::percent_complete`].
    InProgress,
    /// The file can be fetched from [`Download::url`].
    Ready,
    /// Generation failed.
    Error,
    /// A status this crate does not know, as the server sent it.
    Other(String),
}

impl DownloadStatus {
    /// The name used on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            DownloadStatus::InProgress => "inprogress",
            DownloadStatus::Ready => "ready",
            DownloadStatus::Error => "error",
            DownloadStatus::Other(s) => s,
        }
    }

    /// Whether the status is final (`ready` or `error`): polling can stop.
    pub fn is_terminal(&self) -> bool {
        matches!(self, DownloadStatus::Ready | DownloadStatus::Error)
    }
}

impl fmt::Display for DownloadStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for DownloadStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl DownloadStatus {
    fn known(s: &str) -> Option<Self> {
        match s {
            "inprogress" => Some(DownloadStatus::InProgress),
            "ready" => Some(DownloadStatus::Ready),
            "error" => Some(DownloadStatus::Error),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for DownloadStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = DownloadStatus;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a download status string")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<DownloadStatus, E> {
                Ok(DownloadStatus::known(s).unwrap_or_else(|| DownloadStatus::Other(s.to_owned())))
            }
            fn visit_string<E: serde::de::Error>(self, s: String) -> Result<DownloadStatus, E> {
                Ok(DownloadStatus::known(&s).unwrap_or(DownloadStatus::Other(s)))
            }
        }
        d.deserialize_str(V)
    }
}

/// A progress percentage: a finite number from 0 to 100 inclusive.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct PercentComplete(f64);

/// Why a number is not a valid [`PercentComplete`].
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error("invalid percentComplete {0}: must be a number from 0 to 100")]
pub struct PercentError(pub f64);

impl PercentComplete {
    /// 0 %.
    pub const ZERO: PercentComplete = PercentComplete(0.0);
    /// 100 %.
    pub const FULL: PercentComplete = PercentComplete(100.0);

    /// Validates `value` (finite, 0 to 100).
    pub fn new(value: f64) -> Result<Self, PercentError> {
        if value.is_finite() && (0.0..=100.0).contains(&value) {
            // Normalise -0.0 so equality and serialization are stable.
            Ok(Self(value + 0.0))
        } else {
            Err(PercentError(value))
        }
    }

    /// The percentage as a number.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl fmt::Display for PercentComplete {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0)
    }
}

impl Serialize for PercentComplete {
    /// Whole percentages are written as integers (`100`, not `100.0`), as Cloudflare does.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.fract() == 0.0 {
            // In range 0..=100, so the cast is exact.
            s.serialize_u64(self.0 as u64)
        } else {
            s.serialize_f64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for PercentComplete {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(d)?;
        PercentComplete::new(v).map_err(D::Error::custom)
    }
}

/// One download of a video.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Download {
    /// Where generation stands.
    pub status: DownloadStatus,
    /// How far generation has got.
    #[serde(rename = "percentComplete")]
    pub percent_complete: PercentComplete,
    /// Where the file is served (present once known; fetchable once `ready`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<Url>,
    /// Fields this crate does not model, kept as the server sent them.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl<'de> Deserialize<'de> for Download {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_map(d)
    }
}

impl<'de> FromMap<'de> for Download {
    const EXPECTING: &'static str = "a download object";

    fn from_map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        let (mut status, mut percent, mut url) = (None, None, None);
        let mut extra = Map::new();
        visit_fields(map, &["status", "percentComplete", "url"], &mut extra, |i, map| {
            match i {
                0 => status = Some(map.next_value()?),
                1 => percent = Some(map.next_value()?),
                _ => url = map.next_value()?,
            }
            Ok(())
        })?;
        Ok(Download {
            status: required(status, "status")?,
            percent_complete: required(percent, "percentComplete")?,
            url,
            extra,
        })
    }
}

impl Download {
    /// A download with the given status and progress, no URL and no extra fields.
    pub fn new(status: DownloadStatus, percent_complete: PercentComplete) -> Self {
        Self { status, percent_complete, url: None, extra: Map::new() }
    }

    /// The same download with `url` set.
    #[must_use]
    pub fn with_url(mut self, url: Url) -> Self {
        self.url = Some(url);
        self
    }

    /// Whether the file can be fetched now.
    pub fn is_ready(&self) -> bool {
        self.status == DownloadStatus::Ready
    }
}

/// The `result` of the list and create operations: the downloads of one video, by type.
///
/// Each type is present only once it has been created. Deserializing also accepts the older
/// flat shape of the 2024-01-04 OpenAPI shape, where `result` was a single
/// `{status, url, percentComplete}` object: it becomes the `default` download. The flat shape
/// is recognised by a string `status` when neither `default` nor `audio` is present (with either
/// present, a `status` key is an unmodelled field, kept in [`Downloads::extra`]).
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct Downloads {
    /// The MP4 download, if created.
    pub default: Option<Download>,
    /// The audio download, if created.
    pub audio: Option<Download>,
    /// Downloads of types this crate does not know yet, by name.
    pub other: BTreeMap<String, Download>,
    /// Keys of `result` whose values are not downloads, kept as sent.
    pub extra: Map<String, Value>,
}

impl Downloads {
    /// The download of type `t`, if present.
    pub fn get(&self, t: &DownloadType) -> Option<&Download> {
        match t {
            DownloadType::Default => self.default.as_ref(),
            DownloadType::Audio => self.audio.as_ref(),
            DownloadType::Other(name) => self.other.get(name),
        }
    }

    /// Sets (or with `None`, removes) the download of type `t`.
    pub fn set(&mut self, t: &DownloadType, download: Option<Download>) {
        match (t, download) {
            (DownloadType::Default, d) => self.default = d,
            (DownloadType::Audio, d) => self.audio = d,
            (DownloadType::Other(name), Some(d)) => {
                self.other.insert(name.clone(), d);
            }
            (DownloadType::Other(name), None) => {
                self.other.remove(name);
            }
        }
    }

    /// Every present download with its type: `default`, `audio`, then others by name.
    pub fn iter(&self) -> impl Iterator<Item = (DownloadType, &Download)> {
        let known = [(DownloadType::Default, &self.default), (DownloadType::Audio, &self.audio)]
            .into_iter()
            .filter_map(|(t, d)| d.as_ref().map(|d| (t, d)));
        known.chain(self.other.iter().map(|(k, d)| (DownloadType::Other(k.clone()), d)))
    }

    /// Whether no download is present.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }
}

impl Serialize for Downloads {
    /// Always the current shape: an object keyed by download type.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        for (t, d) in self.iter() {
            map.serialize_entry(t.as_str(), d)?;
        }
        for (k, v) in &self.extra {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Downloads {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_map(d)
    }
}

impl<'de> FromMap<'de> for Downloads {
    const EXPECTING: &'static str = "an object of downloads by type";

    /// Reads the current shape in one pass: `default` and `audio` straight into [`Download`]s,
    /// any other key as JSON first (a download of a type this crate does not know, or an extra
    /// field). The flat shape of the 2024-01-04 OpenAPI shape is recognised when `status` is a string and
    /// neither `default` nor `audio` is present.
    fn from_map<A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let mut out = Downloads::default();
        let mut rest = Map::new();
        while let Some(key) = map.next_key_seed(KeySeed(&["default", "audio"]))? {
            match key {
                Key::Field(0) => out.default = Some(map.next_value()?),
                Key::Field(_) => out.audio = Some(map.next_value()?),
                Key::Other(name) => {
                    let value = map.next_value()?;
                    rest.insert(name, value);
                }
            }
        }
        let typed = out.default.is_some() || out.audio.is_some();
        if !typed && rest.get("status").is_some_and(Value::is_string) {
            let download = legacy(rest).map_err(A::Error::custom)?;
            return Ok(Downloads { default: Some(download), ..Downloads::default() });
        }
        for (name, value) in rest {
            match Download::deserialize(&value) {
                Ok(download) => {
                    out.other.insert(name, download);
                }
                Err(_) => {
                    out.extra.insert(name, value);
                }
            }
        }
        Ok(out)
    }
}

/// Decodes the flat `result` of the 2024-01-04 OpenAPI shape, naming the field at fault.
fn legacy(map: Map<String, Value>) -> Result<Download, String> {
    serde_path_to_error::deserialize::<_, Download>(Value::Object(map)).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            format!("(legacy flat result): {}", e.inner())
        } else {
            format!("(legacy flat result).{path}: {}", e.inner())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn percent_bounds() {
        assert!(PercentComplete::new(0.0).is_ok());
        assert!(PercentComplete::new(100.0).is_ok());
        assert!(PercentComplete::new(75.5).is_ok());
        for bad in [-1.0, 100.0001, 101.0, f64::NAN, f64::INFINITY] {
            assert!(PercentComplete::new(bad).is_err(), "{bad}");
        }
        assert_eq!(serde_json::to_string(&PercentComplete::FULL).unwrap(), "100");
        assert_eq!(serde_json::to_string(&PercentComplete::new(12.5).unwrap()).unwrap(), "12.5");
        let e = serde_json::from_value::<PercentComplete>(json!(101)).unwrap_err();
        assert!(e.to_string().contains("101"), "{e}");
    }

    #[test]
    fn parses_the_current_shape() {
        let d: Downloads = serde_json::from_value(json!({
            "default": {"status": "ready", "percentComplete": 100, "url": "https://customer-x.cloudflarestream.com/ea95132c15732412d22c1476fa83f27a/downloads/default.mp4"},
            "audio": {"status": "inprogress", "percentComplete": 25.5}
        }))
        .unwrap();
        assert!(d.default.as_ref().unwrap().is_ready());
        assert_eq!(d.audio.as_ref().unwrap().percent_complete.get(), 25.5);
        assert_eq!(d.iter().count(), 2);
    }

    #[test]
    fn parses_the_legacy_flat_shape_as_default() {
        let d: Downloads =
            serde_json::from_value(json!({"status": "inprogress", "percentComplete": 10})).unwrap();
        assert_eq!(d.default.unwrap().status, DownloadStatus::InProgress);
        assert!(d.audio.is_none());
    }

    #[test]
    fn a_type_named_status_is_not_the_legacy_shape() {
        let v = json!({"status": {"status": "ready", "percentComplete": 100}});
        let d: Downloads = serde_json::from_value(v.clone()).unwrap();
        assert!(d.default.is_none());
        assert!(d.get(&DownloadType::Other("status".into())).unwrap().is_ready());
        assert_eq!(serde_json::to_value(&d).unwrap(), v);
    }

    #[test]
    fn keeps_unknown_types_statuses_and_fields() {
        let v = json!({
            "hdr": {"status": "queued", "percentComplete": 0, "codec": "av1"},
            "note": 42
        });
        let d: Downloads = serde_json::from_value(v.clone()).unwrap();
        let hdr = d.get(&DownloadType::Other("hdr".into())).unwrap();
        assert_eq!(hdr.status, DownloadStatus::Other("queued".into()));
        assert_eq!(hdr.extra["codec"], "av1");
        assert_eq!(d.extra["note"], 42);
        assert_eq!(serde_json::to_value(&d).unwrap(), v);
    }

    #[test]
    fn names_the_field_at_fault() {
        let decode = |result: &str| {
            let body = format!(r#"{{"success":true,"errors":[],"messages":[],"result":{result}}}"#);
            crate::decode::<crate::DownloadsEnvelope>(body.as_bytes()).unwrap_err()
        };
        let e = decode(r#"{"audio": {"status": "ready", "percentComplete": -1}}"#);
        assert_eq!(e.path(), "result.audio.percentComplete");
        assert!(e.message().contains("invalid percentComplete -1"), "{e}");
        let e = decode(r#"{"default": {"status": "ready", "percentComplete": 1, "url": "x"}}"#);
        assert_eq!(e.path(), "result.default.url");
        let e = decode(r#"{"default": {"percentComplete": 1}}"#);
        assert_eq!(e.path(), "result.default");
        assert!(e.message().starts_with("missing field `status`"), "{e}");
        let e = decode(r#"{"status": "ready", "percentComplete": 101}"#);
        assert_eq!(e.path(), "result");
        assert!(e.message().starts_with("(legacy flat result).percentComplete: "), "{e}");
    }

    #[test]
    fn a_string_status_beside_typed_downloads_is_an_extra_field() {
        let v = json!({"status": "ready", "audio": {"status": "ready", "percentComplete": 100}});
        let d: Downloads = serde_json::from_value(v.clone()).unwrap();
        assert!(d.default.is_none());
        assert_eq!(d.audio.as_ref().map(|a| a.percent_complete), Some(PercentComplete::FULL));
        assert_eq!(d.extra["status"], "ready");
        assert_eq!(
            serde_json::to_value(&d).unwrap(),
            json!({"audio": v["audio"], "status": "ready"})
        );
    }

    #[test]
    fn download_type_parsing_guards_paths() {
        assert_eq!("audio".parse::<DownloadType>().unwrap(), DownloadType::Audio);
        assert_eq!("hdr_10".parse::<DownloadType>().unwrap(), DownloadType::Other("hdr_10".into()));
        for bad in ["", "../x", "a/b", "a?b", "A", "a%2f", &"x".repeat(33)] {
            let e = bad.parse::<DownloadType>().unwrap_err();
            assert!(e.to_string().contains("invalid download type"), "{e}");
        }
    }
}
