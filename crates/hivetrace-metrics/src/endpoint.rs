//! What is recorded per endpoint (span name): counts, errors, latency sketches, histogram
//! buckets and exemplars, in shards that threads lock without waiting on each other.
//!
//! The Prometheus histogram (`prometheus_client`'s `HistogramWithExemplars`, the only way that
//! crate writes exemplars) is not touched per span: each scrape, and a background thread once
//! a second ([`crate::histogram_sync`]), bring it up to date from the shards' bucket counts
//! ([`EndpointStats::sync_histogram`]), so its cost (a few tens of nanoseconds per span since
//! the previous update) is not paid by the threads that record spans.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use crossbeam_utils::CachePadded;
use hivetrace_core::clock::Clock;
use prometheus_client::metrics::exemplar::HistogramWithExemplars;
use sketches_ddsketch::DDSketch;

use crate::exemplar::SpanExemplar;
use crate::weight::Carry;
use crate::window::WindowedSketch;

/// One ended span, as the processor sees it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Observation {
    pub(crate) seconds: f64,
    pub(crate) weight: f64,
    pub(crate) error: bool,
    /// When the span ended, which places it in a window slot.
    pub(crate) end: SystemTime,
    /// The length of a window slot, in nanoseconds.
    pub(crate) slot_nanos: u64,
    /// The histogram bucket of `seconds`: the first bound `>= seconds`, or the `+Inf` bucket.
    pub(crate) bucket: usize,
    pub(crate) exemplar: Option<(SpanExemplar, SystemTime)>,
}

/// The latest sampled span of a bucket since the last scrape.
#[derive(Clone, Copy, Debug)]
struct ExemplarSlot {
    exemplar: SpanExemplar,
    seconds: f64,
    at: SystemTime,
}

/// The counts one shard holds; summed over shards when read.
#[derive(Debug)]
pub(crate) struct Shard {
    /// Adjusted (weighted) count of spans that succeeded.
    ok: f64,
    /// Adjusted count of spans that failed.
    errors: f64,
    /// Spans recorded, each counted once.
    spans: u64,
    carry: Carry,
    /// The window slot this shard saw last, so that most spans find theirs with two
    /// comparisons instead of a 64-bit division.
    slot: SlotCache,
    latency: WindowedSketch,
    /// Spans per histogram bucket (not cumulative), `+Inf` last.
    buckets: Box<[u64]>,
    /// The sum of the latencies of each bucket's spans.
    bucket_sums: Box<[f64]>,
    exemplars: Box<[Option<ExemplarSlot>]>,
}

impl Shard {
    fn new(buckets: usize) -> Self {
        Shard {
            ok: 0.0,
            errors: 0.0,
            spans: 0,
            carry: Carry::default(),
            slot: SlotCache::default(),
            latency: WindowedSketch::default(),
            buckets: vec![0; buckets].into(),
            bucket_sums: vec![0.0; buckets].into(),
            exemplars: vec![None; buckets].into(),
        }
    }
}

/// The wall-clock bounds of one window slot and its number.
#[derive(Clone, Copy, Debug)]
struct SlotCache {
    from: SystemTime,
    to: SystemTime,
    epoch: u64,
}

impl Default for SlotCache {
    fn default() -> Self {
        // An empty range: the first span computes its slot.
        SlotCache {
            from: SystemTime::UNIX_EPOCH,
            to: SystemTime::UNIX_EPOCH,
            epoch: 0,
        }
    }
}

impl SlotCache {
    /// The slot of `at`, slots being `slot_nanos` long from the Unix epoch.
    #[inline]
    fn epoch(&mut self, at: SystemTime, slot_nanos: u64) -> u64 {
        if self.from <= at && at < self.to {
            return self.epoch;
        }
        self.refill(at, slot_nanos)
    }

