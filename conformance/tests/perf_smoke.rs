//! The service workloads of `perf-bench` at tiny counts (`--only service --smoke`), so
//! that they cannot rot: every workload runs once for ours, libnanomsg and NNG, and
//! every cell of the report must hold a figure (with `--peers-per-process 2`, so that
//! the 5-peer `fanout` and `survey` cells run split over three peer processes, as the
//! 1 000-peer ones do in a full run); the same for the C API rows
//! (`--only capi --smoke`: `nanomsg-perf` on libnanomsg and on our `libnanomsg.so.5`).
//! Nothing is timed or compared here: benchmarks stay out of the test suite.

use std::process::Command;

const PERF_BENCH: &str = env!("CARGO_BIN_EXE_perf-bench");
const OURS: &str = env!("CARGO_BIN_EXE_conformance-sp-perf");

#[test]
fn every_service_workload_runs_for_every_library() {
    let out = std::env::temp_dir().join(format!("sp-perf-smoke-{}.md", std::process::id()));
    let run = Command::new(PERF_BENCH)
        .args([
            "--only",
            "service",
            "--smoke",
            "--reps",
            "1",
            "--peers-per-process",
            "2",
            "--ours",
            OURS,
            "--out",
        ])
        .arg(&out)
        .output()
        .expect("perf-bench runs");
    let log = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "perf-bench failed:\n{log}");
    assert!(!log.contains("failed"), "a workload failed:\n{log}");
    let report = std::fs::read_to_string(&out).expect("the report is written");
    let _ = std::fs::remove_file(&out);
    let rows: Vec<&str> = report
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| workload"))
        .collect();
    for workload in ["reqrep", "fanout", "survey", "fanin"] {
        assert!(
            rows.iter()
                .any(|r| r.starts_with(&format!("| {workload} "))),
            "no {workload} row:\n{report}"
        );
    }
    for imp in ["ours", "nanomsg", "nng"] {
        for cell in ["fanout 5 subscribers", "survey 5 respondents"] {
            let split = format!("{imp} {cell}: peers in 3 processes [2, 2, 1]");
            assert!(log.contains(&split), "{cell} not split for {imp}:\n{log}");
            assert!(
                rows.iter().any(|r| r.starts_with(&format!("| {cell} |"))),
                "no {cell} row:\n{report}"
            );
        }
    }
    assert!(
        report.contains("Split in this run: fanout 5 subscribers (3 peer processes)"),
        "{report}"
    );
    for row in rows {
        // The library columns (ratios may be "–" only when a figure is 0).
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        assert!(
            cells[3..6].iter().all(|c| *c != "–"),
            "a library has no figure: {row}"
        );
    }
}

/// Runs the C API rows (`--only capi --smoke`, on all CPUs and pinned to CPU 0) with
/// `lib` as our library: the report and perf-bench's log. One run at a time: the rows use
/// fixed TCP ports.
fn capi_rows(lib: &std::path::Path, tag: &str) -> (String, String) {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let out = std::env::temp_dir().join(format!("sp-perf-{tag}-{}.md", std::process::id()));
    let run = Command::new(PERF_BENCH)
        .args(["--only", "capi", "--smoke", "--reps", "1", "--ours", OURS])
        .args(["--pin", "0"])
        .arg("--capi-lib")
        .arg(lib)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("perf-bench runs");
    let log = String::from_utf8_lossy(&run.stderr).into_owned();
    assert!(run.status.success(), "perf-bench failed:\n{log}");
    let report = std::fs::read_to_string(&out).expect("the report is written");
    let _ = std::fs::remove_file(&out);
    (report, log)
}

/// The figures of the C API rows named `what`, one row per placement (all CPUs, then
/// pinned): on libnanomsg, on ours, and their ratio.
fn capi_rows_of<'a>(report: &'a str, what: &str) -> Vec<Vec<&'a str>> {
    let rows: Vec<Vec<&str>> = report
        .lines()
        .filter(|l| l.starts_with(what))
        .map(|row| row.split('|').map(str::trim).skip(3).take(3).collect())
        .collect();
    assert_eq!(
        rows.len(),
        2,
        "{what}: not one row per placement:\n{report}"
    );
    rows
}

const CAPI_ROWS: [&str; 2] = ["| round trip (µs) |", "| throughput (msg/s) |"];

/// The C API rows: `nanomsg-perf` on the real libnanomsg and on our `libnanomsg.so.5`
/// (sp-capi's cdylib, which `cargo test` builds beside this test: sp-capi is a
/// dev-dependency), 64 B over TCP at tiny counts. Both rows must hold a figure for both
/// libraries, and the run on ours must have loaded ours.
#[test]
fn the_c_api_rows_run_on_both_libraries() {
    let ours = std::env::current_exe()
        .expect("test binary path")
        .with_file_name("libnanomsg.so");
    let (report, log) = capi_rows(&ours, "capi-smoke");
    assert!(!log.contains("failed"), "a run failed:\n{log}");
    assert!(
        report.contains("sp-rs sp-capi") && report.contains(&ours.display().to_string()),
        "the run on our library did not load it:\n{report}"
    );
    for what in CAPI_ROWS {
        for cells in capi_rows_of(&report, what) {
            assert!(
                cells.iter().all(|c| *c != "–"),
                "{what} lacks a figure: {cells:?}"
            );
        }
    }
}

/// Planted fault: "our library" is the real libnanomsg. The rows must not time it as
/// ours: its figures stay empty, so the test above would fail.
#[test]
fn c_api_rows_on_the_real_library_have_no_figure_for_ours() {
    // The file the real library is loaded from, as nanomsg-perf reports it:
    // `library: libnanomsg ABI 5.1.0 (/usr/lib/.../libnanomsg.so.5.1.0)`.
    let version = Command::new(env!("CARGO_BIN_EXE_nanomsg-perf"))
        .arg("version")
        .output()
        .expect("nanomsg-perf runs");
    let version = String::from_utf8_lossy(&version.stdout);
    let real = version
        .rsplit_once('(')
        .and_then(|(_, f)| f.trim().strip_suffix(')'))
        .unwrap_or_else(|| panic!("no library file in {version:?}"));
    let (report, log) = capi_rows(std::path::Path::new(real), "capi-planted");
    assert!(log.contains("not sp-rs's: not timed"), "{log}");
    assert!(report.contains("did not load it"), "{report}");
    for what in CAPI_ROWS {
        for cells in capi_rows_of(&report, what) {
            assert_ne!(cells[0], "–", "{what}: libnanomsg has no figure");
            assert_eq!(
                &cells[1..],
                ["–", "–"],
                "{what} timed the wrong library as ours"
            );
        }
    }
}
