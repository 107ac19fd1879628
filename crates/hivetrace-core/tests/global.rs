//! The global tracer: hivetrace's slot and OpenTelemetry's global provider always name the
//! same tracer. One test binary of its own, because both are process-wide.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use hivetrace_core::{BatchConfig, Tracer};
use opentelemetry::trace::{Span as _, Tracer as _};
use support::RecordingExporter;

fn tracer_to(exporter: &RecordingExporter) -> Tracer {
    Tracer::builder()
        .exporter(exporter.to_exporter())
        .batch(BatchConfig::default().scheduled_delay(Duration::from_secs(3600)))
        .build()
        .expect("the tracer builds")
}

/// Two threads install different tracers at the same moment, over and over. Whichever wins,
/// spans started through `opentelemetry::global` must reach the tracer that
/// `Tracer::global()` returns: installing both halves in two steps let one thread's
/// OpenTelemetry provider pair with the other's hivetrace tracer.
#[test]
fn concurrent_installs_leave_both_globals_on_one_tracer() {
    let exporters = [RecordingExporter::default(), RecordingExporter::default()];
    let tracers = [tracer_to(&exporters[0]), tracer_to(&exporters[1])];

    for round in 0..2000 {
        let stop = AtomicBool::new(false);
        let installs = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for tracer in &tracers {
                let (stop, installs) = (&stop, &installs);
                scope.spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        tracer.install_global();
                        installs.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
            // Stop both threads at one moment, so their last installs overlap.
            while installs.load(Ordering::Relaxed) < 100 {
                std::hint::spin_loop();
            }
            stop.store(true, Ordering::Relaxed);
        });

        let global = Tracer::global().expect("a tracer is installed");
        global.span(format!("ours-{round}")).start().end();
        opentelemetry::global::tracer("probe")
            .start(format!("otel-{round}"))
            .end();
        for tracer in &tracers {
            tracer.force_flush().expect("flush succeeds");
        }
        let holder = |name: &str| {
            exporters
                .iter()
                .position(|e| e.names().iter().any(|n| n == name))
                .unwrap_or_else(|| panic!("no exporter received {name}"))
        };
        assert_eq!(
            holder(&format!("ours-{round}")),
            holder(&format!("otel-{round}")),
            "round {round}: the OpenTelemetry global provider and Tracer::global() differ"
        );
    }

    let _ = Tracer::uninstall_global();
    for tracer in &tracers {
        tracer.shutdown().expect("shutdown succeeds");
    }
}
