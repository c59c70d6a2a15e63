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

/// Interleaved rounds: each times both sides over its own slice of the bodies, so a slow spell
/// of the shared machine hits both sides of a round alike; the medians are compared.
const ROUNDS: usize = 30;

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

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 { v[mid] } else { (v[mid - 1] + v[mid]) / 2.0 }
}

/// One side's and the other's cost, as medians over [`ROUNDS`] interleaved rounds.
struct Compared {
    /// Median µs per body, parse only.
    parse_us: f64,
    /// Median µs per body, validate + parse.
    check_us: f64,
    /// Median of the rounds' ratios (validate / parse).
    ratio: f64,
    /// How many bodies the validator accepted.
    conforming: usize,
}

/// Times both sides over `samples` in [`ROUNDS`] rounds, each over its own slice (the side that
/// goes first alternates).
fn compare(validator: &Validator, samples: &[Sample]) -> Compared {
    // Warm-up (schemas compiled, caches and allocator warm).
    let _ = validate(validator, samples);
    let _ = parse_only(samples);
    let chunk = samples.len().div_ceil(ROUNDS).max(1);
    let (mut parse, mut check, mut ratios) = (vec![], vec![], vec![]);
    let mut conforming = 0;
    for (i, part) in samples.chunks(chunk).enumerate() {
        let ((p, _), (c, k)) = if i % 2 == 0 {
            let p = timed(|| parse_only(part));
            (p, timed(|| validate(validator, part)))
        } else {
            let c = timed(|| validate(validator, part));
            (timed(|| parse_only(part)), c)
        };
        let per_body = |d: Duration| d.as_secs_f64() * 1e6 / part.len() as f64;
        parse.push(per_body(p));
        check.push(per_body(c));
        ratios.push(c.as_secs_f64() / p.as_secs_f64());
        conforming += k;
    }
    Compared { parse_us: median(parse), check_us: median(check), ratio: median(ratios), conforming }
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
    let good_side = compare(&validator, &good);
    anyhow::ensure!(good_side.conforming == good.len(), "the validator changed its mind on a body");
    let all = compare(&validator, &samples);
    let per_s = |us: f64| thousands((1e6 / us) as u64);
    let ratio = good_side.ratio;
    note(format_args!(
        "validate: conforming: parse {:.2} µs, validate {:.2} µs ({ratio:.2}x); whole corpus: parse {:.2} µs, validate {:.2} µs ({:.2}x)",
        good_side.parse_us, good_side.check_us, all.parse_us, all.check_us, all.ratio
    ));
    let g = good.len();
    Ok(Row {
        bench: format!(
            "validate: the {} conforming answers of {} generated bodies ({ROUNDS} interleaved rounds; medians)",
            thousands(g as u64),
            thousands(samples.len() as u64)
        ),
        measured: format!(
            "validate + parse: {} bodies/s ({:.2} µs/body); whole corpus, a tenth broken: {:.2} µs/body, {:.2}x",
            per_s(good_side.check_us),
            good_side.check_us,
            all.check_us,
            all.ratio
        ),
        baseline: format!(
            "parse only: {} bodies/s ({:.2} µs/body); whole corpus: {:.2} µs/body",
            per_s(good_side.parse_us),
            good_side.parse_us,
            all.parse_us
        ),
        ratio: format!("{ratio:.2}x the cost"),
        target: "<= 1.5x".to_owned(),
        met: Some(ratio <= 1.5),
    })
}