    #[cold]
    fn refill(&mut self, at: SystemTime, slot_nanos: u64) -> u64 {
        let epoch = epoch_of(at, slot_nanos);
        let from = epoch
            .checked_mul(slot_nanos)
            .and_then(|nanos| SystemTime::UNIX_EPOCH.checked_add(Duration::from_nanos(nanos)));
        let to = from.and_then(|from| from.checked_add(Duration::from_nanos(slot_nanos)));
        // Times before 1970 or past 2554 all fall in one slot and are not cached.
        if let (Some(from), Some(to)) = (from, to) {
            *self = SlotCache { from, to, epoch };
        }
        epoch
    }
}

/// The window slot of a wall-clock time: nanoseconds since the Unix epoch (in a `u64`, good
/// until 2554) divided by the slot length; times before 1970 are slot 0.
pub(crate) fn epoch_of(at: SystemTime, slot_nanos: u64) -> u64 {
    let nanos = at.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| {
        d.as_secs()
            .saturating_mul(1_000_000_000)
            .saturating_add(u64::from(d.subsec_nanos()))
    });
    nanos / slot_nanos.max(1)
}

/// What the Prometheus histogram has been given so far.
#[derive(Debug)]
struct Pushed {
    buckets: Box<[u64]>,
    sums: Box<[f64]>,
}

/// Per-endpoint state.
#[derive(Debug)]
pub(crate) struct EndpointStats {
    shards: Box<[CachePadded<Mutex<Shard>>]>,
    bounds: Arc<[f64]>,
    pushed: Mutex<Pushed>,
    pub(crate) histogram: HistogramWithExemplars<SpanExemplar>,
}

static NEXT_THREAD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// A small number per thread, so threads spread over shards.
    static THREAD_INDEX: Cell<usize> = const { Cell::new(usize::MAX) };
}

fn thread_index() -> usize {
    THREAD_INDEX.with(|cell| {
        let index = cell.get();
        if index != usize::MAX {
            return index;
        }
        let index = NEXT_THREAD.fetch_add(1, Ordering::Relaxed);
        cell.set(index);
        index
    })
}

/// The bucket of `seconds` among `bounds` (`le` semantics), `bounds.len()` for `+Inf`.
#[inline]
pub(crate) fn bucket_of(bounds: &[f64], seconds: f64) -> usize {
    bounds.partition_point(|&b| b < seconds)
}

impl EndpointStats {
    pub(crate) fn new(shards: usize, bounds: &Arc<[f64]>) -> Self {
        let n = bounds.len() + 1;
        EndpointStats {
            shards: (0..shards.max(1))
                .map(|_| CachePadded::new(Mutex::new(Shard::new(n))))
                .collect(),
            bounds: Arc::clone(bounds),
            pushed: Mutex::new(Pushed {
                buckets: vec![0; n].into(),
                sums: vec![0.0; n].into(),
            }),
            histogram: HistogramWithExemplars::new(bounds.iter().copied()),
        }
    }

    /// The shard of this thread, or the next free one if another thread holds it.
    #[inline]
    fn shard(&self) -> MutexGuard<'_, Shard> {
        let n = self.shards.len();
        let start = thread_index() % n;
        for i in 0..n {
            if let Ok(guard) = self.shards[(start + i) % n].try_lock() {
                return guard;
            }
        }
        self.shards[start]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Records `o`; `clock` is read only when `o` falls in a window slot holding later spans.
    #[inline]
    pub(crate) fn record(&self, o: &Observation, clock: &dyn Clock) {
        let mut shard = self.shard();
        let shard = &mut *shard;
        if o.error {
            shard.errors += o.weight;
        } else {
            shard.ok += o.weight;
        }
        shard.spans += 1;
        let count = shard.carry.take(o.weight);
        let epoch = shard.slot.epoch(o.end, o.slot_nanos);
        let now = || epoch_of(clock.wall_time(), o.slot_nanos);
        shard.latency.add(epoch, o.seconds, count, now);
        if let Some(slot) = shard.buckets.get_mut(o.bucket) {
            *slot += 1;
            shard.bucket_sums[o.bucket] += o.seconds;
            if let Some((exemplar, at)) = o.exemplar {
                shard.exemplars[o.bucket] = Some(ExemplarSlot {
                    exemplar,
                    seconds: o.seconds,
                    at,
                });
            }
        }
    }

