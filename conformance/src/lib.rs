//! conformance: placeholder crate until its issue lands.
