//! A type of the user's own named `Result`, imported under another name, is captured as a
//! plain value (the documented way around the name-based `Result` detection).

use hivetrace_macros::trace;

mod eval {
    #[derive(Debug)]
    pub enum Result {
        Pass,
        Fail,
    }
}

use eval::Result as Verdict;

#[trace]
fn judge(score: u32) -> Verdict {
    if score > 5 { Verdict::Pass } else { Verdict::Fail }
}

#[trace(capture(outputs = false))]
fn judge_uncaptured(score: u32) -> eval::Result {
    if score > 5 { eval::Result::Pass } else { eval::Result::Fail }
}

fn main() {
    let _ = judge(7);
    let _ = judge_uncaptured(3);
}
