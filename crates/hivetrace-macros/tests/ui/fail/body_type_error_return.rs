use hivetrace_macros::trace;

#[trace]
fn count(words: &[&str]) -> u32 {
    if words.is_empty() {
        return "none";
    }
    1
}

fn main() {
    count(&["a"]);
}
