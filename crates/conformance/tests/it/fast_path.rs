//! `Validator::check_response` (a fast path on a borrowed tree, then the `Value` path for what
//! it does not accept) says exactly what the `Value` path alone says, on every body.

use cfstream_conformance::Validator;
use cfstream_conformance::generate::bench_corpus;
use cfstream_types::Operation;
use proptest::prelude::*;

const OPS: [Operation; 5] = [
    Operation::List,
    Operation::Create,
    Operation::CreateType,
    Operation::Delete,
    Operation::DeleteType,
];
const STATUSES: [u16; 7] = [200, 201, 302, 400, 404, 429, 503];

fn same(v: &Validator, op: Operation, status: u16, body: &[u8]) {
    let ct = Some("application/json");
    assert_eq!(
        v.check_response(op, status, ct, body),
        v.check_response_reference(op, status, ct, body),
        "{op} {status} {}",
        String::from_utf8_lossy(body)
    );
}

#[test]
fn the_corpus_is_judged_as_the_value_path_judges_it() {
    let v = Validator::new().unwrap();
    let corpus = bench_corpus(2000);
    let mut conforming = 0;
    for s in &corpus {
        same(&v, s.operation, s.status, &s.body);
        conforming += usize::from(
            v.check_response(s.operation, s.status, Some("application/json"), &s.body).is_empty(),
        );
    }
    // Every status and operation too, on a slice of it.
    for s in corpus.iter().step_by(20) {
        for op in OPS {
            for status in STATUSES {
                same(&v, op, status, &s.body);
            }
        }
    }
    assert!(conforming > corpus.len() / 2 && conforming < corpus.len(), "{conforming}");
}

const OK: &str = r#"{"success":true,"errors":[],"messages":[],"result":{"default":{"status":"ready","percentComplete":100,"url":"https://x.example/a.mp4"}}}"#;

#[test]
fn nasty_bodies_are_judged_as_the_value_path_judges_them() {
    let v = Validator::new().unwrap();
    let deep = format!(
        r#"{{"success":true,"errors":[],"messages":[],"result":{{"x":{}1{}}}}}"#,
        "[".repeat(120),
        "]".repeat(120)
    );
    let too_deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    let mut bodies: Vec<Vec<u8>> = [
        OK,
        // Repeated keys: a `Value` keeps the last (in the first one's place).
        r#"{"success":true,"errors":[],"messages":[],"result":{},"success":false}"#,
        r#"{"success":false,"errors":[],"messages":[],"result":{},"success":true}"#,
        r#"{"success":true,"errors":[],"messages":[],"result":{"default":{"status":"ready","percentComplete":100,"status":"nope"}}}"#,
        r#"{"success":true,"errors":[],"messages":[],"result":{"default":{"status":"ready","percentComplete":100,"percentComplete":100}}}"#,
        r#"{"success":true,"errors":[],"messages":[],"result":{},"\u0073uccess":true}"#,
        // Escapes in keys and strings.
        r#"{"\u0073uccess":true,"err\u006frs":[],"messages":[],"result":{"d\u0065fault":{"status":"r\u0065ady","percentComplete":100,"url":"https://x.example/\u00e9\n"}}}"#,
        r#"{"success":true,"errors":[],"messages":[{"code":1000,"message":"\ud83e\udd80 \" \\ \/"}],"result":{}}"#,
        // Numbers.
        r#"{"success":true,"errors":[],"messages":[{"code":100000000000000000000,"message":"m"}],"result":{}}"#,
        r#"{"success":true,"errors":[],"messages":[{"code":18446744073709551615,"message":"m"}],"result":{}}"#,
        r#"{"success":true,"errors":[],"messages":[{"code":1e400,"message":"m"}],"result":{}}"#,
        r#"{"success":true,"errors":[],"messages":[],"result":{"default":{"status":"ready","percentComplete":-0}}}"#,
        r#"{"success":true,"errors":[],"messages":[],"result":{"default":{"status":"ready","percentComplete":-0.0}}}"#,
        r#"{"success":true,"errors":[],"messages":[],"result":{"default":{"status":"ready","percentComplete":1e400}}}"#,
        r#"{"success":true,"errors":[],"messages":[],"result":{"default":{"status":"ready","percentComplete":1e-400}}}"#,
        r#"{"success":true,"errors":[],"messages":[],"result":{"default":{"status":"ready","percentComplete":100.0000000000000001}}}"#,
        r#"{"success":true,"errors":[],"messages":[{"code":1000.0,"message":"m"}],"result":{}}"#,
        // Deep nesting, within and past serde_json's limit.
        &deep,
        &too_deep,
        // Not JSON, or more than one value.
        "",
        " ",
        "{",
        r#"{"success":true,"errors":[],"messages":[],"result":{}} x"#,
        r#"{"success":true,"errors":[],"messages":[],"result":{}}{}"#,
        // Results.
        r#"{"result": null}"#,
        r#"{"success":true,"errors":[],"messages":[],"result":null}"#,
        r#"{"success":true,"errors":[],"messages":[],"result":"ok"}"#,
        r#"{"success":true,"errors":[],"messages":[]}"#,
        r#"{"success":true,"errors":[],"messages":[],"result":{"status":"ready","percentComplete":5}}"#,
        r#"{"success":true,"errors":[],"messages":[],"result":{"audio":{"status":"ready","percentComplete":100,"url":"http://256.256.256.256/a.m4a"}}}"#,
        r#"{"success":true,"errors":[],"messages":[],"result":{"default":{"status":"ready","percentComplete":100,"url":"not a url"}}}"#,
        r#"{"success":true,"errors":[],"messages":[{"code":1000,"message":"m"},{"code":1000,"message":"m"}],"result":{}}"#,
        r#"{"success":true,"errors":[],"messages":[{"code":1000,"message":"m"},{"code":1000.0,"message":"m"}],"result":{}}"#,
        r#"{"success":false,"errors":[{"code":10000,"message":"m"}],"messages":[],"result":null}"#,
        r#"{"success":false,"errors":[{"code":10000,"message":"m"}],"messages":[]}"#,
        r#"{"success":false,"errors":[],"messages":[],"result":null}"#,
        "[]",
        "null",
        "1",
        r#""ok""#,
    ]
    .iter()
    .map(|b| b.as_bytes().to_vec())
    .collect();
    bodies.push(b"\xff".to_vec());
    bodies.push(b"{\"success\":true,\"errors\":[],\"messages\":[],\"result\":\"\xff\"}".to_vec());
    bodies.push(b"\xef\xbb\xbf{}".to_vec());
    for body in &bodies {
        for op in OPS {
            for status in STATUSES {
                same(&v, op, status, body);
            }
        }
    }
    assert_eq!(
        v.check_response(Operation::List, 200, Some("application/json"), OK.as_bytes()),
        vec![]
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Bytes of a conforming body changed, cut or inserted: the two paths still agree.
    #[test]
    fn damaged_bodies_are_judged_alike(
        at in 0..OK.len(),
        byte in prop::sample::select(b"{}[]\",:0123456789.eE-+ \\ux".to_vec()),
        how in 0..3u8,
        status in prop::sample::select(STATUSES.to_vec()),
    ) {
        let mut body = OK.as_bytes().to_vec();
        match how {
            0 => body[at] = byte,
            1 => body.truncate(at),
            _ => body.insert(at, byte),
        }
        let v = Validator::new().unwrap();
        let ct = Some("application/json");
        prop_assert_eq!(
            v.check_response(Operation::List, status, ct, &body),
            v.check_response_reference(Operation::List, status, ct, &body)
        );
    }
}
