//! The Python `nanomsg` binding (PyPI `nanomsg` 1.0, unchanged) on our library and on
//! the real libnanomsg 1.1.5: `tests/python/binding.py` runs REQ/REP and PUB/SUB over tcp
//! and ipc, a SURVEY service discovery and `NN_RCVFD` in `select()`, through both of the
//! binding's backends (its C extension, linked against `libnanomsg.so.5`, and its ctypes
//! module, which loads `libnanomsg.so`), and reports which library the process mapped.
//!
//! The interpreter is `SP_CAPI_PYTHON`: a venv's python with the binding installed,
//! which `scripts/test.sh` makes (never the system Python). Without it the test skips,
//! except where tools are required (see `common::skip_without`).

mod common;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use common::{base_port, deps_dir, lib_dir, skip_without};

const WRAPPERS: &[&str] = &["cpy", "ctypes"];

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/binding.py")
}

#[test]
fn python_nanomsg_binding_runs_on_our_library_and_on_libnanomsg() {
    let Some(python) = std::env::var_os("SP_CAPI_PYTHON") else {
        return skip_without(
            "SP_CAPI_PYTHON",
            "a venv's python with PyPI nanomsg 1.0; scripts/test.sh makes it",
        );
    };
    let lib = lib_dir("python");
    let ours = std::fs::canonicalize(deps_dir().join("libnanomsg.so")).expect("our library");
    let base = base_port(100);
    // Every (backend, library) run at once, each on ports of its own.
    let mut runs = Vec::new();
    for (i, wrapper) in WRAPPERS.iter().enumerate() {
        for on_ours in [true, false] {
            let port = base + 10 * (2 * i as u16 + u16::from(on_ours));
            let mut cmd = Command::new(&python);
            cmd.arg(script())
                .arg(wrapper)
                .arg(port.to_string())
                .env_remove("LD_LIBRARY_PATH")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            if on_ours {
                cmd.env("LD_LIBRARY_PATH", &lib);
            }
            let child = cmd.spawn().expect("run the Python binding test");
            runs.push((*wrapper, on_ours, child));
        }
    }
    for (wrapper, on_ours, child) in runs {
        let out: Output = child.wait_with_output().expect("binding test output");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let which = if on_ours { "sp-rs" } else { "libnanomsg" };
        assert!(
            out.status.success(),
            "binding.py {wrapper} on {which}: {}\nstdout: {stdout}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let loaded = stdout
            .lines()
            .last()
            .and_then(|l| l.strip_prefix(&format!("binding ok (wrapper={wrapper}, lib=")))
            .and_then(|l| l.strip_suffix(')'))
            .unwrap_or_else(|| panic!("binding.py {wrapper} on {which}: {stdout}"));
        assert_eq!(
            ours.as_path() == std::path::Path::new(loaded),
            on_ours,
            "binding.py {wrapper} on {which} mapped {loaded}"
        );
    }
    let _ = std::fs::remove_dir_all(&lib);
}
