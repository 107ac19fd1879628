use hivetrace_macros::trace;

#[trace(fields(docs = docs))]
fn f(docs: Vec<u32>) -> usize {
    docs.len()
}

fn main() {
    f(vec![1]);
}
