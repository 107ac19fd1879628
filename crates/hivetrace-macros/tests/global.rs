//! Without `tracer = ...`, traced code uses the global tracer: no span and no capture at all
//! while none is installed, spans once one is. One test: the global tracer is process-wide.

mod support;

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};

use hivetrace_core::Tracer;
use hivetrace_macros::{trace, trace_impl};
use support::{Harness, i, inputs, named, output, tree};

static FORMATTED: AtomicUsize = AtomicUsize::new(0);

/// Counts its `Debug` formattings.
struct Dbg(u32);

impl fmt::Debug for Dbg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        FORMATTED.fetch_add(1, Ordering::SeqCst);
        write!(f, "Dbg({})", self.0)
    }
}

#[trace(event_type = chain)]
fn outer(d: Dbg) -> u32 {
    inner(d.0) + 1
}

#[trace]
fn inner(n: u32) -> u32 {
    n
}

#[trace]
async fn later(n: u32) -> u32 {
    tokio::task::yield_now().await;
    inner(n)
}

struct Api;

#[trace_impl]
impl Api {
    pub fn call(&self, n: u32) -> u32 {
        n
    }
}

#[tokio::test]
async fn the_global_tracer_is_the_default() {
    assert!(Tracer::global().is_none());
    assert_eq!(outer(Dbg(1)), 2);
    assert_eq!(later(3).await, 3);
    assert_eq!(Api.call(4), 4);
    assert_eq!(
        FORMATTED.load(Ordering::SeqCst),
        0,
        "nothing formatted without a tracer"
    );

    let h = Harness::new();
    assert!(h.tracer.install_global().is_none());
    assert_eq!(outer(Dbg(1)), 2);
    assert_eq!(later(3).await, 3);
    assert_eq!(Api.call(4), 4);
    assert!(FORMATTED.load(Ordering::SeqCst) > 0);
    Tracer::uninstall_global().expect("it was installed");

    // Uninstalled: nothing more is recorded.
    assert_eq!(inner(9), 9);
    let spans = h.spans();
    assert_eq!(
        tree(&spans),
        vec!["Api::call", "later", "  inner", "outer", "  inner"]
    );
    let sp = named(&spans, "outer");
    assert_eq!(inputs(sp).get("d"), Some(&support::s("Dbg(1)")));
    assert_eq!(output(sp), Some(i(2)));
    h.tracer.shutdown().expect("shutdown");
}
