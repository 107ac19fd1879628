use hivetrace_macros::{trace, trace_impl};

// A `#[track_caller]` function runs its body in place, so its result never reaches the span:
// asking for it is an error rather than a silent no-op.
#[trace(err)]
#[track_caller]
fn parse(s: &str) -> Result<u32, std::num::ParseIntError> {
    s.parse()
}

#[track_caller]
#[trace(ret)]
fn located(x: u8) -> u8 {
    x
}

struct S;

// As a block default, `err` and `ret` pass over `#[track_caller]` methods.
#[trace_impl(err, ret)]
impl S {
    #[track_caller]
    pub fn get(&self, s: &str) -> Result<u32, std::num::ParseIntError> {
        s.parse()
    }
}

fn main() {
    let _ = parse("1");
    let _ = located(1);
    let _ = S.get("1");
}
