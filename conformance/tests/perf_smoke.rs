//! The service workloads of `perf-bench` at tiny counts (`--only service --smoke`), so
//! that they cannot rot: every workload runs once for ours, libnanomsg and NNG, and
//! every cell of the report must hold a figure. Nothing is timed or compared here:
//! benchmarks stay out of the test suite.

use std::process::Command;

const PERF_BENCH: &str = env!("CARGO_BIN_EXE_perf-bench");
const OURS: &str = env!("CARGO_BIN_EXE_conformance-sp-perf");

#[test]
fn every_service_workload_runs_for_every_library() {
    let out = std::env::temp_dir().join(format!("sp-perf-smoke-{}.md", std::process::id()));
    let run = Command::new(PERF_BENCH)
        .args([
            "--only", "service", "--smoke", "--reps", "1", "--ours", OURS, "--out",
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
    for row in rows {
        // The library columns (ratios may be "–" only when a figure is 0).
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        assert!(
            cells[3..6].iter().all(|c| *c != "–"),
            "a library has no figure: {row}"
        );
    }
}
