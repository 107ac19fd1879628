//! Where the sticky key (the user) comes from in a request.

use http::header::HeaderName;

/// Finds the sticky key (a user id) in a request, borrowing it: no allocation.
///
/// Provided: `()` (no key: keyless requests get a random draw), [`HeaderKey`], and closures
/// through [`key_fn`].
///
/// ```
/// use hivetrace_routing::tower::KeyExtractor;
///
/// /// The tenant is the first path segment: `/acme/chat` → `acme`.
/// #[derive(Clone)]
/// struct Tenant;
///
/// impl<B> KeyExtractor<B> for Tenant {
///     fn key<'r>(&self, request: &'r http::Request<B>) -> Option<&'r str> {
///         request.uri().path().trim_start_matches('/').split('/').next().filter(|s| !s.is_empty())
///     }
/// }
/// let request = http::Request::get("/acme/chat").body(())?;
/// assert_eq!(Tenant.key(&request), Some("acme"));
/// # Ok::<(), http::Error>(())
/// ```
pub trait KeyExtractor<B>: Clone + Send + Sync + 'static {
    /// The key, if the request has one.
    fn key<'r>(&self, request: &'r http::Request<B>) -> Option<&'r str>;
}

impl<B> KeyExtractor<B> for () {
    fn key<'r>(&self, _request: &'r http::Request<B>) -> Option<&'r str> {
        None
    }
}

/// The key is a request header's value (say `x-user-id`); absent, empty or non-text values
/// mean no key.
///
/// ```
/// use hivetrace_routing::tower::{HeaderKey, KeyExtractor};
///
/// let key = HeaderKey::new("x-user-id")?;
/// let request = http::Request::builder().header("x-user-id", "user-42").body(())?;
/// assert_eq!(key.key(&request), Some("user-42"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct HeaderKey(HeaderName);

impl HeaderKey {
    /// Reads the header `name`. Fails when `name` is not a valid header name.
    pub fn new(name: &str) -> crate::Result<Self> {
        HeaderName::from_bytes(name.as_bytes())
            .map(HeaderKey)
            .map_err(|e| crate::Error::invalid("key header", name, e.to_string()))
    }
}

impl<B> KeyExtractor<B> for HeaderKey {
    fn key<'r>(&self, request: &'r http::Request<B>) -> Option<&'r str> {
        request
            .headers()
            .get(&self.0)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
    }
}

/// A key extractor from a closure. From [`key_fn`].
#[derive(Clone, Copy, Debug)]
pub struct KeyFn<F>(F);

/// Wraps a closure as a [`KeyExtractor`]: the key from a path segment, a cookie, or an
/// authenticated user your auth layer put in the extensions.
///
/// ```
/// use hivetrace_routing::tower::{key_fn, KeyExtractor};
///
/// #[derive(Clone)]
/// struct User(String);
///
/// let key = key_fn(|r: &http::Request<()>| r.extensions().get::<User>().map(|u| u.0.as_str()));
/// let mut request = http::Request::new(());
/// request.extensions_mut().insert(User("user-7".into()));
/// assert_eq!(key.key(&request), Some("user-7"));
/// ```
pub fn key_fn<B, F>(f: F) -> KeyFn<F>
where
    F: for<'r> Fn(&'r http::Request<B>) -> Option<&'r str> + Clone + Send + Sync + 'static,
{
    KeyFn(f)
}

impl<B, F> KeyExtractor<B> for KeyFn<F>
where
    F: for<'r> Fn(&'r http::Request<B>) -> Option<&'r str> + Clone + Send + Sync + 'static,
{
    fn key<'r>(&self, request: &'r http::Request<B>) -> Option<&'r str> {
        (self.0)(request)
    }
}
