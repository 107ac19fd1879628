//! The breaker's closed path: permission + outcome record, against tower-resilience's circuit
//! breaker doing the same through its tower service, single-threaded and on 2 threads.
//!
//! `cargo bench -p hivetrace-resilience --bench breaker`

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::{Arc, Barrier};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use hivetrace_resilience::{CircuitBreaker, Outcome, SlidingWindow};
use tower::{Service, service_fn};

fn breaker() -> CircuitBreaker {
    CircuitBreaker::builder("bench")
        .sliding_window(SlidingWindow::Count(100))
        .build()
        .expect("valid")
}

#[inline]
fn ours(b: &CircuitBreaker) {
    if let Ok(p) = b.try_acquire() {
        p.record(black_box(Outcome::Success));
    }
}

/// Polls a future that completes without waiting (the breaker is closed, the service ready).
fn now<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

type Baseline = tower_resilience::circuitbreaker::CircuitBreaker<
    tower::util::ServiceFn<fn(u64) -> std::future::Ready<Result<u64, ()>>>,
    tower_resilience::circuitbreaker::DefaultClassifier,
>;

fn baseline() -> Baseline {
    let layer = tower_resilience::circuitbreaker::CircuitBreakerLayer::builder()
        .failure_rate_threshold(0.5)
        .sliding_window_size(100)
        .build()
        .expect("valid");
    let f: fn(u64) -> std::future::Ready<Result<u64, ()>> = |x| std::future::ready(Ok(x));
    layer.layer_fn(service_fn(f))
}

#[inline]
fn theirs(s: &mut Baseline) {
    let _ = now(std::future::poll_fn(|cx| s.poll_ready(cx)));
    let _ = black_box(now(s.call(black_box(1))));
}

/// Runs `per_thread` on 2 threads at once, `iters` calls each; the time per call pair.
fn two_threads<S: Send + 'static>(
    iters: u64,
    state: impl Fn() -> S,
    per_thread: fn(&mut S),
) -> Duration {
    let barrier = Arc::new(Barrier::new(3));
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let mut s = state();
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                for _ in 0..iters {
                    per_thread(&mut s);
                }
                barrier.wait();
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    barrier.wait();
    let elapsed = start.elapsed();
    for h in handles {
        let _ = h.join();
    }
    elapsed
}

fn closed_path(c: &mut Criterion) {
    let mut g = c.benchmark_group("breaker_closed_permit_record");
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(2));

    // Calibration on a shared machine: one uncontended atomic read-modify-write.
    let counter = std::sync::atomic::AtomicU64::new(0);
    g.bench_function("one_atomic_fetch_add/1_thread", |bench| {
        bench.iter(|| counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
    });
    let b = breaker();
    g.bench_function("hivetrace/1_thread", |bench| bench.iter(|| ours(&b)));
    let mut s = baseline();
    g.bench_function("tower_resilience/1_thread", |bench| {
        bench.iter(|| theirs(&mut s))
    });

    let shared = breaker();
    g.bench_function("hivetrace/2_threads", |bench| {
        bench.iter_custom(|iters| two_threads(iters, || shared.clone(), |b| ours(b)))
    });
    let shared = baseline();
    g.bench_function("tower_resilience/2_threads", |bench| {
        bench.iter_custom(|iters| two_threads(iters, || shared.clone(), theirs))
    });
    g.finish();
}

criterion_group!(benches, closed_path);
criterion_main!(benches);
