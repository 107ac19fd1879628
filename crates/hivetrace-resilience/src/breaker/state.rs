//! The breaker's states.

use std::fmt;

/// A circuit breaker's state.
///
/// Closed, Open and HalfOpen are the automatic states; Disabled, ForcedOpen and MetricsOnly
/// are set by hand and left only by hand.
///
/// ```
/// use hivetrace_resilience::State;
/// assert_eq!(State::HalfOpen.to_string(), "half_open");
/// assert_eq!(State::ForcedOpen.gauge_value(), 2);
/// assert!(State::MetricsOnly.permits_calls());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum State {
    /// Calls pass; outcomes are recorded and judged against the thresholds.
    Closed = 0,
    /// Calls are refused until the wait in open is over.
    Open = 1,
    /// A bounded number of trial calls pass; their outcomes close or reopen the breaker.
    HalfOpen = 2,
    /// Calls pass; nothing is recorded.
    Disabled = 3,
    /// Every call is refused.
    ForcedOpen = 4,
    /// Calls pass and outcomes are recorded, but the breaker never trips.
    MetricsOnly = 5,
}

impl State {
    /// Every state, in code order.
    pub const ALL: [State; 6] = [
        State::Closed,
        State::Open,
        State::HalfOpen,
        State::Disabled,
        State::ForcedOpen,
        State::MetricsOnly,
    ];

    pub(crate) const fn from_code(code: u8) -> State {
        match code {
            0 => State::Closed,
            1 => State::Open,
            2 => State::HalfOpen,
            3 => State::Disabled,
            4 => State::ForcedOpen,
            _ => State::MetricsOnly,
        }
    }

    /// The state's name in snake case (`closed`, `half_open`, `forced_open`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half_open",
            State::Disabled => "disabled",
            State::ForcedOpen => "forced_open",
            State::MetricsOnly => "metrics_only",
        }
    }

    /// The value of the `circuit_breaker_state` gauge: 0 when calls flow (closed, disabled,
    /// metrics-only), 1 half-open, 2 when calls are refused (open, forced open).
    pub const fn gauge_value(self) -> i64 {
        match self {
            State::Closed | State::Disabled | State::MetricsOnly => 0,
            State::HalfOpen => 1,
            State::Open | State::ForcedOpen => 2,
        }
    }

    /// Whether calls pass in this state (half-open: some of them).
    pub const fn permits_calls(self) -> bool {
        !matches!(self, State::Open | State::ForcedOpen)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
