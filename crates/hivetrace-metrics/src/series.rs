//! A read-mostly map from label value to series, with a cap on how many there may be.
//!
//! Readers (every ended span) load the current table without a lock or a shared write; a new
//! label value copies the table under a mutex, which happens at most `max` times between
//! resets. Past `max` values, observations go to one overflow series and are counted.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;

/// The label value of the series that takes observations past the cardinality cap.
///
/// A span name or error type equal to it is recorded in that series too, whatever the cap
/// (a series of its own would repeat the overflow series' labels), and is not counted in
/// `<ns>_metrics_overflow_total`.
pub const OVERFLOW_LABEL: &str = "__overflow__";

/// The longest label value kept (endpoint, error type), in bytes; longer ones are cut at a
/// character boundary, so a multi-kilobyte span name cannot bloat every scrape.
pub const MAX_LABEL_LEN: usize = 128;

/// `value` cut to at most [`MAX_LABEL_LEN`] bytes.
#[inline]
pub(crate) fn label(value: &str) -> &str {
    if value.len() <= MAX_LABEL_LEN {
        return value;
    }
    let mut end = MAX_LABEL_LEN;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

/// FxHash (rustc's hasher): a multiply and a rotate per word. The table holds at most
/// `max_series` keys, so a key chosen to collide can slow nothing down beyond that bound.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FxHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            // Byte by byte: a `copy_from_slice` of a variable length is a call to `memcpy`.
            let word = rest
                .iter()
                .enumerate()
                .fold(0u64, |word, (i, &b)| word | u64::from(b) << (8 * i));
            self.add(word);
        }
    }

    #[inline]
    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// One generation of series: replaced whole by a reset.
#[derive(Debug)]
pub(crate) struct Table<V> {
    pub(crate) series: FxMap<Arc<str>, Arc<V>>,
    pub(crate) overflow: Arc<V>,
    /// Observations that went to `overflow` because the table was full.
    pub(crate) overflowed: Arc<AtomicU64>,
}

/// Label values to series, at most `max` of them.
#[derive(Debug)]
pub(crate) struct SeriesMap<V> {
    table: ArcSwap<Table<V>>,
    write: Mutex<()>,
    max: usize,
}

impl<V> SeriesMap<V> {
    pub(crate) fn new(max: usize, make: impl FnOnce() -> V) -> Self {
        SeriesMap {
            table: ArcSwap::from_pointee(Table {
                series: FxMap::default(),
                overflow: Arc::new(make()),
                overflowed: Arc::new(AtomicU64::new(0)),
            }),
            write: Mutex::new(()),
            max,
        }
    }

    /// Runs `f` on the series of `key`, creating it with `make` if there is room, else on the
    /// overflow series. A `key` equal to [`OVERFLOW_LABEL`] is the overflow series (a series
    /// of its own would be a second one with the same labels), without counting as overflow.
    #[inline]
    pub(crate) fn with<R>(
        &self,
        key: &str,
        make: impl FnOnce() -> V,
        f: impl FnOnce(&V) -> R,
    ) -> R {
        {
            let table = self.table.load();
            if let Some(series) = table.series.get(key) {
                return f(series);
            }
            // Never in the map: compared only on a miss, so known keys pay nothing for it.
            if key == OVERFLOW_LABEL {
                return f(&table.overflow);
            }
            if table.series.len() >= self.max {
                table.overflowed.fetch_add(1, Ordering::Relaxed);
                return f(&table.overflow);
            }
        }
        let series = self.insert(key, make);
        f(&series)
    }

    #[cold]
    fn insert(&self, key: &str, make: impl FnOnce() -> V) -> Arc<V> {
        let _write = self.write.lock().unwrap_or_else(PoisonError::into_inner);
        let table = self.table.load_full();
        if let Some(series) = table.series.get(key) {
            return Arc::clone(series);
        }
        if table.series.len() >= self.max {
            table.overflowed.fetch_add(1, Ordering::Relaxed);
            return Arc::clone(&table.overflow);
        }
        let series = Arc::new(make());
        let mut map = FxMap::with_capacity_and_hasher(table.series.len() + 1, Default::default());
        map.extend(
            table
                .series
                .iter()
                .map(|(k, v)| (Arc::clone(k), Arc::clone(v))),
        );
        map.insert(Arc::from(key), Arc::clone(&series));
        self.table.store(Arc::new(Table {
            series: map,
            overflow: Arc::clone(&table.overflow),
            overflowed: Arc::clone(&table.overflowed),
        }));
        series
    }

    /// The current table, to read every series.
    pub(crate) fn table(&self) -> Arc<Table<V>> {
        self.table.load_full()
    }

    /// Forgets every series.
    pub(crate) fn reset(&self, make: impl FnOnce() -> V) {
        let _write = self.write.lock().unwrap_or_else(PoisonError::into_inner);
        self.table.store(Arc::new(Table {
            series: FxMap::default(),
            overflow: Arc::new(make()),
            overflowed: Arc::new(AtomicU64::new(0)),
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn long_label_values_are_cut_at_a_character_boundary() {
        assert_eq!(label("chat"), "chat");
        let long = "é".repeat(100); // 200 bytes
        let cut = label(&long);
        assert_eq!(cut.len(), MAX_LABEL_LEN);
        assert!(long.starts_with(cut));
        let odd = format!("a{}", "é".repeat(100));
        assert_eq!(label(&odd).len(), MAX_LABEL_LEN - 1);
    }

    #[test]
    fn values_past_the_cap_go_to_the_overflow_series_and_are_counted() {
        let map: SeriesMap<AtomicU64> = SeriesMap::new(2, AtomicU64::default);
        for key in ["a", "b", "a", "c", "d", "b"] {
            map.with(key, AtomicU64::default, |v| {
                v.fetch_add(1, Ordering::Relaxed)
            });
        }
        let table = map.table();
        let get = |k: &str| table.series[k].load(Ordering::Relaxed);
        assert_eq!((get("a"), get("b")), (2, 2));
        assert!(!table.series.contains_key("c"));
        assert_eq!(table.overflow.load(Ordering::Relaxed), 2);
        assert_eq!(table.overflowed.load(Ordering::Relaxed), 2);

        map.reset(AtomicU64::default);
        assert!(map.table().series.is_empty());
        assert_eq!(map.table().overflowed.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn the_overflow_label_value_is_the_overflow_series_even_below_the_cap() {
        let map: SeriesMap<AtomicU64> = SeriesMap::new(2, AtomicU64::default);
        for key in [OVERFLOW_LABEL, "a", "b", "c"] {
            map.with(key, AtomicU64::default, |v| {
                v.fetch_add(1, Ordering::Relaxed)
            });
        }
        let table = map.table();
        assert!(!table.series.contains_key(OVERFLOW_LABEL));
        assert!(table.series.contains_key("a") && table.series.contains_key("b"));
        assert_eq!(table.overflow.load(Ordering::Relaxed), 2);
        assert_eq!(
            table.overflowed.load(Ordering::Relaxed),
            1,
            "only `c` found the table full"
        );
    }
}
