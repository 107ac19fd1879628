//! CPU time and memory used during a span, as span attributes (opt-in).
//!
//! Read from Linux's `/proc` without unsafe code: the thread's CPU time from
//! `/proc/thread-self/schedstat` (nanoseconds; `/proc/thread-self/stat` ticks where absent),
//! the process's CPU time (user + system, all threads) from `/proc/self/stat` (clock ticks,
//! usually 10 ms), the resident set size from `/proc/self/statm`. The tick length and page
//! size come from `/proc/self/auxv`. On other systems nothing is measured and no attribute is
//! written.
//!
//! Cost: six small `/proc` reads per span (three at start, three at the end), tens of µs in
//! all (about 27 µs on a 2-core VM; `cargo bench -p hivetrace-metrics --bench resources`): meant for coarse spans (an LLM call, an agent step), not for hot loops. A span
//! that is not recording costs nothing ([`ResourceUsage::start_for`]).
//!
//! The thread CPU time is written only when the span ends on the thread it started on (an
//! async span may move between threads).

use std::fs::File;
use std::io::Read;
use std::sync::OnceLock;
use std::thread::ThreadId;
use std::time::Duration;

use hivetrace_core::Span;
use opentelemetry::KeyValue;

/// The attribute keys written on a span, in HoneyHive's `metrics` section.
pub mod keys {
    /// CPU time of the span's thread during the span, in milliseconds.
    pub const THREAD_CPU_MS: &str = "honeyhive_metrics.resource.thread_cpu_ms";
    /// CPU time of the whole process (all threads) during the span, in milliseconds.
    pub const PROCESS_CPU_MS: &str = "honeyhive_metrics.resource.process_cpu_ms";
    /// Resident set size when the span started, in bytes.
    pub const RSS_BEFORE_BYTES: &str = "honeyhive_metrics.resource.rss_before_bytes";
    /// Resident set size when the span ended, in bytes.
    pub const RSS_AFTER_BYTES: &str = "honeyhive_metrics.resource.rss_after_bytes";
    /// `rss_after - rss_before`, in bytes (negative when memory was returned).
    pub const RSS_DELTA_BYTES: &str = "honeyhive_metrics.resource.rss_delta_bytes";
}

/// One reading of the counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Sample {
    thread_cpu_ns: Option<u64>,
    process_cpu_ns: Option<u64>,
    rss_bytes: Option<u64>,
}

/// The counters at the start of a span; [`record`](ResourceUsage::record) writes what changed.
///
/// For a span whose work may end on any path (early returns, `?`, panics), use
/// [`ResourceGuard`], the form `#[trace(resources)]` generates.
///
/// ```
/// use hivetrace_metrics::resources::{ResourceUsage, keys};
///
/// # fn main() -> Result<(), hivetrace_core::Error> {
/// let tracer = hivetrace_core::Tracer::builder().console_writer(std::io::sink()).build()?;
/// let span = tracer.span("embed_batch").start();
/// let usage = ResourceUsage::start_for(&span);
/// let v: Vec<u64> = (0..100_000).collect(); // the work
/// let delta = usage.record(&span);
/// # drop(v);
/// if cfg!(target_os = "linux") {
///     let delta = delta.expect("measured on Linux");
///     assert!(delta.rss_after_bytes.unwrap() > 0);
///     assert!(delta.process_cpu.is_some());
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
#[must_use = "call `record` (or `finish`) when the span's work is done"]
pub struct ResourceUsage {
    start: Option<(Sample, ThreadId)>,
}

/// What a span used: CPU time and resident memory. A field is `None` where it could not be
/// measured.
///
/// ```
/// use std::time::Duration;
/// use hivetrace_metrics::resources::ResourceDelta;
///
/// let delta = ResourceDelta {
///     thread_cpu: Some(Duration::from_millis(12)),
///     rss_before_bytes: Some(1000),
///     rss_after_bytes: Some(800),
///     rss_delta_bytes: Some(-200),
///     ..ResourceDelta::default()
/// };
/// assert_eq!(delta.attributes().len(), 4);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResourceDelta {
    /// CPU time of the span's thread, when it ended where it started.
    pub thread_cpu: Option<Duration>,
    /// CPU time of the process, all threads.
    pub process_cpu: Option<Duration>,
    /// Resident set size at the start.
    pub rss_before_bytes: Option<u64>,
    /// Resident set size at the end.
    pub rss_after_bytes: Option<u64>,
    /// The change in resident set size.
    pub rss_delta_bytes: Option<i64>,
}

