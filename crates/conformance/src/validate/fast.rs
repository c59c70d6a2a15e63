//! The fast path of [`Validator::check_response`]: whether a body conforms, judged on one
//! borrowed [`Tree`] (schema, envelope rules, typed decode). It only answers yes or no; a body
//! it does not accept goes through the `serde_json::Value` path, which names every violation.

use cfstream_types::{DeletedEnvelope, DownloadsEnvelope, Operation, ResponseKind};
use serde::Deserialize;
use serde_json::Value;

use super::rules::semantic;
use super::tree::Tree;
use super::tree_schema::TreeJson;
use super::{Expect, Validator};

/// The schemas compiled for the [`Tree`] representation.
pub(super) struct TreeSchemas {
    pub(super) downloads: jsonschema::Validator<TreeJson>,
    pub(super) deleted: jsonschema::Validator<TreeJson>,
    pub(super) failure: jsonschema::Validator<TreeJson>,
}

/// `text` compiled for the [`Tree`] representation, with the options of [`super::compile`].
pub(super) fn compile_tree(
    name: &str,
    text: &str,
) -> Result<jsonschema::Validator<TreeJson>, String> {
    let schema: Value =
        serde_json::from_str(text).map_err(|e| format!("schema {name} is not JSON: {e}"))?;
    jsonschema::options_for::<TreeJson>()
        .should_validate_formats(true)
        .build(&schema)
        .map_err(|e| format!("schema {name} does not compile: {e}"))
}

impl Validator {
    fn tree_schema(&self, expect: Expect) -> Option<&jsonschema::Validator<TreeJson>> {
        let schemas = &self.compiled.tree;
        match expect {
            Expect::Success(ResponseKind::Downloads) => Some(&schemas.downloads),
            Expect::Success(ResponseKind::Deleted) => Some(&schemas.deleted),
            Expect::Failure => Some(&schemas.failure),
            Expect::Success(_) | Expect::Nothing => None,
        }
    }

    /// Whether the body of `op`'s answer with `status` breaks none of the body's rules (schema,
    /// envelope rules, typed decode of a 2XX). `false` also for what the tree does not read
    /// (not JSON, a repeated key): the caller then runs the path that names the violations.
    pub(super) fn body_conforms(&self, op: Operation, status: u16, body: &[u8]) -> bool {
        let Some(tree) = Tree::parse(body) else { return false };
        let expect = super::expect(op, status);
        if self.tree_schema(expect).is_some_and(|s| !s.is_valid(&tree)) {
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

/// Whether cfstream-types decodes `tree` as the envelope of `kind`.
pub(super) fn decodes(kind: ResponseKind, tree: &Tree<'_>) -> bool {
    match kind {
        ResponseKind::Downloads => DownloadsEnvelope::deserialize(tree).is_ok(),
        ResponseKind::Deleted => DeletedEnvelope::deserialize(tree).is_ok(),
        _ => true,
    }
}
