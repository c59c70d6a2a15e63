//! Integration tests of cfstream-http against wiremock and in-process loopback servers, in
//! virtual time where time matters.

// Helpers outside `#[test]` functions are test code too: a panic is a failed assertion.
#![allow(clippy::unwrap_used)]

mod auth;
mod bulk;
mod deadline;
mod fetch;
mod matrix;
mod retry;
mod secrets;
mod signing;
mod support;
mod wait;
