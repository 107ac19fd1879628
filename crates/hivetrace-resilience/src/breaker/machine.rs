//! The state machine: permits, outcomes, judging, transitions.

use std::sync::Arc;
use std::sync::PoisonError;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::trials::Take;
use super::window::{Counts, FAILED, RECORDED, SLOW, Window, pack, unpack};
use super::{
    CLOSED, DISABLED, FORCED_OPEN, HALF_OPEN, Inner, METRICS_ONLY, OPEN, Reason, Snapshot, State,
    Transition, code_of, nanos,
};
use crate::error::Rejected;
use crate::outcome::Outcome;

impl Inner {
    #[inline]
    pub(super) fn start_time(&self) -> u64 {
        if self.slow_nanos != 0 {
            self.clock.now_nanos()
        } else {
            0
        }
    }

    #[inline]
    pub(super) fn acquire(&self) -> Result<u64, Rejected> {
        let word = self.state.load(Ordering::Acquire);
        match code_of(word) {
            CLOSED | METRICS_ONLY | DISABLED => Ok(word),
            _ => self.acquire_slow(word),
        }
    }

    #[cold]
    fn acquire_slow(&self, mut word: u64) -> Result<u64, Rejected> {
        loop {
            match code_of(word) {
                OPEN => {
                    let now = self.clock.now_nanos();
                    let until = self.open_until.load(Ordering::Acquire);
                    if now < until {
                        return Err(
                            self.reject(State::Open, Some(Duration::from_nanos(until - now)))
                        );
                    }
                    self.transition(word, State::HalfOpen, Reason::WaitElapsed, None);
                    word = self.state.load(Ordering::Acquire);
                }
                HALF_OPEN => match self.trials.take(word, self.config.half_open_permits) {
                    Take::Taken => return Ok(word),
                    Take::Full => return Err(self.reject(State::HalfOpen, None)),
                    // Another period has started since `word` was read: look again.
                    Take::Ended => word = self.state.load(Ordering::Acquire),
                },
                FORCED_OPEN => return Err(self.reject(State::ForcedOpen, None)),
                _ => return Ok(word),
            }
        }
    }

    fn reject(&self, state: State, retry_after: Option<Duration>) -> Rejected {
        self.rejected_total.fetch_add(1, Ordering::Relaxed);
        let rejected = Rejected {
            name: Arc::clone(&self.name),
            state,
            retry_after,
        };
        self.reporter.rejected(&rejected);
        rejected
    }

    /// A permit issued for `word` ends without an outcome.
    pub(crate) fn release(&self, word: u64) {
        if code_of(word) == HALF_OPEN {
            self.trials.give_back(word);
        }
    }

    /// Records the outcome of a call permitted at `word`. `elapsed` overrides the measured
    /// duration (for callers that timed the call themselves).
    #[inline]
    pub(crate) fn record(&self, word: u64, started: u64, outcome: Outcome, elapsed: Option<u64>) {
        let state = code_of(word);
        if state == DISABLED {
            return;
        }
        let mut code = match outcome {
            Outcome::Success => {
                self.successes.bump();
                RECORDED
            }
            Outcome::Failure { .. } => RECORDED | FAILED,
            Outcome::Ignored => {
                self.ignored_total.fetch_add(1, Ordering::Relaxed);
                // An ignored trial says nothing: its half-open slot goes to another call.
                self.release(word);
                return;
            }
        };
        let now = if self.needs_time {
            self.clock.now_nanos()
        } else {
            0
        };
        if self.slow_nanos != 0
            && elapsed.unwrap_or_else(|| now.saturating_sub(started)) >= self.slow_nanos
        {
            code |= SLOW;
            self.slow_total.fetch_add(1, Ordering::Relaxed);
        }
        if code & FAILED != 0 {
            self.record_failure(word, state, code, now, outcome.retry_after());
            return;
        }
        if self.state.load(Ordering::Acquire) != word {
            return;
        }
        if state == HALF_OPEN {
            self.record_half_open(word, code, None);
            return;
        }
        match state {
            CLOSED | METRICS_ONLY => {
                let counts = match &self.window {
                    Window::Count(w) => match w.record(code) {
                        Some(counts) => counts,
                        None => return,
                    },
                    Window::Time(w) => {
                        w.record(code, now);
                        // A success only lowers the rates once they are judged, but it can
                        // bring the window to `minimum_calls` with failures recorded before
                        // that: then it is judged too. Summing the buckets only then keeps a
                        // success in a judged window at one relaxed load.
                        if code & SLOW == 0
                            && !(state == CLOSED && self.unjudged.load(Ordering::Relaxed))
                        {
                            return;
                        }
                        w.counts(now)
                    }
                };
                if state == CLOSED {
                    self.judge_closed(word, counts, None);
                }
            }
            _ => {}
        }
    }

