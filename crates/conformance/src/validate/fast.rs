//! The fast path of [`Validator::check_response`]: whether a body conforms, judged on one
//! borrowed [`Tree`] (schema, envelope rules, typed decode). It only answers yes or no; a body
//! it does not accept goes through the `serde_json::Value` path, which names every violation.

use cfstream_types::{DeletedEnvelope, DownloadsEnvelope, Operation, ResponseKind};
use serde::Deserialize;

use super::rules::semantic;
use super::tree::Tree;
use super::{Expect, Validator};

impl Validator {
    /// Whether the body of `op`'s answer with `status` breaks none of the body's rules (schema,
    /// envelope rules, typed decode of a 2XX). `false` also for what the tree does not read
    /// (not JSON, a repeated key): the caller then runs the path that names the violations.
    pub(super) fn body_conforms(&self, op: Operation, status: u16, body: &[u8]) -> bool {
        let Some(tree) = Tree::parse(body) else { return false };
        let expect = super::expect(op, status);
        if self.compiled.tree.of(expect).is_some_and(|s| !s.is_valid(&tree)) {
            return false;
        }
        let mut broken = Vec::new();
        semantic(op, status, &tree, &mut broken);
        if !broken.is_empty() {
            return false;
        }
        match expect {
            Expect::Success(kind) => decodes(kind, &tree),
            Expect::Failure | Expect::Nothing => true,
        }
    }
}

/// Whether cfstream-types decodes what `from` reads (a borrowed [`Tree`], or an owned
/// `serde_json::Value`, whose strings the model then takes) as the envelope of `kind`.
pub(super) fn decodes<'de, D: serde::Deserializer<'de>>(kind: ResponseKind, from: D) -> bool {
    match kind {
        ResponseKind::Downloads => DownloadsEnvelope::deserialize(from).is_ok(),
        ResponseKind::Deleted => DeletedEnvelope::deserialize(from).is_ok(),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_path_accepts_conforming_bodies_only() {
        let v = Validator::new().unwrap();
        let ok = br#"{"success":true,"errors":[],"messages":[],"result":{"default":{"status":"ready","percentComplete":100,"url":"https://x.example/a.mp4"}}}"#;
        let deleted = br#"{"success":true,"errors":[],"messages":[],"result":"ok"}"#;
        let fail = br#"{"success":false,"errors":[{"code":10000,"message":"m"}],"messages":[],"result":null}"#;
        assert!(v.body_conforms(Operation::List, 200, ok));
        assert!(v.body_conforms(Operation::Delete, 200, deleted));
        assert!(v.body_conforms(Operation::List, 404, fail));
        // No schema for an undocumented status; the rules still hold.
        assert!(v.body_conforms(Operation::List, 302, b"[1]"));
        assert!(!v.body_conforms(Operation::List, 302, br#"{"success":false}"#));
        for (op, status, body) in [
            (Operation::List, 200, &b"{"[..]),
            (Operation::List, 200, br#"{"success":true,"errors":[],"messages":[],"result":{},"result":{}}"#),
            (Operation::List, 200, &fail[..]),
            (Operation::List, 404, &ok[..]),
            (Operation::Delete, 200, &ok[..]),
            // The schema and the rules accept it; the typed model does not.
            (Operation::List, 200, br#"{"success":true,"errors":[],"messages":[],"result":{"audio":{"status":"ready","percentComplete":100,"url":"http://256.256.256.256/a.m4a"}}}"#),
        ] {
            assert!(!v.body_conforms(op, status, body), "{op} {status}");
        }
    }

    #[test]
    fn each_kind_is_decoded_as_its_envelope() {
        let tree = |body: &'static str| Tree::parse(body.as_bytes()).unwrap();
        let deleted = tree(r#"{"success":true,"result":"ok"}"#);
        assert!(decodes(ResponseKind::Deleted, &deleted));
        assert!(!decodes(ResponseKind::Downloads, &deleted));
        let downloads = tree(r#"{"success":true,"result":{}}"#);
        assert!(decodes(ResponseKind::Downloads, &downloads));
        // No `success`: neither envelope.
        let neither = tree(r#"{"result":"ok"}"#);
        assert!(!decodes(ResponseKind::Deleted, &neither));
        assert!(!decodes(ResponseKind::Downloads, &neither));
    }
}
