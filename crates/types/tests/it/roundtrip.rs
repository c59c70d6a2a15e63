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
