//! Runs every scenario in `sim/scenarios/` with its seeds; each must meet its
//! expectations. A failure prints the report, including the seed that reproduces it.

use sim::scenario::Layer;
use sim::Folder;

#[test]
fn every_scenario_meets_its_expectations() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios");
    let report = Folder::new(dir)
        .only(Layer::Proto)
        .run()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        report.files.len() >= 12,
        "scenarios missing: {:?}",
        report.files
    );
    for r in &report.runs {
        println!("{}", r.summary());
    }
    assert!(report.passed(), "\n{}", report.failures().join("\n"));
}
