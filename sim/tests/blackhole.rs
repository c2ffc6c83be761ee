//! Partitions are black holes (connections stay up, what crosses them is held and then
//! delivered in order at the sender's retransmission after the repair); `reset` is the
//! separate fault where both ends see the connection go.

use std::time::Duration;

use sim::scenario::Scenario;
use sim::Sim;

const PUSH_PULL: &str = r#"
[links.default]
latency_ms = 1
[[host]]
name = "a"
[[host.socket]]
name = "push"
type = "push"
dial = [{ addr = "b:1", reconnect_min_ms = 50, reconnect_max_ms = 50 }]
[[host]]
name = "b"
[[host.socket]]
name = "pull"
type = "pull"
listen = [{ addr = "b:1" }]
"#;

fn net() -> Sim {
    let sc = Scenario::from_toml(PUSH_PULL).expect("parses");
    let mut sim = sc.build(5).expect("builds");
    sim.run_for(Duration::from_millis(100)).expect("runs");
    assert_eq!(sim.pipe_count("a.push"), 1);
    sim
}

fn received(sim: &Sim) -> Vec<String> {
    let log = sim.log("b.pull").expect("logged");
    log.received
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect()
}

#[test]
fn a_partition_holds_frames_and_keeps_the_connection() {
    let mut sim = net();
    sim.partition("a", "b", false);
    for i in 0..5 {
        assert!(sim.send("a.push", format!("m{i}")).expect("sends"));
    }
    sim.run_for(Duration::from_secs(5)).expect("runs");
    assert!(received(&sim).is_empty(), "nothing crosses the black hole");
    assert_eq!(sim.pipe_count("a.push"), 1, "no reset: the pipe stays up");
    assert_eq!(sim.pipe_count("b.pull"), 1);
    let repaired = sim.now();
    sim.repair("a", "b", false);
    sim.run_for(Duration::from_millis(100)).expect("runs");
    assert!(
        received(&sim).is_empty(),
        "delivered at the next retransmission, not at the repair"
    );
    sim.run_for(Duration::from_secs(10)).expect("runs");
    assert_eq!(
        received(&sim),
        ["m0", "m1", "m2", "m3", "m4"],
        "in order, once"
    );
    let at = sim.log("b.pull").expect("logged").received[0].at;
    // Held from 101 ms (the first frame's arrival): retransmissions at 301, 701, 1501,
    // 3101 and 6301 ms, the first after the repair at 5100 ms, plus 1 ms of link.
    assert_eq!(at - repaired, Duration::from_millis(1202));
    assert!(sim.net_drops().is_empty(), "{:?}", sim.net_drops());
    assert_eq!(sim.log("b.pull").expect("logged").connects.len(), 1);
}

#[test]
fn a_reset_closes_both_ends_and_loses_what_the_black_hole_held() {
    let mut sim = net();
    sim.partition("a", "b", false);
    for i in 0..3 {
        sim.send("a.push", format!("m{i}")).expect("sends");
    }
    sim.run_for(Duration::from_millis(10)).expect("runs");
    sim.reset("a", "b");
    assert_eq!(sim.pipe_count("a.push"), 0, "the dialer's end is reset");
    assert_eq!(sim.pipe_count("b.pull"), 0, "so is the listener's");
    assert_eq!(
        sim.net_drops().get("partition"),
        Some(&3),
        "held frames lost"
    );
    sim.repair("a", "b", false);
    sim.run_for(Duration::from_secs(2)).expect("runs");
    assert_eq!(sim.pipe_count("a.push"), 1, "the dialer reconnected");
    assert!(received(&sim).is_empty());
    assert!(sim.trace_text().contains("reset a <-> b"));
}

#[test]
fn a_dial_into_a_black_hole_waits_for_the_repair() {
    let mut sim = net();
    sim.reset("a", "b");
    sim.partition("a", "b", false);
    sim.run_for(Duration::from_secs(3)).expect("runs");
    assert_eq!(sim.pipe_count("a.push"), 0);
    let failures = sim.trace_text().matches("connect_failed").count();
    assert_eq!(failures, 0, "a SYN into a black hole is not refused");
    sim.repair("a", "b", false);
    sim.run_for(Duration::from_secs(10)).expect("runs");
    assert_eq!(
        sim.pipe_count("a.push"),
        1,
        "the SYN's retransmission connects"
    );
}
