//! What the behaviour tests share: tracers wired to exporters the tests can read, and ways
//! to find spans and attributes in what was exported.
// Each test crate uses a different part of this module.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use hivetrace_core::exporter::Exporter;
use opentelemetry::Value;
use opentelemetry::trace::SpanId;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

/// A tracer that exports to the SDK's in-memory exporter, configured further by `configure`.
#[cfg(feature = "testing")]
pub(crate) fn in_memory_tracer(
    configure: impl FnOnce(hivetrace_core::TracerBuilder) -> hivetrace_core::TracerBuilder,
) -> (
    hivetrace_core::Tracer,
    opentelemetry_sdk::trace::InMemorySpanExporter,
) {
    let exporter = opentelemetry_sdk::trace::InMemorySpanExporter::default();
    let tracer = configure(hivetrace_core::Tracer::builder().exporter(exporter.clone()))
        .build()
        .expect("a tracer with an in-memory exporter builds");
    (tracer, exporter)
}

/// Flushes `tracer` and returns what the in-memory exporter holds. Read before shutdown: the
/// in-memory exporter clears itself when shut down.
#[cfg(feature = "testing")]
pub(crate) fn finished(
    tracer: &hivetrace_core::Tracer,
    exporter: &opentelemetry_sdk::trace::InMemorySpanExporter,
) -> Vec<SpanData> {
    tracer.force_flush().expect("flush succeeds");
    exporter
        .get_finished_spans()
        .expect("the in-memory exporter is readable")
}

/// The one span called `name`.
pub(crate) fn named<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    let mut found = spans.iter().filter(|s| s.name == name);
    let span = found
        .next()
        .unwrap_or_else(|| panic!("no span named {name:?} among {:?}", names(spans)));
    assert!(found.next().is_none(), "more than one span named {name:?}");
    span
}

/// The names of `spans`, for failure messages.
pub(crate) fn names(spans: &[SpanData]) -> Vec<&str> {
    spans.iter().map(|s| s.name.as_ref()).collect()
}

/// The value of attribute `key` on `span`, if set.
pub(crate) fn attr<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

/// The value of attribute `key` on `span`, which must be set.
pub(crate) fn expect_attr<'a>(span: &'a SpanData, key: &str) -> &'a Value {
    attr(span, key).unwrap_or_else(|| {
        let keys: Vec<&str> = span.attributes.iter().map(|kv| kv.key.as_str()).collect();
        panic!(
            "span {:?} has no attribute {key:?}; it has {keys:?}",
            span.name
        )
    })
}

/// The parent of `span`, `None` for a root.
pub(crate) fn parent_of(span: &SpanData) -> Option<SpanId> {
    (span.parent_span_id != SpanId::INVALID).then_some(span.parent_span_id)
}

/// An exporter that keeps every span it is given in a list the test shares, and can be made
/// slow or failing. Unlike the in-memory exporter, it keeps its spans after shutdown.
#[derive(Clone, Debug, Default)]
pub(crate) struct RecordingExporter {
    pub(crate) spans: Arc<Mutex<Vec<SpanData>>>,
    pub(crate) exports: Arc<AtomicUsize>,
    pub(crate) shut_down: Arc<AtomicBool>,
    pub(crate) delay: Duration,
    pub(crate) fail: bool,
}

impl RecordingExporter {
    /// An exporter that sleeps `delay` in every export.
    pub(crate) fn slow(delay: Duration) -> Self {
        RecordingExporter {
            delay,
            ..Self::default()
        }
    }

    /// An exporter whose every export fails.
    pub(crate) fn failing() -> Self {
        RecordingExporter {
            fail: true,
            ..Self::default()
        }
    }

    /// The exporter for a tracer builder.
    pub(crate) fn to_exporter(&self) -> Exporter {
        Exporter::custom(self.clone())
    }

    /// The names of the spans exported so far.
    pub(crate) fn names(&self) -> Vec<String> {
        self.spans
            .lock()
            .expect("the span list is not poisoned")
            .iter()
            .map(|s| s.name.to_string())
            .collect()
    }
}

impl SpanExporter for RecordingExporter {
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        if !self.delay.is_zero() {
            std::thread::sleep(self.delay);
        }
        self.exports.fetch_add(1, Ordering::SeqCst);
        let result = if self.fail {
            Err(OTelSdkError::InternalFailure(
                "the collector said no".into(),
            ))
        } else {
            self.spans
                .lock()
                .expect("the span list is not poisoned")
                .extend(batch);
            Ok(())
        };
        std::future::ready(result)
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.shut_down.store(true, Ordering::SeqCst);
        Ok(())
    }
}

/// An exporter whose exports block until the test releases them (or a minute passes), like
/// a collector that accepts the connection and never answers.
#[derive(Debug)]
pub(crate) struct HangingExporter {
    release: Mutex<mpsc::Receiver<()>>,
}

impl HangingExporter {
    /// The exporter, and the sender whose drop releases every blocked export.
    pub(crate) fn new() -> (Self, mpsc::Sender<()>) {
        let (release, wait) = mpsc::channel();
        (
            HangingExporter {
                release: Mutex::new(wait),
            },
            release,
        )
    }
}

impl SpanExporter for HangingExporter {
    fn export(
        &self,
        _batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        if let Ok(wait) = self.release.lock() {
            let _ = wait.recv_timeout(Duration::from_secs(60));
        }
        std::future::ready(Ok(()))
    }
}