    /// The sum of the shards' counts, and their sketches merged into `lifetime` and `recent`.
    pub(crate) fn read(
        &self,
        epoch: u64,
        lifetime: &mut DDSketch,
        recent: &mut DDSketch,
    ) -> Totals {
        let mut totals = Totals::default();
        for shard in self.shards.iter() {
            let shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            totals.add(&shard);
            shard.latency.merge_into(epoch, lifetime, recent);
        }
        totals
    }

    /// The sum of the shards' counts only.
    pub(crate) fn counts(&self) -> Totals {
        let mut totals = Totals::default();
        for shard in self.shards.iter() {
            let shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            totals.add(&shard);
        }
        totals
    }

    /// Brings the Prometheus histogram up to date: for each bucket, the spans recorded since
    /// the last call are observed at their mean latency (so bucket counts and `_sum` are
    /// exact), the bucket's newest sampled span last, at its own latency, with its exemplar.
    pub(crate) fn sync_histogram(&self) {
        let n = self.bounds.len() + 1;
        let mut counts = vec![0u64; n];
        let mut sums = vec![0.0f64; n];
        let mut exemplars: Vec<Option<ExemplarSlot>> = vec![None; n];
        let mut pushed = self.pushed.lock().unwrap_or_else(PoisonError::into_inner);
        for shard in self.shards.iter() {
            let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            for i in 0..n {
                counts[i] += shard.buckets[i];
                sums[i] += shard.bucket_sums[i];
                if let Some(slot) = shard.exemplars[i].take()
                    && exemplars[i].is_none_or(|e| e.at < slot.at)
                {
                    exemplars[i] = Some(slot);
                }
            }
        }
        for i in 0..n {
            let new = counts[i].saturating_sub(pushed.buckets[i]);
            if new == 0 {
                continue;
            }
            let sum = sums[i] - pushed.sums[i];
            pushed.buckets[i] = counts[i];
            pushed.sums[i] = sums[i];
            let lower = if i == 0 {
                f64::NEG_INFINITY
            } else {
                self.bounds[i - 1]
            };
            let upper = self.bounds.get(i).copied().unwrap_or(f64::INFINITY);
            // A value inside the bucket, despite rounding.
            let inside = |v: f64| {
                if v > lower && v <= upper {
                    v
                } else {
                    upper.min(lower.next_up().max(v))
                }
            };
            match exemplars[i] {
                Some(e) => {
                    let rest = new - 1;
                    if rest > 0 {
                        let mean = inside((sum - e.seconds) / rest as f64);
                        for _ in 0..rest {
                            self.histogram.observe(mean, None, None);
                        }
                    }
                    // `prometheus_client` writes an exemplar's time as seconds since 1970
                    // and panics on an earlier one (at every later scrape, as the exemplar
                    // stays): such a span's exemplar goes without its (optional) time.
                    let at = (e.at >= SystemTime::UNIX_EPOCH).then_some(e.at);
                    self.histogram
                        .observe(inside(e.seconds), Some(e.exemplar), at);
                }
                None => {
                    let mean = inside(sum / new as f64);
                    for _ in 0..new {
                        self.histogram.observe(mean, None, None);
                    }
                }
            }
        }
    }
}

/// Counts summed over shards.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Totals {
    pub(crate) ok: f64,
    pub(crate) errors: f64,
    pub(crate) spans: u64,
}

impl Totals {
    fn add(&mut self, shard: &Shard) {
        self.ok += shard.ok;
        self.errors += shard.errors;
        self.spans += shard.spans;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanId, TraceId};

