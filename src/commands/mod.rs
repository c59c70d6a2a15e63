//! One module per top-level command.

pub(crate) mod completions;
pub(crate) mod conformance;
pub(crate) mod downloads;
pub(crate) mod serve;
pub(crate) mod signing_keys;
pub(crate) mod url;
