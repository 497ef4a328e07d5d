//! Engine throughput bench (filled in with the engine).
fn main() {}
