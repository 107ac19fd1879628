//! The rollout state machine: steps, dwell times, gates, automatic rollback.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hivetrace_core::clock::{Clock, SystemClock};

use crate::canary::Canary;
use crate::error::{Error, Result};
use crate::percentage::Percentage;
use crate::rollout::builder::RolloutPlanBuilder;
use crate::rollout::event::{OnTransition, RolloutEvent, TransitionKind, add_to_current_span, log};
use crate::rollout::gates::{Gates, Verdict};
use crate::rollout::health::HealthSignal;
use crate::rollout::phase::{Phase, Tick};
use crate::rollout::step::{DEFAULT_DWELL, Step};

/// Moves a [`Canary`]'s percentage through steps (default 5 → 25 → 50 → 100 %), judging a
/// [`HealthSignal`] against [`Gates`] at each [`tick`](Self::tick):
///
/// - a failed gate rolls back to 0 % at once, even during the dwell time;
/// - too little data holds the step;
/// - passing gates after the step's dwell time advance to the next step; reaching 100 %
///   completes the rollout.
///
/// Operators can [`pause`](Self::pause), [`resume`](Self::resume),
/// [`promote`](Self::promote), [`promote_fully`](Self::promote_fully) and
/// [`roll_back`](Self::roll_back). Every transition goes to the callbacks, to the `tracing`
/// log (target `hivetrace_routing::rollout`) and to the current span as a
/// `rollout.transition` event. Time comes from an injectable [`Clock`]; clones share the plan.
///
/// ```
/// use std::time::Duration;
/// use hivetrace_core::clock::ManualClock;
/// use hivetrace_routing::{Canary, Percentage, RolloutPlan, Tier};
/// use hivetrace_routing::rollout::{Gates, HealthRecorder, Phase, Tick};
///
/// let canary = Canary::new(Percentage::ZERO);
/// let health = HealthRecorder::new();
/// let clock = ManualClock::new();
/// let plan = RolloutPlan::builder(canary.clone(), health.clone())
///     .min_dwell(Duration::from_secs(60))
///     .gates(Gates::new().min_observations(10))
///     .clock(clock.clone())
///     .build()?;
///
/// plan.start()?;
/// assert_eq!(canary.percentage().to_string(), "5.00%");
/// for _ in 0..10 {
///     health.record(&Tier::CANARY, Duration::from_millis(100), true);
///     health.record(&Tier::STABLE, Duration::from_millis(100), true);
/// }
/// assert!(matches!(plan.tick(), Tick::Dwelling(_)));
/// clock.advance(Duration::from_secs(60));
/// assert!(matches!(plan.tick(), Tick::Transition(_)));
/// assert_eq!(canary.percentage().to_string(), "25.00%");
///
/// health.record(&Tier::CANARY, Duration::from_millis(100), false);
/// for _ in 0..10 {
///     health.record(&Tier::CANARY, Duration::from_millis(100), false);
///     health.record(&Tier::STABLE, Duration::from_millis(100), true);
/// }
/// assert!(matches!(plan.tick(), Tick::Transition(_)));
/// assert_eq!((plan.phase(), canary.percentage()), (Phase::RolledBack, Percentage::ZERO));
/// # Ok::<(), hivetrace_routing::Error>(())
/// ```
#[derive(Clone)]
pub struct RolloutPlan {
    inner: Arc<Inner>,
}

struct Inner {
    canary: Canary,
    signal: Box<dyn HealthSignal>,
    clock: Box<dyn Clock>,
    steps: Vec<Step>,
    gates: Gates,
    listeners: Vec<Box<dyn OnTransition>>,
    state: Mutex<State>,
    /// Transitions not yet logged and told to the listeners, in the order they happened.
    outbox: Mutex<Outbox>,
}

#[derive(Debug, Default)]
struct Outbox {
    queue: VecDeque<RolloutEvent>,
    /// A thread is logging and telling the queue's events; it tells those added meanwhile.
    telling: bool,
}

/// Locks the outbox; it is valid whatever panicked while it was held.
fn lock_outbox(outbox: &Mutex<Outbox>) -> MutexGuard<'_, Outbox> {
    outbox.lock().unwrap_or_else(|p| p.into_inner())
}

/// The turn of the thread telling the listeners: ended by it when the queue is empty, or by
/// this guard when a listener panicked, so that later transitions are still told.
struct Telling<'a> {
    outbox: &'a Mutex<Outbox>,
    ended: bool,
}

