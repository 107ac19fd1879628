use hivetrace_macros::trace_impl;

struct S;

#[trace_impl]
impl S {
    #[trace(skip, name = "x")]
    pub fn f(&self) {}
}

fn main() {
    S.f();
}
