//! `fields(...)` with borrowed arguments, the most common case (`user_id: &str`, as in the
//! crate docs' own example): the macro passes `&(expr)`, so `&&str` and `&&String` must work.

use hivetrace_macros::trace;

#[trace(fields(user.id = user_id))]
fn by_str(user_id: &str) -> usize {
    user_id.len()
}

#[trace(fields(user.id = user_id))]
fn by_string_ref(user_id: &String) -> usize {
    user_id.len()
}

#[trace(fields(n = *n))]
fn by_deref(n: &u32) -> u32 {
    *n
}

fn main() {
    assert_eq!(by_str("u-1"), 3);
    assert_eq!(by_string_ref(&"u-1".to_owned()), 3);
    assert_eq!(by_deref(&2), 2);
}
