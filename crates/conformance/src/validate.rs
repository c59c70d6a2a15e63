//! Validation of one answer against the spec: the compiled schemas ([`Validator`]) and what a
//! broken rule looks like ([`Violation`]).

use std::sync::LazyLock;
use std::time::{Duration, SystemTime};

use cfstream_types::{Operation, ResponseKind};
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::catalogue::Check;
use crate::error::{Error, ErrorKind};

mod fast;
mod rules;
mod tree;
mod tree_de;
mod tree_schema;
mod value_path;

use rules::semantic;
use value_path::head_violations;

/// How many characters of an offending value (and of a pointer) a [`Violation`] keeps.
const VALUE_MAX: usize = 200;
/// How many characters of a rule a [`Violation`] keeps (a schema's message quotes the value).
const RULE_MAX: usize = 400;
/// How many distinct violations one check keeps; the rest are counted, so that a report's
/// size is bounded whatever the server sends.
pub(crate) const KEPT_PER_CHECK: usize = 100;

macro_rules! schema_text {
    ($name:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/", $name))
    };
}

/// The schema texts embedded at build time, by file name under the crate's `schemas/` (a copy
/// of the workspace's, kept in sync by `cargo xtask schemas`).
pub(crate) const DOWNLOADS_RESPONSE: &str = schema_text!("downloads-response.json");
pub(crate) const DELETED_RESPONSE: &str = schema_text!("deleted-response.json");
pub(crate) const FAILURE_RESPONSE: &str = schema_text!("failure-response.json");
/// The 200 bodies of the signed-URL operations, derived from the project's transcription of
/// the facts (`schemas/openapi/stream-signing.facts.openapi.json`; see its `$comment`).
pub(crate) const TOKEN_RESPONSE: &str = schema_text!("token-response.json");
pub(crate) const SIGNING_KEY_RESPONSE: &str = schema_text!("signing-key-response.json");
pub(crate) const SIGNING_KEYS_RESPONSE: &str = schema_text!("signing-keys-response.json");
pub(crate) const SIGNING_KEY_DELETED_RESPONSE: &str =
    schema_text!("signing-key-deleted-response.json");

/// One broken rule: which operation, which check, where in the body, what rule, what value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Violation {
    /// The operation whose answer broke the rule, when it is one of the five.
    #[serde(serialize_with = "op_name")]
    pub operation: Option<Operation>,
    /// The name of the check that found it (see [`crate::catalogue()`]).
    pub check: String,
    /// A JSON pointer into the body (`""` for the whole answer), or a pseudo pointer such as
    /// `header:content-type` or `status` for what is not in the body.
    pub pointer: String,
    /// The rule that was broken, in words.
    pub rule: String,
    /// The offending value (the first one seen, when folded), cut to 200 characters.
    pub value: String,
    /// How many times it was seen: identical violations (same check, operation, pointer and
    /// rule) fold into one.
    #[serde(skip_serializing_if = "is_one")]
    pub count: usize,
}

// serde's skip_serializing_if passes a reference.
#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_one(n: &usize) -> bool {
    *n == 1
}

fn op_name<S: Serializer>(op: &Option<Operation>, s: S) -> Result<S::Ok, S::Error> {
    match op {
        Some(op) => s.serialize_str(op.name()),
        None => s.serialize_none(),
    }
}

impl Violation {
    /// A violation of `check` at `pointer`.
    pub fn new(
        operation: Option<Operation>,
        check: &str,
        pointer: impl Into<String>,
        rule: impl Into<String>,
        value: impl AsRef<str>,
    ) -> Self {
        Self {
            operation,
            check: check.to_owned(),
            pointer: truncate(&pointer.into()),
            rule: truncate_to(&rule.into(), RULE_MAX),
            value: truncate(value.as_ref()),
            count: 1,
        }
    }

    /// Whether `other` is the same violation (check, operation, pointer, rule), whatever its
    /// value.
    pub(crate) fn same_as(&self, other: &Violation) -> bool {
        self.check == other.check
            && self.operation == other.operation
            && self.pointer == other.pointer
            && self.rule == other.rule
    }
}

/// The violations of one check, folded and bounded: an identical violation adds to the
/// count of the first, and past [`KEPT_PER_CHECK`] distinct ones the rest are only counted.
#[derive(Debug, Default)]
pub(crate) struct Folded {
    kept: Vec<Violation>,
    dropped: usize,
}

impl Folded {
    pub(crate) fn push(&mut self, v: Violation) {
        if let Some(same) = self.kept.iter_mut().find(|k| k.same_as(&v)) {
            same.count += v.count;
        } else if self.kept.len() < KEPT_PER_CHECK {
            self.kept.push(v);
        } else {
            self.dropped += v.count;
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    /// Calls `f` on each kept violation (to redact it).
    pub(crate) fn for_each_mut(&mut self, f: impl FnMut(&mut Violation)) {
        self.kept.iter_mut().for_each(f);
    }

    /// How many violations were pushed, folded or not.
    pub(crate) fn total(&self) -> usize {
        self.kept.iter().map(|v| v.count).sum::<usize>() + self.dropped
    }

    /// The kept violations, then one that counts the dropped ones (if any).
    pub(crate) fn into_vec(mut self) -> Vec<Violation> {
        if self.dropped > 0
            && let Some(first) = self.kept.first()
        {
            let mut more = Violation::new(
                None,
                &first.check.clone(),
                "",
                format!("more distinct violations, not kept (a check keeps {KEPT_PER_CHECK})"),
                "",
            );
            more.count = self.dropped;
            self.kept.push(more);
        }
        self.kept
    }
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(op) = self.operation {
            write!(f, "[{op}] ")?;
        }
        let at = if self.pointer.is_empty() { "(body)" } else { self.pointer.as_str() };
        write!(f, "{}: at {at}: {} (got {})", self.check, self.rule, self.value)?;
        if self.count > 1 {
            write!(f, " [{} times]", self.count)?;
        }
        Ok(())
    }
}

/// Cuts `s` to [`VALUE_MAX`] characters, marking the cut.
pub(crate) fn truncate(s: &str) -> String {
    truncate_to(s, VALUE_MAX)
}

/// Cuts `s` to `max` characters, marking the cut.
pub(crate) fn truncate_to(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_owned(),
        Some((at, _)) => {
            let mut out = s[..at].to_owned();
            out.push('…');
            out
        }
    }
}

