use hivetrace_macros::trace;

// `resources` takes no value, or the path of hivetrace-metrics when it is re-exported.
#[trace(resources = "hivetrace_metrics")]
fn f() {}

fn main() {
    f();
}
