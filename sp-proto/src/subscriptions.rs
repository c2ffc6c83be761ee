//! Subscription set for SUB (placeholder until the radix tree lands).