fn show(v: &Value) -> String {
    truncate(&v.to_string())
}

/// The three body schemas, compiled for one JSON representation `F` (`serde_json::Value`, or
/// the fast path's borrowed tree).
struct Schemas<F: jsonschema::json::Json> {
    downloads: jsonschema::Validator<F>,
    deleted: jsonschema::Validator<F>,
    failure: jsonschema::Validator<F>,
}

impl<F: jsonschema::json::Json> Schemas<F> {
    fn compile() -> Result<Self, String> {
        Ok(Schemas {
            downloads: compile_for("downloads-response.json", DOWNLOADS_RESPONSE)?,
            deleted: compile_for("deleted-response.json", DELETED_RESPONSE)?,
            failure: compile_for("failure-response.json", FAILURE_RESPONSE)?,
        })
    }

    /// The schema of the body `expect` names, if one applies.
    fn of(&self, expect: Expect) -> Option<&jsonschema::Validator<F>> {
        match expect {
            Expect::Success(ResponseKind::Downloads) => Some(&self.downloads),
            Expect::Success(ResponseKind::Deleted) => Some(&self.deleted),
            Expect::Failure => Some(&self.failure),
            // `ResponseKind` may grow; an unknown kind has no schema here.
            Expect::Success(_) | Expect::Nothing => None,
        }
    }
}

struct Compiled {
    value: Schemas<jsonschema::json::SerdeJson>,
    token: jsonschema::Validator,
    /// The same schemas for the fast path's borrowed tree.
    tree: Schemas<tree_schema::TreeJson>,
}

pub(crate) fn compile(name: &str, text: &str) -> Result<jsonschema::Validator, String> {
    compile_for(name, text)
}

/// `text` (the schema called `name`) compiled for instances in the representation `F`.
fn compile_for<F: jsonschema::json::Json>(
    name: &str,
    text: &str,
) -> Result<jsonschema::Validator<F>, String> {
    let schema: Value =
        serde_json::from_str(text).map_err(|e| format!("schema {name} is not JSON: {e}"))?;
    jsonschema::options_for::<F>()
        .should_validate_formats(true)
        .build(&schema)
        .map_err(|e| format!("schema {name} does not compile: {e}"))
}

static COMPILED: LazyLock<Result<Compiled, String>> = LazyLock::new(|| {
    Ok(Compiled {
        value: Schemas::compile()?,
        token: compile("token-response.json", TOKEN_RESPONSE)?,
        tree: Schemas::compile()?,
    })
});

/// Which documented body an answer should carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Success(ResponseKind),
    Failure,
    /// An undocumented status: no schema applies.
    Nothing,
}

fn expect(op: Operation, status: u16) -> Expect {
    match status {
        200..=299 => Expect::Success(op.response()),
        400..=599 => Expect::Failure,
        _ => Expect::Nothing,
    }
}

/// The spec's schemas, compiled once per process and shared by every `Validator`.
///
/// Cheap to create and to clone; it is `Send + Sync`.
#[derive(Clone, Copy)]
pub struct Validator {
    compiled: &'static Compiled,
}

impl std::fmt::Debug for Validator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validator").finish_non_exhaustive()
    }
}

impl Validator {
    /// The validator over the embedded schemas (compiled on first use, then shared).
    ///
    /// Fails only if the embedded schemas do not compile, which is a build defect.
    pub fn new() -> Result<Self, Error> {
        match &*COMPILED {
            Ok(compiled) => Ok(Self { compiled }),
            Err(e) => Err(Error::new(ErrorKind::Schema, e)),
        }
    }

    fn schema(&self, expect: Expect) -> Option<&jsonschema::Validator> {
        self.compiled.value.of(expect)
    }

    /// Whether `body` matches the schema of `op`'s answer with `status` (200 schema for 2XX,
    /// failure schema for 4XX and 5XX). Schema only, none of the other rules.
    pub fn schema_accepts(&self, op: Operation, status: u16, body: &Value) -> bool {
        self.schema(expect(op, status)).is_none_or(|s| s.is_valid(body))
    }

