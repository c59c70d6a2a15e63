//! cfstream-conformance: not built yet.
#![deny(missing_docs)]
