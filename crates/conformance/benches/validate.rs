//! Validation + parsing against parsing alone, over generated bodies.
#![allow(missing_docs)]

use cfstream_conformance::Validator;
use cfstream_conformance::generate::bench_corpus;
use cfstream_types::{DeletedEnvelope, DownloadsEnvelope, ResponseKind, decode};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn parse_only(samples: &[cfstream_conformance::generate::Sample]) -> usize {
    samples
        .iter()
        .filter(|s| match s.operation.response() {
            ResponseKind::Deleted if s.status == 200 => decode::<DeletedEnvelope>(&s.body).is_ok(),
            _ => decode::<DownloadsEnvelope>(&s.body).is_ok(),
        })
        .count()
}

fn bench(c: &mut Criterion) {
    let n =
        std::env::var("CFSTREAM_BENCH_BODIES").ok().and_then(|v| v.parse().ok()).unwrap_or(2_000);
    let samples = bench_corpus(n);
    let validator = Validator::new().expect("embedded schemas compile");
    let mut group = c.benchmark_group("responses");
    group.throughput(Throughput::Elements(samples.len() as u64));
    group.sample_size(10);
    group.bench_function("parse_only", |b| b.iter(|| parse_only(&samples)));
    group.bench_function("validate_and_parse", |b| {
        b.iter(|| {
            samples
                .iter()
                .filter(|s| {
                    validator
                        .check_response(s.operation, s.status, Some("application/json"), &s.body)
                        .is_empty()
                })
                .count()
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
