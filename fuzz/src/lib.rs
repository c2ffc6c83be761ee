//! Fuzz targets for the SP stack: every decoder that reads peer bytes, and one
//! state-machine target per protocol family fed arbitrary event sequences.
//!
//! Each target is a plain `fn(&[u8])` that panics when an invariant fails. The libFuzzer
//! harnesses in `fuzz_targets/` call them; so does the stable driver
//! (`src/bin/fuzz-stable.rs`), which mutates the seed corpora with a seeded RNG.

pub mod decoders;
pub mod machines;

/// A fuzz target: panics on a failed invariant.
pub type Target = fn(&[u8]);

/// Every target, by name (the name of its libFuzzer binary and its corpus folder).
pub const TARGETS: &[(&str, Target)] = &[
    ("handshake", decoders::handshake),
    ("frame_tcp", decoders::frame_tcp),
    ("frame_ipc", decoders::frame_ipc),
    ("ws_frame_server", decoders::ws_frame_server),
    ("ws_frame_client", decoders::ws_frame_client),
    ("ws_http_server", decoders::ws_http_server),
    ("ws_http_client", decoders::ws_http_client),
    ("backtrace", decoders::backtrace),
    ("hop", decoders::hop),
    ("sm_pipeline", machines::pipeline),
    ("sm_reqrep", machines::reqrep),
    ("sm_pair", machines::pair),
    ("sm_pubsub", machines::pubsub),
    ("sm_survey", machines::survey),
    ("sm_bus", machines::bus),
];

/// Splits `data` into chunks whose lengths come from `sizes` (cycled; 0 means 1), so a
/// target can check that a decoder gives the same answer however its input is chunked.
pub fn chunks<'a>(data: &'a [u8], sizes: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes
            .get(i % sizes.len().max(1))
            .map_or(rest.len(), |&s| usize::from(s).max(1));
        let (a, b) = rest.split_at(n.min(rest.len()));
        out.push(a);
        rest = b;
        i += 1;
    }
    out
}
