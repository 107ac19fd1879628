//! Behaviour of the rate-limited, reservoir and adaptive samplers under simulated load.
//!
//! Time is a `ManualClock`: a "second" is N decisions with the clock advanced by 1/N s
//! between them. Trace ids come from a Weyl sequence, whose low 56 bits (the OTEP 235
//! randomness) are spread more evenly than random ones, so sampled counts are deterministic
//! and the bounds below can be tight without being flaky.

use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use hivetrace_sampling::Error;
use hivetrace_sampling::adaptive::AdaptiveSampler;
use hivetrace_sampling::clock::ManualClock;
use hivetrace_sampling::rate_limited::{RateLimitedSampler, ReservoirSampler};
use opentelemetry::trace::{SpanKind, TraceId};
use opentelemetry_sdk::trace::{SamplingDecision, SamplingResult, ShouldSample};
use proptest::prelude::*;

/// Trace ids `n * φ·2^64`: consecutive ids fill the randomness range evenly.
#[derive(Default)]
struct Ids(u128);

impl Ids {
    fn next(&mut self) -> TraceId {
        self.0 += 1;
        TraceId::from(self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }
}

fn decide(sampler: &impl ShouldSample, trace_id: TraceId) -> SamplingResult {
    sampler.should_sample(None, trace_id, "llm.chat", &SpanKind::Client, &[], &[])
}

fn sampled(result: &SamplingResult) -> bool {
    result.decision == SamplingDecision::RecordAndSample
}

/// The probability a span's `ot=th:` states, if it states one.
fn probability_of(result: &SamplingResult) -> Option<f64> {
    let ot = result.trace_state.get("ot")?;
    let hex = ot.split(';').find_map(|part| part.strip_prefix("th:"))?;
    let threshold = u64::from_str_radix(&format!("{hex:0<14}"), 16).expect("th is hex");
    let max = (1u64 << 56) as f64;
    Some((max - threshold as f64) / max)
}

/// One simulated second of `per_second` evenly spaced decisions: (sampled, Σ 1/p over the
/// sampled spans that state a probability).
fn one_second(
    sampler: &impl ShouldSample,
    clock: &ManualClock,
    ids: &mut Ids,
    per_second: u64,
) -> (u64, f64) {
    let step = Duration::from_nanos(1_000_000_000 / per_second);
    let (mut count, mut adjusted) = (0, 0.0);
    for _ in 0..per_second {
        let result = decide(sampler, ids.next());
        if sampled(&result) {
            count += 1;
            adjusted += probability_of(&result).map_or(0.0, |p| 1.0 / p);
        }
        clock.advance(step);
    }
    (count, adjusted)
}

#[test]
fn token_bucket_allows_the_burst_then_the_rate() {
    let clock = ManualClock::new();
    let sampler = RateLimitedSampler::builder(10.0)
        .burst(20)
        .clock(clock.clone())
        .build()
        .expect("valid config");
    let mut ids = Ids::default();
    let burst = (0..1000)
        .filter(|_| sampled(&decide(&sampler, ids.next())))
        .count();
    assert_eq!(burst, 20, "a full bucket grants exactly the burst at once");
    for second in 0..10 {
        let (count, _) = one_second(&sampler, &clock, &mut ids, 1000);
        // The token due at t = 0 went to the burst.
        let expected = if second == 0 { 9 } else { 10 };
        assert_eq!(count, expected, "second {second} grants exactly the rate");
    }
}

#[test]
fn token_bucket_refills_with_time_up_to_the_burst() {
    let clock = ManualClock::new();
    let sampler = RateLimitedSampler::builder(10.0)
        .burst(20)
        .clock(clock.clone())
        .build()
        .expect("valid config");
    let drain = || (0..1000).filter(|_| sampler.try_acquire()).count();
    assert_eq!(drain(), 20);
    assert_eq!(drain(), 0);
    clock.advance(Duration::from_millis(550));
    assert_eq!(drain(), 5, "5.5 intervals refill 5 tokens");
    clock.advance(Duration::from_millis(50));
    assert_eq!(drain(), 1, "the half token left over is kept");
    clock.advance(Duration::from_secs(3600));
    assert_eq!(drain(), 20, "an idle hour refills only the burst");
}

#[test]
fn token_bucket_shared_by_threads_grants_exactly_its_capacity() {
    let clock = ManualClock::new();
    // A burst as large as the whole run, so no refill is ever lost to a full bucket and the
    // total is exact however the threads interleave.
    let sampler = RateLimitedSampler::builder(1000.0)
        .burst(1000)
        .clock(clock.clone())
        .build()
        .expect("valid config");
    let granted = AtomicUsize::new(0);
    thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                let n = (0..5000).filter(|_| sampler.try_acquire()).count();
                granted.fetch_add(n, Ordering::Relaxed);
            });
        }
    });
    assert_eq!(granted.load(Ordering::Relaxed), 1000, "time stood still");

    let done = AtomicBool::new(false);
    thread::scope(|scope| {
        for _ in 0..4 {
            let clone = sampler.clone();
            let (granted, done) = (&granted, &done);
            scope.spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    if clone.try_acquire() {
                        granted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
        for _ in 0..1000 {
            clock.advance(Duration::from_millis(1));
            thread::yield_now();
        }
        done.store(true, Ordering::Relaxed);
    });
    let drained = (0..5000).filter(|_| sampler.try_acquire()).count();
    assert_eq!(
        granted.load(Ordering::Relaxed) + drained,
        2000,
        "burst + one second of rate, none lost or granted twice"
    );
}

#[test]
fn reservoir_guarantees_its_size_and_the_rest_is_consistent() {
    let clock = ManualClock::new();
    let sampler = ReservoirSampler::builder(5, 0.01)
        .clock(clock.clone())
        .build()
        .expect("valid config");
    let mut ids = Ids::default();
    let (mut reservoir, mut by_threshold) = (0, 0);
    for _ in 0..10 {
        for _ in 0..10_000 {
            let result = decide(&sampler, ids.next());
            if sampled(&result) {
                match probability_of(&result) {
                    Some(p) => {
                        assert!((p - 0.01).abs() < 1e-6, "{p}: 0.01 to 4 hex digits");
                        by_threshold += 1;
                    }
                    None => reservoir += 1,
                }
            }
            clock.advance(Duration::from_micros(100));
        }
    }
    // Five at once, then one every 200 ms from 0.2 s to 9.8 s: the run ends at 9.9999 s.
    assert_eq!(reservoir, 54, "five a second, unmarked");
    assert!((990..=1010).contains(&by_threshold), "{by_threshold} at 1%");
}

#[derive(Debug)]
struct Phase {
    per_second: u64,
    sampled: Vec<u64>,
    adjusted: f64,
}

fn run_phases(sampler: &AdaptiveSampler, clock: &ManualClock, load: &[(u64, usize)]) -> Vec<Phase> {
    let mut ids = Ids::default();
    load.iter()
        .map(|&(per_second, seconds)| {
            let mut phase = Phase {
                per_second,
                sampled: Vec::new(),
                adjusted: 0.0,
            };
            for _ in 0..seconds {
                let (count, adjusted) = one_second(sampler, clock, &mut ids, per_second);
                phase.sampled.push(count);
                phase.adjusted += adjusted;
            }
            phase
        })
        .collect()
}

/// The first second from which every sampled count is within `tolerance` of `expected`.
fn settled_from(sampled: &[u64], expected: f64, tolerance: f64) -> Option<usize> {
    let off = |count: &u64| (*count as f64 - expected).abs() > tolerance * expected;
    match sampled.iter().rposition(off) {
        None => Some(0),
        Some(last) if last + 1 < sampled.len() => Some(last + 1),
        Some(_) => None,
    }
}

fn max_deviation(sampled: &[u64], expected: f64) -> f64 {
    sampled
        .iter()
        .map(|count| (*count as f64 - expected).abs() / expected)
        .fold(0.0, f64::max)
}

#[test]
fn adaptive_converges_to_the_target_as_load_changes() {
    let clock = ManualClock::new();
    let target = 100.0;
    let sampler = AdaptiveSampler::builder(target)
        .clock(clock.clone())
        .build()
        .expect("valid config");
    let phases = run_phases(&sampler, &clock, &[(10, 10), (10_000, 30), (100, 30)]);
    let [quiet, busy, calm] = &phases[..] else {
        unreachable!("three phases")
    };

    // Below the target, everything is sampled.
    assert!(quiet.sampled.iter().all(|&count| count == 10), "{quiet:?}");

    // 10 → 10,000/s: the probability halves per window at most (1 → 0.01 in 7 windows).
    let settled = settled_from(&busy.sampled, target, 0.2).expect("busy phase settles");
    assert!(settled <= 8, "settled after {settled} windows: {busy:?}");
    let deviation = max_deviation(&busy.sampled[settled..], target);
    assert!(
        deviation <= 0.05,
        "max deviation {deviation} once settled: {busy:?}"
    );
    assert!(
        busy.sampled.windows(2).all(|pair| pair[1] <= pair[0] + 5),
        "descends without oscillating: {busy:?}"
    );
    // Adjusted counts (1/p from each span's threshold) estimate the real load, even while
    // the probability was moving.
    let real = (busy.per_second * 30) as f64;
    assert!(
        (busy.adjusted / real - 1.0).abs() < 0.02,
        "estimated {} of {real}",
        busy.adjusted
    );

    // 10,000 → 100/s: the smoothed rate decays by half per window, so rising back to p = 1
    // takes longer; it never overshoots, since the load is the target.
    let settled = settled_from(&calm.sampled, target, 0.2).expect("calm phase settles");
    assert!(settled <= 12, "settled after {settled} windows: {calm:?}");
    assert!(
        calm.sampled.windows(2).all(|pair| pair[1] + 2 >= pair[0]),
        "rises without oscillating: {calm:?}"
    );
    let tail = &calm.sampled[20..];
    assert!(max_deviation(tail, target) <= 0.05, "{calm:?}");
    assert!((sampler.probability() - 1.0).abs() < 0.01);
    let real = (calm.per_second * 30) as f64;
    assert!(
        (calm.adjusted / real - 1.0).abs() < 0.05,
        "estimated {}",
        calm.adjusted
    );
}

#[test]
fn adaptive_keeps_to_its_floor_and_ceiling() {
    let clock = ManualClock::new();
    // Low load: the target asks for p = 100, the ceiling allows 0.5.
    let capped = AdaptiveSampler::builder(1000.0)
        .ceiling(0.5)
        .clock(clock.clone())
        .build()
        .expect("valid config");
    let phase = &run_phases(&capped, &clock, &[(10, 1), (1000, 10)])[1];
    assert_eq!(capped.probability(), 0.5);
    let tail = &phase.sampled[2..];
    assert!(max_deviation(tail, 500.0) <= 0.02, "{phase:?}");

    // High load: the target asks for p = 0.0001, the floor holds 0.05.
    let clock = ManualClock::new();
    let floored = AdaptiveSampler::builder(1.0)
        .floor(0.05)
        .clock(clock.clone())
        .build()
        .expect("valid config");
    let phase = &run_phases(&floored, &clock, &[(10_000, 10)])[0];
    assert_eq!(floored.probability(), 0.05);
    assert!(
        max_deviation(&phase.sampled[1..], 500.0) <= 0.02,
        "{phase:?}"
    );
}

#[test]
fn adaptive_samples_the_first_requests_before_it_has_data() {
    let clock = ManualClock::new();
    let sampler = AdaptiveSampler::builder(20.0)
        .clock(clock.clone())
        .build()
        .expect("valid config");
    assert_eq!(sampler.incoming_per_second(), None);
    let mut ids = Ids::default();
    let results: Vec<_> = (0..1000).map(|_| decide(&sampler, ids.next())).collect();
    assert!(results[..20].iter().all(sampled), "one window of target");
    assert!(
        results[..20]
            .iter()
            .all(|r| r.trace_state.get("ot") == Some("th:0"))
    );
    assert!(
        !results[20..].iter().any(sampled),
        "then the floor, zero by default"
    );

    let clock = ManualClock::new();
    let sampler = AdaptiveSampler::builder(20.0)
        .warmup(3)
        .floor(0.5)
        .clock(clock.clone())
        .build()
        .expect("valid config");
    let count = (0..1000)
        .filter(|_| sampled(&decide(&sampler, ids.next())))
        .count();
    assert!(
        (495..=505).contains(&count),
        "3 + half of the rest: {count}"
    );
    clock.advance(Duration::from_secs(1));
    decide(&sampler, ids.next());
    // The span that noticed the window's end counts in the window it closes.
    assert_eq!(sampler.incoming_per_second(), Some(1001.0));
    assert_eq!(sampler.probability(), 0.5, "20/1001 held up by the floor");
}

#[test]
fn adaptive_shared_by_threads_keeps_the_target_rate() {
    let clock = ManualClock::new();
    let sampler = AdaptiveSampler::builder(100.0)
        .clock(clock.clone())
        .build()
        .expect("valid config");
    let threads = 4;
    let per_thread = 2500;
    let next_id = AtomicU64::new(0);
    let barrier = Barrier::new(threads);
    let mut per_second = Vec::new();
    for _ in 0..30 {
        let count = AtomicU64::new(0);
        thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    barrier.wait();
                    for _ in 0..per_thread {
                        let n = u128::from(next_id.fetch_add(1, Ordering::Relaxed));
                        let id = TraceId::from(n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
                        if sampled(&decide(&sampler, id)) {
                            count.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        per_second.push(count.into_inner());
        clock.advance(Duration::from_secs(1));
    }
    // A simulated second lasts about a millisecond here, so a thread descheduled in the middle
    // of closing a window can move much of a second's requests into the neighbouring window;
    // single seconds and the smoothed incoming rate then wobble in a way real one-second
    // windows do not (the single-threaded tests hold those to ±20%). What must hold from
    // several threads is the rate kept over time.
    let rate = sampler.incoming_per_second().expect("measured");
    assert!(
        (5_000.0..=15_000.0).contains(&rate),
        "measured {rate}/s of 10,000/s"
    );
    let tail = &per_second[10..];
    let total: u64 = tail.iter().sum();
    assert!(
        (1600..=2400).contains(&total),
        "{total} over 20 s: {per_second:?}"
    );
}

fn setting_of<T: std::fmt::Debug>(result: Result<T, Error>) -> &'static str {
    match result {
        Err(Error::InvalidConfig { setting, .. }) => setting,
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

#[test]
fn bad_configuration_is_rejected_naming_the_setting() {
    for rate in [0.0, -1.0, f64::NAN, f64::INFINITY, 2e9] {
        assert_eq!(
            setting_of(RateLimitedSampler::new(rate)),
            "per_second",
            "{rate}"
        );
    }
    assert_eq!(
        setting_of(RateLimitedSampler::builder(1.0).burst(0).build()),
        "burst"
    );
    for probability in [-0.5, 1.01, f64::NAN] {
        assert_eq!(
            setting_of(ReservoirSampler::new(1, probability)),
            "probability"
        );
    }

    let adaptive = AdaptiveSampler::builder;
    for target in [0.0, -5.0, f64::NAN, f64::INFINITY] {
        assert_eq!(setting_of(adaptive(target).build()), "target_per_second");
    }
    let cases = [
        (adaptive(1.0).floor(0.6).ceiling(0.5), "floor"),
        (adaptive(1.0).floor(-0.1), "floor"),
        (adaptive(1.0).floor(f64::NAN), "floor"),
        (adaptive(1.0).ceiling(0.0), "ceiling"),
        (adaptive(1.0).ceiling(1.5), "ceiling"),
        (adaptive(1.0).max_step(1.0), "max_step"),
        (adaptive(1.0).max_step(f64::INFINITY), "max_step"),
        (adaptive(1.0).smoothing(0.0), "smoothing"),
        (adaptive(1.0).smoothing(1.5), "smoothing"),
        (adaptive(1.0).window(Duration::ZERO), "window"),
        (adaptive(1.0).window(Duration::MAX), "window"),
    ];
    for (builder, setting) in cases {
        let debug = format!("{builder:?}");
        assert_eq!(setting_of(builder.build()), setting, "{debug}");
    }
    let message = adaptive(1.0)
        .max_step(0.5)
        .build()
        .expect_err("step of 0.5")
        .to_string();
    assert!(
        message.contains("max_step") && message.contains("greater than 1"),
        "{message}"
    );
}

proptest! {
    /// The lock-free bucket decides exactly like a textbook token bucket counted in nanoseconds.
    #[test]
    fn token_bucket_matches_a_reference_model(
        rate in prop::sample::select(vec![1u64, 4, 10, 25, 125, 1000, 40_000]),
        burst in 1u32..50,
        steps in prop::collection::vec((0u64..3_000_000_000, 0usize..20), 1..40),
    ) {
        let clock = ManualClock::new();
        let sampler = RateLimitedSampler::builder(rate as f64)
            .burst(burst)
            .clock(clock.clone())
            .build()
            .expect("valid config");
        let interval = 1_000_000_000 / rate;
        let capacity = interval * u64::from(burst);
        let mut level = capacity;
        for (advance, attempts) in steps {
            clock.advance(Duration::from_nanos(advance));
            level = (level + advance).min(capacity);
            for _ in 0..attempts {
                let expected = level >= interval;
                if expected {
                    level -= interval;
                }
                prop_assert_eq!(sampler.try_acquire(), expected);
            }
        }
    }

    /// No configuration, however odd, panics: it builds or it is an error.
    #[test]
    fn builders_never_panic(
        a in prop::num::f64::ANY,
        b in prop::num::f64::ANY,
        c in prop::num::f64::ANY,
        burst in any::<u32>(),
        reservoir in any::<u32>(),
        window in any::<u64>(),
        warmup in any::<u64>(),
    ) {
        let _ = RateLimitedSampler::builder(a).burst(burst).build();
        let _ = ReservoirSampler::new(reservoir, b);
        let built = AdaptiveSampler::builder(a)
            .floor(b)
            .ceiling(c)
            .max_step(a)
            .smoothing(c)
            .window(Duration::from_nanos(window))
            .warmup(warmup)
            .build();
        if let Ok(sampler) = built {
            decide(&sampler, TraceId::from(u128::from(window)));
        }
    }
}
