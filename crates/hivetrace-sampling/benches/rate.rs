//! Decision cost of the rate-limited and adaptive samplers against the SDK's
//! `TraceIdRatioBased`, in the same run, and how the adaptive sampler scales across threads.
//!
//! All samplers run on the real `SystemClock`, so the clock read is part of the cost. Each
//! iteration decides one root span for the next of 1,024 fixed pseudo-random trace ids.
//!
//! - `decision/baseline_trace_id_ratio`: `Sampler::TraceIdRatioBased(0.01)`.
//! - `decision/baseline_clock_read`: a sampler that only reads `SystemClock` and drops, the
//!   floor under every sampler here.
//! - `decision/rate_limited_empty`: 100 spans/s under a load that keeps the bucket empty, the
//!   steady state under load (a clock read and a load).
//! - `decision/rate_limited_granting`: 1e9 spans/s, every decision takes a token (a
//!   compare-and-swap, and the sampled result).
//! - `decision/adaptive_steady`: target 100 traces/s; at this load it settles at its floor
//!   (1e-4), so nearly every decision is a drop.
//! - `decision/adaptive_kept`: an unreachable target, so every span is kept and carries
//!   `ot=th:0` (the tracestate allocation).
//! - `threads/{adaptive,rate_limited,baseline_clock_read}/{1,2}`: wall time for N decisions on each
//!   of 1 or 2 threads sharing one sampler; throughput in decisions per second, so the 2-thread
//!   figure over the 1-thread figure is the scaling.
//!
//! Run with `cargo bench -p hivetrace-sampling --bench rate`.

use std::hint::black_box;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hivetrace_sampling::adaptive::AdaptiveSampler;
use hivetrace_sampling::clock::{Clock, SystemClock};
use hivetrace_sampling::rate_limited::RateLimitedSampler;
use opentelemetry::trace::{Link, SpanKind, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{Sampler, SamplingDecision, SamplingResult, ShouldSample};

/// Reads the system clock and drops: the floor under any sampler that consults time.
#[derive(Clone, Debug, Default)]
struct ClockOnly(SystemClock);

impl ShouldSample for ClockOnly {
    fn should_sample(
        &self,
        _parent_context: Option<&Context>,
        _trace_id: TraceId,
        _name: &str,
        _span_kind: &SpanKind,
        _attributes: &[KeyValue],
        _links: &[Link],
    ) -> SamplingResult {
        black_box(self.0.now_nanos());
        SamplingResult {
            decision: SamplingDecision::Drop,
            attributes: Vec::new(),
            trace_state: Default::default(),
        }
    }
}

/// 1,024 trace ids from SplitMix64 with a fixed seed.
fn trace_ids(seed: u64) -> Vec<TraceId> {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    (0..1024)
        .map(|_| TraceId::from((u128::from(next()) << 64) | u128::from(next())))
        .collect()
}

fn decide(sampler: &dyn ShouldSample, trace_id: TraceId) {
    black_box(sampler.should_sample(
        None,
        black_box(trace_id),
        "llm.chat",
        &SpanKind::Client,
        &[],
        &[],
    ));
}

/// An adaptive sampler past its first window, so the measured state is the steady one.
fn warmed_adaptive(target: f64, floor: f64) -> AdaptiveSampler {
    let sampler = AdaptiveSampler::builder(target)
        .window(Duration::from_millis(100))
        .floor(floor)
        .build()
        .expect("valid config");
    let ids = trace_ids(1);
    let end = Instant::now() + Duration::from_millis(250);
    while Instant::now() < end {
        for id in &ids {
            decide(&sampler, *id);
        }
    }
    sampler
}

fn decision(c: &mut Criterion) {
    let ids = trace_ids(0x5eed);
    let mut group = c.benchmark_group("decision");
    let mut bench = |name: &str, sampler: &dyn ShouldSample| {
        let mut i = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) & 1023;
                decide(sampler, ids[i]);
            })
        });
    };
    bench("baseline_trace_id_ratio", &Sampler::TraceIdRatioBased(0.01));
    bench("baseline_clock_read", &ClockOnly::default());
    let empty = RateLimitedSampler::new(100.0).expect("valid config");
    bench("rate_limited_empty", &empty);
    let granting = RateLimitedSampler::new(1e9).expect("valid config");
    bench("rate_limited_granting", &granting);
    bench("adaptive_steady", &warmed_adaptive(100.0, 1e-4));
    bench("adaptive_kept", &warmed_adaptive(1e15, 0.0));
    group.finish();
}

/// Wall time for `iters` decisions on each of `threads` threads, started together.
fn run_threads(sampler: &(dyn ShouldSample + Sync), threads: usize, iters: u64) -> Duration {
    let barrier = Barrier::new(threads + 1);
    thread::scope(|scope| {
        for t in 0..threads {
            let barrier = &barrier;
            scope.spawn(move || {
                let ids = trace_ids(t as u64 + 7);
                barrier.wait();
                for i in 0..iters {
                    decide(sampler, ids[(i & 1023) as usize]);
                }
            });
        }
        barrier.wait();
        Instant::now()
    })
    .elapsed()
}

fn threads(c: &mut Criterion) {
    let mut group = c.benchmark_group("threads");
    let adaptive = warmed_adaptive(100.0, 1e-4);
    let rate_limited = RateLimitedSampler::new(100.0).expect("valid config");
    let clock_only = ClockOnly::default();
    let samplers: [(&str, &(dyn ShouldSample + Sync)); 3] = [
        ("adaptive", &adaptive),
        ("rate_limited", &rate_limited),
        ("baseline_clock_read", &clock_only),
    ];
    for (name, sampler) in samplers {
        for threads in [1, 2] {
            group.throughput(Throughput::Elements(threads as u64));
            group.bench_with_input(BenchmarkId::new(name, threads), &threads, |b, &threads| {
                b.iter_custom(|iters| run_threads(sampler, threads, iters))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, decision, threads);
criterion_main!(benches);
