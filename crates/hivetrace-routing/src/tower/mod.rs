//! Tower middleware (feature `tower`): [`RoutingLayer`] decides each request's tier.
//!
//! Three types in three files, as tower's own middleware: the layer (configuration), the
//! service, and its response future.

mod future;
mod key;
mod layer;
mod service;

pub use future::ResponseFuture;
pub use key::{HeaderKey, KeyExtractor, KeyFn, key_fn};
pub use layer::RoutingLayer;
pub use service::{RoutedTracer, Routing};
