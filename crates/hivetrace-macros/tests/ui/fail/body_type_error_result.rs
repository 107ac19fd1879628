use hivetrace_macros::trace;

#[trace(err)]
fn parse(s: &str) -> Result<u32, std::num::ParseIntError> {
    let n: u32 = s.parse()?;
    Ok(n.to_string())
}

fn main() {
    let _ = parse("1");
}
