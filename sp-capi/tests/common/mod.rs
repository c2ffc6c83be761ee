//! Shared by the C API tests: where `cargo test` put our library, a directory that
//! serves it under nanomsg's names, and compiling the C programs in `tests/c/`.

#![allow(dead_code)] // each test file uses its own subset

use std::path::{Path, PathBuf};
use std::process::Command;

/// The C programs in `tests/c/` (`<name>.c`), each run on both libraries by `c_api.rs`
/// and under AddressSanitizer by `memcheck.rs`.
pub(crate) const PROGRAMS: &[&str] = &[
    "reqrep",
    "pushpull",
    "pubsub",
    "survey",
    "zerocopy",
    "errors",
    "close",
    "symbols",
    "msghdr",
    "device",
    "poll",
    "pollfd",
    "threads",
    "limits",
    "ipv4only",
    "term",
    "buffers",
    "addresses",
    "signals",
];

/// `target/<profile>/deps/`, where `cargo test` puts the cdylib it builds for the tests.
///
/// `cargo test -p sp-capi` builds the crate's cdylib before it runs the tests, into
/// `target/<profile>/deps/` beside the test binary; it does not copy it up to
/// `target/<profile>/` (only `cargo build` does), so a copy there may be stale.
pub(crate) fn deps_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent().expect("deps dir").to_path_buf()
}

/// A TCP port for this test process with `span` free ports above it, below Linux's
/// ephemeral ports (32768 on: a connection's local port there, or its TIME_WAIT, would
/// make the bind fail with `EADDRINUSE` while other programs make many connections).
pub(crate) fn base_port(span: u16) -> u16 {
    let room = u32::from(12_000 - span);
    20_000 + u16::try_from(std::process::id() % room).expect("below 12 000")
}

/// The C sources: `sp-capi/tests/c/`.
pub(crate) fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c")
}

/// A fresh directory holding `libnanomsg.so.5` (the soname programs ask for) and
/// `libnanomsg.so` (for `-lnanomsg`), both links to our library.
pub(crate) fn lib_dir(tag: &str) -> PathBuf {
    let ours = deps_dir().join("libnanomsg.so");
    assert!(
        ours.exists(),
        "{} is missing: run `cargo test -p sp-capi` (it builds the cdylib)",
        ours.display()
    );
    let dir = std::env::temp_dir().join(format!("sp-capi-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for name in ["libnanomsg.so.5", "libnanomsg.so"] {
        let link = dir.join(name);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&ours, &link).expect("symlink to our library");
    }
    dir
}

/// Compiles `src` into `out` against nanomsg's headers, linked to the `libnanomsg.so` in
/// `lib`, with `extra` compiler flags (such as `-fsanitize=address`).
pub(crate) fn compile(src: &Path, out: &Path, lib: &Path, extra: &[&str]) {
    let status = Command::new("cc")
        .args(["-Wall", "-Wextra", "-Werror", "-O1", "-g"])
        .args(extra)
        .arg("-o")
        .arg(out)
        .arg(src)
        .arg("-L")
        .arg(lib)
        .args(["-lnanomsg", "-lpthread", "-ldl"])
        .status()
        .expect("cc (a C compiler) must be installed");
    assert!(status.success(), "compiling {} failed", src.display());
}

/// For a test whose tool is missing: it skips, saying so, unless tools are required
/// (`SP_CAPI_REQUIRE_TOOLS`, which `scripts/test.sh` sets after installing them, or
/// `CI`); then a missing tool is a failure (this panics), so the check never skips there.
pub(crate) fn skip_without(tool: &str, why: &str) {
    let required = ["SP_CAPI_REQUIRE_TOOLS", "CI"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty() && x != "0"));
    assert!(
        !required,
        "{tool} is required here ({why}); scripts/test.sh installs it"
    );
    eprintln!("{tool} is not available ({why}): skipped");
}
