//! The `ctrmgr` binary.
fn main() {}
