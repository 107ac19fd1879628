//! Breaker state and counts as Prometheus metrics (feature `prometheus`).

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use super::{CircuitBreaker, State};

/// A `prometheus_client` collector for one or more breakers, read at scrape time:
///
/// - `<ns>_circuit_breaker_state{name}`: 0 closed (or disabled, metrics-only), 1 half-open,
///   2 open (or forced open);
/// - `<ns>_circuit_breaker_calls_total{name, outcome}`: `successful`, `failed`, `ignored`,
///   `rejected`;
/// - `<ns>_circuit_breaker_slow_calls_total{name}`;
/// - `<ns>_circuit_breaker_transitions_total{name, from, to}`;
/// - `<ns>_circuit_breaker_failure_rate{name}`: percent, once the window is judged.
///
/// ```
/// use prometheus_client::registry::Registry;
/// use hivetrace_resilience::{BreakerCollector, CircuitBreaker};
///
/// let breaker = CircuitBreaker::builder("llm").build()?;
/// let mut registry = Registry::default();
/// registry.register_collector(Box::new(BreakerCollector::new("app", [breaker.clone()])));
/// breaker.force_open();
/// let mut text = String::new();
/// prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
/// assert!(text.contains(r#"app_circuit_breaker_state{name="llm"} 2"#));
/// # Ok::<(), hivetrace_resilience::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct BreakerCollector {
    prefix: String,
    breakers: Vec<CircuitBreaker>,
}

impl BreakerCollector {
    /// A collector for `breakers`, metric names prefixed `<namespace>_` (none when empty).
    pub fn new(namespace: &str, breakers: impl IntoIterator<Item = CircuitBreaker>) -> Self {
        BreakerCollector {
            prefix: if namespace.is_empty() {
                String::new()
            } else {
                format!("{namespace}_")
            },
            breakers: breakers.into_iter().collect(),
        }
    }
}

impl Collector for BreakerCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let snapshots: Vec<_> = self.breakers.iter().map(|b| (b, b.snapshot())).collect();
        let name = |s: &str| format!("{}circuit_breaker_{s}", self.prefix);

        let state = name("state");
        let mut family = encoder.encode_descriptor(
            &state,
            "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
            None,
            MetricType::Gauge,
        )?;
        for (_, s) in &snapshots {
            ConstGauge::new(s.state.gauge_value())
                .encode(family.encode_family(&[("name", &*s.name)])?)?;
        }

        let calls = name("calls");
        let mut family = encoder.encode_descriptor(
            &calls,
            "Calls through the circuit breaker, by outcome.",
            None,
            MetricType::Counter,
        )?;
        for (_, s) in &snapshots {
            for (outcome, n) in [
                ("successful", s.successful_total),
                ("failed", s.failed_total),
                ("ignored", s.ignored_total),
                ("rejected", s.rejected_total),
            ] {
                ConstCounter::new(n)
                    .encode(family.encode_family(&[("name", &*s.name), ("outcome", outcome)])?)?;
            }
        }

        let slow = name("slow_calls");
        let mut family = encoder.encode_descriptor(
            &slow,
            "Calls slower than the slow-call threshold.",
            None,
            MetricType::Counter,
        )?;
        for (_, s) in &snapshots {
            ConstCounter::new(s.slow_total).encode(family.encode_family(&[("name", &*s.name)])?)?;
        }

        let transitions = name("transitions");
        let mut family = encoder.encode_descriptor(
            &transitions,
            "Circuit breaker state transitions.",
            None,
            MetricType::Counter,
        )?;
        for (b, s) in &snapshots {
            for from in State::ALL {
                for to in State::ALL {
                    let n = b.transitions(from, to);
                    if n > 0 {
                        ConstCounter::new(n).encode(family.encode_family(&[
                            ("name", &*s.name),
                            ("from", from.as_str()),
                            ("to", to.as_str()),
                        ])?)?;
                    }
                }
            }
        }

        let rate = name("failure_rate");
        let mut family = encoder.encode_descriptor(
            &rate,
            "Failure rate in the sliding window, in percent, once it holds the minimum calls.",
            None,
            MetricType::Gauge,
        )?;
        for (_, s) in &snapshots {
            if let Some(r) = s.failure_rate {
                ConstGauge::new(r).encode(family.encode_family(&[("name", &*s.name)])?)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SlidingWindow;
    use prometheus_client::registry::Registry;

    #[test]
    fn scrapes_show_state_outcomes_and_transitions() {
        let b = CircuitBreaker::builder("db")
            .sliding_window(SlidingWindow::Count(2))
            .minimum_calls(2)
            .build()
            .expect("valid");
        let mut registry = Registry::default();
        registry.register_collector(Box::new(BreakerCollector::new("svc", [b.clone()])));
        b.try_acquire().expect("closed").success();
        b.try_acquire().expect("closed").failure();
        let _ = b.try_acquire();
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("encode");
        for line in [
            r#"svc_circuit_breaker_state{name="db"} 2"#,
            r#"svc_circuit_breaker_calls_total{name="db",outcome="successful"} 1"#,
            r#"svc_circuit_breaker_calls_total{name="db",outcome="failed"} 1"#,
            r#"svc_circuit_breaker_calls_total{name="db",outcome="rejected"} 1"#,
            r#"svc_circuit_breaker_transitions_total{name="db",from="closed",to="open"} 1"#,
            r#"svc_circuit_breaker_failure_rate{name="db"} 50.0"#,
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
    }
}
