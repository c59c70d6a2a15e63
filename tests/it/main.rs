//! Integration tests of the `cfstream` binary, against an emulator started in the test
//! process on 127.0.0.1 (never the internet). One test binary, one module per topic.

// Helpers outside `#[test]` functions may unwrap too: a panic there is a failed test.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

mod batch;
mod common;
mod conformance;
mod downloads;
mod errors;
mod help;
mod kill;
mod live;
mod security;
mod serve;
mod signing;
mod stack;
mod terminal;
