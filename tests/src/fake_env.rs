//! A fixed set of environment variables, for `TracerBuilder::from_env_with`.
//!
//! Tests run in parallel in one process, so they must not change the real environment;
//! they hand the builder a lookup over their own variables instead. What must be read from the
//! process environment itself (by code that bypasses the lookup) is checked in a child process
//! with [`in_child_process`].
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

/// The variable that tells a test it runs as the child of [`in_child_process`].
pub const CHILD_MARKER: &str = "HIVETRACE_TESTS_CHILD";

/// Whether this process is the child that [`in_child_process`] started.
pub fn is_child_process() -> bool {
    std::env::var_os(CHILD_MARKER).is_some()
}

/// Runs the test named `test` of the current test binary again, in a child process whose
/// environment adds `env` and [`CHILD_MARKER`], and panics unless it passed. The test runs its
/// checks when [`is_child_process`] is true and calls this otherwise.
pub fn in_child_process(test: &str, env: &[(&str, &str)]) {
    let exe = std::env::current_exe().expect("the test binary's path");
    let output = std::process::Command::new(exe)
        .args(["--exact", test, "--test-threads=1"])
        .env(CHILD_MARKER, "1")
        .envs(env.iter().copied())
        .output()
        .expect("the test binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{test} failed in the child process:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
