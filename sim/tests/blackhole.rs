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
dial = [{ addr = "b:1", reconnect_min_ms = 50, reconnect_max_ms = 50 TIMERS }]
[[host]]
name = "b"
[[host.socket]]
name = "pull"
type = "pull"
listen = [{ addr = "b:1" }]
"#;

fn net() -> Sim {
    net_with("")
}

/// The network with the dialer's TCP timers set to `timers` (`, key = value ...`).
fn net_with(timers: &str) -> Sim {
    let sc = Scenario::from_toml(&PUSH_PULL.replace(" TIMERS", timers)).expect("parses");
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

const KEEPALIVE: &str =
    ", keepalive_idle_ms = 1000, keepalive_interval_ms = 100, keepalive_count = 3";

fn disconnects(sim: &Sim, reason: &str) -> usize {
    sim.trace_text()
        .lines()
        .filter(|l| l.contains("a.push disconnect") && l.ends_with(&format!("({reason})")))
        .count()
}

#[test]
fn keepalive_resets_an_idle_connection_after_idle_plus_interval_times_count() {
    let mut sim = net_with(KEEPALIVE);
    // Answered probes keep a reachable idle connection up.
    sim.run_for(Duration::from_secs(10)).expect("runs");
    assert_eq!(sim.pipe_count("a.push"), 1);
    assert_eq!(disconnects(&sim, "keepalive"), 0);
    let cut = sim.now();
    sim.partition("a", "b", false);
    // The last probe answered came at most `idle` before the cut; the end resets at
    // most idle + 3 * interval after it.
    sim.run_for(Duration::from_millis(2300)).expect("runs");
    assert_eq!(disconnects(&sim, "keepalive"), 1, "{}", sim.trace_text());
    let line = sim
        .trace_text()
        .lines()
        .find(|l| l.contains("(keepalive)"))
        .expect("traced")
        .to_owned();
    let at: f64 = line.trim().split("ms").next().unwrap().parse().unwrap();
    let after = at - (cut - sp_proto::Instant::ZERO).as_secs_f64() * 1000.0;
    assert!(
        (300.0..=1300.0).contains(&after),
        "reset {after} ms after the cut"
    );
    assert_eq!(sim.pipe_count("a.push"), 0);
    assert_eq!(
        sim.pipe_count("b.pull"),
        1,
        "b's end is not told across the hole"
    );
    sim.repair("a", "b", false);
    sim.run_for(Duration::from_secs(5)).expect("runs");
    assert_eq!(sim.pipe_count("a.push"), 1, "redialled after the repair");
    assert_eq!(
        sim.pipe_count("b.pull"),
        1,
        "the old pipe closed, the new one up"
    );
}

#[test]
fn keepalive_does_not_probe_while_data_is_outstanding_but_the_user_timeout_resets() {
    for (timers, reset) in [
        (KEEPALIVE.to_owned(), false),
        (format!("{KEEPALIVE}, tcp_user_timeout_ms = 400"), true),
    ] {
        let mut sim = net_with(&timers);
        sim.partition("a", "b", false);
        for _ in 0..30 {
            sim.send("a.push", "job").expect("sends");
            sim.run_for(Duration::from_millis(100)).expect("runs");
        }
        assert_eq!(disconnects(&sim, "keepalive"), 0, "{timers}");
        assert_eq!(
            disconnects(&sim, "user_timeout"),
            usize::from(reset),
            "{timers}"
        );
        if !reset {
            assert_eq!(sim.pipe_count("a.push"), 1, "only a timer ends it");
        }
    }
}
