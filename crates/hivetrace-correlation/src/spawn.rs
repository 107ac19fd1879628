//! Running work in the current OpenTelemetry context on other tasks and threads, so spans
//! started there are children of the span current here.
//!
//! A context is thread-local; a spawned task or thread starts with an empty one. These helpers
//! capture the current context at the call and make it current around the work (for a future,
//! during each poll, so no guard is held across an `.await`).

use std::thread::JoinHandle;

use opentelemetry::Context;

/// Runs `f` on a new thread in the current context.
///
/// ```
/// use opentelemetry::baggage::BaggageExt;
/// use opentelemetry::{Context, KeyValue};
/// let _cx = Context::new().with_baggage([KeyValue::new("k", "v")]).attach();
/// let seen = hivetrace_correlation::spawn_thread(|| {
///     Context::map_current(|cx| cx.baggage().get("k").map(|v| v.to_string()))
/// });
/// assert_eq!(seen.join().unwrap().as_deref(), Some("v"));
/// ```
pub fn spawn_thread<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    std::thread::spawn(in_current_context(f))
}

/// Wraps `f` so that it runs in the context current now, wherever it is called later
/// (a thread pool, `std::thread::scope`, a callback).
pub fn in_current_context<F, T>(f: F) -> impl FnOnce() -> T + Send + 'static
where
    F: FnOnce() -> T + Send + 'static,
{
    let cx = Context::current();
    move || {
        let _guard = cx.attach();
        f()
    }
}

#[cfg(feature = "tokio")]
mod tasks {
    use std::future::Future;

    use hivetrace_core::Instrument as _;
    use tokio::task::JoinHandle;

    use super::in_current_context;

    /// Spawns a tokio task that runs in the current context.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use opentelemetry::baggage::BaggageExt;
    /// use opentelemetry::{Context, KeyValue};
    /// use hivetrace_core::Instrument;
    /// let cx = Context::new().with_baggage([KeyValue::new("k", "v")]);
    /// let seen = async {
    ///     hivetrace_correlation::spawn(async {
    ///         Context::map_current(|cx| cx.baggage().get("k").map(|v| v.to_string()))
    ///     })
    ///     .await
    /// }
    /// .with_context(cx)
    /// .await;
    /// assert_eq!(seen.unwrap().as_deref(), Some("v"));
    /// # }
    /// ```
    pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        tokio::spawn(future.in_current_context())
    }

    /// Runs a blocking closure on tokio's blocking pool in the current context.
    pub fn spawn_blocking<F, T>(f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        tokio::task::spawn_blocking(in_current_context(f))
    }
}

#[cfg(feature = "tokio")]
pub use tasks::{spawn, spawn_blocking};
