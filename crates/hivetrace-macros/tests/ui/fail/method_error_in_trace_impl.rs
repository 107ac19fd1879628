use hivetrace_macros::trace_impl;

struct S;

#[trace_impl]
impl S {
    #[trace(skip(nope))]
    pub fn f(&self, a: u32) -> u32 {
        a
    }

    #[trace(event_type = llm)]
    pub fn g(&self) {}
}

fn main() {
    S.f(1);
    S.g();
}
