//! Generated cases, driven by the schemas: proptest strategies of valid envelopes
//! ([`valid`]), the named [`Mutation`]s that each break one rule ([`invalid`]), and a
//! deterministic corpus for benchmarks ([`bench_corpus`]).

use cfstream_types::Operation;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{Map, Value, json};

/// Which documented body a generated envelope is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Shape {
    /// The 200 of list, create and create_type (`downloads-response.json`).
    Downloads,
    /// The 200 of the deletes (`deleted-response.json`).
    Deleted,
    /// Any 4XX (`failure-response.json`).
    Failure,
}

impl Shape {
    /// Every shape.
    pub const ALL: [Shape; 3] = [Shape::Downloads, Shape::Deleted, Shape::Failure];

    /// `downloads`, `deleted` or `failure` (as in `known-differences.md`).
    pub fn name(self) -> &'static str {
        match self {
            Shape::Downloads => "downloads",
            Shape::Deleted => "deleted",
            Shape::Failure => "failure",
        }
    }

    /// An operation and status whose documented answer is this shape.
    pub fn answer_of(self) -> (Operation, u16) {
        match self {
            Shape::Downloads => (Operation::List, 200),
            Shape::Deleted => (Operation::DeleteType, 200),
            Shape::Failure => (Operation::List, 400),
        }
    }
}

fn message() -> impl Strategy<Value = Value> {
    (
        1000u32..100_000,
        "[A-Za-z ]{0,24}",
        proptest::option::of("https://developers\\.cloudflare\\.com/[a-z/]{0,16}"),
        proptest::option::of("/[a-z_]{1,10}"),
    )
        .prop_map(|(code, message, doc, pointer)| {
            let mut m = Map::new();
            m.insert("code".into(), json!(code));
            m.insert("message".into(), json!(message));
            if let Some(d) = doc {
                m.insert("documentation_url".into(), json!(d));
            }
            if let Some(p) = pointer {
                m.insert("source".into(), json!({ "pointer": p }));
            }
            Value::Object(m)
        })
}

/// 0 to 3 messages with distinct codes (the schema says `uniqueItems`).
fn messages(min: usize) -> impl Strategy<Value = Value> {
    proptest::collection::vec(message(), min..=3).prop_map(|v| {
        let mut seen = std::collections::HashSet::new();
        Value::Array(v.into_iter().filter(|m| seen.insert(m["code"].to_string())).collect())
    })
}

fn percent() -> impl Strategy<Value = Value> {
    prop_oneof![(0u8..=100).prop_map(|p| json!(p)), (0.0f64..=100.0).prop_map(|p| json!(p)),]
}

/// A valid download object: `status`, `percentComplete`, maybe `url`.
pub fn download() -> impl Strategy<Value = Value> {
    (
        prop_oneof![Just("ready"), Just("inprogress"), Just("error")],
        percent(),
        proptest::option::of((
            "[a-z0-9]{16}",
            "[0-9a-f]{32}",
            prop_oneof![Just("default.mp4"), Just("audio.m4a")],
        )),
    )
        .prop_map(|(status, pc, url)| {
            let mut m = Map::new();
            m.insert("status".into(), json!(status));
            m.insert("percentComplete".into(), pc);
            if let Some((code, uid, file)) = url {
                m.insert(
                    "url".into(),
                    json!(format!(
                        "https://customer-{code}.cloudflarestream.com/{uid}/downloads/{file}"
                    )),
                );
            }
            Value::Object(m)
        })
}

fn envelope(success: bool, errors: Value, messages: Value, result: Option<Value>) -> Value {
    let mut m = Map::new();
    m.insert("success".into(), json!(success));
    m.insert("errors".into(), errors);
    m.insert("messages".into(), messages);
    if let Some(r) = result {
        m.insert("result".into(), r);
    }
    Value::Object(m)
}

/// Valid envelopes of `shape`: every body this strategy yields conforms to the spec.
pub fn valid(shape: Shape) -> BoxedStrategy<Value> {
    match shape {
        Shape::Downloads => (
            messages(0),
            proptest::option::of((
                proptest::option::of(download()),
                proptest::option::of(download()),
            )),
        )
            .prop_map(|(msgs, result)| {
                let result = result.map(|(default, audio)| {
                    let mut r = Map::new();
                    if let Some(d) = default {
                        r.insert("default".into(), d);
                    }
                    if let Some(a) = audio {
                        r.insert("audio".into(), a);
                    }
                    Value::Object(r)
                });
                envelope(true, json!([]), msgs, result)
            })
            .boxed(),
        Shape::Deleted => (messages(0), proptest::option::of(Just(json!("ok"))))
            .prop_map(|(msgs, result)| envelope(true, json!([]), msgs, result))
            .boxed(),
        Shape::Failure => (messages(1), messages(0))
            .prop_map(|(errors, msgs)| envelope(false, errors, msgs, Some(Value::Null)))
            .boxed(),
    }
}

