//! cfstream-http: not built yet.
#![deny(missing_docs)]