    #[cold]
    fn record_failure(&self, word: u64, state: u8, code: u8, now: u64, hint: Option<Duration>) {
        self.failures_total.fetch_add(1, Ordering::Relaxed);
        let hint = hint.map(|h| h.min(self.config.max_hint));
        if let Some(h) = hint {
            self.last_hint
                .store(nanos(h).saturating_add(1), Ordering::Relaxed);
        }
        let current = self.state.load(Ordering::Acquire);
        if current != word {
            // A late outcome: judged no more, but a hint still extends an open breaker.
            if let (Some(h), OPEN) = (hint, code_of(current)) {
                let now = if self.needs_time {
                    now
                } else {
                    self.clock.now_nanos()
                };
                self.open_until
                    .fetch_max(now.saturating_add(nanos(h)), Ordering::AcqRel);
            }
            return;
        }
        match state {
            CLOSED | METRICS_ONLY => {
                let counts = match &self.window {
                    Window::Count(w) => w.record(code).unwrap_or_else(|| w.counts()),
                    Window::Time(w) => {
                        w.record(code, now);
                        w.counts(now)
                    }
                };
                if state == CLOSED {
                    self.judge_closed(word, counts, hint);
                }
            }
            HALF_OPEN => self.record_half_open(word, code, hint),
            _ => {}
        }
    }

    #[inline]
    fn judge_closed(&self, word: u64, counts: Counts, hint: Option<Duration>) {
        if let (Some(h), true) = (hint, self.config.open_on_hint) {
            self.transition(word, State::Open, Reason::ServerHint, Some(h));
            return;
        }
        if counts.calls < self.config.minimum_calls {
            if counts.failures != 0 || counts.slow != 0 {
                self.unjudged.store(true, Ordering::Relaxed);
            }
            return;
        }
        if self.unjudged.load(Ordering::Relaxed) {
            self.unjudged.store(false, Ordering::Relaxed);
        }
        if let Some(reason) = self.rates_exceeded(counts) {
            let wait = self.take_hint().unwrap_or_else(|| self.next_wait());
            self.transition(word, State::Open, reason, Some(wait));
        }
    }

    fn record_half_open(&self, word: u64, code: u8, hint: Option<Duration>) {
        if let (Some(h), true) = (hint, self.config.open_on_hint) {
            self.transition(word, State::Open, Reason::ServerHint, Some(h));
            return;
        }
        let counts = {
            // Under the transitions' lock: an outcome of an ended period cannot slip into
            // the next one's counts between the check and the addition.
            let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
            if self.state.load(Ordering::Acquire) != word {
                return;
            }
            let counts = self
                .half_open_counts
                .load(Ordering::Acquire)
                .wrapping_add(pack(code));
            self.half_open_counts.store(counts, Ordering::Release);
            unpack(counts)
        };
        if counts.calls < self.config.half_open_permits {
            return;
        }
        if self.rates_exceeded(counts).is_some() {
            let wait = self.take_hint().unwrap_or_else(|| self.next_wait());
            self.transition(word, State::Open, Reason::TrialsFailed, Some(wait));
        } else {
            self.transition(word, State::Closed, Reason::TrialsSucceeded, None);
        }
    }

