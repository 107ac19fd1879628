use hivetrace_macros::trace_impl;

struct S;

#[trace_impl(fields(user.id = 1))]
impl S {
    pub fn f(&self) {}
}

fn main() {
    S.f();
}
