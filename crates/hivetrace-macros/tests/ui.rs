//! Compile-time behaviour of `#[trace]` and `#[trace_impl]`: every option and function shape
//! compiles, and every misuse is an error pointing at the user's own token.
//!
//! Regenerate the `.stderr` snapshots with
//! `TRYBUILD=overwrite cargo test -p hivetrace-macros --test ui`, then read them.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