impl ResourceDelta {
    /// The span attributes for what was measured ([`keys`]).
    pub fn attributes(&self) -> Vec<KeyValue> {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let bytes = |b: u64| i64::try_from(b).unwrap_or(i64::MAX);
        let mut out = Vec::with_capacity(5);
        if let Some(d) = self.thread_cpu {
            out.push(KeyValue::new(keys::THREAD_CPU_MS, ms(d)));
        }
        if let Some(d) = self.process_cpu {
            out.push(KeyValue::new(keys::PROCESS_CPU_MS, ms(d)));
        }
        if let Some(b) = self.rss_before_bytes {
            out.push(KeyValue::new(keys::RSS_BEFORE_BYTES, bytes(b)));
        }
        if let Some(b) = self.rss_after_bytes {
            out.push(KeyValue::new(keys::RSS_AFTER_BYTES, bytes(b)));
        }
        if let Some(d) = self.rss_delta_bytes {
            out.push(KeyValue::new(keys::RSS_DELTA_BYTES, d));
        }
        out
    }
}

impl ResourceUsage {
    /// Reads the counters now.
    pub fn start() -> Self {
        ResourceUsage {
            start: Some((Sample::read(), std::thread::current().id())),
        }
    }

    /// Reads the counters now if `span` records; otherwise reads nothing and
    /// [`record`](Self::record) does nothing.
    pub fn start_for(span: &Span) -> Self {
        if span.is_recording() {
            Self::start()
        } else {
            ResourceUsage { start: None }
        }
    }

    /// What was used since the start; `None` if nothing was measured.
    pub fn finish(&self) -> Option<ResourceDelta> {
        let (before, thread) = self.start?;
        let after = Sample::read();
        let same_thread = std::thread::current().id() == thread;
        let diff =
            |a: Option<u64>, b: Option<u64>| Some(Duration::from_nanos(b?.saturating_sub(a?)));
        let delta = ResourceDelta {
            thread_cpu: if same_thread {
                diff(before.thread_cpu_ns, after.thread_cpu_ns)
            } else {
                None
            },
            process_cpu: diff(before.process_cpu_ns, after.process_cpu_ns),
            rss_before_bytes: before.rss_bytes,
            rss_after_bytes: after.rss_bytes,
            rss_delta_bytes: match (before.rss_bytes, after.rss_bytes) {
                (Some(b), Some(a)) => Some(signed(a) - signed(b)),
                _ => None,
            },
        };
        (delta != ResourceDelta::default()).then_some(delta)
    }

    /// [`finish`](Self::finish), and writes the result on `span` as attributes ([`keys`]).
    pub fn record(&self, span: &Span) -> Option<ResourceDelta> {
        let delta = self.finish()?;
        for attribute in delta.attributes() {
            span.set_attribute(attribute);
        }
        Some(delta)
    }
}

/// Measures from its start until it is dropped, then writes what was used on the span it was
/// started for: the form of [`ResourceUsage`] that `#[trace(resources)]` generates, right
/// after the span, so that every way out of the function records.
///
/// It owns a handle to the span (not a borrow), so it can move into the future a function
/// returns. It measures nothing and writes nothing when the span is not recording.
///
/// ```
/// use hivetrace_metrics::resources::{ResourceGuard, keys};
///
/// # fn main() -> Result<(), hivetrace_core::Error> {
/// let tracer = hivetrace_core::Tracer::builder().console_writer(std::io::sink()).build()?;
/// let span = tracer.span("rerank").start();
/// {
///     let _usage = ResourceGuard::start(&span);
///     let _sorted: Vec<u64> = (0..10_000u64).rev().collect(); // the work
/// } // the attributes are written here
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "the guard measures until it is dropped; bind it with `let _usage = ...`"]
pub struct ResourceGuard {
    /// The usage at the start and the span's context; `None` when the span does not record.
    running: Option<(ResourceUsage, opentelemetry::Context)>,
}

impl ResourceGuard {
    /// Starts measuring for `span`, if it records.
    pub fn start(span: &Span) -> Self {
        ResourceGuard {
            running: span
                .is_recording()
                .then(|| (ResourceUsage::start(), span.context().clone())),
        }
    }
}

impl Drop for ResourceGuard {
    fn drop(&mut self) {
        use opentelemetry::trace::TraceContextExt as _;
        let Some((usage, cx)) = self.running.take() else {
            return;
        };
        if let Some(delta) = usage.finish() {
            let span = cx.span();
            for attribute in delta.attributes() {
                span.set_attribute(attribute);
            }
        }
    }
}

fn signed(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Sample {
    fn read() -> Self {
        let mut buf = [0u8; 1024];
        let thread_cpu_ns = read_file("/proc/thread-self/schedstat", &mut buf)
            .and_then(|text| field(text, 0))
            .filter(|ns| *ns > 0)
            .or_else(|| {
                let text = read_file("/proc/thread-self/stat", &mut buf)?;
                cpu_ticks(text).map(ticks_to_ns)
            });
        let process_cpu_ns = read_file("/proc/self/stat", &mut buf)
            .and_then(cpu_ticks)
            .map(ticks_to_ns);
        let rss_bytes = read_file("/proc/self/statm", &mut buf)
            .and_then(|text| field(text, 1))
            .map(|pages| pages.saturating_mul(system().page_size));
        Sample {
            thread_cpu_ns,
            process_cpu_ns,
            rss_bytes,
        }
    }
}

/// Reads a small file into `buf` without allocating.
fn read_file<'b>(path: &str, buf: &'b mut [u8]) -> Option<&'b [u8]> {
    let mut file = File::open(path).ok()?;
    let mut len = 0;
    while len < buf.len() {
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    Some(&buf[..len])
}