    /// Every rule that one answer of `op` breaks: documented status, JSON content type, the
    /// body's schema, `success` against the status, errors on failure, codes >= 1000,
    /// `result` null on failure, and that cfstream-types decodes a 2XX body the schema
    /// accepts. Empty when the answer conforms.
    ///
    /// A conforming answer is judged on a fast path (one parse into a borrowed tree, one schema
    /// pass, the rules, one typed decode); only a broken one pays for a `serde_json::Value` and
    /// for collecting details.
    pub fn check_response(
        &self,
        op: Operation,
        status: u16,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Vec<Violation> {
        let mut out = head_violations(op, status, content_type);
        if !self.body_conforms(op, status, body) {
            self.body_violations(op, status, body, &mut out);
        }
        out
    }

    /// [`Validator::check_response`] without its fast path: every body is judged on a
    /// `serde_json::Value`. The reference the fast path is tested against; not for users.
    #[doc(hidden)]
    pub fn check_response_reference(
        &self,
        op: Operation,
        status: u16,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Vec<Violation> {
        let mut out = head_violations(op, status, content_type);
        self.body_violations(op, status, body, &mut out);
        out
    }

    /// [`Validator::check_response`] taking the content type from `headers`, plus the header
    /// rules (a 429 carries `retry-after`).
    pub fn check_http(
        &self,
        op: Operation,
        status: u16,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Vec<Violation> {
        let ct = headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        let mut out = self.check_response(op, status, ct, body);
        if status == 429 {
            let ra = headers.get(http::header::RETRY_AFTER).map(|v| v.to_str().ok());
            let rule = match ra {
                None => Some("a 429 must carry retry-after as seconds or an HTTP date".to_owned()),
                Some(None) => Some("retry-after must be seconds or an HTTP date".to_owned()),
                Some(Some(v)) => match parse_retry_after(v, SystemTime::now()) {
                    Ok(_) => None,
                    Err("absurd") => Some(format!(
                        "retry-after must not ask for more than {} s (absurd)",
                        RETRY_AFTER_SANE.as_secs()
                    )),
                    Err(why) => {
                        Some(format!("retry-after must be seconds or an HTTP date ({why})"))
                    }
                },
            };
            if let Some(rule) = rule {
                out.push(Violation::new(
                    Some(op),
                    Check::RetryAfterOn429.name(),
                    "header:retry-after",
                    rule,
                    match ra {
                        None => "(none)",
                        Some(None) => "(not text)",
                        Some(Some(v)) => v,
                    },
                ));
            }
        }
        out
    }

    /// Every rule the token endpoint's answer to a request for a token breaks, as violations
    /// of `signed_token_schema`: it is a 200, `application/json`, matching the token-response
    /// schema, and cfstream-types decodes it. Empty when the answer conforms.
    pub(crate) fn check_token_answer(
        &self,
        status: u16,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Vec<Violation> {
        let check = Check::SignedTokenSchema.name();
        let mut out = Vec::new();
        if status != 200 {
            out.push(Violation::new(
                None,
                check,
                "status",
                "the token endpoint must answer 200",
                format!("{status} {}", String::from_utf8_lossy(body)),
            ));
            return out;
        }
        let ct = headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        if !is_json_media_type(ct) {
            out.push(Violation::new(
                None,
                check,
                "header:content-type",
                "the token answer must be application/json",
                ct.unwrap_or("(none)"),
            ));
        }
        let value: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                out.push(Violation::new(
                    None,
                    check,
                    "",
                    format!("the token answer must be JSON ({e})"),
                    String::from_utf8_lossy(body),
                ));
                return out;
            }
        };
        let before = out.len();
        for e in self.compiled.token.iter_errors(&value) {
            out.push(Violation::new(
                None,
                check,
                e.instance_path().as_str(),
                schema_rule(&e),
                show(e.instance()),
            ));
        }
        if out.len() == before
            && let Err(e) = cfstream_types::decode::<cfstream_types::signed::TokenEnvelope>(body)
        {
            let pointer = dotted_to_pointer(e.path());
            let at = pointer_get(&value, &pointer).map_or_else(|| show(&value), show);
            out.push(Violation::new(
                None,
                check,
                pointer,
                format!(
                    "cfstream-types must decode a token answer the schema accepts ({})",
                    e.message()
                ),
                at,
            ));
        }
        out
    }

    /// Whether `body` is a failure envelope (schema and rules), whatever the status.
    pub(crate) fn failure_problems(&self, body: &[u8]) -> Vec<String> {
        let value: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                return vec![format!(
                    "body is not JSON ({e}): {}",
                    truncate(&String::from_utf8_lossy(body))
                )];
            }
        };
        let mut out: Vec<String> = self
            .compiled
            .value
            .failure
            .iter_errors(&value)
            .map(|e| format!("{} at '{}'", schema_rule(&e), e.instance_path().as_str()))
            .collect();
        let mut v = Vec::new();
        semantic(Operation::List, 400, &value, &mut v);
        out.extend(v.into_iter().map(|v| format!("{} at '{}'", v.rule, v.pointer)));
        out
    }
}

fn schema_rule(e: &jsonschema::ValidationError<'_>) -> String {
    let keyword = e.schema_path().as_str().rsplit('/').next().unwrap_or_default().to_owned();
    format!("schema `{keyword}`: {e}")
}

/// A path of the path-tracking decoder as a JSON pointer: `result.default.percentComplete` ->
/// `/result/default/percentComplete`, `messages[0].code` -> `/messages/0/code`, `.` -> ``.
fn dotted_to_pointer(path: &str) -> String {
    if path == "." || path.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    let mut push = |seg: &str| {
        out.push('/');
        out.push_str(&seg.replace('~', "~0").replace('/', "~1"));
    };
    for seg in path.split('.') {
        // An array index follows its field without a dot: `name[0][1]`.
        let (name, mut indices) = seg.split_once('[').map_or((seg, ""), |(n, i)| (n, i));
        if !name.is_empty() || indices.is_empty() {
            push(name);
        }
        while let Some((index, rest)) = indices.split_once(']') {
            push(index);
            indices = rest.strip_prefix('[').unwrap_or(rest);
        }
    }
    out
}

