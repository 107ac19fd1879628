//! The client layer: configuration, cheap to clone.

use hivetrace_core::Tracer;
use tower_layer::Layer;

use super::client_service::Client;

/// Traces outgoing HTTP requests and propagates the context; see the [module docs](super).
///
/// ```
/// use hivetrace_correlation::tower::ClientLayer;
/// # fn main() -> Result<(), hivetrace_core::Error> {
/// let tracer = hivetrace_core::Tracer::builder().console_writer(std::io::sink()).build()?;
/// let layer = ClientLayer::new(tracer);
/// # let _ = layer; Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct ClientLayer {
    pub(crate) tracer: Tracer,
}

impl ClientLayer {
    /// A layer that starts its spans with `tracer`.
    pub fn new(tracer: Tracer) -> Self {
        ClientLayer { tracer }
    }
}

impl<S> Layer<S> for ClientLayer {
    type Service = Client<S>;

    fn layer(&self, inner: S) -> Client<S> {
        Client {
            inner,
            tracer: self.tracer.clone(),
        }
    }
}