/// One way to break a valid envelope: a stable name, the shapes it applies to, and the edit.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct Mutation {
    /// Stable snake_case name (as in `known-differences.md`).
    pub name: &'static str,
    /// The shapes it applies to.
    pub shapes: &'static [Shape],
    edit: Edit,
}

#[derive(Clone, Copy)]
enum Edit {
    /// Edits the top-level object.
    Object(fn(&mut Map<String, Value>)),
    /// Replaces the whole body.
    Whole(fn(Value) -> Value),
}

impl std::fmt::Debug for Mutation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mutation").field("name", &self.name).finish_non_exhaustive()
    }
}

impl Mutation {
    /// `valid` with this rule broken; `None` if the edit needs an object and `valid` is not.
    pub fn apply(&self, valid: &Value) -> Option<Value> {
        match self.edit {
            Edit::Whole(f) => Some(f(valid.clone())),
            Edit::Object(f) => {
                let mut v = valid.clone();
                f(v.as_object_mut()?);
                Some(v)
            }
        }
    }
}

const ANY: &[Shape] = &[Shape::Downloads, Shape::Deleted, Shape::Failure];
const OK: &[Shape] = &[Shape::Downloads, Shape::Deleted];
const DL: &[Shape] = &[Shape::Downloads];
const DEL: &[Shape] = &[Shape::Deleted];
const FAIL: &[Shape] = &[Shape::Failure];

/// Runs `f` on the download at `result.default`, made (valid) first if absent.
fn with_download(m: &mut Map<String, Value>, f: impl FnOnce(&mut Map<String, Value>)) {
    let result = m.entry("result").or_insert_with(|| json!({}));
    if !result.is_object() {
        *result = json!({});
    }
    if let Some(r) = result.as_object_mut() {
        let d = r
            .entry("default")
            .or_insert_with(|| json!({"status": "inprogress", "percentComplete": 10}));
        if let Some(d) = d.as_object_mut() {
            f(d);
        }
    }
}

fn push(m: &mut Map<String, Value>, field: &str, item: Value) {
    match m.get_mut(field) {
        Some(Value::Array(a)) => a.push(item),
        _ => {
            m.insert(field.into(), json!([item]));
        }
    }
}

const fn obj(
    name: &'static str,
    shapes: &'static [Shape],
    f: fn(&mut Map<String, Value>),
) -> Mutation {
    Mutation { name, shapes, edit: Edit::Object(f) }
}

/// Every mutation, each breaking one rule of the schemas or of the envelope.
pub const MUTATIONS: &[Mutation] = &[
    Mutation { name: "not_an_object", shapes: ANY, edit: Edit::Whole(|v| json!([v])) },
    obj("success_missing", ANY, |m| {
        m.remove("success");
    }),
    obj("success_wrong_type", ANY, |m| {
        let s = m.get("success").and_then(Value::as_bool).unwrap_or(true);
        m.insert("success".into(), json!(s.to_string()));
    }),
    obj("success_lies", ANY, |m| {
        let s = m.get("success").and_then(Value::as_bool).unwrap_or(true);
        m.insert("success".into(), json!(!s));
    }),
    obj("errors_missing", ANY, |m| {
        m.remove("errors");
    }),
    obj("messages_missing", ANY, |m| {
        m.remove("messages");
    }),
    obj("errors_not_array", ANY, |m| {
        m.insert("errors".into(), json!({}));
    }),
    obj("message_code_below_1000", ANY, |m| {
        push(m, "messages", json!({"code": 999, "message": "low"}));
    }),
    obj("message_code_not_integer", ANY, |m| {
        push(m, "messages", json!({"code": 1000.5, "message": "half"}));
    }),
    obj("message_code_wrong_type", ANY, |m| {
        push(m, "messages", json!({"code": "1000", "message": "str"}));
    }),
    obj("message_text_missing", ANY, |m| push(m, "messages", json!({"code": 1000}))),
    obj("messages_duplicate", ANY, |m| {
        push(m, "messages", json!({"code": 1001, "message": "twice"}));
        push(m, "messages", json!({"code": 1001, "message": "twice"}));
    }),
    obj("result_wrong_type", DL, |m| {
        m.insert("result".into(), json!("ok"));
    }),
    obj("result_null", OK, |m| {
        m.insert("result".into(), Value::Null);
    }),
    obj("result_not_string", DEL, |m| {
        m.insert("result".into(), json!({"deleted": true}));
    }),
    obj("download_wrong_type", DL, |m| {
        with_download(m, |_| ());
        if let Some(r) = m.get_mut("result").and_then(Value::as_object_mut) {
            r.insert("default".into(), json!("ready"));
        }
    }),
    obj("status_missing", DL, |m| {
        with_download(m, |d| {
            d.remove("status");
        });
    }),
    obj("status_unknown", DL, |m| {
        with_download(m, |d| {
            d.insert("status".into(), json!("queued"));
        });
    }),
    obj("status_wrong_type", DL, |m| {
        with_download(m, |d| {
            d.insert("status".into(), json!(1));
        });
    }),
    obj("percent_missing", DL, |m| {
        with_download(m, |d| {
            d.remove("percentComplete");
        });
    }),
    obj("percent_above_100", DL, |m| {
        with_download(m, |d| {
            d.insert("percentComplete".into(), json!(100.5));
        });
    }),
    obj("percent_negative", DL, |m| {
        with_download(m, |d| {
            d.insert("percentComplete".into(), json!(-1));
        });
    }),
    obj("percent_wrong_type", DL, |m| {
        with_download(m, |d| {
            d.insert("percentComplete".into(), json!("50"));
        });
    }),
    obj("url_not_uri", DL, |m| {
        with_download(m, |d| {
            d.insert("url".into(), json!("not a uri"));
        });
    }),
    obj("url_relative", DL, |m| {
        with_download(m, |d| {
            d.insert("url".into(), json!("/downloads/default.mp4"));
        });
    }),
    obj("url_wrong_type", DL, |m| {
        with_download(m, |d| {
            d.insert("url".into(), json!(5));
        });
    }),
    obj("errors_empty", FAIL, |m| {
        m.insert("errors".into(), json!([]));
    }),
    obj("error_code_below_1000", FAIL, |m| {
        let first = m.get_mut("errors").and_then(Value::as_array_mut).and_then(|a| a.first_mut());
        if let Some(e) = first.and_then(Value::as_object_mut) {
            e.insert("code".into(), json!(999));
        }
    }),
    obj("result_missing", FAIL, |m| {
        m.remove("result");
    }),
    obj("result_not_null", FAIL, |m| {
        m.insert("result".into(), json!({}));
    }),
];

