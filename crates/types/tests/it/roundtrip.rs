//! Property: every value cfstream-types can build in the spec's vocabulary serializes to JSON
//! the matching schema accepts, and deserializes back equal.

use std::collections::BTreeSet;

use cfstream_types::{
    ApiMessage, Download, DownloadStatus, Downloads, DownloadsEnvelope, Envelope, PercentComplete,
    Url, decode,
};
use proptest::prelude::*;
use serde_json::{Map, Value};

use crate::VALIDATORS;

fn percent() -> impl Strategy<Value = PercentComplete> {
    prop_oneof![(0u8..=100).prop_map(f64::from), 0.0f64..=100.0, Just(0.0), Just(100.0),]
        .prop_map(|v| PercentComplete::new(v).unwrap())
}

fn known_status() -> impl Strategy<Value = DownloadStatus> {
    prop_oneof![
        Just(DownloadStatus::Ready),
        Just(DownloadStatus::InProgress),
        Just(DownloadStatus::Error)
    ]
}

fn url() -> impl Strategy<Value = Url> {
    ("[a-z0-9]{16}", "[0-9a-f]{32}", prop_oneof![Just("default.mp4"), Just("audio.m4a")]).prop_map(
        |(code, uid, file)| {
            Url::parse(&format!(
                "https://customer-{code}.cloudflarestream.com/{uid}/downloads/{file}"
            ))
            .unwrap()
        },
    )
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        "[ -~]{0,12}".prop_map(Value::from),
        Just(Value::Null),
    ]
}

/// Extra (unmodelled) fields of a download: any name but the three the spec defines.
fn download_extra() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map("[a-z][a-zA-Z]{0,8}", scalar(), 0..3).prop_map(|m| {
        m.into_iter()
            .filter(|(k, _)| !matches!(k.as_str(), "status" | "percentComplete" | "url"))
            .collect()
    })
}

fn download(status: impl Strategy<Value = DownloadStatus>) -> impl Strategy<Value = Download> {
    (status, percent(), prop::option::of(url()), download_extra()).prop_map(|(s, p, u, extra)| {
        let mut d = Download::new(s, p);
        d.url = u;
        d.extra = extra;
        d
    })
}

/// Downloads of types the spec does not know yet: any status (the schema does not constrain
/// them). Names avoid `default`/`audio` and the `x_` prefix of [`downloads`]'s extra keys, and
/// include `status`: a type of that name must not be misread as the legacy flat shape.
fn other_downloads() -> impl Strategy<Value = std::collections::BTreeMap<String, Download>> {
    let status = prop_oneof![
        known_status(),
        "[a-z]{1,8}"
            .prop_filter("not a known status", |s| !matches!(
                s.as_str(),
                "ready" | "inprogress" | "error"
            ))
            .prop_map(DownloadStatus::Other),
    ];
    prop::collection::btree_map(
        prop_oneof![Just("status".to_owned()), "[a-wyz][a-z0-9_]{0,8}"],
        download(status),
        0..2,
    )
    .prop_map(|m| {
        m.into_iter().filter(|(k, _)| !matches!(k.as_str(), "default" | "audio")).collect()
    })
}

fn downloads() -> impl Strategy<Value = Downloads> {
    (
        prop::option::of(download(known_status())),
        prop::option::of(download(known_status())),
        other_downloads(),
        prop::collection::btree_map("x_[a-z]{1,6}", scalar(), 0..2),
    )
        .prop_map(|(default, audio, other, extra)| {
            let mut d = Downloads::default();
            d.default = default;
            d.audio = audio;
            d.other = other;
            d.extra = extra.into_iter().collect();
            d
        })
}

/// A list of distinct messages (the schema's `uniqueItems`), codes from 1000.
fn messages(min: usize) -> impl Strategy<Value = Vec<ApiMessage>> {
    let one = (
        1000u32..=99_999,
        "[ -~]{0,24}",
        prop::option::of("https://developers\\.cloudflare\\.com/[a-z/]{0,12}"),
        prop::option::of("/[a-z_]{1,10}"),
    );
    prop::collection::btree_set(one, min..min + 3).prop_map(|set: BTreeSet<_>| {
        set.into_iter()
            .map(|(code, text, doc, pointer)| {
                let mut m = ApiMessage::new(code, text);
                if let Some(p) = pointer {
                    m = m.with_pointer(p);
                }
                m.documentation_url = doc;
                m
            })
            .collect()
    })
}

fn assert_valid(validator: &jsonschema::Validator, json: &Value) -> Result<(), TestCaseError> {
    let errors: Vec<String> =
        validator.iter_errors(json).map(|e| format!("{}: {e}", e.instance_path())).collect();
    prop_assert!(errors.is_empty(), "schema rejects {json}: {errors:?}");
    Ok(())
}

proptest! {
    #[test]
    fn downloads_validate_and_round_trip(d in downloads()) {
        let mut env = Envelope::success(d.clone());
        env.messages = vec![];
        let json = serde_json::to_value(&env).unwrap();
        assert_valid(&VALIDATORS.downloads_response, &json)?;
        let back: Downloads = decode::<DownloadsEnvelope>(json.to_string().as_bytes()).unwrap().into_result().unwrap();
        prop_assert_eq!(back, d);
    }

    #[test]
    fn download_validates_and_round_trips(d in download(known_status())) {
        let json = serde_json::to_value(&d).unwrap();
        assert_valid(&VALIDATORS.downloads, &json)?;
        prop_assert_eq!(decode::<Download>(json.to_string().as_bytes()).unwrap(), d);
    }

    #[test]
    fn success_envelopes_validate_and_round_trip(d in downloads(), errors in messages(0), msgs in messages(0)) {
        let mut env = Envelope::success(d);
        env.errors = errors;
        env.messages = msgs;
        let json = serde_json::to_value(&env).unwrap();
        assert_valid(&VALIDATORS.downloads_response, &json)?;
        prop_assert_eq!(decode::<DownloadsEnvelope>(json.to_string().as_bytes()).unwrap(), env);
    }

    #[test]
    fn failure_envelopes_validate_and_round_trip(errors in messages(1), msgs in messages(0)) {
        let mut env: DownloadsEnvelope = Envelope::failure(errors.clone());
        env.messages = msgs;
        let json = serde_json::to_value(&env).unwrap();
        assert_valid(&VALIDATORS.failure_response, &json)?;
        let back = decode::<DownloadsEnvelope>(json.to_string().as_bytes()).unwrap();
        prop_assert_eq!(&back, &env);
        prop_assert_eq!(back.into_result().unwrap_err().errors, errors);
    }
}