impl Drop for Telling<'_> {
    fn drop(&mut self) {
        if !self.ended {
            lock_outbox(self.outbox).telling = false;
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct State {
    phase: Phase,
    step: usize,
    step_started: u64,
}

impl RolloutPlan {
    pub(super) fn from_parts(
        canary: Canary,
        signal: Box<dyn HealthSignal>,
        clock: Box<dyn Clock>,
        steps: Vec<Step>,
        gates: Gates,
        listeners: Vec<Box<dyn OnTransition>>,
    ) -> Self {
        RolloutPlan {
            inner: Arc::new(Inner {
                canary,
                signal,
                clock,
                steps,
                gates,
                listeners,
                state: Mutex::new(State {
                    phase: Phase::NotStarted,
                    step: 0,
                    step_started: 0,
                }),
                outbox: Mutex::new(Outbox::default()),
            }),
        }
    }

    /// A plan moving `canary` through 5, 25, 50 and 100 %, each held at least
    /// [`DEFAULT_DWELL`], judged on `signal`.
    pub fn builder(canary: Canary, signal: impl HealthSignal + 'static) -> RolloutPlanBuilder {
        let steps = [5, 25, 50, 100]
            .into_iter()
            .filter_map(|p| Percentage::from_basis_points(p * 100).ok())
            .map(|p| Step::new(p, DEFAULT_DWELL))
            .collect();
        RolloutPlanBuilder {
            canary,
            signal: Box::new(signal),
            clock: Box::new(SystemClock::new()),
            steps,
            gates: Gates::default(),
            listeners: Vec::new(),
        }
    }

    /// Where the plan is.
    pub fn phase(&self) -> Phase {
        self.state().phase
    }

    /// The current step's index, while running or paused.
    pub fn step(&self) -> Option<usize> {
        let s = self.state();
        matches!(s.phase, Phase::Running | Phase::Paused).then_some(s.step)
    }

    /// The steps.
    pub fn steps(&self) -> &[Step] {
        &self.inner.steps
    }

    /// The canary whose percentage the plan moves.
    pub fn canary(&self) -> &Canary {
        &self.inner.canary
    }

    /// Starts at the first step (again, after a rollback or completion).
    pub fn start(&self) -> Result<RolloutEvent> {
        let mut s = self.state();
        if matches!(s.phase, Phase::Running | Phase::Paused) {
            return Err(Error::Rollout {
                action: "start",
                phase: s.phase.as_str(),
            });
        }
        let reason = format!("{} steps ahead", self.inner.steps.len());
        let event = self.enter_step(&mut s, 0, TransitionKind::Started, true, reason);
        self.emit(s, &event);
        Ok(event)
    }

    /// Judges the health signal and moves the plan if it should. Call it periodically (every
    /// few seconds); between calls nothing happens.
    pub fn tick(&self) -> Tick {
        let mut s = self.state();
        if s.phase != Phase::Running {
            return Tick::Inactive(s.phase);
        }
        let verdict = self.inner.gates.judge(&self.inner.signal.report());
        let event = match verdict {
            Verdict::Fail(reason) => self.finish(&mut s, Phase::RolledBack, false, reason),
            Verdict::Insufficient { .. } => return Tick::Holding(verdict),
            Verdict::Pass => {
                let now = self.inner.clock.now_nanos();
                let dwell = self.inner.steps[s.step].min_dwell;
                let elapsed = Duration::from_nanos(now.saturating_sub(s.step_started));
                if elapsed < dwell {
                    return Tick::Dwelling(dwell - elapsed);
                }
                self.next_step(
                    &mut s,
                    TransitionKind::Advanced,
                    false,
                    Verdict::Pass.to_string(),
                )
            }
        };
        self.emit(s, &event);
        Tick::Transition(event)
    }

    /// Freezes the plan at its step; ticks do nothing until [`resume`](Self::resume).
    pub fn pause(&self, reason: impl Into<String>) -> Result<RolloutEvent> {
        self.by_hand("pause", &[Phase::Running], |plan, s| {
            s.phase = Phase::Paused;
            plan.event(TransitionKind::Paused, s.step, true, reason.into())
        })
    }

    /// Resumes a paused plan; the step's dwell time and the health window start again.
    pub fn resume(&self, reason: impl Into<String>) -> Result<RolloutEvent> {
        self.by_hand("resume", &[Phase::Paused], |plan, s| {
            s.phase = Phase::Running;
            s.step_started = plan.inner.clock.now_nanos();
            plan.inner.signal.restart_window();
            plan.event(TransitionKind::Resumed, s.step, true, reason.into())
        })
    }

    /// Goes to the next step now, skipping dwell time and gates (completing after the last).
    /// A paused plan stays paused.
    pub fn promote(&self, reason: impl Into<String>) -> Result<RolloutEvent> {
        self.by_hand("promote", &[Phase::Running, Phase::Paused], |plan, s| {
            plan.next_step(s, TransitionKind::Promoted, true, reason.into())
        })
    }

    /// Goes to 100 % now and completes.
    pub fn promote_fully(&self, reason: impl Into<String>) -> Result<RolloutEvent> {
        self.by_hand("promote", &[Phase::Running, Phase::Paused], |plan, s| {
            plan.finish(s, Phase::Completed, true, reason.into())
        })
    }

    /// Sends every key back to stable (0 %) now.
    pub fn roll_back(&self, reason: impl Into<String>) -> Result<RolloutEvent> {
        self.by_hand("roll back", &[Phase::Running, Phase::Paused], |plan, s| {
            plan.finish(s, Phase::RolledBack, true, reason.into())
        })
    }

    /// An operator's transition: checked against the phases that allow it, made under the
    /// lock, told to the listeners after it is released (they may call back into the plan).
    fn by_hand(
        &self,
        action: &'static str,
        allowed: &[Phase],
        transition: impl FnOnce(&Self, &mut State) -> RolloutEvent,
    ) -> Result<RolloutEvent> {
        let mut s = self.state();
        self.require(&s, action, allowed)?;
        let event = transition(self, &mut s);
        self.emit(s, &event);
        Ok(event)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state is plain data, valid whatever panicked while it was held.
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn require(&self, s: &State, action: &'static str, allowed: &[Phase]) -> Result<()> {
        if allowed.contains(&s.phase) {
            Ok(())
        } else {
            Err(Error::Rollout {
                action,
                phase: s.phase.as_str(),
            })
        }
    }

    /// The step after the current one, or completion.
    fn next_step(
        &self,
        s: &mut State,
        kind: TransitionKind,
        manual: bool,
        reason: String,
    ) -> RolloutEvent {
        let next = s.step + 1;
        if next >= self.inner.steps.len()
            || self.inner.steps[next].percentage == Percentage::HUNDRED
        {
            return self.finish(s, Phase::Completed, manual, reason);
        }
        let paused = s.phase == Phase::Paused;
        let event = self.enter_step(s, next, kind, manual, reason);
        if paused && s.phase == Phase::Running {
            s.phase = Phase::Paused;
        }
        event
    }

    fn enter_step(
        &self,
        s: &mut State,
        step: usize,
        kind: TransitionKind,
        manual: bool,
        reason: String,
    ) -> RolloutEvent {
        let from = self.inner.canary.percentage();
        let to = self.inner.steps[step].percentage;
        if to == Percentage::HUNDRED {
            return self.finish(s, Phase::Completed, manual, reason);
        }
        self.inner.signal.restart_window();
        self.inner.canary.set_percentage(to);
        *s = State {
            phase: Phase::Running,
            step,
            step_started: self.inner.clock.now_nanos(),
        };
        RolloutEvent {
            kind,
            from,
            to,
            step: Some(step),
            manual,
            reason,
            at: Duration::from_nanos(s.step_started),
        }
    }

    fn finish(&self, s: &mut State, phase: Phase, manual: bool, reason: String) -> RolloutEvent {
        let from = self.inner.canary.percentage();
        let (to, kind) = match phase {
            Phase::Completed => (Percentage::HUNDRED, TransitionKind::Completed),
            _ => (Percentage::ZERO, TransitionKind::RolledBack),
        };
        self.inner.canary.set_percentage(to);
        s.phase = phase;
        RolloutEvent {
            kind,
            from,
            to,
            step: None,
            manual,
            reason,
            at: Duration::from_nanos(self.inner.clock.now_nanos()),
        }
    }

    /// An event that keeps the percentage (pause, resume).
    fn event(
        &self,
        kind: TransitionKind,
        step: usize,
        manual: bool,
        reason: String,
    ) -> RolloutEvent {
        let p = self.inner.canary.percentage();
        RolloutEvent {
            kind,
            from: p,
            to: p,
            step: Some(step),
            manual,
            reason,
            at: Duration::from_nanos(self.inner.clock.now_nanos()),
        }
    }

    /// Announces a transition made under `state`: queued before the lock is released, so in
    /// the order of the transitions; added to the caller's current span; then logged and told
    /// to the listeners by [`tell`](Self::tell).
    fn emit(&self, state: MutexGuard<'_, State>, event: &RolloutEvent) {
        lock_outbox(&self.inner.outbox)
            .queue
            .push_back(event.clone());
        drop(state);
        add_to_current_span(event);
        self.tell();
    }

    /// Logs the queued transitions and tells the listeners of them, oldest first, unless a
    /// thread is already doing so: it tells them of these too, after the one it is telling.
    /// So a transition made by a listener, or on another thread meanwhile, never comes before
    /// one the listeners have not all been told of.
    fn tell(&self) {
        {
            let mut outbox = lock_outbox(&self.inner.outbox);
            if outbox.telling {
                return;
            }
            outbox.telling = true;
        }
        let mut turn = Telling {
            outbox: &self.inner.outbox,
            ended: false,
        };
        loop {
            let event = {
                let mut outbox = lock_outbox(&self.inner.outbox);
                match outbox.queue.pop_front() {
                    Some(event) => event,
                    None => {
                        // With the check, so an event queued now is told by its own thread.
                        outbox.telling = false;
                        turn.ended = true;
                        return;
                    }
                }
            };
            log(&event);
            for l in &self.inner.listeners {
                l.on_transition(&event);
            }
        }
    }
}

impl fmt::Debug for RolloutPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = *self.state();
        f.debug_struct("RolloutPlan")
            .field("phase", &s.phase)
            .field("step", &s.step)
            .field("percentage", &self.inner.canary.percentage())
            .field("steps", &self.inner.steps)
            .field("gates", &self.inner.gates)
            .finish_non_exhaustive()
    }
}
