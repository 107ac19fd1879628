//! A function or method returning a `&mut` borrowed from an argument, with the output
//! captured (the default): the body runs as an `FnOnce`, so it may return what it moved in.

use hivetrace_macros::{trace, trace_impl};

#[trace]
fn first_mut(v: &mut [u32]) -> &mut u32 {
    &mut v[0]
}

struct Bot {
    name: String,
}

#[trace_impl]
impl Bot {
    pub fn name_mut(&mut self) -> &mut String {
        &mut self.name
    }
}

fn main() {
    let mut v = [1, 2];
    *first_mut(&mut v) = 5;
    assert_eq!(v[0], 5);
    let mut bot = Bot { name: "hb".into() };
    bot.name_mut().push('!');
    assert_eq!(bot.name, "hb!");
}
