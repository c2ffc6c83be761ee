//! Runs every scenario in `sim/scenarios/` with its seeds; each must meet its
//! expectations. A failure prints the report, including the seed that reproduces it.

use std::path::PathBuf;

use sim::scenario::{self, Scenario};

fn scenario_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("scenarios directory")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    v.sort();
    v
}

#[test]
fn every_scenario_meets_its_expectations() {
    let files = scenario_files();
    assert!(files.len() >= 12, "scenarios missing: {files:?}");
    let mut failures = Vec::new();
    for f in &files {
        let sc = Scenario::load(f).unwrap_or_else(|e| panic!("{e}"));
        for seed in sc.test_seeds() {
            match scenario::run(f, seed) {
                Ok(r) => {
                    println!("{}", r.summary());
                    if !r.passed() {
                        failures.push(r.to_string());
                    }
                }
                Err(e) => failures.push(e.to_string()),
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
