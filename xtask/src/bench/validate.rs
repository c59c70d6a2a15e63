//! Validation against parsing alone over `bench_corpus(n)`: the cost of
//! `Validator::check_response` (JSON parse, schema, rules, and the typed decode of every 2XX
//! body it accepts) against the typed decode alone, as `crates/conformance/benches` does.

use std::hint::black_box;
use std::time::{Duration, Instant};

use cfstream_conformance::Validator;
use cfstream_conformance::generate::{Sample, bench_corpus};
use cfstream_types::{DeletedEnvelope, DownloadsEnvelope, ResponseKind, decode};

use super::{Row, note, thousands};

/// Rounds per side, interleaved; the fastest round of each side is compared.
const ROUNDS: usize = 3;

fn parse_only(samples: &[Sample]) -> usize {
    samples
        .iter()
        .filter(|s| match s.operation.response() {
            ResponseKind::Deleted if s.status == 200 => {
                decode::<DeletedEnvelope>(black_box(&s.body)).is_ok()
            }
            _ => decode::<DownloadsEnvelope>(black_box(&s.body)).is_ok(),
        })
        .count()
}

fn validate(validator: &Validator, samples: &[Sample]) -> usize {
    samples
        .iter()
        .filter(|s| {
            validator
                .check_response(s.operation, s.status, Some("application/json"), black_box(&s.body))
                .is_empty()
        })
        .count()
}

fn timed(f: impl FnOnce() -> usize) -> (Duration, usize) {
    let t = Instant::now();
    let n = black_box(f());
    (t.elapsed(), n)
}

pub(crate) fn run(n: usize) -> anyhow::Result<Row> {
    note(format_args!("validate: generating {} bodies", thousands(n as u64)));
    let t = Instant::now();
    let samples = bench_corpus(n);
    let bytes: usize = samples.iter().map(|s| s.body.len()).sum();
    note(format_args!(
        "validate: {} bodies, {:.1} MiB, generated in {:.1?}",
        samples.len(),
        bytes as f64 / 1024.0 / 1024.0,
        t.elapsed()
    ));
    let validator = Validator::new()?;
    // Warm-up (schemas compiled, caches and allocator warm).
    let _ = validate(&validator, &samples);
    let _ = parse_only(&samples);
    let (mut parse, mut check) = (Duration::MAX, Duration::MAX);
    let (mut parsed, mut conforming) = (0, 0);
    for _ in 0..ROUNDS {
        let (d, k) = timed(|| parse_only(&samples));
        parse = parse.min(d);
        parsed = k;
        let (d, k) = timed(|| validate(&validator, &samples));
        check = check.min(d);
        conforming = k;
    }
    let per_s = |d: Duration| samples.len() as f64 / d.as_secs_f64();
    let ratio = check.as_secs_f64() / parse.as_secs_f64();
    note(format_args!(
        "validate: parse {parse:.2?} ({parsed} decoded), validate {check:.2?} ({conforming} conforming)"
    ));
    Ok(Row {
        bench: format!("validate: {} generated bodies", thousands(samples.len() as u64)),
        measured: format!(
            "validate + parse: {} bodies/s ({:.2} µs/body)",
            thousands(per_s(check) as u64),
            check.as_secs_f64() * 1e6 / samples.len() as f64
        ),
        baseline: format!(
            "parse only: {} bodies/s ({:.2} µs/body)",
            thousands(per_s(parse) as u64),
            parse.as_secs_f64() * 1e6 / samples.len() as f64
        ),
        ratio: format!("{ratio:.2}x the cost"),
        target: "<= 2x".to_owned(),
        met: Some(ratio <= 2.0),
    })
}