/// Any JSON in the envelope's vocabulary (right and wrong types, nested a few levels).
fn json_like() -> impl Strategy<Value = Value> {
    let key = prop::sample::select(vec![
        "success",
        "errors",
        "messages",
        "result",
        "default",
        "audio",
        "hdr",
        "status",
        "percentComplete",
        "url",
        "code",
        "message",
        "source",
        "pointer",
        "x",
    ]);
    let leaf = prop_oneof![
        scalar(),
        (0u32..=120).prop_map(Value::from),
        prop::sample::select(vec!["ready", "inprogress", "error", "https://h.example/a.mp4"])
            .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 5, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
            prop::collection::btree_map(key.clone(), inner, 0..5).prop_map(|m| Value::Object(
                m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
            )),
        ]
    })
}

/// Mostly well-formed downloads, with a wrong or extra field now and then.
fn download_like() -> impl Strategy<Value = Value> {
    let status = prop_oneof![
        4 => prop::sample::select(vec!["ready", "inprogress", "error", "queued"]).prop_map(Value::from),
        1 => json_like(),
    ];
    let percent = prop_oneof![4 => (0u32..=100).prop_map(Value::from), 1 => json_like()];
    let url = prop_oneof![
        2 => Just(Value::from("https://customer-x.cloudflarestream.com/ab/downloads/default.mp4")),
        1 => json_like(),
    ];
    (
        prop::option::weighted(0.85, status),
        prop::option::weighted(0.85, percent),
        prop::option::of(url),
        prop::option::weighted(0.2, json_like()),
    )
        .prop_map(|(s, p, u, x)| {
            let mut m = Map::new();
            for (k, v) in [("status", s), ("percentComplete", p), ("url", u), ("x", x)] {
                if let Some(v) = v {
                    m.insert(k.to_owned(), v);
                }
            }
            Value::Object(m)
        })
}

/// Envelopes that decode more often than not: current and flat results, messages, extras.
fn envelope_like() -> impl Strategy<Value = Value> {
    let types = prop::sample::select(vec!["default", "audio", "hdr", "status", "x"]);
    let result = prop_oneof![
        3 => prop::collection::btree_map(types, prop_oneof![3 => download_like(), 1 => json_like()], 0..4)
            .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        1 => download_like(),
        1 => json_like(),
    ];
    let message = (
        prop_oneof![3 => (1000u32..20000).prop_map(Value::from), 1 => json_like()],
        "[a-z ]{0,8}",
        prop::option::weighted(0.3, json_like()),
    )
        .prop_map(|(code, text, source)| {
            let mut m = serde_json::json!({"code": code, "message": text});
            if let Some(s) = source {
                m["source"] = s;
            }
            m
        });
    let messages = prop::collection::vec(message, 0..3).prop_map(Value::from).boxed();
    (
        prop::option::weighted(0.9, any::<bool>()),
        prop::option::weighted(0.9, result),
        prop::option::of(messages.clone()),
        prop::option::of(messages),
        prop::option::weighted(0.2, json_like()),
    )
        .prop_map(|(success, result, errors, messages, x)| {
            let mut m = Map::new();
            let fields = [
                ("success", success.map(Value::from)),
                ("result", result),
                ("errors", errors),
                ("messages", messages),
                ("result_info", x),
            ];
            for (k, v) in fields {
                if let Some(v) = v {
                    m.insert(k.to_owned(), v);
                }
            }
            Value::Object(m)
        })
}

proptest! {
    /// The hand-written visitors read the same from bytes (borrowed keys), from a `Value`
    /// (owned keys) and through `decode`'s path-tracking second pass: same value or both errors.
    #[test]
    fn every_decoding_route_agrees(v in prop_oneof![4 => envelope_like(), 1 => json_like()]) {
        let bytes = v.to_string().into_bytes();
        let from_slice = serde_json::from_slice::<DownloadsEnvelope>(&bytes).ok();
        prop_assert_eq!(&from_slice, &serde_json::from_value::<DownloadsEnvelope>(v.clone()).ok());
        let tracked = serde_path_to_error::deserialize::<_, DownloadsEnvelope>(
            &mut serde_json::Deserializer::from_slice(&bytes),
        );
        prop_assert_eq!(&from_slice, &tracked.ok());
        prop_assert_eq!(&from_slice, &decode::<DownloadsEnvelope>(&bytes).ok());
        if let Some(env) = from_slice {
            // What decodes re-encodes to a body that decodes to the same value.
            let again = serde_json::to_vec(&env).unwrap();
            prop_assert_eq!(decode::<DownloadsEnvelope>(&again).ok(), Some(env));
        }
        let deleted = serde_json::from_slice::<cfstream_types::DeletedEnvelope>(&bytes).ok();
        prop_assert_eq!(deleted, serde_json::from_value(v).ok());
    }
}
