//! sim: placeholder crate until its issue lands.
