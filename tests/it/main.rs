//! Integration tests of the `cfstream` binary, against an emulator started in the test
//! process on 127.0.0.1 (never the internet). One test binary, one module per topic.

mod batch;
mod common;
mod downloads;
mod errors;
mod help;
mod serve;
mod terminal;
