use hivetrace_macros::trace;

#[trace]
fn later(x: u32) -> impl std::future::Future<Output = u32> {
    async move { x.to_string() }
}

fn main() {
    let _ = later(1);
}
