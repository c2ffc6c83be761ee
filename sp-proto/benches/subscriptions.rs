//! Subscription matching benchmark (placeholder until the radix tree lands).
fn main() {}
