//! A flag option given a value is an error at the option.

use hivetrace_macros::trace;

#[trace(err = true)]
fn f() -> Result<(), String> {
    Ok(())
}

fn main() {
    let _ = f();
}
