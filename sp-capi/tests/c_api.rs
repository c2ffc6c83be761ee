//! Compiles the C programs in `tests/c/` against the system's nanomsg headers, links them
//! to this crate's `libnanomsg.so`, and runs each twice: with `LD_LIBRARY_PATH` pointing
//! at our library (the test's subject; the program must report `impl=sp-rs`, and `ldd`
//! must resolve `libnanomsg.so.5` to our file) and against the system's libnanomsg
//! 1.1.5 (so the programs themselves are checked against the real library's behaviour).
//!
//! The test uses the cdylib `cargo test` built into `target/<profile>/deps/` (see
//! `common/mod.rs`).

mod common;

use std::path::Path;
use std::process::Command;

use common::{base_port, compile, lib_dir, src_dir, PROGRAMS};

/// Programs whose whole output (symbol table, control-message layout, statistics) must
/// be the same on both libraries.
const SAME_OUTPUT: &[&str] = &["symbols", "msghdr", "pushpull"];

fn run(bin: &Path, lib: Option<&Path>) -> String {
    let mut cmd = Command::new(bin);
    cmd.env_remove("LD_LIBRARY_PATH");
    if let Some(lib) = lib {
        cmd.env("LD_LIBRARY_PATH", lib);
    }
    let out = cmd.output().expect("run test program");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{} ({}) failed: {}\nstdout: {stdout}\nstderr: {}",
        bin.display(),
        if lib.is_some() { "sp-rs" } else { "libnanomsg" },
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn c_programs_pass_on_our_library_and_on_libnanomsg() {
    let lib = lib_dir("c");
    let src_dir = src_dir();
    let system = Path::new("/usr/lib/x86_64-linux-gnu/libnanomsg.so.5").exists();
    for name in PROGRAMS {
        let bin = lib.join(name);
        compile(&src_dir.join(format!("{name}.c")), &bin, &lib, &[]);

        // `ldd` must resolve the soname to our file.
        let ldd = Command::new("ldd")
            .arg(&bin)
            .env("LD_LIBRARY_PATH", &lib)
            .output()
            .expect("ldd");
        let ldd = String::from_utf8_lossy(&ldd.stdout);
        let line = ldd
            .lines()
            .find(|l| l.contains("libnanomsg.so.5"))
            .unwrap_or_else(|| panic!("{name} does not need libnanomsg.so.5:\n{ldd}"));
        assert!(
            line.contains(lib.to_str().expect("utf-8 temp path")),
            "{name}: libnanomsg.so.5 resolved elsewhere: {line}"
        );

        let ours = run(&bin, Some(&lib));
        assert!(
            ours.contains(&format!("{name} ok (impl=sp-rs)")),
            "{name}: {ours}"
        );
        if system {
            let real = run(&bin, None);
            assert!(
                real.contains(&format!("{name} ok (impl=libnanomsg)")),
                "{name}: {real}"
            );
            if SAME_OUTPUT.contains(name) {
                assert_eq!(
                    ours.replace("impl=sp-rs", "impl=libnanomsg"),
                    real,
                    "{name}: output differs between our library (left) and libnanomsg"
                );
            }
        }
    }
    let _ = std::fs::remove_dir_all(&lib);
}

/// The real `nanocat` binary (Debian's nanomsg-utils, linked against libnanomsg.so.5)
/// runs on our library: a REQ nanocat and a REP nanocat both on sp-rs, then a REQ on
/// sp-rs against a REP on the real libnanomsg.
#[test]
fn real_nanocat_runs_on_our_library() {
    if Command::new("nanocat").arg("--version").output().is_err() {
        eprintln!("nanocat is not installed (nanomsg-utils): skipped");
        return;
    }
    let lib = lib_dir("nanocat");
    let port = base_port(2);
    let addr = format!("tcp://127.0.0.1:{port}");
    let mut rep = Command::new("nanocat")
        .args(["--rep", "--bind", &addr, "--data", "pong", "-A"])
        .env("LD_LIBRARY_PATH", &lib)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start nanocat --rep");
    let req = Command::new("nanocat")
        .args(["--req", "--connect", &addr, "--data", "ping", "-A"])
        .args(["--recv-timeout", "5"])
        .env("LD_LIBRARY_PATH", &lib)
        .output()
        .expect("run nanocat --req");
    rep.kill().expect("stop nanocat --rep");
    let rep_out = rep.wait_with_output().expect("nanocat --rep output");
    assert!(req.status.success(), "nanocat --req: {req:?}");
    assert_eq!(String::from_utf8_lossy(&req.stdout), "pong\n");
    assert_eq!(String::from_utf8_lossy(&rep_out.stdout), "ping\n");

    // Across libraries: a REP nanocat on the real libnanomsg answers a REQ nanocat on
    // ours, over TCP.
    let addr = format!("tcp://127.0.0.1:{}", port + 1);
    let mut rep = Command::new("nanocat")
        .args(["--rep", "--bind", &addr, "--data", "real", "-A"])
        .env_remove("LD_LIBRARY_PATH")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start nanocat --rep on libnanomsg");
    let req = Command::new("nanocat")
        .args(["--req", "--connect", &addr, "--data", "ours", "-A"])
        .args(["--recv-timeout", "5"])
        .env("LD_LIBRARY_PATH", &lib)
        .output()
        .expect("run nanocat --req on sp-rs");
    rep.kill().expect("stop nanocat --rep");
    let rep_out = rep.wait_with_output().expect("nanocat --rep output");
    assert!(req.status.success(), "nanocat --req: {req:?}");
    assert_eq!(String::from_utf8_lossy(&req.stdout), "real\n");
    assert_eq!(String::from_utf8_lossy(&rep_out.stdout), "ours\n");
    let _ = std::fs::remove_dir_all(&lib);
}
