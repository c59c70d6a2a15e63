//! Integration tests of cfstream-emulator, over real loopback HTTP with reqwest (one binary).
// Helpers are not `#[test]` functions, so clippy's allow-unwrap-in-tests does not reach them;
// a failed unwrap in a test binary is a failed assertion all the same.
#![allow(clippy::unwrap_used)]

mod admin;
mod auth;
mod common;
mod concurrency;
mod connections;
mod faults;
mod file_answers;
mod files;
mod limits;
mod listcache;
mod persistence;
mod progress;
mod ratelimit;
mod routes;
mod shapes;
mod signing;
