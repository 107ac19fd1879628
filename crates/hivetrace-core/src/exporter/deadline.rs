//! Running one export to completion on the export thread, with a deadline.
//!
//! The SDK's thread batch processor waits on an export forever (`notes/opentelemetry-0.33.md`,
//! pitfall 6). Here an export future that is still pending at its deadline is dropped, which
//! cancels it, and the batch counts as failed. An exporter that blocks inside `poll` cannot be
//! interrupted this way; the OTLP exporter bounds its own requests with the same timeout.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::Instant;

struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `future` on this thread until it completes (`Some`) or `deadline` passes (`None`);
/// a future still pending at the deadline is dropped, which cancels it.
///
/// No runtime is needed: the thread parks until the future's waker or the deadline. This is
/// how hivetrace's export thread runs each export, and what an exporter wrapper running on
/// that thread (hivetrace-resilience's) uses for its own waits.
///
/// ```
/// use std::time::{Duration, Instant};
/// use hivetrace_core::exporter::block_on_until;
///
/// let soon = Instant::now() + Duration::from_secs(5);
/// assert_eq!(block_on_until(async { 7 }, soon), Some(7));
/// assert_eq!(block_on_until(std::future::pending::<()>(), Instant::now()), None);
/// ```
pub fn block_on_until<F: Future>(future: F, deadline: Instant) -> Option<F::Output> {
    let mut future = pin!(future);
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return Some(output);
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        // Woken by the future's waker, or at the deadline; a spurious wake-up just polls again.
        thread::park_timeout(deadline - now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_ready_future_completes() {
        let deadline = Instant::now() + Duration::from_secs(5);
        assert_eq!(block_on_until(async { 7 }, deadline), Some(7));
    }

    #[test]
    fn a_future_woken_from_another_thread_completes() {
        let (tx, rx) = std::sync::mpsc::channel::<Waker>();
        let waiter = thread::spawn(move || {
            if let Ok(w) = rx.recv() {
                thread::sleep(Duration::from_millis(20));
                w.wake();
            }
        });
        let mut sent = false;
        let mut tx = Some(tx);
        let fut = std::future::poll_fn(move |cx| {
            if sent {
                Poll::Ready("woken")
            } else {
                sent = true;
                if let Some(tx) = tx.take() {
                    let _ = tx.send(cx.waker().clone());
                }
                Poll::Pending
            }
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        assert_eq!(block_on_until(fut, deadline), Some("woken"));
        let _ = waiter.join();
    }

    #[test]
    fn a_future_that_never_completes_is_abandoned_at_the_deadline() {
        let started = Instant::now();
        let out = block_on_until(
            std::future::pending::<()>(),
            started + Duration::from_millis(50),
        );
        assert_eq!(out, None);
        assert!(started.elapsed() >= Duration::from_millis(50));
    }
}
