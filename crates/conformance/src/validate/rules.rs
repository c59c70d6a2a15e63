//! The envelope rules that are not (only) schema, read through [`Fields`] so that one text of
//! them judges both a `serde_json::Value` (the path that names every violation) and the
//! borrowed [`Tree`] of the fast path.

use cfstream_types::Operation;
use serde_json::{Number, Value};

use super::tree::Tree;
use super::{Violation, show};
use crate::catalogue::Check;

/// What the rules read of a JSON value.
pub(crate) trait Fields {
    /// The member `key` of an object (`None` for anything else).
    fn field(&self, key: &str) -> Option<&Self>;
    /// The boolean, if it is one.
    fn boolean(&self) -> Option<bool>;
    /// The number, if it is one.
    fn number(&self) -> Option<&Number>;
    /// The items, if it is an array.
    fn items(&self) -> Option<&[Self]>
    where
        Self: Sized;
    /// Whether it is an object.
    fn is_object(&self) -> bool;
    /// Whether it is `null`.
    fn is_null(&self) -> bool;
    /// The value as a violation quotes it.
    fn shown(&self) -> String;
}

impl Fields for Value {
    fn field(&self, key: &str) -> Option<&Self> {
        self.get(key)
    }
    fn boolean(&self) -> Option<bool> {
        self.as_bool()
    }
    fn number(&self) -> Option<&Number> {
        match self {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }
    fn items(&self) -> Option<&[Self]> {
        self.as_array().map(Vec::as_slice)
    }
    fn is_object(&self) -> bool {
        self.is_object()
    }
    fn is_null(&self) -> bool {
        self.is_null()
    }
    fn shown(&self) -> String {
        show(self)
    }
}

impl Fields for Tree<'_> {
    fn field(&self, key: &str) -> Option<&Self> {
        self.get(key)
    }
    fn boolean(&self) -> Option<bool> {
        match self {
            Tree::Bool(b) => Some(*b),
            _ => None,
        }
    }
    fn number(&self) -> Option<&Number> {
        match self {
            Tree::Number(n) => Some(n),
            _ => None,
        }
    }
    fn items(&self) -> Option<&[Self]> {
        match self {
            Tree::Array(items) => Some(items),
            _ => None,
        }
    }
    fn is_object(&self) -> bool {
        matches!(self, Tree::Object(_))
    }
    fn is_null(&self) -> bool {
        matches!(self, Tree::Null)
    }
    fn shown(&self) -> String {
        super::truncate(&serde_json::to_string(self).unwrap_or_default())
    }
}

/// The rules that are not (only) schema: success against status, errors on failure, codes,
/// result null on failure.
pub(crate) fn semantic<J: Fields>(op: Operation, status: u16, value: &J, out: &mut Vec<Violation>) {
    let some_op = Some(op);
    let failure_status = status >= 400;
    let success = value.field("success").and_then(J::boolean);
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
        if let Some(items) = value.field(field).and_then(J::items) {
            for (i, item) in items.iter().enumerate() {
                let code = item.field("code");
                let number = code.and_then(J::number);
                let ok = number.and_then(Number::as_i64).is_some_and(|c| c >= 1000)
                    || number.and_then(Number::as_u64).is_some_and(|c| c >= 1000);
                if let Some(code) = code
                    && !ok
                {
                    out.push(Violation::new(
                        some_op,
                        Check::ErrorCodeRange.name(),
                        format!("/{field}/{i}/code"),
                        "code must be an integer >= 1000",
                        code.shown(),
                    ));
                }
            }
        }
    }
    if !is_failure || !value.is_object() {
        return;
    }
    let errors = value.field("errors");
    if errors.and_then(J::items).is_none_or(<[J]>::is_empty) {
        out.push(Violation::new(
            some_op,
            Check::FailureHasErrors.name(),
            "/errors",
            "a failure must carry at least one error",
            errors.map_or_else(|| "(absent)".to_owned(), J::shown),
        ));
    }
    let result = value.field("result");
    if !result.is_some_and(J::is_null) {
        out.push(Violation::new(
            some_op,
            Check::FailureResultNull.name(),
            "/result",
            "result must be present and null on failure",
            result.map_or_else(|| "(absent)".to_owned(), J::shown),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rules say the same of a body read as a `Value` and as a `Tree`.
    #[test]
    fn the_rules_judge_both_readings_alike() {
        let bodies = [
            r#"{"success":true,"errors":[{"code":999,"message":"x"}],"messages":[{"code":"1000"},{"code":1e20},{"code":-5},{"code":1000.5},{}],"result":{"a":"\u00e9"}}"#,
            r#"{"success":false,"errors":{},"messages":[],"result":{"x":[1,2]}}"#,
            r#"{"success":false,"errors":[],"messages":[]}"#,
            r#"{"success":false,"errors":[{"code":1000}],"result":null}"#,
            r#"{"success":"yes","errors":[{"code":18446744073709551615}]}"#,
            r#"[{"success":false}]"#,
            "null",
        ];
        for body in bodies {
            let value: Value = serde_json::from_str(body).unwrap();
            let tree = Tree::parse(body.as_bytes()).unwrap();
            for status in [200, 299, 302, 404, 503] {
                let (mut a, mut b) = (vec![], vec![]);
                semantic(Operation::List, status, &value, &mut a);
                semantic(Operation::List, status, &tree, &mut b);
                assert_eq!(a, b, "{status} {body}");
            }
        }
    }
}