    #[inline]
    fn rates_exceeded(&self, c: Counts) -> Option<Reason> {
        let calls = f64::from(c.calls.max(1));
        if f64::from(c.failures) * 100.0 >= self.config.failure_rate_threshold * calls {
            Some(Reason::FailureRate)
        } else if self.slow_nanos != 0
            && f64::from(c.slow) * 100.0 >= self.config.slow_call_rate_threshold * calls
        {
            Some(Reason::SlowCallRate)
        } else {
            None
        }
    }

    fn take_hint(&self) -> Option<Duration> {
        match self.last_hint.swap(0, Ordering::Relaxed) {
            0 => None,
            n => Some(Duration::from_nanos(n - 1)),
        }
    }

    /// The wait for the next opening: the base wait grown once per consecutive opening.
    pub(super) fn next_wait(&self) -> Duration {
        let c = &self.config;
        let opens = self.consecutive_opens.load(Ordering::Relaxed);
        let factor = c.wait_multiplier.powi(opens.min(1024) as i32);
        let wait = c.wait_in_open.as_secs_f64() * factor;
        if wait.is_finite() && wait < c.max_wait_in_open.as_secs_f64() {
            Duration::from_secs_f64(wait)
        } else {
            c.max_wait_in_open
        }
    }

    /// Moves from exactly `from_word` to `to`; false when another transition came first.
    pub(super) fn transition(
        &self,
        from_word: u64,
        to: State,
        reason: Reason,
        open_for: Option<Duration>,
    ) -> bool {
        let guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        if self.state.load(Ordering::Acquire) != from_word {
            return false;
        }
        let from = State::from_code(code_of(from_word));
        let generation = (from_word >> 8).wrapping_add(1);
        let to_word = (generation << 8) | u64::from(to as u8);
        match to {
            State::Open => {
                let wait = open_for.unwrap_or(self.config.wait_in_open);
                let until = self.clock.now_nanos().saturating_add(nanos(wait));
                self.open_until.store(until, Ordering::Release);
                self.consecutive_opens.fetch_add(1, Ordering::Relaxed);
            }
            State::HalfOpen => {
                self.trials.start(to_word);
                self.half_open_counts.store(0, Ordering::Release);
            }
            State::Closed | State::MetricsOnly => {
                self.window.clear();
                self.unjudged.store(false, Ordering::Relaxed);
                if to == State::Closed {
                    self.consecutive_opens.store(0, Ordering::Relaxed);
                }
            }
            State::Disabled | State::ForcedOpen => {}
        }
        if to != State::Open {
            self.last_hint.store(0, Ordering::Relaxed);
        }
        self.state.store(to_word, Ordering::Release);
        self.transitions[from as usize][to as usize].fetch_add(1, Ordering::Relaxed);
        drop(guard);
        self.reporter.transition(Transition {
            name: Arc::clone(&self.name),
            from,
            to,
            reason,
            open_for: (to == State::Open).then(|| open_for.unwrap_or(self.config.wait_in_open)),
        });
        true
    }

    pub(super) fn current_state(&self) -> State {
        let word = self.state.load(Ordering::Acquire);
        if code_of(word) == OPEN
            && self.config.automatic_half_open
            && self.clock.now_nanos() >= self.open_until.load(Ordering::Acquire)
        {
            self.transition(word, State::HalfOpen, Reason::WaitElapsed, None);
            return State::from_code(code_of(self.state.load(Ordering::Acquire)));
        }
        State::from_code(code_of(word))
    }

