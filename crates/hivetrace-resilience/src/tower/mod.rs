//! tower middleware (feature `tower`): [`CircuitBreakerLayer`] and [`RetryLayer`].
//!
//! Both follow tower's conventions: `poll_ready` waits on the inner service, errors become
//! [`BoxError`], and the retry service clones its inner service into the response future
//! (clone-and-swap, so the ready one is used) and clones a request only when another
//! attempt may need it.

mod breaker_future;
mod breaker_layer;
mod retry_layer;

pub use breaker_future::ResponseFuture;
pub use breaker_layer::{CircuitBreakerLayer, CircuitBreakerService};
pub use retry_layer::{Retry, RetryLayer};

/// The error type of the middleware: the inner service's error or a breaker's
/// [`Rejected`](crate::Rejected), boxed.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
