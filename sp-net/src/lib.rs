//! sp-net: placeholder crate until its issue lands.
