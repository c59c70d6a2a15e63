//! The path that names every violation of an answer: the body parsed into a
//! `serde_json::Value`, every schema error, the rules, and the path-tracking decode of a body
//! the typed model refuses. [`Validator::check_response`] takes it for any body its fast path
//! (`fast.rs`) does not accept; [`Validator::check_response_reference`] for every body.

use cfstream_types::{DeletedEnvelope, DownloadsEnvelope, Operation, ResponseKind};
use serde_json::Value;

use super::{
    Expect, Validator, Violation, dotted_to_pointer, expect, is_json_media_type, pointer_get,
    schema_rule, semantic, show,
};
use crate::catalogue::Check;

impl Validator {
    /// The violations of the body of `op`'s answer with `status`, after those of `out`.
    pub(super) fn body_violations(
        &self,
        op: Operation,
        status: u16,
        body: &[u8],
        out: &mut Vec<Violation>,
    ) {
        let some_op = Some(op);
        let expect = expect(op, status);
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
                return;
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
        semantic(op, status, &value, out);
        if let Expect::Success(kind) = expect
            && out.iter().all(|v| v.check != Check::BodySchema.name())
            && let Some(v) = decode_violation(op, kind, value, body)
        {
            out.push(v);
        }
    }
}

/// The violations of an answer's status and content type.
pub(super) fn head_violations(
    op: Operation,
    status: u16,
    content_type: Option<&str>,
) -> Vec<Violation> {
    let mut out = Vec::new();
    if !(status == 200 || (400..=499).contains(&status)) {
        out.push(Violation::new(
            Some(op),
            Check::StatusDocumented.name(),
            "status",
            "status must be 200 or 4XX (the documented responses)",
            status.to_string(),
        ));
    }
    if !is_json_media_type(content_type) {
        out.push(Violation::new(
            Some(op),
            Check::ContentTypeJson.name(),
            "header:content-type",
            "content type must be application/json",
            content_type.unwrap_or("(none)"),
        ));
    }
    out
}

/// The violation of `client_model_decodes`, if cfstream-types does not decode `value` (the
/// parse of `body`) as `kind`.
///
/// `value` is consumed: the typed model takes its strings and maps instead of copying them,
/// which is most of what a decode from a `Value` costs. Only a body that fails pays for a
/// second parse and the path-tracking decoder, to name the field at fault.
fn decode_violation(
    op: Operation,
    kind: ResponseKind,
    value: Value,
    body: &[u8],
) -> Option<Violation> {
    if super::fast::decodes(kind, value) {
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
    // The body parsed once already; the value was handed to the decoder.
    let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let at = pointer_get(&value, &pointer).map_or_else(|| show(&value), show);
    Some(Violation::new(
        Some(op),
        Check::ClientModelDecodes.name(),
        pointer,
        format!("cfstream-types must decode a body the schema accepts ({message})"),
        at,
    ))
}
