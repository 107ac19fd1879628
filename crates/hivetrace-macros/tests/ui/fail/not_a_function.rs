use hivetrace_macros::trace;

#[trace]
struct S;

fn main() {}
