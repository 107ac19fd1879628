//! Running a future to completion on this thread, with a deadline.
//!
//! The resilient exporter runs on an export thread (hivetrace's, or the SDK's batch thread)
//! and drives its inner exporter and its waits here, so no runtime is needed and an export
//! that is still pending at its deadline is dropped, which cancels it.

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

/// Polls `future` on this thread until it completes (`Some`) or `deadline` passes (`None`).
pub(crate) fn block_on_until<F: Future>(future: F, deadline: Instant) -> Option<F::Output> {
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
        thread::park_timeout(deadline - now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn ready_futures_complete_and_pending_ones_are_abandoned() {
        let soon = Instant::now() + Duration::from_secs(5);
        assert_eq!(block_on_until(async { 7 }, soon), Some(7));
        let now = Instant::now();
        assert_eq!(block_on_until(std::future::pending::<()>(), now), None);
    }
}
