use hivetrace_macros::trace_impl;

struct S;

#[trace_impl]
impl S {
    pub fn f(&self) -> u32 {
        "many"
    }
}

fn main() {
    S.f();
}