    fn observe(stats: &EndpointStats, bounds: &[f64], seconds: f64, exemplar: Option<u64>) {
        let clock = hivetrace_core::clock::ManualClock::new();
        let observation = Observation {
            seconds,
            weight: 1.0,
            error: false,
            end: SystemTime::UNIX_EPOCH,
            slot_nanos: 1,
            bucket: bucket_of(bounds, seconds),
            exemplar: exemplar.map(|id| {
                (
                    SpanExemplar {
                        trace_id: TraceId::from(u128::from(id)),
                        span_id: SpanId::from(id),
                    },
                    SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(id),
                )
            }),
        };
        stats.record(&observation, &clock);
    }

    fn exposition(stats: &EndpointStats) -> String {
        use prometheus_client::registry::Registry;
        let mut registry = Registry::default();
        registry.register("lat", "latency", stats.histogram.clone());
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap_or_default();
        text
    }

    #[test]
    fn the_slot_cache_agrees_with_the_division_at_and_around_every_boundary() {
        let slot_nanos = 10_000_000_000; // a one-minute window in six slots
        let mut cache = SlotCache::default();
        let base = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_767_225_600);
        // Forward, backward and across boundaries, including one nanosecond either side.
        let offsets: [i64; 9] = [
            0,
            1,
            9_999_999_999,
            10_000_000_000,
            10_000_000_001,
            5,
            -1,
            35_000_000_000,
            9_999_999_999,
        ];
        for offset in offsets {
            let at = if offset >= 0 {
                base + std::time::Duration::from_nanos(offset.unsigned_abs())
            } else {
                base - std::time::Duration::from_nanos(offset.unsigned_abs())
            };
            assert_eq!(
                cache.epoch(at, slot_nanos),
                epoch_of(at, slot_nanos),
                "{offset}"
            );
        }
        // Before 1970: slot 0, never cached as a range.
        let early = SystemTime::UNIX_EPOCH - std::time::Duration::from_secs(5);
        assert_eq!(cache.epoch(early, slot_nanos), 0);
        assert_eq!(cache.epoch(base, slot_nanos), epoch_of(base, slot_nanos));
    }

    #[test]
    fn buckets_follow_le_semantics() {
        let bounds = [0.1, 1.0];
        assert_eq!(bucket_of(&bounds, 0.05), 0);
        assert_eq!(bucket_of(&bounds, 0.1), 0);
        assert_eq!(bucket_of(&bounds, 0.5), 1);
        assert_eq!(bucket_of(&bounds, 1.0), 1);
        assert_eq!(bucket_of(&bounds, 7.0), 2);
    }

    #[test]
    fn a_scrape_brings_the_histogram_up_to_date_with_exact_counts_sum_and_newest_exemplar() {
        let bounds: Arc<[f64]> = Arc::from([0.1, 1.0].as_slice());
        let stats = EndpointStats::new(2, &bounds);
        observe(&stats, &bounds, 0.05, None);
        observe(&stats, &bounds, 0.3, Some(7));
        observe(&stats, &bounds, 0.9, Some(8));
        observe(&stats, &bounds, 0.2, None);
        observe(&stats, &bounds, 5.0, None);
        stats.sync_histogram();
        let text = exposition(&stats);
        assert!(text.contains("lat_count 5\n"), "{text}");
        assert!(
            text.contains("lat_sum 6.45\n") || text.contains("lat_sum 6.449999"),
            "{text}"
        );
        assert!(text.contains("lat_bucket{le=\"0.1\"} 1\n"), "{text}");
        assert!(
            text.contains(
                "lat_bucket{le=\"1.0\"} 4 # {trace_id=\"00000000000000000000000000000008\",span_id=\"0000000000000008\"} 0.9"
            ),
            "{text}"
        );
        assert!(text.contains("lat_bucket{le=\"+Inf\"} 5\n"), "{text}");

        // A second scrape with nothing new changes nothing; new spans are added once.
        stats.sync_histogram();
        observe(&stats, &bounds, 0.05, None);
        stats.sync_histogram();
        let text = exposition(&stats);
        assert!(text.contains("lat_count 6\n"), "{text}");
        assert!(text.contains("lat_bucket{le=\"0.1\"} 2\n"), "{text}");
    }
}