/// The `index`th space-separated number of `text`.
fn field(text: &[u8], index: usize) -> Option<u64> {
    let word = text
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
        .nth(index)?;
    parse_u64(word)
}

fn parse_u64(word: &[u8]) -> Option<u64> {
    if word.is_empty() {
        return None;
    }
    word.iter().try_fold(0u64, |acc, &c| {
        if c.is_ascii_digit() {
            acc.checked_mul(10)?.checked_add(u64::from(c - b'0'))
        } else {
            None
        }
    })
}

/// `utime + stime` (fields 14 and 15) of a `stat` file. The command name (field 2) may hold
/// spaces and parentheses, so fields are counted from the last `)`.
fn cpu_ticks(stat: &[u8]) -> Option<u64> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = &stat[close + 1..];
    // After ")": state is field 3, so utime (14) is the 11th word from 0, stime the 12th.
    let utime = field(rest, 11)?;
    let stime = field(rest, 12)?;
    utime.checked_add(stime)
}

fn ticks_to_ns(ticks: u64) -> u64 {
    ticks.saturating_mul(1_000_000_000 / system().ticks_per_second.max(1))
}

/// The clock tick rate and page size, from the auxiliary vector (`AT_CLKTCK`, `AT_PAGESZ`).
#[derive(Clone, Copy, Debug)]
struct System {
    ticks_per_second: u64,
    page_size: u64,
}

fn system() -> System {
    static SYSTEM: OnceLock<System> = OnceLock::new();
    *SYSTEM.get_or_init(|| {
        let auxv = std::fs::read("/proc/self/auxv").unwrap_or_default();
        parse_auxv(&auxv)
    })
}

fn parse_auxv(auxv: &[u8]) -> System {
    const AT_PAGESZ: u64 = 6;
    const AT_CLKTCK: u64 = 17;
    let mut system = System {
        ticks_per_second: 100,
        page_size: 4096,
    };
    let word = std::mem::size_of::<usize>();
    let read = |b: &[u8]| -> u64 {
        let mut bytes = [0u8; 8];
        if word == 8 {
            bytes.copy_from_slice(b);
            u64::from_ne_bytes(bytes)
        } else {
            let mut four = [0u8; 4];
            four.copy_from_slice(b);
            u64::from(u32::from_ne_bytes(four))
        }
    };
    for pair in auxv.chunks_exact(2 * word) {
        let (key, value) = (read(&pair[..word]), read(&pair[word..]));
        match key {
            AT_PAGESZ if value > 0 => system.page_size = value,
            AT_CLKTCK if value > 0 => system.ticks_per_second = value,
            _ => {}
        }
    }
    system
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_are_counted_after_the_command_name() {
        let stat = b"4242 (my (odd) cmd) R 1 2 3 4 5 6 7 8 9 10 250 30 0 0 20 0 1 0";
        assert_eq!(cpu_ticks(stat), Some(280));
        assert_eq!(cpu_ticks(b"4242 (x) R 1 2"), None);
        assert_eq!(cpu_ticks(b"garbage"), None);
    }

    #[test]
    fn fields_and_numbers_reject_garbage() {
        assert_eq!(field(b"765 446 418 5 0 123 0\n", 1), Some(446));
        assert_eq!(field(b"1 2", 5), None);
        assert_eq!(parse_u64(b"12a"), None);
        assert_eq!(parse_u64(b"99999999999999999999999"), None);
    }

    #[test]
    fn auxv_gives_tick_rate_and_page_size() {
        let mut auxv = Vec::new();
        for (k, v) in [(33u64, 1u64), (6, 16384), (17, 250), (0, 0)] {
            auxv.extend_from_slice(&(k as usize).to_ne_bytes());
            auxv.extend_from_slice(&(v as usize).to_ne_bytes());
        }
        let s = parse_auxv(&auxv);
        assert_eq!((s.page_size, s.ticks_per_second), (16384, 250));
        let s = parse_auxv(&[]);
        assert_eq!((s.page_size, s.ticks_per_second), (4096, 100));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn busy_work_shows_thread_cpu_time_and_allocation_shows_rss() {
        let usage = ResourceUsage::start();
        // Spin until the thread's CPU clock moves (schedstat has ns resolution).
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let delta = usage.finish().unwrap();
        assert!(delta.thread_cpu.unwrap() > Duration::ZERO, "{delta:?}");
        assert!(delta.rss_before_bytes.unwrap() > 0);
        let rss_delta =
            delta.rss_after_bytes.unwrap() as i64 - delta.rss_before_bytes.unwrap() as i64;
        assert_eq!(delta.rss_delta_bytes, Some(rss_delta));
    }
}
