//! Replay: one scenario and one seed give byte-identical traces; another seed changes a
//! scenario with jitter. The traces of the survey-deadline and failover scenarios are
//! snapshotted.

use std::path::PathBuf;

use sim::scenario::{self, Scenario};

fn file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name)
}

#[test]
fn same_seed_same_trace() {
    for name in [
        "priority_failover.toml",
        "link_faults.toml",
        "reconnect_storm.toml",
    ] {
        let a = scenario::run(file(name), 42).expect("runs");
        let b = scenario::run(file(name), 42).expect("runs");
        assert!(!a.trace.is_empty());
        assert_eq!(a.trace, b.trace, "{name} [seed 42] replay differs");
    }
}

#[test]
fn different_seed_different_trace_with_jitter() {
    for name in ["priority_failover.toml", "link_faults.toml"] {
        let a = scenario::run(file(name), 1).expect("runs");
        let b = scenario::run(file(name), 2).expect("runs");
        assert_ne!(
            a.trace, b.trace,
            "{name}: seeds 1 and 2 gave the same trace"
        );
    }
}

#[test]
fn jitter_is_what_spreads_the_storm() {
    // The same storm with jitter switched off: every dialer follows the same schedule,
    // so the listener takes all 200 reconnections within one window. The expectation
    // that passes with jitter must fail here (the check can fail).
    let text = std::fs::read_to_string(file("reconnect_storm.toml")).expect("read");
    let text = text.replace(
        "reconnect_max_ms = 2000 }",
        "reconnect_max_ms = 2000, reconnect_jitter = false }",
    );
    let sc = Scenario::from_toml(&text).expect("parses");
    let r = sc.run(1).expect("runs");
    assert!(!r.passed(), "{r}");
    let f = r.failures().join("\n");
    assert!(f.contains("200 connections within 10ms"), "{f}");
    assert!(f.contains("[seed 1]"), "failures name the seed: {f}");
}

#[test]
fn survey_deadline_trace() {
    let r = scenario::run(file("survey_deadline.toml"), 1).expect("runs");
    assert!(r.passed(), "{r}");
    insta::assert_snapshot!(r.trace);
}

#[test]
fn priority_failover_trace() {
    let r = scenario::run(file("priority_failover.toml"), 1).expect("runs");
    assert!(r.passed(), "{r}");
    insta::assert_snapshot!(r.trace);
}
