//! The C programs under memory checkers, on our library: valgrind's memcheck (a subset,
//! to keep CI to a few seconds) and AddressSanitizer with LeakSanitizer (every program;
//! the C side is instrumented, and its interceptors see every `malloc`, `free` and
//! `memcpy` in the process, ours included). Planted bugs (`tests/c/planted/`: a message
//! never freed, a receive into a buffer shorter than the length given) must be caught by
//! both, so neither check can pass vacuously.
//!
//! Without valgrind or ASan support the tests skip, except where tools are required
//! (`SP_CAPI_REQUIRE_TOOLS`, set by `scripts/test.sh`, which installs valgrind; or `CI`):
//! there a missing tool fails them.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{compile, lib_dir, skip_without, src_dir, PROGRAMS};

/// The programs run under valgrind: those whose calls hand the library C's pointers
/// and lengths (`NN_MSG` messages, scatter/gather and control data, null and bad
/// pointers, option buffers) and the file descriptors. About 3 s each under valgrind,
/// run side by side.
const VALGRIND_PROGRAMS: &[&str] = &["zerocopy", "msghdr", "errors"];

/// Every C program of `c_api.rs`, run with ASan (fast: our library is not
/// instrumented).
const ASAN_PROGRAMS: &[&str] = PROGRAMS;

/// memcheck's options: any invalid access, use of uninitialised memory, bad free or
/// definitely lost block fails the run. "Possibly lost" blocks (reachable only through a
/// pointer into their middle) are not errors: Rust's hash tables and tokio's task lists
/// keep such pointers to live memory, and sp-net's runtime threads are alive at exit.
const VALGRIND_ARGS: &[&str] = &[
    "--error-exitcode=1",
    "--leak-check=full",
    "--errors-for-leak-kinds=definite",
    "--show-possibly-lost=no",
    // Faster start-up (less debug information read); reports keep their function names.
    "--read-inline-info=no",
    "-q",
];

fn has(tool: &str, arg: &str) -> bool {
    Command::new(tool)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Compiles `names` (from `tests/c/`, or `tests/c/planted/` for `planted/...`).
fn build(lib: &Path, names: &[&str], prefix: &str, extra: &[&str]) -> Vec<PathBuf> {
    names
        .iter()
        .map(|name| {
            let bin = lib.join(format!("{prefix}{}", name.replace('/', "-")));
            compile(&src_dir().join(format!("{name}.c")), &bin, lib, extra);
            bin
        })
        .collect()
}

/// Runs every command at once on our library and waits for all of them.
fn run_all(cmds: Vec<Command>, lib: &Path) -> Vec<Output> {
    let children: Vec<_> = cmds
        .into_iter()
        .map(|mut c| {
            c.env("LD_LIBRARY_PATH", lib)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start a C test program")
        })
        .collect();
    children
        .into_iter()
        .map(|c| c.wait_with_output().expect("C test program output"))
        .collect()
}

fn valgrind(bins: &[PathBuf]) -> Vec<Command> {
    bins.iter()
        .map(|b| {
            let mut c = Command::new("valgrind");
            c.args(VALGRIND_ARGS).arg(b);
            c
        })
        .collect()
}

fn text(o: &Output) -> String {
    format!(
        "status {}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Asserts that each program passed on our library with nothing for the checker to
/// report.
fn assert_clean(names: &[&str], outs: &[Output], checker: &str) {
    for (name, o) in names.iter().zip(outs) {
        assert!(
            o.status.success() && String::from_utf8_lossy(&o.stdout).contains("(impl=sp-rs)"),
            "{name} under {checker}:\n{}",
            text(o)
        );
    }
}

/// Asserts that each planted bug failed its run with the checker's report of it.
fn assert_caught(outs: &[Output], reports: &[&str], checker: &str) {
    for (o, want) in outs.iter().zip(reports) {
        assert!(
            !o.status.success() && String::from_utf8_lossy(&o.stderr).contains(want),
            "{checker} did not catch a planted bug (expected a failure reporting {want:?}):\n{}",
            text(o)
        );
    }
}

#[test]
fn valgrind_finds_no_memory_errors_and_catches_planted_bugs() {
    if !has("valgrind", "--version") {
        return skip_without("valgrind", "the memcheck test");
    }
    let lib = lib_dir("valgrind");
    let mut bins = build(&lib, VALGRIND_PROGRAMS, "vg-", &[]);
    bins.extend(build(
        &lib,
        &["planted/leak", "planted/overflow"],
        "vg-",
        &[],
    ));
    let outs = run_all(valgrind(&bins), &lib);
    let (clean, planted) = outs.split_at(VALGRIND_PROGRAMS.len());
    assert_clean(VALGRIND_PROGRAMS, clean, "valgrind");
    assert_caught(planted, &["definitely lost", "Invalid write"], "valgrind");
    let _ = std::fs::remove_dir_all(&lib);
}

#[test]
fn asan_finds_no_memory_errors_and_catches_planted_bugs() {
    let lib = lib_dir("asan");
    let probe = lib.join("asan-probe.c");
    std::fs::write(&probe, "int main (void) { return 0; }\n").expect("write probe");
    let ok = Command::new("cc")
        .args(["-fsanitize=address", "-o"])
        .arg(lib.join("asan-probe"))
        .arg(&probe)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        let _ = std::fs::remove_dir_all(&lib);
        return skip_without("cc -fsanitize=address", "the AddressSanitizer test");
    }
    let flags = ["-fsanitize=address", "-fno-omit-frame-pointer"];
    let mut bins = build(&lib, ASAN_PROGRAMS, "asan-", &flags);
    bins.extend(build(
        &lib,
        &["planted/leak", "planted/overflow"],
        "asan-",
        &flags,
    ));
    let cmds = bins.iter().map(Command::new).collect();
    let outs = run_all(cmds, &lib);
    let (clean, planted) = outs.split_at(ASAN_PROGRAMS.len());
    assert_clean(ASAN_PROGRAMS, clean, "ASan");
    assert_caught(
        planted,
        &[
            "LeakSanitizer: detected memory leaks",
            "heap-buffer-overflow",
        ],
        "ASan",
    );
    let _ = std::fs::remove_dir_all(&lib);
}
