//! Cost of measuring a span's resource usage: six `/proc` reads (three at the start, three at
//! the end). Linux only; elsewhere nothing is read.
//!
//! - `resources/start_finish`: `ResourceUsage::start()` then `finish()`.
//! - `resources/not_recording`: `ResourceUsage::start_for` on a span that does not record.
//!
//! Run with `cargo bench -p hivetrace-metrics --bench resources`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use hivetrace_core::Span;
use hivetrace_metrics::resources::ResourceUsage;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("resources");
    group.bench_function("start_finish", |b| {
        b.iter(|| {
            let usage = ResourceUsage::start();
            black_box(usage.finish())
        })
    });
    let off = Span::none();
    group.bench_function("not_recording", |b| {
        b.iter(|| {
            let usage = ResourceUsage::start_for(black_box(&off));
            black_box(usage.finish())
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
