//! A fixed set of environment variables, for `TracerBuilder::from_env_with`.
//!
//! Tests run in parallel in one process, so they must not change the real environment;
//! they hand the builder a lookup over their own variables instead.
//!
//! ```
//! let lookup = hivetrace_tests::fake_env::vars([("HH_PROJECT", "demo")]);
//! assert_eq!(lookup("HH_PROJECT").as_deref(), Some("demo"));
//! assert_eq!(lookup("HH_API_KEY"), None);
//! ```

use std::collections::HashMap;

/// A lookup that answers from `pairs` only; a name given twice keeps its last value.
pub fn vars<K, V>(
    pairs: impl IntoIterator<Item = (K, V)>,
) -> impl Fn(&str) -> Option<String> + Send + Sync + Clone + 'static
where
    K: Into<String>,
    V: Into<String>,
{
    let map: HashMap<String, String> = pairs
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    move |name: &str| map.get(name).cloned()
}