fn pointer_get<'a>(value: &'a Value, pointer: &str) -> Option<&'a Value> {
    value.pointer(pointer)
}

/// `application/json`, any case, with or without parameters.
pub(crate) fn is_json_media_type(ct: Option<&str>) -> bool {
    ct.and_then(|ct| ct.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

/// The longest `retry-after` that is not absurd: an hour (the documented rate-limit window
/// is five minutes).
pub(crate) const RETRY_AFTER_SANE: Duration = Duration::from_secs(3600);

/// What a `retry-after` value asks for, read at `now`: whole seconds, or an HTTP date (a date
/// in the past asks for no wait). Fails with what is wrong: negative, malformed, or absurd
/// (more than [`RETRY_AFTER_SANE`]).
pub(crate) fn parse_retry_after(v: &str, now: SystemTime) -> Result<Duration, &'static str> {
    let v = v.trim();
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let delay = if digits(v) {
        // Too many digits for a u64 is absurd too.
        Duration::from_secs(v.parse().unwrap_or(u64::MAX))
    } else if v.strip_prefix('-').is_some_and(digits) {
        return Err("negative");
    } else if let Ok(date) = httpdate::parse_http_date(v) {
        date.duration_since(now).unwrap_or(Duration::ZERO)
    } else {
        return Err("malformed");
    };
    if delay > RETRY_AFTER_SANE { Err("absurd") } else { Ok(delay) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v() -> Validator {
        Validator::new().unwrap()
    }

    fn checks(vs: &[Violation]) -> Vec<&str> {
        vs.iter().map(|v| v.check.as_str()).collect()
    }

    const JSON: Option<&str> = Some("application/json; charset=utf-8");

    #[test]
    fn conforming_answers_have_no_violation() {
        let ok = br#"{"success":true,"errors":[],"messages":[],"result":{"default":{"status":"ready","percentComplete":100,"url":"https://customer-x.cloudflarestream.com/ea95132c15732412d22c1476fa83f27a/downloads/default.mp4"}}}"#;
        assert_eq!(v().check_response(Operation::List, 200, JSON, ok), vec![]);
        let del = br#"{"success":true,"errors":[],"messages":[],"result":"ok"}"#;
        assert_eq!(v().check_response(Operation::DeleteType, 200, JSON, del), vec![]);
        let fail = br#"{"success":false,"errors":[{"code":10000,"message":"Authentication error"}],"messages":[],"result":null}"#;
        assert_eq!(v().check_response(Operation::Create, 403, JSON, fail), vec![]);
    }

    #[test]
    fn each_rule_is_named() {
        let fail =
            br#"{"success":true,"errors":[{"code":999,"message":"x"}],"messages":[],"result":{}}"#;
        let vs = v().check_response(Operation::List, 404, Some("text/html"), fail);
        let names = checks(&vs);
        for want in [
            Check::ContentTypeJson.name(),
            Check::BodySchema.name(),
            Check::SuccessMatchesStatus.name(),
            Check::ErrorCodeRange.name(),
            Check::FailureResultNull.name(),
        ] {
            assert!(names.contains(&want), "{want} missing from {vs:#?}");
        }
        let vs = v().check_response(
            Operation::List,
            500,
            JSON,
            br#"{"success":false,"errors":[],"messages":[],"result":null}"#,
        );
        assert!(checks(&vs).contains(&Check::StatusDocumented.name()));
        assert!(checks(&vs).contains(&Check::FailureHasErrors.name()), "{vs:#?}");
        let vs = v().check_response(Operation::List, 200, JSON, b"<html>");
        assert_eq!(checks(&vs), vec![Check::BodySchema.name()]);
        assert_eq!(vs[0].value, "<html>");
    }

    #[test]
    fn pointers_and_values_name_the_field() {
        let body = br#"{"success":true,"errors":[],"messages":[],"result":{"audio":{"status":"ready","percentComplete":101}}}"#;
        let vs = v().check_response(Operation::CreateType, 200, JSON, body);
        assert_eq!(vs.len(), 1, "{vs:#?}");
        assert_eq!(vs[0].pointer, "/result/audio/percentComplete");
        assert_eq!(vs[0].value, "101");
        assert_eq!(vs[0].operation, Some(Operation::CreateType));
        let body = br#"{"success":true,"errors":[],"messages":[],"result":{"default":{"status":"ready","percentComplete":1,"url":"not a uri"}}}"#;
        let vs = v().check_response(Operation::List, 200, JSON, body);
        assert_eq!(checks(&vs), vec![Check::BodySchema.name()], "{vs:#?}");
        assert_eq!(vs[0].pointer, "/result/default/url");
    }

    #[test]
    fn retry_after_is_checked_on_429() {
        let body = br#"{"success":false,"errors":[{"code":10429,"message":"slow down"}],"messages":[],"result":null}"#;
        let mut h = http::HeaderMap::new();
        h.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
        assert_eq!(
            checks(&v().check_http(Operation::List, 429, &h, body)),
            vec![Check::RetryAfterOn429.name()]
        );
        h.insert(http::header::RETRY_AFTER, http::HeaderValue::from_static("30"));
        assert!(v().check_http(Operation::List, 429, &h, body).is_empty());
        h.insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        assert!(v().check_http(Operation::List, 429, &h, body).is_empty());
        for (bad, rule) in [
            ("-5", "retry-after must be seconds or an HTTP date (negative)"),
            ("soon", "retry-after must be seconds or an HTTP date (malformed)"),
            ("3601", "retry-after must not ask for more than 3600 s (absurd)"),
            ("99999999999999999999999", "retry-after must not ask for more than 3600 s (absurd)"),
            (
                "Fri, 31 Dec 9999 23:59:59 GMT",
                "retry-after must not ask for more than 3600 s (absurd)",
            ),
        ] {
            h.insert(http::header::RETRY_AFTER, http::HeaderValue::from_static(bad));
            let vs = v().check_http(Operation::List, 429, &h, body);
            assert_eq!(vs.len(), 1, "{bad}: {vs:#?}");
            assert_eq!((vs[0].rule.as_str(), vs[0].value.as_str()), (rule, bad));
        }
        let now = SystemTime::now();
        let in_30s = httpdate::fmt_http_date(now + Duration::from_secs(30));
        let d = parse_retry_after(&in_30s, now).unwrap();
        assert!(d > Duration::from_secs(28) && d <= Duration::from_secs(30), "{d:?}");
        assert_eq!(parse_retry_after(" 7 ", now), Ok(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("3600", now), Ok(RETRY_AFTER_SANE));
    }

    #[test]
    fn identical_violations_fold_and_a_check_keeps_a_bounded_number() {
        let v = |pointer: &str, value: &str| {
            Violation::new(Some(Operation::List), "body_schema", pointer, "rule", value)
        };
        let mut f = Folded::default();
        f.push(v("/a", "first"));
        f.push(v("/a", "second"));
        f.push(v("/b", "x"));
        let out = f.into_vec();
        assert_eq!(out.len(), 2);
        assert_eq!((out[0].count, out[0].value.as_str()), (2, "first"));
        assert_eq!(out[0].to_string(), "[list] body_schema: at /a: rule (got first) [2 times]");
        let mut f = Folded::default();
        for i in 0..KEPT_PER_CHECK + 5 {
            f.push(v(&format!("/{i}"), "x"));
            f.push(v(&format!("/{i}"), "x"));
        }
        let out = f.into_vec();
        assert_eq!(out.len(), KEPT_PER_CHECK + 1);
        assert_eq!(out[KEPT_PER_CHECK].count, 10);
        assert!(out[KEPT_PER_CHECK].rule.starts_with("more distinct violations"));
    }

    #[test]
    fn the_token_answer_is_judged_against_its_hand_written_schema() {
        let mut h = http::HeaderMap::new();
        h.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
        let judge = |status: u16, h: &http::HeaderMap, body: &str| {
            v().check_token_answer(status, h, body.as_bytes())
                .into_iter()
                .map(|v| (v.check, v.pointer, v.value))
                .collect::<Vec<_>>()
        };
        let ok = r#"{"success":true,"errors":[],"messages":[],"result":{"token":"eyJh.eyJz.c2ln","x":1}}"#;
        assert_eq!(judge(200, &h, ok), vec![]);
        let name = || "signed_token_schema".to_owned();
        for (body, pointer, value) in [
            (r#"{"success":true,"errors":[],"messages":[],"result":{}}"#, "/result", "{}"),
            (
                r#"{"success":true,"errors":[],"messages":[],"result":{"token":7}}"#,
                "/result/token",
                "7",
            ),
            (
                r#"{"success":true,"errors":[],"messages":[],"result":{"token":""}}"#,
                "/result/token",
                "\"\"",
            ),
            (
                r#"{"success":true,"errors":[],"messages":[{"message":"m"}],"result":{"token":"t"}}"#,
                "/messages/0",
                r#"{"message":"m"}"#,
            ),
            (
                r#"{"success":false,"errors":[],"messages":[],"result":{"token":"t"}}"#,
                "/success",
                "false",
            ),
            (
                r#"{"success":true,"errors":[],"messages":[]}"#,
                "",
                r#"{"success":true,"errors":[],"messages":[]}"#,
            ),
        ] {
            assert_eq!(
                judge(200, &h, body),
                vec![(name(), pointer.to_owned(), value.to_owned())],
                "{body}"
            );
        }
        assert_eq!(judge(200, &h, "<html>")[0].1, "");
        assert_eq!(
            judge(400, &h, r#"{"success":false}"#),
            vec![(name(), "status".to_owned(), r#"400 {"success":false}"#.to_owned())]
        );
        h.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain"));
        assert_eq!(
            judge(200, &h, ok),
            vec![(name(), "header:content-type".to_owned(), "text/plain".to_owned())]
        );
    }

    /// (check, pointer, rule, value) of each violation, to compare whole outcomes.
    fn whole(vs: &[Violation]) -> Vec<(&str, &str, &str, &str)> {
        vs.iter()
            .map(|v| (v.check.as_str(), v.pointer.as_str(), v.rule.as_str(), v.value.as_str()))
            .collect()
    }

    #[test]
    fn a_violation_serializes_its_count_only_when_folded_and_its_operation_by_name() {
        let mut one = Violation::new(Some(Operation::CreateType), "body_schema", "/a", "r", "x");
        assert_eq!(
            serde_json::to_value(&one).unwrap(),
            serde_json::json!({"operation": "create_type", "check": "body_schema", "pointer": "/a", "rule": "r", "value": "x"})
        );
        one.count = 2;
        one.operation = None;
        assert_eq!(
            serde_json::to_value(&one).unwrap(),
            serde_json::json!({"operation": null, "check": "body_schema", "pointer": "/a", "rule": "r", "value": "x", "count": 2})
        );
    }

    #[test]
    fn a_violation_displays_its_operation_place_and_count() {
        let mut v = Violation::new(None, "body_schema", "", "rule", "x");
        assert_eq!(v.to_string(), "body_schema: at (body): rule (got x)");
        v.operation = Some(Operation::Delete);
        v.pointer = "/p".to_owned();
        assert_eq!(v.to_string(), "[delete] body_schema: at /p: rule (got x)");
        v.count = 3;
        assert_eq!(v.to_string(), "[delete] body_schema: at /p: rule (got x) [3 times]");
    }

    #[test]
    fn only_violations_that_differ_in_their_value_alone_fold() {
        let base = Violation::new(Some(Operation::List), "body_schema", "/a", "rule", "x");
        let mut other_value = base.clone();
        other_value.value = "y".to_owned();
        assert!(base.same_as(&other_value));
        let mut differ = vec![];
        for i in 0..4 {
            let mut d = base.clone();
            match i {
                0 => d.check = "success_matches_status".to_owned(),
                1 => d.operation = Some(Operation::Create),
                2 => d.pointer = "/b".to_owned(),
                _ => d.rule = "another rule".to_owned(),
            }
            assert!(!base.same_as(&d), "{d:?}");
            differ.push(d);
        }
        let mut f = Folded::default();
        assert!(f.is_empty());
        f.push(base);
        assert!(!f.is_empty());
        f.push(other_value);
        differ.into_iter().for_each(|d| f.push(d));
        assert_eq!(f.total(), 6);
        f.for_each_mut(|v| v.value = "redacted".to_owned());
        let out = f.into_vec();
        assert_eq!(out.iter().map(|v| v.count).collect::<Vec<_>>(), [2, 1, 1, 1, 1]);
        assert!(out.iter().all(|v| v.value == "redacted"), "{out:#?}");
    }

    #[test]
    fn a_full_check_counts_what_it_drops() {
        let mut f = Folded::default();
        for i in 0..KEPT_PER_CHECK {
            f.push(Violation::new(None, "body_schema", format!("/{i}"), "rule", "x"));
        }
        let mut folded = Violation::new(None, "body_schema", "/new", "rule", "x");
        folded.count = 3;
        f.push(folded);
        f.push(Violation::new(None, "body_schema", "/0", "rule", "x"));
        assert_eq!(f.total(), KEPT_PER_CHECK + 4);
        let out = f.into_vec();
        assert_eq!(out.len(), KEPT_PER_CHECK + 1);
        assert_eq!(out[0].count, 2);
        let more = &out[KEPT_PER_CHECK];
        assert_eq!(
            (more.check.as_str(), more.pointer.as_str(), more.rule.as_str(), more.count),
            ("body_schema", "", "more distinct violations, not kept (a check keeps 100)", 3)
        );
        assert_eq!(Folded::default().into_vec(), vec![]);
    }

    #[test]
    fn the_validator_debugs_without_its_schemas() {
        assert_eq!(format!("{:?}", v()), "Validator { .. }");
    }

    #[test]
    fn only_200_and_4xx_are_documented_statuses() {
        let fail = br#"{"success":false,"errors":[{"code":10000,"message":"m"}],"messages":[],"result":null}"#;
        let ok = br#"{"success":true,"errors":[],"messages":[],"result":{}}"#;
        let undocumented = |status: u16, body: &[u8]| {
            let vs = v().check_response(Operation::List, status, JSON, body);
            let found: Vec<_> = whole(&vs)
                .into_iter()
                .filter(|w| w.0 == Check::StatusDocumented.name())
                .map(|w| (w.1.to_owned(), w.2.to_owned(), w.3.to_owned()))
                .collect();
            found
        };
        assert_eq!(undocumented(200, ok), vec![]);
        assert_eq!(undocumented(400, fail), vec![]);
        assert_eq!(undocumented(499, fail), vec![]);
        for (status, body) in [(201, &ok[..]), (399, &ok[..]), (500, &fail[..])] {
            assert_eq!(
                undocumented(status, body),
                vec![(
                    "status".to_owned(),
                    "status must be 200 or 4XX (the documented responses)".to_owned(),
                    status.to_string()
                )],
                "{status}"
            );
        }
    }

    #[test]
    fn statuses_pick_the_schema() {
        let ok = br#"{"success":true,"errors":[],"messages":[],"result":{}}"#;
        let fail = br#"{"success":false,"errors":[{"code":10000,"message":"m"}],"messages":[],"result":null}"#;
        // A 2XX body is judged by the 200 schema, a 4XX or 5XX one by the failure schema,
        // and any other status by none.
        let schema_errors = |status: u16, body: &[u8]| {
            v().check_response(Operation::List, status, JSON, body)
                .into_iter()
                .filter(|v| v.check == Check::BodySchema.name())
                .count()
        };
        assert_eq!(schema_errors(299, ok), 0);
        assert!(schema_errors(299, fail) > 0);
        assert_eq!(schema_errors(404, fail), 0);
        assert!(schema_errors(404, ok) > 0);
        assert_eq!(schema_errors(599, fail), 0);
        assert!(schema_errors(599, ok) > 0);
        assert_eq!(schema_errors(302, b"[1]"), 0);
        assert!(v().schema_accepts(Operation::List, 200, &serde_json::from_slice(ok).unwrap()));
        assert!(!v().schema_accepts(Operation::List, 200, &serde_json::from_slice(fail).unwrap()));
        assert!(v().schema_accepts(Operation::List, 302, &serde_json::json!([1])));
        assert!(v().schema_accepts(
            Operation::Delete,
            200,
            &serde_json::json!({"success": true, "errors": [], "messages": []})
        ));
    }

    #[test]
    fn a_schema_violation_names_the_keyword_and_the_rule() {
        let body = br#"{"success":true,"errors":[],"messages":[],"result":{"default":{"status":"ready","percentComplete":101}}}"#;
        assert_eq!(
            whole(&v().check_response(Operation::List, 200, JSON, body)),
            vec![(
                "body_schema",
                "/result/default/percentComplete",
                "schema `maximum`: 101 is greater than the maximum of 100",
                "101"
            )]
        );
    }

    #[test]
    fn success_must_match_the_status() {
        let rule = |status: u16, success: bool| {
            let body = format!(
                r#"{{"success":{success},"errors":[{{"code":10000,"message":"m"}}],"messages":[]}}"#
            );
            v().check_response(Operation::Delete, status, JSON, body.as_bytes())
                .into_iter()
                .filter(|v| v.check == Check::SuccessMatchesStatus.name())
                .map(|v| (v.pointer, v.rule, v.value))
                .collect::<Vec<_>>()
        };
        let broken = |wanted: bool, status: u16| {
            vec![(
                "/success".to_owned(),
                format!("success must be {wanted} with status {status}"),
                (!wanted).to_string(),
            )]
        };
        assert_eq!(rule(200, true), vec![]);
        assert_eq!(rule(299, true), vec![]);
        assert_eq!(rule(400, false), vec![]);
        assert_eq!(rule(200, false), broken(true, 200));
        assert_eq!(rule(299, false), broken(true, 299));
        assert_eq!(rule(400, true), broken(false, 400));
        assert_eq!(rule(503, true), broken(false, 503));
        // A status that is neither success nor failure says nothing about `success`.
        assert_eq!(rule(399, true), vec![]);
        assert_eq!(rule(399, false), vec![]);
        assert_eq!(rule(199, true), vec![]);
    }

    #[test]
    fn codes_must_be_integers_from_1000() {
        let found = |code: &str| {
            let body = format!(
                r#"{{"success":false,"errors":[{{"code":10000,"message":"m"}}],"messages":[{{"code":{code},"message":"m"}}],"result":null}}"#
            );
            v().check_response(Operation::List, 404, JSON, body.as_bytes())
                .into_iter()
                .filter(|v| v.check == Check::ErrorCodeRange.name())
                .map(|v| (v.pointer, v.rule, v.value))
                .collect::<Vec<_>>()
        };
        for ok in ["1000", "99999", "18446744073709551615"] {
            assert_eq!(found(ok), vec![], "{ok}");
        }
        for bad in ["999", "0", "-5", "1000.5", "\"1000\"", "-9223372036854775808"] {
            assert_eq!(
                found(bad),
                vec![(
                    "/messages/0/code".to_owned(),
                    "code must be an integer >= 1000".to_owned(),
                    bad.to_owned()
                )],
                "{bad}"
            );
        }
        // An entry without a code is the schema's business (`required`), not this rule's.
        let body = br#"{"success":false,"errors":[{"message":"m"}],"messages":[],"result":null}"#;
        assert_eq!(
            checks(&v().check_response(Operation::List, 404, JSON, body)),
            vec![Check::BodySchema.name()]
        );
    }

    #[test]
    fn a_failure_needs_errors_and_a_null_result() {
        let found = |status: u16, body: &str| {
            whole(&v().check_response(Operation::List, status, JSON, body.as_bytes()))
                .into_iter()
                .filter(|w| w.0 != Check::BodySchema.name())
                .map(|(c, p, r, v)| format!("{c} {p} {r} ({v})"))
                .collect::<Vec<_>>()
        };
        let errors = |v: &str| {
            format!("failure_has_errors /errors a failure must carry at least one error ({v})")
        };
        let result = |v: &str| {
            format!("failure_result_null /result result must be present and null on failure ({v})")
        };
        assert_eq!(
            found(
                404,
                r#"{"success":false,"errors":[{"code":1000,"message":"m"}],"messages":[],"result":null}"#
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            found(404, r#"{"success":false,"messages":[]}"#),
            vec![errors("(absent)"), result("(absent)")]
        );
        assert_eq!(
            found(404, r#"{"success":false,"errors":{},"messages":[],"result":{}}"#),
            vec![errors("{}"), result("{}")]
        );
        // `success: false` is a failure whatever the status says.
        let lying = found(200, r#"{"success":false,"errors":[],"messages":[],"result":{}}"#);
        assert_eq!(lying[1..], [errors("[]"), result("{}")], "{lying:#?}");
        // A body that is not an object has no fields to judge.
        assert_eq!(found(404, "[]"), Vec::<String>::new());
        assert_eq!(found(404, "null"), Vec::<String>::new());
        // A success does not need them.
        assert_eq!(
            found(200, r#"{"success":true,"errors":[],"messages":[],"result":{}}"#),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_body_the_schema_accepts_but_the_types_cannot_read_is_named() {
        // 1e20 is an integer to the schema (a float without a fraction) but not a u64.
        let big = "100000000000000000000";
        let msg = format!(r#"[{{"code":{big},"message":"m"}}]"#);
        for (op, result) in [(Operation::List, "{}"), (Operation::Delete, r#""ok""#)] {
            let body =
                format!(r#"{{"success":true,"errors":[],"messages":{msg},"result":{result}}}"#);
            let vs = v().check_response(op, 200, JSON, body.as_bytes());
            assert_eq!(
                whole(&vs),
                vec![
                    (
                        "error_code_range",
                        "/messages/0/code",
                        "code must be an integer >= 1000",
                        "1e+20"
                    ),
                    (
                        "client_model_decodes",
                        "/messages/0/code",
                        "cfstream-types must decode a body the schema accepts (invalid type: floating point `1e+20`, expected u64 at line 1 column 69)",
                        "1e+20"
                    ),
                ],
                "{op}"
            );
            assert_eq!(vs[1].operation, Some(op));
        }
        // A URL the URI syntax allows that the url crate refuses.
        let body = br#"{"success":true,"errors":[],"messages":[],"result":{"audio":{"status":"ready","percentComplete":100,"url":"http://256.256.256.256/a.m4a"}}}"#;
        assert_eq!(
            whole(&v().check_response(Operation::CreateType, 200, JSON, body)),
            vec![(
                "client_model_decodes",
                "/result/audio/url",
                "cfstream-types must decode a body the schema accepts (invalid IPv4 address: \"http://256.256.256.256/a.m4a\" at line 1 column 136)",
                "\"http://256.256.256.256/a.m4a\""
            )]
        );
        // A body that breaks the schema is not decoded as well.
        let body = br#"{"success":true,"errors":[],"messages":[],"result":{"audio":{"status":"ready","percentComplete":100,"url":"http://256.256.256.256/a.m4a"}},"x":1,"errors":7}"#;
        assert!(
            checks(&v().check_response(Operation::List, 200, JSON, body))
                .iter()
                .all(|c| *c == Check::BodySchema.name())
        );
    }

    #[test]
    fn a_token_answer_the_schema_accepts_but_the_types_cannot_read_is_named() {
        let mut h = http::HeaderMap::new();
        h.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
        let body = br#"{"success":true,"errors":[],"messages":[{"code":100000000000000000000,"message":"m"}],"result":{"token":"t"}}"#;
        assert_eq!(
            whole(&v().check_token_answer(200, &h, body)),
            vec![(
                "signed_token_schema",
                "/messages/0/code",
                "cfstream-types must decode a token answer the schema accepts (invalid type: floating point `1e+20`, expected u64 at line 1 column 69)",
                "1e+20"
            )]
        );
        // A schema violation is reported alone, without the decoder's view.
        let body = br#"{"success":true,"errors":[],"messages":[{"code":100000000000000000000,"message":"m"}],"result":{"token":""}}"#;
        assert_eq!(
            whole(&v().check_token_answer(200, &h, body)),
            vec![(
                "signed_token_schema",
                "/result/token",
                "schema `minLength`: \"\" is shorter than 1 character",
                "\"\""
            )]
        );
    }

    #[test]
    fn failure_problems_lists_schema_and_rule_breaks() {
        let ok = br#"{"success":false,"errors":[{"code":10000,"message":"m"}],"messages":[],"result":null}"#;
        assert_eq!(v().failure_problems(ok), Vec::<String>::new());
        assert_eq!(
            v().failure_problems(br#"{"success":false,"errors":[{"code":999,"message":"m"}],"messages":[],"result":null}"#),
            vec![
                "schema `minimum`: 999 is less than the minimum of 1000 at '/errors/0/code'".to_owned(),
                "code must be an integer >= 1000 at '/errors/0/code'".to_owned(),
            ]
        );
        assert_eq!(
            v().failure_problems(b"<html>"),
            vec!["body is not JSON (expected value at line 1 column 1): <html>".to_owned()]
        );
    }

    #[test]
    fn a_retry_after_that_is_empty_is_malformed() {
        let now = SystemTime::now();
        assert_eq!(parse_retry_after("", now), Err("malformed"));
        assert_eq!(parse_retry_after("-", now), Err("malformed"));
        assert_eq!(parse_retry_after("3599", now), Ok(Duration::from_secs(3599)));
    }

    #[test]
    fn values_are_truncated() {
        let long = "x".repeat(500);
        let t = truncate(&long);
        assert_eq!(t.chars().count(), VALUE_MAX + 1);
        assert_eq!(dotted_to_pointer("result.default.url"), "/result/default/url");
        assert_eq!(dotted_to_pointer("."), "");
        assert_eq!(dotted_to_pointer(""), "");
        assert_eq!(dotted_to_pointer("a~b.c/d"), "/a~0b/c~1d");
        assert_eq!(dotted_to_pointer("messages[0].code"), "/messages/0/code");
        assert_eq!(dotted_to_pointer("a[1][22].b"), "/a/1/22/b");
        assert_eq!(dotted_to_pointer("[3].x"), "/3/x");
        assert_eq!(truncate_to("abcdef", 3), "abc…");
        assert_eq!(truncate_to("abc", 3), "abc");
    }
}
