use hivetrace_macros::trace;

#[trace(capture(outputs = false))]
fn count(words: &[&str]) -> u32 {
    let n = words.len();
    if n > 10 {
        return 10;
    }
    "many"
}

fn main() {
    count(&["a"]);
}
