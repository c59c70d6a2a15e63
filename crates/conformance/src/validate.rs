//! Validation of one answer against the spec: the compiled schemas ([`Validator`]) and what a
//! broken rule looks like ([`Violation`]).

use std::sync::LazyLock;
use std::time::{Duration, SystemTime};

use cfstream_types::{DeletedEnvelope, DownloadsEnvelope, Operation, ResponseKind};
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::catalogue::Check;
use crate::error::{Error, ErrorKind};

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

struct Compiled {
    downloads: jsonschema::Validator,
    deleted: jsonschema::Validator,
    failure: jsonschema::Validator,
    token: jsonschema::Validator,
}

pub(crate) fn compile(name: &str, text: &str) -> Result<jsonschema::Validator, String> {
    let schema: Value =
        serde_json::from_str(text).map_err(|e| format!("schema {name} is not JSON: {e}"))?;
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .map_err(|e| format!("schema {name} does not compile: {e}"))
}

static COMPILED: LazyLock<Result<Compiled, String>> = LazyLock::new(|| {
    Ok(Compiled {
        downloads: compile("downloads-response.json", DOWNLOADS_RESPONSE)?,
        deleted: compile("deleted-response.json", DELETED_RESPONSE)?,
        failure: compile("failure-response.json", FAILURE_RESPONSE)?,
        token: compile("token-response.json", TOKEN_RESPONSE)?,
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
        match expect {
            Expect::Success(ResponseKind::Downloads) => Some(&self.compiled.downloads),
            Expect::Success(ResponseKind::Deleted) => Some(&self.compiled.deleted),
            Expect::Failure => Some(&self.compiled.failure),
            // `ResponseKind` may grow; an unknown kind has no schema here.
            Expect::Success(_) | Expect::Nothing => None,
        }
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
    /// A conforming answer is judged on a fast path (one parse, one schema pass, one typed
    /// decode); only a broken one pays for collecting details.
    pub fn check_response(
        &self,
        op: Operation,
        status: u16,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Vec<Violation> {
        let mut out = Vec::new();
        let some_op = Some(op);
        let expect = expect(op, status);
        if !(status == 200 || (400..=499).contains(&status)) {
            out.push(Violation::new(
                some_op,
                Check::StatusDocumented.name(),
                "status",
                "status must be 200 or 4XX (the documented responses)",
                status.to_string(),
            ));
        }
        if !is_json_media_type(content_type) {
            out.push(Violation::new(
                some_op,
                Check::ContentTypeJson.name(),
                "header:content-type",
                "content type must be application/json",
                content_type.unwrap_or("(none)"),
            ));
        }
        let value: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                out.push(Violation::new(
                    some_op,
                    Check::BodySchema.name(),
                    "",
                    format!("body must be JSON ({e})"),
                    String::from_utf8_lossy(body),
                ));
                return out;
            }
        };
        if let Some(schema) = self.schema(expect)
            && !schema.is_valid(&value)
        {
            for e in schema.iter_errors(&value) {
                out.push(Violation::new(
                    some_op,
                    Check::BodySchema.name(),
                    e.instance_path().as_str(),
                    schema_rule(&e),
                    show(e.instance()),
                ));
            }
        }
        semantic(op, status, &value, &mut out);
        if let Expect::Success(kind) = expect
            && out.iter().all(|v| v.check != Check::BodySchema.name())
            && let Some(v) = decode_violation(op, kind, &value, body)
        {
            out.push(v);
        }
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

/// The rules that are not (only) schema: success against status, errors on failure, codes,
/// result null on failure.
fn semantic(op: Operation, status: u16, value: &Value, out: &mut Vec<Violation>) {
    let some_op = Some(op);
    let failure_status = status >= 400;
    let success = value.get("success").and_then(Value::as_bool);
    if let Some(s) = success {
        let wanted = (200..=299).contains(&status);
        if ((200..=299).contains(&status) || failure_status) && s != wanted {
            out.push(Violation::new(
                some_op,
                Check::SuccessMatchesStatus.name(),
                "/success",
                format!("success must be {wanted} with status {status}"),
                s.to_string(),
            ));
        }
    }
    let is_failure = failure_status || success == Some(false);
    for field in ["errors", "messages"] {
        if let Some(items) = value.get(field).and_then(Value::as_array) {
            for (i, item) in items.iter().enumerate() {
                let code = item.get("code");
                let ok = code.and_then(Value::as_i64).is_some_and(|c| c >= 1000)
                    || code.and_then(Value::as_u64).is_some_and(|c| c >= 1000);
                if code.is_some() && !ok {
                    out.push(Violation::new(
                        some_op,
                        Check::ErrorCodeRange.name(),
                        format!("/{field}/{i}/code"),
                        "code must be an integer >= 1000",
                        code.map(show).unwrap_or_default(),
                    ));
                }
            }
        }
    }
    if !is_failure || !value.is_object() {
        return;
    }
    match value.get("errors") {
        Some(Value::Array(a)) if !a.is_empty() => {}
        other => out.push(Violation::new(
            some_op,
            Check::FailureHasErrors.name(),
            "/errors",
            "a failure must carry at least one error",
            other.map_or_else(|| "(absent)".to_owned(), show),
        )),
    }
    match value.get("result") {
        Some(Value::Null) => {}
        other => out.push(Violation::new(
            some_op,
            Check::FailureResultNull.name(),
            "/result",
            "result must be present and null on failure",
            other.map_or_else(|| "(absent)".to_owned(), show),
        )),
    }
}

fn decode_violation(
    op: Operation,
    kind: ResponseKind,
    value: &Value,
    body: &[u8],
) -> Option<Violation> {
    use serde::Deserialize;
    let ok = match kind {
        ResponseKind::Downloads => DownloadsEnvelope::deserialize(value).is_ok(),
        ResponseKind::Deleted => DeletedEnvelope::deserialize(value).is_ok(),
        _ => true,
    };
    if ok {
        return None;
    }
    // Slow path: decode again through the path-tracking decoder to name the field.
    let err = match kind {
        ResponseKind::Downloads => cfstream_types::decode::<DownloadsEnvelope>(body).err(),
        _ => cfstream_types::decode::<DeletedEnvelope>(body).err(),
    };
    let (pointer, message) = match &err {
        Some(e) => (dotted_to_pointer(e.path()), e.message().to_owned()),
        None => (String::new(), "the typed decoder rejected the body".to_owned()),
    };
    let at = pointer_get(value, &pointer).map_or_else(|| show(value), show);
    Some(Violation::new(
        Some(op),
        Check::ClientModelDecodes.name(),
        pointer,
        format!("cfstream-types must decode a body the schema accepts ({message})"),
        at,
    ))
}

/// `result.default.percentComplete` -> `/result/default/percentComplete`; `.` -> ``.
fn dotted_to_pointer(path: &str) -> String {
    if path == "." || path.is_empty() {
        return String::new();
    }
    path.split('.').map(|seg| format!("/{}", seg.replace('~', "~0").replace('/', "~1"))).collect()
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

    #[test]
    fn values_are_truncated() {
        let long = "x".repeat(500);
        let t = truncate(&long);
        assert_eq!(t.chars().count(), VALUE_MAX + 1);
        assert_eq!(dotted_to_pointer("result.default.url"), "/result/default/url");
        assert_eq!(dotted_to_pointer("."), "");
    }
}
