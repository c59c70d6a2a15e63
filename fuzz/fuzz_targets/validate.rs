//! The conformance validator judges arbitrary bytes without panicking, under each schema it
//! knows (downloads, deleted, failure) and for an undocumented status; and a 200 answer it
//! finds nothing wrong with always decodes with cfstream-types.
#![no_main]

use cfstream_conformance::Validator;
use cfstream_types::{DeletedEnvelope, DownloadsEnvelope, Operation, decode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let validator = Validator::new().expect("the embedded schemas compile");
    let json = Some("application/json");
    if validator.check_response(Operation::List, 200, json, data).is_empty() {
        assert!(decode::<DownloadsEnvelope>(data).is_ok(), "a conforming list answer must decode");
    }
    if validator.check_response(Operation::DeleteType, 200, json, data).is_empty() {
        assert!(decode::<DeletedEnvelope>(data).is_ok(), "a conforming delete answer must decode");
    }
    let _ = validator.check_response(Operation::CreateType, 429, json, data);
    let _ = validator.check_response(Operation::Create, 302, Some("text/html; charset=x"), data);
    let _ = validator.check_response(Operation::Delete, 500, None, data);
});
