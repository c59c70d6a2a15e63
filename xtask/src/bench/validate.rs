//! Validation against parsing alone over `bench_corpus(n)`: the cost of
//! `Validator::check_response` (JSON parse, schema, rules, and the typed decode of every 2XX
//! body it accepts) against the typed decode alone, as `crates/conformance/benches` does.
//!
//! The target (issue #15) is on conforming answers, the bodies a faithful server sends: the
//! bodies of the corpus that `check_response` accepts, timed on their own. The whole corpus
//! (a tenth of it broken: those pay for naming every violation, while the typed decode gives up
//! at the first error) is timed too and shown beside it.

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

/// The fastest of [`ROUNDS`] interleaved rounds of each side over `samples`: (parse only,
/// validate, how many conformed).
fn compare(validator: &Validator, samples: &[Sample]) -> (Duration, Duration, usize) {
    // Warm-up (schemas compiled, caches and allocator warm).
    let _ = validate(validator, samples);
    let _ = parse_only(samples);
    let (mut parse, mut check) = (Duration::MAX, Duration::MAX);
    let mut conforming = 0;
    for _ in 0..ROUNDS {
        let (d, _) = timed(|| parse_only(samples));
        parse = parse.min(d);
        let (d, k) = timed(|| validate(validator, samples));
        check = check.min(d);
        conforming = k;
    }
    (parse, check, conforming)
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
    let good: Vec<Sample> = samples
        .iter()
        .filter(|s| {
            validator
                .check_response(s.operation, s.status, Some("application/json"), &s.body)
                .is_empty()
        })
        .cloned()
        .collect();
    let (parse, check, conforming) = compare(&validator, &good);
    anyhow::ensure!(conforming == good.len(), "the validator changed its mind on a body");
    let (all_parse, all_check, _) = compare(&validator, &samples);
    let us = |d: Duration, n: usize| d.as_secs_f64() * 1e6 / n as f64;
    let per_s = |d: Duration, n: usize| thousands((n as f64 / d.as_secs_f64()) as u64);
    let ratio = check.as_secs_f64() / parse.as_secs_f64();
    let all_ratio = all_check.as_secs_f64() / all_parse.as_secs_f64();
    note(format_args!(
        "validate: conforming: parse {parse:.2?}, validate {check:.2?} ({ratio:.2}x); whole corpus: parse {all_parse:.2?}, validate {all_check:.2?} ({all_ratio:.2}x)"
    ));
    let g = good.len();
    Ok(Row {
        bench: format!(
            "validate: the {} conforming answers of {} generated bodies (fastest of {ROUNDS} rounds)",
            thousands(g as u64),
            thousands(samples.len() as u64)
        ),
        measured: format!(
            "validate + parse: {} bodies/s ({:.2} µs/body); whole corpus, a tenth broken: {:.2} µs/body, {all_ratio:.2}x",
            per_s(check, g),
            us(check, g),
            us(all_check, samples.len())
        ),
        baseline: format!(
            "parse only: {} bodies/s ({:.2} µs/body); whole corpus: {:.2} µs/body",
            per_s(parse, g),
            us(parse, g),
            us(all_parse, samples.len())
        ),
        ratio: format!("{ratio:.2}x the cost"),
        target: "<= 1.5x".to_owned(),
        met: Some(ratio <= 1.5),
    })
}
