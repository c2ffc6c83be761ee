//! Devices in the simulator and the oracle "no loop past TTL": a loop of raw REQ/REP
//! devices passes requests round until the TTL stops them, and a device that forgets its
//! TTL (a planted bug) is caught by the oracle.

use std::path::PathBuf;

use sim::scenario::{Layer, Scenario};
use sim::swarm::{run_scenario_with, PlantedBug};

fn device_loop() -> Scenario {
    let f = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/device_loop.toml");
    Scenario::load(&f).expect("loads")
}

#[test]
fn a_device_loop_ends_at_the_ttl() {
    let sc = device_loop();
    for seed in 1..=3 {
        let r = run_scenario_with(&sc, Layer::Proto, seed, None);
        assert!(
            r.is_ok(),
            "{}",
            r.err().map(|f| f.to_string()).unwrap_or_default()
        );
    }
}

#[test]
fn a_device_that_forgets_its_ttl_is_caught_looping() {
    let sc = device_loop();
    let f = run_scenario_with(&sc, Layer::Proto, 1, Some(PlantedBug::DeviceIgnoresTtl))
        .expect_err("the planted loop must be caught");
    assert_eq!(f.kind(), "safety", "{f}");
    assert!(f.reasons.iter().any(|r| r.contains("loop past TTL")), "{f}");
}

#[test]
fn a_device_needs_two_raw_peer_sockets() {
    let base = |a: &str, b: &str, raw: bool| {
        format!(
            "[[host]]\nname = \"d\"\ndevice = {{ a = \"{a}\", b = \"{b}\" }}\n\
             [[host.socket]]\nname = \"x\"\ntype = \"rep\"\nraw = {raw}\n\
             [[host.socket]]\nname = \"y\"\ntype = \"req\"\nraw = true\n\
             [[host.socket]]\nname = \"z\"\ntype = \"pull\"\nraw = true\n"
        )
    };
    let build = |t: String| {
        let sc = Scenario::from_toml(&t).map_err(|e| e.to_string())?;
        sc.build(1).map(drop).map_err(|e| e.to_string())
    };
    assert!(build(base("x", "y", true)).is_ok());
    for (t, why) in [
        (base("x", "y", false), "not raw"),
        (base("x", "nope", true), "not found"),
        (base("x", "x", true), "two different"),
        (base("x", "z", true), "same protocol family"),
    ] {
        let e = build(t).expect_err(why);
        assert!(e.contains(why), "{e}");
    }
}

/// The swarm's CI range on layer 1 generates device groups and device loops; loops are
/// driven (their REPs all down for a while) until a TTL stops requests, and with the
/// planted bug the swarm catches a loop past the TTL on such a seed.
#[test]
fn the_swarm_generates_device_loops_and_catches_a_loop_past_the_ttl() {
    let (mut devices, mut loops, mut stopped) = (0, 0, Vec::new());
    for seed in 1..201 {
        let plan = sim::swarm::generate(seed, Layer::Proto);
        let has = |n: &str| plan.hosts.iter().any(|h| h.name.ends_with(n));
        if !has("-dev0") {
            continue;
        }
        devices += 1;
        if !has("-dev1") {
            continue;
        }
        loops += 1;
        if stopped.len() < 2 {
            let report = sim::swarm::run_plan(&plan).expect("passes");
            if report.trace.contains("ttl_exceeded") {
                stopped.push(plan);
            }
        }
    }
    assert!(devices >= 20 && loops >= 10, "{devices} {loops}");
    assert!(!stopped.is_empty(), "no loop reached its TTL");
    for plan in &stopped {
        let f = sim::swarm::run_plan_with(plan, Some(PlantedBug::DeviceIgnoresTtl))
            .expect_err("the planted loop must be caught");
        assert!(f.reasons.iter().any(|r| r.contains("loop past TTL")), "{f}");
    }
}