/// Edge cases that stay valid per the schemas: each must still be accepted by the validator,
/// and the types must decode it (unless `known-differences.md` lists it).
pub const EDGES: &[Mutation] = &[
    obj("message_code_huge", ANY, |m| {
        // No maximum in the spec; the types hold any u64.
        push(m, "messages", json!({"code": u64::MAX, "message": "the largest code"}));
    }),
    obj("message_extra_fields", ANY, |m| {
        push(
            m,
            "messages",
            json!({"code": 1002, "message": "m", "level": "info", "source": {"pointer": "/x", "extra": 1}}),
        );
    }),
    obj("extra_top_level_field", ANY, |m| {
        m.insert("result_info".into(), json!({"count": 1}));
    }),
    obj("unknown_download_type", DL, |m| {
        with_download(m, |_| ());
        if let Some(r) = m.get_mut("result").and_then(Value::as_object_mut) {
            r.insert("hdr".into(), json!({"status": "queued", "percentComplete": 0}));
        }
    }),
    obj("legacy_flat_result", DL, |m| {
        m.insert("result".into(), json!({"status": "ready", "percentComplete": 100}));
    }),
    obj("percent_fractional_edges", DL, |m| {
        with_download(m, |d| {
            d.insert("percentComplete".into(), json!(99.999));
        });
    }),
    obj("download_extra_fields", DL, |m| {
        with_download(m, |d| {
            d.insert("codec".into(), json!("av1"));
        });
    }),
    obj("result_absent", OK, |m| {
        m.remove("result");
    }),
    obj("deleted_result_other_string", DEL, |m| {
        m.insert("result".into(), json!("deleted"));
    }),
];

/// The mutations that apply to `shape`.
pub fn mutations_for(shape: Shape) -> impl Iterator<Item = &'static Mutation> {
    MUTATIONS.iter().filter(move |m| m.shapes.contains(&shape))
}

/// Invalid envelopes of `shape`: a valid one with one named [`Mutation`] applied.
pub fn invalid(shape: Shape) -> BoxedStrategy<(Value, &'static str)> {
    let muts: Vec<&'static Mutation> = mutations_for(shape).collect();
    (valid(shape), proptest::sample::select(muts))
        .prop_filter_map("mutation applies", |(v, m)| m.apply(&v).map(|b| (b, m.name)))
        .boxed()
}

/// One body of the benchmark corpus, with the operation and status it answers.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Sample {
    /// The operation answered.
    pub operation: Operation,
    /// The HTTP status.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

/// `n` generated bodies, deterministic (same on every call): about 70% valid downloads
/// answers, 10% delete answers, 10% failures and 10% invalid bodies.
pub fn bench_corpus(n: usize) -> Vec<Sample> {
    let mut runner = TestRunner::deterministic();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let (shape, broken) = match i % 10 {
            0 => (Shape::Deleted, false),
            1 => (Shape::Failure, false),
            2 => (Shape::Downloads, true),
            _ => (Shape::Downloads, false),
        };
        let value = if broken {
            invalid(shape).new_tree(&mut runner).map(|t| t.current().0)
        } else {
            valid(shape).new_tree(&mut runner).map(|t| t.current())
        };
        let Ok(value) = value else { continue };
        let (operation, status) = shape.answer_of();
        out.push(Sample { operation, status, body: value.to_string().into_bytes() });
    }
    out
}