    pub(super) fn snapshot(&self) -> Snapshot {
        let state = self.current_state();
        let now = self.clock.now_nanos();
        let counts = self.window.counts(now);
        let judged = counts.calls >= self.config.minimum_calls && counts.calls > 0;
        let rate = |n: u32| judged.then(|| f64::from(n) * 100.0 / f64::from(counts.calls));
        let half_open = unpack(self.half_open_counts.load(Ordering::Acquire));
        let failures = self.failures_total.load(Ordering::Relaxed);
        let until = self.open_until.load(Ordering::Acquire);
        Snapshot {
            name: Arc::clone(&self.name),
            state,
            calls: counts.calls,
            failures: counts.failures,
            slow_calls: counts.slow,
            failure_rate: rate(counts.failures),
            slow_call_rate: if self.slow_nanos != 0 {
                rate(counts.slow)
            } else {
                None
            },
            half_open_calls: if state == State::HalfOpen {
                half_open.calls
            } else {
                0
            },
            open_remaining: (state == State::Open && until > now)
                .then(|| Duration::from_nanos(until - now)),
            consecutive_opens: self.consecutive_opens.load(Ordering::Relaxed),
            failed_total: failures,
            successful_total: self.successes.sum(),
            slow_total: self.slow_total.load(Ordering::Relaxed),
            ignored_total: self.ignored_total.load(Ordering::Relaxed),
            rejected_total: self.rejected_total.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    use hivetrace_core::clock::ManualClock;

    use super::super::window::{FAILED, RECORDED};
    use super::super::{CircuitBreaker, Permit, SlidingWindow, State};

    /// A half-open breaker with `permits` trials that reopens for no time at all.
    fn half_open(permits: u32) -> CircuitBreaker {
        let b = CircuitBreaker::builder("t")
            .sliding_window(SlidingWindow::Count(1))
            .minimum_calls(1)
            .half_open_permits(permits)
            .wait_in_open(Duration::ZERO)
            .span_events(false)
            .clock(ManualClock::new())
            .build()
            .expect("valid");
        b.transition_to(State::HalfOpen);
        b
    }

    /// Another caller ends the half-open period and a new one starts.
    fn next_period(b: &CircuitBreaker) {
        b.transition_to(State::Open);
        b.transition_to(State::HalfOpen);
    }

    #[test]
    fn a_permit_asked_for_in_an_ended_period_takes_no_slot_of_the_next() {
        let b = half_open(1);
        let inner = &*b.inner;
        // This caller saw the old period, then lost the processor before taking its slot.
        let stale = inner.state.load(Ordering::Acquire);
        next_period(&b);
        let word = inner
            .acquire_slow(stale)
            .expect("the new period has a free slot");
        assert_ne!(word, stale, "the permit belongs to the new period");
        drop(Permit::new(inner, word, 0)); // unrecorded: its slot comes back
        b.try_acquire().expect("the only slot is free").success();
        assert_eq!(b.state(), State::Closed);
    }

    #[test]
    fn a_permit_of_an_ended_period_gives_back_no_slot_of_the_next() {
        let b = half_open(1);
        let old = b.try_acquire().expect("trial of the first period");
        next_period(&b);
        let trial = b.try_acquire().expect("trial of the second period");
        drop(old);
        b.try_acquire()
            .expect_err("the second period's only slot is still taken");
        trial.success();
        assert_eq!(b.state(), State::Closed);
    }

    #[test]
    fn an_outcome_of_an_ended_period_is_not_counted_in_the_next() {
        let b = half_open(2);
        let inner = &*b.inner;
        // A failed trial that passed its state check just before the period ended.
        let stale = inner.state.load(Ordering::Acquire);
        next_period(&b);
        inner.record_half_open(stale, RECORDED | FAILED, None);
        b.try_acquire().expect("trial 1").success();
        b.try_acquire().expect("trial 2").success();
        assert_eq!(
            b.state(),
            State::Closed,
            "both trials of this period succeeded"
        );
    }
}
